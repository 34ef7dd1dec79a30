"""Warnings about variables, worked out before a run: defined and never read, or defined where
no host ever sees the value. They never stop a run; each is printed once, with its file:line.

**Never read.** A variable defined in the inventory (inline, ``group_vars/``, ``host_vars/``)
or in the ``defaults/`` of a role the playbook applies is reported when its name appears nowhere the project reads
names: templates (every word of every file under ``templates/`` and ``roles/*/templates/``,
and of the files beside the playbooks that are not YAML),
the values of every YAML file of playbooks, roles (tasks, handlers, meta, vars, defaults,
checks) and the inventory (so ``when:``, ``loop:``, ``hostvars[h]['x']`` and a var built from
another all count; a mapping key does not), and the roles' testinfra files. The test is by
word, so it errs towards silence: a name that also occurs as an ordinary word is taken as
read. Names Mainsail itself reads (the connection settings and their ``ansible_*`` aliases,
``mainsail_*``, ``testbed_*``) are never reported. A name built at run time
(``lookup('vars', 'port_' ~ x)``) cannot be seen: such a definition is reported.

**Never seen.** For each host, the inventory's definitions are stacked in precedence order
(docs/inventory.md): inline group vars (by group depth), ``group_vars/`` files, inline host
vars, ``host_vars/`` files. A definition that every host it applies to gets from a higher
level is reported with the definition that hides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from . import inventory as inventory_mod
from . import vault
from .errors import MainsailError, did_you_mean
from .inventory import CONNECTION_VARS, Inventory
from .playbook import Play
from .yamlio import display_path, load_yaml, loc_of

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A YAML line's key (`  - name:`, `"key":`): a definition or an argument name, not a read.
_KEY = re.compile(r"^(?:\s*-\s+)*\s*(['\"]?)[A-Za-z_][\w.\-]*\1\s*:(?=\s|$)")
_YAML = (".yml", ".yaml")
_ROLE_YAML_PARTS = ("tasks", "handlers", "meta", "vars", "defaults", "checks")
_READ_BY_MAINSAIL = frozenset(n for setting, aliases in CONNECTION_VARS.items()
                              for n in (setting, *aliases))
_READ_BY_MAINSAIL_PREFIXES = ("ansible_", "mainsail_", "testbed_")
_MAX_FILE = 2 * 1024 * 1024


@dataclass(frozen=True)
class Definition:
    """One variable set in one place."""

    name: str
    where: str  # file:line


def warnings(root: Path, inv: Inventory, plays: Sequence[Play] = (),
             secrets: vault.Vault | None = None) -> list[str]:
    """Every warning about the project's variables (the inventory's, and the defaults of the
    roles ``plays`` apply), each once, in a stable order."""
    try:
        inline, base = inventory_mod.sources_of(inv, root)[::2]
    except (MainsailError, OSError):
        inline, base = None, inv.path.parent  # a source that cannot be read again: no checks
    dirs = inventory_mod._VarsDirs(base, root, secrets, inline) if inline is not None else None
    layers = _host_layers(inv, inline, dirs) if inline is not None else {}
    defined = _unique([d for stack in layers.values() for layer in stack for d in layer] +
                      list(_role_defaults(plays)))
    read = words_read(root, inv.path.parent, secrets)
    notes = [_unused_note(d, read) for d in defined if not _is_read(d.name, read)]
    notes += _shadowed_notes(layers)
    return list(dict.fromkeys(notes))


# ---------------------------------------------------------------------------- definitions

def _entries(items: Iterable[tuple[str, Any, str]]) -> list[Definition]:
    return [Definition(name, where) for name, _, where in items]


def _host_layers(inv: Inventory, draft: Any, dirs: Any) -> dict[str, list[list[Definition]]]:
    """Per host, its definitions lowest precedence first, as the inventory merges them."""
    files: dict[tuple[str, str], list[Definition]] = {}

    def load(kind: str, name: str) -> list[Definition]:
        if (kind, name) not in files:
            files[(kind, name)] = _entries(dirs.load(kind, name))
        return files[(kind, name)]

    out = {}
    for host in inv.hosts.values():
        stack = [_entries(draft.group_vars.get(g, [])) for g in host.groups]
        stack += [load("group_vars", g) for g in host.groups]
        stack += [_entries(draft.host_vars.get(host.name, [])), load("host_vars", host.name)]
        out[host.name] = stack
    return out


def _role_defaults(plays: Sequence[Play]) -> Iterator[Definition]:
    """The defaults of every role the plays apply, as the playbook loader read them."""
    roles = {use.role.name: use.role for play in plays for use in play.roles}
    for role in roles.values():
        for key in role.defaults:
            yield Definition(str(key), loc_of(role.defaults, key, col=False) or
                             "%s/defaults/main.yml" % role.loc)


def _unique(defs: Iterable[Definition]) -> list[Definition]:
    return list(dict.fromkeys(defs))


# ---------------------------------------------------------------------------- reads

def words_read(root: Path, inventory_dir: Path, secrets: vault.Vault | None = None) -> set[str]:
    """Every word the project reads anywhere (see the module's docstring)."""
    found: set[str] = set()
    for path in _template_files(root):
        found.update(_WORD.findall(_text(path, root, secrets)))
    for path in _yaml_files(root, inventory_dir):
        found.update(_yaml_value_words(_text(path, root, secrets)))
    return found


def _template_files(root: Path) -> Iterator[Path]:
    """Files read whole: templates, the roles' testinfra checks, and the files beside the
    playbooks that are not YAML (templates kept next to a playbook, as Ansible allows)."""
    folders = [root / "templates", root / "playbooks",
               *sorted((root / "roles").glob("*/templates")),
               *sorted((root / "roles").glob("*/tests"))]
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and \
                    not (folder.name == "playbooks" and path.suffix in _YAML):
                yield path


def _yaml_files(root: Path, inventory_dir: Path) -> Iterator[Path]:
    folders = [root / "playbooks", root / "vars", inventory_dir,
               *(role / part for role in sorted((root / "roles").glob("*"))
                 for part in _ROLE_YAML_PARTS)]
    for folder in folders:
        if not folder.is_dir():
            continue
        if folder == root:
            # an inventory beside everything else (hosts.ini at the top, a host list): its
            # own files and its vars folders, not the whole tree (a .venv, or / itself)
            yield from sorted(p for p in folder.iterdir() if p.suffix in _YAML and p.is_file())
            for sub in (folder / "group_vars", folder / "host_vars"):
                if sub.is_dir():
                    yield from sorted(p for p in sub.rglob("*")
                                      if p.suffix in _YAML and p.is_file())
            continue
        yield from sorted(p for p in folder.rglob("*") if p.suffix in _YAML and p.is_file())


def _text(path: Path, root: Path, secrets: vault.Vault | None) -> str:
    """A file's text (an encrypted vars file's plaintext); "" when it cannot be read."""
    try:
        if path.stat().st_size > _MAX_FILE:
            return ""
        text = path.read_text(encoding="utf-8", errors="replace")
        if vault.is_encrypted(text):
            text = vault.decrypt_text(text, display_path(path, root),
                                      secrets if secrets is not None else vault.Vault())
        return text
    except (OSError, MainsailError):
        return ""


def _yaml_value_words(text: str) -> set[str]:
    """The words of a YAML file's values: each line without its key, full-line comments
    left out (a commented-out `# port: 80` reads nothing)."""
    found: set[str] = set()
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        found.update(_WORD.findall(_KEY.sub("", line, count=1)))
    return found


def _is_read(name: str, read: set[str]) -> bool:
    return name in read or name in _READ_BY_MAINSAIL or \
        name.startswith(_READ_BY_MAINSAIL_PREFIXES)


def _unused_note(d: Definition, read: set[str]) -> str:
    close = did_you_mean(d.name, [w for w in read if "_" in w and w != d.name], listing=0)
    return ("%s: variable %r is defined but never read: no template, task, condition or "
            "check in the project names it (hint: remove it, or read it where it is meant to "
            "be used%s)" % (d.where, d.name, "; " + close if close.startswith("did") else ""))


# ---------------------------------------------------------------------------- shadows

def _shadowed_notes(layers: Mapping[str, list[list[Definition]]]) -> list[str]:
    """Definitions no host sees, each with what hides it on each host it applies to."""
    seen: set[Definition] = set()
    hidden: dict[Definition, list[str]] = {}
    for host, stack in layers.items():
        winners: dict[str, Definition] = {}
        for layer in stack:
            for d in layer:
                winners[d.name] = d
        for layer in stack:
            for d in layer:
                if winners[d.name] == d:
                    seen.add(d)
                else:
                    hidden.setdefault(d, []).append("%s: %s" % (host, winners[d.name].where))
    notes = []
    for d, hiders in hidden.items():
        if d in seen:
            continue
        shown = ", ".join(hiders[:4]) + (", ..." if len(hiders) > 4 else "")
        notes.append("%s: variable %r is never seen: every host it applies to gets it from a "
                     "higher precedence level (%s) (hint: remove one of them; mainsail hosts "
                     "shows each host's value and where it comes from, mainsail doc inventory "
                     "the precedence)" % (d.where, d.name, shown))
    return notes
