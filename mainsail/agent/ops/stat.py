"""stat: what is at a path, with Ansible's `stat` result (read only, no process started)."""
from __future__ import annotations

import codecs
import grp
import hashlib
import os
import pwd
import stat as st_mod
from typing import Any, Dict, Mapping, Optional

from .. import safepath
from ..core import Context, OpError, Outcome, accept, flag, ok
from ..spec import Arg, OpSpec

ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
_BITS = (("wusr", st_mod.S_IWUSR), ("rusr", st_mod.S_IRUSR), ("xusr", st_mod.S_IXUSR),
         ("wgrp", st_mod.S_IWGRP), ("rgrp", st_mod.S_IRGRP), ("xgrp", st_mod.S_IXGRP),
         ("woth", st_mod.S_IWOTH), ("roth", st_mod.S_IROTH), ("xoth", st_mod.S_IXOTH),
         ("isuid", st_mod.S_ISUID), ("isgid", st_mod.S_ISGID))


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    path = str(args["path"])
    info = describe(path, flag(args, "follow"),
                    str(args["checksum_algorithm"]) if flag(args, "get_checksum") else None)
    if flag(args, "get_mime") and info["exists"]:
        info["mimetype"], info["charset"] = mime(path, info)
    outcome = ok("%s: %s" % (path, info.get("kind", "absent")))
    info.pop("kind", None)
    outcome.data = {"stat": info}
    return outcome


def describe(path: str, follow: bool, algorithm: Optional[str]) -> Dict[str, Any]:
    """Ansible's stat dictionary for ``path`` (``{"exists": False}`` when there is nothing)."""
    entry = safepath.lstat(path, follow)
    if entry is None:
        return {"exists": False}
    mode = entry.st_mode
    info: Dict[str, Any] = {
        "exists": True, "path": path, "kind": safepath.kind_of(mode),
        "mode": "%04o" % st_mod.S_IMODE(mode),
        "isdir": st_mod.S_ISDIR(mode), "ischr": st_mod.S_ISCHR(mode),
        "isblk": st_mod.S_ISBLK(mode), "isreg": st_mod.S_ISREG(mode),
        "isfifo": st_mod.S_ISFIFO(mode), "islnk": st_mod.S_ISLNK(mode),
        "issock": st_mod.S_ISSOCK(mode),
        "uid": entry.st_uid, "gid": entry.st_gid, "size": entry.st_size,
        "inode": entry.st_ino, "dev": entry.st_dev, "nlink": entry.st_nlink,
        "atime": entry.st_atime, "mtime": entry.st_mtime, "ctime": entry.st_ctime,
        "blocks": entry.st_blocks, "block_size": entry.st_blksize,
        "pw_name": _user(entry.st_uid), "gr_name": _group(entry.st_gid),
        "readable": os.access(path, os.R_OK), "writeable": os.access(path, os.W_OK),
        "executable": os.access(path, os.X_OK),
    }
    info.update((name, bool(mode & bit)) for name, bit in _BITS)
    if st_mod.S_ISCHR(mode) or st_mod.S_ISBLK(mode):
        info["device_type"] = entry.st_rdev
    if st_mod.S_ISLNK(mode):
        info["lnk_target"] = safepath.readlink(path)
        info["lnk_source"] = os.path.realpath(path)
    if algorithm and st_mod.S_ISREG(mode):
        info["checksum"] = checksum(path, algorithm)
    return info


_MAGIC = ((b"\x1f\x8b", "application/gzip"), (b"PK\x03\x04", "application/zip"),
          (b"\x7fELF", "application/x-executable"), (b"\x89PNG", "image/png"),
          (b"%PDF", "application/pdf"), (b"BZh", "application/x-bzip2"),
          (b"\xfd7zXZ\x00", "application/x-xz"), (b"\xff\xd8\xff", "image/jpeg"))


