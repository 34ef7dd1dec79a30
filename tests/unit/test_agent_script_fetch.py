"""script (a project file run on the host) and fetch (a host file written on the controller)."""
from __future__ import annotations

import base64
import hashlib
import io
import textwrap
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
from rich.console import Console

from mainsail.agent.fileio import sha256_bytes
from mainsail.agent.ops import fetch
from mainsail.errors import BadInput
from mainsail.inventory import load_inventory, select_hosts
from mainsail.opspec import OPS, canonical_op
from mainsail.playbook import load_playbook
from mainsail.report import Masker, Progress
from mainsail.runner import RunOptions, run_playbook
from test_agent_support import run_op
from test_plan import one_task

SCRIPT = b"#!/bin/sh\necho \"args: $*\"\necho to-stderr >&2\npwd\n"


def script_args(cmd: str = "setup.sh one 'two words'", **extra: Any) -> Dict[str, Any]:
    return {"cmd": cmd, "content_sha": sha256_bytes(SCRIPT), **extra}


# ---------------------------------------------------------------- script

def test_a_script_runs_with_its_arguments_and_leaves_nothing_behind(tmp_path: Path) -> None:
    result = run_op("script", script_args(chdir=str(tmp_path)), blobs=[SCRIPT])
    assert result.status == "changed", result.msg
    assert result.data["stdout_lines"] == ["args: one two words", str(tmp_path)]
    assert result.stderr.strip() == "to-stderr" and result.rc == 0
    assert list(tmp_path.iterdir()) == []


def test_a_script_that_fails_fails_the_step_and_executable_runs_it(tmp_path: Path) -> None:
    failing = b"exit 4\n"
    result = run_op("script", {"cmd": "f.sh", "content_sha": sha256_bytes(failing),
                               "executable": "/bin/sh"}, blobs=[failing])
    assert result.status == "failed" and result.rc == 4
    python = b"import sys; print(sys.argv[1:])\n"
    ran = run_op("script", {"cmd": "r.py a", "content_sha": sha256_bytes(python),
                            "executable": "python3"}, blobs=[python])
    assert ran.status == "changed" and ran.stdout.strip() == "['a']"


def test_creates_and_removes_skip_a_script_and_decide_check_mode(tmp_path: Path) -> None:
    (tmp_path / "done").write_text("")
    skipped = run_op("script", script_args(creates=str(tmp_path / "done")))
    assert skipped.status == "ok" and "exists" in skipped.msg
    would = run_op("script", script_args(creates=str(tmp_path / "other")), check=True)
    assert would.status == "changed"
    unknown = run_op("script", script_args(), check=True)
    assert unknown.status == "skipped"


def test_the_plan_ships_the_scripts_file_and_keeps_its_arguments(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "setup.sh").write_bytes(SCRIPT)
    plan = one_task(tmp_path, """
        - ansible.builtin.script: setup.sh --fast "a b"
          args:
            creates: /srv/done
        """)
    args = plan.steps[0]["args"]
    assert args["cmd"] == 'setup.sh --fast "a b"' and args["creates"] == "/srv/done"
    assert plan.blobs[args["content_sha"]] == SCRIPT
    missing = tmp_path / "other"
    missing.mkdir()
    with pytest.raises(BadInput, match="nothere.sh"):
        one_task(missing, "- script: nothere.sh --fast\n")


# ---------------------------------------------------------------- fetch: where it lands

def test_fetch_lands_under_dest_host_path_or_flat(tmp_path: Path) -> None:
    root = str(tmp_path)
    assert fetch.local_path({"src": "/etc/motd", "dest": "fetched"}, "web1", root) == \
        str(tmp_path / "fetched/web1/etc/motd")
    assert fetch.local_path({"src": "/etc/motd", "dest": "/tmp/x", "flat": True}, "web1",
                            root) == "/tmp/x"
    assert fetch.local_path({"src": "/etc/motd", "dest": "/tmp/x/", "flat": True}, "web1",
                            root) == "/tmp/x/motd"


