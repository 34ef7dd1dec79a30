"""Package sources and system modules on the testbed (web1 bookworm, web2 trixie).

Each host serves a tiny apt repository of its own (a .deb built on the host, Packages and
Release files, `python3 -m http.server` on the host's address, stopped by its PID at the
end). A playbook adds it with `apt_repository` (bookworm) or `deb822_repository` (trixie),
installs its package and holds it (`dpkg_selections`), keeps a key with `apt_key`, sets the
time zone, mounts a tmpfs and installs a wheel into a virtualenv with `pip`; a second run
changes nothing, and check mode with diff on a drifted host reports without writing."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory
from tests.e2e.test_testbed import ssh

sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_agent_pip import wheel  # noqa: E402  (the wheel maker the unit tests use)

HOSTS = ("web1", "web2")
PORT = 8631
BOOKWORM_KEY = "4D64FEC119C2029067D6E791F8D2585B8783D481"
PLAYBOOK = """\
- name: package sources and system modules
  hosts: sample
  become: true
  tasks:
    - name: the test repository, one-line form
      apt_repository:
        repo: "deb [trusted=yes] http://{{ address }}:PORT/ ./"
        filename: ms-probe
      when: ansible_distribution_release == 'bookworm'
    - name: the test repository, deb822 form
      deb822_repository:
        name: ms-probe
        uris: "http://{{ address }}:PORT/"
        suites: ./
        trusted: true
      when: ansible_distribution_release == 'trixie'
    - name: the probe package from it
      apt: {name: mainsail-probe, update_cache: true}
    - name: the probe package held
      dpkg_selections: {name: mainsail-probe, selection: hold}
    - name: a signing key kept as a file
      apt_key:
        file: /usr/share/keyrings/debian-archive-bookworm-stable.gpg
        id: KEYID
        keyring: /etc/apt/keyrings/ms-probe-test.gpg
    - name: the time zone
      timezone: {name: Europe/Paris}
    - name: a scratch space in memory
      mount: {path: /srv/ms-scratch, src: tmpfs, fstype: tmpfs, opts: "size=8m,mode=0755"}
    - name: venv support
      apt: {name: python3-venv}
    - name: a folder for wheels
      file: {path: /srv/ms-wheels, state: directory}
    - name: the wheel
      copy: {src: WHEEL, dest: /srv/ms-wheels/WHEEL}
    - name: a virtualenv with the probe
      pip:
        name: mainsailprobe
        virtualenv: /srv/ms-venv
        virtualenv_command: python3 -m venv
        extra_args: --no-index --find-links /srv/ms-wheels
"""
WHEEL = "mainsailprobe-1.0-py3-none-any.whl"
# Runs as root on the host: a .deb, its Packages and Release files, and a server for them.
MAKE_REPO = r"""set -e
rm -rf /srv/ms-repo && mkdir -p /srv/ms-repo/pkg/DEBIAN
printf 'Package: mainsail-probe\nVersion: 1.0\nArchitecture: all\nMaintainer: Mainsail tests <tests@example.org>\nDescription: a package the tests serve\n' > /srv/ms-repo/pkg/DEBIAN/control
dpkg-deb --build /srv/ms-repo/pkg /srv/ms-repo/mainsail-probe_1.0_all.deb >/dev/null
rm -rf /srv/ms-repo/pkg
cd /srv/ms-repo
python3 - <<'PY'
import hashlib, subprocess
deb = "mainsail-probe_1.0_all.deb"
data = open(deb, "rb").read()
control = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True,
                         check=True).stdout
open("Packages", "w").write(control.rstrip("\n") + "\nFilename: ./%s\nSize: %d\nSHA256: %s\n"
                            % (deb, len(data), hashlib.sha256(data).hexdigest()))
packages = open("Packages", "rb").read()
open("Release", "w").write("Origin: mainsail-tests\nLabel: mainsail-tests\n"
                           "Date: Thu, 01 Jan 2026 00:00:00 UTC\nSHA256:\n %s %d Packages\n"
                           % (hashlib.sha256(packages).hexdigest(), len(packages)))
