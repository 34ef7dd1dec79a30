"""fail: stop the host with a message (the controller renders it; the host reports it)."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping

from ..core import FAILED, Context, Outcome, accept
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    return Outcome(FAILED, str(args.get("msg") or DEFAULT_MSG))


DEFAULT_MSG = "Failed as requested from task"


def expressions(args: Mapping[str, Any]) -> List[Any]:
    return []


def prepare(args: Mapping[str, Any], render: Callable[[Any], Any],
            judge: Callable[[Any], bool]) -> Dict[str, Any]:
    msg = render(args["msg"]) if args.get("msg") is not None else DEFAULT_MSG
    return {"msg": msg if isinstance(msg, str) else str(msg)}


def registered(args: Mapping[str, Any]) -> Dict[str, Any]:
    return {"changed": False, "failed": True, "msg": args.get("msg") or DEFAULT_MSG}


SPEC = OpSpec(
    name='fail',
    summary='fail the host with a message',
    ansible='`fail`',
    args=(Arg('msg', doc='the message'),),
    doc="""\
Fails the host, in its place among the steps: with `when`, a guard that stops a host whose
state or variables are wrong. Its transaction rolls back like after any failed step.
""",
    notes="""\
```yaml
- name: refuse an unknown environment
  fail:
    msg: "environment {{ env_name }} is not one of production, staging"
  when: env_name not in ['production', 'staging']
```
""",
)
