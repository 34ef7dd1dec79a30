"""What yum, dnf and apk share here: they load, so that a role written for several
distributions can be read (and its tasks skipped by `when:`), and fail clearly when run."""
from __future__ import annotations

import shutil
from typing import Any, Mapping

from ..core import OpError, Outcome
from ..spec import Arg, OpSpec

STATES = ("present", "installed", "latest", "absent", "removed")


def refuse(tool: str, args: Mapping[str, Any]) -> Outcome:
    """A task for another distribution's package manager that was not skipped."""
    names = args.get("name")
    what = " for %s" % names if names else ""
    if shutil.which(tool) is None:
        raise OpError("%s%s: this host has no %s" % (tool, what, tool),
                      hint="this host uses apt: give the task `when: ansible_facts.pkg_mgr "
                           "== '%s'`, or use package or apt" % tool)
    raise OpError("%s%s: Mainsail does not drive %s yet" % (tool, what, tool),
                  hint="Mainsail manages Debian hosts with apt")


RPM_DOC = """\
Ansible's `{tool}`, so that roles written for Red Hat and Debian load: a task that `when:`
skips on a Debian host (`when: ansible_facts.os_family == 'RedHat'`) is simply skipped. When one
does run, it fails with "this host has no {tool}" and a hint; Mainsail manages packages with
[`apt`](#apt) and [`package`](#package).
"""

RPM_NOTES = """\
```yaml
- name: the web server (Red Hat family)
  {tool}:
    name: nginx
    state: present
  when: ansible_facts.os_family == 'RedHat'
```
"""


def rpm_spec(tool: str) -> OpSpec:
    """yum and dnf take the same arguments: one declaration for both."""
    return OpSpec(
        name=tool,
        summary="Red Hat packages: accepted when a playbook loads, refused when run",
        ansible="`%s`" % tool,
        args=(
            Arg("name", "names", aliases=("pkg",), doc="the packages"),
            Arg("state", choices=STATES, doc="what Ansible's `%s` would make of them" % tool),
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
        doc=RPM_DOC.format(tool=tool),
        notes=RPM_NOTES.format(tool=tool),
    )
