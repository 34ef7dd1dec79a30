"""Plans: one host's steps, fully rendered, with blobs, handlers, skips, tags and secrets."""

from __future__ import annotations

import hashlib
import json
import textwrap
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from mainsail.errors import BadInput
from mainsail.inventory import Host, Inventory, load_inventory
from mainsail.plan import HostPlan, build_plan
from mainsail.playbook import load_playbook

FIXTURE = Path(__file__).parent.parent / "fixtures" / "project"
STEP_KEYS = {"id", "op", "name", "args", "no_log", "ignore_errors", "where", "action", "role",
             "become", "become_user", "tags", "timeout"}


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return tmp_path


def plan_of(root: Path, host: Host | None = None, facts: dict[str, Any] | None = None,
            extra: dict[str, Any] | None = None, play: int = 0, **options: Any) -> HostPlan:
    plays = load_playbook(root)
    return build_plan(root, plays[play], host or Host("web1"), facts or {}, extra or {},
                      **options)


def one_task(tmp_path: Path, task: str, **options: Any) -> HostPlan:
    tasks = textwrap.indent(textwrap.dedent(task).lstrip("\n"), "    ")
    return plan_of(project(tmp_path, {"playbooks/site.yml": "- hosts: all\n  tasks:\n" + tasks}),
                   **options)


def args_of(plan: HostPlan) -> list[dict[str, Any]]:
    return [s["args"] for s in plan.steps]


def bad(call: object) -> BadInput:
    with pytest.raises(BadInput) as info:
        call()  # type: ignore[operator]
    return info.value


# ---------------------------------------------------------------------------- the sample project

@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(FIXTURE / "inventory" / "hosts.yml", root=FIXTURE)


@pytest.fixture(scope="module")
def web1(inventory: Inventory) -> HostPlan:
    plays = load_playbook(FIXTURE)
    return build_plan(FIXTURE, plays[0], inventory.hosts["web1"], {"os": {"version_id": "12"}}, {},
                      inventory=inventory)


def test_steps_run_dependencies_then_roles_then_play_tasks(web1: HostPlan) -> None:
    assert [s["name"] for s in web1.steps] == [
        "base packages", "no root password logins", "install apache", "install vhost",
        "index page", "enable module rewrite", "apache running", "create admin alice",
        "create admin bob", "message of the day", "banner", "database settings",
        "only on Debian 12"]


def test_steps_follow_the_step_schema_with_sequential_ids(web1: HostPlan) -> None:
    assert [s["id"] for s in web1.steps] == list(range(1, len(web1.steps) + 1))
    for step in web1.steps:
        # notify: the handlers a notifying step records on the host before it applies
        assert set(step) - {"notify", "txn"} == STEP_KEYS
        assert step.get("notify", web1.notify.get(step["id"])) == web1.notify.get(step["id"])


def test_steps_know_their_task_location(web1: HostPlan) -> None:
    assert web1.steps[3]["where"] == "roles/apache/tasks/main.yml:6"
    assert web1.steps[3]["role"] == "apache"


def test_arguments_are_rendered_typed_and_defaulted(web1: HostPlan) -> None:
    assert web1.steps[2]["args"] == {"name": ["apache2"], "state": "present",
                                     "install_recommends": False}


def test_a_template_becomes_a_copy_with_a_content_blob(web1: HostPlan) -> None:
    step = web1.steps[3]
    assert (step["op"], step["action"]) == ("copy", "template")
    sha = step["args"]["content_sha"]
    assert web1.blobs[sha] == (b"<VirtualHost *:8080>\n    ServerName example.org\n"
                               b"    DocumentRoot /var/www/html\n</VirtualHost>\n")
    assert hashlib.sha256(web1.blobs[sha]).hexdigest() == sha
    assert step["args"] == {"dest": "/etc/apache2/sites-available/example.org.conf",
                            "mode": "0644", "validate": "apache2ctl -t -f %s",
                            "content_sha": sha, "src": "roles/apache/templates/vhost.conf.j2"}