def mime(path: str, info: Mapping[str, Any]) -> "tuple[str, str]":
    """(mimetype, charset) as `file --mime` gives them for common cases, read by the agent
    (a few magic numbers, then text by its encoding) instead of starting `file`."""
    if info.get("islnk"):
        return "inode/symlink", "binary"
    if info.get("isdir"):
        return "inode/directory", "binary"
    if not info.get("isreg"):
        return "inode/x-special", "binary"
    if info.get("size") == 0:
        return "inode/x-empty", "binary"
    chunks = safepath.iter_chunks(path, 8192)
    head = b"" if chunks is None else next(chunks, b"")
    if chunks is not None:
        chunks.close()
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind, "binary"
    if b"\0" in head:
        return "application/octet-stream", "binary"
    try:
        head.decode("ascii")
        return "text/plain", "us-ascii"
    except UnicodeDecodeError:
        pass
    try:  # the head may end inside a character: not final
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < 8192)
        return "text/plain", "utf-8"
    except UnicodeDecodeError:
        return "application/octet-stream", "binary"


def checksum(path: str, algorithm: str) -> str:
    """The file's digest, read in chunks through safepath (links only where trusted)."""
    if algorithm not in ALGORITHMS:
        raise OpError("stat: unknown checksum_algorithm %r" % algorithm,
                      hint="one of " + ", ".join(ALGORITHMS))
    digest = hashlib.new(algorithm)
    chunks = safepath.iter_chunks(path)
    for chunk in chunks or ():
        digest.update(chunk)
    return digest.hexdigest()


def _user(uid: int) -> Optional[str]:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _group(gid: int) -> Optional[str]:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


SPEC = OpSpec(
    name="stat",
    summary="what is at a path: kind, owner, mode, times, checksum",
    ansible="`stat`",
    args=(
        Arg("path", "abspath", aliases=("dest", "name"), doc="the path to look at"),
        Arg("follow", "bool", default=False,
            doc="describe what a final symbolic link points at instead of the link (links "
                "in folders other users can change are refused)"),
        Arg("get_checksum", "bool", default=True, doc="add `checksum` for a regular file"),
        Arg("checksum_algorithm", default="sha1", choices=ALGORITHMS,
            aliases=("checksum", "checksum_algo"), doc="the digest `checksum` holds"),
        Arg("get_mime", "bool", default=True, aliases=("mime", "mime_type", "mime-type"),
            doc="add `mimetype` and `charset`, guessed by the agent from the first bytes "
                "(common magic numbers, then ASCII or UTF-8 text) rather than by `file`"),
        Arg("get_attributes", "bool", default=False, aliases=("attr", "attributes"),
            doc="accepted and ignored: no `attributes` (it would start `lsattr`)"),
        Arg("get_selinux_context", "bool", default=False,
            doc="accepted and ignored: no `selinux_context`"),
    ),
    required=(("path",),),
    doc="""\
Looks at one path and changes nothing: Ansible's `stat`. The step is always `ok`; a task that
`register`s it reads Ansible's fields under `stat`: `exists`, and for an existing path `path`,
`mode` (`"0644"`), `isdir`, `isreg`, `islnk`, `ischr`, `isblk`, `isfifo`, `issock`, `uid`,
`gid`, `pw_name`, `gr_name`, `size`, `inode`, `dev`, `nlink`, `atime`, `mtime`, `ctime`,
`blocks`, `block_size`, the permission bits (`rusr`, `wusr`, `xusr`, `rgrp`, ... `isuid`,
`isgid`), `readable`, `writeable`, `executable` (for the agent's user), `lnk_target` and
`lnk_source` for a link, and `checksum` (sha1 unless `checksum_algorithm` says otherwise) for
a regular file. Everything is read by the agent itself: no process starts on the host.
""",
    notes="""\
```yaml
- name: is the site's config there?
  stat:
    path: /etc/nginx/sites-enabled/guestbook
    checksum_algorithm: sha256
```

Notes:

* Without `follow`, a symbolic link is described as a link (`islnk: true`, `lnk_target`);
  with `follow: true`, what it points at is, unless the link is in a folder another user can
  change (then the step fails: such a link may have been planted).
* `mimetype` and `charset` are the agent's guess, not `file`'s: `text/plain` with `us-ascii`
  or `utf-8`, `inode/directory`, `inode/symlink`, `inode/x-empty`, gzip, zip, xz, bzip2, ELF,
  PNG, JPEG and PDF by their magic numbers, else `application/octet-stream` (`binary`).
* `get_attributes` and `get_selinux_context` are accepted so that Ansible tasks load, and
  ignored: the fields they would add are absent.
""",
)
