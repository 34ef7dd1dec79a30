"""`inv rollback`: undo the last run on hosts by hand, or switch releases back.

Without --release, each host restores its newest run journal (every file the run changed,
newest first) and runs again the handlers that run notified, so services reload the old
config. With --release, every `release` of the playbook on that host switches `current` back
to the release before it, and the handlers the release task notifies run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .agent.ops import OPS as AGENT_OPS
from .errors import LockHeld, MainsailError
from .inventory import Host, Inventory
from .plan import HostPlan, build_plan
from .playbook import Play
from .fleet import FleetResult, HostResult, parallel
from .runner import (RunOptions, host_state_dir, lock_spec, needs_become, play_hosts,
                     transaction_request)
from .session import open_session


@dataclass
class RollbackResult:
    host: str
    state: str = "ok"  # ok | failed | unreachable | locked
    lines: list[str] = field(default_factory=list)


def release_steps(plans: Sequence[HostPlan]) -> tuple[list[dict[str, Any]], HostPlan | None]:
    """One undo step per step of the host's plans whose op can switch back (release),
    keeping its notify."""
    steps: list[dict[str, Any]] = []
    owner = None
    for plan in plans:
        for step in plan.steps:
            undo = getattr(AGENT_OPS.get(step["op"]), "undo", None)
            if undo is not None:
                owner = owner or plan
                name, args = undo(step["args"])
                steps.append({"id": step["id"], "op": step["op"], "txn": "rollback",
                              "name": name, "args": args, "notify": step.get("notify", [])})
    return steps, owner


def roll_back_host(root: Path, inv: Inventory, plays: Sequence[Play], host: Host,
                   release: bool, opts: RunOptions) -> RollbackResult:
    result = RollbackResult(host.name)

    def show(step: dict[str, Any]) -> None:
        result.lines.append("%s %s" % (step.get("status"), step.get("msg") or ""))
        if step.get("status") == "failed":
            result.state = "failed"

    try:
        # As the deploy ran: escalated when its plays asked for become.
        mine = [p for p in plays if host in play_hosts(inv, p, [host])]
        session = open_session(host, timeout=opts.connect_timeout,
                               become=needs_become(host, mine))
    except MainsailError as exc:
        return RollbackResult(host.name, "unreachable", [str(exc)])
    try:
        if release:
            plans = [build_plan(root, p, host, session.facts, opts.extra_vars, inventory=inv,
                                secrets=opts.secrets)
                     for p in mine]
            steps, plan = release_steps(plans)
            if not steps or plan is None:
                return RollbackResult(host.name, "ok", ["no release task for this host"])
            session.run(steps, {}, False, False, show,
                        lock=lock_spec(host, opts, session.as_root),
                        state_dir=host_state_dir(host, session.as_root),
                        transaction=transaction_request(plan, opts))
            if session.client.last_failed:
                result.state = "failed"
        else:
            report = session.rollback(host_state_dir(host, session.as_root),
                                      lock_spec(host, opts, session.as_root), show)
            if not report.get("run"):
                result.lines.append("no run journal to roll back")
            else:
                result.lines.insert(0, "run %s: restored %s" % (
                    report["run"], ", ".join(report.get("restored") or []) or "nothing"))
    except LockHeld as exc:
        return RollbackResult(host.name, "locked", [str(exc)])
    except MainsailError as exc:
        return RollbackResult(host.name, "failed", [str(exc)])
    finally:
        session.close()
    return result


def roll_back(root: Path, inv: Inventory, plays: Sequence[Play], hosts: Sequence[Host],
              release: bool, opts: RunOptions, say: Callable[[str], None]
              ) -> FleetResult[list[str]]:
    """Roll back every host in parallel; each host's outcome and what it did."""
    results = parallel(lambda h: (h, roll_back_host(root, inv, plays, h, release, opts)), hosts,
                       opts.forks)
    for _, r in results:
        say("%-10s %s" % (r.host, r.state))
        for line in r.lines:
            say("           " + line)
    return FleetResult(tuple(HostResult(h, r.state, r.lines) for h, r in results))
