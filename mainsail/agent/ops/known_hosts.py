"""known_hosts: a host's SSH key in a known_hosts file (Ansible's `known_hosts`)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("known_hosts: %s" % problem[0], hint=problem[1])
    name = str(args["name"]).lower()
    path = str(args.get("path") or _default_path())
    folder = os.path.dirname(path)
    if safepath.kind(folder) == "absent":
        raise MissingPrerequisite("%s does not exist" % folder,
                                  hint="create it first with a file task (state: directory)")
    target = fileio.write_target(path)
    before = fileio.read_file(target)
    lines = (before or b"").decode("utf-8", "surrogateescape").splitlines()
    key = _key_fields(args)
    new_lines, note = edit(lines, name, key, str(args["state"]), flag(args, "hash_host"))
    if not note:
        return settle(ctx, [], lambda: None)
    new = ("\n".join(new_lines) + "\n").encode("utf-8", "surrogateescape") if new_lines else b""
    diff = fileio.unified_diff(before, new, path) if ctx.diff else ""
    return settle(ctx, [note], lambda: fileio.atomic_write(
        target, new, "0644" if before is None else None, journal=ctx.journal), diff)


def _default_path() -> str:
    return os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, ".ssh", "known_hosts")


def _key_fields(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    """(type, blob) of the key line, whose first field names the host."""
    if not args.get("key"):
        return None
    fields = str(args["key"]).split()
    if fields and fields[0].startswith("@"):
        fields = fields[1:]
    if len(fields) < 3:
        raise OpError("known_hosts: key must be 'HOST TYPE KEY'",
                      hint="e.g. the line ssh-keyscan prints")
    return fields[1], fields[2]


def host_matches(field: str, name: str) -> bool:
    """Whether a known_hosts host field (plain, comma list, or |1|salt|hash) names ``name``."""
    for entry in field.split(","):
        if entry.startswith("|1|"):
            try:
                salt, digest = (base64.b64decode(p) for p in entry[3:].split("|", 1))
            except (ValueError, TypeError):
                continue
            if hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest):
                return True
        elif entry.lower() == name:
            return True
    return False


def hashed(name: str) -> str:
    salt = os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return "|1|%s|%s" % (base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def edit(lines: List[str], name: str, key: Optional[Tuple[str, str]], state: str,
         hash_host: bool) -> Tuple[List[str], str]:
    """The lines with ``name``'s key of that type present (replacing another key of the same
    type) or, absent, with the host's lines (of that type, when a key is given) removed."""
    out: List[str] = []
    found = False
    removed = 0
    for line in lines:
        fields = line.split()
        if line.startswith("#") or len(fields) < 3 or fields[0].startswith("@") \
                or not host_matches(fields[0], name):
            out.append(line)
            continue
        same_type = key is not None and fields[1] == key[0]
        if state == "absent" and (key is None or same_type):
            removed += 1
            continue
        if state == "present" and same_type:
            if fields[2] == key[1] and not found:  # type: ignore[index]
                found = True
                out.append(line)
            else:
                removed += 1
            continue
        out.append(line)
    if state == "absent":
        return out, ("%d key(s) of %s removed" % (removed, name)) if removed else ""
    if found and not removed:
        return lines, ""
    if not found:
        assert key is not None
        out.append("%s %s %s" % (hashed(name) if hash_host else name, key[0], key[1]))
    return out, "key of %s %s" % (name, "replaced" if removed else "added")


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if args.get("state", "present") == "present" and not args.get("key"):
        return "state: present needs key", "the line ssh-keyscan prints for the host"
    if args.get("key"):
        first = str(args["key"]).split()[0] if str(args["key"]).split() else ""
        name = str(args.get("name") or "").lower()
        if first and not first.startswith(("|1|", "@")) and \
                name not in [h.lower() for h in first.split(",")]:
            return "the key's host field %r does not name %r" % (first, name), \
                "the key line starts with the host name (or [host]:port)"
    return None


SPEC = OpSpec(
    name="known_hosts",
    summary="a host's SSH key in a known_hosts file",
    ansible="`known_hosts`",
    args=(
        Arg("name", aliases=("host",), doc="the host, as ssh names it (`[host]:2222` for "
                                           "another port)"),
        Arg("key", doc="the key line: `HOST TYPE KEY` (what ssh-keyscan prints)"),
        Arg("path", "abspath", doc="the file (default: `~/.ssh/known_hosts` of the agent's "
                                   "user)"),
        Arg("state", default="present", choices=("present", "absent"),
            doc="the key is there; the host's keys are not"),
        Arg("hash_host", "bool", default=False, doc="write the host name hashed"),
    ),
    required=(("name",),),
    rule=_rule,
    journalled=True,
    doc="""\
Keeps a host's SSH key in a known_hosts file: Ansible's `known_hosts`. The host is found in
plain and hashed (`|1|...`) entries; a key of the same type with another value is replaced,
a missing one added, and `state: absent` removes the host's keys (only those of the key's type
when `key` is given). Written atomically and journalled; `changed` when the file changed.
""",
    notes="""\
```yaml
- name: the git server's key
  known_hosts:
    name: git.example.org
    key: "git.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3zF0yQkYV7Y1Q9VbQ8uE0nS3qJmB0Q8m3K1a5bC7dE"
    path: /etc/ssh/ssh_known_hosts
```
""",
)
