"""The file operations against what Ansible's own integration targets for them expect."""
from __future__ import annotations

from pathlib import Path

from mainsail.opspec import OPS, canonical_args, coerce_args
from test_agent_support import run_op


def find(**args: object) -> dict:
    outcome = run_op("find", coerce_args(OPS["find"], canonical_args(OPS["find"], args), "t"))
    assert outcome.status == "ok", outcome.msg
    return dict(outcome.data)


# ---- find ------------------------------------------------------------------------

def test_find_takes_pattern_as_an_alias_of_patterns(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text("x")
    (tmp_path / "b.txt").write_text("x")
    got = find(path=str(tmp_path), pattern="*.xml")
    assert [f["path"] for f in got["files"]] == [str(tmp_path / "a.xml")]


def test_find_matches_a_symbolic_mode_against_each_entry(tmp_path: Path) -> None:
    for name, mode in (("rw", 0o644), ("ro", 0o444), ("x", 0o755)):
        (tmp_path / name).write_text("x")
        (tmp_path / name).chmod(mode)
    exact = find(paths=str(tmp_path), mode="u=rw,g=r,o=r", exact_mode=True)
    assert [f["path"] for f in exact["files"]] == [str(tmp_path / "rw")]
    readable = find(paths=str(tmp_path), mode="u+r", exact_mode=False)
    assert readable["matched"] == 3


def test_find_notes_a_file_it_cannot_decode_under_the_folder_searched(tmp_path: Path) -> None:
    (tmp_path / "hello.gbk").write_bytes("你好世界".encode("gbk"))
    got = find(paths=str(tmp_path), patterns="*.gbk", contains="你好世界", encoding="utf-8")
    assert got["matched"] == 0
    assert got["skipped_paths"][str(tmp_path)] == (
        "Failed to read the file %s/hello.gbk due to an encoding error. current encoding: "
        "utf-8" % tmp_path)
    assert find(paths=str(tmp_path), patterns="*.gbk", contains="你好世界",
                encoding="gbk")["matched"] == 1
    unknown = find(paths=str(tmp_path), patterns="*.gbk", contains="x", encoding="idontexist")
    assert unknown["skipped_paths"][str(tmp_path)] == "unknown encoding: idontexist"


# ---- slurp -----------------------------------------------------------------------

def test_slurp_fails_in_ansibles_words(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert run_op("slurp", {"src": str(tmp_path / "nope")}).msg.startswith(
        "File not found: %s" % (tmp_path / "nope"))
    assert run_op("slurp", {"src": str(tmp_path)}).msg.startswith(
        "Source is a directory and must be a file: %s" % tmp_path)
    assert run_op("slurp", {"src": str(tmp_path / "f" / "x")}).msg.startswith(
        "Unable to slurp file: ")


# ---- file ------------------------------------------------------------------------

def test_file_diff_peek_reports_whether_a_file_looks_binary_and_changes_nothing(
        tmp_path: Path) -> None:
    (tmp_path / "text").write_text("hello\n")
    (tmp_path / "bin").write_bytes(b"\x00\x01")
    text = run_op("file", {"path": str(tmp_path / "text"), "_diff_peek": True})
    assert text.status == "ok" and text.data == {"path": str(tmp_path / "text"),
                                                 "appears_binary": False}
    assert run_op("file", {"path": str(tmp_path / "bin"), "_diff_peek": True}
                  ).data["appears_binary"] is True
    missing = run_op("file", {"path": str(tmp_path / "none"), "_diff_peek": True})
    assert missing.status == "ok" and not (tmp_path / "none").exists()


# ---- lineinfile ------------------------------------------------------------------

def test_line_on_a_missing_file_fails_in_ansibles_words(tmp_path: Path) -> None:
    missing = run_op("line", {"path": str(tmp_path / "none.txt"), "line": "x"})
    assert missing.status == "failed"
    assert missing.msg.startswith("Destination %s does not exist !" % (tmp_path / "none.txt"))


def test_line_in_a_missing_folder_is_a_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "no" / "where.txt")
    assert run_op("line", {"path": path, "line": "x"}).msg.startswith(
        "Destination %s does not exist !" % path)
    assert run_op("line", {"path": path, "line": "x", "state": "absent"}).status == "ok"
