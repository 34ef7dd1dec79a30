"""debug: show a message or a variable's value. The controller renders it when it builds
the plan; the host only reports it, in its place among the steps."""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Mapping, Optional

from ..core import OK, Context, Outcome, accept
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    return Outcome(OK, str(args.get("msg") if args.get("msg") is not None else "Hello world!"))


def shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def expressions(args: Mapping[str, Any]) -> List[Any]:
    """The bare expressions among the arguments (the controller reads their variables)."""
    return [args["var"]] if isinstance(args.get("var"), str) else []


def prepare(args: Mapping[str, Any], render: Callable[[Any], Any],
            judge: Callable[[Any], bool]) -> Optional[Dict[str, Any]]:
    """On the controller: the step's arguments, rendered (None: above the verbosity)."""
    if int(args.get("verbosity") or 0) > 0:
        return None
    if args.get("var") is not None:
        expr = str(args["var"])
        try:
            value = render(expr if "{{" in expr else "{{ %s }}" % expr)
        except ValueError:
            value = "VARIABLE IS NOT DEFINED!"
        return {"msg": "%s: %s" % (expr, shown(value)), "shown": {expr: value}}
    return {"msg": shown(render(args.get("msg", "Hello world!")))}


def registered(args: Mapping[str, Any]) -> Dict[str, Any]:
    """What ``register`` keeps of a step the controller prepared."""
    shown_var = args.get("shown")
    if isinstance(shown_var, Mapping):  # debug var=X: Ansible's result holds X: value
        return {"changed": False, "failed": False, **shown_var}
    return {"changed": False, "failed": False, "msg": args.get("msg", "")}


SPEC = OpSpec(
    name='debug',
    summary='show a message or a variable, in its place among the steps',
    ansible='`debug`',
    args=(
        Arg('msg', 'any', doc='the message (any value; shown as JSON when it is not text)'),
        Arg('var', doc='a variable name or expression whose value is shown instead'),
        Arg('verbosity', 'int', default=0,
            doc='shown only at this verbosity or above (0: always)'),
    ),
    internal=('shown',),
    doc="""\
Shows `msg`, or `var: value` for `var`, as the step's message. Both are rendered on the
controller with the task's variables (registered results included), so the host never
evaluates anything; a step with `verbosity` above 0 is left out of the plan.
""",
    notes="""\
```yaml
- name: what the migration said
  debug:
    var: migrated.stdout_lines

- debug: msg="{{ inventory_hostname }} runs {{ ansible_facts.os.pretty_name | default('?') }}"
```
""",
)
