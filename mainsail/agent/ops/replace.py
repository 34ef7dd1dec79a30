"""replace: every match of a regex in a file replaced (Ansible's `replace`)."""
from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec
from ._backup import keep_copy


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    path = str(args["path"])
    _check_replacement(_compile(str(args["regexp"]), re.MULTILINE, "regexp"),
                       str(args.get("replace") or ""))
    target = fileio.write_target(path)
    if safepath.kind(target) == "directory":  # Ansible's wording, which roles test for
        raise OpError("Path %s is a directory !" % path)
    before = fileio.read_file(target)
    if before is None:
        raise MissingPrerequisite("Path %s does not exist !" % path)
    encoding = str(args["encoding"])
    try:
        text = before.decode(encoding, "surrogateescape")
    except LookupError:
        raise OpError("replace: unknown encoding %r" % encoding)
    new_text, count = substitute(text, args)
    mode, owner, group = args.get("mode"), args.get("owner"), args.get("group")
    if count == 0 or new_text == text:
        unmatched = _section(text, args) is None
        return settle(ctx, fileio.attr_changes(target, mode, owner, group),
                      lambda: fileio.apply_attrs(target, mode, owner, group,
                                                 journal=ctx.journal),
                      ok_msg=("Pattern for before/after params did not match the given file: %s"
                              % _section_source(args)) if unmatched else "")
    new = new_text.encode(encoding, "surrogateescape")
    kept: List[str] = []

    def apply() -> None:
        if flag(args, "backup"):
            kept.append(keep_copy(ctx, target, before))
        fileio.atomic_write(target, new, mode, owner, group, args.get("validate"),
                            journal=ctx.journal)
    diff = fileio.unified_diff(before, new, path) if ctx.diff else ""
    outcome = settle(ctx, ["%d replacements made" % count], apply, diff)
    if kept and kept[0]:
        outcome.data["backup_file"] = kept[0]
    return outcome


def substitute(text: str, args: Mapping[str, Any]) -> Tuple[str, int]:
    """``text`` with the replacements made in its section (between ``after`` and
    ``before``, when given), and how many were made."""
    start, end = _section(text, args) or (0, 0)  # Ansible: no section, nothing replaced
    pattern = _compile(str(args["regexp"]), re.MULTILINE, "regexp")
    try:
        middle, count = pattern.subn(str(args.get("replace") or ""), text[start:end])
    except (re.error, IndexError) as exc:
        raise OpError("Unable to process replace due to error: %s (replace %r does not fit "
                      "regexp)" % (exc, args.get("replace")))
    return text[:start] + middle + text[end:], count


def _check_replacement(pattern: "re.Pattern[str]", replace: str) -> None:
    """Refuse a replacement that cannot be expanded (a bad escape, a group the regexp does
    not have) before anything is read, as Ansible does, whether or not anything matches."""
    names = dict((index, name) for name, index in pattern.groupindex.items())
    groups = "".join("(?P<%s>)" % names[i] if i in names else "()"
                     for i in range(1, pattern.groups + 1))
    try:
        re.compile(groups).match("").expand(replace)  # type: ignore[union-attr]
    except (re.error, IndexError) as exc:
        raise OpError("Unable to process replace due to error: %s (replace %r does not fit "
                      "regexp)" % (exc, replace))


def _section_source(args: Mapping[str, Any]) -> str:
    after, before = args.get("after"), args.get("before")
    if after and before:
        return "%s(?P<subsection>.*?)%s" % (after, before)
    if after:
        return "%s(?P<subsection>.*)" % after
    return "(?P<subsection>.*)%s" % before


def _section(text: str, args: Mapping[str, Any]) -> Optional[Tuple[int, int]]:
    """Where replacements happen: the whole text, or what lies between ``after`` and
    ``before``; None when they do not match."""
    if not args.get("after") and not args.get("before"):
        return 0, len(text)
    match = _compile(_section_source(args), re.DOTALL, "after/before").search(text)
    if not match:
        return None
    return match.start("subsection"), match.end("subsection")


def _compile(source: str, flags: int, what: str) -> "re.Pattern[str]":
    try:
        return re.compile(source, flags)
    except re.error as exc:
        raise OpError("replace: %s %r is not a valid regex: %s" % (what, source, exc))


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    for key in ("after", "before"):
        if args.get(key):
            try:
                re.compile(str(args[key]))
            except re.error as exc:
                return "%s %r is not a valid regex: %s" % (key, args[key], exc), \
                    "escape special characters with a backslash"
    return None


SPEC = OpSpec(
    name="replace",
    summary="every match of a regex in a file replaced",
    ansible="`replace`",
    args=(
        Arg("path", "abspath", aliases=("dest", "destfile", "name"), doc="the file to edit"),
        Arg("regexp", "pattern", doc="what to replace (Python regex, `^`/`$` match at each "
                                     "line)"),
        Arg("replace", default="", doc="what each match becomes; `\\1`, `\\g<name>` insert "
                                       "groups; empty deletes the matches"),
        Arg("after", doc="a regex: only text after its first match is changed"),
        Arg("before", doc="a regex: only text before its match is changed"),
        Arg("backup", "bool", default=False,
            doc="keep the old file beside it as `PATH.PID.DATE@TIME~` (result: `backup_file`, as Ansible names it here)"),
        Arg("validate", "checker", doc="a check of the new file before it replaces the old "
                                       "one: `CMD %s`"),
        Arg("encoding", default="utf-8", doc="the file's text encoding"),
        Arg("mode", "octal", doc="the permissions"),
        Arg("owner", doc="the owning user"),
        Arg("group", doc="the owning group"),
    ),
    required=(("path",), ("regexp",)),
    rule=_rule,
    journalled=True,
    doc="""\
Replaces every match of `regexp` in a file: Ansible's `replace`. The pattern is a Python
regex in multi-line mode (`^` and `$` match at each line); `after` and `before` limit the
change to the text between them. The file is written atomically (after `validate`) and
journalled; the step is `changed` with `N replacements made`, or `ok` when nothing matched.
Write the pattern so that its replacement no longer matches, or every run changes the file.
""",
    notes="""\
```yaml
- name: php listens on the socket
  replace:
    path: /etc/php/8.2/fpm/pool.d/www.conf
    regexp: '^listen = .*$'
    replace: 'listen = /run/php/php-fpm.sock'
```

Notes:

* A missing file fails the step (check mode: assumed to come from an earlier task).
* Write regexes in single quotes in YAML so that backslashes reach the regex.
""",
)
