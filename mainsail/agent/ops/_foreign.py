"""What yum, dnf and apk share here: they load, so that a role written for several
distributions can be read (and its tasks skipped by `when:`), and fail clearly when run."""
from __future__ import annotations

import shutil
from typing import Any, Mapping, Optional, Tuple

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

Notes:

* The arguments are Ansible's `dnf` arguments (Ansible 2.19 runs `yum` as `dnf`), checked with
  its types and its exclusions (`use`/`use_backend`, `name`/`list`, `best`/`nobest`) when the
  playbook loads. The host's package manager is never run: the task fails as said above,
  check mode included, whatever `list`, `allowerasing`, `best` or `install_repoquery` say.
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
            Arg("skip_broken", "bool", doc="skip packages with broken dependencies"),
            Arg("nobest", "bool", doc="accept a version other than the best"),
            Arg("bugfix", "bool", doc="bug fix updates only"),
            Arg("cacheonly", "bool", doc="the local cache only"),
            Arg("download_only", "bool", doc="download, do not install"),
            Arg("download_dir", doc="where downloaded packages go"),
            Arg("installroot", doc="another root to install into"),
            Arg("releasever", doc="another release's repositories"),
            Arg("conf_file", doc="another configuration file"),
            Arg("enable_plugin", "names", doc="plugins to enable"),
            Arg("disable_plugin", "names", doc="plugins to disable"),
            Arg("disable_excludes", doc="exclusions to ignore"),
            Arg("validate_certs", "bool", doc="check the repositories' TLS certificates"),
            Arg("sslverify", "bool", doc="check TLS certificates"),
            Arg("use_backend", doc="the backend: auto, %s, or another" % tool),
            Arg("use", doc="the same as use_backend (one of the two)"),
            Arg("list", doc="a query (`installed`, `updates`, `available`, `repos` or a "
                            "package spec) reporting packages instead of changing any"),
            Arg("install_repoquery", "bool", doc="no effect with dnf (Ansible: deprecated)"),
            Arg("allowerasing", "bool", doc="remove installed packages to resolve "
                                            "dependencies (`--allowerasing`)"),
            Arg("best", "bool", doc="the best version or a failure (`--best`); false: accept "
                                    "another (`--nobest`); the opposite of `nobest`"),
        ),
        rule=_rpm_rule,
        doc=RPM_DOC.format(tool=tool),
        notes=RPM_NOTES.format(tool=tool),
    )


def _rpm_rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("use") not in (None, "") and args.get("use_backend") not in (None, ""):
        return ("parameters are mutually exclusive: use|use_backend",  # Ansible's words
                "give one of them")
    if args.get("list") not in (None, "") and args.get("name") not in (None, "", []):
        return ("parameters are mutually exclusive: name|list",  # Ansible's words
                "a list query changes nothing: give it in a task of its own")
    if args.get("best") is not None and args.get("nobest") is not None:
        return ("parameters are mutually exclusive: best|nobest",  # Ansible's words
                "give one of them (nobest: true is best: false)")
    return None


# Arch's pacman and SUSE's zypper (community.general): the arguments roles use with them.
OTHER_ARGS = {
    "pacman": (("update_cache", "bool", "refresh the package databases"),
               ("upgrade", "bool", "upgrade every installed package"),
               ("extra_args", "str", "more pacman options"),
               ("force", "bool", "remove even when others depend on it")),
    "zypper": (("update_cache", "bool", "refresh the repositories"),
               ("type", "str", "package, patch, pattern, product or application"),
               ("disable_recommends", "bool", "leave recommended packages out"),
               ("extra_args", "str", "more zypper options")),
    "pkgng": (("cached", "bool", "use the local package cache only"),
              ("annotation", "str", "package annotations"),
              ("pkgsite", "str", "the repository to use"),
              ("rootdir", "str", "another root to install into")),
    "openbsd_pkg": (("build", "bool", "build from ports"),
                    ("ports_dir", "str", "the ports tree"),
                    ("clean", "bool", "clean the ports build")),
    "zypper_repository": (("repo", "str", "the repository's URI or .repo file"),
                          ("description", "str", "its description"),
                          ("auto_import_keys", "bool", "import its signing keys"),
                          ("autorefresh", "bool", "refresh it automatically"),
                          ("enabled", "bool", "whether it is enabled"),
                          ("priority", "int", "its priority"),
                          ("disable_gpg_check", "bool", "skip signature checks"),
                          ("overwrite_multiple", "bool", "replace several .repo entries"),
                          ("runrefresh", "bool", "refresh it now")),
    "yum_repository": (("description", "str", "its description"),
                       ("baseurl", "names", "where its packages are"),
                       ("gpgkey", "names", "its signing keys"),
                       ("gpgcheck", "bool", "check signatures"),
                       ("enabled", "bool", "whether it is enabled"),
                       ("file", "str", "the .repo file's name"),
                       ("mirrorlist", "str", "a list of mirrors")),
}
OTHER_FAMILY = {"pacman": "Archlinux", "zypper": "Suse", "pkgng": "FreeBSD",
                "openbsd_pkg": "OpenBSD", "zypper_repository": "Suse",
                "yum_repository": "RedHat"}
# The program whose absence the refusal names ("this host has no pkg").
OTHER_TOOL = {"pkgng": "pkg", "openbsd_pkg": "pkg_add", "zypper_repository": "zypper",
              "yum_repository": "yum"}


def other_spec(tool: str, extra: Tuple[Arg, ...] = (), more_notes: str = "") -> OpSpec:
    """pacman and zypper: one declaration shape for both. ``extra``: arguments of the op's
    own beyond OTHER_ARGS (with their aliases and choices); ``more_notes``: appended to the
    notes."""
    family = OTHER_FAMILY[tool]
    return OpSpec(
        name=tool,
        summary="%s package%s: accepted when a playbook loads, refused when run"
                % (family, " repositories" if "_repository" in tool else "s"),
        ansible="`%s` (community.general)" % tool,
        args=(Arg("name", "names", aliases=("pkg", "package") if "_repository" not in tool
                  else (), doc="the packages" if "_repository" not in tool
                  else "the repository's name"),
              Arg("state", choices=STATES + ("dist-upgrade",),
                  doc="what Ansible's `%s` would make of them" % tool)) +
        tuple(Arg(n, t, doc=d) for n, t, d in OTHER_ARGS[tool]) + extra,
        doc="""\
Ansible's `{tool}`, so that roles written for {family} and Debian load: a task that `when:`
skips on a Debian host is simply skipped. When one does run, it fails with "this host has no
{tool}" and a hint; Mainsail manages packages with [`apt`](#apt) and [`package`](#package).
""".format(tool=tool, family=family),
        notes="""\
```yaml
- name: the web server ({family})
  {tool}:
    name: nginx
  when: ansible_facts.os_family == '{family}'
```
""".format(tool=tool, family=family) + more_notes,
    )
