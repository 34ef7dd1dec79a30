"""Play keywords Ansible playbooks use: pre_tasks/post_tasks, import_playbook, strategy,
order, environment, remote_user and connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.inventory import Host
from mainsail.plan import build_plan
from mainsail.playbook import load_playbook
from mainsail.playhosts import ordered, with_play_settings
from tests.unit.test_segments import names, project

ROLE = {"roles/web/tasks/main.yml": "- {name: role task, command: 'true', notify: h}\n"}


def plan_of(root: Path, index: int = 0, host: Host = Host("web1")):
    return build_plan(root, load_playbook(root)[index], host, {}, {})


def test_pre_tasks_roles_tasks_post_tasks_each_flush_their_handlers(tmp_path: Path) -> None:
    root = project(tmp_path, {**ROLE, "playbooks/site.yml": """
        - hosts: all
          post_tasks: [{name: post, command: "true", notify: h}]
          tasks: [{name: task, command: "true", notify: h}]
          roles: [web]
          pre_tasks: [{name: pre, command: "true", notify: h}]
          handlers: [{name: h, command: "true"}]
        """})
    plan = plan_of(root)
    assert names(plan) == ["pre", "role task", "task", "post"]
    # each phase is its own transaction: the agent runs notified handlers at each one's end
    assert [s["txn"] for s in plan.steps] == ["pre_tasks", "role web", "play", "post_tasks"]


def test_import_playbook_brings_in_its_plays_with_vars_and_tags(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": """
            - ansible.builtin.import_playbook: sub/other.yml
              vars: {greeting: hi}
              tags: [imported]
            - hosts: all
              tasks: [{name: mine, debug: {msg: x}}]
            """,
        "playbooks/sub/other.yml": """
            - hosts: all
              tasks: [{name: "other {{ greeting }}", debug: {msg: x}}]
            """})
    plays = load_playbook(root)
    assert len(plays) == 2 and plays[0].tags == ("imported",)
    assert names(plan_of(root)) == ["other hi"]


def test_import_playbook_of_itself_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": "- import_playbook: site.yml\n"})
    with pytest.raises(BadInput) as info:
        load_playbook(root)
    assert "imports itself" in info.value.what
    (root / "playbooks/site.yml").write_text("- import_playbook: nope.yml\n")
    with pytest.raises(BadInput) as info:
        load_playbook(root)
    assert "'nope.yml' not found" in info.value.what


@pytest.mark.parametrize("keyword, value", [("strategy", "debug"), ("order", "random"),
                                            ("connection", "winrm")])
def test_unknown_strategy_order_and_connection_are_refused(tmp_path: Path, keyword: str,
                                                           value: str) -> None:
    root = project(tmp_path, {"playbooks/site.yml": f"""
        - hosts: all
          {keyword}: {value}
          tasks: [{{debug: {{msg: x}}}}]
        """})
    with pytest.raises(BadInput) as info:
        load_playbook(root)
    assert f"{keyword} must be one of" in info.value.what


def test_order_sorts_reverses_or_shuffles_the_hosts(tmp_path: Path) -> None:
    hosts = [Host("b"), Host("c"), Host("a")]
    found = {}
    for order in ("inventory", "reverse_inventory", "sorted", "reverse_sorted", "shuffle"):
        root = project(tmp_path / order, {"playbooks/site.yml": f"""
            - hosts: all
              strategy: free
              order: {order}
              tasks: [{{debug: {{msg: x}}}}]
            """})
        found[order] = [h.name for h in ordered(load_playbook(root)[0], hosts)]
    assert found["inventory"] == ["b", "c", "a"]
    assert found["reverse_inventory"] == ["a", "c", "b"]
    assert found["sorted"] == ["a", "b", "c"] and found["reverse_sorted"] == ["c", "b", "a"]
    assert sorted(found["shuffle"]) == ["a", "b", "c"]


def test_environment_from_play_role_block_and_task_reaches_commands(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "roles/web/tasks/main.yml": "- {name: in role, command: env}\n",
        "playbooks/site.yml": """
            - hosts: all
              vars: {proxy: http://proxy}
              environment: {A: play, B: play, http_proxy: "{{ proxy }}"}
              roles: [{role: web, environment: {B: role}}]
              tasks:
                - block:
                    - name: in block
                      command: env
                      environment: {C: task}
                      args: {environment: {C: own}}
                    - {name: file, file: {path: /tmp/x, state: directory}}
                  environment: {B: block}
            """})
    plan = plan_of(root)
    env = {s["name"]: s["args"].get("environment") for s in plan.steps}
    assert env["in role"] == {"A": "play", "B": "role", "http_proxy": "http://proxy"}
    assert env["in block"] == {"A": "play", "B": "block", "C": "own",
                               "http_proxy": "http://proxy"}
    assert env["file"] is None  # ops that run no command take none


def test_remote_user_and_connection_apply_where_the_inventory_names_none(
        tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          remote_user: deploy
          connection: local
          tasks: [{debug: {msg: x}}]
        - hosts: all
          remote_user: admin
          tasks: [{debug: {msg: x}}]
        """})
    plays = load_playbook(root)
    host = with_play_settings(Host("web1"), plays[:1])
    assert (host.user, host.connection) == ("deploy", "local")
    named = Host("web2", user="ops", vars={"ansible_user": "ops"})
    assert with_play_settings(named, plays[:1]).user == "ops"
    with pytest.raises(BadInput) as info:
        with_play_settings(Host("web3"), plays)
    assert "different remote_user" in info.value.what
