"""Ansible's YAML inventory -> frozen :class:`Inventory`, :class:`Host` and :class:`Group`.

An Ansible YAML inventory loads as is: ``all`` with ``hosts`` / ``vars`` / ``children``,
nested groups, a host in several groups, ``group_vars/`` and ``host_vars/`` beside the file.
Each host's variables are merged here, lowest first:

1. inventory group vars: ``all``, then parents before children (by depth), siblings by name
2. ``group_vars/`` files, in the same group order
3. inventory host vars
4. ``host_vars/`` files

and every variable remembers which file:line it came from. (Role defaults, play vars, role
vars and ``--var`` are layered on top when a plan is built; see plan.py.)
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from collections.abc import Iterable, Mapping
from typing import Any

from . import inventory_formats as formats
from .errors import BadInput, did_you_mean
from .masking import Masker
from .opspec import as_bool
from .render import has_template, render_value
from .vault import MIN_SECRET_LENGTH, SECRET_TYPES, Vault, secret_texts
from .yamlio import display_path, load_yaml, loc_of

EMPTY: Mapping[str, Any] = MappingProxyType({})
GROUP_KEYS = ("hosts", "vars", "children")
# The connection settings and the Ansible variable names that mean the same thing.
CONNECTION_VARS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "ssh_key": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
    "known_hosts": (),
    "connection": ("ansible_connection",),
    "become": ("ansible_become",),
    "become_user": ("ansible_become_user",),
    "become_method": ("ansible_become_method",),
    "become_password": ("ansible_become_password", "ansible_become_pass"),
    "python_interpreter": ("ansible_python_interpreter",),
    "agent_persist": (),
})
PRIORITY_VAR = "ansible_group_priority"  # orders sibling groups; not a variable itself
# Ansible connection variables Mainsail has no use for: said once, so nobody wonders why a
# password login or an SSH option has no effect.
UNUSED_ANSIBLE_VARS: Mapping[str, str] = MappingProxyType({
    "ansible_password": "Mainsail logs in with SSH keys (ssh_key), never a password",
    "ansible_ssh_pass": "Mainsail logs in with SSH keys (ssh_key), never a password",
    "ansible_ssh_common_args": "SSH options are not passed; use ~/.ssh/config for proxies",
    "ansible_ssh_extra_args": "SSH options are not passed; use ~/.ssh/config for proxies",
    "ansible_become_exe": "become runs sudo from the host's PATH",
    "ansible_become_flags": "become runs sudo with Mainsail's own flags",
})
BECOME_METHODS = ("sudo",)
CONNECTIONS = ("ssh", "local")
# Ansible's other names for an SSH connection: Mainsail has one SSH transport.
SSH_ALIASES = ("smart", "paramiko", "paramiko_ssh")
# Names the plan sets itself; defining them would be silently ignored, so refuse it.
RESERVED_VARS = frozenset({"inventory_hostname", "inventory_hostname_short", "groups",
                           "group_names", "hostvars", "facts", "ansible_facts", "item",
                           "omit", "role_name", "ansible_check_mode", "playbook_dir"})
_HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,252}")
_GROUP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_ADDRESS = re.compile(r"[A-Za-z0-9_.:%\-]{1,253}")
# Names Ansible accepts with a warning (INI and YAML keys hold little else); refused beyond
# these, because names end up in logs, reports and file names.
_LOOSE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-@]{0,127}")
_PYTHON = re.compile(r"[A-Za-z0-9_./+\-]{1,255}")
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@\-]{0,63}")
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Host:
    """One host: how to reach it, its groups, and its inventory variables (with sources)."""

    name: str
    address: str = ""
    port: int = 22
    user: str = "root"
    ssh_key: str | None = None
    known_hosts: str | None = None
    connection: str = "ssh"
    become: bool = False
    become_user: str = "root"
    become_method: str = "sudo"
    # sudo's password, when sudo asks for one (a vault Secret: printed as ***).
    become_password: str | None = field(default=None, repr=False)
    python_interpreter: str = "python3"  # the interpreter that runs the agent on the host
    # seconds a resident agent waits on the host for the next session (0: none; agent.md)
    agent_persist: float = 60.0
    groups: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    var_sources: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    loc: str = ""

    def __post_init__(self) -> None:
        if not self.address:
            object.__setattr__(self, "address", self.name)

    def __hash__(self) -> int:  # the vars mappings are unhashable; a name is unique
        return hash(("Host", self.name))


@dataclass(frozen=True)
class Group:
    """One group: its place in the tree, its members, and its own variables."""

    name: str
    depth: int = 0
    parents: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()  # direct members
    all_hosts: tuple[str, ...] = ()  # members, including those of child groups
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # inline, then group_vars/
    var_sources: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    loc: str = ""
    priority: int = 1  # ansible_group_priority: among groups of one depth, higher wins
    listed: tuple[str, ...] = ()  # the children in the order the sources name them

    def __hash__(self) -> int:
        return hash(("Group", self.name))


@dataclass(frozen=True)
class Inventory:
    """A loaded inventory; ``hosts`` and ``groups`` keep the file's order.

    ``path`` is the inventory file; for a folder of sources, its first source (so
    ``path.parent`` is the folder); for a host list, a name in the project root."""

    path: Path
    hosts: Mapping[str, Host]
    groups: Mapping[str, Group]
    warnings: tuple[str, ...] = ()
    # Every value from an encrypted group_vars/ or host_vars/ file: any host's plan may show
    # one (through hostvars), so every plan masks them all.
    secrets: tuple[str, ...] = ()
    # Hosts no inventory source names (Ansible's implicit localhost): a pattern selects them
    # only by their own name, never through all, * or a glob (with_implicit_localhost).
    implicit: tuple[str, ...] = ()
    # What read_sources gave when this was loaded, for a second reader (lint) of the same path
    # and root: (path, root, (draft, first, base)). Reading again parsed the whole file (or ran
    # the inventory script) once more per run: 30 to 50 ms for 100 hosts.
    read: Any = field(default=None, compare=False, repr=False)


# ---------------------------------------------------------------------------- loading

@dataclass
class _Draft:
    """What one inventory file says, gathered before anything is merged."""

    display: str
    group_locs: dict[str, str] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    group_vars: dict[str, list[tuple[str, Any, str]]] = field(default_factory=dict)
    host_locs: dict[str, str] = field(default_factory=dict)
    host_vars: dict[str, list[tuple[str, Any, str]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (parent, child) as read

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def find_inventory(path: Path | str) -> Path:
    """The inventory file ``path`` names: itself, or for a folder its first source."""
    p = Path(path)
    if not p.is_dir():
        return p
    found = formats.sources(p, p)
    return found[0].path or p


def load_inventory(path: Path | str, root: Path | str | None = None,
                   secrets: Vault | None = None) -> Inventory:
    """Load an inventory: a YAML or INI file, an inventory script, a folder of such sources,
    or a host list (``"web1,web2,"``), with the group_vars/ and host_vars/ beside it.

    Positions in errors and ``var_sources`` are shown relative to ``root`` (default: the
    current folder, normally the project root). ``secrets``: the run's vault.
    """
    root_dir = Path(root) if root is not None else Path.cwd()
    draft, first, base = read_sources(path, root_dir)
    depths = _depths(draft)
    vars_dir = _VarsDirs(base, root_dir, secrets, draft)
    group_files = {g: vars_dir.load("group_vars", g) for g in draft.parents}
    groups = _build_groups(draft, depths, group_files)
    hosts = {name: _build_host(name, draft, groups, group_files, vars_dir)
             for name in draft.host_locs}
    warnings = (*draft.warnings, *vars_dir.unused(groups, hosts),
                *(f"{draft.group_locs[n]}: {n!r} is both a group and a host"
                  for n in groups if n in hosts))
    return Inventory(first, MappingProxyType(hosts), MappingProxyType(groups), warnings,
                     _secrets([*groups.values(), *hosts.values()]),
                     read=(str(path), root_dir, (draft, first, base)))


def sources_of(inv: Inventory, root_dir: Path) -> tuple[_Draft, Path, Path]:
    """read_sources(inv.path, root_dir), from what loading ``inv`` read when it can be."""
    if inv.read is not None:
        given, root, result = inv.read
        if given == str(inv.path) and Path(root) == Path(root_dir):
            return result  # type: ignore[no-any-return]
    return read_sources(inv.path, root_dir)


def read_sources(path: Path | str, root_dir: Path) -> tuple[_Draft, Path, Path]:
    """What the inventory's sources say, before group_vars/host_vars are read: the draft, the
    first source's path and the folder group_vars/ and host_vars/ are looked for in."""
    given = path if isinstance(path, str) and formats.is_host_list(path) else Path(path)
    found = formats.sources(given, root_dir)
    first = found[0].path or root_dir / "hosts"
    base = Path(given) if isinstance(given, Path) and given.is_dir() else first.parent
    draft = _Draft(display_path(first, root_dir) if found[0].path else "-i host list")
    for source in found:
        if source.kind == "yaml":
            assert source.path is not None
            data, shown = load_yaml(source.path, root_dir), display_path(source.path, root_dir)
        else:
            data, shown = formats.read_source(source, root_dir)
        _read_top(data, draft, shown)
    _reconcile(draft)
    return draft, first, base


