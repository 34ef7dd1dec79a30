"""changed_when / failed_when beyond the host's small evaluator, judged on the controller with
full Jinja once the step's result is in; and the Ansible language pieces around them
(group_by, add_host, arguments from a variable, action plugins that re-export a builtin,
loop_control's templated loop_var and pause, ansible_search_path, constants holding
templates in a condition). Plans are checked here; whole runs go through a local agent."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mainsail.agent import txn
from mainsail.agent.core import Context
from mainsail.agent.protocol import Step
from mainsail.errors import BadInput
from mainsail.inventory import Host
from mainsail.plan import build_plan
from mainsail.playbook import load_playbook
from mainsail.render import eval_condition
from tests.unit.test_flags import mainsail
from tests.unit.test_segments import names, plan_tasks, ran


def test_a_condition_the_host_can_judge_stays_on_the_host(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, command: "true", register: out, failed_when: out.rc > 1}
        - {name: b, command: "true"}
        """)
    assert names(plan) == ["a", "b"]  # one request
    assert "later" not in plan.steps[0]


def test_a_condition_reading_another_variable_cuts_the_plan_after_its_step(
        tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, command: "false", register: out, failed_when: out.rc > limit,
           vars: {limit: 1}}
        - {name: b, debug: {msg: "{{ out.failed_when_result }} {{ out.failed }}"}}
        """)
    assert names(plan) == ["a"] and plan.steps[0]["later"] is True
    assert "judge" not in plan.steps[0] and "failed_when" not in plan.steps[0]["args"]
    results = ran(plan, a={"status": "failed", "rc": 1})
    plan.cursor.judge_result(plan.steps[0], results[0])
    assert results[0]["status"] == "ok"
    following = plan.following(results)
    assert following.steps[0]["args"]["msg"] == "False False"


def test_a_later_failure_stops_the_host_and_ignore_errors_keeps_it_going(
        tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, command: "true", register: out, failed_when: "out.stdout is contains(word)",
           vars: {word: boom}}
        - {name: b, command: "true"}
        """)
    results = ran(plan, a={"rc": 0, "stdout": "boom!"})
    plan.cursor.judge_result(plan.steps[0], results[0])
    assert results[0]["status"] == "failed"
    with pytest.raises(BadInput, match="failed_when"):
        plan.following(results)
    plan = plan_tasks(tmp_path / "2", """
        - {name: a, command: "true", register: out, failed_when: boomboomboom,
           ignore_errors: true}
        - {name: b, debug: {msg: "{{ out.failed_when_result }}"}}
        """)
    results = ran(plan, a={"rc": 0})
    plan.cursor.judge_result(plan.steps[0], results[0])
    assert results[0]["status"] == "ignored" and "boomboomboom" in results[0]["msg"]
    assert "boomboomboom" in plan.following(results).steps[0]["args"]["msg"]


def test_changed_when_judged_later_notifies_with_the_next_request(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks/site.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - {name: a, command: 'true', register: out, notify: h,\n"
        "       changed_when: \"out.stdout is contains('x')\"}\n"
        "  handlers:\n    - {name: h, command: 'true'}\n")
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    assert "notify" not in plan.steps[0]  # notified once judged, not by the host
    results = ran(plan, a={"rc": 0, "stdout": "x"})
    plan.cursor.judge_result(plan.steps[0], results[0])
    assert results[0]["status"] == "changed"
    following = plan.following(results)
    assert following is not None and following.notified == ["h"] and not following.steps


def test_the_agent_goes_on_after_a_failure_the_controller_judges() -> None:
    steps = [Step(1, "fail", {"msg": "x"}, name="judged", later=True).to_wire(),
             Step(2, "debug", {"msg": "next item"}, name="next").to_wire()]
    assert Step.from_wire(steps[0]).later is True
    sent: list[dict] = []

    def run(ctx, step):
        return {"id": step["id"], "status": "failed" if step["op"] == "fail" else "ok"}

    current = txn.Txn(Context(check=True, diff=False, blobs=None), "play", [], [],
                      None, None)
    assert txn.run_txn(current, steps, sent.append, run, lambda: False) is None
    assert not current.failure
    assert [m["result"]["status"] for m in sent] == ["failed", "ok"]


def test_conditions_on_a_verdict_known_here_are_judged_here(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, assert: {that: [1 == 2]}, register: r,
           failed_when: 'r.msg is not contains("Assertion failed")'}
        - {name: b, debug: {msg: "{{ r.failed }}"}}
        """)
    assert names(plan) == ["a", "b"]  # no round trip: the verdict is the controller's
    assert plan.steps[0]["judge"] == {"changed_when": False, "failed_when": False}
    assert plan.steps[1]["args"]["msg"] == "false"


def test_group_by_puts_the_host_in_a_group_for_its_later_tasks(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: g, group_by: {key: "os {{ kind }}"}, register: grouped, vars: {kind: deb}}
        - {name: b, debug: {msg: "{{ group_names }} {{ groups['os_deb'] }} {{ grouped.add_group }}"}}
        - {name: c, group_by: {key: x}, changed_when: false, register: quiet}
        - {name: d, debug: {msg: "{{ quiet is changed }}"}}
        """)
    assert plan.steps[1]["args"]["msg"] == "['os_deb'] ['web1'] os_deb"
    assert plan.steps[3]["args"]["msg"] == "false"


