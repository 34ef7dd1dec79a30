"""A play's head: `raw` and `wait_for_connection` steps run before a host's agent starts.

A bare host has no python3, so the agent cannot start there. The first play a host is in may
open (no roles, before any other task) with `raw` and `wait_for_connection` tasks: the
controller renders those first (no facts yet: they come from the agent), runs them itself
over the host's SSH connection, and only then starts the agent and plans the rest of the
play, with the head's registered results known. Each host's head is rendered before any
host's head runs, so a template error there still stops the run with nothing changed.
"""
from __future__ import annotations

import dataclasses
import datetime
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from fabric import Connection

from .agent import safeexpr
from .agent.main import judged
from .agent.ops import raw as raw_op
from .agent.ops.wait_for_connection import waiting
from .agent.core import CHANGED, FAILED, IGNORED, OK, SKIPPED, Outcome
from .errors import MainsailError, Unreachable
from .inventory import Host, Inventory
from .plan import HostPlan, build_plan, _registered
from .playbook import Play
from .session import SUDO_PROMPT, connect

HEAD_OPS = ("raw", "wait_for_connection")
DEFAULT_STEP_TIMEOUT = 600.0


class HeadFailed(MainsailError):
    """A step of a play's head failed: the host stops there, as after any failed step."""

    exit_code = 2


@dataclass(frozen=True)
class Head:
    """One host's head: which play it opens, how many of its tasks it takes, their plan."""

    play: int
    count: int
    plan: HostPlan


@dataclass
class HeadRun:
    """What running a head left: the open connection, and the results ``register`` keeps."""

    conn: Connection | None
    registered: dict[str, Any] = field(default_factory=dict)


def head_length(play: Play) -> int:
    """How many of the play's first tasks run before the agent (0 for a play with roles:
    they run first)."""
    if play.roles:
        return 0
    count = 0
    for task in play.tasks:
        if task.op not in HEAD_OPS:
            break
        count += 1
    return count


def without_head(play: Play, count: int) -> Play:
    return dataclasses.replace(play, tasks=play.tasks[count:]) if count else play


def find_heads(root: Path, inv: Inventory, plays: Sequence[Play],
               targets: Sequence[Sequence[Host]], *, extra_vars: Mapping[str, Any],
               check: bool, tags: Sequence[str] = (), skip_tags: Sequence[str] = (),
               secrets: Any = None) -> dict[str, Head]:
    """Each host's head, rendered (BadInput for bad input, before anything runs)."""
    heads: dict[str, Head] = {}
    seen: set[str] = set()
    for index, (play, hosts) in enumerate(zip(plays, targets)):
        count = head_length(play)
        for host in hosts:
            if host.name in seen:
                continue
            seen.add(host.name)
            if count and host.connection != "local":
                head_play = dataclasses.replace(play, tasks=play.tasks[:count], checks=())
                plan = build_plan(root, head_play, host, {}, extra_vars, tags=tags,
                                  skip_tags=skip_tags, check=check, inventory=inv,
                                  secrets=secrets)
                heads[host.name] = Head(index, count, plan)
    return heads


# ---------------------------------------------------------------------------- running a head

Connector = Callable[[Host, float], Connection]


def run_head(host: Host, head: Head, check: bool, on_result: Callable[[dict[str, Any]], None],
             connect_timeout: float, connector: Connector = connect) -> HeadRun:
    """Run the head's steps in order, segment by segment; HeadFailed at the first failure."""
    run = HeadRun(conn=None)
    segment: HostPlan | None = head.plan
    results: list[dict[str, Any]] = []
    try:
        while segment is not None:
            now: list[dict[str, Any]] = []
            for step in segment.steps:
                result = _run_step(host, step, run, check, connect_timeout, connector)
                now.append(result)
                on_result(result)
                if result["status"] == FAILED:
                    raise HeadFailed("%s failed: %s" % (step.get("name") or step["op"],
                                                        result.get("msg") or "failed"),
                                     where=str(step.get("where") or "host %s" % host.name))
            results += now
            segment = segment.following(now)
    except BaseException:
        if run.conn is not None:
            run.conn.close()
        raise
    run.registered = registered(head.plan, results)
    return run


