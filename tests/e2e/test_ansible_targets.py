"""Ansible's own integration targets, run as they are on the testbed (bookworm and trixie).

ansible-core's source distribution is fetched with pip at test time and cached outside the
repository (tests/e2e/ansible_targets.py); its files are never committed. Each target runs
as Ansible's test runner runs it: a play ``hosts: <one host>``, ``gather_facts: true``,
``roles: [<target>]``, the targets folder as roles/. A target passes when every task does.
The targets that do not pass yet, and why, are listed in docs/ansible.md.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.ansible_targets import CANNOT_PASS, make_project, targets_folder

# The targets of issue 11 that pass today (docs/ansible.md lists the others with the reason).
PASSING = ("lookup_items", "lookup_dict", "test_mathstuff", "lookup_subelements", "changed_when",
           "failed_when", "loops",
           "lookup_sequence", "lookup_vars", "tempfile", "lookup_first_found",
           # with the tasks that cannot pass taken out (CANNOT_PASS, listed in docs/ansible.md)
           "assert", "until")
# The targets of issue 12 (the core modules) that pass today; they change the host (packages,
# users, files under the target's output_dir), so each runs once per host, as ansible-test
# runs it on a fresh host.
MODULE_PASSING = ("stat", "find", "slurp", "blockinfile", "getent", "debconf", "lineinfile",
                  "replace", "wait_for", "group", "package", "systemd", "file", "user",
                  "command_shell", "cron", "service",
                  # without the tasks that need the internet (CANNOT_PASS)
                  "git")
# Run on bookworm only: apt, without its tasks that need the internet or Ansible's python3-apt
# (CANNOT_PASS); on trixie its conflict test's hello-traditional does not exist.
BOOKWORM_ONLY = ("apt",)
# apt's build-dep tests need source package lists, as ansible-test's images have them: added
# for its run, taken away after.
APT_SETUP = ("sed -i 's/^Types: deb$/Types: deb deb-src/' "
             "/etc/apt/sources.list.d/debian.sources && apt-get update -q >/dev/null")
APT_CLEANUP = ("sed -i 's/^Types: deb deb-src$/Types: deb/' "
               "/etc/apt/sources.list.d/debian.sources && apt-get update -q >/dev/null")
HOSTS = ("web1", "web2")  # bookworm, trixie
# Targets that take the controller for the host (they read with lookups and file tests what
# their own tasks wrote): run as ansible-test runs them, on the controller (a local host):
# this machine, and Mainsail installed on each testbed host and run there.
LOCAL_PASSING = ("lookup_file", "test_files", "lookup_template")


@pytest.fixture(scope="module")
def interpreters(live_testbed, tmp_path_factory) -> dict:
    """Each host's own python3, by its versioned path (/usr/bin/python3.13), as ansible-test's
    inventory names it: targets read it on the controller (the service target's daemon
    shebang is ``ansible_python_interpreter | realpath``)."""
    out = tmp_path_factory.mktemp("interp") / "report.json"
    inv("run", "--host", ",".join(HOSTS), "-m", "command", "-a", "readlink -f /usr/bin/python3",
        "--json", str(out), timeout=300)
    data = json.loads(out.read_text())
    return {name: data["hosts"][name]["steps"][0]["stdout"].strip() for name in HOSTS}


def inventory(testbed: dict, interpreters: dict) -> str:
    lines = ["all:", "  vars:", "    user: deploy", "    become: true",
             "    ssh_key: %s" % (ROOT / ".testbed/id_ed25519"),
             "    known_hosts: %s" % (ROOT / "inventory/known_hosts"),
             # ansible-test hands every target these two folders.
             "    output_dir: /tmp/mainsail-ansible-targets",
             "    remote_tmp_dir: /tmp/mainsail-ansible-targets",
             "  hosts:"]
    lines += ["    %s: {address: %s, ansible_python_interpreter: %s}"
              % (name, testbed[name], interpreters[name]) for name in HOSTS]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def targets() -> Path:
    return targets_folder()


@pytest.fixture(scope="module", autouse=True)
def fresh_hosts_after(live_testbed):
    """The targets change their hosts much (packages installed, upgraded and removed, an
    architecture added, accounts, services): the later tests get web1 and web2 back as the
    base image made them."""
    yield
    for host in HOSTS:
        inv("testbed.reset", host, check=False, timeout=600)


def run_target(project: Path) -> tuple[int, dict]:
    out = project / "report.json"
    done = inv("deploy", "--json", str(out), cwd=project, check=False, timeout=1800)
    assert out.exists(), done.stdout + done.stderr
    return done.returncode, json.loads(out.read_text())


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("target", PASSING)
def test_target_passes_and_its_rerun_costs_few_round_trips(live_testbed, interpreters, targets,
                                                           tmp_path,
                                                           target, host):
    project = make_project(tmp_path / "proj", targets, target,
                           inventory(live_testbed, interpreters), host,
                           drop=CANNOT_PASS.get(target, ()))
    (project / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    code, data = run_target(project)
    record = data["hosts"][host]
    failed = [s for s in record["steps"] if s["status"] == "failed"]
    assert code == 0 and not failed and record["state"] == "ok", failed or record
    # A rerun is as cheap as the target's dependency points allow: no more requests than
    # the first run made.
    _, again = run_target(project)
    assert again["hosts"][host]["state"] == "ok"
    assert again["hosts"][host]["round_trips"] <= record["round_trips"]


@pytest.mark.parametrize("target,host",
                         [(t, h) for t in MODULE_PASSING for h in HOSTS] +
                         [(t, HOSTS[0]) for t in BOOKWORM_ONLY])
def test_module_target_passes(live_testbed, interpreters, targets, tmp_path, target, host):
    project = make_project(tmp_path / "proj", targets, target,
                           inventory(live_testbed, interpreters), host,
                           drop=CANNOT_PASS.get(target, ()))
    (project / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    if target == "debconf":  # the answers it sets first, forgotten: as on a fresh host
        forget = "for p in ddclient ddclient2 libnss-ldapd libnns-ldap; do " \
                 "echo PURGE | debconf-communicate $p >/dev/null; done; true"
        inv("run", "--host", host, "-b", "--", forget, cwd=project, timeout=120)
    if target == "lineinfile":  # its ACL test needs setfacl (ansible-test's hosts have it),
        # and it writes file.txt in the login user's home
        inv("run", "--host", host, "-b", "-m", "apt", "-a", "name=acl", cwd=project,
            timeout=600)
        inv("run", "--host", host, "--", "rm -f file.txt test.txt", cwd=project, timeout=120)
    if target == "cron":  # the files it checks are absent before it makes them
        inv("run", "--host", host, "-b", "--", "rm -f /etc/cron.d/cron_remove_name "
            "/etc/cron.d/cron_remove_whitespace", cwd=project, timeout=120)
    if target == "apt":
        inv("run", "--host", host, "-b", "--", APT_SETUP, cwd=project, timeout=600)
    try:
        code, data = run_target(project)
    finally:
        if target == "apt":
            inv("run", "--host", host, "-b", "--", APT_CLEANUP, cwd=project, timeout=600)
    record = data["hosts"][host]
    failed = [s for s in record["steps"] if s["status"] == "failed"]
    assert code == 0 and not failed and record["state"] == "ok", failed or record


# What ansible-test's hosts have and the copy target relies on: root logs in with the key
# (it copies root's authorized_keys to its unprivileged user, then logs in as that user), and
# getfacl. The user is made beforehand with no password ("*"), as a key login needs when sshd
# runs without PAM (the testbed's), where a locked account cannot log in.
COPY_SETUP = ("install -d -m 700 /root/.ssh && "
              "install -m 600 /home/deploy/.ssh/authorized_keys /root/.ssh/authorized_keys && "
              "(getent group test_ansible_test_group >/dev/null || "
              "groupadd test_ansible_test_group) && "
              "(id tmp_ansible_test_user >/dev/null 2>&1 || "
              "useradd -m -g test_ansible_test_group -p '*' tmp_ansible_test_user) && "
              "(dpkg -s acl >/dev/null 2>&1 || apt-get install -y -q acl >/dev/null)")
COPY_CLEANUP = ("rm -f /root/.ssh/authorized_keys /etc/sudoers.d/tmp_ansible_test_user; "
                "rm -rf /home/deploy/foo.txt /home/deploy/subdir /home/deploy/checkmode_subdir; "
                "userdel -r tmp_ansible_test_user 2>/dev/null; "
                "groupdel test_ansible_test_group 2>/dev/null; true")


@pytest.mark.parametrize("host", HOSTS)
def test_copy_target_passes(live_testbed, interpreters, targets, tmp_path, host):
    """Every task of the copy target passes. Its no_log.yml runs ``ansible-playbook -vvv`` on
    the controller to see that a copied secret is never printed: ``ansible-playbook`` is
    Mainsail's drop-in for it here (mainsail-playbook, ansible-playbook's command line), so
    those tasks check Mainsail's own output."""
    import sys
    project = make_project(tmp_path / "proj", targets, "copy",
                           inventory(live_testbed, interpreters), host)
    (project / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "ansible-playbook").symlink_to(Path(sys.executable).parent / "mainsail-playbook")
    inv("run", "--host", host, "-b", "--", COPY_SETUP, cwd=project, timeout=600)
    try:
        out = project / "report.json"
        inv("deploy", "--json", str(out), cwd=project, check=False, timeout=1800,
            env={"PATH": "%s:%s" % (shim, os.environ["PATH"])})
        data = json.loads(out.read_text())
    finally:
        inv("run", "--host", host, "-b", "--", COPY_CLEANUP, cwd=project, timeout=120)
    steps = data["hosts"][host]["steps"]
    failed = [s for s in steps if s["status"] == "failed"]
    assert not failed and data["hosts"][host]["state"] == "ok", \
        [(s["task"], s["msg"], s["stdout"][-2000:], s["stderr"][-2000:]) for s in failed]
    ran = [s for s in steps if s["task"].startswith("copy the secret while using -vvv")]
    assert len(ran) == 4 and all(s["status"] == "changed" for s in ran), ran
    assert len(steps) > 500


