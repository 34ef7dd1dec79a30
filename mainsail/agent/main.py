"""The agent's message loop: JSON lines on stdin/stdout (docs/architecture.md)."""
from __future__ import annotations

import base64
import binascii
import os
import select
import sys
import threading
import time
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import (asyncjob, deadline, facts, fileio, handlers, journal, lock, protocol, runas,
               safeexpr, txn)
from .core import (CHANGED, FAILED, HOST_FAILED, HOST_OK, HOST_ROLLED_BACK, HOST_STOPPED, OK,
                   SKIPPED, BlobStore, Context, MissingPrerequisite, OpError, Outcome)
from .ops import OPS

HIDDEN = "(output hidden by no_log)"
STEP_KEYS_FOR_ARGS = ("changed_when", "failed_when")  # task keywords the ops evaluate


MAX_REQUEST_BYTES = 1 << 30


class ProtocolError(Exception):
    pass


# How long a step's result may wait to share one write with the results after it. Each
# write is an SSH packet that the controller's paramiko thread takes in and hands over:
# about 0.25 ms of the controller's CPU per result. At 100 hosts the apply stage's CPU was
# 188-272 ms with a write per result, 141-155 ms with 0.05 s here, 127-132 ms with 0.25 s
# (a no-op's results then travel with its `done`). A result still reaches the controller
# within this long however long the next step takes: a thread writes it out.
RESULT_DELAY = 0.25


class Channel:
    """One JSON object per line. Every message is written at once, except a step's result,
    which waits up to RESULT_DELAY for the next messages so that they travel together; any
    other message writes the waiting results first, so the order never changes."""

    def __init__(self, inp: IO[bytes], out: IO[bytes]) -> None:
        self.inp = inp
        self.out = out
        self.stopped = False
        self.lost = False  # the controller is gone: nothing more is sent
        self.lock: Optional[lock.HeldLock] = None  # the run lock, held until the session ends
        self.would_change: List[str] = []  # ops check mode found would change (Context)
        # Results not written yet, in order; the time the first of them waits since. Kept
        # here, not in `out`'s buffer: a fork (runas, async jobs) must not inherit them.
        self._waiting: List[bytes] = []
        self._since = 0.0
        self._write_lock = threading.Condition(threading.Lock())
        self._writer: Optional[threading.Thread] = None
        self._failed: Optional[txn.ControllerLost] = None  # what the writer thread met

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def stop_requested(self) -> bool:
        """Whether the controller asked, mid-run, to stop after the step under way (Ctrl-C).

        Checked between steps without bextra: a step is never cut short, the next is
        simply not started."""
        if self.stopped:
            return True
        try:
            ready = select.select([self.inp], [], [], 0)[0]
        except (OSError, ValueError):
            return False
        if ready:
            message = self.recv()
            if message is None:
                self.lost = True
                raise txn.ControllerLost("the controller closed the channel")
            if message.get("req") == "stop":
                self.stopped = True
        return self.stopped

    def send(self, message: Mapping[str, Any]) -> None:
        data = protocol.encode(message)
        with self._write_lock:
            self._report_failure()
            if self.lost:
                return
            self._waiting.append(data)
            if "result" in message and RESULT_DELAY > 0:
                if len(self._waiting) == 1:
                    self._since = time.monotonic()
                    self._start_writer()
                    self._write_lock.notify()
                return
            self._write_waiting()

    def flush(self) -> None:
        """Write the results waiting now; ControllerLost if the controller is gone."""
        with self._write_lock:
            self._report_failure()
            if self._waiting and not self.lost:
                self._write_waiting()

    def _report_failure(self) -> None:
        """The writer thread lost the controller: say so once (under the write lock)."""
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed

    def _write_waiting(self) -> None:
        """Write what waits, in one write (under the write lock)."""
        data, self._waiting = b"".join(self._waiting), []
        try:
            self.out.write(data)
            self.out.flush()
        except (OSError, ValueError) as exc:  # EPIPE, or the stream closed under us
            self.lost = True
            raise txn.ControllerLost("cannot write to the controller: %s" % exc)

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_later, name="results",
                                            daemon=True)
            self._writer.start()

    def _write_later(self) -> None:
        """The writer thread: results that waited RESULT_DELAY are written, so a slow next
        step never holds back the ones before it."""
        with self._write_lock:
            while not self.lost:
                if not self._waiting:
                    self._write_lock.wait()
                    continue
                left = self._since + RESULT_DELAY - time.monotonic()
                if left > 0:
                    self._write_lock.wait(left)
                    continue
                try:
                    self._write_waiting()
                except txn.ControllerLost as exc:
                    self._failed = exc
                    return

    def recv(self) -> Optional[Dict[str, Any]]:
        """The next message; None when the controller closed the channel."""
        # Requests carry blobs (base64), so their bound is larger than the host's own.
        line = self.inp.readline(MAX_REQUEST_BYTES + 1)
        if not line:
            return None
        try:
            message = protocol.decode(line, MAX_REQUEST_BYTES)
        except protocol.ProtocolError as exc:
            raise ProtocolError(str(exc))
        version = message.get("protocol", protocol.VERSIONS[0])
        if "req" in message and version not in protocol.VERSIONS:
            raise ProtocolError("protocol %r is not one this agent speaks (%r)"
                                % (version, list(protocol.VERSIONS)))
        return message


