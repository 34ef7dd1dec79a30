"""The SSH side that needs no host: the command sent, the host-key policy."""

import shlex

import paramiko
import pytest

from mainsail.agentproc import BOOTSTRAP
from mainsail.inventory import Host
from mainsail.session import RefuseUnknownHost, UnknownHostKey, agent_command


def test_the_agent_command_is_one_quoted_python3_call():
    command = agent_command(Host("web1", user="root"), "abc123", become=True)
    assert shlex.split(command) == ["python3", "-c", BOOTSTRAP, "abc123"]


def test_become_runs_the_agent_under_sudo_without_a_password_prompt():
    command = agent_command(Host("web1", user="deploy"), "abc123", become=True)
    assert shlex.split(command)[:5] == ["sudo", "-n", "-H", "--", "python3"]
    assert not agent_command(Host("web1", user="deploy"), "abc", become=False).startswith("sudo")


def test_an_unknown_host_key_is_refused_never_added():
    client = paramiko.SSHClient()
    policy = RefuseUnknownHost()
    fake = paramiko.RSAKey.generate(1024)
    with pytest.raises(UnknownHostKey) as caught:
        policy.missing_host_key(client, "127.0.0.11", fake)
    assert caught.value.key is fake
    assert len(client.get_host_keys()) == 0
