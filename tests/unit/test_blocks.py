"""block with rescue and always, as Ansible runs them: judged on the controller where the
failure is known there, and across a segment cut where a step on the host may fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent import txn
from mainsail.agent.core import Context
from mainsail.agent.protocol import Step
from mainsail.errors import BadInput
from tests.unit.test_segments import names, plan_tasks, ran


def test_a_failure_known_on_the_controller_runs_the_rescue_in_the_same_request(
        tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block:
            - name: EXPECTED FAILURE
              debug: {msg: "{{ nothing_here }}"}
            - name: not reached
              debug: {msg: no}
          rescue:
            - name: rescued
              assert:
                that:
                  - ansible_failed_task.name == "EXPECTED FAILURE"
                  - "'nothing_here' in ansible_failed_result.msg"
          always:
            - name: always
              debug: {msg: yes}
        - name: after
          debug: {msg: after}
        """)
    assert names(plan) == ["EXPECTED FAILURE", "rescued", "always", "after"]
    assert plan.steps[0]["ignore_errors"] is True  # reported in place, the host goes on
    assert "evaluated" not in plan.steps[1]["args"]  # the rescue's assert holds
    assert plan.deferred == ()


def test_a_block_that_does_not_fail_skips_its_rescue(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block: [{name: fine, debug: {msg: ok}}]
          rescue: [{name: rescue, debug: {msg: "{{ ansible_failed_result.msg }}"}}]
          always: [{name: always, debug: {msg: a}}]
        """)
    assert names(plan) == ["fine", "always"]


def test_a_false_assert_in_a_block_fails_it(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block:
            - {name: check, assert: {that: [1 == 2]}}
          rescue:
            - name: rescue
              debug: {msg: "{{ ansible_failed_result.msg }}"}
        """)
    assert names(plan) == ["check", "rescue"]
    assert plan.steps[1]["args"]["msg"] == "Assertion failed"


def test_without_rescue_the_failure_stands_after_always(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block: [{name: boom, fail: {msg: boom}}]
          always: [{name: always, debug: {msg: a}}]
        - {name: never, debug: {msg: n}}
        """)
    assert names(plan) == ["boom", "always", "boom"]
    last = plan.steps[-1]
    assert last["op"] == "fail" and last["args"]["msg"] == "boom"
    assert last["ignore_errors"] is False and plan.deferred == ()


def test_a_failing_rescue_still_runs_always_then_fails_the_host(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block: [{name: one, fail: {msg: one}}]
          rescue:
            - {name: two, fail: {msg: two}}
            - {name: skipped, debug: {msg: s}}
          always: [{name: always, debug: {msg: a}}]
        """)
    assert names(plan) == ["one", "two", "always", "two"]
    assert plan.steps[-1]["args"]["msg"] == "two"


def test_a_nested_failure_goes_to_the_enclosing_block(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block:
            - block: [{name: inner, fail: {msg: inner}}]
              always: [{name: inner always, debug: {msg: a}}]
            - {name: skipped, debug: {msg: s}}
          rescue:
            - name: outer rescue
              debug: {msg: "{{ ansible_failed_task.name }}"}
        - {name: after, debug: {msg: x}}
        """)
    assert names(plan) == ["inner", "inner always", "outer rescue", "after"]
    assert plan.steps[2]["args"]["msg"] == "inner"


def test_a_host_step_in_a_block_is_caught_and_the_rescue_waits_for_its_outcome(
        tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block:
            - {name: cmd, command: "false"}
            - {name: more, command: "true"}
          rescue:
            - name: rescue
              debug: {msg: "rc {{ ansible_failed_result.rc }}"}
          always: [{name: always, command: "true"}]
        - {name: after, command: "true"}
        """)
    assert names(plan) == ["cmd", "more"]
    assert [s.get("caught") for s in plan.steps] == [True, True]
    results = ran(plan, cmd={"status": "failed", "rc": 1})[:1]  # the agent stopped there
    following = plan.following(results)
    assert names(following) == ["rescue", "always", "after"]
    assert following.steps[0]["args"]["msg"] == "rc 1"
    assert "caught" not in following.steps[1]  # no rescue around an always


