"""Durable handlers: a notification survives the run that made it.

A notifying step records its handlers on the host before it is applied; a handler's name is
cleared only once the handler has run. A run that dies in between leaves the names behind,
and the next run runs those handlers first thing.
"""
from __future__ import annotations

import json
import os
from typing import List, Optional, Sequence

from . import fileio, statedir

FILE = "handlers.json"


class Pending:
    def __init__(self, state_dir: Optional[str]) -> None:
        self.path = os.path.join(state_dir, FILE) if state_dir else None

    def names(self) -> List[str]:
        if self.path is None:
            return []
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return []
        return [str(n) for n in data] if isinstance(data, list) else []

    def _save(self, names: Sequence[str]) -> None:
        if self.path is None:
            return
        statedir.private_dirs(os.path.dirname(self.path))
        fileio.atomic_write(self.path, json.dumps(sorted(set(names))).encode("utf-8"), "0600")

    def add(self, names: Sequence[str]) -> List[str]:
        """Record names; returns those that were not pending before (to undo if unchanged)."""
        before = self.names()
        new = [n for n in names if n not in before]
        if new:
            self._save(before + new)
        return new

    def remove(self, names: Sequence[str]) -> None:
        before = self.names()
        if any(n in before for n in names):
            self._save([n for n in before if n not in names])
