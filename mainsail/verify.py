"""`inv verify`: each role's testinfra checks, run against the hosts the site gives that role.

Checks reach each host through an agent session opened as a deploy opens it (host keys
pinned, never unchecked; sudo once, with the host's become password): testinfra_plugin.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import testinfra_plugin
from .errors import BadInput, MainsailError
from .fleet import FAILED, OK, FleetResult, HostResult
from .inventory import Host, Inventory, select_hosts
from .playbook import Play
from .plan import role_vars

from .masking import Masker
from .session import open_session
from .testinfra_plugin import Registry, VerifyPlugin
from .vault import secret_texts


@dataclass(frozen=True)
class HostChecks:
    host: Host
    roles: tuple[str, ...]
    files: tuple[Path, ...]
    hostvars: Mapping[str, Any]
    # Checks run with the privileges the host's plays deploy with: through sudo when they
    # escalate (they read what root wrote).
    sudo: bool = False


def roles_for(inv: Inventory, plays: Sequence[Play], host: Host) -> list[Play]:
    return [p for p in plays if host.name in {h.name for h in safe_select(inv, p.hosts)}]


def safe_select(inv: Inventory, pattern: str) -> list[Host]:
    try:
        return select_hosts(inv, limit=pattern)
    except BadInput:
        return []


def resolved_vars(root: Path, inv: Inventory, plays: Sequence[Play],
                  host: Host) -> dict[str, Any]:
    """The host's variables as its roles see them, by the plan's own precedence."""
    merged: dict[str, Any] = {}
    for play in plays:
        merged.update(role_vars(root, play, host, inv))
    return merged


def checks_for(root: Path, inv: Inventory, plays: Sequence[Play], host: Host) -> HostChecks:
    mine = roles_for(inv, plays, host)
    roles = tuple(dict.fromkeys(use.role.name for play in mine for use in play.roles))
    files = tuple(f for name in roles
                  for f in sorted((root / "roles" / name / "tests").glob("test_*.py")))
    from .runner import needs_become
    sudo = host.user != "root" and needs_become(host, mine)
    return HostChecks(host, roles, files, resolved_vars(root, inv, mine, host), sudo)


def verify(root: Path, inv: Inventory, plays: Sequence[Play], hosts: Sequence[Host],
           say: Callable[[str], None], forks: int = 20, timeout: float = 10.0
           ) -> FleetResult[str]:
    """Each host's checks, its outcome failed when one fails (or it cannot be reached).

    Each host gets an agent session opened as a deploy opens it (pinned keys, one sudo with
    its become password) and a pytest over it: each check's command is one round trip to the
    agent (testinfra_plugin.py), not an ssh client, a sudo and a shell. The hosts are checked
    at once, each by a fork of this process made after pytest and testinfra are imported and
    before any thread or connection exists (see _forked)."""
    todo = [checks_for(root, inv, plays, h) for h in hosts]
    todo = [c for c in todo if c.roles]
    if not todo:
        raise BadInput("no selected host is in a play of the playbook", where="command line",
                       hint="check --host/--group against playbooks/site.yml")
    secrets = [t for c in todo for t in secret_texts(c.hostvars)] + \
        [str(c.host.become_password) for c in todo if c.host.become_password]
    mask = Masker().with_secrets(secrets)
    with_files = [c for c in todo if c.files]
    if hasattr(os, "fork") and threading.active_count() == 1 and len(with_files) > 1:
        _preload()
        found = _forked(with_files, max(1, forks), timeout)
    else:  # one at a time in this process (a single host, or threads already running)
        found = {c.host.name: check_host(c, timeout) for c in with_files}
    results = []
    for checks in todo:
        name = checks.host.name
        state, text = found.get(name, (OK, "no checks for roles %s" % ", ".join(checks.roles)))
        say("== %s (%s): %s" % (name, ", ".join(checks.roles),
                                "passed" if state == OK else "FAILED"))
        shown = mask(text)
        if state != OK or os.environ.get("MAINSAIL_VERBOSE"):
            say(shown.rstrip())
        else:
            say("   " + (shown.strip().splitlines() or [""])[-1])
        results.append(HostResult(checks.host, state, shown))
    return FleetResult(tuple(results))


def check_host(checks: HostChecks, timeout: float) -> tuple[str, str]:
    """(state, text) of one host's checks: its session, then pytest over it."""
    try:
        session = open_session(checks.host, timeout, become=checks.sudo)
    except MainsailError as exc:
        return FAILED, "unreachable: %s" % exc
    name = checks.host.name
    try:
        registry = Registry({name: session}, {f.resolve(): (name,) for f in checks.files},
                            {name: checks.hostvars})
        code, output = run_pytest(registry, checks.files)
    finally:
        session.close()
    return _host_outcome(registry.outcomes.get(name, []), code, output)


