"""systemd: a unit started, stopped, restarted or reloaded, enabled or masked (Ansible's
`systemd`, also called `systemd_service`)."""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

from .. import facts
from . import _systemctl as systemctl
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, operand, settle
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    if facts.init_system() != "systemd":
        raise OpError("systemd: this host does not run systemd",
                      hint="use the service operation, which also drives init scripts")
    scope = scope_args(str(args["scope"]))
    reload_first = flag(args, "daemon_reload")
    changes: List[str] = []
    if flag(args, "daemon_reexec"):
        changes.append("daemon-reexec")
    if reload_first:
        changes.append("daemon-reload")
    name = args.get("name")
    if name is None:  # only daemon-reload / daemon-reexec
        return settle(ctx, changes, lambda: _daemon(args, scope))
    unit = systemctl.Unit(operand("systemd", "unit name", name), scope)
    masked = None if args.get("masked") is None else flag(args, "masked")
    enabled = None if args.get("enabled") is None else flag(args, "enabled")
    state = args.get("state")
    if not unit.exists and masked is not True:
        if (ctx.check and ctx.may_provide()) or reload_first:
            # A unit file written by an earlier task shows up after the daemon-reload.
            changes.append("%s %s" % (state or "configure", unit.name))
            return settle(ctx, changes, lambda: _apply_after_reload(args, scope, unit, state,
                                                                    enabled, masked))
        unit.require()
    if unit.masked and masked is not False and state in ("started", "restarted", "reloaded"):
        raise OpError("systemd: %s is masked and cannot be %s" % (unit.name, state),
                      hint="add masked: false to unmask it first")
    verbs = systemctl.plan_unit(unit, state, enabled, masked)
    if unit.needs_daemon_reload and not reload_first and verbs:
        # before acting on a unit whose file changed on disk; with nothing to do, nothing
        # changes (as Ansible's systemd, which never reloads unasked)
        changes.append("daemon-reload (the unit file changed on disk)")
        reload_first = True
    changes += ["%s %s" % (verb, unit.name) for verb in verbs]

    def apply() -> None:
        _daemon(args, scope, reload_first)
        for verb in verbs:
            unit.act(verb, no_block=flag(args, "no_block"))
    outcome = settle(ctx, changes, apply)
    # Ansible's result fields: the unit's name, its properties (as found), the state asked
    data = {"name": unit.name, "status": unit.status()}
    if state:
        data["state"] = "stopped" if state == "stopped" else "started"
    if enabled is not None:
        data["enabled"] = enabled
    outcome.data = dict(outcome.data or {}, **data)
    return outcome


def _daemon(args: Mapping[str, Any], scope: List[str], reload: Optional[bool] = None) -> None:
    if flag(args, "daemon_reexec"):
        systemctl.daemon_reexec(scope)
    if flag(args, "daemon_reload") if reload is None else reload:
        systemctl.daemon_reload(scope)


def _apply_after_reload(args: Mapping[str, Any], scope: List[str], unit: "systemctl.Unit",
                        state: Optional[str], enabled: Optional[bool],
                        masked: Optional[bool]) -> None:
    _daemon(args, scope, True)
    unit.refresh()
    if not unit.exists:
        raise MissingPrerequisite("Could not find the requested service %s: no such unit, "
                                  "even after daemon-reload" % unit.name,
                                  hint="is its unit file in /etc/systemd/system?")
    for verb in systemctl.plan_unit(unit, state, enabled, masked):
        unit.act(verb, no_block=flag(args, "no_block"))


def scope_args(scope: str) -> List[str]:
    return {"system": [], "user": ["--user"], "global": ["--global"]}[scope]


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    acts = [k for k in ("state", "enabled", "masked") if args.get(k) is not None]
    reloads = [k for k in ("daemon_reload", "daemon_reexec") if args.get(k)]
    if not args.get("name") and acts:
        return ("%s needs the unit's name" % ", ".join(acts), "add name: UNIT")
    if not args.get("name") and not reloads:
        return ("nothing to do without name or daemon_reload",
                "add name: UNIT with state/enabled/masked, or daemon_reload: true")
    if args.get("name") and not acts and not reloads:
        return ("nothing to do without state, enabled or masked",
                "add state: started, enabled: true or masked: false")
    return None


