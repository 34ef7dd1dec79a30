"""timezone: the host's time zone (/etc/localtime, /etc/timezone) and the hardware clock's."""
from __future__ import annotations

import os
import re
import stat
from typing import Any, Dict, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import Context, OpError, Outcome, accept, settle
from ..spec import Arg, OpSpec
from .file import make_symlink

ZONEINFO = "/usr/share/zoneinfo"
LOCALTIME = "/etc/localtime"
TIMEZONE_FILE = "/etc/timezone"
ADJTIME = "/etc/adjtime"
_ZONE = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")


def current_zone() -> Optional[str]:
    """The zone /etc/localtime names (a link into zoneinfo), else /etc/timezone's."""
    try:
        target = os.readlink(LOCALTIME)
    except OSError:
        target = ""
    marker = "zoneinfo/"
    if marker in target:
        return target.split(marker, 1)[1]
    text = fileio.read_file(TIMEZONE_FILE)
    return text.decode(errors="replace").strip() or None if text else None


def current_hwclock() -> str:
    """UTC or local, from /etc/adjtime's third line (absent means UTC, as hwclock assumes)."""
    text = (fileio.read_file(ADJTIME) or b"").decode(errors="replace").splitlines()
    return "local" if len(text) >= 3 and text[2].strip().upper() == "LOCAL" else "UTC"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("timezone: %s" % problem[0], hint=problem[1])
    before: Dict[str, Any] = {"name": current_zone(), "hwclock": current_hwclock()}
    after = dict(before)
    changes = []
    applies = []
    name = args.get("name")
    if name:
        zonefile = os.path.join(ZONEINFO, name)
        st = _lstat(zonefile)
        if st is None or not stat.S_ISREG(st.st_mode):
            raise OpError("timezone: %s is not a time zone on this host (no %s)"
                          % (name, zonefile),
                          hint="names are those under %s, e.g. Europe/Paris or UTC; "
                               "install the tzdata package" % ZONEINFO)
        link_ok = _readlink(LOCALTIME) == zonefile
        file_text = fileio.read_file(TIMEZONE_FILE)
        file_ok = file_text is not None and file_text.decode(errors="replace").strip() == name
        if not (link_ok and file_ok):
            after["name"] = name
            changes.append("time zone %s -> %s" % (before["name"], name))
            applies.append(lambda: _set_zone(ctx, zonefile, name, link_ok, file_ok))
    clock = args.get("hwclock")
    if clock:
        wanted = "UTC" if clock.upper() == "UTC" else "local"
        if wanted != before["hwclock"]:
            after["hwclock"] = wanted
            changes.append("hardware clock %s -> %s" % (before["hwclock"], wanted))
            applies.append(lambda: _set_hwclock(ctx, wanted))

    def apply() -> None:
        for step in applies:
            step()
    diff = ""
    if ctx.diff and changes:
        diff = fileio.state_diff("timezone", "name=%s hwclock=%s" % (before["name"],
                                                                     before["hwclock"]),
                                 "name=%s hwclock=%s" % (after["name"], after["hwclock"]))
    outcome = settle(ctx, changes, apply, diff)
    outcome.data = {"diff": {"before": before, "after": after}}
    return outcome


def _set_zone(ctx: Context, zonefile: str, name: str, link_ok: bool, file_ok: bool) -> None:
    # Debian's own layout: /etc/localtime a link into zoneinfo, /etc/timezone the name;
    # systemd's timedatectl does the same, but needs dbus, which a minimal host may lack.
    if not link_ok:
        make_symlink(ctx, zonefile, LOCALTIME)
    if not file_ok:
        fileio.atomic_write(fileio.write_target(TIMEZONE_FILE), (name + "\n").encode(),
                            "0644", journal=ctx.journal)


def _set_hwclock(ctx: Context, wanted: str) -> None:
    lines = (fileio.read_file(ADJTIME) or b"").decode(errors="replace").splitlines()
    while len(lines) < 2:
        lines.append("0.0 0 0.0" if not lines else "0")
    lines = lines[:2] + ["UTC" if wanted == "UTC" else "LOCAL"]
    fileio.atomic_write(fileio.write_target(ADJTIME), ("\n".join(lines) + "\n").encode(),
                        "0644", journal=ctx.journal)


def _lstat(path: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _readlink(path: str) -> Optional[str]:
    try:
        return safepath.readlink(path)
    except OSError:
        return None


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    name = args.get("name")
    if not name and not args.get("hwclock"):
        return "nothing to set", "give name (e.g. Europe/Paris) and/or hwclock (UTC or local)"
    if name and (not _ZONE.match(str(name)) or ".." in str(name).split("/")):
        return "%r is not a time zone name" % name, "names look like Europe/Paris or UTC"
    clock = args.get("hwclock")
    if clock and str(clock).upper() not in ("UTC", "LOCAL"):
        return "hwclock: %s is neither UTC nor local" % clock, "hwclock: UTC or hwclock: local"
    return None


SPEC = OpSpec(
    name="timezone",
    summary="the host's time zone and whether the hardware clock keeps UTC or local time",
    ansible="`timezone`",
    args=(
        Arg("name", doc="the zone, as named under /usr/share/zoneinfo (`Europe/Paris`, `UTC`)"),
        Arg("hwclock", aliases=("rtc",),
            doc="`UTC` or `local`: what the hardware clock keeps (/etc/adjtime's third line)"),
    ),
    rule=_rule,
    journalled=True,
    doc="""\
Sets the time zone as Debian keeps it: `/etc/localtime` a link to the zone's file under
`/usr/share/zoneinfo` (replaced atomically) and `/etc/timezone` naming it; `hwclock` sets
`/etc/adjtime`'s third line. Both are journalled and restored on rollback. The step is
`changed` when either had to change; the result's `diff` has `before` and `after`
(`name`, `hwclock`), as Ansible's. Running programs keep their zone until restarted.
""",
    notes="""\
```yaml
- name: servers keep UTC
  timezone:
    name: Etc/UTC
    hwclock: UTC
```

Notes:

* A zone the host has no file for fails with a hint to install `tzdata`.
* `timedatectl` is not used: it needs dbus, which minimal hosts and containers may lack;
  the files it would write are written directly.
""",
)
