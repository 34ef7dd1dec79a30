"""apt: Debian packages present, absent or at the candidate version."""
from __future__ import annotations

import os
import re
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import proc
from ..core import (Context, OpError, Outcome, as_list, accept, flag, nothing, ok, operand,
                    settle)
from ..spec import Arg, OpSpec

# newest of these tells when the package lists were last fetched
CACHE_STAMPS = ("/var/lib/apt/periodic/update-success-stamp", "/var/cache/apt/pkgcache.bin",
                "/var/lib/apt/lists")
APT_OPTIONS = ["-y", "-q", "-o", "DPkg::Lock::Timeout=120",
               "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none",
           "LC_ALL": "C", "LANG": "C"}

Installed = Dict[str, Tuple[str, str]]  # package -> (dpkg state word, version)

# dpkg's database: its status file is read directly (dpkg-query where it cannot tell).
# The unit tests point this elsewhere so that their dpkg-query fakes on PATH are used.
DPKG_ADMINDIR = "/var/lib/dpkg"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("apt: %s" % problem[0], hint=problem[1])
    state = args["state"]
    notes = []
    if flag(args, "update_cache") or args.get("cache_valid_time") not in (None, ""):
        notes.append(_update_cache(ctx, args.get("cache_valid_time")))
    specs = [operand("apt", "package name", s) for s in as_list(args.get("name"))]
    outcomes: List[Outcome] = []
    if args.get("deb"):
        outcomes.append(_deb(ctx, str(args["deb"])))
    if specs:
        installed = query_installed([split_spec(s)[0] for s in specs])
        if state == "absent":
            outcomes.append(_absent(ctx, specs, installed, flag(args, "purge")))
        else:
            outcomes.append(_present(ctx, specs, installed, state == "latest",
                                     flag(args, "install_recommends"),
                                     args.get("default_release")))
    upgrade = _upgrade_mode(args.get("upgrade"))
    if upgrade:
        outcomes.append(_upgrade(ctx, upgrade))
    if flag(args, "autoremove"):
        outcomes.append(_autoremove(ctx, flag(args, "purge")))
    outcome = ok()
    if any(o.status != "ok" for o in outcomes):
        outcome = next(o for o in outcomes if o.status != "ok")
    outcome.msg = ", ".join(n for n in notes + [o.msg for o in outcomes] if n)
    return outcome


UPGRADES = {"safe": "upgrade", "yes": "upgrade", "true": "upgrade", "full": "dist-upgrade",
            "dist": "dist-upgrade"}


def _upgrade_mode(value: Any) -> str:
    """apt-get's verb for Ansible's `upgrade` (yes/safe, full, dist); '' for no."""
    text = str(value).strip().lower() if value not in (None, "") else "no"
    return UPGRADES.get(text, "")


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("deb") and args.get("state", "present") == "absent":
        return "deb installs a file: state absent goes with name", "name the package instead"
    upgrade = args.get("upgrade")
    if upgrade not in (None, "") and str(upgrade).strip().lower() not in \
            tuple(UPGRADES) + ("no", "false"):
        return "upgrade: %s is not one of no, yes, safe, full, dist" % upgrade, "upgrade: dist"
    given = [n for n in ("name", "deb", "update_cache", "upgrade", "autoremove")
             if args.get(n) not in (None, "", [])]
    if not given and args.get("cache_valid_time") in (None, ""):
        return "nothing to do: give name, deb, update_cache, upgrade or autoremove", \
            "add name: ..."
    both = [n for n in ("name", "deb") if args.get(n) not in (None, "", [])]
    if len(both) > 1:
        return "give only one of name and deb", "one task each"
    return None


# ---- parsing (pure) --------------------------------------------------------

def split_spec(spec: str) -> Tuple[str, Optional[str]]:
    """'nginx=1.22-1' -> ('nginx', '1.22-1'); 'libc6:amd64' -> ('libc6', None)."""
    name, _, version = spec.partition("=")
    return name.split(":")[0].strip(), (version.strip() or None)


def parse_dpkg_query(text: str) -> Installed:
    """Lines of '${Package}\\t${Status}\\t${Version}'; an installed arch wins over others."""
    out: Installed = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        name, status, version = parts[0], parts[1].split(), parts[2]
        word = status[-1] if status else ""
        if name not in out or word == "installed":
            out[name] = (word, version)
    return out


