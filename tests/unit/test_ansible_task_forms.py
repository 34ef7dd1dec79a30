"""Ansible task forms and run-time behaviour the integration targets rely on: relative paths,
arguments a task expects to be refused, `action:`, handlers at the play's end across
requests, a dependency inside its dependent's transaction, registered no_log results,
become by connection variables, debconf queries."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mainsail.agent import txn
from mainsail.agent.core import Context, accept
from mainsail.agent.ops import SPECS
from mainsail.agent.ops import debconf
from mainsail.errors import BadInput
from mainsail.playbook import load_playbook
from mainsail.runner import hidden
from tests.unit.test_flags import mainsail
from tests.unit.test_judged_later import local_project
from tests.unit.test_segments import names, plan_tasks, project, ran


def test_a_relative_path_is_the_remote_user_s_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    args = accept(SPECS["file"], {"path": "sub/x", "state": "touch"})
    assert args["path"] == str(tmp_path / "home/sub/x")
    assert accept(SPECS["file"], {"path": "~/y"})["path"] == str(tmp_path / "home/y")
    monkeypatch.setenv("SUDO_USER", "root")  # become: the login user's home, not root's
    import pwd
    assert accept(SPECS["file"], {"path": "z"})["path"] == \
        os.path.join(pwd.getpwnam("root").pw_dir, "z")
    with pytest.raises(BadInput, match="path on the host"):
        plan_tasks(tmp_path / "p", "- file: {path: -rf}\n")


def test_arguments_a_task_expects_to_be_refused_fail_in_its_place(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: none, command: null, args: {chdir: /}, register: r, ignore_errors: true}
        - block:
            - {name: in block, debconf: {name: x, vtype: nope}}
          rescue:
            - {name: rescued, debug: {msg: "{{ ansible_failed_result.msg }}"}}
        """)
    assert [s["op"] for s in plan.steps][:2] == ["fail", "fail"]
    assert "one of the following is required: cmd, argv" in plan.steps[0]["args"]["msg"]
    assert "vtype" in plan.steps[2]["args"]["msg"]
    with pytest.raises(BadInput, match="required"):  # without: bad input, nothing runs
        plan_tasks(tmp_path / "2", "- {command: null, args: {chdir: /}}\n")


def test_an_argument_refused_in_its_place_says_it_in_ansible_s_words(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: no path, file: {state: hard}, ignore_errors: true}
        - {name: src alone, file: {path: /x, src: /y, state: file}, ignore_errors: true}
        """)
    # the module's message, without "file: " before it
    assert plan.steps[0]["args"]["msg"] == "missing required arguments: path"
    assert "src option requires state to be 'link' or 'hard'" in plan.steps[1]["args"]["msg"]


def test_the_action_form_names_the_module_as_a_value(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, action: command echo hi}
        - {name: b, action: {module: debug, msg: there}}
        """)
    assert plan.steps[0]["op"] == "command" and plan.steps[1]["args"]["msg"] == "there"