def main(argv: List[str]) -> int:
    """argv: SHA [FOLDER], as the bootstrap runs it; or SHA FOLDER --resident SECONDS, the
    resident agent a session's bye started (resident.py)."""
    sha = argv[0] if argv else ""
    if len(argv) == 4 and argv[2] == "--resident":
        from . import resident
        return resident.serve(sys.argv[0], sha, argv[1], float(argv[3]))
    inp, out = claim_stdio()
    return serve(inp, out, sha)


def keep_resident(sha: str, persist: Any) -> None:
    """At bye: leave a resident agent for the next session, when asked and when this agent
    runs from its cache (sys.argv is [TREE, SHA, FOLDER], TREE being FOLDER/SHA)."""
    if isinstance(persist, bool) or not isinstance(persist, (int, float)) or persist <= 0:
        return
    if len(sys.argv) < 3 or sys.argv[0] != os.path.join(sys.argv[2], sha):
        return
    from . import resident
    resident.start(sys.argv[0], sha, sys.argv[2], float(persist))


def claim_stdio() -> Tuple[IO[bytes], IO[bytes]]:
    """Keep the protocol channel for ourselves: fd 0 becomes /dev/null and fd 1 our
    stderr, so no child process or stray print can read or corrupt a message."""
    sys.stdout.flush()
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return inp, out


def serve(inp: IO[bytes], out: IO[bytes], sha: str,
          gather: Callable[[], Dict[str, Any]] = facts.gather) -> int:
    chan = Channel(inp, out)
    try:
        return serve_channel(chan, sha, gather)
    except txn.ControllerLost:
        chan.release()  # nothing can be reported any more; a run under way was handled
        return 0


def serve_channel(chan: Channel, sha: str, gather: Callable[[], Dict[str, Any]]) -> int:
    store = BlobStore(lambda shas: ask_blobs(chan, shas))
    resident = sys.modules.get("%s.resident" % __package__)  # imported by a resident only
    served = bool(resident is not None and resident.SERVING)
    chan.send(protocol.Hello(gather(), sha, resident=served).to_wire())
    while not chan.lost:
        try:
            message = chan.recv()
        except ProtocolError as exc:
            chan.send({"error": str(exc)})
            continue
        if message is None:
            chan.release()
            return 0
        request = message.get("req")
        if request == "run":
            run_request(chan, store, message)
        elif request == "rollback":
            rollback_request(chan, message)
        elif request == "facts":
            chan.send({"facts": gather()})
        elif request == "bye":
            chan.release()
            keep_resident(sha, message.get("persist"))
            return 0
        elif request == "stop":
            continue  # arrived after the run it meant to stop had ended
        else:
            chan.send({"error": "unknown request %r" % (request,)})
    chan.release()
    return 0


