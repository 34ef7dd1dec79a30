"""group: a local group present (with a gid) or absent."""
from __future__ import annotations

from typing import Any, List, Mapping

from .. import proc
from ..core import Context, OpError, Outcome, accept, flag, nothing, operand, settle
from ..spec import Arg, OpSpec
from . import accounts


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    name, state = operand("group", "group name", args["name"]), args["state"]
    current = accounts.groups().get(name)
    if state == "absent":
        if current is None:
            return settle(ctx, [], nothing)
        return settle(ctx, ["group removed"], lambda: _run(["groupdel", "--", name]))
    gid = None if args.get("gid") in (None, "") else _int(args["gid"], "gid")
    unique = [] if not flag(args, "non_unique") or gid is None else ["-o"]  # a shared gid
    if current is None:
        argv = ["groupadd"] + (["-g", str(gid)] if gid is not None else []) + unique
        argv += ["-r"] if flag(args, "system") else []
        return _fields(settle(ctx, ["group created"], lambda: _run(argv + ["--", name])),
                       name, args, gid)
    changes: List[str] = []
    if gid is not None and gid != current.gid:
        changes.append("gid %d -> %d" % (current.gid, gid))
    return _fields(settle(ctx, changes,
                          lambda: _run(["groupmod", "-g", str(gid)] + unique + ["--", name])),
                   name, args, gid)


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
            doc='with `gid`: allow a gid another group has (`groupadd -o`)'),
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
  its message.
* Check mode: reports `group created`, `gid 2000 -> 2001` or `group removed`. No diff.
""",
)
