"""yum: loads for roles written for several distributions; fails clearly when run."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, Outcome, accept
from ._foreign import refuse, rpm_spec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    return refuse("yum", accept(SPEC, args))


SPEC = rpm_spec("yum")