def ask_blobs(chan: Channel, shas: List[str]) -> Dict[str, bytes]:
    """One `need` round trip; blobs whose bytes do not match their digest are refused."""
    chan.send({"need": shas})
    reply = chan.recv()
    if reply is None:
        chan.lost = True  # the step fails; the transaction is rolled back
        raise txn.ControllerLost("the controller closed the channel")
    if reply.get("req") == "stop":
        chan.stopped = True
        raise OpError("stopped by the controller")
    if not isinstance(reply.get("blobs"), dict):
        raise OpError("controller answered `need` with %s" % sorted(reply)[:3])
    blobs = {}
    for sha, text in reply["blobs"].items():
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise OpError("blob %s is not valid base64" % str(sha)[:12])
        if fileio.sha256_bytes(data) != sha:
            raise OpError("blob %s does not match its digest" % str(sha)[:12])
        blobs[sha] = data
    return blobs


def wanted_blobs(steps: List[Dict[str, Any]], check: bool, diff: bool, store: BlobStore) -> List[str]:
    """Blobs the run will need: content whose destination differs and is not cached."""
    if check and not diff:
        return []  # a digest comparison is enough to report "would change"
    wanted: List[str] = []
    for step in steps:
        needs = getattr(OPS.get(str(step.get("op"))), "needed_blobs", None)
        if needs is None:
            continue
        try:
            shas = needs(step.get("args") or {})
        except (OSError, OpError):
            continue  # unreadable or refused now; the step will say why
        for sha in shas:
            if not store.has(sha) and sha not in wanted:
                wanted.append(sha)
    return wanted


def expand_state_dir(value: Any) -> Optional[str]:
    """The state folder; ~ is the agent's own user's home (an agent that is not root keeps
    its state under ~/.local/state/mainsail)."""
    return os.path.expanduser(str(value)) if value else None


def take_lock(chan: Channel, spec: Mapping[str, Any]) -> Dict[str, Any]:
    """The run lock, taken with a session's first run and kept until it ends. {} when held
    (with "stale_lock" when a dead run's lock was broken), else {"locked": holder}."""
    if chan.lock is not None:
        return {}
    try:
        got = lock.acquire(os.path.expanduser(str(spec["path"])), spec.get("holder") or {},
                           float(spec.get("wait") or 0))
    except OSError as exc:
        return {"locked": {"error": "cannot take the run lock %s: %s" % (spec["path"], exc)}}
    if "holder" in got:
        return {"locked": got["holder"]}
    chan.lock = got["lock"]
    return {"stale_lock": got["stale"]} if got["stale"] else {}


def run_request(chan: Channel, store: BlobStore, message: Mapping[str, Any]) -> None:
    try:
        steps = checked_steps(message.get("steps") or [], "steps")
        handler_steps = checked_steps(message.get("handlers") or [], "handlers")
        checks = {str(k): checked_steps(v, "checks") for k, v in
                  dict(message.get("checks") or {}).items()}
    except (protocol.ProtocolError, TypeError, ValueError) as exc:
        chan.send({"error": "bad run request: %s" % exc})
        return
    fresh_lock = chan.lock is None
    extra = take_lock(chan, message["lock"]) if message.get("lock") else {}
    if "locked" in extra:
        chan.send({"done": {"failed": True, "stopped": False, "host": HOST_FAILED, **extra}})
        return
    ctx = Context(check=bool(message.get("check")), diff=bool(message.get("diff")), blobs=store,
                  would_change=chan.would_change)
    try:
        store.prefetch(wanted_blobs(list(steps) + list(handler_steps), ctx.check, ctx.diff,
                                    store))
    except OpError:
        pass  # each step that needs a blob will ask again and fail with the reason
    chan.stopped = False
    state_dir = expand_state_dir(message.get("state_dir"))
    pending = handlers.Pending(state_dir)
    left = pending.names()  # recorded by a run that died before running them
    # Handlers notified by steps the controller judged after the last request (``later``).
    told = [str(n) for n in message.get("notified") or [] if str(n) not in left]
    if told and not ctx.check:
        pending.add(told)
    left += told
    run_id = str(message.get("run") or txn.new_run_id())
    earlier_loss = txn.take_loss_record(state_dir, keep=ctx.check)
    recovered = txn.recover_unfinished(state_dir) \
        if fresh_lock and chan.lock is not None and not ctx.check else None
    if recovered and earlier_loss:  # both: one record, every rollback in it
        earlier_loss = dict(earlier_loss, rollbacks=list(earlier_loss.get("rollbacks") or [])
                            + recovered["rollbacks"])
    elif recovered:  # a dead run's half-done transaction, rolled back just now
        earlier_loss = recovered
    if earlier_loss:
        extra["lost_controller"] = earlier_loss
    if recovered and recovered.get("blocked"):
        # Files of a dead run are still half-restored: nothing new goes on top of them.
        chan.send({"done": {"failed": True, "stopped": False, "host": HOST_FAILED, **extra}})
        return
    failed, rollbacks = False, []
    groups = transactions(steps)
    for index, (name, group) in enumerate(groups):
        if stop_or_lost(chan):
            break
        current = txn.Txn(ctx, name, handler_steps, checks.get(name, []),
                          pending, txn.folder_for(state_dir, run_id, name))
        # The play goes on in a later request: handlers notified here run at its end, as in
        # Ansible (a later task may still need what they would restart or remove).
        current.defer = bool(message.get("defer_handlers")) and index == len(groups) - 1
        if index == 0:
            current.notified = [h for h in left if any(s.get("handler") == h
                                                       for s in handler_steps)]
        rolled = txn.run_txn(current, group, chan.send,
                             lambda c, s: run_recorded(c, s, pending), chan.stop_requested,
                             chan.flush)
        if rolled:
            rollbacks.append(rolled)
        if current.failure:
            failed = True
            break  # later transactions build on this one
        if current.stopped or current.caught:
            break  # caught: the steps after it were for a block the failure ended
    if state_dir and not ctx.check:
        journal.prune(state_dir)
    if chan.lost and not ctx.check:  # a check run changed nothing: nothing to report
        txn.record_loss(state_dir, run_id, "the controller went away mid-run", rollbacks)
    failed = failed or chan.lost
    try:
        chan.send({"done": {"failed": failed, "stopped": chan.stopped, "rollbacks": rollbacks,
                            "host": host_verdict(failed, chan.stopped, rollbacks), **extra}})
    except txn.ControllerLost:
        if not ctx.check:
            txn.record_loss(state_dir, run_id, "the controller went away before the run's end "
                            "was reported (nothing was rolled back after it)", rollbacks)