def test_copy_reads_role_files_then_project_files(web1: HostPlan) -> None:
    index, banner = web1.steps[4], web1.steps[10]
    assert index["args"]["src"] == "roles/apache/files/index.html"
    assert web1.blobs[index["args"]["content_sha"]] == b"<h1>It works</h1>\n"
    assert banner["args"]["src"] == "files/banner.txt"


def test_templates_see_magic_variables(web1: HostPlan) -> None:
    motd = web1.steps[9]["args"]["content_sha"]
    assert web1.blobs[motd] == b"web1 (web), time zone Etc/UTC\n"


def test_loop_and_when_are_evaluated_per_item(web1: HostPlan) -> None:
    # apache_ssl is false for the web group, so the ssl item is skipped
    assert [s["args"]["cmd"] for s in web1.steps if s["op"] == "command"][:1] == ["a2enmod rewrite"]
    assert web1.skipped == ["enable module ssl"]


def test_a_false_when_omits_the_step_and_records_the_name(inventory: Inventory) -> None:
    plays = load_playbook(FIXTURE)
    plan = build_plan(FIXTURE, plays[0], inventory.hosts["web1"], {"os": {"version_id": "11"}}, {},
                      inventory=inventory)
    assert "only on Debian 12" in plan.skipped
    assert all(s["name"] != "only on Debian 12" for s in plan.steps)


def test_become_is_inherited_from_the_play(web1: HostPlan) -> None:
    assert all(s["become"] for s in web1.steps)


def test_handlers_are_planned_in_definition_order_after_the_steps(web1: HostPlan) -> None:
    assert list(web1.handlers) == ["restart ssh", "reload apache", "restart apache"]
    first_handler_id = web1.handlers["restart ssh"][0]["id"]
    assert first_handler_id == len(web1.steps) + 1


def test_notify_maps_step_ids_to_handler_names_including_listen(web1: HostPlan) -> None:
    by_name = {s["name"]: s["id"] for s in web1.steps}
    assert web1.notify[by_name["install vhost"]] == ["reload apache"]
    assert web1.notify[by_name["enable module rewrite"]] == ["restart apache"]
    assert web1.notify[by_name["no root password logins"]] == ["restart ssh"]


def test_secret_values_mark_steps_no_log(web1: HostPlan) -> None:
    db = web1.steps[11]
    assert db["name"] == "database settings" and db["no_log"] is True
    assert web1.secrets == ("s3cret-pass",)
    assert not any(s["no_log"] for s in web1.steps[:11])


def test_the_plan_is_json_serialisable_and_masks_no_log_steps(web1: HostPlan) -> None:
    shown = json.loads(json.dumps(web1.as_dict()))
    assert shown["steps"][11]["args"]["dest"] == "/etc/app/db.conf"
    assert "s3cret-pass" not in json.dumps(shown)
    assert all(isinstance(size, int) for size in shown["blobs"].values())
    json.dumps(web1.steps)


