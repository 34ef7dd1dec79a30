"""The file, copy and line operations on temp paths: check, apply, idempotence, diffs."""
from __future__ import annotations

import os
import pwd
import stat
import time
from pathlib import Path

import pytest

from mainsail.agent.fileio import sha256_bytes
from test_agent_support import run_op, snapshot

NOBODY = 65534


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ---- file ------------------------------------------------------------------------

def test_directory_is_created_once_with_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    args = {"path": str(target), "state": "directory", "mode": "0750"}
    first = run_op("file", args)
    assert first.status == "changed" and target.is_dir() and mode_of(target) == 0o750
    assert "+directory" in first.diff
    assert run_op("file", args).status == "ok"


def test_directory_in_check_mode_is_reported_not_made(tmp_path: Path) -> None:
    target = tmp_path / "d"
    outcome = run_op("file", {"path": str(target), "state": "directory"}, check=True)
    assert outcome.status == "changed" and not target.exists()


def test_file_state_fixes_mode_and_owner_of_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    os.chmod(target, 0o600)
    args = {"path": str(target), "mode": "0644", "owner": "nobody"}
    checked = run_op("file", args, check=True)
    assert checked.status == "changed" and "mode 0600 -> 0644" in checked.msg
    assert mode_of(target) == 0o600
    assert run_op("file", args).status == "changed"
    assert mode_of(target) == 0o644 and os.stat(target).st_uid == NOBODY
    assert run_op("file", args).status == "ok"


def test_file_state_on_a_missing_file_fails_with_a_hint(tmp_path: Path) -> None:
    outcome = run_op("file", {"path": str(tmp_path / "nope")})
    assert outcome.status == "failed" and "touch" in outcome.msg


def test_touch_creates_an_empty_file_then_sets_its_times_on_each_run(tmp_path: Path) -> None:
    target = tmp_path / "t"
    args = {"path": str(target), "state": "touch", "mode": "0600"}
    assert run_op("file", args).status == "changed"
    assert target.read_bytes() == b"" and mode_of(target) == 0o600
    os.utime(target, (1000000000, 1000000000))
    again = run_op("file", args)  # as in Ansible: touch is changed on every run
    assert again.status == "changed" and target.stat().st_mtime > 1000000000
    kept = run_op("file", dict(args, access_time="preserve", modification_time="preserve"))
    assert kept.status == "ok"


