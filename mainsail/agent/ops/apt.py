"""apt: Debian packages present, absent or at the candidate version."""
from __future__ import annotations

import contextlib
import fnmatch
import os
import random
import re
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .. import proc
from ..core import (Context, OpError, Outcome, as_list, accept, flag, nothing, ok, operand,
                    settle)
from ..spec import Arg, OpSpec

# newest of these tells when the package lists were last fetched
CACHE_STAMPS = ("/var/lib/apt/periodic/update-success-stamp", "/var/cache/apt/pkgcache.bin",
                "/var/lib/apt/lists")
LOCK_TIMEOUT = 120
DPKG_OPTIONS = "force-confdef,force-confold"
UPDATE_TRIES, UPDATE_MAX_DELAY = 5, 12  # Ansible's update_cache_retries and its longest wait
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none",
           "LC_ALL": "C", "LANG": "C"}
# `force`: what apt-get's deprecated --force-yes stands for
FORCE_FLAGS = ("--allow-unauthenticated", "--allow-downgrades", "--allow-remove-essential",
               "--allow-change-held-packages")
# written for the length of an apt run with `policy_rc_d` (invoke-rc.d asks it)
POLICY_RC_D = "/usr/sbin/policy-rc.d"
# `clean`: apt-get clean empties these (but for the names in CLEAN_KEEPS)
CLEAN_DIRS = ("/var/cache/apt/archives", "/var/cache/apt/archives/partial",
              "/var/lib/apt/lists/partial")
CLEAN_KEEPS = ("lock", "partial", "auxfiles", "lost+found")

Installed = Dict[str, Tuple[str, str]]  # package -> (dpkg state word, version)

# dpkg's database: its status file is read directly (dpkg-query where it cannot tell).
# The unit tests point this elsewhere so that their dpkg-query fakes on PATH are used.
DPKG_ADMINDIR = "/var/lib/dpkg"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("apt: %s" % problem[0], hint=problem[1])
    apt = Apt(args)
    state = args["state"]
    notes = []
    outcomes: List[Outcome] = []
    if flag(args, "clean"):
        outcomes.append(_clean(ctx))
    if flag(args, "update_cache") or args.get("cache_valid_time") not in (None, ""):
        notes.append(_update_cache(ctx, apt, args.get("cache_valid_time"),
                                   args.get("update_cache_retries"),
                                   args.get("update_cache_retry_max_delay")))
    specs = expand_patterns([operand("apt", "package name", s)
                             for s in as_list(args.get("name"))])
    if args.get("deb"):
        outcomes.append(_deb(ctx, apt, str(args["deb"])))
    if specs or state == "fixed":  # fixed alone repairs what is broken
        installed = installed_table(specs) if specs else {}
        if state == "absent":
            outcomes.append(_absent(ctx, apt, specs, installed, flag(args, "purge")))
        elif state == "build-dep":
            outcomes.append(_simulated(ctx, apt, "build-dep", specs,
                                       flag(args, "install_recommends"),
                                       args.get("default_release")))
        elif state == "fixed":
            outcomes.append(_simulated(ctx, apt, "install", specs,
                                       flag(args, "install_recommends"),
                                       args.get("default_release"), "--fix-broken"))
        else:
            outcomes.append(_present(ctx, apt, specs, installed, state == "latest",
                                     flag(args, "install_recommends"),
                                     args.get("default_release"), flag(args, "only_upgrade")))
    upgrade = _upgrade_mode(args.get("upgrade"))
    if upgrade:
        outcomes.append(_upgrade(ctx, apt, upgrade, args.get("default_release")))
    if flag(args, "autoclean"):
        outcomes.append(_autoclean(ctx, apt))
    if flag(args, "autoremove"):
        outcomes.append(_autoremove(ctx, apt, flag(args, "purge")))
    outcome = ok()
    if any(o.status != "ok" for o in outcomes):
        outcome = next(o for o in outcomes if o.status != "ok")
    outcome.msg = ", ".join(n for n in notes + [o.msg for o in outcomes] if n)
    if apt.stdout:  # apt-get ran: its output, as Ansible's result carries it
        outcome.rc = 0
        outcome.stdout = "".join(apt.stdout)
        outcome.stderr = "".join(apt.stderr)
        outcome.data = dict(outcome.data or {}, stdout_lines=outcome.stdout.splitlines(),
                            stderr_lines=outcome.stderr.splitlines())
        if ctx.diff:  # Ansible's diff of an apt run: what apt said it would do or did
            prepared = prepared_diff(outcome.stdout)
            outcome.data["diff"] = {"prepared": prepared}
            outcome.diff = prepared
    return outcome