def registered(plan: HostPlan, results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What ``register`` keeps of the head's results, for the plan of the rest of the play."""
    cursor = plan.cursor
    if cursor is None:
        return {}
    by_id = {r.get("id"): r for r in results}
    kept = dict(cursor.registered)
    for name, entries in cursor.awaited.items():
        kept[name] = _registered(entries, by_id, name in cursor.looped)
    return kept


def _run_step(host: Host, step: Mapping[str, Any], run: HeadRun, check: bool,
              connect_timeout: float, connector: Connector) -> dict[str, Any]:
    started = time.monotonic()
    args = step.get("args") or {}
    if check:
        outcome = Outcome(SKIPPED, "%s is not run in check mode" % step["op"])
    elif step["op"] == "wait_for_connection":
        outcome = _wait(host, args, run, connector)
    else:
        if run.conn is None:
            run.conn = connector(host, connect_timeout)
        outcome = _raw(host, step, run.conn)
    if outcome.status != SKIPPED:
        outcome = judged(step, outcome)
    if outcome.status == FAILED and step.get("ignore_errors"):
        outcome = outcome.replace(status=IGNORED)
    result = {"id": step.get("id"), "status": outcome.status, "msg": outcome.msg, "diff": "",
              "rc": outcome.rc, "stdout": outcome.stdout, "stderr": outcome.stderr,
              "cmd": outcome.cmd, "elapsed": round(time.monotonic() - started, 3)}
    if outcome.data:
        result["data"] = outcome.data
    if step.get("no_log"):
        for key in ("msg", "stdout", "stderr", "cmd"):
            result[key] = "<hidden by no_log>" if result[key] else result[key]
        result.pop("data", None)
    return result


def _wait(host: Host, args: Mapping[str, Any], run: HeadRun, connector: Connector) -> Outcome:
    """Try to connect every ``sleep`` seconds after ``delay``, until ``timeout``."""
    plan = waiting(args)
    started = time.monotonic()
    time.sleep(plan.delay)
    deadline = started + plan.timeout
    last = ""
    while True:
        if run.conn is not None:
            run.conn.close()
            run.conn = None
        try:
            run.conn = connector(host, plan.connect_timeout)
            break
        except Unreachable as exc:
            last = exc.what
        if time.monotonic() >= deadline:
            return Outcome(FAILED, "timed out waiting for connection: %s" % last)
        time.sleep(min(plan.sleep, max(0.0, deadline - time.monotonic())))
    elapsed = time.monotonic() - started
    result = Outcome(OK, "the host answers (after %.1fs)" % elapsed)
    result.data = {"elapsed": int(elapsed)}
    return result


def raw_command(host: Host, step: Mapping[str, Any]) -> str:
    """The command line sent over SSH: as written (the login shell runs it), through
    ``executable -c``, and under sudo when the step escalates."""
    cmd, executable = raw_op.parts(step.get("args") or {})
    user = step.get("become_user") or "root"
    escalate = bool(step.get("become")) and user != host.user
    if not escalate:
        return "%s -c %s" % (shlex.quote(str(executable)), shlex.quote(cmd)) if executable \
            else cmd
    shell = shlex.quote(str(executable or "/bin/sh"))
    sudo = "sudo -S -p %s" % shlex.quote(SUDO_PROMPT) if host.become_password is not None \
        else "sudo -n"
    return "%s -H -u %s -- %s -c %s" % (sudo, shlex.quote(user), shell, shlex.quote(cmd))


def _raw(host: Host, step: Mapping[str, Any], conn: Connection) -> Outcome:
    command = raw_command(host, step)
    start = datetime.datetime.now()
    timeout = float(step.get("timeout") or DEFAULT_STEP_TIMEOUT)
    password = str(host.become_password) if "sudo -S" in command.split(" -- ")[0] else None
    try:
        rc, out, err = exec_command(conn, command, timeout, password)
    except Unreachable as exc:
        return Outcome(FAILED, exc.what, cmd=raw_op.parts(step.get("args") or {})[0])
    return raw_op.outcome(raw_op.parts(step.get("args") or {})[0], rc, out, err, start)


def exec_command(conn: Connection, command: str, timeout: float,
                 password: str | None = None) -> tuple[int, str, str]:
    """Run one command line on its own channel: its exit code, stdout and stderr. sudo's
    prompt (ours, on stderr) is answered once with ``password``; a second one means the
    password was refused."""
    transport = conn.client.get_transport()
    if transport is None:
        raise Unreachable("the connection closed")
    channel = transport.open_session(timeout=timeout)
    try:
        channel.exec_command(command)
        if password is None:
            channel.shutdown_write()
        out, err = bytearray(), bytearray()
        prompt = SUDO_PROMPT.encode()
        answered = False
        deadline = time.monotonic() + timeout
        while True:
            busy = False
            while channel.recv_ready():
                out += channel.recv(1 << 16)
                busy = True
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(1 << 16)
                busy = True
            if password is not None and prompt in err:
                if answered or err.count(prompt) > 1:
                    raise Unreachable("sudo refused the become password",
                                      hint="check become_password for this host")
                channel.sendall(password.encode() + b"\n")
                channel.shutdown_write()
                err = err.replace(prompt, b"", 1)
                answered = True
            elif answered and prompt in err:
                raise Unreachable("sudo refused the become password",
                                  hint="check become_password for this host")
            if password is not None and not answered and out and not channel.closed:
                channel.shutdown_write()  # the command runs: sudo did not ask (cached)
                password = None
            if channel.exit_status_ready() and not channel.recv_ready() \
                    and not channel.recv_stderr_ready():
                break
            if time.monotonic() > deadline:
                raise Unreachable("the command did not finish within %gs" % timeout,
                                  hint="raise the task's timeout:")
            if not busy:
                time.sleep(0.005)
        rc = channel.recv_exit_status()
    finally:
        channel.close()
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
