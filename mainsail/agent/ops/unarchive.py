"""unarchive: a tar (plain, gz, bz2, xz) or zip archive unpacked into a folder on the host.

Read with Python's tarfile and zipfile, never by running tar: each member is compared with
what the folder holds and only those that differ are written, each atomically and journalled.
Member paths are checked before anything is written so nothing lands outside ``dest``.
"""
from __future__ import annotations

import fnmatch
import io
import os
import posixpath
import stat as st_mod
import tarfile
import zipfile
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import (Context, MissingPrerequisite, OpError, Outcome, accept, as_list, flag, ok,
                    settle)
from ..spec import Arg, OpSpec, Ships
from ._http import fetch, file_details

MAX_DIFF_FILES = 20
DEFAULT_BUFFER = 64 * 1024  # io_buffer_size: Ansible's default


class Member:
    """One entry of the archive: ``kind`` is file, dir or link; ``read`` gives a file's bytes."""

    def __init__(self, name: str, kind: str, mode: int, mtime: float,
                 read: Callable[[], bytes] = lambda: b"", target: str = "") -> None:
        self.name = name
        self.kind = kind
        self.mode = mode
        self.mtime = mtime
        self.read = read
        self.target = target


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    dest = str(args["dest"])
    strip = _strip_components(args.get("extra_opts"))
    if args.get("creates") and safepath.kind(str(args["creates"])) != "absent":
        return ok("skipped, since %s exists" % args["creates"])
    if safepath.kind(dest) != "directory":
        raise MissingPrerequisite("unarchive: dest %s is not a folder" % dest,
                                  hint="create it first with file: state: directory")
    data = _archive_bytes(ctx, args)
    handler, names, members = read_archive(data, str(args.get("src") or "archive"))
    members = _selected(members, args, strip)
    real_dest = os.path.realpath(dest)
    wanted = [(m, _wanted_mode(m, args)) for m in members]
    todo = [(m, mode) for m, mode in wanted if _differs(os.path.join(real_dest, m.name), m,
                                                        mode, args)]
    diff = _diff(real_dest, todo) if ctx.diff else ""
    outcome = settle(ctx, ["extracted %d of %d members" % (len(todo), len(members))] if todo
                     else [], lambda: _extract(ctx, real_dest, todo, args), diff,
                     ok_msg="all %d members already in place" % len(members))
    outcome.data = {"dest": dest, "src": str(args.get("src") or ""), "handler": handler,
                    "extract_results": {"rc": 0, "out": "", "err": ""}}
    outcome.data.update(file_details(dest))
    if flag(args, "list_files"):
        outcome.data["files"] = names
    return outcome


def needed_blobs(args: Mapping[str, Any]) -> List[str]:
    """The archive is needed unless it comes from the host or ``creates`` says it is done."""
    sha = args.get("content_sha")
    if not sha or (args.get("creates") and os.path.exists(str(args["creates"]))):
        return []
    return [str(sha)]


def controller_args(args: Mapping[str, Any], host: str, root: str) -> Dict[str, Any]:
    """Ansible's older `copy: false` is `remote_src: true`: known before the plan decides
    whether the archive is shipped."""
    return {"remote_src": True} if args.get("copy") is False else {}


def _archive_bytes(ctx: Context, args: Mapping[str, Any]) -> bytes:
    src = str(args.get("src") or "")
    if not flag(args, "remote_src"):
        sha = str(args.get("content_sha") or "")
        if not sha:
            raise OpError("unarchive: no archive was shipped for src %r" % src)
        data = ctx.blob(sha)
        if fileio.sha256_bytes(data) != sha:
            raise OpError("unarchive: content blob %s does not match its digest" % sha[:12])
        return data
    if "://" in src:
        resp = fetch("unarchive", args, src)
        if resp.status != 200:
            raise OpError("unarchive: %s answered HTTP %d" % (src, resp.status))
        return resp.body
    if safepath.kind(src) == "absent":
        raise MissingPrerequisite("unarchive: %s does not exist on the host" % src,
                                  hint="download it first (get_url), or drop remote_src to "
                                       "send it from the project")
    data = safepath.read_bytes(src)
    if data is None:
        raise OpError("unarchive: cannot read %s" % src)
    return data


