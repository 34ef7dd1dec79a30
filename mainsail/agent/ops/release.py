"""release: application code in the Capistrano layout, switched atomically.

    PATH/releases/<UTC timestamp>/   one full copy of the code per release, never edited
    PATH/shared/<name>/              state that outlives releases (logs, uploads)
    PATH/current -> releases/<id>    what runs; replaced by a rename, so never missing

A new release is made only when the wanted files differ from the current release's: each
release records its manifest (paths, digests, modes, shared links) in .mainsail-release.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Mapping, Optional

from .. import fileio, journal, safepath
from ..core import Context, OpError, Outcome, check_args, settle

ALLOWED = ("path", "files", "keep", "owner", "group", "shared", "src", "previous")
MANIFEST = ".mainsail-release"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    if args.get("previous"):
        return switch_back(ctx, str(args["path"]).rstrip("/") or "/")
    check_args("release", args, ALLOWED, ["path", "files"])
    base = str(args["path"]).rstrip("/") or "/"
    wanted = manifest(args)
    current = current_release(base)
    if current is not None and matches(os.path.join(base, "releases", current), wanted):
        return settle(ctx, [], lambda: None)
    keep = int(args.get("keep") or 5)
    if keep < 1:
        raise OpError("release: keep must be at least 1")
    change = "new release (current: %s)" % (current or "none")

    def apply() -> None:
        if ctx.blobs is not None:  # every file's content in one round trip
            ctx.blobs.prefetch(f["sha"] for f in wanted["files"].values())
        with journal.paused():  # nothing sees the release until it is renamed into place
            made = make_release(ctx, base, wanted, args)
        journal.created(os.path.join(base, "releases", made))  # a rollback removes it again
        switch_current(base, made)
        prune(base, keep, made)
    return settle(ctx, [change], apply, diff_text(base, current, wanted) if ctx.diff else "")


def switch_back(ctx: Context, base: str) -> Outcome:
    """`inv rollback --release`: point `current` at the release before it."""
    current = current_release(base)
    try:
        names = sorted(n for n in safepath.listdir(os.path.join(base, "releases"))
                       if not n.startswith("."))
    except (OSError, OpError):
        names = []
    older = [n for n in names if current is None or n < current]
    if not older:
        raise OpError("no release older than %s under %s" % (current or "none", base),
                      hint="there is nothing to roll back to")
    return settle(ctx, ["current: %s -> %s" % (current, older[-1])],
                  lambda: switch_current(base, older[-1]))


def manifest(args: Mapping[str, Any]) -> Dict[str, Any]:
    files = args["files"]
    if not isinstance(files, dict) or not files:
        raise OpError("release: files must map relative paths to {sha, mode}")
    clean: Dict[str, Dict[str, str]] = {}
    for rel, meta in files.items():
        rel = str(rel)
        if rel.startswith("/") or ".." in rel.split("/") or rel == MANIFEST:
            raise OpError("release: bad file path %r" % rel)
        clean[rel] = {"sha": str(meta["sha"]), "mode": str(meta.get("mode") or "0644")}
    shared = sorted(str(s).strip("/") for s in (args.get("shared") or []))
    return {"files": clean, "shared": shared}


def current_release(base: str) -> Optional[str]:
    try:
        target = safepath.readlink(os.path.join(base, "current"))
    except (OSError, OpError):
        return None
    return os.path.basename(target.rstrip("/"))


def matches(folder: str, wanted: Mapping[str, Any]) -> bool:
    """The release's recorded manifest is the wanted one and its files are intact."""
    try:
        recorded = json.loads(safepath.read_bytes(os.path.join(folder, MANIFEST)) or b"")
    except (OSError, ValueError, OpError):
        return False
    if recorded != wanted:
        return False
    return all(fileio.sha256_file(os.path.join(folder, rel)) == meta["sha"]
               for rel, meta in wanted["files"].items())


