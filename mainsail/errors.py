"""The error hierarchy: every expected failure says what, where, how to fix it, and an exit code.

The CLI prints ``str(error)`` (one line) and exits with ``error.exit_code``; a user never sees
a traceback for bad input.
"""

from __future__ import annotations

import difflib
from types import MappingProxyType
from typing import ClassVar, Iterable, Mapping

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


def with_reference(exc: MainsailError) -> MainsailError:
    """Bad input with no hint of its own points at the reference for what is at fault."""
    if exc.hint or not isinstance(exc, BadInput):
        return exc
    return BadInput(exc.what, exc.where, reference_for(exc.where))


def reference_for(where: str) -> str:
    """The reference page for the kind of file at fault."""
    if where.startswith("inventory"):
        return "see mainsail doc inventory"
    if where.startswith("command line"):
        return "see mainsail doc commands, or mainsail --help TASK"
    return "see mainsail doc playbooks, and mainsail doc OPERATION"


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


def did_you_mean(name: str, choices: Iterable[str], *, listing: int = 8) -> str:
    """A hint naming the closest valid names, or listing some valid ones when none is close."""
    known = sorted(set(choices))
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not known:
        return ""
    more = ", ..." if len(known) > listing else ""
    return "known: " + ", ".join(known[:listing]) + more
