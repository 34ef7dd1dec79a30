"""Ansible's other inventory sources, read into the YAML inventory's shape.

Each reader returns the same tree the YAML format loads as (``{group: {hosts: {name: vars},
vars: {...}, children: {...}}}``, mappings that remember their file:line), so inventory.py
merges every source one way:

* an INI file (``[group]``, ``[group:vars]``, ``[group:children]``, ``host:port``, inline
  ``k=v`` whose values are typed as Ansible types them: Python literals, else text);
* an executable inventory script (``--list`` JSON with ``_meta.hostvars``, else ``--host``
  for each host);
* a host list (``-i 'web1,web2:2222,'``), whose hosts land in ``ungrouped``.

:func:`sources` says which reader reads what, as Ansible chooses its inventory plugins: a
comma list is a host list, an executable file a script, ``.yml``/``.yaml``/``.json`` YAML, a
file without one of those extensions YAML when it holds a mapping and INI otherwise; a folder
is every source in it, by name.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BadInput
from .yamlio import Pos, YDict, display_path, load_yaml_text, read_text

YAML_EXTS = (".yml", ".yaml", ".json")
# Files in an inventory folder that are not inventory sources (Ansible's ignore list, plus
# the known_hosts file Mainsail keeps there).
IGNORED_EXTS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig",
                ".cfg", ".retry", ".ini~")
IGNORED_NAMES = ("group_vars", "host_vars", "known_hosts")
SCRIPT_TIMEOUT = 60.0
_SECTION = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?")
_GROUP_LINE = re.compile(r"([^:\]\s]+)\s*(?:#.*)?")
_INI_SECTION = re.compile(r"^\s*\[[^\]\s]+\]\s*(?:[#;].*)?$", re.M)
_PORT = re.compile(r"(?P<host>[^:\[\]\s]*(?:\[[^\]]*\][^:\[\]\s]*)*):(?P<port>[0-9]+)")


@dataclass(frozen=True)
class Source:
    """One inventory source: ``kind`` is yaml, ini, script or list; ``text`` the host list."""

    kind: str
    path: Path | None = None
    text: str = ""


def is_host_list(value: str) -> bool:
    """``-i 'web1,web2,'``: a comma in something that is not an existing path."""
    return "," in value and not os.path.exists(value)


def sources(given: Path | str, root: Path) -> list[Source]:
    """The sources ``given`` names: a host list, a file, or every source in a folder."""
    if isinstance(given, str) and is_host_list(given):
        return [Source("list", text=given)]
    path = Path(given)
    if path.is_dir():
        found = [s for entry in sorted(path.iterdir()) if _in_folder(entry)
                 for s in sources(entry, root)]
        if not found:
            raise BadInput("no inventory source in this folder", display_path(path, root),
                           f"create {path / 'hosts.yml'} (Ansible YAML inventory)")
        return found
    return [Source(file_kind(path), path)]


def _in_folder(entry: Path) -> bool:
    name = entry.name
    return not (name.startswith(".") or name in IGNORED_NAMES or name.endswith(IGNORED_EXTS))


def file_kind(path: Path) -> str:
    """yaml, ini or script, as Ansible picks its plugin for the file: an executable file is a
    script; a file with a ``[section]`` line is INI (Ansible's INI plugin takes what its YAML
    plugin could not read, whatever the name); otherwise ``.yml``/``.yaml``/``.json`` is
    YAML, ``.ini`` INI, and any other name YAML when it holds a mapping, else INI."""
    if not path.is_file():
        return "yaml"  # a missing file: the YAML loader says so
    if os.access(path, os.X_OK) and path.suffix not in YAML_EXTS:
        return "script"
    try:
        text = path.read_text("utf-8-sig", errors="replace")
    except OSError:
        return "yaml"  # the YAML loader names the problem
    if _INI_SECTION.search(text):
        return "ini"
    if path.suffix in YAML_EXTS:
        return "yaml"
    return "ini" if path.suffix == ".ini" or not _holds_a_mapping(text, path) else "yaml"


def _holds_a_mapping(text: str, path: Path) -> bool:
    try:
        return isinstance(load_yaml_text(text, str(path)), dict)
    except BadInput:
        return False


# ---------------------------------------------------------------------------- positions

def _node(pos: Pos) -> YDict:
    node = YDict()
    node.pos, node.key_pos = pos, {}
    return node


def _put(node: YDict, key: str, value: Any, pos: Pos) -> Any:
    if key not in node:
        node[key] = value
        node.key_pos[key] = pos
    return node[key]


def parse_value(text: str) -> Any:
    """An INI value as Ansible types it: a Python literal (``22``, ``True``, ``[1, 2]``,
    ``'quoted'``), else the text itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    if value is ... or isinstance(value, (complex, bytes, set)):
        return text
    return value


