"""docs/operations.md against the code, so the reference cannot drift from what is accepted.

* every ```yaml block is a task or a list of tasks that the playbook loader accepts (and, when
  no value holds a template, whose values pass the same checks as when a plan is built);
* every operation has a ``## name`` section with an example task
  of that operation;
* the page is what mainsail/opdoc.py writes from the operations' declarations
  (mainsail/agent/ops/<op>.py), so its tables cannot drift from what is accepted.

YAML that is not a task (a config file, a folder layout) goes in a block fenced with another
language (``ini``, ``text``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mainsail.errors import BadInput
from mainsail.opdoc import TYPE_WORDS, page, reference
from mainsail.opspec import OP_ALIASES, OPS, coerce_args, has_template
from mainsail.playbook import Task, parse_task
from mainsail.yamlio import load_yaml_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SHOWN = "docs/operations.md"
TEXT = DOC.read_text(encoding="utf-8")
TABLE_HEADER = ["argument", "type", "default", "aliases", "meaning"]
NO_DEFAULT = "—"
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


# ---------------------------------------------------------------------------- generated page

def test_the_page_is_generated_from_the_declarations() -> None:
    assert TEXT == page(), (f"{SHOWN} is stale: regenerate it with `python -m mainsail.opdoc` "
                            "(or `mainsail doc --all > docs/operations.md`)")


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_argument_is_documented(op: str) -> None:
    spec = OPS[op]
    assert spec.summary and spec.doc, f"{op}: no summary or doc"
    for arg in spec.args:
        assert arg.doc, f"{op} {arg.name}: no meaning"
        assert arg.choices or arg.type in TYPE_WORDS, f"{op} {arg.name}: type {arg.type!r}"
        group = next((g for g in spec.required if arg.name in g), None)
        assert group is None or arg.default is None, f"{op} {arg.name}: required with a default"


@pytest.mark.parametrize("op", sorted(OPS))
def test_the_table_shows_each_argument_as_declared(op: str) -> None:
    spec = OPS[op]
    rows = table_rows(SECTIONS[op][1])
    assert [_CODE.fullmatch(row[0]).group(1) for row in rows] == [a.name for a in spec.args]
    for arg, (_, type_cell, default_cell, alias_cell, meaning) in zip(spec.args, rows):
        assert set(_CODE.findall(alias_cell)) == set(arg.aliases)
        assert meaning == arg.doc
        if arg.choices:
            assert set(_CODE.findall(type_cell)) == set(arg.choices)
        if arg.default is not None:
            assert default_cell == f"`{_default_text(arg.default)}`"


def test_doc_prints_one_operation_like_its_section() -> None:
    assert reference("lineinfile") == SECTIONS["line"][1].rstrip("\n") + "\n"
    assert reference("ansible.builtin.apt").startswith("## apt\n")


# The modules of issue 12: each has its reference under `mainsail doc NAME`.
CORE_MODULES = (
    "copy template file lineinfile blockinfile replace stat find slurp fetch tempfile unarchive "
    "assemble package apt apt_key apt_repository deb822_repository dpkg_selections debconf pip "
    "yum dnf apk service systemd user group authorized_key cron hostname sysctl mount getent "
    "known_hosts timezone command shell raw script expect get_url uri wait_for "
    "wait_for_connection debug assert fail pause set_fact meta add_host group_by").split()


@pytest.mark.parametrize("name", CORE_MODULES)
def test_every_core_module_has_a_reference(name: str) -> None:
    text = reference(name)
    assert text.startswith("## ") and name.split("_")[0] in text
    assert reference("ansible.builtin." + name) == text


def test_controller_keywords_show_their_part_of_the_playbooks_page() -> None:
    meta = reference("meta")
    assert meta.startswith("## meta\n") and "`flush_handlers`" in meta and "\n## " not in meta
    assert "`set_fact: {name: value}`" in reference("set_fact")
    assert "`include_vars`" in reference("ansible.legacy.include_vars")
    with pytest.raises(BadInput) as caught:
        reference("set_fcat")
    assert "set_fact" in caught.value.hint


def test_doc_names_the_closest_operation_for_a_typo() -> None:
    with pytest.raises(BadInput) as caught:
        reference("tempalte")
    assert "template" in caught.value.hint


def test_table_reader_reads_escaped_bars() -> None:
    assert _cells("| `state` | `a` \\| `b` | `a` | | x |") == \
        ["`state`", "`a` | `b`", "`a`", "", "x"]


def test_the_page_writer_takes_no_flag_for_a_path(tmp_path, monkeypatch, capsys):
    from mainsail import opdoc
    monkeypatch.chdir(tmp_path)
    assert opdoc.main(["--help"]) == 0
    assert opdoc.main(["--bogus"]) == 4
    assert list(tmp_path.iterdir()) == []
    assert "usage" in capsys.readouterr().out
