"""getent: entries of a name service database as facts (Ansible's `getent`).

passwd and group are read in-process through the C library's name service (the same source
as the getent program, LDAP included), shadow from /etc/shadow; any other database starts
the host's getent program.
"""
from __future__ import annotations

import grp
import pwd
from typing import Any, Dict, List, Mapping, Optional

from .. import proc
from ..core import Context, OpError, Outcome, accept, flag, ok, operand
from ..spec import Arg, OpSpec

SHADOW = "/etc/shadow"
COLON_DATABASES = ("passwd", "group", "shadow", "gshadow")
GSHADOW = "/etc/gshadow"


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    database = operand("getent", "database", args["database"])
    key = None if args.get("key") in (None, "") else str(args["key"])
    entries = _read(database, key, args)
    if key is not None and not entries and flag(args, "fail_key"):
        raise OpError("getent: %r not found in %s" % (key, database),
                      hint="set fail_key: false to carry on without it")
    outcome = ok("%s: %d entr%s" % (database, len(entries), "y" if len(entries) == 1 else "ies"))
    outcome.data = {"ansible_facts": {"getent_" + database: entries}}
    return outcome


def _read(database: str, key: Optional[str], args: Mapping[str, Any]) -> Dict[str, Any]:
    if database == "passwd" and not args.get("split") and not args.get("service"):
        return _select([_passwd_row(p) for p in pwd.getpwall()], key, _passwd_key(key))
    if database == "group" and not args.get("split") and not args.get("service"):
        return _select([_group_row(g) for g in grp.getgrall()], key, _group_key(key))
    if database in ("shadow", "gshadow") and not args.get("split") and not args.get("service"):
        return _select(_file_rows(SHADOW if database == "shadow" else GSHADOW, ":"), key, None)
    return _program(database, key, args)


def _passwd_row(entry: "pwd.struct_passwd") -> List[str]:
    return [entry.pw_name, entry.pw_passwd, str(entry.pw_uid), str(entry.pw_gid),
            entry.pw_gecos, entry.pw_dir, entry.pw_shell]


def _group_row(entry: "grp.struct_group") -> List[str]:
    return [entry.gr_name, entry.gr_passwd, str(entry.gr_gid), ",".join(entry.gr_mem)]


def _passwd_key(key: Optional[str]) -> Optional[List[str]]:
    """getent passwd 0 finds root: a numeric key is looked up as an id too."""
    if key is None or not key.isdigit():
        return None
    try:
        return _passwd_row(pwd.getpwuid(int(key)))
    except KeyError:
        return None


def _group_key(key: Optional[str]) -> Optional[List[str]]:
    if key is None or not key.isdigit():
        return None
    try:
        return _group_row(grp.getgrgid(int(key)))
    except KeyError:
        return None


def _file_rows(path: str, sep: str) -> List[List[str]]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return [line.rstrip("\n").split(sep) for line in handle
                    if line.strip() and not line.startswith("#")]
    except PermissionError:
        raise OpError("getent: cannot read %s" % path, hint="become: true")
    except FileNotFoundError:
        return []


def _select(rows: List[List[str]], key: Optional[str], by_id: Optional[List[str]]
            ) -> Dict[str, Any]:
    """Ansible's shape: first field -> the other fields (first entry of a name wins)."""
    out: Dict[str, Any] = {}
    for row in rows:
        if key is None or row[0] == key:
            out.setdefault(row[0], row[1:])
    if key is not None and not out and by_id is not None:
        out[key] = by_id[1:]
    return out


def _program(database: str, key: Optional[str], args: Mapping[str, Any]) -> Dict[str, Any]:
    argv = ["getent"]
    if args.get("service"):
        argv += ["-s", operand("getent", "service", args["service"])]
    argv += ["--", database] + ([key] if key is not None else [])
    result = proc.run(argv)
    if result.rc == 127:
        raise OpError("getent: this host has no getent program", hint="apt: name: libc-bin")
    if result.rc == 1:
        raise OpError("getent: missing arguments or database unknown: %s" % database)
    if result.rc == 2:
        return {}  # the key is not there: fail_key decides
    if result.rc not in (0,):
        raise OpError("getent %s failed (rc %d): %s" % (database, result.rc,
                                                       result.stderr.strip()[:300]))
    split = args.get("split") or (":" if database in COLON_DATABASES else None)
    rows = []
    for line in result.stdout.splitlines():
        if line.strip():
            rows.append(line.split(str(split)) if split else line.split())
    return _select_all(rows)


def _select_all(rows: List[List[str]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for row in rows:
        out.setdefault(row[0], row[1:])
    return out


SPEC = OpSpec(
    name="getent",
    summary="entries of passwd, group, hosts, ... as facts",
    ansible="`getent`",
    args=(
        Arg("database", doc="the database: `passwd`, `group`, `shadow`, `hosts`, `services`, "
                            "..."),
        Arg("key", doc="one entry's name (or id); all entries when left out"),
        Arg("split", doc="the field separator (default: `:` for passwd, group and shadow, "
                         "white space otherwise)"),
        Arg("service", doc="the name service to ask (`getent -s`)"),
        Arg("fail_key", "bool", default=True, doc="fail when `key` is not found"),
    ),
    required=(("database",),),
    doc="""\
Reads a name service database and returns it as facts: Ansible's `getent`. The result's
`ansible_facts` holds `getent_DATABASE`, a mapping of each entry's name to its other fields
(`getent_passwd.www-data` is `["x", "33", "33", "www-data", "/var/www",
"/usr/sbin/nologin"]`). The step is always `ok`; a `key` that is not found fails it unless
`fail_key: false`. `passwd` and `group` are read in the agent through the C library (LDAP and
other sources included), `shadow` and `gshadow` from their files (`become: true`); other
databases start the host's `getent`.
""",
    notes="""\
```yaml
- name: the web server's account
  getent:
    database: passwd
    key: www-data
```

Notes:

* `split` or `service` make `passwd` and `group` go through the `getent` program as well.
""",
)
