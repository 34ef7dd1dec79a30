"""block/rescue/always, include_role, pre/post_tasks, delegate_to and meta on a testbed host:
a failure on the host is rescued across a segment cut, and the controller runs what is
delegated to it."""

import io
import textwrap
from pathlib import Path

from rich.console import Console

from mainsail.inventory import load_inventory, select_hosts
from mainsail.playbook import load_playbook
from mainsail.report import Masker, Progress
from mainsail.runner import RunOptions, run_playbook
from tests.conftest import ROOT
from tests.e2e.test_engine import write_inventory
from tests.e2e.test_testbed import ssh

PLAYBOOK = """
- hosts: all
  become: true
  environment: {FLOW_WHO: play}
  pre_tasks:
    - {name: pre marker, shell: "echo $FLOW_WHO > /tmp/flow-pre", notify: note}
  roles: []
  tasks:
    - block:
        - {name: fails on the host, command: "false"}
        - {name: never, file: {path: /tmp/flow-never, state: touch}}
      rescue:
        - name: rescued
          copy:
            dest: /tmp/flow-rescued
            content: "{{ ansible_failed_task.name }} rc={{ ansible_failed_result.rc }}\\n"
      always:
        - {name: always, file: {path: /tmp/flow-always, state: touch}}
    - include_role: {name: flowrole, tasks_from: mark}
    - name: on the controller
      shell: "echo {{ inventory_hostname }} > {{ controller_file }}"
      delegate_to: localhost
    - meta: flush_handlers
    - meta: end_host
    - {name: after end_host, file: {path: /tmp/flow-after-end, state: touch}}
  handlers:
    - {name: note, file: {path: /tmp/flow-handler, state: touch}}
"""


def test_rescue_always_include_role_and_delegation_on_a_host(live_testbed, ssh_config,
                                                             tmp_path):
    root = tmp_path / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks/site.yml").write_text(textwrap.dedent(PLAYBOOK))
    (root / "roles/flowrole/tasks").mkdir(parents=True)
    (root / "roles/flowrole/tasks/mark.yml").write_text(
        "- {name: role mark, copy: {dest: /tmp/flow-role, content: '{{ flow_word }}'}}\n")
    (root / "roles/flowrole/defaults").mkdir()
    (root / "roles/flowrole/defaults/main.yml").write_text("flow_word: from-role\n")
    write_inventory(root, ROOT / "inventory/known_hosts", {"web1": live_testbed["web1"]})
    ssh(ssh_config, "web1", "rm -f /tmp/flow-*")
    controller_file = tmp_path / "delegated"
    inv = load_inventory(root / "inventory/hosts.yml")
    record = run_playbook(root, inv, load_playbook(root), select_hosts(inv),
                          RunOptions(extra_vars={"controller_file": str(controller_file)}),
                          Progress(Console(file=io.StringIO()), Masker(), False))
    host = record.hosts["web1"]
    assert host.state == "ok", host.error
    statuses = {s.task: s.status for s in host.steps}
    assert statuses["fails on the host"] == "ignored" and "never" not in statuses
    assert ssh(ssh_config, "web1", "cat /tmp/flow-rescued").stdout == \
        "fails on the host rc=1\n"
    listing = ssh(ssh_config, "web1", "ls /tmp").stdout.split()
    assert {"flow-always", "flow-handler", "flow-pre", "flow-role"} <= set(listing)
    assert "flow-never" not in listing and "flow-after-end" not in listing
    assert ssh(ssh_config, "web1", "cat /tmp/flow-pre").stdout == "play\n"
    assert controller_file.read_text() == "web1\n"


REMOTE_USER = """
- hosts: all
  become: true
  gather_facts: false
  tasks:
    - user: {name: msremote, shell: /bin/sh, password: "*"}  # "*": a key login, no password
    - file: {path: /home/msremote/.ssh, state: directory, owner: msremote, mode: "0700"}
    - copy: {src: /home/deploy/.ssh/authorized_keys, remote_src: true, owner: msremote,
             dest: /home/msremote/.ssh/authorized_keys, mode: "0600"}
    - copy: {content: "msremote ALL=(ALL) NOPASSWD: ALL\\n", dest: /etc/sudoers.d/msremote,
             mode: "0440"}
    - {name: plain, command: whoami, remote_user: msremote, become: false, register: plain,
       changed_when: true, notify: told}
    - {name: escalated, command: whoami, remote_user: msremote, register: escalated}
    - {name: back, command: whoami, register: back}
    - assert:
        that: [plain.stdout == 'msremote', escalated.stdout == 'root', back.stdout == 'root']
  handlers:
    - {name: told, file: {path: /tmp/flow-told, state: touch}}
"""


def test_a_task_s_remote_user_logs_in_as_that_user(live_testbed, ssh_config, tmp_path):
    root = tmp_path / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks/site.yml").write_text(textwrap.dedent(REMOTE_USER))
    write_inventory(root, ROOT / "inventory/known_hosts", {"web1": live_testbed["web1"]})
    ssh(ssh_config, "web1", "rm -f /tmp/flow-told")
    inv = load_inventory(root / "inventory/hosts.yml")
    try:
        record = run_playbook(root, inv, load_playbook(root), select_hosts(inv), RunOptions(),
                              Progress(Console(file=io.StringIO()), Masker(), False))
        host = record.hosts["web1"]
        assert host.state == "ok", host.error
        # the handler a remote_user task notified ran in the play's own session
        assert "flow-told" in ssh(ssh_config, "web1", "ls /tmp").stdout.split()
        assert host.channels >= 2  # a second session: the login as msremote
    finally:
        ssh(ssh_config, "web1", "rm -f /etc/sudoers.d/msremote; "
                                "userdel -r msremote 2>/dev/null; true")
