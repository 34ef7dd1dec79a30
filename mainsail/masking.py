"""Masking secrets in any text the user sees. Below the report layer: the inventory and the
plan mask with it too, without importing how a run is shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, TypeVar

from .errors import MainsailError
from .vault import MIN_SECRET_LENGTH

MASK = "***"
E = TypeVar("E", bound=MainsailError)


@dataclass(frozen=True)
class Masker:
    """Replaces every secret value in any text with ***, longest first so parts never leak."""

    secrets: tuple[str, ...] = ()

    def __call__(self, text: Any) -> Any:
        if not isinstance(text, str) or not self.secrets:
            return text
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def with_secrets(self, values: Iterable[str]) -> "Masker":
        extra = tuple(part for v in values if isinstance(v, str) for part in _fragments(v))
        return Masker(tuple(sorted(set(self.secrets + extra))))

    def error(self, exc: E) -> E:
        """``exc`` with its text masked: messages may quote the very value they reject."""
        if not self.secrets:
            return exc
        return type(exc)(self(exc.what), self(exc.where), self(exc.hint))


def _fragments(secret: str) -> list[str]:
    """The secret and, when it spans lines (a key, a certificate), each line of it: diffs and
    output tails show such a value a line at a time, with a prefix in front of each."""
    parts = [secret]
    if "\n" in secret:
        parts += [line.strip() for line in secret.splitlines()]
    return [str(p) for p in parts if len(p) >= MIN_SECRET_LENGTH]
