"""The pytest side of `inv verify`: testinfra's hosts reached through Mainsail's own sessions.

verify (verify.py) opens one agent session per host, the way a deploy does (pinned host keys,
one sudo per host with its become password answered on the channel), then runs pytest once,
in its own process, with this module as a plugin. Each check's command goes to the host's
agent as a ``raw`` step: no ssh client, sudo or shell started per command on the controller,
and on the host only the command itself.

* ``mainsail://NAME``: a testinfra backend over the open session of host NAME;
* each role's test module gets the hosts the playbook applies that role to;
* the ``hostvars`` fixture: the host's resolved variables, held in this process (never in a
  file or the environment).
"""

from __future__ import annotations

import sys
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import testinfra.backend
from testinfra.backend import base

BACKEND = "mainsail"


@dataclass
class Registry:
    """What one verify run hands its checks: the open session of each host, which hosts each
    test file runs on, and their variables. Results come back per host."""

    sessions: Mapping[str, Any]  # host name -> session.HostSession
    hosts_of: Mapping[Path, tuple[str, ...]]  # test file -> the hosts it checks
    hostvars: Mapping[str, Mapping[str, Any]]
    outcomes: dict[str, list[tuple[str, str, str, float]]] = field(default_factory=dict)
    # host -> [(test id, "passed"/"failed"/"skipped"/"error", failure text, seconds)]

    def record(self, host: str, test: str, outcome: str, text: str, seconds: float) -> None:
        self.outcomes.setdefault(host, []).append((test, outcome, text, seconds))


_ACTIVE: list[Registry] = []  # the run under way (one at a time in a process)


@contextlib.contextmanager
def serving(registry: Registry, files: Sequence[Path]) -> Iterator[None]:
    """``registry``'s sessions for the backend while a pytest runs over ``files``; then
    what that run left behind forgotten."""
    _ACTIVE.append(registry)
    try:
        yield
    finally:
        _ACTIVE.pop()
        forget(files)


def active() -> Registry:
    if not _ACTIVE:
        raise RuntimeError("mainsail's testinfra backend runs under `inv verify` only")
    return _ACTIVE[-1]


class MainsailBackend(base.BaseBackend):
    """testinfra's commands run by the host's agent, as the session's user (root when the
    host's plays escalate): ``/bin/sh -c COMMAND``, its exit status, stdout and stderr (as
    UTF-8 text, undecodable bytes replaced; the agent keeps 1 MiB of each)."""

    NAME = BACKEND

    def __init__(self, hostname: str, *args: Any, **kwargs: Any) -> None:
        self.session = active().sessions[hostname]
        super().__init__(hostname, *args, **kwargs)
        self._next = 0

    def get_pytest_id(self) -> str:
        return self.hostname

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        line = self.get_command(command, *args)
        self._next += 1
        # ignore_errors: a command that exits non-zero is an answer here, not a failed host
        step = {"id": self._next, "op": "raw", "name": "check", "args": {"cmd": line},
                "ignore_errors": True}
        done = self.session.run([step], {}, check=False, diff=False)
        result = done[0] if done else {}
        rc = result.get("rc")
        return self.result(1 if rc is None else int(rc), self.encode(line),
                           str(result.get("stdout") or "").encode(),
                           str(result.get("stderr") or result.get("msg") or "").encode())


def forget(files: Sequence[Path]) -> None:
    """After a run in this process: testinfra's cached hosts of ours (their sessions are
    closed) and the check modules pytest imported, so that a later run reads them afresh."""
    from testinfra.host import Host
    ours = (lambda host: isinstance(host.backend, MainsailBackend))
    for key, value in list(Host._host_cache.items()):
        if ours(value):
            del Host._host_cache[key]
    for key, values in list(Host._hosts_cache.items()):
        if any(ours(v) for v in values):
            del Host._hosts_cache[key]
    paths = {str(Path(f).resolve()) for f in files}
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if where and str(Path(where).resolve()) in paths:
            del sys.modules[name]


testinfra.backend.BACKENDS[BACKEND] = "%s.%s" % (__name__, MainsailBackend.__name__)


class VerifyPlugin:
    """Parametrizes each test module with its hosts; records each test's outcome per host."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @pytest.hookimpl(tryfirst=True)
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        # Before testinfra's own hook, which then builds the hosts from this list.
        if "_testinfra_host" in metafunc.fixturenames:
            path = Path(str(metafunc.definition.path)).resolve()
            metafunc.module.testinfra_hosts = ["%s://%s" % (BACKEND, name)
                                               for name in self.registry.hosts_of.get(path, ())]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Any:
        outcome = yield
        report = outcome.get_result()
        if report.when != "call" and not (report.failed or report.skipped):
            return
        host = getattr(getattr(item, "callspec", None), "params", {}).get("_testinfra_host")
        names = [host.backend.hostname] if host is not None else \
            list(self.registry.hosts_of.get(Path(str(item.path)).resolve(), ()))
        state = "error" if report.failed and report.when != "call" else report.outcome
        text = report.longreprtext if report.failed else ""
        for name in names:
            self.registry.record(name, item.nodeid, state, text, report.duration)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # a test file that does not import: every host it checks fails
            path = Path(str(report.fspath)).resolve()
            for name in self.registry.hosts_of.get(path, ()):
                self.registry.record(name, report.nodeid, "error", report.longreprtext, 0.0)


@pytest.fixture(scope="module")
def hostvars(_testinfra_host: Any) -> Mapping[str, Any]:
    """The host's variables: inventory vars (with `address`, `inventory_hostname`) over the
    applied roles' defaults, as the plays resolve them."""
    return active().hostvars.get(_testinfra_host.backend.hostname, {})
