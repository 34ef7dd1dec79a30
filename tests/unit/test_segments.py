"""register, and a host's plan cut into segments where a task reads a registered result."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from mainsail.errors import BadInput
from mainsail.inventory import Host
from mainsail.plan import HostPlan, build_plan, result_fields
from mainsail.playbook import load_playbook


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return tmp_path


def plan_tasks(tmp_path: Path, tasks: str, files: dict[str, str] | None = None,
               extra: dict[str, Any] | None = None) -> HostPlan:
    body = textwrap.indent(textwrap.dedent(tasks).lstrip("\n"), "    ")
    root = project(tmp_path, {"playbooks/site.yml": "- hosts: all\n  tasks:\n" + body,
                              **(files or {})})
    return build_plan(root, load_playbook(root)[0], Host("web1"), {}, extra or {})


def ran(plan: HostPlan, **by_name: dict[str, Any]) -> list[dict[str, Any]]:
    """The agent's results for a segment: each step ok unless named in ``by_name``."""
    out = []
    for step in plan.steps:
        result = {"id": step["id"], "status": "ok", "msg": "", "rc": None, "stdout": "",
                  "stderr": "", "cmd": None}
        result.update(by_name.get(step["name"], {}))
        out.append(result)
    return out


def content(plan: HostPlan | None, index: int = 0) -> str:
    """What a copy step writes (shipped as a blob named by its digest)."""
    assert plan is not None
    digests = set(plan.steps[index]["args"].values()) & set(plan.blobs)
    return plan.blobs[digests.pop()].decode()


def names(plan: HostPlan | None) -> list[str]:
    assert plan is not None
    return [s["name"] for s in plan.steps]


USES_RESULT = """
- name: version
  command: cat /etc/debian_version
  register: version
- name: other
  file: {path: /tmp/other, state: directory}
- name: report
  copy: {dest: /tmp/version, content: "{{ version.stdout }}"}
  when: version is succeeded
- name: last
  file: {path: /tmp/last, state: directory}
"""


def test_a_play_without_register_is_one_segment(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: a
          command: "true"
        - name: b
          file: {path: /tmp/b, state: directory}
        """)
    assert names(plan) == ["a", "b"] and plan.deferred == () and plan.segment == 1
    assert plan.following(ran(plan)) is None


def test_a_task_reading_a_result_starts_the_next_segment(tmp_path: Path) -> None:
    first = plan_tasks(tmp_path, USES_RESULT)
    assert names(first) == ["version", "other"]  # `other` does not wait for the result
    assert first.deferred == ("report", "last")
    assert first.steps[0]["register"] == "version"
    second = first.following(ran(first, version={"status": "changed", "rc": 0,
                                                 "stdout": "12.8", "cmd": "cat"}))
    assert names(second) == ["report", "last"] and second.segment == 2
    assert content(second, 0) == "12.8"
    assert [s["id"] for s in second.steps] == [3, 4]  # ids stay unique across segments
    assert second.following(ran(second)) is None


def test_a_result_that_fails_the_when_skips_the_task(tmp_path: Path) -> None:
    first = plan_tasks(tmp_path, USES_RESULT)
    second = first.following(ran(first, version={"status": "ignored", "rc": 1, "cmd": "cat"}))
    assert names(second) == ["last"] and second.skipped == ["report"]


def test_a_skipped_task_registers_a_skipped_result_without_a_round_trip(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: never
          command: "true"
          when: false
          register: out
        - name: after
          file: {path: "/tmp/{{ 'skipped' if out is skipped else 'ran' }}", state: directory}
        """)
    assert names(plan) == ["after"] and plan.deferred == ()
    assert plan.steps[0]["args"]["path"] == "/tmp/skipped"


