"""line: one line in a text file (Ansible lineinfile semantics).

present + regexp: the last matching line is replaced by ``line``; when nothing
matches and ``line`` is not already there, it is inserted at insertafter /
insertbefore (a regex, its last match; EOF / BOF) or at the end.
absent: every line matching regexp (or equal to ``line``) is removed.
"""
from __future__ import annotations

import re
from typing import Any, Callable, List, Mapping, Optional, Pattern, Tuple

from .. import fileio
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec
from ._backup import keep_copy


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    path = str(args["path"])
    state = args["state"]
    problem = _rule(args)
    if problem:
        raise OpError("line: %s" % problem[0], hint=problem[1])
    # a missing folder is a missing file to Ansible (absent: ok; present: its message)
    target = fileio.write_target(path, missing_parent_ok=True)
    before = fileio.read_file(target)
    if before is None:
        if state == "absent":
            return settle(ctx, [], lambda: None)
        if not flag(args, "create"):
            raise MissingPrerequisite("Destination %s does not exist !" % path, hint="set create: true to create it")
    old_text = (before or b"").decode("utf-8", "surrogateescape")
    lines = old_text.splitlines(True)
    found = None
    if state == "present":
        note = ensure_present(lines, args)
    else:
        found = len(lines)
        note = ensure_absent(lines, args)
        found -= len(lines)
    new = "".join(lines).encode("utf-8", "surrogateescape")
    outcome = _finish(ctx, path, target, args, before, new, note)
    if found is not None:
        outcome.data["found"] = found
    warnings = _warnings(args)
    if warnings:
        outcome.data["warnings"] = warnings
    return outcome


def _finish(ctx: Context, path: str, target: str, args: Mapping[str, Any],
            before: Optional[bytes], new: bytes, note: str) -> Outcome:
    mode, owner, group = args.get("mode"), args.get("owner"), args.get("group")
    if before is not None and new == before:
        return settle(ctx, fileio.attr_changes(target, mode, owner, group),
                      lambda: fileio.apply_attrs(target, mode, owner, group,
                                                 journal=ctx.journal))
    diff = fileio.unified_diff(before, new, path) if ctx.diff else ""
    changes = [note]  # Ansible's message, also for a file created: roles compare it
    kept: List[str] = []

    def apply() -> None:
        if before is None:
            fileio.make_parents(target, ctx.journal)
        if flag(args, "backup"):
            kept.append(keep_copy(ctx, target, before))
        fileio.atomic_write(target, new, mode, owner, group, args.get("validate"),
                            journal=ctx.journal)
    outcome = settle(ctx, changes, apply, diff)
    if kept and kept[0]:
        outcome.data["backup"] = kept[0]
    return outcome


def _regex(args: Mapping[str, Any], key: str) -> Optional[Pattern[str]]:
    value = args.get(key)
    if key == "regexp" and value == "":
        return re.compile("")  # matches every line, as in Ansible (which warns: EMPTY_WARNING)
    if value in (None, "") or (key != "regexp" and value in ("EOF", "BOF")):
        return None  # EOF/BOF are positions, not patterns
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise OpError("line: %s %r is not a valid regex: %s" % (key, value, exc))


def _content(line: str) -> str:
    return line.rstrip("\r\n")


def _last_match(lines: List[str], pattern: Optional[Pattern[str]],
                first: bool = False) -> Optional[int]:
    """The index of the last (with ``first``: the first) line ``pattern`` finds."""
    found = None
    if pattern is not None:
        for index, text in enumerate(lines):
            if pattern.search(_content(text)):
                found = index
                if first:
                    break
    return found


def _matcher(args: Mapping[str, Any]) -> Optional[Pattern[str]]:
    """What picks the line to replace or remove: ``regexp``, or ``search_string`` taken
    literally."""
    if args.get("search_string") is not None:
        return re.compile(re.escape(str(args["search_string"])))
    return _regex(args, "regexp")


