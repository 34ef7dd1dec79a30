"""copy: a file's exact content (sent as a blob by digest) plus owner/group/mode.

The content travels only when the destination's digest differs from
``content_sha``; in check mode without diff it is not needed at all.
"""
from __future__ import annotations

import os
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, check_args, settle

# src names the controller-side file or template the content came from (display only)
ALLOWED = ("dest", "content_sha", "content", "mode", "owner", "group", "validate", "src")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("copy", args, ALLOWED, ["dest"])
    dest = str(args["dest"])
    target = fileio.write_target(dest)
    _check_destination(target)
    inline, sha = _content(args)
    current_sha = fileio.sha256_file(target)
    if current_sha == sha:
        return settle(ctx, _attrs(target, args), lambda: fileio.apply_attrs(
            target, args.get("mode"), args.get("owner"), args.get("group")))
    data = inline
    if data is None and (ctx.diff or not ctx.check):
        data = _blob(ctx, sha)
    changes = ["file created" if current_sha is None else "content changed"]
    diff = fileio.unified_diff(fileio.read_file(target), data, dest) \
        if ctx.diff and data is not None else ""
    return settle(ctx, changes, lambda: fileio.atomic_write(
        target, data or b"", args.get("mode"), args.get("owner"), args.get("group"),
        args.get("validate")), diff)


def _check_destination(target: str) -> None:
    if safepath.kind(target) == "directory":
        raise OpError("dest %s is a directory" % target, hint="give the full path of the file")
    folder = os.path.dirname(os.path.abspath(target))
    if safepath.kind(folder) != "directory":
        raise MissingPrerequisite("parent folder %s does not exist" % folder, hint=fileio.MISSING_PARENT_HINT)


def _content(args: Mapping[str, Any]) -> Tuple[Optional[bytes], str]:
    """(inline bytes or None, sha256) from content or content_sha."""
    if args.get("content") is not None:
        data = str(args["content"]).encode("utf-8")
        return data, fileio.sha256_bytes(data)
    sha = args.get("content_sha")
    if not sha:
        raise OpError("copy: needs content_sha (or content)")
    return None, str(sha)


def _blob(ctx: Context, sha: str) -> bytes:
    data = ctx.blob(sha)
    if fileio.sha256_bytes(data) != sha:
        raise OpError("content blob %s does not match its digest" % sha[:12])
    return data


def _attrs(target: str, args: Mapping[str, Any]) -> List[str]:
    return fileio.attr_changes(target, args.get("mode"), args.get("owner"), args.get("group"))