def split_port(pattern: str) -> tuple[str, int | None]:
    """``web1:2222`` -> (web1, 2222); ``web[01:03]:22`` keeps its range; no port -> None."""
    match = _PORT.fullmatch(pattern)
    if match and match["host"]:
        return match["host"], int(match["port"])
    return pattern, None


# ---------------------------------------------------------------------------- INI

class _Ini:
    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.tree = _node(Pos(shown, 1, 1))
        self.defined: set[str] = {"all", "ungrouped"}
        self.wanted: dict[str, tuple[str, Pos]] = {}  # group -> (section kind, where)

    def group(self, name: str, pos: Pos) -> YDict:
        return _put(self.tree, name, _node(pos), pos)

    def section(self, body: YDict, key: str, pos: Pos) -> YDict:
        return _put(body, key, _node(pos), pos)

    def error(self, text: str, pos: Pos, hint: str = "") -> BadInput:
        return BadInput(text, pos.short, hint)


def read_ini(text: str, shown: str) -> YDict:
    """An INI inventory as the YAML inventory's tree (positions name the INI lines)."""
    ini = _Ini(shown)
    group, state = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        pos = Pos(shown, number, 1)
        if not line or line[0] in "#;":
            continue
        section = _SECTION.fullmatch(line)
        if section:
            group, state = section[1], section[2] or "hosts"
            _start_section(ini, group, state, line, pos)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise ini.error(f"invalid section line {line!r}", pos,
                            "write [group], [group:vars] or [group:children], without spaces")
        if state == "hosts":
            _ini_host(ini, group, line, pos)
        elif state == "vars":
            _ini_var(ini, group, line, pos)
        else:
            _ini_child(ini, group, line, pos)
    for name, (kind, pos) in ini.wanted.items():
        if name not in ini.defined:
            what = f"[{name}:vars] names" if kind == "vars" else f"[{kind}:children] lists"
            raise ini.error(f"{what} the group {name!r}, which has no section of its own", pos,
                            f"add a [{name}] section (empty if it has no hosts)")
    return ini.tree


def _start_section(ini: _Ini, group: str, state: str, line: str, pos: Pos) -> None:
    if state not in ("hosts", "vars", "children"):
        raise ini.error(f"section {line!r} has an unknown type {state!r}", pos,
                        "the types are :vars and :children")
    ini.group(group, pos)
    if state == "vars":
        ini.wanted.setdefault(group, ("vars", pos))
    else:
        ini.defined.add(group)


def _ini_host(ini: _Ini, group: str, line: str, pos: Pos) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        raise ini.error(f"cannot read the host line ({exc})", pos,
                        "close the quote, or quote values with spaces") from None
    if not tokens:
        return
    pattern, port = split_port(tokens[0])
    if tokens[0].endswith(":") or pattern == "---":
        raise ini.error(f"{tokens[0]!r} is not a host name", pos,
                        "a ':' after a host name gives its port (web1:2222); '---' starts "
                        "a YAML file, which needs a .yml name")
    hosts = ini.section(ini.group(group, pos), "hosts", pos)
    host_vars = _put(hosts, pattern, _node(pos), pos)
    if port is not None:
        host_vars["ansible_port"] = port
        host_vars.key_pos["ansible_port"] = pos
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            raise ini.error(f"expected key=value after the host name, got {token!r}", pos,
                            "e.g. web1 ansible_host=192.0.2.10 http_port=8080")
        host_vars[key] = parse_value(value)
        host_vars.key_pos[key] = pos


def _ini_var(ini: _Ini, group: str, line: str, pos: Pos) -> None:
    key, sep, value = line.partition("=")
    if not sep:
        raise ini.error(f"expected key=value in [{group}:vars], got {line!r}", pos,
                        "e.g. http_port=80")
    body = ini.section(ini.group(group, pos), "vars", pos)
    body[key.strip()] = parse_value(value.strip())
    body.key_pos[key.strip()] = pos


