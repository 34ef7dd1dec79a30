"""The file operations against what Ansible's own integration targets for them expect."""
from __future__ import annotations

import os
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


# ---- file (Ansible's file target) -------------------------------------------------

def _attrs_supported(path: Path) -> bool:
    from mainsail.agent import fileio
    try:
        fileio.read_attributes(str(path))
        return True
    except Exception:
        return False


def test_file_attributes_add_set_and_remove_chattr_flags(tmp_path: Path) -> None:
    import pytest
    from mainsail.agent import fileio
    target = tmp_path / "f"
    target.write_text("x")
    if not _attrs_supported(target):
        pytest.skip("the filesystem has no chattr attributes")
    args = {"path": str(target), "attributes": "A"}
    first = run_op("file", args)
    assert first.status == "changed" and first.data["diff"]["after"]["attributes"].count("A")
    assert fileio.read_attributes(str(target)) & fileio.ATTR_FLAGS["A"]
    assert run_op("file", dict(args, attributes="+A")).status == "ok"
    assert run_op("file", args).status == "ok"  # the filesystem's own flags (e) stay as they are
    assert run_op("file", dict(args, attributes="-A")).status == "changed"
    assert not fileio.read_attributes(str(target)) & fileio.ATTR_FLAGS["A"]
    assert run_op("file", dict(args, attributes="-A")).status == "ok"
    assert run_op("file", dict(args, attributes="")).status == "ok"  # Ansible: nothing asked


def test_file_attributes_parse_as_chattr_takes_them() -> None:
    import pytest
    from mainsail.agent import fileio
    from mainsail.agent.core import OpError
    assert fileio.parse_attributes("+Ai") == ("+", 0x80 | 0x10)
    assert fileio.parse_attributes("=") is None and fileio.parse_attributes(None) is None
    assert fileio.wanted_flags(0x80000 | 0x80, "=", 0x10) == 0x80000 | 0x10  # e is kept
    with pytest.raises(OpError):
        fileio.parse_attributes("e")  # the filesystem's own: never asked for


def test_file_results_carry_ansible_s_mode_and_state(tmp_path: Path) -> None:
    target = tmp_path / "f"
    got = run_op("file", {"path": str(target), "state": "touch", "mode": "a=r,o+t"})
    assert got.data["mode"] == "01444" and got.data["dest"] == str(target)
    os_link = tmp_path / "h"
    os_link.hardlink_to(target)
    assert run_op("file", {"path": str(target)}).data["state"] == "hard"


def test_file_diff_is_ansible_s_before_and_after(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    args = {"path": str(target), "modification_time": "202202081414.00"}
    first = run_op("file", args)
    assert first.status == "changed" and set(first.data["diff"]["after"]) == {"path", "mtime"}
    again = run_op("file", args)
    assert again.status == "ok" and again.data["diff"]["after"] == {"path": str(target)}
    assert "diff" not in run_op("file", args, diff=False).data
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "g").write_text("")
    gone = run_op("file", {"path": str(tmp_path / "d"), "state": "absent"}, check=True)
    content = gone.data["diff"]["before"]["path_content"]
    assert content == {"directories": [str(tmp_path / "d" / "e")],
                       "files": [str(tmp_path / "d" / "g")]}
    link = tmp_path / "l"
    link.symlink_to(str(target))
    moved = run_op("file", {"path": str(link), "src": "f", "state": "link"})
    assert moved.data["diff"]["before"]["src"] == str(target)
    assert moved.data["diff"]["after"]["src"] == "f"


def test_a_registered_result_keeps_the_module_s_own_diff() -> None:
    from mainsail.plan import result_fields
    got = result_fields({"status": "changed", "diff": "--- text", "data": {
        "diff": {"before": {"path": "/x"}, "after": {"path": "/x"}}}})
    assert got["diff"] == {"before": {"path": "/x"}, "after": {"path": "/x"}}


