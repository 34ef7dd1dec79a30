"""file: a path's kind (file, directory, link, absent) and its owner/group/mode."""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping

from .. import fileio, journal, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, check_args, nothing, settle

ALLOWED = ("path", "state", "mode", "owner", "group", "src")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("file", args, ALLOWED, ["path"])
    state = args.get("state") or "file"
    if state not in STATES:
        raise OpError("file: unknown state %r" % state, hint="one of " + ", ".join(sorted(STATES)))
    return STATES[state](ctx, str(args["path"]), args)


def kind(path: str, follow: bool = False) -> str:
    """absent | link | directory | file | fifo | socket | device | other (links followed only
    where safepath allows; by default a final link is reported as a link)."""
    return safepath.kind(path, follow)


def _attrs(path: str, args: Mapping[str, Any], follow: bool = True) -> List[str]:
    return fileio.attr_changes(path, args.get("mode"), args.get("owner"), args.get("group"), follow)


def _set_attrs(path: str, args: Mapping[str, Any], follow: bool = True) -> Callable[[], None]:
    return lambda: fileio.apply_attrs(path, args.get("mode"), args.get("owner"),
                                      args.get("group"), follow)


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
    return settle(ctx, _attrs(path, args), _set_attrs(path, args))


def state_directory(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    current = kind(path, follow=True)
    if current == "absent":
        def create() -> None:
            # parents get the default mode; owner/mode apply to the leaf
            for made in safepath.makedirs(path):
                journal.created(made)
            fileio.apply_attrs(path, args.get("mode"), args.get("owner"), args.get("group"))
        return settle(ctx, ["directory created"], create,
                      fileio.state_diff(path, "absent", "directory"))
    if current != "directory":
        raise OpError("%s exists and is a %s, not a directory" % (path, current),
                      hint="remove it first with state: absent")
    return settle(ctx, _attrs(path, args), _set_attrs(path, args))


def state_absent(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    current = kind(path)
    if current == "absent":
        return settle(ctx, [], nothing)

    def remove() -> None:
        journal.save(path)  # a folder comes back empty on rollback: its contents are not kept
        safepath.remove(path)  # a link is removed, never what it points at
    return settle(ctx, ["%s removed" % current], remove, fileio.state_diff(path, current, "absent"))


def state_touch(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    """Create an empty file when missing; an existing one is left alone (idempotent)."""
    current = kind(path, follow=True)
    if current == "absent":
        _need_parent(path)
        return settle(ctx, ["file created"], lambda: fileio.atomic_write(
            path, b"", args.get("mode"), args.get("owner"), args.get("group")),
            fileio.state_diff(path, "absent", "file"))
    return settle(ctx, _attrs(path, args), _set_attrs(path, args))


def state_link(ctx: Context, path: str, args: Mapping[str, Any]) -> Outcome:
    src = args.get("src")
    if not src:
        raise OpError("file: state link needs src (the link target)")
    src = str(src)
    current = kind(path)
    if current == "link" and safepath.readlink(path) == src:
        return settle(ctx, _attrs(path, args, follow=False), _set_attrs(path, args, follow=False))
    if current not in ("absent", "link"):
        raise OpError("%s exists and is a %s, not a link" % (path, current),
                      hint="remove it first with state: absent")
    _need_parent(path)
    before = "absent" if current == "absent" else "link -> " + safepath.readlink(path)

    def link() -> None:
        make_symlink(src, path)
        fileio.apply_attrs(path, None, args.get("owner"), args.get("group"), follow=False)
    return settle(ctx, ["link %s -> %s" % (path, src)], link,
                  fileio.state_diff(path, before, "link -> " + src))


def make_symlink(src: str, path: str) -> None:
    """Create or retarget a symlink atomically: make it beside, then rename over."""
    with safepath.locate(path, follow=False) as loc:
        journal.save(loc.path)
        safepath.symlink_at(loc, src)


STATES: Dict[str, Callable[[Context, str, Mapping[str, Any]], Outcome]] = {
    "file": state_file, "directory": state_directory, "absent": state_absent,
    "touch": state_touch, "link": state_link,
}
