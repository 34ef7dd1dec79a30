"""docs/operations.md and `mainsail doc OP`, written from the operations' own declarations.

The page's general part (how operations behave, the argument types) is opdoc_intro.md; each
operation's section comes from its ``SPEC`` in mainsail/agent/ops/<op>.py. Regenerate the page
with ``python -m mainsail.opdoc`` (tests/unit/test_docs_operations.py fails when it is stale).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping

from .agent.spec import Arg, OpSpec
from .errors import BadInput, did_you_mean
from .opspec import OPS, canonical_op

# Task keywords the controller carries out, with no operation (and no declaration) of their
# own: `mainsail doc` shows the playbooks page's section on them.
CONTROLLER_KEYWORDS: Mapping[str, str] = {
    "set_fact": "set_fact, debug, assert, fail", "include_vars": "set_fact, debug, assert, fail",
    "meta": "meta"}

INTRO = Path(__file__).with_name("opdoc_intro.md")
PAGE = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
INDEX_MARK = "<!-- the index of operations goes here -->\n"
NO_DEFAULT = "—"
TABLE_HEADER = "| argument | type | default | aliases | meaning |\n| --- | --- | --- | --- | --- |\n"
# How each value type is named in the tables (explained under "Argument types").
TYPE_WORDS: Mapping[str, str] = {
    "str": "string", "abspath": "path", "pathtext": "path text", "int": "integer", "float": "number",
    "bool": "boolean", "octal": "mode", "names": "names", "globs": "globs", "words": "list", "cmdline": "string",
    "variables": "mapping", "text": "text", "checker": "command", "pattern": "regex",
    "condition": "condition", "restart": "`true` \\| `false` \\| `unexpected`",
    "debconf_value": "text or list", "any": "any value",
}


def page(ops: Mapping[str, OpSpec] = OPS) -> str:
    """The whole of docs/operations.md."""
    intro = INTRO.read_text(encoding="utf-8")
    return intro.replace(INDEX_MARK, index_table(ops)) + "\n".join(
        section(ops[name]) for name in sorted(ops))


def index_table(ops: Mapping[str, OpSpec]) -> str:
    rows = ["| operation | does | Ansible counterpart |", "| --- | --- | --- |"]
    rows += ["| [`%s`](#%s) | %s | %s |" % (s.name, s.name, s.summary, s.ansible or "—")
             for s in (ops[n] for n in sorted(ops))]
    return "\n".join(rows) + "\n"


def section(spec: OpSpec) -> str:
    """One operation's reference: what it does, its arguments, examples and notes."""
    return "## %s\n\n%s\n%s%s" % (spec.name, spec.doc, arguments_table(spec),
                                   spec.notes and "\n" + spec.notes)


def arguments_table(spec: OpSpec) -> str:
    return TABLE_HEADER + "".join(_row([
        "`%s`" % arg.name, type_cell(arg), default_cell(spec, arg),
        ", ".join("`%s`" % a for a in arg.aliases), arg.doc]) for arg in spec.args)


def _row(cells: list[str]) -> str:
    return ("| " + " | ".join(cells) + " |\n").replace("|  |", "| |")


def type_cell(arg: Arg) -> str:
    if arg.choices:
        return " \\| ".join("`%s`" % c for c in arg.choices)
    return TYPE_WORDS[arg.type]


def default_cell(spec: OpSpec, arg: Arg) -> str:
    group = next((g for g in spec.required if arg.name in g), None)
    if group is not None:
        others = [n for n in group if n != arg.name]
        return "required" + (" (or %s)" % ", ".join("`%s`" % n for n in others) if others
                             else "")
    if arg.default is None:
        return NO_DEFAULT
    return "`%s`" % default_text(arg.default)


def default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def reference(name: str) -> str:
    """`mainsail doc OP`: one operation's section, as on the page."""
    canonical = canonical_op(name)
    if canonical is None:
        keyword = keyword_section(name)
        if keyword is not None:
            return keyword
        known = {**OPS, **CONTROLLER_KEYWORDS}
        raise BadInput(f"unknown operation {name!r}", "mainsail doc", did_you_mean(name, known)
                       or "operations: " + ", ".join(sorted(known)))
    return section(OPS[canonical])


def keyword_section(name: str) -> "str | None":
    """The playbooks page's section on a controller keyword (``set_fact``, ``meta``), or None."""
    from .docpages import page as doc_page
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        name = name[len(prefix):] if name.startswith(prefix) else name
    heading = CONTROLLER_KEYWORDS.get(name)
    text = doc_page("playbooks") if heading is not None else None
    if text is None:
        return None
    start = text.index("\n## %s\n" % heading) + 1
    end = text.find("\n## ", start)
    return text[start:] if end < 0 else text[start:end + 1]


def main(argv: "list[str]") -> int:
    """python -m mainsail.opdoc [PATH]: rewrite docs/operations.md (or PATH)."""
    if argv and argv[0].startswith("-"):
        # A flag is never a path: `--help` once became a file named "--help".
        print("usage: python -m mainsail.opdoc [PATH]\n"
              "rewrites docs/operations.md (or PATH) from the operations' declarations")
        return 0 if argv[0] in ("-h", "--help") else 4
    target = Path(argv[0]) if argv else PAGE
    target.write_text(page(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
