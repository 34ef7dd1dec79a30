"""The runner's policies, with `connection: local` hosts: the agent runs as a local process."""

import io
import os
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from mainsail.errors import BadInput
from mainsail.inventory import load_inventory, select_hosts
from mainsail.playbook import load_playbook
from mainsail.report import Masker, Progress
from mainsail.runner import RunOptions, batches, run_playbook


def project(tmp_path: Path, play: str, hosts=("a", "b", "c")) -> Path:
    root = tmp_path / "proj"
    (root / "inventory").mkdir(parents=True)
    (root / "playbooks").mkdir()
    (root / "inventory/hosts.yml").write_text(
        "all:\n  vars:\n    out: %s\n  hosts:\n" % (tmp_path / "out") +
        "".join("    %s: {connection: local, mainsail_state_dir: %s}\n"
                % (h, tmp_path / "state" / h) for h in hosts))
    (root / "playbooks/site.yml").write_text(textwrap.dedent(play))
    (tmp_path / "out").mkdir()
    return root


def run(root: Path, **opts):
    inv = load_inventory(root / "inventory/hosts.yml")
    out = io.StringIO()
    progress = Progress(Console(file=out, width=200), Masker(), show_diff=opts.get("diff", False))
    record = run_playbook(root, inv, load_playbook(root), select_hosts(inv), RunOptions(**opts),
                          progress)
    return record, out.getvalue()


MARK = """
            - name: mark
              copy: {content: "done\\n", dest: "{{ out }}/{{ inventory_hostname }}.done"}
"""


def test_a_failed_host_stops_only_itself(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: fail on b
              command: {cmd: "false"}
              when: inventory_hostname == 'b'
    """ + MARK)
    record, _ = run(root)
    assert {h: r.state for h, r in record.hosts.items()} == {"a": "ok", "b": "failed", "c": "ok"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.done", "c.done"]


def test_any_errors_fatal_stops_the_batches_after_a_failure(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          serial: 1
          any_errors_fatal: true
          tasks:
            - name: fail on b
              command: {cmd: "false"}
              when: inventory_hostname == 'b'
    """ + MARK)
    record, _ = run(root)
    assert "any_errors_fatal" in record.aborted
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.done"]


