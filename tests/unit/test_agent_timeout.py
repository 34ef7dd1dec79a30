"""Step timeouts: a stuck step fails cleanly, its role rolls back, the agent goes on."""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from mainsail.agent import deadline
from mainsail.agent import main as agent_main
from mainsail.errors import BadInput
from test_plan import one_task


def serve(lines: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = io.BytesIO()
    inp = io.BytesIO(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
    assert agent_main.serve(inp, out, "abc", gather=lambda: {}) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as handle:
        return handle.read().split()[2] != "Z"


def test_a_hung_step_fails_at_its_timeout_its_children_die_and_the_role_rolls_back(
        tmp_path: Path) -> None:
    conf, pidfile = tmp_path / "a.conf", tmp_path / "sleeper.pid"
    conf.write_text("old\n")
    steps = [
        {"id": 1, "op": "copy", "txn": "web", "args": {"dest": str(conf), "content": "new\n"}},
        {"id": 2, "op": "shell", "txn": "web", "timeout": 1,
         "args": {"cmd": "sleep 60 & echo $! > %s; wait" % pidfile}},
    ]
    started = time.monotonic()
    messages = serve([{"req": "run", "steps": steps, "state_dir": str(tmp_path / "state")},
                      {"req": "bye"}])
    assert time.monotonic() - started < 20
    results = [m["result"] for m in messages if "result" in m]
    assert [r["status"] for r in results] == ["changed", "failed"]
    assert "timed out after 1 s" in results[1]["msg"] and "timeout:" in results[1]["msg"]
    done = [m["done"] for m in messages if "done" in m][0]
    assert done["failed"] is True and done["rollbacks"][0]["txn"] == "web"
    assert conf.read_text() == "old\n"
    sleeper = int(pidfile.read_text())
    for _ in range(50):
        if not alive(sleeper):
            break
        time.sleep(0.1)
    assert not alive(sleeper)


def test_every_step_has_a_documented_default_timeout() -> None:
    assert deadline.step_timeout({}) == deadline.DEFAULT_STEP_TIMEOUT == 600
    assert deadline.step_timeout({"timeout": 5}) == 5
    docs = (Path(__file__).resolve().parents[2] / "docs" / "playbooks.md").read_text()
    assert "`timeout`" in docs and "600" in docs


def test_a_tasks_timeout_keyword_reaches_its_step(tmp_path: Path) -> None:
    plan = one_task(tmp_path, "- command: sleep 5\n  timeout: 30\n")
    assert plan.steps[0]["timeout"] == 30


@pytest.mark.parametrize("value", ["-1", "0", "soon", "true"])
def test_a_bad_timeout_is_refused_at_load_time(tmp_path: Path, value: str) -> None:
    with pytest.raises(BadInput) as info:
        one_task(tmp_path, "- command: sleep 5\n  timeout: %s\n" % value)
    assert "timeout" in str(info.value) and "site.yml:4" in str(info.value)