def _secrets(owners: Iterable[Group | Host]) -> tuple[str, ...]:
    found = {str(t) for o in owners for t in secret_texts(o.vars) if len(t) >= MIN_SECRET_LENGTH}
    return tuple(sorted(found))


def _read_top(data: Any, draft: _Draft, shown: str) -> None:
    if data is None:
        raise BadInput("inventory is empty", shown, "start with: all: {hosts: {web1: }}")
    if not isinstance(data, dict):
        raise BadInput("inventory must be a mapping of group names (all: ...)",
                       loc_of(data) or shown)
    if "plugin" in data and isinstance(data.get("plugin"), str):
        raise BadInput("inventory plugin configurations are not read", loc_of(data, "plugin"),
                       "list the hosts in a YAML or INI inventory, or use an inventory "
                       "script that prints --list JSON")
    draft.group_locs.setdefault("all", loc_of(data, "all") or shown)
    draft.parents.setdefault("all", [])
    for name, body in data.items():
        # Groups nobody lists as a child become children of `all` (see _reconcile).
        _read_group(_group_name(name, loc_of(data, name), draft), body, "",
                    loc_of(data, name), draft)


def _reconcile(draft: _Draft) -> None:
    """Ansible's last pass: a group without a parent is a child of `all`; a host in no group
    but `all` is in `ungrouped`, and only there (`ungrouped` always exists)."""
    draft.group_locs.setdefault("ungrouped", draft.group_locs["all"])
    draft.parents.setdefault("ungrouped", [])
    for name, parents in draft.parents.items():
        if name != "all" and not parents:
            parents.append("all")
            draft.links.append(("all", name))
    grouped = {h for g, members in draft.members.items() if g not in ("all", "ungrouped")
               for h in members}
    ungrouped = draft.members.setdefault("ungrouped", [])
    ungrouped[:] = [h for h in ungrouped if h not in grouped]
    ungrouped += [h for h in draft.host_locs if h not in grouped and h not in ungrouped]