def test_max_fail_percentage_stops_the_run_when_exceeded(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          serial: 1
          max_fail_percentage: 20
          tasks:
            - name: fail on a
              command: {cmd: "false"}
              when: inventory_hostname == 'a'
    """ + MARK)
    record, _ = run(root)
    assert "max_fail_percentage" in record.aborted
    assert list((tmp_path / "out").iterdir()) == []


def test_serial_makes_batches_by_number_or_percentage():
    hosts = list(range(5))
    assert batches(hosts, 2) == [[0, 1], [2, 3], [4]]
    assert batches(hosts, "40%") == [[0, 1], [2, 3], [4]]
    assert batches(hosts, None) == [hosts]


HANDLERS = """
    - hosts: all
      tasks:
        - name: first
          copy: {content: "1\\n", dest: "{{ out }}/{{ inventory_hostname }}.1"}
          notify: [second handler, first handler]
        - name: second
          copy: {content: "2\\n", dest: "{{ out }}/{{ inventory_hostname }}.2"}
          notify: first handler
          when: inventory_hostname == 'a'
      handlers:
        - name: first handler
          shell: {cmd: "echo first >> {{ out }}/{{ inventory_hostname }}.log"}
        - name: second handler
          shell: {cmd: "echo second >> {{ out }}/{{ inventory_hostname }}.log"}
"""


def test_handlers_run_once_at_the_end_in_definition_order(tmp_path):
    root = project(tmp_path, HANDLERS, hosts=("a", "b"))
    run(root)
    assert (tmp_path / "out/a.log").read_text() == "first\nsecond\n"
    assert (tmp_path / "out/b.log").read_text() == "first\nsecond\n"


def test_handlers_run_only_where_something_changed(tmp_path):
    root = project(tmp_path, HANDLERS, hosts=("a", "b"))
    run(root)
    (tmp_path / "out/a.log").unlink()
    (tmp_path / "out/b.log").unlink()
    (tmp_path / "out/b.1").write_text("tampered\n")
    record, _ = run(root)
    assert not (tmp_path / "out/a.log").exists()
    assert (tmp_path / "out/b.log").read_text() == "first\nsecond\n"
    assert record.hosts["a"].changed == 0


def test_check_mode_changes_nothing_and_runs_no_handler(tmp_path):
    root = project(tmp_path, HANDLERS, hosts=("a",))
    record, out = run(root, check=True, diff=True)
    assert list((tmp_path / "out").iterdir()) == []
    assert record.hosts["a"].changed == 2
    assert "+1" in out  # the diff of what would be written
    assert [s.msg for s in record.hosts["a"].steps if s.handler] == \
        ["handler would run (check mode)"] * 2


def test_bad_input_on_one_host_runs_nothing_anywhere(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: mark
              copy: {content: "done\\n", dest: "{{ out }}/{{ inventory_hostname }}.done"}
            - name: only some hosts define it
              copy: {content: "{{ lookup_me }}", dest: "{{ out }}/x"}
    """)
    (root / "inventory/host_vars").mkdir()
    (root / "inventory/host_vars/a.yml").write_text("lookup_me: here\n")
    with pytest.raises(BadInput) as caught:
        run(root)
    assert "lookup_me" in str(caught.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_no_log_hides_values_from_progress_and_report(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          vars:
            token: s3cr3t-value
          tasks:
            - name: write a secret
              copy: {content: "{{ token }}\\n", dest: "{{ out }}/{{ inventory_hostname }}.secret"}
              no_log: true
    """, hosts=("a",))
    record, out = run(root, diff=True)
    assert record.hosts["a"].changed == 1
    assert "s3cr3t-value" not in out
    assert "s3cr3t-value" not in repr(record)


def test_release_ships_a_folder_and_switches_current_only_on_change(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: app release
              release: {src: app, path: "{{ out }}/app", keep: 2, shared: [logs]}
    """, hosts=("a",))
    (root / "files/app/bin").mkdir(parents=True)
    (root / "files/app/bin/run").write_text("#!/bin/sh\necho v1\n")
    (root / "files/app/bin/run").chmod(0o755)
    (root / "files/app/README").write_text("app\n")
    first, _ = run(root)
    app = tmp_path / "out/app"
    assert first.hosts["a"].changed == 1
    assert (app / "current/bin/run").read_text() == "#!/bin/sh\necho v1\n"
    assert (app / "current/bin/run").stat().st_mode & 0o111
    again, _ = run(root)
    assert again.hosts["a"].changed == 0
    (root / "files/app/bin/run").write_text("#!/bin/sh\necho v2\n")
    third, _ = run(root)
    assert third.hosts["a"].changed == 1
    assert (app / "current/bin/run").read_text().endswith("v2\n")
    assert len([n for n in (app / "releases").iterdir()]) == 2


def test_release_of_a_missing_folder_is_bad_input(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: app release
              release: {src: nothere, path: /opt/x}
    """, hosts=("a",))
    with pytest.raises(BadInput) as caught:
        run(root)
    assert "nothere" in str(caught.value) and "site.yml" in caught.value.where


def test_a_handler_notified_by_a_run_that_died_runs_on_the_next_run(tmp_path):
    play = """
        - hosts: all
          tasks:
            - name: config
              copy: {content: "v1\\n", dest: "{{ out }}/{{ inventory_hostname }}.conf"}
              notify: reload
            - name: the connection dies here
              shell: {cmd: "%s"}
          handlers:
            - name: reload
              shell: {cmd: "echo reloaded >> {{ out }}/{{ inventory_hostname }}.log"}
    """
    # The agent is killed mid-run, as when the SSH connection drops: nothing can roll back.
    root = project(tmp_path, play % "kill -9 $PPID", hosts=("a",))
    first, _ = run(root)
    assert first.hosts["a"].state == "failed"
    assert (tmp_path / "out/a.conf").exists() and not (tmp_path / "out/a.log").exists()

    (root / "playbooks/site.yml").write_text(textwrap.dedent(play % "true"))
    second, _ = run(root)
    assert second.hosts["a"].changed >= 1
    assert (tmp_path / "out/a.log").read_text() == "reloaded\n"
    assert [s.task for s in second.hosts["a"].steps if s.handler] == ["reload"]

    third, _ = run(root)
    assert (tmp_path / "out/a.log").read_text() == "reloaded\n"  # cleared once it ran
    assert not [s for s in third.hosts["a"].steps if s.handler]


TXN = """
    - hosts: all
      tasks:
        - name: old config stays unless all goes well
          copy: {content: "{{ version }}\\n", dest: "{{ out }}/app.conf"}
          notify: reload
        - name: a new file
          copy: {content: "x\\n", dest: "{{ out }}/new-{{ version }}"}
        - name: a later step
          command: {cmd: "{{ later }}"}
          changed_when: false
      handlers:
        - name: reload
          shell: {cmd: "cp {{ out }}/app.conf {{ out }}/running.conf"}
      checks:
        - name: the service runs the new config
          command: {cmd: "grep -q {{ version }} {{ out }}/running.conf"}
"""


def test_a_failed_step_rolls_the_transaction_back_and_reloads_the_old_config(tmp_path):
    root = project(tmp_path, TXN, hosts=("a",))
    (root / "inventory/host_vars").mkdir()
    (root / "inventory/host_vars/a.yml").write_text("version: v1\nlater: 'true'\n")
    good, _ = run(root)
    assert good.hosts["a"].state == "ok" and not good.hosts["a"].rollbacks
    assert (tmp_path / "out/running.conf").read_text() == "v1\n"

    (root / "inventory/host_vars/a.yml").write_text("version: v2\nlater: 'false'\n")
    bad, out = run(root)
    host = bad.hosts["a"]
    assert host.state == "failed"
    assert (tmp_path / "out/app.conf").read_text() == "v1\n"  # restored
    assert not (tmp_path / "out/new-v2").exists()  # what the transaction made is gone
    assert (tmp_path / "out/running.conf").read_text() == "v1\n"  # reloaded back
    [rolled] = host.rollbacks
    assert "a later step" in rolled["reason"]
    assert str(tmp_path / "out/app.conf") in rolled["restored"]
    assert "rolled back" in out


def test_a_failed_check_rolls_back_after_the_handlers_ran(tmp_path):
    root = project(tmp_path, TXN.replace("grep -q {{ version }}", "grep -q never"), hosts=("a",))
    (root / "inventory/host_vars").mkdir()
    (root / "inventory/host_vars/a.yml").write_text("version: v1\nlater: 'true'\n")
    record, _ = run(root)
    host = record.hosts["a"]
    assert host.state == "failed" and "check" in host.rollbacks[0]["reason"]
    assert not (tmp_path / "out/app.conf").exists()  # it did not exist before this run


def test_no_check_runs_when_nothing_changed(tmp_path):
    root = project(tmp_path, TXN, hosts=("a",))
    (root / "inventory/host_vars").mkdir()
    (root / "inventory/host_vars/a.yml").write_text("version: v1\nlater: 'true'\n")
    run(root)
    again, _ = run(root)
    assert not [s for s in again.hosts["a"].steps if "service runs" in s.task]


def rollback(root: Path, release: bool = False) -> list:
    from mainsail.rollback import roll_back
    inv = load_inventory(root / "inventory/hosts.yml")
    lines: list = []
    result = roll_back(root, inv, load_playbook(root), select_hosts(inv), release,
                       RunOptions(), lines.append)
    return [r.state for r in result.results]


def test_rollback_by_hand_restores_the_last_run_and_reloads(tmp_path):
    root = project(tmp_path, TXN, hosts=("a",))
    (root / "inventory/host_vars").mkdir()
    (root / "inventory/host_vars/a.yml").write_text("version: v1\nlater: 'true'\n")
    run(root)
    (root / "inventory/host_vars/a.yml").write_text("version: v2\nlater: 'true'\n")
    run(root)
    assert (tmp_path / "out/running.conf").read_text() == "v2\n"
    assert rollback(root) == ["ok"]
    assert (tmp_path / "out/app.conf").read_text() == "v1\n"
    assert (tmp_path / "out/running.conf").read_text() == "v1\n"  # the handler ran again
    assert not (tmp_path / "out/new-v2").exists()


def test_rollback_release_switches_current_back_and_runs_its_handlers(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: app release
              release: {src: app, path: "{{ out }}/app"}
              notify: restart
          handlers:
            - name: restart
              shell: {cmd: "readlink {{ out }}/app/current > {{ out }}/running"}
    """, hosts=("a",))
    (root / "files/app").mkdir(parents=True)
    (root / "files/app/v").write_text("1\n")
    run(root)
    first = (tmp_path / "out/running").read_text()
    (root / "files/app/v").write_text("2\n")
    run(root)
    assert (tmp_path / "out/app/current/v").read_text() == "2\n"
    assert rollback(root, release=True) == ["ok"]
    assert (tmp_path / "out/app/current/v").read_text() == "1\n"
    assert (tmp_path / "out/running").read_text() == first


def test_a_failed_probe_after_a_release_switches_back_by_itself(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: app release
              release: {src: app, path: "{{ out }}/app"}
          checks:
            - name: the new code is healthy
              command: {cmd: "grep -q healthy {{ out }}/app/current/v"}
              changed_when: false
    """, hosts=("a",))
    (root / "files/app").mkdir(parents=True)
    (root / "files/app/v").write_text("1 healthy\n")
    run(root)
    good = os.readlink(tmp_path / "out/app/current")
    (root / "files/app/v").write_text("2 broken\n")
    record, _ = run(root)
    assert record.hosts["a"].state == "failed" and record.hosts["a"].rollbacks
    assert os.readlink(tmp_path / "out/app/current") == good
    assert (tmp_path / "out/app/current/v").read_text() == "1 healthy\n"
    assert len(os.listdir(tmp_path / "out/app/releases")) == 1  # the bad one is gone


def test_unit_tests_run_local_hosts_in_their_own_state_folder(tmp_path, own_state_folder):
    """A local host without mainsail_state_dir: its lock, journals and agent cache land in the
    test's folder (conftest), not in /var/lib/mainsail."""
    from mainsail import runner
    from mainsail.inventory import Host
    from mainsail.session import open_session
    host = Host("plain", connection="local")
    assert runner.host_state_dir(host).startswith(str(own_state_folder))
    session = open_session(host)
    session.close()
    assert list((own_state_folder / "agent").glob("*.pyz"))


def test_a_run_that_lost_its_controller_is_reported_by_the_next_run(tmp_path):
    import json
    from mainsail.agent import txn
    root = project(tmp_path, """
        - hosts: all
          tasks:
    """ + MARK, hosts=("a",))
    state = tmp_path / "state" / "a"
    state.mkdir(parents=True)
    (state / txn.LOST_RECORD).write_text(json.dumps({
        "run": "20260101T000000Z-1", "at": "2026-01-01T00:00:00Z",
        "reason": "the controller went away mid-run",
        "rollbacks": [{"txn": "role web", "restored": ["/etc/web/a.conf"]}]}))
    record, text = run(root)
    line = record.hosts["a"].lost_controller
    assert "lost the controller" in line and "/etc/web/a.conf" in line
    assert "20260101T000000Z-1" in line and line in " ".join(text.split())
    assert not (state / txn.LOST_RECORD).exists()
    again, _ = run(root)
    assert again.hosts["a"].lost_controller == ""


def test_a_failure_with_ignore_errors_leaves_its_host_ok_and_the_run_exits_0(tmp_path):
    """docs/playbooks.md: "a failure of this task does not fail the host"."""
    from mainsail.tasks import run_exit_code

    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: may fail
              command: {cmd: "false"}
              ignore_errors: true
    """ + MARK, hosts=("a",))
    record, out = run(root)
    host = record.hosts["a"]
    assert [s.status for s in host.steps] == ["ignored", "changed"]
    assert (host.state, host.verdict, host.failed, host.ignored) == ("ok", "ok", 0, 1)
    assert run_exit_code(record) == 0
    assert "ignored" in out and "false" in out  # the failure is still shown
    assert (tmp_path / "out" / "a.done").exists()


REGISTER_PLAY = """
    - hosts: all
      tasks:
        - name: which host
          command: {cmd: "echo {{ inventory_hostname }}-ok"}
          register: said
          changed_when: false
        - name: a second step in the same request
          copy: {content: "x\\n", dest: "{{ out }}/{{ inventory_hostname }}.x"}
        - name: write what it said
          copy: {content: "{{ said.stdout }} {{ said.stdout_lines | length }}\\n",
                 dest: "{{ out }}/{{ inventory_hostname }}.said"}
          when: said is succeeded and said is not changed
        - name: judged by its own result
          command: {cmd: "echo skip-me"}
          register: own
          changed_when: "'skip' not in own.stdout"
"""


def test_register_passes_a_result_to_a_later_task_in_a_second_request(tmp_path):
    root = project(tmp_path, REGISTER_PLAY, hosts=("a", "b"))
    record, _ = run(root)
    assert {h: r.state for h, r in record.hosts.items()} == {"a": "ok", "b": "ok"}
    assert (tmp_path / "out" / "a.said").read_text() == "a-ok 1\n"
    assert (tmp_path / "out" / "b.said").read_text() == "b-ok 1\n"
    statuses = {s.task: s.status for s in record.hosts["a"].steps}
    assert statuses["judged by its own result"] == "ok"  # changed_when over `own` held false


def test_a_no_op_rerun_costs_one_more_round_trip_per_dependency_point(tmp_path):
    plain = project(tmp_path / "plain", "- hosts: all\n  tasks:\n" + textwrap.indent(
        textwrap.dedent(MARK), "  "), hosts=("a",))
    registering = project(tmp_path / "reg", REGISTER_PLAY, hosts=("a",))
    for root in (plain, registering):
        run(root)  # converge first: blobs asked for, files written
    plain_again, _ = run(plain)
    again, _ = run(registering)
    assert [s.status for s in again.hosts["a"].steps] == ["ok", "ok", "ok", "ok"]
    # One dependency point (`said` read by the third task): one request more.
    assert again.hosts["a"].round_trips == plain_again.hosts["a"].round_trips + 1


def test_a_failed_registered_task_stops_the_host_before_the_next_segment(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: fails
              command: {cmd: "false"}
              register: r
            - name: never
              copy: {content: "{{ r.rc }}", dest: "{{ out }}/{{ inventory_hostname }}.never"}
    """, hosts=("a",))
    record, _ = run(root)
    assert record.hosts["a"].state == "failed"
    assert not (tmp_path / "out" / "a.never").exists()


def test_ignore_errors_lets_a_later_task_read_the_failure(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: fails
              command: {cmd: "sh -c 'echo oops >&2; exit 3'"}
              register: r
              ignore_errors: true
            - name: records it
              copy: {content: "{{ r.rc }} {{ r.stderr }} {{ r is failed }}\\n",
                     dest: "{{ out }}/{{ inventory_hostname }}.rc"}
    """, hosts=("a",))
    record, _ = run(root)
    assert record.hosts["a"].state == "ok"
    assert (tmp_path / "out" / "a.rc").read_text() == "3 oops True\n"


def test_assert_debug_and_fail_report_in_place_and_a_false_assert_stops_the_host(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - set_fact: {expected: "{{ inventory_hostname }}-ok"}
            - command: {cmd: "echo {{ inventory_hostname }}-ok"}
              register: said
              changed_when: false
            - debug: var=said.stdout
            - name: said what was expected
              assert:
                that: [said.stdout == expected, inventory_hostname != 'b']
                fail_msg: "{{ inventory_hostname }} is refused"
    """ + MARK, hosts=("a", "b"))
    record, _ = run(root)
    assert {h: r.state for h, r in record.hosts.items()} == {"a": "ok", "b": "failed"}
    steps = {s.task: (s.status, s.msg) for s in record.hosts["b"].steps}
    assert steps["debug"] == ("ok", "said.stdout: b-ok")
    assert steps["said what was expected"] == ("failed", "b is refused")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.done"]


def test_until_retries_the_step_on_the_host_and_registers_the_attempts(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: count to three
              shell: echo run >> {{ out }}/runs && wc -l < {{ out }}/runs
              register: runcount
              until: runcount.stdout | int == 3
              delay: 0.01
            - name: never holds
              command: "true"
              register: never
              until: never is failed
              retries: 2
              delay: 0
              ignore_errors: true
            - copy:
                content: "{{ runcount.attempts }} {{ never.attempts }} {{ never is failed }}\\n"
                dest: "{{ out }}/attempts"
    """, hosts=("a",))
    record, _ = run(root)
    assert record.hosts["a"].state == "ok"
    # out of attempts, Ansible's result names the retries asked for (2), not the 3 runs
    assert (tmp_path / "out" / "attempts").read_text() == "3 2 True\n"


def test_until_judges_each_attempt_with_changed_when_and_failed_when_as_ansible(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: failed_when makes every attempt fail, so until never holds
              shell: "true"
              register: fw
              failed_when: true
              until: fw is successful
              retries: 2
              delay: 0
              ignore_errors: true
            - name: changed_when false, so until (is changed) never holds
              shell: "true"
              register: cw
              changed_when: false
              until: cw is changed
              retries: 2
              delay: 0
              ignore_errors: true
            - name: attempts readable by failed_when, which has the last word
              shell: "true"
              register: seen
              until: 1 == 0
              retries: 2
              delay: 0
              failed_when: seen.attempts > 5
            - name: retries without until retry until it does not fail
              shell: "test -f {{ out }}/mark || { touch {{ out }}/mark; false; }"
              register: again
              retries: 4
              delay: 0
            - name: a failing fail retried
              fail: {msg: no}
              register: gave_up
              retries: 3
              delay: 0
              ignore_errors: true
            - copy:
                content: "{{ fw.attempts }} {{ cw.attempts }} {{ seen.attempts }} {{ seen is failed }} {{ again.attempts }} {{ gave_up.attempts }}\\n"
                dest: "{{ out }}/attempts"
    """, hosts=("a",))
    record, _ = run(root)
    assert record.hosts["a"].state == "ok", record.hosts["a"].steps
    assert (tmp_path / "out" / "attempts").read_text() == "2 2 2 False 2 3\n"


def test_a_fact_set_from_a_result_is_checked_with_the_result_not_its_sample(tmp_path):
    # a path made of a registered stdout is '' in the plan's sample: not bad input yet
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - shell: "echo {{ out }}/made"
              register: where
            - set_fact: {made: "{{ where.stdout }}"}
            - file: path={{ made }} state=touch
    """, hosts=("a",))
    record, _ = run(root)
    assert record.hosts["a"].state == "ok", record.hosts["a"].steps
    assert (tmp_path / "out" / "made").exists()


def test_assert_with_an_empty_that_fails_in_ansibles_words(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - assert: {that: }
              register: empty
              ignore_errors: true
            - assert:
                that: empty.msg is contains("Empty conditional expression")
    """ + MARK, hosts=("a",))
    record, _ = run(root)
    assert record.hosts["a"].state == "ok", record.hosts["a"].steps