def test_a_path_climbing_out_is_refused_when_the_plan_is_built(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot place"):
        one_task(tmp_path, "- fetch: {src: /etc/../../x, dest: fetched}\n")


# ---------------------------------------------------------------- fetch: on the host

def test_the_host_sends_the_file_only_when_the_controllers_copy_differs(tmp_path: Path) -> None:
    src = tmp_path / "motd"
    src.write_bytes(b"hello\n")
    sha1 = hashlib.sha1(b"hello\n").hexdigest()
    first = run_op("fetch", {"src": str(src), "dest": "x", "dest_path": "/c/x"})
    assert first.status == "changed"
    assert base64.b64decode(first.data["content"]) == b"hello\n"
    assert first.data["checksum"] == first.data["remote_checksum"] == sha1
    same = run_op("fetch", {"src": str(src), "dest": "x", "dest_checksum": sha1})
    assert same.status == "ok" and "content" not in same.data
    check = run_op("fetch", {"src": str(src), "dest": "x"}, check=True)
    assert check.status == "changed" and "content" not in check.data


def test_a_missing_file_fails_unless_told_otherwise(tmp_path: Path) -> None:
    gone = str(tmp_path / "gone")
    assert run_op("fetch", {"src": gone, "dest": "x"}).status == "failed"
    quiet = run_op("fetch", {"src": gone, "dest": "x", "fail_on_missing": False})
    assert quiet.status == "ok" and "does not exist" in quiet.msg
    assert run_op("fetch", {"src": str(tmp_path), "dest": "x"}).status == "failed"


# ---------------------------------------------------------------- fetch: on the controller

def test_the_controller_checks_the_bytes_and_writes_them_whole(tmp_path: Path) -> None:
    target = tmp_path / "out" / "web1" / "motd"
    step = {"op": "fetch", "args": {"dest_path": str(target), "validate_checksum": True}}
    good = {"status": "changed", "data": {
        "content": base64.b64encode(b"hi\n").decode(),
        "checksum": hashlib.sha1(b"hi\n").hexdigest()}}
    assert fetch.on_controller(step, good) == ""
    assert target.read_bytes() == b"hi\n" and "content" not in good["data"]
    bad = {"status": "changed", "data": {"content": base64.b64encode(b"evil").decode(),
                                         "checksum": hashlib.sha1(b"hi\n").hexdigest()}}
    assert "checksum mismatch" in fetch.on_controller(step, bad)
    assert target.read_bytes() == b"hi\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["motd"]  # no temp file left


def local_project(tmp_path: Path, play: str) -> Path:
    root = tmp_path / "proj"
    (root / "inventory").mkdir(parents=True)
    (root / "playbooks").mkdir()
    (root / "inventory/hosts.yml").write_text(
        "all:\n  hosts:\n    a: {connection: local, mainsail_state_dir: %s}\n"
        % (tmp_path / "state"))
    (root / "playbooks/site.yml").write_text(textwrap.dedent(play))
    return root


def run(root: Path, **opts: Any) -> Tuple[Any, str]:
    inv = load_inventory(root / "inventory/hosts.yml")
    out = io.StringIO()
    progress = Progress(Console(file=out, width=200), Masker(), show_diff=False)
    record = run_playbook(root, inv, load_playbook(root), select_hosts(inv),
                          RunOptions(**opts), progress)
    return record, out.getvalue()


def test_a_run_fetches_once_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "host.conf"
    src.write_text("port=80\n")
    root = local_project(tmp_path, """
        - hosts: all
          tasks:
            - fetch: {src: %s, dest: fetched}
              register: got
            - debug: {msg: "{{ got.checksum }}"}
        """ % src)
    landed = root / "fetched" / "a" / str(src).lstrip("/")
    check, _ = run(root, check=True)
    assert check.hosts["a"].changed == 1 and not landed.exists()
    first, _ = run(root)
    assert first.hosts["a"].changed == 1 and landed.read_text() == "port=80\n"
    again, _ = run(root)
    assert again.hosts["a"].changed == 0 and again.hosts["a"].state == "ok"
    assert canonical_op("ansible.builtin.fetch") == "fetch"
    assert OPS["fetch"].internal == ("dest_path", "dest_checksum")
