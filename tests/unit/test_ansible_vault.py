"""Ansible Vault, read: whole files and inline !vault values decrypt with the project's
password into secrets; vault.import converts a file, vault.rekey changes the password of
Mainsail's own files, all or none. (Vectors made by ansible-vault itself: tests/e2e.)"""

from __future__ import annotations

import binascii
import os
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from mainsail import ansible_vault, vault
from mainsail.errors import BadInput
from mainsail.inventory import load_inventory
from mainsail.vault import Secret, Vault
from mainsail.yamlio import load_yaml

from tests.unit.test_flags import mainsail

PASSWORD = "ansible pass 1"
DB_PASSWORD = "Db-S3cret-from-ansible"


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(vault.ENV_PASSWORD_FILE, raising=False)
    monkeypatch.setenv(vault.ENV_PASSWORD, PASSWORD)
    monkeypatch.setattr(vault, "_interactive", lambda: False)
    yield


def inline(value: str, password: str = PASSWORD, vault_id: str = "", indent: int = 2) -> str:
    """A YAML `!vault |` block for ``value``, its lines indented by ``indent``."""
    text = ansible_vault.encrypt(value.encode(), password.encode(), vault_id)
    return "!vault |\n" + textwrap.indent(text, " " * indent)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------- the format

@pytest.mark.parametrize("vault_id, header", [("", "$ANSIBLE_VAULT;1.1;AES256"),
                                              ("prod", "$ANSIBLE_VAULT;1.2;AES256;prod")])
def test_our_encryptor_writes_the_documented_envelope(vault_id: str, header: str) -> None:
    text = ansible_vault.encrypt(b"secret: 1\n", b"pw", vault_id, salt=b"s" * 32)
    lines = text.splitlines()
    assert lines[0] == header and all(len(line) <= 80 for line in lines[1:])
    salt, mac, body = binascii.unhexlify("".join(lines[1:])).split(b"\n")
    assert binascii.unhexlify(salt) == b"s" * 32 and len(binascii.unhexlify(mac)) == 32
    assert len(binascii.unhexlify(body)) == 16  # 10 bytes, PKCS#7-padded to one block
    sealed = ansible_vault.parse(text, "x")
    assert sealed.vault_id == (vault_id or "default")
    assert ansible_vault.unseal(sealed, b"pw", "x") == b"secret: 1\n"


def test_the_keys_are_pbkdf2_sha256_with_10000_rounds() -> None:
    import hashlib
    material = hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 10000, 80)
    assert ansible_vault.derive(b"pw", b"salt") == (material[:32], material[32:64],
                                                    material[64:])


def test_a_wrong_password_or_a_changed_byte_is_refused_naming_the_file() -> None:
    text = ansible_vault.encrypt(b"x: 1\n", b"right")
    with pytest.raises(BadInput) as info:
        ansible_vault.unseal(ansible_vault.parse(text, "group_vars/db.yml"), b"wrong",
                             "group_vars/db.yml", "MAINSAIL_VAULT_PASSWORD")
    assert info.value.what == ("cannot decrypt group_vars/db.yml: wrong vault password or the "
                               "file was altered")
    assert info.value.exit_code == 4 and "MAINSAIL_VAULT_PASSWORD" in info.value.hint
    lines = text.splitlines()
    salt, mac, body = binascii.unhexlify("".join(lines[1:])).split(b"\n")
    body = (b"1" if body[:1] != b"1" else b"2") + body[1:]  # one ciphertext byte changed
    altered = binascii.hexlify(b"\n".join([salt, mac, body])).decode()
    with pytest.raises(BadInput, match="wrong vault password or the file was altered"):
        ansible_vault.unseal(ansible_vault.parse(lines[0] + "\n" + altered, "f"), b"right", "f")


