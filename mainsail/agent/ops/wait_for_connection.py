"""wait_for_connection: the host answers over its connection (the agent running is the proof).

At the head of a play (before any task that needs the agent) the controller itself waits:
it retries the SSH connection until the host answers or ``timeout`` passes (runner.py). Later
in a play the agent is already answering; the step then only waits ``delay``.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, NamedTuple

from ..core import SKIPPED, Context, Outcome, accept, ok
from ..spec import Arg, OpSpec


class Waiting(NamedTuple):
    """How the controller waits for a connection, in seconds."""

    delay: float
    sleep: float
    timeout: float
    connect_timeout: float


def waiting(args: Mapping[str, Any]) -> Waiting:
    """The step's arguments (defaults filled in) as the controller's waiting plan."""
    full = SPEC.with_defaults(args)
    return Waiting(float(full["delay"]), float(full["sleep"]), float(full["timeout"]),
                   float(full["connect_timeout"]))


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    if ctx.check:
        return Outcome(SKIPPED, "not waited for in check mode")
    started = time.monotonic()
    time.sleep(float(args["delay"]))
    elapsed = time.monotonic() - started
    outcome = ok("the host answers (after %.1fs)" % elapsed)
    outcome.data = {"elapsed": int(elapsed)}
    return outcome


SPEC = OpSpec(
    name="wait_for_connection",
    summary="wait until the host answers over its connection",
    ansible="`wait_for_connection`",
    args=(
        Arg("delay", "int", default=0, doc="seconds to wait before the first try"),
        Arg("sleep", "int", default=1, doc="seconds between tries"),
        Arg("timeout", "int", default=600, doc="seconds before the step fails"),
        Arg("connect_timeout", "int", default=5, doc="seconds one connection attempt may take"),
    ),
    doc="""\
Waits until the host can be reached and runs Mainsail's agent: Ansible's
`wait_for_connection`. At the head of a play (it and [`raw`](#raw) steps before any other
task), the controller waits for it before starting the agent: after `delay` it tries to
connect every `sleep` seconds, each try bounded by `connect_timeout`, and fails the host
after `timeout` seconds. Later in a play the agent already answers, so the step only waits
`delay` seconds. Always `ok`; the result has Ansible's `elapsed`. Skipped in check mode, as
in Ansible.
""",
    notes="""\
```yaml
- name: the freshly booted machine answers
  wait_for_connection:
    delay: 5
    timeout: 300
```
""",
)