# Ansible's warnings for an empty regexp / search_string (roles and tests look for them)
EMPTY_WARNING = ("The %s is an empty string, which will match every line in the file. This "
                 "may have unintended consequences, such as replacing the last line in the "
                 "file rather than appending. If this is desired, use '^' to match every line "
                 "in the file and avoid this warning.")


def _warnings(args: Mapping[str, Any]) -> List[str]:
    if args.get("search_string") == "":
        return [(EMPTY_WARNING % "search string").split(" If this")[0]]
    if args.get("regexp") == "":
        return [EMPTY_WARNING % "regular expression"]
    return []


def ensure_present(lines: List[str], args: Mapping[str, Any]) -> str:
    """Edit lines in place; return a note of what changed ('' when nothing did)."""
    if args.get("line") is None:
        raise OpError("line: state present needs line")
    wanted = str(args["line"])
    first = flag(args, "firstmatch")
    pattern = _matcher(args)
    hit = _last_match(lines, pattern, first)
    if hit is not None:
        if flag(args, "backrefs"):
            match = pattern.search(_content(lines[hit])) if pattern else None
            wanted = match.expand(wanted) if match else wanted
        if _content(lines[hit]) == wanted:
            return ""
        ending = lines[hit][len(_content(lines[hit])):] or "\n"
        lines[hit] = wanted + ending
        return "line replaced"
    if flag(args, "backrefs"):
        return ""  # Ansible: with backrefs, no match means the file stays as it is
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
    first = flag(args, "firstmatch")
    if args.get("insertbefore"):
        hit = _last_match(lines, _regex(args, "insertbefore"), first)
        return len(lines) if hit is None else hit
    hit = _last_match(lines, _regex(args, "insertafter"), first)
    return len(lines) if hit is None else hit + 1


def ensure_absent(lines: List[str], args: Mapping[str, Any]) -> str:
    pattern = _matcher(args)
    if pattern is None and args.get("line") is None:
        raise OpError("line: state absent needs regexp, search_string or line")
    wanted = None if args.get("line") is None else str(args["line"])

    def matches(text: str) -> bool:
        return bool(pattern.search(_content(text))) if pattern else _content(text) == wanted
    kept = [text for text in lines if not matches(text)]
    removed = len(lines) - len(kept)
    lines[:] = kept
    return "%d line(s) removed" % removed if removed else ""



def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("state") == "present" and args.get("line") is None:
        return "state: present needs line", "add line: the text the file must contain"
    if args.get("state") == "absent" and args.get("line") is None and not args.get("regexp") \
            and not args.get("search_string"):
        return "state: absent needs line, regexp or search_string", \
            "add regexp: matching the lines to remove"
    if args.get("regexp") and args.get("search_string"):
        return "give only one of regexp or search_string", "search_string is taken literally"
    if args.get("backrefs") in (True, "true", "yes") and not args.get("regexp"):
        return "backrefs needs regexp", "backrefs puts regexp's groups into line"
    if args.get("insertafter") and args.get("insertbefore"):
        return "give only one of insertafter or insertbefore", "keep the one you mean"
    if args.get("insertafter") == "BOF":
        return "insertafter: BOF is not a place", "insertbefore: BOF puts the line first"
    return None


