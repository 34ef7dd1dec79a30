"""The testbed: hosts booted by systemd, reached over real SSH as `deploy` with sudo;
isolated filesystems and process trees; two Debian releases."""

import functools
import os
import shlex
import subprocess
from pathlib import Path

from mainsail import testbed as tb
from tests.conftest import ROOT, inv


@functools.lru_cache(maxsize=None)
def sudo_password(host: str) -> str | None:
    """The testbed's sudo password for a host whose sudo asks for one (mail1)."""
    path = ROOT / "inventory/host_vars" / host / tb.BECOME_VARS_FILE
    if not path.exists():
        return None
    layout = tb.default_layout(ROOT)
    return tb.ensure_sudo_password(layout, tb.TestbedHost(
        host, "", Path(), sudo="password", host_vars=path.parent))


def ssh(config: Path, host: str, command: str, check: bool = True,
        as_root: bool = True) -> subprocess.CompletedProcess:
    """OpenSSH's own client, host keys checked (StrictHostKeyChecking yes in the config).
    The login user is `deploy`; the command runs as root through sudo unless as_root is
    false, with the password on stdin where sudo asks for one."""
    password = sudo_password(host) if as_root else None
    if as_root:
        sudo = "sudo -S -p '' " if password else "sudo -n "
        command = sudo + "sh -c " + shlex.quote(command)
    done = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", host, command],
                          capture_output=True, text=True, timeout=300,
                          input=(password + "\n") if password else None)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_each_host_answers_with_its_own_name(ssh_config, live_testbed):
    for name in live_testbed:
        assert ssh(ssh_config, name, "hostname").stdout.strip() == name


def test_hosts_boot_systemd_and_mix_two_debian_releases(ssh_config, live_testbed):
    releases = {}
    for name in live_testbed:
        assert ssh(ssh_config, name, "ps -p 1 -o comm=").stdout.strip() == "systemd"
        state = ssh(ssh_config, name, "systemctl is-system-running", check=False).stdout
        assert state.strip() in ("running", "degraded"), (name, state)
        releases[name] = ssh(ssh_config, name, ". /etc/os-release; echo $VERSION_CODENAME",
                             as_root=False).stdout.strip()
    assert releases == {"web1": "bookworm", "web2": "trixie", "mail1": "bookworm",
                        "echo1": "trixie"}


def test_login_is_deploy_and_root_cannot_log_in(ssh_config, live_testbed):
    for name, address in live_testbed.items():
        assert ssh(ssh_config, name, "id -un", as_root=False).stdout.strip() == "deploy"
        assert ssh(ssh_config, name, "id -un").stdout.strip() == "root"
        done = subprocess.run(["ssh", "-F", str(ssh_config), "-o", "BatchMode=yes",
                               "-l", "root", name, "true"], capture_output=True, text=True)
        assert done.returncode == 255 and "Permission denied" in done.stderr, done.stderr


def test_mail1_sudo_asks_for_a_password(ssh_config):
    done = ssh(ssh_config, "mail1", "sudo -n true", check=False, as_root=False)
    assert done.returncode == 1 and "password is required" in done.stderr
    assert ssh(ssh_config, "web1", "sudo -n true", as_root=False).returncode == 0
    # The inventory holds it encrypted, never in clear.
    become = (ROOT / "inventory/host_vars/mail1/become.yml").read_text()
    assert become.startswith("$MAINSAIL_VAULT;") and sudo_password("mail1") not in become


def test_ssh_config_pins_keys_and_checks_them(ssh_config):
    text = ssh_config.read_text()
    assert "StrictHostKeyChecking yes" in text
    assert text.count("Host ") == 4
    known = (ROOT / "inventory/known_hosts").read_text()
    for address in ("127.0.0.11", "127.0.0.12", "127.0.0.21", "127.0.0.31"):
        assert known.count(address + " ssh-ed25519 ") == 1


def test_wrong_pinned_key_is_refused_by_openssh(ssh_config, tmp_path):
    other = (ROOT / "inventory/known_hosts").read_text().replace("127.0.0.12 ", "127.0.0.11 X")
    known = tmp_path / "known_hosts"
    known.write_text("\n".join(l for l in other.splitlines() if l.startswith("127.0.0.11 X"))
                     .replace("127.0.0.11 X", "127.0.0.11 ") + "\n")
    done = subprocess.run(["ssh", "-F", str(ssh_config), "-o", "UserKnownHostsFile=" + str(known),
                           "-o", "BatchMode=yes", "web1", "true"], capture_output=True, text=True)
    assert done.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in done.stderr


