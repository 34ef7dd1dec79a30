"""Controller side of the agent protocol (docs/architecture.md).

* ``build_agent_zip()`` packs mainsail/agent as a deterministic zipapp.
* ``BOOTSTRAP`` is run on the host as ``python3 -I -S -c BOOTSTRAP SHA [STATE_DIR]`` from ``/``.
* ``AgentClient`` speaks JSON lines over any pair of binary streams (a local
  pipe, an SSH channel).
* ``local_agent()`` runs the agent as a local subprocess (``connection: local``,
  tests).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import subprocess
import sys
import threading
import zipfile
from typing import (IO, Any, Callable, Dict, Iterator, List, Mapping, Optional, Protocol,
                    Sequence, Tuple)

from .agent import protocol

AGENT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent")
AGENT_PACKAGE = "mainsail_agent"  # the agent's package name inside the zipapp
DEFAULT_STATE_DIR = "/var/lib/mainsail/agent"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest zip time: same bytes on every build
ZIP_MAIN = (
    "import sys\n"
    "from %s.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n" % AGENT_PACKAGE
)

# Runs on the host with python3 >= 3.8. argv: SHA [STATE_DIR]. The cache folder must be
# the running user's own and writable by nobody else (else exit 3). Uses the cached <sha>.pyz
# when its digest checks out; otherwise asks for it ({"need_agent": true}, then a length line
# and the bytes), checks, stores atomically (0600, every folder it makes 0700). The verified zipapp is
# unpacked once into the folder <sha>/ with its bytecode compiled (hash-checked .pyc, so
# Python compares each against its source): a zipapp never caches bytecode, and compiling
# the agent's source at every start was most of its start-up. Unpacked into a temporary
# folder and renamed, so <sha>/ is complete or absent; no link is ever followed. The agent
# runs in this same process, so stdin/stdout pass straight to it.
BOOTSTRAP = r"""
import os, stat, sys
sha = sys.argv[1]
folder = os.path.expanduser(sys.argv[2]) if len(sys.argv) > 2 else "/var/lib/mainsail/agent"
path = os.path.join(folder, sha + ".pyz")
tree = os.path.join(folder, sha)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
def fail(text):
    sys.stderr.write("mainsail bootstrap: %s\n" % text)
    sys.exit(3)
def own(p, kind):
    try:
        st = os.lstat(p)
    except OSError:
        return False
    if stat.S_IFMT(st.st_mode) != kind or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        fail("%s is not a folder of this user's that only it can write: refused" % p)
    return True