def prepared_diff(output: str) -> str:
    """Ansible's parse_diff: apt-get's lines from after 'Reading state information...' to
    its 'N upgraded, ...' line."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if line in ("Resolving dependencies...", "Reading state information...")), -1)
    end = next((i for i, line in enumerate(lines)
                if re.match(r"[0-9]+ (packages )?upgraded", line)), len(lines))
    return "\n".join(lines[start + 1:end + 1])


UPGRADES = {"safe": "upgrade", "yes": "upgrade", "true": "upgrade", "full": "dist-upgrade",
            "dist": "dist-upgrade"}


PATTERN_CHARS = frozenset("*?[")


def known_packages() -> List[str]:
    """Every package name the package lists know (`apt-cache pkgnames`)."""
    return proc.check_output(["apt-cache", "pkgnames"], "apt-cache pkgnames",
                             extra_env=APT_ENV).stdout.split()


def expand_patterns(specs: List[str], names: Optional[List[str]] = None) -> List[str]:
    """Ansible's fnmatch patterns in package names (`hel?o`, `python3-*`) matched against
    the package lists (one `apt-cache pkgnames`, only when a pattern is given); a pattern
    that matches nothing fails in Ansible's words."""
    if not any(PATTERN_CHARS & set(split_spec(s)[0]) for s in specs):
        return specs
    known = known_packages() if names is None else names
    out: List[str] = []
    for spec in specs:
        left, cmp, version = split_cmp(spec)
        eq, version = cmp or "", version or ""
        name, colon, arch = left.partition(":")  # libc6:amd64 keeps its arch
        if not PATTERN_CHARS & set(name):
            out.append(spec)
            continue
        found = sorted(fnmatch.filter(known, name))
        if not found:
            raise OpError("No package(s) matching '%s' available" % name,
                          hint="apt-cache search %s" % name.strip("*?[]"))
        more = [n + colon + arch + eq + version for n in found]
        out += [m for m in more if m not in out]
    return out


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
    given = [n for n in ("name", "deb", "update_cache", "upgrade", "autoremove", "autoclean",
                         "clean")
             if args.get(n) not in (None, "", [])]
    if not given and args.get("cache_valid_time") in (None, "") and \
            args.get("state") != "fixed":  # fixed alone repairs what is broken
        return "nothing to do: give name, deb, update_cache, upgrade, autoremove, autoclean " \
            "or clean", "add name: ..."
    both = [n for n in ("name", "deb") if args.get(n) not in (None, "", [])]
    if len(both) > 1:
        return "give only one of name and deb", "one task each"
    code = args.get("policy_rc_d")
    if code not in (None, "") and not (isinstance(code, int) and 0 <= code <= 255):
        return "policy_rc_d: %r is not an exit code (0 to 255)" % (code,), \
            "policy_rc_d: 101 (the action is forbidden: services are not started)"
    for item in str(args.get("dpkg_options") or "").split(","):
        if item.strip().startswith("-"):
            return "dpkg_options: %r: give dpkg's options without their dashes" % item.strip(), \
                "comma-separated: force-confdef,force-confold"
    return None


# ---- parsing (pure) --------------------------------------------------------

def split_spec(spec: str) -> Tuple[str, Optional[str]]:
    """'nginx=1.22-1' -> ('nginx', '1.22-1'); 'libc6:amd64' -> ('libc6', None);
    'foo>=1.0' -> ('foo', '1.0')."""
    name, _, version = split_cmp(spec)
    return name.split(":")[0].strip(), version


def split_cmp(spec: str) -> Tuple[str, Optional[str], Optional[str]]:
    """Ansible's package_split: 'foo>=1.0' -> ('foo', '>=', '1.0'), 'foo=1.0.*' -> ('foo',
    '=', '1.0.*'), 'foo' -> ('foo', None, None)."""
    parts = re.split(r"(>?=)", spec, maxsplit=1)
    if len(parts) == 3:
        return parts[0].strip(), parts[1], parts[2].strip() or None
    return spec.strip(), None, None


def is_matched(spec: str) -> bool:
    """Whether the spec's version is a comparison (>=) or a pattern (=1.0.*), which the
    package lists' versions are matched against (Ansible's package_best_match)."""
    _, cmp, version = split_cmp(spec)
    return cmp == ">=" or (cmp == "=" and bool(version) and bool(PATTERN_CHARS & set(version)))


def _order(char: str) -> int:
    if char == "~":
        return -1
    if not char or char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp: text runs by _order (~ sorts before anything), numbers by value."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        first = 0
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first:
                first = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first:
            return first
    return 0


