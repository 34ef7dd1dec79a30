"""service_facts: every service the host knows, with its state, as Ansible's facts."""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping

from .. import proc
from ..core import Context, Outcome, accept, ok
from ..spec import OpSpec

INIT_D = "/etc/init.d"
SYSTEMD_RUNNING = "/run/systemd/system"  # present only when systemd is PID 1


def systemd_services() -> Dict[str, Dict[str, str]]:
    """From two systemctl listings: units (loaded, with their sub-state) and unit files
    (with their enablement); a service in both gets both."""
    services: Dict[str, Dict[str, str]] = {}
    units = proc.run(["systemctl", "list-units", "--type=service", "--all", "--plain",
                      "--no-legend", "--no-pager"], extra_env=proc.C_LOCALE)
    for line in units.stdout.splitlines():
        fields = line.split(None, 4)
        if len(fields) < 4 or not fields[0].endswith(".service"):
            continue
        name, load, active, sub = fields[:4]
        if load == "not-found":
            continue
        state = {"running": "running", "failed": "failed"}.get(sub, "stopped")
        if active == "failed":
            state = "failed"
        services[name] = {"name": name, "state": state, "status": "unknown",
                          "source": "systemd"}
    files = proc.run(["systemctl", "list-unit-files", "--type=service", "--no-legend",
                      "--no-pager"], extra_env=proc.C_LOCALE)
    for line in files.stdout.splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[0].endswith(".service"):
            continue
        entry = services.setdefault(fields[0], {"name": fields[0], "state": "stopped",
                                                "status": "unknown", "source": "systemd"})
        entry["status"] = fields[1]
    return services


def sysv_services() -> Dict[str, Dict[str, str]]:
    """A host without systemd: the init scripts; their state is not known without running
    each script (`service --status-all` does), so it is `unknown`, as Ansible reports it."""
    try:
        names = sorted(n for n in os.listdir(INIT_D) if not n.startswith((".", "README")))
    except OSError:
        names = []
    return dict((n, {"name": n, "state": "unknown", "status": "unknown", "source": "sysv"})
                for n in names)


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    accept(SPEC, args)
    services = systemd_services() if os.path.isdir(SYSTEMD_RUNNING) else sysv_services()
    outcome = ok("%d services" % len(services))
    outcome.data = {"ansible_facts": {"services": services}}
    return outcome


SPEC = OpSpec(
    name="service_facts",
    summary="every service the host knows, with its state, as Ansible's `services` fact",
    ansible="`service_facts`",
    args=(),
    doc="""\
Reads the host's services without changing anything (always `ok`): Ansible's
`service_facts`. With systemd as PID 1, two `systemctl` listings give each service unit its
`state` (`running`, `stopped`, `failed`) and `status` (its unit-file state: `enabled`,
`disabled`, `static`, `masked`, ...); without systemd, the scripts in `/etc/init.d` are
listed with state `unknown`. The result's `ansible_facts.services` maps each name
(`ssh.service`) to `name`, `state`, `status` and `source`.
""",
    notes="""\
```yaml
- name: what runs here
  service_facts:
```
""",
)
