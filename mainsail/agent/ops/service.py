"""service: a daemon running or not, enabled at boot or not.

systemd (systemctl) when /run/systemd/system exists; otherwise System V
init scripts in /etc/init.d with LSB status codes and rc?.d links.
"""
from __future__ import annotations

import glob
import os
from typing import Any, Dict, List, Mapping, Optional

from .. import facts, proc, systemctl
from ..core import Context, MissingPrerequisite, OpError, Outcome, as_bool, check_args, operand, settle

ALLOWED = ("name", "state", "enabled")
STATES = ("started", "stopped", "restarted", "reloaded")
INIT_D = "/etc/init.d"
RC_ROOT = "/etc"  # holds rc0.d .. rc6.d
BOOT_RUNLEVELS = "2345"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("service", args, ALLOWED, ["name"])
    name, state = operand("service", "service name", args["name"]), args.get("state")
    if state not in (None, "") + STATES:
        raise OpError("service: state must be one of %s, got %r" % (", ".join(STATES), state))
    enabled = None if args.get("enabled") is None else as_bool(args["enabled"], "enabled")
    if not state and enabled is None:
        raise OpError("service: give state and/or enabled")
    backend = Systemd() if facts.init_system() == "systemd" else SysV()
    backend.require(name)
    actions = plan_actions(state, backend.is_running(name) if state in ("started", "stopped") else None)
    if enabled is not None and backend.is_enabled(name) != enabled:
        actions.append("enable" if enabled else "disable")

    def apply() -> None:
        for action in actions:
            backend.act(name, action)
    return settle(ctx, actions, apply)


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
    """systemctl, through agent/systemctl.py: one `systemctl show` per unit, daemon-reload
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
    def script(self, name: str) -> str:
        return os.path.join(INIT_D, name)

    def require(self, name: str) -> None:
        if "/" in name or not os.path.isfile(self.script(name)):
            raise MissingPrerequisite("no init script %s" % self.script(name),
                          hint="is the package that provides %s installed?" % name)

    def is_running(self, name: str) -> bool:
        return lsb_running(proc.run([self.script(name), "status"]).rc)

    def is_enabled(self, name: str) -> bool:
        return bool(rc_links(name, "S", BOOT_RUNLEVELS))

    def act(self, name: str, action: str) -> None:
        if action in ("enable", "disable"):
            self._set_enabled(name, action == "enable")
            return
        proc.check_output([self.script(name), action], "%s %s" % (self.script(name), action))
        if action == "restart" and not self.is_running(name):
            # Some init scripts' restart only stops (bookworm's supervisor): finish the job.
            proc.check_output([self.script(name), "start"], "%s start" % self.script(name))

    def _set_enabled(self, name: str, enabled: bool) -> None:
        if not rc_links(name, "SK", "0123456S"):
            # update-rc.d enable/disable only flips existing links: make them first
            proc.check_output(["update-rc.d", name, "defaults"])
        proc.check_output(["update-rc.d", name, "enable" if enabled else "disable"])


def rc_links(name: str, kinds: str, runlevels: str) -> List[str]:
    """/etc/rcN.d/[SK]NNname links for the given kinds (S, K) and runlevels."""
    found: List[str] = []
    for level in runlevels:
        pattern = os.path.join(RC_ROOT, "rc%s.d" % level, "[%s][0-9][0-9]%s" % (kinds, glob.escape(name)))
        found.extend(glob.glob(pattern))
    return sorted(found)
