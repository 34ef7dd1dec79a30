"""The agent's start imports only what a no-op run needs: stdlib modules used by one kind of
step (a diff, ini local facts, a temporary name) load when that step runs; the heavy ones
(dataclasses and what it pulls: inspect, ast, dis, tokenize) are never loaded by a start and
a no-op run of the common operations."""
from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from mainsail.agent import facts
from mainsail.agentproc import build_agent_zip, local_agent

ON_USE = ("platform", "secrets", "difflib", "configparser")
HEAVY = ("dataclasses", "inspect", "ast", "dis", "tokenize")


def test_a_start_and_its_facts_import_none_of_the_on_use_modules(tmp_path: Path) -> None:
    probe = (
        "import json, sys\n"
        "sys.path.insert(0, %r)\n"
        "from mainsail_agent import facts, main\n"
        "facts.gather()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    _, digest = build_agent_zip()
    with local_agent(str(tmp_path)):
        pass
    out = subprocess.run([sys.executable, "-I", "-S", "-c", probe % str(tmp_path / digest)],
                         capture_output=True, check=True, timeout=60).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(ON_USE), sorted(loaded & set(ON_USE))


# One session in a fresh interpreter, as on a host: hello (facts), one run request, bye; then
# the modules it loaded and what it answered.
SESSION = (
    "import io, json, sys\n"
    "sys.path.insert(0, %r)\n"
    "from mainsail_agent import main\n"
    "lines = [json.dumps(m).encode() + b'\\n' for m in json.loads(sys.argv[1])]\n"
    "out = io.BytesIO()\n"
    "main.serve(io.BytesIO(b''.join(lines)), out, 'probe')\n"
    "print(json.dumps({'modules': sorted(sys.modules),\n"
    "                  'replies': [json.loads(l) for l in out.getvalue().splitlines()]}))\n"
)


def noop_steps(folder: Path) -> list:
    """A converged step of each common operation (template runs as copy on the host); apt,
    user, service and systemd only as far as this machine lets them (a dpkg database, an
    init system): the modules their code imports are what is checked."""
    content = b"bench=0\n"
    (folder / "blob.txt").write_bytes(content)
    (folder / "blob.txt").chmod(0o644)
    (folder / "settings.conf").write_text("a=1\nbench=1\n")
    steps = [
        {"op": "file", "args": {"path": str(folder), "state": "directory"}},
        {"op": "copy", "args": {"dest": str(folder / "blob.txt"), "mode": "0644",
                                "content_sha": hashlib.sha256(content).hexdigest()}},
        {"op": "line", "args": {"path": str(folder / "settings.conf"), "line": "bench=1"}},
        {"op": "command", "args": {"cmd": "true", "changed_when": "false"}},
        {"op": "user", "args": {"name": "mainsail-no-such-user", "state": "absent"}},
    ]
    steps += [dict(step, ignore_errors=True) for step in (  # the run goes on where one fails
        {"op": "user", "args": {"name": getpass.getuser(), "state": "present"}},
        {"op": "apt", "args": {"name": ["dpkg"], "state": "present"}},
        {"op": "service", "args": {"name": "mainsail-no-such-unit", "state": "stopped"}},
        {"op": "systemd", "args": {"name": "mainsail-no-such-unit", "state": "stopped"}},
    )]
    return [dict(step, id=number) for number, step in enumerate(steps, 1)]


def test_a_start_and_a_noop_run_of_the_common_ops_import_no_heavy_module(
        tmp_path: Path) -> None:
    _, digest = build_agent_zip()
    with local_agent(str(tmp_path / "agent")):
        pass
    folder = tmp_path / "work"
    folder.mkdir()
    steps = noop_steps(folder)
    messages = [{"req": "run", "protocol": 1, "steps": steps,
                 "state_dir": str(tmp_path / "state"),
                 "lock": {"path": str(tmp_path / "state" / "lock"), "holder": {"by": "test"}}},
                {"req": "bye"}]
    out = subprocess.run([sys.executable, "-I", "-S", "-c",
                          SESSION % str(tmp_path / "agent" / digest), json.dumps(messages)],
                         capture_output=True, check=True, timeout=60, cwd="/").stdout
    seen = json.loads(out)
    replies = seen["replies"]
    assert "hello" in replies[0] and "done" in replies[-1], replies
    results = {r["result"]["id"]: r["result"] for r in replies if "result" in r}
    assert sorted(results) == [s["id"] for s in steps], replies
    for step in steps[:5]:  # these are no-ops anywhere: the path checked is the no-op one
        assert results[step["id"]]["status"] == "ok", (step, results[step["id"]])
    loaded = set(seen["modules"])
    assert {"mainsail_agent.ops." + s["op"] for s in steps} <= loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("version", [
    "3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]",
    "3.12.0+ (heads/3.12:0fb18b02c8, Oct  2 2023, 10:00:00) [GCC 13.2.0]",
    "3.13.0rc1 (main, Aug  1 2024, 00:00:00) [Clang 15.0.0 ]",
    "3.8 (default, Jan  1 2020, 00:00:00) [GCC 9.3.0]",
    "3.9.2 (default, Feb 28 2021, 17:03:44) \n[GCC 10.2.1 20210110]",
])
def test_the_python_version_fact_is_platforms(version: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    expected = platform._sys_version(version)[1]  # type: ignore[attr-defined]
    monkeypatch.setattr(sys, "version", version)
    assert facts.python_version() == expected
    monkeypatch.undo()
    assert facts.python_version() == platform.python_version()
