"""Playbooks and roles: loading, validation with file:line and "did you mean", role order."""

from __future__ import annotations

import textwrap
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.playbook import Play, load_playbook, load_project, playbook_path

FIXTURE = Path(__file__).parent.parent / "fixtures" / "project"


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return tmp_path


def tasks_play(tasks: str, handlers: str = "") -> str:
    """A one-play playbook with the given task (and handler) YAML."""
    text = "- hosts: all\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks).lstrip("\n"), "    ")
    if handlers:
        text += "  handlers:\n" + textwrap.indent(textwrap.dedent(handlers).lstrip("\n"), "    ")
    return text


def load_tasks(tmp_path: Path, tasks: str, handlers: str = "") -> Play:
    return load_playbook(project(tmp_path, {"playbooks/site.yml": tasks_play(tasks, handlers)}))[0]


def error_of(tmp_path: Path, files: dict[str, str]) -> BadInput:
    with pytest.raises(BadInput) as info:
        load_playbook(project(tmp_path, files))
    return info.value


def task_error(tmp_path: Path, tasks: str, handlers: str = "") -> BadInput:
    return error_of(tmp_path, {"playbooks/site.yml": tasks_play(tasks, handlers)})


# ---------------------------------------------------------------------------- the sample project

@pytest.fixture(scope="module")
def plays() -> list[Play]:
    return load_playbook(FIXTURE)


def test_plays_carry_their_keywords(plays: list[Play]) -> None:
    web = plays[0]
    assert (web.name, web.hosts, web.loc) == ("web servers", "web", "playbooks/site.yml:2")
    assert (web.become, web.serial, web.max_fail_percentage) == (True, "50%", 25.0)
    assert web.vars["site_name"] == "example.org"
    assert web.no_log == ("db_password",)


