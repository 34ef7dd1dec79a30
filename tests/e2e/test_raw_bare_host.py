"""raw on a host without python3: the play's head runs over SSH before the agent exists.

The test hides python3 on the host (renames /usr/bin/python3), so the agent cannot start;
the play opens with `wait_for_connection` and a `raw` step (with become, through sudo) that
puts python3 back, then a normal task runs through the agent. Restoring a renamed file stands
in for `apt-get install -y python3`, which would need a package mirror outside the machine.
"""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory
from tests.e2e.test_testbed import ssh

HOSTS = ("echo1", "mail1")  # trixie with sudo without a password; bookworm with one
HIDDEN = "/usr/bin/python3.ms-hidden"
PLAYBOOK = """\
- name: python3 for a bare host
  hosts: sample
  become: true
  tasks:
    - name: the host answers
      wait_for_connection: {timeout: 30, sleep: 1}
    - name: python3 back in place
      raw: "if test -e /usr/bin/python3; then echo present; else mv HIDDEN /usr/bin/python3; fi; id -u"
      register: boot
      changed_when: "'present' not in stdout"
    - name: the agent runs now
      command: python3 --version
      changed_when: false
    - name: the head's result reached the rest of the play
      assert:
        that: ["boot.rc == 0", "boot.stdout_lines[-1] == '0'"]
""".replace("HIDDEN", HIDDEN)


def make_project(root: Path, hosts: dict, known_hosts: Path) -> Path:
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks/bare.yml").write_text(PLAYBOOK)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, known_hosts, hosts)
    return root


def hide_python(ssh_config: Path, host: str) -> None:
    ssh(ssh_config, host, "mv /usr/bin/python3 %s" % HIDDEN)
    assert ssh(ssh_config, host, "command -v python3", as_root=False,
               check=False).returncode != 0


def restore_python(ssh_config: Path, host: str) -> None:
    ssh(ssh_config, host, "test -e /usr/bin/python3 || mv %s /usr/bin/python3" % HIDDEN,
        check=False)


@pytest.fixture(scope="module")
def hosts(live_testbed) -> dict:
    return {host: live_testbed[host] for host in HOSTS}


@pytest.fixture(scope="module")
def project(hosts, ssh_config, tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("bare") / "site", hosts,
                        ROOT / "inventory/known_hosts")
    yield root
    for host in hosts:
        restore_python(ssh_config, host)
    shutil.rmtree(root, ignore_errors=True)


def run(project: Path, *args: str) -> tuple:
    out = project / "report.json"
    done = inv("deploy", "--playbook=bare", "--json", str(out), *args, cwd=project,
               check=False)
    return done, json.loads(out.read_text())


def statuses(data: dict, host: str) -> dict:
    return {s["task"]: s["status"] for s in data["hosts"][host]["steps"]}


def test_check_mode_on_a_bare_host_skips_the_head_and_says_what_to_install(
        project, hosts, ssh_config):
    for host in hosts:
        hide_python(ssh_config, host)
    done, data = run(project, "--check")
    assert done.returncode == 3, done.stdout + done.stderr
    for host in hosts:
        assert statuses(data, host)["python3 back in place"] == "skipped"
        assert data["hosts"][host]["unreachable"]
        assert "python3 is not installed" in done.stdout + done.stderr
        assert ssh(ssh_config, host, "test -e %s" % HIDDEN).returncode == 0  # untouched


def test_a_play_puts_python3_on_a_bare_host_then_runs_through_the_agent(
        project, hosts, ssh_config):
    for host in hosts:
        restore_python(ssh_config, host)
        hide_python(ssh_config, host)
    done, data = run(project)
    assert done.returncode == 0, done.stdout + done.stderr
    for host in hosts:
        assert statuses(data, host) == {
            "the host answers": "ok", "python3 back in place": "changed",
            "the agent runs now": "ok",
            "the head's result reached the rest of the play": "ok"}, statuses(data, host)
        assert ssh(ssh_config, host, "command -v python3", as_root=False).stdout.strip()
    again, data = run(project)
    assert again.returncode == 0, again.stdout + again.stderr
    for host in hosts:
        assert data["hosts"][host]["changed"] == 0, statuses(data, host)
