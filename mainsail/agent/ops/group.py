"""group: a local group present (with a gid) or absent."""
from __future__ import annotations

import shutil
from typing import Any, List, Mapping

from .. import proc
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, nothing
from ..core import operand, settle
from ..spec import Arg, OpSpec
from . import accounts


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    name, state = operand("group", "group name", args["name"]), args["state"]
    local = flag(args, "local")
    for key in ("gid_min", "gid_max"):
        if local and args.get(key) not in (None, ""):
            raise OpError("'%s' can not be used with 'local'" % key)
    # local: libuser's commands change /etc/group itself, never a directory service's group
    tools = ("lgroupadd", "lgroupmod", "lgroupdel") if local else \
        ("groupadd", "groupmod", "groupdel")
    current = accounts.groups().get(name)
    if state == "absent":
        if current is None:
            return _fields(settle(ctx, [], nothing), name, args, None)
        force = ["-f"] if flag(args, "force") and not local else []  # even a primary group
        return _fields(settle(ctx, ["group removed"],
                              lambda: _run(_tool(tools[2]) + force + ["--", name])),
                       name, args, None)
    gid = None if args.get("gid") in (None, "") else _int(args["gid"], "gid")
    if flag(args, "non_unique") and gid is None:
        raise OpError("gid must be set if non_unique is true")
    unique = [] if not flag(args, "non_unique") or gid is None or local else ["-o"]
    if current is None:
        argv = _tool(tools[0]) + (["-g", str(gid)] if gid is not None else []) + unique
        argv += ["-r"] if flag(args, "system") else []
        for key, word in (("gid_min", "GID_MIN"), ("gid_max", "GID_MAX")):
            if args.get(key) not in (None, ""):  # the range a new gid is taken from
                argv += ["-K", "%s=%d" % (word, _int(args[key], key))]
        return _fields(settle(ctx, ["group created"], lambda: _run(argv + ["--", name])),
                       name, args, gid)
    changes: List[str] = []
    if gid is not None and gid != current.gid:
        changes.append("gid %d -> %d" % (current.gid, gid))
    return _fields(settle(ctx, changes,
                          lambda: _run(_tool(tools[1]) + ["-g", str(gid)] + unique +
                                       ["--", name])),
                   name, args, gid)


def _tool(name: str) -> List[str]:
    if shutil.which(name) is None:
        hint = "install libuser (apt: libuser)" if name.startswith("l") else None
        raise MissingPrerequisite("%s: not found on the host" % name, hint=hint)
    return [name]


def _fields(outcome: Outcome, name: str, args: Mapping[str, Any], gid: Any) -> Outcome:
    """Ansible's result fields: name, state, system, gid (as it now is)."""
    entry = accounts.groups().get(name)
    data = {"name": name, "state": args["state"], "system": flag(args, "system")}
    if args["state"] == "present" and (entry is not None or gid is not None):
        data["gid"] = entry.gid if entry is not None else gid
    outcome.data = dict(outcome.data or {}, **data)
    return outcome


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OpError("%s must be a number, got %r" % (what, value))


def _run(argv: List[str]) -> None:
    proc.check_output(argv)


SPEC = OpSpec(
    name='group',
    summary='a local group',
    ansible='`group`',
    args=(
        Arg('name', doc='the group name', operand='group name'),
        Arg('state', default='present', choices=('present', 'absent'), doc='the group exists; it does not'),
        Arg('gid', 'int', doc='the group id'),
        Arg('system', 'bool', doc='create a system group (`groupadd -r`)'),
        Arg('non_unique', 'bool', default=False,
            doc='with `gid` (required then): allow a gid another group has (`groupadd -o`)'),
        Arg('local', 'bool', default=False,
            doc='manage the group in `/etc/group` with libuser\'s `lgroupadd` and the like, '
                'even where the system\'s groups come from a directory service'),
        Arg('force', 'bool', default=False,
            doc='with `state: absent`: remove the group even when it is a user\'s primary '
                'group (`groupdel -f`)'),
        Arg('gid_min', 'int', doc='the lowest gid a new group may get (`-K GID_MIN=`)'),
        Arg('gid_max', 'int', doc='the highest gid a new group may get (`-K GID_MAX=`)'),
    ),
    required=(('name',),),
    doc="""\
Makes a local group exist, with a given gid, or not exist. Groups are read from `/etc/group`
directly. A missing group is created with `groupadd`, a different gid is set with `groupmod`,
`state: absent` runs `groupdel`.
""",
    notes="""\
```yaml
- name: group for the guestbook's data
  group:
    name: guestbook
    system: true

- name: sftp-only users
  group:
    name: sftponly
    gid: 2000
```

Notes:

* `system` applies only when the group is created. Changing `gid` does not change the group of
  existing files.
* `groupdel` refuses to remove a group that is some user's primary group; the step fails with
  its message, unless `force` is given.
* `local` needs libuser's commands on the host (Debian: package `libuser`); `gid_min` and
  `gid_max` cannot be used with it, and `non_unique` is ignored there (libuser refuses a
  shared gid).
* Check mode: reports `group created`, `gid 2000 -> 2001` or `group removed`. No diff.
""",
)
