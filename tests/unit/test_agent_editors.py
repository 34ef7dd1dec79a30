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


# ---------------------------------------------------------------- blockinfile

def block(tmp_path: Path, **args: object) -> dict:
    return {"path": str(tmp_path / "f"), "block": "a = 1\nb = 2", **args}


def test_a_block_is_added_with_ansible_markers_then_left_alone(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("top\n")
    first, second = twice("blockinfile", block(tmp_path))
    assert first.status == "changed" and second.status == "ok"
    assert (tmp_path / "f").read_text() == ("top\n# BEGIN ANSIBLE MANAGED BLOCK\na = 1\nb = 2\n"
                                            "# END ANSIBLE MANAGED BLOCK\n")


def test_a_block_is_updated_in_place_and_removed(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x\n# BEGIN M\nold\n# END M\ny\n")
    args = block(tmp_path, marker="# {mark} M", block="new")
    assert run_op("blockinfile", args).msg == "Block inserted"  # Ansible's word for an update
    assert (tmp_path / "f").read_text() == "x\n# BEGIN M\nnew\n# END M\ny\n"
    gone = run_op("blockinfile", {**args, "state": "absent"})
    assert gone.status == "changed" and (tmp_path / "f").read_text() == "x\ny\n"
    assert gone.msg == "Block removed"
    assert run_op("blockinfile", {**args, "state": "absent"}).status == "ok"


def test_a_block_keeps_each_lines_own_ending(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"unix\ndos\r\n# BEGIN M\nold\n# END M\nlast")
    args = block(tmp_path, marker="# {mark} M", block="a\r\nb\r\n")
    assert run_op("blockinfile", args).status == "changed"
    assert (tmp_path / "f").read_bytes() == b"unix\ndos\r\n# BEGIN M\na\r\nb\r\n# END M\nlast"
    assert run_op("blockinfile", args).status == "ok"
    (tmp_path / "g").write_bytes(b"no newline")
    run_op("blockinfile", block(tmp_path, path=str(tmp_path / "g"), block="x"))
    assert (tmp_path / "g").read_bytes() == (b"no newline\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n"
                                             b"# END ANSIBLE MANAGED BLOCK\n")


def test_a_multiline_insertafter_is_searched_across_lines(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("A =\n  (LIST =\n  )\nB =\n  (LIST =\n  )\n")
    run_op("blockinfile", block(tmp_path, block="x", marker="# {mark}",
                                insertafter=r"(?m)A =\n.*\(LIST ="))
    assert (tmp_path / "f").read_text().startswith("A =\n  (LIST =\n# BEGIN\nx\n# END\n  )\n")
    (tmp_path / "f").write_text("A =\n  (LIST =\n")
    run_op("blockinfile", block(tmp_path, block="x", marker="# {mark}",
                                insertafter=r"A =\n.*\(LIST ="))  # no (?m): line by line
    assert (tmp_path / "f").read_text() == "A =\n  (LIST =\n# BEGIN\nx\n# END\n"


def test_a_block_goes_where_insertbefore_and_insertafter_say(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("one\ntwo\n")
    run_op("blockinfile", block(tmp_path, block="B", insertbefore="BOF",
                                marker_begin="S", marker_end="E"))
    assert (tmp_path / "f").read_text().startswith("# S ANSIBLE MANAGED BLOCK\nB\n")
    run_op("blockinfile", block(tmp_path, block="C", insertafter="^one", marker="## {mark}"))
    assert "one\n## BEGIN\nC\n## END\ntwo\n" in (tmp_path / "f").read_text()


def test_blockinfile_check_mode_diff_create_and_backup(tmp_path: Path) -> None:
    args = block(tmp_path, create=True, mode="0600")
    preview = run_op("blockinfile", args, check=True)
    assert preview.status == "changed" and not (tmp_path / "f").exists()
    assert preview.msg == "File created"
    assert "+a = 1" in preview.diff
    assert run_op("blockinfile", args).status == "changed"
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o600
    out = run_op("blockinfile", {**args, "block": "c", "backup": True})
    assert "a = 1" in Path(out.data["backup_file"]).read_text()
    assert run_op("blockinfile", block(tmp_path / "none")).status == "failed"


def test_blockinfile_is_undone_by_the_journal(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("keep\n")
    jr = journal.Journal(str(tmp_path / "j"))
    execute_step(Context(journal=jr), {"id": 1, "op": "blockinfile", "args": block(tmp_path)})
    assert "a = 1" in (tmp_path / "f").read_text()
    journal.restore(str(tmp_path / "j"))
    assert (tmp_path / "f").read_text() == "keep\n"


def test_blockinfile_refuses_a_marker_without_mark() -> None:
    with pytest.raises(BadInput, match="marker must contain"):
        coerce_args(OPS["blockinfile"], {"path": "/f", "marker": "# managed"}, "site.yml:9")


# ---------------------------------------------------------------- replace

def test_replace_every_match_then_nothing(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("listen 80\nlisten 81\nother 80\n")
    args = {"path": str(tmp_path / "f"), "regexp": r"^listen (\d+)$", "replace": r"listen [::]:\1"}
    first, second = twice("replace", args)
    assert first.status == "changed" and first.msg == "2 replacements made"
    assert second.status == "ok"
    assert (tmp_path / "f").read_text() == "listen [::]:80\nlisten [::]:81\nother 80\n"


def test_replace_between_after_and_before(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x=1\n[s]\nx=1\n[t]\nx=1\n")
    run_op("replace", {"path": str(tmp_path / "f"), "regexp": "x=1", "replace": "x=2",
                       "after": r"\[s\]", "before": r"\[t\]"})
    assert (tmp_path / "f").read_text() == "x=1\n[s]\nx=2\n[t]\nx=1\n"


def test_replace_says_when_after_and_before_match_no_section(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("a\nb\n")
    out = run_op("replace", {"path": str(tmp_path / "f"), "regexp": "a", "replace": "z",
                             "after": "b", "before": "a"})
    assert out.status == "ok" and (tmp_path / "f").read_text() == "a\nb\n"
    assert out.msg.startswith("Pattern for before/after params did not match the given file")


def test_replace_fails_on_a_folder_or_a_missing_file_in_ansibles_words(tmp_path: Path) -> None:
    args = {"regexp": "a", "replace": "z"}
    folder = run_op("replace", {**args, "path": str(tmp_path)})
    assert folder.status == "failed" and folder.msg.endswith(" is a directory !")
    missing = run_op("replace", {**args, "path": str(tmp_path / "none")})
    assert missing.status == "failed" and missing.msg.endswith(" does not exist !")


@pytest.mark.parametrize("replace", [r"\D", r"\2", r"\g<nope>"])
def test_a_replacement_that_cannot_expand_fails_before_the_file_is_read(
        tmp_path: Path, replace: str) -> None:
    (tmp_path / "f").write_text("no dot here\n")
    out = run_op("replace", {"path": str(tmp_path / "f"), "regexp": r"(\.)", "replace": replace})
    assert out.status == "failed" and out.msg.startswith("Unable to process replace")


def test_replace_check_mode_diff_backup_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("a\n")
    args = {"path": str(tmp_path / "f"), "regexp": "a", "replace": "b"}
    preview = run_op("replace", args, check=True)
    assert preview.status == "changed" and "+b" in preview.diff
    assert (tmp_path / "f").read_text() == "a\n"
    out = run_op("replace", {**args, "backup": True})
    assert Path(out.data["backup_file"]).read_text() == "a\n"
    missing = run_op("replace", {**args, "path": str(tmp_path / "none")})
    assert missing.status == "failed" and "does not exist" in missing.msg


# ---------------------------------------------------------------- copy: force and backup

def test_copy_force_false_only_creates_a_missing_file(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    args = {"dest": str(dest), "content": "new\n", "force": False}
    assert run_op("copy", args).status == "changed" and dest.read_text() == "new\n"
    dest.write_text("mine\n")
    out = run_op("copy", args)
    assert out.status == "ok" and dest.read_text() == "mine\n" and out.data["dest"] == str(dest)


def test_copy_backup_keeps_the_old_file(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    dest.write_text("old\n")
    out = run_op("copy", {"dest": str(dest), "content": "new\n", "backup": True})
    assert Path(out.data["backup_file"]).read_text() == "old\n" and dest.read_text() == "new\n"
    assert run_op("copy", {"dest": str(dest), "content": "new\n", "backup": True}).status == "ok"
