"""The testbed's pure parts: apt sources per release, per-host settings, the files a host
gets on its first boot. Booting hosts is tested end to end (tests/e2e/test_testbed.py)."""

import subprocess
from pathlib import Path

import pytest

from mainsail import testbed as tb
from mainsail.errors import BadInput

MACHINE_SOURCES = """\
Types: deb
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://vendor.invalid/apt
Suites: nodistro
Components: main
"""


def machine_root(tmp_path: Path) -> Path:
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    (tmp_path / "etc/apt/sources.list.d/debian.sources").write_text(MACHINE_SOURCES)
    (tmp_path / "etc/os-release").write_text('NAME="Debian"\nVERSION_CODENAME=bookworm\n')
    return tmp_path


def test_a_trixie_host_gets_the_machines_debian_mirrors_renamed_for_trixie(tmp_path):
    root = machine_root(tmp_path)
    sources = tb.read_apt_sources(root)
    assert [s.uri for s in sources] == ["http://mirror.invalid/debian",
                                        "http://mirror.invalid/debian-security"]
    trixie = tb.for_suite(sources, "trixie", tb.machine_suite(root))
    text = tb.render_sources(trixie, tb.choose_mirror(trixie, "trixie"), "trixie")
    assert "Suites: trixie trixie-updates\n" in text
    assert "Suites: trixie-security\n" in text
    assert "bookworm" not in text and "vendor.invalid" not in text


def test_a_release_with_no_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(tb.TestbedError, match="no Debian trixie mirror"):
        tb.choose_mirror(tb.read_apt_sources(machine_root(tmp_path)), "trixie")


def test_host_settings_come_from_inventory_vars_with_defaults():
    host = tb.host_from_vars("web2", "127.0.0.12", Path("kh"), {"testbed_release": "trixie"},
                             "inventory/hosts.yml:9", Path("inventory/host_vars"))
    assert (host.suite, host.init, host.sudo) == ("trixie", "systemd", "nopasswd")
    assert host.host_vars == Path("inventory/host_vars/web2")


@pytest.mark.parametrize("var,value", [("testbed_release", "buster"), ("testbed_init", "sysv"),
                                       ("testbed_sudo", "yes")])
def test_unknown_host_settings_are_refused_with_the_choices(var, value):
    with pytest.raises(BadInput) as info:
        tb.host_from_vars("web1", "127.0.0.11", Path("kh"), {var: value}, "hosts.yml:3",
                          Path("host_vars"))
    assert info.value.where == "hosts.yml:3" and var in str(info.value)


def test_root_cannot_log_in_and_sshd_listens_on_the_host_address_only():
    conf = tb.sshd_config("127.0.0.21")
    assert "ListenAddress 127.0.0.21\n" in conf
    assert "PermitRootLogin prohibit-password\n" in conf and "PasswordAuthentication no\n" in conf
    assert "AllowUsers" not in conf  # a task's remote_user may log in with the key


def test_sudo_rules_with_and_without_a_password(tmp_path):
    assert "deploy ALL=(ALL:ALL) NOPASSWD: ALL" in tb.sudoers("nopasswd")
    assert "deploy ALL=(ALL:ALL) ALL" in tb.sudoers("password")
    for mode in tb.SUDO_MODES:  # what visudo would say of it, where visudo exists
        path = tmp_path / mode
        path.write_text(tb.sudoers(mode))
        if Path("/usr/sbin/visudo").exists():
            assert subprocess.run(["/usr/sbin/visudo", "-cf", str(path)]).returncode == 0


def test_a_password_hash_replaces_only_that_users_field(tmp_path):
    base, upper = tmp_path / "base", tmp_path / "upper"
    (base / "etc").mkdir(parents=True)
    (upper / "etc").mkdir(parents=True)
    (base / "etc/shadow").write_text("root:*:19000:0:99999:7:::\ndeploy:*:19000:0:99999:7:::\n")
    (base / "etc/group").write_text("root:x:0:\nshadow:x:42:\n")
    hashed = tb.hash_password("s3cret")
    assert hashed.startswith("$6$") and "s3cret" not in hashed
    tb.set_password_hash(base, upper, "deploy", hashed)
    lines = (upper / "etc/shadow").read_text().splitlines()
    assert lines[0] == "root:*:19000:0:99999:7:::"
    assert lines[1] == "deploy:%s:19000:0:99999:7:::" % hashed
    assert (upper / "etc/shadow").stat().st_mode & 0o777 == 0o640


def test_the_sudo_password_is_made_once_and_kept_encrypted(tmp_path):
    layout = tb.Layout(cache=tmp_path / "cache", state=tmp_path / "state")
    host = tb.TestbedHost("mail1", "127.0.0.21", tmp_path / "kh", sudo="password",
                          host_vars=tmp_path / "host_vars/mail1")
    first = tb.ensure_sudo_password(layout, host)
    assert first and tb.ensure_sudo_password(layout, host) == first
    sealed = (tmp_path / "host_vars/mail1/become.yml").read_text()
    assert sealed.startswith("$MAINSAIL_VAULT;") and first not in sealed
    assert layout.vault_password.stat().st_mode & 0o777 == 0o600
    nopasswd = tb.TestbedHost("web1", "127.0.0.11", tmp_path / "kh",
                              host_vars=tmp_path / "host_vars/web1")
    assert tb.ensure_sudo_password(layout, nopasswd) is None