def stop_or_lost(chan: Channel) -> bool:
    try:
        return chan.stop_requested()
    except txn.ControllerLost:
        return True


def host_verdict(failed: bool, stopped: bool, rollbacks: List[Dict[str, Any]]) -> str:
    if failed:
        return HOST_ROLLED_BACK if rollbacks else HOST_FAILED
    return HOST_STOPPED if stopped else HOST_OK


def checked_steps(items: Any, what: str) -> List[Dict[str, Any]]:
    """Steps as the protocol defines them (each one checked), in their wire form."""
    return [step.to_wire() for step in protocol.steps_from_wire(items, what)]


def transactions(steps: List[Dict[str, Any]]) -> List[Tuple[str, List[Dict[str, Any]]]]:
    """Consecutive steps of one transaction (a role, or the play) grouped; at least one group,
    so that handlers left pending by a dead run still run when nothing else does."""
    groups: List[Tuple[str, List[Dict[str, Any]]]] = []
    for step in steps:
        name = str(step.get("txn") or "run")
        if not groups or groups[-1][0] != name:
            groups.append((name, []))
        groups[-1][1].append(step)
    return groups or [("run", [])]


def rollback_request(chan: Channel, message: Mapping[str, Any]) -> None:
    """`inv rollback`: restore the newest run journal by hand (under the run lock)."""
    extra = take_lock(chan, message["lock"]) if message.get("lock") else {}
    if "locked" in extra:
        chan.send({"done": {"failed": True, "stopped": False, **extra}})
        return
    ctx = Context(check=False, diff=False, blobs=None)
    report = txn.manual_rollback(str(expand_state_dir(message.get("state_dir"))), chan.send,
                                 run_step, ctx)
    chan.send({"done": {"failed": False, "stopped": False, "rolled_back": report, **extra}})


def run_recorded(ctx: Context, step: Mapping[str, Any], pending: handlers.Pending
                 ) -> Dict[str, Any]:
    """run_step, with the step's handlers recorded before it applies anything and a
    handler's own name cleared once it has run."""
    if ctx.check:
        return run_step(ctx, step)
    added = pending.add(step.get("notify") or [])
    result = run_step(ctx, step)
    if result["status"] != CHANGED and added:
        pending.remove(added)
    if step.get("handler") and result["status"] in (OK, CHANGED):
        pending.remove([step["handler"]])
    return result


