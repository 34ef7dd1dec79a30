"""Ansible's core modules on the testbed (web1 bookworm, web2 trixie): a playbook of them
applied twice with become: the first run makes the changes, the second changes nothing, and
the hosts hold what the modules were asked for. Check mode and diff are looked at on a host
that already converged and then drifted, one change per file module (DRIFT)."""

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
      register: conf
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
    - name: copy content
      copy: {dest: /srv/ms-modules/motd, content: "managed motd\\n", mode: "0644"}
    - name: template
      template: {src: ms.conf.j2, dest: /srv/ms-modules/templated.conf}
    - name: a folder of fragments
      file: {path: /srv/ms-modules/frags, state: directory}
    - name: fragment a
      copy: {dest: /srv/ms-modules/frags/10-a.conf, content: "a = 1\\n"}
    - name: fragment b
      copy: {dest: /srv/ms-modules/frags/20-b.conf, content: "b = 2\\n"}
    - name: assemble
      assemble: {src: /srv/ms-modules/frags, dest: /srv/ms-modules/assembled.conf}
    - name: known_hosts
      known_hosts:
        name: git.example.org
        key: "git.example.org KEYLINE"
        path: /srv/ms-modules/known_hosts
    - name: cron in a file of its own
      cron:
        name: ms-modules
        minute: "*/5"
        job: /bin/true
        user: root
        cron_file: /srv/ms-modules/cron
    - name: set_fact
      set_fact: {conf_size: "{{ conf.stat.size }}"}
    - name: assert
      assert: {that: ["conf.stat.exists", "conf_size | int > 0"]}
    - name: debug
      debug: {var: conf_size}
    - name: group_by
      group_by: {key: ms_modules}
      changed_when: false
    - name: add_host
      add_host: {name: ms-extra, groups: ms_extra}
      changed_when: false
      register: added
    - name: fail unless grouped and added
      fail: {msg: "group_by or add_host did not report"}
      when: "'ms_modules' not in group_names or added.add_host.host_name != 'ms-extra'"
    - name: hostname as the testbed named it
      hostname: {name: "{{ inventory_hostname }}"}
    - name: expect is refused
      expect: {command: passwd, responses: {"password:": secret}}
      ignore_errors: true
      register: no_expect
    - name: yum on a Debian host
      yum: {name: nginx}
      ignore_errors: true
      register: no_yum
    - name: apk on a Debian host
      apk: {name: nginx}
      ignore_errors: true
      register: no_apk
    - name: the refusals say why
      assert:
        that:
          - no_expect is failed and 'not supported' in no_expect.msg
          - no_yum is failed and 'this host has no yum' in no_yum.msg
          - no_apk is failed and 'this host has no apk' in no_apk.msg
    - name: meta
      meta: flush_handlers
""".replace("KEYLINE", KEY)
TEMPLATE = "host = {{ inventory_hostname }}\n"

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


# On a converged host, each command takes its task's target away from what the task asks for.
DRIFT = {
    "a folder to work in": "chmod 0700 /srv/ms-modules",
    "lineinfile by literal search":
        "sed -i 's/^name = production$/name = demo/' /srv/ms-modules/app.conf",
    "blockinfile": "sed -i 's/^max = 10$/max = 99/' /srv/ms-modules/app.conf",
    "replace": "sed -i 's/^listen .*:81$/listen 81/' /srv/ms-modules/app.conf",
    "sysctl in its own file, not applied (a container's /proc/sys is read-only)":
        "sed -i 's/=10$/=20/' /etc/sysctl.d/60-ms-modules.conf",
    "a key for deploy, kept outside its home": ": > /srv/ms-modules/keys/authorized_keys",
    "copy content": "echo local > /srv/ms-modules/motd",
    "template": "echo local > /srv/ms-modules/templated.conf",
    "assemble": "echo local > /srv/ms-modules/assembled.conf",
    "known_hosts": ": > /srv/ms-modules/known_hosts",
    "cron in a file of its own": ": > /srv/ms-modules/cron",
    "hostname as the testbed named it": "echo ms-drifted > /etc/hostname",
}
# A line of each file task's diff in check mode (on web2).
DIFFS = {
    "lineinfile by literal search": "+name = production",
    "blockinfile": "+max = 10",
    "replace": "+listen [::]:81",
    "sysctl in its own file, not applied (a container's /proc/sys is read-only)":
        "+vm.swappiness=10",
    "a key for deploy, kept outside its home": "+" + KEY,
    "copy content": "+managed motd",
    "template": "+host = web2",
    "assemble": "+a = 1",
    "known_hosts": "+git.example.org " + " ".join(KEY.split()[:2]),
    "cron in a file of its own": "+*/5 * * * * root /bin/true",
    "hostname as the testbed named it": "+web2",
}
# What the drifted tasks manage, as it stands (check mode must leave it so).
SNAPSHOT = ("cd /srv/ms-modules && find . -type f | sort | xargs md5sum; stat -c %a .; "
            "md5sum /etc/sysctl.d/60-ms-modules.conf /etc/hostname")


@pytest.fixture(scope="module")
def project(live_testbed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("modules") / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks/modules.yml").write_text(PLAYBOOK)
    (root / "templates").mkdir()
    (root / "templates/ms.conf.j2").write_text(TEMPLATE)
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
        for task in ("blockinfile", "copy content", "template", "assemble", "known_hosts",
                     "cron in a file of its own"):
            assert task in steps(first, host, "changed"), (host, task)
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
        made = ssh(ssh_config, host, "cd /srv/ms-modules && cat templated.conf assembled.conf "
                                     "known_hosts cron /etc/hostname").stdout
        assert made == "host = %s\na = 1\nb = 2\ngit.example.org %s\n" \
            "#Mainsail: ms-modules\n*/5 * * * * root /bin/true\n%s\n" % (
                host, " ".join(KEY.split()[:2]), host), made


def test_check_mode_and_diff_on_a_drifted_host(project, ssh_config):
    run(project)
    ssh(ssh_config, "web2", "; ".join(DRIFT.values()))
    held = ssh(ssh_config, "web2", SNAPSHOT).stdout
    data = run(project, "--check", "--diff")
    changed = steps(data, "web2", "changed")
    assert sorted(changed) == sorted(DRIFT), changed
    assert ssh(ssh_config, "web2", SNAPSHOT).stdout == held  # check mode wrote nothing
    diffs = {s["task"]: s.get("diff", "") for s in data["hosts"]["web2"]["steps"]
             if s["status"] == "changed"}
    for task, line in DIFFS.items():
        assert line in diffs[task], (task, diffs[task])
    assert sorted(steps(run(project), "web2", "changed")) == sorted(DRIFT)
    assert steps(run(project), "web2", "changed") == []


@pytest.fixture(autouse=True, scope="module")
def _cleanup(project, ssh_config):
    yield
    for host in HOSTS:
        ssh(ssh_config, host, "rm -rf /srv/ms-modules /etc/sysctl.d/60-ms-modules.conf; "
                              "echo %s > /etc/hostname" % host, check=False)
    shutil.rmtree(project, ignore_errors=True)
