"""The read-only modules (stat, slurp, find, getent, tempfile) and the result's `data` field."""
from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

import pytest

from mainsail.agent import protocol
from mainsail.agent.core import Context, Outcome
from mainsail.agent.main import run_step
from mainsail.agent.ops import getent
from mainsail.errors import BadInput
from mainsail.opspec import OPS, canonical_args, canonical_op, coerce_args
from test_agent_support import run_op


# ---------------------------------------------------------------- the data field

def test_a_step_result_carries_the_module_data_and_it_survives_the_wire(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = run_step(Context(), {"id": 3, "op": "stat", "args": {"path": str(tmp_path / "f")}})
    assert result["data"]["stat"]["exists"] is True
    back = protocol.StepResult.from_wire(protocol.decode(protocol.encode(result)))
    assert back.data["stat"]["size"] == 1
    assert back.to_wire()["data"] == result["data"]


def test_a_result_without_data_has_no_data_key() -> None:
    wire = protocol.StepResult(id=1, status="ok").to_wire()
    assert "data" not in wire


def test_data_that_is_not_json_fails_the_step_instead_of_the_loop() -> None:
    assert protocol.result_data({"s": {1, 2}})[1].startswith("the result data is not JSON")
    assert protocol.result_data({"x": "y" * (protocol.MAX_DATA_BYTES + 1)})[1]
    assert protocol.result_data({"a": [1, "b"]}) == ({"a": [1, "b"]}, "")


def test_data_of_a_wrong_shape_from_a_host_is_a_protocol_error() -> None:
    with pytest.raises(protocol.ProtocolError, match="data must be an object"):
        protocol.StepResult.from_wire({"id": 1, "status": "ok", "data": [1]})


def test_no_log_hides_the_data_too(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("secret")
    result = run_step(Context(), {"id": 1, "op": "slurp", "no_log": True,
                                  "args": {"src": str(tmp_path / "f")}})
    assert "c2VjcmV0" not in str(result)


# ---------------------------------------------------------------- stat

def test_stat_reports_ansible_fields_and_sha1_by_default(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"hello\n")
    target.chmod(0o640)
    first = run_op("stat", {"path": str(target)})
    info = first.data["stat"]
    assert first.status == "ok"
    assert info["exists"] and info["isreg"] and not info["isdir"] and not info["islnk"]
    assert info["mode"] == "0640" and info["size"] == 6 and info["rgrp"] and not info["roth"]
    assert info["checksum"] == hashlib.sha1(b"hello\n").hexdigest()
    assert info["pw_name"] and info["uid"] == os.getuid()
    again = run_op("stat", {"path": str(target)}, check=True).data["stat"]
    assert {**again, "atime": 0} == {**info, "atime": 0}  # reading the checksum moves atime


@pytest.mark.parametrize("algorithm", ["md5", "sha256", "sha512"])
def test_stat_checksum_algorithms(tmp_path: Path, algorithm: str) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    info = run_op("stat", {"path": str(tmp_path / "f"),
                           "checksum_algorithm": algorithm}).data["stat"]
    assert info["checksum"] == hashlib.new(algorithm, b"abc").hexdigest()


def test_stat_of_nothing_and_without_checksum(tmp_path: Path) -> None:
    assert run_op("stat", {"path": str(tmp_path / "none")}).data == {"stat": {"exists": False}}
    (tmp_path / "f").write_text("a")
    info = run_op("stat", {"path": str(tmp_path / "f"), "get_checksum": False}).data["stat"]
    assert "checksum" not in info


@pytest.mark.parametrize("content, mimetype, charset", [
    (b"hello world", "text/plain", "us-ascii"), ("h\u00e9llo".encode(), "text/plain", "utf-8"),
    (b"", "inode/x-empty", "binary"), (b"\x1f\x8b\x08\x00", "application/gzip", "binary"),
    (b"\x00\x01\x02", "application/octet-stream", "binary")])
def test_stat_guesses_the_mime_type_without_starting_file(
        tmp_path: Path, content: bytes, mimetype: str, charset: str) -> None:
    (tmp_path / "f").write_bytes(content)
    info = run_op("stat", {"path": str(tmp_path / "f")}).data["stat"]
    assert (info["mimetype"], info["charset"]) == (mimetype, charset)
    folder = run_op("stat", {"path": str(tmp_path)}).data["stat"]
    assert folder["mimetype"] == "inode/directory"
    off = run_op("stat", {"path": str(tmp_path / "f"), "get_mime": False}).data["stat"]
    assert "mimetype" not in off


def test_stat_describes_a_link_unless_follow(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("abc")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    link = run_op("stat", {"path": str(tmp_path / "link")}).data["stat"]
    assert link["islnk"] and link["lnk_target"] == str(tmp_path / "real")
    assert "checksum" not in link
    followed = run_op("stat", {"path": str(tmp_path / "link"), "follow": True}).data["stat"]
    assert followed["isreg"] and followed["size"] == 3


def test_stat_accepts_ansible_spellings_and_refuses_unknown_algorithms() -> None:
    assert canonical_op("ansible.builtin.stat") == "stat"
    spec = OPS["stat"]
    args = coerce_args(spec, canonical_args(spec, {"path": "/etc", "mime": "no",
                                                   "checksum_algo": "md5"}))
    assert args["checksum_algorithm"] == "md5"
    with pytest.raises(BadInput, match="sha3"):
        coerce_args(OPS["stat"], {"path": "/etc", "checksum_algorithm": "sha3"}, "site.yml:4")


# ---------------------------------------------------------------- slurp

def test_slurp_returns_base64_content(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"\x00bin\n")
    out = run_op("slurp", {"src": str(tmp_path / "f")})
    assert out.status == "ok"
    assert base64.b64decode(out.data["content"]) == b"\x00bin\n"
    assert out.data["encoding"] == "base64" and out.data["source"] == str(tmp_path / "f")


def test_slurp_fails_on_a_missing_file_or_a_folder(tmp_path: Path) -> None:
    missing = run_op("slurp", {"src": str(tmp_path / "none")})
    assert missing.status == "failed" and "File not found" in missing.msg
    assert run_op("slurp", {"src": str(tmp_path)}).status == "failed"


# ---------------------------------------------------------------- find

def tree(tmp_path: Path) -> Path:
    root = tmp_path / "t"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / ".hid").mkdir()
    (root / "a.log").write_text("error: disk\n")
    (root / "b.txt").write_text("fine\n" * 300)
    (root / ".c.log").write_text("x")
    (root / "sub" / "d.log").write_text("ok\n")
    (root / "sub" / "deep" / "e.log").write_text("error: deep\n")
    (root / ".hid" / "f.log").write_text("x")
    old = time.time() - 3 * 86400
    os.utime(root / "sub" / "d.log", (old, old))
    return root


def names(out: Outcome) -> list:
    return sorted(os.path.basename(f["path"]) for f in out.data["files"])


def test_find_one_level_patterns_and_hidden(tmp_path: Path) -> None:
    root = tree(tmp_path)
    out = run_op("find", {"paths": str(root), "patterns": "*.log"})
    assert names(out) == ["a.log"] and out.data["matched"] == 1
    assert names(run_op("find", {"paths": str(root), "patterns": "*.log",
                                 "hidden": True})) == [".c.log", "a.log"]
    assert out.data["files"][0]["isreg"] and out.data["files"][0]["mode"]


def test_find_recurse_depth_and_excludes(tmp_path: Path) -> None:
    root = tree(tmp_path)
    base = {"paths": [str(root)], "patterns": ["*.log"], "recurse": True}
    # as in Ansible, a hidden folder is entered: only hidden names are left out
    assert names(run_op("find", base)) == ["a.log", "d.log", "e.log", "f.log"]
    assert names(run_op("find", {**base, "depth": 2})) == ["a.log", "d.log", "f.log"]
    assert names(run_op("find", {**base, "excludes": "e*"})) == ["a.log", "d.log", "f.log"]
    assert names(run_op("find", {**base, "hidden": True})) == \
        [".c.log", "a.log", "d.log", "e.log", "f.log"]


def test_find_takes_an_empty_excludes_list_as_none(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text("")
    args = coerce_args(OPS["find"], {"paths": str(tmp_path), "patterns": "*.xml",
                                     "excludes": []}, "site.yml:3")
    assert run_op("find", args).data["matched"] == 1
    with pytest.raises(BadInput, match="empty name"):
        coerce_args(OPS["find"], {"paths": str(tmp_path), "excludes": ["a", ""]}, "site.yml:3")


def test_find_examined_counts_like_ansible(tmp_path: Path) -> None:
    root = tree(tmp_path)
    every = run_op("find", {"paths": str(root), "recurse": True, "file_type": "any",
                            "hidden": True})
    assert every.data["matched"] == every.data["examined"] == 9
    assert every.msg == "All paths examined"
    # entries one level past depth are examined (listed) but never match
    shallow = run_op("find", {"paths": str(root), "recurse": True, "file_type": "any",
                              "hidden": True, "depth": 1})
    assert shallow.data["matched"] == 5 and shallow.data["examined"] == 8  # not deep/e.log


def test_find_limit_and_mode(tmp_path: Path) -> None:
    root = tree(tmp_path)
    (root / "a.log").chmod(0o600)
    limited = run_op("find", {"paths": str(root), "recurse": True, "limit": 1})
    assert limited.data["matched"] == 1 and limited.msg == "Limit of matches reached"
    assert names(run_op("find", {"paths": str(root), "mode": "0600"})) == ["a.log"]
    assert names(run_op("find", {"paths": str(root), "mode": "0600",
                                 "exact_mode": False})) == ["a.log", "b.txt"]


def test_find_regex_age_size_contains_and_file_type(tmp_path: Path) -> None:
    root = tree(tmp_path)
    base = {"paths": str(root), "recurse": True}
    assert names(run_op("find", {**base, "patterns": r"[ab]\.", "use_regex": True})) == \
        ["a.log", "b.txt"]
    assert names(run_op("find", {**base, "age": "2d"})) == ["d.log"]
    assert names(run_op("find", {**base, "age": "-2d", "patterns": "*.log"})) == \
        ["a.log", "e.log", "f.log"]
    assert names(run_op("find", {**base, "size": "1k"})) == ["b.txt"]
    assert names(run_op("find", {**base, "size": "-1k", "patterns": "*.txt"})) == []
    assert names(run_op("find", {**base, "contains": "^error"})) == ["a.log", "e.log"]
    assert names(run_op("find", {**base, "file_type": "directory"})) == ["deep", "sub"]


def test_find_checksums_and_skipped_paths(tmp_path: Path) -> None:
    root = tree(tmp_path)
    out = run_op("find", {"paths": [str(root), str(tmp_path / "none")], "patterns": "a.log",
                          "get_checksum": True, "checksum_algorithm": "sha256"})
    assert out.data["files"][0]["checksum"] == hashlib.sha256(b"error: disk\n").hexdigest()
    assert str(tmp_path / "none") in out.data["skipped_paths"]
    assert out.msg == "Not all paths examined, check warnings for details"


def test_find_refuses_a_bad_age_when_the_playbook_loads() -> None:
    with pytest.raises(BadInput, match="not a duration"):
        coerce_args(OPS["find"], {"paths": "/tmp", "age": "yesterday"}, "site.yml:2")


# ---------------------------------------------------------------- getent

def test_getent_passwd_in_ansible_shape() -> None:
    out = run_op("getent", {"database": "passwd", "key": "root"})
    assert out.status == "ok"
    assert out.data["ansible_facts"]["getent_passwd"]["root"][:3] == ["x", "0", "0"]
    assert run_op("getent", {"database": "passwd", "key": "0"}).data[
        "ansible_facts"]["getent_passwd"]["0"][1] == "0"


def test_getent_group_all_entries_and_a_missing_key() -> None:
    out = run_op("getent", {"database": "group"})
    assert out.data["ansible_facts"]["getent_group"]["root"][1] == "0"
    missing = run_op("getent", {"database": "group", "key": "no-such-group"})
    assert missing.status == "failed" and "not found" in missing.msg
    quiet = run_op("getent", {"database": "group", "key": "no-such-group", "fail_key": False})
    assert quiet.status == "ok" and quiet.data["ansible_facts"]["getent_group"] == {}


def test_getent_shadow_reads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shadow").write_text("root:*:19000:0:99999:7:::\nbob:$6$x:19001:0:99999:7:::\n")
    monkeypatch.setattr(getent, "SHADOW", str(tmp_path / "shadow"))
    out = run_op("getent", {"database": "shadow", "key": "bob"})
    assert out.data["ansible_facts"]["getent_shadow"] == \
        {"bob": ["$6$x", "19001", "0", "99999", "7", "", "", ""]}


def test_getent_with_a_service_goes_through_the_program_and_splits_on_colons() -> None:
    out = run_op("getent", {"database": "passwd", "key": "root", "service": "files"})
    assert out.data["ansible_facts"]["getent_passwd"]["root"][:3] == ["x", "0", "0"]
    assert len(out.data["ansible_facts"]["getent_passwd"]["root"]) == 6


def test_getent_other_databases_use_the_program() -> None:
    out = run_op("getent", {"database": "hosts", "key": "localhost"})
    assert out.status == "ok"
    entries = out.data["ansible_facts"]["getent_hosts"]
    assert any("localhost" in fields for fields in entries.values())


# ---------------------------------------------------------------- tempfile

def test_tempfile_makes_a_new_file_or_folder(tmp_path: Path) -> None:
    first = run_op("tempfile", {"path": str(tmp_path), "suffix": ".x", "prefix": "p."})
    made = Path(first.data["path"])
    assert first.status == "changed" and made.is_file() and made.name.startswith("p.")
    assert made.name.endswith(".x") and (made.stat().st_mode & 0o777) == 0o600
    second = run_op("tempfile", {"path": str(tmp_path), "state": "directory"})
    assert Path(second.data["path"]).is_dir() and second.data["path"] != str(made)


def test_tempfile_check_mode_creates_nothing(tmp_path: Path) -> None:
    out = run_op("tempfile", {"path": str(tmp_path)}, check=True)
    assert out.status == "changed" and list(tmp_path.iterdir()) == [] and out.data == {}


def test_tempfile_in_a_missing_folder_fails_and_refuses_a_slash_in_prefix(tmp_path: Path) -> None:
    assert run_op("tempfile", {"path": str(tmp_path / "none")}).status == "failed"
    with pytest.raises(BadInput, match="prefix"):
        coerce_args(OPS["tempfile"], {"prefix": "../x"}, "site.yml:1")
