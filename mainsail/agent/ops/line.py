"""line: one line in a text file (Ansible lineinfile semantics).

present + regexp: the last matching line is replaced by ``line``; when nothing
matches and ``line`` is not already there, it is inserted at insertafter /
insertbefore (a regex, its last match; EOF / BOF) or at the end.
absent: every line matching regexp (or equal to ``line``) is removed.
"""
from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Pattern, Tuple

from .. import fileio
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    path = str(args["path"])
    state = args["state"]
    if args.get("insertafter") and args.get("insertbefore"):
        raise OpError("line: give insertafter or insertbefore, not both")
    target = fileio.write_target(path)
    before = fileio.read_file(target)
    if before is None:
        if state == "absent":
            return settle(ctx, [], lambda: None)
        if not flag(args, "create"):
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
                      lambda: fileio.apply_attrs(target, mode, owner, group,
                                                 journal=ctx.journal))
    diff = fileio.unified_diff(before, new, path) if ctx.diff else ""
    changes = [note if before is not None else "file created, " + note]
    return settle(ctx, changes, lambda: fileio.atomic_write(
        target, new, mode, owner, group, args.get("validate"), journal=ctx.journal), diff)


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



def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("state") == "present" and args.get("line") is None:
        return "state: present needs line", "add line: the text the file must contain"
    if args.get("state") == "absent" and args.get("line") is None and not args.get("regexp"):
        return "state: absent needs line or regexp", "add regexp: matching the lines to remove"
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
        Arg('state', default='present', choices=('present', 'absent'), doc='the line is there; matching lines are gone'),
        Arg('insertafter', doc='`EOF`, or a regex: where a new line goes'),
        Arg('insertbefore', doc='`BOF`, or a regex: where a new line goes'),
        Arg('create', 'bool', doc='create the file when it does not exist (otherwise that is an error)'),
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
    notes="```yaml\n- name: postfix listens on every interface\n  line:\n    path: /etc/postfix/main.cf\n    regexp: '^inet_interfaces\\s*='\n    line: inet_interfaces = all\n  notify: reload postfix\n\n- name: no root logins over ssh\n  lineinfile:\n    path: /etc/ssh/sshd_config\n    regexp: '^#?\\s*PermitRootLogin\\b'\n    line: PermitRootLogin no\n    insertbefore: '^Match\\b'\n    validate: /usr/sbin/sshd -t -f %s\n  notify: reload ssh\n\n- name: no relay host\n  line:\n    path: /etc/postfix/main.cf\n    regexp: '^relayhost\\s*='\n    state: absent\n  notify: reload postfix\n```\n\nNotes:\n\n* `state: present` needs `line`; `state: absent` needs `regexp` or `line`; `insertafter` and\n  `insertbefore` exclude each other. These are checked before anything runs.\n* A missing file: `state: absent` is `ok`; `state: present` fails with\n  `PATH does not exist (hint: set create: true to create it)`, or, with `create: true`, creates\n  the file holding the line (mode `0644` unless `mode` says otherwise; the folder must exist).\n* Write regular expressions in single quotes in YAML (`'^relayhost\\s*='`): in double quotes\n  YAML itself reads the backslashes.\n* Check mode: the new text is computed and compared, nothing is written; `--diff` shows the\n  unified diff.\n* Ansible differences: `backrefs`, `firstmatch`, `search_string` and `backup` are not\n  available. `insertafter: BOF` is not a position (use `insertbefore: BOF`).\n",
)
