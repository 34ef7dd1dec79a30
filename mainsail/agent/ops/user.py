"""user: a local account present (with its attributes) or absent."""
from __future__ import annotations

import math
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .. import facts, proc, safepath
from ..core import CHANGED, Context, MissingPrerequisite, OpError, Outcome, accept, as_list
from ..core import flag as bool_arg
from ..core import nothing, operand, settle
from ..fileio import write_at
from ..spec import Arg, OpSpec
from . import accounts
from .group import _int

LOGIN_DEFS = "/etc/login.defs"
NO_HOME = "/nonexistent"  # Debian's home for accounts that must have none: never created
# The passwords Ansible lets through unhashed: they disable or lock the account.
DISABLING_PASSWORDS = ("*", "!", "*************")
# Hash lengths of the crypt schemes (the part after the last '$').
HASH_LENGTHS = {"1": 22, "5": 43, "6": 86, "y": 43}


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    if str(args.get("shell") or "").startswith("~"):  # a path, as Ansible reads it
        args["shell"] = os.path.expanduser(str(args["shell"]))
    name, state = operand("user", "user name", args["name"]), args["state"]
    local = bool_arg(args, "local")
    for key in ("umask", "uid_min", "uid_max"):
        if local and args.get(key) not in (None, ""):
            # Ansible's words; libuser's tools have no such setting
            raise OpError("'%s' can not be used with 'local'" % key)
    current = accounts.users().get(name)
    secrets = [str(args[k]) for k in ("password", "ssh_key_passphrase") if args.get(k)]
    warnings = password_warnings(args.get("password"))
    if bool_arg(args, "append") and args.get("groups") is None:
        warnings.append("'append' is set, but no 'groups' are specified. Use 'groups' for "
                        "appending new groups.")
    if state == "absent":
        if current is None:
            outcome = settle(ctx, [], nothing)
        else:
            outcome = settle(ctx, ["user removed"],
                             lambda: _run(userdel_argv(name, args), secrets))
            outcome.data = {"force": bool_arg(args, "force"), "remove": bool_arg(args, "remove")}
        return _fields(outcome, name, args, ctx.check, warnings)
    if current is None:
        outcome = settle(ctx, ["user created"], lambda: _create(name, args, secrets))
    else:
        if args.get("update_password") == "on_create":  # an existing user keeps its password
            args = {k: v for k, v in args.items() if k != "password"}
        changes, options = usermod_plan(name, args, current)
        extra = local_commands(name, args, current) if local else []
        tool = "lusermod" if local else "usermod"
        outcome = settle(ctx, changes + [c for c, _ in extra],
                         lambda: _modify(tool, options, name, extra, secrets))
        outcome.data = {"append": bool_arg(args, "append"),
                        "move_home": bool_arg(args, "move_home")}
    entry = accounts.users().get(name)
    if entry is not None:  # as it now is: what is left to do once the account exists
        changes, apply, key = _after(ctx, name, args, entry)
        outcome = _merged(outcome, settle(ctx, changes, apply))
        if key:
            outcome.data.update(_key_fields(key))
    return _fields(outcome, name, args, ctx.check, warnings)


def _merged(first: Outcome, second: Outcome) -> Outcome:
    if second.status != CHANGED:
        return first
    msg = ", ".join(m for m in (first.msg if first.status == CHANGED else "", second.msg) if m)
    return Outcome(CHANGED, msg, data=first.data)


def _fields(outcome: Outcome, name: str, args: Mapping[str, Any], check: bool,
            warnings: List[str]) -> Outcome:
    """Ansible's result fields: the account as it now is (in check mode, as it would be)."""
    data: Dict[str, Any] = {"name": name, "state": args["state"]}
    entry = accounts.users().get(name)
    if entry is not None and args["state"] == "present":
        data.update(uid=entry.uid, group=entry.gid, home=entry.home, shell=entry.shell,
                    comment=entry.comment)
    if check or entry is None:
        for key in ("uid", "home", "shell", "comment"):
            if args.get(key) not in (None, ""):
                data[key] = args[key]
    if args["state"] == "present":
        data["system"] = bool_arg(args, "system")
        data["create_home"] = bool_arg(args, "create_home")
        if args.get("groups") is not None:
            data["groups"] = ",".join(as_list(args["groups"]))
    if args.get("password"):
        data["password"] = "NOT_LOGGING_PASSWORD"  # Ansible's words: never the hash
    if warnings:
        data["warnings"] = warnings
    outcome.data = dict(outcome.data or {}, **data)
    return outcome


