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
import shutil
import time
from typing import Any, Dict, List, Mapping, Optional

from .. import fileio, journal
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
        names = sorted(n for n in os.listdir(os.path.join(base, "releases"))
                       if not n.startswith("."))
    except OSError:
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
        target = os.readlink(os.path.join(base, "current"))
    except OSError:
        return None
    return os.path.basename(target.rstrip("/"))


def matches(folder: str, wanted: Mapping[str, Any]) -> bool:
    """The release's recorded manifest is the wanted one and its files are intact."""
    try:
        with open(os.path.join(folder, MANIFEST)) as handle:
            recorded = json.load(handle)
    except (OSError, ValueError):
        return False
    if recorded != wanted:
        return False
    return all(fileio.sha256_file(os.path.join(folder, rel)) == meta["sha"]
               for rel, meta in wanted["files"].items())


def new_id(releases: str) -> str:
    """A UTC timestamp that sorts after every existing release, so that pruning by name
    always removes the oldest (same second: -01, -02, ...; clock behind: the last stamp)."""
    names = [n for n in os.listdir(releases) if not n.startswith(".")]
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
    os.makedirs(releases, exist_ok=True)
    rid = new_id(releases)
    partial = os.path.join(releases, "." + rid + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    owner, group = args.get("owner"), args.get("group")
    for rel, meta in sorted(wanted["files"].items()):
        target = os.path.join(partial, rel)
        make_dirs(os.path.dirname(target), partial, owner, group)
        fileio.atomic_write(target, ctx.blob(meta["sha"]), meta["mode"], owner, group)
    for rel in wanted["shared"]:
        link_shared(base, partial, rel, owner, group)
    make_dirs(partial, partial, owner, group)
    with open(os.path.join(partial, MANIFEST), "w") as handle:
        json.dump(wanted, handle, sort_keys=True)
    fileio.fsync_dir(partial)
    os.rename(partial, os.path.join(releases, rid))
    return rid


def make_dirs(folder: str, top: str, owner: Any, group: Any) -> None:
    os.makedirs(folder, exist_ok=True)
    while True:
        fileio.apply_attrs(folder, "0755", owner, group)
        if os.path.abspath(folder) == os.path.abspath(top):
            return
        folder = os.path.dirname(folder)


def link_shared(base: str, release: str, rel: str, owner: Any, group: Any) -> None:
    shared = os.path.join(base, "shared", rel)
    if not os.path.isdir(shared):
        os.makedirs(shared)
        fileio.apply_attrs(shared, "0755", owner, group)
    link = os.path.join(release, rel)
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.isdir(link) and not os.path.islink(link):
        shutil.rmtree(link)  # the shipped folder gives way to the shared one
    elif os.path.lexists(link):
        os.unlink(link)
    os.symlink(shared, link)


def switch_current(base: str, rid: str) -> None:
    """A new symlink under a temp name renamed over `current`: readers never see it missing."""
    tmp = os.path.join(base, ".current.%d" % os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(os.path.join("releases", rid), tmp)
    journal.save(os.path.join(base, "current"))  # a rollback switches back
    os.rename(tmp, os.path.join(base, "current"))
    fileio.fsync_dir(base)


def prune(base: str, keep: int, current: str) -> List[str]:
    releases = os.path.join(base, "releases")
    names = sorted(n for n in os.listdir(releases) if not n.startswith("."))
    old = [n for n in names if n != current][:max(0, len(names) - keep)]
    for name in old:
        shutil.rmtree(os.path.join(releases, name), ignore_errors=True)
    return old


def diff_text(base: str, current: Optional[str], wanted: Mapping[str, Any]) -> str:
    recorded: Dict[str, Any] = {"files": {}}
    if current:
        try:
            with open(os.path.join(base, "releases", current, MANIFEST)) as handle:
                recorded = json.load(handle)
        except (OSError, ValueError):
            pass
    lines = []
    for rel in sorted(set(recorded["files"]) | set(wanted["files"])):
        old, new = recorded["files"].get(rel), wanted["files"].get(rel)
        if old != new:
            lines.append("%s %s" % ("+" if old is None else "-" if new is None else "~", rel))
    return "release %s:\n%s\n" % (base, "\n".join(lines)) if lines else ""
