"""assert: conditions that must hold. The controller judges them when it builds the plan
(they are Jinja expressions over the host's variables); the host reports the verdict in its
place among the steps, and a failed assertion fails the host there."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping

from ..core import FAILED, OK, Context, Outcome, accept
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    false = args.get("evaluated")
    if false:
        return Outcome(FAILED, str(args.get("fail_msg") or "Assertion failed: %s" % false))
    if args.get("quiet"):
        return Outcome(OK, "")
    return Outcome(OK, str(args.get("success_msg") or "All assertions passed"))


def expressions(args: Mapping[str, Any]) -> List[Any]:
    """The conditions of ``that`` (bare expressions, as in ``when``)."""
    that = args.get("that")
    return list(that) if isinstance(that, list) else [that]


def prepare(args: Mapping[str, Any], render: Callable[[Any], Any],
            judge: Callable[[Any], bool]) -> Dict[str, Any]:
    """On the controller: each condition judged; the first false one is ``evaluated``."""
    conditions: List[Any] = []
    handlebarred = False
    for cond in expressions(args):
        text = cond.strip() if isinstance(cond, str) else ""
        if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1:
            handlebarred = True  # `that: '{{ checks }}'` may give a list of conditions
            value = render(text)
            conditions += value if isinstance(value, list) else [value]
        else:
            conditions.append(cond)
    if not conditions or any(c is None or (isinstance(c, str) and not c.strip())
                             for c in conditions):
        raise ValueError("Empty conditional expression in assert's that")
    out: Dict[str, Any] = {"that": [str(c) for c in conditions]}
    if handlebarred:  # Ansible's deprecation, under its name
        out["deprecations"] = [{"msg": "Conditionals should not be surrounded by templating "
                                       "delimiters such as {{ }} or {% %}."}]
    false = next((c for c in conditions if not judge(c)), None)
    if false is not None:
        out["evaluated"] = str(false)
    for key in ("fail_msg", "success_msg"):
        if args.get(key) is not None:
            text = render(args[key])
            out[key] = text if isinstance(text, str) else str(text)
    if args.get("quiet") is not None:
        out["quiet"] = render(args["quiet"])
    return out


def registered(args: Mapping[str, Any]) -> Dict[str, Any]:
    false = args.get("evaluated")
    extra = {"deprecations": args["deprecations"]} if args.get("deprecations") else {}
    if false:
        return {"changed": False, "failed": True, "assertion": false, "evaluated_to": False,
                "msg": args.get("fail_msg") or "Assertion failed", **extra}
    return {"changed": False, "failed": False,
            "msg": args.get("success_msg") or "All assertions passed", **extra}


SPEC = OpSpec(
    name='assert',
    summary='conditions that must hold, or the host fails',
    ansible='`assert`',
    args=(
        Arg('that', 'any', doc='an expression, or a list of them, that must all be true'),
        Arg('fail_msg', aliases=('msg',), doc='the message when one is false'),
        Arg('success_msg', doc='the message when all hold'),
        Arg('quiet', 'bool', default=False, doc='no message when all hold'),
    ),
    required=(('that',),),
    missing=(('that:', 'Empty conditional expressions are not allowed.'),),
    internal=('evaluated', 'deprecations'),
    doc="""\
Judges each expression of `that` (as `when` does) with the task's variables, registered
results included, when the controller builds the plan; the first false one fails the host,
with `fail_msg` (or the expression) as the message.
""",
    notes="""\
```yaml
- name: enough memory for the database
  assert:
    that:
      - db_buffer_mb | int < 2048
      - db_name is match('^[a-z_]+$')
    fail_msg: "db_buffer_mb {{ db_buffer_mb }} is too large for this host"
    quiet: true
```
""",
)
