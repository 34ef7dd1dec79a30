"""Atomic file writes, digests, owner/mode handling and unified diffs."""
from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import shlex
import stat
from typing import Any, List, Optional, Tuple

from . import proc, safepath
from .journal import Journal
from .core import MissingPrerequisite, OpError

DIFF_CAP = 64 * 1024        # a diff longer than this is cut: it is for reading, not patching
DIFF_INPUT_CAP = 1024 * 1024  # difflib is quadratic at worst: don't feed it huge files
DEFAULT_FILE_MODE = 0o644
DEFAULT_DIR_MODE = 0o755
MISSING_PARENT_HINT = "create the folder first with a file task (state: directory)"


# ---- digests -------------------------------------------------------------

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> Optional[str]:
    """Digest of a regular file; None when there is no such file (or it is a folder).

    Links are followed only where safepath allows; a FIFO, socket or device is refused."""
    chunks = safepath.iter_chunks(path)
    if chunks is None:
        return None
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def read_file(path: str) -> Optional[bytes]:
    """Contents of a regular file, None when missing."""
    return safepath.read_bytes(path)


# ---- owner and mode ------------------------------------------------------

def parse_mode(mode: Any, current: Optional[int] = None, is_dir: bool = False) -> Optional[int]:
    """'0644' / '644' / '0o644' -> 0o644; an int is taken as the mode value itself.

    A symbolic mode ('u+rwx,g-w', as chmod takes it) applies to ``current``, the path's
    present mode (a new file's default when None)."""
    if mode is None or mode == "":
        return None
    if isinstance(mode, bool):
        raise OpError("mode must be octal like '0644', got %r" % mode)
    if isinstance(mode, int):
        value = mode
    else:
        text = str(mode).strip().lower()
        if text and text[0] in "ugoa+-=":
            base = current if current is not None else (
                DEFAULT_DIR_MODE if is_dir else DEFAULT_FILE_MODE)
            return symbolic_mode(str(mode).strip(), base, is_dir)
        text = text[2:] if text.startswith("0o") else text
        try:
            value = int(text, 8)
        except ValueError:
            raise OpError("mode must be octal like '0644', got %r" % mode)
    if not 0 <= value <= 0o7777:
        raise OpError("mode out of range: %r" % mode)
    return value


_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007}  # each class's rwx bits and its special bit


def symbolic_mode(text: str, current: int, is_dir: bool) -> int:
    """chmod's symbolic clauses (``u+rwx,go-w``, ``a=r``, ``+X``) applied to ``current``."""
    mode = current & 0o7777
    for clause in text.split(","):
        match = re.match(r"^([ugoa]*)((?:[-+=][rwxXst]*)+)$", clause)
        if not match:
            raise OpError("mode %r: %r is not a symbolic mode clause" % (text, clause),
                          hint="like u+rwx, go-w or a=r")
        who = match.group(1).replace("a", "ugo") or "ugo"
        for op, perms in re.findall(r"([-+=])([rwxXst]*)", match.group(2)):
            bits = 0
            for w in set(who):
                shift = {"u": 6, "g": 3, "o": 0}[w]
                for p in perms:
                    if p == "r":
                        bits |= 4 << shift
                    elif p == "w":
                        bits |= 2 << shift
                    elif p == "x" or (p == "X" and (is_dir or current & 0o111)):
                        bits |= 1 << shift
                    elif p == "s" and w in "ug":
                        bits |= 0o4000 if w == "u" else 0o2000
                    elif p == "t" and w == "o":
                        bits |= 0o1000
            if op == "+":
                mode |= bits
            elif op == "-":
                mode &= ~bits
            else:
                clear = 0
                for w in set(who):
                    clear |= _WHO[w]
                mode = (mode & ~clear) | bits
    return mode


def resolve_uid(owner: Any) -> Optional[int]:
    if owner is None or owner == "":
        return None
    text = str(owner)
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        if text.isdigit():
            return int(text)
        raise MissingPrerequisite("no such user: %s" % text, hint="create it first with a user task")


