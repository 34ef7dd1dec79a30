"""package: packages through the host's own package manager (here: apt)."""
from __future__ import annotations

import shutil
from typing import Any, Mapping, Optional, Tuple

from ..core import Context, OpError, Outcome, accept
from ..spec import Arg, OpSpec
from . import apt
from ._foreign import rpm_spec

STATES = {"present": "present", "installed": "present", "latest": "latest",
          "absent": "absent", "removed": "absent"}


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("package: %s" % problem[0], hint=problem[1])
    manager = str(args.get("use") or "auto")
    if manager == "auto":
        manager = detect()
    elif manager not in BACKENDS:  # Ansible's words: no module of that name to hand it to
        raise OpError('Could not find a matching action for the "%s" package manager.'
                      % manager, hint="use: auto, or a package manager's module name")
    if manager != "apt":
        raise OpError("package: this host has no package manager Mainsail drives (%s)"
                      % (manager or "none found"), hint="Mainsail manages packages with apt")
    # Ansible hands every other argument to the backend module, which refuses what it does
    # not take; here the backend is apt.
    apt_names = set(a.name for a in apt.SPEC.args)
    foreign = sorted(k for k, v in args.items()
                     if k not in OWN and k not in apt_names and v not in (None, False, ""))
    if foreign:
        raise OpError("package: apt does not take %s" % ", ".join(foreign),
                      hint="these are another package manager's arguments; give the task a "
                           "`when:` for that distribution")
    passed = dict((k, v) for k, v in args.items() if k in apt_names and k not in OWN)
    passed.update(name=args["name"], state=STATES[str(args["state"])])
    return apt.run(ctx, passed)


def detect() -> str:
    """The host's package manager, as Ansible's `pkg_mgr` fact names it."""
    for tool, name in (("apt-get", "apt"), ("dnf", "dnf"), ("yum", "yum"), ("apk", "apk"),
                       ("zypper", "zypper"), ("pacman", "pacman")):
        if shutil.which(tool):
            return name
    return ""


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("state") not in STATES:
        return "state %r is not one of %s" % (args.get("state"), ", ".join(STATES)), \
            "present, latest or absent"
    return None


OWN = ("name", "state", "use")
# The package managers' modules `use` may name (Ansible's backends that Mainsail declares).
BACKENDS = ("apt", "dnf", "dnf5", "yum", "apk", "zypper", "pacman", "pkgng", "openbsd_pkg",
            "portage", "homebrew", "pkg5", "pkgin", "swdepot", "urpmi", "xbps", "opkg")


def _backend_args() -> Tuple[Arg, ...]:
    """The backends' own arguments, accepted as Ansible's `package` accepts them (it passes
    them on): apt's, then yum/dnf's that apt lacks. Defaults are left to the backend."""
    seen = set(OWN)
    out = []
    for arg in apt.SPEC.args + rpm_spec("dnf").args:
        if arg.name in seen:
            continue
        seen.add(arg.name)
        out.append(Arg(arg.name, arg.type, aliases=tuple(a for a in arg.aliases
                                                         if a not in seen),
                       doc="passed to the backend: " + arg.doc))
    return tuple(out)


SPEC = OpSpec(
    name="package",
    summary="packages through the host's own package manager",
    ansible="`package`",
    args=(
        Arg("name", "names", doc="the packages (the names the host's distribution uses)",
            operand="package name"),
        Arg("state", default="present", choices=tuple(STATES),
            doc="installed (`present`/`installed`); at the newest version (`latest`); removed "
                "(`absent`/`removed`)"),
        Arg("use", default="auto", var="ansible_package_use",
            doc="the package manager: `auto` (the host's, or the variable "
                "`ansible_package_use`) or `apt`; another manager's name fails the step"),
    ) + _backend_args(),
    required=(("name",),),
    rule=_rule,
    # Ansible applies the backend module's module_defaults; of those, the packages and their
    # state are what every backend shares (another's own options would be refused here).
    defaults_from=("apt", "dnf", "yum", "apk"),
    defaults_shared=("name", "state"),
    doc="""\
Installs or removes packages through the host's package manager: Ansible's `package`. On the
Debian hosts Mainsail manages that is [`apt`](#apt), run with the same code: the step is
`changed` when a package had to be installed or removed. A host with another package manager
fails the step with its name. As in Ansible, the backend's own arguments are accepted and
passed on (apt's `update_cache`, `install_recommends`, ...); another manager's
(`enablerepo`) load, so that a task `when:` skips on Debian is skipped, and fail if run.
""",
    notes="""\
```yaml
- name: the tools every host gets
  package:
    name: [curl, rsync]
    state: present
```
""",
)
