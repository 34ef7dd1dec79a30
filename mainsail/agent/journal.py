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
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        entry = entry or describe(path)
        if entry["kind"] == "file":
            self.count += 1
            data = os.path.join(self.folder, "%d.data" % self.count)
            shutil.copyfile(path, data)
            fsync_path(data)
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
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        with open(os.path.join(self.folder, META), "w") as handle:
            json.dump(meta, handle, sort_keys=True)


def describe(path: str) -> Dict[str, Any]:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"path": path, "kind": "absent"}
    entry: Dict[str, Any] = {"path": path, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid,
                             "gid": st.st_gid}
    if stat.S_ISLNK(st.st_mode):
        entry.update(kind="link", target=os.readlink(path))
    elif stat.S_ISDIR(st.st_mode):
        entry["kind"] = "dir"
    else:
        entry["kind"] = "file"
    return entry


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


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def restore_entry(folder: str, entry: Dict[str, Any]) -> None:
    path, kind = entry["path"], entry["kind"]
    if kind == "absent":
        remove(path)  # the transaction created it
        return
    if kind == "dir":
        if not os.path.isdir(path) or os.path.islink(path):
            remove(path)
            os.makedirs(path)
    elif kind == "link":
        tmp = path + ".mainsail-restore"
        remove(tmp)
        os.symlink(entry["target"], tmp)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
        return
    else:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        tmp = path + ".mainsail-restore"
        shutil.copyfile(os.path.join(folder, entry["data"]), tmp)
        os.chown(tmp, entry["uid"], entry["gid"])
        os.chmod(tmp, entry["mode"])
        fsync_path(tmp)
        os.replace(tmp, path)
        return
    os.chown(path, entry["uid"], entry["gid"])
    os.chmod(path, entry["mode"])


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
