"""add_host: a host (and its groups and variables) added to the run's inventory, as Ansible's
module does for later plays. The controller decides it; the host only reports it."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping

from ..core import CHANGED, Context, Outcome, accept
from ..spec import Arg, OpSpec

NAMES = ("name", "groups")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    return Outcome(CHANGED, "added host %s" % args.get("name"))


def expressions(args: Mapping[str, Any]) -> List[Any]:
    return []


def prepare(args: Mapping[str, Any], render: Callable[[Any], Any],
            judge: Callable[[Any], bool]) -> Dict[str, Any]:
    groups = render(args.get("groups")) if args.get("groups") is not None else []
    groups = [g.strip() for g in groups.split(",")] if isinstance(groups, str) else \
        [str(g) for g in groups or []]
    host_vars = {k: render(v) for k, v in (args.get("vars") or {}).items()}
    return {"name": str(render(args["name"])), "groups": [g for g in groups if g],
            "vars": host_vars}


def registered(args: Mapping[str, Any]) -> Dict[str, Any]:
    return {"changed": True, "failed": False,
            "add_host": {"host_name": args.get("name"), "groups": list(args.get("groups") or []),
                         "host_vars": dict(args.get("vars") or {})}}


SPEC = OpSpec(
    name='add_host',
    summary="add a host to the run's inventory (Ansible's add_host; reported only)",
    ansible='`add_host`',
    required=(('name',),),
    args=(
        Arg('name', 'str', aliases=('host', 'hostname'),
            doc='the host name (`name:port` is not split)'),
        Arg('groups', 'any', aliases=('group', 'groupname'),
            doc='the groups it goes in (a list, or names separated by commas)'),
        Arg('vars', 'any', doc='variables of the host (other arguments in Ansible)'),
    ),
    doc="""\
Records the host, its groups and variables in the registered result (`add_host`), decided on
the controller, as Ansible's module returns them.

Differs from Ansible: plays choose their hosts when the run starts, and the inventory does not
grow during a run, so a later play whose `hosts:` names only hosts or groups that `add_host`
makes is refused when the playbook loads. Put such hosts in the inventory (an inventory
script can compute them) instead.
""",
    notes="""\
```yaml
- name: record the new machine
  add_host:
    name: db2
    groups: [databases]
  register: added
```
""",
)