SPEC = OpSpec(
    name="systemd",
    summary="a systemd unit started, stopped, enabled, masked; daemon-reload",
    ansible="`systemd` (`systemd_service`)",
    aliases=("systemd_service",),
    args=(
        Arg("name", aliases=("service", "unit"), operand="unit name",
            doc="the unit, e.g. `nginx` or `backup.timer` (`.service` may be left out)"),
        Arg("state", choices=("started", "stopped", "restarted", "reloaded"),
            doc="running, not running, restarted now, reloaded now (started when it was not "
                "running)"),
        Arg("enabled", "bool", doc="started at boot or not"),
        Arg("masked", "bool", doc="masked (cannot be started at all) or not"),
        Arg("daemon_reload", "bool", default=False, aliases=("daemon-reload",),
            doc="run `systemctl daemon-reload` first, so changed unit files are read"),
        Arg("daemon_reexec", "bool", default=False, aliases=("daemon-reexec",),
            doc="run `systemctl daemon-reexec` first"),
        Arg("scope", default="system", choices=("system", "user", "global"),
            doc="the system manager, the calling user's (`--user`), or all users' (`--global`)"),
        Arg("no_block", "bool", default=False,
            doc="queue the start/stop without waiting for it to finish"),
        Arg("force", "bool", default=False, doc="accepted for Ansible compatibility"),
    ),
    rule=_rule,
    provides=False,  # acts on units that exist: never what a later step needs
    doc="""\
Drives one systemd unit with `systemctl`: Ansible's `systemd` (also `systemd_service`). The
unit's state is read with one `systemctl show` (load state, active state, unit-file state,
whether its file changed on disk), then only the verbs that are needed run, in this order: `unmask`, `enable` or
`disable`, `start`, `stop`, `restart` or `reload`, `mask`. `started` and `stopped` act only
when needed; `restarted` always acts, and so does `reloaded` (a unit that is not running is
started instead), which is why they belong in handlers. When the unit's file changed on disk
since systemd read it, `daemon-reload` runs first by itself (as if `daemon_reload: true` were
given), so a unit file a play has just written is the one that starts. When a start, restart
or reload fails, the step fails with systemd's verdict (`failed (failed), result exit-code`)
and the unit's last journal lines, as `systemctl status` would show them.
""",
    notes="""\
```yaml
- name: the app's unit file
  copy:
    src: app.service
    dest: /etc/systemd/system/app.service
  notify: restart app

- name: the app runs, now and at boot
  systemd:
    name: app
    state: started
    enabled: true
    daemon_reload: true

- name: no one starts the old daemon again
  systemd:
    name: legacyd
    state: stopped
    masked: true
```

Notes:

* On a host without systemd the step fails with a hint to use `service`, which also drives
  init scripts.
* A unit that does not exist fails with `Could not find the requested service NAME: no such unit` (Ansible's words); with
  `daemon_reload: true`, or in check mode once an earlier step would have changed something,
  it is assumed to come from an earlier task's unit file. In check mode with no such earlier
  step it fails, as a real run would (and as Ansible does).
* `enabled` counts units without an `[Install]` section (static, generated) as enabled, as
  `systemctl is-enabled` does; an `indirect` unit (enabled only through the units its `Also=`
  names), an `alias` and an `enabled-runtime` one count as not enabled, so `enabled: true`
  enables them for good (as Ansible's systemd does).
* Check mode reads the unit and lists the verbs, running none. No diff.
* Not journalled: a rollback of the role restores the unit file (written by `copy` or
  `template`) and runs the role's notified handlers, not `systemctl` verbs.
""",
)
