"""The per-host run lock: one run at a time, the holder named, a dead run's lock broken."""

import os
import signal
import threading

import pytest

from mainsail.agentproc import AgentLocked, local_agent

STEP = {"id": 1, "op": "command", "name": "noop", "args": {"argv": ["true"]}}


def spec(tmp_path, who, wait=0.0):
    return {"path": str(tmp_path / "run.lock"), "wait": wait,
            "holder": {"user": who, "host": "ctl", "pid": 1, "command": "deploy"}}


def test_a_second_run_is_refused_and_told_who_holds_the_lock(tmp_path):
    with local_agent(state_dir=str(tmp_path / "a")) as first, \
            local_agent(state_dir=str(tmp_path / "a")) as second:
        assert first.run([STEP], {}, lock=spec(tmp_path, "alice"))[0]["status"] == "changed"
        with pytest.raises(AgentLocked) as caught:
            second.run([STEP], {}, lock=spec(tmp_path, "bob"))
        assert caught.value.holder["user"] == "alice" and caught.value.holder["since"]
        # The holder keeps its lock for its next requests.
        assert first.run([STEP], {}, lock=spec(tmp_path, "alice"))[0]["status"] == "changed"


def test_a_waiting_run_gets_the_lock_when_the_holder_ends(tmp_path):
    with local_agent(state_dir=str(tmp_path / "a")) as second:
        first_cm = local_agent(state_dir=str(tmp_path / "a"))
        first = first_cm.__enter__()
        first.run([STEP], {}, lock=spec(tmp_path, "alice"))
        threading.Timer(0.5, lambda: first_cm.__exit__(None, None, None)).start()
        results = second.run([STEP], {}, lock=spec(tmp_path, "bob", wait=10))
        assert results[0]["status"] == "changed"
        assert second.stale_lock is None  # a clean release leaves no stale holder
    assert not (tmp_path / "run.lock.holder").exists()


def test_a_dead_runs_lock_is_broken_and_reported(tmp_path):
    agent_pids = []
    with local_agent(state_dir=str(tmp_path / "a")) as first:
        first.run([{"id": 1, "op": "shell", "name": "pid",
                    "args": {"cmd": "echo $PPID > %s" % (tmp_path / "pid")}}], {},
                  lock=spec(tmp_path, "alice"))
        agent_pids.append(int((tmp_path / "pid").read_text()))
        os.kill(agent_pids[0], signal.SIGKILL)
    with local_agent(state_dir=str(tmp_path / "a")) as second:
        assert second.run([STEP], {}, lock=spec(tmp_path, "bob"))[0]["status"] == "changed"
        assert second.stale_lock["user"] == "alice"