def test_a_loop_registers_ansible_s_results_list(tmp_path: Path) -> None:
    first = plan_tasks(tmp_path, """
        - name: each
          command: "echo {{ item }}"
          loop: [a, b, c]
          when: item != 'b'
          register: echoed
        - name: summary
          copy:
            dest: /tmp/summary
            content: "{{ echoed.results | rejectattr('skipped', 'defined') | map(attribute='stdout')
                         | join(',') }}
              {{ echoed is changed }} {{ echoed.results[1].skipped }}"
        """)
    results = ran(first, **{"each (item=a)": {"status": "changed", "rc": 0, "stdout": "a",
                                              "cmd": "echo a"},
                            "each (item=c)": {"status": "ok", "rc": 0, "stdout": "c",
                                              "cmd": "echo c"}})
    second = first.following(results)
    assert content(second, 0) == "a,c True True"


def test_result_fields_use_ansible_s_names() -> None:
    fields = result_fields({"id": 1, "status": "failed", "msg": "boom", "rc": 2,
                            "stdout": "one\ntwo", "stderr": "bad", "cmd": "x"})
    assert fields == {"changed": False, "failed": True, "msg": "boom",
                      "rc": 2, "stdout": "one\ntwo", "stdout_lines": ["one", "two"],
                      "stderr": "bad", "stderr_lines": ["bad"], "cmd": "x",
                      "exception": "boom"}  # Ansible 2.19: every failed result has one
    assert result_fields({"status": "changed", "msg": "", "data": {"path": "/x"}}) == \
        {"changed": True, "failed": False, "msg": "", "path": "/x"}
    # `skipped` only where it is true, as in Ansible (`'skipped' not in result`)
    assert result_fields({"status": "skipped", "msg": "no"})["skipped"] is True


def test_the_tests_on_results(tmp_path: Path) -> None:
    first = plan_tasks(tmp_path, """
        - name: probe
          command: "true"
          register: r
        - name: show
          copy:
            dest: /tmp/x
            content: "{{ [r is changed, r is failed, r is succeeded, r is success,
                          r is skipped] | join(',') }}"
        """)
    second = first.following(ran(first, probe={"status": "changed", "rc": 0, "cmd": "true"}))
    assert content(second, 0) == "True,False,True,True,False"


def test_deferred_tasks_are_checked_before_anything_runs(tmp_path: Path) -> None:
    err = pytest.raises(BadInput, plan_tasks, tmp_path, """
        - name: probe
          command: "true"
          register: r
        - name: uses
          copy: {dest: /tmp/x, content: "{{ r.stdout }} {{ not_defined_anywhere }}"}
        """).value
    assert "not_defined_anywhere" in err.what


def test_deferred_tasks_missing_templates_are_bad_input_now(tmp_path: Path) -> None:
    err = pytest.raises(BadInput, plan_tasks, tmp_path, """
        - name: probe
          command: "true"
          register: r
        - name: uses
          template: {src: gone.j2, dest: /tmp/x}
          when: r is changed
        """).value
    assert "gone.j2" in err.what


def test_deferred_tasks_may_use_fields_only_a_real_result_has(tmp_path: Path) -> None:
    first = plan_tasks(tmp_path, """
        - name: probe
          command: "true"
          register: r
        - name: uses
          copy: {dest: /tmp/x, content: "{{ (r.stdout | from_json).version }}"}
        """)
    second = first.following(ran(first, probe={"rc": 0, "stdout": '{"version": 3}',
                                               "cmd": "true"}))
    assert content(second, 0) == "3"


def test_a_bad_value_from_a_result_fails_when_rendered(tmp_path: Path) -> None:
    first = plan_tasks(tmp_path, """
        - name: probe
          command: "true"
          register: r
        - name: uses
          copy: {dest: /tmp/x, content: "{{ r.stdout | from_json }}"}
        """)
    with pytest.raises(BadInput):
        first.following(ran(first, probe={"rc": 0, "stdout": "not json", "cmd": "true"}))