def read_archive(data: bytes, src: str) -> Tuple[str, List[str], List[Member]]:
    """(handler name, member names as written, members with checked paths)."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        return _zip_members(data, src)
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise OpError("unarchive: %s is neither a tar nor a zip archive (%s)" % (src, exc),
                      hint="tar (plain, .gz, .bz2, .xz) and zip are read")
    names: List[str] = []
    members: List[Member] = []
    with archive:
        for info in archive.getmembers():
            names.append(info.name)
            name = member_path(info.name)
            if name is None:
                continue
            if info.isdir():
                members.append(Member(name, "dir", info.mode & 0o7777, info.mtime))
            elif info.issym():
                members.append(Member(name, "link", 0o777, info.mtime,
                                      target=_link_target(name, info.linkname)))
            elif info.isreg() or info.islnk():
                if info.islnk() and member_path(info.linkname) is None:
                    raise OpError("unarchive: hard link %s points at %r, outside the archive"
                                  % (info.name, info.linkname))
                members.append(Member(name, "file", info.mode & 0o7777, info.mtime,
                                      read=_tar_reader(archive, info)))
            else:
                raise OpError("unarchive: member %s is a device or FIFO: refused" % info.name,
                              hint="archives of files, folders and links only")
    return "TarArchive", names, members


def _tar_reader(archive: tarfile.TarFile, info: tarfile.TarInfo) -> Callable[[], bytes]:
    data = archive.extractfile(info)
    content = data.read() if data is not None else b""
    return lambda: content


def _zip_members(data: bytes, src: str) -> Tuple[str, List[str], List[Member]]:
    names: List[str] = []
    members: List[Member] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise OpError("unarchive: %s is not a valid zip archive: %s" % (src, exc))
    with archive:
        for info in archive.infolist():
            names.append(info.filename)
            name = member_path(info.filename)
            if name is None:
                continue
            unix = info.external_attr >> 16
            mtime = 0.0
            if info.is_dir():
                members.append(Member(name, "dir", (unix & 0o7777) or 0o755, mtime))
            elif st_mod.S_ISLNK(unix):
                target = archive.read(info).decode("utf-8", "surrogateescape")
                members.append(Member(name, "link", 0o777, mtime,
                                      target=_link_target(name, target)))
            else:
                content = archive.read(info)
                members.append(Member(name, "file", (unix & 0o7777) or 0o644, mtime,
                                      read=lambda content=content: content))  # type: ignore
    return "ZipArchive", names, members


def member_path(name: str) -> Optional[str]:
    """A member's path relative to dest; None for the archive's root ('./'). An absolute path
    or one with '..' is refused: it would land outside dest."""
    if name.startswith("/") or "\0" in name:
        raise OpError("unarchive: member %r has an absolute path: refused" % name,
                      hint="the archive must hold relative paths only")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OpError("unarchive: member %r climbs out of dest with '..': refused" % name,
                      hint="the archive must hold paths inside its folder only")
    return "/".join(parts) if parts else None


def _link_target(name: str, target: str) -> str:
    """A link member's target, refused when it points outside dest (anything written through
    it later would land there)."""
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise OpError("unarchive: link %s points at %r, outside dest: refused" % (name, target),
                      hint="links in the archive must stay inside it")
    return target


def _strip_components(extra: Any) -> int:
    """extra_opts: only tar's --strip-components is understood; anything else is refused
    rather than ignored."""
    strip = 0
    for opt in as_list(extra) if not isinstance(extra, list) else [str(o) for o in extra]:
        key, sep, value = opt.partition("=")
        if key == "--strip-components" and sep and value.isdigit():
            strip = int(value)
        else:
            raise OpError("unarchive: extra_opts %r is not understood: refused rather than "
                          "ignored" % opt,
                          hint="supported: --strip-components=N; use include/exclude to pick "
                               "members, or a command task running tar")
    return strip


def _selected(members: List[Member], args: Mapping[str, Any], strip: int) -> List[Member]:
    include, exclude = as_list(args.get("include")), as_list(args.get("exclude"))
    out: List[Member] = []
    for member in members:
        if include and not any(fnmatch.fnmatch(member.name, p) for p in include):
            continue
        if any(fnmatch.fnmatch(member.name, p) for p in exclude):
            continue
        if strip:
            parts = member.name.split("/")
            if len(parts) <= strip:
                continue
            member.name = "/".join(parts[strip:])
        out.append(member)
    return out


def _wanted_mode(member: Member, args: Mapping[str, Any]) -> int:
    given = fileio.parse_mode(args.get("mode"))
    if member.kind == "link":
        return 0o777
    return given if given is not None else member.mode


def _differs(path: str, member: Member, mode: int, args: Mapping[str, Any]) -> bool:
    entry = safepath.lstat(path, follow=False)
    if entry is None:
        return True
    if member.kind == "link":
        return not st_mod.S_ISLNK(entry.st_mode) or os.readlink(path) != member.target
    want_kind = st_mod.S_ISDIR if member.kind == "dir" else st_mod.S_ISREG
    if not want_kind(entry.st_mode):
        return True
    if fileio.attr_changes(path, "%04o" % mode, args.get("owner"), args.get("group"),
                           follow=False):
        return True
    if member.kind == "file":
        if flag(args, "keep_newer") and entry.st_mtime > member.mtime:
            return False
        data = member.read()
        return entry.st_size != len(data) or not _same_content(
            path, data, int(args.get("io_buffer_size") or DEFAULT_BUFFER))
    return False


def _same_content(path: str, data: bytes, size: int) -> bool:
    """Whether the file at ``path`` holds ``data``: read ``size`` bytes at a time
    (``io_buffer_size``), stopping at the first chunk that differs."""
    chunks = safepath.iter_chunks(path, size)
    if chunks is None:
        return False
    view, at = memoryview(data), 0
    for chunk in chunks:
        if view[at:at + len(chunk)] != chunk:
            chunks.close()  # type: ignore[attr-defined]
            return False
        at += len(chunk)
    return at == len(data)


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    size = args.get("io_buffer_size")
    if isinstance(size, int) and not isinstance(size, bool) and size < 1:
        return "io_buffer_size must be at least 1 (bytes)", "e.g. io_buffer_size: 65536"
    return None


def _inside(real_dest: str, folder: str) -> None:
    if folder != real_dest and not folder.startswith(real_dest.rstrip("/") + "/"):
        raise OpError("unarchive: a member would be written in %s, outside dest %s "
                      "(through a link): refused" % (folder, real_dest),
                      hint="remove the link under dest that leads outside it")


def _extract(ctx: Context, real_dest: str, todo: List[Tuple[Member, int]],
             args: Mapping[str, Any]) -> None:
    uid = fileio.resolve_uid(args.get("owner"))
    gid = fileio.resolve_gid(args.get("group"))
    uid, gid = -1 if uid is None else uid, -1 if gid is None else gid
    for member, mode in todo:
        path = os.path.join(real_dest, member.name)
        parent = os.path.dirname(path)
        _inside(real_dest, os.path.realpath(parent))
        for made in safepath.makedirs(parent):
            if ctx.journal is not None:
                ctx.journal.created(made)
        with safepath.locate(path, follow=False) as loc:
            _inside(real_dest, loc.folder)
            current = loc.lstat()
            if member.kind == "dir":
                if current is not None and not st_mod.S_ISDIR(current.st_mode):
                    ctx.keep(loc.path)
                    safepath.remove_at(loc)
                    current = None
                if current is None:
                    os.mkdir(loc.name, mode, dir_fd=loc.dir_fd)
                    if ctx.journal is not None:
                        ctx.journal.created(loc.path)
                else:
                    ctx.keep(loc.path)
                safepath.set_attrs_at(loc, mode, uid, gid)
            elif member.kind == "link":
                ctx.keep(loc.path)
                safepath.symlink_at(loc, member.target, uid, gid)
            else:
                if current is not None and st_mod.S_ISDIR(current.st_mode):
                    raise OpError("unarchive: %s is a folder on the host and a file in the "
                                  "archive" % loc.path)
                fileio.write_at(loc, member.read(), mode, uid, gid, journal=ctx.journal)


def _diff(real_dest: str, todo: List[Tuple[Member, int]]) -> str:
    parts: List[str] = []
    for member, _mode in todo[:MAX_DIFF_FILES]:
        path = os.path.join(real_dest, member.name)
        if member.kind == "file":
            before = fileio.read_file(path) if safepath.kind(path, follow=False) == "file" \
                else None
            parts.append(fileio.unified_diff(before, member.read(), path)
                         or "mode or owner of %s\n" % path)
        else:
            parts.append("%s %s\n" % (member.kind, path))
    if len(todo) > MAX_DIFF_FILES:
        parts.append("... and %d more members\n" % (len(todo) - MAX_DIFF_FILES))
    return "".join(parts)


SPEC = OpSpec(
    name="unarchive",
    summary="a tar or zip archive unpacked into a folder (only the members that differ)",
    ansible="`unarchive`",
    args=(
        Arg("src", doc="the archive: a file in the role's or project's `files/`; with "
                       "`remote_src`, a path (or an http(s) URL) on the host"),
        Arg("dest", "abspath", doc="the folder to unpack into; it must exist"),
        Arg("remote_src", "bool", default=False,
            doc="`src` is on the host (or a URL the host downloads), not in the project"),
        Arg("copy", "bool", doc="Ansible's older spelling: `copy: false` means "
                                "`remote_src: true`"),
        Arg("creates", doc="skip the step when this path exists"),
        Arg("list_files", "bool", default=False,
            doc="return the archive's member names as `files`"),
        Arg("include", "names", doc="unpack only members matching these globs"),
        Arg("exclude", "names", doc="leave out members matching these globs"),
        Arg("keep_newer", "bool", default=False,
            doc="leave a file alone when it is newer than the archive's copy"),
        Arg("extra_opts", "any", doc="only `--strip-components=N` is understood; any other "
                                     "option is refused"),
        Arg("mode", "octal", doc="the permissions of every unpacked file and folder "
                                 "(default: each member's own)"),
        Arg("owner", doc="the owning user of every unpacked entry"),
        Arg("group", doc="the owning group of every unpacked entry"),
        Arg("validate_certs", "bool", default=True, doc="with a URL: check its TLS certificate"),
        Arg("io_buffer_size", "int", default=DEFAULT_BUFFER,
            doc="bytes read at a time when a file under `dest` is compared with its member"),
    ),
    required=(("src",), ("dest",)),
    rule=_rule,
    ships=Ships("file", source="src", digest="content_sha", unless="remote_src"),
    internal=("content_sha",),
    journalled=True,
    doc="""\
