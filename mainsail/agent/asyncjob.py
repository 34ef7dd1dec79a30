"""Ansible's ``async`` with ``poll: 0``: a step started in the background, its result kept
in a job file that ``async_status`` reads.

The job runs in a grandchild of the agent, in a session of its own, with nothing of the
agent's open (its standard streams on /dev/null, every other descriptor closed: the SSH
channel and the run lock stay the agent's). It runs the step's operation in-process, under
the ``async`` seconds as its time limit, unjournalled (a background change cannot be rolled
back with the transaction it was started in). Job files live in the running user's
``~/.mainsail/async`` (mode 0700), one per job id, written atomically.
"""
from __future__ import annotations

import json
import os
import random
import re
import time
from typing import Any, Callable, Dict, Optional

from . import fileio, statedir
from .core import CHANGED, FAILED, OpError, Outcome

FOLDER = "~/.mainsail/async"
JOB_ID = re.compile(r"^[0-9]+\.[0-9]+$")


def folder() -> str:
    path = os.path.expanduser(FOLDER)
    statedir.private_dirs(path)  # 0700, set on descriptors opened without following links
    return path


def job_path(jid: str) -> str:
    if not JOB_ID.match(jid):
        raise OpError("async_status: %r is not a job id" % jid,
                      hint="use the ansible_job_id the async task registered")
    return os.path.join(folder(), jid)


def _write(path: str, record: Dict[str, Any]) -> None:
    fileio.atomic_write(path, json.dumps(record, default=str).encode("utf-8"), "0600")


def start(seconds: int, run: Callable[[], Outcome]) -> Outcome:
    """``run`` in the background under ``seconds``; at once, Ansible's started result."""
    jid = "%d.%d" % (random.randint(0, 999999999999), os.getpid())
    path = job_path(jid)
    started = {"started": 1, "finished": 0, "ansible_job_id": jid, "results_file": path}
    _write(path, started)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked process
        try:
            os.setsid()
            if os.fork():
                os._exit(0)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 65536)
            _write(path, finish(jid, path, seconds, run))
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    return Outcome(CHANGED, "started in the background as job %s" % jid, data=started)


def finish(jid: str, path: str, seconds: int, run: Callable[[], Outcome]) -> Dict[str, Any]:
    """The job's record once ``run`` is done (or its time is up)."""
    from . import deadline
    begun = time.time()
    outcome = deadline.run_limited({"timeout": seconds}, run)
    record: Dict[str, Any] = dict(outcome.data or {})
    record.update(finished=1, started=1, ansible_job_id=jid, results_file=path,
                  changed=outcome.status == CHANGED, failed=outcome.status == FAILED,
                  msg=outcome.msg, rc=outcome.rc, stdout=outcome.stdout or "",
                  stderr=outcome.stderr or "", elapsed=round(time.time() - begun, 3))
    if outcome.cmd is not None:
        record["cmd"] = outcome.cmd
    return record


def read(jid: str) -> Optional[Dict[str, Any]]:
    try:
        with open(job_path(jid), "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # written atomically: never half; a foreign file is refused
        raise OpError("async_status: the job file of %s is not Mainsail's" % jid)
