"""group_by: put the host in a group named from its variables, for the play's later tasks.

The controller decides it when it builds the plan (the host only reports it, in its place).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping

from ..core import CHANGED, Context, Outcome, accept
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    return Outcome(CHANGED, "in group %s" % args.get("key"))


def expressions(args: Mapping[str, Any]) -> List[Any]:
    return []


def prepare(args: Mapping[str, Any], render: Callable[[Any], Any],
            judge: Callable[[Any], bool]) -> Dict[str, Any]:
    key = render(args["key"])
    parents = render(args.get("parents") if args.get("parents") is not None else ["all"])
    parents = [parents] if isinstance(parents, str) else list(parents or [])
    # Ansible's group names: spaces and dashes become underscores
    return {"key": str(key).replace(" ", "_").replace("-", "_"),
            "parents": [str(p).replace(" ", "_").replace("-", "_") for p in parents]}


def joins(args: Mapping[str, Any]) -> List[str]:
    """The groups the host is in after the step (the plan's later tasks see them)."""
    return [str(args["key"])] + [str(p) for p in args.get("parents") or [] if p != "all"]


def registered(args: Mapping[str, Any]) -> Dict[str, Any]:
    return {"changed": True, "failed": False, "add_group": args.get("key"),
            "parent_groups": list(args.get("parents") or [])}


SPEC = OpSpec(
    name='group_by',
    summary="put the host in a group named from its variables (the play's later tasks see it)",
    ansible='`group_by`',
    required=(('key',),),
    args=(
        Arg('key', 'str', doc='the group name (usually a template of a fact)'),
        Arg('parents', 'any', doc='the groups the new group is a child of (default `all`)'),
    ),
    doc="""\
Adds the host to the group `key` (spaces and dashes in it become underscores, as in Ansible),
decided on the controller: `group_names` and `groups` in the host's later tasks of the play
include it. Reported as changed, as Ansible does.

Differs from Ansible: plays choose their hosts when the run starts, so a later play whose
`hosts:` names a group that only `group_by` makes is refused when the playbook loads
(select those hosts with a `when:` on `group_names` instead, or put the group in the
inventory).
""",
    notes="""\
```yaml
- name: group the hosts by release
  group_by:
    key: "release_{{ ansible_distribution_release }}"
  register: grouped
- name: only on bookworm hosts
  debug:
    msg: "in {{ grouped.add_group }}"
  when: "'release_bookworm' in group_names"
```
""",
)
