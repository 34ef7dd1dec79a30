"""cron: one named job (or environment variable) in a user's crontab or in a cron.d file.

Each job Mainsail manages is two lines, a marker naming it and the entry itself:

    #Mainsail: nightly backup
    30 2 * * * /usr/local/bin/backup

so a later run finds the job by its name and changes it in place. A marker written by Ansible
(``#Ansible: NAME``) is recognised too, and becomes Mainsail's. The file is changed as text and
written atomically (journalled, so a failed transaction puts it back).
"""
from __future__ import annotations

import grp
import os
import re
import time
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec

CRONTABS = "/var/spool/cron/crontabs"  # Debian's spool: one file per user, read by cron
CRON_D = "/etc/cron.d"
SYSTEM_CRONTAB = "/etc/crontab"  # refused as a cron_file, as Ansible refuses it
MARKER = "#Mainsail: "
OTHER_MARKERS = ("#Ansible: ",)  # the same convention, written by another tool
TIME_FIELD = re.compile(r"[0-9A-Za-z*/,\-]+")
TIME_ARGS = ("minute", "hour", "day", "month", "weekday")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("cron: %s" % problem[0], hint=problem[1])
    path, owner, group, mode = _target(args)
    target = fileio.write_target(path)
    before = fileio.read_file(target)
    if before is None and not os.path.isdir(os.path.dirname(target)):
        raise MissingPrerequisite("the folder of %s does not exist" % path,
                                  hint="is cron installed? (apt: name: cron)")
    lines = (before or b"").decode("utf-8", "surrogateescape").splitlines()
    new_lines, change = edit(lines, args)
    new = ("\n".join(new_lines) + "\n").encode("utf-8", "surrogateescape") if new_lines else b""
    if before is None and not new_lines:
        return settle(ctx, [], lambda: None)
    if before is not None and new == before:
        return settle(ctx, [], lambda: None)
    if args.get("cron_file") and before is not None and not any(l.strip() for l in new_lines):
        # its last job gone (blank lines left), a cron.d file is removed, as Ansible does
        def remove() -> None:
            ctx.keep(target)  # back on rollback
            safepath.remove(target)
            _poke(os.path.dirname(target))
        diff = fileio.unified_diff(before, b"", path) if ctx.diff else ""
        return settle(ctx, [change, "%s removed" % path], remove, diff)

    def apply() -> None:
        if flag(args, "backup") and before is not None:
            fileio.atomic_write(target + ".mainsail-backup", before, "0600",
                                journal=ctx.journal)
        fileio.atomic_write(target, new, mode if before is None else None,
                            owner if before is None else None, group if before is None else None,
                            journal=ctx.journal)
        _poke(os.path.dirname(target))
    diff = fileio.unified_diff(before, new, path) if ctx.diff else ""
    return settle(ctx, [change], apply, diff)


def _poke(folder: str) -> None:
    """Make cron see the change: it re-reads its folders (the spool, /etc/cron.d) only when a
    folder's mtime, in whole seconds, differs from the one it saw last, so a job written in
    the same second as cron's (re)start or last look would never run (a restart of cron
    followed at once by a new job does just that). The folder's mtime goes to the next
    second, as crontab(1) touches the spool to wake the daemon."""
    if folder not in (CRONTABS, CRON_D):
        return
    try:
        st = os.stat(folder, follow_symlinks=False)
        upcoming = int(time.time()) + 1
        if st.st_mtime < upcoming:
            os.utime(folder, (st.st_atime, upcoming), follow_symlinks=False)
    except OSError:  # a folder cron does not read, or not ours to touch: cron's own timing
        pass


def _target(args: Mapping[str, Any]) -> Tuple[str, Optional[str], Optional[str], str]:
    """(path, owner, group, mode of a new file): a cron.d file, or the user's crontab."""
    if args.get("cron_file"):
        name = str(args["cron_file"])
        path = name if name.startswith("/") else os.path.join(CRON_D, name)
        if os.path.normpath(path) == SYSTEM_CRONTAB:  # one job per name is not its format
            # Ansible's exact words (roles compare them); the docs say where jobs go instead
            raise OpError("Will not manage %s via cron_file, see documentation." % path)
        return path, None, None, "0644"
    user = str(args.get("user") or "root")
    try:
        group: Optional[str] = grp.getgrnam("crontab").gr_name  # Debian's crontab group
    except KeyError:
        group = None
    return os.path.join(CRONTABS, user), user, group, "0600"