def test_extra_vars_win_over_registered_results(tmp_path: Path) -> None:
    first = plan_tasks(tmp_path, """
        - name: probe
          command: "true"
          register: r
        - name: uses
          copy: {dest: /tmp/x, content: "{{ r }}"}
        """, extra={"r": "given"})
    assert names(first) == ["probe", "uses"]  # nothing waits: the extra var is known now
    assert content(first, 1) == "given"


# ---------------------------------------------------------------------------- set_fact, debug, assert, fail

def test_set_fact_sets_variables_for_later_tasks_without_a_step(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - set_fact: {greeting: "hello {{ inventory_hostname }}", cacheable: true}
        - ansible.builtin.set_fact: "{{ item }}=moo"
          loop: [foo, bar]
        - debug: var=greeting
        - debug: {msg: "{{ foo }} {{ bar }}"}
        """)
    assert [s["op"] for s in plan.steps] == ["debug", "debug"]
    assert [s["args"]["msg"] for s in plan.steps] == ["greeting: hello web1", "moo moo"]


def test_assert_is_judged_on_the_controller_and_reported_in_place(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: holds
          assert: {that: ["1 + 1 == 2", "'a' in 'abc'"], success_msg: fine}
        - name: does not
          assert:
            that: [true, "2 > 3"]
            fail_msg: "two is not more than {{ 3 }}"
        """)
    assert plan.steps[0]["args"] == {"that": ["1 + 1 == 2", "'a' in 'abc'"], "quiet": False,
                                     "success_msg": "fine"}
    assert plan.steps[1]["args"]["evaluated"] == "2 > 3"
    assert plan.steps[1]["args"]["fail_msg"] == "two is not more than 3"


def test_assert_reads_registered_results_in_the_next_segment(tmp_path: Path) -> None:
    first = plan_tasks(tmp_path, """
        - shell: exit 0
          register: result
          ignore_errors: true
        - assert:
            that:
              - "'failed' in result and not result.failed"
              - result.exception is undefined
          register: checked
        - debug: var=checked.msg
        """)
    second = first.following(ran(first, **{"shell exit 0": {"status": "ok", "rc": 0,
                                                            "cmd": "exit 0"}}))
    assert "evaluated" not in second.steps[0]["args"]
    assert second.steps[1]["args"]["msg"] == "checked.msg: All assertions passed"
    assert second.deferred == ()


def test_debug_above_verbosity_0_and_fail_with_a_message(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - debug: {msg: hidden, verbosity: 2}
        - fail: msg="stop {{ inventory_hostname }}"
          when: inventory_hostname == 'web1'
        """)
    assert [(s["op"], s["args"]) for s in plan.steps] == [("fail", {"msg": "stop web1"})]


def test_one_line_arguments_work_for_every_operation(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - copy: dest=/tmp/foo.txt mode=0644 content="bar baz"
        - file: path=/tmp/{{ 'x y' | replace(' ', '') }} state=directory
        """)
    assert plan.steps[0]["args"]["dest"] == "/tmp/foo.txt"
    assert content(plan, 0) == "bar baz"
    assert plan.steps[1]["args"]["path"] == "/tmp/xy"


def test_the_host_reports_the_controller_s_verdicts() -> None:
    from mainsail.agent.core import Context
    from mainsail.agent.main import call_op
    ctx = Context(check=False, diff=False, blobs=None)
    failed = call_op(ctx, {"op": "assert", "args": {"that": ["x"], "evaluated": "x"}})
    assert (failed.status, failed.msg) == ("failed", "Assertion failed: x")
    held = call_op(ctx, {"op": "assert", "args": {"that": ["x"], "success_msg": "fine"}})
    assert (held.status, held.msg) == ("ok", "fine")
    assert call_op(ctx, {"op": "debug", "args": {"msg": "hi"}}).msg == "hi"
    assert call_op(ctx, {"op": "fail", "args": {}}).status == "failed"


# ---------------------------------------------------------------------------- loops

def steps_args(plan: HostPlan, key: str) -> list[Any]:
    return [s["args"][key] for s in plan.steps]


