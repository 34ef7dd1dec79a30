"""A hostile user on a testbed host: links, FIFOs, hard links and look-alike temp names
planted where a deploy writes, under the user's home and under a folder the user owns.

The deploy runs with `become: true` (the login user need not be root). Afterwards the
root-owned canaries are unchanged (content, owner, mode) and the deploy reported every
refusal; nothing the user planted was followed.
"""

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory

HOST = "web2"
CANARY = "/etc/mainsail-canary"
CANARY_DIR = "/etc/mainsail-canary.d"
HOME = "/home/mallory"
OWNED = "/srv/mallory"

SETUP = """
- hosts: all
  become: true
  tasks:
    - user: {name: mallory, shell: /bin/sh}
    - copy: {dest: %(canary)s, content: "root secret\\n", owner: root, group: root, mode: "0600"}
    - file: {path: %(canary_dir)s, state: directory, owner: root, group: root, mode: "0700"}
    - copy: {dest: %(canary_dir)s/inside, content: "root only\\n", mode: "0600"}
    - file: {path: %(owned)s, state: directory, owner: mallory, group: mallory, mode: "0755"}
    - name: mallory plants links, a FIFO, a hard link and look-alike temp names
      shell:
        cmd: |
          runuser -u mallory -- sh -c '
            cd %(home)s
            rm -rf .ssh .profile pipe.conf hard.conf config .config.mainsail-tmp \\
                   config.mainsail-restore
            ln -s %(canary_dir)s .ssh
            ln -s %(canary)s .profile
            mkfifo pipe.conf
            ln %(canary)s hard.conf 2>/dev/null || ln -s %(canary)s hard.conf
            ln -s %(canary)s .config.mainsail-tmp
            ln -s %(canary)s config.mainsail-restore
            cd %(owned)s
            rm -rf app.conf sub releases
            ln -s %(canary)s app.conf
            ln -s %(canary_dir)s sub
          '
""" % {"canary": CANARY, "canary_dir": CANARY_DIR, "home": HOME, "owned": OWNED}

# Every task may be refused: ignore_errors lets each one be tried and reported.
DEPLOY = """
- hosts: all
  become: true
  tasks:
    - name: ssh folder
      file: {path: %(home)s/.ssh, state: directory, owner: mallory, mode: "0700"}
      ignore_errors: true
    - name: authorized keys
      copy: {dest: %(home)s/.ssh/authorized_keys, content: "ssh-ed25519 AAAA test\\n",
             owner: mallory, mode: "0600"}
      ignore_errors: true
    - name: profile
      copy: {dest: %(home)s/.profile, content: "umask 027\\n", owner: mallory}
      ignore_errors: true
    - name: profile line
      line: {path: %(home)s/.profile, line: "umask 027"}
      ignore_errors: true
    - name: fifo
      copy: {dest: %(home)s/pipe.conf, content: "x\\n"}
      ignore_errors: true
    - name: hard link
      file: {path: %(home)s/hard.conf, owner: mallory, mode: "0644"}
      ignore_errors: true
    - name: look-alike temp names
      copy: {dest: %(home)s/config, content: "a = 1\\n", owner: mallory}
      ignore_errors: true
    - name: owned folder file
      copy: {dest: %(owned)s/app.conf, content: "b = 2\\n", owner: mallory}
      ignore_errors: true
    - name: owned folder subfolder
      file: {path: %(owned)s/sub/inner, state: directory, owner: mallory}
      ignore_errors: true
""" % {"home": HOME, "owned": OWNED}

INSPECT = """
- hosts: all
  become: true
  tasks:
    - name: canaries
      command: {cmd: "stat -c '%%a %%U %%G %%n' %(canary)s %(canary_dir)s %(canary_dir)s/inside"}
      changed_when: false
    - name: canary contents
      command: {cmd: "sha256sum %(canary)s %(canary_dir)s/inside"}
      changed_when: false
    - name: canary folder listing
      command: {cmd: "ls -A %(canary_dir)s"}
      changed_when: false
""" % {"canary": CANARY, "canary_dir": CANARY_DIR}

REFUSED = {"ssh folder": "refused", "authorized keys": "refused", "profile": "refused",
           "profile line": "refused", "fifo": "is a fifo", "owned folder file": "refused",
           "owned folder subfolder": "refused"}


@pytest.fixture(scope="module")
def project(live_testbed, tmp_path_factory) -> Path:
    inv("testbed.reset", HOST)
    root = tmp_path_factory.mktemp("hostile") / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    for name, text in (("setup", SETUP), ("hostile", DEPLOY), ("inspect", INSPECT)):
        (root / "playbooks" / (name + ".yml")).write_text(textwrap.dedent(text).lstrip())
    write_inventory(root, ROOT / "inventory/known_hosts", {HOST: live_testbed[HOST]})
    return root


def run_playbook(project: Path, name: str) -> dict:
    out = project / (name + ".json")
    done = inv("deploy", "--playbook=" + name, "--json", str(out), cwd=project, check=False)
    assert out.exists(), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(out.read_text())["hosts"][HOST]


def steps(report: dict) -> dict:
    return {s["task"]: s for s in report["steps"]}


def canaries(project: Path) -> dict:
    report = run_playbook(project, "inspect")
    assert report["failed"] == 0, report
    return {name: s["stdout"] for name, s in steps(report).items()}


def test_planted_paths_are_refused_and_root_files_stay_untouched(project):
    setup = run_playbook(project, "setup")
    assert setup["failed"] == 0, setup
    before = canaries(project)
    assert "600 root root %s" % CANARY in before["canaries"]

    report = run_playbook(project, "hostile")
    done = steps(report)
    for task, words in REFUSED.items():
        # Each hostile task has ignore_errors, so the run goes on: its failure is "ignored".
        assert done[task]["status"] == "ignored", (task, done[task])
        assert words in done[task]["msg"], (task, done[task]["msg"])
    assert done["fifo"]["elapsed"] < 10  # refused at once, never opened
    hard = done["hard link"]
    assert hard["status"] == "ignored" and ("hard link" in hard["msg"] or "refused" in hard["msg"])
    assert done["look-alike temp names"]["status"] == "changed"

    assert canaries(project) == before
    assert before["canary folder listing"].split() == ["inside"]


def test_a_second_deploy_is_refused_the_same_way(project):
    """Nothing the first attempt did made the planted paths acceptable."""
    before = canaries(project)
    done = steps(run_playbook(project, "hostile"))
    assert all(done[task]["status"] == "ignored" for task in REFUSED)
    assert canaries(project) == before

