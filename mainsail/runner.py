"""Runs plays on hosts: connect and plan everything first, then apply in batches, in parallel.

Every host's plan is rendered before anything is applied anywhere, so bad input (an undefined
variable, a missing template) stops the run with nothing changed on any host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import math
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

from .agent.main import hide
from .agent.ops import OPS as AGENT_OPS
from .errors import BadInput, LockHeld, MainsailError
from .fleet import parallel
from .inventory import Host, Inventory, select_hosts
from . import playhosts
from .plan import HostPlan, _without_passwords, build_plan
from .playbook import Play
from .prelude import Head, HeadFailed, find_heads, run_head, without_head
from .playwaves import waves
from .profile import Profile
from .report import HostRecord, Progress, RunRecord, StepRecord
from .session import HostSession, describe_holder, open_session
from .vault import Vault



STATE_DIR = "/var/lib/mainsail"


USER_STATE_DIR = "~/.local/state/mainsail"  # expanded on the host, by the agent


def host_state_dir(host: Host, as_root: bool = True) -> str:
    """Where a host keeps the run lock, pending handlers and journals (the host var
    mainsail_state_dir overrides it): /var/lib/mainsail for an agent running as root, the
    login user's own folder for one that is not. Local hosts share this machine, so each
    name gets a folder of its own."""
    if host.vars.get("mainsail_state_dir"):
        return str(host.vars["mainsail_state_dir"])
    base = STATE_DIR if as_root else USER_STATE_DIR
    return base if host.connection != "local" else "%s/local-%s" % (base, host.name)


def holder_identity(command: str) -> dict[str, Any]:
    """Who takes a host's run lock, shown to whoever finds it held."""
    return {"user": getpass.getuser(), "host": socket.gethostname(), "pid": os.getpid(),
            "command": command}


def new_run_id() -> str:
    """Names the run's journal on each host; sorts in time order, to the microsecond."""
    now = time.time()
    return "%s.%06dZ-%d" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)),
                            int(now % 1 * 1e6), os.getpid())


@dataclass(frozen=True)
class RunOptions:
    check: bool = False
    diff: bool = False
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    forks: int = 20
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    connect_timeout: float = 10.0
    lock_wait: float = 0.0
    run_id: str = field(default_factory=lambda: new_run_id())
    holder: Mapping[str, Any] = field(default_factory=lambda: holder_identity("deploy"))
    secrets: Vault | None = field(default=None, compare=False)  # the run's vault
    profile: Profile | None = field(default=None, compare=False)  # --profile: timings go here


def stage(opts: RunOptions, name: str) -> Any:
    """The run's stage, timed when profiling."""
    return opts.profile.stage(name) if opts.profile else contextlib.nullcontext()


def timed(opts: RunOptions, host: str, phase: str) -> Any:
    """One host's phase, timed when profiling (wall, and the calling thread's CPU)."""
    return opts.profile.host(host).timed(phase) if opts.profile else contextlib.nullcontext()


def lock_spec(host: Host, opts: RunOptions, as_root: bool = True) -> dict[str, Any] | None:
    """A deploy holds each host's run lock; a check run changes nothing and takes none."""
    if opts.check:
        return None
    return {"path": host_state_dir(host, as_root) + "/run.lock", "wait": opts.lock_wait,
            "holder": dict(opts.holder)}


@dataclass
class RunState:
    """Mutable bookkeeping of one run, owned by the runner's main thread."""

    record: RunRecord
    sessions: dict[str, HostSession] = field(default_factory=dict)
    delegates: dict[str, HostSession] = field(default_factory=dict)  # host -> its session to
    # the controller for delegate_to: localhost (one per host: a session is not shared)
    logins: dict[tuple[str, str], HostSession] = field(default_factory=dict)  # (host, user)
    # -> its session logged in as a task's remote_user
    dead: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    head_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # registered by heads


def play_hosts(inv: Inventory, play: Play, chosen: Sequence[Host]) -> list[Host]:
    names = {h.name for h in chosen}
    try:
        matched = select_hosts(inv, limit=play.hosts)
    except BadInput:
        return []  # a play whose pattern matches nothing here is simply not run
    return playhosts.ordered(play, [h for h in matched if h.name in names])


def batches(hosts: list[Host], serial: int | str | None) -> list[list[Host]]:
    if not serial:
        return [hosts]
    if isinstance(serial, str) and serial.endswith("%"):
        size = max(1, math.ceil(len(hosts) * float(serial[:-1]) / 100))
    else:
        size = max(1, int(serial))
    return [hosts[i:i + size] for i in range(0, len(hosts), size)]