@pytest.mark.parametrize("loop,expected", [
    ("with_items: [[a, b], c]", ["a", "b", "c"]),
    ("with_list: [a, b]", ["a", "b"]),
    ("with_dict: {x: 1, y: 2}", ["x=1", "y=2"]),
    ("with_together: [[a, b], [1]]", ['["a", 1]', '["b", null]']),
    ("with_nested: [[a, b], [1, 2]]", ['["a", 1]', '["a", 2]', '["b", 1]', '["b", 2]']),
    ("with_sequence: start=1 end=5 stride=2 format=n%02d", ["n01", "n03", "n05"]),
    ("with_sequence: count=2", ["1", "2"]),
    ("with_indexed_items: [a, b]", ['[0, "a"]', '[1, "b"]']),
    ("with_subelements: [[{n: u1, keys: [k1, k2]}, {n: u2, keys: [k3]}], keys]",
     ["u1:k1", "u1:k2", "u2:k3"]),
])
def test_with_loops_give_ansible_s_items(tmp_path: Path, loop: str, expected: list[str]) -> None:
    shown = {"with_dict": "{{ item.key }}={{ item.value }}",
             "with_subelements": "{{ item.0.n }}:{{ item.1 }}"}.get(loop.split(":")[0],
                                                                     "{{ item }}")
    plan = plan_tasks(tmp_path, f"""
        - debug: {{msg: "{shown}"}}
          {loop}
        """)
    assert steps_args(plan, "msg") == expected


def test_with_fileglob_and_first_found_look_in_the_files_folder(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - debug: {msg: "{{ item | basename }}"}
          with_fileglob: ["*.conf"]
        - debug: {msg: "{{ item | basename }}"}
          with_first_found: [missing.conf, b.conf]
        - debug: {msg: "{{ lookup('file', 'a.conf') }}"}
        """, files={"files/a.conf": "alpha\n", "files/b.conf": "beta\n",
                    "files/c.txt": ""})
    assert steps_args(plan, "msg") == ["a.conf", "b.conf", "b.conf", "alpha"]


def test_first_found_in_a_role_searches_the_roles_own_vars(tmp_path: Path) -> None:
    # The pattern public roles open with: include_vars of the first OS-specific file.
    root = project(tmp_path, {
        "playbooks/site.yml": "- hosts: all\n  roles: [osvars]\n",
        "roles/osvars/tasks/main.yml": """
            - include_vars: "{{ item }}"
              with_first_found:
                - "Debian-99.yml"
                - "Debian.yml"
            - debug: {msg: "{{ item }}"}
              with_first_found: [Debian.yml]
            """,
        "roles/osvars/vars/Debian.yml": "pkg: apache2\n",
        "roles/osvars/files/Debian.yml": "a file\n"})
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    # include_vars looks in vars/, any other action in files/ (Ansible: by the action's name)
    assert steps_args(plan, "msg") == [str(root / "roles/osvars/files/Debian.yml")]


def test_loop_control_names_the_variables(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: user
          debug: {msg: "{{ user }} {{ i }} {{ ansible_loop.first }} {{ ansible_loop.length }}"}
          loop: [ann, bob]
          loop_control: {loop_var: user, index_var: i, extended: true, label: "{{ user | upper }}"}
        """)
    assert steps_args(plan, "msg") == ["ann 0 True 2", "bob 1 False 2"]
    assert [s["name"] for s in plan.steps] == ["user (item=ANN)", "user (item=BOB)"]


def test_unknown_loop_control_keywords_are_named(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path, """
            - debug: {msg: x}
              loop: [a]
              loop_control: {loopvar: x}
            """)
    assert "loopvar" in info.value.what and "loop_var" in info.value.hint


# ---------------------------------------------------------------------------- blocks, includes, task vars

