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


def test_a_task_expecting_an_argument_error_reads_ansible_s_words(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: both, command: echo testing, args: {argv: [echo, testing]},
           ignore_errors: true}
        - {name: unknown, shell: echo hi, args: {expand_argument_vars: false},
           ignore_errors: true}
        """)
    assert [s["op"] for s in plan.steps] == ["fail", "fail"]
    assert "parameters are mutually exclusive: cmd|argv" in plan.steps[0]["args"]["msg"]
    assert plan.steps[1]["args"]["msg"] == \
        "Unsupported parameters for (shell) module: expand_argument_vars"


def test_free_form_options_are_taken_out_wherever_they_stand_as_in_ansible() -> None:
    from mainsail.opspec import OPS, free_form_args
    shell = OPS["shell"]
    assert free_form_args(shell, 'executable="{{ sh }}"\ncreates={{ d }}/f\necho "test"\n') \
        == {"executable": "{{ sh }}", "creates": "{{ d }}/f", "cmd": 'echo "test"\n'}
    assert free_form_args(OPS["command"], "make  all a\\=b c=d chdir=/srv stdin='x y'") == \
        {"chdir": "/srv", "stdin": "x y", "cmd": "make  all a=b c=d"}
    # a lone backslash ends a line: the lines are one (as a shell reads them too)
    assert free_form_args(shell, 'echo a \\\n"b\nc" \\\n| cat\necho d\n')["cmd"] == \
        'echo a "b\nc" | cat\necho d\n'
    heredoc = "cat <<EOF\nOne\n  Two\n    Three\nEOF\n"
    assert free_form_args(shell, heredoc)["cmd"] == heredoc


def test_a_free_form_string_with_an_open_quote_is_refused() -> None:
    import pytest

    from mainsail.errors import BadInput
    from mainsail.opspec import OPS, free_form_args
    with pytest.raises(BadInput, match="unbalanced"):
        free_form_args(OPS["shell"], "echo don't")


def test_check_mode_results_read_as_ansible_s(tmp_path: Path) -> None:
    plain = run_op("command", {"cmd": "true"}, check=True)
    assert plain.status == "skipped" and plain.rc == 0
    assert "Command would have run if not in check mode" in plain.msg
    guarded = run_op("command", {"cmd": "true", "creates": "True", "chdir": str(tmp_path)},
                     check=True)
    assert guarded.status == "changed" and guarded.msg == plain.msg


def test_strip_empty_ends_drops_trailing_carriage_returns_too() -> None:
    script = "printf 'hello \\n \\r\\n'; printf 'hello \\n \\r\\n' >&2"
    out = run_op("shell", {"cmd": script})
    assert out.stdout == "hello \n " and out.stderr == "hello \n "
    kept = run_op("shell", {"cmd": script, "strip_empty_ends": False})
    assert kept.stdout == "hello \n \r\n" and kept.stderr == "hello \n \r\n"
