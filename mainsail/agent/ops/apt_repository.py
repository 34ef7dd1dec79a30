"""apt_repository: one-line apt sources (`deb URI SUITE COMPONENTS`) present or absent."""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import fileio, proc, safepath
from ..core import Context, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec

SOURCES_LIST = "/etc/apt/sources.list"
SOURCES_DIR = "/etc/apt/sources.list.d"
TYPES = ("deb", "deb-src")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", "LANG": "C"}
# "[# ]deb [opt=v opt2=v] uri suite comp..." ; the comment mark is what `enabled` means
_LINE = re.compile(r"^(?P<hash>#\s*)?(?P<kind>deb|deb-src)\s+(?P<rest>\S.*?)\s*(?:#.*)?$")


def normalize(line: str) -> Optional[str]:
    """A source line's meaning as one string (whitespace and option order do not count);
    None when it is not a source line. Commented-out sources normalize like enabled ones."""
    match = _LINE.match(line.strip())
    if not match:
        return None
    rest = match.group("rest")
    options = ""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            return None
        options = " ".join(sorted(rest[1:end].split()))
        rest = rest[end + 1:]
    words = rest.split()
    if len(words) < 2:
        return None
    head = match.group("kind") + (" [%s]" % options if options else "")
    return " ".join([head] + words)


def is_enabled(line: str) -> bool:
    return not line.lstrip().startswith("#")


def suggest_filename(repo: str) -> str:
    """Ansible's naming of a repository's file: its URI's host and path, with every run of
    other characters turned into one '_' (`deb http://ppa.example/x stable` -> ppa_example_x)."""
    text = re.sub(r"\[[^\]]*\]", "", repo)
    text = re.sub(r"\w+://", "", text)
    words = [w for w in text.split() if w not in TYPES]
    first = words[0].split("@", 1)[-1] if words else "source"
    return "_".join(re.sub(r"[^a-zA-Z0-9]", " ", first).split())


def source_files() -> List[str]:
    """sources.list and every *.list beside it, in apt's order."""
    files = [SOURCES_LIST] if os.path.isfile(SOURCES_LIST) else []
    try:
        names = sorted(os.listdir(SOURCES_DIR))
    except OSError:
        names = []
    files += [os.path.join(SOURCES_DIR, n) for n in names if n.endswith(".list")]
    return files


def read_lines(path: str) -> List[str]:
    data = fileio.read_file(path)
    return data.decode("utf-8", "replace").splitlines() if data else []


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("apt_repository: %s" % problem[0], hint=problem[1])
    repo = str(args["repo"]).strip()
    wanted = normalize(repo)
    name = args.get("filename") or suggest_filename(repo)
    target = os.path.join(SOURCES_DIR, name if name.endswith(".list") else name + ".list")
    edits: Dict[str, List[str]] = {}  # file -> its new lines
    added: List[str] = []
    removed: List[str] = []
    befores: Dict[str, List[str]] = {}
    for path in source_files():
        befores[path] = read_lines(path)
    if args["state"] == "present":
        found = [(p, i) for p, lines in befores.items() for i, l in enumerate(lines)
                 if normalize(l) == wanted]
        if not any(is_enabled(befores[p][i]) for p, i in found):
            if found:  # a commented-out copy: enable it where it is, as Ansible does
                path, index = found[0]
                lines = list(befores[path])
                lines[index] = re.sub(r"^\s*#\s*", "", lines[index])
                edits[path] = lines
            else:
                lines = list(befores.get(target, []))
                lines.append(repo)
                edits[target] = lines
            added.append(repo)
    else:
        for path, lines in befores.items():
            kept = [l for l in lines if normalize(l) != wanted]
            if len(kept) != len(lines):
                edits[path] = kept
                removed.extend(l for l in lines if normalize(l) == wanted)
    changes = ["%s %s %s" % ("added to" if args["state"] == "present" else "removed from",
                             path, repo) for path in sorted(edits)]
    diff = ""
    if ctx.diff:
        diff = "".join(fileio.unified_diff(_bytes(befores.get(p)), _bytes(edits[p]), p)
                       for p in sorted(edits))
    mode = args.get("mode") or "0644"

    def apply() -> None:
        for path, lines in sorted(edits.items()):
            if not any(l.strip() for l in lines) and path != SOURCES_LIST:
                ctx.keep(path)  # nothing left in it: the file goes, as Ansible's does
                safepath.remove(path)
                continue
            fileio.atomic_write(fileio.write_target(path), _bytes(lines) or b"",
                                mode if path not in befores else None, journal=ctx.journal)
        if flag(args, "update_cache"):
            proc.check_output(["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=120"],
                              "apt-get update", extra_env=APT_ENV)
    outcome = settle(ctx, changes, apply, diff)
    outcome.data = {"repo": repo, "state": args["state"], "sources_added": added,
                    "sources_removed": removed}
    return outcome


