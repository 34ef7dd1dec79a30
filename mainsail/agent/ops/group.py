"""group: a local group present (with a gid) or absent."""
from __future__ import annotations

from typing import Any, List, Mapping

from .. import proc
from ..core import Context, OpError, Outcome, as_bool, check_args, nothing, operand, settle
from . import accounts

ALLOWED = ("name", "state", "gid", "system")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("group", args, ALLOWED, ["name"])
    name, state = operand("group", "group name", args["name"]), args.get("state") or "present"
    if state not in ("present", "absent"):
        raise OpError("group: state must be present or absent, got %r" % state)
    current = accounts.groups().get(name)
    if state == "absent":
        if current is None:
            return settle(ctx, [], nothing)
        return settle(ctx, ["group removed"], lambda: _run(["groupdel", "--", name]))
    gid = None if args.get("gid") in (None, "") else _int(args["gid"], "gid")
    if current is None:
        argv = ["groupadd"] + (["-g", str(gid)] if gid is not None else [])
        argv += ["-r"] if as_bool(args.get("system", False), "system") else []
        return settle(ctx, ["group created"], lambda: _run(argv + ["--", name]))
    changes: List[str] = []
    if gid is not None and gid != current.gid:
        changes.append("gid %d -> %d" % (current.gid, gid))
    return settle(ctx, changes, lambda: _run(["groupmod", "-g", str(gid), "--", name]))


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OpError("%s must be a number, got %r" % (what, value))


def _run(argv: List[str]) -> None:
    proc.check_output(argv)