def parse_apt_policy(text: str) -> Dict[str, Tuple[Optional[str], Optional[str]]]:
    """`apt-cache policy` -> package -> (installed version, candidate version); None = (none)."""
    out: Dict[str, Tuple[Optional[str], Optional[str]]] = {}
    name = None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            name = line.rstrip()[:-1].split(":")[0]
            out[name] = (None, None)
        elif name and line.strip().startswith(("Installed:", "Candidate:")):
            key, _, value = line.strip().partition(":")
            value = value.strip()
            current = out[name]
            version = None if value in ("(none)", "") else value
            out[name] = (version, current[1]) if key == "Installed" else (current[0], version)
    return out


# Only names dpkg-query would take literally (no glob, no upper case, no '_') are looked up in
# the file; the words and fields below are the ones whose meaning dpkg-query is known to agree
# with. Anything else (a half-done install, pending triggers, a hand-edited stanza) is left
# to dpkg-query, so the answer is dpkg's own. Fields the answer does not use (Depends, ...) and
# other packages' stanzas are taken as dpkg wrote them: a database broken there, which
# dpkg-query would refuse to read, is left for apt and dpkg to report when they next run.
PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]*\Z")
PLAIN_VERSION = re.compile(r"(?:[1-9][0-9]{0,8}:)?[0-9][A-Za-z0-9.+~]*(?:-[A-Za-z0-9.+~]+)*\Z")
PLAIN_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
WANTS = ("unknown", "install", "hold", "deinstall", "purge")
EFLAGS = ("ok", "reinstreq")
DECIDED = ("installed", "config-files", "not-installed")
MULTIARCH = ("no", "same", "foreign", "allowed")
# fields dpkg checks against the state (or renames): their stanzas go to dpkg-query
UNDECIDED_FIELDS = ("triggers-pending", "triggers-awaited", "revision", "package-revision",
                    "package_revision")


def parse_dpkg_status(text: str, names: List[str]) -> Optional[Installed]:
    """dpkg's status file -> what `dpkg-query -W` prints for `names`, as parse_dpkg_query reads
    it; None when only dpkg-query can tell (then it is asked)."""
    if not names or not all(PLAIN_NAME.match(n) for n in names):
        return None
    if text and not text.endswith("\n"):
        return None  # dpkg refuses a file without its final newline
    wanted = set(names)
    found: Dict[str, List[Dict[str, str]]] = {}
    for chunk in text.split("\n\n"):
        chunk = chunk.lstrip("\n")  # dpkg takes any number of blank lines between stanzas
        if not chunk:
            continue
        if chunk.startswith("Package: "):
            end = chunk.find("\n")
            name = chunk[9:] if end < 0 else chunk[9:end]
            if name not in wanted:
                # dpkg strips and lowercases names: 'Curl ' would be curl to dpkg-query
                if name.split(":")[0].strip().lower() in wanted:
                    return None
                continue
            fields = _stanza(chunk)
            if fields is None:
                return None
            found.setdefault(name, []).append(fields)
        else:
            # not as dpkg writes it (field order or case changed by hand): read it all
            fields = _stanza(chunk)
            if fields is None or "package" not in fields:
                return None
            if fields["package"].split(":")[0].lower() in wanted:
                return None
    out: Installed = {}
    for name, stanzas in found.items():
        entries = _entries(stanzas)
        if entries is None:
            return None
        # dpkg-query's order (by architecture for Multi-Arch: same) and parse_dpkg_query's rule
        for word, version in entries:
            if name not in out or word == "installed":
                out[name] = (word, version)
    return out


def _stanza(chunk: str) -> Optional[Dict[str, str]]:
    """A stanza's fields (names lowercased, values stripped); None when dpkg might refuse it
    or read a field otherwise (a duplicate, a folded state field, no colon)."""
    fields: Dict[str, str] = {}
    last = ""
    for line in chunk.split("\n"):
        if not line:
            continue
        if line[0] in " \t":
            if last in ("package", "status", "version", "architecture", "multi-arch"):
                return None
            continue  # a continuation line (Description, Conffiles, ...)
        key, colon, value = line.partition(":")
        key = key.lower()
        if not colon or len(key) < 2 or key != key.strip() or " " in key or "\t" in key \
                or key in fields:
            return None
        fields[key] = value.strip()
        last = key
    return fields


