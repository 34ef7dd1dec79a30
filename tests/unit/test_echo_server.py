"""Echo server: a real server process on 127.0.0.1, spoken to over real sockets."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ECHO_SERVER = Path(__file__).resolve().parents[2] / "roles" / "echo_server" / "files" / "app" / "echo_server.py"
TIMEOUT = 5.0


class EchoProcess:
    """The server as a subprocess, with its log lines collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ECHO_SERVER), "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.log: list = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = int(self.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match:
        """The first log line, new or already seen, that matches pattern."""
        for line in self.log:
            found = re.search(pattern, line)
            if found:
                return found
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no log line matching %r; log so far:\n%s"
                                     % (pattern, "".join(self.log))) from None
            self.log.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self.proc.stdout.close()


@pytest.fixture
def start():
    started = []

    def start_server(*args: str) -> EchoProcess:
        server = EchoProcess(*args)
        started.append(server)
        return server

    yield start_server
    for server in started:
        server.stop()


def read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def read_to_end(sock: socket.socket) -> bytes:
    """Everything until the server closes; times out if it never does."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_a_line_comes_back(start) -> None:
    server = start()
    with server.connect() as sock:
        sock.sendall(b"hello\n")
        assert read_line(sock) == b"hello\n"


def test_lines_come_back_in_order_however_they_are_sent(start) -> None:
    server = start()
    with server.connect() as sock:
        sock.sendall(b"one\ntwo\nthr")
        sock.sendall(b"ee\n\xff\x00 bytes\n")
        assert [read_line(sock) for _ in range(4)] == [b"one\n", b"two\n", b"three\n",
                                                       b"\xff\x00 bytes\n"]
        sock.sendall(b"four\n")
        assert read_line(sock) == b"four\n"


def test_an_unfinished_last_line_comes_back_when_the_client_finishes(start) -> None:
    server = start()
    with server.connect() as sock:
        sock.sendall(b"done\nno newline")
        sock.shutdown(socket.SHUT_WR)
        assert read_to_end(sock) == b"done\nno newline"


def test_a_line_of_exactly_max_line_bytes_is_echoed(start) -> None:
    server = start("--max-line", "16")
    with server.connect() as sock:
        sock.sendall(b"x" * 16 + b"\n")
        assert read_line(sock) == b"x" * 16 + b"\n"


@pytest.mark.parametrize("sent", [b"x" * 17 + b"\n", b"y" * 200_000],
                         ids=["one byte over", "endless line"])
def test_an_over_long_line_gets_an_error_and_the_connection_closes(start, sent: bytes) -> None:
    server = start("--max-line", "16")
    with server.connect() as sock:
        sock.sendall(b"fine\n")
        assert read_line(sock) == b"fine\n"
        sock.sendall(sent)
        assert read_to_end(sock) == b"ERROR line too long (max 16 bytes)\n"
    server.wait_for(r"disconnect 127\.0\.0\.1:\d+ \(line too long")


def test_one_client_over_max_clients_is_refused_and_closed(start) -> None:
    server = start("--max-clients", "2")
    first, second = server.connect(), server.connect()
    with first, second:
        for sock in (first, second):  # a round trip proves each one counts
            sock.sendall(b"ping\n")
            assert read_line(sock) == b"ping\n"
        with server.connect() as third:
            assert read_to_end(third) == b"ERROR too many clients (max 2)\n"
        first.sendall(b"still here\n")
        assert read_line(first) == b"still here\n"


def test_a_freed_slot_takes_a_new_client(start) -> None:
    server = start("--max-clients", "1")
    with server.connect() as sock:
        sock.sendall(b"a\n")
        read_line(sock)
    server.wait_for(r"disconnect .*clients: 0/1")
    with server.connect() as sock:
        sock.sendall(b"b\n")
        assert read_line(sock) == b"b\n"


def test_an_idle_client_is_told_and_closed(start) -> None:
    server = start("--idle-timeout", "0.3")
    with server.connect() as sock:
        started = time.monotonic()
        assert read_to_end(sock) == b"ERROR idle timeout (0.3 seconds)\n"
        assert time.monotonic() - started < 3


def test_connects_and_disconnects_are_logged_with_peer_and_count(start) -> None:
    server = start("--max-clients", "5")
    with server.connect() as sock:
        peer = "127.0.0.1:%d" % sock.getsockname()[1]
        sock.sendall(b"x\n")
        read_line(sock)
        server.wait_for(r"connect %s \(clients: 1/5\)" % re.escape(peer))
    line = server.wait_for(r"^(\S+) disconnect %s \(closed by client; clients: 0/5\)"
                           % re.escape(peer))
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", line.group(1))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_closes_clients_and_exits_0_quickly(start, signum: int) -> None:
    server = start()
    with server.connect() as sock:
        sock.sendall(b"x\n")
        read_line(sock)
        started = time.monotonic()
        server.proc.send_signal(signum)
        assert server.proc.wait(TIMEOUT) == 0
        assert time.monotonic() - started < 2
        assert read_to_end(sock) == b""
    server.wait_for(r"disconnect .*server shutting down")
    server.wait_for(r" stopped$")
    with pytest.raises(ConnectionRefusedError):
        server.connect()


@pytest.mark.parametrize("flag, value", [("--max-line", "0"), ("--max-clients", "-1"),
                                         ("--idle-timeout", "0"), ("--port", "70000")])
def test_nonsense_settings_are_rejected(flag: str, value: str) -> None:
    done = subprocess.run([sys.executable, str(ECHO_SERVER), flag, value],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2
    assert flag in done.stderr


def connect_from(server: EchoProcess, source: str) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(TIMEOUT)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", server.port))
    return sock


def test_one_address_holding_idle_sockets_cannot_starve_the_others(start) -> None:
    server = start("--max-clients", "100", "--max-per-address", "3")
    hog = [connect_from(server, "127.0.0.2") for _ in range(3)]
    try:
        for sock in hog:
            sock.sendall(b"x\n")
            assert read_line(sock) == b"x\n"
        with connect_from(server, "127.0.0.2") as fourth:
            assert read_to_end(fourth) == b"ERROR too many clients from your address (max 3)\n"
        with connect_from(server, "127.0.0.3") as other:
            other.sendall(b"served\n")
            assert read_line(other) == b"served\n"
    finally:
        for sock in hog:
            sock.close()


def test_a_client_that_never_sends_a_line_is_closed_soon(start) -> None:
    server = start("--first-line-timeout", "0.3")
    with server.connect() as silent, server.connect() as talker:
        talker.sendall(b"hello\n")
        assert read_line(talker) == b"hello\n"
        started = time.monotonic()
        assert read_to_end(silent) == b"ERROR no line within 0.3 seconds\n"
        assert time.monotonic() - started < 3
        time.sleep(0.5)  # past the first-line limit: a client that spoke keeps its slot
        talker.sendall(b"still\n")
        assert read_line(talker) == b"still\n"


def test_the_defaults_bound_idle_sockets_per_address() -> None:
    sys.path.insert(0, str(ECHO_SERVER.parent))
    try:
        import echo_server
    finally:
        sys.path.remove(str(ECHO_SERVER.parent))
    args = echo_server.parse_args([])
    assert args.max_per_address < args.max_clients and args.first_line_timeout <= 10