def test_a_module_named_by_a_template_is_read_with_the_host_s_variables(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, action: "{{ mod }}", args: {msg: one}, vars: {mod: debug}}
        - {name: b, action: {module: "{{ 'com' + 'mand' }}", cmd: echo hi}, register: r}
        - {name: c, action: "{{ nosuch }} msg=x", when: false, register: s}
        - {name: d, action: "debug msg={{ item }}", loop: [1, 2]}
        """)
    assert [s["op"] for s in plan.steps] == ["debug", "command", "debug", "debug"]
    assert plan.steps[0]["args"]["msg"] == "one" and plan.steps[1]["args"]["cmd"] == "echo hi"
    assert "c" in plan.skipped
    with pytest.raises(BadInput, match="nosuchmodule"):  # named on the host: refused then
        plan_tasks(tmp_path / "2", "- {action: \"{{ 'nosuchmodule' }}\"}\n")
    with pytest.raises(BadInput, match="handlers"):
        project(tmp_path / "3", {"playbooks/site.yml": "- hosts: all\n  handlers:\n"
                                 "    - {name: h, action: \"{{ m }}\"}\n"})
        load_playbook(tmp_path / "3")


def test_handlers_wait_for_the_play_s_last_request() -> None:
    sent: list[dict] = []
    steps = [{"id": 1, "op": "debug", "name": "a", "txn": "play", "notify": ["h"]}]
    handler = {"id": 2, "op": "debug", "name": "h", "handler": "h"}

    def run(ctx, step):
        return {"id": step["id"], "status": "changed"}

    class Pending:
        def remove(self, names):
            pass

    current = txn.Txn(Context(check=False, diff=False, blobs=None), "play", [handler], [],
                      Pending(), None)
    current.defer = True
    txn.run_txn(current, steps, sent.append, run, lambda: False)
    assert [m["result"]["id"] for m in sent] == [1]  # the handler waits (still pending)
    current.defer, sent[:] = False, []
    txn.run_txn(current, steps, sent.append, run, lambda: False)
    assert [m["result"]["id"] for m in sent] == [1, 2]


def test_a_handler_that_reads_a_later_fact_is_rendered_with_a_later_request(
        tmp_path: Path) -> None:
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks:
            - {name: tmp, command: mktemp -d, register: t, notify: cleanup}
            - {name: fact, set_fact: {d: "{{ t.stdout }}"}}
            - {name: use, command: "ls {{ d }}"}
          handlers:
            - {name: cleanup, file: {path: "{{ d }}", state: absent}}
        """})
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    assert names(plan) == ["tmp"] and "cleanup" not in plan.handlers  # d: not known yet
    results = [{"id": 1, "status": "changed", "msg": "", "rc": 0, "stdout": "/tmp/t1",
                "stderr": "", "cmd": "mktemp -d"}]
    following = plan.following(results)
    assert following.handlers["cleanup"][0]["args"]["path"] == "/tmp/t1"


def test_a_dependency_is_part_of_its_dependent_s_transaction(tmp_path: Path) -> None:
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook
    root = project(tmp_path, {
        "playbooks/site.yml": "- hosts: all\n  roles: [app]\n",
        "roles/app/meta/main.yml": "dependencies: [tmpdir]\n",
        "roles/app/tasks/main.yml": "- {name: app, command: 'true'}\n",
        "roles/tmpdir/tasks/main.yml": "- {name: dir, command: 'true'}\n"})
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    assert [s["txn"] for s in plan.steps] == ["role app", "role app"]


def test_become_by_a_task_s_connection_variables(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: a, command: whoami, vars: {ansible_become: yes, ansible_become_user: nobody}}
        """)
    assert plan.steps[0]["become"] is True and plan.steps[0]["become_user"] == "nobody"


def test_a_registered_no_log_result_is_read_by_the_play_and_hidden_in_reports() -> None:
    shown = hidden({"status": "ok", "msg": "s3cret", "stdout": "s3cret", "stderr": "",
                    "diff": "", "cmd": "x", "data": {"content": "s3cret"}, "no_log": True})
    assert "s3cret" not in json.dumps(shown)


def test_a_run_reads_a_registered_no_log_result(tmp_path, monkeypatch) -> None:
    root = local_project(tmp_path)
    secret = tmp_path / "secret"
    secret.write_text("tops3cret")
    (root / "playbooks/site.yml").write_text(f"""
- hosts: all
  gather_facts: false
  tasks:
    - {{name: read, slurp: {{src: "{secret}"}}, register: got, no_log: true}}
    - assert: {{that: ["got.content | b64decode | length == 9"]}}
""")
    monkeypatch.chdir(root)
    report = tmp_path / "report.json"
    code, out, err = mainsail("deploy", "--json", str(report))
    assert code == 0, out + err
    assert "tops3cret" not in out + err and "dG9wczNjcmV0" not in report.read_text()


def test_debconf_without_a_question_reads_the_answers(monkeypatch) -> None:
    monkeypatch.setattr(debconf, "show", lambda name: {"tzdata/Areas": "Etc"})
    result = debconf.run(Context(check=False, diff=False, blobs=None), {"name": "tzdata"})
    assert result.status == "ok" and result.data["current"] == {"tzdata/Areas": "Etc"}
    with pytest.raises(Exception, match="required together"):
        debconf.run(Context(check=False, diff=False, blobs=None),
                    {"name": "tzdata", "question": "tzdata/Areas"})


def test_one_line_arguments_decode_escapes_as_ansible_does() -> None:
    from mainsail.playbook import kv_args
    assert kv_args(r"regexp='\\b(.+)\\b' other='\s+'", "x") == {"regexp": r"\b(.+)\b",
                                                             "other": r"\s+"}
    assert kv_args(r"regexp='\b'", "x") == {"regexp": "\b"}  # a backspace, as in Ansible


def test_set_fact_keeps_a_list_of_what_map_gives(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - set_fact: {paths: "{{ files | map(attribute='path') }}"}
          vars: {files: [{path: /a}, {path: /b}]}
        - {name: a, debug: {msg: "{{ '/a' in paths }} {{ '/b' in paths }}"}}
        """)
    assert plan.steps[-1]["args"]["msg"] == "True True"


