"""The agent protocol end to end, with a real agent in a local subprocess (no SSH)."""
from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import types
import zipfile
from pathlib import Path
from typing import Any, Dict, List

import pytest

from mainsail.agent import main as agent_main
from mainsail.agent.ops import OPS
from mainsail.agentproc import (BOOTSTRAP, AgentClient, AgentError, build_agent_zip,
                                local_agent)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_step(step_id: int, dest: Path, data: bytes, **extra: Any) -> Dict[str, Any]:
    return {"id": step_id, "op": "copy", "name": "copy %s" % dest.name,
            "args": {"dest": str(dest), "content_sha": sha(data)}, **extra}


def shell_step(step_id: int, cmd: str, **extra: Any) -> Dict[str, Any]:
    return {"id": step_id, "op": "shell", "name": cmd, "args": {"cmd": cmd}, **extra}


# ---- the zipapp -----------------------------------------------------------------

def test_agent_zip_is_deterministic_and_runnable_layout() -> None:
    first, digest = build_agent_zip()
    second, digest2 = build_agent_zip()
    assert first == second and digest == digest2 == sha(first)
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        names = zf.namelist()
        assert names[0] == "__main__.py"
        assert names[1:] == sorted(names[1:])
        assert "mainsail_agent/ops/copy.py" in names and "mainsail_agent/main.py" in names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# ---- start and the agent cache --------------------------------------------------

def test_first_start_ships_the_agent_and_second_start_reuses_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    zip_bytes, digest = build_agent_zip()
    with local_agent(str(state)) as client:
        assert client.agent_sent is True
        assert client.bytes_sent >= len(zip_bytes)
        assert client.round_trips == 2  # hello asked for the agent, then the real hello
    with local_agent(str(state)) as client:
        assert client.agent_sent is False
        assert client.bytes_sent == 0
        assert client.round_trips == 1
        assert client.facts_at_start["hostname"]
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    cached = state / (digest + ".pyz")
    assert cached.read_bytes() == zip_bytes
    assert stat.S_IMODE(os.stat(cached).st_mode) == 0o600
    assert not glob.glob(str(state / "*.tmp"))


def test_a_corrupt_cached_agent_is_replaced(tmp_path: Path) -> None:
    zip_bytes, digest = build_agent_zip()
    tmp_path.joinpath(digest + ".pyz").write_bytes(zip_bytes[:100])
    with local_agent(str(tmp_path)) as client:
        assert client.agent_sent is True
    assert tmp_path.joinpath(digest + ".pyz").read_bytes() == zip_bytes