def password_warnings(password: Any) -> List[str]:
    """Ansible's warning when ``password`` does not look like a crypt hash (plain text)."""
    if not password or str(password) in DISABLING_PASSWORDS:
        return []
    text = str(password)
    fields = text.split("$")
    plausible = "$" in text and not any(c in text for c in ":*!") and len(fields) >= 3
    if plausible:
        scheme, digest = fields[1], fields[-1]
        plausible = not re.search(r"[^a-zA-Z0-9./=]", digest) and \
            HASH_LENGTHS.get(scheme, len(digest)) == len(digest)
    if plausible:
        return []
    return ["The input password appears not to have been hashed. The 'password' argument "
            "must be encrypted for this module to work properly."]


def userdel_argv(name: str, args: Mapping[str, Any]) -> List[str]:
    """userdel with Ansible's ``remove`` (home and mail spool too) and ``force``; with
    ``local``, libuser's luserdel (which has no force)."""
    if bool_arg(args, "local"):
        return ["luserdel"] + (["-r"] if bool_arg(args, "remove") else []) + ["--", name]
    return (["userdel"] + (["--remove"] if bool_arg(args, "remove") else [])
            + (["--force"] if bool_arg(args, "force") else []) + ["--", name])


def _expire_days(args: Mapping[str, Any]) -> Optional[int]:
    """``expires`` (seconds since 1970) as shadow's days; -1 (never) for any negative."""
    if args.get("expires") in (None, ""):
        return None
    try:
        seconds = float(args["expires"])
    except (TypeError, ValueError):
        raise OpError("expires must be a number of seconds since 1970, got %r" % args["expires"])
    return -1 if seconds < 0 else int(math.floor(seconds)) // 86400


def _password(args: Mapping[str, Any]) -> str:
    """The hash to set: locked (a leading '!') when ``password_lock`` asks for it."""
    text = str(args["password"])
    return "!" + text if bool_arg(args, "password_lock") and not text.startswith("!") else text


def useradd_argv(name: str, args: Mapping[str, Any]) -> List[str]:
    args = SPEC.with_defaults(args)
    local = bool_arg(args, "local")
    argv = ["luseradd" if local else "useradd"]
    if args.get("uid") not in (None, ""):
        argv += ["-u", str(args["uid"])] + (["-o"] if bool_arg(args, "non_unique") else [])
    if args.get("seuser") not in (None, ""):
        # the SELinux user, at creation only, as Ansible's Linux class passes it (libuser's
        # luseradd too); useradd refuses it on a host without SELinux
        argv += ["-Z", str(args["seuser"])]
    if args.get("group") not in (None, ""):
        argv += ["-g", str(args["group"])]
    elif name in accounts.groups():
        # a group of the user's own name exists: useradd would fail making it again
        argv.append("-n" if local else "-N")
    if args.get("groups") and not local:  # libuser: members added with lgroupmod after
        argv += ["-G", ",".join(as_list(args["groups"]))]
    for key, option in (("comment", "-c"), ("home", "-d"), ("shell", "-s")):
        if args.get(key) not in (None, ""):
            argv += [option, str(args[key])]
    days = _expire_days(args)
    if days is not None and not local:  # libuser: set with lchage after
        argv += ["-e", "" if days < 0 else str(days)]
    if args.get("password_expire_account_disable") not in (None, "") and not local:
        argv += ["-f", str(_int(args["password_expire_account_disable"], "inactive"))]
    if args.get("password"):
        argv += ["-p", _password(args)]
    if bool_arg(args, "create_home"):
        argv += [] if local else ["-m"]
        if args.get("skeleton"):
            argv += ["-k", str(args["skeleton"])]
        if args.get("umask") not in (None, ""):
            argv += ["-K", "UMASK=%s" % args["umask"]]
    else:
        argv.append("-M")
    if bool_arg(args, "system"):
        argv.append("-r")
    for key, setting in (("uid_min", "UID_MIN"), ("uid_max", "UID_MAX")):
        if args.get(key) not in (None, ""):
            argv += ["-K", "%s=%d" % (setting, _int(args[key], key))]
    return argv + ["--", name]


