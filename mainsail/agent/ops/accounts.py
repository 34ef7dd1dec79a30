"""Reading /etc/passwd, /etc/group and /etc/shadow directly (no getent, no NSS)."""
from __future__ import annotations

from typing import Dict, List, Optional

from .. import facts
from ..record import Record

PASSWD = "/etc/passwd"
GROUP = "/etc/group"
SHADOW = "/etc/shadow"


class PasswdEntry(Record):
    __slots__ = ("name", "uid", "gid", "comment", "home", "shell")
    name: str
    uid: int
    gid: int
    comment: str
    home: str
    shell: str

    def __init__(self, name: str, uid: int, gid: int, comment: str, home: str,
                 shell: str) -> None:
        self.name = name
        self.uid = uid
        self.gid = gid
        self.comment = comment
        self.home = home
        self.shell = shell


class GroupEntry(Record):
    __slots__ = ("name", "gid", "members")
    name: str
    gid: int
    members: List[str]

    def __init__(self, name: str, gid: int, members: Optional[List[str]] = None) -> None:
        self.name = name
        self.gid = gid
        self.members = [] if members is None else members


def _fields(text: str, count: int) -> List[List[str]]:
    """Colon-separated records with at least count fields; comments and junk skipped."""
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", "+", "-")):
            continue  # NIS compat lines (+/-) are not local accounts
        parts = line.split(":")
        if len(parts) >= count:
            rows.append(parts)
    return rows


def parse_passwd(text: str) -> Dict[str, PasswdEntry]:
    out = {}
    for p in _fields(text, 7):
        if p[2].isdigit() and p[3].isdigit():
            out[p[0]] = PasswdEntry(p[0], int(p[2]), int(p[3]), p[4], p[5], p[6])
    return out


def parse_group(text: str) -> Dict[str, GroupEntry]:
    out = {}
    for p in _fields(text, 4):
        if p[2].isdigit():
            out[p[0]] = GroupEntry(p[0], int(p[2]), [m for m in p[3].split(",") if m])
    return out


def parse_shadow(text: str) -> Dict[str, str]:
    return {p[0]: p[1] for p in _fields(text, 2)}


class ShadowEntry(Record):
    """One /etc/shadow line; an empty number field is -1, as getspnam(3) gives it."""
    __slots__ = ("hash", "min", "max", "warn", "inactive", "expire")
    hash: str
    min: int
    max: int
    warn: int
    inactive: int
    expire: int

    def __init__(self, hash: str, min: int = -1, max: int = -1, warn: int = -1,
                 inactive: int = -1, expire: int = -1) -> None:
        self.hash = hash
        self.min = min
        self.max = max
        self.warn = warn
        self.inactive = inactive
        self.expire = expire


def _days(text: str) -> int:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else -1


def parse_shadow_entries(text: str) -> Dict[str, ShadowEntry]:
    out = {}
    for p in _fields(text, 2):
        p = p + [""] * (9 - len(p))
        out[p[0]] = ShadowEntry(p[1], _days(p[3]), _days(p[4]), _days(p[5]), _days(p[6]),
                                _days(p[7]))
    return out


def users() -> Dict[str, PasswdEntry]:
    return parse_passwd(facts.read_text(PASSWD))


def groups() -> Dict[str, GroupEntry]:
    return parse_group(facts.read_text(GROUP))


def password_hashes() -> Dict[str, str]:
    return parse_shadow(facts.read_text(SHADOW))


def shadow_entries() -> Dict[str, ShadowEntry]:
    return parse_shadow_entries(facts.read_text(SHADOW))


def supplementary_groups(name: str, table: Dict[str, GroupEntry]) -> List[str]:
    return sorted(g.name for g in table.values() if name in g.members)
