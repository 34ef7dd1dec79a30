"""dnf: loads for roles written for several distributions; fails clearly when run."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, Outcome, accept
from ..spec import Arg, OpSpec
from ._foreign import STATES, refuse


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    return refuse("dnf", accept(SPEC, args))


SPEC = OpSpec(
    name="dnf",
    summary="Red Hat packages: accepted when a playbook loads, refused when run",
    ansible="`dnf`",
    args=(
        Arg("name", "names", aliases=("pkg",), doc="the packages"),
        Arg("state", choices=STATES, doc="what Ansible's `dnf` would make of them"),
        Arg("update_cache", "bool", aliases=("expire-cache",), doc="refresh the metadata"),
        Arg("enablerepo", "names", doc="repositories to enable"),
        Arg("disablerepo", "names", doc="repositories to disable"),
        Arg("exclude", "names", doc="packages to leave out"),
        Arg("disable_gpg_check", "bool", doc="skip signature checks"),
        Arg("autoremove", "bool", doc="remove unneeded dependencies"),
        Arg("security", "bool", doc="security updates only"),
        Arg("lock_timeout", "int", doc="seconds to wait for the lock"),
        Arg("update_only", "bool", doc="only update installed packages"),
        Arg("allow_downgrade", "bool", doc="allow older versions"),
        Arg("install_weak_deps", "bool", doc="install weak dependencies"),
    ),
    doc="""\
Ansible's `dnf`, so that roles written for Red Hat and Debian load: a task that `when:`
skips on a Debian host (`when: ansible_facts.os_family == 'RedHat'`) is simply skipped. When one
does run, it fails with "this host has no dnf" and a hint; Mainsail manages packages with
[`apt`](#apt) and [`package`](#package).
""",
    notes="""\
```yaml
- name: the web server (Red Hat family)
  dnf:
    name: nginx
    state: present
  when: ansible_facts.os_family == 'RedHat'
```
""",
)
