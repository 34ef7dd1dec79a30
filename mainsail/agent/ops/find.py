"""find: files matching name, age, size and content tests (Ansible's `find`, read only)."""
from __future__ import annotations

import fnmatch
import os
import re
import stat as st_mod
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Pattern, Tuple

from .. import fileio, safepath
from ..core import Context, OpError, Outcome, accept, as_list, flag, relative_base, ok
from ..spec import Arg, OpSpec
from .stat import ALGORITHMS, checksum, describe

_AGE = re.compile(r"^(-?\d+)([smhdw]?)$")
_SIZE = re.compile(r"^(-?\d+)(b|k|m|g|t|kb|mb|gb|tb)?$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_BYTES = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_KINDS = {"file": ("file",), "directory": ("directory",), "link": ("link",),
          "any": ("file", "directory", "link", "fifo", "socket", "device", "other")}


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("find: %s" % problem[0], hint=problem[1])
    skipped: Dict[str, str] = {}
    test = _tests(args, skipped)
    limit = int(args["limit"]) if args.get("limit") not in (None, "") else None
    files: List[Dict[str, Any]] = []
    examined = 0
    msg = "All paths examined"
    for top in as_list(args["paths"]):
        # `~/` is the home of the user the step runs as; a relative folder, the login
        # user's home (as in Ansible)
        top = os.path.join(relative_base(), os.path.expanduser(str(top)))
        if len(top) > 1:
            top = top.rstrip("/")
        if safepath.kind(top) != "directory":
            skipped[top] = "'%s' is not a directory" % top
            continue
        for path, entry, count in _walk(top, args, skipped):
            examined += count
            if entry is None or not test(path, entry, top):
                continue
            info = describe(path, False, None)
            info.pop("kind", None)
            if flag(args, "get_checksum") and info.get("isreg"):
                info["checksum"] = checksum(path, str(args["checksum_algorithm"]))
            files.append(info)
            if limit is not None and len(files) >= limit:
                msg = "Limit of matches reached"
                break
    if skipped:
        msg = "Not all paths examined, check warnings for details"
    outcome = ok(msg)
    outcome.data = {"files": files, "matched": len(files), "examined": examined,
                    "skipped_paths": skipped}
    return outcome


def _walk(top: str, args: Mapping[str, Any], skipped: Dict[str, str]
          ) -> Iterator[Tuple[str, Optional[os.stat_result], int]]:
    """(path, lstat or None, entries newly examined) under ``top``, as Ansible's find walks:
    every entry of each folder visited counts as examined; entries deeper than ``depth`` are
    counted but not tested; hidden names are tested out later, hidden folders still entered."""
    depth_limit = int(args["depth"]) if args.get("depth") not in (None, "") else None
    base = top.rstrip(os.sep) + os.sep

    def onerror(exc: OSError) -> None:
        skipped[str(exc.filename)] = str(exc.strerror)
    for folder, dirs, names in os.walk(top, onerror=onerror, followlinks=flag(args, "follow")):
        yield folder, None, len(dirs) + len(names)
        for name in sorted(names + dirs):
            path = os.path.normpath(os.path.join(folder, name))
            if depth_limit is not None and \
                    path.count(os.sep) - base.count(os.sep) + 1 > depth_limit:
                dirs[:] = []
                continue
            try:
                entry = os.lstat(path)
            except OSError as exc:
                skipped[path] = str(exc.strerror)
                continue
            yield path, entry, 0
        if not flag(args, "recurse"):
            break


