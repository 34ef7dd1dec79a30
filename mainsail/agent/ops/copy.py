"""copy: a file's exact content (sent as a blob by digest) plus owner/group/mode; or a whole
folder tree (from the project, shipped file by file, or one already on the host).

The content travels only when the destination's digest differs from
``content_sha``; in check mode without diff it is not needed at all.
"""
from __future__ import annotations

import hashlib
import os
import stat
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import (FAILED, Context, MissingPrerequisite, OpError, Outcome, accept, flag,
                    login_home, settle)
from ..spec import Arg, OpSpec, Ships
from ._backup import keep_copy

# One entry of a folder copy: (relative path, "dir" | "file" | "link", what it needs).
Entry = Tuple[str, str, Any]


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    if args.get("manifest"):
        return _tree(ctx, args, str(args["dest"]), _shipped_entries(args["manifest"]),
                     str(args.get("src") or ""))
    if flag(args, "remote_src"):
        return _remote(ctx, args)
    inline, sha = _content(args)
    return _one_file(ctx, args, str(args.get("src") or ""), sha, inline)


def controller_args(args: Mapping[str, Any], host: str, root: str) -> Dict[str, Any]:
    """Ansible's checks of the arguments, before anything is looked up or shipped."""
    has_content = args.get("content") is not None
    if not args.get("src") and not has_content:
        raise OpError("src (or content) is required")
    if args.get("src") and has_content:
        raise OpError("src and content are mutually exclusive")
    if has_content and str(args.get("dest") or "").endswith("/"):
        raise OpError("can not use content with a dir as dest")
    return {}


def _one_file(ctx: Context, args: Mapping[str, Any], src: str, sha: str,
              inline: Optional[bytes], src_mode: Optional[int] = None) -> Outcome:
    """The file at dest gets the content ``inline`` (or the blob ``sha``)."""
    dest = str(args["dest"])
    if src and dest.endswith("/"):
        # As in Ansible: a dest ending in / is a folder, made (with directory_mode) if missing.
        made = _make_folder(ctx, args, dest.rstrip("/") or "/")
        if made is not None:
            return made
    follow_link = args.get("follow") is None or flag(args, "follow")
    target = fileio.write_target(dest) if follow_link else os.path.abspath(dest)
    if not src and safepath.kind(target) == "directory":
        raise OpError("can not use content with a dir as dest",
                      hint="give the full path of the file")
    if src and safepath.kind(target) == "directory":
        # As in Ansible: a file copied to a folder lands in it under its own name.
        dest = os.path.join(dest, os.path.basename(src.rstrip("/")))
        target = fileio.write_target(dest) if follow_link else os.path.abspath(dest)
    _check_destination(target)
    data: Optional[bytes] = inline
    if data is None and args.get("checksum"):
        data = _blob(ctx, sha)
    failure = _checksum_failure(args, data)
    if failure is not None:
        return failure
    is_link = not follow_link and safepath.kind(target, follow=False) == "link"
    current_sha = None if is_link else fileio.sha256_file(target)
    mode = args.get("mode")
    if mode == "preserve":
        mode = None if src_mode is None else "%04o" % src_mode
    if not is_link and (current_sha == sha or (current_sha is not None and
                                               args.get("force") is not None and
                                               not flag(args, "force"))):
        # force: false leaves an existing file's content alone, as in Ansible
        outcome = settle(ctx, _attrs(target, args, mode), lambda: fileio.apply_attrs(
            target, mode, args.get("owner"), args.get("group"), journal=ctx.journal))
        outcome.data = _fields(args, src, dest, target, data, sha)
        return outcome
    if data is None and (ctx.diff or not ctx.check):
        data = _blob(ctx, sha)
    if is_link:
        changes = ["link replaced by a file"]
    else:
        changes = ["file created" if current_sha is None else "content changed"]
    before = None if is_link or current_sha is None or not ctx.diff else \
        fileio.read_file(target)
    diff = fileio.unified_diff(before, data, dest) if ctx.diff and data is not None else ""
    kept: List[str] = []
    if mode is None and src_mode is not None and (current_sha is None or is_link):
        mode = "%04o" % src_mode  # a file copied on the host keeps its mode (as cp -p)

    def apply() -> None:
        if args.get("backup") is not None and flag(args, "backup") and current_sha is not None:
            kept.append(keep_copy(ctx, target, fileio.read_file(target)))
        if is_link:  # follow: false, as in Ansible: the link itself becomes the file
            _replace_entry(ctx, target, data or b"", mode, args)
        else:
            fileio.atomic_write(target, data or b"", mode, args.get("owner"),
                                args.get("group"), args.get("validate"), journal=ctx.journal)
    outcome = settle(ctx, changes, apply, diff)
    outcome.data = _fields(args, src, dest, target, data, sha, data if ctx.check else None)
    if diff and data is not None:
        outcome.data["diff"] = [_diff_fields(before, data, dest, src or dest)]
    if kept and kept[0]:
        outcome.data["backup_file"] = kept[0]
    return outcome