def test_a_play_without_a_name_is_named_after_its_hosts(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": "- hosts: db\n"})
    assert load_playbook(root)[0].name == "db"


def test_dependencies_come_first(plays: list[Play]) -> None:
    assert [u.role.name for u in plays[0].roles] == ["common", "apache"]
    assert plays[0].roles[0].via == ("apache",)
    assert plays[0].roles[0].ref.loc == "roles/apache/meta/main.yml:4"


def test_roles_load_defaults_vars_tasks_handlers(plays: list[Play]) -> None:
    apache = plays[0].roles[1].role
    assert apache.defaults["apache_port"] == 80
    assert apache.vars["apache_conf_dir"] == "/etc/apache2"
    assert [t.name for t in apache.tasks][:2] == ["install apache", "install vhost"]
    assert [h.name for h in apache.handlers] == ["reload apache", "restart apache"]
    assert apache.templates == FIXTURE / "roles" / "apache" / "templates"


def test_tasks_carry_their_location_role_and_keywords(plays: list[Play]) -> None:
    enable = plays[0].roles[1].role.tasks[3]
    assert enable.loc == "roles/apache/tasks/main.yml:19"
    assert enable.role == "apache" and enable.op == "command"
    assert enable.loop == "{{ apache_modules }}"
    assert enable.when == ('item != "ssl" or apache_ssl',)
    assert enable.notify == ("web restart",)


def test_changed_when_travels_with_the_command_arguments(plays: list[Play]) -> None:
    enable = plays[0].roles[1].role.tasks[3]
    assert dict(enable.args) == {"cmd": "a2enmod {{ item }}",
                                 "changed_when": "'already enabled' not in stdout"}


def test_vars_files_are_loaded_with_the_play(plays: list[Play]) -> None:
    assert plays[0].vars_files[0].data == {"timezone": "Etc/UTC"}


def test_a_task_without_a_name_is_titled_by_its_operation(plays: list[Play]) -> None:
    assert plays[1].tasks[0].title == "apt postgresql"


def test_plays_and_tasks_are_frozen(plays: list[Play]) -> None:
    with pytest.raises(FrozenInstanceError):
        plays[0].name = "x"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        plays[0].tasks[0].op = "x"  # type: ignore[misc]


# ---------------------------------------------------------------------------- playbook files

def test_playbook_names_resolve_to_files(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/db.yaml": "- hosts: db\n"})
    assert playbook_path(root, "db") == root / "playbooks" / "db.yaml"
    assert playbook_path(root, "playbooks/db.yaml") == root / "playbooks" / "db.yaml"


def test_an_unknown_playbook_suggests_the_closest(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": "- hosts: all\n"})
    with pytest.raises(BadInput, match="playbook 'stie' not found") as info:
        load_playbook(root, "stie")
    assert info.value.hint == "did you mean 'site'?"


def test_a_missing_project_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="project folder not found"):
        load_project(tmp_path / "nope")


def test_a_playbook_must_be_a_list_of_plays(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "hosts: all\n"})
    assert "list of plays" in err.what and err.where == "playbooks/site.yml:1:1"


def test_a_play_needs_hosts(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- name: x\n"})
    assert "needs hosts" in err.what


def test_hosts_may_be_a_list(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": "- hosts: [web, db]\n"})
    assert load_playbook(root)[0].hosts == "web:db"


def test_unknown_play_keyword_names_the_line_and_closest(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  rolse: [x]\n"})
    assert err.where == "playbooks/site.yml:2:3"
    assert "unknown play keyword 'rolse'" in err.what and err.hint == "did you mean 'roles'?"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "150%", "true"])
def test_serial_must_be_a_count_or_a_percentage(tmp_path: Path, value: str) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": f"- hosts: all\n  serial: {value}\n"})
    assert "serial" in err.what and err.where == "playbooks/site.yml:2:3"


def test_max_fail_percentage_must_be_0_to_100(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  max_fail_percentage: 120\n"})
    assert "between 0 and 100" in err.what


def test_play_vars_need_valid_names(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  vars:\n    bad-name: 1\n"})
    assert err.where == "playbooks/site.yml:3:5" and "not a valid variable name" in err.what


def test_a_missing_vars_file_is_bad_input(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  vars_files: [nope.yml]\n"})
    assert "vars file 'nope.yml' not found" in err.what and err.where.startswith("playbooks/site.yml:2")


def test_a_templated_vars_file_waits_for_the_plan(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml":
                              "- hosts: all\n  vars_files: ['vars/{{ env }}.yml']\n"})
    entry = load_playbook(root)[0].vars_files[0]
    assert entry.path == "vars/{{ env }}.yml" and entry.data is None


# ---------------------------------------------------------------------------- tasks

def test_unknown_task_keyword_suggests_the_closest(tmp_path: Path) -> None:
    err = task_error(tmp_path, """
        - nmae: install
          apt: {name: x}
        """)
    assert err.where == "playbooks/site.yml:3:7"
    assert "'nmae'" in err.what and err.hint == "did you mean 'name'?"


def test_unknown_operation_suggests_the_closest(tmp_path: Path) -> None:
    err = task_error(tmp_path, """
        - name: install
          atp: {name: x}
        """)
    assert err.where == "playbooks/site.yml:4:7" and "did you mean 'apt'" in err.hint


def test_unknown_argument_names_its_line_and_the_closest(tmp_path: Path) -> None:
    err = task_error(tmp_path, """
        - name: install
          apt:
            name: nginx
            stat: present
        """)
    assert err.where == "playbooks/site.yml:6:9"
    assert "apt: unknown argument 'stat'" in err.what
    assert err.hint.startswith("did you mean 'state'?")


def test_a_bad_value_without_templates_fails_at_load(tmp_path: Path) -> None:
    err = task_error(tmp_path, """
        - apt:
            name: nginx
            state: presnt
        """)
    assert err.where == "playbooks/site.yml:5:9" and "did you mean 'present'?" in err.hint


def test_a_decimal_mode_fails_at_load_with_a_hint(tmp_path: Path) -> None:
    err = task_error(tmp_path, """
        - file: {path: /srv, state: directory, mode: 755}
        """)
    assert "decimal" in err.what and "'0755'" in err.hint


def test_a_missing_required_argument(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- template: {src: a.j2}\n")
    assert "missing required arguments: dest" in err.what and err.where == "playbooks/site.yml:3:7"


def test_one_of_src_or_content(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- copy: {dest: /x, src: a, content: b}\n")
    assert "only one of 'src' or 'content'" in err.what


def test_register_must_name_a_variable(tmp_path: Path) -> None:
    err = task_error(tmp_path, """
        - command: uptime
          register: "{{ up }}"
        """)
    assert "register must be a variable name" in err.what
    assert err.where == "playbooks/site.yml:4:7"


def test_a_task_needs_exactly_one_operation(tmp_path: Path) -> None:
    assert "no operation" in task_error(tmp_path, "- name: nothing\n").what
    err = task_error(tmp_path, "- apt: {name: x}\n  service: {name: x, state: started}\n")
    assert "more than one operation" in err.what


def test_aliases_become_canonical_names(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, """
        - apt: {pkg: nginx}
        - file: {dest: /srv, state: directory}
        - line: {dest: /etc/x, regex: '^a', line: a}
        - service: {service: nginx, state: started}
        """)
    assert [dict(t.args) for t in play.tasks] == [
        {"name": "nginx"}, {"path": "/srv", "state": "directory"},
        {"path": "/etc/x", "regexp": "^a", "line": "a"}, {"name": "nginx", "state": "started"}]


def test_an_alias_given_twice_is_refused(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- file: {path: /a, dest: /b}\n")
    assert "repeats argument 'path'" in err.what


def test_ansible_module_names_are_accepted(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, """
        - ansible.builtin.apt: {name: nginx}
        - lineinfile: {path: /etc/x, line: a}
        """)
    assert [t.op for t in play.tasks] == ["apt", "line"]


def test_command_short_form_becomes_cmd_with_leading_options(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, """
        - command: chdir=/srv creates=/srv/built make all
        - shell: echo hi | tee /tmp/x
        """)
    assert dict(play.tasks[0].args) == {"chdir": "/srv", "creates": "/srv/built", "cmd": "make all"}
    assert dict(play.tasks[1].args) == {"cmd": "echo hi | tee /tmp/x"}


def test_short_form_works_for_other_operations(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, "- apt: name=nginx state=present\n")
    assert dict(play.tasks[0].args) == {"name": "nginx", "state": "present"}


def test_short_form_words_must_be_name_value(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- apt: nginx state=present\n")
    assert "'nginx' is not name=value" in err.what


def test_args_keyword_merges_under_the_operation(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, """
        - command: make
          args: {chdir: /srv}
        """)
    assert dict(play.tasks[0].args) == {"chdir": "/srv", "cmd": "make"}


def test_changed_when_on_other_ops_is_judged_after_the_op(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, "- apt: {name: x}\n  changed_when: false\n"
                                "  failed_when: [out.rc is defined]\n  register: out\n")
    assert play.tasks[0].judge == {"changed_when": False,
                                   "failed_when": "(result.rc is defined)"}
    assert "changed_when" not in play.tasks[0].args


def test_changed_when_syntax_is_checked_at_load(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- apt: {name: x}\n  changed_when: x ==\n")
    assert "x ==" in err.what


def test_conditions_beyond_the_host_s_evaluator_are_judged_on_the_controller(
        tmp_path: Path) -> None:
    play = load_tasks(tmp_path, """
        - apt: {name: x}
          changed_when: __import__('os')
        - command: x
          failed_when: exit_code != 0
        """)
    assert play.tasks[0].later == {"changed_when": ("__import__('os')",)}
    assert not play.tasks[0].judge and "failed_when" not in play.tasks[1].args
    # ... where a name nothing defines is refused before anything runs
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    with pytest.raises(BadInput, match="undefined variable '__import__'"):
        build_plan(tmp_path, play, Host("h"), {}, {})


def test_changed_when_reads_the_task_s_own_registered_result(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, """
        - command: x
          register: out
          changed_when: "out.rc == 0 and 'done' in out.stdout"
          failed_when: [out.stdout_lines | length > 2]
        """)
    task = play.tasks[0]
    assert task.register == "out"
    assert task.args["changed_when"] == "result.rc == 0 and 'done' in result.stdout"
    assert task.args["failed_when"] == ["result.stdout_lines | length > 2"]


def test_when_syntax_is_checked_at_load(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- apt: {name: x}\n  when: x ==\n")
    assert "syntax error" in err.what and err.where == "playbooks/site.yml:4:7"


def test_loop_must_be_a_list_or_a_template(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- apt: {name: x}\n  loop: users\n")
    assert "loop must be a list" in err.what


def test_tags_may_be_a_string_or_a_list(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, "- apt: {name: x}\n  tags: a, b\n- apt: {name: y}\n  tags: [c]\n")
    assert [t.tags for t in play.tasks] == [("a", "b"), ("c",)]


def test_no_log_takes_a_boolean_or_variable_names(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, "- apt: {name: x}\n  no_log: true\n"
                                "- apt: {name: y}\n  no_log: [api_token]\n")
    assert [t.no_log for t in play.tasks] == [True, ("api_token",)]


def test_a_templated_no_log_counts_as_true(tmp_path: Path) -> None:
    # geerlingguy.apache: `no_log: "{{ apache_ssl_no_log }}"`, decided per host in Ansible
    play = load_tasks(tmp_path, "- apt: {name: x}\n  no_log: '{{ hide }}'\n")
    assert play.tasks[0].no_log is True


# ---------------------------------------------------------------------------- handlers

def test_notify_must_name_a_handler_and_suggests_one(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- apt: {name: x}\n  notify: restart ngnix\n",
                     "- name: restart nginx\n  service: {name: nginx, state: restarted}\n")
    assert "no handler named 'restart ngnix'" in err.what
    assert err.hint == "did you mean 'restart nginx'?"
    assert err.where == "playbooks/site.yml:3"


def test_notify_may_use_a_listen_topic(tmp_path: Path) -> None:
    play = load_tasks(tmp_path, "- apt: {name: x}\n  notify: [web changed]\n",
                      "- name: restart nginx\n  listen: web changed\n"
                      "  service: {name: nginx, state: restarted}\n")
    assert play.tasks[0].notify == ("web changed",)


def test_a_handler_cannot_notify(tmp_path: Path) -> None:
    err = task_error(tmp_path, "- apt: {name: x}\n  notify: a\n",
                     "- name: a\n  notify: b\n  service: {name: x, state: restarted}\n")
    assert "cannot notify" in err.what


def test_role_tasks_may_notify_play_handlers(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": """
            - hosts: all
              roles: [web]
              handlers:
                - name: reload
                  service: {name: nginx, state: reloaded}
            """,
        "roles/web/tasks/main.yml": "- apt: {name: nginx}\n  notify: reload\n"})
    assert load_playbook(root)[0].roles[0].role.tasks[0].notify == ("reload",)


# ---------------------------------------------------------------------------- roles

def test_role_entries_take_vars_tags_when_and_become(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": """
            - hosts: all
              roles:
                - role: web
                  vars: {port: 81}
                  tags: [web]
                  when: enabled
                  become: true
            """,
        "roles/web/tasks/main.yml": "- apt: {name: nginx}\n"})
    ref = load_playbook(root)[0].roles[0].ref
    assert (dict(ref.vars), ref.tags, ref.when, ref.become) == ({"port": 81}, ("web",),
                                                                ("enabled",), True)


def test_role_parameters_outside_vars_are_refused(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  roles:\n"
                                                    "    - {role: web, port: 81}\n",
                              "roles/web/tasks/main.yml": "- apt: {name: x}\n"})
    assert "unknown role keyword 'port'" in err.what and "under vars" in err.hint


def test_an_unknown_role_suggests_the_closest(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  roles: [apahce]\n",
                              "roles/apache/tasks/main.yml": "- apt: {name: x}\n"})
    assert "role 'apahce' not found" in err.what and err.hint == "did you mean 'apache'?"
    assert err.where == "playbooks/site.yml:2"


def test_a_shared_dependency_runs_once(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": "- hosts: all\n  roles: [web, db, base]\n",
        "roles/web/meta/main.yml": "dependencies: [base]\n",
        "roles/db/meta/main.yml": "dependencies: [{role: base}]\n",
        "roles/base/tasks/main.yml": "- apt: {name: curl}\n"})
    assert [u.role.name for u in load_playbook(root)[0].roles] == ["base", "web", "db"]


def test_a_role_dependency_cycle_names_the_chain(tmp_path: Path) -> None:
    err = error_of(tmp_path, {
        "playbooks/site.yml": "- hosts: all\n  roles: [web]\n",
        "roles/web/meta/main.yml": "dependencies: [php]\n",
        "roles/php/meta/main.yml": "dependencies:\n  - web\n"})
    assert "role dependency cycle: web -> php -> web" in err.what
    assert err.where == "roles/php/meta/main.yml:2"


def test_unknown_meta_keyword_suggests_the_closest(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  roles: [web]\n",
                              "roles/web/meta/main.yml": "dependancies: [php]\n"})
    assert err.hint == "did you mean 'dependencies'?" and err.where == "roles/web/meta/main.yml:1:1"


def test_errors_in_role_files_name_the_role_file(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  roles: [web]\n",
                              "roles/web/tasks/main.yml": "- apt: {name: x}\n- servce: {}\n"})
    assert err.where == "roles/web/tasks/main.yml:2:3" and "'service'" in err.hint


def test_hostile_role_names_are_refused(tmp_path: Path) -> None:
    err = error_of(tmp_path, {"playbooks/site.yml": "- hosts: all\n  roles: ['../etc']\n"})
    assert "role name '../etc' is not allowed" in err.what
