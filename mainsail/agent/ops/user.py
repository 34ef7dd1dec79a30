"""user: a local account present (with its attributes) or absent."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import proc
from ..core import (Context, MissingPrerequisite, OpError, Outcome, as_bool, as_list, check_args,
                    nothing, operand, settle)
from . import accounts
from .group import _int

ALLOWED = ("name", "state", "uid", "group", "groups", "append", "shell", "home",
           "create_home", "system", "password", "comment")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("user", args, ALLOWED, ["name"])
    name, state = operand("user", "user name", args["name"]), args.get("state") or "present"
    if state not in ("present", "absent"):
        raise OpError("user: state must be present or absent, got %r" % state)
    current = accounts.users().get(name)
    secrets = [str(args["password"])] if args.get("password") else []
    if state == "absent":
        if current is None:
            return settle(ctx, [], nothing)
        return settle(ctx, ["user removed"], lambda: _run(["userdel", "--", name], secrets))
    if current is None:
        return settle(ctx, ["user created"], lambda: _run(useradd_argv(name, args), secrets))
    changes, options = usermod_plan(name, args, current)
    return settle(ctx, changes, lambda: _run(["usermod"] + options + ["--", name], secrets))


def useradd_argv(name: str, args: Mapping[str, Any]) -> List[str]:
    argv = ["useradd"]
    for key, flag in (("uid", "-u"), ("group", "-g"), ("shell", "-s"), ("home", "-d"),
                      ("password", "-p"), ("comment", "-c")):
        if args.get(key) not in (None, ""):
            argv += [flag, str(args[key])]
    if args.get("groups"):
        argv += ["-G", ",".join(as_list(args["groups"]))]
    argv.append("-m" if as_bool(args.get("create_home", True), "create_home") else "-M")
    if as_bool(args.get("system", False), "system"):
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
    if as_bool(args.get("append", False), "append"):
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
