"""user: a local account present (with its attributes) or absent."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import proc
from ..core import Context, MissingPrerequisite, Outcome, accept, as_list
from ..core import flag as bool_arg
from ..core import nothing, operand, settle
from ..spec import Arg, OpSpec
from . import accounts
from .group import _int

def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    name, state = operand("user", "user name", args["name"]), args["state"]
    current = accounts.users().get(name)
    secrets = [str(args["password"])] if args.get("password") else []
    if state == "absent":
        if current is None:
            return _fields(settle(ctx, [], nothing), name, args, ctx.check)
        return _fields(settle(ctx, ["user removed"],
                              lambda: _run(userdel_argv(name, args), secrets)), name, args,
                       ctx.check)
    if current is None:
        return _fields(settle(ctx, ["user created"],
                              lambda: _run(useradd_argv(name, args), secrets)), name, args,
                       ctx.check)
    if args.get("update_password") == "on_create":  # an existing user keeps its password
        args = {k: v for k, v in args.items() if k != "password"}
    changes, options = usermod_plan(name, args, current)
    return _fields(settle(ctx, changes,
                          lambda: _run(["usermod"] + options + ["--", name], secrets)),
                   name, args, ctx.check)


def _fields(outcome: Outcome, name: str, args: Mapping[str, Any], check: bool) -> Outcome:
    """Ansible's result fields: the account as it now is (in check mode, as it would be)."""
    data: Dict[str, Any] = {"name": name, "state": args["state"]}
    entry = accounts.users().get(name)
    if entry is not None and args["state"] == "present":
        data.update(uid=entry.uid, group=entry.gid, home=entry.home, shell=entry.shell,
                    comment=entry.comment)
    if check or entry is None:
        for key in ("uid", "home", "shell", "comment"):
            if args.get(key) not in (None, ""):
                data[key] = args[key]
    if args["state"] == "present":
        data["system"] = bool_arg(args, "system")
        data["create_home"] = bool_arg(args, "create_home")
    if args.get("password"):
        data["password"] = "NOT_LOGGING_PASSWORD"  # Ansible's words: never the hash
    outcome.data = dict(outcome.data or {}, **data)
    return outcome


def userdel_argv(name: str, args: Mapping[str, Any]) -> List[str]:
    """userdel with Ansible's ``remove`` (home and mail spool too) and ``force``."""
    return (["userdel"] + (["--remove"] if bool_arg(args, "remove") else [])
            + (["--force"] if bool_arg(args, "force") else []) + ["--", name])


def useradd_argv(name: str, args: Mapping[str, Any]) -> List[str]:
    args = SPEC.with_defaults(args)
    argv = ["useradd"]
    for key, flag in (("uid", "-u"), ("group", "-g"), ("shell", "-s"), ("home", "-d"),
                      ("password", "-p"), ("comment", "-c")):
        if args.get(key) not in (None, ""):
            argv += [flag, str(args[key])]
    if args.get("groups"):
        argv += ["-G", ",".join(as_list(args["groups"]))]
    argv.append("-m" if bool_arg(args, "create_home") else "-M")
    if bool_arg(args, "system"):
        argv.append("-r")
    return argv + ["--", name]


def usermod_plan(name: str, args: Mapping[str, Any],
                 current: accounts.PasswdEntry) -> Tuple[List[str], List[str]]:
    """(descriptions of differences, usermod options) for an existing user."""
    changes: List[str] = []
    options: List[str] = []
    group_table = accounts.groups()
    _scalar(changes, options, "uid", "-u", current.uid,
            None if args.get("uid") in (None, "") else _int(args["uid"], "uid"))
    if args.get("group") not in (None, ""):
        gid = _gid(str(args["group"]), group_table)
        if gid != current.gid:
            changes.append("group %s" % args["group"])
            options += ["-g", str(args["group"])]
    for key, flag, have in (("shell", "-s", current.shell), ("home", "-d", current.home),
                            ("comment", "-c", current.comment)):
        want = args.get(key)
        _scalar(changes, options, key, flag, have, None if want is None else str(want))
    _groups(changes, options, args, accounts.supplementary_groups(name, group_table))
    if args.get("password") and accounts.password_hashes().get(name) != str(args["password"]):
        changes.append("password changed")  # never the hash itself
        options += ["-p", str(args["password"])]
    return changes, options


def _scalar(changes: List[str], options: List[str], key: str, flag: str,
            have: Any, want: Any) -> None:
    if want is not None and want != have:
        changes.append("%s %s -> %s" % (key, have, want))
        options += [flag, str(want)]


