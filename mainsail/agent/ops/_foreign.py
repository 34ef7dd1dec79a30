"""What yum, dnf and apk share here: they load, so that a role written for several
distributions can be read (and its tasks skipped by `when:`), and fail clearly when run."""
from __future__ import annotations

import shutil
from typing import Any, Mapping

from ..core import OpError, Outcome

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
