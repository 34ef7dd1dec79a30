"""The agent's channel: a step's result waits briefly to share a write, never longer."""
from __future__ import annotations

import io
import json
import time

import pytest

from mainsail.agent import main, txn


class Recording(io.RawIOBase):
    """An output that keeps each write apart; optionally fails like a closed pipe."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.broken = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        if self.broken:
            raise BrokenPipeError(32, "Broken pipe")
        self.writes.append(bytes(data))
        return len(data)


def channel() -> tuple[main.Channel, Recording]:
    out = Recording()
    return main.Channel(io.BytesIO(), out), out  # type: ignore[arg-type]


def lines(out: Recording) -> list[dict]:
    return [json.loads(line) for w in out.writes for line in w.splitlines()]


def test_results_that_follow_each_other_travel_in_one_write_before_what_ends_the_run():
    chan, out = channel()
    chan.send({"result": {"id": 1, "status": "ok"}})
    chan.send({"result": {"id": 2, "status": "ok"}})
    assert out.writes == []  # waiting for company
    chan.send({"done": {"failed": False}})
    assert len(out.writes) == 1
    assert [next(iter(m)) for m in lines(out)] == ["result", "result", "done"]  # in order


def test_a_result_is_written_within_the_delay_however_long_the_next_step_takes():
    chan, out = channel()
    chan.send({"result": {"id": 1, "status": "ok"}})
    deadline = time.monotonic() + 5
    while not out.writes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lines(out) == [{"result": {"id": 1, "status": "ok"}}]
    chan.send({"result": {"id": 2, "status": "ok"}})  # and again for the next one
    chan.flush()
    assert len(out.writes) == 2


def test_a_controller_gone_while_results_waited_is_reported_at_the_next_send():
    chan, out = channel()
    out.broken = True
    chan.send({"result": {"id": 1, "status": "ok"}})  # no error yet: it waits
    with pytest.raises(txn.ControllerLost):
        chan.flush()
    assert chan.lost
    chan.send({"done": {"failed": True}})  # reported once; then nothing more is sent


def test_the_writer_threads_failure_reaches_the_run():
    chan, out = channel()
    out.broken = True
    chan.send({"result": {"id": 1, "status": "ok"}})
    deadline = time.monotonic() + 5
    while not chan.lost and time.monotonic() < deadline:
        time.sleep(0.01)
    assert chan.lost
    with pytest.raises(txn.ControllerLost):
        chan.send({"done": {"failed": False}})