def _diff_fields(before: Optional[bytes], after: bytes, dest: str, source: str
                 ) -> Dict[str, Any]:
    """Ansible's registered diff of a copy: the texts before and after, with headers (the
    unified text stays the step's display)."""
    old = before or b""
    if fileio.is_binary(old) or fileio.is_binary(after) or \
            max(len(old), len(after)) > fileio.DIFF_INPUT_CAP:
        return {"before_header": dest, "after_header": source, "before": "", "after": "",
                "dst_binary" if fileio.is_binary(old) else "src_binary": 1}
    return {"before_header": dest, "after_header": source,
            "before": old.decode("utf-8", "replace"), "after": after.decode("utf-8", "replace")}


def _fields(args: Mapping[str, Any], src: str, dest: str, target: str,
            data: Optional[bytes], sha: str, content: Optional[bytes] = None) -> Dict[str, Any]:
    """Ansible's fields: the file's (file_fields), and the source's md5sum, src, checksum."""
    fields = file_fields(dest, target, content)
    if src:
        fields["src"] = src
    if data is not None:
        fields.update(checksum=hashlib.sha1(data).hexdigest(), md5sum=_md5(data))
    return fields


def _md5(data: bytes) -> Optional[str]:
    try:
        return hashlib.md5(data).hexdigest()
    except ValueError:  # FIPS mode: Ansible reports none too
        return None


def _checksum_failure(args: Mapping[str, Any], data: Optional[bytes]) -> Optional[Outcome]:
    """``checksum``: the SHA-1 the source must have; Ansible's failure when it has another."""
    expected = args.get("checksum")
    if not expected or data is None:
        return None
    got = hashlib.sha1(data).hexdigest()
    if got == str(expected).lower():
        return None
    return Outcome(FAILED, "Copied file does not match the expected checksum. Transfer failed.",
                   data={"checksum": got, "expected_checksum": str(expected)})


def _replace_entry(ctx: Context, target: str, data: bytes, mode: Any,
                   args: Mapping[str, Any]) -> None:
    """Put a file where a link (or nothing) is, without following it: temp file, rename."""
    with safepath.locate(target, follow=False) as loc:
        mode_i, uid, gid = fileio._final_attrs(None, mode, args.get("owner"), args.get("group"))
        fileio.write_at(loc, data, mode_i, uid, gid, args.get("validate"), ctx.journal)


def _make_folder(ctx: Context, args: Mapping[str, Any], folder: str) -> Optional[Outcome]:
    """The folder ``folder`` and its missing parents; in check mode Ansible's early answer."""
    if safepath.kind(folder) == "directory":
        return None
    if ctx.check:
        outcome = settle(ctx, ["dest directory %s would be created" % folder], lambda: None)
        outcome.data = {"dest": folder, "src": str(args.get("src") or "")}
        return outcome
    for made in safepath.makedirs(folder):
        if ctx.journal is not None:
            ctx.journal.created(made)
        if args.get("directory_mode"):
            fileio.apply_attrs(made, args["directory_mode"])
    return None