def _tests(args: Mapping[str, Any], skipped: Dict[str, str]
           ) -> Callable[[str, os.stat_result, str], bool]:
    """The test an entry must pass. A file ``contains`` cannot decode in ``encoding`` is
    noted in ``skipped`` under the folder searched, in Ansible's words."""
    kinds = _KINDS[str(args["file_type"])]
    patterns = _matchers(as_list(args.get("patterns")), flag(args, "use_regex"))
    excludes = _matchers(as_list(args.get("excludes")), flag(args, "use_regex"))
    age = _age(args.get("age"))
    size = _size(args.get("size"))
    contains = _pattern(args.get("contains"), "contains") if args.get("contains") else None
    stamp = "st_" + str(args["age_stamp"])
    mode = _mode(args.get("mode"))
    now = time.time()

    def test(path: str, entry: os.stat_result, top: str) -> bool:
        name = os.path.basename(path)
        if not flag(args, "hidden") and name.startswith("."):
            return False
        if safepath.kind_of(entry.st_mode) not in kinds:
            return False
        if patterns and not any(m(name) for m in patterns):
            return False
        if excludes and any(m(name) for m in excludes):
            return False
        if age is not None:
            elapsed = now - getattr(entry, stamp)
            if (age >= 0 and elapsed < age) or (age < 0 and elapsed > -age):
                return False
        if size is not None and st_mod.S_ISREG(entry.st_mode):  # Ansible: regular files only
            if (size >= 0 and entry.st_size < size) or (size < 0 and entry.st_size > -size):
                return False
        if mode is not None:
            bits = st_mod.S_IMODE(entry.st_mode)
            want = mode(bits, st_mod.S_ISDIR(entry.st_mode))
            if (bits != want) if flag(args, "exact_mode") else (bits & want != want):
                return False
        if contains is not None and kinds == ("file",):  # Ansible: with file_type file only
            try:
                if not _contains(path, contains, args):
                    return False
            except LookupError as exc:  # Ansible: the folder is skipped, not the step failed
                skipped[top] = str(exc)
                return False
            except UnicodeDecodeError:
                skipped[top] = ("Failed to read the file %s due to an encoding error. current "
                                "encoding: %s" % (path, args.get("encoding") or "utf-8"))
                return False
        return True
    return test


def _matchers(texts: List[str], use_regex: bool) -> List[Callable[[str], bool]]:
    if use_regex:
        return [(lambda name, p=_pattern(t, "patterns"): bool(p.match(name))) for t in texts]
    return [(lambda name, t=t: fnmatch.fnmatch(name, t)) for t in texts]


def _pattern(text: Any, what: str) -> Pattern[str]:
    try:
        return re.compile(str(text))
    except re.error as exc:
        raise OpError("find: %s %r is not a valid regex: %s" % (what, text, exc))


def _contains(path: str, pattern: Pattern[str], args: Mapping[str, Any]) -> bool:
    try:
        data = safepath.read_bytes(path)
    except OSError:
        return False
    text = (data or b"").decode(str(args.get("encoding") or "utf-8"))
    if flag(args, "read_whole_file"):
        return bool(pattern.search(text))
    return any(pattern.match(line) for line in text.splitlines())


def _mode(value: Any) -> Optional[Callable[[int, bool], int]]:
    """The wanted mode bits of an entry, from its own mode (a symbolic mode such as
    ``u=rw,g=r`` applies to it, as in Ansible)."""
    if value in (None, ""):
        return None
    if isinstance(value, int):
        return lambda bits, is_dir, v=value: v
    text = str(value).strip()
    if text[:1] in tuple("ugoa+-="):
        fileio.symbolic_mode(text, 0, False)  # a bad clause fails now, not per entry
        return lambda bits, is_dir: fileio.symbolic_mode(text, bits, is_dir)
    try:
        fixed = int(text, 8)
    except ValueError:
        raise OpError("find: mode %r is not an octal mode" % value, hint="e.g. '0644'")
    return lambda bits, is_dir: fixed


