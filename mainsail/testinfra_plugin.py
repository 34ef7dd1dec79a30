"""pytest plugin for `inv verify`: the `hostvars` fixture, the host's resolved variables."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

#: The path of a 0600 JSON file (in a 0700 folder) with the host's variables: they may hold
#: decrypted secrets, which an environment variable would show to every child process.
VARS_FILE_ENV = "MAINSAIL_VERIFY_HOSTVARS_FILE"
SUDO_PASSWORD_ENV = "MAINSAIL_VERIFY_SUDO_PASSWORD_FILE"


def pytest_configure(config: pytest.Config) -> None:
    """With --sudo, checks run as root the way deploys do: `sudo -n`, or, on a host whose sudo
    asks for a password, `sudo -S` with the password on the command's stdin."""
    from testinfra.backend import base

    path = os.environ.get(SUDO_PASSWORD_ENV)
    password = open(path).read().encode() + b"\n" if path else None
    prompt = "-S -p ''" if password else "-n"

    def get_sudo_command(self: Any, command: str, sudo_user: str | None) -> str:
        if sudo_user is None:
            return self.quote("sudo %s /bin/sh -c %%s" % prompt, command)
        return self.quote("sudo %s -u %%s /bin/sh -c %%s" % prompt, sudo_user, command)

    def run_local(self: Any, command: str, *args: str) -> Any:
        import shlex
        import subprocess
        line = self.quote(command, *args)  # testinfra's ssh command, every argument quoted
        cmd = self.encode(line)
        # Split here rather than hand the line to a shell: nothing in it is run by one.
        proc = subprocess.Popen(shlex.split(line), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = proc.communicate(password if self.sudo else None)
        return self.result(proc.returncode, cmd, stdout, stderr)

    base.BaseBackend.get_sudo_command = get_sudo_command
    if password:
        base.BaseBackend.run_local = run_local


@pytest.fixture(scope="session")
def hostvars() -> dict[str, Any]:
    """Inventory vars (with `address`, `inventory_hostname`) over the applied roles' defaults."""
    path = os.environ.get(VARS_FILE_ENV)
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)  # type: ignore[no-any-return]