def test_groups_and_hostvars_come_from_the_inventory(tmp_path: Path, inventory: Inventory) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks:
            - command: echo {{ groups['web'] | join(',') }} {{ hostvars['web2'].address }}
        """})
    plan = build_plan(root, load_playbook(root)[0], inventory.hosts["web1"], {}, {},
                      inventory=inventory)
    assert plan.steps[0]["args"]["cmd"] == "echo web1,web2 10.0.0.12"


def test_the_plan_is_frozen(web1: HostPlan) -> None:
    with pytest.raises(FrozenInstanceError):
        web1.steps = []  # type: ignore[misc]


# ---------------------------------------------------------------------------- precedence

PRECEDENCE_PROJECT = {
    "playbooks/site.yml": """
        - hosts: all
          vars: {v_play: play, v_files: play, v_role: play, v_extra: play}
          vars_files: [vars.yml]
          roles:
            - role: web
              vars: {v_param: role parameter}
          tasks:
            - command: "echo {{ v_play }}"
        """,
    "playbooks/vars.yml": "v_files: vars_files\n",
    "roles/web/defaults/main.yml": """
        v_default: role default
        v_inventory: role default
        v_param: role default
        """,
    "roles/web/vars/main.yml": "v_role: role vars\nv_param: role vars\nv_extra: role vars\n",
    "roles/web/tasks/main.yml": """
        - command: "echo {{ v_default }}|{{ v_inventory }}|{{ v_play }}|{{ v_files }}|{{ v_role }}|{{ v_param }}|{{ v_extra }}"
        """,
}


@pytest.fixture()
def precedence(tmp_path: Path) -> list[str]:
    root = project(tmp_path, PRECEDENCE_PROJECT)
    host = Host("web1", vars={"v_inventory": "inventory", "v_play": "inventory"})
    plan = plan_of(root, host=host, extra={"v_extra": "extra"})
    return str(plan.steps[0]["args"]["cmd"]).removeprefix("echo ").split("|")


def test_precedence_role_defaults_are_lowest(precedence: list[str]) -> None:
    assert precedence[0] == "role default"


def test_precedence_inventory_beats_role_defaults(precedence: list[str]) -> None:
    assert precedence[1] == "inventory"


def test_precedence_play_vars_beat_inventory(precedence: list[str]) -> None:
    assert precedence[2] == "play"


def test_precedence_vars_files_beat_play_vars(precedence: list[str]) -> None:
    assert precedence[3] == "vars_files"


def test_precedence_role_vars_beat_play_vars(precedence: list[str]) -> None:
    assert precedence[4] == "role vars"


def test_precedence_role_parameters_beat_role_vars(precedence: list[str]) -> None:
    assert precedence[5] == "role parameter"


def test_precedence_extra_vars_beat_everything(precedence: list[str]) -> None:
    assert precedence[6] == "extra"


def test_role_vars_and_defaults_stay_inside_their_role(tmp_path: Path) -> None:
    files = dict(PRECEDENCE_PROJECT)
    site = files["playbooks/site.yml"]
    files["playbooks/site.yml"] = site.replace("{{ v_play }}", "{{ v_role }}")
    assert plan_of(project(tmp_path, files)).steps[1]["args"]["cmd"] == "echo play"
    files["playbooks/site.yml"] = site.replace("{{ v_play }}", "{{ v_default }}")
    err = bad(lambda: plan_of(project(tmp_path, files)))
    assert "undefined variable 'v_default'" in err.what and err.where == "playbooks/site.yml:8"


# ---------------------------------------------------------------------------- variables

def test_variables_may_use_other_variables(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          vars:
            url: "http://{{ host_part }}:{{ port }}/"
            host_part: "{{ inventory_hostname }}.example.com"
            port: 8080
          tasks:
            - command: "curl {{ url }}"
        """})
    assert plan_of(root).steps[0]["args"]["cmd"] == "curl http://web1.example.com:8080/"


def test_an_unused_broken_variable_does_not_fail_the_plan(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          vars: {unused: "{{ nowhere }}"}
          tasks:
            - command: echo fine
        """})
    assert plan_of(root).steps[0]["args"]["cmd"] == "echo fine"


def test_a_used_broken_variable_names_where_it_is_defined(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          vars:
            greeting: "hello {{ nmae }}"
            name: x
          tasks:
            - command: "echo {{ greeting }}"
        """})
    err = bad(lambda: plan_of(root))
    assert err.where == "playbooks/site.yml:3"
    assert "variable 'greeting': undefined variable 'nmae'" in err.what
    assert "'name'" in err.hint


