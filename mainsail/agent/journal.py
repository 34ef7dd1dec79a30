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
from .core import MissingPrerequisite, OpError

KEEP_RUNS = 3
ENTRIES = "entries.jsonl"
META = "meta.json"
KEEPS_DROPPED = "keeps-dropped"
KEEP_SUFFIX = ".mainsail-keep"


class Unfinished(Exception):
    """A restore that could not put every path back (a full disk, a refused path): what it
    did restore, and each path it could not with the reason. The journal stays as it is, so
    that the next run finishes it."""

    def __init__(self, done: List[str], failures: List[Dict[str, str]]) -> None:
        super().__init__("; ".join("%s: %s" % (f["path"], f["error"]) for f in failures))
        self.done = done
        self.failures = failures


class Journal:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.seen: Dict[str, bool] = {}
        self.count = 0

    def save(self, path: str, entry: Optional[Dict[str, Any]] = None,
             keep: bool = False) -> None:
        """Record path's state before its first change in this transaction.

        With ``keep`` (the file is about to be replaced, not changed in place), the old file
        also stays where it is under a second name beside it (a hard link: no new space),
        so that a rollback puts it back by a rename even on a full disk."""
        path = os.path.abspath(path)
        if path in self.seen:
            return
        self.seen[path] = True
        statedir.private_dirs(self.folder)
        entry = entry or describe(path)
        if entry["kind"] != "file":
            self.append(entry)
            return
        self.count += 1
        data = os.path.join(self.folder, "%d.data" % self.count)
        with safepath.locate(path, follow=False) as loc:
            st = loc.lstat()
            if st is not None and stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and \
                    not loc.trusted:
                # A hard link where others can change the folder may be another file of the
                # system: never read, only kept by a second name beside it (no byte
                # copied), and put back by a rename. Writing through it stays refused.
                entry.update(inode=[st.st_dev, st.st_ino], kept=keep_name(loc.name))
                self.append(entry)
                keep_link(loc, st, entry["kept"])
                fd = open_keep(loc, entry)
                if fd is None:  # no second name could be made: nothing to put it back from
                    raise safepath.UnsafePath(
                        "%s has %d hard links and is in %s, which others can change: refused"
                        % (path, st.st_nlink, loc.folder),
                        hint="a hard link may be another file of the system; remove it")
                os.close(fd)
                return
            fd, was = safepath.open_entry(loc)
            copy_out(fd, was, data)
            entry.update(data=os.path.basename(data), inode=[was.st_dev, was.st_ino])
            if keep:
                entry["kept"] = keep_name(loc.name)
            # The entry first, then the link: a run killed between the two leaves a name
            # the journal knows of (removed on commit or put back on rollback), never one
            # nothing would remove.
            self.append(entry)
            if keep:
                keep_link(loc, was, entry["kept"])

    def append(self, entry: Dict[str, Any]) -> None:
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


def copy_out(fd: int, was: os.stat_result, data: str) -> None:
    """Copy a regular file (opened safely: ``fd``, closed here) into the journal with the
    original's owner and permission bits (never more open than the file was; the journal
    folder is 0700)."""
    with os.fdopen(fd, "rb") as src:
        out = os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
            dst.flush()
            # chown before chmod (chown clears set-id bits); set-id bits are not copied.
            os.fchown(dst.fileno(), was.st_uid, was.st_gid)
            os.fchmod(dst.fileno(), stat.S_IMODE(was.st_mode) & 0o777)
            os.fsync(dst.fileno())


def keep_name(name: str) -> str:
    # os.urandom is what secrets.token_hex reads; importing secrets cost every start
    return ".%s.%s%s" % (name[:100], os.urandom(8).hex(), KEEP_SUFFIX)


def keep_link(loc: "safepath.Loc", st: os.stat_result, name: str) -> None:
    """A second link named ``name`` to loc's file beside it. Where the file system will not
    make one, or the file was swapped meanwhile, there is none: the restore then writes
    the journal's copy."""
    try:
        os.link(loc.name, name, src_dir_fd=loc.dir_fd, dst_dir_fd=loc.dir_fd,
                follow_symlinks=False)
    except OSError:
        return
    got = os.stat(name, dir_fd=loc.dir_fd, follow_symlinks=False)
    if (got.st_dev, got.st_ino) != (st.st_dev, st.st_ino):  # swapped under us: not ours
        safepath.unlink_quietly(loc, name)


