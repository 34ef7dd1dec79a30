"""What a run did, shown: live progress, the recap table, JSON and JUnit. It decides nothing."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from .masking import MASK, Masker  # noqa: F401 (shown here, decided there)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress, TaskID

# rich is loaded for a terminal, or for a line only it prints right (markup, emoji codes): off
# a terminal (CI logs, `| tee`, the benchmarks) its import and tables were a tenth of a
# no-op run's start-up.

@dataclass
class StepRecord:
    play: str
    task: str
    where: str
    status: str
    msg: str = ""
    diff: str = ""
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    cmd: str | None = None
    elapsed: float = 0.0
    handler: bool = False
    op: str = ""  # the operation as written (template, ansible.builtin.copy)
    role: str = ""  # the role the task comes from; "" for a play's own tasks
    data: dict[str, Any] = field(default_factory=dict)  # the op's own return values (stat, ...)


WOULD_RUN = "would run"  # a notified handler in check mode: not skipped, just not run


@dataclass
class HostRecord:
    name: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    ignored: int = 0
    unreachable: bool = False
    locked: bool = False
    stale_lock: str = ""
    lost_controller: str = ""  # an earlier run's loss of its controller, as the host recorded it
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    verdict: str = ""  # the agent's verdict on the host's last play: ok, failed, rolled back
    seconds: float = 0.0
    channels: int = 0
    round_trips: int = 0
    bytes_sent: int = 0
    steps: list[StepRecord] = field(default_factory=list)

    def add(self, step: StepRecord) -> None:
        if step.handler and step.status == "skipped" and "would run" in step.msg:
            step.status = WOULD_RUN  # the agent reports it as skipped; plan lists it
        self.steps.append(step)
        if step.status in ("ok", "changed", "failed", "skipped", "ignored"):
            setattr(self, step.status, getattr(self, step.status) + 1)

    @property
    def state(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.locked:
            return "locked"
        return "failed" if self.verdict in ("failed", "rolled back") or self.error else "ok"


@dataclass
class RunRecord:
    playbook: str
    check: bool
    hosts: dict[str, HostRecord] = field(default_factory=dict)
    seconds: float = 0.0
    aborted: str = ""
    started: float = field(default_factory=time.time)  # wall clock, seconds since the epoch
    ended: float = 0.0

    def host(self, name: str) -> HostRecord:
        return self.hosts.setdefault(name, HostRecord(name))

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())


# ---- host text on the operator's terminal and in reports ----------------------------------
# Hosts print whatever they like: escape sequences would drive the operator's terminal (set
# its title, rewrite lines, hide text) and rich would read "[/b]" as markup. Every character
# that is not printable text, newline or tab is shown as its escape (\x1b, \x9b, \u202e).
_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def _shown(char: str) -> str:
    code = ord(char)
    if char in "\n\t":
        return char
    if code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F:
        return "\\x%02x" % code
    if code in _BIDI or 0xD800 <= code <= 0xDFFF:
        return "\\u%04x" % code
    return char


def sanitize(text: Any) -> Any:
    """Host-supplied text made inert for a terminal: control characters shown escaped."""
    if not isinstance(text, str):
        return text
    text = text.replace("\r\n", "\n")
    if text.isprintable():
        return text
    return "".join(_shown(c) for c in text)


def plain(text: Any) -> str:
    """Host-supplied text for a place rich reads as markup: sanitized, then escaped."""
    from rich.markup import escape
    return escape(sanitize(str(text)))


# XML 1.0 allows only these characters; anything else makes the JUnit file unreadable.
def xml_text(text: Any) -> str:
    return "".join(c if c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF
                   or 0xE000 <= ord(c) <= 0xFFFD or 0x10000 <= ord(c) <= 0x10FFFF
                   else "\\x%02x" % ord(c) if ord(c) < 0x100 else "\\u%04x" % ord(c)
                   for c in sanitize(str(text)))


STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "skipped": "cyan",
         "ignored": "red",
         "unreachable": "bold magenta", "locked": "bold magenta", WOULD_RUN: "yellow"}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


class Progress:
    """One line per finished step and per host event, safe to call from worker threads. On a
    terminal, a live bar per host (steps done of steps planned) stays under the lines."""

    def __init__(self, console: Console, masker: Masker, show_diff: bool,
                 verbose: bool = True, level: int = 0) -> None:
        self.console = console
        self.mask = masker
        self.show_diff = show_diff
        self.verbose = verbose or level > 0
        self.level = level  # -v: every step's command and output; -vv: its file:line too
        self.lock = threading.Lock()
        self.bars: Optional["RichProgress"] = None
        self.bar_ids: dict[str, "TaskID"] = {}
        self.counts: dict[str, list[int]] = {}  # host -> [done, total]

    def __enter__(self) -> "Progress":
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
            from rich.progress import Progress as RichProgress
            self.bars = RichProgress(TextColumn("{task.description:<10}"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
                                     console=self.console, transient=True)
            self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars = None

    def start_host(self, host: str, total: int) -> None:
        """A host's play begins: its bar counts that play's steps."""
        if self.bars is None:
            return
        with self.lock:
            self.counts[host] = [0, total]
            if host in self.bar_ids:
                self.bars.reset(self.bar_ids[host], total=total, last="")
            else:
                self.bar_ids[host] = self.bars.add_task(host, total=total, last="")

    def _advance(self, host: str, task: str) -> None:
        if self.bars is not None and host in self.bar_ids:
            label = self.mask(task)
            # Handlers and checks are not known ahead: each one run stretches the bar, so it
            # never shows more done than planned (no 4/3).
            count = self.counts.setdefault(host, [0, 0])
            count[0] += 1
            count[1] = max(count)
            self.bars.update(self.bar_ids[host], advance=1, total=count[1],
                             last=plain(label[:50]))

    def _status_line(self, host: str, status: str, text: str) -> None:
        """``host status text``, coloured on a terminal. Elsewhere (no colours, no wrapping:
        make_console) the same characters rich would print, written directly: rich took a
        third of a millisecond per line, at 100 hosts a tenth of the controller's CPU.
        Text with an emoji code (``:name:``) still goes through rich, which replaces it."""
        shown = sanitize(self.mask(text))
        if not writes_plainly(self.console) or _EMOJI.search(shown) or \
                not _PLAIN_NAME.fullmatch(host):
            from rich.markup import escape
            self.console.print("%-10s [%s]%-8s[/] %s" % (plain(host), STYLE.get(status, ""),
                                                       status, escape(shown)),
                               highlight=False, markup=True)
            return
        out = self.console.file
        out.write(("%-10s %-8s %s" % (host, status, shown)).expandtabs(8) + "\n")
        out.flush()  # as rich does: each line seen as it happens (a CI log, `| tee`)

    def step(self, host: str, step: StepRecord,
             args: Optional[Mapping[str, Any]] = None) -> None:
        self._advance(host, step.task)
        if not self.verbose and step.status in ("ok", "skipped") and not step.handler:
            return
        label = ("handler: " if step.handler else "") + step.task
        with self.lock:
            self._status_line(host, step.status, label)
            if step.status in ("failed", "ignored"):
                self.console.print(sanitize(self.mask(failure_text(step))), style="red",
                                   markup=False, highlight=False)
            elif self.level:
                self._details(step, args)
            if self.show_diff and step.diff:
                self.console.print(sanitize(self.mask(step.diff)).rstrip("\n"), markup=False,
                                   highlight=False)

    def _details(self, step: StepRecord, args: Optional[Mapping[str, Any]]) -> None:
        lines = ["    at %s" % step.where] if self.level >= 2 and step.where else []
        if self.level >= 2 and args:
            lines += ["    %s: %s" % (k, _short(v)) for k, v in sorted(args.items())]
        if step.cmd:
            lines.append("    $ %s" % step.cmd)
        for name, text in (("stdout", step.stdout), ("stderr", step.stderr),
                           ("msg", step.msg)):
            if text:
                lines += ["    %s: %s" % (name, line) for line in str(text).splitlines()]
        if lines:
            self.console.print(sanitize(self.mask("\n".join(lines))), markup=False,
                               highlight=False)

    def event(self, host: str, status: str, text: str) -> None:
        with self.lock:
            self._status_line(host, status, text)


# What rich reads as an emoji code (rich.emoji's pattern, loosely: a false match only means
# the line goes through rich), and host names rich prints as given.
_EMOJI = re.compile(r":\S*?:")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.@\-]*")


def failure_text(step: StepRecord) -> str:
    parts = ["  %s: %s" % (step.where, step.msg or "failed")]
    if step.cmd:
        parts.append("  command: %s (exit %s)" % (step.cmd, step.rc))
    tail = (step.stderr or step.stdout or "").strip().splitlines()[-5:]
    parts += ["  | " + line for line in tail]
    return "\n".join(parts)


def writes_plainly(console: Any) -> bool:
    """Whether what rich would print on ``console`` is the text itself (no terminal, colours,
    recording or silence), so that it may be written directly."""
    return not (console.is_terminal or console.color_system is not None or console.record or
                console.quiet)


RECAP_COLUMNS = ("host", "ok", "changed", "failed", "skipped", "ignored", "unreachable",
                 "seconds")


def recap(console: Console, run: RunRecord, mask: Masker = Masker()) -> None:
    title = "recap%s" % (" (check mode: nothing was changed)" if run.check else "")
    rows = [(sanitize(h.name), str(h.ok), str(h.changed), str(h.failed), str(h.skipped),
             str(h.ignored), "1" if h.unreachable else "0", "%.2f" % h.seconds)
            for h in run.hosts.values()]
    table = plain_table(title, RECAP_COLUMNS, rows, console.width) \
        if writes_plainly(console) else None
    if table is not None:
        console.file.write(table)
        console.file.flush()
    else:
        from rich.table import Table
        shown = Table(title=title, title_justify="left")
        for column in RECAP_COLUMNS:
            shown.add_column(column, justify="left" if column == "host" else "right")
        for h, row in zip(run.hosts.values(), rows):
            shown.add_row(plain(h.name), *row[1:],
                          style=STYLE["failed"] if h.state != "ok" else None)
        console.print(shown)
    # Each host's error was printed as it happened (Progress.event): not again here.
    if run.aborted:
        console.print(sanitize("run stopped: %s" % mask(run.aborted)), style="red",
                      markup=False)


def plain_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                width: int) -> Optional[str]:
    """The recap as rich draws it without colours (its heavy-head box, the first column
    left-aligned, the rest right), or None where rich would do more than draw it: a table
    wider than ``width`` (rich shrinks it), text other than plain ASCII (wide characters,
    emoji codes rich replaces). rich took about a millisecond per row."""
    cells = [list(columns)] + [list(row) for row in rows]
    if any(not (c.isascii() and c.isprintable()) or _EMOJI.search(c) for row in cells
           for c in row) or any(len(row) != len(columns) for row in cells):
        return None
    sizes = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    if sum(sizes) + 3 * len(sizes) + 1 > width or len(title) > width:
        return None

    def line(left: str, fill: str, middle: str, right: str) -> str:
        return left + middle.join(fill * (n + 2) for n in sizes) + right + "\n"

    def row(values: Sequence[str], bar: str) -> str:
        return bar + bar.join(" %s " % (v.ljust(n) if i == 0 else v.rjust(n))
                              for i, (v, n) in enumerate(zip(values, sizes))) + bar + "\n"

    return "".join([title + "\n", line("┏", "━", "┳", "┓"), row(cells[0], "┃"),
                    line("┡", "━", "╇", "┩"), *(row(r, "│") for r in cells[1:]),
                    line("└", "─", "┴", "┘")])


def masked_dict(run: RunRecord, mask: Masker) -> dict[str, Any]:
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return mask(value)

    from . import __version__
    data = walk(asdict(run))
    for name, host in run.hosts.items():
        data["hosts"][name]["state"] = host.state
    # docs/reports.md: the schema; a new key is a minor change, a changed one a new version.
    return {"schema_version": SCHEMA_VERSION, "tool": "mainsail", "tool_version": __version__,
            **data, "started_at": iso_time(run.started),
            "ended_at": iso_time(run.ended or run.started + run.seconds)}


SCHEMA_VERSION = 1


def iso_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        ".%03dZ" % int(seconds % 1 * 1000)


def write_json(run: RunRecord, path: Path, mask: Masker,
               extra: Optional[Mapping[str, Any]] = None) -> None:
    """The report; ``extra`` adds top-level keys (``profile`` with --profile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = masked_dict(run, mask)
    data.update(extra or {})
    path.write_text(json.dumps(data, indent=2) + "\n")


def write_junit(run: RunRecord, path: Path, mask: Masker) -> None:
    """One testsuite per host, one testcase per step: CI systems show failures per task."""
    import xml.etree.ElementTree as ET  # only for --junit: not every run pays for it
    suites = ET.Element("testsuites", name=xml_text("mainsail " + run.playbook))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    stamp = iso_time(run.started)[:19]  # JUnit's timestamp: ISO 8601 without a zone
    for h in run.hosts.values():
        counts = {"tests": len(h.steps) or 1, "failures": h.failed,
                  "errors": 1 if h.unreachable or h.error and not h.failed else 0,
                  "skipped": h.skipped}
        for key, value in counts.items():
            totals[key] += value
        suite = ET.SubElement(suites, "testsuite", name=xml_text(h.name),
                              **{k: str(v) for k, v in counts.items()},
                              time="%.3f" % h.seconds, timestamp=stamp,
                              hostname=xml_text(h.name))
        if h.unreachable or (h.error and not h.steps):
            case = ET.SubElement(suite, "testcase", classname=xml_text(h.name), name="connect")
            ET.SubElement(case, "error", message=xml_text(mask(h.error)))
        for s in h.steps:
            case = ET.SubElement(suite, "testcase", classname=xml_text("%s.%s" % (h.name, s.play)),
                                 name=xml_text(mask(s.task)), time="%.3f" % s.elapsed)
            if s.status == "failed":
                node = ET.SubElement(case, "failure", message=xml_text(mask(s.msg)))
                node.text = xml_text(mask(failure_text(s)))
            elif s.status == "skipped":
                ET.SubElement(case, "skipped")
            elif s.status == "changed":
                ET.SubElement(case, "system-out").text = xml_text(mask(s.diff or "changed"))
            elif s.status == "ignored":  # failed, but ignore_errors: kept visible, not counted
                ET.SubElement(case, "system-out").text = xml_text(mask(failure_text(s)))
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("time", "%.3f" % run.seconds)
    suites.set("timestamp", stamp)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)


