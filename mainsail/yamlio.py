"""Safe YAML loading that remembers where every mapping, sequence and key came from.

Mappings load as :class:`YDict` and sequences as :class:`YList`; both are ordinary ``dict`` /
``list`` objects that also carry a :class:`Pos` for themselves and for each key or item, so
any later validation error can name ``file:line:column``. Only ``yaml.SafeLoader`` machinery
is used (no Python object tags), and hostile input (duplicate keys, alias bombs, binary or
huge files) is refused with :class:`~mainsail.errors.BadInput`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import ansible_vault, vault
from .errors import BadInput

MAX_FILE_BYTES = 5 * 1024 * 1024
# An alias bomb stays small on disk but expands exponentially when walked (rendering,
# JSON dumps); refuse documents whose fully expanded tree is absurd for configuration.
MAX_EXPANDED_NODES = 1_000_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_OCTAL = re.compile(r"[-+]?0(o)?[0-7_]+")


@dataclass(frozen=True)
class Pos:
    """A position in a file, 1-based like editors show it."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def short(self) -> str:
        """``file:line`` without the column, for task and play locations."""
        return f"{self.file}:{self.line}"


class YDict(dict):  # type: ignore[type-arg]
    """A mapping loaded from YAML; ``pos`` is the mapping's position, ``key_pos`` each key's."""

    __slots__ = ("pos", "key_pos")
    pos: Pos | None
    key_pos: dict[Any, Pos]


class YList(list):  # type: ignore[type-arg]
    """A sequence loaded from YAML; ``pos`` is the sequence's position, ``item_pos`` each item's."""

    __slots__ = ("pos", "item_pos")
    pos: Pos | None
    item_pos: list[Pos]


class Unsafe(str):
    """A string tagged ``!unsafe``: used as is, never rendered as a template (as in Ansible)."""


class UnsafeSecret(Unsafe, vault.Secret):
    """A string tagged ``!unsafe`` in an encrypted file: never rendered, always masked."""


class OctInt(int):
    """An integer written in octal (``0644``), so file modes can tell it from decimal ``644``."""


def display_path(path: Path | str, root: Path | str | None = None) -> str:
    """``path`` relative to ``root`` when it lies inside it, else as given."""
    shown, base = os.fspath(path), None if root is None else os.fspath(root)
    relative = base is not None and not (os.path.isabs(shown) and os.path.isabs(base))
    return _display_path(shown, base, os.getcwd() if relative else "")


@functools.lru_cache(maxsize=4096)
def _display_path(path: str, root: str | None, cwd: str) -> str:
    """Remembered: resolving both paths costs ~0.1 ms (a readlink per folder), and a plan
    names the same template or file once per host. (cwd: what a relative path resolves in.)"""
    p = Path(path)
    if root is not None:
        try:
            return p.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return str(p)


def pos_of(obj: Any, key: Any = None) -> Pos | None:
    """The position of ``obj[key]``'s key (or list item), else of ``obj`` itself, else None."""
    if key is not None and isinstance(obj, YDict):
        found: Pos | None = getattr(obj, "key_pos", {}).get(key)
        if found is not None:
            return found
    if key is not None and isinstance(obj, YList) and isinstance(key, int):
        items: list[Pos] = getattr(obj, "item_pos", [])
        if 0 <= key < len(items):
            return items[key]
    own: Pos | None = getattr(obj, "pos", None)
    return own


def loc_of(obj: Any, key: Any = None, *, col: bool = True) -> str:
    """``"path:line:col"`` of ``obj[key]`` (else of ``obj``); ``"path:line"`` with ``col=False``.

    Empty when the object carries no position (it did not come from a YAML file).
    """
    pos = pos_of(obj, key)
    if pos is None:
        return ""
    return str(pos) if col else pos.short


# ---------------------------------------------------------------------------- reading files

