"""Encrypted variables files: the format, passwords, the loader, and masking in every output."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
from rich.console import Console

from mainsail import vault
from mainsail.errors import BadInput
from mainsail.inventory import load_inventory, select_hosts
from mainsail.plan import build_plan
from mainsail.playbook import load_playbook
from mainsail.report import Masker, Progress, write_json, write_junit
from mainsail.runner import RunOptions, run_playbook
from mainsail.vault import DEFAULT_KDF, KdfParams, Secret
from mainsail.yamlio import load_yaml

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
# The smallest parameters a vault file may carry: these tests derive keys by the dozen.
FAST = KdfParams(n=2 ** 10, r=8, p=1)
DB_PASSWORD = "Sup3r-S3cret-Pw"
API_TOKEN = "Tok-4711-zz-api"
ROLE_SECRET = "R0le-D3fault-Secret"
KEY_LINE = "QUJDREVGR0hJSktMTU5PUA=="
TLS_KEY = "-----BEGIN TEST KEY-----\n%s\n-----END TEST KEY-----\n" % KEY_LINE
SECRETS = (DB_PASSWORD, API_TOKEN, ROLE_SECRET, KEY_LINE)


@pytest.fixture(autouse=True)
def fresh_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (vault.ENV_PASSWORD, vault.ENV_PASSWORD_FILE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(vault, "_interactive", lambda: False)
    yield


def sealed(text: str, password: str = PASSWORD, params: KdfParams = FAST) -> str:
    return vault.encrypt(textwrap.dedent(text).lstrip("\n").encode(), password.encode(), params)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def assert_clean(text: str, *, masked: bool = True) -> None:
    for secret in SECRETS:
        assert secret not in text
    if masked:
        assert "***" in text


# ---------------------------------------------------------------------------- format

def test_round_trip_with_a_header_line_and_base64_lines() -> None:
    text = vault.encrypt("a: 1\nb: héllo\n".encode(), b"pw", FAST)
    header, *body = text.splitlines()
    assert header == "$MAINSAIL_VAULT;1;scrypt;n=1024,r=8,p=1;aes256gcm"
    assert all(len(line) <= 76 for line in body)
    assert vault.decrypt(text, b"pw").decode() == "a: 1\nb: héllo\n"
    assert vault.encrypt(b"same", b"pw", FAST) != vault.encrypt(b"same", b"pw", FAST)  # salt


def test_the_default_kdf_is_memory_hard_and_written_in_the_header() -> None:
    assert (DEFAULT_KDF.n, DEFAULT_KDF.r, DEFAULT_KDF.p) == (2 ** 17, 8, 1)
    assert DEFAULT_KDF.memory >= 128 * 1024 * 1024
    text = vault.encrypt(b"x: 1\n", b"pw")
    assert text.startswith("$MAINSAIL_VAULT;1;scrypt;n=131072,r=8,p=1;aes256gcm\n")


def test_a_wrong_password_is_a_clean_error_naming_the_file() -> None:
    with pytest.raises(BadInput) as caught:
        vault.decrypt(sealed("a: 1\n"), b"not it", "inventory/group_vars/all/vault.yml")
    assert str(caught.value) == ("cannot decrypt inventory/group_vars/all/vault.yml: wrong "
                                 "vault password or the file was altered")
    assert caught.value.exit_code == 4


def flip(text: str, line: int, index: int) -> str:
    lines = text.split("\n")
    chars = list(lines[line])
    chars[index] = "A" if chars[index] != "A" else "B"
    lines[line] = "".join(chars)
    return "\n".join(lines)


def test_any_change_to_the_ciphertext_is_detected() -> None:
    text = sealed("a: 1\n")
    body = "".join(text.splitlines()[1:])
    raw = bytearray(base64.b64decode(body))
    for offset in (0, 20, len(raw) - 1):  # salt, nonce, tag
        changed = bytearray(raw)
        changed[offset] ^= 1
        forged = text.splitlines()[0] + "\n" + base64.b64encode(bytes(changed)).decode() + "\n"
        with pytest.raises(BadInput, match="wrong vault password or the file was altered"):
            vault.decrypt(forged, PASSWORD.encode(), "v.yml")


def test_the_header_is_authenticated_too() -> None:
    text = sealed("a: 1\n", params=KdfParams(n=2 ** 11))
    weaker = text.replace("n=2048", "n=1024", 1)
    with pytest.raises(BadInput, match="cannot decrypt v.yml: wrong vault password or the file"):
        vault.decrypt(weaker, PASSWORD.encode(), "v.yml")


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.replace(";aes256gcm", ";aes128cbc"), "unknown vault format"),
    (lambda t: t.replace("scrypt;n=1024", "scrypt;n=x"), "parameters"),
    (lambda t: t.replace("n=1024", "n=536870912"), "unusable scrypt parameters"),
    (lambda t: t.replace("r=8", "r=3000"), "parameters"),
    (lambda t: t.replace(";1;scrypt", ";1;scrypt;x"), "header line is damaged"),
    (lambda t: t.splitlines()[0] + "\n" + t.splitlines()[1][:20] + "\n", "too short"),
    (lambda t: t + "!!!\n", "not valid base64"),
])
def test_a_damaged_file_is_a_clean_error(damage: Any, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        vault.decrypt(damage(sealed("a: 1\n")), PASSWORD.encode(), "v.yml")
    assert message in str(caught.value) and "v.yml" in str(caught.value)


def test_re_encrypting_never_weakens_the_parameters() -> None:
    assert FAST.at_least(DEFAULT_KDF) == DEFAULT_KDF
    stronger = KdfParams(n=2 ** 18, r=8, p=2)
    assert stronger.at_least(DEFAULT_KDF) == stronger


def test_a_secret_reprs_masked_but_is_its_value() -> None:
    secret = Secret("hunter22")
    assert repr(secret) == "'***'" and repr({"pw": secret}) == "{'pw': '***'}"
    assert str(secret) == "hunter22" and f"{secret}" == "hunter22" and secret == "hunter22"


# ---------------------------------------------------------------------------- the password

def test_password_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    option = write(tmp_path / "option", "from-option\n")
    env_file = write(tmp_path / "env", "from-env-file\r\n")
    configured = write(tmp_path / "configured", "from-config")

    def found() -> tuple[bytes, str]:
        got = vault.Keyring(str(option) if use_option else None, str(configured)).password("v")
        return got.value, got.source.split()[0]

    monkeypatch.setenv(vault.ENV_PASSWORD_FILE, str(env_file))
    monkeypatch.setenv(vault.ENV_PASSWORD, "from-env")
    use_option = True
    assert found() == (b"from-option", "--vault-password-file")
    use_option = False
    assert found() == (b"from-env-file", vault.ENV_PASSWORD_FILE)
    monkeypatch.delenv(vault.ENV_PASSWORD_FILE)
    assert found() == (b"from-env", vault.ENV_PASSWORD)
    monkeypatch.delenv(vault.ENV_PASSWORD)
    assert found() == (b"from-config", "mainsail.vault_password_file")


def test_the_prompt_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BadInput) as caught:
        vault.Keyring().password("group_vars/all/vault.yml")
    assert "group_vars/all/vault.yml needs the vault password and none was given" in \
        str(caught.value) and vault.ENV_PASSWORD in caught.value.hint
    monkeypatch.setattr(vault, "_interactive", lambda: True)
    typed = iter(["typed", "typed"])
    monkeypatch.setattr(vault.getpass, "getpass", lambda prompt: next(typed))
    assert vault.Keyring().password("v", confirm=True) == vault.Password(b"typed", "the prompt")


def test_a_missing_or_empty_password_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not found"):
        vault.Keyring(str(tmp_path / "nope")).password("v")
    with pytest.raises(BadInput, match="empty"):
        vault.Keyring(str(write(tmp_path / "empty", "\n"))).password("v")


def test_the_password_is_asked_once_and_keys_are_derived_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault, "_interactive", lambda: True)
    asked: list[str] = []
    monkeypatch.setattr(vault.getpass, "getpass", lambda prompt: asked.append(prompt) or PASSWORD)
    text = sealed("a: 1\n")
    run = vault.Vault()
    for _ in range(3):
        assert vault.decrypt_text(text, "v.yml", run) == "a: 1\n"
    assert len(asked) == 1


def test_each_run_has_its_own_vault_and_secrets(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is kept per process: a run's password and decrypted values are its own."""
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    write(tmp_path / "inventory/hosts.yml", "all:\n  hosts:\n    a:\n")
    write(tmp_path / "inventory/group_vars/all/vault.yml", sealed(f"db: {DB_PASSWORD}\n"))
    first, second = vault.Vault(), vault.Vault()
    load_inventory(tmp_path / "inventory/hosts.yml", root=tmp_path, secrets=first)
    assert first.secrets() == (DB_PASSWORD,) and second.secrets() == ()