def test_a_host_condition_reads_the_op_s_own_fields() -> None:
    from mainsail.agent.core import OK, Outcome
    from mainsail.agent.main import judged
    outcome = Outcome(OK, "", data={"stat": {"exists": False}})
    step = {"judge": {"failed_when": "result.stat.exists == false"}}
    assert judged(step, outcome).status == "failed"


def test_module_defaults_of_a_task_and_its_block(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - block:
            - {name: a, service: null}
            - {name: b, service: {name: other}}
          module_defaults:
            ansible.builtin.service: {name: web, state: started}
        - name: c
          service:
          module_defaults:
            systemd: {name: sd, enabled: true}
        """)
    assert [s["args"]["name"] for s in plan.steps] == ["web", "other", "sd"]
    assert plan.steps[1]["args"]["state"] == "started" and plan.steps[2]["args"]["enabled"]
    with pytest.raises(BadInput, match="action groups"):
        plan_tasks(tmp_path / "2", "- {ping: null, module_defaults: {group/x: {a: 1}}}\n")


def test_package_takes_its_backends_defaults_and_ansible_package_use(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: a
          package:
          module_defaults:
            dnf: {name: at, state: absent, enablerepo: x}
        - {name: b, package: {name: at}, vars: {ansible_package_use: lola}}
        - {name: c, package: {name: at, use: apt}, vars: {ansible_package_use: lola}}
        """)
    assert plan.steps[0]["args"]["name"] == ["at"] and plan.steps[0]["args"]["state"] == "absent"
    assert "enablerepo" not in plan.steps[0]["args"]  # dnf's own option is not apt's
    assert plan.steps[1]["args"]["use"] == "lola" and plan.steps[2]["args"]["use"] == "apt"
    from test_agent_support import run_op
    outcome = run_op("package", {"name": "at", "use": "lola"})
    assert outcome.status == "failed" and \
        outcome.msg.startswith('Could not find a matching action for the "lola" package manager.')
    with pytest.raises(BadInput, match="parameters are mutually exclusive"):
        plan_tasks(tmp_path / "2", "- {dnf: {name: at, use: dnf, use_backend: dnf}}\n")


