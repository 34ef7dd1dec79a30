"""wait_for and pause, against loopback sockets and temp files."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import run_op


@pytest.fixture
def server():
    """A loopback TCP server that greets each connection with a banner."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2 ready\n")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_a_listening_port_is_started_and_its_banner_matches(server: int) -> None:
    out = run_op("wait_for", {"port": server, "timeout": 5,
                              "search_regex": r"OpenSSH_(?P<version>[\d.]+)"})
    assert out.status == "ok" and out.data["port"] == server
    assert out.data["match_groupdict"] == {"version": "9.2"}
    assert out.data["match_groups"] == ["9.2"] and out.data["elapsed"] == 0


def test_a_closed_port_is_stopped_and_waiting_for_it_times_out() -> None:
    port = free_port()
    assert run_op("wait_for", {"port": port, "state": "stopped", "timeout": 2}).status == "ok"
    started = time.monotonic()
    out = run_op("wait_for", {"port": port, "timeout": 1, "sleep": 1, "msg": "no app"})
    assert out.status == "failed" and out.msg.startswith("no app")
    assert 0.9 < time.monotonic() - started < 5


def test_check_mode_skips_the_wait_like_ansible() -> None:
    started = time.monotonic()
    out = run_op("wait_for", {"port": free_port(), "timeout": 5}, check=True)
    assert out.status == "skipped" and time.monotonic() - started < 1


def test_a_file_appearing_later_and_its_content(tmp_path: Path) -> None:
    target = tmp_path / "ready"
    timer = threading.Timer(0.5, lambda: target.write_text("state: up 42\n"))
    timer.start()
    out = run_op("wait_for", {"path": str(target), "search_regex": r"up (\d+)", "timeout": 5})
    timer.join()
    assert out.status == "ok" and out.data["match_groups"] == ["42"]
    assert run_op("wait_for", {"path": str(tmp_path / "gone"), "state": "absent",
                               "timeout": 1}).status == "ok"
    assert run_op("wait_for", {"path": str(target), "state": "absent",
                               "timeout": 1}).status == "failed"


def test_drained_counts_connections_from_proc(server: int) -> None:
    assert run_op("wait_for", {"port": free_port(), "state": "drained",
                               "timeout": 2}).status == "ok"
    with socket.create_connection(("127.0.0.1", server)) as conn:
        conn.recv(100)
        busy = run_op("wait_for", {"port": server, "state": "drained", "timeout": 1})
    assert busy.status == "failed" and "to drain" in busy.msg


def test_wait_for_rules() -> None:
    spec = OPS["wait_for"]
    with pytest.raises(BadInput, match="port or path, not both"):
        coerce_args(spec, {"port": 80, "path": "/x"}, "site.yml:1")
    with pytest.raises(BadInput, match="drained is for a port"):
        coerce_args(spec, {"path": "/x", "state": "drained"})
    with pytest.raises(BadInput, match="is for a path"):
        coerce_args(spec, {"port": 80, "state": "absent"})


def test_pause_waits_and_reports_ansible_fields() -> None:
    started = time.monotonic()
    out = run_op("pause", {"seconds": 0.3})
    assert out.status == "ok" and time.monotonic() - started >= 0.3
    assert out.data["user_input"] == "" and out.data["start"] < out.data["stop"]


def test_pause_refuses_a_prompt_and_a_pause_without_duration() -> None:
    with pytest.raises(BadInput, match="prompt is not supported"):
        coerce_args(OPS["pause"], {"prompt": "Press enter"}, "site.yml:7")
    with pytest.raises(BadInput, match="give seconds or minutes"):
        coerce_args(OPS["pause"], {})