@pytest.mark.parametrize("text, message", [
    ("$ANSIBLE_VAULT;1.0;AES\n6162\n", "format 1.0;AES is not read"),
    ("$ANSIBLE_VAULT\n", "header line is damaged"),
    ("$ANSIBLE_VAULT;1.1;AES256\nzz\n", "payload is damaged"),
    ("$ANSIBLE_VAULT;1.1;AES256\n" + binascii.hexlify(b"61\n62").decode() + "\n",
     "payload is damaged"),
])
def test_damaged_texts_are_bad_input(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        ansible_vault.parse(text, "f")


# ---------------------------------------------------------------------------- reading

def test_a_whole_ansible_vault_vars_file_is_read_as_secrets(tmp_path: Path) -> None:
    write(tmp_path / "hosts.yml", "db:\n  hosts: {db1: }\n")
    write(tmp_path / "group_vars" / "db.yml", ansible_vault.encrypt(
        f"db_password: {DB_PASSWORD}\ndb_port: 5432\n".encode(), PASSWORD.encode(), "prod"))
    run = Vault()
    inv = load_inventory(tmp_path / "hosts.yml", root=tmp_path, secrets=run)
    value = inv.hosts["db1"].vars["db_password"]
    assert value == DB_PASSWORD and isinstance(value, Secret) and repr(value) == "'***'"
    assert DB_PASSWORD in inv.secrets and DB_PASSWORD in run.secrets()
    assert inv.hosts["db1"].var_sources["db_password"] == "group_vars/db.yml:1"


def test_inline_vault_values_in_inventory_and_vars_files_are_secrets(tmp_path: Path) -> None:
    write(tmp_path / "hosts.yml",
          "all:\n  hosts:\n    web1:\n      api_token: " + inline("tok-inline-4711", indent=8) +
          "      plain: visible\n")
    write(tmp_path / "host_vars" / "web1.yml", "db_password: " + inline(DB_PASSWORD, vault_id="x"))
    inv = load_inventory(tmp_path / "hosts.yml", root=tmp_path, secrets=Vault())
    got = inv.hosts["web1"].vars
    assert got["api_token"] == "tok-inline-4711" and isinstance(got["api_token"], Secret)
    assert got["db_password"] == DB_PASSWORD and isinstance(got["db_password"], Secret)
    assert got["plain"] == "visible" and not isinstance(got["plain"], Secret)
    assert set(inv.secrets) == {"tok-inline-4711", DB_PASSWORD}


def test_an_inline_value_with_the_wrong_password_names_its_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "vars.yml", "a: 1\nb: " + inline("x", password="other"))
    with pytest.raises(BadInput) as info:
        load_yaml(path, tmp_path, vars_file=True, secrets=Vault())
    assert info.value.what.startswith("cannot decrypt vars.yml:2:4: wrong vault password")


def test_vault_must_tag_an_ansible_vault_text(tmp_path: Path) -> None:
    path = write(tmp_path / "vars.yml", "a: !vault plain\n")
    with pytest.raises(BadInput, match="!vault must tag an Ansible Vault text"):
        load_yaml(path, tmp_path, vars_file=True)


def test_an_encrypted_playbook_is_still_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "site.yml", ansible_vault.encrypt(b"- hosts: all\n", b"p"))
    with pytest.raises(BadInput, match="only variables files may be"):
        load_yaml(path, tmp_path)


# ---------------------------------------------------------------------------- import, rekey

@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path / "tasks.py", "from mainsail.tasks import ns\n")
    write(tmp_path / "inventory" / "hosts.yml", "db:\n  hosts: {db1: }\n")
    monkeypatch.chdir(tmp_path)
    for name in ("ANSIBLE_CONFIG", "MAINSAIL_INVENTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_vault_import_re_encrypts_an_ansible_vault_file_in_mainsails_format(
        project: Path) -> None:
    path = write(project / "inventory" / "group_vars" / "db.yml", ansible_vault.encrypt(
        f"db_password: {DB_PASSWORD}\n".encode(), PASSWORD.encode()))
    path.chmod(0o640)
    code, out, err = mainsail("vault.import", str(path))
    assert code == 0, err
    text = path.read_text()
    assert vault.is_encrypted(text) and DB_PASSWORD not in text
    assert path.stat().st_mode & 0o777 == 0o640
    assert vault.decrypt(text, PASSWORD.encode()) == f"db_password: {DB_PASSWORD}\n".encode()
    code, _, err = mainsail("vault.import", str(path))
    assert code == 4 and "already in Mainsail's vault format" in err
    write(project / "plain.yml", "a: 1\n")
    code, _, err = mainsail("vault.import", "plain.yml")
    assert code == 4 and "neither an Ansible Vault file nor holds !vault values" in err


