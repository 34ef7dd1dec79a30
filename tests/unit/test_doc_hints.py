"""Every page a message names exists where an installed user looks: `mainsail doc TOPIC`
(pages shipped in the package) or `mainsail doc OPERATION`; errors name no repository path
or URL."""

import ast
import re
from pathlib import Path

import pytest

from mainsail import docpages, opdoc
from mainsail.errors import BadInput

PACKAGE = Path(__file__).resolve().parents[2] / "mainsail"
ERRORS = ("MainsailError", "BadInput", "HostFailed", "Unreachable", "LockHeld", "Interrupted",
          "TestbedError")
NAMED = re.compile(r"mainsail doc ([a-z][\w.-]*)")


def message_strings() -> list[tuple[str, str]]:
    """(file:line, text) of every string in the package's code that is no docstring."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.value) for node in ast.walk(tree)
                      if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    id(node) not in docstrings:
                found.append(("%s:%d" % (path.name, node.lineno), node.value))
    return found


def error_strings() -> list[tuple[str, str]]:
    """Strings written directly into an error's construction (what, where, hint)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ERRORS:
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                        found.append(("%s:%d" % (path.name, inner.lineno), inner.value))
    return found


def test_every_named_page_is_a_topic_or_an_operation():
    named = [(where, name.rstrip(".,)")) for where, text in message_strings()
             for name in NAMED.findall(text)]
    assert len(named) >= 8  # the scan sees the hints at all
    topics = set(docpages.topics())
    for where, name in named:
        if name in topics:
            continue
        try:
            opdoc.reference(name)
        except BadInput:
            pytest.fail("%s names `mainsail doc %s`, which is no page or operation"
                        % (where, name))


def test_the_reference_hints_name_shipped_pages():
    for page in ("inventory", "commands", "playbooks", "vault", "reports", "operations"):
        assert page in docpages.topics(), page
        assert docpages.page(page)


def test_errors_name_no_repository_path_or_url():
    strings = error_strings()
    assert len(strings) > 100
    for where, text in strings:
        assert not re.search(r"\bdocs/\w+\.md|https?://", text), (where, text)
