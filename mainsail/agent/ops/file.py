"""file: a path's kind (file, directory, link, absent) and its owner/group/mode."""
from __future__ import annotations

import os
import shutil
import stat
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, nothing, settle
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    return STATES[args["state"]](ctx, str(args["path"]), args)


def kind(path: str, follow: bool = False) -> str:
    """absent | link | directory | file | fifo | socket | device | other (links followed only
    where safepath allows; by default a final link is reported as a link)."""
    return safepath.kind(path, follow)


def _attrs(path: str, args: Mapping[str, Any], follow: bool = True) -> List[str]:
    return fileio.attr_changes(path, args.get("mode"), args.get("owner"), args.get("group"), follow)


def _set_attrs(ctx: Context, path: str, args: Mapping[str, Any],
               follow: bool = True) -> Callable[[], None]:
    return lambda: fileio.apply_attrs(path, args.get("mode"), args.get("owner"),
                                      args.get("group"), follow, journal=ctx.journal)


def _need_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if safepath.kind(parent) != "directory":
        raise MissingPrerequisite("parent folder %s does not exist" % parent, hint=fileio.MISSING_PARENT_HINT)


def state_file(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    """The file must already exist; only its attributes are managed."""
    current = kind(path, follow=True)
    if current == "absent":
        raise MissingPrerequisite("%s does not exist" % path,
                      hint="use state: touch to create an empty file, or a copy task")
    if current != "file":
        raise OpError("%s is a %s, not a file" % (path, current))
    return settle(ctx, _attrs(path, args), _set_attrs(ctx, path, args))


def state_directory(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    current = kind(path, follow=True)
    if current == "absent":
        def create() -> None:
            # parents get the default mode; owner/mode apply to the leaf
            for made in safepath.makedirs(path):
                if ctx.journal is not None:
                    ctx.journal.created(made)
            fileio.apply_attrs(path, args.get("mode"), args.get("owner"), args.get("group"),
                               journal=ctx.journal)
        return settle(ctx, ["directory created"], create,
                      fileio.state_diff(path, "absent", "directory"))
    if current != "directory":
        raise OpError("%s exists and is a %s, not a directory" % (path, current),
                      hint="remove it first with state: absent")
    return settle(ctx, _attrs(path, args), _set_attrs(ctx, path, args))


def state_absent(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    current = kind(path)
    if current == "absent":
        return settle(ctx, [], nothing)

    def remove() -> None:
        ctx.keep(path)  # a folder comes back empty on rollback: its contents are not kept
        safepath.remove(path)  # a link is removed, never what it points at
    return settle(ctx, ["%s removed" % current], remove, fileio.state_diff(path, current, "absent"))


def state_touch(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    """Create an empty file when missing; an existing one is left alone (idempotent)."""
    current = kind(path, follow=True)
    if current == "absent":
        _need_parent(path)
        return settle(ctx, ["file created"], lambda: fileio.atomic_write(
            path, b"", args.get("mode"), args.get("owner"), args.get("group"),
            journal=ctx.journal),
            fileio.state_diff(path, "absent", "file"))
    return settle(ctx, _attrs(path, args), _set_attrs(ctx, path, args))


def state_link(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    src = args.get("src")
    if not src:
        raise OpError("file: state link needs src (the link target)")
    src = str(src)
    current = kind(path)
    if current == "link" and safepath.readlink(path) == src:
        return settle(ctx, _attrs(path, args, follow=False), _set_attrs(ctx, path, args, follow=False))
    if current not in ("absent", "link"):
        raise OpError("%s exists and is a %s, not a link" % (path, current),
                      hint="remove it first with state: absent")
    _need_parent(path)
    before = "absent" if current == "absent" else "link -> " + safepath.readlink(path)

    def link() -> None:
        make_symlink(ctx, src, path)
        fileio.apply_attrs(path, None, args.get("owner"), args.get("group"), follow=False,
                           journal=ctx.journal)
    return settle(ctx, ["link %s -> %s" % (path, src)], link,
                  fileio.state_diff(path, before, "link -> " + src))


def make_symlink(ctx: Context, src: str, path: str) -> None:
    """Create or retarget a symlink atomically: make it beside, then rename over."""
    with safepath.locate(path, follow=False) as loc:
        ctx.keep(loc.path)
        safepath.symlink_at(loc, src)


STATES: Dict[str, Callable[[Context, str, Mapping[str, Any]], Outcome]] = {
    "file": state_file, "directory": state_directory, "absent": state_absent,
    "touch": state_touch, "link": state_link,
}



def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("state") == "link" and not args.get("src"):
        return "state: link needs src (the link target)", "add src: /path/to/target"
    if args.get("src") and args.get("state") != "link":
        return "src is only used with state: link", "add state: link, or use copy"
    if args.get("state") == "link" and args.get("mode"):
        # A link's own mode is always 0777; chmod would follow it and change the target.
        return "mode has no meaning for a link", "set the mode on the link's target instead"
    return None


SPEC = OpSpec(
    name='file',
    summary='a path is a file, folder, link or absent, with owner and mode',
    ansible='`file`',
    args=(
        Arg('path', 'abspath', aliases=('dest', 'name'), doc='the path on the host'),
        Arg('state', default='file', choices=('file', 'directory', 'absent', 'link', 'touch'), doc='what the path must be (see below)'),
        Arg('src', doc="the link's target, with `state: link` only (a relative target is relative to the link's folder)"),
        Arg('mode', 'octal', doc='the permissions'),
        Arg('owner', doc='the owning user'),
        Arg('group', doc='the owning group'),
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
* `touch`: an empty file is created when the path is missing; an existing file only gets its
  owner, group and mode.

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
* Leave `mode` out with `state: link`: a link has no mode of its own on Linux. With `mode`, the
  step is `changed` on every run and sets the mode of the file the link points to.
* Ansible differences: there is no `force` (a file or folder in the way of a link is an error;
  remove it with `state: absent` first; a link to a target that does not exist yet needs no
  `force`), no `recurse`, no `state: hard`. `state: touch` does not update the timestamps of
  an existing file and is therefore `ok` on later runs; Ansible's touch is always `changed`.
""",
)
