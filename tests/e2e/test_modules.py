"""Ansible's core modules on the testbed (web1 bookworm, web2 trixie): a playbook of them
applied twice with become: the first run makes the changes, the second changes nothing, and
the hosts hold what the modules were asked for. Check mode and diff are looked at on a host
that already converged."""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory
from tests.e2e.test_testbed import ssh

HOSTS = ("web1", "web2")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFx1Q0m2TZn0CwqjYQ3b6pPzWm3a2m9y7n3fQ0uB0mOe ci@ms"
PLAYBOOK = """\
- name: core modules
  hosts: sample
  become: true
  tasks:
    - name: a folder to work in
      file: {path: /srv/ms-modules, state: directory, mode: "0755"}
    - name: a config file to edit
      copy:
        dest: /srv/ms-modules/app.conf
        content: "# app\\nport = 80\\nname = demo\\nlisten 80\\nlisten 81\\n"
        force: false
    - name: lineinfile with backrefs
      lineinfile:
        path: /srv/ms-modules/app.conf
        regexp: '^port = (\\d+)$'
        line: 'port = \\1 # checked'
        backrefs: true
    - name: lineinfile inserted first
      ansible.builtin.lineinfile:
        path: /srv/ms-modules/app.conf
        line: "# managed by mainsail"
        insertbefore: BOF
    - name: lineinfile by literal search
      lineinfile:
        path: /srv/ms-modules/app.conf
        search_string: "name = demo"
        line: "name = production"
    - name: blockinfile
      blockinfile:
        path: /srv/ms-modules/app.conf
        marker: "# {mark} limits"
        block: |
          max = 10
          min = 1
    - name: replace
      ansible.legacy.replace:
        path: /srv/ms-modules/app.conf
        regexp: '^listen (\\d+)$'
        replace: 'listen [::]:\\1'
    - name: sysctl in its own file, not applied (a container's /proc/sys is read-only)
      sysctl:
        name: vm.swappiness
        value: "10"
        sysctl_file: /etc/sysctl.d/60-ms-modules.conf
        reload: false
    - name: a key for deploy, kept outside its home
      authorized_key:
        user: deploy
        key: "KEYLINE"
        path: /srv/ms-modules/keys/authorized_keys
    - name: a command that runs once
      command:
        argv: [touch, /srv/ms-modules/created-once]
        creates: /srv/ms-modules/created-once
    - name: a shell with bash
      shell:
        cmd: "[[ -e /srv/ms-modules/app.conf ]]"
        executable: /bin/bash
      changed_when: false
    - name: stat
      stat: {path: /srv/ms-modules/app.conf, checksum_algorithm: sha256}
    - name: find
      find: {paths: /srv/ms-modules, patterns: "*.conf", contains: "^max = 10"}
    - name: slurp
      slurp: {src: /srv/ms-modules/app.conf}
    - name: getent
      getent: {database: passwd, key: deploy}
    - name: wait_for a closed port
      wait_for: {port: 1, state: stopped, timeout: 10}
    - name: wait_for the config
      wait_for: {path: /srv/ms-modules/app.conf, search_regex: "max = 10", timeout: 10}
    - name: pause
      pause: {seconds: 1}
    - name: package that is there already
      package: {name: [bash], state: present}
    - name: a task for another distribution
      dnf: {name: nginx, state: present}
      when: false
""".replace("KEYLINE", KEY)

EXPECTED_CONF = """\
# managed by mainsail
# app
port = 80 # checked
name = production
listen [::]:80
listen [::]:81
# BEGIN limits
max = 10
min = 1
# END limits
"""


@pytest.fixture(scope="module")
def project(live_testbed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("modules") / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks/modules.yml").write_text(PLAYBOOK)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, ROOT / "inventory/known_hosts",
                    {host: live_testbed[host] for host in HOSTS})
    return root


def run(project: Path, *args: str) -> dict:
    out = project / "report.json"
    done = inv("deploy", "--playbook=modules", "--json", str(out), *args, cwd=project,
               check=False)
    assert done.returncode in (0, 8), done.stdout + done.stderr
    return json.loads(out.read_text())


def steps(data: dict, host: str, status: str) -> list:
    return [s["task"] for s in data["hosts"][host]["steps"] if s["status"] == status]


def test_first_run_changes_then_second_run_changes_nothing(project, ssh_config):
    for host in HOSTS:
        ssh(ssh_config, host, "rm -rf /srv/ms-modules /etc/sysctl.d/60-ms-modules.conf")
    first = run(project)
    for host in HOSTS:
        assert first["hosts"][host]["failed"] == 0, first["hosts"][host]
        assert "blockinfile" in steps(first, host, "changed")
        assert "a task for another distribution" in steps(first, host, "skipped")
    second = run(project)
    for host in HOSTS:
        assert second["hosts"][host]["changed"] == 0, steps(second, host, "changed")
        assert second["hosts"][host]["failed"] == 0, second["hosts"][host]


def test_the_hosts_hold_what_the_modules_were_asked_for(project, ssh_config):
    run(project)
    for host in HOSTS:
        assert ssh(ssh_config, host, "cat /srv/ms-modules/app.conf").stdout == EXPECTED_CONF
        assert ssh(ssh_config, host, "cat /etc/sysctl.d/60-ms-modules.conf").stdout == \
            "vm.swappiness=10\n"
        keys = ssh(ssh_config, host, "stat -c '%a %U' /srv/ms-modules/keys "
                                     "/srv/ms-modules/keys/authorized_keys; "
                                     "cat /srv/ms-modules/keys/authorized_keys").stdout
        assert keys == "700 deploy\n600 deploy\n%s\n" % KEY
        assert ssh(ssh_config, host, "test -e /srv/ms-modules/created-once").returncode == 0


def test_check_mode_and_diff_on_a_drifted_host(project, ssh_config):
    run(project)
    ssh(ssh_config, "web2", "sed -i 's/^max = 10$/max = 99/' /srv/ms-modules/app.conf")
    data = run(project, "--check", "--diff")
    changed = steps(data, "web2", "changed")
    assert "blockinfile" in changed and "lineinfile with backrefs" not in changed
    assert ssh(ssh_config, "web2", "grep -c '^max = 99$' /srv/ms-modules/app.conf").stdout \
        .strip() == "1"
    diffs = [s.get("diff", "") for s in data["hosts"]["web2"]["steps"]
             if s["task"] == "blockinfile"]
    assert diffs and "+max = 10" in diffs[0]
    assert steps(run(project), "web2", "changed") == ["blockinfile"]


@pytest.fixture(autouse=True, scope="module")
def _cleanup(project, ssh_config):
    yield
    for host in HOSTS:
        ssh(ssh_config, host, "rm -rf /srv/ms-modules /etc/sysctl.d/60-ms-modules.conf",
            check=False)
    shutil.rmtree(project, ignore_errors=True)
