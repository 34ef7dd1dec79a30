"""file: a path's kind (file, directory, link, hard link, absent), owner/group/mode, times."""
from __future__ import annotations

import grp
import os
import pwd
import stat
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import (Context, MissingPrerequisite, OpError, Outcome, accept, flag, nothing,
                    ok, settle)
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = dict(accept(SPEC, args))
    path = str(args["path"])
    if flag(args, "_diff_peek"):
        return _diff_peek(path)
    state = args.get("state")
    current = ansible_state(path)
    if not state:
        # Ansible's default: what the path is now; a folder with recurse; else a file.
        follow_kind = kind(path, follow=_follow(args))
        state = args["state"] = (
            "directory" if flag(args, "recurse") or follow_kind == "directory"
            else "link" if follow_kind == "link" or (current == "link" and args.get("src"))
            else "hard" if current == "hard" and args.get("src") else "file")
    if args.get("src") and state not in ("link", "hard"):
        outcome = OpError("src option requires state to be 'link' or 'hard'").outcome()
        outcome.data = result_data(ctx, path, args)
        return outcome
    if state == "hard" and args.get("src") and current == "directory":
        # Ansible: a hard link asked at a folder goes inside it, under src's name
        path = args["path"] = os.path.join(path, os.path.basename(str(args["src"])))
    warnings = _lookup_warnings(args) if state != "absent" else []
    # Ansible's diff mapping, built only when asked (a folder to remove is walked for it)
    diff = _initial_diff(path, state, ansible_state(path)) if ctx.diff else \
        {"before": {}, "after": {}}
    try:
        outcome = STATES[state](ctx, path, args, diff)
    except MissingPrerequisite as exc:
        outcome = exc.check_outcome() if ctx.check else exc.outcome()
    except OpError as exc:
        outcome = exc.outcome()
    except OSError as exc:  # the system said no (a chown without the right): the path says where
        outcome = OpError("%s: %s" % (exc.filename or path, exc.strerror or exc)).outcome()
    outcome.data = result_data(ctx, path, args)
    if ctx.diff and outcome.status != "failed":
        outcome.data["diff"] = diff
    if warnings:
        outcome.data["warnings"] = warnings
    return outcome


def _lookup_warnings(args: Mapping[str, Any]) -> List[str]:
    """Ansible's warnings for an owner or group this host does not know (yet): in check
    mode the play's earlier tasks that would create them have not run."""
    out = []
    for what, value, by_name, by_id in (
            ("user", args.get("owner"), pwd.getpwnam, pwd.getpwuid),
            ("group", args.get("group"), grp.getgrnam, grp.getgrgid)):
        if value in (None, ""):
            continue
        text = str(value)
        try:
            by_id(int(text)) if text.isdigit() else by_name(text)
        except (KeyError, OverflowError):
            out.append("failed to look up %s %s%s. Create %s up to this point in real play"
                       % (what, "with %s " % ("uid" if what == "user" else "gid")
                          if text.isdigit() else "", text, what))
    return out


def _diff_peek(path: str) -> Outcome:
    """Ansible's internal peek: does the file look binary (a NUL in its first 8 KiB)? A file
    that cannot be read is not binary; nothing changes."""
    try:
        chunks = safepath.iter_chunks(path, 8192)
        head = next(chunks, b"") if chunks is not None else b""
    except (OSError, OpError):
        head = b""
    outcome = ok("")
    outcome.data = {"path": path, "appears_binary": b"\0" in head}
    return outcome


def ansible_state(path: str) -> str:
    """What Ansible calls the path now, the path itself (a final link not followed):
    absent, link, directory, hard (a file with more than one name), file (anything else)."""
    try:
        entry = safepath.lstat(path, follow=False)
    except OpError:
        return "absent"
    if entry is None:
        return "absent"
    found = safepath.kind_of(entry.st_mode)
    if found in ("link", "directory"):
        return found
    return "hard" if entry.st_nlink > 1 else "file"


def _initial_diff(path: str, state: str, before: str) -> Dict[str, Any]:
    """Ansible's diff of a file task: the path, the state when it changes, and for a folder
    to remove, everything in it."""
    diff: Dict[str, Any] = {"before": {"path": path}, "after": {"path": path}}
    if before != state:
        diff["before"]["state"], diff["after"]["state"] = before, state
        if state == "absent" and before == "directory":
            diff["before"]["path_content"] = _content(path)
    return diff