def test_a_handler_may_include_a_file_named_by_a_template(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - copy: {content: "x\\n", dest: "{{ out }}/{{ inventory_hostname }}.x"}
              notify: cleanup
          handlers:
            - name: cleanup
              include_tasks: "{{ cleanup_file }}"
              with_first_found:
                - "cleanup-{{ inventory_hostname }}.yml"
                - "cleanup-default.yml"
              loop_control:
                loop_var: cleanup_file
    """, hosts=("a",))
    (root / "playbooks" / "cleanup-default.yml").write_text(
        "- copy: {content: \"cleaned\\n\", dest: \"{{ out }}/{{ inventory_hostname }}.clean\"}\n")
    record, _ = run(root)
    assert record.hosts["a"].state == "ok", record.hosts["a"].steps
    assert (tmp_path / "out" / "a.clean").read_text() == "cleaned\n"
    again, _ = run(root)  # not notified: nothing runs
    assert [s.status for s in again.hosts["a"].steps] == ["ok"]


def test_changed_when_and_failed_when_judge_any_operation(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - name: written, but said unchanged
              copy: {content: "x\\n", dest: "{{ out }}/{{ inventory_hostname }}.x"}
              changed_when: false
            - name: a failure judged acceptable
              file: {path: /nonexistent/dir/file, state: file}
              register: missing
              failed_when: missing.rc is defined
            - name: forced failure
              debug: {msg: hi}
              failed_when: true
              ignore_errors: true
    """, hosts=("a",))
    record, _ = run(root)
    statuses = [s.status for s in record.hosts["a"].steps]
    assert statuses == ["ok", "ok", "ignored"]
    assert (tmp_path / "out" / "a.x").exists()


