"""mount: a filesystem's line in /etc/fstab, and whether it is mounted now."""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import fileio, proc, safepath
from ..core import Context, OpError, Outcome, accept, flag, operand, settle
from ..spec import Arg, OpSpec

MOUNTINFO = "/proc/self/mountinfo"


def escape(field: str) -> str:
    """fstab's escapes: space, tab, newline and backslash as octal."""
    return "".join("\\%03o" % ord(c) if c in " \t\n\\" else c for c in field)


def unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounted_paths(mountinfo: Optional[str] = None) -> Dict[str, Tuple[str, str, str]]:
    """mount point -> (source, fstype, options) from the kernel's view of this namespace."""
    out: Dict[str, Tuple[str, str, str]] = {}
    try:
        with open(mountinfo or MOUNTINFO, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 6 and len(tail) >= 2:
            out[unescape(fields[4])] = (unescape(tail[1]), tail[0], fields[5])
    return out


def entry_line(args: Mapping[str, Any]) -> str:
    opts = str(args.get("opts") or "defaults")
    if args.get("boot") is False and "noauto" not in opts.split(","):
        opts = "noauto" if opts == "defaults" else opts + ",noauto"
    return "\t".join([escape(str(args["src"])), escape(str(args["path"])), str(args["fstype"]),
                      opts, str(args.get("dump") or 0), str(args.get("passno") or 0)])


def edit_fstab(lines: List[str], path: str, new: Optional[str]) -> List[str]:
    """The fstab's lines with ``path``'s entry replaced by ``new`` (removed when None): the
    first entry for the path is the one replaced, later duplicates dropped, others kept."""
    out: List[str] = []
    placed = False
    for line in lines:
        fields = line.split()
        if fields and not fields[0].startswith("#") and len(fields) >= 2 and \
                unescape(fields[1]) == path:
            if new is not None and not placed:
                out.append(new)
            placed = True
            continue
        out.append(line)
    if new is not None and not placed:
        out.append(new)
    return out


def same_entry(a: str, b: str) -> bool:
    return a.split() == b.split()


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("mount: %s" % problem[0], hint=problem[1])
    path = os.path.normpath(str(args["path"]))
    state = args["state"]
    fstab = str(args["fstab"])
    before = fileio.read_file(fstab)
    lines = (before or b"").decode("utf-8", "replace").splitlines()
    is_mounted = path in mounted_paths()
    changes: List[str] = []
    actions: List[Any] = []
    new_lines = lines
    if state in ("present", "mounted"):
        wanted = entry_line(dict(args, path=path))
        current = [l for l in lines if len(l.split()) >= 2 and not l.lstrip().startswith("#")
                   and unescape(l.split()[1]) == path]
        if len(current) != 1 or not same_entry(current[0], wanted):
            new_lines = edit_fstab(lines, path, wanted)
            changes.append("%s: %s" % (fstab, wanted.replace("\t", " ")))
    elif state == "absent":
        new_lines = edit_fstab(lines, path, None)
        if new_lines != lines:
            changes.append("%s: entry for %s removed" % (fstab, path))
    fstab_changed = new_lines != lines
    if fstab_changed:
        data = ("\n".join(new_lines) + "\n").encode()
        actions.append(lambda: fileio.atomic_write(fileio.write_target(fstab), data,
                                                   "0644" if before is None else None,
                                                   journal=ctx.journal))
    if state == "mounted":
        if not is_mounted:
            if safepath.lstat(path) is None:
                changes.append("mount point %s made" % path)
                actions.append(lambda: _make_point(ctx, path))
            changes.append("%s mounted" % path)
            actions.append(lambda: _tool(["mount", "--", path] if fstab == "/etc/fstab" else
                                         ["mount", "-T", fstab, "--", path]))
        elif fstab_changed:
            changes.append("%s remounted" % path)
            actions.append(lambda: _tool(["mount", "-o", "remount", "--", path]))
    elif state == "ephemeral":
        if not is_mounted:
            changes.append("%s mounted (not in fstab)" % path)
            actions.append(lambda: _tool(["mount", "-t", str(args["fstype"]), "-o",
                                          str(args.get("opts") or "defaults"), "--",
                                          operand("mount", "source", args["src"]), path]))
    elif state == "remounted":
        if not is_mounted:
            raise OpError("mount: %s is not mounted: nothing to remount" % path,
                          hint="state: mounted mounts it")
        changes.append("%s remounted" % path)
        opts = ["-o", "remount," + str(args["opts"])] if args.get("opts") else ["-o", "remount"]
        actions.append(lambda: _tool(["mount"] + opts + ["--", path]))
    elif state in ("unmounted", "absent") and is_mounted:
        changes.append("%s unmounted" % path)
        actions.append(lambda: _tool(["umount", "--", path]))
    if state == "absent" and safepath.kind(path, follow=False) == "directory":
        try:
            empty = not os.listdir(path)
        except OSError:
            empty = False
        if empty:  # Ansible removes the mount point too; only an empty folder, never contents
            changes.append("mount point %s removed" % path)
            actions.append(lambda: _remove_point(ctx, path))
    diff = ""
    if ctx.diff and fstab_changed:
        diff = fileio.unified_diff(before, ("\n".join(new_lines) + "\n").encode(), fstab)

    def apply() -> None:
        for action in actions:
            action()
    outcome = settle(ctx, changes, apply, diff)
    outcome.data = {"name": path, "src": args.get("src"), "fstype": args.get("fstype"),
                    "opts": args.get("opts") or "defaults", "fstab": fstab,
                    "dump": args.get("dump") or 0, "passno": args.get("passno") or 0}
    return outcome


def _make_point(ctx: Context, path: str) -> None:
    # Not journalled: a rollback could not remove it while the step's mount sits on it
    # (EBUSY), and the mount itself is not undone either; the empty folder stays.
    safepath.makedirs(path, 0o755)


def _remove_point(ctx: Context, path: str) -> None:
    ctx.keep(path)
    try:
        os.rmdir(path)
    except OSError:
        pass  # something appeared in it, or it is busy: leave it


def _tool(argv: List[str]) -> None:
    result = proc.run(argv)
    if result.rc != 0:
        raise result.failure(" ".join(argv[:1] + argv[-1:]),
                             hint="a container may not be allowed to mount this filesystem"
                             if "permission" in result.stderr.lower() else "")


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    state = args.get("state")
    path = str(args.get("path") or "")
    if not path.startswith("/"):
        return "path must be absolute, got %r" % path, "path: /mnt/data"
    if state in ("present", "mounted", "ephemeral"):
        missing = [n for n in ("src", "fstype") if not args.get(n)]
        if missing:
            return "state: %s needs %s" % (state, " and ".join(missing)), \
                "src: /dev/vdb1 (or a label, a UUID=..., tmpfs), fstype: ext4"
    if str(args.get("fstype") or "").startswith("-"):
        return "fstype %r starts with '-'" % args["fstype"], "fstype: ext4, xfs, tmpfs, ..."
    if state == "ephemeral" and args.get("boot") is False:
        return "boot has no meaning with state: ephemeral (nothing is written to fstab)", ""
    for name in ("opts", "fstype"):
        if any(c in str(args.get(name) or "") for c in " \t\n"):
            return "%s must not contain spaces" % name, "options are comma-separated"
    return None


SPEC = OpSpec(
    name="mount",
    summary="a filesystem's entry in /etc/fstab, and whether it is mounted",
    ansible="`mount` (ansible.posix)",
    args=(
        Arg("path", aliases=("name",), doc="the mount point"),
        Arg("src", doc="what is mounted: a device, `UUID=...`, `LABEL=...`, `tmpfs`, host:/export"),
        Arg("fstype", doc="the filesystem type (`ext4`, `xfs`, `tmpfs`, `nfs`)"),
        Arg("opts", doc="mount options, comma-separated (default `defaults`)"),
        Arg("dump", "int", doc="fstab's fifth field"),
        Arg("passno", "int", doc="fstab's sixth field"),
        Arg("state", default="mounted",
            choices=("mounted", "present", "unmounted", "absent", "remounted", "ephemeral"),
            doc="mounted: in fstab and mounted now (the mount point made when missing); "
                "present: in fstab only; unmounted: not mounted now, fstab untouched; "
                "absent: neither, and an empty mount point removed; remounted: remount now; "
                "ephemeral: mounted now, never written to fstab"),
        Arg("fstab", "abspath", default="/etc/fstab", doc="the fstab file to keep the entry in"),
        Arg("boot", "bool", doc="false adds `noauto`: not mounted at boot"),
        Arg("backup", "bool", doc="accepted for Ansible's tasks: the journal keeps the old "
                                  "fstab until the run commits"),
    ),
    required=(("path",),),
    rule=_rule,
    journalled=True,
    doc="""\
Keeps a mount point's line in `/etc/fstab` and its mounted state, as Ansible's `mount`
(ansible.posix). The fstab is edited in memory (the first line for the path replaced,
duplicates dropped, every other line kept as it is) and written atomically, journalled.
Whether the path is mounted is read from `/proc/self/mountinfo`; `mount`, `umount` and
`mount -o remount` run only when the state asks for it. With `mounted`, a changed fstab line
of a mounted path remounts it. The step is `changed` when fstab or the mount changed.
""",
    notes="""\
```yaml
- name: a scratch space in memory
  mount:
    path: /srv/scratch
    src: tmpfs
    fstype: tmpfs
    opts: size=64m,mode=1777
    state: mounted
```

Notes:

* A rollback restores the fstab, not the mount: a filesystem mounted by the step stays
  mounted (on the mount point the step made) until the next run or a reboot.
* Containers may not be allowed to mount some filesystems; the error says so.
""",
)
