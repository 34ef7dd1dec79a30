"""Ad hoc work on hosts (`inv run`, `put`, `get`, `ping`, `facts`): one function per host,
fanned out by mainsail.fleet, so every command gathers the same outcomes and exit codes."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .agent.ops import copy as copy_op
from .errors import BadInput, HostFailed, did_you_mean
from .fleet import FleetResult, fan_out
from .inventory import Host
from .opspec import OPS, canonical_op
from .playbook import CONTROLLER_OPS, Play, plays_from_data
from .profile import Profile
from .session import DEFAULT_CONNECT_TIMEOUT, connect, open_session
from .yamlio import Pos, YDict, YList


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
        ) -> FleetResult[tuple[str, str, str]]:
    """The file at ``remote`` on every host, atomically; (status, message, diff) per host
    (the diff when ``diff`` is asked). With ``check`` nothing is written: the status says
    what would happen."""
    sha = hashlib.sha256(data).hexdigest()
    step = {"id": 1, "op": copy_op.SPEC.name, "name": "put " + remote,
            "args": copy_op.args_for(remote, sha)}

    def one(h: Host) -> tuple[str, str, str]:
        session = open_session(h, timeout)
        try:
            results = session.run([step], {sha: data}, check, diff)
        finally:
            session.close()
        result = results[0] if results else {"status": "failed", "msg": "no result"}
        if result.get("status") == "failed":
            raise HostFailed(str(result.get("msg") or "failed"), where="host %s" % h.name)
        return (str(result.get("status")), str(result.get("msg") or ""),
                str(result.get("diff") or ""))

    return fan_out(hosts, one, forks)


def get(hosts: list[Host], remote: str, local_dir: Path, forks: int = 20,
        timeout: float = DEFAULT_CONNECT_TIMEOUT) -> FleetResult[Path]:
    """``remote`` from every host into LOCAL_DIR/<host>/<name>; the file lands whole or not."""

    def one(h: Host) -> Path:
        target = local_dir / h.name / Path(remote).name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name("." + target.name + ".part")
        if h.connection == "local":
            return _get_local(h, remote, tmp, target)
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
        if h.connection == "local":
            return _run_local(h, command, become)
        timings = profile.host(h.name) if profile else None
        timed = timings.timed if timings else lambda phase: contextlib.nullcontext()
        conn = connect(h, timeout, timings)
        try:
            with timed("apply"):
                if become:
                    # sudo runs a program, not a shell line: `a; b`, pipes and loops need
                    # a shell of their own, as without -b
                    result = conn.sudo(shlex.join(["/bin/sh", "-c", command]), hide=True,
                                       warn=True, in_stream=False, user=h.become_user,
                                       password=h.become_password or "")
                else:
                    result = conn.run(command, hide=True, warn=True, in_stream=False)
        finally:
            with timed("close"):
                conn.close()
        stderr = result.stderr
        if become and stderr.startswith(conn.config.sudo.prompt):
            stderr = stderr[len(conn.config.sudo.prompt):]  # sudo's prompt, answered for us
        return result.exited, result.stdout, stderr

    outcome = fan_out(hosts, one, forks)
    return FleetResult(tuple(r if r.value is None or r.value[0] == 0 else
                             type(r)(r.host, "failed", r.value, "exit %d" % r.value[0])
                             for r in outcome.results))



def _run_local(h: Host, command: str, become: bool) -> tuple[int, str, str]:
    """A `connection: local` host's command: this machine's shell, as its login shell would
    run it; with become, through sudo unless this process is already the become user."""
    import os
    import pwd
    import subprocess
    argv = ["/bin/sh", "-c", command]
    if become and pwd.getpwuid(os.geteuid()).pw_name != h.become_user:
        argv = ["sudo", "-n", "-u", h.become_user, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          errors="replace")
    return done.returncode, done.stdout, done.stderr


def _get_local(h: Host, remote: str, tmp: Path, target: Path) -> Path:
    import shutil
    try:
        shutil.copyfile(remote, tmp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise HostFailed("%s: %s" % (remote, exc.strerror or exc),
                         where="host %s" % h.name) from None
    tmp.replace(target)
    return target


# ---------------------------------------------------------------------------- -m OP -a ARGS

@dataclass(frozen=True)
class _Label(Pos):
    """A position that is a phrase of the command line, not a file's line and column."""

    def __str__(self) -> str:
        return self.file

    @property
    def short(self) -> str:
        return self.file