def resolve_gid(group: Any) -> Optional[int]:
    if group is None or group == "":
        return None
    text = str(group)
    try:
        return grp.getgrnam(text).gr_gid
    except KeyError:
        if text.isdigit():
            return int(text)
        raise MissingPrerequisite("no such group: %s" % text, hint="create it first with a group task")


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def attr_changes(path: str, mode: Any = None, owner: Any = None, group: Any = None,
                 follow: bool = True) -> List[str]:
    """Human descriptions of how path's mode/owner/group differ from the wanted ones."""
    st = safepath.lstat(path, follow)
    if st is None:
        raise FileNotFoundError(path)
    want_mode = parse_mode(mode, stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode))
    uid, gid = resolve_uid(owner), resolve_gid(group)
    out = []
    if want_mode is not None and not stat.S_ISLNK(st.st_mode) \
            and stat.S_IMODE(st.st_mode) != want_mode:
        out.append("mode %04o -> %04o" % (stat.S_IMODE(st.st_mode), want_mode))
    if uid is not None and st.st_uid != uid:
        out.append("owner %s -> %s" % (user_name(st.st_uid), user_name(uid)))
    if gid is not None and st.st_gid != gid:
        out.append("group %s -> %s" % (group_name(st.st_gid), group_name(gid)))
    return out


def apply_attrs(path: str, mode: Any = None, owner: Any = None, group: Any = None,
                follow: bool = True, journal: Optional[Journal] = None) -> None:
    """chown/chmod on a descriptor of the entry itself (a link: lchown only)."""
    uid, gid = resolve_uid(owner), resolve_gid(group)
    if uid is None and gid is None and mode in (None, ""):
        return
    with safepath.locate(path, follow) as loc:
        st = loc.lstat()
        want_mode = parse_mode(mode, None if st is None else stat.S_IMODE(st.st_mode),
                               st is not None and stat.S_ISDIR(st.st_mode))
        if journal is not None:
            journal.save(loc.path)
        safepath.set_attrs_at(loc, want_mode, -1 if uid is None else uid,
                              -1 if gid is None else gid)


# ---- chattr attributes ----------------------------------------------------

# chattr's letters and the inode flags they stand for (linux/fs.h FS_*_FL), read and set
# with the FS_IOC_GETFLAGS / FS_IOC_SETFLAGS ioctls on a descriptor: no lsattr/chattr run.
ATTR_FLAGS = {
    "s": 0x1, "u": 0x2, "c": 0x4, "S": 0x8, "i": 0x10, "a": 0x20, "d": 0x40, "A": 0x80,
    "m": 0x400, "E": 0x800, "I": 0x1000, "j": 0x4000, "t": 0x8000, "D": 0x10000,
    "T": 0x20000, "e": 0x80000, "V": 0x100000, "C": 0x800000, "x": 0x2000000,
    "N": 0x10000000, "P": 0x20000000, "F": 0x40000000,
}
# Kept by the filesystem (extents, encryption, index, inline data, verity): shown, never
# asked for, and left as they are by an exact set (``=``), as chattr leaves them.
ATTR_READ_ONLY = "eEINV"
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602


def parse_attributes(text: Any) -> Optional[Tuple[str, int]]:
    """``attributes`` as chattr takes it: ``+A`` adds, ``-A`` removes, ``A`` or ``=A`` sets
    exactly. None when nothing is asked; (operator, flags) else."""
    if text is None:
        return None
    text = str(text).strip()
    op = "="
    if text[:1] in ("+", "-", "="):
        op, text = text[0], text[1:]
    flags = 0
    for letter in text:
        if letter in " ,":
            continue
        if letter not in ATTR_FLAGS or letter in ATTR_READ_ONLY:
            raise OpError("attributes %r: %r is not an attribute that can be set" % (text, letter),
                          hint="letters as chattr takes them: %s"
                          % "".join(k for k in ATTR_FLAGS if k not in ATTR_READ_ONLY))
        flags |= ATTR_FLAGS[letter]
    if not text.strip(" ,"):
        return None  # Ansible: no letters ask for nothing (`attributes: ""` clears nothing)
    return op, flags


def attr_letters(flags: int) -> str:
    """Flags as lsattr's letters (only those set), in chattr's order."""
    return "".join(k for k, bit in ATTR_FLAGS.items() if flags & bit)


def wanted_flags(current: int, op: str, flags: int) -> int:
    if op == "+":
        return current | flags
    if op == "-":
        return current & ~flags
    keep = 0
    for letter in ATTR_READ_ONLY:
        keep |= ATTR_FLAGS[letter]
    return (current & keep) | flags


def _flags_fd(loc: "safepath.Loc") -> int:
    st = loc.lstat()
    if st is None:
        raise FileNotFoundError(loc.path)
    # Only files and folders carry these flags (chattr refuses the rest too); a link is
    # never opened through.
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise OpError("%s is a %s: attributes are set on files and folders only"
                      % (loc.path, safepath.kind_of(st.st_mode)))
    fd, _ = safepath.open_entry(loc, expect_dir=stat.S_ISDIR(st.st_mode))
    return fd


