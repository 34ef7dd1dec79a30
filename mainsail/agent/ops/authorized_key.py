"""authorized_key: SSH public keys in a user's authorized_keys (Ansible's `authorized_key`).

The file and its folder belong to the user, who could have put a link there pointing at a
file of root's: every path is walked with safepath, which refuses links (and hard links) in
folders another user controls, so the agent never writes through them.
"""
from __future__ import annotations

import os
import pwd
import re
import shlex
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec

_KEY_TYPE = re.compile(r"^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com)$")


class Key:
    """One authorized_keys line: options, type, blob, comment."""

    def __init__(self, options: str, kind: str, blob: str, comment: str) -> None:
        self.options, self.kind, self.blob, self.comment = options, kind, blob, comment

    def line(self) -> str:
        parts = [self.options] if self.options else []
        parts += [self.kind, self.blob] + ([self.comment] if self.comment else [])
        return " ".join(parts)


def parse(line: str) -> Optional[Key]:
    """A key line (options first when present), None for comments and blank lines."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    try:
        words = shlex.split(text, posix=False)
    except ValueError:
        words = text.split()
    for index, word in enumerate(words):
        if _KEY_TYPE.match(word) and index + 1 < len(words):
            return Key(" ".join(words[:index]), word, words[index + 1],
                       " ".join(words[index + 2:]))
    return None


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("authorized_key: %s" % problem[0], hint=problem[1])
    try:
        account = pwd.getpwnam(str(args["user"]))
    except KeyError:
        raise MissingPrerequisite("no user %r on this host" % args["user"],
                                  hint="create it first with a user task")
    path = str(args.get("path") or os.path.join(account.pw_dir, ".ssh", "authorized_keys"))
    wanted = _wanted_keys(args)
    folder = os.path.dirname(path)
    folder_missing = safepath.kind(folder) == "absent"
    if folder_missing and not flag(args, "manage_dir"):
        raise MissingPrerequisite("%s does not exist" % folder,
                                  hint="manage_dir: true creates it")
    target = path if folder_missing else fileio.write_target(path)
    before = None if folder_missing else fileio.read_file(target)
    lines = (before or b"").decode("utf-8", "surrogateescape").splitlines()
    new_lines, notes = edit(lines, wanted, str(args["state"]), flag(args, "exclusive"))
    new = ("\n".join(new_lines) + "\n").encode("utf-8", "surrogateescape") if new_lines else b""
    changes = list(notes)
    if folder_missing:
        changes.insert(0, "%s created" % folder)

    def apply() -> None:
        if folder_missing:
            ctx.keep(folder)
            made = safepath.makedirs(folder, 0o700)
            for made_folder in made:
                fileio.apply_attrs(made_folder, None, account.pw_uid, account.pw_gid)
        fileio.atomic_write(target, new, "0600" if before is None else None,
                            account.pw_uid if before is None else None,
                            account.pw_gid if before is None else None, journal=ctx.journal)
    if before is None and not new_lines:
        outcome = settle(ctx, [], lambda: None)
    else:
        diff = fileio.unified_diff(before, new, path) if ctx.diff and notes else ""
        outcome = settle(ctx, changes if notes or folder_missing else [], apply, diff)
    outcome.data = {"key": str(args["key"]), "key_options": args.get("key_options"),
                    "keyfile": path, "user": account.pw_name, "state": args["state"],
                    "exclusive": flag(args, "exclusive"), "manage_dir": flag(args, "manage_dir")}
    return outcome


def _wanted_keys(args: Mapping[str, Any]) -> List[Key]:
    keys = []
    for line in str(args["key"]).splitlines():
        key = parse(line)
        if key is None:
            if line.strip() and not line.strip().startswith("#"):
                raise OpError("authorized_key: %r is not an SSH public key" % line.strip()[:60],
                              hint="e.g. ssh-ed25519 AAAA... user@host")
            continue
        if args.get("key_options"):
            key.options = str(args["key_options"])
        if args.get("comment") is not None:
            key.comment = str(args["comment"])
        keys.append(key)
    if not keys:
        raise OpError("authorized_key: key holds no SSH public key",
                      hint="e.g. ssh-ed25519 AAAA... user@host")
    return keys


def edit(lines: List[str], wanted: List[Key], state: str, exclusive: bool
         ) -> Tuple[List[str], List[str]]:
    """The file's lines with the keys present (replacing a line of the same key) or absent;
    with ``exclusive``, every other key line removed."""
    blobs = dict((k.blob, k) for k in wanted)
    out: List[str] = []
    notes: List[str] = []
    seen = set()
    for line in lines:
        key = parse(line)
        if key is None or (key.blob not in blobs and not exclusive):
            out.append(line)
            continue
        if key.blob not in blobs:  # exclusive: another key goes
            notes.append("key %s removed" % _short(key))
            continue
        if state == "absent":
            notes.append("key %s removed" % _short(key))
            continue
        if key.blob in seen:
            notes.append("duplicate key %s removed" % _short(key))
            continue
        seen.add(key.blob)
        line_wanted = blobs[key.blob].line()
        if line != line_wanted:
            notes.append("key %s updated" % _short(key))
        out.append(line_wanted)
    if state == "present":
        for key in wanted:
            if key.blob not in seen:
                out.append(key.line())
                seen.add(key.blob)
                notes.append("key %s added" % _short(key))
    return out, notes


def _short(key: Key) -> str:
    return key.comment or key.blob[-12:]


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    key = str(args.get("key") or "")
    if key.startswith(("http://", "https://")):
        return "keys from a URL are not supported", \
            "put the key in the task, or read it with lookup('file', ...)"
    if args.get("exclusive") in (True, "true", "yes") and args.get("state") == "absent":
        return "exclusive goes with state: present", "drop exclusive"
    return None


SPEC = OpSpec(
    name="authorized_key",
    summary="SSH public keys in a user's authorized_keys",
    ansible="`authorized_key`",
    args=(
        Arg("user", doc="whose file: `~USER/.ssh/authorized_keys` unless `path` says"),
        Arg("key", doc="one public key line, or several, one per line"),
        Arg("state", default="present", choices=("present", "absent"),
            doc="the keys are in the file; they are not"),
        Arg("path", "abspath", doc="another authorized_keys file"),
        Arg("manage_dir", "bool", default=True,
            doc="create the `.ssh` folder (mode `0700`, owned by the user) when missing"),
        Arg("exclusive", "bool", default=False, doc="remove every other key from the file"),
        Arg("key_options", doc="options put before each key: `from=\"10.0.0.0/8\",no-pty`"),
        Arg("comment", doc="the comment after each key, instead of the key's own"),
        Arg("follow", "bool", default=False,
            doc="accepted for Ansible's tasks; links are followed only where safe"),
        Arg("validate_certs", "bool", default=True, doc="accepted and ignored (no URLs)"),
    ),
    required=(("user",), ("key",)),
    rule=_rule,
    journalled=True,
    doc="""\
Keeps SSH public keys in a user's `authorized_keys`: Ansible's `authorized_key`. A key is
known by its blob: a line holding the same key with other options or comment is rewritten,
a missing key is added at the end, and with `state: absent` the key's lines are removed;
`exclusive: true` also removes every other key. The folder (`0700`) and file (`0600`) are
created owned by the user. The user owns them, so any link there is refused rather than
followed. Written atomically and journalled; `changed` when the file had to change.
""",
    notes="""\
```yaml
- name: the deploy key
  authorized_key:
    user: deploy
    key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBdN0oNqXzGwW4M6rj9k2Yq2Fq0c4GVcQ0FjN9gkzv0J ci@build"
    key_options: 'from="192.0.2.0/24"'
```

Notes:

* A key given as a URL (`https://github.com/NAME.keys`) is refused: the host does not
  download keys.
""",
)
