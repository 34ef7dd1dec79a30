"""command: run a program directly (never through a shell)."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, OpError, Outcome, check_args
from ._exec import GUARDS, execute, to_argv

ALLOWED = ("cmd", "argv") + GUARDS


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("command", args, ALLOWED)
    if bool(args.get("cmd")) == bool(args.get("argv")):
        raise OpError("command: give exactly one of cmd (a string) or argv (a list)")
    argv = to_argv(args.get("argv") or args.get("cmd"), via_sh=False)
    return execute(ctx, args, argv, via_sh=False)