def _create(name: str, args: Mapping[str, Any], secrets: List[str]) -> None:
    args = SPEC.with_defaults(args)
    home = args.get("home")
    if home and bool_arg(args, "create_home"):
        # useradd makes the home but not the folders above it
        os.makedirs(os.path.dirname(os.path.abspath(str(home))), mode=0o755, exist_ok=True)
    _run(useradd_argv(name, args), secrets)
    if bool_arg(args, "local"):
        for _, argv in local_commands(name, args, None):
            _run(argv, secrets)


def _modify(tool: str, options: List[str], name: str,
            extra: List[Tuple[str, List[str]]], secrets: List[str]) -> None:
    if options:
        _run([tool] + options + ["--", name], secrets)
    for _, argv in extra:
        _run(argv, secrets)


def usermod_plan(name: str, args: Mapping[str, Any],
                 current: accounts.PasswdEntry) -> Tuple[List[str], List[str]]:
    """(descriptions of differences, usermod options) for an existing user."""
    changes: List[str] = []
    options: List[str] = []
    local = bool_arg(args, "local")
    group_table = accounts.groups()
    shadow = accounts.shadow_entries().get(name)
    _scalar(changes, options, "uid", "-u", current.uid,
            None if args.get("uid") in (None, "") else _int(args["uid"], "uid"))
    if options and bool_arg(args, "non_unique") and not local:
        options.append("-o")
    if args.get("group") not in (None, ""):
        gid = _gid(str(args["group"]), group_table)
        if gid != current.gid:
            changes.append("group %s" % args["group"])
            options += ["-g", str(gid)]  # by number: lusermod takes no name
    if not local:  # libuser: lgroupmod, see local_commands
        _groups(changes, options, args, accounts.supplementary_groups(name, group_table),
                group_table)
    for key, flag, have in (("shell", "-s", current.shell), ("home", "-d", current.home),
                            ("comment", "-c", current.comment)):
        want = args.get(key)
        _scalar(changes, options, key, flag, have, None if want is None else str(want))
        if key == "home" and "-d" in options and bool_arg(args, "move_home"):
            options.append("-m")
            changes[-1] += " (moved)"
    if not local:
        _expiry(changes, options, args, shadow)
    _password_plan(changes, options, args, current, shadow)
    return changes, options


def _expiry(changes: List[str], options: List[str], args: Mapping[str, Any],
            shadow: Optional[accounts.ShadowEntry]) -> None:
    days = _expire_days(args)
    # No shadow line counts as expiring on day 0, as in Ansible: -1 then writes one.
    have = shadow.expire if shadow is not None else 0
    if days is not None and (days < 0) != (have < 0) or days is not None and days >= 0 \
            and days != have:
        changes.append("expires %s -> %s" % (_day(have), _day(days)))
        options += ["-e", "" if days < 0 else str(days)]
    want = args.get("password_expire_account_disable")
    if want not in (None, ""):
        inactive = _int(want, "password_expire_account_disable")
        have = shadow.inactive if shadow is not None else -1
        if inactive != have:
            changes.append("inactive %s -> %s" % (have, inactive))
            options += ["-f", str(inactive)]


def _day(days: Optional[int]) -> str:
    if days is None or days < 0:
        return "never"
    return time.strftime("%Y-%m-%d", time.gmtime(days * 86400))


def _password_plan(changes: List[str], options: List[str], args: Mapping[str, Any],
                   current: accounts.PasswdEntry, shadow: Optional[accounts.ShadowEntry]) -> None:
    have = shadow.hash if shadow is not None else ""
    lock = None if args.get("password_lock") is None else bool_arg(args, "password_lock")
    if args.get("password") and have.lstrip("!") != str(args["password"]).lstrip("!"):
        changes.append("password changed" + (" (locked)" if lock else ""))  # never the hash
        options += ["-p", _password(args)]
    elif lock and not have.startswith("!"):
        changes.append("password locked")
        options.append("-L")
    elif lock is False and have.startswith("!"):
        changes.append("password unlocked")
        options.append("-U")


