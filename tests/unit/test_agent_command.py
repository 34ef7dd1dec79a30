"""command and shell: guards, changed_when / failed_when, check mode, and the safe evaluator."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mainsail.agent import safeexpr
from mainsail.agent.core import OpError
from test_agent_support import run_op


def test_command_runs_an_argv_without_a_shell() -> None:
    outcome = run_op("command", {"cmd": "echo a | b $HOME", "expand_argument_vars": False})
    assert outcome.status == "changed"
    assert outcome.stdout == "a | b $HOME"  # no pipe, no expansion
    assert outcome.rc == 0 and outcome.cmd == "echo a '|' b '$HOME'"


def test_command_expands_variables_in_its_words_like_ansible(monkeypatch) -> None:
    monkeypatch.setenv("MS_WORD", "x y")
    outcome = run_op("command", {"argv": ["echo", "$MS_WORD", "a|b"]})
    assert outcome.stdout == "x y a|b"  # one word still, and no shell
    assert outcome.data["cmd"] == ["echo", "x y", "a|b"]


def test_command_expands_variables_from_the_tasks_environment_too() -> None:
    outcome = run_op("command", {"cmd": "/bin/sh -c 'echo \"\\$MS_TASK_VAR\"'",
                                 "environment": {"MS_TASK_VAR": "z"}})
    assert outcome.stdout == "\\z"  # expanded before sh reads the word, as in Ansible
    kept = run_op("command", {"argv": ["echo", "$MS_NONE", "${MS_TASK_VAR}"],
                              "environment": {"MS_TASK_VAR": "z"}})
    assert kept.stdout == "$MS_NONE z"


def test_command_returns_ansible_fields() -> None:
    outcome = run_op("command", {"argv": ["sh", "-c", "echo one; echo two; echo err >&2"]})
    data = outcome.data
    assert data["stdout_lines"] == ["one", "two"] and data["stderr_lines"] == ["err"]
    assert data["start"] <= data["end"] and data["delta"].startswith("0:00:")
    assert outcome.rc == 0 and outcome.stdout == "one\ntwo"


def test_stdin_gets_a_newline_and_output_ends_can_be_kept() -> None:
    out = run_op("command", {"argv": ["od", "-c"], "stdin": "ab"})
    assert "\\n" in out.stdout
    out = run_op("command", {"argv": ["printf", "x\n\n"], "strip_empty_ends": False})
    assert out.stdout == "x\n\n"


def test_shell_executable_and_its_fields(tmp_path) -> None:
    out = run_op("shell", {"cmd": "echo ${BASH_VERSION:+bash}", "executable": "/bin/bash"})
    assert out.stdout == "bash" and out.data["cmd"] == "echo ${BASH_VERSION:+bash}"
    assert out.data["stdout_lines"] == ["bash"]


def test_command_ignores_executable_with_a_warning_as_ansible_does() -> None:
    out = run_op("command", {"cmd": "ls /dev/null", "executable": "/bogus"})
    assert out.status == "changed" and out.stdout == "/dev/null"
    assert len(out.data["warnings"]) == 1 and "no longer supported" in out.data["warnings"][0]


def test_a_missing_chdir_fails_in_ansibles_words(tmp_path: Path) -> None:
    out = run_op("command", {"cmd": "echo", "chdir": str(tmp_path / "nope")})
    assert out.status == "failed" and "Unable to change directory" in out.msg


def test_command_takes_an_argv_list() -> None:
    outcome = run_op("command", {"argv": ["printf", "%s-%s", "a b", "c"]})
    assert outcome.stdout == "a b-c"


def test_command_needs_exactly_one_of_cmd_and_argv() -> None:
    assert run_op("command", {}).status == "failed"
    assert run_op("command", {"cmd": "true", "argv": ["true"]}).status == "failed"


def test_shell_runs_through_bin_sh() -> None:
    outcome = run_op("shell", {"cmd": "echo a | tr a b; echo err >&2"})
    assert (outcome.status, outcome.stdout, outcome.stderr) == ("changed", "b", "err")
    assert outcome.cmd == "echo a | tr a b; echo err >&2"


def test_a_non_zero_exit_fails_with_the_tail_of_stderr() -> None:
    outcome = run_op("shell", {"cmd": "echo first >&2; echo last >&2; exit 3"})
    assert outcome.status == "failed" and outcome.rc == 3
    assert "non-zero return code 3" in outcome.msg and "last" in outcome.msg


def test_a_missing_program_fails_with_rc_127() -> None:
    outcome = run_op("command", {"cmd": "no-such-program-xyz --flag"})
    assert outcome.status == "failed" and outcome.rc == 127
    # the reason is the message; no output, as Ansible's (a failed_when may read them)
    assert "command not found" in outcome.msg and outcome.stdout == outcome.stderr == ""


def test_chdir_environment_and_stdin(tmp_path: Path) -> None:
    outcome = run_op("shell", {"cmd": "pwd; echo $GREETING; cat", "chdir": str(tmp_path),
                               "environment": {"GREETING": "hi"}, "stdin": "from stdin"})
    assert outcome.stdout.splitlines() == [str(tmp_path), "hi", "from stdin"]


def test_a_missing_chdir_is_reported(tmp_path: Path) -> None:
    outcome = run_op("command", {"cmd": "true", "chdir": str(tmp_path / "nope")})
    assert outcome.status == "failed" and "no such directory" in outcome.msg


# ---- guards ----------------------------------------------------------------------

def test_creates_skips_when_the_path_exists(tmp_path: Path) -> None:
    marker = tmp_path / "done"
    args = {"cmd": "touch %s" % marker, "creates": str(marker)}
    assert run_op("shell", args).status == "changed" and marker.exists()
    skipped = run_op("shell", args)
    assert skipped.status == "ok" and "not run command since" in skipped.msg
    assert skipped.rc == 0 and skipped.stdout.startswith("skipped, since")  # Ansible's fields


def test_creates_is_relative_to_chdir_and_may_be_a_glob(tmp_path: Path) -> None:
    (tmp_path / "out-1.log").write_text("")
    outcome = run_op("shell", {"cmd": "exit 9", "chdir": str(tmp_path), "creates": "out-*.log"})
    assert outcome.status == "ok"


def test_removes_skips_when_the_path_is_missing(tmp_path: Path) -> None:
    target = tmp_path / "old"
    args = {"cmd": "rm %s" % target, "removes": str(target)}
    assert run_op("command", args).status == "ok"
    target.write_text("")
    assert run_op("command", args).status == "changed" and not target.exists()


def test_unless_skips_when_its_command_succeeds(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.write_text("enabled\n")
    marker = tmp_path / "ran"
    skipped = run_op("shell", {"cmd": "touch %s" % marker, "unless": "grep -q enabled %s" % conf})
    assert skipped.status == "ok" and "unless" in skipped.msg and not marker.exists()
    ran = run_op("shell", {"cmd": "touch %s" % marker, "unless": "grep -q other %s" % conf})
    assert ran.status == "changed" and marker.exists()


# ---- check mode ------------------------------------------------------------------

def test_check_mode_skips_a_command_no_guard_decides(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    outcome = run_op("shell", {"cmd": "touch %s" % marker}, check=True)
    assert outcome.status == "skipped" and not marker.exists()  # as in Ansible
    assert outcome.msg == "Command would have run if not in check mode"
    guarded = run_op("shell", {"cmd": "touch %s" % marker, "creates": str(marker)}, check=True)
    assert guarded.status == "changed" and not marker.exists()  # the guard says it would run


def test_check_mode_still_honours_guards(tmp_path: Path) -> None:
    marker = tmp_path / "exists"
    marker.write_text("")
    outcome = run_op("command", {"cmd": "false", "creates": str(marker)}, check=True)
    assert outcome.status == "ok"
    assert outcome.msg == "Would not run command since %s exists" % marker
    assert outcome.rc == 0 and outcome.stdout == "skipped, since %s exists" % marker


def test_check_mode_with_changed_when_false_reports_ok(tmp_path: Path) -> None:
    outcome = run_op("command", {"cmd": "false", "changed_when": False,
                                 "removes": str(tmp_path)}, check=True)
    assert outcome.status == "ok"


def test_check_mode_still_refuses_an_unsafe_condition() -> None:
    outcome = run_op("command", {"cmd": "true", "changed_when": "__import__('os')"}, check=True)
    assert outcome.status == "failed" and "not allowed" in outcome.msg


# ---- changed_when / failed_when ----------------------------------------------------

@pytest.mark.parametrize("script,changed_when,status", [
    ("echo already installed", '"already" in stdout', "changed"),
    ("echo fresh", '"already" not in stdout', "changed"),
    ("echo already", '"already" not in stdout', "ok"),
    ("exit 0", False, "ok"),
    ("exit 0", "false", "ok"),
    ("exit 0", "rc == 0 and not stderr", "changed"),
])
def test_changed_when(script: str, changed_when: object, status: str) -> None:
    assert run_op("shell", {"cmd": script, "changed_when": changed_when}).status == status


@pytest.mark.parametrize("script,failed_when,status", [
    ("exit 2", "rc not in [0, 2]", "changed"),
    ("exit 1", "rc not in [0, 2]", "failed"),
    ("echo ERROR", '"ERROR" in stdout', "failed"),
    ("exit 5", "false", "changed"),
])
def test_failed_when(script: str, failed_when: object, status: str) -> None:
    outcome = run_op("shell", {"cmd": script, "failed_when": failed_when})
    assert outcome.status == status
    if status == "failed":
        assert "failed_when" in outcome.msg


def test_stdout_is_compared_without_its_final_newline() -> None:
    assert run_op("shell", {"cmd": "echo yes", "changed_when": 'stdout == "yes"'}).status == "changed"


# ---- the safe evaluator ----------------------------------------------------------

VALUES = {"rc": 2, "stdout": "already up to date", "stderr": ""}


@pytest.mark.parametrize("expr,expected", [
    ("rc == 2", True), ("rc != 2", False), ("rc in (0, 2)", True), ("rc >= 1 and rc < 3", True),
    ('"up to date" in stdout', True), ('"date" not in stdout or rc == 0', False),
    ("not stderr", True), ("true", True), ("False", False), ("rc == -1", False),
    ("stdout", True), ("0 < rc < 5", True), ("rc is None", False),
])
def test_safe_evaluator_accepts_simple_expressions(expr: str, expected: bool) -> None:
    assert safeexpr.evaluate(expr, VALUES) is expected


@pytest.mark.parametrize("expr", [
    "__import__('os')", "__import__('os').system('touch /tmp/pwned')", "open('/etc/shadow')",
    "stdout.upper()", "result.__class__", "result['__class__']", "stdout | upper()",
    "stdout | system", "(lambda: 1)()", "[x for x in stdout]", "rc + 1 == 3",
    "os", "globals()", "rc.__class__", "f'{rc}'", "x := 1",
])
def test_safe_evaluator_refuses_anything_else(expr: str) -> None:
    with pytest.raises(OpError):
        safeexpr.evaluate(expr, VALUES)


@pytest.mark.parametrize("expr,expected", [
    ("result.rc == 2", True), ("result['stdout'] == stdout", True),
    ("stdout_lines | length == 2", True), ("result.stdout_lines[1] == 'up to date'", True),
    ("'already' in result.stdout_lines[0]", True), ("result.failed", True),
    ("result.changed", False), ("stderr_lines | length > 0", False),
    ("result.rc | string == '2'", True),
])
def test_safe_evaluator_reads_the_result_under_ansible_s_names(expr: str, expected: bool) -> None:
    values = safeexpr.result_values(2, "already\nup to date", "", failed=True)
    assert safeexpr.evaluate(expr, values) is expected


def test_a_missing_result_field_is_named() -> None:
    with pytest.raises(OpError) as info:
        safeexpr.evaluate("result.status == 0", safeexpr.result_values(0, "", ""))
    assert "no field 'status'" in str(info.value)


@pytest.mark.parametrize("expr,name,bound", [
    ("out.rc != 0 and 'out' in out.stdout", "out", "result.rc != 0 and 'out' in result.stdout"),
    ("x.out == 1 or out['rc'] == 2", "out", "x.out == 1 or result['rc'] == 2"),
    ("rc == 0", "out", "rc == 0"),
])
def test_a_registered_name_is_bound_to_the_step_s_own_result(expr: str, name: str,
                                                            bound: str) -> None:
    assert safeexpr.bind_register(expr, name) == bound


def test_safe_evaluator_never_runs_a_call(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(OpError):
        safeexpr.evaluate("__import__('os').system('touch %s')" % marker, VALUES)
    assert not marker.exists()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_safe_evaluator_on_any_text_returns_a_bool_or_refuses(expr: str) -> None:
    try:
        result = safeexpr.evaluate(expr, VALUES)
    except OpError:
        return
    assert isinstance(result, bool)


def test_safe_evaluator_refuses_a_nul_byte_on_every_python() -> None:
    with pytest.raises(OpError, match="cannot parse"):
        safeexpr.evaluate("rc == 0\x00", VALUES)
