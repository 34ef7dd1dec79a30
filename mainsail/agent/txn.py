"""Transactions: a role's steps, then its notified handlers, then its checks, all or nothing.

Every path a transaction changes is journalled first (journal.py). When a step, a handler or
a check fails, the journalled paths are restored and the notified handlers run again, so the
services reload their old config; the run then stops. Steps outside any transaction (no
`txn`) behave the same way with a transaction of their own.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from . import handlers, journal
from .core import CHANGED, FAILED, IGNORED, OK, SKIPPED, Context

Send = Callable[[Dict[str, Any]], None]
Run = Callable[[Context, Mapping[str, Any]], Dict[str, Any]]


class Txn:
    """What one transaction needs besides its steps."""

    def __init__(self, ctx: Context, name: str, handler_steps: Sequence[Mapping[str, Any]],
                 checks: Sequence[Mapping[str, Any]], pending: handlers.Pending,
                 folder: Optional[str]) -> None:
        self.name = name
        self.handler_steps = handler_steps
        self.checks = checks
        self.pending = pending
        self.journal = journal.Journal(folder) if folder and not ctx.check else None
        self.ctx = ctx.replace(journal=self.journal)  # ops write through it
        self.notified: List[str] = []
        self.changed = False
        self.failure = ""
        self.stopped = False
        self.caught = False  # a `caught` step failed: the request ends, the host goes on
        self.defer = False  # the play goes on in the next request: its handlers run there


def run_txn(txn: Txn, steps: Sequence[Mapping[str, Any]], send: Send, run: Run,
            stop: Callable[[], bool],
            flush: Callable[[], None] = lambda: None) -> Optional[Dict[str, Any]]:
    """Run one transaction; the rollback report when it was rolled back. ``flush`` writes
    out the results still waiting (main.Channel): before a commit, so that a controller
    gone meanwhile rolls the transaction back, as if it had gone mid-step."""
    try:
        run_steps(txn, steps, send, run, stop)
        if not txn.failure and not txn.stopped and not txn.defer:
            run_handlers(txn, send, run)  # (deferred: they stay pending for the next request)
        if not txn.failure and not txn.stopped and txn.changed and not txn.ctx.check:
            run_checks(txn, send, run)
        if not txn.failure and txn.journal is not None and txn.journal.paths():
            flush()
    except ControllerLost as exc:
        txn.failure = "lost the controller: %s" % exc  # rolled back below, like any failure
    if txn.failure and txn.journal is not None and txn.journal.paths():
        return roll_back(txn, send, run)
    if txn.journal is not None and txn.journal.paths():
        txn.journal.write_meta({"txn": txn.name, "handlers": notified_steps(txn)})
        journal.drop_keeps(txn.journal.folder)  # committed: the old files' second names go
    return None


def run_steps(txn: Txn, steps: Sequence[Mapping[str, Any]], send: Send, run: Run,
              stop: Callable[[], bool]) -> None:
    for step in steps:
        if stop():
            txn.stopped = True  # Ctrl-C: notified handlers stay recorded for the next run
            return
        if step.get("pause"):  # loop_control.pause: the wait between a loop's items
            time.sleep(min(float(step["pause"]), 3600.0))
        result = run(txn.ctx, step)
        if result["status"] == FAILED and step.get("later"):
            send({"result": result})  # the controller judges it once the request is done
            continue
        if result["status"] == FAILED and step.get("ignore_errors"):
            result["status"] = IGNORED
        send({"result": result})
        if result["status"] == CHANGED:
            txn.changed = True
            txn.notified += [n for n in step.get("notify") or [] if n not in txn.notified]
        if result["status"] == FAILED and step.get("caught"):
            # A block's rescue/always handles it: nothing is rolled back, and the controller
            # sends what follows (the rescue) with the next request.
            txn.caught = True
            return
        if result["status"] == FAILED:
            txn.failure = "step %r failed: %s" % (step.get("name"), "(output hidden by no_log)"
                                                  if step.get("no_log") else
                                                  result.get("msg") or "")
            return


def notified_steps(txn: Txn) -> List[Mapping[str, Any]]:
    """The handler steps to run, in the order the handlers are defined."""
    return [h for h in txn.handler_steps if h.get("handler") in txn.notified]


def run_handlers(txn: Txn, send: Send, run: Run) -> None:
    for step in notified_steps(txn):
        if txn.ctx.check:
            send({"result": {"id": step.get("id"), "status": SKIPPED,
                             "msg": "handler would run (check mode)", "diff": "", "rc": None,
                             "stdout": "", "stderr": "", "cmd": None, "elapsed": 0.0}})
            continue
        result = run(txn.ctx, step)
        send({"result": result})
        txn.changed = True
        if result["status"] == FAILED:
            txn.failure = "handler %r failed: %s" % (step.get("handler"),
                                                     result.get("msg") or "")
            return


def run_checks(txn: Txn, send: Send, run: Run) -> None:
    for step in txn.checks:
        result = run(txn.ctx, step)
        if result["status"] == CHANGED:
            result["status"] = OK  # a check looks; it never counts as a change
        send({"result": result})
        if result["status"] == FAILED:
            txn.failure = "check %r failed: %s" % (step.get("name"), result.get("msg") or "")
            return


def roll_back(txn: Txn, send: Send, run: Run) -> Dict[str, Any]:
    assert txn.journal is not None
    try:
        restored, unfinished = journal.restore(txn.journal.folder), []
    except journal.Unfinished as exc:
        restored, unfinished = exc.done, exc.failures
    reloaded = []
    unjournalled = txn.ctx.replace(journal=None)
    for step in notified_steps(txn):
        # The old files are back: the same handlers bring the services back to them.
        result = run(unjournalled, step)
        result["rollback"] = True
        send({"result": result})
        reloaded.append({"handler": step.get("handler"), "status": result["status"]})
    txn.pending.remove(txn.notified)
    report = {"txn": txn.name, "reason": txn.failure, "restored": restored,
              "handlers": reloaded}
    if unfinished:
        # The journal stays unmarked: the next run finishes the restore before anything else.
        report.update(unfinished=[f["path"] for f in unfinished],
                      reason="%s; %s" % (txn.failure, unfinished_text(unfinished)))
    else:
        os.rename(txn.journal.folder, txn.journal.folder + ".rolled-back")
    return report


def unfinished_text(failures: Sequence[Mapping[str, str]]) -> str:
    return "restore unfinished for %s: the next run finishes it before it changes anything" \
        % ", ".join("%s (%s)" % (f["path"], f["error"]) for f in failures)


def recover_unfinished(state_dir: Optional[str]) -> Optional[Dict[str, Any]]:
    """Transactions the last run left half-done (its agent was killed, the host went down
    mid-role, or its rollback could not finish: no meta, not rolled back) are rolled back
    now, newest first, before anything else runs. Only the newest run's: an older one's
    journal may predate later changes. A record like a lost controller's, for the
    controller to report; None when none. When a restore cannot finish now either, the
    record says ``blocked``: the run must change nothing until it can."""
    if not state_dir:
        return None
    last = journal.last_run(state_dir)
    if last is None:
        return None
    try:
        names = sorted(os.listdir(last), reverse=True)
    except OSError:
        return None
    rollbacks: List[Dict[str, Any]] = []
    blocked = []
    for name in names:
        folder = os.path.join(last, name)
        if name.endswith(".rolled-back") or not os.path.isdir(folder):
            continue
        if os.path.exists(os.path.join(folder, journal.META)):
            if not os.path.exists(os.path.join(folder, journal.KEEPS_DROPPED)):
                journal.drop_keeps(folder)  # committed, then cut short before this
            continue
        rolled: Dict[str, Any] = {"txn": name.split("-", 1)[-1],
                                  "reason": "its run ended before the transaction did"}
        try:
            rolled["restored"] = journal.restore(folder)
            os.rename(folder, folder + ".rolled-back")
        except journal.Unfinished as exc:
            rolled.update(restored=exc.done, unfinished=[f["path"] for f in exc.failures])
            blocked += exc.failures
        rollbacks.append(rolled)
    if not rollbacks:
        return None
    record = {"run": os.path.basename(last), "rollbacks": rollbacks,
              "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "reason": "a run ended mid-transaction (its agent was killed, the host went "
                        "down, or its rollback could not finish); rolled back by the next run"}
    if blocked:
        record.update(blocked=True, reason=(
            "a run ended mid-transaction and its restore cannot finish yet: %s; nothing else "
            "runs on this host until it does (free the space, or remove what is in the way, "
            "then run again)" % unfinished_text(blocked).replace(
                ": the next run finishes it before it changes anything", "")))
    return record


def folder_for(state_dir: Optional[str], run_id: str, name: str) -> Optional[str]:
    """STATE_DIR/journal/<run>/<NN>-<txn>: numbered so a manual rollback goes newest first."""
    if not state_dir:
        return None
    base = os.path.join(journal.runs_folder(state_dir), run_id)
    count = len(os.listdir(base)) if os.path.isdir(base) else 0
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]
    return os.path.join(base, "%03d-%s" % (count, safe))


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-%d" % os.getpid()


def manual_rollback(state_dir: str, send: Send, run: Run, ctx: Context) -> Dict[str, Any]:
    """`inv rollback`: undo the newest run journal by hand, newest transaction first."""
    folder = journal.last_run(state_dir)
    if folder is None:
        return {"run": None, "restored": [], "handlers": []}
    restored: List[str] = []
    reloaded = []
    for name in sorted(os.listdir(folder), reverse=True):
        txn_dir = os.path.join(folder, name)
        if name.endswith(".rolled-back") or not os.path.isdir(txn_dir):
            continue
        try:
            restored += journal.restore(txn_dir)
        except journal.Unfinished as exc:
            # The journal stays: the next run (or `inv rollback` again) finishes it.
            restored += exc.done
            return {"run": os.path.basename(folder), "restored": restored,
                    "handlers": reloaded, "unfinished": [f["path"] for f in exc.failures],
                    "reason": unfinished_text(exc.failures)}
        for step in journal.read_meta(txn_dir).get("handlers", []):
            result = run(ctx, step)
            result["rollback"] = True
            send({"result": result})
            reloaded.append({"handler": step.get("handler"), "status": result["status"]})
    os.rename(folder, folder + ".rolled-back")
    return {"run": os.path.basename(folder), "restored": restored, "handlers": reloaded}


# ---- losing the controller -----------------------------------------------------------

LOST_RECORD = "lost-controller.json"


class ControllerLost(Exception):
    """The controller stopped listening (a write failed, or its end of the channel closed).

    Nobody can see or act on what follows, so the transaction under way fails and is rolled
    back, the outcome is recorded on the host, and the next run reports it."""


def record_loss(state_dir: Optional[str], run_id: str, reason: str,
                rollbacks: Sequence[Mapping[str, Any]]) -> None:
    if not state_dir:
        return
    # fileio imports journal: kept out of this module's import time
    from . import fileio, statedir
    record = {"run": run_id, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "reason": reason, "rollbacks": list(rollbacks)}
    statedir.private_dirs(state_dir)
    fileio.atomic_write(os.path.join(state_dir, LOST_RECORD),
                        json.dumps(record, sort_keys=True).encode("utf-8"), "0600")


def take_loss_record(state_dir: Optional[str], keep: bool = False) -> Optional[Dict[str, Any]]:
    """What an earlier run recorded when it lost the controller (removed once read, except
    in check mode, which changes nothing on the host)."""
    if not state_dir:
        return None
    path = os.path.join(state_dir, LOST_RECORD)
    from . import fileio
    try:
        data = fileio.read_file(path)
        record = json.loads(data) if data is not None else None
    except (OSError, ValueError):
        record = {"reason": "unreadable record %s" % path}
    if record is not None and not keep:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return record if isinstance(record, dict) or record is None else {"reason": str(record)}
