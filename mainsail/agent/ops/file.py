"""file: a path's kind (file, directory, link, hard link, absent), owner/group/mode, times."""
from __future__ import annotations

import os
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
    if not args.get("state"):
        # Ansible's default: what the path is now; a folder with recurse; else a file.
        current = kind(path, follow=_follow(args))
        args["state"] = ("directory" if flag(args, "recurse") or current == "directory"
                         else "link" if current == "link" else "hard" if args.get("src")
                         else "file")
    outcome = STATES[args["state"]](ctx, path, args)
    outcome.data = result_data(ctx, path, args)
    return outcome


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


def result_data(ctx: Context, path: str, args: Mapping[str, Any]) -> Dict[str, Any]:
    """Ansible's return values: path (dest for links), state, owner, group, mode, size."""
    state = args["state"]
    data: Dict[str, Any] = {"path": path}
    if state in ("link", "hard"):
        data.update(dest=path, src=str(args.get("src")))
    entry = None if ctx.check else safepath.lstat(path, follow=state not in ("link",))
    if entry is None:
        data["state"] = "absent"
        return data
    data.update(state=safepath.kind_of(entry.st_mode), uid=entry.st_uid,
                gid=entry.st_gid, owner=fileio.user_name(entry.st_uid),
                group=fileio.group_name(entry.st_gid),
                mode="%04o" % stat.S_IMODE(entry.st_mode), size=entry.st_size)
    if state == "hard" and data["state"] == "file":
        data["state"] = "hard"
    return data


def _follow(args: Mapping[str, Any]) -> bool:
    """``follow``, true unless given as false (Ansible's default)."""
    return args.get("follow") is None or flag(args, "follow")


def kind(path: str, follow: bool = False) -> str:
    """absent | link | directory | file | fifo | socket | device | other (links followed only
    where safepath allows; by default a final link is reported as a link)."""
    return safepath.kind(path, follow)


def _attrs(path: str, args: Mapping[str, Any], follow: bool = True) -> List[str]:
    return (fileio.attr_changes(path, args.get("mode"), args.get("owner"), args.get("group"),
                                follow) + _time_changes(path, args, follow))


def _set_attrs(ctx: Context, path: str, args: Mapping[str, Any],
               follow: bool = True) -> Callable[[], None]:
    def apply() -> None:
        fileio.apply_attrs(path, args.get("mode"), args.get("owner"), args.get("group"),
                           follow, journal=ctx.journal)
        _set_times(path, args, follow)
    return apply


# ---- access and modification times --------------------------------------

def _wanted_time(args: Mapping[str, Any], which: str) -> Optional[float]:
    """The time asked for ``which`` (access / modification), None for preserve."""
    value = args.get(which + "_time")
    if value in (None, "", "preserve"):
        if args.get("state") == "touch" and value is None:
            return time.time()
        return None
    if value == "now":
        return time.time()
    fmt = str(args.get(which + "_time_format") or "%Y%m%d%H%M.%S")
    try:
        return time.mktime(time.strptime(str(value), fmt))
    except ValueError:
        raise OpError("file: %s_time %r does not match the format %r" % (which, value, fmt),
                      hint="give %s_time_format, or a time like 202401311200.00" % which)


def _time_changes(path: str, args: Mapping[str, Any], follow: bool) -> List[str]:
    out = []
    entry = safepath.lstat(path, follow)
    for which, now in (("access", entry.st_atime if entry else None),
                       ("modification", entry.st_mtime if entry else None)):
        want = _wanted_time(args, which)
        if want is None:
            continue
        if args.get(which + "_time") == "now" or args.get("state") == "touch" \
                or now is None or int(now) != int(want):
            out.append("%s time set" % which)
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
    times = (entry.st_atime if atime is None else atime,
             entry.st_mtime if mtime is None else mtime)
    # Through the opened parent, never following a link put there since the lstat.
    with safepath.locate(safepath.real_path(path) if follow else path, follow=False) as loc:
        os.utime(loc.name, times, dir_fd=loc.dir_fd, follow_symlinks=False)


def _need_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if safepath.kind(parent) != "directory":
        raise MissingPrerequisite("parent folder %s does not exist" % parent, hint=fileio.MISSING_PARENT_HINT)