def test_environment_as_a_list_of_mappings(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - command: env
          environment: [{A: "1"}, {B: "2", A: "3"}]
        """)
    assert plan.steps[0]["args"]["environment"] == {"A": "3", "B": "2"}


def test_service_without_systemd_judges_running_by_a_pattern() -> None:
    import subprocess
    import sys
    from mainsail.agent.ops import service
    marker = "mainsail-pattern-%d" % os.getpid()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        import time
        deadline = time.monotonic() + 5  # until the child has exec'd
        while not service.process_matching(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service.process_matching(marker)
    finally:
        child.kill()
        child.wait()
    assert not service.process_matching(marker)


def test_delegate_to_and_remote_user_on_blocks_include_file_form_and_preserve(
        tmp_path: Path) -> None:
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook
    plan = plan_tasks(tmp_path, """
        - block:
            - {name: a, command: hostname}
          delegate_to: localhost
        - include_tasks: file=more.yml
        """, files={"playbooks/more.yml": "- {name: b, command: 'true', remote_user: root}\n"})
    assert plan.delegate == "localhost" and names(plan) == ["a"]
    # another login: a segment of its own, run over a session logged in as that user; what
    # it notifies goes on to the play's session with the next request
    root = project(tmp_path / "1", {"playbooks/site.yml": """
        - hosts: all
          become: true
          tasks:
            - {name: a, command: 'true'}
            - {name: b, command: 'true', remote_user: ubuntu, notify: h}
            - {name: c, command: 'true', remote_user: ubuntu, become: false}
            - {name: d, command: 'true'}
          handlers:
            - {name: h, command: 'true'}
        """})
    plan = build_plan(root, load_playbook(root)[0], Host("web1", user="deploy"), {}, {})
    assert names(plan) == ["a"] and plan.login is None
    second = plan.following(ran(plan))
    assert names(second) == ["b", "c"] and second.login == "ubuntu" and not second.handlers
    assert "notify" not in second.steps[0] and second.steps[1]["become_user"] == "ubuntu"
    third = second.following(ran(second, b={"status": "changed"}))
    assert names(third) == ["d"] and third.login is None and third.notified == ["h"]
    root = project(tmp_path / "2", {
        "playbooks/site.yml": "- hosts: all\n  tasks:\n"
                              "    - {name: c, copy: {src: x.txt, dest: /tmp/x, mode: preserve}}\n",
        "files/x.txt": "x\n"})
    (root / "files/x.txt").chmod(0o640)
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    assert plan.steps[0]["args"]["mode"] == "0640"


def test_an_atomic_write_keeps_the_file_s_access_acl(tmp_path: Path) -> None:
    import struct
    from mainsail.agent import fileio
    target = tmp_path / "test.txt"
    target.write_text("TEST\n")
    # user::rw- user:65534:rwx group::r-- mask::rwx other::r-- (the xattr's own layout)
    entries = [(0x01, 6, 0xFFFFFFFF), (0x02, 7, 65534), (0x04, 4, 0xFFFFFFFF),
               (0x10, 7, 0xFFFFFFFF), (0x20, 4, 0xFFFFFFFF)]
    acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
    os.setxattr(target, "system.posix_acl_access", acl)  # this test's folder takes ACLs
    fileio.atomic_write(str(target), b"UPDATE\n")
    kept = os.getxattr(target, "system.posix_acl_access")
    assert struct.pack("<HHI", 0x02, 7, 65534) in kept and target.read_text() == "UPDATE\n"


def test_lineinfile_warns_of_an_empty_regexp_and_replaces_the_last_line(tmp_path) -> None:
    from mainsail.agent.ops import line
    target = tmp_path / "f"
    target.write_text("a\nb\n")
    result = line.run(Context(check=False, diff=False, blobs=None),
                      {"path": str(target), "regexp": "", "line": "c"})
    assert target.read_text() == "a\nc\n"
    assert "empty string, which will match every line" in result.data["warnings"][0]


def test_one_line_arguments_keep_backreferences() -> None:
    from mainsail.playbook import kv_args
    assert kv_args(r"""replace='"\1"'""", "x") == {"replace": r'"\1"'}


def test_async_with_poll_0_runs_in_the_background_and_async_status_reads_it(
        tmp_path, monkeypatch) -> None:
    import time
    from mainsail.agent import asyncjob
    from mainsail.agent.main import run_step
    monkeypatch.setattr(asyncjob, "FOLDER", str(tmp_path / "jobs"))
    ctx = Context(check=False, diff=False, blobs=None)
    started = run_step(ctx, {"id": 1, "op": "shell", "args": {"cmd": "sleep 0.3; echo done"},
                             "async": 10, "poll": 0})
    jid = started["data"]["ansible_job_id"]
    assert started["status"] == "changed" and started["data"]["finished"] == 0
    assert oct(os.stat(tmp_path / "jobs").st_mode & 0o777) == "0o700"
    polled = run_step(ctx, {"id": 2, "op": "async_status", "args": {"jid": jid},
                            "until": "result.finished == 1", "retries": 50, "delay": 0.1})
    assert polled["status"] == "changed" and polled["stdout"] == "done"
    run_step(ctx, {"id": 3, "op": "async_status", "args": {"jid": jid, "mode": "cleanup"}})
    assert not (tmp_path / "jobs" / jid).exists()
    bad = run_step(ctx, {"id": 4, "op": "async_status", "args": {"jid": "../x"}})
    assert bad["status"] == "failed" and "not a job id" in bad["msg"]


def test_async_keywords(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: bg, command: sleep 9, async: 30, poll: 0}
        - {name: fg, command: sleep 1, async: 30, poll: 5}
        """)
    assert plan.steps[0]["async"] == 30 and plan.steps[0]["poll"] == 0
    assert "async" not in plan.steps[1] and plan.steps[1]["timeout"] == 30.0
    with pytest.raises(BadInput, match="poll goes with async"):
        plan_tasks(tmp_path / "2", "- {command: x, poll: 3}\n")