def test_file_links_and_hard_links_without_src(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    link = tmp_path / "l"
    link.symlink_to("f")
    # an existing link is managed without src (a link has no mode: nothing to do)
    assert run_op("file", {"path": str(link), "state": "link", "mode": "0600",
                           "follow": False}).status == "ok"
    assert target.stat().st_mode & 0o777 != 0o600
    new = run_op("file", {"path": str(tmp_path / "n"), "state": "link"})
    assert new.status == "failed" and new.msg.startswith("src is required for creating new "
                                                         "symlinks")
    hard = run_op("file", {"path": str(tmp_path / "n"), "state": "hard"})
    assert hard.msg == "src is required for creating new hardlinks"
    missing = run_op("file", {"path": str(tmp_path / "n"), "state": "hard", "src": "nope"})
    assert missing.msg == "src does not exist" and missing.data["src"] == "nope"
    assert missing.data["dest"] == str(tmp_path / "n")
    no_state = run_op("file", {"path": str(tmp_path / "n"), "src": str(target)})
    assert no_state.status == "failed" and "src option requires state to be" in no_state.msg


def test_file_a_link_to_the_root_folder(tmp_path: Path) -> None:
    link = tmp_path / "root"
    got = run_op("file", {"path": str(link), "src": "/", "state": "link"})
    assert got.status == "changed" and os.readlink(link) == "/"
    assert run_op("file", {"path": str(link), "src": "/", "state": "link"}).status == "ok"
    info = run_op("stat", {"path": str(link), "follow": True}).data["stat"]
    assert info["inode"] == os.stat("/").st_ino


def test_file_hard_link_asked_at_a_folder_goes_inside_it(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    got = run_op("file", {"path": str(tmp_path / "d"), "src": str(tmp_path / "f"),
                          "state": "hard"})
    assert got.status == "changed"
    assert (tmp_path / "d" / "f").stat().st_ino == (tmp_path / "f").stat().st_ino


def test_file_recurse_follows_links_only_with_follow(tmp_path: Path) -> None:
    top, outside = tmp_path / "top", tmp_path / "out"
    top.mkdir()
    outside.mkdir(mode=0o700)
    (outside / "foo").write_text("")
    (outside / "foo").chmod(0o700)
    (top / "to_dir").symlink_to("../out")
    (top / "dangling").symlink_to("nowhere")
    args = {"path": str(top), "mode": "a-x", "recurse": True}
    assert run_op("file", dict(args, follow=False)).status == "changed"
    assert (outside / "foo").stat().st_mode & 0o777 == 0o700
    assert run_op("file", dict(args, follow=True)).status == "changed"
    assert (outside / "foo").stat().st_mode & 0o777 == 0o600
    assert outside.stat().st_mode & 0o777 == 0o600
    outside.chmod(0o700)


def test_file_warns_of_an_owner_or_group_it_cannot_find(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("")
    got = run_op("file", {"path": str(target), "state": "touch", "owner": "no-such-user-x",
                          "group": "99999"}, check=True)
    assert got.data["warnings"][0].startswith("failed to look up user no-such-user-x")
    assert got.data["warnings"][1].startswith("failed to look up group with gid 99999")
    assert "warnings" not in run_op("file", {"path": str(target), "owner": "root"},
                                    check=True).data


def test_file_touch_in_check_mode_is_changed_unless_times_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "f"
    assert run_op("file", {"path": str(target), "state": "touch"}, check=True).status == \
        "changed"
    target.write_text("")
    kept = {"path": str(target), "state": "touch", "access_time": "preserve",
            "modification_time": "preserve"}
    assert run_op("file", kept, check=True).status == "ok"
    assert run_op("file", dict(kept, mode="0600"), check=True).status == "changed"
    assert run_op("file", dict(kept, access_time=None), check=True).status == "changed"


def test_file_link_in_a_folder_others_can_write_is_not_followed_unasked(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp: a link there is never followed by root
    (tmp_path / "f").write_text("x")
    args = {"path": str(shared / "l"), "src": str(tmp_path / "f"), "state": "link"}
    assert run_op("file", args).status == "changed"
    assert run_op("file", args).status == "ok"
    chown = run_op("file", dict(args, owner="root"))  # would follow: refused, not followed
    assert chown.status == "failed" and "refused to follow" in chown.msg
    assert run_op("file", dict(args, owner="root", follow=False)).status == "ok"