def test_bootstrap_refuses_bytes_that_do_not_match_the_digest(tmp_path: Path) -> None:
    zip_bytes, digest = build_agent_zip()
    child = subprocess.Popen([sys.executable, "-c", BOOTSTRAP, digest, str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = child.communicate(b"%d\n" % len(zip_bytes) + zip_bytes[:-1] + b"X", timeout=30)
    assert child.returncode == 3
    assert json.loads(out.splitlines()[0]) == {"need_agent": True}
    assert b"do not match" in err
    assert not list(tmp_path.glob("*.pyz"))


def test_facts_request_returns_the_documented_keys(tmp_path: Path) -> None:
    with local_agent(str(tmp_path)) as client:
        before = client.round_trips
        facts = client.facts()
        assert client.round_trips == before + 1
    for key in ("hostname", "fqdn", "os", "kernel", "arch", "init", "python", "cpus",
                "memory_mb", "addresses", "user", "uid"):
        assert key in facts, key
    assert facts["uid"] == os.geteuid()
    assert facts["init"] in ("systemd", "sysv")
    assert set(facts["os"]) == {"id", "version_id", "codename", "pretty"}


# ---- runs, round trips and blobs -------------------------------------------------

def test_a_no_op_run_costs_one_round_trip(tmp_path: Path) -> None:
    data = b"already there\n"
    dest = tmp_path / "f.txt"
    dest.write_bytes(data)
    with local_agent(str(tmp_path / "state")) as client:
        before, sent = client.round_trips, client.bytes_sent
        results = client.run([copy_step(1, dest, data)], {sha(data): data}, check=False, diff=True)
        assert client.round_trips - before == 1
        assert [r["status"] for r in results] == ["ok"]
        assert client.bytes_sent - sent < 1000  # the request only, no blob


def test_blobs_travel_only_when_the_destination_differs(tmp_path: Path) -> None:
    data = os.urandom(50_000)
    dest = tmp_path / "blob.bin"
    steps = [copy_step(1, dest, data)]
    with local_agent(str(tmp_path / "state")) as client:
        trips, sent = client.round_trips, client.bytes_sent
        first = client.run(steps, {sha(data): data})
        assert first[0]["status"] == "changed"
        assert client.round_trips - trips == 2  # the run, plus one `need`
        assert client.bytes_sent - sent > len(data)  # base64 of the blob
        assert dest.read_bytes() == data
        trips, sent = client.round_trips, client.bytes_sent
        second = client.run(steps, {sha(data): data})
        assert second[0]["status"] == "ok"
        assert client.round_trips - trips == 1
        assert client.bytes_sent - sent < 1000


def test_all_missing_blobs_are_asked_for_at_once(tmp_path: Path) -> None:
    blobs = {sha(d): d for d in (b"one\n", b"two\n", b"three\n")}
    steps = [copy_step(i, tmp_path / ("f%d" % i), d) for i, d in enumerate(blobs.values())]
    with local_agent(str(tmp_path / "state")) as client:
        trips = client.round_trips
        results = client.run(steps, blobs)
        assert client.round_trips - trips == 2
    assert [r["status"] for r in results] == ["changed"] * 3


def test_check_mode_without_diff_needs_no_blob_and_changes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "f.txt"
    dest.write_text("old\n")
    new = b"new\n"
    with local_agent(str(tmp_path / "state")) as client:
        trips = client.round_trips
        results = client.run([copy_step(1, dest, new)], {sha(new): new}, check=True, diff=False)
        assert client.round_trips - trips == 1
    assert results[0]["status"] == "changed"
    assert dest.read_text() == "old\n"


def test_check_mode_with_diff_shows_the_diff_and_changes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "f.txt"
    dest.write_text("old\n")
    new = b"new\n"
    with local_agent(str(tmp_path / "state")) as client:
        results = client.run([copy_step(1, dest, new)], {sha(new): new}, check=True, diff=True)
    assert "-old" in results[0]["diff"] and "+new" in results[0]["diff"]
    assert dest.read_text() == "old\n"


def test_a_blob_found_missing_later_in_the_run_is_asked_for_again(tmp_path: Path) -> None:
    a, b = b"version a\n", b"version b\n"
    dest = tmp_path / "f.txt"
    dest.write_bytes(b)  # b matches now, so it is not asked for up front; step 1 changes that
    steps = [copy_step(1, dest, a), copy_step(2, dest, b)]
    with local_agent(str(tmp_path / "state")) as client:
        trips = client.round_trips
        results = client.run(steps, {sha(a): a, sha(b): b})
        assert client.round_trips - trips == 3
    assert [r["status"] for r in results] == ["changed", "changed"]
    assert dest.read_bytes() == b


def test_a_blob_the_controller_lacks_fails_that_step(tmp_path: Path) -> None:
    dest = tmp_path / "f.txt"
    with local_agent(str(tmp_path / "state")) as client:
        results = client.run([copy_step(1, dest, b"x")], {})
        assert client.last_failed is True
    assert results[0]["status"] == "failed"
    assert "not provided" in results[0]["msg"]
    assert not dest.exists()


def test_results_stream_in_order_and_match_the_result_schema(tmp_path: Path) -> None:
    seen: List[int] = []
    with local_agent(str(tmp_path)) as client:
        results = client.run([shell_step(1, "echo one"), shell_step(2, "echo two")], {},
                             on_result=lambda r: seen.append(r["id"]))
    assert seen == [1, 2]
    assert set(results[0]) == {"id", "status", "msg", "diff", "rc", "stdout", "stderr", "cmd",
                               "elapsed", "data"}
    assert results[1]["stdout"] == "two" and results[1]["rc"] == 0
    assert results[1]["data"]["stdout_lines"] == ["two"]


def test_the_first_failure_stops_the_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    steps = [shell_step(1, "exit 4"), shell_step(2, "touch %s" % marker)]
    with local_agent(str(tmp_path / "state")) as client:
        results = client.run(steps, {})
        assert client.last_failed is True
    assert [r["id"] for r in results] == [1]
    assert results[0]["status"] == "failed" and results[0]["rc"] == 4
    assert not marker.exists()


def test_ignore_errors_reports_the_failure_and_goes_on(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    steps = [shell_step(1, "exit 4", ignore_errors=True), shell_step(2, "touch %s" % marker)]
    with local_agent(str(tmp_path / "state")) as client:
        results = client.run(steps, {})
        assert client.last_failed is False
    assert [r["status"] for r in results] == ["ignored", "changed"]
    assert results[0]["rc"] == 4
    assert marker.exists()


def test_no_log_hides_output_but_keeps_status(tmp_path: Path) -> None:
    with local_agent(str(tmp_path)) as client:
        results = client.run([shell_step(1, "echo s3cret; echo s3cret >&2; exit 1",
                                         no_log=True, ignore_errors=True)], {})
    text = json.dumps(results)
    assert "s3cret" not in text
    assert results[0]["status"] == "ignored" and results[0]["rc"] == 1
    assert "no_log" in results[0]["stdout"] and "no_log" in results[0]["msg"]


def test_a_command_cannot_read_or_write_the_protocol_channel(tmp_path: Path) -> None:
    """Children get /dev/null as stdin, and their stdout is captured, never the channel."""
    with local_agent(str(tmp_path)) as client:
        results = client.run([shell_step(1, "cat; echo to-stdout; echo '{\"done\": 1}'")], {})
        again = client.run([shell_step(2, "true")], {})
    assert results[0]["status"] == "changed"
    assert results[0]["stdout"] == 'to-stdout\n{"done": 1}'
    assert again[0]["status"] == "changed"


# ---- the loop itself, in process -------------------------------------------------

def serve(lines: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = io.BytesIO()
    inp = io.BytesIO(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
    assert agent_main.serve(inp, out, "abc", gather=lambda: {"hostname": "h"}) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_hello_comes_first_with_facts_the_agent_digest_and_its_protocol_versions() -> None:
    messages = serve([{"req": "bye"}])
    assert messages == [{"hello": {"facts": {"hostname": "h"}, "agent": "abc", "protocol": [1]}}]


def test_an_unexpected_exception_fails_the_step_but_not_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(ctx: Any, args: Any) -> Any:
        raise ZeroDivisionError("division by zero")
    monkeypatch.setitem(OPS, "boom", types.SimpleNamespace(run=explode))
    messages = serve([
        {"req": "run", "steps": [{"id": 1, "op": "boom", "args": {}, "ignore_errors": True},
                                 {"id": 2, "op": "boom", "args": {}}], "check": False, "diff": False},
        {"req": "facts"}, {"req": "bye"}])
    results = [m["result"] for m in messages if "result" in m]
    assert [r["status"] for r in results] == ["ignored", "failed"]
    assert "ZeroDivisionError" in results[0]["msg"] and "Traceback" not in results[0]["msg"]
    assert [m["done"]["failed"] for m in messages if "done" in m] == [True]
    assert messages[-1] == {"facts": {"hostname": "h"}}


def test_garbage_and_unknown_requests_get_an_error_and_the_loop_goes_on() -> None:
    out = io.BytesIO()
    inp = io.BytesIO(b"this is not json\n" + b'{"req": "dance"}\n' + b'{"req": "facts"}\n')
    assert agent_main.serve(inp, out, "abc", gather=lambda: {}) == 0
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "error" in messages[1] and "error" in messages[2]
    assert messages[3] == {"facts": {}}


# ---- the client against broken agents -------------------------------------------

def client_for(program: str) -> AgentClient:
    child = subprocess.Popen([sys.executable, "-c", program], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr_text: List[str] = []

    def tail() -> str:
        if not stderr_text:
            child.wait(timeout=10)
            stderr_text.append(child.stderr.read().decode())
        return stderr_text[0]
    return AgentClient(child.stdout, child.stdin, tail)


def test_an_agent_that_dies_raises_agent_error_with_its_stderr() -> None:
    client = client_for("import sys; sys.stderr.write('Traceback: kaboom\\n'); sys.exit(1)")
    with pytest.raises(AgentError, match="(?s)exited unexpectedly.*kaboom"):
        client.start(b"zip", "abc")


def test_an_agent_that_speaks_garbage_raises_agent_error() -> None:
    client = client_for("print('Welcome to the host!')")
    with pytest.raises(AgentError, match="not JSON"):
        client.start(b"zip", "abc")


def test_an_agent_with_another_digest_is_refused() -> None:
    client = client_for("import json; print(json.dumps({'hello': {'facts': {}, 'agent': 'other'}}))")
    with pytest.raises(AgentError, match="expected 'abc'"):
        client.start(b"zip", "abc")


# ---- Python 3.8 on the host ------------------------------------------------------

def python38() -> str:
    """A working Python 3.8 (Debian's oldest python3 the agent supports), or skip."""
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8.*/bin/python3")))
    for candidate in pyenv + [shutil.which("python3.8") or ""]:
        if candidate and subprocess.run(
                [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 8)"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return candidate
    pytest.skip("no Python 3.8 interpreter on this machine")


def test_the_agent_runs_its_file_ops_under_python_3_8(tmp_path: Path) -> None:
    py38 = python38()
    data = b"hello\n"
    target = tmp_path / "conf"
    steps = [
        copy_step(1, target, data, args={"dest": str(target), "content_sha": sha(data), "mode": "0640"}),
        {"id": 2, "op": "line", "args": {"path": str(target), "line": "b = 2"}},
        {"id": 3, "op": "file", "args": {"path": str(tmp_path / "d"), "state": "directory"}},
        {"id": 4, "op": "command", "args": {"argv": ["true"]}, "changed_when": "rc != 0"},
        shell_step(5, "echo $((6*7))"),
    ]
    with local_agent(str(tmp_path / "state"), python=py38) as client:
        assert client.facts_at_start["python"]["version"].startswith("3.8.")
        results = client.run(steps, {sha(data): data}, diff=True)
    assert [r["status"] for r in results] == ["changed", "changed", "changed", "ok", "changed"]
    assert target.read_text() == "hello\nb = 2\n"
    assert results[4]["stdout"] == "42"


def test_a_state_dir_that_cannot_be_made_is_a_clear_agent_error() -> None:
    with pytest.raises(AgentError, match="cannot create /proc/no-such/agent"):
        with local_agent("/proc/no-such/agent"):
            pass