def test_add_host_reports_what_it_adds(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, add_host: {name: "db{{ n }}", groups: "x, y"}, register: r, vars: {n: 2}}
        - {name: b, debug: {msg: "{{ r.add_host.host_name }} {{ r.add_host.groups }}"}}
        """)
    assert plan.steps[1]["args"]["msg"] == "db2 ['x', 'y']"


def test_arguments_given_as_one_template_come_from_the_variable(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: a
          copy: "{{ spec }}"
          args: {mode: "0600"}
          vars: {spec: {dest: /tmp/x, content: "a {{ '{{' }} b"}}
        """)
    assert plan.steps[0]["args"]["dest"] == "/tmp/x"
    assert plan.steps[0]["args"]["mode"] == "0600"
    with pytest.raises(BadInput, match="must give a mapping"):
        plan_tasks(tmp_path / "2", """
            - {name: a, copy: "{{ spec }}", vars: {spec: [1]}}
            """)
    with pytest.raises(BadInput, match="dest"):  # still checked: a missing required one
        plan_tasks(tmp_path / "3", """
            - {name: a, copy: "{{ spec }}", vars: {spec: {content: x}}}
            """)


def test_an_action_plugin_that_reexports_a_builtin_is_that_builtin(tmp_path: Path) -> None:
    plugins = tmp_path / "playbooks/action_plugins"
    plugins.mkdir(parents=True)
    (plugins / "say.py").write_text("from __future__ import annotations\n\n"
                                    "from ansible.plugins.action.debug import ActionModule\n\n"
                                    "assert ActionModule\n")
    (plugins / "other.py").write_text("from ansible.plugins.action.debug import ActionModule\n"
                                      "import os\nos.system('true')\n")
    plan = plan_tasks(tmp_path, "- {say: {msg: hello}}\n")
    assert plan.steps[0]["op"] == "debug" and plan.steps[0]["args"]["msg"] == "hello"
    with pytest.raises(BadInput, match="unknown task keyword or operation 'other'"):
        plan_tasks(tmp_path, "- {other: {msg: hello}}\n")  # code of its own: never run


def test_a_templated_loop_var_and_the_search_path(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: a
          debug: {msg: "{{ fruit }} {{ ansible_search_path | length }}"}
          loop: [apple]
          loop_control: {loop_var: "{{ var_name }}"}
          vars: {var_name: fruit}
        """)
    assert plan.steps[0]["args"]["msg"] == "apple 1"
    with pytest.raises(BadInput, match="valid variable name"):
        plan_tasks(tmp_path / "2", """
            - {debug: {msg: x}, loop: [1], loop_control: {loop_var: "{{ n }}"},
               vars: {n: "1 bad"}}
            """)


def test_loop_pause_waits_between_items(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, command: "true", loop: [1, 2, 3], loop_control: {pause: 0.5}}
        """)
    assert [s.get("pause") for s in plan.steps] == [None, 0.5, 0.5]
    started = time.monotonic()
    plan_tasks(tmp_path / "2", """
        - {set_fact: {x: 1}, loop: [1, 2], loop_control: {pause: 0.2}}
        """)
    assert time.monotonic() - started >= 0.2  # judged here: the controller waits
    with pytest.raises(BadInput, match="pause"):
        plan_tasks(tmp_path / "3", "- {command: 'true', loop: [1], loop_control: {pause: x}}\n")


@pytest.mark.parametrize("condition,held", [
    ('"dude" == "du{{ \'de\' }}"', True),
    ('{{ "du{" + "{\'de\'}}" == "du{{\'de\'}}" }}', True),
    ('[1, 2] | select("odd") | length == 1', True),
])
def test_string_constants_holding_templates_in_a_condition(condition: str, held: bool) -> None:
    assert eval_condition(condition, {}) is held


def test_a_template_outside_a_string_in_an_expression_is_refused() -> None:
    with pytest.raises(BadInput, match="untrusted template or expression"):
        eval_condition("{{ 'hello' }} == {{ 'world' }}", {})


def local_project(tmp_path: Path) -> Path:
    """A project whose one host, `solo`, is this machine (connection: local)."""
    root = tmp_path / "proj"
    for sub in ("inventory", "playbooks"):
        (root / sub).mkdir(parents=True)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    (root / "inventory/hosts.yml").write_text(
        "all:\n  hosts:\n    solo: {connection: local, mainsail_state_dir: %s}\n"
        % (tmp_path / "state"))
    return root


def test_a_whole_run_judges_later_conditions_and_runs_the_handler(tmp_path, monkeypatch):
    root = local_project(tmp_path)
    marker = tmp_path / "handled"
    (root / "playbooks/site.yml").write_text(f"""
- hosts: all
  gather_facts: false
  vars: {{limit: 2}}
  tasks:
    - {{name: a, shell: "echo hi; exit 1", register: r, failed_when: r.rc > limit}}
    - {{name: b, command: echo x, register: c, notify: h,
       changed_when: "c.stdout is contains('x')"}}
    - assert: {{that: [r is not failed, "r.stdout is contains('hi')"]}}
  handlers:
    - {{name: h, copy: {{content: "yes\\n", dest: "{marker}"}}}}
""")
    monkeypatch.chdir(root)
    report = tmp_path / "report.json"
    code, out, err = mainsail("deploy", "--json", str(report))
    assert code == 0, out + err
    steps = json.loads(report.read_text())["hosts"]["solo"]["steps"]
    assert [s["status"] for s in steps][:2] == ["ok", "changed"]
    assert marker.read_text() == "yes\n"