def test_vault_import_with_a_wrong_password_changes_nothing(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = ansible_vault.encrypt(b"a: 1\n", b"other password")
    path = write(project / "v.yml", text)
    code, _, err = mainsail("vault.import", "v.yml")
    assert code == 4 and "cannot decrypt v.yml: wrong vault password" in err
    assert path.read_text() == text


def mainsail_file(path: Path, text: str, password: str = PASSWORD) -> Path:
    return write(path, vault.encrypt(text.encode(), password.encode(), vault.KdfParams(2 ** 10)))


def test_vault_rekey_changes_the_password_of_every_vault_file(project: Path) -> None:
    one = mainsail_file(project / "inventory" / "group_vars" / "db.yml", "a: 1\n")
    two = mainsail_file(project / "roles" / "r" / "vars" / "main.yml", "b: 2\n")
    write(project / "inventory" / "group_vars" / "all.yml", "plain: yes\n")
    write(project / "new-pass", "new password\n").chmod(0o600)
    code, out, err = mainsail("vault.rekey", "--new-vault-password-file", "new-pass")
    assert code == 0, err
    assert out.splitlines() == ["rekeyed inventory/group_vars/db.yml",
                                "rekeyed roles/r/vars/main.yml"]
    assert vault.decrypt(one.read_text(), b"new password") == b"a: 1\n"
    assert vault.decrypt(two.read_text(), b"new password") == b"b: 2\n"
    with pytest.raises(BadInput):
        vault.decrypt(one.read_text(), PASSWORD.encode())


def test_vault_rekey_changes_nothing_when_one_file_cannot_be_decrypted(project: Path) -> None:
    good = mainsail_file(project / "a.yml", "a: 1\n")
    bad = mainsail_file(project / "b.yml", "b: 2\n", password="another")
    before = (good.read_text(), bad.read_text())
    write(project / "new-pass", "new\n").chmod(0o600)
    code, _, err = mainsail("vault.rekey", "--new-vault-password-file", "new-pass")
    assert code == 4 and "cannot decrypt b.yml" in err
    assert (good.read_text(), bad.read_text()) == before
    assert [p.name for p in project.iterdir() if p.name.endswith(".tmp")] == []


def test_a_rename_that_fails_puts_back_the_files_already_rekeyed(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [mainsail_file(project / n, f"{n[0]}: 1\n") for n in ("a.yml", "b.yml")]
    before = [f.read_text() for f in files]
    real = os.replace

    def replace(src: str, dst: object) -> None:
        if str(dst) == str(files[1]):
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(BadInput, match="put back"):
        vault.rekey_files([(f, f.name) for f in files], Vault(), b"new")
    assert [f.read_text() for f in files] == before
    assert not [p for p in project.iterdir() if p.name.endswith(".tmp")]


def test_vault_view_shows_an_ansible_vault_file_and_edit_points_to_import(
        project: Path) -> None:
    write(project / "v.yml", ansible_vault.encrypt(b"a: 1\n", PASSWORD.encode()))
    code, out, err = mainsail("vault.view", "v.yml")
    assert (code, out) == (0, "a: 1\n"), err
    code, _, err = mainsail("vault.decrypt", "v.yml")
    assert code == 4 and "Ansible Vault file" in err and "vault.import" in err


def test_vault_import_turns_inline_values_into_one_mainsail_vault_file(project: Path) -> None:
    path = write(project / "vars.yml", "# db settings\ndb_user: app\ndb_password: " +
                 inline(DB_PASSWORD) + "api:\n  token: " + inline('to"k\n2', indent=4) +
                 "port: 5432\n")
    code, _, err = mainsail("vault.import", "vars.yml")
    assert code == 0, err
    plain = vault.decrypt(path.read_text(), PASSWORD.encode()).decode()
    assert plain == ('# db settings\ndb_user: app\ndb_password: "%s"\napi:\n  token: "to\\"k\\n2"\n'
                     'port: 5432\n' % DB_PASSWORD)
    data = load_yaml(path, project, vars_file=True, secrets=Vault())
    assert data == {"db_user": "app", "db_password": DB_PASSWORD, "api": {"token": 'to"k\n2'},
                    "port": 5432}


def test_a_step_quoting_an_inline_vault_value_of_the_playbook_is_no_log(tmp_path: Path) -> None:
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook
    write(tmp_path / "inventory" / "hosts.yml", "all:\n  hosts: {a: {connection: local}}\n")
    write(tmp_path / "playbooks" / "site.yml",
          "- hosts: all\n  vars:\n    token: " + inline("tok-in-playbook", indent=6) +
          "  tasks:\n"
          "    - copy: {content: 'open', dest: /tmp/x}\n"
          "    - copy:\n        dest: /tmp/y\n        content: " +
          inline("inline-arg-secret", indent=10))
    run = Vault()
    inv = load_inventory(tmp_path / "inventory" / "hosts.yml", root=tmp_path, secrets=run)
    play = load_playbook(tmp_path, "site", run)[0]
    plan = build_plan(tmp_path, play, inv.hosts["a"], {}, {}, inventory=inv, secrets=run)
    assert [s["no_log"] for s in plan.steps] == [False, True]
    assert {"tok-in-playbook", "inline-arg-secret"} <= set(plan.secrets)