def local_commands(name: str, args: Mapping[str, Any],
                   current: Optional[accounts.PasswdEntry]) -> List[Tuple[str, List[str]]]:
    """libuser's commands beside luseradd/lusermod (``local``): the expiry with lchage,
    supplementary groups with lgroupmod, as (description, argv)."""
    out: List[Tuple[str, List[str]]] = []
    days = _expire_days(args)
    if days is not None:
        shadow = accounts.shadow_entries().get(name) if current is not None else None
        have = shadow.expire if shadow is not None else 0
        if current is None or (days < 0) != (have < 0) or days >= 0 and days != have:
            out.append(("expires %s -> %s" % (_day(have), _day(days)),
                        ["lchage", "-E", str(days), "--", name]))
    if args.get("groups") is None:
        return out
    table = accounts.groups()
    want = _group_names(as_list(args["groups"]), table)
    have = accounts.supplementary_groups(name, table) if current is not None else []
    for group in want:
        if group not in have:
            out.append(("groups +%s" % group, ["lgroupmod", "-M", name, "--", group]))
    if not bool_arg(args, "append"):
        for group in have:
            if group not in want:
                out.append(("groups -%s" % group, ["lgroupmod", "-m", name, "--", group]))
    return out


def _scalar(changes: List[str], options: List[str], key: str, flag: str,
            have: Any, want: Any) -> None:
    if want is not None and want != have:
        changes.append("%s %s -> %s" % (key, have, want))
        options += [flag, str(want)]


def _gid(group: str, table: Dict[str, accounts.GroupEntry]) -> Optional[int]:
    if group in table:
        return table[group].gid
    if group.isdigit():
        return int(group)
    raise MissingPrerequisite("no such group: %s" % group, hint="create it first with a group task")


def _group_names(groups: List[str], table: Dict[str, accounts.GroupEntry]) -> List[str]:
    """Groups given by name or gid, as names (a gid no group has stays as it is)."""
    by_gid = {g.gid: g.name for g in table.values()}
    return [by_gid.get(int(g), g) if g.isdigit() and g not in table else g for g in groups]


def _groups(changes: List[str], options: List[str], args: Mapping[str, Any],
            have: List[str], table: Dict[str, accounts.GroupEntry]) -> None:
    if args.get("groups") is None:
        return  # not managed
    want = _group_names(as_list(args["groups"]), table)
    if bool_arg(args, "append"):
        missing = [g for g in want if g not in have]
        if missing:
            changes.append("groups +" + ",".join(missing))
            options += ["-a", "-G", ",".join(missing)]
    elif sorted(set(want)) != have:
        changes.append("groups %s -> %s" % (",".join(have) or "(none)", ",".join(want) or "(none)"))
        options += ["-G", ",".join(want)]


def _after(ctx: Context, name: str, args: Mapping[str, Any],
           entry: accounts.PasswdEntry) -> Tuple[List[str], Callable[[], None], str]:
    """What is left once the account exists: its missing home, the password ageing
    (chage), an SSH key. (changes, apply, the key's path or "")."""
    args = SPEC.with_defaults(args)
    changes: List[str] = []
    steps: List[Callable[[], None]] = []
    home = str(args.get("home") or entry.home)
    making_home = bool_arg(args, "create_home") and home not in ("", "/", NO_HOME) \
        and not os.path.lexists(home)
    if making_home:
        changes.append("home %s created" % home)
        steps.append(lambda: create_home(home, entry.uid, entry.gid, args.get("skeleton")))
    chage = chage_options(accounts.shadow_entries().get(name), args)
    if chage:
        changes.append("password ageing %s" % " ".join(chage))
        steps.append(lambda: _run(["chage"] + chage + ["--", name], []))
    key = ""
    if bool_arg(args, "generate_ssh_key"):
        key = _key_path(args, home)
        if not os.path.isabs(str(args.get("ssh_key_file") or "")) and not making_home \
                and not os.path.isdir(home) and not ctx.check:
            raise OpError("User %s home directory does not exist" % name)
        if bool_arg(args, "force") or not os.path.lexists(key):
            changes.append("ssh key %s generated" % key)
            steps.append(lambda: generate_key(key, args, entry.uid, entry.gid))
        # else: Ansible's "Key already exists": the key is kept, nothing changes

    def apply() -> None:
        for step in steps:
            step()
    return changes, apply, key


