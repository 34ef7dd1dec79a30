"""blockinfile: a block of lines between two marker lines (Ansible's `blockinfile`)."""
from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec
from ._backup import keep_copy


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("blockinfile: %s" % problem[0], hint=problem[1])
    path = str(args["path"])
    target = fileio.write_target(path, missing_parent_ok=flag(args, "create"))
    before = fileio.read_file(target)
    if before is None:
        if args["state"] == "absent":
            return settle(ctx, [], lambda: None)
        if not flag(args, "create"):
            raise MissingPrerequisite("%s does not exist" % path,
                                      hint="set create: true to create it")
    text = (before or b"").decode("utf-8", "surrogateescape")
    lines = text.splitlines(True)  # each line keeps its own ending (CRLF stays CRLF)
    new_lines, note = edit(lines, args)
    new = "".join(new_lines).encode("utf-8", "surrogateescape")
    mode, owner, group = args.get("mode"), args.get("owner"), args.get("group")
    if before is not None and (new_lines == lines):
        return settle(ctx, fileio.attr_changes(target, mode, owner, group),
                      lambda: fileio.apply_attrs(target, mode, owner, group,
                                                 journal=ctx.journal))
    kept: List[str] = []

    def apply() -> None:
        if before is None:
            fileio.make_parents(target, ctx.journal)
        if flag(args, "backup"):
            kept.append(keep_copy(ctx, target, before))
        fileio.atomic_write(target, new, mode, owner, group, args.get("validate"),
                            journal=ctx.journal)
    diff = fileio.unified_diff(before, new, path) if ctx.diff else ""
    outcome = settle(ctx, [note if before is not None else "File created"], apply, diff)
    if kept and kept[0]:
        outcome.data["backup_file"] = kept[0]
    return outcome


def markers(args: Mapping[str, Any]) -> Tuple[str, str]:
    marker = str(args["marker"])
    return (marker.replace("{mark}", str(args["marker_begin"])),
            marker.replace("{mark}", str(args["marker_end"])))


def edit(lines: List[str], args: Mapping[str, Any]) -> Tuple[List[str], str]:
    """``lines`` (with their endings) with the block set (or removed); what happened."""
    begin, end = markers(args)
    first = last = None
    for index, line in enumerate(lines):
        if line.rstrip("\r\n") == begin:
            first = index
        if line.rstrip("\r\n") == end:
            last = index
    block = str(args.get("block") or "")
    if block and not block.endswith("\n"):
        block += "\n"
    wanted = [] if args["state"] == "absent" or not block else \
        [begin + "\n"] + block.splitlines(True) + [end + "\n"]
    out = list(lines)
    if first is None or last is None:
        if not wanted:
            return lines, ""
        at = _position(out, args)
        note = "Block inserted"  # Ansible's words, which roles and tests compare
    else:
        low, high = min(first, last), max(first, last)
        del out[low:high + 1]
        at = low
        note = "Block removed" if not wanted else "Block inserted"
    if wanted and at > 0 and not out[at - 1].endswith("\n"):
        out[at - 1] += "\n"  # a last line without its newline gets one before the block
    if wanted and flag(args, "prepend_newline") and at > 0 and out[at - 1].strip():
        wanted = ["\n"] + wanted
    if wanted and flag(args, "append_newline") and at < len(out) and out[at].strip():
        wanted = wanted + ["\n"]
    out[at:at] = wanted
    return out, note


def _position(lines: List[str], args: Mapping[str, Any]) -> int:
    before, after = args.get("insertbefore"), args.get("insertafter")
    if before == "BOF":
        return 0
    if before:
        hit = _last(lines, str(before), after=False)
        return len(lines) if hit is None else hit
    if after and after != "EOF":
        hit = _last(lines, str(after), after=True)
        return len(lines) if hit is None else hit + 1
    return len(lines)