# ---------------------------------------------------------------------------- phase 1: connect

def needs_become(host: Host, plays: Sequence[Play]) -> bool:
    """Whether any play, role or task run on this host asks for become (decided per session:
    the agent runs as one user for the whole run)."""
    if host.become:
        return True
    for play in plays:
        tasks = [*play.tasks, *play.handlers]
        for use in play.roles:
            tasks += [*use.role.tasks, *use.role.handlers]
        if play.become or any(use.ref.become for use in play.roles) or \
                any(task.become for task in tasks):
            return True
    return False


def connect_all(state: RunState, hosts: list[Host], become: Mapping[str, bool],
                opts: RunOptions, progress: Progress,
                heads: Mapping[str, tuple[Play, Head]] | None = None) -> None:
    """Connect and start each host's agent; a host whose first play opens with raw /
    wait_for_connection steps runs them first, over the same connection (prelude.py)."""
    def one(host: Host) -> tuple[Host, HostSession | MainsailError]:
        started = time.monotonic()
        try:
            conn = None
            if heads and host.name in heads:
                conn = run_play_head(host, *heads[host.name], state, opts, progress)
            session = open_session(host, timeout=opts.connect_timeout, become=become[host.name],
                                   conn=conn,
                                   timings=opts.profile.host(host.name) if opts.profile else None)
        except MainsailError as exc:
            return host, exc
        state.record.host(host.name).seconds += time.monotonic() - started
        return host, session

    for host, outcome in parallel(one, hosts, opts.forks):
        rec = state.record.host(host.name)
        if isinstance(outcome, HeadFailed):  # a failed step, reported as such already
            rec.error = str(outcome)
            rec.verdict = "failed"
            state.dead.add(host.name)
        elif isinstance(outcome, MainsailError):
            rec.unreachable = True
            rec.error = str(outcome)
            state.dead.add(host.name)
            progress.event(host.name, "unreachable", str(outcome))
        else:
            state.sessions[host.name] = outcome


def run_play_head(host: Host, play: Play, head: Head, state: RunState, opts: RunOptions,
                  progress: Progress) -> Any:
    """The head's steps, recorded like any step; the connection they opened (or None)."""
    rec = state.record.host(host.name)
    by_id = {s["id"]: s for s in head.plan.steps}

    def on_result(result: Mapping[str, Any]) -> None:
        record = step_record(play, by_id.get(result.get("id"), {}), result)
        rec.add(record)
        progress.step(host.name, record, step_args(by_id.get(result.get("id"), {}))
                      if progress.level >= 2 else None)

    ran = run_head(host, head, opts.check, on_result, opts.connect_timeout)
    state.head_vars[host.name] = ran.registered
    return ran.conn


# ---------------------------------------------------------------------------- phase 2: plan

def batch_of(host: Host, hosts: list[Host], serial: int | str | None) -> list[str]:
    """The names of the hosts in ``host``'s serial batch (``ansible_play_batch``)."""
    return list(batch_names(hosts, serial).get(host.name, [host.name]))


def batch_names(hosts: list[Host], serial: int | str | None) -> dict[str, list[str]]:
    """Each host's serial batch, by name: found once for a play's hosts."""
    return {h.name: names for batch in batches(hosts, serial)
            for names in [[b.name for b in batch]] for h in batch}


