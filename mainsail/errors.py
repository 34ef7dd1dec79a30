"""The error hierarchy: every expected failure says what, where, how to fix it, and an exit code.

The CLI prints ``str(error)`` (one line) and exits with ``error.exit_code``; a user never sees
a traceback for bad input.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar, Mapping

#: Documented process exit codes. ``tasks.py`` maps errors and outcomes onto these.
EXIT_CODES: Mapping[str, int] = MappingProxyType({
    "ok": 0,
    "host_failed": 2,
    "unreachable": 3,  # also: the host key was refused
    "bad_input": 4,
    "lock_held": 5,
    "plan_changes": 8,  # `plan` found changes to make
    "interrupted": 130,
})


def _one_line(text: str) -> str:
    # Parser messages span lines; the CLI contract is a single line per error.
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


class MainsailError(Exception):
    """Base of every expected failure. Unexpected ones (bugs) exit 1 via Python itself."""

    exit_code: ClassVar[int] = 1

    def __init__(self, what: str, where: str = "", hint: str = "") -> None:
        self.what = _one_line(what)
        self.where = _one_line(where)
        self.hint = _one_line(hint)
        super().__init__(self.what)

    def __str__(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        return f"{text} (hint: {self.hint})" if self.hint else text

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        # Keeps errors picklable across process pools despite the custom __init__.
        return (type(self), (self.what, self.where, self.hint))


class BadInput(MainsailError):
    """Inventory, playbook, role, template or argument is wrong; nothing was run."""

    exit_code = EXIT_CODES["bad_input"]


class HostFailed(MainsailError):
    """A step failed on a host."""

    exit_code = EXIT_CODES["host_failed"]


class Unreachable(MainsailError):
    """A host could not be reached, or its host key was refused."""

    exit_code = EXIT_CODES["unreachable"]


class LockHeld(MainsailError):
    """Another deploy holds the lock on a host."""

    exit_code = EXIT_CODES["lock_held"]


class Interrupted(MainsailError):
    """The user interrupted the run (Ctrl-C)."""

    exit_code = EXIT_CODES["interrupted"]