def _entries(stanzas: List[Dict[str, str]]) -> Optional[List[Tuple[str, str]]]:
    """(state word, version) per stanza in dpkg-query's order; None to ask dpkg-query."""
    entries = []
    for fields in stanzas:
        if any(f in fields for f in UNDECIDED_FIELDS):
            return None
        status = fields.get("status")
        version = fields.get("version")
        arch = fields.get("architecture")
        multiarch = fields.get("multi-arch", "no").lower()
        if version is not None and not PLAIN_VERSION.match(version):
            return None  # dpkg-query prints its own spelling ('0:1.0' as '1.0')
        if status is None:
            word, version = "not-installed", ""  # dpkg: unknown ok not-installed, no version
        else:
            words = status.split()
            if len(words) != 3 or words[0] not in WANTS or words[1] not in EFLAGS \
                    or words[2] not in DECIDED:
                return None
            word = words[2]
        if version is None:
            if word != "not-installed":
                return None  # dpkg refuses it
            version = ""
        if "config-version" in fields and word != "config-files":
            return None
        if arch is not None and not PLAIN_ARCH.match(arch):
            return None
        if multiarch not in MULTIARCH or (multiarch == "same" and arch in (None, "all")):
            return None
        entries.append((arch or "", multiarch, word, version))
    if len(entries) > 1:
        # several architectures: decided here only when dpkg takes them all (Multi-Arch:
        # same, one stanza each) and so sorts them by architecture name
        archs = [e[0] for e in entries]
        if any(e[1] != "same" for e in entries) or "" in archs or len(set(archs)) < len(archs):
            return None
        entries.sort()
    return [(e[2], e[3]) for e in entries]


def is_installed(installed: Installed, spec: str) -> bool:
    name, version = split_spec(spec)
    word, have = installed.get(name, ("", ""))
    return word == "installed" and (version is None or have == version)


# ---- reading state -----------------------------------------------------------

def query_installed(names: List[str]) -> Installed:
    # dpkg's status file answers in a few ms where dpkg-query's start takes tens
    table = read_dpkg_status(names)
    if table is not None:
        return table
    # rc 1 only means some names are unknown to dpkg: those are simply not installed
    result = proc.run(["dpkg-query", "-W", "-f", "${Package}\\t${Status}\\t${Version}\\n", "--"]
                      + names,
                      extra_env=proc.C_LOCALE)
    if result.rc not in (0, 1):
        raise result.failure("dpkg-query")
    return parse_dpkg_query(result.stdout)