def _read_group(name: str, body: Any, parent: str, where: str, draft: _Draft) -> None:
    draft.group_locs.setdefault(name, where)
    draft.parents.setdefault(name, [])
    if parent and parent not in draft.parents[name]:
        draft.parents[name].append(parent)
        draft.links.append((parent, name))
    if body is None:
        return
    if not isinstance(body, dict):
        raise BadInput(f"group {name!r} must be a mapping with hosts, vars or children", where,
                       "write an empty group as `name:` with nothing after it")
    for key in ("hosts", "children"):
        if isinstance(body.get(key), str):  # `hosts: test5`, as in Ansible's docs: one host
            body[key] = {body[key]: None}
    for key in body:
        if key not in GROUP_KEYS:
            raise BadInput(f"unknown key {key!r} in group {name!r}", loc_of(body, key),
                           did_you_mean(str(key), GROUP_KEYS) + " (a group holds hosts, "
                           "vars and children)")
    _read_group_hosts(name, body.get("hosts"), loc_of(body, "hosts"), draft)
    _add_vars(draft.group_vars.setdefault(name, []), body.get("vars"), loc_of(body, "vars"),
              f"vars of group {name!r}", draft)
    _read_children(name, body.get("children"), loc_of(body, "children"), draft)


def _read_group_hosts(group: str, hosts: Any, where: str, draft: _Draft) -> None:
    if hosts is None:
        return
    if not isinstance(hosts, dict):
        raise BadInput(f"hosts of group {group!r} must be a mapping of host names", where,
                       "write each host as `web1:` on its own line, not as a list item")
    for raw, host_vars in hosts.items():
        here = loc_of(hosts, raw)
        pattern, port = formats.split_port(str(raw))
        for name in _expand_ranges(pattern, here):
            _host_name(name, here)
            draft.host_locs.setdefault(name, here)
            members = draft.members.setdefault(group, [])
            if name not in members:
                members.append(name)
            if port is not None:  # `web1:2222`, as Ansible reads it
                draft.host_vars.setdefault(name, []).append(("ansible_port", port, here))
            _add_vars(draft.host_vars.setdefault(name, []), host_vars, here,
                      f"vars of host {name!r}", draft)