def entry(args: Mapping[str, Any]) -> str:
    """The crontab line the task describes."""
    if flag(args, "env"):
        return "%s=%s" % (args["name"], args["job"])
    when = "@" + str(args["special_time"]) if args.get("special_time") else \
        " ".join(str(args[key]) for key in TIME_ARGS)
    user = " %s" % args["user"] if args.get("cron_file") and args.get("user") else ""
    return "%s%s%s %s" % ("#" if flag(args, "disabled") else "", when, user, args["job"])


def edit(lines: List[str], args: Mapping[str, Any]) -> Tuple[List[str], str]:
    """``lines`` with the named job (or variable) set or removed; what changed, in words."""
    name = str(args["name"])
    found = _find_env(lines, name) if flag(args, "env") else _find_job(lines, name)
    wanted = [] if args["state"] == "absent" else _wanted(args)
    if found is None:
        if not wanted:
            return lines, ""
        at = _insert_at(lines, args) if flag(args, "env") else len(lines)
        return lines[:at] + wanted + lines[at:], "job %r added" % name
    start, end = found
    if lines[start:end] == wanted:
        return lines, ""
    verb = "removed" if not wanted else "changed"
    return lines[:start] + wanted + lines[end:], "job %r %s" % (name, verb)


def _wanted(args: Mapping[str, Any]) -> List[str]:
    if flag(args, "env"):
        return [entry(args)]
    return [MARKER + str(args["name"]), entry(args)]


def _insert_at(lines: List[str], args: Mapping[str, Any]) -> int:
    """Where a new variable goes: after ``insertafter``'s line or before ``insertbefore``'s;
    at the top without them, as Ansible puts it (cron applies a variable to the lines after
    it, so every job sees it). A variable named there must be in the file."""
    other = args.get("insertafter") or args.get("insertbefore")
    if not other:
        return 0
    found = _find_env(lines, str(other))
    if found is None:
        # Ansible's exact words (roles compare them): no hint appended
        raise OpError("Variable named '%s' not found." % other)
    return found[1] if args.get("insertafter") else found[0]


def _find_job(lines: List[str], name: str) -> Optional[Tuple[int, int]]:
    """(first, end) of the marker and its entry line."""
    for index, line in enumerate(lines):
        if any(line == marker + name for marker in (MARKER,) + OTHER_MARKERS):
            return index, min(index + 2, len(lines))
    return None


def _find_env(lines: List[str], name: str) -> Optional[Tuple[int, int]]:
    for index, line in enumerate(lines):
        if line.split("=", 1)[0].strip() == name and "=" in line:
            return index, index + 1
    return None


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    for key in ("name", "job", "user"):
        if "\n" in str(args.get(key) or ""):
            return "%s must be one line" % key, "a crontab entry is a single line"
    if args.get("state", "present") == "present" and not args.get("job"):
        return "state: present needs job", "add job: the command to run"
    if args.get("special_time") and any(str(args.get(k) or "*") != "*" for k in TIME_ARGS):
        return "special_time replaces minute, hour, day, month and weekday", \
            "give either special_time or the time fields"
    for key in TIME_ARGS:
        if args.get(key) is not None and not TIME_FIELD.fullmatch(str(args[key])):
            return "%s %r is not a cron time field" % (key, args[key]), \
                "e.g. 5, */10, 1-5 or mon,wed"
    if args.get("insertafter") not in (None, "") and args.get("insertbefore") not in (None, ""):
        return ("parameters are mutually exclusive: insertafter|insertbefore",  # Ansible's
                "give one of them")
    if (args.get("insertafter") or args.get("insertbefore")) and \
            args.get("state", "present") == "present" and \
            args.get("env") in (None, False, "false", "no", "off", "0"):
        return ("Insertafter and insertbefore parameters are valid only with env=yes",  # Ansible's
                "add env: true, or drop insertafter/insertbefore")
    if args.get("env") in (True, "true", "yes") and (
            args.get("special_time") or args.get("disabled") in (True, "true", "yes")):
        return "env manages a variable: special_time and disabled do not apply", \
            "drop them, or set env: false for a job"
    if args.get("env") in (True, "true", "yes") and not re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]*", str(args.get("name") or "")):
        return "with env, name is the variable's name", "e.g. name: MAILTO"
    return None