class PlainConsole:
    """The console off a terminal: what rich's Console prints there (no colours, no wrapping)
    for the lines written most, without loading rich. Anything rich renders differently (a
    markup string, an emoji code, a table) goes to a rich Console made on first need."""

    is_terminal = False
    color_system = None
    record = False
    quiet = False

    def __init__(self, file: Any = None) -> None:
        self.file = file if file is not None else sys.stdout
        self._rich: Optional["Console"] = None

    @property
    def width(self) -> int:
        """rich's width off a terminal: COLUMNS, else the size of a terminal on the standard
        streams (stderr may be one), else 80."""
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns):
            return int(columns)
        for fd in (0, 1, 2):
            try:
                return os.get_terminal_size(fd).columns or 80
            except (AttributeError, ValueError, OSError):
                continue
        return 80

    def rich(self) -> "Console":
        if self._rich is None:
            from rich.console import Console
            self._rich = Console(file=self.file, highlight=False, soft_wrap=True)
        return self._rich

    def print(self, *objects: Any, markup: Optional[bool] = None, **options: Any) -> None:
        text = objects[0] if len(objects) == 1 else None
        if markup is False and isinstance(text, str) and not _EMOJI.search(text) and \
                set(options) <= {"style", "highlight"} and \
                text.replace("\n", "").replace("\t", "").isprintable():
            # markup off, no colours: rich writes the text with tabs expanded (8)
            self.file.write(text.expandtabs(8) + "\n")
            self.file.flush()
            return
        self.rich().print(*objects, markup=markup, **options)


def make_console() -> "Console | PlainConsole":
    """Plain lines when not a terminal (CI logs), colours and live output on one. rich is
    asked for where it would colour anyway: FORCE_COLOR or TTY_COMPATIBLE/TTY_INTERACTIVE=1."""
    env = os.environ
    if not sys.stdout.isatty() and not env.get("FORCE_COLOR") and \
            env.get("TTY_COMPATIBLE") != "1" and env.get("TTY_INTERACTIVE") != "1":
        return PlainConsole(sys.stdout)
    from rich.console import Console
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)
