"""Data flows one way (docs/architecture.md): nothing below the report layer imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mainsail"
BELOW_REPORT = ("errors", "yamlio", "vault", "masking", "render", "opspec", "inventory",
                "playbook", "plan")


def imports_of(module: str) -> set[str]:
    """The mainsail modules ``module`` imports directly (relative imports)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else \
                {alias.name for alias in node.names}
    return {name for name in found if (PACKAGE / f"{name}.py").exists()}


def reachable(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in imports_of(todo.pop()) - seen:
            seen.add(name)
            todo.append(name)
    return seen


@pytest.mark.parametrize("module", BELOW_REPORT)
def test_no_module_below_the_report_layer_imports_it(module: str) -> None:
    assert not {"report", "runner", "session", "tasks"} & reachable(module), reachable(module)


def test_the_check_sees_an_import() -> None:
    assert "masking" in imports_of("report")