def plan_all(root: Path, inv: Inventory, plays: Sequence[Play], play_targets: list[list[Host]],
             state: RunState, opts: RunOptions,
             heads: Mapping[str, tuple[Play, Head]] | None = None
             ) -> dict[tuple[int, str], HostPlan]:
    jobs = [(i, h) for i, hosts in enumerate(play_targets) for h in hosts
            if h.name in state.sessions]
    reachable = [[h for h in hosts if h.name in state.sessions] for hosts in play_targets]
    # Once per run, not once per host: each host looked up by name (a search of the play's
    # hosts per host compared Host records field by field, 5,000 times at 100 hosts).
    host_facts = {n: s.facts for n, s in state.sessions.items()}
    names = [[h.name for h in hosts] for hosts in reachable]
    batches_by_name = [batch_names(hosts, plays[i].serial) for i, hosts in enumerate(reachable)]

    def one(job: tuple[int, Host]) -> tuple[tuple[int, str], HostPlan | BadInput]:
        index, host = job
        play, extra = plays[index], opts.extra_vars
        head = (heads or {}).get(host.name)
        if head is not None and head[1].play == index:  # its head ran already
            play = without_head(play, head[1].count)
            extra = {**state.head_vars.get(host.name, {}), **opts.extra_vars}
        try:
            with timed(opts, host.name, "plan"):
                plan = build_plan(root, play, host, state.sessions[host.name].facts,
                                  extra, tags=opts.tags, skip_tags=opts.skip_tags,
                                  check=opts.check, inventory=inv, secrets=opts.secrets,
                                  play_hosts=list(names[index]),
                                  play_batch=list(batches_by_name[index].get(host.name,
                                                                             [host.name])),
                                  host_facts=host_facts)
        except BadInput as exc:
            return (index, host.name), exc
        return (index, host.name), plan

    plans: dict[tuple[int, str], HostPlan] = {}
    errors: list[BadInput] = []
    # One host after another in this thread: planning is CPU (local file reads aside), so
    # threads only took turns at the GIL, and handing it over cost as much again (a 20-host
    # plan: 58-108 ms of CPU in 20 threads, 40-49 ms in one). Plays that run a command to
    # look a value up (pipe, lines) keep the threads: those commands then run side by side.
    threads = runs_commands([*plays, opts.extra_vars, *(h.vars for _, h in jobs)])
    planned = parallel(one, jobs, opts.forks) if threads else map(one, jobs)
    for key, outcome in planned:
        if isinstance(outcome, BadInput):
            errors.append(outcome)
        else:
            plans[key] = outcome
    if errors:
        # One message per distinct problem: the same template error on 4 hosts is said once.
        first = errors[0]
        more = len({str(e) for e in errors}) - 1
        raise BadInput(first.what + (" (and %d more problems)" % more if more else ""),
                       where=first.where, hint=first.hint)
    return plans


_COMMAND_LOOKUP = re.compile(r"""\b(?:lookup|query|q)\s*\(\s*['"](?:pipe|lines)['"]""")


def runs_commands(values: Sequence[Any]) -> bool:
    """Whether any text in ``values`` (plays with their tasks, handlers, roles' variables and
    defaults, vars files read at load; hosts' variables) looks up a command's output with
    ``pipe`` or ``lines``. Text read while planning (a template file, an include with a
    templated name) is not seen."""
    seen: set[int] = set()

    def found(value: Any) -> bool:
        if isinstance(value, str):
            return ("pipe" in value or "lines" in value) and bool(_COMMAND_LOOKUP.search(value))
        if isinstance(value, (int, float, bool, Path)) or value is None or id(value) in seen:
            return False
        seen.add(id(value))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return any(found(getattr(value, f.name)) for f in dataclasses.fields(value))
        if isinstance(value, Mapping):
            return any(found(k) or found(v) for k, v in value.items())
        if isinstance(value, (list, tuple, set, frozenset)):
            return any(found(v) for v in value)
        return False

    return any(found(value) for value in values)


# ---------------------------------------------------------------------------- phase 3: apply

def step_record(play: Play, step: Mapping[str, Any], result: Mapping[str, Any],
                handler: bool = False) -> StepRecord:
    return StepRecord(play=play.name, task=str(step.get("name") or step.get("op")),
                      where=str(step.get("where", "")), status=str(result.get("status")),
                      msg=str(result.get("msg") or ""), diff=str(result.get("diff") or ""),
                      rc=result.get("rc"), stdout=str(result.get("stdout") or ""),
                      stderr=str(result.get("stderr") or ""), cmd=result.get("cmd"),
                      elapsed=float(result.get("elapsed") or 0.0), handler=handler,
                      op=str(step.get("action") or step.get("op") or ""),
                      role=str(step.get("role") or ""),
                      data=dict(result.get("data") or {}))


def hidden(result: Mapping[str, Any]) -> dict[str, Any]:
    """A registered no_log step's result as shown and reported (the play still reads the
    real one): its output and data hidden, as the agent hides an unregistered one's."""
    out = dict(result)
    hide(out)
    return out


