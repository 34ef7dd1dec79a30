"""SHA-crypt (``$5$`` SHA-256, ``$6$`` SHA-512), the password hashes of /etc/shadow, written
from the published specification since Python 3.13 has no ``crypt`` module."""

from __future__ import annotations

import hashlib
import secrets

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DEFAULT_ROUNDS = 5000
_ROUNDS_RANGE = (1000, 999_999_999)
_SCHEMES = {"sha256": ("5", "sha256", 10, 32), "sha512": ("6", "sha512", 21, 64)}


def new_salt(size: int = 16) -> str:
    """A random salt of ``size`` characters from the crypt alphabet."""
    return "".join(secrets.choice(_ITOA64) for _ in range(size))


def sha_crypt(password: str, salt: str, scheme: str = "sha512",
              rounds: int | None = None) -> str:
    """The ``$5$``/``$6$`` hash of ``password`` with ``salt`` (at most 16 characters used);
    ``rounds`` (default 5000) appears in the result only when given."""
    if scheme not in _SCHEMES:
        raise ValueError(f"unknown SHA-crypt scheme {scheme!r} (sha256 or sha512)")
    ident, algorithm, groups, size = _SCHEMES[scheme]
    salt = salt[:16]
    if any(c not in _ITOA64 for c in salt):
        raise ValueError(f"invalid characters in the salt {salt!r} (allowed: {_ITOA64})")
    count = DEFAULT_ROUNDS if rounds is None else min(max(int(rounds), _ROUNDS_RANGE[0]),
                                                      _ROUNDS_RANGE[1])
    digest = _rounds(password.encode("utf-8"), salt.encode("ascii"), algorithm, size, count)
    shown = "" if rounds is None else f"rounds={count}$"
    return f"${ident}${shown}{salt}${_encode(digest, groups, size)}"


def _h(algorithm: str, *parts: bytes) -> bytes:
    h = hashlib.new(algorithm)
    for part in parts:
        h.update(part)
    return h.digest()


def _repeat(block: bytes, length: int) -> bytes:
    """``block`` repeated and cut to ``length`` bytes."""
    return (block * (length // len(block) + 1))[:length]


def _rounds(pw: bytes, salt: bytes, algorithm: str, size: int, count: int) -> bytes:
    alternate = _h(algorithm, pw, salt, pw)
    tail = b"".join(alternate if bit == "1" else pw for bit in reversed(bin(len(pw))[2:]))
    start = _h(algorithm, pw, salt, _repeat(alternate, len(pw)), tail)
    p_seq = _repeat(_h(algorithm, pw * len(pw)), len(pw)) if pw else b""
    s_seq = _repeat(_h(algorithm, salt * (16 + start[0])), len(salt)) if salt else b""
    current = start
    for i in range(count):
        h = hashlib.new(algorithm)
        h.update(p_seq if i % 2 else current)
        if i % 3:
            h.update(s_seq)
        if i % 7:
            h.update(p_seq)
        h.update(current if i % 2 else p_seq)
        current = h.digest()
    return current


def _encode(digest: bytes, groups: int, size: int) -> str:
    out = []
    for i in range(groups):
        triple = [i, i + groups, i + 2 * groups]
        turn = i % 3 if size == 64 else (-i) % 3
        a, b, c = triple[turn:] + triple[:turn]
        out.append(_b64(digest[a], digest[b], digest[c], 4))
    if size == 64:
        out.append(_b64(0, 0, digest[63], 2))
    else:
        out.append(_b64(0, digest[31], digest[30], 3))
    return "".join(out)


def _b64(high: int, mid: int, low: int, chars: int) -> str:
    word = (high << 16) | (mid << 8) | low
    text = ""
    for _ in range(chars):
        text += _ITOA64[word & 0x3F]
        word >>= 6
    return text