def version_compare(a: str, b: str) -> int:
    """Debian's version order (dpkg --compare-versions), with no process: <0, 0 or >0."""
    def parts(v: str) -> Tuple[int, str, str]:
        epoch, colon, rest = v.partition(":")
        if not colon:
            epoch, rest = "0", v
        upstream, dash, revision = rest.rpartition("-")
        if not dash:
            upstream, revision = rest, ""
        return int(epoch or 0) if epoch.isdigit() else 0, upstream, revision
    ea, ua, ra = parts(a.strip())
    eb, ub, rb = parts(b.strip())
    if ea != eb:
        return ea - eb
    return _compare_part(ua, ub) or _compare_part(ra, rb)


def parse_version_table(text: str) -> Dict[str, List[str]]:
    """`apt-cache policy` -> package -> every version its lists (and dpkg) know."""
    out: Dict[str, List[str]] = {}
    name = None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            name = line.rstrip()[:-1].split(":")[0]
            out[name] = []
            continue
        row = re.match(r" (?:\*\*\*| {3}) (\S+) -?\d+$", line)
        if name and row:
            out[name].append(row.group(1))
    return out


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
    word, have = installed.get(_qualified(spec) or name, ("", ""))
    return word == "installed" and (version is None or have == version)


def _qualified(spec: str) -> str:
    """'hello:i386=2.10-3' -> 'hello:i386'; '' for a name without an architecture."""
    name = split_cmp(spec)[0]
    return name if ":" in name else ""


def installed_table(specs: List[str]) -> Installed:
    """query_installed for the specs' names; a name with an architecture (hello:i386) is
    asked of dpkg-query as such, since the plain name answers for any architecture."""
    table = query_installed(sorted({split_spec(s)[0] for s in specs if not _qualified(s)}))
    for name in sorted({_qualified(s) for s in specs if _qualified(s)}):
        table[name] = query_qualified(name)
    return table


def query_qualified(name: str) -> Tuple[str, str]:
    """(state word, version) of one architecture's package (``hello:i386``)."""
    result = proc.run(["dpkg-query", "-W", "-f", "${Status}\t${Version}\n", "--", name],
                      extra_env=proc.C_LOCALE)
    line = result.stdout.splitlines()[0] if result.rc == 0 and result.stdout else ""
    status, _, version = line.partition("\t")
    words = status.split()
    return (words[2] if len(words) == 3 else "not-installed", version.strip())


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


def query_policy(names: List[str], release: Any = None
                 ) -> Dict[str, Tuple[Optional[str], Optional[str]]]:
    return parse_apt_policy(policy_text(names, release))


def policy_text(names: List[str], release: Any = None) -> str:
    """`apt-cache policy` of the names; with a release, as `apt-get -t RELEASE` sees it."""
    target = ["-t", operand("apt", "default_release", release)] \
        if release not in (None, "") else []
    return proc.check_output(["apt-cache"] + target + ["policy", "--"] + names,
                             extra_env=proc.C_LOCALE).stdout


def best_match(spec: str, release: Any = None) -> Optional[str]:
    """The version apt would install for a matched spec, as Ansible's package_best_match
    finds it: for `=PATTERN` the highest version matching it (Ansible pins the pattern above
    every other pin), for `>=` the candidate (with `-t RELEASE` where given)."""
    name, cmp, version = split_cmp(spec)
    text = policy_text([name], release)
    if cmp == "=":
        known = parse_version_table(text).get(name.split(":")[0], [])
        matching = [v for v in known if fnmatch.fnmatchcase(v, version or "")]
        if not matching:
            return None
        best = matching[0]
        for v in matching[1:]:
            if version_compare(v, best) > 0:
                best = v
        return best
    return parse_apt_policy(text).get(name.split(":")[0], (None, None))[1]


def cache_age(stamps: Optional[Tuple[str, ...]] = None,
              now: Optional[float] = None) -> Optional[float]:
    """Seconds since the package lists were last updated; None when never."""
    times = [os.stat(p).st_mtime for p in (stamps or CACHE_STAMPS) if os.path.exists(p)]
    if not times:
        return None
    return (time.time() if now is None else now) - max(times)


# ---- deciding and applying ---------------------------------------------------

def expand_dpkg_options(value: Any) -> List[str]:
    """Ansible's `dpkg_options` ('force-confdef,force-confold') as apt-get's arguments, one
    `-o Dpkg::Options::=--OPTION` each."""
    out: List[str] = []
    for item in str(value or "").split(","):
        if item.strip():
            out += ["-o", "Dpkg::Options::=--" + item.strip()]
    return out


