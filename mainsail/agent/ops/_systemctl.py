"""systemd units, read and changed through systemctl: shared by the service and systemd ops.

A unit's state is read with one ``systemctl show`` (one process, every property the ops
need). Acting on a unit whose file changed on disk runs ``daemon-reload`` first, so a unit
file a play just wrote is the one that starts. When a unit fails to start or reload, the
error carries systemd's own verdict (active state, sub-state, result) and the unit's last
journal lines: what ``systemctl status`` would have shown.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from .. import proc
from ..core import MissingPrerequisite, OpError

PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState",
              "NeedDaemonReload", "Result", "MainPID")
# The unit-file states counted as enabled: those `systemctl is-enabled` counts (exit status
# 0) but enabled-runtime (enabled until reboot only) and alias, which `enabled: true`
# enables for good, as Ansible's systemd does; indirect: see Unit.enabled.
ENABLED_STATES = frozenset({"enabled", "static", "generated", "transient", "linked",
                            "linked-runtime"})
MASKED_STATES = frozenset({"masked", "masked-runtime"})
RUNNING_STATES = frozenset({"active", "activating", "reloading"})
JOURNAL_LINES = 10


def parse_show(text: str) -> Dict[str, str]:
    """``systemctl show -p A -p B`` output: KEY=value lines."""
    found: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value.strip()
    return found


class Unit:
    """One unit on this host, as systemd sees it now."""

    def __init__(self, name: str, scope_args: Optional[List[str]] = None) -> None:
        self.name = name
        self.scope = list(scope_args or [])
        self.props: Dict[str, str] = {}
        self.refresh()

    def systemctl(self, *args: str) -> List[str]:
        return ["systemctl"] + self.scope + list(args)

    def refresh(self) -> None:
        argv = self.systemctl("show", *[a for p in PROPERTIES for a in ("-p", p)], "--",
                              self.name)
        result = proc.run(argv, extra_env=proc.C_LOCALE)
        if result.rc != 0:
            raise result.failure("systemctl show %s" % self.name,
                                 hint="is systemd running on this host?")
        self.props = parse_show(result.stdout)

    @property
    def exists(self) -> bool:
        return self.props.get("LoadState") not in ("not-found", "", None) or self.masked

    @property
    def masked(self) -> bool:
        return (self.props.get("LoadState") == "masked"
                or self.props.get("UnitFileState") in MASKED_STATES)

    @property
    def running(self) -> bool:
        return self.props.get("ActiveState") in RUNNING_STATES

    @property
    def enabled(self) -> bool:
        state = self.props.get("UnitFileState")
        if state == "indirect":  # enabled once what its Also= names is installed
            return bool(self.installed_through())
        return state in ENABLED_STATES

    def installed_through(self) -> List[str]:
        """The symlinks that install an indirect unit (``is-enabled --full`` lists them
        under the state; Ansible counts the unit as enabled when there are any)."""
        result = proc.run(self.systemctl("is-enabled", "--full", "--", self.name),
                          extra_env=proc.C_LOCALE)
        return [line.strip() for line in result.stdout.splitlines()[1:] if line.strip()]

    @property
    def needs_daemon_reload(self) -> bool:
        return self.props.get("NeedDaemonReload") == "yes"

    def require(self) -> None:
        if not self.exists:
            raise MissingPrerequisite("Could not find the requested service %s: no such "
                                      "systemd unit" % self.name,
                                      hint="is the package that provides it installed, or "
                                           "its unit file written by an earlier task?")

    def status(self) -> Dict[str, str]:
        """The properties Ansible's systemd module returns under ``status``."""
        return dict(self.props)

    def act(self, action: str, no_block: bool = False) -> None:
        """systemctl ACTION UNIT; a failed start, restart or reload says why."""
        argv = self.systemctl(action, *(["--no-block"] if no_block else []), "--", self.name)
        result = proc.run(argv, extra_env=proc.C_LOCALE)
        if result.rc == 0:
            return
        if action in ("start", "restart", "reload", "reload-or-restart"):
            raise self.failed(action, result)
        raise result.failure("systemctl %s %s" % (action, self.name), hint=self.verdict())

    def failed(self, action: str, result: "proc.Proc") -> OpError:
        verdict = self.verdict()
        journal = self.journal_tail()
        msg = "systemctl %s %s failed (rc %d): %s" % (action, self.name, result.rc, verdict)
        if journal:
            msg += "\nlast journal lines:\n" + journal
        return OpError(msg, hint="systemctl status %s; journalctl -u %s" % (self.name, self.name),
                       cmd=result.cmd, rc=result.rc, stdout=result.stdout,
                       stderr=(result.stderr + ("\n" + journal if journal else "")).strip())

    def verdict(self) -> str:
        try:
            self.refresh()
        except OpError:
            return "state unknown"
        return "%s (%s), result %s" % (self.props.get("ActiveState", "?"),
                                       self.props.get("SubState", "?"),
                                       self.props.get("Result", "?"))

    def journal_tail(self, lines: int = JOURNAL_LINES) -> str:
        result = proc.run(["journalctl", "--no-pager", "-q", "-o", "short-monotonic", "-n",
                           str(lines), "-u", self.name], extra_env=proc.C_LOCALE)
        return result.stdout.strip() if result.rc == 0 else ""


def daemon_reload(scope_args: Optional[List[str]] = None) -> None:
    result = proc.run(["systemctl"] + list(scope_args or []) + ["daemon-reload"],
                      extra_env=proc.C_LOCALE)
    if result.rc != 0:
        raise result.failure("systemctl daemon-reload")


def daemon_reexec(scope_args: Optional[List[str]] = None) -> None:
    result = proc.run(["systemctl"] + list(scope_args or []) + ["daemon-reexec"],
                      extra_env=proc.C_LOCALE)
    if result.rc != 0:
        raise result.failure("systemctl daemon-reexec")


def plan_unit(unit: Unit, state: Optional[str], enabled: Optional[bool],
              masked: Optional[bool]) -> List[str]:
    """The systemctl verbs that bring the unit where it is asked to be, in order: unmask
    before anything else, mask last; restarted and reloaded always act."""
    actions: List[str] = []
    if masked is False and unit.masked:
        actions.append("unmask")
    if enabled is not None and (masked is not True) and unit.enabled != enabled:
        actions.append("enable" if enabled else "disable")
    running = unit.running
    if state == "started" and not running:
        actions.append("start")
    elif state == "stopped" and running:
        actions.append("stop")
    elif state == "restarted":
        actions.append("restart")
    elif state == "reloaded":
        actions.append("reload" if running else "start")
    if masked is True and not unit.masked:
        actions.append("mask")
    return actions
