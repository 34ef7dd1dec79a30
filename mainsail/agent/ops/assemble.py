"""assemble: one file made of the fragments in a folder on the host (Ansible's `assemble`)."""
from __future__ import annotations

import os
import re
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec
from ._backup import keep_copy


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("assemble: %s" % problem[0], hint=problem[1])
    src, dest = str(args["src"]), str(args["dest"])
    if safepath.kind(src) != "directory":
        raise MissingPrerequisite("assemble: %s is not a folder" % src,
                                  hint="src is a folder of fragments on the host")
    new = assembled(src, args)
    target = fileio.write_target(dest)
    before = fileio.read_file(target)
    mode, owner, group = args.get("mode"), args.get("owner"), args.get("group")
    if before == new:
        outcome = settle(ctx, fileio.attr_changes(target, mode, owner, group),
                         lambda: fileio.apply_attrs(target, mode, owner, group,
                                                    journal=ctx.journal))
        return outcome
    kept: List[str] = []

    def apply() -> None:
        if flag(args, "backup"):
            kept.append(keep_copy(ctx, target, before))
        fileio.atomic_write(target, new, mode, owner, group, args.get("validate"),
                            journal=ctx.journal)
    diff = fileio.unified_diff(before, new, dest) if ctx.diff else ""
    outcome = settle(ctx, ["file created" if before is None else "content changed"], apply,
                     diff)
    if kept and kept[0]:
        outcome.data["backup_file"] = kept[0]
    return outcome


def assembled(src: str, args: Mapping[str, Any]) -> bytes:
    """The fragments' content in name order, with ``delimiter`` between them."""
    pattern = re.compile(str(args["regexp"])) if args.get("regexp") else None
    delimiter = args.get("delimiter")
    parts: List[bytes] = []
    for name in sorted(safepath.listdir(src)):
        if flag(args, "ignore_hidden") and name.startswith("."):
            continue
        if pattern is not None and not pattern.search(name):
            continue
        path = os.path.join(src, name)
        if safepath.kind(path, follow=False) != "file":
            continue
        data = safepath.read_bytes(path) or b""
        if delimiter is not None and parts:
            text = str(delimiter).encode("utf-8").decode("unicode_escape").encode("utf-8")
            if not parts[-1].endswith(b"\n"):
                parts.append(b"\n")
            parts.append(text if text.endswith(b"\n") else text + b"\n")
        parts.append(data)
    return b"".join(parts)


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("remote_src") in (False, "false", "no"):
        return "remote_src: false (fragments from the project) is not supported", \
            "copy the fragments to the host first, then assemble them there"
    if args.get("regexp"):
        try:
            re.compile(str(args["regexp"]))
        except re.error as exc:
            return "regexp %r is not a valid regex: %s" % (args["regexp"], exc), \
                "e.g. '\\.conf$'"
    return None


SPEC = OpSpec(
    name="assemble",
    summary="one file made of the fragments in a folder on the host",
    ansible="`assemble`",
    args=(
        Arg("src", "abspath", doc="the folder of fragments on the host"),
        Arg("dest", "abspath", doc="the file to write"),
        Arg("delimiter", doc="a line put between fragments"),
        Arg("regexp", "pattern", doc="only fragments whose name matches"),
        Arg("ignore_hidden", "bool", default=False, doc="leave out names starting with `.`"),
        Arg("remote_src", "bool", default=True,
            doc="the fragments are on the host (`false` is refused)"),
        Arg("backup", "bool", default=False,
            doc="keep the old file beside it as `DEST.PID.DATE@TIME~`"),
        Arg("validate", "checker", doc="a check of the new file before it replaces the old "
                                       "one: `CMD %s`"),
        Arg("mode", "octal", doc="the permissions"),
        Arg("owner", doc="the owning user"),
        Arg("group", doc="the owning group"),
    ),
    required=(("src",), ("dest",)),
    rule=_rule,
    journalled=True,
    doc="""\
Concatenates the regular files of a folder on the host, in name order, into one file:
Ansible's `assemble`. The result is written atomically (after `validate`) and journalled when
it differs from the file there; the step is then `changed`. Links and sub-folders among the
fragments are left out.
""",
    notes="""\
```yaml
- name: the firewall rules from their fragments
  assemble:
    src: /etc/nftables.d
    dest: /etc/nftables.conf
    regexp: '\\.nft$'
    validate: nft -c -f %s
```
""",
)