def _get_flags(fd: int, path: str) -> int:
    import array
    import fcntl
    buf = array.array("i", [0])
    try:
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
    except OSError as exc:
        raise OpError("cannot read the attributes of %s: %s" % (path, exc.strerror),
                      hint="the filesystem may not support chattr attributes")
    return buf[0] & 0xFFFFFFFF


def read_attributes(path: str, follow: bool = True) -> int:
    """The entry's inode flags (a link followed only where safepath allows)."""
    with safepath.locate(path, follow) as loc:
        fd = _flags_fd(loc)
    try:
        return _get_flags(fd, path)
    finally:
        os.close(fd)


def attribute_changes(path: str, attributes: Any, follow: bool = True) -> List[str]:
    """How the entry's chattr attributes differ from ``attributes`` (empty: they match)."""
    wanted = parse_attributes(attributes)
    if wanted is None:
        return []
    st = safepath.lstat(path, follow)
    if st is None or stat.S_ISLNK(st.st_mode):
        return []  # a link has no attributes of its own
    now = read_attributes(path, follow)
    want = wanted_flags(now, *wanted)
    if want == now:
        return []
    return ["attributes %s -> %s" % (attr_letters(now) or "none", attr_letters(want) or "none")]


def apply_attributes(path: str, attributes: Any, follow: bool = True) -> None:
    """Set the chattr attributes on a descriptor of the entry (never through a link)."""
    import array
    import fcntl
    wanted = parse_attributes(attributes)
    if wanted is None:
        return
    with safepath.locate(path, follow) as loc:
        st = loc.lstat()
        if st is None or stat.S_ISLNK(st.st_mode):
            return
        fd = _flags_fd(loc)
    try:
        now = _get_flags(fd, path)
        want = wanted_flags(now, *wanted)
        if want == now:
            return
        try:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, array.array("i", [want - (1 << 32) if want >= 1 << 31
                                                                 else want]))
        except OSError as exc:
            raise OpError("cannot set the attributes %s on %s: %s"
                          % (attr_letters(want) or "none", path, exc.strerror),
                          hint="the filesystem may not support them, or the agent lacks "
                               "the right (i and a need root)")
    finally:
        os.close(fd)


# ---- atomic write --------------------------------------------------------

def write_target(path: str, missing_parent_ok: bool = False) -> str:
    """Writing 'through' a symlink keeps the link and replaces what it points at, where the
    link may be followed at all (safepath: never in a folder another user can change).
    ``missing_parent_ok``: a path whose folder does not exist yet is its own target (an op
    that creates the folders first)."""
    try:
        return safepath.real_path(path)
    except MissingPrerequisite:
        if not missing_parent_ok:
            raise
        return os.path.abspath(path)


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


fsync_dir = _fsync_dir  # public name for operations that rename folders into place


def _final_attrs(st: Optional[os.stat_result], mode: Any, owner: Any,
                 group: Any) -> Tuple[int, int, int]:
    """Wanted mode/uid/gid; unspecified ones keep the existing file's (or defaults)."""
    if st is not None:
        cur_mode, cur_uid, cur_gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    else:
        cur_mode, cur_uid, cur_gid = DEFAULT_FILE_MODE, -1, -1
    want_mode = parse_mode(mode, cur_mode)
    uid, gid = resolve_uid(owner), resolve_gid(group)
    if os.geteuid() != 0:
        # A user who may replace another's file (a folder anyone can write) cannot give the
        # new one the old owner: it becomes theirs, as Ansible's atomic move leaves it.
        if uid is None and cur_uid not in (-1, os.geteuid()):
            cur_uid = -1
        if gid is None and cur_gid not in (-1, os.getegid()) and \
                cur_gid not in os.getgroups():
            cur_gid = -1
    return (cur_mode if want_mode is None else want_mode,
            cur_uid if uid is None else uid,
            cur_gid if gid is None else gid)


def make_parents(path: str, journal: Optional[Journal] = None) -> None:
    """The missing folders above ``path`` (default mode), each journalled as created: what
    lineinfile's and blockinfile's ``create`` do, as in Ansible."""
    for made in safepath.makedirs(os.path.dirname(os.path.abspath(path))):
        if journal is not None:
            journal.created(made)


def run_validate(validate: str, tmp_path: str) -> None:
    """Run 'CMD %s' on the temp file, without a shell; raise OpError when it fails."""
    if "%s" not in validate:
        raise OpError("validate must contain %%s: %s (%%s is the file to check)" % validate)
    argv = shlex.split(validate.replace("%s", shlex.quote(tmp_path)))
    result = proc.run(argv)
    if result.rc != 0:
        raise OpError("validation failed, file left unchanged: %s (rc %d)%s"
                      % (validate, result.rc, ": " + result.tail() if result.tail() else ""),
                      cmd=result.cmd, rc=result.rc, stdout=result.stdout, stderr=result.stderr)


