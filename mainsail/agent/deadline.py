"""Step timeouts: a step that runs too long (a blocking open, a hung child) fails cleanly.

The agent is one thread; a step runs under an interval timer whose SIGALRM raises
StepTimeout in that thread, wherever the step is blocked (Python runs signal handlers
between retries of an interrupted system call). StepTimeout derives from BaseException so
that an operation's own `except Exception` cannot swallow it; proc.run kills the process
group of a child it is waiting for when it sees it. The step then fails like any other
failure, and its transaction is rolled back.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Callable, Iterator, Mapping, Optional

from .core import FAILED, Outcome

DEFAULT_STEP_TIMEOUT = 600.0  # seconds; a task's `timeout:` keyword overrides it


class StepTimeout(BaseException):
    def __init__(self, seconds: float) -> None:
        super().__init__("step timed out after %g s" % seconds)
        self.seconds = seconds


def step_timeout(step: Mapping[str, Any]) -> Optional[float]:
    """The step's limit in seconds (its `timeout`, else the default); None for no limit."""
    value = step.get("timeout")
    if value is None:
        return DEFAULT_STEP_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_STEP_TIMEOUT
    return seconds if seconds > 0 else None


@contextlib.contextmanager
def limit(seconds: Optional[float]) -> Iterator[None]:
    """Raise StepTimeout in this (the main) thread once seconds have passed."""
    if not seconds or not hasattr(signal, "setitimer") \
            or threading.current_thread() is not threading.main_thread():
        # signals reach only the main thread; an agent served from another thread (an
        # embedding test) runs its steps without a limit rather than failing them
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise StepTimeout(seconds)
    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_limited(step: Mapping[str, Any], call: Callable[[], Outcome]) -> Outcome:
    """call() under the step's timeout; a timeout is the step's failure."""
    seconds = step_timeout(step)
    try:
        with limit(seconds):
            return call()
    except StepTimeout as exc:
        return Outcome(FAILED, "%s (hint: raise the task's `timeout:` if it needs longer; "
                               "the default is %g s)" % (exc, DEFAULT_STEP_TIMEOUT))