def _read_children(group: str, children: Any, where: str, draft: _Draft) -> None:
    if children is None:
        return
    if not isinstance(children, dict):
        raise BadInput(f"children of group {group!r} must be a mapping of group names", where,
                       "children: {web: {hosts: {web1: {}}}}")
    for raw, body in children.items():
        here = loc_of(children, raw)
        _read_group(_group_name(raw, here, draft), body, group, here, draft)


def _add_vars(into: list[tuple[str, Any, str]], data: Any, where: str, what: str,
              draft: _Draft) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise BadInput(f"{what} must be a mapping of variable names to values", where,
                       "vars: {http_port: 80}")
    for key, value in data.items():
        _inventory_var_name(key, loc_of(data, key) or where, draft)
        into.append((key, value, loc_of(data, key, col=False) or where))


def _inventory_var_name(key: Any, where: str, draft: _Draft) -> None:
    """Inventory variables may have names Ansible accepts with a warning (``http-port``):
    kept, with a warning, since templates can reach them only as ``vars['http-port']``."""
    if isinstance(key, str) and not key.isidentifier() and _LOOSE_NAME.fullmatch(key):
        draft.warn(f"{where}: variable name {key!r} is not an identifier; templates can use it "
                   f"only as vars[{key!r}] (Ansible warns about it too)")
        return
    check_var_name(key, where)


def check_var_name(key: Any, where: str) -> None:
    """A variable name must be an identifier (so templates can use it) and not a reserved one."""
    if not isinstance(key, str) or not key.isidentifier():
        raise BadInput(f"{key!r} is not a valid variable name", where,
                       "use letters, digits and underscores, not starting with a digit")
    if key in RESERVED_VARS:
        raise BadInput(f"{key!r} is set by Mainsail itself and cannot be defined", where,
                       "rename the variable")


def _host_name(name: str, where: str) -> str:
    if not _HOST_NAME.fullmatch(name):
        raise BadInput(f"host name {name!r} is not allowed", where,
                       "use letters, digits, '.', '-' and '_'; put the real address in "
                       "`address:`")
    return name


def _group_name(name: Any, where: str, draft: _Draft) -> str:
    if not isinstance(name, str) or not _GROUP_NAME.fullmatch(name):
        raise BadInput(f"group name {name!r} is not allowed", where,
                       "use letters, digits, '.', '-' and '_'")
    if not name.isidentifier():
        draft.warn(f"{where}: group name {name!r} is not an identifier; templates must write "
                   f"groups[{name!r}] (Ansible warns about it too)")
    return name


def _expand_ranges(name: str, where: str) -> list[str]:
    """``web[01:03]`` -> web01, web02, web03 (Ansible host ranges, numeric or a:c)."""
    match = _RANGE.search(name)
    if not match:
        return [name]
    start, end, step = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = name[: match.start()], name[match.end():]
    return [n for part in _range_items(start, end, step, where)
            for n in _expand_ranges(head + part + tail, where)]


def _range_items(start: str, end: str, step: int, where: str) -> list[str]:
    if start.isdigit() != end.isdigit() or step < 1:
        raise BadInput(f"host range [{start}:{end}] is not valid", where,
                       "use [01:10] or [a:f], optionally with a step [1:9:2]")
    if start.isdigit():
        width = len(start) if start.startswith("0") else 0
        return [str(i).zfill(width) for i in range(int(start), int(end) + 1, step)]
    return [chr(c) for c in range(ord(start), ord(end) + 1, step)]


def _depths(draft: _Draft) -> dict[str, int]:
    """Each group's depth (longest path from `all`); a cycle of children is BadInput."""
    depths: dict[str, int] = {}
    for name in draft.parents:
        _depth(name, draft, depths, [])
    return depths


def _depth(name: str, draft: _Draft, depths: dict[str, int], chain: list[str]) -> int:
    if name in depths:
        return depths[name]
    if name in chain:
        cycle = " -> ".join(chain[chain.index(name):] + [name])
        raise BadInput(f"groups contain each other: {cycle}", draft.group_locs[name],
                       "a group cannot be its own child")
    parents = draft.parents.get(name) or ([] if name == "all" else ["all"])
    chain.append(name)
    depths[name] = 1 + max((_depth(p, draft, depths, chain) for p in parents), default=-1)
    chain.pop()
    return depths[name]


# ---------------------------------------------------------------------------- vars folders