def file_fields(dest: str, target: str, content: Optional[bytes] = None) -> Dict[str, Any]:
    """Ansible's copy/template result fields for the file now at ``target`` (in check mode,
    for the ``content`` it would get): dest, checksum (SHA-1), size, and the owner, group and
    mode it has."""
    fields: Dict[str, Any] = {"dest": dest}
    try:
        st = os.stat(target)
    except OSError:
        st = None
    if content is None and st is not None and stat.S_ISREG(st.st_mode):
        content = fileio.read_file(target)
    if content is not None:
        fields.update(checksum=hashlib.sha1(content).hexdigest(), size=len(content))
    if st is not None:
        fields.update(mode="%04o" % stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                      owner=fileio.user_name(st.st_uid), group=fileio.group_name(st.st_gid),
                      state="file")
    return fields


def args_for(dest: str, sha: str) -> Dict[str, Any]:
    """A step's args that put the blob ``sha`` at ``dest`` (`inv put`)."""
    return {"dest": dest, "content_sha": sha}


def needed_blobs(args: Mapping[str, Any]) -> List[str]:
    """Asked before a run, so that all blobs come in one round trip: this step's content
    unless its destination already holds it (for a folder: each file's)."""
    dest = args.get("dest")
    if not dest:
        return []
    manifest = args.get("manifest")
    if isinstance(manifest, dict):
        wanted = []
        for rel, meta in manifest.items():
            if isinstance(meta, dict) and meta.get("sha"):
                if _sha_or_none(os.path.join(str(dest), str(rel))) != meta["sha"]:
                    wanted.append(str(meta["sha"]))
        return wanted
    sha = args.get("content_sha")
    if not sha:
        return []
    return [] if _sha_or_none(str(dest)) == sha else [str(sha)]


def _sha_or_none(path: str) -> Optional[str]:
    try:
        return fileio.sha256_file(path)
    except (OSError, OpError):
        return None  # unreadable now; the step will say why


def _check_destination(target: str) -> None:
    if safepath.kind(target) == "directory":
        raise OpError("dest %s is a directory" % target, hint="give the full path of the file")
    folder = os.path.dirname(os.path.abspath(target))
    if safepath.kind(folder) != "directory":
        raise MissingPrerequisite("Destination directory %s does not exist" % folder,
                                  hint=fileio.MISSING_PARENT_HINT)


def _content(args: Mapping[str, Any]) -> Tuple[Optional[bytes], str]:
    """(inline bytes or None, sha256) from content or content_sha."""
    if args.get("content") is not None:
        data = str(args["content"]).encode("utf-8")
        return data, fileio.sha256_bytes(data)
    sha = args.get("content_sha")
    if not sha:
        raise OpError("copy: needs content_sha (or content)")
    return None, str(sha)


def _blob(ctx: Context, sha: str) -> bytes:
    data = ctx.blob(sha)
    if fileio.sha256_bytes(data) != sha:
        raise OpError("content blob %s does not match its digest" % sha[:12])
    return data


def _attrs(target: str, args: Mapping[str, Any], mode: Any = None) -> List[str]:
    return fileio.attr_changes(target, mode, args.get("owner"), args.get("group"))


# ---- remote_src: the source is on the host ------------------------------------------------