def test_a_package_installed_on_one_host_is_absent_on_another(ssh_config):
    # `hello`: a package no role or test installs anywhere else.
    ssh(ssh_config, "web1", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                            "apt-get install -y -qq hello >/dev/null")
    assert ssh(ssh_config, "web1", "command -v hello").stdout.strip() == "/usr/bin/hello"
    for other in ("web2", "mail1", "echo1"):
        assert ssh(ssh_config, other, "command -v hello", check=False).returncode != 0


def test_each_host_sees_only_its_own_processes(ssh_config):
    ssh(ssh_config, "web1", "nohup bash -c 'exec -a marker-of-web1 sleep 120' "
                            ">/dev/null 2>&1 &")
    assert "marker-of-web1" in ssh(ssh_config, "web1", "ps -eo args").stdout
    on_mail = ssh(ssh_config, "mail1", "ps -eo pid,args").stdout
    assert "marker-of-web1" not in on_mail
    assert "sshd" in on_mail
    assert on_mail.splitlines()[1].split()[0] == "1"  # its own PID namespace
    assert on_mail.splitlines()[1].split()[1].endswith("systemd")


def test_hosts_listen_only_on_their_own_address(live_testbed):
    import socket
    with socket.create_connection(("127.0.0.11", 22), timeout=2) as sock:
        assert sock.recv(4) == b"SSH-"
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=2).close()
        reached = True
    except OSError:
        reached = False
    assert not reached, "a testbed sshd listens beyond its own address"


def processes_in_testbed() -> list[int]:
    """PIDs on this machine rooted in, or started on, the testbed's folder."""
    state = str(ROOT / ".testbed")
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                root = os.readlink("/proc/%s/root" % entry)
                cmdline = Path("/proc/%s/cmdline" % entry).read_bytes()
            except OSError:
                continue
            if root.startswith(state) or state.encode() in cmdline:
                found.append(int(entry))
    return found


def test_up_down_up_keeps_state_and_leaves_nothing_behind(ssh_config):
    ssh(ssh_config, "echo1", "echo kept > /root/state-marker")
    first = inv("testbed.status").stdout
    again = inv("testbed.up").stdout
    assert again.count("already up") == 4
    assert inv("testbed.status").stdout == first

    inv("testbed.down")
    assert processes_in_testbed() == []
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(ROOT / ".testbed") not in mounts
    assert "stopped" in inv("testbed.status").stdout
    assert inv("testbed.down").stdout.strip() == ""  # a second down does nothing

    inv("testbed.up")
    assert ssh(ssh_config, "echo1", "cat /root/state-marker").stdout == "kept\n"
    assert ssh(ssh_config, "web1", "command -v hello").stdout.strip() == "/usr/bin/hello"


def test_reset_forgets_one_hosts_state_but_keeps_its_key(ssh_config):
    ssh(ssh_config, "echo1", "echo x > /root/reset-marker")
    inv("testbed.reset", "echo1")
    assert ssh(ssh_config, "echo1", "test -e /root/reset-marker", check=False).returncode == 1
    assert ssh(ssh_config, "echo1", "hostname").stdout.strip() == "echo1"


def test_a_light_host_runs_sshd_without_systemd(tmp_path):
    # testbed_init: none is the flavour for benchmarks with many hosts: sshd alone.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  vars: {user: deploy, known_hosts: known_hosts, ssh_key: %s}\n"
                         "  hosts:\n"
                         "    light1: {address: 127.0.0.41, testbed_init: none,"
                         " testbed_release: trixie}\n" % (ROOT / ".testbed/id_ed25519"))
    try:
        assert "light1" in inv("testbed.up", "--inventory", str(inventory)).stdout
        config = tmp_path / "ssh_config"
        config.write_text(inv("ssh-config", "--inventory", str(inventory)).stdout)
        assert ssh(config, "light1", "ps -p 1 -o comm=").stdout.strip() != "systemd"
        assert ssh(config, "light1", "id -un").stdout.strip() == "root"  # through sudo
        assert "VERSION_CODENAME=trixie" in ssh(config, "light1", "cat /etc/os-release").stdout
        status = inv("testbed.status", "--inventory", str(inventory)).stdout
        assert "trixie" in status and " none " in status
    finally:
        inv("testbed.down", "--inventory", str(inventory))
    assert not any("127.0.0.41" in line for line in
                   subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True,
                                  text=True).stdout.splitlines())
