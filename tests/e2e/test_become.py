"""become on the testbed: Mainsail logs in as `deploy` and escalates with sudo per play, role
and task; `become: false` really runs as deploy, `become_user` as another user, and the sudo
password of mail1 appears nowhere: not in output, reports, the host's processes or logs."""

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory
from tests.e2e.test_testbed import ssh, sudo_password

PLAYBOOK = """\
- name: escalated play, a task as deploy and one as www-data
  hosts: sample
  become: true
  tasks:
    - name: as root by default
      shell: "id -un > /root/become-root && chmod 644 /root/become-root"
    - name: as the login user
      become: false
      shell: "id -un > /tmp/become-plain"
    - name: as the login user, a file in its home
      become: false
      copy: {content: "mine\\n", dest: /home/deploy/become-copy.txt}
    - name: as www-data
      become_user: www-data
      shell: "id -un > /tmp/become-www"
    - name: a slow step, to look at the host's processes
      shell: "sleep 3"

- name: unescalated play, one task escalates
  hosts: sample
  tasks:
    - name: as the login user
      shell: "id -un > /tmp/become-play-plain"
    - name: escalated task
      become: true
      shell: "id -un > /tmp/become-task-root"

- name: a role escalated at its entry
  hosts: sample
  roles:
    - role: whoami
      become: true
"""


@pytest.fixture(scope="module")
def project(live_testbed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("become") / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "roles/whoami/tasks").mkdir(parents=True)
    (root / "roles/whoami/tasks/main.yml").write_text(
        "- name: who runs the role\n  shell: \"id -un > /tmp/become-role\"\n")
    (root / "playbooks/site.yml").write_text(PLAYBOOK)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, ROOT / "inventory/known_hosts",
                    {"web1": live_testbed["web1"], "mail1": live_testbed["mail1"]})
    # Only the plays escalate here: the inventory's blanket become is taken out.
    hosts = root / "inventory/hosts.yml"
    hosts.write_text(hosts.read_text().replace("    become: true\n", ""))
    return root


def owner_and_text(config: Path, host: str, path: str) -> tuple[str, str]:
    out = ssh(config, host, "stat -c %%U %s && cat %s" % (path, path)).stdout.split("\n")
    return out[0], out[1]


def test_each_step_runs_as_the_user_it_asks_for(project, ssh_config, tmp_path):
    for host in ("web1", "mail1"):
        ssh(ssh_config, host, "rm -f /tmp/become-* /root/become-root /etc/become-denied "
                              "/home/deploy/become-copy.txt")
    report = tmp_path / "report.json"
    done = inv("deploy", "--json", str(report), cwd=project, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for host in ("web1", "mail1"):
        assert owner_and_text(ssh_config, host, "/root/become-root") == ("root", "root")
        assert owner_and_text(ssh_config, host, "/tmp/become-plain") == ("deploy", "deploy")
        assert owner_and_text(ssh_config, host, "/home/deploy/become-copy.txt") == \
            ("deploy", "mine")
        assert owner_and_text(ssh_config, host, "/tmp/become-www") == ("www-data", "www-data")
        assert owner_and_text(ssh_config, host, "/tmp/become-play-plain") == \
            ("deploy", "deploy")
        assert owner_and_text(ssh_config, host, "/tmp/become-task-root") == ("root", "root")
        assert owner_and_text(ssh_config, host, "/tmp/become-role") == ("root", "root")
        assert ssh(ssh_config, host, "test -e /etc/become-denied", check=False).returncode == 1


def test_an_unprivileged_step_cannot_touch_roots_files(project, ssh_config):
    (project / "playbooks/denied.yml").write_text(
        "- hosts: sample\n  become: true\n  tasks:\n"
        "    - name: as the login user, root's files are out of reach\n"
        "      become: false\n"
        "      copy: {content: \"no\\n\", dest: /etc/become-denied}\n")
    done = inv("deploy", "--playbook=denied", "--host=web1", cwd=project, check=False)
    assert done.returncode == 2 and "ermission denied" in done.stdout, done.stdout
    assert ssh(ssh_config, "web1", "test -e /etc/become-denied", check=False).returncode == 1


def test_an_unescalated_run_keeps_its_state_in_the_login_users_home(project, ssh_config):
    (project / "playbooks/plain.yml").write_text(
        "- hosts: sample\n  tasks:\n    - name: plain\n"
        "      copy: {content: \"plain\\n\", dest: /home/deploy/plain.txt}\n")
    inv("deploy", "--playbook=plain", "--host=web1", cwd=project)
    state = ssh(ssh_config, "web1", "ls /home/deploy/.local/state/mainsail "
                                    "/home/deploy/.cache/mainsail/agent", as_root=False).stdout
    assert "run.lock" in state and ".pyz" in state
    assert owner_and_text(ssh_config, "web1", "/home/deploy/plain.txt") == ("deploy", "plain")


def test_the_sudo_password_appears_nowhere(project, ssh_config, tmp_path):
    password = sudo_password("mail1")
    assert password
    seen: list[str] = []
    stop = threading.Event()

    def watch_processes() -> None:  # everything every process on mail1 was started with
        while not stop.is_set():
            seen.append(ssh(ssh_config, "mail1", "ps -eo args", check=False).stdout)
            time.sleep(0.3)

    watcher = threading.Thread(target=watch_processes)
    watcher.start()
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    try:
        done = inv("deploy", "--host=mail1", "--json", str(report), "--junit", str(junit),
                   cwd=project, check=False)
    finally:
        stop.set()
        watcher.join()
    assert done.returncode == 0, done.stdout + done.stderr
    assert any("sleep 3" in snapshot for snapshot in seen)  # it looked while the run ran
    logs = ssh(ssh_config, "mail1", "journalctl --no-pager -q; cat /var/log/auth.log "
                                    "/var/log/syslog 2>/dev/null; true").stdout
    assert "sudo" in logs or "python3" in logs
    for text in [done.stdout, done.stderr, report.read_text(), junit.read_text(), logs, *seen]:
        assert password not in text


def test_a_wrong_sudo_password_is_refused_cleanly(project, tmp_path):
    wrong = tmp_path / "wrong"
    shutil.copytree(project, wrong)
    shutil.rmtree(wrong / "inventory/host_vars")
    hosts = wrong / "inventory/hosts.yml"
    hosts.write_text(hosts.read_text().replace(
        "        mail1:\n", "        mail1:\n          become_password: not-the-password\n"))
    done = inv("deploy", "--host=mail1", cwd=wrong, check=False, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "sudo refused the become password" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
