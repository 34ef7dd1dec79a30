"""copy: a file's exact content (sent as a blob by digest) plus owner/group/mode.

The content travels only when the destination's digest differs from
``content_sha``; in check mode without diff it is not needed at all.
"""
from __future__ import annotations

import hashlib
import os
import stat
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec, Ships
from ._backup import keep_copy

def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    dest = str(args["dest"])
    target = fileio.write_target(dest)
    if args.get("src") and safepath.kind(target) == "directory":
        # As in Ansible: a file copied to a folder lands in it under its own name.
        dest = os.path.join(dest, os.path.basename(str(args["src"]).rstrip("/")))
        target = fileio.write_target(dest)
    _check_destination(target)
    inline, sha = _content(args)
    current_sha = fileio.sha256_file(target)
    if current_sha == sha or (current_sha is not None and args.get("force") is not None
                              and not flag(args, "force")):
        # force: false leaves an existing file's content alone, as in Ansible
        outcome = settle(ctx, _attrs(target, args), lambda: fileio.apply_attrs(
            target, args.get("mode"), args.get("owner"), args.get("group"),
            journal=ctx.journal))
        outcome.data = file_fields(dest, target)
        return outcome
    data = inline
    if data is None and (ctx.diff or not ctx.check):
        data = _blob(ctx, sha)
    changes = ["file created" if current_sha is None else "content changed"]
    diff = fileio.unified_diff(fileio.read_file(target), data, dest) \
        if ctx.diff and data is not None else ""
    kept: List[str] = []

    def apply() -> None:
        if args.get("backup") is not None and flag(args, "backup") and current_sha is not None:
            kept.append(keep_copy(ctx, target, fileio.read_file(target)))
        fileio.atomic_write(target, data or b"", args.get("mode"), args.get("owner"),
                            args.get("group"), args.get("validate"), journal=ctx.journal)
    outcome = settle(ctx, changes, apply, diff)
    outcome.data = file_fields(dest, target, data if ctx.check else None)
    if kept and kept[0]:
        outcome.data["backup_file"] = kept[0]
    return outcome


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
    unless its destination already holds it."""
    sha, dest = args.get("content_sha"), args.get("dest")
    if not sha or not dest:
        return []
    try:
        return [] if fileio.sha256_file(str(dest)) == sha else [str(sha)]
    except OSError:
        return [str(sha)]  # unreadable now; the step will say why


def _check_destination(target: str) -> None:
    if safepath.kind(target) == "directory":
        raise OpError("dest %s is a directory" % target, hint="give the full path of the file")
    folder = os.path.dirname(os.path.abspath(target))
    if safepath.kind(folder) != "directory":
        raise MissingPrerequisite("parent folder %s does not exist" % folder, hint=fileio.MISSING_PARENT_HINT)


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


def _attrs(target: str, args: Mapping[str, Any]) -> List[str]:
    return fileio.attr_changes(target, args.get("mode"), args.get("owner"), args.get("group"))


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
    ),
    required=(('dest',), ('src', 'content')),
    ships=Ships('file', source='src', inline='content', digest='content_sha'),
    internal=('content_sha',),  # src then names the file it came from (display only)
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
    notes='```yaml\n- name: deploy user\'s sudo rule\n  copy:\n    content: "deploy ALL=(ALL:ALL) NOPASSWD: ALL\\n"\n    dest: /etc/sudoers.d/deploy\n    mode: "0440"\n    validate: visudo -cf %s\n\n- name: the guestbook\'s logo\n  copy:\n    src: logo.png\n    dest: /var/www/example.org/logo.png\n    owner: www-data\n    group: www-data\n    mode: "0644"\n```\n\nNotes:\n\n* `content` is written exactly as given, as UTF-8: a YAML block (`content: |`) ends with a\n  newline, a quoted string only if it ends in `\\n`. `src` is copied byte for byte (binary\n  files too, up to 100 MiB).\n* `src` is looked up when the plan is built; a missing file is an error naming the folders\n  searched and the closest file name. It must be a file: copying a folder is refused (copy each\n  file with a `loop`, or ship a whole folder with [`release`](#release)).\n* `dest` is the file itself, never a folder to copy into; its folder must exist (create it\n  with `file: state: directory`).\n* Check mode: the digests decide; without `--diff` the content is not even sent. With\n  `--diff`: a unified diff of the old and new content.\n* A step whose content holds the value of a `no_log` variable is treated as `no_log` (no diff,\n  no message).\n* Ansible differences: `remote_src`, `directory_mode` and folder copies are not available.\n',
)
