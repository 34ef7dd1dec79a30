"""The resident agent: the next session on a host starts in a fork, not a new interpreter.

After a session's ``bye`` asks for it (the host's ``agent_persist``, 60 s by default), the
agent starts a fresh interpreter from its own verified tree that imports the agent and every
operation once, then waits on a Unix socket in the agent's cache folder, as SSH's
ControlPersist keeps a master connection for the next login. A later session's bootstrap
finds the socket and hands over its stdin, stdout and stderr (SCM_RIGHTS) with its
environment; the resident forks, and the fork is that session's agent, speaking straight to
the SSH channel. The bootstrap waits and exits with the fork's status. A session so costs one
small ``python3`` start on the host instead of the agent's imports.

Why it is safe:

* the socket lives in the agent's cache folder, which the bootstrap checks is the agent
  user's own and writable by nobody else (mode 0700); it is made 0600 besides;
* each end checks the other's user (SO_PEERCRED), so root's resident serves root's sessions
  only;
* it is a new interpreter, started from the tree whose digest the bootstrap verified, holding
  nothing of the session that started it (no secret, no state); its socket is named after
  that digest, so a changed agent never reaches an old resident;
* a session whose groups differ from the resident's (a user added to a group since) is not
  served: the bootstrap starts the agent the usual way;
* one resident per digest (a lock file); it exits after ``persist`` seconds without a new
  session, when its tree is gone, or on SIGTERM, and removes its socket.
"""
from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import sys
import time
from typing import List, Tuple

SOCKET_SUFFIX = ".sock"
LOCK_SUFFIX = ".resident"
HEADER_LIMIT = 1 << 20
PERSIST_LIMIT = 3600.0
GO_TIMEOUT = 15.0  # longer than the bootstrap waits for Y
# Set in the fork that serves a session: its bye starts no other resident.
SERVING = False


def socket_name(sha: str) -> str:
    """The name the resident of agent ``sha`` listens on in the cache folder (the bootstrap
    uses the same). Bound and reached relative to the folder: a socket's path may be no longer
    than 107 bytes, and a home folder's cache can be longer."""
    return sha[:32] + SOCKET_SUFFIX


def start(tree: str, sha: str, folder: str, persist: float) -> None:
    """Start the resident for the next session, detached: a new session (setsid), stdio on
    /dev/null, no descriptor of ours; it never delays this session's end. Best effort: a
    resident that cannot start only means the next session starts the usual way."""
    if SERVING:
        return
    if not os.path.isfile(os.path.join(tree, "__main__.py")):
        return  # not run from the cached tree (a test, a checkout): nothing to keep
    import subprocess
    try:
        subprocess.Popen([sys.executable, "-I", "-S", tree, sha, folder, "--resident",
                          "%g" % min(float(persist), PERSIST_LIMIT)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd="/", close_fds=True,
                         start_new_session=True)
    except OSError:
        pass


def serve(tree: str, sha: str, folder: str, persist: float) -> int:
    """The resident's life: take the digest's lock, listen, fork one agent per session, and
    leave after ``persist`` idle seconds."""
    path = os.path.join(folder, socket_name(sha))
    os.chdir(folder)  # the socket is bound by its name in here (socket_name)
    lock_fd = os.open(os.path.join(folder, sha[:32] + LOCK_SUFFIX),
                      os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock_fd)
        return 0  # another resident serves this digest
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    bound = None  # the inode of our socket, once bound: only that one is removed at the end
    try:
        try:
            os.unlink(path)  # left by a resident that died; ours to replace under the lock
        except FileNotFoundError:
            pass
        umask = os.umask(0o177)
        try:
            listener.bind(socket_name(sha))
        finally:
            os.umask(umask)
        listener.listen(64)
        bound = os.lstat(path).st_ino
        preload()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        idle_since = time.monotonic()
        while True:
            reap()  # each second: a session's fork is not left a zombie until the next
            ready = select.select([listener], [], [], min(persist, 1.0))[0]
            if not ready:
                if time.monotonic() - idle_since >= persist or not os.path.isdir(tree):
                    break
                continue
            idle_since = time.monotonic()
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                handle(conn, listener, lock_fd, tree, sha, folder)
            finally:
                conn.close()
    finally:
        try:
            if bound is not None and os.lstat(path).st_ino == bound:
                os.unlink(path)
        except OSError:
            pass
        listener.close()
        os.close(lock_fd)  # the lock goes with it
    return 0


def preload() -> None:
    """Import what any session may need, once: the forks import nothing."""
    from . import main  # noqa: F401
    from .ops import OPS, _op_modules
    for name in _op_modules():
        OPS.get(name)
    # What the imports made is shared with every fork until written: a collection pass in
    # a fork would touch (and so copy) all of it. Frozen, the forks' passes skip it.
    import gc
    gc.collect()
    gc.freeze()


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder)


def parse_header(data: bytes) -> Tuple[bytes, int, List[int], List[Tuple[bytes, bytes]]]:
    """The bootstrap's header: version, cwd, umask, groups, then KEY=VALUE entries, split by
    NUL (what the bootstrap can write without importing anything)."""
    parts = data.split(b"\0")
    if len(parts) < 4 or parts[0] != b"1":
        raise ValueError("not a session header")
    groups = [int(g) for g in parts[3].split(b",") if g]
    env = []
    for entry in parts[4:]:
        key, sep, value = entry.partition(b"=")
        if not sep or not key:
            raise ValueError("bad environment entry")
        env.append((key, value))
    return parts[1], int(parts[2]), groups, env


def handle(conn: socket.socket, listener: socket.socket, lock_fd: int, tree: str, sha: str,
           folder: str) -> None:
    """One session: checked, then forked; the fork says "Y" and becomes its agent. Anything
    amiss closes the connection unanswered, and the bootstrap starts the agent itself."""
    fds: List[int] = []
    try:
        if peer_uid(conn) != os.geteuid():
            return
        data, ancdata, flags, _ = conn.recvmsg(HEADER_LIMIT, socket.CMSG_SPACE(3 * 4))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                fds += [int.from_bytes(payload[i:i + 4], sys.byteorder)
                        for i in range(0, usable, 4)]
        if len(fds) != 3 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            return
        cwd, umask, groups, env = parse_header(data)
        if sorted(set(groups)) != sorted(set(os.getgroups())):
            return
        pid = os.fork()
        if pid == 0:
            child(conn, listener, lock_fd, fds, cwd, umask, env, tree, sha, folder)
    except (OSError, ValueError):
        return
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def child(conn: socket.socket, listener: socket.socket, lock_fd: int, fds: List[int],
          cwd: bytes, umask: int, env: List[Tuple[bytes, bytes]], tree: str, sha: str,
          folder: str) -> None:
    """The fork that serves the session: never returns."""
    global SERVING
    status = 1
    try:
        SERVING = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        listener.close()
        os.close(lock_fd)
        # Y, then the bootstrap's G: only then is the session ours (a bootstrap that gave up
        # waiting has started the agent itself, and closes the connection instead).
        conn.settimeout(GO_TIMEOUT)
        conn.sendall(b"Y")
        if conn.recv(1) != b"G":
            os._exit(0)
        conn.settimeout(None)
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        fds.clear()
        os.umask(umask)
        os.environ.clear()
        for key, value in env:
            os.environb[key] = value
        os.chdir(cwd)
        sys.argv = [tree, sha, folder]
        from .main import main
        status = main([sha, folder])
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # the session's own errors are reported by main; this is a bug
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        try:
            conn.sendall(b"%d" % (status & 0xFF))
        except OSError:
            pass
        os._exit(status & 0xFF)
