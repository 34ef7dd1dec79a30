"""Issue 10, item 7: no secret, nor any value computed from one, reaches what a run shows or
leaves behind readable by others."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
from rich.console import Console

from mainsail import vault
from mainsail.agent import journal, lock
from mainsail.inventory import load_inventory, select_hosts
from mainsail.playbook import load_playbook
from mainsail.report import Masker, Progress, write_json
from mainsail.runner import RunOptions, run_playbook
from mainsail.vault import KdfParams

PASSWORD = "correct horse battery staple"
FAST = KdfParams(n=2 ** 10, r=8, p=1)
DB_PASSWORD = "Sup3r-S3cret-Pw"
PIN = 48151623
CODES = (90210777, 31337000)


@pytest.fixture(autouse=True)
def fresh_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (vault.ENV_PASSWORD, vault.ENV_PASSWORD_FILE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(vault, "_interactive", lambda: False)
    yield


def sealed(text: str) -> str:
    return vault.encrypt(textwrap.dedent(text).lstrip("\n").encode(), PASSWORD.encode(), FAST)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def project(tmp_path: Path, tasks: str) -> Path:
    root = tmp_path / "proj"
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    write(root / "inventory/hosts.yml",
          "all:\n  vars:\n    out: %s\n  hosts:\n    a: {connection: local, "
          "mainsail_state_dir: %s}\n" % (out, tmp_path / "state"))
    write(root / "inventory/group_vars/all/vault.yml",
          sealed("db_password: %s\npin: %d\ncodes: [%d, %d]\n" % (DB_PASSWORD, PIN, *CODES)))
    write(root / "inventory/group_vars/all/vars.yml",
          'db_b64: "{{ db_password | b64encode }}"\n'
          'dsn: "{{ \'postgres://app:\' ~ db_password }}"\n')
    write(root / "playbooks/site.yml",
          "- hosts: all\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "    "))
    return root


def run(root: Path) -> tuple[Any, str, Masker]:
    inv = load_inventory(root / "inventory/hosts.yml", root=root)
    out = io.StringIO()
    progress = Progress(Console(file=out, width=300), Masker(), show_diff=True)
    record = run_playbook(root, inv, load_playbook(root), select_hosts(inv),
                          RunOptions(diff=True), progress)
    return record, out.getvalue(), progress.mask


# ---------------------------------------------------------------------------- non-strings

def test_encrypted_numbers_and_lists_of_them_are_secrets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = project(tmp_path, "- command: {cmd: 'true'}\n")
    inv = load_inventory(root / "inventory/hosts.yml", root=root)
    host = inv.hosts["a"]
    assert {str(PIN), *map(str, CODES)} <= set(inv.secrets)
    # What `inv hosts` prints for each var; the value itself still works as a number.
    assert repr(host.vars["pin"]) == "***" and str(PIN) not in repr(host.vars["codes"])
    assert host.vars["pin"] == PIN and "%s" % host.vars["pin"] == str(PIN)
    assert json.dumps(host.vars["codes"]) == json.dumps(list(CODES))


def test_inv_hosts_does_not_print_an_encrypted_number(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from mainsail import tasks
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = project(tmp_path, "- command: {cmd: 'true'}\n")
    inv = load_inventory(root / "inventory/hosts.yml", root=root)
    from types import SimpleNamespace
    monkeypatch.setattr(tasks, "target",
                        lambda *a, **k: SimpleNamespace(hosts=list(inv.hosts.values())))
    from invoke import Context
    tasks.hosts.body(Context())
    shown = capsys.readouterr().out
    assert "pin" in shown and "codes" in shown
    for value in (PIN, *CODES):
        assert str(value) not in shown


# ---------------------------------------------------------------------------- derived values

DERIVED = {
    "b64": base64.b64encode(DB_PASSWORD.encode()).decode(),
    "upper": DB_PASSWORD.upper(),
    "concat": "postgres://app:" + DB_PASSWORD,
    "json": json.dumps({"pw": DB_PASSWORD}),
    "hex-ish": DB_PASSWORD[::-1],
    "pin+1": str(PIN + 1),
}


def test_values_computed_from_a_secret_are_masked_in_output_diffs_and_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = project(tmp_path, """
        - name: "b64 {{ db_password | b64encode }}"
          copy: {content: "{{ db_password | b64encode }}\\n", dest: "{{ out }}/b64"}
        - copy: {content: "{{ db_password | upper }}\\n", dest: "{{ out }}/upper"}
        - copy: {content: "{{ dsn }}\\n", dest: "{{ out }}/dsn"}
        - copy: {content: "{{ {'pw': db_password} | to_json }}\\n", dest: "{{ out }}/json"}
        - copy: {content: "{{ db_password | reverse | join('') }}\\n", dest: "{{ out }}/rev"}
        - name: "pin {{ pin + 1 }}"
          copy: {content: "{{ db_b64 }} {{ pin + 1 }}\\n", dest: "{{ out }}/var"}
        - name: the failing step prints them all
          shell: {cmd: "cat {{ out }}/*; exit 3"}
        """)
    for name in ("b64", "upper", "dsn", "json", "rev", "var"):
        write(tmp_path / "out" / name, "old\n")
    record, out, mask = run(root)
    assert record.hosts["a"].failed == 1
    shown_by_host = record.hosts["a"].steps[-1].stdout
    for value in DERIVED.values():
        assert value in shown_by_host  # the files held them, the command printed them
    write_json(record, tmp_path / "report.json", mask)
    report = (tmp_path / "report.json").read_text()
    for kind, value in DERIVED.items():
        assert value not in out, kind
        assert json.dumps(value)[1:-1] not in report and value not in report, kind
    assert DB_PASSWORD not in out and DB_PASSWORD not in report


def test_a_value_without_a_secret_in_its_making_stays_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = project(tmp_path, """
        - copy: {content: "{{ 'plain-value' | upper }}\\n", dest: "{{ out }}/plain"}
        """)
    record, out, mask = run(root)
    assert record.hosts["a"].failed == 0
    assert "+PLAIN-VALUE" in out


# ---------------------------------------------------------------------------- local commands

def test_local_commands_do_not_inherit_the_vault_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    monkeypatch.setenv("MAINSAIL_VAULT_EXTRA", "another-vault-setting")
    root = project(tmp_path, """
        - shell: {cmd: "env; exit 3"}
        """)
    record, out, mask = run(root)
    assert record.hosts["a"].failed == 1
    stdout = record.hosts["a"].steps[-1].stdout
    assert "PATH=" in stdout  # the command did print its environment
    assert "MAINSAIL_VAULT" not in stdout and PASSWORD not in stdout
    assert PASSWORD not in out


# ---------------------------------------------------------------------------- inv verify

def test_verify_keeps_vars_in_process_and_masks_the_output(tmp_path: Path) -> None:
    from mainsail.inventory import Host
    from mainsail.verify import HostChecks, check_host
    tests = write(tmp_path / "roles/app/tests/test_app.py", textwrap.dedent("""
        import os

        def test_vars_reach_the_check_and_no_file_or_variable_holds_them(host, hostvars):
            assert hostvars["pin"] == %d
            assert not [k for k in os.environ if k.startswith("MAINSAIL_VERIFY")]
            assert host.run("echo %%s", "checked").stdout == "checked\\n"

        def test_fails_quoting_the_secret(hostvars):
            assert hostvars["db_password"] == "something else"
        """ % PIN))
    host = Host(name="a", connection="local", vars={"mainsail_state_dir": str(tmp_path / "st")})
    secret_vars = {"db_password": vault.Secret(DB_PASSWORD), "pin": PIN}
    from mainsail.yamlio import as_secrets
    from mainsail.masking import Masker
    checks = HostChecks(host, ("app",), (tests,), as_secrets(dict(secret_vars), set()))
    state, output = check_host(checks, 10.0)
    assert state == "failed"
    assert "1 failed, 1 passed" in output, output
    masked = Masker().with_secrets([DB_PASSWORD])(output)
    assert DB_PASSWORD in output and "***" in masked and DB_PASSWORD not in masked


# ---------------------------------------------------------------------------- on the host

def test_journal_backups_keep_the_original_mode_and_owner(tmp_path: Path) -> None:
    for mode in (0o600, 0o640, 0o644):
        original = write(tmp_path / ("f%o" % mode), "content\n")
        os.chmod(original, mode)
        book = journal.Journal(str(tmp_path / ("j%o" % mode)))
        book.save(str(original))
        data = tmp_path / ("j%o" % mode) / "1.data"
        st, was = data.stat(), original.stat()
        assert stat.S_IMODE(st.st_mode) == mode
        assert (st.st_uid, st.st_gid) == (was.st_uid, was.st_gid)


def test_every_state_folder_the_agent_makes_is_private(tmp_path: Path) -> None:
    state = tmp_path / "var/lib/mainsail/agent"
    got = lock.acquire(str(state / "run.lock"), {}, 0)
    got["lock"].release()
    book = journal.Journal(str(state / "journal/20260101-run/01-app"))
    write(tmp_path / "f", "x\n")
    book.save(str(tmp_path / "f"))
    for folder in (tmp_path / "var", tmp_path / "var/lib", tmp_path / "var/lib/mainsail", state,
                   state / "journal", state / "journal/20260101-run"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_an_existing_open_state_folder_is_made_private(tmp_path: Path) -> None:
    state = tmp_path / "mainsail/agent"
    state.mkdir(parents=True)
    os.chmod(state, 0o755)
    os.chmod(state.parent, 0o755)
    lock.acquire(str(state / "run.lock"), {}, 0)["lock"].release()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_the_bootstrap_makes_the_state_folders_private(tmp_path: Path) -> None:
    import subprocess
    from mainsail.agentproc import BOOTSTRAP
    folder = tmp_path / "lib/mainsail/agent"
    done = subprocess.run([sys.executable, "-I", "-c", BOOTSTRAP, "0" * 64, str(folder)],
                          input=b"0\n", capture_output=True, timeout=60)
    assert done.returncode == 3  # no agent bytes given: it stops after making the folder
    for path in (tmp_path / "lib", tmp_path / "lib/mainsail", folder):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


# ---------------------------------------------------------------------------- password file

def test_a_password_file_others_can_read_is_warned_about_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loose = write(tmp_path / "loose", PASSWORD + "\n")
    os.chmod(loose, 0o644)
    tight = write(tmp_path / "tight", PASSWORD + "\n")
    os.chmod(tight, 0o600)
    for _ in range(2):
        vault.Vault(password_file=str(tight)).keyring.password("x")
    assert capsys.readouterr().err == ""
    for _ in range(3):
        vault.Vault(password_file=str(loose)).keyring.password("x")
    err = capsys.readouterr().err
    assert err.count("warning") == 1
    assert str(loose) in err and "chmod 600" in err and PASSWORD not in err


def test_reading_one_host_var_through_hostvars_is_not_reading_its_secrets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mainsail.plan import build_plan
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = project(tmp_path, """
        - copy: {content: "{{ hostvars['b'].address }}\\n", dest: "{{ out }}/address"}
        - copy: {content: "{{ hostvars['b'].sudo_pw | b64encode }}\\n", dest: "{{ out }}/pw"}
        - copy: {content: "{% for v in hostvars['b'].values() %}{{ v }}{% endfor %}",
                 dest: "{{ out }}/all"}
        """)
    hosts = root / "inventory/hosts.yml"
    hosts.write_text(hosts.read_text() + "    b: {address: 127.0.0.99}\n")
    write(root / "inventory/host_vars/b.yml", sealed("sudo_pw: b-sudo-password\n"))
    inv = load_inventory(hosts, root=root)
    plan = build_plan(root, load_playbook(root)[0], inv.hosts["a"], {}, {}, inventory=inv)
    # The third step outputs every value of b: all of them are masked, the address too.
    assert [s["no_log"] for s in plan.steps] == [False, True, True]
    assert "b-sudo-password" in plan.secrets
    assert base64.b64encode(b"b-sudo-password").decode() in plan.secrets