@pytest.mark.parametrize("task,runs", [
    ("debug: {msg: \"{{ lookup('pipe', 'hostname') }}\"}", True),
    ("debug: {msg: \"{{ query('lines', 'cat /etc/hostname') }}\"}", True),
    ("debug: {msg: \"{{ lookup('file', 'x') }} pipeline lines\"}", False),
    ("command: echo pipe", False),
])
def test_plays_that_look_up_a_commands_output_are_planned_in_threads(tmp_path, task, runs):
    # Planning is one host after another unless a lookup runs a command (its commands then
    # run side by side, as in Ansible's forks).
    from mainsail.runner import runs_commands
    root = project(tmp_path, "- hosts: all\n  tasks:\n    - " + task + "\n")
    assert runs_commands(load_playbook(root)) is runs
    assert runs_commands([{"build": "{{ lookup('pipe', 'git rev-parse HEAD') }}"}])  # a var


def test_a_pipe_lookup_gives_each_host_its_own_value(tmp_path):
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - copy:
                content: "{{ lookup('pipe', 'echo ' ~ inventory_hostname) }}\\n"
                dest: "{{ out }}/{{ inventory_hostname }}.txt"
        """)
    record, _ = run(root)
    assert all(h.failed == 0 for h in record.hosts.values())
    for name in ("a", "b", "c"):
        assert (tmp_path / "out" / ("%s.txt" % name)).read_text() == name + "\n"