_CONTENT_CAP = 20000  # entries listed in a diff: a result stays well under its size limit


def _content(path: str) -> Dict[str, List[str]]:
    """Ansible's ``path_content``: the folders and the other entries under ``path``, listed
    through safepath (a link is listed, never entered); about the first 20000 of them."""
    content: Dict[str, List[str]] = {"directories": [], "files": []}
    todo = [path]
    while todo and len(content["directories"]) + len(content["files"]) < _CONTENT_CAP:
        folder = todo.pop(0)
        for name in sorted(safepath.listdir(folder)):
            sub = os.path.join(folder, name)
            entry = safepath.lstat(sub, follow=False)
            if entry is not None and stat.S_ISDIR(entry.st_mode):
                content["directories"].append(sub)
                todo.append(sub)
            elif entry is not None:
                content["files"].append(sub)
    return content


def result_data(ctx: Context, path: str, args: Mapping[str, Any]) -> Dict[str, Any]:
    """Ansible's return values: path (dest too for links and touch), then what the path is
    now: state, owner, group, uid, gid, mode, size."""
    state = args.get("state")
    data: Dict[str, Any] = {"path": path}
    if state in ("link", "hard", "touch"):
        data["dest"] = path
    if state in ("link", "hard") and args.get("src") is not None:
        data["src"] = str(args.get("src"))
    try:
        entry = safepath.lstat(path, follow=False)
    except OpError:
        entry = None
    if entry is None:
        data["state"] = "absent"
        return data
    data.update(state=ansible_state(path), uid=entry.st_uid,
                gid=entry.st_gid, owner=fileio.user_name(entry.st_uid),
                group=fileio.group_name(entry.st_gid),
                mode="0%03o" % stat.S_IMODE(entry.st_mode), size=entry.st_size)
    return data


def _follow(args: Mapping[str, Any]) -> bool:
    """``follow``, true unless given as false (Ansible's default)."""
    return args.get("follow") is None or flag(args, "follow")


def kind(path: str, follow: bool = False) -> str:
    """absent | link | directory | file | fifo | socket | device | other (links followed only
    where safepath allows; by default a final link is reported as a link)."""
    return safepath.kind(path, follow)


def _attrs(path: str, args: Mapping[str, Any], follow: bool = True,
           diff: Optional[Dict[str, Any]] = None) -> List[str]:
    if diff is not None:
        _attr_diff(path, args, follow, diff)
    return (fileio.attr_changes(path, args.get("mode"), args.get("owner"), args.get("group"),
                                follow)
            + fileio.attribute_changes(path, args.get("attributes"), follow)
            + _time_changes(path, args, follow, diff))


def _attr_diff(path: str, args: Mapping[str, Any], follow: bool,
               diff: Dict[str, Any]) -> None:
    """Ansible's before/after of mode, owner, group and attributes, where they differ."""
    entry = safepath.lstat(path, follow)
    if entry is None:
        return
    before, after = diff["before"], diff["after"]
    is_link = stat.S_ISLNK(entry.st_mode)
    mode = fileio.parse_mode(args.get("mode"), stat.S_IMODE(entry.st_mode),
                             stat.S_ISDIR(entry.st_mode))
    if mode is not None and not is_link and mode != stat.S_IMODE(entry.st_mode):
        before["mode"], after["mode"] = ("0%03o" % stat.S_IMODE(entry.st_mode),
                                         "0%03o" % mode)
    try:
        uid, gid = fileio.resolve_uid(args.get("owner")), fileio.resolve_gid(args.get("group"))
    except MissingPrerequisite:
        return
    if uid is not None and uid != entry.st_uid:
        before["owner"], after["owner"] = entry.st_uid, uid
    if gid is not None and gid != entry.st_gid:
        before["group"], after["group"] = entry.st_gid, gid
    wanted = fileio.parse_attributes(args.get("attributes"))
    if wanted is not None and not is_link:
        now = fileio.read_attributes(path, follow)
        want = fileio.wanted_flags(now, *wanted)
        if want != now:
            before["attributes"] = fileio.attr_letters(now)
            after["attributes"] = fileio.attr_letters(want)


