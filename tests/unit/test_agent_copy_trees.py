"""copy's Ansible forms: remote_src (a file or a folder on the host), folders shipped from the
project by manifest, follow, checksum and the result fields."""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from mainsail.agent.fileio import sha256_bytes
from test_agent_support import run_op


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def make_tree(top: Path) -> None:
    (top / "sub").mkdir(parents=True)
    (top / "a.txt").write_text("a\n")
    (top / "sub" / "b.txt").write_text("b\n")
    os.chmod(top / "sub" / "b.txt", 0o600)
    os.symlink("sub/b.txt", top / "link_b")


def test_remote_src_file_is_copied_with_its_mode_and_ansible_fields(tmp_path: Path) -> None:
    src, dest = tmp_path / "src.txt", tmp_path / "dest.txt"
    src.write_text("hello\n")
    os.chmod(src, 0o640)
    args = {"src": str(src), "dest": str(dest), "remote_src": True}
    first = run_op("copy", args)
    assert first.status == "changed" and dest.read_text() == "hello\n"
    assert mode_of(dest) == 0o640
    assert first.data["checksum"] == hashlib.sha1(b"hello\n").hexdigest()
    assert first.data["md5sum"] == hashlib.md5(b"hello\n").hexdigest()
    assert first.data["src"] == str(src) and first.data["size"] == 6
    assert run_op("copy", args).status == "ok"


def test_remote_src_that_is_not_a_file_or_missing_fails_in_ansibles_words(tmp_path: Path) -> None:
    dest = str(tmp_path / "d")
    gone = run_op("copy", {"src": str(tmp_path / "nope"), "dest": dest, "remote_src": True})
    assert gone.status == "failed" and "not found" in gone.msg
    dev = run_op("copy", {"src": "/dev/null", "dest": dest, "remote_src": True})
    assert dev.status == "failed" and "not a file" in dev.msg


