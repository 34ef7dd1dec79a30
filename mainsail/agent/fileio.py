"""Atomic file writes, digests, owner/mode handling and unified diffs."""
from __future__ import annotations

import difflib
import grp
import hashlib
import os
import pwd
import shlex
import stat
from typing import Any, List, Optional, Tuple

from . import proc, safepath
from .journal import Journal
from .core import MissingPrerequisite, OpError

DIFF_CAP = 64 * 1024        # a diff longer than this is cut: it is for reading, not patching
DIFF_INPUT_CAP = 1024 * 1024  # difflib is quadratic at worst: don't feed it huge files
DEFAULT_FILE_MODE = 0o644
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

def parse_mode(mode: Any) -> Optional[int]:
    """'0644' / '644' / '0o644' -> 0o644; an int is taken as the mode value itself."""
    if mode is None or mode == "":
        return None
    if isinstance(mode, bool):
        raise OpError("mode must be octal like '0644', got %r" % mode)
    if isinstance(mode, int):
        value = mode
    else:
        text = str(mode).strip().lower()
        text = text[2:] if text.startswith("0o") else text
        try:
            value = int(text, 8)
        except ValueError:
            raise OpError("mode must be octal like '0644', got %r" % mode)
    if not 0 <= value <= 0o7777:
        raise OpError("mode out of range: %r" % mode)
    return value


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
    want_mode, uid, gid = parse_mode(mode), resolve_uid(owner), resolve_gid(group)
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
    uid, gid, want_mode = resolve_uid(owner), resolve_gid(group), parse_mode(mode)
    if uid is None and gid is None and want_mode is None:
        return
    with safepath.locate(path, follow) as loc:
        if journal is not None:
            journal.save(loc.path)
        safepath.set_attrs_at(loc, want_mode, -1 if uid is None else uid,
                              -1 if gid is None else gid)


# ---- atomic write --------------------------------------------------------

def write_target(path: str) -> str:
    """Writing 'through' a symlink keeps the link and replaces what it points at, where the
    link may be followed at all (safepath: never in a folder another user can change)."""
    return safepath.real_path(path)


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
    want_mode, uid, gid = parse_mode(mode), resolve_uid(owner), resolve_gid(group)
    return (cur_mode if want_mode is None else want_mode,
            cur_uid if uid is None else uid,
            cur_gid if gid is None else gid)


def run_validate(validate: str, tmp_path: str) -> None:
    """Run 'CMD %s' on the temp file, without a shell; raise OpError when it fails."""
    if "%s" not in validate:
        raise OpError("validate must contain %%s (the file to check): %r" % validate)
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
