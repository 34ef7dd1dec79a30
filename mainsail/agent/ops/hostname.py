"""hostname: the host's name, in /etc/hostname and in the running kernel."""
from __future__ import annotations

import re
import socket
from typing import Any, Mapping, Optional, Tuple

from .. import fileio, proc
from ..core import Context, OpError, Outcome, accept, settle
from ..spec import Arg, OpSpec

HOSTNAME_FILE = "/etc/hostname"
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9\-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,62}))*$")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("hostname: %s" % problem[0], hint=problem[1])
    name = str(args["name"])
    target = fileio.write_target(HOSTNAME_FILE)
    before = fileio.read_file(target)
    new = (name + "\n").encode()
    changes = []
    file_differs = (before or b"").strip() != new.strip()
    if file_differs:
        changes.append("%s says %s" % (HOSTNAME_FILE, name))
    running = socket.gethostname()
    if running != name:
        changes.append("running name %s -> %s" % (running, name))

    def apply() -> None:
        if file_differs:
            fileio.atomic_write(target, new, "0644" if before is None else None,
                                journal=ctx.journal)
        if running != name:
            result = proc.run(["hostname", "--", name])
            if result.rc != 0:
                raise OpError("hostname: setting the running name failed (rc %d): %s"
                              % (result.rc, result.stderr.strip()[-300:]),
                              hint="a container may not be allowed to change it")
    diff = fileio.unified_diff(before, new, HOSTNAME_FILE) if ctx.diff and file_differs else ""
    outcome = settle(ctx, changes, apply, diff)
    short, _, domain = name.partition(".")
    outcome.data = {"name": name, "ansible_facts": {
        "ansible_hostname": short, "ansible_nodename": name, "ansible_fqdn": name,
        "ansible_domain": domain}}
    return outcome


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    name = str(args.get("name") or "")
    if len(name) > 253 or not _NAME.match(name):
        return "%r is not a host name" % name, \
            "letters, digits and '-', dot-separated labels of at most 63 characters"
    if args.get("use") not in (None, "", "systemd", "debian", "generic"):
        return "use: %s is not supported" % args["use"], \
            "this host's name is kept in /etc/hostname (use: systemd, debian or generic)"
    return None


SPEC = OpSpec(
    name="hostname",
    summary="the host's name, in /etc/hostname and the running kernel",
    ansible="`hostname`",
    args=(
        Arg("name", doc="the new name (short, or fully qualified)"),
        Arg("use", doc="Ansible's strategy: `systemd`, `debian` or `generic` are accepted and "
                       "all mean /etc/hostname and `hostname NAME`"),
    ),
    required=(("name",),),
    rule=_rule,
    journalled=True,
    doc="""\
Sets the host's name: Ansible's `hostname`. `/etc/hostname` is written (atomically,
journalled) when it says something else, and the running name is set with `hostname NAME`
when it differs. The step is `changed` when either had to change. The result's
`ansible_facts` has the new `ansible_hostname`, `ansible_nodename`, `ansible_fqdn` and
`ansible_domain`. A rollback restores the file, not the running name.
""",
    notes="""\
```yaml
- name: the mail host's name
  hostname:
    name: mail1.example.org
```

Notes:

* `/etc/hosts` is not changed: add the name there with `lineinfile` when needed.
""",
)