def _ini_child(ini: _Ini, group: str, line: str, pos: Pos) -> None:
    match = _GROUP_LINE.fullmatch(line)
    if not match:
        raise ini.error(f"expected a group name in [{group}:children], got {line!r}", pos)
    children = ini.section(ini.group(group, pos), "children", pos)
    _put(children, match[1], None, pos)
    ini.wanted.setdefault(match[1], (group, pos))


# ---------------------------------------------------------------------------- host list

def read_host_list(text: str, shown: str = "-i host list") -> YDict:
    """``web1,web2:2222,`` as the tree of one group, ``ungrouped``."""
    pos = Pos(shown, 1, 1)
    tree = _node(pos)
    hosts = _put(_put(tree, "ungrouped", _node(pos), pos), "hosts", _node(pos), pos)
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, port = split_port(item)
        host_vars = _put(hosts, name, _node(pos), pos)
        if port is not None:
            host_vars["ansible_port"] = port
            host_vars.key_pos["ansible_port"] = pos
    return tree


# ---------------------------------------------------------------------------- script

def read_script(path: Path, shown: str) -> YDict:
    """Run an inventory script with ``--list`` (and ``--host NAME`` when its JSON has no
    ``_meta.hostvars``) and read what it prints."""
    data = _run_json(path, shown, "--list")
    if not isinstance(data, dict):
        raise BadInput("the inventory script's --list output is not a JSON object", shown,
                       "print {\"group\": {\"hosts\": [...]}, \"_meta\": {\"hostvars\": {}}}")
    meta = data.get("_meta")
    hostvars = meta.get("hostvars") if isinstance(meta, dict) else None
    pos = Pos(shown, 1, 1)
    tree = _node(pos)
    for name, body in data.items():
        if name != "_meta":
            _script_group(tree, str(name), body, shown, pos)
    seen: set[str] = set()
    for group in list(tree.values()):
        for host, host_vars in (group.get("hosts") or {}).items():
            if host in seen:  # a host in several groups gets its variables once
                continue
            seen.add(host)
            found = (hostvars.get(host) if isinstance(hostvars, dict)
                     else _run_json(path, shown, "--host", host)) or {}
            if not isinstance(found, dict):
                raise BadInput(f"the inventory script's variables for {host!r} are not a "
                               "JSON object", shown)
            host_vars.update(found)
            host_vars.key_pos.update({k: pos for k in found})
    return tree


def _script_group(tree: YDict, name: str, body: Any, shown: str, pos: Pos) -> None:
    group = _put(tree, name, _node(pos), pos)
    if isinstance(body, list):  # {"web": ["web1", "web2"]}: only hosts
        body = {"hosts": body}
    if not isinstance(body, dict):
        raise BadInput(f"group {name!r} in the inventory script's output is neither a list "
                       "of hosts nor an object", shown)
    for host in body.get("hosts") or []:
        _put(_put(group, "hosts", _node(pos), pos), str(host), _node(pos), pos)
    for key, value in (body.get("vars") or {}).items():
        _put(_put(group, "vars", _node(pos), pos), str(key), value, pos)
    for child in body.get("children") or []:
        _put(_put(group, "children", _node(pos), pos), str(child), None, pos)


def _run_json(path: Path, shown: str, *args: str) -> Any:
    try:
        done = subprocess.run([str(path.absolute()), *args], capture_output=True,
                              timeout=SCRIPT_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BadInput(f"cannot run the inventory script {' '.join(args)} ({exc})", shown,
                       "an executable file in the inventory is run as an inventory script; "
                       "chmod -x it if it is not one") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BadInput(f"the inventory script {' '.join(args)} exited {done.returncode}"
                       + (f": {err[-1]}" if err else ""), shown)
    try:
        return json.loads(done.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"the inventory script {' '.join(args)} printed no valid JSON ({exc})",
                       shown) from None


def read_source(source: Source, root: Path) -> tuple[Any, str]:
    """The tree of one INI, script or host-list source, and how to name it in messages."""
    if source.kind == "list":
        return read_host_list(source.text), "-i host list"
    assert source.path is not None
    shown = display_path(source.path, root)
    if source.kind == "script":
        return read_script(source.path, shown), shown
    return read_ini(read_text(source.path, root, what="inventory file"), shown), shown
