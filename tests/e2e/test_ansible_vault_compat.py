"""Ansible Vault texts made by ansible-vault itself (ansible-core from a throwaway venv; no
testbed) decrypt in Mainsail with the project's password, and the other way round."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainsail import ansible_vault, vault
from mainsail.errors import BadInput
from mainsail.inventory import load_inventory
from mainsail.vault import Secret, Vault

from tests.e2e.ansible_venv import ansible

PASSWORD = "vault pass from ansible"
SECRET = "S3cret-made-by-ansible-vault"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pass").write_text(PASSWORD + "\n")
    (tmp_path / "pass").chmod(0o600)
    monkeypatch.delenv(vault.ENV_PASSWORD, raising=False)
    monkeypatch.setenv(vault.ENV_PASSWORD_FILE, str(tmp_path / "pass"))
    return tmp_path


def ansible_vault_cli(folder: Path, *args: str) -> str:
    done = ansible("vault", *args, cwd=folder)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("id_args, header", [
    (("--vault-password-file", "pass"), "$ANSIBLE_VAULT;1.1;AES256"),
    (("--vault-id", "prod@pass"), "$ANSIBLE_VAULT;1.2;AES256;prod"),
])
def test_a_file_ansible_vault_encrypted_is_read_as_secrets(folder: Path, id_args: tuple,
                                                          header: str) -> None:
    (folder / "hosts.yml").write_text("db:\n  hosts: {db1: }\n")
    (folder / "group_vars").mkdir()
    target = folder / "group_vars" / "db.yml"
    target.write_text(f"db_password: {SECRET}\ndb_port: 5432\n")
    ansible_vault_cli(folder, "encrypt", *id_args, "group_vars/db.yml")
    assert target.read_text().startswith(header)
    inv = load_inventory(folder / "hosts.yml", root=folder, secrets=Vault())
    got = inv.hosts["db1"].vars
    assert got["db_password"] == SECRET and isinstance(got["db_password"], Secret)
    assert got["db_port"] == 5432 and SECRET in inv.secrets


def test_an_encrypt_string_value_is_read_as_a_secret(folder: Path) -> None:
    block = ansible_vault_cli(folder, "encrypt_string", "--vault-password-file", "pass",
                              SECRET, "--name", "api_token")
    (folder / "hosts.yml").write_text("web:\n  hosts: {web1: }\n")
    (folder / "host_vars").mkdir()
    (folder / "host_vars" / "web1.yml").write_text(block)
    inv = load_inventory(folder / "hosts.yml", root=folder, secrets=Vault())
    assert inv.hosts["web1"].vars["api_token"] == SECRET
    assert isinstance(inv.hosts["web1"].vars["api_token"], Secret)


def test_a_wrong_password_names_the_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / "v.yml").write_text("a: 1\n")
    ansible_vault_cli(folder, "encrypt", "--vault-password-file", "pass", "v.yml")
    monkeypatch.delenv(vault.ENV_PASSWORD_FILE)
    monkeypatch.setenv(vault.ENV_PASSWORD, "not the password")
    from mainsail.yamlio import load_yaml
    with pytest.raises(BadInput, match="cannot decrypt v.yml: wrong vault password"):
        load_yaml(folder / "v.yml", folder, vars_file=True, secrets=Vault())


@pytest.mark.parametrize("vault_id", ["", "prod"])
def test_ansible_vault_reads_what_our_encryptor_writes(folder: Path, vault_id: str) -> None:
    (folder / "ours.yml").write_text(ansible_vault.encrypt(b"made: here\n", PASSWORD.encode(),
                                                           vault_id))
    shown = ansible_vault_cli(folder, "view", "--vault-password-file", "pass", "ours.yml")
    assert shown == "made: here\n"


def test_vault_import_converts_ansible_vault_output_to_mainsails_format(folder: Path) -> None:
    from mainsail.tasks import check_yaml
    whole = folder / "whole.yml"
    whole.write_text(f"db_password: {SECRET}\n")
    ansible_vault_cli(folder, "encrypt", "--vault-password-file", "pass", "whole.yml")
    values = folder / "values.yml"
    values.write_text("plain: 1\n" + ansible_vault_cli(
        folder, "encrypt_string", "--vault-password-file", "pass", SECRET, "--name", "token"))
    for path in (whole, values):
        vault.import_file(path, path.name, Vault(), check_yaml(path.name))
        assert vault.is_encrypted(path.read_text())
    assert vault.decrypt(whole.read_text(), PASSWORD.encode()) == \
        f"db_password: {SECRET}\n".encode()
    assert vault.decrypt(values.read_text(), PASSWORD.encode()) == \
        f'plain: 1\ntoken: "{SECRET}"\n'.encode()