def test_times_given_in_a_format_are_set_once(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.write_text("")
    args = {"path": str(target), "state": "file", "modification_time": "202001011200.00"}
    assert run_op("file", args).status == "changed"
    assert time.localtime(target.stat().st_mtime)[:5] == (2020, 1, 1, 12, 0)
    assert run_op("file", args).status == "ok"
    bad = run_op("file", dict(args, modification_time="yesterday"))
    assert bad.status == "failed" and "does not match the format" in bad.msg


def test_recurse_sets_a_symbolic_mode_on_everything_under_a_folder(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("x")
    (tree / "sub" / "f").chmod(0o400)
    (tree / "sub").chmod(0o500)
    args = {"path": str(tree), "mode": "u+rwx", "recurse": True, "follow": False}
    first = run_op("file", args)  # no state: a folder with recurse
    assert first.status == "changed" and first.data["state"] == "directory"
    assert mode_of(tree / "sub") == 0o700 and mode_of(tree / "sub" / "f") == 0o700
    assert run_op("file", args).status == "ok"


def test_the_result_carries_ansibles_fields(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("abc")
    got = run_op("file", {"path": str(target), "mode": "0640"})  # no state: what it is now
    assert got.status == "changed"
    assert got.data["state"] == "file" and got.data["mode"] == "0640"
    assert got.data["size"] == 3 and got.data["path"] == str(target)
    assert got.data["owner"] == pwd.getpwuid(os.getuid()).pw_name


def test_hard_link_is_made_once_and_replaces_a_file_only_with_force(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.write_text("data")
    args = {"path": str(dest), "src": str(src), "state": "hard"}
    made = run_op("file", args)
    assert made.status == "changed" and made.data["state"] == "hard"
    assert dest.stat().st_ino == src.stat().st_ino
    assert run_op("file", args).status == "ok"
    other = tmp_path / "other"
    other.write_text("mine")
    refused = run_op("file", dict(args, path=str(other)))
    assert refused.status == "failed" and other.read_text() == "mine"
    forced = run_op("file", dict(args, path=str(other), force=True))
    assert forced.status == "changed" and other.stat().st_ino == src.stat().st_ino


def test_absent_removes_files_links_and_trees(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(tree)
    assert run_op("file", {"path": str(link), "state": "absent"}).status == "changed"
    assert not os.path.lexists(link) and tree.exists()  # the link went, not its target
    assert run_op("file", {"path": str(tree), "state": "absent"}, check=True).status == "changed"
    assert tree.exists()
    assert run_op("file", {"path": str(tree), "state": "absent"}).status == "changed"
    assert not tree.exists()
    assert run_op("file", {"path": str(tree), "state": "absent"}).status == "ok"


def test_link_is_created_retargeted_and_then_left_alone(tmp_path: Path) -> None:
    link = tmp_path / "current"
    args = {"path": str(link), "state": "link", "src": "/srv/app/v1", "force": True}
    assert run_op("file", args).status == "changed"
    assert os.readlink(link) == "/srv/app/v1"
    assert run_op("file", args).status == "ok"
    moved = run_op("file", dict(args, src="/srv/app/v2"))
    assert moved.status == "changed" and "link -> /srv/app/v1" in moved.diff
    assert os.readlink(link) == "/srv/app/v2"


def test_a_link_to_a_missing_path_needs_force(tmp_path: Path) -> None:
    link = tmp_path / "current"
    refused = run_op("file", {"path": str(link), "state": "link", "src": "nothere"})
    assert refused.status == "failed" and "force" in refused.msg
    assert not os.path.lexists(link)
    (tmp_path / "there").write_text("")
    relative = run_op("file", {"path": str(link), "state": "link", "src": "there"})
    assert relative.status == "changed" and os.readlink(link) == "there"


def test_link_never_replaces_a_real_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("keep me")
    outcome = run_op("file", {"path": str(target), "state": "link", "src": "/etc/hostname"})
    assert outcome.status == "failed" and "refusing to convert from file to symlink" in outcome.msg
    assert target.read_text() == "keep me"
    forced = run_op("file", {"path": str(target), "state": "link", "src": "/etc/hostname",
                             "force": True})
    assert forced.status == "changed" and os.readlink(target) == "/etc/hostname"


def test_unknown_arguments_and_states_are_named() -> None:
    assert "unknown argument(s) colour" in run_op("file", {"path": "/x", "colour": "red"}).msg
    assert "unknown state 'gone'" in run_op("file", {"path": "/x", "state": "gone"}).msg


# ---- copy ------------------------------------------------------------------------

def copy_args(dest: Path, data: bytes, **extra: object) -> dict:
    return dict({"dest": str(dest), "content_sha": sha256_bytes(data)}, **extra)


def test_copy_creates_then_reports_ok(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    data = b"port = 80\n"
    first = run_op("copy", copy_args(dest, data, mode="0640"), blobs=[data])
    assert first.status == "changed" and "+port = 80" in first.diff
    assert dest.read_bytes() == data and mode_of(dest) == 0o640
    assert run_op("copy", copy_args(dest, data, mode="0640"), blobs=[data]).status == "ok"


def test_copy_changing_content_shows_a_diff_and_keeps_owner_and_mode(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    dest.write_text("port = 80\n")
    os.chmod(dest, 0o600)
    os.chown(dest, NOBODY, NOBODY)
    data = b"port = 8080\n"
    outcome = run_op("copy", copy_args(dest, data), blobs=[data])
    assert outcome.status == "changed"
    assert "-port = 80\n+port = 8080" in outcome.diff
    st = os.stat(dest)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, NOBODY, NOBODY)


def test_copy_with_same_content_but_other_mode_only_changes_the_mode(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    dest.write_bytes(b"same")
    os.chmod(dest, 0o644)
    outcome = run_op("copy", copy_args(dest, b"same", mode="0600"), blobs=[])
    assert outcome.status == "changed" and outcome.msg == "mode 0644 -> 0600"
    assert mode_of(dest) == 0o600


def test_copy_validate_failure_leaves_the_old_file_with_owner_and_mode(tmp_path: Path) -> None:
    dest = tmp_path / "sudoers"
    dest.write_text("valid\n")
    os.chmod(dest, 0o440)
    os.chown(dest, NOBODY, 0)
    before = snapshot(dest)
    data = b"broken\n"
    outcome = run_op("copy", copy_args(dest, data, validate="grep -q valid %s"), blobs=[data])
    assert outcome.status == "failed" and "validation failed" in outcome.msg
    assert snapshot(dest) == before
    assert [p.name for p in tmp_path.iterdir()] == ["sudoers"]


def test_copy_in_check_mode_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    dest.write_text("old\n")
    before = snapshot(dest)
    data = b"new\n"
    outcome = run_op("copy", copy_args(dest, data, mode="0600"), check=True, blobs=[data])
    assert outcome.status == "changed" and "+new" in outcome.diff
    assert snapshot(dest) == before


def test_copy_in_check_mode_without_diff_needs_no_blob(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    outcome = run_op("copy", copy_args(dest, b"never sent"), check=True, diff=False, blobs=[])
    assert outcome.status == "changed" and not dest.exists()


def test_copy_into_a_missing_folder_fails_with_a_hint(tmp_path: Path) -> None:
    data = b"x"
    outcome = run_op("copy", copy_args(tmp_path / "no" / "f", data), blobs=[data])
    assert outcome.status == "failed"
    assert "does not exist" in outcome.msg and "state: directory" in outcome.msg


def test_copy_in_check_mode_assumes_an_earlier_task_makes_the_folder(tmp_path: Path) -> None:
    outcome = run_op("copy", copy_args(tmp_path / "no" / "f", b"x"), check=True,
                     earlier=["file"])
    assert outcome.status == "changed" and "assuming an earlier task" in outcome.msg
    assert run_op("copy", copy_args(tmp_path / "no" / "f", b"x"), check=True).status == "failed"
    assert not (tmp_path / "no").exists()


def test_copy_of_inline_content_onto_a_directory_fails(tmp_path: Path) -> None:
    data = b"x"
    outcome = run_op("copy", copy_args(tmp_path, data), blobs=[data])
    assert outcome.status == "failed" and "can not use content with a dir as dest" in outcome.msg  # Ansible's words


def test_copy_of_a_file_to_a_directory_puts_it_there_under_its_name(tmp_path: Path) -> None:
    data = b"x"
    args = copy_args(tmp_path, data, src="roles/web/files/sshd_config")
    outcome = run_op("copy", args, blobs=[data])
    assert outcome.status == "changed" and outcome.data["dest"] == str(tmp_path / "sshd_config")
    assert (tmp_path / "sshd_config").read_bytes() == data
    assert run_op("copy", args, blobs=[data]).status == "ok"


def test_copy_refuses_a_blob_that_does_not_match_its_digest(tmp_path: Path) -> None:
    from mainsail.agent.core import BlobStore, Context
    from mainsail.agent.ops import copy
    store = BlobStore()
    store.add(sha256_bytes(b"real"), b"forged")
    with pytest.raises(Exception, match="does not match"):
        copy.run(Context(blobs=store), copy_args(tmp_path / "f", b"real"))
    assert not (tmp_path / "f").exists()


def test_copy_accepts_inline_content(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    assert run_op("copy", {"dest": str(dest), "content": "inline\n"}).status == "changed"
    assert dest.read_text() == "inline\n"


# ---- line ------------------------------------------------------------------------

def line(path: Path, **args: object) -> dict:
    return dict({"path": str(path)}, **args)


@pytest.fixture
def sshd(tmp_path: Path) -> Path:
    path = tmp_path / "sshd_config"
    path.write_text("# PermitRootLogin yes\nPort 22\nPermitRootLogin yes\nUsePAM yes\n")
    return path


def test_regexp_replaces_the_last_match(sshd: Path) -> None:
    args = line(sshd, regexp=r"^#?\s*PermitRootLogin", line="PermitRootLogin no")
    outcome = run_op("line", args)
    assert outcome.status == "changed" and "+PermitRootLogin no" in outcome.diff
    assert sshd.read_text() == "# PermitRootLogin yes\nPort 22\nPermitRootLogin no\nUsePAM yes\n"
    assert run_op("line", args).status == "ok"


def test_a_line_already_present_is_ok_even_if_regexp_does_not_match(sshd: Path) -> None:
    before = snapshot(sshd)
    assert run_op("line", line(sshd, regexp="^NoSuch", line="Port 22")).status == "ok"
    assert snapshot(sshd) == before


def test_missing_line_goes_after_the_last_insertafter_match(sshd: Path) -> None:
    run_op("line", line(sshd, line="X11Forwarding no", insertafter="^#?\\s*PermitRootLogin"))
    assert sshd.read_text().splitlines() == [
        "# PermitRootLogin yes", "Port 22", "PermitRootLogin yes", "X11Forwarding no", "UsePAM yes"]


def test_insertbefore_bof_and_the_default_eof(sshd: Path) -> None:
    run_op("line", line(sshd, line="# managed", insertbefore="BOF"))
    run_op("line", line(sshd, line="Banner none"))
    lines = sshd.read_text().splitlines()
    assert lines[0] == "# managed" and lines[-1] == "Banner none"


def test_insertbefore_a_regex(sshd: Path) -> None:
    run_op("line", line(sshd, line="ListenAddress 0.0.0.0", insertbefore="^Port"))
    assert sshd.read_text().splitlines()[1:3] == ["ListenAddress 0.0.0.0", "Port 22"]


def test_appending_to_a_file_without_a_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("a")
    run_op("line", line(path, line="b"))
    assert path.read_text() == "a\nb\n"


def test_absent_removes_every_match(sshd: Path) -> None:
    outcome = run_op("line", line(sshd, regexp="PermitRootLogin", state="absent"))
    assert outcome.status == "changed" and outcome.msg == "2 line(s) removed"
    assert sshd.read_text() == "Port 22\nUsePAM yes\n"
    assert run_op("line", line(sshd, regexp="PermitRootLogin", state="absent")).status == "ok"


def test_a_missing_file_needs_create(tmp_path: Path) -> None:
    path = tmp_path / "new"
    refused = run_op("line", line(path, line="a=1"))
    assert refused.status == "failed" and "create: true" in refused.msg
    made = run_op("line", line(path, line="a=1", create=True, mode="0600"))
    assert made.status == "changed" and path.read_text() == "a=1\n" and mode_of(path) == 0o600
    assert made.msg == "line added"
    assert run_op("line", line(tmp_path / "other", line="a", state="absent")).status == "ok"


@pytest.mark.parametrize("op, args", [("line", {"line": "a=1"}), ("blockinfile", {"block": "a=1"})])
def test_create_makes_the_missing_folders_too_and_a_journal_removes_them(
        tmp_path: Path, op: str, args: dict) -> None:
    from mainsail.agent.journal import Journal, restore
    path = tmp_path / "made" / "deeper" / "f"
    journal = Journal(str(tmp_path / "journal"))
    made = run_op(op, dict(args, path=str(path), create=True), journal=journal)
    assert made.status == "changed" and "a=1\n" in path.read_text()
    restore(str(tmp_path / "journal"))
    assert not (tmp_path / "made").exists()


def test_line_in_check_mode_changes_nothing(sshd: Path) -> None:
    before = snapshot(sshd)
    outcome = run_op("line", line(sshd, line="New 1", mode="0600"), check=True)
    assert outcome.status == "changed" and "+New 1" in outcome.diff
    assert snapshot(sshd) == before


def test_line_validate_failure_keeps_the_file(sshd: Path) -> None:
    before = snapshot(sshd)
    outcome = run_op("line", line(sshd, line="Bogus yes", validate="grep -q NeverThere %s"))
    assert outcome.status == "failed" and snapshot(sshd) == before


def test_line_keeps_crlf_endings_of_a_replaced_line(tmp_path: Path) -> None:
    path = tmp_path / "win.ini"
    path.write_bytes(b"a=1\r\nb=2\r\n")
    run_op("line", line(path, regexp="^a=", line="a=9"))
    assert path.read_bytes() == b"a=9\r\nb=2\r\n"


def test_a_bad_regex_is_reported(sshd: Path) -> None:
    outcome = run_op("line", line(sshd, regexp="([", line="x"))
    assert outcome.status == "failed" and "not a valid regex" in outcome.msg


def test_copy_reports_ansibles_file_fields(tmp_path: Path) -> None:
    import hashlib
    dest = tmp_path / "f"
    out = run_op("copy", {"dest": str(dest), "content": "hello\n", "mode": "0640"})
    assert out.data["checksum"] == hashlib.sha1(b"hello\n").hexdigest()
    assert out.data["size"] == 6 and out.data["mode"] == "0640" and out.data["state"] == "file"
    assert run_op("copy", {"dest": str(dest), "content": "hello\n"}).data["checksum"] == \
        out.data["checksum"]
    planned = run_op("copy", {"dest": str(tmp_path / "g"), "content": "x"}, check=True)
    assert planned.data["checksum"] == hashlib.sha1(b"x").hexdigest()