def read_dpkg_status(names: List[str], admindir: Optional[str] = None) -> Optional[Installed]:
    """The names' state from dpkg's status file; None when dpkg-query must be asked: another
    database (DPKG_ADMINDIR, DPKG_ROOT), no status file, or changes dpkg has journalled in
    updates/ and not yet written to the status file (dpkg-query applies them)."""
    if os.environ.get("DPKG_ADMINDIR") or os.environ.get("DPKG_ROOT"):
        return None
    folder = admindir or DPKG_ADMINDIR
    try:
        if any(n != "tmp.i" for n in os.listdir(os.path.join(folder, "updates"))):
            return None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        with open(os.path.join(folder, "status"), "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return parse_dpkg_status(data.decode("utf-8", "surrogateescape"), names)


def query_policy(names: List[str]) -> Dict[str, Tuple[Optional[str], Optional[str]]]:
    return parse_apt_policy(proc.check_output(["apt-cache", "policy", "--"] + names,
                                              extra_env=proc.C_LOCALE).stdout)


def cache_age(stamps: Optional[Tuple[str, ...]] = None,
              now: Optional[float] = None) -> Optional[float]:
    """Seconds since the package lists were last updated; None when never."""
    times = [os.stat(p).st_mtime for p in (stamps or CACHE_STAMPS) if os.path.exists(p)]
    if not times:
        return None
    return (time.time() if now is None else now) - max(times)


# ---- deciding and applying ---------------------------------------------------

def _update_cache(ctx: Context, valid_time: Any) -> str:
    age = cache_age()
    try:
        valid = None if valid_time in (None, "") else int(valid_time)
    except (TypeError, ValueError):
        raise OpError("apt: cache_valid_time must be a number of seconds, got %r" % valid_time)
    if valid is not None and age is not None and age <= valid:
        return ""
    if ctx.check:
        return "cache would be updated"
    proc.check_output(["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=120"],
                      "apt-get update", extra_env=APT_ENV)
    # an update alone is not a change of the host's configuration
    return "cache updated"


def _present(ctx: Context, specs: List[str], installed: Installed, latest: bool,
             recommends: bool, release: Any = None) -> Outcome:
    wanted = [s for s in specs if not is_installed(installed, s)]
    if latest:
        policy = query_policy([split_spec(s)[0] for s in specs])
        wanted += [s for s in specs if s not in wanted and _upgradable(policy, s)]
    argv = ["apt-get", "install"] + APT_OPTIONS
    argv += [] if recommends else ["--no-install-recommends"]
    if release not in (None, ""):
        argv += ["-t", operand("apt", "default_release", release)]
    changes = ["install " + " ".join(wanted)] if wanted else []
    return settle(ctx, changes, lambda: _apt(argv + ["--"] + wanted))


def _upgradable(policy: Mapping[str, Tuple[Optional[str], Optional[str]]], spec: str) -> bool:
    name, version = split_spec(spec)
    have, candidate = policy.get(name, (None, None))
    return version is None and candidate is not None and have != candidate


def _absent(ctx: Context, specs: List[str], installed: Installed, purge: bool) -> Outcome:
    names = [split_spec(s)[0] for s in specs]
    leftover = ("installed", "config-files") if purge else ("installed",)
    targets = [n for n in names if installed.get(n, ("", ""))[0] in leftover]
    verb = "purge" if purge else "remove"
    if not targets:
        return settle(ctx, [], nothing)
    return settle(ctx, ["%s %s" % (verb, " ".join(targets))],
                  lambda: _apt(["apt-get", verb] + APT_OPTIONS + ["--"] + targets))


def _deb(ctx: Context, path: str) -> Outcome:
    """A local .deb file installed unless its package is installed at its version."""
    if not os.path.isfile(path):
        raise OpError("apt: deb file %s does not exist" % path,
                      hint="copy it to the host first (copy, get_url)")
    fields = proc.check_output(["dpkg-deb", "-f", path, "Package", "Version"],
                               "dpkg-deb", extra_env=proc.C_LOCALE).stdout
    info = dict(line.split(": ", 1) for line in fields.splitlines() if ": " in line)
    name, version = info.get("Package", ""), info.get("Version", "")
    if not name:
        raise OpError("apt: %s is not a Debian package" % path)
    if is_installed(query_installed([name]), "%s=%s" % (name, version)):
        return settle(ctx, [], nothing)
    return settle(ctx, ["install %s %s from %s" % (name, version, path)],
                  lambda: _apt(["apt-get", "install"] + APT_OPTIONS + ["--", path]))


def autoremovable(purge: bool) -> List[str]:
    """What `apt-get autoremove` would remove, from its simulation (changes nothing)."""
    argv = ["apt-get", "-s", "autoremove"] + (["--purge"] if purge else [])
    text = proc.check_output(argv, "apt-get -s autoremove", extra_env=APT_ENV).stdout
    return [line.split()[1] for line in text.splitlines()
            if line.startswith(("Remv ", "Purg ")) and len(line.split()) > 1]


def _autoremove(ctx: Context, purge: bool) -> Outcome:
    names = autoremovable(purge)
    if not names:
        return settle(ctx, [], nothing)
    return settle(ctx, ["autoremove " + " ".join(names)], lambda: _apt(
        ["apt-get", "autoremove"] + APT_OPTIONS + (["--purge"] if purge else [])))


def _upgrade(ctx: Context, verb: str) -> Outcome:
    """`apt-get upgrade`/`dist-upgrade`, when its simulation says it would install anything."""
    text = proc.check_output(["apt-get", "-s", verb] + APT_OPTIONS, "apt-get -s " + verb,
                             extra_env=APT_ENV).stdout
    names = [line.split()[1] for line in text.splitlines()
             if line.startswith("Inst ") and len(line.split()) > 1]
    if not names:
        return settle(ctx, [], nothing)
    extra = ["--with-new-pkgs"] if verb == "upgrade" else []
    return settle(ctx, ["%s %s" % (verb, " ".join(names))],
                  lambda: _apt(["apt-get", verb] + APT_OPTIONS + extra))


def _apt(argv: List[str]) -> None:
    proc.check_output(argv, " ".join(argv[:2]), extra_env=APT_ENV)


SPEC = OpSpec(
    name='apt',
    summary='Debian packages installed, upgraded or removed',
    ansible='`apt`',
    args=(
        Arg('name', 'names', aliases=('pkg', 'package'), doc='the packages; `name=version` asks for that version', operand='package name'),
        Arg('state', default='present', choices=('present', 'absent', 'latest'), doc='installed; removed; installed at the candidate version'),
        Arg('update_cache', 'bool', aliases=('update-cache',), doc='run `apt-get update` first (not done when left out)'),
        Arg('cache_valid_time', 'int', doc='with `update_cache`: skip the update when the package lists are younger than this many seconds'),
        Arg('install_recommends', 'bool', default=False, aliases=('install-recommends',), doc="also install the packages' recommended packages"),
        Arg('purge', 'bool', doc='with `state: absent`: purge the configuration files too, also of packages removed earlier that left them behind'),
        Arg('deb', 'abspath', doc='a `.deb` file on the host to install (unless its package is installed at its version)'),
        Arg('autoremove', 'bool', doc='remove the packages nothing depends on any more (`apt-get autoremove`)'),
        Arg('upgrade', 'any', doc='upgrade every package: `yes`/`safe` (`apt-get upgrade --with-new-pkgs`), `full`/`dist` (`apt-get dist-upgrade`), `no`'),
        Arg('default_release', aliases=('default-release',), doc='install from this release (`-t`): `bookworm-backports`'),
        Arg('force_apt_get', 'bool', doc='accepted for Ansible\'s tasks: apt-get is always used'),
        Arg('lock_timeout', 'int', doc='accepted for Ansible\'s tasks: apt waits up to two minutes for the lock'),
    ),
    rule=_rule,
    doc="""\
Installs, upgrades and removes Debian packages with `apt-get`. The installed packages are read
from dpkg's status file (with `dpkg-query` where the file alone cannot tell: a package half
installed or awaiting triggers, changes dpkg has not written back yet, a name pattern): a
package counts as installed when dpkg's status says `installed`, and, for `name=version`, when
that exact version is installed. `state: present` installs the packages
that are not installed, in one `apt-get install`; `state: latest` also upgrades those whose
candidate version (`apt-cache policy`) differs from the installed one; `state: absent` runs
`apt-get remove` (or `purge`) for those that are installed. The step is `changed` when apt had
to be run; refreshing the package lists alone leaves it `ok` (the message says
"cache updated").
""",
    notes="""\
```yaml
- name: mail server packages
  apt:
    name: [postfix, dovecot-imapd, dovecot-lmtpd, opendkim, opendkim-tools]
    update_cache: true
    cache_valid_time: 3600

- name: no rpcbind on a mail server
  apt:
    name: rpcbind
    state: absent
    purge: true
```

Notes:

* apt runs non-interactively (`DEBIAN_FRONTEND=noninteractive`): questions get their
  default answer, or the one set beforehand with [`debconf`](#debconf). Locally changed
  configuration files are kept on upgrades (`--force-confold`), and apt waits up to two
  minutes for the dpkg lock (a running unattended-upgrades, say) before it fails.
* The age of the package lists is the newest of `/var/lib/apt/periodic/update-success-stamp`,
  `/var/cache/apt/pkgcache.bin` and `/var/lib/apt/lists`.
* Check mode: nothing is downloaded or installed; the message lists what would be installed or
  removed, and "cache would be updated" when the lists would be refreshed. `state: latest`
  compares against the package lists as they are on the host. No diff.
* Errors: apt's own, e.g. `apt-get install failed (rc 100): E: Unable to locate package
  ngnix`.
* `cache_valid_time` implies `update_cache`, as in Ansible. `autoremove` looks first with
  `apt-get -s autoremove` and is `changed` only when something was removed.
* Ansible differences: one of `name` or `deb` is needed (a task that only refreshes the lists
  or only autoremoves is `command: apt-get update` / `apt-get autoremove -y` for now).
  `install_recommends` defaults to `false` (Ansible and apt itself
  install recommended packages unless told not to). `upgrade`, `allow_downgrade`,
  `only_upgrade` and the other Ansible arguments not in the table are refused.
""",
)