def digest(p):
    try:
        fd = os.open(p, os.O_RDONLY | NOFOLLOW)
    except OSError:
        return None
    import hashlib  # not before: a session a resident serves needs none of it
    with os.fdopen(fd, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()
if not os.path.isdir(folder) and not os.path.islink(folder):
    try:
        missing = []
        top = os.path.abspath(folder)
        while not os.path.isdir(top):
            missing.append(top)
            top = os.path.dirname(top)
        for made in reversed(missing):
            try:
                os.mkdir(made, 0o700)
            except FileExistsError:  # another agent starting at the same time made it
                if not os.path.isdir(made):
                    raise
                continue
            os.chmod(made, 0o700)
    except OSError as exc:
        fail("cannot create %s: %s" % (folder, exc.strerror))
own(folder, stat.S_IFDIR)
def resident():
    # A resident agent of this digest (resident.py) serves the session from a fork: hand it
    # our stdin, stdout, stderr and environment, then wait for its exit status. Y from the
    # fork, G from us: only then does either touch the session's streams, so a late or
    # refused answer leaves them to the usual start below.
    name = os.path.join(folder, sha[:32] + ".sock")
    try:
        st = os.lstat(name)
    except OSError:
        return
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.geteuid():
        return
    import _socket
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    here = os.getcwd()
    try:
        s.settimeout(10)
        os.chdir(folder)  # a relative name: a socket's path may be no longer than 107 bytes
        try:
            s.connect(os.path.basename(name))
        finally:
            os.chdir(here)
        cred = s.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        if int.from_bytes(cred[4:8], sys.byteorder) != os.geteuid():
            raise OSError("not our own resident")
        mask = os.umask(0o22)
        os.umask(mask)
        head = [b"1", os.getcwdb(), b"%d" % mask, b",".join(b"%d" % g for g in os.getgroups())]
        head += [k + b"=" + v for k, v in os.environb.items()]
        fds = b"".join(i.to_bytes(4, sys.byteorder) for i in (0, 1, 2))
        s.sendmsg([b"\0".join(head)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        if s.recv(1) != b"Y":
            raise OSError("not served")
        s.sendall(b"G")
    except OSError:
        s.close()
        return
    s.settimeout(None)
    try:
        code = s.recv(16)
    except OSError:
        code = b""
    os._exit(int(code) if code.isdigit() else 1)
resident()
if digest(path) != sha:
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    out.write(b'{"need_agent": true}\n')
    out.flush()
    size = int(inp.readline())
    data = inp.read(size)
    import hashlib
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
        fail("agent bytes do not match %s" % sha)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
if not own(tree, stat.S_IFDIR):
    import compileall, py_compile, shutil, tempfile, zipfile
    tmp = tempfile.mkdtemp(prefix=sha + ".", suffix=".tmp", dir=folder)
    try:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.startswith("/") or ".." in name.split("/"):
                    fail("unsafe name %r in the agent" % name)
            zf.extractall(tmp)
        compileall.compile_dir(tmp, quiet=2, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        os.chmod(tmp, 0o700)
        os.rename(tmp, tree)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not own(tree, stat.S_IFDIR):
            raise
sys.argv = [tree, sha, folder]
import runpy
runpy.run_path(tree, run_name="__main__")
"""


class AgentLocked(Exception):
    """Another run holds the host's run lock; ``holder`` says who, when and from where."""

    def __init__(self, holder: Mapping[str, Any]) -> None:
        super().__init__("locked")
        self.holder = dict(holder or {})


class AgentError(Exception):
    """The agent died, or said something that is not the protocol."""


class _Reader(Protocol):
    def readline(self, limit: int = -1) -> bytes: ...


class _Writer(Protocol):
    def write(self, data: bytes) -> Any: ...

    def flush(self) -> Any: ...


# ---- the zipapp ----------------------------------------------------------------

def _agent_files() -> List[Tuple[str, str]]:
    """(path on disk, name in the zip) of every agent module, sorted."""
    found = []
    for folder, dirs, files in os.walk(AGENT_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, AGENT_DIR).replace(os.sep, "/")
                found.append((path, "%s/%s" % (AGENT_PACKAGE, rel)))
    return sorted(found, key=lambda item: item[1])


def _zip_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, whatever the building machine is
    # stored, not deflated: compressed bytes can differ between zlib builds
    zf.writestr(info, data, compress_type=zipfile.ZIP_STORED)


def build_agent_zip() -> Tuple[bytes, str]:
    """The agent as a zipapp (same bytes for the same sources) and its sha256 hex."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _zip_entry(zf, "__main__.py", ZIP_MAIN.encode("utf-8"))
        for path, name in _agent_files():
            with open(path, "rb") as fh:
                _zip_entry(zf, name, fh.read())
    data = buf.getvalue()
    return data, hashlib.sha256(data).hexdigest()


# ---- the client ----------------------------------------------------------------

class StderrTail:
    """Drains a stream in a thread, keeping its last bytes for error messages
    (an undrained stderr pipe could fill up and block the agent)."""

    def __init__(self, stream: IO[bytes], keep: int = 4096) -> None:
        self._stream = stream
        self._keep = keep
        self._data = b""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        for chunk in iter(lambda: self._stream.read1(4096) if hasattr(self._stream, "read1")
                          else self._stream.read(4096), b""):
            with self._lock:
                self._data = (self._data + chunk)[-self._keep:]

    def text(self, wait: float = 0.0) -> str:
        if wait:
            self._thread.join(wait)
        with self._lock:
            return self._data.decode("utf-8", "replace").strip()


class AgentClient:
    """The controller's end of one agent session.

    ``reader`` is the agent's stdout (readline), ``writer`` its stdin (write, flush).
    ``round_trips`` counts request/response exchanges (start, each run, each
    ``need`` answered, each facts request); ``bytes_sent`` every byte written.
    """

    def __init__(self, reader: _Reader, writer: _Writer,
                 stderr_tail: Optional[Callable[[], str]] = None) -> None:
        self._reader = reader
        self._writer = writer
        self._stderr_tail = stderr_tail
        self.round_trips = 0
        self.bytes_sent = 0
        self.agent_sent = False  # whether start() had to ship the zipapp
        self.facts_at_start: Dict[str, Any] = {}  # the facts from hello
        self.last_failed = False  # the last run's done.failed
        self.last_verdict = ""  # the last run's done.host: the agent's verdict on the host
        self.last_stopped = False  # the last run ended early on request_stop()
        self.stale_lock: Optional[Dict[str, Any]] = None  # a dead run's lock this one broke
        # what an earlier run recorded on the host when it lost its controller
        self.lost_controller: Optional[Dict[str, Any]] = None
        self.rollbacks: List[Dict[str, Any]] = []  # transactions the last run rolled back
        self.closed = False
        self.protocol: Optional[int] = None  # the version agreed in hello
        self.persist = 0.0  # asked of the agent at bye: seconds its resident waits (resident.py)
        self.resident = False  # whether a resident agent's fork served this session

    # -- low level

    def _write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            self._writer.flush()
        except (OSError, ValueError) as exc:
            raise self._error("cannot write to the agent: %s" % exc)
        self.bytes_sent += len(data)

    def _send(self, message: Mapping[str, Any]) -> None:
        if self.protocol is not None and "req" in message:
            message = {**message, "protocol": self.protocol}
        self._write(protocol.encode(message))

    def _recv(self) -> protocol.HostMessage:
        """The host's next message, bounded and checked: anything else is an AgentError, which
        fails this host only."""
        try:
            line = self._reader.readline(protocol.MAX_LINE_BYTES + 1)
        except (OSError, ValueError) as exc:
            raise self._error("cannot read from the agent: %s" % exc)
        if not line:
            raise self._error("the agent exited unexpectedly")
        try:
            message = protocol.from_host(protocol.decode(line))
        except protocol.ProtocolError as exc:
            raise self._error("the agent broke the protocol: %s" % exc)
        if isinstance(message, protocol.AgentFailure):
            raise self._error("the agent reported a protocol error: %s" % message.text)
        return message

    def _expect(self, kind: type) -> Any:
        message = self._recv()
        if not isinstance(message, kind):
            raise self._error("expected %s from the agent, got %s"
                              % (kind.__name__, type(message).__name__))
        return message

    def _error(self, text: str) -> AgentError:
        tail = self._stderr_tail() if self._stderr_tail else ""
        return AgentError(text + ("\nagent stderr:\n" + tail if tail else ""))

    # -- the protocol

    def start(self, zip_bytes: bytes, sha: str) -> Dict[str, Any]:
        """Wait for hello (shipping the zipapp first if the host asks); return facts."""
        self.round_trips += 1
        message = self._recv()
        if isinstance(message, protocol.NeedAgent):
            self._write(b"%d\n" % len(zip_bytes) + zip_bytes)
            self.agent_sent = True
            self.round_trips += 1
            message = self._recv()
        if not isinstance(message, protocol.Hello):
            raise self._error("expected hello from the agent, got %s" % type(message).__name__)
        if message.agent != sha:
            raise self._error("agent says it is %r, expected %r" % (message.agent, sha))
        try:
            self.protocol = protocol.negotiate(list(message.protocol))
        except protocol.ProtocolError as exc:
            raise self._error(str(exc))
        self.facts_at_start = dict(message.facts)
        self.resident = message.resident
        return self.facts_at_start

    def run(self, steps: Sequence[Mapping[str, Any]], blobs: Mapping[str, bytes],
            check: bool = False, diff: bool = False,
            on_result: Optional[Callable[[Dict[str, Any]], None]] = None,
            lock: Optional[Mapping[str, Any]] = None,
            state_dir: Optional[str] = None,
            transaction: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
        """Run steps; answer the agent's `need` with the blobs it lacks; one result per step run.

        ``lock`` ({"path", "wait", "holder"}) takes the host's run lock first (once per
        session); AgentLocked when another run holds it."""
        self.round_trips += 1
        request: Dict[str, Any] = {"req": "run", "steps": [wire_step(s) for s in steps],
                                   "check": bool(check), "diff": bool(diff)}
        if lock:
            request["lock"] = dict(lock)
        if state_dir:
            request["state_dir"] = state_dir  # run lock, pending handlers, journals
        if transaction:
            request.update(transaction)  # handlers, checks, run id (docs/architecture.md)
        self._send(request)
        results: List[Dict[str, Any]] = []
        while True:
            message = self._recv()
            if isinstance(message, protocol.Need):
                self._answer_need(message.shas, blobs)
            elif isinstance(message, protocol.StepResult):
                results.append(message.to_wire())
                if on_result is not None:
                    on_result(results[-1])
            elif isinstance(message, protocol.Done):
                self.last_failed = message.failed
                self.last_stopped = message.stopped
                self.last_verdict = message.host
                if message.locked is not None:
                    raise AgentLocked(message.locked)
                self.stale_lock = message.stale_lock or self.stale_lock
                self.lost_controller = message.lost_controller or self.lost_controller
                self.rollbacks = list(message.rollbacks)
                return results
            else:
                raise self._error("unexpected message during run: %s" % type(message).__name__)

    def _answer_need(self, shas: Sequence[str], blobs: Mapping[str, bytes]) -> None:
        self.round_trips += 1
        wanted = [s for s in shas if s in blobs]  # the agent reports any it still lacks
        self._send({"blobs": {s: base64.b64encode(blobs[s]).decode("ascii") for s in wanted}})

    def rollback(self, state_dir: str, lock: Optional[Mapping[str, Any]] = None,
                 on_result: Optional[Callable[[Dict[str, Any]], None]] = None
                 ) -> Dict[str, Any]:
        """Restore the host's newest run journal by hand; what was restored and reloaded."""
        self.round_trips += 1
        request: Dict[str, Any] = {"req": "rollback", "state_dir": state_dir}
        if lock:
            request["lock"] = dict(lock)
        self._send(request)
        while True:
            message = self._recv()
            if isinstance(message, protocol.StepResult):
                if on_result is not None:
                    on_result(message.to_wire())
            elif isinstance(message, protocol.Done):
                if message.locked is not None:
                    raise AgentLocked(message.locked)
                return dict(message.rolled_back or {})
            else:
                raise self._error("unexpected message during rollback: %s"
                                  % type(message).__name__)

    def request_stop(self) -> None:
        """Ask a running agent to stop after the step under way (called from another thread
        while run() waits for results)."""
        try:
            self._send({"req": "stop"})
        except AgentError:
            pass

    def facts(self) -> Dict[str, Any]:
        self.round_trips += 1
        self._send({"req": "facts"})
        return dict(self._expect(protocol.Facts).facts)

    def close(self) -> None:
        """Say bye (best effort: the agent may already be gone)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._send({"req": "bye", "persist": self.persist} if self.persist
                       else {"req": "bye"})
        except AgentError:
            pass


def wire_step(step: Mapping[str, Any]) -> Dict[str, Any]:
    """A plan's step as sent: checked against the Step message, so a bad one is named here."""
    try:
        return protocol.Step.from_wire(dict(step)).to_wire()
    except protocol.ProtocolError as exc:
        raise AgentError("a step breaks the protocol: %s" % exc)


# ---- a local agent ---------------------------------------------------------------

LOCAL_AGENT_DIR = DEFAULT_STATE_DIR  # the agent cache of local agents started without a folder


@contextlib.contextmanager
def local_agent(state_dir: Optional[str] = None, python: str = "python3") -> Iterator[AgentClient]:
    """Run the bootstrap in a local subprocess; yield a started AgentClient."""
    zip_bytes, sha = build_agent_zip()
    argv = [python, "-I", "-S", "-c", BOOTSTRAP, sha, state_dir or LOCAL_AGENT_DIR]
    # relative paths start in the controller's folder, as with Ansible's local connection
    env = dict(agent_environment(os.environ), MAINSAIL_RELATIVE_BASE=os.getcwd())
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd="/",  # as over SSH: see agent_command
                             env=env)
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    tail = StderrTail(child.stderr)
    client = AgentClient(child.stdout, child.stdin, lambda: tail.text(wait=0.5))
    try:
        client.start(zip_bytes, sha)
        yield client
    finally:
        client.close()
        _finish(child)


def agent_environment(environ: Mapping[str, str]) -> Dict[str, str]:
    """The controller's environment without its vault settings: a local agent's commands
    inherit what it gets, and print it when they fail."""
    return {k: v for k, v in environ.items() if not k.startswith("MAINSAIL_VAULT")}


def _finish(child: "subprocess.Popen[bytes]") -> None:
    for stream in (child.stdin, child.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


if __name__ == "__main__":  # `python -m mainsail.agentproc`: print the agent's digest
    print(build_agent_zip()[1], file=sys.stdout)