def open_keep(loc: "safepath.Loc", entry: Dict[str, Any]) -> Optional[int]:
    """A descriptor on the entry's kept old file, when it is still the very file kept."""
    name, inode = entry.get("kept"), entry.get("inode")
    if not name or not inode:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                     | getattr(os, "O_CLOEXEC", 0), dir_fd=loc.dir_fd)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or [st.st_dev, st.st_ino] != list(inode):
        os.close(fd)
        return None
    return fd


def same_inode(st: Optional[os.stat_result], entry: Dict[str, Any]) -> bool:
    return st is not None and stat.S_ISREG(st.st_mode) and \
        [st.st_dev, st.st_ino] == list(entry.get("inode") or [])


def drop_keep(entry: Dict[str, Any]) -> None:
    try:
        with safepath.locate(entry["path"], follow=False) as loc:
            fd = open_keep(loc, entry)
            if fd is not None:
                os.close(fd)
                safepath.unlink_quietly(loc, entry["kept"])
    except (OSError, OpError):
        pass  # its folder is gone or refused now: nothing of ours to remove


def drop_keeps(folder: str) -> None:
    """The transaction is committed: its kept old files beside the new ones go (the
    journal's copies stay, for `inv rollback`). Safe to repeat."""
    for entry in read_entries(folder):
        if entry.get("kept"):
            drop_keep(entry)
    try:
        with open(os.path.join(folder, KEEPS_DROPPED), "w"):
            pass
    except OSError:
        pass


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
        elif not restore_kept(loc, current, entry):
            if "data" not in entry:  # kept by a second name only, and that name is gone
                raise OpError("%s: its kept copy is gone; cannot put it back" % path)
            if current is not None and stat.S_ISDIR(current.st_mode):
                safepath.remove_at(loc)
            with open(os.path.join(folder, entry["data"]), "rb") as handle:
                data = handle.read()
            fileio.write_at(loc, data, entry["mode"], entry["uid"], entry["gid"])


def restore_kept(loc: "safepath.Loc", current: Optional[os.stat_result],
                 entry: Dict[str, Any]) -> bool:
    """Put the old file back without writing a byte: its kept link renamed over the new
    file (owner and mode set on its descriptor first). True when done that way, or when
    the old file is already in place (an earlier restore was cut short)."""
    fd = open_keep(loc, entry)
    if fd is None:
        # Kept, and the kept file is back under its own name: an earlier restore did it.
        # (Without a keep the save was for a change in place: the inode proves nothing.)
        if entry.get("kept") and same_inode(current, entry):
            safepath.set_attrs_at(loc, entry["mode"], entry["uid"], entry["gid"])
            return True
        return False
    try:
        os.fchown(fd, entry["uid"], entry["gid"])
        os.fchmod(fd, entry["mode"])  # after chown: chown may clear setuid bits
    finally:
        os.close(fd)
    if same_inode(current, entry):  # never replaced: the second name just goes
        safepath.unlink_quietly(loc, entry["kept"])
        return True
    if current is not None and stat.S_ISDIR(current.st_mode):
        safepath.remove_at(loc)
    safepath.rename_into_place(loc, entry["kept"])
    return True


def restore(folder: str) -> List[str]:
    """Put every journalled path back as it was, newest change first; the paths restored.

    A path that cannot be put back (a full disk, a refused path) does not stop the others:
    Unfinished names it afterwards, and the journal stays for the next run to finish."""
    done: List[str] = []
    failures: List[Dict[str, str]] = []
    for entry in reversed(read_entries(folder)):
        try:
            restore_entry(folder, entry)
        except (OSError, OpError) as exc:
            failures.append({"path": str(entry.get("path")), "error": describe_error(exc)})
            continue
        done.append(entry["path"])
    if failures:
        raise Unfinished(done, failures)
    return done


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


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