def _set_attrs(ctx: Context, path: str, args: Mapping[str, Any],
               follow: bool = True) -> Callable[[], None]:
    def apply() -> None:
        fileio.apply_attrs(path, args.get("mode"), args.get("owner"), args.get("group"),
                           follow, journal=ctx.journal)
        fileio.apply_attributes(path, args.get("attributes"), follow)
        _set_times(path, args, follow)
    return apply


# ---- access and modification times --------------------------------------

NOW = -1.0  # "now": the kernel's own clock, set without a value (needs write access only)


def _wanted_time(args: Mapping[str, Any], which: str) -> Optional[float]:
    """The time asked for ``which`` (access / modification): None for preserve, NOW."""
    value = args.get(which + "_time")
    if value in (None, "", "preserve"):
        if args.get("state") == "touch" and value is None:
            return NOW
        return None
    if value == "now":
        return NOW
    fmt = str(args.get(which + "_time_format") or "%Y%m%d%H%M.%S")
    try:
        return time.mktime(time.strptime(str(value), fmt))
    except (ValueError, OverflowError):
        raise OpError("file: %s_time %r does not match the format %r" % (which, value, fmt),
                      hint="give %s_time_format, or a time like 202401311200.00" % which)


def _time_changes(path: str, args: Mapping[str, Any], follow: bool,
                  diff: Optional[Dict[str, Any]] = None) -> List[str]:
    out = []
    entry = safepath.lstat(path, follow)
    for which, key, now in (("access", "atime", entry.st_atime if entry else None),
                            ("modification", "mtime", entry.st_mtime if entry else None)):
        want = _wanted_time(args, which)
        if want is None:
            continue
        if want == NOW or now is None or int(now) != int(want):
            out.append("%s time set" % which)
            if diff is not None:
                diff["before"][key] = now
                diff["after"][key] = time.time() if want == NOW else want
    return out


def _set_times(path: str, args: Mapping[str, Any], follow: bool) -> None:
    atime, mtime = _wanted_time(args, "access"), _wanted_time(args, "modification")
    if atime is None and mtime is None:
        return
    entry = safepath.lstat(path, follow)
    if entry is None:
        return
    if stat.S_ISLNK(entry.st_mode) and not follow:
        return  # a link's own times cannot be set through the path on every system
    times: Optional[Tuple[float, float]] = None  # both now: as touch(1), write access enough
    if not (atime == NOW and mtime == NOW):
        clock = time.time()
        times = (entry.st_atime if atime is None else clock if atime == NOW else atime,
                 entry.st_mtime if mtime is None else clock if mtime == NOW else mtime)
    # Through the opened parent, never following a link put there since the lstat.
    with safepath.locate(safepath.real_path(path) if follow else path, follow=False) as loc:
        os.utime(loc.name, times, dir_fd=loc.dir_fd, follow_symlinks=False)


def _need_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if safepath.kind(parent) != "directory":
        raise MissingPrerequisite("parent folder %s does not exist" % parent, hint=fileio.MISSING_PARENT_HINT)


def state_file(ctx: Context, path: str, args: Mapping[str, Any],
               diff: Dict[str, Any]) -> Outcome:
    """The file must already exist; only its attributes are managed."""
    current = kind(path, follow=_follow(args))
    if current == "absent":
        raise MissingPrerequisite("file (%s) is absent, cannot continue" % path,
                                  hint="use state: touch to create an empty file, or a copy task")
    if current == "link":  # follow: no, a link in the place of the file
        return settle(ctx, _attrs(path, args, follow=False, diff=diff),
                      _set_attrs(ctx, path, args, follow=False))
    if current == "directory":
        raise OpError("file (%s) is directory, cannot continue" % path,
                      hint="use state: directory, or remove it first with state: absent")
    return settle(ctx, _attrs(path, args, diff=diff), _set_attrs(ctx, path, args))