def atomic_write(path: str, data: bytes, mode: Any = None, owner: Any = None,
                 group: Any = None, validate: Optional[str] = None,
                 journal: Optional[Journal] = None) -> None:
    """Replace path with data so readers see either the old or the new file, never half.

    The parent folder is opened safely (safepath); a temp file is created beside the
    target under a random name with O_EXCL|O_NOFOLLOW, written, fsynced, fchown'ed and
    fchmod'ed (existing owner and mode kept unless given), optionally validated through
    its descriptor, then renamed over the target by the parent's descriptor and the
    folder fsynced (makes the rename durable).
    """
    try:
        loc = safepath.locate(path)
    except MissingPrerequisite as exc:
        raise MissingPrerequisite(exc.msg, hint=MISSING_PARENT_HINT)
    with loc:
        current = loc.lstat()
        if current is not None and not stat.S_ISREG(current.st_mode):
            raise safepath.not_regular(loc.path, safepath.kind_of(current.st_mode))
        mode_i, uid, gid = _final_attrs(current, mode, owner, group)
        write_at(loc, data, mode_i, uid, gid, validate, journal)


def write_at(loc: "safepath.Loc", data: bytes, mode: int, uid: int, gid: int,
             validate: Optional[str] = None, journal: Optional[Journal] = None) -> None:
    """The temp-file-and-rename step of atomic_write, for an already opened place."""
    fd, tmp = safepath.create_temp(loc)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            if uid != -1 or gid != -1:
                os.fchown(fh.fileno(), uid, gid)
            os.fchmod(fh.fileno(), mode)  # after chown: chown may clear setuid bits
            _keep_acl(loc, fh.fileno(), mode)
            if validate:
                # In a folder another user can change, the temp name could be swapped for a
                # link before the validator opens it: it then reads our own descriptor.
                run_validate(validate, os.path.join(loc.folder, tmp) if loc.trusted
                             else "/proc/%d/fd/%d" % (os.getpid(), fh.fileno()))
        if journal is not None:  # the old file, kept on the host until the run commits
            journal.save(loc.path, keep=True)
        safepath.rename_into_place(loc, tmp)
    except BaseException:
        safepath.unlink_quietly(loc, tmp)
        raise


_ACL = "system.posix_acl_access"


def _keep_acl(loc: "safepath.Loc", fd: int, mode: int) -> None:
    """The replaced file's access ACL (setfacl's extra users and groups) on the new one, as
    Ansible's atomic move keeps it; its owner/group/other entries follow ``mode``."""
    try:
        old = os.open(loc.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                      dir_fd=loc.dir_fd)
    except OSError:
        return  # no old file (or not one we may open): nothing to keep
    try:
        acl = os.getxattr(old, _ACL)
    except OSError:
        return  # no ACL, or a filesystem without them
    finally:
        os.close(old)
    try:
        os.setxattr(fd, _ACL, acl)
        os.fchmod(fd, mode)  # the mode asked for still wins (it sets the ACL's base entries)
    except OSError:
        pass


# ---- diffs ---------------------------------------------------------------

def is_binary(data: bytes) -> bool:
    if b"\0" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _lines(text: str) -> List[str]:
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        # folding the marker into the line makes "same text, no final newline" a difference
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def unified_diff(before: Optional[bytes], after: Optional[bytes], path: str,
                 cap: int = DIFF_CAP) -> str:
    """A unified diff of two versions of path (None = absent); '' when they are equal."""
    if before == after:
        return ""
    old, new = before or b"", after or b""
    if is_binary(old) or is_binary(new):
        return "Binary files before/%s and after/%s differ\n" % (path.lstrip("/"), path.lstrip("/"))
    if len(old) > DIFF_INPUT_CAP or len(new) > DIFF_INPUT_CAP:
        return "Files differ (too large to diff: %d -> %d bytes)\n" % (len(old), len(new))
    import difflib  # here: only a diff needs it, not every agent start
    text = "".join(difflib.unified_diff(
        _lines(old.decode("utf-8")), _lines(new.decode("utf-8")),
        fromfile="before: %s%s" % (path, " (absent)" if before is None else ""),
        tofile="after: %s%s" % (path, " (absent)" if after is None else "")))
    if len(text) > cap:
        text = text[:cap] + "\n[diff truncated: %d more characters]\n" % (len(text) - cap)
    return text


def state_diff(path: str, before: str, after: str) -> str:
    """A diff-shaped note for changes that are not file contents (a folder, a link)."""
    return "--- before: %s\n+++ after: %s\n-%s\n+%s\n" % (path, path, before, after)
