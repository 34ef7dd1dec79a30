"""sysctl: a kernel parameter in a sysctl file, and optionally in the running kernel."""
from __future__ import annotations

import os
import re
from typing import Any, List, Mapping, Optional, Tuple

from .. import fileio, proc
from ..core import Context, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec

PROC_SYS = "/proc/sys"
_NAME = re.compile(r"^[A-Za-z0-9_.\-/*]+$")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("sysctl: %s" % problem[0], hint=problem[1])
    name = str(args["name"])
    wanted = None if args["state"] == "absent" else _normal(args["value"])
    path = str(args["sysctl_file"])
    target = fileio.write_target(path)
    before = fileio.read_file(target)
    lines = (before or b"").decode("utf-8", "surrogateescape").splitlines()
    new_lines, note = edit(lines, name, wanted)
    changes = [note] if note else []
    live = flag(args, "sysctl_set") and wanted is not None
    current = read_live(name) if live else None
    if live and current != wanted:
        changes.append("%s set to %s in the kernel (was %s)" % (name, wanted, current))
    new = ("\n".join(new_lines) + "\n").encode("utf-8", "surrogateescape") if new_lines else b""

    def apply() -> None:
        if note:
            fileio.atomic_write(target, new, None if before is not None else "0644",
                                journal=ctx.journal)
        if live and current != wanted:
            write_live(name, str(wanted))
        if note and flag(args, "reload"):
            _reload(path, flag(args, "ignoreerrors"))
    diff = fileio.unified_diff(before, new, path) if ctx.diff and note else ""
    return settle(ctx, changes, apply, diff)


def edit(lines: List[str], name: str, wanted: Optional[str]) -> Tuple[List[str], str]:
    """The file's lines with ``name`` set to ``wanted`` (None: removed); what changed."""
    found = [i for i, line in enumerate(lines) if _key(line) == name]
    if wanted is None:
        if not found:
            return lines, ""
        return [l for i, l in enumerate(lines) if i not in found], "%s removed" % name
    entry = "%s=%s" % (name, wanted)
    if found:
        last = found[-1]
        if _normal(lines[last].split("=", 1)[1]) == wanted and len(found) == 1:
            return lines, ""
        out = [l for i, l in enumerate(lines) if i not in found[:-1]]
        out[last - len(found[:-1])] = entry
        return out, "%s=%s in the file" % (name, wanted)
    return lines + [entry], "%s=%s in the file" % (name, wanted)


def _key(line: str) -> Optional[str]:
    text = line.strip()
    if not text or text[0] in "#;" or "=" not in text:
        return None
    return text.split("=", 1)[0].strip().lstrip("-")


def _normal(value: Any) -> str:
    """`1`, `" 4096   87380 "` -> the kernel's spacing: single spaces, no ends."""
    return " ".join(str(value).replace("\t", " ").split())


def read_live(name: str) -> Optional[str]:
    try:
        with open(os.path.join(PROC_SYS, name.replace(".", "/"))) as handle:
            return _normal(handle.read())
    except OSError:
        return None


def write_live(name: str, value: str) -> None:
    """Written to /proc/sys directly (what `sysctl -w` does), no process started."""
    try:
        with open(os.path.join(PROC_SYS, name.replace(".", "/")), "w") as handle:
            handle.write(value)
    except OSError as exc:
        raise OpError("sysctl: cannot set %s in the kernel: %s" % (name, exc.strerror),
                      hint="some keys are read-only in containers; sysctl_set: false "
                           "writes the file only")


def _reload(path: str, ignore: bool) -> None:
    argv = ["sysctl"] + (["-e"] if ignore else []) + (["-p", path] if path != "/etc/sysctl.conf"
                                                       else ["-p"])
    result = proc.run(argv)
    if result.rc != 0 and not ignore:
        raise OpError("sysctl: reloading %s failed (rc %d): %s"
                      % (path, result.rc, (result.stderr or result.stdout).strip()[-300:]),
                      hint="reload: false writes the file only; ignoreerrors: true ignores "
                           "unknown keys")


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    name = str(args.get("name") or "")
    if not _NAME.match(name) or ".." in name:
        return "name %r is not a kernel parameter" % name, "e.g. net.ipv4.ip_forward"
    if args.get("state", "present") == "present" and args.get("value") in (None, ""):
        return "state: present needs value", "e.g. value: 1"
    if "\n" in str(args.get("value") or ""):
        return "value must be one line", "a sysctl value is a single line"
    return None


SPEC = OpSpec(
    name="sysctl",
    summary="a kernel parameter in a sysctl file (and the running kernel)",
    ansible="`sysctl`",
    args=(
        Arg("name", aliases=("key",), doc="the parameter: `net.ipv4.ip_forward`"),
        Arg("value", aliases=("val",), doc="its value (needed with `state: present`)"),
        Arg("state", default="present", choices=("present", "absent"),
            doc="the file sets it; the file does not mention it"),
        Arg("sysctl_file", "abspath", default="/etc/sysctl.conf",
            doc="the file holding it (a file in `/etc/sysctl.d/` is usual)"),
        Arg("reload", "bool", default=True,
            doc="run `sysctl -p FILE` when the file changed"),
        Arg("sysctl_set", "bool", default=False,
            doc="also set it in the running kernel (through `/proc/sys`) when it differs"),
        Arg("ignoreerrors", "bool", default=False, doc="ignore unknown keys on reload"),
    ),
    required=(("name",),),
    rule=_rule,
    journalled=True,
    doc="""\
Keeps a kernel parameter in a sysctl file: Ansible's `sysctl`. The file gets one
`name=value` line (a duplicate is removed, other lines are left alone) and, when it changed and
`reload` is on, `sysctl -p FILE` applies it. With `sysctl_set: true` the running kernel's value
is compared too, and written through `/proc/sys` when it differs. Values are compared with
white space normalised (`4096 87380 6291456`). The file is written atomically and journalled;
the running kernel's value is not undone by a rollback.
""",
    notes="""\
```yaml
- name: forward IPv4 packets
  sysctl:
    name: net.ipv4.ip_forward
    value: "1"
    sysctl_file: /etc/sysctl.d/60-forward.conf
    sysctl_set: true
```

Notes:

* In a container most of `/proc/sys` is read-only: use `reload: false` there, and the setting
  takes effect at the next boot of a real machine.
""",
)