def _tree(path: str, follow: bool) -> List[str]:
    """Every path under ``path``, parents before children, each as itself (a link as the
    link); with ``follow`` also what each link leads to, and the folders it leads to walked
    as well (once each). A link is followed by safepath's rule: one in a folder another user
    can change is refused, never followed."""
    out: List[str] = []
    seen = set()

    def walk(top: str) -> None:
        entry = safepath.lstat(top, follow=True)
        if entry is None or (entry.st_dev, entry.st_ino) in seen:
            return
        seen.add((entry.st_dev, entry.st_ino))
        for name in sorted(safepath.listdir(top)):
            sub = os.path.join(top, name)
            found = safepath.lstat(sub, follow=False)
            if found is None:
                continue
            out.append(sub)
            if stat.S_ISDIR(found.st_mode):
                walk(sub)
            elif stat.S_ISLNK(found.st_mode) and follow:
                if safepath.lstat(sub, follow=True) is None:
                    continue  # a link to nothing: only the link itself
                real = safepath.real_path(sub)
                out.append(real)
                if safepath.kind(real, follow=False) == "directory":
                    walk(real)
    walk(path)
    return list(dict.fromkeys(out))


def _recursive_changes(path: str, args: Mapping[str, Any]) -> Tuple[List[str], List[str]]:
    """The paths under ``path`` whose owner/group/mode/attributes differ, and a count for
    the message. Each is changed as itself: a link's own owner (its mode means nothing);
    what it leads to is in the list on its own when followed."""
    todo = []
    for sub in _tree(path, _follow(args)):
        if fileio.attr_changes(sub, args.get("mode"), args.get("owner"), args.get("group"),
                               False) or \
                fileio.attribute_changes(sub, args.get("attributes"), False):
            todo.append(sub)
    return todo, (["%d paths under %s" % (len(todo), path)] if todo else [])


def state_directory(ctx: Context, path: str, args: Mapping[str, Any],
                    diff: Dict[str, Any]) -> Outcome:
    current = kind(path, follow=True)
    recurse = flag(args, "recurse")
    if current == "absent":
        def create() -> None:
            # parents get the default mode; owner/mode apply to the leaf
            for made in safepath.makedirs(path):
                if ctx.journal is not None:
                    ctx.journal.created(made)
            fileio.apply_attrs(path, args.get("mode"), args.get("owner"), args.get("group"),
                               journal=ctx.journal)
            fileio.apply_attributes(path, args.get("attributes"))
            _set_times(path, args, True)
        return settle(ctx, ["directory created"], create,
                      fileio.state_diff(path, "absent", "directory"))
    if current != "directory":
        raise OpError("%s already exists as a %s" % (path, current),
                      hint="remove it first with state: absent")
    changes = _attrs(path, args, diff=diff)
    under: List[str] = []
    if recurse:
        under, described = _recursive_changes(path, args)
        changes = changes + described
    top = _set_attrs(ctx, path, args)

    def apply() -> None:
        top()
        for sub in under:
            fileio.apply_attrs(sub, args.get("mode"), args.get("owner"), args.get("group"),
                               False, journal=ctx.journal)
            fileio.apply_attributes(sub, args.get("attributes"), False)
    return settle(ctx, changes, apply)


def state_absent(ctx: Context, path: str, args: Mapping[str, Any],
                 diff: Dict[str, Any]) -> Outcome:
    current = kind(path)
    if current == "absent":
        return settle(ctx, [], nothing)

    def remove() -> None:
        ctx.keep(path)  # a folder comes back empty on rollback: its contents are not kept
        safepath.remove(path)  # a link is removed, never what it points at
    return settle(ctx, ["%s removed" % current], remove, fileio.state_diff(path, current, "absent"))


def state_touch(ctx: Context, path: str, args: Mapping[str, Any],
                diff: Dict[str, Any]) -> Outcome:
    """Create an empty file when missing; an existing path gets its times set (to now unless
    access_time / modification_time say otherwise), so touch is changed on every run."""
    current = kind(path, follow=True)
    if current == "absent":
        _need_parent(path)

        def create() -> None:
            fileio.atomic_write(path, b"", args.get("mode"), args.get("owner"),
                                args.get("group"), journal=ctx.journal)
            fileio.apply_attributes(path, args.get("attributes"))
            _set_times(path, args, True)
        return settle(ctx, ["file created"], create, fileio.state_diff(path, "absent", "file"))
    return settle(ctx, _attrs(path, args, diff=diff), _set_attrs(ctx, path, args))


def _link_source(path: str, src: str) -> str:
    """Where a link's ``src`` is, read from the link's folder when relative."""
    return src if os.path.isabs(src) else os.path.join(os.path.dirname(path), src)


def _to_root(path: str) -> bool:
    """Whether the link leads to "/" (never changed through a link: the link is managed)."""
    try:
        safepath.real_path(path)
    except safepath.IsRoot:
        return True
    return False


