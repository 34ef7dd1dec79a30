"""The setup operation (gather_subset, filter, fact_path), gather_facts: false, and facts a
step returns becoming the host's facts for the tasks after it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from mainsail.agent.ops import setup
from mainsail.inventory import Host
from mainsail.plan import HostPlan, build_plan
from mainsail.playbook import load_playbook
from tests.unit.test_agent_support import run_op

HELLO = {"hostname": "web1", "os": {"id": "debian", "version_id": "12",
                                    "codename": "bookworm"}}


def test_gather_subset_reads_the_groups_asked_for() -> None:
    assert setup.subsets(["all"]) == (["hardware", "network", "virtual"], None)
    assert setup.subsets(["!all", "network"]) == (["network"], None)
    assert setup.subsets(["!hardware"]) == (["network", "virtual"], None)
    assert setup.subsets(["min", "distribution", "!all"]) == ([], None)
    assert setup.subsets(["interfaces"]) == (["network"], None)
    names, problem = setup.subsets(["bogus"])
    assert problem is not None and "bogus" in problem[0]


def test_setup_returns_facts_under_ansibles_names_filtered(tmp_path: Path) -> None:
    out = run_op("setup", {"gather_subset": ["!all", "network"], "fact_path": str(tmp_path),
                           "filter": ["ansible_distribution*", "all_ipv4*"]})
    assert out.status == "ok"
    got = out.data["ansible_facts"]
    assert "ansible_distribution" in got and "ansible_all_ipv4_addresses" in got
    assert not {"ansible_hostname", "ansible_mounts"} & set(got)


def test_setup_without_hardware_has_no_mounts(tmp_path: Path) -> None:
    got = run_op("setup", {"gather_subset": ["!hardware"],
                           "fact_path": str(tmp_path)}).data["ansible_facts"]
    assert "ansible_mounts" not in got and "ansible_interfaces" in got


def test_local_facts_from_fact_path(tmp_path: Path) -> None:
    (tmp_path / "app.fact").write_text('{"version": "1.2"}')
    (tmp_path / "db.fact").write_text("[main]\nport = 5432\n")
    (tmp_path / "run.fact").write_text("#!/bin/sh\necho {}\n")
    (tmp_path / "run.fact").chmod(0o755)
    got = run_op("setup", {"filter": ["ansible_local"],
                           "fact_path": str(tmp_path)}).data["ansible_facts"]
    local = got["ansible_local"]
    assert local["app"] == {"version": "1.2"} and local["db"] == {"main": {"port": "5432"}}
    assert "not run" in local["run"]


def test_an_unknown_subset_fails_the_step() -> None:
    out = run_op("setup", {"gather_subset": ["facter"]})
    assert out.status == "failed" and "facter" in out.msg


# ---------------------------------------------------------------------------- in a play

def play(tmp_path: Path, text: str) -> HostPlan:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "site.yml").write_text(textwrap.dedent(text).lstrip("\n"))
    return build_plan(tmp_path, load_playbook(tmp_path)[0], Host("web1"), HELLO, {})


def setup_result(plan: HostPlan, facts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": s["id"], "status": "ok", "msg": "",
             "data": {"ansible_facts": facts} if s["op"] == "setup" else {}}
            for s in plan.steps]


def messages(plan: HostPlan | None) -> list[Any]:
    assert plan is not None
    return [s["args"]["msg"] for s in plan.steps if s["op"] == "debug"]


GATHER_LATER = """
    - hosts: all
      gather_facts: false
      tasks:
        - debug: {msg: "before: {{ ansible_facts | length }}"}
        - setup: {filter: ['ansible_distribution*']}
        - debug: {msg: "after: {{ ansible_distribution }} {{ ansible_facts.distribution }}"}
        - debug: {msg: "{{ inventory_hostname }} needs no facts"}
    """


def test_tasks_reading_facts_after_setup_wait_for_its_result(tmp_path: Path) -> None:
    first = play(tmp_path, GATHER_LATER)
    assert messages(first) == ["before: 0"]
    assert [s["op"] for s in first.steps] == ["debug", "setup"]
    second = first.following(setup_result(first, {"ansible_distribution": "Debian"}))
    assert messages(second) == ["after: Debian Debian", "web1 needs no facts"]


def test_with_gather_facts_the_hello_facts_are_there_from_the_start(tmp_path: Path) -> None:
    plan = play(tmp_path, """
        - hosts: all
          tasks:
            - debug: {msg: "{{ ansible_distribution_release }} {{ facts.os.id }}"}
        """)
    assert messages(plan) == ["bookworm debian"] and plan.following(
        setup_result(plan, {})) is None


def test_a_fact_returned_by_any_step_is_seen_after_the_next_cut(tmp_path: Path) -> None:
    first = play(tmp_path, """
        - hosts: all
          tasks:
            - setup: {}
            - debug: {msg: "{{ ansible_hostname }}"}
        """)
    second = first.following(setup_result(first, {"ansible_hostname": "renamed"}))
    assert messages(second) == ["renamed"]


def test_setup_arguments_are_checked_before_anything_runs(tmp_path: Path) -> None:
    from mainsail.errors import BadInput
    try:
        play(tmp_path, """
            - hosts: all
              tasks:
                - setup: {gather_subset: 3}
            """)
    except BadInput as exc:
        assert "gather_subset" in str(exc)
    else:
        raise AssertionError("a number is not a list of subsets")


def test_the_hostvars_of_this_host_carry_setup_facts(tmp_path: Path) -> None:
    first = play(tmp_path, """
        - hosts: all
          gather_facts: false
          tasks:
            - setup: {}
            - debug: {msg: "{{ hostvars['web1'].ansible_distribution | default('none') }}"}
        """)
    second = first.following(setup_result(first, {"ansible_distribution": "Debian"}))
    assert json.dumps(messages(second)) == '["Debian"]'


def test_service_facts_sets_services_for_the_tasks_after_it(tmp_path: Path) -> None:
    # geerlingguy.ntp's pattern: service_facts, then a `when` on the `services` variable.
    first = play(tmp_path, """
        - hosts: all
          tasks:
            - service_facts:
            - debug: {msg: "timesyncd is here"}
              when: '"systemd-timesyncd.service" in services'
            - debug: {msg: "{{ ansible_facts.services | length }} services"}
        """)
    assert [s["op"] for s in first.steps] == ["service_facts"]  # the rest waits for it
    services = {"systemd-timesyncd.service": {"name": "systemd-timesyncd.service",
                                              "state": "running", "status": "enabled",
                                              "source": "systemd"}}
    second = first.following([{"id": first.steps[0]["id"], "status": "ok", "msg": "",
                                "data": {"ansible_facts": {"services": services}}}])
    assert messages(second) == ["timesyncd is here", "1 services"]
