"""Path handling that an unprivileged user on the host cannot turn against the root agent.

The rule (docs/architecture.md, "Hostile hosts"):

* A folder is *trusted* when only root (or the agent's own user) can change its entries:
  it is owned by root or the agent's user, and neither other users nor a group other than
  root may write to it. Every other folder (a user's home, a folder chowned to an app user,
  /tmp) is *untrusted*.
* Paths are walked one component at a time from "/", each folder opened with
  O_NOFOLLOW|O_DIRECTORY relative to the descriptor of the one above (openat), so a folder
  cannot be swapped for a link between a check and its use.
* A symbolic link found in a trusted folder is followed (root made it: /var/run -> /run).
  A link found in an untrusted folder is refused with an error naming it, never followed,
  whether it is a middle component or the final one.
* New files are created under a random name with O_CREAT|O_EXCL|O_NOFOLLOW in the opened
  parent, written, fchown'ed and fchmod'ed on their descriptor, then renamed into place
  with the parent's descriptor (renameat). Owner and mode of existing entries are changed
  on a descriptor opened with O_NOFOLLOW, links only with lchown (fchownat NOFOLLOW).
* Only regular files are read or replaced, folders only listed or created: a FIFO, socket
  or device is refused after lstat, before any open (the open is non-blocking besides).
  A regular file with more than one hard link in an untrusted folder is refused too: it
  may be another file of the system linked in by the folder's owner. Removing that name
  is allowed: the journal keeps it by a second name beside it, never reading it.

Stdlib only, Python 3.8+.
"""
from __future__ import annotations

import os
import shutil
import stat
from typing import Iterator, List, Optional, Tuple

from .core import MissingPrerequisite, OpError

MAX_LINKS = 40  # as the kernel's own limit on links followed in one lookup
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
TMP_SUFFIX = ".mainsail-tmp"


class UnsafePath(OpError):
    """A path the agent refuses to follow or touch (a planted link, FIFO, hard link)."""


class IsRoot(OpError):
    """The path is "/" (or a link leads there): no parent folder to act in."""


