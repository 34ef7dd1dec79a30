"""The testbed: real sshd per host, isolated filesystems and process trees."""

import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT, inv


def ssh(config: Path, host: str, command: str, check: bool = True) -> subprocess.CompletedProcess:
    """OpenSSH's own client, host keys checked (StrictHostKeyChecking yes in the config)."""
    done = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", host, command],
                          capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_each_host_answers_with_its_own_name(ssh_config, live_testbed):
    for name in live_testbed:
        assert ssh(ssh_config, name, "hostname").stdout.strip() == name


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
