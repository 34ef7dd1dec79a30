"""Each flag on each command it applies to (deploy, plan, run, put, get, facts, hosts,
verify), where test_flags.py does not drive it already. Offline: the temp project's hosts are
`connection: local`, and `--list-hosts` stops a command before it connects."""

import io
import json
import sys

import pytest

from mainsail import vault

from tests.unit.test_flags import assert_bad_command_line, mainsail, project  # noqa: F401

# the words each command needs before its flags
ARGS = {"put": ["tasks.py", "/tmp/never-written"], "get": ["/etc/hostname", "out"],
        "run": ["--cmd", "uptime"]}
REACHING = ("deploy", "plan", "run", "put", "get", "facts")


def call(name: str, *flags: str) -> tuple[int, str, str]:
    return mainsail(name, *ARGS.get(name, []), *flags)


# ---------------------------------------------------------------- selection and reach

@pytest.mark.parametrize("name", [*REACHING, "hosts", "verify"])
def test_inventory_flag_on_every_command(project, name):
    code, out, err = call(name, "-i", "inventory/other.yml", "--list-hosts")
    assert code == 0, err
    if name in ("deploy", "plan"):  # the play targets h1, which that inventory lacks
        assert "play #1 (h1): h1  host count=0" in out
    else:
        assert "    solo" in out and "h1" not in out


@pytest.mark.parametrize("name", [*REACHING, "hosts", "verify"])
def test_limit_flag_on_every_command(project, name):
    code, out, err = call(name, "--limit", "h1", "--list-hosts")
    assert code == 0, err
    assert "    h1" in out and "h2" not in out


@pytest.mark.parametrize("name", [*REACHING, "hosts", "verify"])
def test_user_forks_and_verbosity_are_taken_everywhere_they_apply(project, name):
    flags = ["-u", "bob", "-v"] + (["-f", "3"] if name != "hosts" else [])
    code, _, err = call(name, *flags, "--list-hosts")
    assert code == 0, err
    assert_bad_command_line(call(name, "-u"), "user")  # a flag that needs a value


@pytest.mark.parametrize("name", [*REACHING, "hosts"])
def test_become_is_taken_everywhere_it_applies(project, name):
    code, _, err = call(name, "-b", "--list-hosts")
    assert code == 0, err