def test_a_variable_referring_to_itself_is_reported(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          vars: {a: "{{ b }}", b: "{{ a }}"}
          tasks:
            - command: "echo {{ a }}"
        """})
    assert "refers to itself" in bad(lambda: plan_of(root)).what


def test_facts_are_available_as_facts_and_ansible_facts(tmp_path: Path) -> None:
    plan = one_task(tmp_path, "- command: echo {{ facts.os.id }} {{ ansible_facts.os.id }}\n",
                    facts={"os": {"id": "debian"}})
    assert plan.steps[0]["args"]["cmd"] == "echo debian debian"


def test_check_mode_is_visible_to_templates(tmp_path: Path) -> None:
    plan = one_task(tmp_path, "- command: echo {{ ansible_check_mode }}\n", check=True)
    assert plan.steps[0]["args"]["cmd"] == "echo True" and plan.check is True


def test_extra_vars_need_valid_names(tmp_path: Path) -> None:
    err = bad(lambda: one_task(tmp_path, "- command: echo\n", extra={"bad-name": 1}))
    assert err.where == "--var bad-name"


def test_templated_vars_files_are_read_per_host(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": """
            - hosts: all
              vars_files: ["vars/{{ env }}.yml"]
              tasks:
                - command: echo {{ db_host }}
            """,
        "playbooks/vars/prod.yml": "db_host: db.prod\n"})
    assert plan_of(root, extra={"env": "prod"}).steps[0]["args"]["cmd"] == "echo db.prod"


# ---------------------------------------------------------------------------- errors

def test_an_undefined_variable_in_a_template_names_file_line_and_variable(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": "- hosts: all\n  roles: [web]\n",
        "roles/web/tasks/main.yml": "- template: {src: site.conf.j2, dest: /etc/site.conf}\n",
        "roles/web/templates/site.conf.j2": "Listen 80\nServerName {{ server_name }}\n"})
    err = bad(lambda: plan_of(root))
    assert err.where == "roles/web/templates/site.conf.j2:2"
    assert "undefined variable 'server_name'" in err.what


def test_an_undefined_variable_in_a_task_names_the_task_line(tmp_path: Path) -> None:
    err = bad(lambda: one_task(tmp_path, "- apt: {name: x}\n- apt: {name: '{{ pkgs }}'}\n"))
    assert err.where == "playbooks/site.yml:4" and "'pkgs'" in err.what


def test_a_rendered_value_is_type_checked(tmp_path: Path) -> None:
    err = bad(lambda: one_task(tmp_path, "- apt: {name: x, state: '{{ s }}'}\n",
                               extra={"s": "gone"}))
    assert "apt: state must be one of" in err.what and err.where == "playbooks/site.yml:3:22"


def test_a_missing_copy_source_suggests_the_closest(tmp_path: Path) -> None:
    project(tmp_path, {"files/motd.txt": "hi\n"})
    err = bad(lambda: one_task(tmp_path, "- copy: {src: motd.tx, dest: /etc/motd}\n"))
    assert "file 'motd.tx' not found" in err.what and "'motd.txt'" in err.hint


def test_copy_sources_cannot_leave_the_project_folders(tmp_path: Path) -> None:
    err = bad(lambda: one_task(tmp_path, "- copy: {src: ../../etc/shadow, dest: /x}\n"))
    assert "inside files/" in err.what


def test_copying_a_folder_ships_its_manifest(tmp_path: Path) -> None:
    (tmp_path / "files" / "conf.d").mkdir(parents=True)
    args = args_of(one_task(tmp_path, "- copy: {src: conf.d, dest: /x}\n"))[0]
    assert args["manifest"] == {"conf.d": {"dir": True}} and args["src"] == "files/conf.d"


def test_a_loop_must_give_a_list(tmp_path: Path) -> None:
    err = bad(lambda: one_task(tmp_path, "- apt: {name: '{{ item }}'}\n  loop: '{{ n }}'\n",
                               extra={"n": 3}))
    assert "loop must give a list" in err.what


# ---------------------------------------------------------------------------- loops and conditions

def test_loop_items_fill_item_and_label_the_name(tmp_path: Path) -> None:
    plan = one_task(tmp_path, """
        - name: user
          user: {name: "{{ item.name }}", uid: "{{ item.uid }}"}
          loop: [{name: ann, uid: 1001}, {name: bo, uid: 1002}]
        """)
    assert [a["name"] for a in args_of(plan)] == ["ann", "bo"]
    assert [a["uid"] for a in args_of(plan)] == [1001, 1002]
    assert plan.steps[0]["name"] == 'user (item={"name": "ann", "uid": 1001})'


def test_when_sees_the_loop_item(tmp_path: Path) -> None:
    plan = one_task(tmp_path, """
        - name: pkg {{ item }}
          apt: {name: "{{ item }}"}
          loop: [vim, emacs, nano]
          when: item != "emacs"
        """)
    assert [a["name"] for a in args_of(plan)] == [["vim"], ["nano"]]
    assert plan.skipped == ["pkg emacs"]


def test_a_loop_over_something_undefined_is_fine_when_skipped(tmp_path: Path) -> None:
    plan = one_task(tmp_path, """
        - name: users
          user: {name: "{{ item }}"}
          loop: "{{ extra_users }}"
          when: extra_users is defined
        """)
    assert plan.steps == [] and plan.skipped == ["users"]


def test_role_when_applies_to_every_task_of_the_role(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": "- hosts: all\n  roles:\n    - {role: web, when: enabled}\n",
        "roles/web/tasks/main.yml": "- apt: {name: a}\n- apt: {name: b}\n"})
    assert plan_of(root, extra={"enabled": False}).skipped == ["apt a", "apt b"]
    assert len(plan_of(root, extra={"enabled": True}).steps) == 2


def test_omit_leaves_an_argument_out(tmp_path: Path) -> None:
    plan = one_task(tmp_path, "- file: {path: /srv, state: directory, mode: '{{ m | default(omit) }}'}\n")
    assert args_of(plan) == [{"path": "/srv", "state": "directory"}]


def test_ignore_errors_may_be_templated(tmp_path: Path) -> None:
    plan = one_task(tmp_path, "- command: 'false'\n  ignore_errors: '{{ lenient }}'\n",
                    extra={"lenient": True})
    assert plan.steps[0]["ignore_errors"] is True


def test_result_conditions_reach_the_host_rendered(tmp_path: Path) -> None:
    plan = one_task(tmp_path, """
        - command: grep -c x /etc/x
          changed_when: false
          failed_when: "rc > 1 or '{{ bad }}' in stderr"
        """, extra={"bad": "denied"})
    assert args_of(plan) == [{"cmd": "grep -c x /etc/x", "changed_when": False,
                              "failed_when": "rc > 1 or 'denied' in stderr"}]


def test_copy_content_becomes_a_blob(tmp_path: Path) -> None:
    plan = one_task(tmp_path, "- copy: {dest: /etc/x, content: \"port={{ p }}\\n\"}\n",
                    extra={"p": 8})
    step = plan.steps[0]
    assert plan.blobs[step["args"]["content_sha"]] == b"port=8\n"
    assert "content" not in step["args"] and "src" not in step["args"]


def test_uri_src_ships_from_files_unless_remote_src(tmp_path: Path) -> None:
    project(tmp_path, {"files/body.json": '{"a": 1}\n'})
    plan = one_task(tmp_path, """
        - uri: {url: "http://127.0.0.1/x", method: POST, src: body.json}
        - uri: {url: "http://127.0.0.1/x", method: POST, src: /srv/body.json, remote_src: true}
        - uri: {url: "http://127.0.0.1/x"}
        """)
    shipped, remote, plain = args_of(plan)
    assert plan.blobs[shipped["content_sha"]] == b'{"a": 1}\n'
    assert shipped["src"] == "files/body.json"
    assert "content_sha" not in remote and remote["src"] == "/srv/body.json"
    assert "content_sha" not in plain and "src" not in plain
    err = bad(lambda: one_task(tmp_path, "- uri: {url: 'http://127.0.0.1/', src: nope.json}\n"))
    assert "nope.json" in err.what


# ---------------------------------------------------------------------------- tags

TAGGED = """
- hosts: all
  tags: [site]
  roles:
    - {role: web, tags: [web]}
  tasks:
    - {name: users, user: {name: a}, tags: [users]}
    - {name: always, command: uptime, tags: [always]}
    - {name: debug, command: id, tags: [never, debug]}
    - {name: plain, command: date}
"""


def names_with(tmp_path: Path, tags: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> list[str]:
    root = project(tmp_path, {"playbooks/site.yml": TAGGED,
                              "roles/web/tasks/main.yml": "- {name: pkg, apt: {name: x}, tags: [pkg]}\n"})
    return [s["name"] for s in plan_of(root, tags=tags, skip_tags=skip).steps]


def test_without_tags_everything_but_never_runs(tmp_path: Path) -> None:
    assert names_with(tmp_path) == ["pkg", "users", "always", "plain"]


def test_tags_select_tasks_and_always_still_runs(tmp_path: Path) -> None:
    assert names_with(tmp_path, tags=("users",)) == ["users", "always"]


def test_role_entry_tags_apply_to_the_role_tasks(tmp_path: Path) -> None:
    assert names_with(tmp_path, tags=("web",)) == ["pkg", "always"]


def test_never_tasks_run_only_when_asked_for(tmp_path: Path) -> None:
    assert names_with(tmp_path, tags=("debug",)) == ["always", "debug"]


def test_skip_tags_win_even_over_always(tmp_path: Path) -> None:
    assert names_with(tmp_path, skip=("users", "always")) == ["pkg", "plain"]


def test_play_tags_apply_to_every_task(tmp_path: Path) -> None:
    # as in Ansible, a `never` task runs when any of its tags (inherited ones too) is asked for
    assert names_with(tmp_path, tags=("site",)) == ["pkg", "users", "always", "debug", "plain"]


def test_tagged_and_untagged(tmp_path: Path) -> None:
    assert names_with(tmp_path, tags=("untagged",)) == ["always"]  # all inherit `site`


# ---------------------------------------------------------------------------- secrets

def test_no_log_true_marks_the_step_and_masks_the_item(tmp_path: Path) -> None:
    plan = one_task(tmp_path, """
        - name: key
          copy: {dest: "/etc/{{ item }}", content: x}
          loop: [a]
          no_log: true
        """)
    assert plan.steps[0]["no_log"] is True and plan.steps[0]["name"] == "key (item=***)"


def test_task_no_log_names_mark_steps_that_use_the_values(tmp_path: Path) -> None:
    plan = one_task(tmp_path, """
        - command: "mysql -p{{ pw }}"
          no_log: [pw]
        """, extra={"pw": "hunter2"})
    assert plan.steps[0]["no_log"] is True and plan.secrets == ("hunter2",)
    assert plan.as_dict()["steps"][0]["args"]["cmd"] == "***"


def test_secrets_in_rendered_templates_mark_the_step(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": """
            - hosts: all
              no_log: [token]
              vars: {token: abc123xyz}
              tasks:
                - template: {src: app.ini.j2, dest: /etc/app.ini}
                - template: {src: plain.j2, dest: /etc/plain}
            """,
        "templates/app.ini.j2": "token = {{ token }}\n",
        "templates/plain.j2": "nothing secret\n"})
    assert [s["no_log"] for s in plan_of(root).steps] == [True, False]


# ---------------------------------------------------------------------------- handlers

def test_handler_when_is_evaluated_at_plan_time(tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks:
            - {apt: {name: x}, notify: [a, b]}
          handlers:
            - {name: a, service: {name: x, state: restarted}}
            - {name: b, service: {name: y, state: restarted}, when: false}
        """})
    plan = plan_of(root)
    assert plan.notify == {1: ["a", "b"]}
    assert len(plan.handlers["a"]) == 1 and plan.handlers["b"] == []
    assert plan.skipped == []  # a handler that may never be notified is not reported


def test_handlers_of_roles_use_the_role_variables(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "playbooks/site.yml": "- hosts: all\n  roles: [web]\n",
        "roles/web/defaults/main.yml": "svc: nginx\n",
        "roles/web/tasks/main.yml": "- {apt: {name: x}, notify: 'web : restart'}\n",
        "roles/web/handlers/main.yml": "- {name: restart, service: {name: '{{ svc }}', state: restarted}}\n"})
    plan = plan_of(root)
    assert plan.notify == {1: ["restart"]}
    assert plan.handlers["restart"][0]["args"]["name"] == "nginx"