def _exists(path: str) -> bool:
    """Whether path leads somewhere (by safepath's rule; "/" has no parent to open)."""
    return os.path.abspath(path) == "/" or kind(path, follow=True) != "absent"


def _make_way(ctx: Context, path: str, current: str, force: bool, what: str) -> None:
    """A file (or empty folder) where a link goes is replaced only with force."""
    if current in ("absent", "link"):
        return
    if current == "directory":
        if not force:
            raise OpError("refusing to convert from directory to %s for %s" % (what, path),
                          hint="remove it first with state: absent, or set force: true")
        if safepath.listdir(path):
            raise OpError("the directory %s is not empty, refusing to convert it" % path)
        return
    if not force:
        raise OpError("refusing to convert from %s to %s for %s" % (current, what, path),
                      hint="remove it first with state: absent, or set force: true")


_LINK_ASKS = ("mode", "owner", "group", "attributes", "access_time", "modification_time")


def _link_attrs(ctx: Context, path: str, args: Mapping[str, Any],
                diff: Dict[str, Any]) -> Tuple[List[str], Callable[[], None]]:
    """A link's owner, group (and times): with follow, of what it leads to, when that
    exists (Ansible: the mode too); else of the link itself (a link has no mode)."""
    if all(args.get(name) in (None, "") for name in _LINK_ASKS):
        return [], nothing  # nothing asked: the link is never followed (it may be refused)
    leads_to = kind(path, follow=True) if _follow(args) else "link"
    if leads_to not in ("absent", "link") and not _to_root(path):
        return _attrs(path, args, diff=diff), _set_attrs(ctx, path, args)
    own = dict(args, mode=None, attributes=None)
    return _attrs(path, own, follow=False, diff=diff), _set_attrs(ctx, path, own, follow=False)


def state_link(ctx: Context, path: str, args: Mapping[str, Any],
               diff: Dict[str, Any]) -> Outcome:
    src = args.get("src")
    force = flag(args, "force")
    current = kind(path, follow=False)
    if src is None:
        # Ansible: without src only an existing link is managed (its owner, group, ...)
        if current != "link":
            raise OpError("src is required for creating new symlinks")
        changes, apply = _link_attrs(ctx, path, args, diff)
        return settle(ctx, changes, apply)
    src = str(src)
    if current == "link" and safepath.readlink(path) == src:
        changes, apply = _link_attrs(ctx, path, args, diff)
        return settle(ctx, changes, apply)
    if not _exists(_link_source(path, src)) and not force:
        raise MissingPrerequisite("src file does not exist, use \"force=yes\" if you really "
                                  "want to create the link: %s" % _link_source(path, src),
                                  hint='use force: true if you really want a link to a path '
                                       'that does not exist')
    _make_way(ctx, path, current, force, "symlink")
    _need_parent(path)
    old = safepath.readlink(path) if current == "link" else None
    before = "link -> " + old if old is not None else current
    if old is not None:
        diff["before"]["src"], diff["after"]["src"] = old, src

    def link() -> None:
        if current not in ("absent", "link"):
            ctx.keep(path)
            safepath.remove(path)
        make_symlink(ctx, src, path)
        _link_attrs(ctx, path, args, {"before": {}, "after": {}})[1]()
    return settle(ctx, ["link %s -> %s" % (path, src)], link,
                  fileio.state_diff(path, before, "link -> " + src))


def state_hard(ctx: Context, path: str, args: Mapping[str, Any],
               diff: Dict[str, Any]) -> Outcome:
    src = args.get("src")
    entry = safepath.lstat(path, follow=False)
    if src is None:
        if ansible_state(path) != "hard":
            raise OpError("src is required for creating new hardlinks")
        return settle(ctx, _attrs(path, args, diff=diff), _set_attrs(ctx, path, args))
    source = _link_source(path, str(src))
    target = safepath.lstat(source, follow=False)
    if target is None:
        raise OpError("src does not exist")
    if entry is not None and (entry.st_ino, entry.st_dev) == (target.st_ino, target.st_dev):
        return settle(ctx, _attrs(path, args, diff=diff), _set_attrs(ctx, path, args))
    current = "absent" if entry is None else safepath.kind_of(entry.st_mode)
    _make_way(ctx, path, current, flag(args, "force") or current == "link", "hard")
    _need_parent(path)
    if current == "link":
        diff["before"]["src"], diff["after"]["src"] = safepath.readlink(path), str(src)

    def link() -> None:
        ctx.keep(path)
        if current != "absent":
            safepath.remove(path)
        os.link(source, path)
        _set_attrs(ctx, path, args)()
    return settle(ctx, ["hard link %s -> %s" % (path, src)], link,
                  fileio.state_diff(path, current, "hard link -> " + str(src)))