@pytest.mark.parametrize("name", REACHING)
def test_ask_become_pass_needs_a_terminal_everywhere(project, name, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert_bad_command_line(call(name, "-K"), "--ask-become-pass")


@pytest.mark.parametrize("name", ["deploy", "plan", "run", "verify"])
def test_ask_vault_pass_needs_a_terminal_everywhere(project, name, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert_bad_command_line(call(name, "--ask-vault-pass"), "--ask-vault-pass")


@pytest.mark.parametrize("name", ["deploy", "plan", "verify", "run"])
def test_vault_password_file_opens_encrypted_vars_everywhere(project, name, tmp_path,
                                                              monkeypatch):
    for var in (vault.ENV_PASSWORD, vault.ENV_PASSWORD_FILE):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(vault, "_interactive", lambda: False)
    (project / "inventory/group_vars").mkdir()
    (project / "inventory/group_vars/all.yml").write_text(vault.encrypt(
        b"greeting: sealed-hello\n", b"right", vault.KdfParams(n=2 ** 10, r=8, p=1)))
    (tmp_path / "right").write_text("right\n")
    (tmp_path / "wrong").write_text("wrong\n")
    (tmp_path / "right").chmod(0o600)
    (tmp_path / "wrong").chmod(0o600)
    extra = ["-m", "debug", "-a", "msg={{ greeting }}"] if name == "run" else []
    code, out, err = mainsail(name, *extra, "-l", "h1", "--vault-password-file",
                              str(tmp_path / "right"), "--list-hosts")
    assert code == 0 and "h1" in out, err
    code, _, err = mainsail(name, *extra, "-l", "h1", "--vault-password-file",
                            str(tmp_path / "wrong"), "--list-hosts")
    assert code == 4 and "sealed-hello" not in err, err
    if name == "run":  # and the value reaches the operation, masked in the output
        code, out, err = mainsail(name, *extra, "-l", "h1", "--vault-password-file",
                                  str(tmp_path / "right"))
        assert code == 0 and "h1 | OK" in out and "sealed-hello" not in out, err


# ---------------------------------------------------------------- plan

def test_plan_takes_extra_vars_tags_and_start_at_task(project, tmp_path):
    code, out, err = mainsail("plan", "-l", "h1", "-e", "greeting=planned-greeting")
    assert code == 8, err
    assert "+planned-greeting" in out and not (tmp_path / "marker").exists()
    code, out, _ = mainsail("plan", "-l", "h1", "-t", "mark")
    assert code == 8 and "1 to change: marker" in out
    code, out, _ = mainsail("plan", "-l", "h1", "--skip-tags", "mark")
    assert code == 8 and "h1: 2 to change: role marker; a template\n" in out
    code, out, _ = mainsail("plan", "-l", "h1", "--start-at-task", "marker")
    assert code == 8 and "h1: 1 to change: marker" in out


def test_plan_diff_is_on_and_no_diff_hides_it(project):
    assert "+ran" in mainsail("plan", "-l", "h1", "-D")[1]
    assert "+ran" not in mainsail("plan", "-l", "h1", "--no-diff")[1]


def test_plan_verbosity_shows_the_steps_that_would_not_change(project):
    assert mainsail("deploy", "-l", "h1")[0] == 0
    code, out, _ = mainsail("plan", "-l", "h1")
    assert code == 0 and "h1: no changes" in out and "ok       marker" not in out
    code, out, _ = mainsail("plan", "-l", "h1", "-v")
    assert code == 0 and "ok       marker" in out


def test_plan_writes_both_reports(project, tmp_path):
    code, _, _ = mainsail("plan", "-l", "h1", "--json", str(tmp_path / "p.json"), "--junit",
                          str(tmp_path / "p.xml"))
    assert code == 8
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["check"] is True and report["hosts"]["h1"]["changed"] == 3
    assert 'failures="0"' in (tmp_path / "p.xml").read_text()


@pytest.mark.parametrize("flag", ["--list-tasks", "--list-tags", "--syntax-check"])
def test_plan_lists_and_checks_without_connecting(project, flag):
    (project / "inventory/hosts.yml").write_text(
        "all:\n  hosts:\n    h1: {address: 127.0.7.250, port: 1}\n")
    code, out, err = mainsail("plan", flag)
    assert code == 0 and out.startswith("playbook: site"), err


# ---------------------------------------------------------------- run, put, get, facts

def test_run_a_shell_command_on_a_local_host(project):
    code, out, err = mainsail("run", "-l", "h1,h2", "-f", "1", "-v", "--cmd",
                              "echo out; echo err >&2")
    assert code == 0, err
    assert "running on 2 hosts" in out
    assert "h1       | out" in out and "h2       | out" in out and "h1       | err" in err
    assert "h1       = exit 0" in out
    code, out, _ = mainsail("run", "-l", "h1", "--cmd", "exit 3")
    assert code == 2 and "h1       = exit 3" in out


def test_run_with_become_runs_as_the_become_user(project):
    code, out, err = mainsail("run", "-l", "h1", "-b", "--cmd", "id -un")
    assert code == 0 and "h1       | root" in out, err


def test_run_an_operation_verbosely_shows_its_output(project):
    code, out, err = mainsail("run", "-l", "h1", "-v", "-m", "command", "-a", "echo loud")
    assert code == 0, err
    assert out.count("loud") >= 3  # the step line's output, stdout and stdout_lines


def test_put_diff_shows_what_changes(project, tmp_path):
    dest = tmp_path / "put-diff"
    dest.write_text("old line\n")
    (project / "new.txt").write_text("new line\n")
    code, out, err = mainsail("put", "new.txt", str(dest), "-l", "h1", "-D", "-C")
    assert code == 0, err
    assert "h1       | -old line" in out and "h1       | +new line" in out
    assert dest.read_text() == "old line\n"
    code, out, _ = mainsail("put", "new.txt", str(dest), "-l", "h1", "-v", "-b")
    assert code == 0 and "-old line" not in out and dest.read_text() == "new line\n"


def test_get_fetches_each_hosts_copy(project, tmp_path):
    (tmp_path / "remote.txt").write_text("fetched\n")
    code, out, err = mainsail("get", str(tmp_path / "remote.txt"), str(tmp_path / "got"),
                              "-l", "h1,h2", "-f", "1", "-T", "2.5", "-v")
    assert code == 0, err
    for host in ("h1", "h2"):
        assert (tmp_path / "got" / host / "remote.txt").read_text() == "fetched\n"
    code, out, _ = mainsail("get", str(tmp_path / "absent"), str(tmp_path / "got"), "-l", "h1")
    assert code == 2 and "FAILED" in out and "absent" in out


def test_facts_takes_become_user_and_forks(project):
    code, out, err = mainsail("facts", "-l", "h1,h2", "-b", "-u", "bob", "-f", "1")
    assert code == 0, err
    assert set(json.loads(out)) == {"h1", "h2"}


# ---------------------------------------------------------------- hosts, verify

def test_hosts_takes_verbosity_and_the_old_group_spelling(project):
    (project / "inventory/hosts.yml").write_text(
        "all:\n  children:\n    web:\n      hosts:\n        h1: {connection: local}\n"
        "  hosts:\n    h2: {connection: local}\n")
    code, out, _ = mainsail("hosts", "--group", "web", "-v")
    assert code == 0 and out.startswith("h1 ") and "h2 " not in out


def test_verify_takes_its_playbook(project):
    (project / "playbooks/other.yml").write_text("- hosts: h2\n  roles: [r]\n")
    code, out, err = mainsail("verify", "--playbook", "other", "--list-hosts", "-l", "h2")
    assert code == 0 and "    h2" in out, err
    code, _, err = mainsail("verify", "--playbook", "nosuch", "-l", "h2")
    assert code == 4 and "nosuch" in err
