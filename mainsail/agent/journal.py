"""The transaction journal: what a path was before a run touched it, kept on the host.

Before any operation replaces, removes, links or re-owns a path, the path's old state (its
content, mode, owner, group, or link target, or the fact that it did not exist) is written
and fsynced under STATE_DIR/journal/<run>/<txn>/. Rolling back restores the paths in reverse
order. Journals of the last runs stay on the host so that `inv rollback` can restore the
last run by hand.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
from typing import Any, Dict, List, Optional

from . import safepath, statedir
from .core import MissingPrerequisite

KEEP_RUNS = 3
ENTRIES = "entries.jsonl"
META = "meta.json"


class Journal:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.seen: Dict[str, bool] = {}
        self.count = 0

    def save(self, path: str, entry: Optional[Dict[str, Any]] = None) -> None:
        """Record path's state before its first change in this transaction."""
        path = os.path.abspath(path)
        if path in self.seen:
            return
        self.seen[path] = True
        statedir.private_dirs(self.folder)
        entry = entry or describe(path)
        if entry["kind"] == "file":
            self.count += 1
            data = os.path.join(self.folder, "%d.data" % self.count)
            copy_out(path, data)
            entry["data"] = os.path.basename(data)
        with open(os.path.join(self.folder, ENTRIES), "a") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def created(self, path: str) -> None:
        """Record that the transaction made path (already in place): a rollback removes it."""
        self.save(path, {"path": os.path.abspath(path), "kind": "absent"})

    def paths(self) -> List[str]:
        return list(self.seen)

    def write_meta(self, meta: Dict[str, Any]) -> None:
        statedir.private_dirs(self.folder)
        with open(os.path.join(self.folder, META), "w") as handle:
            json.dump(meta, handle, sort_keys=True)


def describe(path: str) -> Dict[str, Any]:
    """The entry's own state (a final link is described, not followed)."""
    try:
        with safepath.locate(path, follow=False) as loc:
            st = loc.lstat()
            target = os.readlink(loc.name, dir_fd=loc.dir_fd) \
                if st is not None and stat.S_ISLNK(st.st_mode) else ""
    except MissingPrerequisite:
        st = None
    if st is None:
        return {"path": path, "kind": "absent"}
    entry: Dict[str, Any] = {"path": path, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid,
                             "gid": st.st_gid}
    if stat.S_ISLNK(st.st_mode):
        entry.update(kind="link", target=target)
    elif stat.S_ISDIR(st.st_mode):
        entry["kind"] = "dir"
    elif stat.S_ISREG(st.st_mode):
        entry["kind"] = "file"
    elif stat.S_ISFIFO(st.st_mode):
        entry["kind"] = "fifo"  # removed by `state: absent`; made again on rollback
    else:
        raise safepath.not_regular(path, safepath.kind_of(st.st_mode))
    return entry


def copy_out(path: str, data: str) -> None:
    """Copy a regular file (opened safely) into the journal with the original's owner and
    permission bits (never more open than the file was; the journal folder is 0700)."""
    with safepath.locate(path, follow=False) as loc:
        fd, _ = safepath.open_entry(loc)
    with os.fdopen(fd, "rb") as src:
        was = os.fstat(src.fileno())
        out = os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
            dst.flush()
            # chown before chmod (chown clears set-id bits); set-id bits are not copied.
            os.fchown(dst.fileno(), was.st_uid, was.st_gid)
            os.fchmod(dst.fileno(), stat.S_IMODE(was.st_mode) & 0o777)
            os.fsync(dst.fileno())


def read_meta(folder: str) -> Dict[str, Any]:
    try:
        with open(os.path.join(folder, META)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_entries(folder: str) -> List[Dict[str, Any]]:
    try:
        with open(os.path.join(folder, ENTRIES)) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except OSError:
        return []


def restore_entry(folder: str, entry: Dict[str, Any]) -> None:
    """Put one path back, through the same safe primitives as every write: its folder
    opened without following untrusted links, a new file or link made under a random
    O_EXCL name beside it and renamed over, owner and mode set on a descriptor."""
    from . import fileio  # fileio journals its own writes: imported here, not at the top
    path, kind = entry["path"], entry["kind"]
    with safepath.locate(path, follow=False) as loc:
        current = loc.lstat()
        if kind == "absent":
            safepath.remove_at(loc)  # the transaction created it
            return
        if kind == "dir":
            if current is None or not stat.S_ISDIR(current.st_mode):
                safepath.remove_at(loc)
                os.mkdir(loc.name, 0o700, dir_fd=loc.dir_fd)
            safepath.set_attrs_at(loc, entry["mode"], entry["uid"], entry["gid"])
        elif kind == "link":
            safepath.symlink_at(loc, entry["target"], entry["uid"], entry["gid"])
        elif kind == "fifo":
            safepath.fifo_at(loc, entry["mode"], entry["uid"], entry["gid"])
        else:
            if current is not None and stat.S_ISDIR(current.st_mode):
                safepath.remove_at(loc)
            with open(os.path.join(folder, entry["data"]), "rb") as handle:
                data = handle.read()
            fileio.write_at(loc, data, entry["mode"], entry["uid"], entry["gid"])


def restore(folder: str) -> List[str]:
    """Put every journalled path back as it was, newest change first; the paths restored."""
    done = []
    for entry in reversed(read_entries(folder)):
        restore_entry(folder, entry)
        done.append(entry["path"])
    return done


def runs_folder(state_dir: str) -> str:
    return os.path.join(state_dir, "journal")


def prune(state_dir: str, keep: int = KEEP_RUNS) -> None:
    folder = runs_folder(state_dir)
    try:
        runs = sorted(os.listdir(folder))
    except OSError:
        return
    for name in runs[:max(0, len(runs) - keep)]:
        shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


def last_run(state_dir: str) -> Optional[str]:
    """The newest run journal not rolled back yet."""
    folder = runs_folder(state_dir)
    try:
        runs = sorted(n for n in os.listdir(folder) if not n.endswith(".rolled-back"))
    except OSError:
        return None
    return os.path.join(folder, runs[-1]) if runs else None
