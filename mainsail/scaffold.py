"""`mainsail init DIR`: a new project of one's own, ready to check and deploy.

The example host is `connection: local` (this machine, state kept in the project), so
`mainsail deploy` works at once with no SSH; the inventory shows how to add a real host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from .errors import BadInput

FILES: Mapping[str, str] = {
    "tasks.py": '''"""The project's tasks for `inv` (the `mainsail` command needs no tasks.py)."""
from mainsail.tasks import ns  # noqa: F401
''',
    "invoke.yaml": '''# Project settings, read by `mainsail` and `inv` from anywhere in the project.
# Each may also come from the environment (MAINSAIL_INVENTORY, ...) or a flag, which win.
mainsail:
  inventory: inventory/hosts.yml
  playbook: site
  forks: 20
  timeout: 10
  # vault_password_file: ~/.config/mainsail/this-project.pass   (never commit it)
''',
    "inventory/hosts.yml": '''# Hosts and groups (Ansible's YAML inventory). `mainsail hosts` shows them resolved.
all:
  children:
    web:
      hosts:
        example1:
          # This machine, no SSH: try `mainsail plan` and `mainsail deploy` at once.
          connection: local
          mainsail_state_dir: {root}/.state/example1
        # A real host is reached over SSH with its key pinned in known_hosts:
        # web1:
        #   address: 192.0.2.10
        #   user: deploy
        #   become: true
        #   ssh_key: ~/.ssh/id_ed25519
        #   known_hosts: inventory/known_hosts
''',
    "inventory/group_vars/web.yml": '''# Variables for every host of the group `web`.
greeting: Hello from Mainsail
''',
    "playbooks/site.yml": '''# The playbook `mainsail deploy` applies (mainsail.playbook in invoke.yaml).
- name: web servers
  hosts: web
  roles:
    - hello
''',
    "roles/hello/defaults/main.yml": '''# The role's variables, lowest precedence: inventory and -e override them.
hello_dir: /tmp/mainsail-example
greeting: Hello
''',
    "roles/hello/tasks/main.yml": '''- name: hello folder
  file:
    path: "{{ hello_dir }}"
    state: directory
    mode: "0755"

- name: hello page
  template:
    src: hello.txt.j2
    dest: "{{ hello_dir }}/hello.txt"
    mode: "0644"
''',
    "roles/hello/templates/hello.txt.j2": '''{{ greeting }}, {{ inventory_hostname }}!
''',
    ".gitignore": '''.state/
.testbed/
.venv/
__pycache__/
reports/
*.pass
''',
    ".ci/check": '''#!/bin/sh
# CI: check everything offline, then show what a deploy would change (exit 8 means
# "something would change"; treat it as a failure only if the pipeline wants no drift).
set -eu
cd "$(dirname "$0")/.."
mainsail deploy --syntax-check
mainsail plan --junit reports/plan.xml --json reports/plan.json || test $? -eq 8
''',
}


def init(target: Path) -> list[Path]:
    """Lay out a new project in ``target`` (missing or empty); the files written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BadInput("%s already exists and is not an empty folder" % target,
                       where="command line", hint="give a new folder: mainsail init myproject")
    written = []
    for name, text in FILES.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{root}", str(target.resolve())), encoding="utf-8")
        written.append(path)
    (target / ".ci/check").chmod(0o755)
    (target / "reports").mkdir()
    return written
