"""apk: loads for roles written for several distributions; fails clearly when run."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, Outcome, accept
from ..spec import Arg, OpSpec
from ._foreign import STATES, refuse


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    return refuse("apk", accept(SPEC, args))


SPEC = OpSpec(
    name="apk",
    summary="Alpine packages: accepted when a playbook loads, refused when run",
    ansible="`apk`",
    args=(
        Arg("name", "names", doc="the packages"),
        Arg("state", choices=STATES, doc="what Ansible's `apk` would make of them"),
        Arg("update_cache", "bool", doc="refresh the index"),
        Arg("upgrade", "bool", doc="upgrade every installed package"),
        Arg("available", "bool", doc="with upgrade: replace or downgrade"),
        Arg("repository", "names", doc="repositories to use"),
        Arg("no_cache", "bool", doc="do not use a local cache"),
        Arg("world", doc="the world file"),
    ),
    doc="""\
Ansible's `apk`, so that roles written for Alpine and Debian load: a task that `when:` skips on
a Debian host is simply skipped. When one does run, it fails with "this host has no apk" and a
hint; Mainsail manages packages with [`apt`](#apt) and [`package`](#package).
""",
    notes="""\
```yaml
- name: the web server (Alpine)
  apk:
    name: nginx
  when: ansible_facts.os_family == 'Alpine'
```
""",
)
