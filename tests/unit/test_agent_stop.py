"""Ctrl-C on the controller: the agent finishes the step under way and starts no other."""

import threading
import time

from mainsail.agentproc import local_agent


def test_a_stop_request_ends_the_run_between_steps(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    steps = [{"id": 1, "op": "shell", "name": "slow",
              "args": {"cmd": "sleep 0.6; echo done > %s" % first}},
             {"id": 2, "op": "shell", "name": "after", "args": {"cmd": "touch %s" % second}}]
    with local_agent(state_dir=str(tmp_path / "agent")) as client:
        threading.Timer(0.2, client.request_stop).start()
        started = time.monotonic()
        results = client.run(steps, {})
        assert [r["id"] for r in results] == [1]
        assert client.last_stopped
        assert first.read_text() == "done\n" and not second.exists()
        assert time.monotonic() - started >= 0.5
        # The session stays usable after a stop.
        assert [r["status"] for r in client.run(steps[1:], {})] == ["changed"]
