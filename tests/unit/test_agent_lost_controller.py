"""Losing the controller mid-role is a transaction failure: rolled back, recorded, reported."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mainsail.agent import txn
from mainsail.agentproc import BOOTSTRAP, AgentClient, build_agent_zip, local_agent
from mainsail.runner import describe_loss


def start_agent(folder: Path) -> "tuple[subprocess.Popen[bytes], AgentClient]":
    zip_bytes, sha = build_agent_zip()
    child = subprocess.Popen([sys.executable, "-c", BOOTSTRAP, sha, str(folder)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    client = AgentClient(child.stdout, child.stdin, lambda: "")
    client.start(zip_bytes, sha)
    return child, client


def copy(step_id: int, dest: Path, text: str) -> dict:
    return {"id": step_id, "op": "copy", "txn": "role web", "name": "copy %s" % dest.name,
            "args": {"dest": str(dest), "content": text}}


def test_a_closed_pipe_mid_role_rolls_the_role_back_and_the_next_run_reports_it(
        tmp_path: Path) -> None:
    a_conf, b_conf, state = tmp_path / "a.conf", tmp_path / "b.conf", tmp_path / "state"
    a_conf.write_text("a old\n")
    b_conf.write_text("b old\n")
    child, _ = start_agent(tmp_path / "agent")
    assert child.stdin is not None and child.stdout is not None
    child.stdout.close()  # the controller goes away: the agent's next write fails (EPIPE)
    request = {"req": "run", "steps": [copy(1, a_conf, "a new\n"), copy(2, b_conf, "b new\n")],
               "check": False, "diff": False, "state_dir": str(state), "run": "run-1"}
    child.stdin.write(json.dumps(request).encode() + b"\n")
    child.stdin.flush()  # stdin stays open: only the agent's writes fail
    assert child.wait(timeout=30) == 0
    child.stdin.close()
    err = child.stderr.read().decode() if child.stderr else ""
    assert "Traceback" not in err
    # a.conf was written, then the result could not be sent: the whole role is undone
    assert a_conf.read_text() == "a old\n" and b_conf.read_text() == "b old\n"
    record = json.loads((state / txn.LOST_RECORD).read_text())
    assert record["run"] == "run-1" and str(a_conf) in record["rollbacks"][0]["restored"]

    with local_agent(str(tmp_path / "agent")) as client:
        client.run([], {}, state_dir=str(state))
        reported = client.lost_controller
        client.run([], {}, state_dir=str(state))
        assert client.lost_controller == reported  # kept from the first run of this session
    assert reported is not None and reported["run"] == "run-1"
    line = describe_loss(reported)
    assert "lost the controller" in line and str(a_conf) in line
    assert not (state / txn.LOST_RECORD).exists()  # reported once


def test_the_controller_closing_stdin_mid_role_rolls_it_back(tmp_path: Path) -> None:
    conf, state, gate = tmp_path / "a.conf", tmp_path / "state", tmp_path / "gate"
    conf.write_text("old\n")
    child, client = start_agent(tmp_path / "agent")
    assert child.stdin is not None and child.stdout is not None
    steps = [copy(1, conf, "new\n"),
             {"id": 2, "op": "shell", "txn": "role web", "args": {
                 "cmd": "while [ ! -e %s ]; do sleep 0.05; done" % gate}},
             copy(3, tmp_path / "never.conf", "x\n")]
    request = {"req": "run", "steps": steps, "check": False, "diff": False,
               "state_dir": str(state), "run": "run-2"}
    child.stdin.write(json.dumps(request).encode() + b"\n")
    child.stdin.flush()
    first = json.loads(child.stdout.readline())
    assert first["result"]["id"] == 1 and conf.read_text() == "new\n"
    child.stdin.close()  # controller gone while step 2 runs
    gate.touch()
    assert child.wait(timeout=30) == 0
    assert conf.read_text() == "old\n" and not (tmp_path / "never.conf").exists()
    assert json.loads((state / txn.LOST_RECORD).read_text())["run"] == "run-2"