class _VarsDirs:
    """group_vars/ and host_vars/ beside the inventory file."""

    def __init__(self, base: Path, root: Path, secrets: Vault | None, draft: _Draft) -> None:
        self.base, self.root, self.secrets, self.draft = base, root, secrets, draft

    def files(self, kind: str, name: str) -> list[Path]:
        folder = self.base / kind
        found = [folder / name] if (folder / name).is_file() else []
        found += [folder / f"{name}{ext}" for ext in (".yml", ".yaml")
                  if (folder / f"{name}{ext}").is_file()]
        if (folder / name).is_dir():
            found += sorted(p for p in (folder / name).iterdir()
                            if p.suffix in (".yml", ".yaml") and p.is_file())
        return found

    def load(self, kind: str, name: str) -> list[tuple[str, Any, str]]:
        entries: list[tuple[str, Any, str]] = []
        for path in self.files(kind, name):
            data = load_yaml(path, self.root, vars_file=True, secrets=self.secrets)
            _add_vars(entries, data, display_path(path, self.root),
                      f"{kind}/{path.name}", self.draft)
        return entries

    def unused(self, groups: Mapping[str, Group], hosts: Mapping[str, Host]) -> tuple[str, ...]:
        """Files in group_vars/ or host_vars/ naming no known group or host (typos, usually)."""
        notes = []
        for kind, known in (("group_vars", groups), ("host_vars", hosts)):
            folder = self.base / kind
            if not folder.is_dir():
                continue
            for entry in sorted(folder.iterdir()):
                name = entry.stem if entry.suffix in (".yml", ".yaml") else entry.name
                if name not in known and not name.startswith("."):
                    notes.append(f"{display_path(entry, self.root)}: no {kind[:-5]} named "
                                 f"{name!r} in the inventory; its variables are not used")
        return tuple(notes)


# ---------------------------------------------------------------------------- building

def _build_groups(draft: _Draft, depths: dict[str, int],
                  group_files: Mapping[str, list[tuple[str, Any, str]]]) -> dict[str, Group]:
    children: dict[str, list[str]] = {g: [] for g in draft.parents}
    for name, parents in draft.parents.items():
        for parent in parents:
            children.setdefault(parent, []).append(name)
    host_order = {h: i for i, h in enumerate(draft.host_locs)}
    groups = {}
    for name in draft.parents:
        inline = draft.group_vars.get(name, [])
        priority = _priority(name, inline)
        merged, sources = _merge([[v for v in inline if v[0] != PRIORITY_VAR],
                                  group_files[name]])
        everyone = _descendant_hosts(name, children, draft)
        groups[name] = Group(
            name=name, depth=depths[name], parents=tuple(draft.parents[name]),
            children=tuple(sorted(children.get(name, []))),
            hosts=tuple(draft.members.get(name, [])),
            all_hosts=tuple(sorted(everyone, key=host_order.__getitem__)),
            vars=MappingProxyType(merged), var_sources=MappingProxyType(sources),
            loc=draft.group_locs[name], priority=priority,
            listed=tuple(child for parent, child in draft.links if parent == name))
    return groups


def _priority(name: str, inline: list[tuple[str, Any, str]]) -> int:
    """ansible_group_priority, set in the inventory source itself (as in Ansible)."""
    given = [(value, where) for key, value, where in inline if key == PRIORITY_VAR]
    if not given:
        return 1
    value, where = given[-1]
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise BadInput(f"{PRIORITY_VAR} of group {name!r} must be a whole number, not "
                       f"{value!r}", where, f"{PRIORITY_VAR}: 10 (higher wins among siblings)")
    return int(value)


def _descendant_hosts(name: str, children: dict[str, list[str]], draft: _Draft) -> set[str]:
    if name == "all":
        return set(draft.host_locs)
    found, todo, seen = set(), [name], set()
    while todo:
        group = todo.pop()
        if group not in seen:
            seen.add(group)
            found.update(draft.members.get(group, []))
            todo.extend(children.get(group, []))
    return found


def _merge(layers: Iterable[list[tuple[str, Any, str]]]) -> tuple[dict[str, Any], dict[str, str]]:
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        for key, value, source in layer:
            merged[key], sources[key] = value, source
    return merged, sources


def _host_groups(name: str, groups: Mapping[str, Group]) -> tuple[str, ...]:
    member_of = [g for g in groups.values() if name in g.all_hosts]
    return tuple(g.name for g in sorted(member_of, key=lambda g: (g.depth, g.priority, g.name)))