def state_file(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    """The file must already exist; only its attributes are managed."""
    current = kind(path, follow=_follow(args))
    if current == "absent":
        raise MissingPrerequisite("file (%s) is absent, cannot continue" % path,
                                  hint="use state: touch to create an empty file, or a copy task")
    if current == "link":  # follow: no, a link in the place of the file
        return settle(ctx, _attrs(path, args, follow=False),
                      _set_attrs(ctx, path, args, follow=False))
    if current == "directory":
        raise OpError("%s is a directory, not a file" % path,
                      hint="use state: directory, or remove it first with state: absent")
    return settle(ctx, _attrs(path, args), _set_attrs(ctx, path, args))


def _walk(root: str) -> List[str]:
    """Every path under ``root`` (not following links), parents before children."""
    out: List[str] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        out.extend(os.path.join(folder, name) for name in sorted(dirs) + sorted(files))
    return out


def _recursive_changes(path: str, args: Mapping[str, Any]) -> Tuple[List[str], List[str]]:
    """The paths under ``path`` whose owner/group/mode differ, and a count for the message."""
    follow = _follow(args)
    todo = []
    for sub in _walk(path):
        sub_follow = follow and os.path.exists(sub)
        if fileio.attr_changes(sub, args.get("mode"), args.get("owner"), args.get("group"),
                               sub_follow):
            todo.append(sub)
    return todo, (["%d paths under %s" % (len(todo), path)] if todo else [])


def state_directory(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
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
            _set_times(path, args, True)
        return settle(ctx, ["directory created"], create,
                      fileio.state_diff(path, "absent", "directory"))
    if current != "directory":
        raise OpError("%s exists and is a %s, not a directory" % (path, current),
                      hint="remove it first with state: absent")
    changes = _attrs(path, args)
    under: List[str] = []
    if recurse:
        under, described = _recursive_changes(path, args)
        changes = changes + described
    top = _set_attrs(ctx, path, args)

    def apply() -> None:
        top()
        follow = _follow(args)
        for sub in under:
            fileio.apply_attrs(sub, args.get("mode"), args.get("owner"), args.get("group"),
                               follow and os.path.exists(sub), journal=ctx.journal)
    return settle(ctx, changes, apply)


def state_absent(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    current = kind(path)
    if current == "absent":
        return settle(ctx, [], nothing)

    def remove() -> None:
        ctx.keep(path)  # a folder comes back empty on rollback: its contents are not kept
        safepath.remove(path)  # a link is removed, never what it points at
    return settle(ctx, ["%s removed" % current], remove, fileio.state_diff(path, current, "absent"))


def state_touch(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    """Create an empty file when missing; an existing path gets its times set (to now unless
    access_time / modification_time say otherwise), so touch is changed on every run."""
    current = kind(path, follow=True)
    if current == "absent":
        _need_parent(path)

        def create() -> None:
            fileio.atomic_write(path, b"", args.get("mode"), args.get("owner"),
                                args.get("group"), journal=ctx.journal)
            _set_times(path, args, True)
        return settle(ctx, ["file created"], create, fileio.state_diff(path, "absent", "file"))
    return settle(ctx, _attrs(path, args), _set_attrs(ctx, path, args))


def _link_source(path: str, src: str) -> str:
    """Where a link's ``src`` is, read from the link's folder when relative."""
    return src if os.path.isabs(src) else os.path.join(os.path.dirname(path), src)


def _make_way(ctx: Context, path: str, current: str, force: bool, what: str) -> None:
    """A file (or empty folder) where a link goes is replaced only with force."""
    if current in ("absent", "link"):
        return
    if current == "directory":
        if safepath.listdir(path):
            raise OpError("the directory %s is not empty, refusing to convert it" % path)
        if not force:
            raise OpError("refusing to convert from directory to %s for %s" % (what, path),
                          hint="remove it first with state: absent, or set force: true")
        return
    if not force:
        raise OpError("refusing to convert from %s to %s for %s" % (current, what, path),
                      hint="remove it first with state: absent, or set force: true")


def state_link(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    src = args.get("src")
    if not src:
        raise OpError("file: state link needs src (the link target)")
    src = str(src)
    force = flag(args, "force")
    current = kind(path)
    if current == "link" and safepath.readlink(path) == src:
        return settle(ctx, _attrs(path, args, follow=False), _set_attrs(ctx, path, args, follow=False))
    if kind(_link_source(path, src), follow=True) == "absent" and not force:
        raise MissingPrerequisite("src file %s does not exist" % src,
                                  hint='use force: true if you really want a link to a path '
                                       'that does not exist')
    _make_way(ctx, path, current, force, "link")
    _need_parent(path)
    before = ("link -> " + safepath.readlink(path) if current == "link" else current)

    def link() -> None:
        if current not in ("absent", "link"):
            ctx.keep(path)
            safepath.remove(path)
        make_symlink(ctx, src, path)
        fileio.apply_attrs(path, None, args.get("owner"), args.get("group"), follow=False,
                           journal=ctx.journal)
    return settle(ctx, ["link %s -> %s" % (path, src)], link,
                  fileio.state_diff(path, before, "link -> " + src))


def state_hard(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    src = args.get("src")
    if not src:
        raise OpError("file: state hard needs src (the file to link to)")
    source = _link_source(path, str(src))
    target = safepath.lstat(source, follow=False)
    if target is None:
        raise MissingPrerequisite("src %s does not exist" % src,
                                  hint="a hard link needs an existing file")
    entry = safepath.lstat(path, follow=False)
    if entry is not None and (entry.st_ino, entry.st_dev) == (target.st_ino, target.st_dev):
        return settle(ctx, _attrs(path, args), _set_attrs(ctx, path, args))
    current = "absent" if entry is None else safepath.kind_of(entry.st_mode)
    _make_way(ctx, path, current, flag(args, "force") or current == "link", "hard")
    _need_parent(path)

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


STATES: Dict[str, Callable[[Context, str, Mapping[str, Any]], Outcome]] = {
    "file": state_file, "directory": state_directory, "absent": state_absent,
    "touch": state_touch, "link": state_link, "hard": state_hard,
}


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    state = args.get("state")
    if state in ("link", "hard") and not args.get("src"):
        return "state: %s needs src (the link target)" % state, "add src: /path/to/target"
    if args.get("src") and state not in ("link", "hard", None):
        return "src is only used with state: link or hard", "add state: link, or use copy"
    if state == "link" and args.get("mode") and args.get("follow") is False:
        # A link's own mode is always 0777; chmod would follow it and change the target.
        return "mode has no meaning for a link", "set the mode on the link's target instead"
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
        Arg('access_time', doc='`now`, `preserve` (the default, `now` for `touch`) or a time in `access_time_format`'),
        Arg('access_time_format', doc="`access_time`'s format, in Python's strftime (default `%Y%m%d%H%M.%S`)"),
        Arg('modification_time', doc='`now`, `preserve` (the default, `now` for `touch`) or a time in `modification_time_format`'),
        Arg('modification_time_format', doc="`modification_time`'s format, in Python's strftime (default `%Y%m%d%H%M.%S`)"),
    ),
    required=(('path',),),
    rule=_rule,
    journalled=True,
    doc="""\
Makes a path a regular file, a folder, a symbolic link or nothing, and sets its owner, group
and mode. The current kind is read without following a final symlink (except for `state:
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
  beside it and renamed over it, so the path never goes missing). The target need not exist.
  `owner` and `group` apply to the link itself.
* `hard`: a hard link to the file `src`; a path already linked to it is `ok`.
* `touch`: an empty file is created when the path is missing; an existing path gets its owner,
  group and mode, and its access and modification times set to now (so `touch` is `changed`
  on every run, as in Ansible), unless `access_time`/`modification_time` say `preserve`.

Left out, `state` is what the path is now (`file`, `directory` or `link`), `directory` with
`recurse`, `hard` with `src`, else `file`. A registered result carries Ansible's fields:
`path` (and `dest`, `src` for links), `state`, `owner`, `group`, `uid`, `gid`, `mode`, `size`.

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
  owner, group and mode changes are in the message only.
* Errors: `PATH exists and is a file, not a directory (hint: remove it first with state:
  absent)`; the same for a link asked where a file or folder is; `PATH does not exist (hint:
  use state: touch to create an empty file, or a copy task)`; `parent folder ... does not
  exist`.
* Leave `mode` out with `state: link`: a link has no mode of its own on Linux; with `mode` the
  mode of the file the link points to is set.
* A link to a path that does not exist needs `force: true`, as does a file or an empty folder
  in the way of a link (a folder with files in it is never replaced).
* Ansible differences: no `attributes` (chattr), no SELinux contexts, no `unsafe_writes`.
""",
)
