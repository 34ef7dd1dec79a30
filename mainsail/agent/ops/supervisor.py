"""supervisor: a [program:NAME] in supervisord, and whether it runs.

The config file is written atomically; when it changed, supervisord is told
with `reread` and `update NAME` (only this group: other programs keep running).
Then the program is brought to the wanted state via status/start/stop/restart.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, Mapping, Optional, Tuple

from .. import fileio, proc, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, operand, settle
from ..spec import Arg, OpSpec

SUPERVISORCTL = "supervisorctl"
# keys written to the config, in this order
PROGRAM_KEYS = ("command", "user", "directory", "environment", "autostart", "autorestart",
                "startsecs", "stopsignal", "stdout_logfile", "stderr_logfile")
RUNNING = ("RUNNING", "STARTING", "BACKOFF")
NOT_RUNNING_HINT = "Is supervisord running? (service supervisor start)"
# what supervisorctl prints when it cannot reach supervisord's socket
NO_DAEMON_SIGNS = ("refused connection", "connection refused", "shutdown_state",
                   "socket.error")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    name = operand("supervisor", "program name", args["name"])
    if not NAME_RE.match(name):
        raise OpError("supervisor: program name %r may only use letters, digits, _ . -" % name)
    state = args["state"]
    conf = os.path.join(str(args["config_dir"]), name + ".conf")
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
            fileio.atomic_write(conf, new, mode="0644", journal=ctx.journal)
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
        ctx.keep(conf)
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



def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    # Without command a task only drives the state of an already configured program
    # (e.g. a handler's state: restarted); declaring one needs its command.
    if args.get("state") == "present" and not args.get("command"):
        return "state: present needs command", "add command: the program to run"
    return None


SPEC = OpSpec(
    name='supervisor',
    summary='a supervisord program, configured and running',
    ansible='`supervisorctl` (and the config file)',
    args=(
        Arg('name', doc='the program name: letters, digits, `_`, `.`, `-`', operand='program name'),
        Arg('command', doc='the program and its arguments (needed to create the program, and with `state: present`)'),
        Arg('user', doc='the user it runs as'),
        Arg('directory', doc='the folder it starts in'),
        Arg('environment', 'variables', doc='extra environment variables'),
        Arg('autostart', 'bool', doc="start it when supervisord starts (supervisord's default: yes)"),
        Arg('autorestart', 'restart', doc='restart it when it exits: always, never, on an unexpected exit code'),
        Arg('startsecs', 'int', doc='seconds it must stay up to count as started'),
        Arg('stopsignal', choices=('TERM', 'HUP', 'INT', 'QUIT', 'KILL', 'USR1', 'USR2'), doc='the signal that stops it'),
        Arg('stdout_logfile', doc='where its standard output goes'),
        Arg('stderr_logfile', doc='where its standard error goes'),
        Arg('state', default='started', choices=('present', 'started', 'stopped', 'restarted', 'absent'), doc='configured; and running; and stopped; restarted now; removed'),
        Arg('config_dir', 'abspath', default='/etc/supervisor/conf.d', doc="the folder of supervisord's program files"),
    ),
    required=(('name',),),
    rule=_rule,
    journalled=True,
    doc="""\
Runs a long-lived program under supervisord: writes its `[program:NAME]` section to
`CONFIG_DIR/NAME.conf` and brings it to the wanted state with `supervisorctl`. The file holds
the given keys, in a fixed order, under a "managed by mainsail" comment. When the file's text
changes it is written atomically (mode `0644`) and supervisord is told with
`supervisorctl reread` and `supervisorctl update NAME`, which adds, changes or restarts only
this program; other programs keep running. Then `supervisorctl status NAME` decides: `started`
starts a program that is not `RUNNING`, `STARTING` or `BACKOFF`, `stopped` stops one that is,
`restarted` always restarts (unless the update just did), `present` leaves it as supervisord
has it. `state: absent` removes the file and updates supervisord, which stops the program.

Without `command`, a task only drives the state of a program whose file is already in
`config_dir` and leaves the file alone: that is how a handler restarts a program.
""",
    notes="""\
```yaml
- name: guestbook mail worker
  supervisor:
    name: guestbook-worker
    command: /srv/guestbook/current/bin/worker --queue mail
    directory: /srv/guestbook/current
    user: www-data
    environment:
      GUESTBOOK_ENV: production
      GUESTBOOK_DATA: /srv/guestbook/shared/data
    autorestart: unexpected
    startsecs: 5
    stopsignal: TERM
    stdout_logfile: /var/log/guestbook/worker.log
    stderr_logfile: /var/log/guestbook/worker.err

- name: restart guestbook worker   # a handler
  supervisor:
    name: guestbook-worker
    state: restarted
```

The first task writes `/etc/supervisor/conf.d/guestbook-worker.conf`:

```ini
; managed by mainsail: changes here are overwritten
[program:guestbook-worker]
command=/srv/guestbook/current/bin/worker --queue mail
user=www-data
directory=/srv/guestbook/current
environment=GUESTBOOK_DATA="/srv/guestbook/shared/data",GUESTBOOK_ENV="production"
autorestart=unexpected
startsecs=5
stopsignal=TERM
stdout_logfile=/var/log/guestbook/worker.log
stderr_logfile=/var/log/guestbook/worker.err
```

Notes:

* Values are written as given, one line each. supervisord expands `%(...)s` in them, so a
  literal percent sign is written `%%`. `environment` values are quoted and escaped for
  supervisord.
* A new program is started by `supervisorctl update` unless `autostart: false`; with
  `state: stopped` it is stopped right after.
* Check mode: the file is compared and the status read (supervisord must be reachable), nothing
  is written or started. `--diff` shows the unified diff of the program file, also when it is
  removed.
* Errors: `supervisorctl not found (hint: install the supervisor package first)`;
  `supervisorctl cannot talk to supervisord ... (hint: Is supervisord running? ...)`;
  `command is required to create program NAME` for a task without `command` whose file does
  not exist. In check mode the first two are assumed to be fixed by earlier tasks.
* Ansible's `supervisorctl` module only drives programs configured by other means; this
  operation writes their configuration as well. Programs defined in supervisord's main
  configuration file, not in `config_dir`, cannot be driven by it.
""",
)
