"""openbsd_pkg: loads for roles written for several distributions; fails clearly when run."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, Outcome, accept
from ._foreign import OTHER_TOOL, other_spec, refuse


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    return refuse(OTHER_TOOL["openbsd_pkg"], accept(SPEC, args))


SPEC = other_spec("openbsd_pkg")
