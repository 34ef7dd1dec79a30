"""supervisor: a [program:NAME] in supervisord, and whether it runs.

The config file is written atomically; when it changed, supervisord is told
with `reread` and `update NAME` (only this group: other programs keep running).
Then the program is brought to the wanted state via status/start/stop/restart.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, Mapping, Optional

from .. import fileio, journal, proc, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, check_args, operand, settle

SUPERVISORCTL = "supervisorctl"
STATES = ("present", "started", "stopped", "restarted", "absent")
# keys written to the config, in this order
PROGRAM_KEYS = ("command", "user", "directory", "environment", "autostart", "autorestart",
                "startsecs", "stopsignal", "stdout_logfile", "stderr_logfile")
ALLOWED = ("name", "state", "config_dir") + PROGRAM_KEYS
RUNNING = ("RUNNING", "STARTING", "BACKOFF")
NOT_RUNNING_HINT = "Is supervisord running? (service supervisor start)"
# what supervisorctl prints when it cannot reach supervisord's socket
NO_DAEMON_SIGNS = ("refused connection", "connection refused", "shutdown_state",
                   "socket.error")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("supervisor", args, ALLOWED, ["name"])
    name = operand("supervisor", "program name", args["name"])
    if not NAME_RE.match(name):
        raise OpError("supervisor: program name %r may only use letters, digits, _ . -" % name)
    state = args.get("state") or "started"
    if state not in STATES:
        raise OpError("supervisor: state must be one of %s, got %r" % (", ".join(STATES), state))
    conf = os.path.join(str(args.get("config_dir") or "/etc/supervisor/conf.d"), name + ".conf")
    if state == "absent":
        return _absent(ctx, name, conf)
    return _present(ctx, name, conf, state, args)


# ---- config and status text (pure) -----------------------------------------

def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif key == "environment":
        text = format_environment(value)
    else:
        text = str(value)
    if "\n" in text or "\r" in text:
        raise OpError("supervisor: %s must be a single line" % key)
    return text


def format_environment(env: Any) -> str:
    """KEY="value",... as supervisord parses it (quotes and backslashes escaped)."""
    if not isinstance(env, Mapping):
        raise OpError("supervisor: environment must be a mapping")
    items = []
    for key, value in sorted(env.items()):
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(key)):
            raise OpError("supervisor: bad environment name %r" % key)
        text = "" if value is None else str(value)
        items.append('%s="%s"' % (key, text.replace("\\", "\\\\").replace('"', '\\"')))
    return ",".join(items)


def render_config(name: str, args: Mapping[str, Any]) -> str:
    """The [program:NAME] section. Values are written as given: supervisord's own
    %(...)s expansion applies, so a literal percent sign is written %%."""
    lines = ["; managed by mainsail: changes here are overwritten", "[program:%s]" % name]
    for key in PROGRAM_KEYS:
        if args.get(key) is not None:
            lines.append("%s=%s" % (key, _value(key, args[key])))
    return "\n".join(lines) + "\n"


def parse_status(text: str, name: str) -> Optional[str]:
    """The state word (RUNNING, STOPPED, ...) of name in `supervisorctl status` output;
    None when supervisord does not know the program."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (name, "%s:%s" % (name, name)):
            return parts[1] if parts[1].isupper() and parts[1].isalpha() else None
    return None


def daemon_unreachable(text: str) -> bool:
    """True for supervisorctl's "cannot reach the socket" messages, e.g.
    'unix:///var/run/supervisor.sock no such file' or '... refused connection'."""
    for line in text.lower().splitlines():
        if any(sign in line for sign in NO_DAEMON_SIGNS):
            return True
        if "no such file" in line and ("unix://" in line or "socket" in line):
            return True
    return False


# ---- talking to supervisord -------------------------------------------------

def ctl(*args: str, allow_fail: bool = False) -> proc.Proc:
    result = proc.run([SUPERVISORCTL] + list(args), extra_env=proc.C_LOCALE)
    if result.rc == 127:
        raise MissingPrerequisite("supervisorctl not found", hint="install the supervisor package first")
    if daemon_unreachable(result.stdout + "\n" + result.stderr):
        raise MissingPrerequisite("supervisorctl cannot talk to supervisord: %s" % result.tail(2),
                      hint=NOT_RUNNING_HINT, cmd=result.cmd, rc=result.rc,
                      stdout=result.stdout, stderr=result.stderr)
    if result.rc != 0 and not allow_fail:
        raise result.failure()
    return result


def status(name: str) -> Optional[str]:
    # status exits non-zero for anything not RUNNING: the text is what counts
    return parse_status(ctl("status", name, allow_fail=True).stdout, name)


def wanted_action(state: str, current: Optional[str]) -> Optional[str]:
    if state == "started" and current not in RUNNING:
        return "start"
    if state == "stopped" and current in RUNNING:
        return "stop"
    if state == "restarted":
        return "restart"
    return None


# ---- deciding and applying --------------------------------------------------

def _present(ctx: Context, name: str, conf: str, state: str, args: Mapping[str, Any]) -> Outcome:
    old = fileio.read_file(conf)
    if old is None and not args.get("command"):
        # An earlier task of the same run may write the program's config: in check mode that
        # is "would change", in a real run a clear failure.
        raise MissingPrerequisite("supervisor: program %s is not configured and no command "
                                  "was given to create it" % name,
                                  hint="give command:, or configure the program first")
    # Without a command the task only drives the state of a program configured elsewhere
    # (a handler's `state: restarted`, say): its config is left as it is.
    new = render_config(name, args).encode("utf-8") if args.get("command") else old
    changes = [] if old == new else ["config %s" % ("written" if old is None else "updated")]
    current = status(name)
    action = wanted_action(state, current)
    if action:
        changes.append(action)
    diff = fileio.unified_diff(old, new, conf) if ctx.diff else ""

    def apply() -> None:
        if old != new:
            fileio.atomic_write(conf, new, mode="0644")
            ctl("reread")
            ctl("update", name)
        # update may itself have started or restarted the program: look again
        final = wanted_action(state, status(name)) if old != new else action
        if final and not (final == "restart" and old != new):
            ctl(final, name)
    return settle(ctx, changes, apply, diff)


def _absent(ctx: Context, name: str, conf: str) -> Outcome:
    old = fileio.read_file(conf)
    if old is None:
        return settle(ctx, [], lambda: None)

    def apply() -> None:
        journal.save(conf)
        safepath.remove(conf)
        ctl("reread")
        ctl("update", name)  # removes the group, stopping its processes
    return settle(ctx, ["program removed"], apply, fileio.unified_diff(old, None, conf))


def status_table(text: str) -> Dict[str, str]:
    """All programs' states from `supervisorctl status` output (for reports and tests)."""
    out: Dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isupper() and parts[1].isalpha():
            out[parts[0]] = parts[1]
    return out