def test_a_host_block_that_succeeds_goes_on_without_its_rescue(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block: [{name: cmd, command: "true"}]
          rescue: [{name: rescue, debug: {msg: r}}]
        - {name: after, command: "true"}
        """)
    following = plan.following(ran(plan))
    assert names(following) == ["after"] and following.following(ran(following)) is None


def test_a_host_failure_without_rescue_fails_the_host_after_always(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block: [{name: cmd, command: "false"}]
          always: [{name: always, command: "true"}]
        - {name: after, command: "true"}
        """)
    following = plan.following(ran(plan, cmd={"status": "failed", "msg": "non-zero rc"}))
    assert names(following) == ["always", "cmd"]
    assert following.steps[-1]["args"]["msg"] == "non-zero rc"
    assert following.deferred == ()


def test_set_fact_after_a_host_step_in_a_block_waits_for_its_outcome(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block:
            - {name: cmd, command: "false"}
            - set_fact: {reached: true}
          rescue:
            - {name: rescue, debug: {msg: "{{ reached | default(false) }}"}}
        """)
    assert names(plan) == ["cmd"]
    following = plan.following(ran(plan, cmd={"status": "failed"}))
    assert names(following) == ["rescue"]
    assert following.steps[0]["args"]["msg"].lower() == "false"  # not set: it never ran


def test_ignore_errors_in_a_block_is_not_a_block_failure(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block:
            - {name: fine, fail: {msg: x}, ignore_errors: true}
            - {name: host, command: "true", ignore_errors: true}
          rescue: [{name: rescue, debug: {msg: r}}]
        """)
    assert names(plan) == ["fine", "host"] and "caught" not in plan.steps[1]


def test_rescue_outside_a_block_and_in_handlers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path, """
            - debug: {msg: a}
              rescue: [{debug: {msg: b}}]
            """)
    assert "rescue belongs to a block" in info.value.hint
    root = tmp_path / "h"
    with pytest.raises(BadInput) as info:
        plan_tasks(root, """
            - debug: {msg: a}
            """, files={"playbooks/site.yml": """
            - hosts: all
              handlers:
                - block: [{debug: {msg: a}}]
                  rescue: [{debug: {msg: b}}]
            """})
    assert "not supported in handlers" in info.value.what


def test_the_agent_ends_the_request_at_a_caught_failure_without_rolling_back() -> None:
    steps = [Step(1, "fail", {"msg": "x"}, name="boom", caught=True).to_wire(),
             Step(2, "debug", {"msg": "never"}, name="never").to_wire()]
    assert Step.from_wire(steps[0]).caught is True
    sent: list[dict] = []

    def run(ctx, step):
        return {"id": step["id"], "status": "failed" if step["op"] == "fail" else "ok"}

    current = txn.Txn(Context(check=True, diff=False, blobs=None), "play", [], [],
                      _NoPending(), None)
    assert txn.run_txn(current, steps, sent.append, run, lambda: False) is None
    assert current.caught and not current.failure
    assert [m["result"]["id"] for m in sent] == [1]


class _NoPending:
    def remove(self, names):  # pragma: no cover - nothing notified
        pass


def test_a_later_rescue_reading_the_failed_result_is_checked_with_a_sample(
        tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block: [{name: cmd, command: "false"}]
          rescue:
            - {name: rescue, debug: {msg: "{{ ansible_failed_result.rc }} {{ ansible_failed_task.name }}"}}
        """)
    following = plan.following(ran(plan, cmd={"status": "failed", "rc": 3}))
    assert following.steps[0]["args"]["msg"] == "3 cmd"
    with pytest.raises(BadInput):  # what is not a failed result is still checked up front
        plan_tasks(tmp_path / "bad", """
            - block: [{name: cmd, command: "false"}]
              rescue: [{debug: {msg: "{{ not_defined_anywhere }}"}}]
            """)
