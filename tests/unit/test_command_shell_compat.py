"""command and shell as Ansible's command_shell target uses them: argument forms and types,
the words Ansible's errors use, check mode, result fields."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_agent_support import run_op
from tests.unit.test_segments import plan_tasks


def test_a_boolean_guard_is_the_path_its_text_names_as_in_ansible(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, "- {command: {cmd: 'true', creates: yes, chdir: /}}\n")
    assert plan.steps[0]["args"]["creates"] == "True"
    out = run_op("command", {"cmd": "true", "creates": "True", "chdir": str(tmp_path)})
    assert out.status == "changed"  # no file named True there: it runs