def _preload() -> None:
    """What every host's pytest imports, imported once before the forks share it."""
    import importlib
    import _pytest.config
    import testinfra.modules
    import testinfra.plugin  # noqa: F401
    for name in _pytest.config.default_plugins:
        importlib.import_module("_pytest." + name)
    for spec in testinfra.modules.modules.values():
        importlib.import_module("testinfra.modules." + spec.split(":")[0])


def _forked(todo: Sequence[HostChecks], forks: int, timeout: float
            ) -> dict[str, tuple[str, str]]:
    """check_host for each host in a child process, up to ``forks`` at a time; each sends
    back its (state, text) as JSON on a pipe. A fork holds no thread and no connection of
    ours (there are none yet): each child opens its own."""
    found: dict[str, tuple[str, str]] = {}
    waiting = list(todo)
    running: dict[int, tuple[str, int, list[bytes]]] = {}  # a child's pipe -> its host, its
    # pid and what it sent so far
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        while waiting or running:
            while waiting and len(running) < forks:
                checks = waiting.pop(0)
                read, write = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child: never returns
                    os.close(read)
                    _child(checks, timeout, write)
                os.close(write)
                running[read] = (checks.host.name, pid, [])
            ready, _, _ = select.select(list(running), [], [])
            for fd in ready:
                data = os.read(fd, 1 << 16)
                if data:
                    running[fd][2].append(data)
                    continue
                name, pid, chunks = running.pop(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                try:
                    state, text = json.loads(b"".join(chunks).decode("utf-8"))
                except ValueError:
                    state, text = FAILED, "its checks stopped without a result (%s)" % (
                        "exit %d" % os.waitstatus_to_exitcode(status))
                found[name] = (str(state), str(text))
    except BaseException:
        for fd, (_, pid, _) in running.items():  # Ctrl-C: the children got it too
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
            os.close(fd)
        raise
    return found


def _child(checks: HostChecks, timeout: float, write: int) -> None:
    code = 0
    try:
        try:
            outcome = check_host(checks, timeout)
        except Exception as exc:  # noqa: BLE001 (reported as the host's failure)
            outcome = (FAILED, "checks failed to run: %s: %s" % (type(exc).__name__, exc))
        data = json.dumps(list(outcome)).encode("utf-8")
        while data:
            data = data[os.write(write, data):]
    except BaseException:  # noqa: BLE001 (interrupted: the parent reports the host)
        code = 1
    finally:
        os._exit(code)  # not the parent's atexit handlers, buffers or finalizers


def run_pytest(registry: Registry, files: Sequence[Path]) -> tuple[int, str]:
    """pytest on ``files``, in this process; its exit code and output (shown when a host's
    checks did not run at all: a usage or collection error)."""
    if not files:
        return 0, ""
    import pytest
    args = ["-q", "-p", "no:cacheprovider", "-p", "testinfra.plugin",
            # each test file imported by its path: two roles may both have tests/test_default.py
            "--import-mode=importlib", "--rootdir", str(files[0].parents[2]),
            *sorted(str(f) for f in files)]
    # Only the plugins the checks need (testinfra's and this one): loading every installed one
    # (the test extra's hypothesis, say) cost more than the checks. PYTEST_ADDOPTS can still
    # add one (-p NAME).
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    out = io.StringIO()
    try:
        with testinfra_plugin.serving(registry, files), contextlib.redirect_stdout(out):
            code = int(pytest.main(args, plugins=[VerifyPlugin(registry), testinfra_plugin]))
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    return code, out.getvalue()


def _host_outcome(outcomes: Sequence[tuple[str, str, str, float]], code: int,
                  output: str) -> tuple[str, str]:
    """(state, text): the host's failures in full, then a summary like pytest's."""
    if not outcomes:
        # nothing ran for it: pytest's own words (a usage error, no test found)
        return FAILED, output.strip() or "no checks were collected (pytest exit %d)" % code
    counts: dict[str, int] = {}
    for _, state, _, _ in outcomes:
        counts[state] = counts.get(state, 0) + 1
    seconds = sum(o[3] for o in outcomes)
    summary = ", ".join("%d %s" % (counts[s], s) for s in ("failed", "error", "passed",
                                                           "skipped") if counts.get(s))
    lines = []
    for test, state, text, _ in outcomes:
        if state in ("failed", "error"):
            lines += ["_" * 8 + " %s (%s) " % (test, state) + "_" * 8, text.rstrip(), ""]
        elif os.environ.get("MAINSAIL_VERBOSE"):
            lines.append("%s %s" % (test, state.upper()))
    lines.append("%s in %.2fs" % (summary, seconds))
    failed = counts.get("failed", 0) + counts.get("error", 0)
    return (FAILED if failed or not counts.get("passed") and not counts.get("skipped")
            else OK), "\n".join(lines)
