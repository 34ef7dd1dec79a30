"""The engine end to end: a playbook using every operation, applied over SSH to a testbed host."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_testbed import ssh

PROJECT = Path(__file__).parent / "project"


def write_inventory(project: Path, known_hosts: Path, hosts: dict) -> Path:
    # As on the testbed's own inventory: log in as deploy, everything escalates with sudo.
    lines = ["all:", "  vars:", "    user: deploy", "    become: true",
             "    ssh_key: %s" % (ROOT / ".testbed/id_ed25519"),
             "    known_hosts: %s" % known_hosts, "  children:", "    sample:", "      hosts:"]
    for name, address in hosts.items():
        lines += ["        %s:" % name, "          address: %s" % address]
    path = project / "inventory/hosts.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    # A host whose sudo asks for a password (mail1) takes the testbed's encrypted one.
    for name in hosts:
        sealed = ROOT / "inventory/host_vars" / name / "become.yml"
        if sealed.exists():
            (project / "inventory/host_vars" / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(sealed, project / "inventory/host_vars" / name / "become.yml")
    (project / "invoke.yaml").write_text(
        "mainsail:\n  vault_password_file: %s\n" % (ROOT / ".testbed/vault-password"))
    return path


@pytest.fixture(scope="module")
def project(live_testbed, tmp_path_factory) -> Path:
    inv("testbed.reset", "web2")  # a first run starts from a fresh host
    root = tmp_path_factory.mktemp("project") / "site"
    shutil.copytree(PROJECT, root)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, ROOT / "inventory/known_hosts", {"web2": live_testbed["web2"]})
    return root


def deploy(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return inv("deploy", "--playbook=every_op", *args, cwd=project, check=check)


def report(project: Path, *args: str, command: str = "deploy") -> tuple[int, dict]:
    out = project / "report.json"
    done = inv(command, "--playbook=every_op", "--json", str(out), *args, cwd=project,
               check=False)
    assert done.returncode in (0, 8), done.stdout + done.stderr
    return done.returncode, json.loads(out.read_text())


def test_first_run_applies_every_operation(project, ssh_config):
    code, data = report(project)
    host = data["hosts"]["web2"]
    assert code == 0 and host["failed"] == 0 and host["changed"] >= 15, host
    assert ssh(ssh_config, "web2", "cat /srv/sample/greeting.txt").stdout == \
        "hello from defaults\n"
    conf = ssh(ssh_config, "web2", "stat -c '%a %U %G' /srv/sample/app.conf; "
                                  "cat /srv/sample/app.conf").stdout
    assert conf.startswith("640 root sample\n") and "listen = 127.0.0.12:8000" in conf
    assert "MODE=prod" in ssh(ssh_config, "web2", "cat /etc/sample.env").stdout
    assert "RUNNING" in ssh(ssh_config, "web2", "supervisorctl status sampled").stdout
    assert ssh(ssh_config, "web2", "readlink /srv/sample/current").stdout.strip() == \
        "/srv/sample/hello.txt"


def test_second_run_changes_nothing_in_one_connection(project):
    code, data = report(project)
    host = data["hosts"]["web2"]
    assert code == 0 and host["changed"] == 0 and host["failed"] == 0, host
    assert host["channels"] == 1
    assert host["round_trips"] <= 4, host  # channel open, exec, agent start, one run


def test_plan_reports_exactly_a_manual_change_and_changes_nothing(project, ssh_config):
    ssh(ssh_config, "web2", "echo tampered > /srv/sample/greeting.txt")
    code, data = report(project, command="plan")
    changed = [s["task"] for s in data["hosts"]["web2"]["steps"] if s["status"] == "changed"]
    assert code == 8 and changed == ["inline content"]
    assert ssh(ssh_config, "web2", "cat /srv/sample/greeting.txt").stdout == "tampered\n"
    code, data = report(project)
    assert data["hosts"]["web2"]["changed"] == 1
    code, _ = report(project, command="plan")
    assert code == 0


def test_check_mode_reports_a_drifted_account_answer_and_line_and_writes_nothing(
        project, ssh_config):
    look = ("getent passwd sampleuser | cut -d: -f7; grep ^MODE= /etc/sample.env; "
            "debconf-show debconf | grep -c Dialog")
    ssh(ssh_config, "web2", "usermod -s /bin/sh sampleuser; "
                            "sed -i 's/^MODE=prod$/MODE=dev/' /etc/sample.env; "
                            "echo 'debconf debconf/frontend select Dialog' | "
                            "debconf-set-selections")
    held = ssh(ssh_config, "web2", look).stdout
    assert held == "/bin/sh\nMODE=dev\n1\n", held
    _, data = report(project, "--check", "--diff")
    steps = data["hosts"]["web2"]["steps"]
    drifted = ["user", "a replaced line", "debconf answer"]
    assert [s["task"] for s in steps if s["status"] == "changed"] == drifted
    assert "+MODE=prod" in next(s.get("diff", "") for s in steps
                                if s["task"] == "a replaced line")
    assert ssh(ssh_config, "web2", look).stdout == held
    _, data = report(project)
    assert [s["task"] for s in data["hosts"]["web2"]["steps"] if s["status"] == "changed"] == \
        drifted
    assert ssh(ssh_config, "web2", look, check=False).stdout == "/bin/bash\nMODE=prod\n0\n"


def test_a_changed_template_notifies_its_handler_once(project, ssh_config):
    before = ssh(ssh_config, "web2", "supervisorctl pid sampled").stdout
    done = deploy(project, "--var", "greeting=changed by var")
    assert "handler: restart sampled" in done.stdout
    assert ssh(ssh_config, "web2", "supervisorctl pid sampled").stdout != before
    deploy(project)  # back to the defaults


def test_unknown_host_is_bad_input_with_suggestion(project):
    done = deploy(project, "--host=web3", check=False)
    assert done.returncode == 4
    assert "web2" in done.stderr and "Traceback" not in done.stderr


def test_undefined_variable_names_template_line_and_changes_nothing(project, ssh_config):
    template = project / "roles/sample/templates/app.conf.j2"
    original = template.read_text()
    template.write_text(original + "oops = {{ no_such_var }}\n")
    try:
        done = deploy(project, check=False)
    finally:
        template.write_text(original)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "app.conf.j2:4" in done.stderr and "no_such_var" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_wrong_pinned_key_refuses_the_host_and_runs_nothing(project, ssh_config, tmp_path):
    lines = (ROOT / "inventory/known_hosts").read_text().splitlines()
    web1_key = next(l for l in lines if l.startswith("127.0.0.11 ")).split(" ", 1)[1]
    wrong = tmp_path / "known_hosts"
    wrong.write_text("127.0.0.12 %s\n" % web1_key)
    bad = tmp_path / "bad"
    shutil.copytree(project, bad)
    write_inventory(bad, wrong, {"web2": "127.0.0.12"})
    ssh(ssh_config, "web2", "echo tampered > /srv/sample/greeting.txt")
    try:
        done = deploy(bad, check=False)
        assert done.returncode == 3, done.stdout + done.stderr
        assert "HOST KEY CHANGED" in done.stdout + done.stderr
        assert ssh(ssh_config, "web2", "cat /srv/sample/greeting.txt").stdout == "tampered\n"
    finally:
        deploy(project)


def test_ad_hoc_run_put_get(project, tmp_path):
    done = inv("run", "--host=web*", "--", "hostname", cwd=project)
    assert "web2     | web2" in done.stdout
    local = tmp_path / "payload.txt"
    local.write_text("payload\n")
    first = inv("put", "--host=web2", str(local), "/tmp/payload.txt", cwd=project).stdout
    again = inv("put", "--host=web2", str(local), "/tmp/payload.txt", cwd=project).stdout
    assert "changed" in first and "ok" in again
    inv("get", "--host=web2", "/tmp/payload.txt", str(tmp_path / "got"), cwd=project)
    assert (tmp_path / "got/web2/payload.txt").read_text() == "payload\n"


def test_verify_runs_role_checks_over_ssh(project):
    done = inv("verify", "--playbook=every_op", cwd=project)
    assert "== web2 (sample): passed" in done.stdout
    assert "2 passed" in done.stdout


def test_ctrl_c_stops_cleanly_after_the_running_step(project, ssh_config):
    import signal
    import sys
    import time
    ssh(ssh_config, "web2", "rm -f /tmp/slow-started /tmp/slow-step /tmp/after-slow")
    child = subprocess.Popen([sys.executable, "-m", "invoke", "deploy", "--playbook=slow"],
                             cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 20
    while ssh(ssh_config, "web2", "test -e /tmp/slow-started", check=False).returncode:
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    # The step under way was finished, not cut in half; nothing after it ran.
    assert ssh(ssh_config, "web2", "cat /tmp/slow-step").stdout == "slept\n"
    assert ssh(ssh_config, "web2", "test -e /tmp/after-slow", check=False).returncode == 1


def test_an_unreachable_host_fails_fast_and_the_others_deploy(project, tmp_path):
    import socket
    import threading
    import time
    # A host that accepts TCP but never speaks SSH: only the connect timeout can end it.
    silent = socket.socket()
    silent.bind(("127.0.0.98", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    other = tmp_path / "other"
    shutil.copytree(project, other)
    inventory = write_inventory(other, ROOT / "inventory/known_hosts",
                                {"web2": "127.0.0.12", "ghost": "127.0.0.99"})
    inventory.write_text(inventory.read_text() + "        mute:\n          address: 127.0.0.98\n"
                         "          port: %d\n" % port)
    started = time.monotonic()
    done = inv("deploy", "--playbook=every_op", "--timeout=2", cwd=other, check=False)
    elapsed = time.monotonic() - started
    silent.close()
    assert done.returncode == 3, done.stdout + done.stderr
    assert "ghost" in done.stdout and "mute" in done.stdout
    assert "UNREACHABLE" in done.stdout.upper()
    assert elapsed < 15
    assert "web2" in done.stdout and "Traceback" not in done.stderr


BAD_INPUTS = {
    # name: (file to change, text to append or replace, expected in the message)
    "malformed yaml": ("playbooks/every_op.yml", "  - [unclosed\n", "every_op.yml:"),
    "unknown keyword": ("roles/sample/tasks/main.yml",
                        "- name: typo\n  copy: {content: x, dest: /tmp/x}\n  notfiy: x\n",
                        "notify"),
    "unknown operation": ("roles/sample/tasks/main.yml",
                          "- name: typo\n  cpoy: {content: x, dest: /tmp/x}\n", "copy"),
    "unknown argument": ("roles/sample/tasks/main.yml",
                         "- name: typo\n  copy: {content: x, dets: /tmp/x}\n", "dest"),
    "missing template": ("roles/sample/tasks/main.yml",
                         "- name: gone\n  template: {src: nothere.j2, dest: /tmp/x}\n",
                         "nothere.j2"),
    "missing file": ("roles/sample/tasks/main.yml",
                     "- name: gone\n  copy: {src: nothere.txt, dest: /tmp/x}\n", "nothere.txt"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_names_the_place_and_changes_nothing(case, project, ssh_config, tmp_path):
    path, text, expected = BAD_INPUTS[case]
    bad = tmp_path / "bad"
    shutil.copytree(project, bad)
    with open(bad / path, "a") as handle:
        handle.write(text)
    ssh(ssh_config, "web2", "mkdir -p /srv/sample && echo tampered > /srv/sample/greeting.txt")
    try:
        done = deploy(bad, check=False)
        assert done.returncode == 4, done.stdout + done.stderr
        error = done.stderr.strip().splitlines()
        assert len(error) == 1 and error[0].startswith("error: "), done.stderr
        assert expected in error[0] and "hint:" in error[0]
        assert path.split("/")[-1] in error[0] or case == "missing file"
        assert ssh(ssh_config, "web2", "cat /srv/sample/greeting.txt").stdout == "tampered\n"
    finally:
        deploy(project)


def test_an_unknown_host_key_is_refused_with_its_fingerprint(project, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    other = tmp_path / "other"
    shutil.copytree(project, other)
    write_inventory(other, empty, {"web2": "127.0.0.12"})
    done = deploy(other, check=False)
    assert done.returncode == 3
    assert "host key not known: ssh-ed25519 SHA256:" in done.stdout + done.stderr


def test_a_failing_command_names_the_task_command_and_stderr(project, tmp_path):
    failing = tmp_path / "failing"
    shutil.copytree(project, failing)
    (failing / "playbooks/fail.yml").write_text(
        "- hosts: sample\n  tasks:\n    - name: list a missing folder\n"
        "      command: {cmd: ls /no/such/folder}\n")
    done = inv("deploy", "--playbook=fail", cwd=failing, check=False)
    assert done.returncode == 2
    assert "fail.yml:3" in done.stdout and "ls /no/such/folder" in done.stdout
    assert "No such file or directory" in done.stdout


def test_two_deploys_of_one_host_never_interleave(project, ssh_config):
    import sys
    import time
    ssh(ssh_config, "web2", "rm -f /tmp/slow-started /tmp/slow-step /tmp/after-slow")
    argv = [sys.executable, "-m", "invoke", "deploy", "--playbook=slow"]
    first = subprocess.Popen(argv, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 20
    while ssh(ssh_config, "web2", "test -e /tmp/slow-started", check=False).returncode:
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.1)
    refused = inv("deploy", "--playbook=slow", cwd=project, check=False)
    waited = subprocess.Popen(argv + ["--lock-wait=20"], cwd=project, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    out1, _ = first.communicate(timeout=60)
    out3, err3 = waited.communicate(timeout=60)
    assert first.returncode == 0, out1
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert "locked by another run: root@" in refused.stdout
    assert "deploy playbook=slow" in refused.stdout
    assert waited.returncode == 0, out3 + err3


def test_a_host_without_python3_is_told_what_to_install(project, ssh_config):
    ssh(ssh_config, "web2", "mv /usr/bin/python3 /usr/bin/python3.away")
    try:
        done = inv("ping", "--host=web2", cwd=project, check=False)
        assert done.returncode == 3
        assert "python3 is not installed" in done.stdout and "apt-get install python3" in \
            done.stdout
        assert "Traceback" not in done.stdout + done.stderr
    finally:
        ssh(ssh_config, "web2", "mv /usr/bin/python3.away /usr/bin/python3")