def step_context(ctx: Context, step: Mapping[str, Any]) -> Context:
    """A task's own check_mode / diff over the request's (check_mode: false runs the step
    for real even in a check run, as Ansible does)."""
    changes = {key: bool(step[name]) for key, name in (("check", "check_mode"), ("diff", "diff"))
               if isinstance(step.get(name), bool)}
    return ctx.replace(**changes) if changes else ctx


def run_step(ctx: Context, step: Mapping[str, Any]) -> Dict[str, Any]:
    started = time.monotonic()
    ctx = step_context(ctx, step)
    outcome, attempts = run_until(ctx, step)
    # what check mode did not do (changed, or a command it skipped) may provide a later need
    if ctx.check and outcome.status in (CHANGED, SKIPPED) and ctx.would_change is not None:
        module = OPS.get(str(step.get("op")))
        if getattr(getattr(module, "SPEC", None), "provides", True):
            ctx.would_change.append(str(step.get("op")))
    result = {
        "id": step.get("id"), "status": outcome.status, "msg": outcome.msg,
        "diff": outcome.diff if ctx.diff else "", "rc": outcome.rc,
        "stdout": outcome.stdout, "stderr": outcome.stderr, "cmd": outcome.cmd,
        "elapsed": round(time.monotonic() - started, 3),
    }
    data, problem = protocol.result_data(outcome.data)
    if problem:
        result.update(status=FAILED, msg="%s: %s" % (step.get("op"), problem))
    elif data:
        result["data"] = data
    if attempts:
        result.setdefault("data", {})["attempts"] = attempts
    if step.get("no_log") and not step.get("register"):
        hide(result)
    # Registered: the play reads the result (as in Ansible, no_log hides output, not values);
    # the controller hides it from every display and report (runner.hidden).
    return result


def judged(step: Mapping[str, Any], outcome: Outcome, attempts: int = 0) -> Outcome:
    """changed_when / failed_when of an op that does not judge them itself, over its result
    (a handler, a check or a step that was not run is left as it is); with until, over each
    attempt's, which they may read (``attempts``)."""
    judge = step.get("judge")
    if not isinstance(judge, dict) or not judge:
        return outcome
    values = _condition_values(outcome, attempts)
    status = outcome.status
    try:
        if "changed_when" in judge and status != FAILED:
            status = CHANGED if safeexpr.evaluate(judge["changed_when"], values) else OK
        if "failed_when" in judge:
            if safeexpr.evaluate(judge["failed_when"], values):
                status = FAILED
            elif status == FAILED:
                status = OK
    except OpError as exc:
        return outcome.replace(status=FAILED, msg=str(exc))
    data = dict(outcome.data or {})
    if "failed_when" in judge:  # Ansible's fields, which roles read
        data["failed_when_result"] = status == FAILED
        if outcome.status == FAILED and status != FAILED:  # a failure failed_when overruled
            data["failed_when_suppressed_exception"] = outcome.msg or "failed"
    return outcome.replace(status=status, data=data)


def _condition_values(outcome: Outcome, attempts: int = 0) -> Dict[str, Any]:
    """What changed_when, failed_when and until read: the step's result, with the op's own
    fields (stat.exists, finished) and, when retried, which attempt this is."""
    values = safeexpr.result_values(outcome.rc, outcome.stdout or "", outcome.stderr or "",
                                    changed=outcome.status == CHANGED,
                                    failed=outcome.status == FAILED, msg=outcome.msg)
    if attempts:
        values["result"]["attempts"] = attempts
    for key, value in (outcome.data or {}).items():
        values["result"].setdefault(key, value)
    return values


def _retries(step: Mapping[str, Any]) -> int:
    return max(0, int(step["retries"] if step.get("retries") is not None else 3))


