"""expect: refused, with the reason, when the step is reached (Ansible's `expect`)."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, OpError, Outcome
from ..spec import Arg, OpSpec

WHY = ("expect is not supported: a run does not answer a program's prompts, and an answer "
       "given blindly to the wrong question can do harm")
HINT = "use the program's non-interactive options, or command with stdin"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    raise OpError("expect: " + WHY, hint=HINT)


SPEC = OpSpec(
    name="expect",
    summary="refused: answering a program's prompts",
    ansible="`expect`",
    args=(
        Arg("command", doc="the program Ansible would run"),
        # any value: Ansible's mapping must load, so that the step's refusal says why
        Arg("responses", "any", doc="Ansible's question -> answer mapping"),
        Arg("chdir", doc="the folder it would run in"),
        Arg("creates", doc="skip it when this path exists"),
        Arg("removes", doc="skip it when this path does not exist"),
        Arg("echo", "bool", doc="show the answers"),
        Arg("timeout", "int", doc="seconds to wait for each prompt"),
    ),
    doc="""\
Ansible's `expect` is recognised so that a playbook using it loads (a task that `when:` skips
is simply skipped) and the refusal names the task: an `expect` step that is reached fails, with
the reason and a hint, and nothing is run. Most programs that prompt have options or an input
file for unattended use; `command` with `stdin` feeds fixed input.
""",
    notes="""\
```yaml
- name: refused when reached (this is the task the error names)
  expect:
    command: passwd deploy
  when: false
```
""",
)
