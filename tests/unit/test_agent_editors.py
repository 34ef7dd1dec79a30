"""lineinfile's Ansible additions, blockinfile and replace, on temp files."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent import journal
from mainsail.agent.core import Context
from mainsail.agent.main import execute_step
from mainsail.errors import BadInput
from mainsail.opspec import OPS, canonical_op, coerce_args
from test_agent_support import run_op


def twice(op: str, args: dict) -> tuple:
    """(first outcome, second outcome): a module is idempotent when the second is ok."""
    first = run_op(op, args)
    return first, run_op(op, args)


# ---------------------------------------------------------------- lineinfile additions

def test_backrefs_put_the_groups_into_the_line(tmp_path: Path) -> None:
    conf = tmp_path / "c"
    conf.write_text("port = 80\nname = x\n")
    args = {"path": str(conf), "regexp": r"^port = (\d+)$", "line": r"port = \1 # kept",
            "backrefs": True}
    first, second = twice("line", args)
    assert first.status == "changed" and second.status == "ok"
    assert conf.read_text() == "port = 80 # kept\nname = x\n"


def test_backrefs_without_a_match_leave_the_file_alone(tmp_path: Path) -> None:
    conf = tmp_path / "c"
    conf.write_text("a\n")
    out = run_op("line", {"path": str(conf), "regexp": "^zzz", "line": "b", "backrefs": True})
    assert out.status == "ok" and conf.read_text() == "a\n"


def test_firstmatch_picks_the_first_line_for_regexp_and_insertafter(tmp_path: Path) -> None:
    conf = tmp_path / "c"
    conf.write_text("# x\nk=1\n# x\nk=2\n")
    run_op("line", {"path": str(conf), "regexp": "^k=", "line": "k=9", "firstmatch": True})
    assert conf.read_text() == "# x\nk=9\n# x\nk=2\n"
    run_op("line", {"path": str(conf), "insertafter": "^# x", "line": "new",
                    "firstmatch": True})
    assert conf.read_text() == "# x\nnew\nk=9\n# x\nk=2\n"


def test_search_string_is_literal_and_removes_too(tmp_path: Path) -> None:
    conf = tmp_path / "c"
    conf.write_text("a.b = 1\naxb = 2\n")
    first, second = twice("line", {"path": str(conf), "search_string": "a.b", "line": "a.b = 3"})
    assert first.status == "changed" and second.status == "ok"
    assert conf.read_text() == "a.b = 3\naxb = 2\n"
    gone = run_op("line", {"path": str(conf), "search_string": "a.b", "state": "absent"})
    assert gone.data["found"] == 1 and conf.read_text() == "axb = 2\n"


def test_insert_at_bof_and_eof(tmp_path: Path) -> None:
    conf = tmp_path / "c"
    conf.write_text("middle\n")
    run_op("line", {"path": str(conf), "line": "top", "insertbefore": "BOF"})
    run_op("line", {"path": str(conf), "line": "end", "insertafter": "EOF"})
    assert conf.read_text() == "top\nmiddle\nend\n"


def test_backup_keeps_the_old_file_and_names_it(tmp_path: Path) -> None:
    conf = tmp_path / "c"
    conf.write_text("old\n")
    out = run_op("line", {"path": str(conf), "regexp": "^old", "line": "new", "backup": True})
    kept = Path(out.data["backup"])
    assert kept.read_text() == "old\n" and kept.name.startswith("c.") and kept.name.endswith("~")
    assert conf.read_text() == "new\n"
    assert run_op("line", {"path": str(conf), "regexp": "^old", "line": "new",
                           "backup": True}).data == {}


def test_lineinfile_rules_refuse_bad_combinations() -> None:
    spec = OPS["line"]
    assert canonical_op("ansible.legacy.lineinfile") == "line"
    with pytest.raises(BadInput, match="backrefs needs regexp"):
        coerce_args(spec, {"path": "/f", "line": "x", "backrefs": True}, "site.yml:3")
    with pytest.raises(BadInput, match="only one of regexp or search_string"):
        coerce_args(spec, {"path": "/f", "line": "x", "regexp": "a", "search_string": "a"})