def chage_options(shadow: Optional[accounts.ShadowEntry], args: Mapping[str, Any]) -> List[str]:
    """chage options for the password ageing that differs (none without a shadow line)."""
    if shadow is None:
        return []
    out: List[str] = []
    for key, option, have in (("password_expire_min", "-m", shadow.min),
                              ("password_expire_max", "-M", shadow.max),
                              ("password_expire_warn", "-W", shadow.warn)):
        if args.get(key) not in (None, "") and _int(args[key], key) != have:
            out += [option, str(_int(args[key], key))]
    return out


def home_mode() -> int:
    """The mode useradd gives a home: login.defs' HOME_MODE, else from its UMASK."""
    umask = None
    for line in facts.read_text(LOGIN_DEFS).splitlines():
        found = re.match(r"^\s*(HOME_MODE|UMASK)\s+([0-7]+)\s*$", line)
        if found and found.group(1) == "HOME_MODE":
            return int(found.group(2), 8)
        if found:
            umask = int(found.group(2), 8)
    return 0o777 & ~(0o022 if umask is None else umask)


def create_home(home: str, uid: int, gid: int, skeleton: Any = None) -> None:
    """A missing home made as useradd makes it: the skeleton's files copied (links as
    links), owned by the user, with login.defs' mode."""
    skel = str(skeleton or "/etc/skel")
    os.makedirs(os.path.dirname(home), mode=0o755, exist_ok=True)
    if skel != os.devnull and os.path.isdir(skel):
        shutil.copytree(skel, home, symlinks=True)
    else:
        os.mkdir(home)
    # on the folder just made, never through a link put in its place since
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchmod(fd, home_mode())
    finally:
        os.close(fd)
    for root, dirs, files in os.walk(home):
        for entry in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.lchown(entry, uid, gid)  # a link is never followed: it may point anywhere


def _key_path(args: Mapping[str, Any], home: str) -> str:
    path = str(args.get("ssh_key_file") or os.path.join(".ssh", "id_%s" % args["ssh_key_type"]))
    return path if os.path.isabs(path) else os.path.join(home, path)


def generate_key(key: str, args: Mapping[str, Any], uid: int, gid: int) -> None:
    """ssh-keygen into a private folder, then both files put in place by rename (a link at
    either name is replaced, never written through)."""
    folder = os.path.dirname(key)
    if not os.path.isdir(folder):
        os.mkdir(folder, 0o700)
        os.lchown(folder, uid, gid)
    if not bool_arg(args, "force") and os.path.lexists(key + ".pub"):
        raise OpError("%s.pub exists: refused to overwrite it without force" % key)
    with tempfile.TemporaryDirectory(prefix="mainsail-key-") as tmp:
        made = os.path.join(tmp, "key")
        argv = ["ssh-keygen", "-q", "-t", str(args["ssh_key_type"])]
        if _int(args.get("ssh_key_bits") or 0, "ssh_key_bits") > 0:
            argv += ["-b", str(_int(args["ssh_key_bits"], "ssh_key_bits"))]
        argv += ["-C", str(args.get("ssh_key_comment") or default_comment()), "-f", made]
        phrase = str(args.get("ssh_key_passphrase") or "")
        # The passphrase goes on stdin (no terminal: ssh-keygen reads it there), never argv.
        result = proc.run(argv, stdin="%s\n%s\n" % (phrase, phrase))
        if result.rc != 0:
            raise result.failure()
        for suffix, mode in (("", 0o600), (".pub", 0o644)):
            with open(made + suffix, "rb") as fh:
                data = fh.read()
            with safepath.locate(key + suffix, follow=False) as loc:
                write_at(loc, data, mode, uid, gid)


def default_comment() -> str:
    return "ansible-generated on %s" % socket.gethostname()  # Ansible's words