SPEC = OpSpec(
    name="cron",
    summary="a named job (or variable) in a user's crontab or a cron.d file",
    ansible="`cron`",
    args=(
        Arg("name", doc="the job's name, kept in the marker line above it (with `env`: the "
                        "variable's name)"),
        Arg("job", aliases=("value",), doc="the command to run (with `env`: the variable's "
                                           "value); needed with `state: present`"),
        Arg("minute", default="*", doc="minute field: `0`-`59`, `*`, `*/15`, `5,35`"),
        Arg("hour", default="*", doc="hour field: `0`-`23`, `*`, ..."),
        Arg("day", default="*", aliases=("dom",), doc="day of the month: `1`-`31`, `*`, ..."),
        Arg("month", default="*", doc="month: `1`-`12`, `*`, ..."),
        Arg("weekday", default="*", aliases=("dow",), doc="day of the week: `0`-`6` (Sunday "
                                                          "is 0), `mon`, `*`, ..."),
        Arg("special_time", choices=("reboot", "yearly", "annually", "monthly", "weekly",
                                     "daily", "hourly"),
            doc="`@reboot`, `@daily`, ... instead of the five time fields"),
        Arg("user", doc="whose crontab (default `root`); with `cron_file`, the user the job "
                        "runs as"),
        Arg("state", default="present", choices=("present", "absent"),
            doc="the job is in the file as given; it is not"),
        Arg("disabled", "bool", default=False, doc="keep the job, commented out"),
        Arg("env", "bool", default=False, doc="manage a `NAME=value` line instead of a job"),
        Arg("insertafter", doc="with `env`: a new variable goes on the line after this "
                               "variable's (which must be in the file)"),
        Arg("insertbefore", doc="with `env`: a new variable goes on the line before this "
                                "variable's (which must be in the file)"),
        Arg("cron_file", doc="a file in `/etc/cron.d` (a name) or an absolute path, instead "
                             "of the user's crontab"),
        Arg("backup", "bool", default=False, doc="keep the old file beside it as "
                                                  "`FILE.mainsail-backup` before changing it"),
    ),
    required=(("name",),),
    rule=_rule,
    journalled=True,
    doc="""\
Keeps one named job in a crontab: Ansible's `cron`. `/etc/crontab` itself is refused as a
`cron_file` (its lines name a user; use a file of `/etc/cron.d`). The job is found by its name, in a marker
line written above it (`#Mainsail: NAME`; Ansible's `#Ansible: NAME` is recognised and taken
over), and added, changed in place or removed; other lines of the file are left alone. Without
`cron_file` the file is the user's crontab in `/var/spool/cron/crontabs/USER` (new ones mode
`0600`, owned by the user and the `crontab` group), which cron rereads within a minute; with
`cron_file` it is a file in `/etc/cron.d`, whose lines name the user the job runs as. With
`env: true` the task manages a variable line (`MAILTO=ops@example.org`) instead. The step is
`changed` when the file had to be written.
""",
    notes="""\
```yaml
- name: nightly backup
  cron:
    name: nightly backup
    minute: "30"
    hour: "2"
    job: /usr/local/bin/backup --quiet
    cron_file: backup
    user: root

- name: mail cron's output to ops
  cron:
    name: MAILTO
    env: true
    job: ops@example.org
    user: www-data

- name: no more cache warming
  cron:
    name: warm cache
    state: absent
    user: www-data
```

Notes:

* The file is written atomically and journalled: when a later step of the same transaction
  fails, the old file comes back. `backup: true` also keeps the old file beside it.
* Check mode: the file is read and nothing written; the message says which job would be
  added, changed or removed. Diff: the file's unified diff.
* A job's fields are checked when the playbook loads: a time field holds digits, names,
  `*`, `/`, `,` and `-` only, and `name`, `job` and `user` are one line each.
* `insertafter`/`insertbefore` (one of the two, with `env: true` and `state: present`)
  place a new variable next to another variable's line; that variable must be in the file
  ("Variable named 'X' not found." otherwise, as Ansible says). They do not move a variable
  already there: its line is changed in place.
* Without `insertafter`/`insertbefore` a new variable goes at the top of the file, as Ansible
  puts it: cron applies a variable to the jobs after it, so every job sees it.
* Ansible differences: a job without a `name` is refused.
""",
)