def step_args(step: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A step's arguments for -vv; none of a no_log step's."""
    return None if step.get("no_log") else _without_passwords(step.get("args"))


def transaction_request(plan: HostPlan, opts: RunOptions) -> dict[str, Any]:
    """What the agent needs to run each transaction to its end on its own: the handlers in
    definition order, each transaction's checks, and the run's id for the journal."""
    handlers = [step for steps in plan.handlers.values() for step in steps]
    out = {"handlers": handlers, "checks": plan.checks, "run": opts.run_id}
    if plan.notified:
        out["notified"] = plan.notified
    if plan.deferred:  # more requests follow: the handlers wait for the play's end
        out["defer_handlers"] = True
    return out


def apply_host(play: Play, host: Host, plan: HostPlan, state: RunState, opts: RunOptions,
               progress: Progress) -> bool:
    """Run one host's plan, one request per segment (most plays are one segment: a new one
    starts only where a task reads a result registered in the segment before). The agent
    applies each transaction (steps, notified handlers, checks) of a request and rolls it
    back on failure. True when the host is still healthy."""
    session = state.sessions[host.name]
    rec = state.record.host(host.name)
    started = time.monotonic()
    by_id: dict[Any, dict[str, Any]] = {}

    def on_result(result: dict[str, Any]) -> None:
        step = by_id.get(result.get("id"), {})
        if step.get("later") and plan.cursor is not None:
            plan.cursor.judge_result(step, result)  # changed_when / failed_when, judged here
        problem = finish_on_controller(step, result)
        if problem:
            result.update(status="failed", msg=problem)
            rec.error = rec.error or problem
        shown = hidden(result) if step.get("no_log") else result
        record = step_record(play, step, shown, handler=bool(step.get("handler")))
        if step.get("caught") and record.status == "failed":
            record.status = "ignored"  # a block's rescue/always took it; the host goes on
        rec.add(record)
        with timed(opts, host.name, "output"):
            # its arguments are only shown at -vv: not masked for nothing (a regex per string)
            progress.step(host.name, record, step_args(step) if progress.level >= 2 else None)

    progress.start_host(host.name, len(plan.steps))
    segment: HostPlan | None = plan
    healthy = True
    try:
        while segment is not None:
            if state.stop.is_set():
                return False
            for name in segment.skipped:
                rec.add(StepRecord(play=play.name, task=name, where="", status="skipped",
                                   msg="when: false"))
            by_id.update({s["id"]: s for s in all_steps(segment)})
            with timed(opts, host.name, "apply"):
                if segment.delegate:
                    results, ran_on = run_delegated(segment, host, state, opts, on_result)
                elif segment.login:
                    results, ran_on = run_as_login(segment, host, state, opts, on_result)
                else:
                    ran_on = session
                    results = session.run(segment.steps, segment.blobs, opts.check, opts.diff,
                                          on_result, lock=lock_spec(host, opts, session.as_root),
                                          state_dir=host_state_dir(host, session.as_root),
                                          transaction=transaction_request(segment, opts))
                    note_lock_and_rollbacks(host, session, rec, progress)
            # done.failed: a step, handler or check failed without ignore_errors (or the lock
            # was held); the agent has judged it already.
            healthy = not ran_on.client.last_failed
            if not healthy or ran_on.client.last_stopped:
                break
            segment = next_segment(segment, results, host, rec, progress)
            healthy = segment is not _FAILED_SEGMENT
            if not healthy:
                break
        if rec.verdict not in ("failed", "rolled back"):  # an earlier play's failure stays
            rec.verdict = session.client.last_verdict if healthy else "failed"
    except LockHeld as exc:
        rec.locked = True
        rec.error = str(exc)
        progress.event(host.name, "locked", str(exc))
        healthy = False
    except MainsailError as exc:
        rec.error = str(exc)
        progress.event(host.name, "failed", str(exc))
        healthy = False
    rec.seconds += time.monotonic() - started
    return healthy


_FAILED_SEGMENT: Any = object()


def finish_on_controller(step: Mapping[str, Any], result: dict[str, Any]) -> str:
    """An op's own last part, run here as its result arrives (fetch writes the file it got);
    '' when done, else why it failed."""
    hook = getattr(AGENT_OPS.get(str(step.get("op"))), "on_controller", None)
    return str(hook(step, result) or "") if hook is not None else ""
def run_delegated(segment: HostPlan, host: Host, state: RunState, opts: RunOptions,
                  on_result: Any) -> tuple[list[dict[str, Any]], HostSession]:
    """A segment delegated to localhost: run by a local agent of the host's own (as the
    controller's user, no run lock: the controller is not a managed host), its state kept
    apart per delegating host."""
    local = Host("localhost-for-" + host.name, address="localhost", connection="local")
    session = state.delegates.get(host.name)
    if session is None:
        session = state.delegates[host.name] = open_session(
            local, timeout=opts.connect_timeout, become=False)
    results = session.run(segment.steps, segment.blobs, opts.check, opts.diff, on_result,
                          lock=None, state_dir=host_state_dir(local, session.as_root),
                          transaction=transaction_request(segment, opts))
    return results, session


def run_as_login(segment: HostPlan, host: Host, state: RunState, opts: RunOptions,
                 on_result: Any) -> tuple[list[dict[str, Any]], HostSession]:
    """A segment of tasks whose remote_user is not the play's: run over a session of its
    own, logged in as that user (same address, key and host key; escalated as the play's
    session is). The play's session holds the host's run lock: this one takes none."""
    user = str(segment.login)
    session = state.logins.get((host.name, user))
    if session is None:
        main = state.sessions[host.name]
        session = state.logins[(host.name, user)] = open_session(
            dataclasses.replace(host, user=user), timeout=opts.connect_timeout,
            become=main.as_root and user != "root")
    results = session.run(segment.steps, segment.blobs, opts.check, opts.diff, on_result,
                          lock=None, state_dir=host_state_dir(session.host, session.as_root),
                          transaction=transaction_request(segment, opts))
    return results, session


def next_segment(segment: HostPlan, results: list[dict[str, Any]], host: Host, rec: HostRecord,
                 progress: Progress) -> Any:
    """The host's next segment, rendered with the results just in; a render failure (a value
    a result gave that a template cannot use) fails this host only, as a failed task would."""
    try:
        following = segment.following(results)
    except BadInput as exc:
        rec.error = str(exc)
        progress.event(host.name, "failed", str(exc))
        return _FAILED_SEGMENT
    if following is not None:
        progress.mask = progress.mask.with_secrets(following.secrets)
    return following


def all_steps(plan: HostPlan) -> list[dict[str, Any]]:
    steps = list(plan.steps)
    steps += [s for handler in plan.handlers.values() for s in handler]
    steps += [s for checks in plan.checks.values() for s in checks]
    return steps


def describe_loss(record: Mapping[str, Any]) -> str:
    """One line for what the host recorded when an earlier run lost its controller."""
    restored = [p for r in record.get("rollbacks") or [] if isinstance(r, dict)
                for p in r.get("restored") or []]
    return "an earlier run (%s, %s) lost the controller: %s; %s" % (
        record.get("run") or "?", record.get("at") or "?", record.get("reason") or "?",
        "rolled back, restored " + ", ".join(map(str, restored)) if restored
        else "nothing was rolled back")


def note_lock_and_rollbacks(host: Host, session: HostSession, rec: HostRecord,
                            progress: Progress) -> None:
    if session.client.stale_lock and not rec.stale_lock:
        rec.stale_lock = describe_holder(session.client.stale_lock)
        progress.event(host.name, "ok", "broke a stale run lock left by " + rec.stale_lock)
    lost = session.client.lost_controller
    if lost and not rec.lost_controller:
        rec.lost_controller = describe_loss(lost)
        progress.event(host.name, "failed", rec.lost_controller)
    for rolled in session.client.rollbacks:
        text = "rolled back %s (%s): restored %s" % (
            rolled.get("txn"), rolled.get("reason"), ", ".join(rolled.get("restored") or [])
            or "nothing")
        rec.rollbacks.append(rolled)
        progress.event(host.name, "failed", text)


def interrupt(state: RunState, progress: Progress) -> None:
    """Ctrl-C: every host stops after the step under way; nothing is cut in half."""
    state.stop.set()
    state.record.aborted = "interrupted"
    progress.console.print("interrupted: letting the steps under way finish "
                           "(Ctrl-C again to stop waiting)", style="red", markup=False)
    for session in list(state.sessions.values()):
        session.request_stop()


def too_many_failures(play: Play, failed: int, total: int) -> str:
    if failed and play.any_errors_fatal:
        return "any_errors_fatal: a host failed in play %r" % play.name
    limit = play.max_fail_percentage
    if limit is not None and total and failed * 100.0 / total > float(limit):
        return "max_fail_percentage %s exceeded in play %r (%d of %d hosts failed)" % (
            limit, play.name, failed, total)
    return ""


def apply_play(play: Play, index: int, hosts: list[Host], plans: Mapping[tuple[int, str], HostPlan],
               state: RunState, opts: RunOptions, progress: Progress) -> None:
    live = [h for h in hosts if h.name not in state.dead]
    failed = 0
    for batch in batches(live, play.serial):
        outcomes = parallel(lambda h: (h, apply_host(play, h, plans[(index, h.name)], state,
                                                     opts, progress)), batch, opts.forks,
                            on_interrupt=lambda: interrupt(state, progress))
        for host, healthy in outcomes:
            if not healthy:
                failed += 1
                state.dead.add(host.name)
        reason = too_many_failures(play, failed, len(live))
        if reason and not state.stop.is_set():
            state.record.aborted = reason
            state.stop.set()
            return
        if state.stop.is_set():
            return


def apply_plays(plays: Sequence[Play], targets: list[list[Host]],
                plans: Mapping[tuple[int, str], HostPlan], state: RunState, opts: RunOptions,
                progress: Progress) -> None:
    """The plays, in waves: plays that share no host run at the same time, each host runs its
    plays in the playbook's order (mainsail.playwaves)."""
    for wave in waves(plays, [[h.name for h in hosts] for hosts in targets], opts.forks):
        if state.stop.is_set():
            break
        if wave.alone and progress.level:
            progress.console.print("play %r runs on its own (it has %s)"
                                   % (plays[wave.plays[0]].name, wave.alone),
                                   markup=False, highlight=False)
        if len(wave.plays) == 1:
            index = wave.plays[0]
            apply_play(plays[index], index, targets[index], plans, state, opts, progress)
            continue
        parallel(lambda i: apply_play(plays[i], i, targets[i], plans, state, opts, progress),
                 wave.plays, len(wave.plays), on_interrupt=lambda: interrupt(state, progress))


