"""`become: false` on a task runs that step as the login user, even when the rest of the
host's steps escalate (issue 10, item 8)."""
from __future__ import annotations

import pwd
import textwrap
from pathlib import Path

from mainsail.agentproc import local_agent
from mainsail.inventory import Host
from mainsail.plan import build_plan
from mainsail.playbook import load_playbook

PLAY = """
- hosts: all
  become: true
  tasks:
    - name: as root
      command: {cmd: id -un}
    - name: as the login user
      command: {cmd: id -un}
      become: false
"""


def steps(tmp_path: Path) -> list[dict]:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks/site.yml").write_text(textwrap.dedent(PLAY).lstrip())
    host = Host("web1", user="nobody")  # the login user
    plan = build_plan(tmp_path, load_playbook(tmp_path)[0], host, {}, {})
    return plan.steps


def test_a_become_false_step_is_planned_as_the_login_user(tmp_path: Path) -> None:
    root, login = steps(tmp_path)
    assert (root["become"], root["become_user"]) == (True, "root")
    assert (login["become"], login["become_user"]) == (False, "nobody")


def test_the_agent_runs_a_become_false_step_as_the_login_user(tmp_path: Path) -> None:
    assert pwd.getpwnam("nobody")
    with local_agent(str(tmp_path / "agent")) as client:  # as root, as an escalated run is
        results = client.run([dict(s, id=i) for i, s in enumerate(steps(tmp_path), 1)], {})
    assert [r["stdout"].strip() for r in results] == ["root", "nobody"]