def _build_host(name: str, draft: _Draft, groups: Mapping[str, Group],
                group_files: Mapping[str, list[tuple[str, Any, str]]], dirs: _VarsDirs) -> Host:
    ordered = _host_groups(name, groups)
    layers = [[v for v in draft.group_vars.get(g, []) if v[0] != PRIORITY_VAR] for g in ordered]
    layers += [group_files[g] for g in ordered]
    layers += [draft.host_vars.get(name, []), dirs.load("host_vars", name)]
    merged, sources = _merge(layers)
    for key in sorted(UNUSED_ANSIBLE_VARS.keys() & merged.keys()):
        draft.warn(f"{sources[key]}: {key} is not used: {UNUSED_ANSIBLE_VARS[key]}")
    ranks = {key: i for i, layer in enumerate(layers) for key, _, _ in layer}
    conn = _connection(name, merged, sources, ranks, dirs.base)
    return Host(name=name, groups=ordered, vars=MappingProxyType(merged),
                var_sources=MappingProxyType(sources), loc=draft.host_locs[name], **conn)


# ---------------------------------------------------------------------------- connection

def _connection(name: str, merged: Mapping[str, Any], sources: Mapping[str, str],
                ranks: Mapping[str, int], base: Path) -> dict[str, Any]:
    """The connection settings, each from its own name or an Ansible alias (highest layer wins)."""
    out: dict[str, Any] = {}
    for setting, aliases in CONNECTION_VARS.items():
        given = [n for n in (setting, *aliases) if n in merged]
        if not given:
            continue
        chosen = max(given, key=lambda n: (ranks.get(n, -1), n == setting))
        value = merged[chosen]
        try:
            if has_template(value):
                value = render_value(value, {**merged, "inventory_hostname": name},
                                     where=sources[chosen])
            out[setting] = _CHECKS[setting](value, f"host {name}: {chosen}", sources[chosen],
                                            base)
        except BadInput as exc:  # the message quotes the value, which may be a secret
            raise Masker().with_secrets(secret_texts(merged)).error(exc) from None
    return out


def _check_address(value: Any, label: str, where: str, base: Path) -> str:
    text = str(value)
    if isinstance(value, bool) or not _ADDRESS.fullmatch(text):
        raise BadInput(f"{label} {text!r} is not a host name or IP address", where,
                       "e.g. address: 192.0.2.10 or address: web1.example.org")
    return text


def _check_port(value: Any, label: str, where: str, base: Path) -> int:
    if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(value) < 65536:
        raise BadInput(f"{label} {value!r} is not a port number (1-65535)", where,
                       "e.g. port: 22")
    return int(value)


def _check_user(value: Any, label: str, where: str, base: Path) -> str:
    if not isinstance(value, str) or not _USER.fullmatch(value):
        raise BadInput(f"{label} {value!r} is not a user name", where, "e.g. user: deploy")
    return value


def _check_path(value: Any, label: str, where: str, base: Path) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise BadInput(f"{label} must be a file path", where,
                       "relative paths are read from the inventory's folder")
    path = Path(value).expanduser()
    # Absolute and normalised, so the path still holds when the current folder changes.
    return os.path.normpath(path if path.is_absolute() else base.absolute() / path)


def _check_connection(value: Any, label: str, where: str, base: Path) -> str:
    if value in SSH_ALIASES:
        return "ssh"
    if value not in CONNECTIONS:
        raise BadInput(f"{label} must be ssh or local, not {value!r}", where,
                       did_you_mean(str(value), CONNECTIONS))
    return str(value)


def _check_become(value: Any, label: str, where: str, base: Path) -> bool:
    return as_bool(value, label, where)


def _check_become_method(value: Any, label: str, where: str, base: Path) -> str:
    if str(value) not in BECOME_METHODS:
        raise BadInput(f"{label} {str(value)!r} is not supported", where,
                       "become_method: sudo (the only method; su, doas and others are not "
                       "supported)")
    return str(value)


def _check_become_password(value: Any, label: str, where: str, base: Path) -> str:
    if isinstance(value, (dict, list, bool)) or value is None:
        raise BadInput(f"{label} must be a string", where,
                       "keep it in an encrypted vars file: become_password: ...")
    return value if isinstance(value, str) else str(value)


def _check_python(value: Any, label: str, where: str, base: Path) -> str:
    if not isinstance(value, str) or not _PYTHON.fullmatch(value):
        raise BadInput(f"{label} {value!r} is not an interpreter path", where,
                       "e.g. ansible_python_interpreter: /usr/bin/python3")
    return value


