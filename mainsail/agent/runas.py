"""Run one step as another user: ``become: false`` (the login user) or ``become_user``.

The agent runs as root when anything in the run asks for become. A step that asks for another
user runs in a forked child that drops to that user (its groups, then gid, then uid: the
order that leaves nothing of root behind) before the operation reads or changes anything, so
the step can do exactly what that user could do and no more. The child sends its outcome back
as JSON through a pipe (never pickle: the parent must not trust what an unprivileged process
could have shaped), and the parent checks its shape.

Such a step is not journalled: a child that is not root cannot write the root-owned journal,
and the parent will not read, as root, paths that another user controls. A rollback leaves
what it changed (docs/playbooks.md says so).
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import signal
from typing import Callable, Dict, List, Optional

from .core import CHANGED, FAILED, OK, SKIPPED, Outcome

# An outcome is a few fields of bounded text; anything larger is not an outcome.
MAX_REPLY = 16 * 1024 * 1024
_FIELDS = {"status": str, "msg": str, "diff": str, "stdout": str, "stderr": str}


def current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def needs_switch(user: Optional[str]) -> bool:
    return bool(user) and user != current_user()


def run_as(user: str, func: Callable[[], Outcome]) -> Outcome:
    """func() as ``user``, in a child process; its Outcome comes back checked."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return Outcome(FAILED, "become_user: no user %r on this host (hint: create it first, "
                               "or fix become_user)" % user)
    if os.geteuid() != 0:
        return Outcome(FAILED, "cannot run a step as %s: the agent runs as %s without become "
                               "(hint: set become: true on the play or task)"
                       % (user, current_user()))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(account, func, write_end)
    os.close(write_end)
    try:
        data = _read_all(read_end)
        _, status = os.waitpid(pid, 0)
    except BaseException:
        # Interrupted (a step timeout, a stop): the child must not outlive its step.
        _kill(pid)
        raise
    finally:
        os.close(read_end)
    return _parse(data, status, user)


def _child(account: pwd.struct_passwd, func: Callable[[], Outcome], out: int) -> None:
    code = 0
    try:
        drop_to(account)
        outcome = func()
        reply = {key: getattr(outcome, key) for key in _FIELDS}
        reply.update(rc=outcome.rc, cmd=outcome.cmd, data=outcome.data)
    except BaseException as exc:  # reported, never raised into the agent's loop
        reply = {"status": FAILED, "msg": "as %s: %s: %s" % (account.pw_name,
                                                            type(exc).__name__, exc)}
        code = 1
    try:
        data = json.dumps(reply, default=str).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]
    finally:
        os._exit(code)


def drop_to(account: pwd.struct_passwd) -> None:
    """Become the account for good: supplementary groups, gid, uid, then its environment."""
    groups: List[int] = [g.gr_gid for g in grp.getgrall() if account.pw_name in g.gr_mem]
    os.setgroups(sorted(set(groups + [account.pw_gid])))
    os.setresgid(account.pw_gid, account.pw_gid, account.pw_gid)
    os.setresuid(account.pw_uid, account.pw_uid, account.pw_uid)
    if os.geteuid() != account.pw_uid or os.getuid() != account.pw_uid:
        raise OSError("could not drop privileges to %s" % account.pw_name)
    os.environ.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    for var in ("SUDO_USER", "SUDO_UID", "SUDO_GID", "SUDO_COMMAND", "MAIL"):
        os.environ.pop(var, None)
    try:
        os.chdir(account.pw_dir)
    except OSError:
        os.chdir("/")


def _read_all(fd: int) -> bytes:
    chunks = []
    size = 0
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY:
            raise ValueError("a step's reply exceeded %d bytes" % MAX_REPLY)
        chunks.append(chunk)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        pass


def _parse(data: bytes, status: int, user: str) -> Outcome:
    try:
        reply = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        reply = None
    if not isinstance(reply, dict) or reply.get("status") not in (OK, CHANGED, FAILED, SKIPPED):
        return Outcome(FAILED, "the step as %s ended without a result (wait status %d)"
                       % (user, status))
    fields: Dict[str, object] = {}
    for key, kind in _FIELDS.items():
        value = reply.get(key, "")
        fields[key] = value if isinstance(value, kind) else str(value)
    rc = reply.get("rc")
    cmd = reply.get("cmd")
    return Outcome(str(fields["status"]), str(fields["msg"]), str(fields["diff"]),
                   rc=rc if isinstance(rc, int) and not isinstance(rc, bool) else None,
                   stdout=str(fields["stdout"]), stderr=str(fields["stderr"]),
                   cmd=cmd if isinstance(cmd, str) else None,
                   data=reply["data"] if isinstance(reply.get("data"), dict) else {})