def kind_of(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def trusted(st: os.stat_result) -> bool:
    """Whether only root (or the agent's user) can add, remove or rename entries here."""
    if st.st_uid not in (0, os.geteuid()):
        return False
    if st.st_mode & stat.S_IWOTH:
        return False
    return not (st.st_mode & stat.S_IWGRP and st.st_gid != 0)


def _refuse_link(folder: str, name: str, st: os.stat_result) -> UnsafePath:
    path = os.path.join(folder, name)
    return UnsafePath(
        "refused to follow symbolic link %s: it is in %s, which %s can change"
        % (path, folder, _who(st)),
        hint="a link in a folder another user can write may point anywhere; "
             "remove it, or give the real path")


def _who(st: os.stat_result) -> str:
    if st.st_uid not in (0, os.geteuid()):
        return "uid %d" % st.st_uid
    if st.st_mode & stat.S_IWOTH:
        return "every user"
    return "group %d" % st.st_gid


class Loc:
    """An opened parent folder and the name of an entry in it: the place a path names."""

    def __init__(self, dir_fd: int, folder: str, name: str, folder_st: os.stat_result) -> None:
        self.dir_fd = dir_fd
        self.folder = folder           # the folder's real path (links resolved)
        self.name = name
        self.folder_st = folder_st

    @property
    def path(self) -> str:
        return os.path.join(self.folder, self.name)

    @property
    def trusted(self) -> bool:
        return trusted(self.folder_st)

    def lstat(self) -> Optional[os.stat_result]:
        try:
            return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def __enter__(self) -> "Loc":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Walker:
    """Opens folders component by component; '..' goes back up the folders actually opened."""

    def __init__(self, create: bool, dir_mode: int) -> None:
        self.create = create
        self.dir_mode = dir_mode
        self.created: List[str] = []
        self.links = 0
        self.stack: List[Tuple[int, str, os.stat_result]] = []
        self._reset()

    def _reset(self) -> None:
        for fd, _, _ in self.stack:
            os.close(fd)
        fd = os.open("/", _DIR_FLAGS)
        self.stack = [(fd, "/", os.fstat(fd))]

    @property
    def top(self) -> Tuple[int, str, os.stat_result]:
        return self.stack[-1]

    def close(self) -> None:
        for fd, _, _ in self.stack:
            os.close(fd)
        self.stack = []

    def link_target(self, name: str, st: os.stat_result) -> List[str]:
        """Components to walk instead of a link found in the current folder."""
        fd, folder, folder_st = self.top
        if not trusted(folder_st):
            raise _refuse_link(folder, name, folder_st)
        self.links += 1
        if self.links > MAX_LINKS:
            raise OpError("too many levels of symbolic links at %s" % os.path.join(folder, name))
        target = os.readlink(name, dir_fd=fd)
        if target.startswith("/"):
            self._reset()
        return [c for c in target.split("/") if c]

    def enter(self, name: str) -> None:
        fd, folder, _ = self.top
        path = os.path.join(folder, name)
        try:
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            if not self.create:
                raise MissingPrerequisite("parent folder %s does not exist" % path,
                                          hint="create the folder first with a file task "
                                               "(state: directory)")
            os.mkdir(name, self.dir_mode, dir_fd=fd)
            self.created.append(path)
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
        except NotADirectoryError:
            raise OpError("%s is not a folder" % path)
        self.stack.append((child, path, os.fstat(child)))

    def walk(self, parts: List[str]) -> None:
        """Enter every component of parts (links in trusted folders followed)."""
        queue = list(parts)
        while queue:
            name = queue.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                if len(self.stack) > 1:
                    os.close(self.stack.pop()[0])
                continue
            try:
                st = os.stat(name, dir_fd=self.top[0], follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                queue[:0] = self.link_target(name, st)
                continue
            self.enter(name)

    def detach(self) -> Tuple[int, str, os.stat_result]:
        """Hand the top folder's descriptor to the caller; close the others."""
        top = self.stack.pop()
        self.close()
        return top


def _split(path: str) -> List[str]:
    return [c for c in os.path.abspath(path).split("/") if c]


def locate(path: str, follow: bool = True, create_parents: bool = False,
           dir_mode: int = 0o755, created: Optional[List[str]] = None) -> Loc:
    """The parent folder (opened) and final name of path.

    With follow, a final link is resolved as a middle one would be (followed in a trusted
    folder, refused in an untrusted one); without, the final name is left as it is, so a
    link there is what the caller acts on (to remove or replace it, never through it)."""
    parts = _split(path)
    if not parts:
        raise IsRoot("refusing to act on /")
    walker = _Walker(create_parents, dir_mode)
    try:
        walker.walk(parts[:-1])
        name = parts[-1]
        while True:
            if name == "..":
                raise OpError("path %s ends in '..'" % path)
            fd, folder, folder_st = walker.top
            if not follow:
                break
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                break
            if not stat.S_ISLNK(st.st_mode):
                break
            rest = walker.link_target(name, st)
            if not rest:  # a link to "/"
                raise IsRoot("%s resolves to /" % path)
            walker.walk(rest[:-1])
            name = rest[-1]
        if created is not None:
            created.extend(walker.created)
        fd, folder, folder_st = walker.detach()
    except BaseException:
        walker.close()
        raise
    return Loc(fd, folder, name, folder_st)


def real_path(path: str) -> str:
    """Where path leads by the rule above (links in untrusted folders refused)."""
    with locate(path) as loc:
        return loc.path


def lstat(path: str, follow: bool = True) -> Optional[os.stat_result]:
    """The entry's own stat (None when absent); a missing parent counts as absent. "/" (and
    a link to it, where followed) is read as it is: reading it acts on nothing."""
    try:
        with locate(path, follow) as loc:
            return loc.lstat()
    except MissingPrerequisite:
        return None
    except IsRoot:
        return os.stat("/")


def kind(path: str, follow: bool = True) -> str:
    """absent | link | directory | file | fifo | socket | device | other."""
    st = lstat(path, follow)
    return "absent" if st is None else kind_of(st.st_mode)


def not_regular(path: str, what: str) -> UnsafePath:
    return UnsafePath("%s is a %s, not a regular file: refused" % (path, what),
                      hint="the agent reads and replaces only regular files; remove it first")


def open_entry(loc: Loc, expect_dir: bool = False) -> Tuple[int, os.stat_result]:
    """An O_NOFOLLOW, non-blocking descriptor on the entry: a regular file (or a folder).

    The entry is lstat'ed first: anything else is refused before any open, and the
    descriptor is checked to be the very inode that was lstat'ed."""
    st = loc.lstat()
    if st is None:
        raise FileNotFoundError(loc.path)
    got = kind_of(st.st_mode)
    if got == "link":
        raise _refuse_link(loc.folder, loc.name, loc.folder_st) if not loc.trusted \
            else OpError("%s is a symbolic link" % loc.path)
    if got != ("directory" if expect_dir else "file"):
        raise not_regular(loc.path, got)
    if got == "file" and st.st_nlink > 1 and not loc.trusted:
        raise UnsafePath("%s has %d hard links and is in %s, which %s can change: refused"
                         % (loc.path, st.st_nlink, loc.folder, _who(loc.folder_st)),
                         hint="a hard link may be another file of the system; remove it")
    fd = os.open(loc.name, _READ_FLAGS | (os.O_DIRECTORY if expect_dir else 0), dir_fd=loc.dir_fd)
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise UnsafePath("%s changed while it was opened: refused" % loc.path)
    return fd, now


def read_bytes(path: str) -> Optional[bytes]:
    """A regular file's content; None when absent (or its folder is)."""
    try:
        loc = locate(path)
    except MissingPrerequisite:
        return None
    with loc:
        try:
            fd, _ = open_entry(loc)
        except FileNotFoundError:
            return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def iter_chunks(path: str, size: int = 1024 * 1024) -> Optional[Iterator[bytes]]:
    """A regular file's content in chunks; None when absent or a folder."""
    try:
        loc = locate(path)
    except MissingPrerequisite:
        return None
    with loc:
        st = loc.lstat()
        if st is None or stat.S_ISDIR(st.st_mode):
            return None
        fd, _ = open_entry(loc)
    handle = os.fdopen(fd, "rb")

    def chunks() -> Iterator[bytes]:
        with handle:
            for chunk in iter(lambda: handle.read(size), b""):
                yield chunk
    return chunks()


def set_attrs(path: str, mode: Optional[int], uid: int, gid: int, follow: bool = True) -> None:
    """chown/chmod the entry on an O_NOFOLLOW descriptor; a link itself only with lchown."""
    with locate(path, follow) as loc:
        set_attrs_at(loc, mode, uid, gid)


def set_attrs_at(loc: Loc, mode: Optional[int], uid: int, gid: int) -> None:
    st = loc.lstat()
    if st is None:
        raise FileNotFoundError(loc.path)
    if stat.S_ISLNK(st.st_mode):
        if uid != -1 or gid != -1:
            os.chown(loc.name, uid, gid, dir_fd=loc.dir_fd, follow_symlinks=False)
        return  # a symlink's own mode means nothing on Linux
    fd, _ = open_entry(loc, expect_dir=stat.S_ISDIR(st.st_mode))
    try:
        if uid != -1 or gid != -1:
            os.fchown(fd, uid, gid)
        if mode is not None:
            os.fchmod(fd, mode)  # after chown: chown may clear setuid bits
    finally:
        os.close(fd)


def temp_name(name: str) -> str:
    # os.urandom is what secrets.token_hex reads; importing secrets cost every start
    return ".%s.%s%s" % (name[:100], os.urandom(8).hex(), TMP_SUFFIX)


def sweep_temps(loc: Loc) -> List[str]:
    """Remove temp files an agent killed mid-write left beside loc's entry (our own names,
    regular files owned by the agent's user: a look-alike another user planted stays). The
    run lock keeps every other writer of ours away."""
    prefix = ".%s." % loc.name[:100]
    removed = []
    try:
        names = os.listdir(loc.dir_fd)
    except OSError:
        return removed
    for name in names:
        middle = name[len(prefix):-len(TMP_SUFFIX)] if name.endswith(TMP_SUFFIX) else ""
        if not name.startswith(prefix) or len(middle) != 16 or \
                any(c not in "0123456789abcdef" for c in middle):
            continue
        try:
            st = os.stat(name, dir_fd=loc.dir_fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                os.unlink(name, dir_fd=loc.dir_fd)
                removed.append(name)
        except OSError:
            continue
    return removed


def create_temp(loc: Loc) -> Tuple[int, str]:
    """A new, empty file under a random name beside loc's entry (O_EXCL|O_NOFOLLOW); temp
    files a killed run left for the same entry are removed first."""
    sweep_temps(loc)
    while True:
        tmp = temp_name(loc.name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=loc.dir_fd)
            return fd, tmp
        except FileExistsError:
            continue  # someone planted this very name: draw another


def unlink_quietly(loc: Loc, name: str) -> None:
    try:
        os.unlink(name, dir_fd=loc.dir_fd)
    except FileNotFoundError:
        pass


def rename_into_place(loc: Loc, tmp: str) -> None:
    os.rename(tmp, loc.name, src_dir_fd=loc.dir_fd, dst_dir_fd=loc.dir_fd)
    os.fsync(loc.dir_fd)  # makes the rename durable


def symlink_at(loc: Loc, target: str, uid: int = -1, gid: int = -1) -> None:
    """Create or atomically replace loc's entry with a link to target (made beside, renamed)."""
    while True:
        tmp = temp_name(loc.name)
        try:
            os.symlink(target, tmp, dir_fd=loc.dir_fd)
            break
        except FileExistsError:
            continue
    try:
        if uid != -1 or gid != -1:
            os.chown(tmp, uid, gid, dir_fd=loc.dir_fd, follow_symlinks=False)
        current = loc.lstat()
        if current is not None and stat.S_ISDIR(current.st_mode):
            remove_at(loc)
        rename_into_place(loc, tmp)
    except BaseException:
        unlink_quietly(loc, tmp)
        raise


def fifo_at(loc: Loc, mode: int, uid: int, gid: int) -> None:
    """Create (or replace) loc's entry with a FIFO: made beside under a random name, its
    owner and mode set on a non-blocking descriptor of it, renamed over."""
    while True:
        tmp = temp_name(loc.name)
        try:
            os.mkfifo(tmp, 0o600, dir_fd=loc.dir_fd)
            break
        except FileExistsError:
            continue
    try:
        fd = os.open(tmp, _READ_FLAGS, dir_fd=loc.dir_fd)  # O_NONBLOCK: returns at once
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                raise UnsafePath("%s changed while it was made: refused" % loc.path)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        current = loc.lstat()
        if current is not None and stat.S_ISDIR(current.st_mode):
            remove_at(loc)
        rename_into_place(loc, tmp)
    except BaseException:
        unlink_quietly(loc, tmp)
        raise


def fd_path(dir_fd: int, name: str = "") -> str:
    """A path to an entry of an opened folder that goes through the descriptor itself."""
    base = "/proc/self/fd/%d" % dir_fd
    return base + "/" + name if name else base


def remove_at(loc: Loc) -> None:
    """Remove the entry itself: a link is unlinked (never what it points at), a folder
    removed with everything in it (by descriptor: shutil.rmtree never follows links)."""
    st = loc.lstat()
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(fd_path(loc.dir_fd, loc.name))
    else:
        os.unlink(loc.name, dir_fd=loc.dir_fd)


def remove(path: str) -> None:
    with locate(path, follow=False) as loc:
        remove_at(loc)


def makedirs(path: str, mode: int = 0o755) -> List[str]:
    """Create path and its missing parents without following untrusted links; the folders
    made, outermost first."""
    made: List[str] = []
    with locate(path, follow=True, create_parents=True, dir_mode=mode, created=made) as loc:
        st = loc.lstat()
        if st is None:
            os.mkdir(loc.name, mode, dir_fd=loc.dir_fd)
            made.append(loc.path)
        elif not stat.S_ISDIR(st.st_mode):
            raise OpError("%s exists and is a %s, not a folder" % (loc.path, kind_of(st.st_mode)))
    return made


def listdir(path: str) -> List[str]:
    with locate(path) as loc:
        fd, _ = open_entry(loc, expect_dir=True)
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def readlink(path: str) -> str:
    with locate(path, follow=False) as loc:
        return os.readlink(loc.name, dir_fd=loc.dir_fd)
