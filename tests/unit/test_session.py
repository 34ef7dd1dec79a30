"""The SSH side that needs no host: the command sent, the host-key policy."""

import shlex

import paramiko
import pytest

from mainsail.agentproc import BOOTSTRAP
from mainsail.inventory import Host
from mainsail.session import RefuseUnknownHost, UnknownHostKey, agent_command


def test_the_agent_command_is_one_quoted_python3_call():
    command = agent_command(Host("web1", user="root"), "abc123", become=True)
    assert shlex.split(command) == ["cd", "/", "&&", "python3", "-I", "-c", BOOTSTRAP, "abc123"]


def test_become_runs_the_agent_under_sudo_without_a_password_prompt():
    command = agent_command(Host("web1", user="deploy"), "abc123", become=True)
    assert shlex.split(command)[3:9] == ["sudo", "-n", "-H", "--", "python3", "-I"]
    assert "sudo" not in agent_command(Host("web1", user="deploy"), "abc", become=False)


def test_an_unknown_host_key_is_refused_never_added():
    client = paramiko.SSHClient()
    policy = RefuseUnknownHost()
    fake = paramiko.RSAKey.generate(1024)
    with pytest.raises(UnknownHostKey) as caught:
        policy.missing_host_key(client, "127.0.0.11", fake)
    assert caught.value.key is fake
    assert len(client.get_host_keys()) == 0


def test_the_bootstrap_never_imports_modules_from_the_login_folder(tmp_path):
    """A user who can write the login folder plants hashlib.py; root's python3 must not run it."""
    import os
    import subprocess
    home = tmp_path / "home"
    home.mkdir()
    marker = tmp_path / "pwned"
    (home / "hashlib.py").write_text("open(%r, 'w').close()\nraise SystemExit(42)\n" % str(marker))
    command = agent_command(Host("web1", user="root"), "abc123", become=True)
    command += " " + shlex.quote(str(tmp_path / "agent"))  # keep its cache out of /var/lib
    done = subprocess.run(["/bin/sh", "-c", command], cwd=home, input=b"", capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(home)}, timeout=60)
    assert not marker.exists()
    assert done.stdout.startswith(b'{"need_agent": true}')  # the bootstrap itself ran