def run_until(ctx: Context, step: Mapping[str, Any]) -> Tuple[Outcome, int]:
    """The step, judged (changed_when / failed_when), and with ``until`` or ``retries`` run
    again (``delay`` seconds apart, ``retries`` more times at most) until the condition holds
    over the judged result (no until: until it does not fail, as Ansible's default); 0
    attempts when it runs once."""
    until = step.get("until")
    if step.get("async") and step.get("poll") == 0 and not ctx.check:
        # started in the background (Ansible's async + poll: 0); async_status reads it
        background = ctx.replace(journal=None)
        started = asyncjob.start(int(step["async"]), lambda: execute_step(background, step))
        return judged(step, started), 0
    retries = _retries(step)
    if (until is None and step.get("retries") is None) or retries == 0:
        # run once (Ansible does not judge until with retries: 0 either)
        return judged(step, deadline.run_limited(step, lambda: execute_step(ctx, step))), 0
    delay = max(0.0, float(step.get("delay") if step.get("delay") is not None else 5))
    attempts = 0
    while True:
        attempts += 1
        this = ctx.replace(attempt=attempts)
        outcome = judged(step, deadline.run_limited(step, lambda: execute_step(this, step)),
                         attempts)
        if until is None:
            if outcome.status != FAILED:
                return outcome, attempts
        else:
            try:
                if safeexpr.evaluate(until, _condition_values(outcome, attempts)):
                    return outcome, attempts
            except OpError as exc:
                return Outcome(FAILED, "until: %s" % exc, rc=outcome.rc, stdout=outcome.stdout,
                               stderr=outcome.stderr, cmd=outcome.cmd,
                               data=outcome.data), attempts
        if attempts > retries:
            # out of attempts: Ansible's result names the retries asked for, and the runs
            data = dict(outcome.data or {}, retries=retries + 1)
            if "failed_when" in (step.get("judge") or {}) or \
                    (step.get("args") or {}).get("failed_when") is not None:
                # failed_when has the last word over running out of attempts, as in Ansible
                return outcome.replace(data=data), retries
            what = ("until %r still false" % until) if until is not None else "still failing"
            return Outcome(FAILED, "%s after %d attempts%s"
                           % (what, attempts, ": " + outcome.msg if outcome.msg else ""),
                           rc=outcome.rc, stdout=outcome.stdout, stderr=outcome.stderr,
                           cmd=outcome.cmd, data=data), retries
        time.sleep(delay)  # a retried step is one step: Ctrl-C waits for its end


def execute_step(ctx: Context, step: Mapping[str, Any]) -> Outcome:
    """The step as the user it asks for (become / become_user), in-process when that is
    the agent's own user."""
    user = step.get("become_user")
    if runas.needs_switch(user):
        # Not journalled: the child cannot write the root-owned journal (agent/runas.py).
        unjournalled = ctx.replace(journal=None)
        OPS.get(str(step.get("op")))  # imported here: the child may not read the agent's cache
        return runas.run_as(str(user), lambda: call_op(unjournalled, step))
    return call_op(ctx, step)


def call_op(ctx: Context, step: Mapping[str, Any]) -> Outcome:
    """Any exception becomes a failed outcome: one bad step never kills the loop."""
    op_name = str(step.get("op"))
    try:
        module = OPS.get(op_name)
        if module is None:
            raise OpError("unknown operation %r" % op_name, hint="one of " + ", ".join(sorted(OPS)))
        return module.run(ctx, step_args(step))  # type: ignore[no-any-return]
    except MissingPrerequisite as exc:
        return exc.check_outcome() if ctx.check and ctx.may_provide() else exc.outcome()
    except OpError as exc:
        return exc.outcome()
    except Exception as exc:  # a bug or an unexpected host state: report it, keep going
        text = str(exc).splitlines()[0][:300] if str(exc) else ""
        return Outcome(FAILED, "%s failed unexpectedly: %s%s"
                       % (op_name, type(exc).__name__, ": " + text if text else ""))


def step_args(step: Mapping[str, Any]) -> Dict[str, Any]:
    args = dict(step.get("args") or {})
    for key in STEP_KEYS_FOR_ARGS:
        if step.get(key) is not None:
            args[key] = step[key]
    return args


def hide(result: Dict[str, Any]) -> None:
    """A no_log step's output and data, hidden in place (here, and on the controller for a
    registered one: runner.hidden)."""
    for key in ("msg", "diff", "stdout", "stderr"):
        if result.get(key):
            result[key] = HIDDEN
    if result.get("cmd") is not None:
        result["cmd"] = HIDDEN
    if result.get("data"):
        result["data"] = {"censored": HIDDEN}
