"""The agent protocol's messages (mainsail/agent/protocol.py), as the controller reads them.

A host is not trusted to send what an agent would: every line is bounded in size and depth and
checked field by field, and a bad message fails that host only.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mainsail.agent import protocol
from mainsail.agent.protocol import Done, ProtocolError, Step, StepResult
from mainsail.agentproc import AgentClient, AgentError

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
                    st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) |
                    st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
KEYS = st.sampled_from(["hello", "result", "done", "need", "facts", "error", "need_agent", "x"])


def client_reading(*lines: bytes) -> AgentClient:
    return AgentClient(io.BytesIO(b"".join(lines)), io.BytesIO())


# ---------------------------------------------------------------------------- fuzz

@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda k, v: json.dumps({k: v}).encode(), KEYS, JSON)))
def test_any_line_from_a_host_is_a_message_or_a_protocol_error(line: bytes) -> None:
    try:
        message = protocol.from_host(protocol.decode(line))
    except ProtocolError:
        return
    assert isinstance(message, (protocol.Hello, StepResult, Done, protocol.Need,
                                protocol.Facts, protocol.AgentFailure, protocol.NeedAgent))


@settings(max_examples=200, deadline=None)
@given(st.builds(lambda k, v: json.dumps({k: v}).encode() + b"\n",
                 st.sampled_from(["result", "done", "need"]), JSON))
def test_during_a_run_a_bad_message_is_an_agent_error_never_a_crash(line: bytes) -> None:
    client = client_reading(line, b'{"done": {"failed": false}}\n')
    try:
        results = client.run([], {})
    except AgentError as exc:  # the host fails, with a reason; nothing else escapes
        assert str(exc)
        return
    assert isinstance(results, list)


# ---------------------------------------------------------------------------- bounds

def test_deep_nesting_is_refused_before_parsing() -> None:
    line = b'{"facts": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    with pytest.raises(ProtocolError, match="nested more than"):
        protocol.decode(line)


def test_brackets_inside_strings_are_not_nesting() -> None:
    line = json.dumps({"result": {"id": 1, "status": "ok", "stdout": "[" * 1000}}).encode()
    assert protocol.from_host(protocol.decode(line)).stdout == "[" * 1000


def test_a_line_over_the_limit_is_refused() -> None:
    with pytest.raises(ProtocolError, match="more than 100 bytes"):
        protocol.decode(b'{"facts": "' + b"x" * 200 + b'"}', limit=100)


def test_the_client_reads_at_most_the_limit_and_refuses_the_rest(monkeypatch) -> None:
    monkeypatch.setattr(protocol, "MAX_LINE_BYTES", 1000)
    client = client_reading(b'{"facts": {"a": "' + b"x" * 5000 + b'"}}\n')
    with pytest.raises(AgentError, match="more than 1000 bytes"):
        client.facts()


# ---------------------------------------------------------------------------- types

@pytest.mark.parametrize("done", [[1], "yes", {"failed": "no"}, {"failed": False, "host": "x"},
                                  {"failed": True, "rollbacks": [1]}, {"locked": "me"}])
def test_a_done_of_the_wrong_shape_is_refused(done: Any) -> None:
    with pytest.raises(ProtocolError):
        protocol.from_host({"done": done})


@pytest.mark.parametrize("result", [{"id": 1, "status": "fine"}, {"id": "1", "status": "ok"},
                                    {"id": 1, "status": "ok", "rc": "0"},
                                    {"id": 1, "status": "ok", "msg": ["a"]},
                                    {"id": 1, "status": "ok", "elapsed": True}])
def test_a_result_of_the_wrong_shape_is_refused(result: Any) -> None:
    with pytest.raises(ProtocolError):
        StepResult.from_wire(result)


def test_a_result_keeps_the_agents_verdict() -> None:
    result = StepResult.from_wire({"id": 3, "status": "ignored", "rc": 4, "msg": "boom"})
    assert (result.status, result.rc, result.msg) == ("ignored", 4, "boom")


def test_done_carries_the_verdict_on_the_host() -> None:
    assert protocol.from_host({"done": {"failed": True, "host": "rolled back"}}).host == \
        "rolled back"
    assert protocol.from_host({"done": {"failed": True}}).host == "failed"


def test_need_must_be_a_list_of_digests() -> None:
    with pytest.raises(ProtocolError):
        protocol.from_host({"need": [1, 2]})


# ---------------------------------------------------------------------------- steps

def test_a_step_carries_become_become_user_and_timeout() -> None:
    step = Step.from_wire({"id": 1, "op": "command", "args": {"cmd": "id"}, "become": True,
                           "become_user": "www-data", "timeout": 30})
    assert (step.become, step.become_user, step.timeout) == (True, "www-data", 30.0)
    assert Step.from_wire(step.to_wire()) == step


def test_a_step_without_them_leaves_them_to_the_session() -> None:
    step = Step.from_wire({"id": 1, "op": "command", "args": {}})
    assert (step.become, step.become_user, step.timeout) == (None, None, None)


@pytest.mark.parametrize("bad", [{"become": "yes"}, {"become_user": 0}, {"timeout": "10"},
                                 {"timeout": 0}, {"notify": "x"}, {"args": []}, {"id": "1"}])
def test_a_step_with_a_field_of_the_wrong_type_is_refused(bad: dict) -> None:
    with pytest.raises(ProtocolError):
        Step.from_wire({"id": 1, "op": "command", "args": {}, **bad})


def test_display_fields_of_a_plan_step_travel_unchanged() -> None:
    wire = {"id": 1, "op": "copy", "args": {}, "action": "template", "role": "web",
            "tags": ["a"]}
    assert {k: Step.from_wire(wire).to_wire()[k] for k in ("action", "role", "tags")} == \
        {"action": "template", "role": "web", "tags": ["a"]}


# ---------------------------------------------------------------------------- versions

def test_the_newest_common_version_is_chosen() -> None:
    assert protocol.negotiate([1]) == 1
    assert protocol.negotiate([0, 1, 7]) == 1


def test_an_agent_without_a_common_version_is_refused() -> None:
    hello = json.dumps({"hello": {"facts": {}, "agent": "abc", "protocol": [99]}}).encode()
    with pytest.raises(AgentError, match="speaks protocol"):
        client_reading(hello + b"\n").start(b"", "abc")


def test_an_agent_refuses_a_request_in_a_version_it_does_not_speak() -> None:
    from mainsail.agent import main as agent_main
    out = io.BytesIO()
    inp = io.BytesIO(b'{"req": "facts", "protocol": 99}\n{"req": "bye"}\n')
    agent_main.serve(inp, out, "abc", gather=lambda: {})
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "protocol 99" in replies[1]["error"]


# ---------------------------------------------------------------------------- one host only

def test_a_host_that_breaks_the_protocol_fails_alone_and_the_reports_are_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_runner import MARK, project, run

    from mainsail import runner
    from mainsail.report import Masker, write_json, write_junit

    real_open = runner.open_session

    class BadDone:
        """Host b's agent answers the run with "done": [1]."""

        def __init__(self, reader: Any) -> None:
            self.reader = reader

        def readline(self, limit: int = -1) -> bytes:
            line = self.reader.readline(limit)
            return b'{"done": [1]}\n' if line.startswith(b'{"done"') else line

    def open_session(host: Any, **kwargs: Any) -> Any:
        session = real_open(host, **kwargs)
        if host.name == "b":
            session.client._reader = BadDone(session.client._reader)
        return session

    monkeypatch.setattr(runner, "open_session", open_session)
    root = project(tmp_path, "- hosts: all\n  tasks:" + MARK)
    record, _ = run(root)
    assert {h: r.state for h, r in record.hosts.items()} == {"a": "ok", "b": "failed",
                                                               "c": "ok"}
    assert "broke the protocol" in record.hosts["b"].error
    write_json(record, tmp_path / "r.json", Masker())
    write_junit(record, tmp_path / "r.xml", Masker())
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["hosts"]["b"]["state"] == "failed" and data["hosts"]["a"]["state"] == "ok"
    suites = {s.get("name"): s for s in ET.fromstring((tmp_path / "r.xml").read_text())}
    assert suites["b"].get("errors") == "1" and suites["a"].get("errors") == "0"
