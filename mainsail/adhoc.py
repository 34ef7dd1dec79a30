"""Ad hoc work on hosts (`inv run`, `put`, `get`, `ping`, `facts`): one function per host,
fanned out by mainsail.fleet, so every command gathers the same outcomes and exit codes."""

from __future__ import annotations

import contextlib
import hashlib
import time
from pathlib import Path
from typing import Any

from .agent.ops import copy as copy_op
from .errors import HostFailed
from .fleet import FleetResult, fan_out
from .inventory import Host
from .profile import Profile
from .session import DEFAULT_CONNECT_TIMEOUT, connect, open_session


def ping(hosts: list[Host], forks: int = 20, timeout: float = DEFAULT_CONNECT_TIMEOUT
         ) -> FleetResult[str]:
    """Connect, start the agent, say how long it took and which python the host runs."""

    def one(h: Host) -> str:
        started = time.monotonic()
        session = open_session(h, timeout)
        session.close()
        python = session.facts.get("python", {})
        return "pong in %.0f ms (python %s)" % ((time.monotonic() - started) * 1000,
                                                python.get("version", "?")
                                                if isinstance(python, dict) else python)

    return fan_out(hosts, one, forks)


def facts(hosts: list[Host], forks: int = 20, timeout: float = DEFAULT_CONNECT_TIMEOUT
          ) -> FleetResult[dict[str, Any]]:
    def one(h: Host) -> dict[str, Any]:
        session = open_session(h, timeout)
        session.close()
        return session.facts

    return fan_out(hosts, one, forks)


def put(hosts: list[Host], data: bytes, remote: str, forks: int = 20,
        timeout: float = DEFAULT_CONNECT_TIMEOUT, *, check: bool = False, diff: bool = False
        ) -> FleetResult[tuple[str, str]]:
    """The file at ``remote`` on every host, atomically; (status, message) per host. With
    ``check`` nothing is written: the status says what would happen."""
    sha = hashlib.sha256(data).hexdigest()
    step = {"id": 1, "op": copy_op.SPEC.name, "name": "put " + remote,
            "args": copy_op.args_for(remote, sha)}

    def one(h: Host) -> tuple[str, str]:
        session = open_session(h, timeout)
        try:
            results = session.run([step], {sha: data}, check, diff)
        finally:
            session.close()
        result = results[0] if results else {"status": "failed", "msg": "no result"}
        if result.get("status") == "failed":
            raise HostFailed(str(result.get("msg") or "failed"), where="host %s" % h.name)
        return str(result.get("status")), str(result.get("msg") or "")

    return fan_out(hosts, one, forks)


def get(hosts: list[Host], remote: str, local_dir: Path, forks: int = 20,
        timeout: float = DEFAULT_CONNECT_TIMEOUT) -> FleetResult[Path]:
    """``remote`` from every host into LOCAL_DIR/<host>/<name>; the file lands whole or not."""

    def one(h: Host) -> Path:
        target = local_dir / h.name / Path(remote).name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name("." + target.name + ".part")
        conn = connect(h, timeout)
        try:
            conn.get(remote, local=str(tmp))
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise HostFailed("%s: %s" % (remote, exc.strerror or exc),
                             where="host %s" % h.name) from None
        finally:
            conn.close()
        tmp.replace(target)
        return target

    return fan_out(hosts, one, forks)


def run(hosts: list[Host], command: str, forks: int = 20,
        timeout: float = DEFAULT_CONNECT_TIMEOUT, become: bool = False,
        profile: Profile | None = None) -> FleetResult[tuple[int, str, str]]:
    """``command`` through each host's shell: (exit code, stdout, stderr); a non-zero exit is
    that host's failure. ``become`` (-b): through sudo, as the host's become_user. With
    ``profile``: each host's connection phases and its command's wall time ("apply")."""

    def one(h: Host) -> tuple[int, str, str]:
        timings = profile.host(h.name) if profile else None
        timed = timings.timed if timings else lambda phase: contextlib.nullcontext()
        conn = connect(h, timeout, timings)
        try:
            with timed("apply"):
                if become:
                    result = conn.sudo(command, hide=True, warn=True, in_stream=False,
                                       user=h.become_user, password=h.become_password or "")
                else:
                    result = conn.run(command, hide=True, warn=True, in_stream=False)
        finally:
            with timed("close"):
                conn.close()
        return result.exited, result.stdout, result.stderr

    outcome = fan_out(hosts, one, forks)
    return FleetResult(tuple(r if r.value is None or r.value[0] == 0 else
                             type(r)(r.host, "failed", r.value, "exit %d" % r.value[0])
                             for r in outcome.results))