PY
setsid python3 -m http.server --bind ADDRESS PORT --directory /srv/ms-repo >/dev/null 2>&1 </dev/null &
echo $!
"""
CLEAN = ("umount /srv/ms-scratch 2>/dev/null; sed -i '/ms-scratch/d' /etc/fstab; "
         "rm -rf /srv/ms-repo /srv/ms-wheels /srv/ms-venv /srv/ms-scratch "
         "/etc/apt/sources.list.d/ms-probe.* /etc/apt/keyrings/ms-probe-test.gpg; "
         "echo mainsail-probe install | dpkg --set-selections >/dev/null 2>&1; "
         "dpkg --purge mainsail-probe >/dev/null 2>&1; "
         "ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime; echo Etc/UTC > /etc/timezone")


@pytest.fixture(scope="module")
def project(live_testbed, ssh_config, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sources") / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "files").mkdir()
    wheel(root / "files", "mainsailprobe", "1.0")
    (root / "playbooks/sources.yml").write_text(
        PLAYBOOK.replace("PORT", str(PORT)).replace("KEYID", BOOKWORM_KEY)
        .replace("WHEEL", WHEEL))
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, ROOT / "inventory/known_hosts",
                    {host: live_testbed[host] for host in HOSTS})
    servers = {}
    for host in HOSTS:
        ssh(ssh_config, host, CLEAN, check=False)
        made = ssh(ssh_config, host, MAKE_REPO.replace("ADDRESS", live_testbed[host])
                   .replace("PORT", str(PORT)))
        servers[host] = int(made.stdout.split()[-1])
    yield root
    for host, pid in servers.items():  # the test's own server: stopped by its PID
        ssh(ssh_config, host, "kill %d" % pid, check=False)
        ssh(ssh_config, host, CLEAN, check=False)
    shutil.rmtree(root, ignore_errors=True)


def run(project: Path, *args: str) -> dict:
    out = project / "report.json"
    done = inv("deploy", "--playbook=sources", "--json", str(out), *args, cwd=project,
               check=False, timeout=900)
    assert done.returncode in (0, 8), done.stdout + done.stderr
    return json.loads(out.read_text())


def statuses(data: dict, host: str) -> dict:
    return {s["task"]: s["status"] for s in data["hosts"][host]["steps"]}


def test_sources_packages_and_system_modules_converge_then_stay(project, ssh_config):
    first = run(project)
    for host in HOSTS:
        got = statuses(first, host)
        assert first["hosts"][host]["failed"] == 0, first["hosts"][host]
        for task in ("the probe package from it", "the probe package held",
                     "a signing key kept as a file",
                     "the time zone", "a scratch space in memory",
                     "a virtualenv with the probe"):
            assert got[task] == "changed", (host, task, got)
    assert statuses(first, "web1")["the test repository, one-line form"] == "changed"
    assert statuses(first, "web2")["the test repository, deb822 form"] == "changed"
    second = run(project)
    for host in HOSTS:
        assert second["hosts"][host]["changed"] == 0, statuses(second, host)
        assert second["hosts"][host]["failed"] == 0, second["hosts"][host]
    for host in HOSTS:
        held = ssh(ssh_config, host, "dpkg-query -W -f '${Version}' mainsail-probe; echo; "
                                     "cat /etc/timezone; findmnt -n -o FSTYPE /srv/ms-scratch; "
                                     "/srv/ms-venv/bin/python -c "
                                     "'import mainsailprobe; print(mainsailprobe.VERSION)'")
        assert held.stdout.split() == ["1.0", "Europe/Paris", "tmpfs", "1.0"], held.stdout
        assert ssh(ssh_config, host, "dpkg --get-selections mainsail-probe").stdout.split() == \
            ["mainsail-probe", "hold"]
    assert "deb [trusted=yes] http://%s:%d/ ./" % ("127.0.0.11", PORT) in ssh(
        ssh_config, "web1", "cat /etc/apt/sources.list.d/ms-probe.list").stdout
    assert "Suites: ./" in ssh(ssh_config, "web2",
                               "cat /etc/apt/sources.list.d/ms-probe.sources").stdout


# On web2 (trixie), each command takes its task's target away from what the task asks for.
DRIFT = {
    "the time zone": "echo Etc/UTC > /etc/timezone",
    "a scratch space in memory": "sed -i 's/size=8m/size=4m/' /etc/fstab",
    "the probe package held": "echo mainsail-probe install | dpkg --set-selections",
    "the probe package from it": "dpkg --purge mainsail-probe >/dev/null",
    "a signing key kept as a file": "rm /etc/apt/keyrings/ms-probe-test.gpg",
    "the test repository, deb822 form":
        "echo '# local' >> /etc/apt/sources.list.d/ms-probe.sources",
    "a virtualenv with the probe":
        "/srv/ms-venv/bin/python -m pip uninstall -q -y mainsailprobe",
}
# What the drifted tasks manage, as it stands (check mode must leave it so).
SNAPSHOT = ("cat /etc/timezone /etc/fstab /etc/apt/sources.list.d/ms-probe.sources; "
            "echo probe: $(dpkg-query -W -f '${db:Status-Abbrev}' mainsail-probe); "
            "ls /etc/apt/keyrings; "
            "/srv/ms-venv/bin/python -m pip list --format=freeze")


def test_check_mode_and_diff_report_drift_without_writing(project, ssh_config):
    run(project)
    ssh(ssh_config, "web2", "; ".join(DRIFT.values()))
    held = ssh(ssh_config, "web2", SNAPSHOT).stdout
    data = run(project, "--check", "--diff", "--limit", "web2")
    got = statuses(data, "web2")
    assert {t for t, s in got.items() if s == "changed"} == set(DRIFT), got
    assert ssh(ssh_config, "web2", SNAPSHOT).stdout == held  # check mode wrote nothing
    assert "probe: ii" not in held and "mainsailprobe" not in held
    diffs = {s["task"]: s.get("diff", "") for s in data["hosts"]["web2"]["steps"]}
    assert "+tmpfs\t/srv/ms-scratch\ttmpfs\tsize=8m,mode=0755" in diffs["a scratch space in memory"]
    assert "-# local" in diffs["the test repository, deb822 form"]
    assert "+name=Europe/Paris" in diffs["the time zone"]
    fixed = run(project, "--limit", "web2")
    assert {t for t, s in statuses(fixed, "web2").items() if s == "changed"} == set(DRIFT)
    assert run(project, "--limit", "web2")["hosts"]["web2"]["changed"] == 0


def _apt(host: str, args: str, out: Path, *flags: str) -> dict:
    inv("run", "--host", host, "-b", "-m", "apt", "-a", args, "--json", str(out), *flags,
        timeout=900)
    return json.loads(out.read_text())["hosts"][host]["steps"][0]


def test_apt_name_patterns_and_a_dependency_named_becomes_manual(live_testbed, tmp_path):
    """A pattern in a name is matched against the package lists (Ansible's fnmatch), and a
    package that came in as another's dependency is marked manual when a task names it
    (apt-mark), so autoremove keeps it; each is unchanged the second time."""
    host, out = "web1", tmp_path / "r.json"
    try:
        first = _apt(host, "name=hel?o", out)
        assert first["status"] == "changed" and "install hello" in first["msg"]
        assert first["stdout"]  # apt-get's own output, as Ansible's result carries it
        assert _apt(host, "name=hel?o", out)["status"] == "ok"
        _apt(host, "name=jq", out)
        check = _apt(host, "name=libjq1", out, "--check")
        assert check["status"] == "changed" and check["msg"] == "mark manual libjq1"
        assert _apt(host, "name=libjq1", out)["status"] == "changed"
        marks = tmp_path / "m.json"
        inv("run", "--host", host, "-m", "command", "-a", "apt-mark showmanual libjq1",
            "--json", str(marks), timeout=300)
        assert "libjq1" in json.loads(marks.read_text())["hosts"][host]["steps"][0]["stdout"]
        assert _apt(host, "name=libjq1", out)["status"] == "ok"
    finally:
        inv("run", "--host", host, "-b", "--", "apt-get purge -y -q hello jq libjq1 "
            "libonig5 >/dev/null 2>&1; true", check=False, timeout=600)
