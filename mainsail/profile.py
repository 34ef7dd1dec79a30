"""Where a run's time goes (``--profile``): per host, each phase of opening its session, its
plan and its steps; for the controller, its own CPU time per stage.

Wall times are what the operator waits for; CPU times are the controller's own work (a
stage's process CPU, or a host's calling thread's CPU for that host's planning and output),
which on a loaded machine says more than the wall clock. Printed after the recap; in the JSON
report under ``profile`` (docs/reports.md).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

# A host's phases, in the order they happen (docs/performance.md says what each includes).
HOST_PHASES = ("tcp_connect", "kex", "auth", "channel", "agent", "plan", "apply", "close")
# The controller's stages, in the order they happen.
STAGES = ("start", "load", "connect", "plan", "apply", "close", "report")


@dataclass
class HostProfile:
    """One host: wall seconds per phase, and the controller CPU spent on it."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    round_trips: int = 0

    def add(self, phase: str, wall: float, cpu: float | None = None) -> None:
        self.wall[phase] = self.wall.get(phase, 0.0) + wall
        if cpu is not None:
            self.cpu[phase] = self.cpu.get(phase, 0.0) + cpu

    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Wall time and the calling thread's CPU time of the block, added to phase."""
        wall, cpu = time.monotonic(), time.thread_time()
        try:
            yield
        finally:
            self.add(phase, time.monotonic() - wall, time.thread_time() - cpu)


@dataclass
class Stage:
    wall: float = 0.0
    cpu: float = 0.0  # the whole controller process's CPU over the stage


class Profile:
    """Collects timings from the run's threads; read once the run is over."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostProfile] = {}
        self.stages: dict[str, Stage] = {}
        self._lock = threading.Lock()
        # The process so far (interpreter, imports, command line) is the "start" stage.
        self._lap = (time.monotonic(), time.process_time())
        age = process_age()
        if age is not None:
            self.stages["start"] = Stage(age, self._lap[1])

    def lap(self, name: str) -> None:
        """A stage that ran from the previous lap (or the profile's creation) to now."""
        now = (time.monotonic(), time.process_time())
        with self._lock:
            self.stages[name] = Stage(now[0] - self._lap[0], now[1] - self._lap[1])
        self._lap = now

    def host(self, name: str) -> HostProfile:
        with self._lock:
            return self.hosts.setdefault(name, HostProfile())

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.monotonic(), time.process_time()
        try:
            yield
        finally:
            with self._lock:
                got = self.stages.setdefault(name, Stage())
                got.wall += time.monotonic() - wall
                got.cpu += time.process_time() - cpu

    def to_dict(self, steps: Mapping[str, Sequence[tuple[str, float]]] = {}) -> dict[str, Any]:
        """The JSON shape (docs/reports.md): milliseconds, rounded to 0.1 ms."""
        def ms(value: float) -> float:
            return round(value * 1000, 1)

        return {
            "time_unit": "ms",
            "controller": {name: {"wall": ms(s.wall), "cpu": ms(s.cpu)}
                           for name, s in sorted(self.stages.items(), key=_stage_order)},
            "hosts": {name: {"wall": {p: ms(v) for p, v in h.wall.items()},
                             "cpu": {p: ms(v) for p, v in h.cpu.items()},
                             "round_trips": h.round_trips,
                             "steps": [{"task": task, "wall": ms(sec)}
                                       for task, sec in steps.get(name, ())]}
                      for name, h in sorted(self.hosts.items())},
        }


def process_age() -> float | None:
    """Seconds since this process started (Linux: from /proc), or None where unknown."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        return max(0.0, uptime - int(fields[19]) / ticks)  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return None


def _stage_order(item: tuple[str, Stage]) -> int:
    return STAGES.index(item[0]) if item[0] in STAGES else len(STAGES)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def lines(data: Mapping[str, Any], width: int = 28) -> list[str]:
    """The profile as plain text: the controller's stages, each host's phases (one line per
    host, then the mean), and each step's agent time over the hosts (mean and slowest)."""
    out = ["profile (ms; wall = waited, cpu = the controller's own)"]
    stages = data.get("controller", {})
    if stages:
        out.append("  controller: " + "  ".join(
            "%s %.0f wall/%.0f cpu" % (name, s["wall"], s["cpu"]) for name, s in stages.items()))
    hosts = data.get("hosts", {})
    if not hosts:
        return out
    phases = [p for p in HOST_PHASES if any(p in h["wall"] for h in hosts.values())]
    header = "  %-*s" % (width, "host") + "".join("%9s" % p.replace("tcp_connect", "connect")
                                                   for p in phases) + \
        "%9s%11s%8s" % ("plan cpu", "output cpu", "trips")
    out.append(header)

    means: dict[str, list[float]] = {}
    for name, h in hosts.items():
        cells = []
        for p in phases + ["plan cpu", "output cpu"]:
            value = (h["cpu"].get(p.split()[0], 0.0) if p.endswith(" cpu")
                     else h["wall"].get(p, 0.0))
            means.setdefault(p, []).append(value)
            cells.append("%9.1f" % value if not p.startswith("output") else "%11.1f" % value)
        means.setdefault("trips", []).append(h["round_trips"])
        out.append("  %-*s%s%8d" % (width, name[:width], "".join(cells), h["round_trips"]))
    if len(hosts) > 1:
        cells = ["%9.1f" % _mean(means[p]) if not p.startswith("output")
                 else "%11.1f" % _mean(means[p]) for p in phases + ["plan cpu", "output cpu"]]
        out.append("  %-*s%s%8.1f" % (width, "mean of %d hosts" % len(hosts), "".join(cells),
                                      _mean(means["trips"])))
    steps: dict[str, list[float]] = {}
    for h in hosts.values():
        for s in h.get("steps", ()):
            steps.setdefault(s["task"], []).append(s["wall"])
    if steps:
        out.append("  %-*s%9s%9s%7s" % (width, "step (agent time)", "mean", "max", "hosts"))
        for task, values in steps.items():
            out.append("  %-*s%9.1f%9.1f%7d" % (width, task[:width], _mean(values),
                                                 max(values), len(values)))
    return out