# ---------------------------------------------------------------------------- the loader

def test_an_encrypted_vars_file_loads_as_secrets_with_its_own_positions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    write(tmp_path / "inventory/hosts.yml", "all:\n  hosts:\n    a:\n")
    write(tmp_path / "inventory/group_vars/all/vault.yml", sealed(f"""
        db_password: {DB_PASSWORD}
        port: 5432
        users: [{{name: app, pw: {API_TOKEN}}}]
        """))
    inv = load_inventory(tmp_path / "inventory/hosts.yml", root=tmp_path)
    host = inv.hosts["a"]
    assert isinstance(host.vars["db_password"], Secret) and host.vars["port"] == 5432
    assert isinstance(host.vars["users"][0]["pw"], Secret)
    assert host.var_sources["db_password"] == "inventory/group_vars/all/vault.yml:1"
    assert set(inv.secrets) == {DB_PASSWORD, API_TOKEN, "app", "5432"}  # numbers too
    assert DB_PASSWORD not in repr(host.vars)


def test_errors_in_an_encrypted_file_name_it(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    path = write(tmp_path / "group_vars/all.yml", sealed("a: 1\nb: [unclosed\n"))
    with pytest.raises(BadInput) as caught:
        load_yaml(path, tmp_path, vars_file=True)
    assert caught.value.where.startswith("group_vars/all.yml:")


def test_only_vars_files_may_be_encrypted(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    write(tmp_path / "playbooks/site.yml", sealed("- hosts: all\n"))
    with pytest.raises(BadInput, match="only variables files may be"):
        load_playbook(tmp_path)


def test_a_damaged_ansible_vault_file_is_bad_input_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path / "vars.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(BadInput, match="Ansible Vault payload is damaged") as caught:
        load_yaml(path, tmp_path, vars_file=True)
    assert "cannot decrypt vars.yml" in caught.value.what


def test_the_wrong_password_stops_loading_with_the_file_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, "wrong")
    write(tmp_path / "inventory/hosts.yml", "all:\n  hosts:\n    a:\n")
    write(tmp_path / "inventory/group_vars/all/vault.yml", sealed("x: 1\n"))
    with pytest.raises(BadInput) as caught:
        load_inventory(tmp_path / "inventory/hosts.yml", root=tmp_path)
    assert str(caught.value).startswith("cannot decrypt inventory/group_vars/all/vault.yml: "
                                        "wrong vault password or the file was altered")
    assert vault.ENV_PASSWORD in caught.value.hint


# ---------------------------------------------------------------------------- masking

PLAYBOOK = """
- hosts: all
  vars_files: [vars/api.yml]
  roles: [app]
  tasks:
    - name: "configure with {{ db_password }}"
      template: {src: app.ini.j2, dest: "{{ out }}/app.ini", mode: "0600"}
    - name: key
      copy: {content: "{{ tls_key }}", dest: "{{ out }}/key.pem", mode: "0600"}
    - name: "call the api with {{ api_token }}"
      command: {cmd: "echo {{ api_token }}"}
    - name: replace the old config
      copy: {content: "clean\\n", dest: "{{ out }}/old.conf"}
    - name: show the config, then fail
      shell: {cmd: "cat {{ out }}/app.ini {{ out }}/key.pem; exit 3"}
"""


def secret_project(tmp_path: Path, playbook: str = PLAYBOOK) -> Path:
    root = tmp_path / "proj"
    out = tmp_path / "out"
    out.mkdir()
    write(root / "inventory/hosts.yml",
          "all:\n  vars:\n    out: %s\n  hosts:\n    a: {connection: local, "
          "mainsail_state_dir: %s}\n" % (out, tmp_path / "state"))
    write(root / "inventory/group_vars/all/vault.yml", sealed("db_password: %s\ntls_key: %s\n"
                                                              % (DB_PASSWORD, json.dumps(TLS_KEY))))
    write(root / "inventory/group_vars/all/vars.yml",
          'db_url: "postgres://app:{{ db_password }}@db/app"\n')
    write(root / "playbooks/vars/api.yml", sealed("api_token: %s\napi_header: 'Bearer "
                                                  "{{ api_token }}'\n" % API_TOKEN))
    write(root / "playbooks/site.yml", textwrap.dedent(playbook))
    write(root / "templates/app.ini.j2", "url = {{ db_url }}\npassword = {{ db_password }}\n")
    write(root / "roles/app/defaults/main.yml", sealed("app_secret: %s\n" % ROLE_SECRET))
    write(root / "roles/app/tasks/main.yml",
          '- name: "role step {{ app_secret }}"\n  command: {cmd: "true"}\n')
    write(out / "old.conf", "password = %s\n%s" % (DB_PASSWORD, TLS_KEY))
    return root


def run_project(root: Path, **opts: Any) -> tuple[Any, str, Masker]:
    inv = load_inventory(root / "inventory/hosts.yml", root=root)
    out = io.StringIO()
    progress = Progress(Console(file=out, width=200), Masker(), show_diff=True)
    record = run_playbook(root, inv, load_playbook(root), select_hosts(inv),
                          RunOptions(diff=True, **opts), progress)
    return record, out.getvalue(), progress.mask


def test_vault_values_reach_the_plan_as_secrets_and_mark_steps_no_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = secret_project(tmp_path)
    inv = load_inventory(root / "inventory/hosts.yml", root=root)
    plan = build_plan(root, load_playbook(root)[0], inv.hosts["a"], {}, {}, inventory=inv)
    assert {DB_PASSWORD, API_TOKEN, ROLE_SECRET, TLS_KEY} <= set(plan.secrets)
    assert "Bearer " + API_TOKEN in plan.secrets  # a vault value that is a template, rendered
    no_log = {s["action"] + " " + s["where"].rsplit(":", 1)[1]: s["no_log"] for s in plan.steps}
    assert list(no_log.values()) == [False, True, True, True, False, False]
    shown = json.dumps(plan.as_dict())
    assert_clean(shown)


def test_no_vault_value_is_ever_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = secret_project(tmp_path)
    record, out, mask = run_project(root)
    assert record.hosts["a"].failed == 1
    assert DB_PASSWORD in record.hosts["a"].steps[-1].stdout  # the host had the value
    assert "configure with ***" in out and "role step ***" in out
    assert "-password = ***" in out and "-***" in out  # the diff, the key a line at a time
    assert "| password = ***" in out  # the failed command's output tail
    assert_clean(out)
    write_json(record, tmp_path / "report.json", mask)
    write_junit(record, tmp_path / "report.xml", mask)
    assert_clean((tmp_path / "report.json").read_text())
    assert_clean((tmp_path / "report.xml").read_text())


def test_a_loop_item_holding_a_secret_is_masked_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = secret_project(tmp_path, """
        - hosts: all
          tasks:
            - command: {cmd: "true"}
              loop: [{user: app, password: "{{ db_password }}", note: "%s"}]
        """ % ("x" * 80))
    inv = load_inventory(root / "inventory/hosts.yml", root=root)
    plan = build_plan(root, load_playbook(root)[0], inv.hosts["a"], {}, {}, inventory=inv)
    assert plan.steps[0]["name"] == "command true (item=***)"


def test_rendering_errors_do_not_quote_vault_values(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    root = secret_project(tmp_path, """
        - hosts: all
          tasks:
            - name: a mode that is a password
              file: {path: "{{ out }}/x", state: directory, mode: "{{ db_password }}"}
        """)
    with pytest.raises(BadInput) as caught:
        run_project(root)
    assert "***" in str(caught.value)
    assert_clean(str(caught.value) + repr(caught.value.args))


def test_inventory_errors_do_not_quote_vault_values(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    write(tmp_path / "hosts.yml", "all:\n  hosts:\n    a:\n")
    write(tmp_path / "host_vars/a.yml", sealed("port: '%s'\n" % DB_PASSWORD))
    with pytest.raises(BadInput) as caught:
        load_inventory(tmp_path / "hosts.yml", root=tmp_path)
    assert "'***' is not a port number" in str(caught.value)
    assert_clean(str(caught.value))


def test_masking_uses_three_stars_everywhere(tmp_path: Path) -> None:
    from mainsail import plan, report
    assert plan.MASK == report.MASK == "***"
    assert Masker().with_secrets(["ab", "abc"])("ab abc") == "ab ***"


# ---------------------------------------------------------------------------- inv vault.*

def inv(cwd: Path, *args: str, password: str | None = PASSWORD,
        **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAINSAIL_VAULT")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO),
                                                          environ.get("PYTHONPATH")]))
    if password is not None:
        environ[vault.ENV_PASSWORD] = password
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, env={**environ, **env},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_project(tmp_path: Path) -> Path:
    write(tmp_path / "tasks.py", "from mainsail.tasks import ns  # noqa: F401\n")
    write(tmp_path / "inventory/hosts.yml", "all:\n  hosts:\n    a: {connection: local, "
          "mainsail_state_dir: %s}\n" % (tmp_path / "state"))
    return tmp_path


EDITOR = """#!/bin/sh
stat -c '%a' "$1" "$(dirname "$1")" > "$0.log"
echo "$1" >> "$0.log"
sed -i 's/one/two/' "$1"
"""


def test_inv_vault_encrypt_edit_decrypt(cli_project: Path) -> None:
    path = write(cli_project / "inventory/group_vars/all.yml", "token: one-%s\n" % API_TOKEN)
    done = inv(cli_project, "vault.encrypt", "inventory/group_vars/all.yml")
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    assert text.startswith("$MAINSAIL_VAULT;1;scrypt;n=131072,r=8,p=1;aes256gcm\n")
    assert API_TOKEN not in text

    editor = write(cli_project / "editor.sh", EDITOR)
    editor.chmod(0o755)
    done = inv(cli_project, "vault.edit", str(path), EDITOR=str(editor))
    assert done.returncode == 0, done.stderr
    file_mode, dir_mode, temp = Path(str(editor) + ".log").read_text().split()
    assert (file_mode, dir_mode) == ("600", "700") and not Path(temp).parent.exists()
    assert API_TOKEN not in path.read_text()

    done = inv(cli_project, "vault.decrypt", str(path))
    assert done.returncode == 0 and path.read_text() == "token: two-%s\n" % API_TOKEN


def test_inv_vault_edit_leaves_the_file_alone_when_the_editor_fails(cli_project: Path) -> None:
    path = write(cli_project / "vault.yml", sealed("a: one\n"))
    before = path.read_text()
    done = inv(cli_project, "vault.edit", "vault.yml", EDITOR="false")
    assert done.returncode == 4 and "vault.yml is unchanged" in done.stderr
    assert inv(cli_project, "vault.edit", "vault.yml", EDITOR="true").stdout.strip() == \
        "vault.yml unchanged"
    assert path.read_text() == before


def test_vault_file_commands_refuse_what_they_cannot_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    ansible = write(tmp_path / "ansible.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(BadInput, match="Ansible Vault"):
        vault.encrypt_file(ansible, "ansible.yml", vault.Vault())
    with pytest.raises(BadInput, match="not encrypted"):
        vault.view_file(write(tmp_path / "plain.yml", "a: 1\n"), "plain.yml", vault.Vault())
    with pytest.raises(BadInput, match="no such folder"):
        vault.edit_file(tmp_path / "nope/vault.yml", "nope/vault.yml", "true", vault.Vault())
    not_a_folder = write(tmp_path / "file", "")
    with pytest.raises(BadInput, match="cannot write the file"):
        vault.write_atomic(not_a_folder / "vault.yml", b"x", "file/vault.yml")


def test_inv_vault_view_and_a_wrong_or_missing_password(cli_project: Path) -> None:
    write(cli_project / "vault.yml", sealed("a: 1\n"))
    view = inv(cli_project, "vault.view", "vault.yml")
    assert view.returncode == 0 and view.stdout == "a: 1\n"
    wrong = inv(cli_project, "vault.view", "vault.yml", password="nope")
    assert wrong.returncode == 4 and "Traceback" not in wrong.stderr
    assert wrong.stderr.startswith("error: cannot decrypt vault.yml: wrong vault password or "
                                   "the file was altered (hint: the password came from "
                                   "MAINSAIL_VAULT_PASSWORD)")
    missing = inv(cli_project, "vault.view", "vault.yml", password=None)
    assert missing.returncode == 4
    assert "vault.yml needs the vault password and none was given" in missing.stderr
    again = inv(cli_project, "vault.encrypt", "vault.yml")
    assert again.returncode == 4 and "already encrypted" in again.stderr


def test_inv_deploy_and_hosts_with_a_password_file_mask_vault_values(cli_project: Path) -> None:
    out = cli_project / "out"
    out.mkdir()
    write(cli_project / "pw", PASSWORD + "\n")
    write(cli_project / "inventory/group_vars/all.yml", "out: %s\n" % out)
    write(cli_project / "inventory/group_vars/all/vault.yml", sealed("db_password: %s\n"
                                                                     % DB_PASSWORD))
    write(cli_project / "playbooks/site.yml", textwrap.dedent("""
        - hosts: all
          tasks:
            - name: "write {{ db_password }}"
              copy: {content: "{{ db_password }}\\n", dest: "{{ out }}/secret"}
            - name: fail loudly
              shell: {cmd: "cat {{ out }}/secret; exit 1"}
        """))
    done = inv(cli_project, "deploy", "--diff", "--vault-password-file", "pw",
               "--json", "r.json", password=None)
    assert done.returncode == 2, done.stderr
    assert "write ***" in done.stdout and "| ***" in done.stdout  # the cat of the secret
    assert_clean(done.stdout + done.stderr + (cli_project / "r.json").read_text())
    hosts = inv(cli_project, "hosts", password=None, MAINSAIL_VAULT_PASSWORD_FILE="pw")
    assert hosts.returncode == 0 and "db_password" in hosts.stdout
    assert_clean(hosts.stdout)
