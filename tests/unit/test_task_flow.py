"""Task keywords that steer where and how a task runs: meta, run_once, delegate_to /
local_action, check_mode and diff per task, ignore_unreachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent.core import Context
from mainsail.agent.main import step_context
from mainsail.agent.protocol import Step
from mainsail.errors import BadInput
from mainsail.inventory import Host
from mainsail.plan import build_plan
from mainsail.playbook import load_playbook
from tests.unit.test_segments import names, plan_tasks, project, ran


def test_flush_handlers_starts_new_transactions(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, command: "true"}
        - meta: flush_handlers
        - {name: b, command: "true"}
        - ansible.builtin.meta: noop
        """)
    assert [(s["name"], s["txn"]) for s in plan.steps] == [("a", "play"), ("b", "play #1")]


@pytest.mark.parametrize("action", ["end_play", "end_host", "end_batch"])
def test_ending_the_play_on_a_host_plans_nothing_after(tmp_path: Path, action: str) -> None:
    plan = plan_tasks(tmp_path, f"""
        - {{name: a, command: "true"}}
        - meta: {action}
          when: stop_here
        - {{name: b, command: "true"}}
        - {{name: c, command: "true", register: r}}
        - {{name: d, debug: {{msg: "{{{{ r.rc }}}}"}}}}
        """, extra={"stop_here": True})
    assert names(plan) == ["a"] and plan.deferred == ()
    assert plan.following(ran(plan)) is None


def test_end_host_under_a_false_when_changes_nothing(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - meta: end_host
          when: false
        - {name: b, command: "true"}
        """)
    assert names(plan) == ["b"]


def test_clear_facts_forgets_the_facts(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks:
            - {name: "{{ ansible_facts.hostname | default('none') }}", debug: {msg: x}}
            - meta: clear_facts
            - {name: "{{ ansible_facts.hostname | default('none') }}", debug: {msg: x}}
        """})
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {"hostname": "web1"}, {})
    assert names(plan) == ["web1", "none"]


@pytest.mark.parametrize("action, hint", [("refresh_inventory", "read once"),
                                          ("reset_connection", "one connection per host")])
def test_meta_actions_that_cannot_apply_are_refused_with_why(tmp_path: Path, action: str,
                                                             hint: str) -> None:
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path, f"- meta: {action}\n")
    assert f"meta: {action} is not supported" in info.value.what and hint in info.value.hint


def test_run_once_runs_on_the_play_s_first_host_only(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks:
            - {name: once, command: "true", run_once: true, register: r}
            - {name: "saw {{ r is skipped }}", debug: {msg: x}}
            - {name: everywhere, command: "true"}
        """})
    play = load_playbook(root)[0]
    first = build_plan(root, play, Host("web1"), {}, {}, play_hosts=["web1", "web2"])
    second = build_plan(root, play, Host("web2"), {}, {}, play_hosts=["web1", "web2"])
    assert names(first) == ["once"]  # the debug waits for the result
    assert names(second) == ["saw True", "everywhere"]


def test_delegate_to_localhost_is_its_own_segment_on_the_controller(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: here, command: "true"}
        - {name: there, command: "true", delegate_to: localhost, become: true}
        - {name: also there, local_action: command hostname}
        - {name: back, command: "true"}
        """)
    assert names(plan) == ["here"] and plan.delegate is None
    local = plan.following(ran(plan))
    assert names(local) == ["there", "also there"] and local.delegate == "localhost"
    assert local.steps[0]["become"] is False and local.steps[0]["become_user"] is None
    assert local.steps[1]["action"] == "command" and "hostname" in str(local.steps[1]["args"])
    back = local.following(ran(local))
    assert names(back) == ["back"] and back.delegate is None


def test_delegate_to_the_host_itself_is_no_delegation(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, command: "true", delegate_to: "{{ inventory_hostname }}"}
        - {name: b, command: "true"}
        """)
    assert names(plan) == ["a", "b"] and plan.delegate is None


def test_delegate_to_another_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path, "- {command: 'true', delegate_to: db1}\n")
    assert "only localhost" in info.value.what


def test_what_a_delegated_task_notifies_runs_on_its_own_host(tmp_path: Path) -> None:
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook
    from tests.unit.test_segments import project, ran
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks:
            - {name: a, command: 'true', delegate_to: localhost, notify: h}
          handlers:
            - {name: h, command: 'true'}
        """})
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    assert plan.delegate == "localhost" and "notify" not in plan.steps[0]
    after = plan.following(ran(plan, a={"status": "changed"}))
    assert after is not None and after.delegate is None and after.notified == ["h"]
    assert list(after.handlers) == ["h"]
    quiet = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    assert quiet.following(ran(quiet)) is None  # nothing notified: no request more


def test_check_mode_and_diff_per_task_reach_the_step_and_the_agent(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: look, command: "true", check_mode: false, diff: false}
        - {name: pretend, command: "true", check_mode: true, ignore_unreachable: true}
        - {name: plain, command: "true"}
        """)
    steps = {s["name"]: s for s in plan.steps}
    assert (steps["look"]["check_mode"], steps["look"]["diff"]) == (False, False)
    assert steps["pretend"]["check_mode"] is True and "check_mode" not in steps["plain"]
    wire = [Step.from_wire(s).to_wire() for s in plan.steps]
    run = Context(check=True, diff=True, blobs=None)
    looked = step_context(run, wire[0])
    assert (looked.check, looked.diff) == (False, False)
    assert step_context(Context(check=False, diff=False, blobs=None), wire[1]).check is True
    assert step_context(run, wire[2]) is run


def test_a_delegated_loop_goes_to_one_machine(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: "to {{ item }}"
          command: "true"
          delegate_to: "{{ item }}"
          loop: [localhost, localhost]
        - {name: back, command: "true"}
        """)
    assert names(plan) == ["to localhost", "to localhost"] and plan.delegate == "localhost"
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path / "mixed", """
            - {command: "true", delegate_to: "{{ item }}", loop: [localhost, web1]}
            """)
    assert "some items" in info.value.what


def test_delegation_and_run_once_in_handlers_are_refused(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks: [{command: "true", notify: h}]
          handlers: [{name: h, command: "true", delegate_to: localhost}]
        """})
    with pytest.raises(BadInput) as info:
        load_playbook(root)
    assert "delegate_to is not supported in handlers" in info.value.what