SPEC = OpSpec(
    name='line',
    summary='one line present in, or absent from, a text file',
    ansible='`lineinfile`',
    args=(
        Arg('path', 'abspath', aliases=('dest', 'destfile', 'name'), doc='the file to edit'),
        Arg('line', aliases=('value',), doc='the line the file must contain (needed with `state: present`)'),
        Arg('regexp', 'pattern', aliases=('regex',), doc='the line to replace (present), or the lines to remove (absent)'),
        Arg('search_string', doc='like `regexp`, but a literal text a line must contain'),
        Arg('backrefs', 'bool', default=False, doc='`line` may use `regexp`\'s groups (`\\1`, `\\g<name>`); when `regexp` matches nothing, the file is left as it is'),
        Arg('firstmatch', 'bool', default=False, doc='the first matching line counts (for `regexp`, `insertafter` and `insertbefore`), not the last'),
        Arg('backup', 'bool', default=False, doc='keep the old file beside it as `PATH.PID.DATE@TIME~` (its name is the result\'s `backup`)'),
        Arg('state', default='present', choices=('present', 'absent'), doc='the line is there; matching lines are gone'),
        Arg('insertafter', doc='`EOF`, or a regex: where a new line goes'),
        Arg('insertbefore', doc='`BOF`, or a regex: where a new line goes'),
        Arg('create', 'bool', doc='create the file (and its missing folders) when it does not exist (otherwise that is an error)'),
        Arg('validate', 'checker', doc='a check of the new file before it replaces the old one: `CMD %s`'),
        Arg('mode', 'octal', doc='the permissions'),
        Arg('owner', doc='the owning user'),
        Arg('group', doc='the owning group'),
    ),
    required=(('path',),),
    rule=_rule,
    journalled=True,
    aliases=('lineinfile',),
    doc="""\
Makes sure one line is in a text file, or that lines are not: Ansible's `lineinfile`, and
`lineinfile:` (or `ansible.builtin.lineinfile:`) is accepted as the operation's name. The file
is read, changed in memory and, when the text differs, written back atomically (after
`validate`); otherwise only owner, group and mode are checked. Lines are compared without their
line endings, and regular expressions are searched anywhere in a line (anchor them with `^`).

With `state: present`:

1. when `regexp` matches, the **last** matching line is replaced by `line` (keeping that line's
   ending); if it already equals `line`, nothing changes;
2. otherwise, if a line equal to `line` is anywhere in the file, nothing changes;
3. otherwise `line` is inserted: after the last line matching `insertafter`, before the last
   line matching `insertbefore`, at the top with `insertbefore: BOF`, and at the end with
   `insertafter: EOF`, when neither is given, or when their pattern matches no line.

With `state: absent`, every line matching `regexp` is removed, or, without `regexp`, every line
equal to `line`. The message says `line replaced`, `line added` or `N line(s) removed`.
""",
    notes="```yaml\n- name: postfix listens on every interface\n  line:\n    path: /etc/postfix/main.cf\n    regexp: '^inet_interfaces\\s*='\n    line: inet_interfaces = all\n  notify: reload postfix\n\n- name: no root logins over ssh\n  lineinfile:\n    path: /etc/ssh/sshd_config\n    regexp: '^#?\\s*PermitRootLogin\\b'\n    line: PermitRootLogin no\n    insertbefore: '^Match\\b'\n    validate: /usr/sbin/sshd -t -f %s\n  notify: reload ssh\n\n- name: no relay host\n  line:\n    path: /etc/postfix/main.cf\n    regexp: '^relayhost\\s*='\n    state: absent\n  notify: reload postfix\n```\n\nNotes:\n\n* `state: present` needs `line`; `state: absent` needs `regexp` or `line`; `insertafter` and\n  `insertbefore` exclude each other. These are checked before anything runs.\n* A missing file: `state: absent` is `ok`; `state: present` fails with\n  `Destination PATH does not exist ! (hint: set create: true to create it)`, or, with `create: true`, creates\n  the file holding the line (mode `0644` unless `mode` says otherwise; the folder must exist).\n* Write regular expressions in single quotes in YAML (`'^relayhost\\s*='`): in double quotes\n  YAML itself reads the backslashes.\n* Check mode: the new text is computed and compared, nothing is written; `--diff` shows the\n  unified diff.\n* The result has Ansible's `backup` (the copy's path, with `backup: true`) and, for\n  `state: absent`, `found` (how many lines were removed).\n* Ansible differences: `insertafter: BOF` is not a position (use `insertbefore: BOF`).\n",
)