class Apt:
    """How this task runs apt-get: the options every run shares (`-y -q`, the lock wait,
    dpkg's options, `force`), and /usr/sbin/policy-rc.d around the runs that install or
    remove (`policy_rc_d`)."""

    def __init__(self, args: Mapping[str, Any]) -> None:
        timeout = args.get("lock_timeout")
        self.lock = ["-o", "DPkg::Lock::Timeout=%d" % (LOCK_TIMEOUT if timeout in (None, "")
                                                        else int(timeout))]
        dpkg = args.get("dpkg_options")
        self.dpkg = expand_dpkg_options(DPKG_OPTIONS if dpkg is None else dpkg)
        self.force = flag(args, "force")
        self.policy_rc_d = args.get("policy_rc_d")
        # what apt-get printed in the runs that changed the host: Ansible's stdout/stderr
        self.stdout: List[str] = []
        self.stderr: List[str] = []
        self.fail_on_autoremove = flag(args, "fail_on_autoremove")
        self.allow = [f for f, name in (("--allow-unauthenticated", "allow_unauthenticated"),
                                        ("--allow-downgrades", "allow_downgrade"),
                                        ("--allow-change-held-packages",
                                         "allow_change_held_packages"))
                      if flag(args, name)]

    def argv(self, verb: str, *extra: str, allow: Tuple[str, ...] = ()) -> List[str]:
        """`apt-get VERB` with the shared options, `extra`, and those of the task's allow_*
        flags named in `allow` (with `force`: all four of --force-yes's)."""
        flags = [f for f in self.allow if f in allow]
        if self.force:
            flags += [f for f in FORCE_FLAGS if f not in flags]
        return ["apt-get", verb, "-y", "-q"] + self.lock + self.dpkg + list(extra) + flags

    def install_argv(self, *extra: str) -> List[str]:
        """`apt-get install` as Ansible runs it: --no-remove with `fail_on_autoremove`, every
        allow_* flag given."""
        more = list(extra) + (["--no-remove"] if self.fail_on_autoremove else [])
        return self.argv("install", *more, allow=ALL_ALLOWS)

    def run(self, argv: List[str]) -> proc.Proc:
        with policy_rc_d(self.policy_rc_d):
            done = proc.check_output(argv, " ".join(argv[:2]), extra_env=APT_ENV)
        self.stdout.append(done.stdout)
        self.stderr.append(done.stderr)
        return done


ALL_ALLOWS = ("--allow-unauthenticated", "--allow-downgrades", "--allow-change-held-packages")


@contextlib.contextmanager
def policy_rc_d(code: Any, path: Optional[str] = None) -> Iterator[None]:
    """/usr/sbin/policy-rc.d answering `exit CODE` while the block runs (101: services are
    neither started nor stopped by the packages' scripts); the file there before is put back,
    else it is removed (unless a package installed its own meanwhile)."""
    if code in (None, ""):
        yield
        return
    path = path or POLICY_RC_D
    script = "#!/bin/sh\nexit %d\n" % int(code)
    backup = "%s.mainsail-%d" % (path, os.getpid())  # beside it: moved by a rename
    fresh = backup + ".new"
    had = os.path.lexists(path)
    try:
        # made new, never through a link, with its mode from the start
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755)
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), 0o755)  # whatever the umask
            fh.write(script)
        if had:
            os.rename(path, backup)
        os.replace(fresh, path)
    except OSError as exc:
        if had and os.path.lexists(backup):
            os.replace(backup, path)
        if os.path.lexists(fresh):
            os.unlink(fresh)
        raise OpError("apt: cannot write %s: %s" % (path, exc.strerror))
    try:
        yield
    finally:
        if had:
            os.replace(backup, path)
        else:
            try:
                with open(path) as fh:
                    ours = fh.read() == script
            except OSError:
                ours = False
            if ours:
                os.unlink(path)


def _update_cache(ctx: Context, apt: Apt, valid_time: Any, retries: Any = None,
                  max_delay: Any = None) -> str:
    age = cache_age()
    try:
        valid = None if valid_time in (None, "") else int(valid_time)
    except (TypeError, ValueError):
        raise OpError("apt: cache_valid_time must be a number of seconds, got %r" % valid_time)
    if valid is not None and age is not None and age <= valid:
        return ""
    if ctx.check:
        return "cache would be updated"
    tries = max(1, int(UPDATE_TRIES if retries in (None, "") else retries))
    longest = max(0, int(UPDATE_MAX_DELAY if max_delay in (None, "") else max_delay))
    argv = ["apt-get", "update", "-q"] + apt.lock
    for attempt in range(tries):
        result = proc.run(argv, extra_env=APT_ENV)
        if result.rc == 0:
            break
        if attempt + 1 == tries:
            raise result.failure("apt-get update" + (" (%d tries)" % tries if tries > 1 else ""))
        # Ansible's backoff: 1, 2, 4, ... seconds up to the longest, and a little randomness
        time.sleep(min(2 ** attempt, longest) + random.random())
    # an update alone is not a change of the host's configuration
    return "cache updated"