def _age(value: Any) -> Optional[int]:
    if value in (None, ""):
        return None
    match = _AGE.match(str(value).strip().lower())
    if not match:
        raise OpError("find: age %r is not a duration" % value, hint="e.g. 2d, -3h, 4w, 90s")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def _size(value: Any) -> Optional[int]:
    if value in (None, ""):
        return None
    match = _SIZE.match(str(value).strip().lower())
    if not match:
        raise OpError("find: size %r is not a size" % value, hint="e.g. 10k, -1m, 2g")
    return int(match.group(1)) * _BYTES[(match.group(2) or "")[:1]]


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("age") not in (None, "") and not _AGE.match(str(args["age"]).strip().lower()):
        return "age %r is not a duration" % args["age"], "e.g. 2d, -3h, 4w, 90s"
    if args.get("size") not in (None, "") and not _SIZE.match(str(args["size"]).strip().lower()):
        return "size %r is not a size" % args["size"], "e.g. 10k, -1m, 2g"
    return None


SPEC = OpSpec(
    name="find",
    summary="the files under folders that match name, age, size or content",
    ansible="`find`",
    args=(
        Arg("paths", "names", aliases=("name", "path"), doc="the folders to look in"),
        Arg("patterns", "globs", aliases=("pattern",),
            doc="shell patterns (or, with `use_regex`, regexes) a name must match (any)"),
        Arg("excludes", "globs", aliases=("exclude",),
            doc="patterns of names to leave out"),
        Arg("contains", doc="a regex a line of the file must match (regular files only)"),
        Arg("read_whole_file", "bool", default=False,
            doc="search `contains` in the whole file instead of line by line"),
        Arg("file_type", default="file", choices=("file", "directory", "link", "any"),
            doc="the kind of entry wanted"),
        Arg("recurse", "bool", default=False, doc="look in sub-folders too"),
        Arg("depth", "int", doc="with `recurse`, how many levels down (1: the folder's own "
                                "entries)"),
        Arg("follow", "bool", default=False, doc="follow symbolic links to folders"),
        Arg("hidden", "bool", default=False, doc="include names starting with `.`"),
        Arg("use_regex", "bool", default=False,
            doc="`patterns` and `excludes` are Python regexes matched from a name's start"),
        Arg("age", doc="older than this (`2d`, `3h`, `1w`, seconds); `-2d`: newer than"),
        Arg("age_stamp", default="mtime", choices=("atime", "ctime", "mtime"),
            doc="which time `age` compares"),
        Arg("size", doc="at least this big (`10k`, `1m`, bytes); `-1m`: at most"),
        Arg("get_checksum", "bool", default=False, doc="add each file's `checksum`"),
        Arg("checksum_algorithm", default="sha1", choices=ALGORITHMS,
            aliases=("checksum", "checksum_algo"), doc="the digest `checksum` holds"),
        Arg("encoding", doc="the text encoding `contains` reads files with (utf-8)"),
        Arg("limit", "int", doc="stop after this many matches"),
        Arg("mode", "octal", doc="only entries with this mode (see `exact_mode`)"),
        Arg("exact_mode", "bool", default=True,
            doc="`mode` must equal the entry's mode; `false`: the entry has at least its bits"),
    ),
    required=(("paths",),),
    rule=_rule,
    doc="""\
Lists the entries under one or more folders that pass every test given: Ansible's `find`.
The step is always `ok`; a task that `register`s it reads `files` (one dictionary per entry,
with `path` and the fields of [`stat`](#stat)), `matched` (how many), `examined`,
`skipped_paths` (paths that could not be read, with why) and Ansible's `msg` (`All paths
examined`, `Not all paths examined, check warnings for details`, `Limit of matches reached`). Read by the agent itself: no
process starts on the host.
""",
    notes="""\
```yaml
- name: old release folders
  find:
    paths: /srv/guestbook/releases
    file_type: directory
    age: 30d

- name: configs that still name the old host
  find:
    paths: /etc/nginx
    patterns: "*.conf"
    contains: 'old\\.example\\.org'
    recurse: true
```

Notes:

* Names starting with `.` are left out unless `hidden: true` (hidden folders are still entered
  with `recurse`, as in Ansible). `contains` applies with `file_type: file` only, `size` to
  regular files only; `examined` counts every entry of each folder looked in.
* A path that is not a folder is listed in `skipped_paths`, as Ansible does.
""",
)