def read_text(path: Path | str, root: Path | str | None = None, *, what: str = "file") -> str:
    """The UTF-8 text of a small file, or BadInput naming why it is not one."""
    shown = display_path(path, root)
    data = _read_bytes(Path(path), shown, what)
    if b"\0" in data:
        raise BadInput(f"{what} is binary, not text", shown, "point this at a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                       f"{shown}:{line}", "save the file as UTF-8") from None


def _read_bytes(path: Path, shown: str, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise BadInput(f"{what} is a directory, expected a file", shown)
        if size > MAX_FILE_BYTES:
            raise BadInput(f"{what} is too large ({size} bytes, limit {MAX_FILE_BYTES})", shown,
                           "split it into smaller files")
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{what} not found", shown) from None
    except PermissionError:
        raise BadInput(f"{what} is not readable (permission denied)", shown) from None


# ---------------------------------------------------------------------------- loading YAML

def load_yaml(path: Path | str, root: Path | str | None = None, *,
              vars_file: bool = False, secrets: vault.Vault | None = None) -> Any:
    """Load one YAML document from ``path``; positions name it relative to ``root``.

    A variables file (``vars_file=True``) may be encrypted (see vault.py): it is decrypted in
    memory, positions still name the encrypted file (lines are those ``inv vault.edit``
    shows), and every string in it becomes a :class:`~mainsail.vault.Secret`. ``secrets`` is
    the run's vault (its password, and the values it decrypted); without one, a vault of its
    own with the default password sources.
    """
    shown = display_path(path, root)
    text = read_text(path, root, what="YAML file")
    whole_ansible = ansible_vault.is_ansible_vault(text)
    if not (vault.is_encrypted(text) or whole_ansible):
        data = load_yaml_text(text, shown)
        return _open_inline(data, secrets) if _has_inline(data) else data
    if not vars_file:
        raise BadInput("this file is encrypted; only variables files may be", shown,
                       "keep secrets in group_vars/, host_vars/, a role's defaults/ or vars/, "
                       "or a play's vars_files, and use the variables here")
    secrets = secrets if secrets is not None else vault.Vault()
    plain = (ansible_vault.decrypt_text if whole_ansible else vault.decrypt_text)(
        text, shown, secrets)
    data = as_secrets(_open_inline(load_yaml_text(plain, shown), secrets), set())
    secrets.remember(vault.secret_texts(data))
    return data


@dataclass(frozen=True)
class Vaulted:
    """An inline ``!vault`` value as loaded: its Ansible Vault text, not yet decrypted."""

    text: str
    pos: Pos


def _has_inline(value: Any) -> bool:
    if isinstance(value, Vaulted):
        return True
    if isinstance(value, dict):
        return any(_has_inline(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_inline(v) for v in value)
    return False


def _open_inline(value: Any, secrets: vault.Vault | None) -> Any:
    """Every inline ``!vault`` value decrypted (in place) into a secret, with the run's
    password; positions of the mappings and lists holding them stay."""
    if isinstance(value, Vaulted):
        secrets = secrets if secrets is not None else vault.Vault()
        plain = vault.Secret(ansible_vault.decrypt_text(value.text, str(value.pos), secrets))
        secrets.remember([plain])
        return plain
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _open_inline(item, secrets)
    elif isinstance(value, list):
        value[:] = [_open_inline(item, secrets) for item in value]
    return value


def as_secrets(value: Any, seen: set[int]) -> Any:
    """Every string and number in ``value`` as a secret, in place, so positions stay (keys stay text)."""
    if isinstance(value, str):
        if isinstance(value, vault.Secret):
            return value
        return UnsafeSecret(value) if isinstance(value, Unsafe) else vault.Secret(value)
    if isinstance(value, (int, float)) and not isinstance(value, (bool, OctInt)):
        return vault.as_secret(value)  # an encrypted number is as secret as a string
    if id(value) in seen:  # an anchor used twice: already done
        return value
    seen.add(id(value))
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = as_secrets(item, seen)
    elif isinstance(value, list):
        value[:] = [as_secrets(item, seen) for item in value]
    return value


def load_yaml_text(text: str, display: str = "<string>") -> Any:
    """Load one YAML document from ``text``; ``display`` is the file name used in positions.

    libyaml's parser (C) reads it when PyYAML has it; anything it refuses, or any error on
    the way, is read again by PyYAML's own parser, whose messages (and hints) are the ones
    users get, and which accepts a few things libyaml refuses. Parsing a 100-host inventory
    in Python was most of a run's loading time."""
    if _FastLoader is not None:
        try:
            fast = _FastLoader(text, display)
            try:
                return fast.get_single_data()
            finally:
                fast.dispose()
        except Exception:  # noqa: BLE001 (read again below, for the canonical error)
            pass
    try:
        loader = _Loader(text, display)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, display) from None
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        raise _marked_error(exc, display) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, display) from None
    except yaml.YAMLError as exc:
        raise BadInput(f"YAML error: {exc}", display) from None
    except RecursionError:
        raise BadInput("YAML is nested too deeply", display) from None
    finally:
        loader.dispose()


def _reader_error(exc: yaml.reader.ReaderError, text: str, display: str) -> BadInput:
    line = text[: exc.position].count("\n") + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return BadInput(f"YAML file contains a character YAML forbids ({char!r})",
                    f"{display}:{line}", "remove control characters from the file")


def _marked_error(exc: yaml.MarkedYAMLError, display: str) -> BadInput:
    mark = exc.problem_mark or exc.context_mark
    where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
    problem = exc.problem or "invalid YAML"
    context = f" ({exc.context})" if exc.context else ""
    constructor = isinstance(exc, yaml.constructor.ConstructorError)
    kind = "YAML error" if constructor else "YAML syntax error"
    return BadInput(f"{kind}: {problem}{context}", where, _syntax_hint(problem))


def _syntax_hint(problem: str) -> str:
    if "\\t" in problem or "tab" in problem:
        return "YAML indents with spaces, never tabs"
    if "constructor for the tag" in problem:
        return "custom and Python tags are not allowed; only plain YAML and !unsafe"
    if "mapping values are not allowed" in problem:
        return "quote values that contain ': ', and check the indentation above"
    if "found undefined alias" in problem:
        return "define the anchor (&name) before using the alias (*name)"
    return "check indentation and quoting at this position"


class _Positions:
    """What both loaders add to PyYAML's SafeConstructor: positions, no duplicate keys, no
    alias bombs."""

    display: str

    def pos(self, node: Node) -> Pos:
        mark = node.start_mark
        return Pos(self.display, mark.line + 1, mark.column + 1)

    def construct_document(self, node: Node) -> Any:
        _check_expansion(node, self.display)
        return super().construct_document(node)

    def fill_mapping(self, data: YDict, node: MappingNode) -> None:
        self.refuse_duplicates(node)
        self.flatten_mapping(node)  # `<<: *base` merges; explicit keys come later and win
        for key_node, value_node in node.value:
            key = self.hashable_key(key_node)
            data[key] = self.construct_object(value_node)
            data.key_pos[key] = self.pos(key_node)

    def refuse_duplicates(self, node: MappingNode) -> None:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.hashable_key(key_node)
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise BadInput(f"duplicate key {key!r} (first at line {first}, again at line "
                               f"{key_node.start_mark.line + 1})", str(self.pos(key_node)),
                               "YAML keeps only the last one; remove or rename one of them")
            seen[key] = key_node

    def hashable_key(self, key_node: Node) -> Any:
        key = self.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise BadInput("a mapping key must be a plain value, not a list or mapping",
                           str(self.pos(key_node)))
        return key


class _Loader(_Positions, yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader (PyYAML's parser, in Python) that records positions, refuses duplicate keys
    and alias bombs."""

    def __init__(self, stream: str, display: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self.display = display


try:
    from yaml._yaml import CParser  # libyaml, when PyYAML was built with it
except ImportError:  # pragma: no cover - a PyYAML without libyaml
    CParser = None

_FastLoader: Any = None
if CParser is not None:
    class _FastLoader(_Positions, CParser, yaml.constructor.SafeConstructor,  # type: ignore
                      yaml.resolver.Resolver):
        """The same loader over libyaml's parser."""

        def __init__(self, stream: str, display: str) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self.display = display


def _construct_map(loader: _Loader, node: MappingNode) -> Iterator[YDict]:
    data = YDict()
    data.pos, data.key_pos = loader.pos(node), {}
    yield data  # yield first so anchors referring back to this mapping resolve
    loader.fill_mapping(data, node)


def _construct_seq(loader: _Loader, node: SequenceNode) -> Iterator[YList]:
    data = YList()
    data.pos, data.item_pos = loader.pos(node), [loader.pos(n) for n in node.value]
    yield data
    data.extend(loader.construct_object(n) for n in node.value)


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    value = loader.construct_yaml_int(node)
    return OctInt(value) if _OCTAL.fullmatch(node.value) else value


def _construct_unsafe(loader: _Loader, node: Node) -> Unsafe:
    if not isinstance(node, ScalarNode):
        raise BadInput("!unsafe applies to a single string", str(loader.pos(node)))
    return Unsafe(loader.construct_scalar(node))


def _construct_vault(loader: _Loader, node: Node) -> Vaulted:
    """``!vault |`` and an Ansible Vault text: decrypted by load_yaml, with the password."""
    text = loader.construct_scalar(node) if isinstance(node, ScalarNode) else None
    if not isinstance(text, str) or not ansible_vault.is_ansible_vault(text):
        raise BadInput("!vault must tag an Ansible Vault text ($ANSIBLE_VAULT;1.1;AES256 ...)",
                       str(loader.pos(node)), "make it with: ansible-vault encrypt_string")
    return Vaulted(text, loader.pos(node))


for _cls in (_Loader, _FastLoader):
    if _cls is None:
        continue
    _cls.add_constructor("tag:yaml.org,2002:map", _construct_map)
    _cls.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
    _cls.add_constructor("tag:yaml.org,2002:int", _construct_int)
    # Dates stay strings: variables must be JSON-serialisable and Ansible users expect text.
    _cls.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    _cls.add_constructor("!unsafe", _construct_unsafe)
    _cls.add_constructor("!vault", _construct_vault)


def _check_expansion(root: Node, display: str) -> None:
    """Refuse recursive aliases and documents whose expansion through aliases is huge."""
    sizes: dict[int, int] = {}
    if _expanded_size(root, sizes, set(), display) > MAX_EXPANDED_NODES:
        raise BadInput("YAML expands to too many values through aliases (an alias bomb?)",
                       display, "use fewer nested anchors and aliases")


def _expanded_size(node: Node, sizes: dict[int, int], active: set[int], display: str) -> int:
    if id(node) in sizes:
        return sizes[id(node)]
    if id(node) in active:
        mark = node.start_mark
        raise BadInput("YAML alias refers to itself (recursive structure)",
                       f"{display}:{mark.line + 1}:{mark.column + 1}")
    active.add(id(node))
    total = 1 + sum(_expanded_size(child, sizes, active, display) for child in _children(node))
    active.discard(id(node))
    sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
    return sizes[id(node)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []
