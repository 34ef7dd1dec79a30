"""The filters Ansible adds to Jinja, beyond those in render.py, written to behave as
Ansible's documentation describes them. They run on the controller, where Ansible runs its
filters too."""

from __future__ import annotations

import base64
import datetime
import hashlib
import glob
import itertools
import math
import ntpath
import os
import random as _random
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jinja2
import yaml
from jinja2.filters import do_unique

from .shacrypt import new_salt, sha_crypt

# ---------------------------------------------------------------------------- sets and lists


def _uniq(items: Iterable[Any]) -> list[Any]:
    """Order-preserving unique that also copes with unhashable items (mappings, lists)."""
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


@jinja2.pass_environment
def unique(environment: Any, value: Iterable[Any], case_sensitive: bool | None = None,
           attribute: str | None = None) -> list[Any]:
    """Jinja's unique (case-insensitive unless asked, as Ansible calls it); lists of mappings
    or lists fall back to comparing items."""
    items = list(value)
    try:
        return list(do_unique(environment, items, case_sensitive=bool(case_sensitive),
                              attribute=attribute))
    except TypeError:
        if case_sensitive is False or attribute:
            raise
        return _uniq(items)


def union(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    return _uniq(itertools.chain(a, b))


def intersect(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    other = list(b)
    return _uniq(x for x in a if x in other)


def difference(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    other = list(b)
    return _uniq(x for x in a if x not in other)


def symmetric_difference(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    first, second = list(a), list(b)
    both = intersect(first, second)
    return [x for x in union(first, second) if x not in both]


def zip_lists(*lists: Iterable[Any]) -> list[list[Any]]:
    return [list(t) for t in zip(*lists)]


def zip_longest(*lists: Iterable[Any], fillvalue: Any = None) -> list[list[Any]]:
    return [list(t) for t in itertools.zip_longest(*lists, fillvalue=fillvalue)]


def shuffle(value: Iterable[Any], seed: Any = None) -> list[Any]:
    items = list(value)
    (_random.Random(seed) if seed is not None else _random.SystemRandom()).shuffle(items)
    return items


def random(end: Any, start: int | None = None, step: int | None = None,
           seed: Any = None) -> Any:
    """A random number in ``range(start, end, step)`` when ``end`` is a number, else a random
    element of ``end``; ``seed`` makes it repeatable."""
    chooser = _random.Random(seed) if seed is not None else _random.SystemRandom()
    if isinstance(end, int) and not isinstance(end, bool):
        return chooser.randrange(start or 0, end, step or 1)
    if isinstance(end, (str, Mapping)) or not hasattr(end, "__iter__"):
        if isinstance(end, str):
            return chooser.choice(end)
        raise TypeError("random needs a number or a sequence")
    return chooser.choice(list(end))


# ---------------------------------------------------------------------------- combine

_LIST_MERGES = ("replace", "keep", "append", "prepend", "append_rp", "prepend_rp")


def combine(*terms: Any, recursive: bool = False, list_merge: str = "replace") -> Any:
    """Mappings merged left to right (later wins); ``recursive`` merges nested mappings,
    ``list_merge`` says what happens when both sides hold a list."""
    if list_merge not in _LIST_MERGES:
        raise ValueError(f"combine: list_merge must be one of {', '.join(_LIST_MERGES)}, "
                         f"not {list_merge!r}")
    dicts: list[Any] = []
    for term in terms:
        dicts += list(term) if isinstance(term, (list, tuple)) else [term]
    for d in dicts:
        if not isinstance(d, Mapping):
            raise TypeError(f"combine expects mappings, got {type(d).__name__}")
    if not dicts:
        return {}
    out: dict[str, Any] = dict(dicts[0])
    for d in dicts[1:]:
        out = _merge(out, d, bool(recursive), list_merge)
    return out


def _merge(low: Mapping[str, Any], high: Mapping[str, Any], recursive: bool,
           list_merge: str) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        old = out.get(key)
        if recursive and isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(old, value, recursive, list_merge)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = _merge_lists(old, value, list_merge)
        else:
            out[key] = value
    return out


def _merge_lists(old: list[Any], new: list[Any], how: str) -> list[Any]:
    if how == "keep":
        return old
    if how == "append":
        return old + new
    if how == "prepend":
        return new + old
    if how == "append_rp":
        return [x for x in old if x not in new] + new
    if how == "prepend_rp":
        return new + [x for x in old if x not in new]
    return new


# ---------------------------------------------------------------------------- paths, text

def splitext(path: Any) -> tuple[str, str]:
    return os.path.splitext(str(path))


def expanduser(path: Any) -> str:
    return os.path.expanduser(str(path))


def realpath(path: Any) -> str:
    return os.path.realpath(str(path))


_COMMENT_STYLES: Mapping[str, Mapping[str, str]] = {
    "plain": {"decoration": "# "}, "erlang": {"decoration": "% "},
    "c": {"decoration": "// "},
    "cblock": {"beginning": "/*", "decoration": " * ", "end": " */"},
    "xml": {"beginning": "<!--", "decoration": " - ", "end": "-->"},
}


def comment(text: Any, style: str = "plain", **options: Any) -> str:
    """``text`` as a comment block: an opening line, each line decorated, a closing line."""
    if style not in _COMMENT_STYLES:
        raise ValueError(f"comment: unknown style {style!r} "
                         f"(known: {', '.join(_COMMENT_STYLES)})")
    edge = str(options.get("decoration", _COMMENT_STYLES[style]["decoration"])).rstrip()
    p: dict[str, Any] = {"newline": "\n", "beginning": "", "prefix": edge, "prefix_count": 1,
                         "decoration": "", "postfix": edge, "postfix_count": 1, "end": ""}
    p.update(_COMMENT_STYLES[style])
    p.update(options)
    nl, deco = str(p["newline"]), str(p["decoration"])
    head = f"{p['beginning']}{nl}" if p["beginning"] else ""
    prefix = ""
    if p["prefix"]:
        line = nl if p["prefix"] == nl else f"{p['prefix']}{nl}"
        prefix = line * int(p["prefix_count"])
    body = deco + str(text).replace(nl, nl + deco)
    body = body.replace(deco + nl, deco.rstrip() + nl)  # no trailing blanks on empty lines
    postfix = "".join(nl + str(p["postfix"]) for _ in range(int(p["postfix_count"])))
    tail = f"{nl}{p['end']}" if p["end"] else ""
    return head + prefix + body + postfix + tail


def b64encode(value: Any, encoding: str = "utf-8", urlsafe: bool = False) -> str:
    data = str(value).encode(encoding)
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode("ascii")


def b64decode(value: Any, encoding: str = "utf-8", urlsafe: bool = False) -> str:
    data = str(value).encode("ascii")
    return (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(data).decode(encoding)


def checksum(value: Any) -> str:
    """Ansible's checksum: the SHA-1 of the text."""
    return hashlib.sha1(str(value).encode("utf-8")).hexdigest()


_HASH_TYPES = {"sha512": "sha512", "sha512_crypt": "sha512", "sha256": "sha256",
               "sha256_crypt": "sha256"}


def password_hash(password: Any, hashtype: str = "sha512", salt: str | None = None,
                  salt_size: int | None = None, rounds: int | None = None,
                  ident: str | None = None) -> str:
    """A crypt(3) hash for /etc/shadow: SHA-512 (``$6$``) or SHA-256 (``$5$``). Without a
    salt a random one is drawn, so the result differs on every run: give ``salt`` for a
    task that should settle."""
    if hashtype not in _HASH_TYPES:
        raise ValueError(f"password_hash: {hashtype!r} is not supported "
                         f"(supported: {', '.join(_HASH_TYPES)})")
    chosen = str(salt) if salt is not None else new_salt(int(salt_size or 16))
    return sha_crypt(str(password), chosen, _HASH_TYPES[hashtype],
                     None if rounds is None else int(rounds))


# ---------------------------------------------------------------------------- numbers, sizes

def logarithm(x: Any, base: float = math.e) -> float:
    return math.log10(x) if base == 10 else math.log(x, base)


def power(x: Any, y: Any) -> float:
    return math.pow(x, y)


def root(x: Any, base: float = 2) -> float:
    return math.sqrt(x) if base == 2 else math.pow(x, 1.0 / float(base))


_SIZES = (("Y", 80), ("Z", 70), ("E", 60), ("P", 50), ("T", 40), ("G", 30), ("M", 20),
          ("K", 10), ("B", 0))
_UNIT_WORDS = {"B": "byte", "K": "kilo", "M": "mega", "G": "giga", "T": "tera", "P": "peta",
               "E": "exa", "Z": "zeta", "Y": "yotta"}


def human_readable(size: Any, isbits: bool = False, unit: str | None = None) -> str:
    """``1048576`` -> ``1.00 MB`` (``isbits``: ``Mb``); ``unit`` forces the unit."""
    number = float(size)
    for letter, shift in _SIZES:
        if (unit is None and number >= 1 << shift) or \
                (unit is not None and str(unit)[:1].upper() == letter):
            break
    if shift == 0:
        suffix = "bits" if isbits else "Bytes"
    else:
        suffix = letter + ("b" if isbits else "B")
    return "%.2f %s" % (number / (1 << shift), suffix)


def human_to_bytes(size: Any, default_unit: str | None = None, isbits: bool = False) -> int:
    """``'10M'``, ``'1.5 GB'`` (``isbits``: ``'1Mb'``) -> a number of bytes (or bits)."""
    found = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]+)?\s*", str(size))
    if not found:
        raise ValueError(f"human_to_bytes cannot read {size!r}")
    number, unit = float(found.group(1)), found.group(2) or default_unit
    if unit is None:
        return int(round(number))
    letter = unit[0].upper()
    shifts = dict(_SIZES)
    if letter not in shifts:
        raise ValueError(f"human_to_bytes: unknown unit {unit!r} in {size!r}")
    if len(unit) > 1:
        kind = "b" if isbits else "B"
        word = ("bit" if isbits else "byte") if letter == "B" else \
            _UNIT_WORDS[letter] + ("bit" if isbits else "byte")
        wanted = kind if letter == "B" else letter + kind
        if unit != wanted and unit.lower() != word:
            raise ValueError(f"human_to_bytes: {size!r} has unit {unit!r}, expected "
                             f"{wanted!r} here{' (isbits)' if isbits else ''}")
    return int(round(number * (1 << shifts[letter])))


# ---------------------------------------------------------------------------- urls, dates

_URL_FIELDS = ("fragment", "hostname", "netloc", "password", "path", "port", "query",
               "scheme", "username")


def urlsplit(url: Any, query: str = "") -> Any:
    parts = urllib.parse.urlsplit(str(url))
    fields = {name: getattr(parts, name) for name in _URL_FIELDS}
    if not query:
        return fields
    if query not in fields:
        raise ValueError(f"urlsplit: unknown URL component {query!r} "
                         f"(known: {', '.join(_URL_FIELDS)})")
    return fields[query]


def strftime(fmt: Any, second: Any = None, utc: bool = False) -> str:
    when = None if second is None else float(second)
    return time.strftime(str(fmt), (time.gmtime if utc else time.localtime)(when))


def to_datetime(text: Any, format: str = "%Y-%m-%d %H:%M:%S") -> datetime.datetime:
    return datetime.datetime.strptime(str(text), format)


# ---------------------------------------------------------------------------- subelements

def subelements(value: Any, key: str, skip_missing: bool = False) -> list[list[Any]]:
    """Each element paired with each item of its list ``key`` (a dotted path)."""
    elements = list(value.values()) if isinstance(value, Mapping) else value
    if not isinstance(elements, (list, tuple)):
        raise TypeError("subelements needs a list or a mapping of mappings")
    out = []
    for element in elements:
        node: Any = element
        for part in str(key).split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                node = None
                break
        if node is None:
            if skip_missing:
                continue
            raise KeyError(f"could not find {key!r} in {element!r}")
        if not isinstance(node, list):
            raise TypeError(f"the key {key!r} should point to a list, got {node!r}")
        out += [[element, sub] for sub in node]
    return out


def version_compare(value: Any, other: Any, operator: str = "eq", strict: bool = False) -> bool:
    """Ansible's version test (and filter): ``value`` compared with ``other`` by
    ``operator``, numeric parts as numbers."""
    def key(text: Any) -> list[Any]:
        return [(0, int(p)) if p.isdigit() else (1, p)
                for p in re.split(r"[.\-+~_]", str(text)) if p]
    ops = {"eq": "==", "==": "==", "ne": "!=", "!=": "!=", "<>": "!=", "lt": "<", "<": "<",
           "le": "<=", "<=": "<=", "gt": ">", ">": ">", "ge": ">=", ">=": ">="}
    if operator not in ops:
        raise ValueError(f"invalid operator type ({operator})")
    a, b = key(value), key(other)
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
            ">=": a >= b}[ops[operator]]


# ---------------------------------------------------------------------------- more of Ansible's

#: The namespace Ansible's to_uuid uses by default, so the same name gives the same UUID.
ANSIBLE_UUID_NAMESPACE = "361E6D51-FAEC-444A-9079-341386DA8E2E"


def to_uuid(value: Any, namespace: str = ANSIBLE_UUID_NAMESPACE) -> str:
    return str(uuid.uuid5(uuid.UUID(str(namespace)), str(value)))


def path_join(paths: Any) -> str:
    if isinstance(paths, str):
        return paths
    return os.path.join(*[str(p) for p in paths])


def fileglob(pattern: Any) -> list[str]:
    """The controller's regular files matching ``pattern``."""
    return [p for p in glob.glob(str(pattern)) if os.path.isfile(p)]


def from_yaml_all(text: Any) -> list[Any]:
    return [] if text is None else list(yaml.safe_load_all(str(text)))


@jinja2.pass_environment
def extract(environment: Any, item: Any, container: Any, morekeys: Any = None) -> Any:
    """``container[item]``, then each of ``morekeys`` in turn."""
    keys = [item] + (morekeys if isinstance(morekeys, list) else
                     [] if morekeys is None else [morekeys])
    value = container
    for key in keys:
        value = environment.getitem(value, key)
    return value


def rekey_on_member(data: Any, key: str, duplicates: str = "error") -> dict[Any, Any]:
    """A mapping of mappings (or a list of them) keyed by each one's ``key``."""
    if duplicates not in ("error", "overwrite"):
        raise ValueError(f"rekey_on_member: duplicates must be error or overwrite, "
                         f"not {duplicates!r}")
    items = data.values() if isinstance(data, Mapping) else data
    out: dict[Any, Any] = {}
    for item in items:
        if not isinstance(item, Mapping) or key not in item:
            raise KeyError(f"rekey_on_member: {key!r} is not in {item!r}")
        if item[key] in out and duplicates == "error":
            raise ValueError(f"rekey_on_member: the key {item[key]!r} is duplicated")
        out[item[key]] = item
    return out


def _sequences(kind: Callable[..., Any]) -> Callable[..., list[list[Any]]]:
    def run(*args: Any, **kwargs: Any) -> list[list[Any]]:
        return [list(t) for t in kind(*args, **kwargs)]
    return run


def make_filters() -> dict[str, Callable[..., Any]]:
    return {
        "unique": unique, "union": union, "intersect": intersect, "difference": difference,
        "symmetric_difference": symmetric_difference, "zip": zip_lists,
        "zip_longest": zip_longest, "shuffle": shuffle, "random": random, "combine": combine,
        "splitext": splitext, "expanduser": expanduser, "realpath": realpath,
        "comment": comment, "b64encode": b64encode, "b64decode": b64decode,
        "checksum": checksum, "password_hash": password_hash, "log": logarithm,
        "pow": power, "root": root, "human_readable": human_readable,
        "human_to_bytes": human_to_bytes, "urlsplit": urlsplit, "strftime": strftime,
        "to_datetime": to_datetime, "subelements": subelements, "version": version_compare,
        "version_compare": version_compare,
        "md5": lambda v: hashlib.md5(str(v).encode("utf-8")).hexdigest(),
        "sha1": checksum, "to_uuid": to_uuid, "path_join": path_join, "fileglob": fileglob,
        "expandvars": lambda p: os.path.expandvars(str(p)),
        "relpath": lambda p, start=os.curdir: os.path.relpath(str(p), str(start)),
        "normpath": lambda p: os.path.normpath(str(p)),
        "commonpath": lambda paths: os.path.commonpath([str(p) for p in paths]),
        "win_basename": lambda p: ntpath.basename(str(p)),
        "win_dirname": lambda p: ntpath.dirname(str(p)),
        "win_splitdrive": lambda p: ntpath.splitdrive(str(p)),
        "from_yaml_all": from_yaml_all, "extract": extract,
        "rekey_on_member": rekey_on_member, "product": _sequences(itertools.product),
        "permutations": _sequences(itertools.permutations),
        "combinations": _sequences(itertools.combinations),
        "urldecode": lambda v: urllib.parse.unquote_plus(str(v)),
    }