def test_a_password_in_a_url_is_masked_in_the_plan_and_verbose_output(tmp_path: Path) -> None:
    from mainsail.runner import step_args
    plan = plan_tasks(tmp_path, """
        - git: {repo: "https://bot:s3cr3t-token@git.example.invalid/app.git", dest: /srv/app}
        """)
    shown = json.dumps(plan.as_dict())
    assert "s3cr3t-token" not in shown and "https://bot:" in shown
    assert "s3cr3t-token" not in json.dumps(step_args(plan.steps[0]))
    assert plan.steps[0]["args"]["repo"].endswith("s3cr3t-token@git.example.invalid/app.git")


def test_a_skipped_item_keeps_why_its_label_could_not_render(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: each
          command: "echo {{ item }}"
          register: r
          loop: [changed, skipped]
          loop_control: {label: "{{ r.stdout }}"}
          when: item == "changed"
        - {name: show, debug: {msg: "{{ r.results[1].msg }}"}}
        """)
    following = plan.following([{"id": plan.steps[0]["id"], "status": "changed", "msg": "",
                                 "rc": 0, "stdout": "changed", "stderr": "", "cmd": "echo"}])
    assert "no attribute 'stdout'" in following.steps[0]["args"]["msg"]


def test_a_template_rendering_a_mapping_where_text_goes_gives_its_text(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - file: {path: "{{ item }}", state: absent}
          loop: [{path: /tmp/x}]
        """)
    assert plan.steps[0]["args"]["path"] == "{'path': '/tmp/x'}"  # as Ansible: a no-op
    with pytest.raises(BadInput, match="must be a string, not a mapping"):
        plan_tasks(tmp_path / "2", "- file: {path: {a: 1}, state: absent}\n")  # written so


def test_a_number_where_names_go_is_the_one_name_it_writes(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, "- user: {name: u, groups: '{{ 1006 }}', append: true}\n")
    assert plan.steps[0]["args"]["groups"] == ["1006"]  # a gid, as Ansible's list type
    with pytest.raises(BadInput, match="list of names"):
        plan_tasks(tmp_path / "2", "- user: {name: u, groups: true}\n")


def test_a_task_reading_the_controller_s_files_waits_for_the_steps_that_run_there(
        tmp_path: Path) -> None:
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    from mainsail.render import reads_controller_files
    assert reads_controller_files("{{ 'x' is link }}") and \
        reads_controller_files("{{ lookup('file', p) }}")
    assert not reads_controller_files("{{ lookup('env', 'HOME') }}")
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks:
            - {name: make, copy: {dest: /tmp/ms-made, content: bar}}
            - {name: read, set_fact: {foo: "{{ lookup('file', '/tmp/ms-made-never') }}"}}
            - {name: check, assert: {that: ["foo == 'bar'", "'/tmp/ms-made' is file"]}}
        """})
    local = Host("local", connection="local")
    plan = build_plan(root, load_playbook(root)[0], local, {}, {})
    assert names(plan) == ["make"]  # the lookup waits: its file may come from the copy
    with pytest.raises(BadInput, match="could not locate file"):
        build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})  # the host's copy
        # writes no controller file: a missing one is bad input before anything runs


def test_first_found_leaves_out_what_is_undefined_and_errors_ignore_gives_none(
        tmp_path: Path) -> None:
    root = project(tmp_path, {"playbooks/site.yml": """
        - hosts: all
          tasks:
            - name: zipped
              debug: {msg: "{{ item }}"}
              with_first_found: '{{ ([{"files": missing}] | zip([{"files": ["b"]}])) }}'
            - name: lazy
              debug: {msg: "{{ item }}"}
              with_first_found: [{files: "{{ names }}"}]
              vars: {names: ["{{ missing }}a", b]}
            - name: ignored
              debug: {msg: "{{ lookup('first_found', 'nope', errors='ignore') is none }}"}
            - name: bad term
              debug: {msg: x}
              with_first_found: [1]
              ignore_errors: true
            - name: undefined option
              debug: {msg: "{{ lookup('first_found', files=missing) }}"}
              ignore_errors: true
        """, "files/b": "b\n"})
    from mainsail.inventory import Host
    from mainsail.plan import build_plan
    plan = build_plan(root, load_playbook(root)[0], Host("web1"), {}, {})
    msgs = [s["args"]["msg"] for s in plan.steps]
    assert msgs[0] == msgs[1] == str(root / "files/b") and msgs[2] in (True, "true")
    assert "not 'int'" in msgs[3]
    assert msgs[4].startswith("Error while resolving value for 'msg': 'missing' is undefined")