def _remote(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    raw = str(args.get("src") or "")
    if not raw:
        raise OpError("src (or content) is required")
    # Ansible's `path` type: ~ and $VARS expanded; relative to the remote user's home.
    src = os.path.normpath(os.path.join(login_home(),
                                        os.path.expanduser(os.path.expandvars(raw))))
    if raw.endswith("/"):
        src = src.rstrip("/") + "/"
    st = safepath.lstat(src.rstrip("/") or "/", follow=True)
    if st is None:
        raise OpError("Source %s not found" % raw)
    if stat.S_ISDIR(st.st_mode):
        root = str(args["dest"])
        if not src.endswith("/"):
            root = os.path.join(root, os.path.basename(src))
        entries = _host_entries(src.rstrip("/") or "/", args.get("local_follow") is not None
                                and flag(args, "local_follow"))
        return _tree(ctx, args, root, entries, raw, top_mode=stat.S_IMODE(st.st_mode))
    if not stat.S_ISREG(st.st_mode):
        raise OpError("Cannot copy invalid source '%s': not a file" % raw)
    data = safepath.read_bytes(src)
    if data is None:
        raise OpError("Source %s not readable" % raw)
    return _one_file(ctx, args, src, fileio.sha256_bytes(data), data,
                     src_mode=stat.S_IMODE(st.st_mode))


def _host_entries(top: str, follow: bool) -> List[Entry]:
    """Every folder, file and link under ``top`` on the host (links followed with ``follow``,
    as Ansible's local_follow; a link to a folder already walked stays a link)."""
    out: List[Entry] = []
    seen = {os.path.realpath(top)}

    def walk(folder: str, rel: str) -> None:
        for name in sorted(os.listdir(folder)):
            path, sub = os.path.join(folder, name), os.path.join(rel, name) if rel else name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(path)
                if follow and os.path.isfile(real):
                    st = os.stat(real)
                elif follow and os.path.isdir(real) and real not in seen:
                    seen.add(real)
                    out.append((sub, "dir", stat.S_IMODE(os.stat(real).st_mode)))
                    walk(real, sub)
                    continue
                else:
                    out.append((sub, "link", os.readlink(path)))
                    continue
            if stat.S_ISDIR(st.st_mode):
                out.append((sub, "dir", stat.S_IMODE(st.st_mode)))
                walk(path, sub)
            elif stat.S_ISREG(st.st_mode):
                out.append((sub, "file", (path, None, stat.S_IMODE(st.st_mode))))
    walk(top, "")
    return out


# ---- folders --------------------------------------------------------------------------------

def _shipped_entries(manifest: Any) -> List[Entry]:
    """The plan's manifest: relative path -> {sha, mode} (a file), {dir: true} or {link: T}."""
    if not isinstance(manifest, dict):
        raise OpError("copy: manifest must map relative paths to entries")
    out: List[Entry] = []
    for rel in sorted(manifest):
        meta = manifest[rel]
        if not isinstance(meta, dict) or os.path.isabs(str(rel)) or \
                ".." in str(rel).split("/"):
            raise OpError("copy: bad manifest entry %r" % rel)
        if meta.get("dir"):
            out.append((str(rel), "dir", None))
        elif meta.get("link") is not None:
            out.append((str(rel), "link", str(meta["link"])))
        else:
            mode = fileio.parse_mode(meta.get("mode") or "0644")
            out.append((str(rel), "file", (None, str(meta["sha"]), mode)))
    return out


def _tree(ctx: Context, args: Mapping[str, Any], root: str, entries: List[Entry],
          src: str, top_mode: Optional[int] = None) -> Outcome:
    """Make the folder ``root`` hold ``entries``: folders made (with directory_mode), files
    written atomically where their digest differs, links made; each step journalled."""
    remote = flag(args, "remote_src")
    owner, group = args.get("owner"), args.get("group")
    dir_mode = args.get("directory_mode")
    changes: List[str] = []
    actions: List[Callable[[], None]] = []

    def want_dir(path: str, mode: Optional[int]) -> None:
        kind = safepath.kind(path, follow=False)
        if kind == "absent":
            changes.append("folder %s created" % path)
            wanted = dir_mode if dir_mode else ("%04o" % mode if remote and mode else None)
            actions.append(lambda: _mkdir(ctx, path, wanted, owner, group))
            return
        if kind != "directory" and safepath.kind(path) != "directory":
            raise OpError("%s exists and is a %s, not a folder" % (path, kind))
        attrs = fileio.attr_changes(path, dir_mode, owner, group)
        if attrs:
            changes.append("%s: %s" % (path, ", ".join(attrs)))
            actions.append(lambda: fileio.apply_attrs(path, dir_mode, owner, group,
                                                      journal=ctx.journal))

    if safepath.kind(root) != "directory":
        want_dir(root, top_mode)
    for rel, kind, info in entries:
        path = os.path.join(root, rel)
        if kind == "dir":
            want_dir(path, info)
        elif kind == "link":
            _want_link(ctx, path, str(info), owner, group, changes, actions)
        else:
            _want_file(ctx, args, path, info, changes, actions)

    def apply() -> None:
        for act in actions:
            act()
    outcome = settle(ctx, changes, apply)
    outcome.data = {"dest": root, "src": src}
    return outcome


def _mkdir(ctx: Context, path: str, mode: Any, owner: Any, group: Any) -> None:
    for made in safepath.makedirs(path):
        if ctx.journal is not None:
            ctx.journal.created(made)
    fileio.apply_attrs(path, mode, owner, group)


def _want_file(ctx: Context, args: Mapping[str, Any], path: str, info: Any,
               changes: List[str], actions: List[Callable[[], None]]) -> None:
    host_path, sha, src_mode = info
    remote = flag(args, "remote_src")
    data: Optional[bytes] = None
    if host_path is not None:
        data = safepath.read_bytes(host_path) or b""
        sha = fileio.sha256_bytes(data)
    mode = args.get("mode")
    if mode == "preserve" or (mode is None and remote):
        mode = "%04o" % src_mode  # Ansible copies the mode of a file copied on the host
    current = safepath.lstat(path, follow=False)
    if current is not None and stat.S_ISREG(current.st_mode) and \
            fileio.sha256_file(path) == sha:
        attrs = fileio.attr_changes(path, mode, args.get("owner"), args.get("group"))
        if attrs:
            changes.append("%s: %s" % (path, ", ".join(attrs)))
            actions.append(lambda: fileio.apply_attrs(path, mode, args.get("owner"),
                                                      args.get("group"), journal=ctx.journal))
        return
    if current is not None and stat.S_ISDIR(current.st_mode):
        raise OpError("%s is a folder where the file %s goes" % (path, os.path.basename(path)))
    changes.append("%s %s" % (path, "created" if current is None else "replaced"))

    def write() -> None:
        content = data if data is not None else _blob(ctx, str(sha))
        with safepath.locate(path, follow=False) as loc:
            now = loc.lstat()
            mode_i, uid, gid = fileio._final_attrs(
                now if now is not None and stat.S_ISREG(now.st_mode) else None,
                mode, args.get("owner"), args.get("group"))
            fileio.write_at(loc, content, mode_i, uid, gid, None, ctx.journal)
    actions.append(write)


def _want_link(ctx: Context, path: str, target: str, owner: Any, group: Any,
               changes: List[str], actions: List[Callable[[], None]]) -> None:
    current = safepath.lstat(path, follow=False)
    if current is not None and stat.S_ISLNK(current.st_mode) and \
            safepath.readlink(path) == target:
        return
    if current is not None and stat.S_ISDIR(current.st_mode):
        raise OpError("%s is a folder where a link to %s goes" % (path, target))
    changes.append("link %s -> %s" % (path, target))

    def link() -> None:
        with safepath.locate(path, follow=False) as loc:
            ctx.keep(loc.path)
            safepath.symlink_at(loc, target)
        if owner is not None or group is not None:
            fileio.apply_attrs(path, None, owner, group, follow=False)
    actions.append(link)


SPEC = OpSpec(
    name='copy',
    summary='a file with exactly this content (from `files/` or inline)',
    ansible='`copy`',
    args=(
        Arg('dest', 'abspath', doc="the file on the host; an existing folder: the file goes in it under `src`'s name"),
        Arg('src', doc="a file in the role's `files/`, else in the project's `files/` (a path relative to those folders)"),
        Arg('content', 'text', doc="the file's content"),
        Arg('validate', 'checker', doc='a check of the new content before it replaces the file: `CMD %s`'),
        Arg('mode', 'octal', doc='the permissions'),
        Arg('owner', doc='the owning user'),
        Arg('group', doc='the owning group'),
        Arg('force', 'bool', doc='replace an existing file whose content differs (default `true`); `false`: only create a missing one'),
        Arg('backup', 'bool', doc='keep the old file beside it as `DEST.PID.DATE@TIME~` (result: `backup_file`)'),
        Arg('remote_src', 'bool', doc='`src` is a file or folder already on the host (`~` and `$VARS` expanded, relative to the remote user\'s home)'),
        Arg('directory_mode', 'octal', doc='the permissions of folders a folder copy makes (and of those it copies into)'),
        Arg('local_follow', 'bool', doc='copy what links inside the source folder point to rather than the links (default `true` for a project folder, `false` with `remote_src`)'),
        Arg('follow', 'bool', doc='a `dest` that is a link: `true` (the default) writes the file it points to; `false` replaces the link with the file, as Ansible does'),
        Arg('decrypt', 'bool', doc='an Ansible Vault file in `src` is copied as its plaintext, decrypted on the controller with the run\'s vault password (default `true`; `false`: byte for byte)'),
        Arg('checksum', doc="the source's SHA-1: a source with another fails the step before anything is written"),
    ),
    required=(('dest',), ('src', 'content')),
    missing=(('dest', 'dest is required'), ('src', 'src (or content) is required')),
    ships=Ships('file', source='src', inline='content', digest='content_sha', manifest='manifest',
                unless='remote_src', follow='local_follow'),
    # src then names the file or folder it came from (display only)
    internal=('content_sha', 'manifest'),
    journalled=True,
    doc="""\
Makes a file hold exactly the given content: a file from the project (`src`) or text from the
task (`content`). The content travels to the host as a blob named by its SHA-256 digest; the
host compares that digest with the digest of the file it has. Equal digests: only owner, group
and mode are checked (and set when they differ). Different: the file is replaced by an
[atomic write](#how-operations-behave), after `validate` if given, and the step is `changed`
with "file created" or "content changed". The content is sent only when the host's file
differs, so an unchanged file costs a digest, not a transfer.
""",
    notes='```yaml\n- name: deploy user\'s sudo rule\n  copy:\n    content: "deploy ALL=(ALL:ALL) NOPASSWD: ALL\\n"\n    dest: /etc/sudoers.d/deploy\n    mode: "0440"\n    validate: visudo -cf %s\n\n- name: the guestbook\'s logo\n  copy:\n    src: logo.png\n    dest: /var/www/example.org/logo.png\n    owner: www-data\n    group: www-data\n    mode: "0644"\n```\n\nNotes:\n\n* `content` is written exactly as given, as UTF-8: a YAML block (`content: |`) ends with a\n  newline, a quoted string only if it ends in `\\n`. `src` is copied byte for byte (binary\n  files too, up to 100 MiB).\n* `src` is looked up when the plan is built; a missing file is an error naming the folders\n  searched and the closest file name.\n* A folder as `src` is copied as Ansible does: `src: conf/` copies what the folder holds into\n  `dest`, `src: conf` the folder itself (as `dest/conf`). Each file travels as a blob, only\n  when the host copy differs; folders are made with `directory_mode`, `mode`, `owner` and\n  `group` apply to every file. Links in it are copied as what they point to (`local_follow:\n  false`: as links; a link looping back into the folder always stays a link).\n* `remote_src: true`: `src` is on the host. A file is copied with its mode (unless `mode` is\n  given); a folder follows the same trailing-slash rule, keeps the modes of its files and its links\n  (`local_follow: true` copies what they point to). `/dev/null` and other non-files fail.\n* `dest` ending in `/` is a folder, made when missing; an existing folder as `dest` receives\n  the file under the name of `src`. Otherwise the folder of the file must exist (create it with `file:\n  state: directory`).\n* `follow: false` replaces a link at `dest` with the file (the default in Ansible); left out, the\n  file the link points to is written, where the link may be followed at all.\n* Result fields as in Ansible: `dest`, `src`, `checksum` (SHA-1), `md5sum`, `size`, `mode`,\n  `owner`, `group`, `uid`, `gid`, `backup_file`; a folder copy reports `dest` and `src`.\n* Check mode: the digests decide; without `--diff` the content is not even sent. With\n  `--diff`: a unified diff of the old and new content.\n* A step whose content holds the value of a `no_log` variable is treated as `no_log` (no diff,\n  no message).\n* `mode: preserve` keeps the mode of the source file. `src` is looked up in `files/`; an absolute\n  path is a file or folder on the controller, as in Ansible (`{{ role_path }}/files/x`). Ansible Vault files are copied\n  decrypted (a step holding their plaintext is `no_log`); `decrypt: false` copies them as they are.\n',
)
