"""include_role / import_role: a role's tasks run in the include's place, with its
variables, files and templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.errors import BadInput
from tests.unit.test_segments import names, plan_tasks

ROLE = {
    "roles/web/defaults/main.yml": "port: 80\nbanner: default\n",
    "roles/web/defaults/alt.yml": "port: 8080\n",
    "roles/web/vars/main.yml": "flavour: main\n",
    "roles/web/vars/other.yml": "flavour: other\n",
    "roles/web/tasks/main.yml": """
        - name: "main {{ port }} {{ flavour }} {{ banner }}"
          template: {src: page.j2, dest: /tmp/page}
          notify: reload web
        """,
    "roles/web/tasks/setup.yml": "- {name: 'setup {{ port }}', debug: {msg: s}}\n",
    "roles/web/templates/page.j2": "port {{ port }}\n",
    "roles/web/handlers/main.yml": "- {name: reload web, command: 'true'}\n",
    "roles/web/handlers/quiet.yml": "- {name: reload web quietly, command: 'true'}\n",
    "roles/base/tasks/main.yml": "- {name: base, debug: {msg: b}}\n",
    "roles/web/meta/main.yml": "dependencies: [base]\n",
}


def test_include_role_runs_the_role_in_place_after_its_dependencies(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: before, debug: {msg: x}}
        - include_role: {name: web}
          vars: {banner: given}
        - {name: after, debug: {msg: "{{ port | default('private') }}"}}
        """, files=ROLE)
    assert names(plan) == ["before", "base", "main 80 main given", "after"]
    assert plan.steps[-1]["args"]["msg"] == "private"  # include_role is not public
    assert plan.steps[2]["role"] == "web" and plan.steps[2]["txn"] == "role web"
    assert plan.notify[plan.steps[2]["id"]] == ["reload web"]
    assert "reload web" in plan.handlers


def test_the_from_arguments_pick_other_files(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - ansible.builtin.include_role:
            name: web
            tasks_from: setup
            defaults_from: alt.yml
            vars_from: other
            handlers_from: quiet
        """, files=ROLE)
    assert names(plan) == ["base", "setup 8080"]


def test_import_role_is_public_and_apply_passes_keywords(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - import_role:
            name: web
            tasks_from: setup
            apply: {tags: [web]}
        - {name: "after {{ port }} {{ flavour }}", debug: {msg: x}}
        """, files=ROLE)
    assert names(plan) == ["base", "setup 80", "after 80 main"]
    assert plan.steps[1]["tags"] == ["web"]


def test_the_same_role_included_twice_has_each_include_s_vars(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - include_role: {name: web, tasks_from: setup}
          vars: {port: 1}
        - include_role: {name: web, tasks_from: setup}
          vars: {port: 2}
        """, files=ROLE)
    assert [n for n in names(plan) if n.startswith("setup")] == ["setup 1", "setup 2"]


@pytest.mark.parametrize("task, message", [
    ("- include_role: {name: nope}", "role 'nope' not found"),
    ("- include_role: {name: web, tasks_from: missing}", "has no tasks/missing"),
    ("- include_role: {name: '{{ r }}'}", "a role name with a template is not supported"),
    ("- include_role: {name: web, bogus: 1}", "unknown include_role argument 'bogus'"),
    ("- include_role: {tasks_from: x}", "include_role needs name"),
])
def test_bad_includes_are_named_before_anything_runs(tmp_path: Path, task: str,
                                                      message: str) -> None:
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path, task, files=ROLE)
    assert message in info.value.what


def test_a_role_including_itself_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path, "- include_role: {name: loop}",
                   files={"roles/loop/tasks/main.yml": "- include_role: {name: loop}\n"})
    assert "includes itself" in info.value.what


def test_a_role_named_by_its_folder_under_role_path(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, "- include_role: {name: outer}\n", files={
        "roles/outer/tasks/main.yml": "- include_role:\n    role: '{{ role_path }}/roles/a'\n",
        "roles/outer/roles/a/tasks/main.yml": "- include_tasks: subdir/main.yml\n",
        "roles/outer/roles/a/tasks/subdir/main.yml": "- {name: 'in {{ role_name }}', "
                                                    "debug: {msg: x}}\n"})
    assert names(plan) == ["in a"]
