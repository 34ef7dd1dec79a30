"""``--shard I/N``: split a fleet over N controllers (CI jobs), each taking a stable share.

A host belongs to shard ``1 + H mod N``, where H is the first 8 bytes of the SHA-256 of its
name, read as a big-endian number. The assignment depends on the host's name and N only: not on
the inventory's order, the other hosts, the machine or the Python version, so the same host
lands in the same shard on every run and in every job, and adding a host moves no other host.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Sequence, TypeVar

from .errors import BadInput
from .inventory import Host

H = TypeVar("H", bound=Host)

_SHAPE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return "%d/%d" % (self.index, self.count)


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N; anything else is bad input on the command line."""
    found = _SHAPE.match(text or "")
    if found:
        index, count = int(found.group(1)), int(found.group(2))
        if 1 <= index <= count:
            return Shard(index, count)
    raise BadInput("--shard %r is not I/N with 1 <= I <= N" % text, where="command line",
                   hint="e.g. --shard 2/4: the second of four shards")


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) a host of this name belongs to."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(hosts: Sequence[H], shard: Shard | None) -> list[H]:
    """The hosts of the selection that belong to shard (all of them without one)."""
    if shard is None:
        return list(hosts)
    return [h for h in hosts if shard_of(h.name, shard.count) == shard.index]
