"""service: a daemon running or not, enabled at boot or not.

systemd (systemctl) when /run/systemd/system exists; otherwise System V
init scripts in /etc/init.d with LSB status codes and rc?.d links.
"""
from __future__ import annotations

import glob
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import facts, proc
from . import _systemctl as systemctl
from ..core import Context, MissingPrerequisite, OpError, Outcome, as_bool, accept, operand, settle
from ..spec import Arg, OpSpec

INIT_D = "/etc/init.d"
RC_ROOT = "/etc"  # holds rc0.d .. rc6.d
BOOT_RUNLEVELS = "2345"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    name, state = operand("service", "service name", args["name"]), args.get("state")
    enabled = None if args.get("enabled") is None else as_bool(args["enabled"], "enabled")
    if not state and enabled is None:
        raise OpError("service: give state and/or enabled")
    use = str(args.get("use") or "auto")
    systemd = facts.init_system() == "systemd" if use == "auto" else use == "systemd"
    backend = Systemd() if systemd else SysV(args.get("pattern"),
                                              str(args.get("arguments") or ""))
    if args.get("daemon_reload") and systemd and not ctx.check:  # as Ansible's systemd
        systemctl.daemon_reload([])
    backend.require(name)
    actions = plan_actions(state, backend.is_running(name) if state in ("started", "stopped") else None)
    pause = float(args.get("sleep") or 0)
    if pause and actions == ["restart"]:  # Ansible's sleep: a stop, a pause, then a start
        actions = ["stop", "sleep %g" % pause, "start"]
    if enabled is not None and backend.is_enabled(name) != enabled:
        actions.append("enable" if enabled else "disable")

    def apply() -> None:
        for action in actions:
            if action.startswith("sleep "):
                time.sleep(pause)
                continue
            backend.act(name, action)
    outcome = settle(ctx, actions, apply)
    # Ansible's result fields: the wanted (or found) state afterwards
    outcome.data = {"name": name}
    if state:
        outcome.data["state"] = "stopped" if state == "stopped" else "started"
    if enabled is not None:
        outcome.data["enabled"] = enabled
    return outcome


def plan_actions(state: Optional[str], running: Optional[bool]) -> List[str]:
    """Which verbs reach the wanted state; restarted/reloaded always act."""
    if state == "started" and not running:
        return ["start"]
    if state == "stopped" and running:
        return ["stop"]
    if state == "restarted":
        return ["restart"]
    if state == "reloaded":
        return ["reload"]
    return []


def lsb_running(rc: int) -> bool:
    """LSB init script status: 0 means running, anything else (1-4) means not."""
    return rc == 0


class Systemd:
    """systemctl, through ops/_systemctl.py: one `systemctl show` per unit, daemon-reload
    when its unit file changed on disk, systemd's verdict and journal when it fails."""

    def __init__(self) -> None:
        self.units = {}  # type: Dict[str, systemctl.Unit]

    def unit(self, name: str) -> "systemctl.Unit":
        if name not in self.units:
            self.units[name] = systemctl.Unit(name)
        return self.units[name]

    def require(self, name: str) -> None:
        self.unit(name).require()

    def is_running(self, name: str) -> bool:
        return self.unit(name).running

    def is_enabled(self, name: str) -> bool:
        return self.unit(name).enabled

    def act(self, name: str, action: str) -> None:
        unit = self.unit(name)
        if unit.needs_daemon_reload:
            systemctl.daemon_reload()
            unit.refresh()
        unit.act(action)


class SysV:
    def __init__(self, pattern: Optional[str] = None, arguments: str = "") -> None:
        self.pattern = pattern  # running = a process whose command line holds it
        self.arguments = arguments.split()  # more words for the init script's actions

    def script(self, name: str) -> str:
        return os.path.join(INIT_D, name)

    def require(self, name: str) -> None:
        if "/" in name or not os.path.isfile(self.script(name)):
            raise MissingPrerequisite("Could not find the requested service %s: no init "
                                      "script %s" % (name, self.script(name)),
                          hint="is the package that provides %s installed?" % name)

    def is_running(self, name: str) -> bool:
        if self.pattern:
            return process_matching(self.pattern)
        return lsb_running(proc.run([self.script(name), "status"]).rc)

    def is_enabled(self, name: str) -> bool:
        return bool(rc_links(name, "S", BOOT_RUNLEVELS))

    def act(self, name: str, action: str) -> None:
        if action in ("enable", "disable"):
            self._set_enabled(name, action == "enable")
            return
        proc.check_output([self.script(name), action] + self.arguments,
                          "%s %s" % (self.script(name), action))
        if action == "restart" and not self.is_running(name):
            # Some init scripts' restart only stops (bookworm's supervisor): finish the job.
            proc.check_output([self.script(name), "start"], "%s start" % self.script(name))

    def _set_enabled(self, name: str, enabled: bool) -> None:
        if not rc_links(name, "SK", "0123456S"):
            # update-rc.d enable/disable only flips existing links: make them first
            proc.check_output(["update-rc.d", name, "defaults"])
        proc.check_output(["update-rc.d", name, "enable" if enabled else "disable"])