def _bytes(lines: Optional[List[str]]) -> Optional[bytes]:
    if lines is None:
        return None
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    repo = str(args.get("repo") or "")
    if repo.startswith("ppa:"):
        return "PPAs are Ubuntu's: this host has no add-apt-repository key service", \
            "give the repository's deb line and its key (deb822_repository with signed_by)"
    if normalize(repo) is None or repo.lstrip().startswith("#"):
        return "%r is not a one-line source" % repo, \
            "deb [signed-by=/etc/apt/keyrings/x.asc] https://host/debian bookworm main"
    if "\n" in repo:
        return "repo must be one line", "one apt_repository task per line"
    name = str(args.get("filename") or "")
    if name and ("/" in name or name.startswith(".")):
        return "filename %r must be a plain name" % name, \
            "the file is /etc/apt/sources.list.d/NAME.list"
    return None


SPEC = OpSpec(
    name="apt_repository",
    summary="a one-line apt source in sources.list.d, present or absent",
    ansible="`apt_repository`",
    args=(
        Arg("repo", doc="the source line: `deb [options] URI SUITE [COMPONENT...]`"),
        Arg("state", default="present", choices=("present", "absent"),
            doc="present: the line is in some source file (a commented-out copy is enabled); "
                "absent: it is removed from every source file"),
        Arg("filename", doc="the file's name in /etc/apt/sources.list.d, without `.list`; "
                            "by default made from the URI's host and path, as Ansible does"),
        Arg("mode", "octal", doc="the mode of a file this task creates (default 0644)"),
        Arg("update_cache", "bool", default=True, aliases=("update-cache",),
            doc="run `apt-get update` after a change"),
        Arg("update_cache_retries", "int", doc="accepted for Ansible's tasks; one update is run"),
        Arg("update_cache_retry_max_delay", "int", doc="accepted for Ansible's tasks"),
        Arg("validate_certs", "bool", doc="accepted for Ansible's tasks (used only for PPAs, "
                                          "which are refused)"),
        Arg("codename", doc="accepted for Ansible's tasks (used only for PPAs)"),
        Arg("install_python_apt", "bool",
            doc="accepted for Ansible's tasks: no python-apt is needed"),
    ),
    required=(("repo",),),
    rule=_rule,
    journalled=True,
    doc="""\
Keeps a one-line apt source present or absent, as Ansible's `apt_repository`. Every source
file is read (`/etc/apt/sources.list` and `sources.list.d/*.list`); lines are compared by
meaning, not by spacing or option order. `present` is `ok` when an enabled copy exists
anywhere, enables a commented-out copy where it is, or appends the line to
`sources.list.d/FILENAME.list`; `absent` removes it from every file, and a file left empty
is removed. Writes are atomic and journalled; after a change `apt-get update` runs
(`update_cache: false` skips it). The result has `repo`, `state`, `sources_added` and
`sources_removed`.
""",
    notes="""\
```yaml
- name: the project's own package repository
  apt_repository:
    repo: deb [signed-by=/etc/apt/keyrings/example.asc] https://apt.example.org/debian bookworm main
    filename: example
```

Notes:

* `ppa:` sources are refused: they need Launchpad's key service, which Debian hosts do not
  have. Use the repository's own line and key.
* The newer `.sources` format (deb822) is `deb822_repository`'s.
""",
)
