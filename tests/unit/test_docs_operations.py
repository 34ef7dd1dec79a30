"""docs/operations.md against the code, so the reference cannot drift from what is accepted.

* every ```yaml block is a task or a list of tasks that the playbook loader accepts (and, when
  no value holds a template, whose values pass the same checks as when a plan is built);
* every operation of ``mainsail.opspec.OPS`` has a ``## name`` section with an example task
  of that operation;
* each section's arguments table lists exactly the operation's arguments, with the type,
  default, choices and aliases opspec.py gives them.

YAML that is not a task (a config file, a folder layout) goes in a block fenced with another
language (``ini``, ``text``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mainsail.opspec import OP_ALIASES, OPS, Arg, OpSpec, coerce_args, has_template
from mainsail.playbook import Task, parse_task
from mainsail.yamlio import load_yaml_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SHOWN = "docs/operations.md"
TEXT = DOC.read_text(encoding="utf-8")
TABLE_HEADER = ["argument", "type", "default", "aliases", "meaning"]
NO_DEFAULT = "—"
# How each opspec value type is named in the tables (explained under "Argument types").
TYPE_WORDS = {
    "str": "string", "abspath": "path", "int": "integer", "float": "number",
    "bool": "boolean", "mode": "mode",
    "names": "names", "argv": "list", "cmd": "string", "env": "mapping", "content": "text",
    "validate": "command", "regex": "regex", "condition": "condition",
    "autorestart": "`true` | `false` | `unexpected`", "debconf_value": "text or list",
}
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CODE = re.compile(r"`([^`]+)`")


# ---------------------------------------------------------------------------- reading the doc

def yaml_blocks(text: str) -> list[tuple[int, str]]:
    """(line of the block's first YAML line, its text) for each ```yaml block."""
    found = []
    for match in _FENCE.finditer(text):
        if match.group(1) == "yaml":
            found.append((text.count("\n", 0, match.start(2)) + 1, match.group(2)))
    return found


def sections(text: str) -> dict[str, tuple[int, str]]:
    """``## name ...`` sections by their heading's first word: (first line, text)."""
    out: dict[str, tuple[int, str]] = {}
    for match in re.finditer(r"^## (\S+)[^\n]*\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        out[match.group(1).strip("`")] = (text.count("\n", 0, match.start()) + 1,
                                          match.group(0))
    return out


def load_tasks(first_line: int, block: str) -> list[Task]:
    """The block's tasks, parsed as the loader parses a role's tasks; errors name doc lines."""
    # Blank lines in front make the loader's positions the document's own line numbers.
    data = load_yaml_text("\n" * (first_line - 1) + block, SHOWN)
    items = data if isinstance(data, list) else [data]
    assert items, f"{SHOWN}:{first_line}: empty yaml block"
    tasks = []
    for item in items:
        assert isinstance(item, dict), (
            f"{SHOWN}:{first_line}: a yaml block must hold a task or a list of tasks "
            "(fence other YAML as ```text)")
        tasks.append(parse_task(item, f"{SHOWN}:{first_line}"))
    return tasks


def table_rows(section: str) -> list[list[str]]:
    """The cells of each row of the section's arguments table, ``\\|`` unescaped."""
    lines = section.splitlines()
    for index, line in enumerate(lines):
        if _cells(line) == TABLE_HEADER:
            rows = []
            for row in lines[index + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            return rows
    return []


def _cells(line: str) -> list[str]:
    if not line.startswith("|"):
        return []
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(line.strip())[1:-1]]


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


BLOCKS = yaml_blocks(TEXT)
SECTIONS = sections(TEXT)


# ---------------------------------------------------------------------------- examples

def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= len(OPS)


@pytest.mark.parametrize("first_line,block", BLOCKS, ids=[f"line{n}" for n, _ in BLOCKS])
def test_every_yaml_example_is_a_valid_task(first_line: int, block: str) -> None:
    tasks = load_tasks(first_line, block)  # fails, naming the doc's line, on a bad example
    assert tasks
    for task in tasks:
        if not has_template(dict(task.args)):
            # The checks a plan applies once values are rendered: types, choices, and the
            # rules between arguments (file state: link needs src, ...).
            coerce_args(OPS[task.op], task.args, task.loc)


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_operation_has_a_section_with_an_example(op: str) -> None:
    assert op in SECTIONS, f"{SHOWN} has no '## {op}' section"
    start, section = SECTIONS[op]
    ops_shown = {task.op
                 for first_line, block in BLOCKS if f"```yaml\n{block}" in section
                 for task in load_tasks(first_line, block)}
    assert op in ops_shown, f"{SHOWN}:{start}: the {op} section has no example {op} task"


@pytest.mark.parametrize("alias,op", sorted(OP_ALIASES.items()))
def test_operation_aliases_are_named_in_their_section(alias: str, op: str) -> None:
    assert f"`{alias}`" in SECTIONS[op][1]


# ---------------------------------------------------------------------------- argument tables

@pytest.mark.parametrize("op", sorted(OPS))
def test_arguments_table_matches_opspec(op: str) -> None:
    spec = OPS[op]
    start, section = SECTIONS[op]
    rows = table_rows(section)
    assert rows, f"{SHOWN}:{start}: the {op} section has no arguments table"
    documented = [_CODE.fullmatch(row[0]).group(1) if _CODE.fullmatch(row[0]) else row[0]
                  for row in rows]
    assert sorted(documented) == sorted(spec.args), f"{op}: documented arguments differ"
    assert len(set(documented)) == len(documented), f"{op}: an argument is listed twice"
    for name, row in zip(documented, rows):
        assert len(row) == len(TABLE_HEADER), f"{op} {name}: row has {len(row)} cells"
        _check_row(spec, name, spec.args[name], row)


def _check_row(spec: OpSpec, name: str, arg: Arg, row: list[str]) -> None:
    _, type_cell, default_cell, alias_cell, meaning = row
    where = f"{spec.name} {name}"
    if arg.choices:
        assert set(_CODE.findall(type_cell)) == set(arg.choices), f"{where}: choices"
    else:
        assert type_cell == TYPE_WORDS[arg.type], f"{where}: type is {TYPE_WORDS[arg.type]!r}"
    assert set(_CODE.findall(alias_cell)) == set(arg.aliases), f"{where}: aliases"
    assert meaning, f"{where}: no meaning"
    group = next((g for g in spec.required if name in g), None)
    if group is not None:
        assert arg.default is None, f"{where}: required with a default"
        assert default_cell.startswith("required"), f"{where}: default cell must say required"
        others = [n for n in group if n != name]
        assert set(_CODE.findall(default_cell)) == set(others), \
            f"{where}: name the other arguments of its required group: {others}"
    elif arg.default is not None:
        assert default_cell == f"`{_default_text(arg.default)}`", \
            f"{where}: default is {arg.default!r}"
    else:
        assert default_cell == NO_DEFAULT, f"{where}: has no default"


def test_table_reader_reads_escaped_bars() -> None:
    assert _cells("| `state` | `a` \\| `b` | `a` | | x |") == \
        ["`state`", "`a` | `b`", "`a`", "", "x"]