def run_playbook(root: Path, inv: Inventory, plays: Sequence[Play], chosen: Sequence[Host],
                 opts: RunOptions, progress: Progress, playbook: str = "site") -> RunRecord:
    state = RunState(RunRecord(playbook=playbook, check=opts.check))
    started = time.monotonic()
    targets = [play_hosts(inv, play, chosen) for play in plays]
    settled = {h.name: playhosts.with_play_settings(h, [p for p, t in zip(plays, targets)
                                                         if h in t])
               for hosts in targets for h in hosts}  # a play's remote_user / connection
    targets = [[settled[h.name] for h in hosts] for hosts in targets]
    involved = list({h.name: h for hosts in targets for h in hosts}.values())
    if not involved:
        raise BadInput("no host of the selection is in any play of playbook %r" % playbook,
                       hint="check --host/--group/--limit against the plays' hosts:")
    try:
        become = {h.name: needs_become(h, [p for p, t in zip(plays, targets) if h in t])
                  for h in involved}
        heads = {name: (plays[head.play], head) for name, head in find_heads(
            root, inv, plays, targets, extra_vars=opts.extra_vars, check=opts.check,
            tags=opts.tags, skip_tags=opts.skip_tags, secrets=opts.secrets).items()}
        with stage(opts, "connect"):
            connect_all(state, involved, become, opts, progress, heads)
        with stage(opts, "plan"):
            plans = plan_all(root, inv, plays, targets, state, opts, heads)
        progress.mask = progress.mask.with_secrets(
            secret for plan in plans.values() for secret in plan.secrets)
        with stage(opts, "apply"):
            apply_plays(plays, targets, plans, state, opts, progress)
    except KeyboardInterrupt:
        # Before anything was applied (connecting, planning) or on a second Ctrl-C.
        state.stop.set()
        state.record.aborted = "interrupted"
    finally:
        with stage(opts, "close"):
            close_all(state, opts)
        state.record.seconds = time.monotonic() - started
        state.record.ended = time.time()
    return state.record


def close_all(state: RunState, opts: RunOptions | None = None) -> None:
    opts = opts or RunOptions()
    for name, session in state.sessions.items():
        rec = state.record.host(name)
        rec.channels, rec.round_trips, rec.bytes_sent = session.counters()
        with timed(opts, name, "close"):
            session.close()
    for name, session in [*state.delegates.items(),
                          *((host, s) for (host, _), s in state.logins.items())]:
        rec = state.record.host(name)
        channels, trips, sent = session.counters()
        rec.channels, rec.round_trips = rec.channels + channels, rec.round_trips + trips
        rec.bytes_sent += sent
        session.close()
    if opts.profile:
        for name in state.sessions:
            opts.profile.host(name).round_trips = state.record.host(name).round_trips
