"""The command line as ansible-playbook users type it: each flag on each command it applies to.

Runs the `mainsail` program in-process against a temp project whose hosts are
`connection: local` (nothing here needs the testbed), from the project's folder.
"""

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mainsail import __version__
from mainsail.cli import MainsailProgram
from mainsail.flags import log_protocol, parse_extra_vars
from mainsail.preflight import step_through
from mainsail.tasks import ns

from tests.unit.test_bad_input import make_project

COMMANDS = ("deploy", "plan", "run", "put", "get", "facts", "hosts", "verify", "rollback",
            "ping", "ssh-config")
REPO = Path(__file__).resolve().parents[2]


def mainsail(*argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `mainsail ARGV...` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    program = MainsailProgram(namespace=ns, version=__version__, binary="mainsail",
                              name="Mainsail")
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            program.run(["mainsail", *argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = make_project(tmp_path)
    (root / "inventory/hosts.yml").write_text(
        "all:\n  hosts:\n"
        "    h1: {connection: local, mainsail_state_dir: %s}\n"
        "    h2: {connection: local, mainsail_state_dir: %s}\n"
        % (tmp_path / "st1", tmp_path / "st2"))
    (root / "inventory/other.yml").write_text(
        "all:\n  hosts:\n    solo: {connection: local, mainsail_state_dir: %s}\n"
        % (tmp_path / "st3"))
    (root / "playbooks/site.yml").write_text(
        "- hosts: h1\n  roles: [r]\n  tasks:\n"
        "    - name: marker\n      copy: {content: \"ran\\n\", dest: \"%s\"}\n"
        "      tags: [mark]\n" % (tmp_path / "marker"))
    for name in ("MAINSAIL_INVENTORY", "MAINSAIL_FORKS", "MAINSAIL_TIMEOUT", "MAINSAIL_USER",
                 "MAINSAIL_PLAYBOOK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(root)
    return root


def assert_bad_command_line(result: tuple[int, str, str], *words: str) -> None:
    code, _, err = result
    assert code == 4, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: command line: "), err
    assert "hint:" in lines[0] and "Traceback" not in err
    for word in words:
        assert word in lines[0]


# ---------------------------------------------------------------- help and parse errors

@pytest.mark.parametrize("name", COMMANDS)
def test_dash_h_is_help_on_every_command(project, name):
    code, out, err = mainsail(name, "-h")
    assert code == 0, err
    assert out.startswith("Usage: mainsail [--core-opts] %s" % name)


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_flag_exits_4_with_one_line(project, name):
    positional = {"put": ["tasks.py", "/tmp/x"], "get": ["/etc/hostname", "out"]}
    assert_bad_command_line(mainsail(name, *positional.get(name, []), "--bogus"), "--bogus")


def test_short_flags_are_the_same_everywhere():
    wanted = {"extra_vars": "-e", "verbose": "-v", "limit": "-l", "inventory": "-i",
              "tags": "-t", "check": "-C", "diff": "-D", "forks": "-f", "user": "-u",
              "become": "-b", "ask_become_pass": "-K", "timeout": "-T", "module": "-m",
              "args": "-a"}
    for task_name in ("deploy", "plan", "run", "put", "get", "facts", "hosts", "verify",
                      "rollback"):
        for arg in ns[task_name].get_arguments():
            shorts = [n for n in arg.names if len(n) == 1]
            expected = wanted.get(arg.attr_name or arg.name)
            assert shorts == ([expected[1]] if expected else []), (task_name, arg.names)


def test_reports_are_long_flags_only(project):
    assert_bad_command_line(mainsail("deploy", "-j", "x.json"))


# ---------------------------------------------------------------- selection

def test_limit_and_inventory(project):
    code, out, _ = mainsail("hosts", "-l", "h2")
    assert code == 0 and out.startswith("h2 ") and "h1 " not in out
    code, out, _ = mainsail("hosts", "-i", "inventory/other.yml")
    assert code == 0 and out.startswith("solo ")
    code, out, _ = mainsail("hosts", "--host", "h1")  # the old spelling still works
    assert code == 0 and out.startswith("h1 ") and "h2 " not in out


def test_a_limit_matching_nothing_is_bad_input(project):
    code, _, err = mainsail("facts", "-l", "nosuch")
    assert code == 4 and "nosuch" in err


@pytest.mark.parametrize("name", ["deploy", "plan", "run", "put", "get", "facts", "hosts",
                                  "verify", "rollback"])
def test_list_hosts_connects_to_nothing(project, name):
    extra = {"put": ["tasks.py", "/tmp/x"], "get": ["/etc/hostname", "out"],
             "run": ["--cmd", "uptime"]}.get(name, [])
    # the playbook's one play targets h1: deploy and friends list the hosts it would run on
    code, out, err = mainsail(name, *extra, "-l", "h2", "--list-hosts")
    assert code == 0, err
    if name in ("deploy", "plan"):
        assert "host count=0" in out and "    h2" not in out
    else:
        assert "    h2" in out and "    h1" not in out


def test_user_and_become_override_the_inventory(project):
    code, out, _ = mainsail("hosts", "-u", "bob", "-b")
    assert code == 0 and "bob@h1" in out and "become" in out
    code, out, _ = mainsail("ssh-config", "-l", "h1", "-u", "carol")
    assert "  User carol" in out


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("name", ["deploy", "plan", "run", "put", "get", "facts", "rollback"])
def test_timeout_takes_fractions_and_refuses_words(project, name):
    extra = {"put": ["tasks.py", "/tmp/x"], "get": ["/etc/hostname", "out"],
             "run": ["--cmd", "uptime"]}.get(name, [])
    code, _, err = mainsail(name, *extra, "-T", "0.5", "--list-hosts")
    assert code == 0, err
    assert_bad_command_line(mainsail(name, *extra, "-T", "abc"), "--timeout")
    assert_bad_command_line(mainsail(name, *extra, "-f", "0"), "--forks")


def test_settings_come_from_flag_then_environment_then_invoke_yaml(project, monkeypatch):
    (project / "invoke.yaml").write_text("mainsail:\n  inventory: inventory/other.yml\n")
    assert mainsail("hosts")[1].startswith("solo ")
    monkeypatch.setenv("MAINSAIL_INVENTORY", "inventory/hosts.yml")
    assert mainsail("hosts")[1].startswith("h1 ")
    assert mainsail("hosts", "-i", "inventory/other.yml")[1].startswith("solo ")


def test_the_project_root_is_found_from_a_subfolder(project, monkeypatch):
    (project / "invoke.yaml").write_text("mainsail:\n  inventory: inventory/other.yml\n")
    monkeypatch.chdir(project / "roles" / "r" / "tasks")
    code, out, err = mainsail("hosts")
    assert code == 0 and out.startswith("solo "), err


# ---------------------------------------------------------------- extra vars

def test_extra_vars_in_every_form(tmp_path):
    (tmp_path / "v.yml").write_text("a: 1\nb: from file\n")
    got = parse_extra_vars(["a=2 c=three", '{"d": [1, 2]}', "@v.yml", "e=", "port=8080"],
                           tmp_path)
    assert got == {"a": 1, "b": "from file", "c": "three", "d": [1, 2], "e": "",
                   "port": 8080}


@pytest.mark.parametrize("bad", ["novalue", "1x=2", "{oops", "[1, 2]", "@missing.yml"])
def test_bad_extra_vars_exit_4(project, bad):
    code, _, err = mainsail("deploy", "-e", bad)
    assert code == 4 and "-e" in err and "Traceback" not in err


def test_extra_vars_reach_the_templates_and_repeat(project, tmp_path):
    (project / "more.yml").write_text("greeting: from a file\n")
    code, _, err = mainsail("deploy", "-e", "greeting=one", "-e", "@more.yml")
    assert code == 0, err
    assert (tmp_path / "marker.role").read_text() == "from a file\n"
    code, _, err = mainsail("deploy", "--var", "greeting=old spelling")
    assert code == 0, err
    assert (tmp_path / "marker.role").read_text() == "old spelling\n"


# ---------------------------------------------------------------- what runs

def test_check_changes_nothing_and_diff_shows(project, tmp_path):
    code, out, err = mainsail("deploy", "-C", "-D")
    assert code == 0, err
    assert not (tmp_path / "marker").exists()
    assert "+ran" in out


def test_tags_and_skip_tags(project, tmp_path):
    assert mainsail("deploy", "-t", "mark")[0] == 0
    assert (tmp_path / "marker").exists() and not (tmp_path / "marker.role").exists()
    (tmp_path / "marker").unlink()
    assert mainsail("deploy", "--skip-tags", "mark")[0] == 0
    assert not (tmp_path / "marker").exists() and (tmp_path / "marker.role").exists()


def test_list_tasks_and_tags(project):
    code, out, _ = mainsail("deploy", "--list-tasks")
    assert code == 0
    assert "r : role marker" in out and "roles/r/tasks/main.yml:1" in out
    assert "marker" in out and "TAGS: [mark]" in out
    code, out, _ = mainsail("plan", "--list-tags")
    assert code == 0 and "TASK TAGS: [mark]" in out
    code, out, _ = mainsail("deploy", "--list-tasks", "-t", "mark")
    assert "TAGS: [mark]" in out and "role marker" not in out
    code, out, _ = mainsail("deploy", "--list-tasks", "--skip-tags", "mark")
    assert "role marker" in out and "TAGS: [mark]" not in out


def test_start_at_task(project, tmp_path):
    code, _, err = mainsail("deploy", "--start-at-task", "marker")
    assert code == 0, err
    assert (tmp_path / "marker").exists() and not (tmp_path / "marker.role").exists()
    code, _, err = mainsail("deploy", "--start-at-task", "makrer")
    assert code == 4 and "did you mean 'marker'" in err


def test_step_asks_for_each_task_and_continue_takes_the_rest(project):
    from mainsail.playbook import load_playbook
    from mainsail.vault import Vault
    plays = load_playbook(project, "site", Vault())
    answers = iter(["n", "x", "c"])
    asked = []
    kept = step_through(plays, lambda q: asked.append(q) or next(answers))
    assert len(asked) == 3  # "x" is asked again; "c" answers the last task and any after
    assert [t.title for t in kept[0].roles[0].role.tasks] == ["a template"]


@pytest.mark.parametrize("flag", ["--step", "-K", "--ask-vault-pass"])
def test_prompts_without_a_terminal_are_bad_input(project, flag, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    long_name = {"-K": "--ask-become-pass"}.get(flag, flag)
    assert_bad_command_line(mainsail("deploy", flag), long_name)


def test_verbosity_is_counted(project):
    code, out, _ = mainsail("deploy", "-v")
    assert code == 0 and "msg: file created" in out and "at roles/" not in out
    assert "    dest: " not in out
    code, out, _ = mainsail("deploy", "-vv", "-e", "greeting=again")
    assert code == 0 and "at roles/r/tasks/main.yml:1" in out
    assert "    dest: %s" % (project.parent / "marker.role") in out


def test_double_v_never_shows_a_no_log_tasks_arguments(project, tmp_path):
    (project / "playbooks/quiet.yml").write_text(
        "- hosts: h1\n  tasks:\n    - name: secret file\n      no_log: true\n"
        "      copy: {content: \"hush-hush-value\\n\", dest: \"%s\"}\n" % (tmp_path / "q"))
    code, out, err = mainsail("deploy", "--playbook", "quiet", "-vv")
    assert code == 0, err
    assert "secret file" in out and "hush-hush-value" not in out + err
    assert (tmp_path / "q").read_text() == "hush-hush-value\n"


def test_triple_v_logs_the_ssh_protocol():
    logger = logging.getLogger("paramiko")
    before = (logger.level, list(logger.handlers))
    try:
        log_protocol(3)
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(before[0])
        logger.handlers[:] = before[1]


def test_json_and_junit_reports(project, tmp_path):
    code, _, err = mainsail("deploy", "--json", str(tmp_path / "r.json"), "--junit",
                            str(tmp_path / "r.xml"))
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["hosts"]["h1"]
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")


def test_json_report_steps_carry_the_ops_return_data_masked(project, tmp_path, monkeypatch):
    from mainsail import vault
    (project / "inventory/group_vars").mkdir()
    (project / "inventory/group_vars/all.yml").write_text(vault.encrypt(
        b"token: s3cr3t-t0ken\n", b"pw", vault.KdfParams(n=2 ** 10, r=8, p=1)))
    monkeypatch.setenv(vault.ENV_PASSWORD, "pw")
    target = tmp_path / "statme"
    target.write_text("x")
    (project / "playbooks/site.yml").write_text(
        "- hosts: h1\n  tasks:\n"
        "    - name: look\n      stat: {path: %s}\n"
        "    - name: echo\n      command: echo hello\n"
        "    - name: secret\n      command: echo {{ token }}\n"
        "    - name: hidden\n      stat: {path: %s}\n      no_log: true\n"
        % (target, target))
    code, _, err = mainsail("deploy", "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    text = (tmp_path / "r.json").read_text()
    look, echo, secret, hidden = json.loads(text)["hosts"]["h1"]["steps"]
    assert look["data"]["stat"]["exists"] is True and look["data"]["stat"]["size"] == 1
    assert echo["data"]["stdout_lines"] == ["hello"]
    assert "s3cr3t-t0ken" not in text and "stdout_lines" not in secret["data"]
    assert "stat" not in hidden["data"]


# ---------------------------------------------------------------- syntax check

def test_syntax_check_with_every_host_down_reports_bad_input(project, tmp_path):
    (project / "inventory/hosts.yml").write_text(
        "all:\n  hosts:\n    h1: {address: 127.0.6.1, port: 1}\n")
    code, out, err = mainsail("deploy", "--syntax-check")
    assert code == 0 and "syntax ok (1 host plans" in out, err
    (project / "roles/r/templates/t.j2").write_text("{{ no_such_var }}\n")
    code, _, err = mainsail("plan", "--syntax-check")
    assert code == 4 and "no_such_var" in err and "t.j2" in err, err


# ---------------------------------------------------------------- ad hoc commands

def test_run_check_names_the_command_and_hosts(project):
    code, out, _ = mainsail("run", "-C", "-l", "h1", "--cmd", "uptime")
    assert code == 0 and "would run: uptime" in out and "h1" in out


def test_put_check_writes_nothing(project, tmp_path):
    dest = tmp_path / "put-target"
    code, out, err = mainsail("put", "tasks.py", str(dest), "-l", "h1", "-C")
    assert code == 0, err
    assert not dest.exists() and "h1" in out
    code, _, err = mainsail("put", "tasks.py", str(dest), "-l", "h1", "-T", "5", "-f", "2")
    assert code == 0 and dest.exists(), err


def test_facts_of_a_local_host(project):
    code, out, err = mainsail("facts", "-l", "h1", "-T", "2.5")
    assert code == 0, err
    assert "hostname" in json.loads(out)["h1"]


def test_inv_gets_the_same_command_line_contract(project):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "invoke", "deploy", "--bogus"], cwd=project,
                          capture_output=True, text=True, timeout=120, env=env)
    assert_bad_command_line((done.returncode, done.stdout, done.stderr), "--bogus")
