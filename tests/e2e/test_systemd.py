"""Services the systemd way, on both releases (web1 bookworm, web2 trixie): a unit file
written by a play starts, is enabled and survives a reboot; a changed unit file is reloaded
before the restart; check mode reports a stopped unit without starting it; a failing unit
shows systemd's verdict and its journal; masking."""

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory
from tests.e2e.test_testbed import ssh

UNIT = """\
[Unit]
Description=Mainsail test unit ({version})

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
"""

PLAYBOOK = """\
- hosts: sample
  tasks:
    - name: unit file
      copy: {{content: "{unit}", dest: /etc/systemd/system/mainsail-demo.service}}
      notify: restart demo
    - name: demo running and enabled
      systemd: {{name: mainsail-demo, state: started, enabled: true}}
  handlers:
    - name: restart demo
      systemd: {{name: mainsail-demo, state: restarted}}
"""

FAILING = """\
- hosts: sample
  tasks:
    - name: a unit that cannot start
      copy:
        content: "[Service]\\nType=oneshot\\nExecStart=/bin/sh -c 'echo cannot-start-marker; exit 3'\\n"
        dest: /etc/systemd/system/mainsail-broken.service
    - name: start it
      systemd: {name: mainsail-broken, state: started}
"""


@pytest.fixture(scope="module")
def project(live_testbed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("systemd") / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, ROOT / "inventory/known_hosts",
                    {"web1": live_testbed["web1"], "web2": live_testbed["web2"]})
    return root


def deploy(project: Path, version: str, tmp_path: Path) -> dict:
    unit = UNIT.format(version=version).replace("\n", "\\n")
    (project / "playbooks/site.yml").write_text(PLAYBOOK.format(unit=unit))
    report = tmp_path / ("report-%s.json" % version)
    done = inv("deploy", "--json", str(report), cwd=project, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(report.read_text())["hosts"]


def main_pid(config: Path, host: str) -> str:
    return ssh(config, host, "systemctl show -p MainPID --value mainsail-demo").stdout.strip()


def test_a_unit_file_written_by_the_play_starts_is_enabled_and_restarts_when_changed(
        project, ssh_config, tmp_path):
    first = deploy(project, "v1", tmp_path)
    for host in ("web1", "web2"):
        assert first[host]["changed"] >= 2
        assert ssh(ssh_config, host, "systemctl is-active mainsail-demo").stdout.strip() == \
            "active"
        assert ssh(ssh_config, host, "systemctl is-enabled mainsail-demo").stdout.strip() == \
            "enabled"
    assert {h: d["changed"] for h, d in deploy(project, "v1", tmp_path).items()} == \
        {"web1": 0, "web2": 0}
    before = {h: main_pid(ssh_config, h) for h in ("web1", "web2")}
    deploy(project, "v2", tmp_path)  # the unit file changes: daemon-reload, then the restart
    for host in ("web1", "web2"):
        assert main_pid(ssh_config, host) != before[host]
        shown = ssh(ssh_config, host, "systemctl show -p Description,NeedDaemonReload "
                                      "mainsail-demo").stdout
        assert "Mainsail test unit (v2)" in shown and "NeedDaemonReload=no" in shown


def test_check_mode_reports_a_stopped_disabled_unit_and_leaves_it_so(project, ssh_config,
                                                                      tmp_path):
    deploy(project, "v2", tmp_path)
    ssh(ssh_config, "web1", "systemctl disable --now mainsail-demo")
    report = tmp_path / "check.json"
    done = inv("deploy", "--check", "--diff", "--host=web1", "--json", str(report), cwd=project,
               check=False)
    assert done.returncode in (0, 8), done.stdout + done.stderr
    record = json.loads(report.read_text())["hosts"]["web1"]
    steps = {s["task"]: s["status"] for s in record["steps"]}
    assert steps["unit file"] == "ok" and steps["demo running and enabled"] == "changed", steps
    assert ssh(ssh_config, "web1", "systemctl is-active mainsail-demo",
               check=False).stdout.strip() == "inactive"
    assert ssh(ssh_config, "web1", "systemctl is-enabled mainsail-demo",
               check=False).stdout.strip() == "disabled"
    assert {h: d["changed"] for h, d in deploy(project, "v2", tmp_path).items()} == \
        {"web1": 1, "web2": 0}
    assert ssh(ssh_config, "web1", "systemctl is-active mainsail-demo; "
                                   "systemctl is-enabled mainsail-demo").stdout.split() == \
        ["active", "enabled"]


def test_an_enabled_unit_runs_again_after_a_reboot(project, ssh_config, tmp_path):
    deploy(project, "v2", tmp_path)
    inv("testbed.reboot", "web2", timeout=120)
    assert ssh(ssh_config, "web2", "systemctl is-active mainsail-demo").stdout.strip() == "active"


def test_a_unit_that_fails_to_start_shows_systemds_verdict_and_journal(project, tmp_path):
    (project / "playbooks/broken.yml").write_text(FAILING)
    done = inv("deploy", "--playbook=broken", "--host=web2", cwd=project, check=False)
    assert done.returncode == 2, done.stdout
    assert "result exit-code" in done.stdout
    assert "cannot-start-marker" in done.stdout  # the unit's own output, from its journal


def test_masking_stops_and_keeps_a_unit_from_starting(project, ssh_config, tmp_path):
    # A vendor unit (a package's, in /usr/local/lib/systemd/system): one in /etc/systemd/system
    # cannot be masked, systemd refuses it, and the step says so.
    (project / "playbooks/mask.yml").write_text(
        "- hosts: sample\n  tasks:\n"
        "    - copy:\n        content: \"[Service]\\nExecStart=/bin/sleep infinity\\n\"\n"
        "        dest: /usr/local/lib/systemd/system/mainsail-vendor.service\n"
        "    - systemd: {name: mainsail-vendor, state: started, daemon_reload: true}\n"
        "    - systemd: {name: mainsail-vendor, state: stopped, masked: true}\n")
    ssh(ssh_config, "web1", "mkdir -p /usr/local/lib/systemd/system; "
                            "systemctl unmask mainsail-vendor 2>/dev/null; true")
    inv("deploy", "--playbook=mask", "--host=web1", cwd=project)
    assert ssh(ssh_config, "web1", "systemctl is-enabled mainsail-vendor",
               check=False).stdout.strip() == "masked"
    assert ssh(ssh_config, "web1", "systemctl is-active mainsail-vendor",
               check=False).stdout.strip() == "inactive"
    (project / "playbooks/unmask.yml").write_text(
        "- hosts: sample\n  tasks:\n"
        "    - systemd: {name: mainsail-vendor, state: started, masked: false}\n")
    inv("deploy", "--playbook=unmask", "--host=web1", cwd=project)
    assert ssh(ssh_config, "web1", "systemctl is-active mainsail-vendor").stdout.strip() == \
        "active"
    again = inv("deploy", "--playbook=unmask", "--host=web1", cwd=project)
    assert "changed  " not in again.stdout


def test_masking_a_unit_file_of_ones_own_is_refused_by_systemd(project):
    (project / "playbooks/mask_own.yml").write_text(
        "- hosts: sample\n  tasks:\n"
        "    - systemd: {name: mainsail-demo, masked: true}\n")
    done = inv("deploy", "--playbook=mask_own", "--host=web1", cwd=project, check=False)
    assert done.returncode == 2 and "already exists" in done.stdout
