"""raw: a command line run as it is, with no module behind it.

At the head of a play, raw steps run before the agent exists, over the SSH session itself
(mainsail/prelude.py): that is how a play puts python3 on a bare host. Later in a play the
agent runs them, through the same shell.
"""
from __future__ import annotations

import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import proc
from ..core import CHANGED, FAILED, SKIPPED, Context, Outcome, accept
from ..spec import Arg, OpSpec

NON_ZERO = "non-zero return code"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    if ctx.check:
        return Outcome(SKIPPED, "raw is not run in check mode")
    start = datetime.datetime.now()
    result = proc.run(argv(args))
    return outcome(str(args["cmd"]), result.rc, result.stdout, result.stderr, start)


def parts(args: Mapping[str, Any]) -> Tuple[str, Optional[str]]:
    """(the command line, the shell asked for or None)."""
    executable = args.get("executable")
    return str(args["cmd"]), str(executable) if executable else None


def argv(args: Mapping[str, Any]) -> List[str]:
    """The shell that runs it: ``executable -c CMD``, or /bin/sh (what sshd's login shell
    does with a command line)."""
    return [str(args.get("executable") or "/bin/sh"), "-c", str(args["cmd"])]


def outcome(cmd: str, rc: int, stdout: str, stderr: str, start: datetime.datetime) -> Outcome:
    """Ansible's raw result: always changed when it ran; failed on a non-zero exit."""
    end = datetime.datetime.now()
    status = CHANGED if rc == 0 else FAILED
    result = Outcome(status, "" if rc == 0 else NON_ZERO, rc=rc, stdout=stdout, stderr=stderr,
                     cmd=cmd)
    data: Dict[str, Any] = {"stdout_lines": stdout.splitlines(),
                            "stderr_lines": stderr.splitlines(), "start": str(start),
                            "end": str(end), "delta": str(end - start)}
    result.data = data
    return result


SPEC = OpSpec(
    name="raw",
    summary="a command line run over the SSH session, before Python exists on the host",
    ansible="`raw`",
    args=(
        Arg("cmd", doc="the command line, run by the login shell (or `executable`)"),
        Arg("executable", doc="the shell to run it with, as `EXECUTABLE -c CMD` "
                              "(absolute path, e.g. `/bin/bash`)"),
    ),
    required=(("cmd",),),
    free_form="cmd",
    free_form_options=("executable",),
    doc="""\
Runs a command line as it is: Ansible's `raw`. Raw steps at the head of a play (before any
role and any other task, [`wait_for_connection`](#wait_for_connection) aside) run on the
controller over the host's SSH connection, before the agent starts: the host needs no
python3, so such a play can install it. With `become`, the command runs under
`sudo -H -u USER -- /bin/sh -c CMD` (sudo's password given on the channel when the host has a
`become_password`). Later in a play the agent runs raw steps through `/bin/sh -c`. A raw
step is `changed` whenever it runs and `failed` when it exits non-zero, unless
`changed_when`/`failed_when` say otherwise; the result has `rc`, `stdout`, `stdout_lines`,
`stderr`, `stderr_lines`. Skipped in check mode, as in Ansible.
""",
    notes="""\
```yaml
- name: python3 for the agent (the first task of the play)
  raw: test -e /usr/bin/python3 || (apt-get update && apt-get install -y python3)
  become: true
  register: bootstrap
  changed_when: "'Setting up python3' in stdout"

- name: a command line for bash
  raw: executable=/bin/bash set -o pipefail; dmesg | tail -n 5
```

Notes:

* The head of a play runs before the host's facts are known (they come from the agent): its
  raw tasks may use inventory and play variables, not facts. Their registered results are
  there for the rest of the play. Handlers they notify are not run.
* The head's steps count for the first play a host is in, in a play without roles; a raw
  step anywhere else runs through the agent, which needs python3 by then.
* `environment`, `chdir` and `creates` are not raw's (as in Ansible); use `command`/`shell`
  once the host has python3.
""",
)
