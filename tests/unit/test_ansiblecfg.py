"""ansible.cfg: found as Ansible finds it, read into Mainsail's settings below Mainsail's own,
and never allowed to turn host key checking off."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mainsail import ansiblecfg
from mainsail.errors import BadInput
from mainsail.inventory import load_inventory

from tests.unit.test_flags import mainsail


def cfg(folder: Path, text: str, name: str = "ansible.cfg") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj").chmod(0o755)
    return tmp_path / "proj"


# ---------------------------------------------------------------------------- finding it

def test_the_first_of_env_project_home_is_read(root: Path, home: Path, tmp_path: Path) -> None:
    assert ansiblecfg.find(root, {}, home)[0] in (None, ansiblecfg.SYSTEM_CFG)
    cfg(home, "[defaults]\n", ".ansible.cfg")
    assert ansiblecfg.find(root, {}, home)[0] == home / ".ansible.cfg"
    cfg(root, "[defaults]\n")
    assert ansiblecfg.find(root, {}, home)[0] == root / "ansible.cfg"
    other = cfg(tmp_path / "elsewhere", "[defaults]\n")
    assert ansiblecfg.find(root, {"ANSIBLE_CONFIG": str(other)}, home)[0] == other
    assert ansiblecfg.find(root, {"ANSIBLE_CONFIG": str(other.parent)}, home)[0] == other


def test_a_cfg_in_a_world_writable_project_folder_is_ignored_with_a_warning(
        root: Path, home: Path) -> None:
    cfg(root, "[defaults]\nforks = 3\n")
    root.chmod(0o777)
    try:
        found = ansiblecfg.load(root, {}, home)
    finally:
        root.chmod(0o755)
    assert found.get("forks") is None
    assert any("world-writable" in w and str(root) in w for w in found.warnings)


# ---------------------------------------------------------------------------- reading it

def test_defaults_and_privilege_escalation_become_settings(root: Path, home: Path) -> None:
    cfg(root, """
        [defaults]
        inventory = hosts.ini
        roles_path = roles.d:~/shared-roles
        remote_user = deploy
        forks = 7        ; a comment
        timeout = 30
        vault_password_file = ~/.vault-pass
        private_key_file = keys/id_ed25519

        [privilege_escalation]
        become = True
        become_method = sudo
        become_user = app
        become_ask_pass = no
        """)
    got = ansiblecfg.load(root, {}, home).settings
    assert got["inventory"] == str(root / "hosts.ini")
    assert got["roles_path"] == (str(root / "roles.d"), str(Path("~/shared-roles").expanduser()))
    assert (got["remote_user"], got["forks"], got["timeout"]) == ("deploy", 7, 30)
    assert got["vault_password_file"] == str(Path("~/.vault-pass").expanduser())
    assert got["private_key_file"] == str(root / "keys/id_ed25519")
    assert (got["become"], got["become_method"], got["become_user"], got["ask_become_pass"]) \
        == (True, "sudo", "app", False)


@pytest.mark.parametrize("text, where", [
    ("[defaults]\nhost_key_checking = False\n", "host_key_checking"),
    ("[defaults]\nhost_key_checking = no\n", "host_key_checking"),
])
def test_turning_host_key_checking_off_is_refused(root: Path, home: Path, text: str,
                                                  where: str) -> None:
    cfg(root, text)
    with pytest.raises(BadInput) as info:
        ansiblecfg.load(root, {}, home)
    assert "cannot be turned off" in info.value.what and where in info.value.where
    assert "known_hosts" in info.value.hint and info.value.exit_code == 4


def test_the_environment_cannot_turn_it_off_either(root: Path, home: Path) -> None:
    with pytest.raises(BadInput) as info:
        ansiblecfg.load(root, {"ANSIBLE_HOST_KEY_CHECKING": "False"}, home)
    assert info.value.where == "ANSIBLE_HOST_KEY_CHECKING"
    on = ansiblecfg.load(root, {"ANSIBLE_HOST_KEY_CHECKING": "True"}, home)  # on is fine
    assert on.warnings == ()


@pytest.mark.parametrize("text, message", [
    ("[defaults]\nforks = many\n", "not a positive whole number"),
    ("[defaults]\ninventory = a.ini, b.ini\n", "names 2 sources"),
    ("forks = 3\n", "not a valid INI file"),
])
def test_bad_settings_name_the_file(root: Path, home: Path, text: str, message: str) -> None:
    path = cfg(root, text)
    with pytest.raises(BadInput) as info:
        ansiblecfg.load(root, {}, home)
    assert message in info.value.what and info.value.where == str(path)


def test_host_defaults_fill_only_what_the_inventory_leaves_unset(root: Path, home: Path) -> None:
    cfg(root, """
        [defaults]
        remote_user = deploy
        private_key_file = id_test
        [privilege_escalation]
        become = yes
        become_user = app
        """)
    (root / "hosts.ini").write_text("a\nb ansible_user=admin ansible_become=false\n")
    inv = ansiblecfg.with_host_defaults(load_inventory(root / "hosts.ini", root=root),
                                        ansiblecfg.load(root, {}, home))
    a, b = inv.hosts["a"], inv.hosts["b"]
    assert (a.user, a.become, a.become_user, a.ssh_key) == ("deploy", True, "app",
                                                            str(root / "id_test"))
    assert (b.user, b.become, b.become_user) == ("admin", False, "app")


# ---------------------------------------------------------------------------- the command line

@pytest.fixture
def project(root: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (root / "tasks.py").write_text("from mainsail.tasks import ns\n")
    (root / "inventory").mkdir()
    (root / "inventory" / "hosts.yml").write_text("all:\n  hosts: {from_yaml: }\n")
    (root / "hosts.ini").write_text("[web]\nfrom_cfg\n")
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(home))
    for name in ("ANSIBLE_CONFIG", "ANSIBLE_HOST_KEY_CHECKING", "MAINSAIL_INVENTORY"):
        monkeypatch.delenv(name, raising=False)
    return root


def test_ansible_cfg_inventory_is_used_when_mainsail_sets_none(project: Path) -> None:
    cfg(project, "[defaults]\ninventory = hosts.ini\n")
    code, out, err = mainsail("hosts", "--json")
    assert code == 0, err
    assert json.loads(out)["web"] == {"hosts": ["from_cfg"]}


def test_mainsails_own_settings_come_before_ansible_cfg(project: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg(project, "[defaults]\ninventory = hosts.ini\n")
    (project / "invoke.yaml").write_text("mainsail:\n  inventory: inventory/hosts.yml\n")
    code, out, _ = mainsail("hosts", "--json")
    assert code == 0 and json.loads(out)["ungrouped"] == {"hosts": ["from_yaml"]}
    (project / "invoke.yaml").unlink()
    monkeypatch.setenv("MAINSAIL_INVENTORY", "inventory/hosts.yml")
    code, out, _ = mainsail("hosts", "--json")
    assert code == 0 and "from_yaml" in out
    monkeypatch.delenv("MAINSAIL_INVENTORY")
    code, out, _ = mainsail("hosts", "--json", "-i", "inventory/hosts.yml")
    assert code == 0 and "from_yaml" in out


def test_host_key_checking_false_stops_every_host_command_with_exit_4(project: Path) -> None:
    cfg(project, "[defaults]\nhost_key_checking = False\n")
    code, out, err = mainsail("hosts")
    assert code == 4 and out == ""
    assert "host key checking cannot be turned off" in err and "known_hosts" in err


def test_roles_path_folders_are_searched_after_roles(tmp_path: Path) -> None:
    from mainsail.playbook import load_playbook
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "site.yml").write_text("- hosts: all\n  roles: [shared]\n")
    (tmp_path / "elsewhere" / "shared" / "tasks").mkdir(parents=True)
    (tmp_path / "elsewhere" / "shared" / "tasks" / "main.yml").write_text(
        "- name: hello\n  debug: {msg: hi}\n")
    with pytest.raises(BadInput) as info:
        load_playbook(tmp_path, "site")
    assert "'shared' not found" in info.value.what
    plays = load_playbook(tmp_path, "site", roles_path=(tmp_path / "elsewhere",))
    assert [use.role.name for use in plays[0].roles] == ["shared"]


def test_the_vault_password_file_from_ansible_cfg_comes_after_mainsails(project: Path) -> None:
    (project / "pass").write_text("from-cfg\n")
    (project / "pass").chmod(0o600)
    cfg(project, "[defaults]\nvault_password_file = pass\n")
    from invoke import Context
    from mainsail.tasks import configured_password_file
    from mainsail.vault import Vault
    assert configured_password_file(Context()) == str(project / "pass")
    assert Vault(None, lambda: configured_password_file(Context())).keyring.password(
        "x").value == b"from-cfg"


def test_ansibles_environment_variables_beat_its_file(root: Path, home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cfg(root, "[defaults]\nforks = 3\nremote_user = fromfile\n")
    monkeypatch.chdir(root)
    got = ansiblecfg.load(root, {"ANSIBLE_FORKS": "9", "ANSIBLE_INVENTORY": "inv.ini",
                                 "ANSIBLE_BECOME_ASK_PASS": "true"}, home).settings
    assert (got["forks"], got["remote_user"], got["ask_become_pass"]) == (9, "fromfile", True)
    assert got["inventory"] == str(root / "inv.ini")
    with pytest.raises(BadInput) as info:
        ansiblecfg.load(root, {"ANSIBLE_TIMEOUT": "soon"}, home)
    assert info.value.where == "ANSIBLE_TIMEOUT" and "not a positive whole number" in \
        info.value.what