def test_a_block_s_tasks_inherit_its_when_tags_and_vars(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: grouped
          when: run_it
          tags: [grp]
          vars: {who: block}
          block:
            - debug: {msg: "{{ who }}"}
            - debug: {msg: "{{ who }}"}
              vars: {who: task}
              when: false
        """, extra={"run_it": True})
    assert steps_args(plan, "msg") == ["block"]
    assert plan.steps[0]["tags"] == ["grp"]


def test_include_and_import_tasks_read_the_file_next_to_the_includer(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - include_tasks: more.yml
          vars: {n: 1}
        - ansible.builtin.import_tasks:
            file: more.yml
          when: false
        """, files={"playbooks/more.yml": "- debug: {msg: 'more {{ n | default(0) }}'}\n"})
    assert steps_args(plan, "msg") == ["more 1"]
    assert plan.skipped == ["debug"]


def test_an_include_of_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path, "- include_tasks: gone.yml\n")
    assert "'gone.yml' not found" in info.value.what


def test_a_task_that_cannot_render_with_ignore_errors_is_an_ignored_failure(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: bad lookup
          set_fact: {bad: "{{ lookup('dict', 1) }}"}
          register: result
          ignore_errors: yes
        - debug: {msg: "{{ result is failed }}"}
        - set_fact: {x: 1}
          register: fact
        - debug: {msg: "{{ fact.ansible_facts.x }}"}
        """)
    assert [(s["op"], s["ignore_errors"]) for s in plan.steps][0] == ("fail", True)
    assert "lookup plugin expects a dictionary" in plan.steps[0]["args"]["msg"]
    assert steps_args(plan, "msg")[1:] == ["true", "1"]


def test_a_task_that_cannot_render_without_ignore_errors_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput):
        plan_tasks(tmp_path, "- set_fact: {bad: \"{{ lookup('dict', 1) }}\"}\n")


def test_include_vars_reads_a_file_or_a_folder_when_the_plan_is_built(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - include_vars: "{{ 'common' }}.yml"
        - ansible.builtin.include_vars: {dir: extra, name: more}
        - debug: {msg: "{{ greeting }} {{ more.a }} {{ more.b }}"}
        """, files={"playbooks/vars/common.yml": "greeting: hi\n",
                    "vars/extra/1.yml": "a: 1\n", "vars/extra/2.yml": "b: 2\n"})
    assert steps_args(plan, "msg") == ["hi 1 2"]


def test_include_vars_of_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        plan_tasks(tmp_path, "- include_vars: nope.yml\n")
    assert "'nope.yml' not found" in info.value.what


# ---------------------------------------------------------------------------- facts under Ansible's names

def test_facts_are_also_under_ansible_s_names(tmp_path: Path) -> None:
    body = textwrap.indent(textwrap.dedent("""
        - debug:
            msg: "{{ ansible_distribution }} {{ ansible_facts.os_family }}
              {{ ansible_distribution_major_version }} {{ ansible_distribution_release }}
              {{ ansible_python.version.major }} {{ ansible_pkg_mgr }} {{ ansible_architecture }}
              {{ ansible_default_ipv4.address }} {{ facts.os.id }}"
        """).lstrip("\n"), "    ")
    root = project(tmp_path, {"playbooks/site.yml": "- hosts: all\n  tasks:\n" + body})
    facts = {"os": {"id": "debian", "version_id": "12", "codename": "bookworm"},
             "python": {"version": "3.11.2", "path": "/usr/bin/python3"}, "arch": "x86_64",
             "addresses": ["10.0.0.5"], "hostname": "web1", "init": "systemd"}
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), facts, {})
    assert plan.steps[0]["args"]["msg"] == \
        "Debian Debian 12 bookworm 3 apt x86_64 10.0.0.5 debian"


