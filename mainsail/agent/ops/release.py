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
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, OpError, Outcome, accept, settle
from ..spec import Arg, OpSpec, Ships

MANIFEST = ".mainsail-release"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    if args.get("previous"):
        return switch_back(ctx, str(args["path"]).rstrip("/") or "/")
    args = accept(SPEC, args)
    if not args.get("files"):
        raise OpError("release: missing required argument(s) files")
    base = str(args["path"]).rstrip("/") or "/"
    wanted = manifest(args)
    current = current_release(base)
    if current is not None and matches(os.path.join(base, "releases", current), wanted):
        return settle(ctx, [], lambda: None)
    keep = int(args["keep"])
    if keep < 1:
        raise OpError("release: keep must be at least 1")
    change = "new release (current: %s)" % (current or "none")

    def apply() -> None:
        if ctx.blobs is not None:  # every file's content in one round trip
            ctx.blobs.prefetch(f["sha"] for f in wanted["files"].values())
        # Nothing sees the release until it is renamed into place: its files are not
        # journalled one by one; the journal records that the folder is new instead.
        made = make_release(ctx, base, wanted, args)
        if ctx.journal is not None:
            ctx.journal.created(os.path.join(base, "releases", made))  # a rollback removes it
        switch_current(ctx, base, made)
        prune(base, keep, made)
    return settle(ctx, [change], apply, diff_text(base, current, wanted) if ctx.diff else "")


def undo(args: Mapping[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """`inv rollback --release`: (a step name, the args) that switch a release step's
    `current` back to the release before it."""
    return "switch %s back" % args["path"], {"path": args["path"], "previous": True}


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
                  lambda: switch_current(ctx, base, older[-1]))


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


def switch_current(ctx: Context, base: str, rid: str) -> None:
    """A new symlink under a temp name renamed over `current`: readers never see it missing."""
    with safepath.locate(os.path.join(base, "current"), follow=False) as loc:
        ctx.keep(loc.path)  # a rollback switches back
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



def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("keep") is not None and int(args["keep"]) < 1:
        return "keep must be at least 1 (the current release)", "keep: 5 keeps the last five"
    return None


SPEC = OpSpec(
    name='release',
    summary='application code in a `releases/` + `current` layout',
    ansible="Capistrano's layout",
    args=(
        Arg('src', doc='the folder holding the code, relative to `files/`'),
        Arg('path', 'abspath', aliases=('dest',), doc="the application's base folder on the host"),
        Arg('keep', 'int', default=5, doc='how many releases to keep, the new one included (at least 1)'),
        Arg('shared', 'names', doc='paths in a release that are links to `PATH/shared/NAME` instead'),
        Arg('owner', doc="the owner of the release's files and folders, and of the shared folders"),
        Arg('group', doc='their group'),
    ),
    required=(('src',), ('path',)),
    rule=_rule,
    ships=Ships('folder', source='src', manifest='files'),
    internal=('files', 'previous'),
    journalled=True,
    doc="""\
Ships an application's code in the layout Capistrano made common, and switches to it
atomically:

```text
PATH/releases/20240501120000/   one full copy of the code per release, never changed
PATH/releases/20240502093000/
PATH/shared/log/                folders that outlive releases (logs, uploads, data)
PATH/current -> releases/20240502093000
```

`src` is a folder in the role's `files/` (else the project's `files/`). When the plan is built,
every file under it is read and described in a manifest: relative path, SHA-256 digest and
mode (`0755` for files executable on the controller, `0644` for the rest). On the host, the
release that `current` points to records the manifest it was made from (in
`.mainsail-release`); when that manifest equals the wanted one and every file still has its
digest, the step is `ok` and no content is sent. Otherwise the step is `changed` with
`new release (current: OLD)`: the files are fetched in one round trip, a new release folder
named by the UTC time is written under a hidden name and renamed into place, the `shared`
folders are linked into it, `current` is switched by renaming a new symlink over it (so it is
never missing), and releases beyond the newest `keep` are deleted.
""",
    notes="""\
```yaml
- name: guestbook code
  release:
    src: guestbook
    path: /srv/guestbook
    keep: 3
    shared: [log, data/uploads]
    owner: www-data
    group: www-data
  notify: restart guestbook worker
```

Notes:

* A shared path that does not exist under `PATH/shared/` is created (mode `0755`); in the
  release it is a symlink to that folder, replacing whatever the code ships at that path.
  Changing the list of shared paths makes a new release.
* Files get mode `0644` or `0755` as above and folders `0755`; `owner` and `group` apply to
  them. `PATH`, `PATH/releases` and `PATH/shared` themselves are created, when missing, as
  the agent's user with the default mode.
* Release names are timestamps (`YYYYMMDDHHMMSS`, with `-01`, `-02`, ... within one second)
  that always sort after the existing ones, so pruning by name removes the oldest. A release
  that failed halfway stays hidden (`.NAME.partial`) and `current` is not touched.
* Each release is a full copy: nothing is shared with the previous one but the `shared`
  folders. Redeploying older code makes a new release with that code.
* Check mode: reports `new release (current: OLD)` without writing anything or fetching content.
  `--diff` lists the files added (`+`), removed (`-`) and changed (`~`) against the current
  release.
* `src` must hold at least one file; empty folders are not shipped, and no file may be named
  `.mainsail-release`.
* Compared with Capistrano: no repository checkout on the server (the code comes from the
  project), no hooks (run `command` tasks, `notify` handlers), no rollback command (redeploy
  the older code).
""",
)
