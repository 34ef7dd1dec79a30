"""The per-host run lock: one deploy at a time on a host, whoever the controller.

An flock on a file on the host, held by the agent process for the whole session. The kernel
drops it when that process dies, so a dead run never blocks the next one; the holder file
beside it says who holds it, and when it outlives its lock the next run reports it as stale.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from typing import Any, Dict, Mapping, Optional

from . import fileio, statedir


class HeldLock:
    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd

    def release(self) -> None:
        """Clean end of a run: the holder file goes first, while the lock is still ours."""
        try:
            os.unlink(holder_path(self.path))
        except OSError:
            pass
        os.close(self.fd)


def holder_path(path: str) -> str:
    return path + ".holder"


def read_holder(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(holder_path(path)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def acquire(path: str, holder: Mapping[str, Any], wait: float) -> Dict[str, Any]:
    """{"lock": HeldLock, "stale": previous holder or None} or {"holder": who has it}."""
    folder = os.path.dirname(path) or "."
    statedir.private_dirs(folder)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
        if time.monotonic() >= deadline:
            os.close(fd)
            return {"holder": read_holder(path) or {"unknown": True}}
        time.sleep(0.1)
    stale = read_holder(path)  # a holder file without its lock: that run died
    info = dict(holder, agent_pid=os.getpid(),
                since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    fileio.atomic_write(holder_path(path), json.dumps(info, sort_keys=True).encode("utf-8"),
                        "0600")
    return {"lock": HeldLock(path, fd), "stale": stale}