def new_id(releases: str) -> str:
    """A UTC timestamp that sorts after every existing release, so that pruning by name
    always removes the oldest (same second: -01, -02, ...; clock behind: the last stamp)."""
    names = [n for n in safepath.listdir(releases) if not n.startswith(".")]
    latest = max(names) if names else ""
    stamp = max(time.strftime("%Y%m%d%H%M%S", time.gmtime()), latest[:14])
    candidate, n = stamp, 0
    while candidate <= latest:
        n += 1
        candidate = "%s-%02d" % (stamp, n)
    return candidate


def make_release(ctx: Context, base: str, wanted: Mapping[str, Any],
                 args: Mapping[str, Any]) -> str:
    """Write the whole release under a hidden name, then rename it into place."""
    releases = os.path.join(base, "releases")
    safepath.makedirs(releases)
    rid = new_id(releases)
    partial = os.path.join(releases, "." + rid + ".partial")
    safepath.remove(partial)  # a leftover (or a planted link: unlinked, never followed)
    owner, group = args.get("owner"), args.get("group")
    for rel, meta in sorted(wanted["files"].items()):
        target = os.path.join(partial, rel)
        make_dirs(os.path.dirname(target), partial, owner, group)
        fileio.atomic_write(target, ctx.blob(meta["sha"]), meta["mode"], owner, group)
    for rel in wanted["shared"]:
        link_shared(base, partial, rel, owner, group)
    make_dirs(partial, partial, owner, group)
    fileio.atomic_write(os.path.join(partial, MANIFEST),
                        json.dumps(wanted, sort_keys=True).encode("utf-8"), "0644", owner, group)
    with safepath.locate(partial, follow=False) as loc:
        os.rename(loc.name, rid, src_dir_fd=loc.dir_fd, dst_dir_fd=loc.dir_fd)
        os.fsync(loc.dir_fd)
    return rid


def make_dirs(folder: str, top: str, owner: Any, group: Any) -> None:
    safepath.makedirs(folder)
    while True:
        fileio.apply_attrs(folder, "0755", owner, group)
        if os.path.abspath(folder) == os.path.abspath(top):
            return
        folder = os.path.dirname(folder)


def link_shared(base: str, release: str, rel: str, owner: Any, group: Any) -> None:
    shared = os.path.join(base, "shared", rel)
    if safepath.kind(shared) != "directory":
        safepath.makedirs(shared)
        fileio.apply_attrs(shared, "0755", owner, group)
    link = os.path.join(release, rel)
    safepath.makedirs(os.path.dirname(link))
    with safepath.locate(link, follow=False) as loc:
        safepath.symlink_at(loc, shared)  # the shipped folder gives way to the shared one


def switch_current(base: str, rid: str) -> None:
    """A new symlink under a temp name renamed over `current`: readers never see it missing."""
    with safepath.locate(os.path.join(base, "current"), follow=False) as loc:
        journal.save(loc.path)  # a rollback switches back
        safepath.symlink_at(loc, os.path.join("releases", rid))


def prune(base: str, keep: int, current: str) -> List[str]:
    releases = os.path.join(base, "releases")
    names = sorted(n for n in safepath.listdir(releases) if not n.startswith("."))
    old = [n for n in names if n != current][:max(0, len(names) - keep)]
    for name in old:
        try:
            safepath.remove(os.path.join(releases, name))
        except (OSError, OpError):
            pass  # pruning is housekeeping: the next run tries again
    return old


def diff_text(base: str, current: Optional[str], wanted: Mapping[str, Any]) -> str:
    recorded: Dict[str, Any] = {"files": {}}
    if current:
        try:
            recorded = json.loads(safepath.read_bytes(
                os.path.join(base, "releases", current, MANIFEST)) or b"")
        except (OSError, ValueError, OpError):
            pass
    lines = []
    for rel in sorted(set(recorded["files"]) | set(wanted["files"])):
        old, new = recorded["files"].get(rel), wanted["files"].get(rel)
        if old != new:
            lines.append("%s %s" % ("+" if old is None else "-" if new is None else "~", rel))
    return "release %s:\n%s\n" % (base, "\n".join(lines)) if lines else ""
