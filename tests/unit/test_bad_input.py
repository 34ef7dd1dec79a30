"""The bad-input suite: malformed or hostile projects and command lines, run as a user would.

Every case must end with exit 4, one line on stderr (`error: WHERE: WHAT (hint: ...)`), no
traceback, and nothing run on any host: the project's first task would leave a marker.
Hosts are `connection: local`, so nothing here needs the testbed.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD_INVENTORY = """all:
  hosts:
    h1: {connection: local, mainsail_state_dir: STATE}
"""
GOOD_PLAYBOOK = """- hosts: all
  roles: [r]
  tasks:
    - name: marker
      copy: {content: "ran\\n", dest: "MARK"}
"""
GOOD_ROLE_TASKS = """- name: role marker
  copy: {content: "{{ greeting }}\\n", dest: "MARK.role"}
- name: a template
  template: {src: t.j2, dest: "MARK.t"}
"""


def make_project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    for folder in ("inventory", "playbooks", "roles/r/tasks", "roles/r/defaults",
                   "roles/r/templates", "roles/r/meta"):
        (root / folder).mkdir(parents=True)
    mark = str(tmp_path / "marker")
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    (root / "inventory/hosts.yml").write_text(GOOD_INVENTORY.replace("STATE",
                                                                     str(tmp_path / "st")))
    (root / "playbooks/site.yml").write_text(GOOD_PLAYBOOK.replace("MARK", mark))
    (root / "roles/r/tasks/main.yml").write_text(GOOD_ROLE_TASKS.replace("MARK", mark))
    (root / "roles/r/defaults/main.yml").write_text("greeting: hello\n")
    (root / "roles/r/templates/t.j2").write_text("{{ greeting }} from {{ inventory_hostname }}\n")
    return root


# name: (file to write, its content, extra command-line words, text the error must contain)
CASES = {
    "inventory syntax": ("inventory/hosts.yml", "all:\n  hosts: [h1\n", [], "hosts.yml:"),
    "inventory duplicate key": ("inventory/hosts.yml",
                                "all:\n  hosts:\n    h1: {}\n    h1: {}\n", [], "duplicate"),
    "inventory wrong type": ("inventory/hosts.yml", "all:\n  hosts: [h1, h2]\n", [],
                             "hosts.yml:"),
    "host name with shell": ("inventory/hosts.yml", "all:\n  hosts:\n    'h1;rm -rf /': {}\n",
                             [], "hosts.yml:"),
    "host name with newline": ("inventory/hosts.yml",
                               "all:\n  hosts:\n    \"h1\\nh2\": {}\n", [], "hosts.yml:"),
    "port not a number": ("inventory/hosts.yml",
                          "all:\n  hosts:\n    h1: {connection: local, port: abc}\n", [],
                          "port"),
    "binary garbage": ("inventory/hosts.yml", b"\x00\xff\xfe garbage \x80\x81", [],
                       "hosts.yml"),
    "huge file": ("playbooks/site.yml", "# " + "x" * (6 * 1024 * 1024) + "\n", [], "site.yml"),
    "playbook not a list": ("playbooks/site.yml", "hosts: all\n", [], "site.yml"),
    "unknown play keyword": ("playbooks/site.yml", "- hosts: all\n  rolez: [r]\n", [],
                             "roles"),
    "unknown operation": ("roles/r/tasks/main.yml", "- name: x\n  cpoy: {dest: /tmp/x}\n", [],
                          "copy"),
    "unknown argument": ("roles/r/tasks/main.yml",
                         "- name: x\n  copy: {content: x, dets: /tmp/x}\n", [], "dest"),
    "missing argument": ("roles/r/tasks/main.yml", "- name: x\n  copy: {content: x}\n", [],
                         "dest"),
    "wrong argument type": ("roles/r/tasks/main.yml",
                            "- name: x\n  file: {path: /tmp/x, mode: 644}\n", [], "mode"),
    "option-like path": ("roles/r/tasks/main.yml", "- name: x\n  file: {path: -rf}\n", [],
                         "path"),
    "bad when": ("roles/r/tasks/main.yml",
                 "- name: x\n  command: {cmd: 'true'}\n  when: '1 +'\n", [], "main.yml:"),
    "unknown handler": ("roles/r/tasks/main.yml",
                        "- name: x\n  command: {cmd: 'true'}\n  notify: nope\n", [], "nope"),
    "insertafter BOF": ("roles/r/tasks/main.yml",
                        "- name: x\n  line: {path: /tmp/x, line: a, insertafter: BOF}\n", [],
                        "insertbefore: BOF"),
    "register": ("roles/r/tasks/main.yml",
                 "- name: x\n  command: {cmd: 'true'}\n  register: 1out\n", [], "register"),
    "missing role": ("playbooks/site.yml", "- hosts: all\n  roles: [nosuchrole]\n", [],
                     "nosuchrole"),
    "dependency cycle": ("roles/r/meta/main.yml", "dependencies: [r]\n", [], "cycle"),
    "missing template": ("roles/r/tasks/main.yml",
                         "- name: x\n  template: {src: gone.j2, dest: /tmp/x}\n", [],
                         "gone.j2"),
    "template syntax": ("roles/r/templates/t.j2", "{% if %}\n", [], "t.j2:1"),
    "undefined variable": ("roles/r/templates/t.j2", "ok\n{{ nope }}\n", [], "t.j2:2"),
    "bad --var": (None, None, ["--var", "novalue"], "--var"),
    "bad --forks": (None, None, ["--forks", "0"], "forks"),
    "unknown --host": (None, None, ["--host", "h2"], "h1"),
    "hostile --host": (None, None, ["--host", "h1;touch /tmp/x"], "h1"),
    "unknown --limit": (None, None, ["--limit", "all:&nogroup"], "nogroup"),
    "playbook path escape": (None, None, ["--playbook", "../../etc/passwd"], "playbook"),
    "missing playbook": (None, None, ["--playbook", "nosuch"], "nosuch"),
}


def deploy(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "deploy", *args], cwd=root,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})


def test_the_good_project_runs(tmp_path):
    root = make_project(tmp_path)
    done = deploy(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "marker").read_text() == "ran\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clean_line_and_nothing_runs(case, tmp_path):
    root = make_project(tmp_path)
    path, content, args, expected = CASES[case]
    if path:
        target = root / path
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    done = deploy(root, *args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 4, done.stdout + done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert expected in lines[0], lines[0]
    assert "(hint: " in lines[0], lines[0]
    assert not (tmp_path / "marker").exists() and not (tmp_path / "marker.role").exists()


def test_shell_metacharacters_never_reach_a_shell(tmp_path):
    root = make_project(tmp_path)
    pwned = tmp_path / "pwned"
    odd = tmp_path / "a file; touch pwned $(touch pwned) `touch pwned` |&>"
    (root / "roles/r/tasks/main.yml").write_text(
        "- name: odd names are names\n"
        "  copy: {content: \"x\\n\", dest: \"%s\", validate: \"test -s %%s\"}\n"
        "- name: odd words are words\n"
        "  command: {argv: [touch, \"%s.2\"]}\n"
        "- name: odd command text is split, never run by a shell\n"
        "  command: {cmd: \"echo ; touch %s\"}\n" % (odd, odd, pwned))
    done = deploy(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert odd.read_text() == "x\n" and Path(str(odd) + ".2").exists()
    assert not pwned.exists()
    assert not [p for p in (tmp_path, root, Path.cwd()) if (p / "pwned").exists()]
