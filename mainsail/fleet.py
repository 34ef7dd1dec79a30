"""One fan-out for every command: do something on each host with a bounded pool, and gather
each host's outcome (ok, failed, unreachable, locked, interrupted), like Fabric's GroupResult.

One host's outcome never hides another's: a host that fails, cannot be reached or is locked is
recorded as such and the others carry on. :func:`exit_code` is the one mapping from the hosts'
outcomes to the exit codes of docs/commands.md.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Sequence, TypeVar

from .errors import EXIT_CODES, Interrupted, LockHeld, MainsailError, Unreachable
from .inventory import Host

T = TypeVar("T")
R = TypeVar("R")

OK = "ok"
FAILED = "failed"
UNREACHABLE = "unreachable"
LOCKED = "locked"
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class HostResult(Generic[T]):
    """One host's outcome, with what the work returned (``value``) or why it did not."""

    host: Host
    state: str = OK
    value: T | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.state == OK


@dataclass(frozen=True)
class FleetResult(Generic[T]):
    """Every host's outcome, in the order the hosts were given."""

    results: tuple[HostResult[T], ...]
    aborted: str = ""  # why the run stopped early, if it did

    def states(self) -> set[str]:
        return {r.state for r in self.results}

    @property
    def exit_code(self) -> int:
        return exit_code(self.states(), self.aborted)


def exit_code(states: Iterable[str], aborted: str = "") -> int:
    """docs/commands.md: interrupted 130; any failure 2 (also when others were unreachable);
    a held lock 5; unreachable 3; else 0."""
    states = set(states)
    if aborted == INTERRUPTED or INTERRUPTED in states:
        return EXIT_CODES["interrupted"]
    if FAILED in states or aborted:
        return EXIT_CODES["host_failed"]
    if LOCKED in states:
        return EXIT_CODES["lock_held"]
    if UNREACHABLE in states:
        return EXIT_CODES["unreachable"]
    return EXIT_CODES["ok"]


def state_of(exc: MainsailError) -> str:
    """The outcome an error means for its host."""
    if isinstance(exc, LockHeld):
        return LOCKED
    if isinstance(exc, Unreachable):
        return UNREACHABLE
    if isinstance(exc, Interrupted):
        return INTERRUPTED
    return FAILED


def parallel(fn: Callable[[T], R], items: Sequence[T], forks: int,
             on_interrupt: Callable[[], None] | None = None) -> list[R]:
    """fn over items in at most ``forks`` worker threads; the main thread stays free to take
    Ctrl-C.

    With ``on_interrupt``, Ctrl-C calls it and then waits for the workers to finish (a second
    Ctrl-C stops waiting); work not yet started is dropped. Without it, Ctrl-C propagates."""
    pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(items) or 1)))
    futures = [pool.submit(fn, item) for item in items]
    try:
        while wait(futures, timeout=0.2).not_done:
            pass
    except KeyboardInterrupt:
        if on_interrupt is None:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        on_interrupt()
        pool.shutdown(wait=False, cancel_futures=True)
        while wait(futures, timeout=0.2).not_done:
            pass
    pool.shutdown(wait=False)
    return [f.result() for f in futures if not f.cancelled()]


def fan_out(hosts: Sequence[Host], work: Callable[[Host], T], forks: int = 20
            ) -> FleetResult[T]:
    """``work`` on every host; a MainsailError it raises becomes that host's outcome."""

    def one(host: Host) -> HostResult[T]:
        try:
            return HostResult(host, OK, work(host))
        except MainsailError as exc:
            return HostResult(host, state_of(exc), None, str(exc))

    return FleetResult(tuple(parallel(one, hosts, forks)))