def test_remote_src_folder_without_slash_lands_under_its_name(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree")
    (tmp_path / "out").mkdir()
    args = {"src": str(tmp_path / "tree"), "dest": str(tmp_path / "out"), "remote_src": True}
    assert run_op("copy", args, check=True).status == "changed"
    assert not (tmp_path / "out" / "tree").exists()
    assert run_op("copy", args).status == "changed"
    copied = tmp_path / "out" / "tree"
    assert (copied / "sub" / "b.txt").read_text() == "b\n" and mode_of(copied / "sub" / "b.txt") == 0o600
    assert os.readlink(copied / "link_b") == "sub/b.txt"  # links stay links by default
    assert run_op("copy", args).status == "ok"


def test_remote_src_folder_with_slash_copies_its_content_and_follows_links(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree")
    dest = tmp_path / "new"
    args = {"src": str(tmp_path / "tree") + "/", "dest": str(dest), "remote_src": True,
            "local_follow": True, "directory_mode": "0750"}
    assert run_op("copy", args).status == "changed"
    assert (dest / "a.txt").read_text() == "a\n" and mode_of(dest / "sub") == 0o750
    assert not (dest / "link_b").is_symlink() and (dest / "link_b").read_text() == "b\n"
    assert run_op("copy", args).status == "ok"


def test_a_shipped_folder_manifest_makes_folders_files_and_links(tmp_path: Path) -> None:
    a, b = b"a\n", b"b\n"
    manifest = {"top": {"dir": True}, "top/a.txt": {"sha": sha256_bytes(a), "mode": "0755"},
                "top/sub": {"dir": True}, "top/sub/b.txt": {"sha": sha256_bytes(b), "mode": "0644"},
                "top/l": {"link": "sub/b.txt"}}
    dest = tmp_path / "d"
    args = {"dest": str(dest) + "/", "manifest": manifest, "src": "files/top",
            "directory_mode": "0700", "mode": "0640"}
    first = run_op("copy", args, blobs=[a, b])
    assert first.status == "changed" and first.data["src"] == "files/top"
    assert (dest / "top" / "sub" / "b.txt").read_bytes() == b
    assert mode_of(dest / "top" / "a.txt") == 0o640 and mode_of(dest / "top" / "sub") == 0o700
    assert os.readlink(dest / "top" / "l") == "sub/b.txt"
    assert run_op("copy", args, blobs=[]).status == "ok"  # same digests: nothing sent
    (dest / "top" / "a.txt").write_bytes(b"changed")
    again = run_op("copy", args, blobs=[a])
    assert again.status == "changed" and (dest / "top" / "a.txt").read_bytes() == a


def test_follow_false_replaces_a_link_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("old")
    os.symlink("target", tmp_path / "link")
    args = {"dest": str(tmp_path / "link"), "content": "new", "follow": False}
    assert run_op("copy", args).status == "changed"
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "link").read_text() == "new"
    assert (tmp_path / "target").read_text() == "old"
    assert run_op("copy", args).status == "ok"


def test_follow_true_writes_through_the_link(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("old")
    os.symlink("target", tmp_path / "link")
    args = {"dest": str(tmp_path / "link"), "content": "new", "follow": True}
    assert run_op("copy", args).status == "changed"
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target").read_text() == "new"


def test_checksum_mismatch_fails_before_writing(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    bad = run_op("copy", {"dest": str(dest), "content": "x", "checksum": "0" * 40})
    assert bad.status == "failed" and "does not match the expected checksum" in bad.msg
    assert bad.data["checksum"] == hashlib.sha1(b"x").hexdigest() and not dest.exists()
    good = run_op("copy", {"dest": str(dest), "content": "x",
                           "checksum": hashlib.sha1(b"x").hexdigest()})
    assert good.status == "changed" and dest.read_text() == "x"


def test_backup_file_is_reported(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    dest.write_text("old")
    out = run_op("copy", {"dest": str(dest), "content": "new", "backup": True})
    assert out.status == "changed" and Path(out.data["backup_file"]).read_text() == "old"


def test_dest_ending_in_slash_is_a_folder_made_when_missing(tmp_path: Path) -> None:
    src = tmp_path / "foo.txt"
    src.write_text("foo")
    dest = str(tmp_path / "n1" / "n2") + "/"
    out = run_op("copy", {"src": str(src), "dest": dest, "remote_src": True})
    assert out.status == "changed" and (tmp_path / "n1" / "n2" / "foo.txt").read_text() == "foo"


# ---- the plan's side: a project folder as src ---------------------------------------------

def test_a_folder_src_ships_a_manifest_by_ansibles_trailing_slash_rule(tmp_path: Path) -> None:
    from test_plan import args_of, one_task

    conf = tmp_path / "files" / "conf"
    (conf / "sub").mkdir(parents=True)
    (conf / "a.txt").write_text("a\n")
    (conf / "sub" / "b.txt").write_text("b\n")
    os.symlink("a.txt", conf / "link_a")
    with_name = args_of(one_task(tmp_path, "- copy: {src: conf, dest: /srv/x}\n"))[0]
    assert set(with_name["manifest"]) == {"conf", "conf/a.txt", "conf/sub", "conf/sub/b.txt",
                                          "conf/link_a"}
    assert with_name["manifest"]["conf/link_a"]["sha"] == sha256_bytes(b"a\n")  # followed
    inside = args_of(one_task(tmp_path, "- copy: {src: conf/, dest: /srv/x,"
                                        " local_follow: false}\n"))[0]
    assert set(inside["manifest"]) == {"a.txt", "sub", "sub/b.txt", "link_a"}
    assert inside["manifest"]["link_a"] == {"link": "a.txt"}


def test_template_takes_copys_follow_and_copy_applies_it(tmp_path: Path) -> None:
    from mainsail.opspec import OPS
    from test_plan import args_of, one_task

    assert OPS["template"].arg("follow") is OPS["copy"].arg("follow")  # one definition
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.j2").write_text("v={{ 1 + 1 }}\n")
    step = args_of(one_task(tmp_path, "- template: {src: t.j2, dest: /srv/x, follow: false}\n"))
    assert step[0]["follow"] is False
    (tmp_path / "target").write_text("old")
    os.symlink("target", tmp_path / "link")
    args = {**step[0], "dest": str(tmp_path / "link")}
    from test_agent_support import run_op as run
    blobs = [b"v=2\n"]
    checked = run("copy", args, check=True, blobs=blobs)
    assert checked.status == "changed" and (tmp_path / "link").is_symlink()
    assert run("copy", args, blobs=blobs).status == "changed"
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "link").read_text() == "v=2\n"
    assert (tmp_path / "target").read_text() == "old"
    assert run("copy", args, blobs=blobs).status == "ok"
    os.remove(tmp_path / "link")
    os.symlink("target", tmp_path / "link")
    through = {**args, "follow": True}
    assert run("copy", through, blobs=blobs).status == "changed"
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target").read_text() == "v=2\n"