def test_the_targets_are_fetched_not_committed() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert not any("integration/targets" in path for path in tracked)


@pytest.mark.parametrize("target", LOCAL_PASSING)
def test_controller_target_passes_on_a_local_host(targets, tmp_path, target):
    from tests.e2e.ansible_targets import run_local
    got = run_local(target, tmp_path, targets)
    assert got.failed == 0 and not got.error and got.passed > 0, got


# Mainsail installed on a testbed host as a user installs it (python3-venv from the host's
# Debian, then pip into a virtual environment), from wheels made here for the host's Python:
# the host reaches no package index of its own.
CONTROLLER_HOME = "/opt/mainsail-controller"
_WHEELS: dict = {}


def wheels_for(version: str, work: Path) -> Path:
    """Mainsail's wheel and its dependencies' wheels for CPython ``version`` on this machine's
    architecture (the testbed's hosts share it)."""
    if version not in _WHEELS:
        import platform
        import sys
        folder = work / ("wheels-" + version)
        folder.mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                        str(folder), str(ROOT)], check=True, capture_output=True, timeout=600)
        own = next(folder.glob("mainsail-*.whl"))
        machine = platform.machine()
        platforms = [arg for tag in ("manylinux2014", "manylinux_2_17", "manylinux_2_28",
                                     "manylinux_2_34")
                     for arg in ("--platform", "%s_%s" % (tag, machine))]
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(folder),
                        "--only-binary=:all:", "--implementation", "cp", "--python-version",
                        version, *platforms, str(own)],
                       check=True, capture_output=True, timeout=900)
        _WHEELS[version] = folder
    return _WHEELS[version]


