"""ping: the agent answers (Ansible's `ping`: a module that only proves it ran)."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, OpError, Outcome, accept, ok
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    said = args["data"]
    if said == "crash":  # Ansible's way of testing a module failure
        raise OpError("boom", hint="ping's data: crash makes it fail on purpose")
    outcome = ok(str(said))
    outcome.data = {"ping": said}
    return outcome


SPEC = OpSpec(
    name="ping",
    summary="the host's agent answers: nothing changes",
    ansible="`ping`",
    args=(
        Arg("data", "any", default="pong",
            doc="what the result's `ping` field says; `crash` makes the step fail"),
    ),
    doc="""\
Proves that a host is reached and its agent runs steps, as Ansible's `ping` (which, like this
one, is not an ICMP ping). Always `ok`; the result's `ping` is `data` (`pong`).
`mainsail ping` does the same for a whole selection from the command line, with timings.
""",
    notes="""\
```yaml
- name: the host answers
  ping:
```
""",
)
