"""The resident agent (agent/resident.py): a session's bye may leave one; the next session of
the same digest and user is served by a fork of it, with the session's own streams,
environment, umask and folder; anything unexpected leaves the session to the usual start."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from mainsail.agentproc import BOOTSTRAP, build_agent_zip, local_agent

SHELL = {"id": 1, "op": "shell", "name": "probe"}


def resident_pids(folder: Path) -> list[int]:
    """Our residents (started by this test in ``folder``), by their command line."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path("/proc", entry, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--resident" in argv and str(folder).encode() in argv:
            pids.append(int(entry))
    return pids


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "agent"
    yield where
    for pid in resident_pids(where):  # ours: stopped by PID
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def socket_of(folder: Path) -> Path:
    return folder / (build_agent_zip()[1][:32] + ".sock")


def leave_resident(folder: Path, persist: float = 30) -> None:
    with local_agent(str(folder)) as client:
        assert client.resident is False
        client.persist = persist
    assert wait_for(lambda: socket_of(folder).exists()), "the resident listens"


def test_a_bye_with_persist_leaves_a_resident_that_serves_the_next_session(folder: Path) -> None:
    leave_resident(folder)
    sock = socket_of(folder)
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o600
    assert len(resident_pids(folder)) == 1
    for _ in range(2):
        with local_agent(str(folder)) as client:
            assert client.resident is True
            assert client.agent_sent is False
            assert client.facts_at_start["hostname"]
            client.persist = 30  # a served session's bye starts no second resident
            result = client.run([{**SHELL, "args": {"cmd": "echo ok"}}], {})
            assert result[0]["stdout"] == "ok"
    assert len(resident_pids(folder)) == 1


def test_without_persist_no_resident_is_left(folder: Path) -> None:
    with local_agent(str(folder)):
        pass
    time.sleep(0.3)
    assert not socket_of(folder).exists()
    assert resident_pids(folder) == []


def test_the_served_session_has_its_own_environment_umask_and_folder(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leave_resident(folder)
    monkeypatch.setenv("MAINSAIL_TEST_MARK", "second session")
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o027)
    try:
        with local_agent(str(folder)) as client:
            assert client.resident is True
            out = client.run([{**SHELL, "args": {
                "cmd": "echo \"$MAINSAIL_TEST_MARK\"; umask; echo \"$MAINSAIL_RELATIVE_BASE\"; "
                       "echo $PPID"}}], {})[0]["stdout"].splitlines()
    finally:
        os.umask(old)
    assert out[0] == "second session"
    assert out[1] == "0027"
    assert out[2] == str(tmp_path)
    assert int(out[3]) not in resident_pids(folder), "each session is a fork of its own"


def test_the_resident_leaves_after_its_idle_window_and_removes_its_socket(folder: Path) -> None:
    leave_resident(folder, persist=0.5)
    assert wait_for(lambda: not resident_pids(folder))
    assert not socket_of(folder).exists()
    with local_agent(str(folder)) as client:
        assert client.resident is False


def hello_of(folder: Path, **popen) -> dict:
    """The first line a bootstrap says, started by hand (extra_groups, ...)."""
    _, digest = build_agent_zip()
    child = subprocess.Popen([sys.executable, "-I", "-S", "-c", BOOTSTRAP, digest, str(folder)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd="/", **popen)
    try:
        line = child.stdout.readline()
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
    return json.loads(line)


@pytest.mark.skipif(os.geteuid() != 0, reason="setting supplementary groups needs root")
def test_a_session_with_other_groups_is_not_served(folder: Path) -> None:
    leave_resident(folder)
    assert hello_of(folder)["hello"].get("resident") is True
    assert "resident" not in hello_of(folder, extra_groups=[4242])["hello"]


def test_a_socket_that_does_not_answer_leaves_the_session_to_the_usual_start(
        folder: Path) -> None:
    with local_agent(str(folder)):
        pass  # the cache exists
    impostor = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    impostor.bind(str(socket_of(folder)))
    impostor.listen(1)

    def hang_up() -> None:
        conn, _ = impostor.accept()
        conn.recv(1 << 16)
        conn.close()
    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        assert "resident" not in hello_of(folder)["hello"]
    finally:
        thread.join(5)
        impostor.close()


def test_a_file_in_place_of_the_socket_is_ignored(folder: Path) -> None:
    with local_agent(str(folder)):
        pass
    socket_of(folder).write_text("not a socket")
    assert "resident" not in hello_of(folder)["hello"]