def _check_persist(value: Any, label: str, where: str, base: Path) -> float:
    try:
        seconds = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise BadInput(f"{label} {value!r} is not a number of seconds from 0 to 3600", where,
                       "e.g. agent_persist: 60, or 0 for no resident agent")
    return seconds


_CHECKS = MappingProxyType({"address": _check_address, "port": _check_port, "user": _check_user,
                            "ssh_key": _check_path, "known_hosts": _check_path,
                            "connection": _check_connection, "become": _check_become,
                            "become_user": _check_user, "become_method": _check_become_method,
                            "become_password": _check_become_password,
                            "python_interpreter": _check_python,
                            "agent_persist": _check_persist})


def check_connection_value(setting: str, value: Any, label: str, where: str) -> Any:
    """A connection setting given outside the inventory (ansible.cfg), checked as the
    inventory's own are (paths are absolute there already)."""
    return _CHECKS[setting](value, label, where, Path("/"))


# ---------------------------------------------------------------------------- selection

def select_hosts(inv: Inventory, host: str | None = None, group: str | None = None,
                 limit: str | None = None) -> list[Host]:
    """Hosts chosen by ``--host`` (names, globs), ``--group`` and ``--limit`` (Ansible pattern).

    Each given filter narrows the selection; none given means every host. The result keeps
    inventory order. A name or pattern that matches nothing is BadInput with suggestions.
    """
    chosen = set(inv.hosts)
    if inv.implicit and (host or group or limit):
        chosen -= set(inv.implicit)  # chosen by a filter only where it names them
        if limit:
            chosen |= set(inv.implicit) & match_pattern(inv, limit)
    if host:
        chosen &= _by_host_names(inv, host)
    if group:
        chosen &= _by_group_names(inv, group)
    if limit:
        chosen &= match_pattern(inv, limit)
    if not chosen:
        raise BadInput("the selection matches no hosts", _describe(host, group, limit),
                       "the filters are combined: a host must match all of them")
    return [h for name, h in inv.hosts.items() if name in chosen]


def _describe(host: str | None, group: str | None, limit: str | None) -> str:
    parts = [f"--{k}={v}" for k, v in (("host", host), ("group", group), ("limit", limit)) if v]
    return " ".join(parts)


def _split_names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _by_host_names(inv: Inventory, text: str) -> set[str]:
    found: set[str] = set()
    for item in _split_names(text):
        matched = _glob(item, inv.hosts) if _GLOB.search(item) else \
            ({item} if item in inv.hosts else set())
        if not matched:
            raise BadInput(f"no host matches {item!r}", f"--host={text}",
                           did_you_mean(item, inv.hosts))
        found |= matched
    return found


def _by_group_names(inv: Inventory, text: str) -> set[str]:
    found: set[str] = set()
    for item in _split_names(text):
        names = _glob(item, inv.groups) if _GLOB.search(item) else \
            ({item} if item in inv.groups else set())
        if not names:
            raise BadInput(f"no group matches {item!r}", f"--group={text}",
                           did_you_mean(item, inv.groups))
        found |= {h for g in names for h in inv.groups[g].all_hosts}
    return found


def _glob(pattern: str, names: Iterable[str]) -> set[str]:
    return {n for n in names if fnmatch.fnmatchcase(n, pattern)}


def match_pattern(inv: Inventory, pattern: str) -> set[str]:
    """Host names an Ansible host pattern selects.

    ``a:b`` or ``a,b`` is a union, ``:&b`` an intersection, ``:!b`` an exclusion; each term is
    ``all``/``*``, a group name, a host name, a glob over both, or ``~regex``. Unions are taken
    first, then intersections, then exclusions, as in Ansible.
    """
    terms = [t.strip() for t in re.split(r"[:,]", pattern) if t.strip()]
    if not terms:
        raise BadInput("empty host pattern", f"pattern {pattern!r}")
    unions = [t for t in terms if t[0] not in "&!"]
    chosen = set().union(*(_term(inv, t, pattern) for t in unions)) if unions else set(inv.hosts)
    for term in terms:
        if term[0] == "&":
            chosen &= _term(inv, term[1:], pattern)
        elif term[0] == "!":
            chosen -= _term(inv, term[1:], pattern)
    if not chosen:
        raise BadInput(f"host pattern {pattern!r} matches no hosts", f"pattern {pattern!r}",
                       "the parts after :& must all match, and :! parts are removed")
    return chosen