def make_symlink(ctx: Context, src: str, path: str) -> None:
    """Create or retarget a symlink atomically: make it beside, then rename over."""
    with safepath.locate(path, follow=False) as loc:
        ctx.keep(loc.path)
        safepath.symlink_at(loc, src)


STATES: Dict[str, Callable[[Context, str, Mapping[str, Any], Dict[str, Any]], Outcome]] = {
    "file": state_file, "directory": state_directory, "absent": state_absent,
    "touch": state_touch, "link": state_link, "hard": state_hard,
}


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    # Without src, link and hard manage an existing link (known on the host only); with
    # state left out, what the path is decides (the host again).
    state = args.get("state")
    if args.get("src") and state not in ("link", "hard", None):
        return "src option requires state to be 'link' or 'hard'", \
            "add state: link, or use copy"
    if args.get("recurse") is True and state not in ("directory", None):
        return "recurse option requires state to be 'directory'", "add state: directory"
    return None


SPEC = OpSpec(
    name='file',
    summary='a path is a file, folder, link or absent, with owner and mode',
    ansible='`file`',
    args=(
        Arg('path', 'abspath', aliases=('dest', 'name'), doc='the path on the host'),
        Arg('_diff_peek', 'bool', doc="Ansible's internal peek: only report `appears_binary` "
                                       "(a NUL byte in the first 8 KiB), change nothing"),
        Arg('state', choices=('file', 'directory', 'absent', 'link', 'hard', 'touch'), doc='what the path must be (see below); left out: what it is now, `directory` with `recurse`, else `file`'),
        Arg('src', doc="the link's target, with `state: link` or `hard` only (a relative target is relative to the link's folder)"),
        Arg('mode', 'octal', doc="the permissions, octal (`'0644'`) or symbolic (`u+rwx,g-w`)"),
        Arg('owner', doc='the owning user'),
        Arg('group', doc='the owning group'),
        Arg('recurse', 'bool', doc='with `state: directory`, set owner, group and mode on everything under the folder too'),
        Arg('force', 'bool', doc='with `state: link` or `hard`, replace a file or an empty folder in the way, and make a link to a path that does not exist'),
        Arg('follow', 'bool', doc='act on what a link points to rather than on the link itself (default `true`)'),
        Arg('attributes', aliases=('attr',), doc="chattr's attributes: `+A` adds, `-A` removes, `A` (or `=A`) sets exactly those (the filesystem's own, such as `e`, stay)"),
        Arg('unsafe_writes', 'bool', doc="accepted for Ansible's tasks: writes stay atomic (this op writes no contents)"),
        Arg('access_time', doc='`now`, `preserve` (the default, `now` for `touch`) or a time in `access_time_format`'),
        Arg('access_time_format', doc="`access_time`'s format, in Python's strftime (default `%Y%m%d%H%M.%S`)"),
        Arg('modification_time', doc='`now`, `preserve` (the default, `now` for `touch`) or a time in `modification_time_format`'),
        Arg('modification_time_format', doc="`modification_time`'s format, in Python's strftime (default `%Y%m%d%H%M.%S`)"),
    ),
    required=(('path',),),
    rule=_rule,
    journalled=True,
    doc="""\
Makes a path a regular file, a folder, a symbolic link or nothing, and sets its owner, group,
mode and chattr attributes. The current kind is read without following a final symlink (except for `state:
file`, `directory` and `touch`, which look at what a link points to). A step is `changed` when
the kind has to change or when owner, group or mode differ from those given; the message names
each difference (`mode 0755 -> 0700`, `owner root -> www-data`).
""",
    notes="""\
The states:

* `file`: the file must already exist (create it with `copy`, `template` or `state: touch`);
  only its owner, group and mode are managed.
* `directory`: the folder is created when missing, with any missing parents (which get the
  default mode and the agent's user: `owner`, `group` and `mode` apply to the last folder
  only). A file in its place fails the step; a link to a folder counts as that folder.
* `absent`: a file or link is deleted, a folder with everything in it. A link is removed, never
  what it points to. Nothing there is `ok`.
* `link`: a symbolic link to `src`; a link pointing elsewhere is replaced (a new link is made
  beside it and renamed over it, so the path never goes missing). `owner`, `group` and `mode`
  apply to what the link leads to (`follow`, the default; where safepath lets a link be
  followed), else, and for a link to nothing, `owner` and `group` to the link itself. Without
  `src`, an existing link is managed (a new one fails: `src is required for creating new
  symlinks`).
* `hard`: a hard link to the file `src`; a path already linked to it is `ok`; a folder given
  as the path gets the link inside it, under `src`'s name (as in Ansible).
* `touch`: an empty file is created when the path is missing; an existing path gets its owner,
  group and mode, and its access and modification times set to now (so `touch` is `changed`
  on every run, as in Ansible), unless `access_time`/`modification_time` say `preserve`.

Left out, `state` is what the path is now (`file`, `directory`, `link`, or `hard` for a file
with more than one name), `directory` with `recurse`, else `file`; `src` without `link` or
`hard` fails (`src option requires state to be 'link' or 'hard'`). A registered result
carries Ansible's fields: `path` (and `dest`, `src` for links and `touch`), `state` (`hard` for
a file with several names), `owner`, `group`, `uid`, `gid`, `mode` (`'01444'` with a special
bit), `size`; with `--diff` (or `diff: true`) Ansible's `diff` mapping (`before`/`after`:
`path`, `state` when it changes, `src`, `mode`, `owner`, `group`, `attributes`, `mtime`,
`atime`, and `path_content` of a folder to remove); an `owner` or `group` the host does not
know gives Ansible's warning (`failed to look up user ...`).

```yaml
- name: document root
  file:
    path: /var/www/example.org
    state: directory
    owner: www-data
    group: www-data
    mode: "0755"

- name: site on
  file:
    path: /etc/apache2/sites-enabled/example.org.conf
    state: link
    src: ../sites-available/example.org.conf
  notify: reload apache

- name: Debian's default site off
  file:
    path: /etc/apache2/sites-enabled/000-default.conf
    state: absent
  notify: reload apache

- name: DKIM private key readable by opendkim only
  file:
    path: /etc/opendkim/keys/example.org/mail.private
    owner: opendkim
    group: opendkim
    mode: "0600"
```

Notes:

* Check mode: reports what would be created, removed or changed. A missing parent folder
  (`touch`, `link`), a missing file (`state: file`) or an unknown `owner`/`group` is assumed to
  come from an earlier task.
* `--diff` shows the change of kind (`-absent` `+directory`, `-link -> old` `+link -> new`);
  owner, group and mode changes are in the message (and the registered `diff`).
* `recurse` (with `state: directory`) sets owner, group, mode and attributes on everything
  under the folder, each link as itself; with `follow` (the default) also on what each link
  leads to, and inside the folders it leads to. A link in a folder another user can change
  is refused, never followed (the step fails naming it).
* `attributes` are read and set with the kernel's `FS_IOC_GETFLAGS`/`SETFLAGS` on a
  descriptor of the file or folder (no `chattr` run, never through a link); `""` asks for
  nothing, as in Ansible. They are not journalled: a rolled-back transaction leaves them.
* Errors, in Ansible's words: `PATH already exists as a file (hint: remove it first with
  state: absent)`; `refusing to convert from file to symlink for PATH` (a link asked where a
  file or folder is); `file (PATH) is absent, cannot continue (hint: use state: touch to
  create an empty file, or a copy task)`; `src does not exist`; `parent folder ... does not
  exist`.
* A link has no mode of its own on Linux: with `state: link` and `follow: false`, `mode` is
  not applied; with `follow` (the default) the mode of the file the link points to is set.
* A link to a path that does not exist needs `force: true`, as does a file or an empty folder
  in the way of a link (a folder with files in it is never replaced).
* `touch` with both times now sets them as touch(1) does (the kernel's clock, so write access
  is enough, as for Ansible's `touch` run by another user).
* Ansible differences: no SELinux contexts; `unsafe_writes` is accepted and changes nothing; a
  link leading to `/` is managed as the link itself (nothing is changed through it).
""",
)
