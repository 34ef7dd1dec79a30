"""Which plays may run at the same time: those whose hosts do not overlap.

A playbook's plays used to run one after another, so a site whose web, mail and echo plays
each take a second took three. Plays that share no host cannot see each other's effects
through a host, so they run together in a *wave*; a host in two plays still runs them in the
playbook's order (the later play waits for a later wave). Waves run one after another.

A play that stops other hosts' work when one fails (``serial``, ``any_errors_fatal``,
``max_fail_percentage``) runs in a wave of its own: its batches and its failure threshold mean
what they meant when plays ran one by one. A wave holds at most ``forks`` hosts in all, so
``--forks`` still bounds the hosts worked on at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .playbook import Play


@dataclass(frozen=True)
class Wave:
    """Plays (indices into the playbook) run together; ``alone``: why it holds one play only."""

    plays: tuple[int, ...]
    alone: str = ""


def runs_alone(play: Play) -> str:
    """Why a play must not share its time with other plays ("" when it may)."""
    if play.serial:
        return "serial"
    if play.any_errors_fatal:
        return "any_errors_fatal"
    if play.max_fail_percentage is not None:
        return "max_fail_percentage"
    return ""


def waves(plays: Sequence[Play], hosts: Sequence[Sequence[str]], forks: int) -> list[Wave]:
    """The plays in waves, in playbook order: a play joins the wave being built when it shares
    no host with any play in it, neither runs alone, and the wave's hosts stay within forks;
    otherwise it starts the next wave. A play with no host is left out."""
    out: list[Wave] = []
    current: list[int] = []
    seen: set[str] = set()
    for index, (play, names) in enumerate(zip(plays, hosts)):
        if not names:
            continue
        reason = runs_alone(play)
        if reason:
            if current:
                out.append(Wave(tuple(current)))
            out.append(Wave((index,), reason))
            current, seen = [], set()
            continue
        if current and (seen & set(names) or len(seen) + len(names) > forks):
            out.append(Wave(tuple(current)))
            current, seen = [], set()
        current.append(index)
        seen |= set(names)
    if current:
        out.append(Wave(tuple(current)))
    return out