EXTENDED_STATES = "/var/lib/apt/extended_states"  # apt's record of automatic installs


def auto_installed(names: List[str], path: Optional[str] = None) -> List[str]:
    """Which of ``names`` apt marks as installed automatically (as another's dependency),
    read from its extended_states file: no process started."""
    if not names:
        return []
    try:
        with open(path or EXTENDED_STATES, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return []
    wanted = set(names)
    found = []
    for chunk in text.split("\n\n"):
        fields = _stanza(chunk) or {}
        if fields.get("package") in wanted and fields.get("auto-installed") == "1" and \
                fields["package"] not in found:
            found.append(fields["package"])
    return found


def _present(ctx: Context, apt: Apt, specs: List[str], installed: Installed, latest: bool,
             recommends: bool, release: Any = None, only_upgrade: bool = False) -> Outcome:
    if only_upgrade:  # packages not installed are left out
        specs = [s for s in specs if installed.get(split_spec(s)[0], ("", ""))[0] == "installed"]
    plain = [s for s in specs if not is_matched(s)]
    wanted = [s for s in plain if not is_installed(installed, s)]
    if latest and plain:
        policy = query_policy([split_spec(s)[0] for s in plain], release)
        wanted += [s for s in plain if s not in wanted and _upgradable(policy, s)]
    for spec in specs:
        pick = _matched(spec, installed, latest, release) if is_matched(spec) else None
        if pick:
            wanted.append(pick)
    extra = ["--only-upgrade"] if only_upgrade else []
    extra += [] if recommends else ["--no-install-recommends"]
    if release not in (None, ""):
        extra += ["-t", operand("apt", "default_release", release)]
    argv = apt.install_argv(*extra)
    changes = ["install " + " ".join(wanted)] if wanted else []
    # a package named here that came in as another's dependency becomes one asked for, as
    # Ansible marks it (apt-mark manual): autoremove will not take it away
    named = [split_spec(s)[0] for s in specs if s not in wanted]
    auto = [n for n in auto_installed(named) if installed.get(n, ("", ""))[0] == "installed"]
    if auto:
        changes.append("mark manual " + " ".join(auto))

    def apply() -> None:
        if wanted:
            _apt(apt, argv + ["--"] + wanted)
        if auto:
            _apt_plain(["apt-mark", "manual", "--"] + auto)
    if ctx.check and wanted:  # what apt would do, in its words (Ansible's check mode shows it)
        simulated = proc.run(argv[:1] + ["-s"] + argv[1:] + ["--"] + wanted, extra_env=APT_ENV)
        if simulated.rc == 0:  # (a package from a source an earlier step would add: unknown)
            apt.stdout.append(simulated.stdout)
            apt.stderr.append(simulated.stderr)
    return settle(ctx, changes, apply)


def _matched(spec: str, installed: Installed, latest: bool, release: Any) -> Optional[str]:
    """For `foo>=1.0` or `foo=1.0.*`: `name=version` to install, or None when what is installed
    will do, decided as Ansible's package_status decides it."""
    name, cmp, version = split_cmp(spec)
    word, have = installed.get(_qualified(spec) or split_spec(spec)[0], ("", ""))
    best = best_match(spec, release)

    def fits(candidate: str) -> bool:
        if cmp == "=":
            return fnmatch.fnmatchcase(candidate, version or "")
        return version_compare(candidate, version or "") >= 0
    if word == "installed":
        good = fits(have)
        installable = best if best and best != have and fits(best) else None
    else:
        good, installable = False, best
    if not good and not installable:
        raise OpError("no available installation candidate for %s" % spec,
                      hint="apt-cache policy %s" % name)
    if installable and (word != "installed" or latest or not good):
        return "%s=%s" % (name, installable)
    return None


def _simulated(ctx: Context, apt: Apt, verb: str, specs: List[str], recommends: bool,
               release: Any = None, *more: str) -> Outcome:
    """`apt-get build-dep` (the packages' build dependencies) or `apt-get install
    --fix-broken` (Ansible's `state: fixed`), when its simulation says it would install,
    remove or configure anything: what apt decides is not known before it is asked."""
    extra = list(more) + ([] if recommends else ["--no-install-recommends"])
    if release not in (None, ""):
        extra += ["-t", operand("apt", "default_release", release)]
    extra += ["--no-remove"] if apt.fail_on_autoremove else []
    argv = apt.argv(verb, *extra, allow=ALL_ALLOWS) + ["--"] + specs
    text = proc.check_output(argv[:1] + ["-s"] + argv[1:], "apt-get -s " + verb,
                             extra_env=APT_ENV).stdout
    acts = [" ".join(line.split()[:2]) for line in text.splitlines()
            if line.startswith(("Inst ", "Remv ", "Purg ", "Conf ")) and len(line.split()) > 1]
    if not acts:
        return settle(ctx, [], nothing)
    what = "build-dep %s: " % " ".join(specs) if verb == "build-dep" else "fix-broken: "
    names = sorted({a.split()[1] for a in acts})
    return settle(ctx, [what + " ".join(names)], lambda: _apt(apt, argv))


def _upgradable(policy: Mapping[str, Tuple[Optional[str], Optional[str]]], spec: str) -> bool:
    name, version = split_spec(spec)
    have, candidate = policy.get(name, (None, None))
    return version is None and candidate is not None and have != candidate


def _absent(ctx: Context, apt: Apt, specs: List[str], installed: Installed,
            purge: bool) -> Outcome:
    names = [_qualified(s) or split_spec(s)[0] for s in specs]  # hello:i386 stays itself
    leftover = ("installed", "config-files") if purge else ("installed",)
    targets = [n for n in names if installed.get(n, ("", ""))[0] in leftover]
    verb = "purge" if purge else "remove"
    if not targets:
        return settle(ctx, [], nothing)
    argv = apt.argv(verb, allow=("--allow-change-held-packages",))
    return settle(ctx, ["%s %s" % (verb, " ".join(targets))],
                  lambda: _apt(apt, argv + ["--"] + targets))


def _deb(ctx: Context, apt: Apt, path: str) -> Outcome:
    """A local .deb file installed unless its package is installed at its version."""
    if not os.path.isfile(path):
        raise OpError("apt: deb file %s does not exist" % path,
                      hint="copy it to the host first (copy, get_url)")
    fields = proc.check_output(["dpkg-deb", "-f", path, "Package", "Version", "Architecture"],
                               "dpkg-deb", extra_env=proc.C_LOCALE).stdout
    info = dict(line.split(": ", 1) for line in fields.splitlines() if ": " in line)
    name, version = info.get("Package", ""), info.get("Version", "")
    if not name:
        raise OpError("apt: %s is not a Debian package" % path)
    arch = info.get("Architecture", "")
    if arch not in ("", "all") and arch != native_architecture():
        name = "%s:%s" % (name, arch)  # a foreign architecture's package (multiarch)
    if is_installed(installed_table([name]), "%s=%s" % (name, version)):
        return settle(ctx, [], nothing)
    # force: dpkg itself is told to install whatever it finds wrong (Ansible's dpkg --force-all)
    argv = apt.install_argv(*(["-o", "Dpkg::Options::=--force-all"] if apt.force else []))
    return settle(ctx, ["install %s %s from %s" % (name, version, path)],
                  lambda: _apt(apt, argv + ["--", path]))


def native_architecture() -> str:
    return proc.check_output(["dpkg", "--print-architecture"], "dpkg --print-architecture",
                             extra_env=proc.C_LOCALE).stdout.strip()


def autoremovable(purge: bool) -> List[str]:
    """What `apt-get autoremove` would remove, from its simulation (changes nothing)."""
    argv = ["apt-get", "-s", "autoremove"] + (["--purge"] if purge else [])
    text = proc.check_output(argv, "apt-get -s autoremove", extra_env=APT_ENV).stdout
    return [line.split()[1] for line in text.splitlines()
            if line.startswith(("Remv ", "Purg ")) and len(line.split()) > 1]


def _autoremove(ctx: Context, apt: Apt, purge: bool) -> Outcome:
    names = autoremovable(purge)
    if not names:
        return settle(ctx, [], nothing)
    argv = apt.argv("autoremove", *(["--purge"] if purge else []))
    return settle(ctx, ["autoremove " + " ".join(names)], lambda: _apt(apt, argv))


def _autoclean(ctx: Context, apt: Apt) -> Outcome:
    """`apt-get autoclean` (`-s` in check mode): `changed` when it deleted (would delete)
    package files, its "Del NAME VERSION [SIZE]" lines, as in Ansible."""
    argv = apt.argv("autoclean")
    if ctx.check:
        text = proc.check_output(argv + ["-s"], "apt-get -s autoclean", extra_env=APT_ENV).stdout
    else:
        text = apt.run(argv).stdout
    gone = ["%s=%s" % tuple(line.split()[1:3]) for line in text.splitlines()
            if line.startswith("Del ") and len(line.split()) > 2]
    return settle(ctx, ["autoclean " + " ".join(gone)] if gone else [], nothing)


def downloaded_files(folders: Optional[Tuple[str, ...]] = None) -> List[str]:
    """The files `apt-get clean` deletes: what apt downloaded into its archives and lists."""
    out = []
    for folder in folders or CLEAN_DIRS:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        out += sorted(e.path for e in entries
                      if e.name not in CLEAN_KEEPS and not e.is_dir(follow_symlinks=False))
    return out


def _clean(ctx: Context) -> Outcome:
    """`apt-get clean`, when there are downloaded files for it to delete."""
    files = downloaded_files()
    if not files:
        return settle(ctx, [], nothing)
    return settle(ctx, ["clean %d downloaded file%s" % (len(files), "s"[len(files) == 1:])],
                  lambda: _apt_plain(["apt-get", "clean", "-q"]))


def _upgrade(ctx: Context, apt: Apt, verb: str, release: Any = None) -> Outcome:
    """`apt-get upgrade`/`dist-upgrade`, when its simulation says it would install anything."""
    extra = ["--with-new-pkgs"] if verb == "upgrade" else []
    extra += ["--no-remove"] if apt.fail_on_autoremove else []
    if release not in (None, ""):
        extra += ["-t", operand("apt", "default_release", release)]
    argv = apt.argv(verb, *extra, allow=("--allow-unauthenticated", "--allow-downgrades"))
    text = proc.check_output(argv[:1] + ["-s"] + argv[1:], "apt-get -s " + verb,
                             extra_env=APT_ENV).stdout
    names = [line.split()[1] for line in text.splitlines()
             if line.startswith("Inst ") and len(line.split()) > 1]
    if not names:
        return settle(ctx, [], nothing)
    return settle(ctx, ["%s %s" % (verb, " ".join(names))], lambda: _apt(apt, argv))


def _apt(apt: Apt, argv: List[str]) -> None:
    apt.run(argv)


def _apt_plain(argv: List[str]) -> None:
    proc.check_output(argv, " ".join(argv[:2]), extra_env=APT_ENV)


SPEC = OpSpec(
    name='apt',
    summary='Debian packages installed, upgraded or removed',
    ansible='`apt`',
    args=(
        Arg('name', 'names', aliases=('pkg', 'package'), doc='the packages; `name=version` asks for that version', operand='package name'),
        Arg('state', default='present', choices=('present', 'absent', 'latest', 'build-dep', 'fixed'), doc='installed; removed; installed at the candidate version; `build-dep`: the build dependencies of the named (source) packages installed (`apt-get build-dep`: the host needs `deb-src` sources); `fixed`: broken dependencies repaired in place (`apt-get install --fix-broken`), the named packages installed with them'),
        Arg('update_cache', 'bool', aliases=('update-cache',), doc='run `apt-get update` first (not done when left out)'),
        Arg('cache_valid_time', 'int', doc='with `update_cache`: skip the update when the package lists are younger than this many seconds'),
        Arg('install_recommends', 'bool', default=False, aliases=('install-recommends',), doc="also install the packages' recommended packages"),
        Arg('purge', 'bool', doc='with `state: absent`: purge the configuration files too, also of packages removed earlier that left them behind'),
        Arg('deb', 'abspath', doc='a `.deb` file on the host to install (unless its package is installed at its version)'),
        Arg('autoremove', 'bool', doc='remove the packages nothing depends on any more (`apt-get autoremove`)'),
        Arg('upgrade', 'any', doc='upgrade every package: `yes`/`safe` (`apt-get upgrade --with-new-pkgs`), `full`/`dist` (`apt-get dist-upgrade`), `no`'),
        Arg('default_release', aliases=('default-release',), doc='install from this release (`-t`): `bookworm-backports`'),
        Arg('force_apt_get', 'bool', doc='accepted for Ansible\'s tasks: apt-get is always used'),
        Arg('lock_timeout', 'int', doc='how many seconds apt waits for the dpkg lock (a running unattended-upgrades, say) before it fails (`-o DPkg::Lock::Timeout=`); 120 when left out'),
        Arg('update_cache_retries', 'int', doc='with `update_cache`: how many times `apt-get update` is tried before the step fails; 5 when left out'),
        Arg('update_cache_retry_max_delay', 'int', doc='the longest wait between those tries, in seconds (they wait 1, 2, 4, ... seconds); 12 when left out'),
        Arg('dpkg_options', doc="dpkg's options for every apt run, comma-separated, each passed as `-o Dpkg::Options::=--OPTION`; `force-confdef,force-confold` when left out"),
        Arg('force', 'bool', doc="apt-get's `--force-yes`: `--allow-unauthenticated --allow-downgrades --allow-remove-essential --allow-change-held-packages`, and dpkg's `--force-all` for a `deb` file. Dangerous"),
        Arg('allow_downgrade', 'bool', aliases=('allow-downgrade', 'allow_downgrades', 'allow-downgrades'), doc='let `name=version` install a version lower than the installed one (`--allow-downgrades`)'),
        Arg('allow_unauthenticated', 'bool', aliases=('allow-unauthenticated',), doc="install packages whose signature apt cannot check (`--allow-unauthenticated`)"),
        Arg('allow_change_held_packages', 'bool', doc='let apt install, upgrade or remove packages on hold (`--allow-change-held-packages`)'),
        Arg('only_upgrade', 'bool', doc='only upgrade packages already installed: the others named are left out (`--only-upgrade`)'),
        Arg('fail_on_autoremove', 'bool', doc='fail rather than remove a package to install or upgrade others (`--no-remove`)'),
        Arg('policy_rc_d', 'int', doc="the exit code of `/usr/sbin/policy-rc.d` while apt runs (`101`: the packages' services are not started); the file there before is put back after"),
        Arg('autoclean', 'bool', doc='delete downloaded package files that can no longer be downloaded (`apt-get autoclean`)'),
        Arg('clean', 'bool', doc='delete all downloaded package files (`apt-get clean`), before anything else'),
        Arg('auto_install_module_deps', 'bool', doc="accepted for Ansible's tasks: Mainsail needs no python3-apt"),
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
`apt-get remove` (or `purge`) for those that are installed. With `only_upgrade`, packages that
are not installed are left out. The step is `changed` when apt had to be run; refreshing the
package lists alone leaves it `ok` (the message says "cache updated").
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

- name: back to the tested release, services left stopped
  apt:
    name: nginx=1.22.1-9
    allow_downgrade: true
    policy_rc_d: 101
```

Notes:

* apt runs non-interactively (`DEBIAN_FRONTEND=noninteractive`): questions get their
  default answer, or the one set beforehand with [`debconf`](#debconf). Locally changed
  configuration files are kept on upgrades (`dpkg_options`' default `force-confdef,
  force-confold`), and apt waits up to `lock_timeout` seconds (two minutes unless told;
  Ansible's default is one) for the dpkg lock before it fails.
* The age of the package lists is the newest of `/var/lib/apt/periodic/update-success-stamp`,
  `/var/cache/apt/pkgcache.bin` and `/var/lib/apt/lists`. A failed `apt-get update` is tried
  again (`update_cache_retries`, waiting 1, 2, 4, ... seconds, at most
  `update_cache_retry_max_delay`, plus up to a second at random), as Ansible does.
* `name=version` installs that version; one lower than the installed one needs
  `allow_downgrade` (or `force`), else apt refuses it and the step fails. The second run finds
  the version installed and is `ok`.
* `clean` runs `apt-get clean` first, and only when there are files for it to delete in
  `/var/cache/apt/archives/` (and its `partial/`) or `/var/lib/apt/lists/partial/`: the step
  is `changed` then, `ok` when there were none. `autoclean` runs `apt-get autoclean` last
  (`-s` in check mode) and is `changed` when it deleted files (its `Del` lines), as in
  Ansible. `autoremove` looks first with `apt-get -s autoremove` and is `changed` only when
  something was removed. `cache_valid_time` implies `update_cache`, as in Ansible.
* `policy_rc_d` writes `/usr/sbin/policy-rc.d` (`#!/bin/sh`, `exit CODE`) around each apt run
  that installs, upgrades or removes (not in check mode); a file that was there is moved
  aside and put back after, even when apt fails.
* Check mode: nothing is downloaded, installed or deleted; the message lists what would be
  installed, removed or cleaned, and "cache would be updated" when the lists would be
  refreshed. `state: latest` compares against the package lists as they are on the host. No
  diff.
* Errors: apt's own, e.g. `apt-get install failed (rc 100): E: Unable to locate package
  ngnix`.
* Ansible differences: a task needs something to do: `name`, `deb`, `update_cache` (or
  `cache_valid_time`), `upgrade`, `autoremove`, `autoclean` or `clean`; any of them alone
  works (`apt: update_cache=yes` refreshes the lists and is `ok`, where Ansible says
  `changed`). `install_recommends` defaults to `false` (Ansible and apt itself install
  recommended packages unless told not to). `clean` alone is `ok` when there was nothing to
  delete (Ansible 2.19 says `changed` every time); `autoclean` and `autoremove` also run when
  `name` is given (Ansible then skips `autoclean` and passes `--auto-remove` to the install).
  `force` passes the four `--allow-*` options `--force-yes` stands for (modern apt warns
  about `--force-yes` itself). `state: build-dep` and `fixed` ask apt's simulation
  (`apt-get -s`) first and are `changed` when it would install, remove or configure
  anything. Not supported: a `deb` given as a URL (it must be a file on the host), version
  comparisons in `name` (`foo>=1.0`). A name with `*`, `?` or `[` is a pattern matched
  against the package lists (`apt-cache pkgnames`), as Ansible's fnmatch patterns are.
""",
)