@pytest.mark.parametrize("host", HOSTS)
def test_controller_targets_pass_with_mainsail_on_the_host(live_testbed, interpreters, targets,
                                                           tmp_path, host):
    """lookup_file, test_files and lookup_template read on the controller what their tasks
    wrote on the host, so ansible-test runs them on the controller: here Mainsail is
    installed on the bookworm and the trixie host and runs them there, on a local host."""
    import tarfile
    version = interpreters[host].rsplit("python", 1)[1]  # /usr/bin/python3.13 -> 3.13
    bundle = tmp_path / "bundle"
    sdist = bundle / "sdist" / targets.parent.parent.parent.name / "test" / "integration"
    for name in LOCAL_PASSING:
        shutil.copytree(targets / name, sdist / "targets" / name, symlinks=True)
    for name in ("tests/__init__.py", "tests/e2e/__init__.py", "tests/e2e/ansible_targets.py"):
        (bundle / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, bundle / name)
    shutil.copytree(wheels_for(version, tmp_path.parent), bundle / "wheels")
    project = tmp_path / "proj"
    (project / "inventory").mkdir(parents=True)
    (project / "files").mkdir()
    (project / "playbooks").mkdir()
    (project / "inventory" / "hosts.yml").write_text(inventory(live_testbed, interpreters))
    (project / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    with tarfile.open(project / "files" / "bundle.tar.gz", "w:gz") as archive:
        archive.add(bundle, arcname=".")
    venv = CONTROLLER_HOME + "/venv"
    (project / "playbooks" / "site.yml").write_text(f"""\
- hosts: {host}
  become: true
  gather_facts: false
  tasks:
    - apt: {{name: python3-venv}}
    - file: {{path: {CONTROLLER_HOME}, state: absent}}
    - file: {{path: {CONTROLLER_HOME}, state: directory, mode: "0755"}}
    - unarchive: {{src: bundle.tar.gz, dest: {CONTROLLER_HOME}}}
    - command: python3 -m venv {venv}
    - command: >-
        {venv}/bin/pip install -q --no-index --find-links {CONTROLLER_HOME}/wheels mainsail
""")
    out = tmp_path / "run.json"
    try:
        inv("deploy", cwd=project, timeout=900)
        inv("run", "--host", host, "-b", "--json", str(out), "-m", "shell", "-a",
            f"cd {CONTROLLER_HOME} && MAINSAIL_ANSIBLE_SDIST={CONTROLLER_HOME}/sdist "
            f"{venv}/bin/python -m tests.e2e.ansible_targets -v " + " ".join(LOCAL_PASSING),
            cwd=project, timeout=900)
    finally:
        inv("run", "--host", host, "-b", "--", "rm -rf " + CONTROLLER_HOME, cwd=project,
            check=False, timeout=120)
    lines = json.loads(out.read_text())["hosts"][host]["steps"][0]["stdout"].splitlines()
    counts = {line.split(":")[0]: line for line in lines if ": passed " in line}
    print("\n".join(counts.values()))  # the counts, for -rP
    assert set(counts) == set(LOCAL_PASSING), lines
    for name, line in counts.items():
        assert ", failed 0" in line and " -- " not in line, lines
        assert int(line.split("passed ")[1].split(",")[0]) > 0, line