def process_matching(pattern: str) -> bool:
    """Whether a process's command line contains ``pattern`` (read from /proc, as `ps`)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                line = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if pattern in line:
            return True
    return False


def rc_links(name: str, kinds: str, runlevels: str) -> List[str]:
    """/etc/rcN.d/[SK]NNname links for the given kinds (S, K) and runlevels."""
    found: List[str] = []
    for level in runlevels:
        pattern = os.path.join(RC_ROOT, "rc%s.d" % level, "[%s][0-9][0-9]%s" % (kinds, glob.escape(name)))
        found.extend(glob.glob(pattern))
    return sorted(found)



def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("state") is None and args.get("enabled") is None:
        return "nothing to do without state or enabled", "add state: started or enabled: true"
    return None


SPEC = OpSpec(
    name='service',
    summary='a daemon running or stopped, enabled at boot or not',
    ansible='`service`',
    args=(
        Arg('name', aliases=('service',), doc='the systemd unit or init script name, e.g. `apache2`', operand='service name'),
        Arg('state', choices=('started', 'stopped', 'restarted', 'reloaded'), doc='running, not running, restarted now, configuration reloaded now'),
        Arg('enabled', 'bool', doc='started at boot or not'),
        Arg('sleep', 'int', doc='with `restarted`: seconds between the stop and the start'),
        Arg('pattern', doc='without systemd: running means a process whose command line '
                           'holds this text (for init scripts with no `status`)'),
        Arg('arguments', aliases=('args',),
            doc='without systemd: more words for the init script'),
        Arg('runlevel', doc="OpenRC's runlevel; accepted for Ansible's sake (Debian has none)"),
        Arg('daemon_reload', 'bool', aliases=('daemon-reload',),
            doc='with systemd: `systemctl daemon-reload` first (not counted as a change)'),
        Arg('use', choices=('auto', 'systemd', 'sysvinit', 'service'),
            doc='the service manager (`auto`: systemd when it runs, else init scripts)'),
    ),
    required=(('name',),),
    rule=_rule,
    defaults_from=('systemd',),  # Ansible applies the service manager's module's defaults
    provides=False,  # acts on services that exist: never what a later step needs
    doc="""\
Starts, stops, restarts or reloads a daemon and enables or disables it at boot. With systemd
(when `/run/systemd/system` exists) it uses `systemctl`: running is `systemctl is-active`,
enabled is `systemctl is-enabled`. Without systemd it uses the init script
`/etc/init.d/NAME`: running is its `status` action exiting 0 (LSB), enabled means start links
in `/etc/rc2.d` to `/etc/rc5.d`, changed with `update-rc.d`. `started` and `stopped` act only
when the daemon is not already so; `restarted` and `reloaded` always act and are always
`changed`, which is why they belong in handlers. The state is dealt with first, then
`enabled`. The message lists the actions (`start, enable`).
""",
    notes="""\
A task needs `state`, `enabled` or both.

```yaml
- name: postfix running and started at boot
  service:
    name: postfix
    state: started
    enabled: true

- name: no rsync daemon (the package ships one; nothing here uses it)
  service:
    name: rsync
    state: stopped
    enabled: false
```

And in `handlers/main.yml`:

```yaml
- name: reload apache
  service:
    name: apache2
    state: reloaded
```

Notes:

* A service that does not exist fails with `no such service: NAME (hint: is the package that
  provides it installed?)`, also with `state: stopped`; in check mode it is assumed to come with
  a package an earlier task installs, once an earlier step would have changed something (with
  none, check mode fails as a real run would, and as Ansible does). To be rid of a daemon for good, remove its package with
  `apt`.
* Check mode: the state is read and the actions listed, none is run. No diff.
* `enabled` follows `systemctl is-enabled`, which counts units without an `[Install]`
  section (static units) as enabled: they satisfy `enabled: true`, and `enabled: false`
  cannot turn them off. `indirect`, `alias` and `enabled-runtime` units count as not
  enabled, as in Ansible's systemd.
* Ansible differences: there is no `daemon_reload`; after changing a unit file, notify a
  handler running `command: systemctl daemon-reload`, defined before the handler that restarts
  the service (handlers run in the order they are defined). `pattern`, `arguments`, `sleep`
  and `runlevel` are not available.
""",
)