def _key_fields(key: Optional[str]) -> Dict[str, Any]:
    """ssh_fingerprint and ssh_public_key of the key at ``key``, as Ansible returns them."""
    if not key:
        return {}
    out: Dict[str, Any] = {"ssh_key_file": key}
    if not os.path.exists(key):
        out["ssh_fingerprint"] = "SSH Key file %s does not exist" % key
    else:
        result = proc.run(["ssh-keygen", "-l", "-f", key])
        out["ssh_fingerprint"] = (result.stdout if result.rc == 0 else result.stderr).strip()
    try:
        with open(key + ".pub", encoding="utf-8") as fh:
            out["ssh_public_key"] = fh.read().strip()
    except OSError:
        out["ssh_public_key"] = None
    return out


def _run(argv: List[str], secrets: List[str]) -> None:
    result = proc.run(argv, secrets=secrets)
    if result.rc != 0:
        raise result.failure()


SPEC = OpSpec(
    name='user',
    summary='a local account and its attributes',
    ansible='`user`',
    args=(
        Arg('name', aliases=('user',), doc='the login name', operand='user name'),
        Arg('state', default='present', choices=('present', 'absent'), doc='the account exists; it does not'),
        Arg('uid', 'int', doc='the user id'),
        Arg('group', doc='the primary group, by name or gid (must exist)'),
        Arg('groups', 'names', doc='supplementary groups: exactly these, or with `append` at least these'),
        Arg('append', 'bool', doc='add the `groups` to those the user has, removing none'),
        Arg('shell', doc='the login shell'),
        Arg('home', doc='the home folder'),
        Arg('create_home', 'bool', default=True, aliases=('createhome',), doc='create the home folder when the user is created'),
        Arg('system', 'bool', doc='create a system account (`useradd -r`: id below 1000)'),
        Arg('password', doc='the password as a crypt hash, e.g. from `mkpasswd -m sha-512`'),
        Arg('update_password', default='always', choices=('always', 'on_create'),
            doc='`on_create`: set `password` only when the user is created'),
        Arg('comment', doc='the GECOS field (full name)'),
        Arg('remove', 'bool', default=False, doc='with `state: absent`, remove the home folder and mail spool too (`userdel --remove`)'),
        Arg('force', 'bool', default=False, doc='with `state: absent`, remove the user even while logged in (`userdel --force`); with `generate_ssh_key`, replace an existing key'),
        Arg('non_unique', 'bool', default=False, doc='with `uid`: allow a uid another user has (`-o`)'),
        Arg('skeleton', doc='the folder whose files a new home starts with (default `/etc/skel`)'),
        Arg('move_home', 'bool', default=False, doc='when `home` changes, move the files there (`usermod -m`)'),
        Arg('umask', doc='the umask a new home is created with (`useradd -K UMASK=`)'),
        Arg('uid_min', 'int', doc='a new user\'s id is at least this (`useradd -K UID_MIN=`)'),
        Arg('uid_max', 'int', doc='a new user\'s id is at most this (`useradd -K UID_MAX=`)'),
        Arg('expires', 'float', doc='the account expires at this time (seconds since 1970, UTC: its day counts); negative: never'),
        Arg('password_lock', 'bool', doc='lock the password (a `!` before the hash, `usermod -L`); false unlocks it'),
        Arg('password_expire_min', 'int', doc='days before the password may change again (`chage -m`)'),
        Arg('password_expire_max', 'int', doc='days the password stays valid (`chage -M`)'),
        Arg('password_expire_warn', 'int', doc='days of warning before the password expires (`chage -W`)'),
        Arg('password_expire_account_disable', 'int', doc='days after the password expired before the account is disabled (`-f`)'),
        Arg('local', 'bool', doc='manage the account with libuser\'s tools (`luseradd`, `lusermod`, `luserdel`, `lchage`, `lgroupmod`): local files only'),
        Arg('generate_ssh_key', 'bool', doc='make an SSH key pair for the user (an existing key is kept unless `force`)'),
        Arg('ssh_key_file', doc='the private key\'s path, relative to the home (default `.ssh/id_TYPE`)'),
        Arg('ssh_key_type', default='rsa', doc='the key type (`ssh-keygen -t`)'),
        Arg('ssh_key_bits', 'int', default=0, doc='the key size; 0: ssh-keygen\'s default'),
        Arg('ssh_key_comment', doc='the key\'s comment (default `ansible-generated on HOSTNAME`)'),
        Arg('ssh_key_passphrase', doc='the passphrase protecting the key (given to ssh-keygen on its input, never on its command line)'),
        Arg('seuser', doc='the SELinux user of a new account (`useradd -Z`); an existing account\'s is not changed, as in Ansible'),
        # Ansible's macOS, BSD and Solaris arguments: accepted and, on Linux, ignored as Ansible does
        Arg('hidden', 'bool', doc='macOS only: ignored on Linux, as in Ansible'),
        Arg('login_class', doc='BSD only: ignored on Linux, as in Ansible'),
        Arg('profile', doc='Illumos/Solaris only: ignored on Linux, as in Ansible'),
        Arg('authorization', doc='Illumos/Solaris only: ignored on Linux, as in Ansible'),
        Arg('role', doc='Illumos/Solaris only: ignored on Linux, as in Ansible'),
    ),
    required=(('name',),),
    doc="""\
Makes a local account exist with the given attributes, or not exist. The accounts are read
from `/etc/passwd`, `/etc/group` and `/etc/shadow` directly (accounts known only from LDAP or
NIS are not seen). A missing user is created with `useradd`; an existing one is compared
attribute by attribute and changed with one `usermod`, listing each difference in the message
(`shell /bin/sh -> /bin/bash`, `groups +adm`, `password changed`); `state: absent` runs
`userdel`. Only the arguments given are managed.
""",
    notes="""\
```yaml
- name: vmail group
  group:
    name: vmail
    gid: 5000

- name: vmail user owning the mailboxes
  user:
    name: vmail
    uid: 5000
    group: vmail
    home: /var/mail/vhosts
    shell: /usr/sbin/nologin
    system: true
    comment: virtual mailboxes

- name: deploy user
  user:
    name: deploy
    shell: /bin/bash
    groups: [www-data, adm]
    append: true
    password: "{{ deploy_password_hash }}"
  no_log: [deploy_password_hash]
```

Notes:

* `create_home` and `system` apply only when the account is created; later, a home that is
  missing (the user made with `create_home: false`, or given another `home`) is made as
  `useradd` makes one: the `skeleton` (default `/etc/skel`) copied, links kept as links, owned
  by the user, with login.defs' `HOME_MODE` (else its `UMASK`). `/nonexistent`, Debian's home
  for accounts that must have none, is never made. Without `group`, Debian's `useradd` gives the
  user a group of its own name (`-N` when such a group exists already).
* `password` is compared with the hash in `/etc/shadow`, which needs root (`become`). The hash
  is never shown: the message says `password changed`, and it is masked in command lines. List
  the variable holding it under `no_log` to keep it out of plans and reports as well. A value
  that does not look like a crypt hash is set as given, with Ansible's warning (`warnings`).
* `expires` is compared by day with the shadow line (a user without one counts as day 0, as in
  Ansible); `password_expire_*` are set with `chage`, only for a user with a shadow line.
* `generate_ssh_key` runs `ssh-keygen` in a private folder and puts both files in place by
  rename: a link at either name is replaced, never written through; an existing public key
  without a private one is refused unless `force`. The passphrase goes on ssh-keygen's input.
  The result has `ssh_key_file`, `ssh_fingerprint` and `ssh_public_key`.
* `local` uses libuser's tools (package `libuser`); with `umask`, `uid_min` or `uid_max` the task
  fails in Ansible's words.
* Check mode: reports `user created`, the differences, or `user removed`, without running
  anything. A primary `group` that does not exist yet is assumed to come from an earlier
  `group` task. No diff.
* `seuser` is given to `useradd -Z` (and to `luseradd` with `local`) when the account is
  created, as Ansible's Linux code does; an existing account's SELinux user is neither read nor
  changed. `useradd` refuses `-Z` on a host without SELinux (Debian's default): the task then
  fails with its words. An empty `seuser` is left out.
* `hidden` (macOS), `login_class` (BSD), `profile`, `authorization` and `role` (Solaris) are
  accepted and ignored, as Ansible ignores them on Linux: they never make a change.
* Ansible differences: `password_expire_account_disable`
  is compared with the shadow line (Ansible sets it every time, reporting a change). `~` at the
  head of `shell` is the agent's home (root's with `become`). `groups` cannot be empty, so it
  cannot take a user out of all supplementary groups.
""",
)