def test_include_tasks_named_by_a_template_is_read_when_the_plan_reaches_it(
        tmp_path: Path) -> None:
    # Public roles' opening move: tasks per OS family, the others never read on this host.
    files = {"playbooks/setup-Debian.yml": "- debug: {msg: 'debian {{ extra }}'}\n",
             "playbooks/setup-FreeBSD.yml": "- not_an_operation_here: {name: nginx}\n"}
    plan = plan_tasks(tmp_path, """
        - include_tasks: "setup-{{ family }}.yml"
          vars: {extra: 1}
        - include_tasks: "setup-{{ family }}.yml"
          when: family == 'RedHat'
        - debug: {msg: after}
        """, files=files, extra={"family": "Debian"})
    assert steps_args(plan, "msg") == ["debian 1", "after"]
    assert plan.skipped == ['include_tasks']


def test_a_templated_include_naming_no_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="file 'setup-Plan9.yml' not found"):
        plan_tasks(tmp_path, """
            - include_tasks: "setup-{{ family }}.yml"
            """, extra={"family": "Plan9"})


def test_a_fact_made_from_a_result_is_not_judged_by_its_sample(tmp_path: Path) -> None:
    # geerlingguy.apache: a version parsed from a command's output, then tested in a when.
    plan = plan_tasks(tmp_path, """
        - command: apache2 -v
          register: out
        - set_fact:
            version: "{{ out.stdout.split()[2].split('/')[1] }}"
        - debug: {msg: two-four}
          when: "version.split('.')[1] == '4'"
        """)
    assert [s["op"] for s in plan.steps] == ["command"]
    with pytest.raises(BadInput, match="undefined variable 'nowhere'"):
        plan_tasks(tmp_path / "b", """
            - command: apache2 -v
              register: out
            - debug: {msg: "{{ nowhere }}"}
            """)


def test_another_systems_module_loads_and_is_refused_only_where_it_would_run(
        tmp_path: Path) -> None:
    tasks = """
        - name: windows only
          win_file: {path: 'C:\\x', state: absent}
          when: family == 'Windows'
        - community.mysql.mysql_db: {name: app}
          when: family == 'Windows'
        - debug: {msg: linux}
        """
    plan = plan_tasks(tmp_path, tasks, extra={"family": "Debian"})
    assert steps_args(plan, "msg") == ["linux"]
    assert plan.skipped == ["windows only", "community.mysql.mysql_db"]
    with pytest.raises(BadInput, match="win_file: this module is not available"):
        plan_tasks(tmp_path / "w", tasks, extra={"family": "Windows"})
    with pytest.raises(BadInput, match="unknown task keyword or operation 'cpoy'"):
        plan_tasks(tmp_path / "t", "- cpoy: {dest: /x}\n")


def test_unarchive_copy_false_is_remote_src(tmp_path: Path) -> None:
    # geerlingguy.git: an archive get_url fetched onto the host, unpacked there
    plan = plan_tasks(tmp_path, """
        - unarchive: {src: /tmp/git.tar.gz, dest: /tmp, copy: false}
        """)
    assert plan.steps[0]["args"]["remote_src"] is True and not plan.blobs


def test_an_include_in_a_loop_runs_its_file_once_per_item(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - include_tasks: one.yml
          loop: [a, b]
          loop_control: {loop_var: who, index_var: i}
        """, files={"playbooks/one.yml": "- debug: {msg: '{{ i }} {{ who }}'}\n"})
    assert steps_args(plan, "msg") == ["0 a", "1 b"]


def test_include_vars_values_are_templated_like_role_vars(tmp_path: Path) -> None:
    # geerlingguy.apache's vars/Debian.yml: a list whose items hold templates
    root = project(tmp_path, {
        "playbooks/site.yml": "- hosts: all\n  roles: [r]\n",
        "roles/r/defaults/main.yml": "port: 80\n",
        "roles/r/vars/Debian.yml": "lines:\n  - line: 'Listen {{ port }}'\nport_s: '{{ port }}s'\n",
        "roles/r/tasks/main.yml": """
            - include_vars: Debian.yml
            - debug: {msg: "{{ item.line }} {{ port_s }}"}
              with_items: "{{ lines }}"
            """})
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    assert steps_args(plan, "msg") == ["Listen 80 80s"]
