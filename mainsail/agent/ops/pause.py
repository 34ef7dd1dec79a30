"""pause: wait a number of seconds or minutes (Ansible's `pause`, without a prompt)."""
from __future__ import annotations

import datetime
import time
from typing import Any, Mapping, Optional, Tuple

from ..core import Context, OpError, Outcome, accept, ok
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("pause: %s" % problem[0], hint=problem[1])
    seconds = float(args.get("seconds") or 0) + 60 * float(args.get("minutes") or 0)
    start = datetime.datetime.now()
    time.sleep(seconds)
    stop = datetime.datetime.now()
    outcome = ok("paused %gs" % seconds)
    outcome.data = {"start": str(start), "stop": str(stop), "delta": int(seconds),
                    "user_input": "", "echo": True}
    return outcome


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("prompt") not in (None, ""):
        return "prompt is not supported: a run never waits for someone at a keyboard", \
            "give seconds or minutes, or drop the task"
    if args.get("seconds") is None and args.get("minutes") is None:
        return "give seconds or minutes", "waiting for a key press is not supported"
    if args.get("seconds") is not None and args.get("minutes") is not None:
        return "give seconds or minutes, not both", "keep one"
    for key in ("seconds", "minutes"):
        if args.get(key) is not None and float(args[key]) < 0:
            return "%s must not be negative" % key, "e.g. seconds: 10"
    return None


SPEC = OpSpec(
    name="pause",
    summary="wait a number of seconds or minutes",
    ansible="`pause`",
    args=(
        Arg("seconds", "float", doc="how long to wait"),
        Arg("minutes", "float", doc="how long to wait, in minutes"),
        Arg("prompt", doc="refused: a run never waits for a key press"),
        Arg("echo", "bool", default=True, doc="accepted for Ansible's tasks; nothing is typed"),
    ),
    rule=_rule,
    doc="""\
Waits `seconds` (or `minutes`) on each host, then carries on: Ansible's `pause`. It changes
nothing (`ok`, in check mode too). `prompt`, and a pause with no duration, which wait for
someone at a keyboard, are refused when the playbook loads. The result has Ansible's `start`,
`stop`, `delta` and an empty `user_input`.
""",
    notes="""\
```yaml
- name: let the cluster settle
  pause:
    seconds: 10
```
""",
)