def _last(lines: List[str], pattern: str, after: bool) -> Optional[int]:
    """The line of the last match; a pattern with the multiline flag (``(?m)``) is searched
    across lines, as in Ansible, and its first match's end (start, for insertbefore) counts."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise OpError("blockinfile: %r is not a valid regex: %s" % (pattern, exc))
    if compiled.flags & re.MULTILINE:
        text = "".join(lines)
        match = compiled.search(text)
        if match is None:
            return None
        return text.count("\n", 0, match.end() if after else match.start())
    found = None
    for index, line in enumerate(lines):
        if compiled.search(line.rstrip("\r\n")):
            found = index
    return found


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("insertafter") and args.get("insertbefore"):
        return "give only one of insertafter or insertbefore", "keep the one you mean"
    if "{mark}" not in str(args.get("marker", "{mark}")):
        return "marker must contain {mark}", "e.g. '# {mark} MAINSAIL MANAGED BLOCK'"
    if args.get("marker_begin") == args.get("marker_end") and args.get("marker_begin"):
        return "marker_begin and marker_end must differ", "e.g. BEGIN and END"
    if "\n" in str(args.get("marker") or ""):
        return "marker must be one line", "the markers are single lines"
    return None


SPEC = OpSpec(
    name="blockinfile",
    summary="a block of lines between marker lines in a text file",
    ansible="`blockinfile`",
    args=(
        Arg("path", "abspath", aliases=("dest", "destfile", "name"), doc="the file to edit"),
        Arg("block", aliases=("content",), default="",
            doc="the lines between the markers; empty removes the block"),
        Arg("state", default="present", choices=("present", "absent"),
            doc="the block is there as given; it is not"),
        Arg("marker", default="# {mark} ANSIBLE MANAGED BLOCK",
            doc="the marker lines' text, `{mark}` replaced by `marker_begin` / `marker_end`"),
        Arg("marker_begin", default="BEGIN", doc="`{mark}` in the first marker"),
        Arg("marker_end", default="END", doc="`{mark}` in the last marker"),
        Arg("insertafter", doc="`EOF` (default) or a regex: where a new block goes (after "
                               "the last matching line)"),
        Arg("insertbefore", doc="`BOF` or a regex: where a new block goes (before the last "
                                "matching line)"),
        Arg("create", "bool", default=False, doc="create the file (and its missing folders) when it does not exist"),
        Arg("backup", "bool", default=False,
            doc="keep the old file beside it as `PATH.PID.DATE@TIME~` (result: `backup_file`, as Ansible names it here)"),
        Arg("validate", "checker", doc="a check of the new file before it replaces the old "
                                       "one: `CMD %s`"),
        Arg("prepend_newline", "bool", default=False,
            doc="an empty line before a new block when the line above is not empty"),
        Arg("append_newline", "bool", default=False,
            doc="an empty line after a new block when the line below is not empty"),
        Arg("mode", "octal", doc="the permissions"),
        Arg("owner", doc="the owning user"),
        Arg("group", doc="the owning group"),
    ),
    required=(("path",),),
    rule=_rule,
    journalled=True,
    doc="""\
Keeps a block of lines between two marker lines in a text file: Ansible's `blockinfile`, with
Ansible's default markers (`# BEGIN ANSIBLE MANAGED BLOCK` ... `# END ANSIBLE MANAGED
BLOCK`), so a file Ansible managed is taken over as it is. A block found between its markers
is replaced in place; a new one goes at the end, or where `insertafter`/`insertbefore` say;
`state: absent` (or an empty `block`) removes it with its markers. Other lines are left alone.
The file is written atomically and journalled, and the step is `changed` only when the text
(or owner, group, mode) had to change.
""",
    notes="""\
```yaml
- name: the office may reach the admin pages
  blockinfile:
    path: /etc/nginx/snippets/allow.conf
    create: true
    marker: "# {mark} office addresses"
    block: |
      allow 192.0.2.0/24;
      allow 198.51.100.7;
```

Notes:

* Give a distinct `marker` to each block kept in one file: the markers are how a block is
  found again.
* Check mode computes the new text and writes nothing; `--diff` shows the unified diff.
""",
)