def _gid(group: str, table: Dict[str, accounts.GroupEntry]) -> Optional[int]:
    if group in table:
        return table[group].gid
    if group.isdigit():
        return int(group)
    raise MissingPrerequisite("no such group: %s" % group, hint="create it first with a group task")


def _groups(changes: List[str], options: List[str], args: Mapping[str, Any],
            have: List[str]) -> None:
    if args.get("groups") is None:
        return  # not managed
    want = as_list(args["groups"])
    if bool_arg(args, "append"):
        missing = [g for g in want if g not in have]
        if missing:
            changes.append("groups +" + ",".join(missing))
            options += ["-a", "-G", ",".join(missing)]
    elif sorted(set(want)) != have:
        changes.append("groups %s -> %s" % (",".join(have) or "(none)", ",".join(want) or "(none)"))
        options += ["-G", ",".join(want)]


def _run(argv: List[str], secrets: List[str]) -> None:
    result = proc.run(argv, secrets=secrets)
    if result.rc != 0:
        raise result.failure()


SPEC = OpSpec(
    name='user',
    summary='a local account and its attributes',
    ansible='`user`',
    args=(
        Arg('name', aliases=('user',), doc='the login name', operand='user name'),
        Arg('state', default='present', choices=('present', 'absent'), doc='the account exists; it does not'),
        Arg('uid', 'int', doc='the user id'),
        Arg('group', doc='the primary group, by name or gid (must exist)'),
        Arg('groups', 'names', doc='supplementary groups: exactly these, or with `append` at least these'),
        Arg('append', 'bool', doc='add the `groups` to those the user has, removing none'),
        Arg('shell', doc='the login shell'),
        Arg('home', doc='the home folder'),
        Arg('create_home', 'bool', default=True, aliases=('createhome',), doc='create the home folder when the user is created'),
        Arg('system', 'bool', doc='create a system account (`useradd -r`: id below 1000)'),
        Arg('password', doc='the password as a crypt hash, e.g. from `mkpasswd -m sha-512`'),
        Arg('update_password', default='always', choices=('always', 'on_create'),
            doc='`on_create`: set `password` only when the user is created'),
        Arg('comment', doc='the GECOS field (full name)'),
        Arg('remove', 'bool', default=False, doc='with `state: absent`, remove the home folder and mail spool too (`userdel --remove`)'),
        Arg('force', 'bool', default=False, doc='with `state: absent`, remove the user even while logged in (`userdel --force`)'),
    ),
    required=(('name',),),
    doc="""\
Makes a local account exist with the given attributes, or not exist. The accounts are read
from `/etc/passwd`, `/etc/group` and `/etc/shadow` directly (accounts known only from LDAP or
NIS are not seen). A missing user is created with `useradd`; an existing one is compared
attribute by attribute and changed with one `usermod`, listing each difference in the message
(`shell /bin/sh -> /bin/bash`, `groups +adm`, `password changed`); `state: absent` runs
`userdel`. Only the arguments given are managed.
""",
    notes="""\
```yaml
- name: vmail group
  group:
    name: vmail
    gid: 5000

- name: vmail user owning the mailboxes
  user:
    name: vmail
    uid: 5000
    group: vmail
    home: /var/mail/vhosts
    shell: /usr/sbin/nologin
    system: true
    comment: virtual mailboxes

- name: deploy user
  user:
    name: deploy
    shell: /bin/bash
    groups: [www-data, adm]
    append: true
    password: "{{ deploy_password_hash }}"
  no_log: [deploy_password_hash]
```

Notes:

* `create_home` and `system` apply only when the account is created. Without `group`, Debian's
  `useradd` gives the user a group of its own name.
* `password` is compared with the hash in `/etc/shadow`, which needs root (`become`). The hash
  is never shown: the message says `password changed`, and it is masked in command lines. List
  the variable holding it under `no_log` to keep it out of plans and reports as well.
* Check mode: reports `user created`, the differences, or `user removed`, without running
  anything. A primary `group` that does not exist yet is assumed to come from an earlier
  `group` task. No diff.
* Ansible differences: `remove`, `move_home`, `generate_ssh_key`, `update_password`, `expires`
  and the like are not available. `state: absent` leaves the home folder and mail spool. A
  changed `home` is set without moving the files. `groups` cannot be empty, so it cannot take a
  user out of all supplementary groups.
""",
)