def _term(inv: Inventory, term: str, pattern: str) -> set[str]:
    if term in ("all", "*"):
        return set(inv.hosts) - set(inv.implicit)
    if term.startswith("~"):
        return _regex_term(inv, term[1:], pattern) - set(inv.implicit)
    if _GLOB.search(term):
        groups = _glob(term, inv.groups)
        found = _glob(term, inv.hosts) | {h for g in groups for h in inv.groups[g].all_hosts}
        found -= set(inv.implicit)
    else:
        found = set(inv.groups[term].all_hosts) if term in inv.groups else set()
        found |= {term} if term in inv.hosts else set()
    if not found and term not in inv.groups:
        raise BadInput(f"{term!r} is not a group or host in the inventory",
                       f"pattern {pattern!r}", did_you_mean(term, [*inv.groups, *inv.hosts]))
    return found


LOCALHOST = "localhost"


def names_localhost(pattern: Any) -> bool:
    """Whether a host pattern names ``localhost`` itself (a term of it, not a glob)."""
    if not isinstance(pattern, str):
        return False
    return any(t.strip().lstrip("&") == LOCALHOST for t in re.split(r"[:,]", pattern))


def with_implicit_localhost(inv: Inventory, patterns: Iterable[Any],
                            python: str) -> Inventory:
    """The inventory with Ansible's implicit localhost, where a play's pattern names
    ``localhost`` and no inventory source does: the controller itself (connection local,
    ``python`` for its interpreter), in no group, not even ``all``, with the ``all`` group's
    variables, as Ansible's."""
    if LOCALHOST in inv.hosts or not any(names_localhost(p) for p in patterns):
        return inv
    base = inv.groups["all"].vars if "all" in inv.groups else {}
    sources = inv.groups["all"].var_sources if "all" in inv.groups else {}
    host_vars = {**base, "ansible_connection": "local", "ansible_python_interpreter": python}
    host = Host(LOCALHOST, address=LOCALHOST, connection="local", python_interpreter=python,
                vars=MappingProxyType(host_vars),
                var_sources=MappingProxyType({**sources,
                                              "ansible_connection": "implicit localhost",
                                              "ansible_python_interpreter": "implicit localhost"}),
                loc="implicit localhost")
    return dataclasses.replace(inv, hosts=MappingProxyType({**inv.hosts, LOCALHOST: host}),
                               implicit=(*inv.implicit, LOCALHOST))


def _regex_term(inv: Inventory, regex: str, pattern: str) -> set[str]:
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise BadInput(f"bad regular expression {regex!r}: {exc}", f"pattern {pattern!r}") from None
    found = {n for n in inv.hosts if compiled.match(n)}
    found |= {h for g in inv.groups if compiled.match(g) for h in inv.groups[g].all_hosts}
    if not found:
        raise BadInput(f"~{regex} matches no group or host", f"pattern {pattern!r}")
    return found


# ---------------------------------------------------------------------------- export

def ansible_list(inv: Inventory, hosts: Iterable[Host] | None = None) -> dict[str, Any]:
    """The inventory in ``ansible-inventory --list``'s shape: each group's direct hosts and
    children (empty ones left out, `all` without hosts), and every host's merged variables
    under ``_meta.hostvars``. Values from encrypted files are shown as ``***``."""
    chosen = [h.name for h in (hosts if hosts is not None else inv.hosts.values())]
    wanted = set(chosen)
    out: dict[str, Any] = {}
    for group in inv.groups.values():
        entry: dict[str, Any] = {}
        members = [h for h in group.hosts if h in wanted]
        if members and group.name != "all":
            entry["hosts"] = members
        children = _children_in_order(inv, group)
        if children:
            entry["children"] = children
        if entry:
            out[group.name] = entry
    out["_meta"] = {"hostvars": {name: _shown(dict(inv.hosts[name].vars)) for name in chosen
                                 if inv.hosts[name].vars}}
    return out


def _children_in_order(inv: Inventory, group: Group) -> list[str]:
    """A group's children in the order the inventory names them (``ungrouped`` first under
    `all`, as Ansible lists it, then the groups listed under `all`, then those without a
    parent)."""
    kids = list(group.listed)
    if "ungrouped" in kids:
        kids.remove("ungrouped")
        kids.insert(0, "ungrouped")
    return kids


def _shown(value: Any) -> Any:
    if isinstance(value, SECRET_TYPES):
        return "***"
    if isinstance(value, Mapping):
        return {str(k): _shown(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    return value