Unpacks a tar (plain, gzip, bzip2 or xz) or zip archive into `dest` on the host: Ansible's
`unarchive`. The archive comes from the project's `files/` (sent as a blob by digest) or,
with `remote_src`, from the host itself (a path, or an http(s) URL it downloads). The agent
reads it with Python's own `tarfile`/`zipfile` and compares every member with what `dest`
holds (kind, content, link target, mode, owner); only the members that differ are written,
each by an atomic write that is journalled, so a failed transaction removes what it unpacked
and restores what it replaced. Nothing differs: `ok`. Member paths are checked first: an
absolute path, a `..`, a link pointing outside the archive, or a folder under `dest` that is
a link leading out refuses the step before anything is written. The result has `dest`,
`src`, `handler` (`TarArchive` or `ZipArchive`), `files` with `list_files`, and `dest`'s
`mode`, `owner`, `group`, `uid`, `gid`, `state`.
""",
    notes="""\
```yaml
- name: the exporter, unpacked
  unarchive:
    src: exporter-1.2.tar.gz
    dest: /opt/exporter
    extra_opts: [--strip-components=1]

- name: a release the host downloaded
  unarchive:
    src: /var/cache/exporter-1.2.zip
    dest: /opt/exporter
    remote_src: true
    creates: /opt/exporter/bin/exporter
```

Notes:

* An archive from the project travels to the host on every run that is not skipped by
  `creates` (its members must be compared); it is read in memory.
* Check mode compares and reports the members that would be written; `--diff` shows the
  changed text files (the first 20 members).
* Owners recorded in the archive are not applied: entries belong to the agent's user unless
  `owner`/`group` say otherwise.
* `io_buffer_size` (bytes, default 65536 as in Ansible): a file already under `dest` is read
  that many bytes at a time when compared with its member, stopping at the first chunk that
  differs (Ansible checksums it with the same buffer). It changes no result.
* Ansible differences: `extra_opts` other than `--strip-components` and `decrypt` are not
  available.
""",
)
