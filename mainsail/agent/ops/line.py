"""line: one line in a text file (Ansible lineinfile semantics).

present + regexp: the last matching line is replaced by ``line``; when nothing
matches and ``line`` is not already there, it is inserted at insertafter /
insertbefore (a regex, its last match; EOF / BOF) or at the end.
absent: every line matching regexp (or equal to ``line``) is removed.
"""
from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Pattern

from .. import fileio
from ..core import Context, MissingPrerequisite, OpError, Outcome, as_bool, check_args, settle

ALLOWED = ("path", "line", "regexp", "state", "insertafter", "insertbefore", "create",
           "mode", "owner", "group", "validate")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("line", args, ALLOWED, ["path"])
    path = str(args["path"])
    state = args.get("state") or "present"
    if state not in ("present", "absent"):
        raise OpError("line: state must be present or absent, got %r" % state)
    if args.get("insertafter") and args.get("insertbefore"):
        raise OpError("line: give insertafter or insertbefore, not both")
    target = fileio.write_target(path)
    before = fileio.read_file(target)
    if before is None:
        if state == "absent":
            return settle(ctx, [], lambda: None)
        if not as_bool(args.get("create", False), "create"):
            raise MissingPrerequisite("%s does not exist" % path, hint="set create: true to create it")
    old_text = (before or b"").decode("utf-8", "surrogateescape")
    lines = old_text.splitlines(True)
    if state == "present":
        note = ensure_present(lines, args)
    else:
        note = ensure_absent(lines, args)
    new = "".join(lines).encode("utf-8", "surrogateescape")
    return _finish(ctx, path, target, args, before, new, note)


def _finish(ctx: Context, path: str, target: str, args: Mapping[str, Any],
            before: Optional[bytes], new: bytes, note: str) -> Outcome:
    mode, owner, group = args.get("mode"), args.get("owner"), args.get("group")
    if before is not None and new == before:
        return settle(ctx, fileio.attr_changes(target, mode, owner, group),
                      lambda: fileio.apply_attrs(target, mode, owner, group))
    diff = fileio.unified_diff(before, new, path) if ctx.diff else ""
    changes = [note if before is not None else "file created, " + note]
    return settle(ctx, changes, lambda: fileio.atomic_write(
        target, new, mode, owner, group, args.get("validate")), diff)


def _regex(args: Mapping[str, Any], key: str) -> Optional[Pattern[str]]:
    value = args.get(key)
    if value in (None, "") or (key != "regexp" and value in ("EOF", "BOF")):
        return None  # EOF/BOF are positions, not patterns
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise OpError("line: %s %r is not a valid regex: %s" % (key, value, exc))


def _content(line: str) -> str:
    return line.rstrip("\r\n")


def _last_match(lines: List[str], pattern: Optional[Pattern[str]]) -> Optional[int]:
    found = None
    if pattern is not None:
        for index, text in enumerate(lines):
            if pattern.search(_content(text)):
                found = index
    return found


def ensure_present(lines: List[str], args: Mapping[str, Any]) -> str:
    """Edit lines in place; return a note of what changed ('' when nothing did)."""
    if args.get("line") is None:
        raise OpError("line: state present needs line")
    wanted = str(args["line"])
    hit = _last_match(lines, _regex(args, "regexp"))
    if hit is not None:
        if _content(lines[hit]) == wanted:
            return ""
        ending = lines[hit][len(_content(lines[hit])):] or "\n"
        lines[hit] = wanted + ending
        return "line replaced"
    if any(_content(text) == wanted for text in lines):
        return ""
    at = insert_position(lines, args)
    if at == len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.insert(at, wanted + "\n")
    return "line added"


def insert_position(lines: List[str], args: Mapping[str, Any]) -> int:
    if args.get("insertbefore") == "BOF":
        return 0
    if args.get("insertbefore"):
        hit = _last_match(lines, _regex(args, "insertbefore"))
        return len(lines) if hit is None else hit
    hit = _last_match(lines, _regex(args, "insertafter"))
    return len(lines) if hit is None else hit + 1


def ensure_absent(lines: List[str], args: Mapping[str, Any]) -> str:
    pattern = _regex(args, "regexp")
    if pattern is None and args.get("line") is None:
        raise OpError("line: state absent needs regexp or line")
    wanted = None if args.get("line") is None else str(args["line"])

    def matches(text: str) -> bool:
        return bool(pattern.search(_content(text))) if pattern else _content(text) == wanted
    kept = [text for text in lines if not matches(text)]
    removed = len(lines) - len(kept)
    lines[:] = kept
    return "%d line(s) removed" % removed if removed else ""
