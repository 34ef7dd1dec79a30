"""shell: run a command line with /bin/sh -c (pipes, redirections, globs)."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, Outcome, check_args
from ._exec import GUARDS, execute, to_argv

ALLOWED = ("cmd",) + GUARDS


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("shell", args, ALLOWED, ["cmd"])
    return execute(ctx, args, to_argv(args["cmd"], via_sh=True), via_sh=True)