def _located(data: dict[str, Any], where: str) -> YDict:
    """``data`` as a mapping that names ``where`` in every error about it."""
    out = YDict(data)
    out.pos = _Label(where, 0, 0)
    out.key_pos = {key: out.pos for key in data}
    return out


# Ansible's ad hoc habits with no operation of that name here, and what to use instead.
OTHER_COMMANDS = {"gather_facts": "mainsail facts (--filter 'ansible_distribution*')"}


def operation_name(name: str) -> str:
    """The operation ``-m NAME`` names (``ansible.builtin.apt`` -> ``apt``); bad input with
    the closest names when there is none."""
    op = canonical_op(name) or (name if name in CONTROLLER_OPS else None)
    if op is None:
        hint = OTHER_COMMANDS.get(name.split(".")[-1])
        raise BadInput("unknown operation %r" % name, "command line: -m",
                       "use %s" % hint if hint else
                       did_you_mean(name, [*OPS, *CONTROLLER_OPS]) +
                       " (every operation: mainsail doc operations)")
    return op


def operation_args(text: str | None, free_form: bool = False) -> Any:
    """``-a``: Ansible's ``k=v k2='v 2'`` line (or a free-form op's command), or a YAML/JSON
    mapping (``-a '{"name": "tree"}'``, or ``-a 'name: tree'`` for an op that takes no
    command: `-m shell -a 'echo: hi'` stays a command). The playbook loader reads the string
    forms exactly as it reads them in a task."""
    import yaml
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("{") or (not free_form and ":" in text and "=" not in text
                                and "\n" not in text
                                and text.split(":", 1)[0].strip().isidentifier()
                                and text.split(":", 1)[1][:1] in (" ", "")):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BadInput("-a %r is not valid YAML/JSON: %s" % (text, str(exc).splitlines()[0]),
                           "command line: -a", "e.g. -a 'name=tree' or -a '{\"name\": \"tree\"}'"
                           ) from None
        if not isinstance(data, dict):
            raise BadInput("-a %r is not a mapping of argument names to values" % text,
                           "command line: -a", "e.g. -a 'name=tree state=present'")
        return data
    return text


def operation_play(root: Path, op: str, args: str | None, become: bool,
                   secrets: Any = None) -> Play:
    """``-m OP -a ARGS`` as a one-task play over every selected host, validated and then run
    like any playbook (check, diff, become, -e and the reports all apply)."""
    name = operation_name(op)
    where = "command line: -m %s%s" % (op, " -a %s" % shlex.quote(args) if args else "")
    value = operation_args(args, bool(name in OPS and OPS[name].free_form))
    if isinstance(value, dict):
        value = _located(value, where)
    task = _located({"name": ("%s %s" % (op, args or "")).strip(), name: value}, where)
    play = {"name": "ad hoc", "hosts": "all", "tasks": YList([task])}
    if become:
        play["become"] = True
    tasks = play["tasks"]
    tasks.pos, tasks.item_pos = task.pos, [task.pos]
    return plays_from_data(root, [_located(play, where)], where, secrets)[0]


# ---------------------------------------------------------------------------- facts --filter

def fact_names(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Every fact a filter can name: the agent's own (``hostname``, ``os``, ...) as templates
    see them under ``facts``, and Ansible's as ``ansible_<name>`` (``ansible_distribution``)."""
    from .plan import ansible_facts
    return {**facts, **{"ansible_" + k: v for k, v in ansible_facts(facts).items()}}


def filter_facts(facts: Mapping[str, Any], patterns: Sequence[str]) -> dict[str, Any]:
    """The facts whose name matches any of the shell-style ``patterns``, as Ansible's setup
    ``filter`` picks them: a pattern not starting with ``ansible_`` also matches with that
    prefix (``distribution*`` finds ``ansible_distribution_version``). No pattern: all."""
    named = fact_names(facts)
    if not patterns:
        return dict(facts)
    wanted = [p for p in patterns if p] or ["*"]
    return {name: value for name, value in sorted(named.items())
            if any(fnmatch.fnmatchcase(name, p) or
                   (not p.startswith("ansible_") and fnmatch.fnmatchcase(name, "ansible_" + p))
                   for p in wanted)}
