"""`inv verify`: each role's testinfra checks, run against the hosts the site gives that role.

Checks connect through OpenSSH with a generated client config (StrictHostKeyChecking yes and
the inventory's pinned keys), never with host-key checking off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .errors import BadInput
from .fleet import FAILED, OK, FleetResult, HostResult, parallel
from .inventory import Host, Inventory, select_hosts
from .playbook import Play
from .plan import role_vars

from .masking import Masker
from .testinfra_plugin import SUDO_PASSWORD_ENV, VARS_FILE_ENV
from .vault import private_dir_base, secret_texts


@dataclass(frozen=True)
class HostChecks:
    host: Host
    roles: tuple[str, ...]
    files: tuple[Path, ...]
    hostvars: Mapping[str, Any]
    # Checks run with the privileges the host's plays deploy with: through sudo when they
    # escalate (they read what root wrote).
    sudo: bool = False


def roles_for(inv: Inventory, plays: Sequence[Play], host: Host) -> list[Play]:
    return [p for p in plays if host.name in {h.name for h in safe_select(inv, p.hosts)}]


def safe_select(inv: Inventory, pattern: str) -> list[Host]:
    try:
        return select_hosts(inv, limit=pattern)
    except BadInput:
        return []


def resolved_vars(root: Path, inv: Inventory, plays: Sequence[Play],
                  host: Host) -> dict[str, Any]:
    """The host's variables as its roles see them, by the plan's own precedence."""
    merged: dict[str, Any] = {}
    for play in plays:
        merged.update(role_vars(root, play, host, inv))
    return merged


def checks_for(root: Path, inv: Inventory, plays: Sequence[Play], host: Host) -> HostChecks:
    mine = roles_for(inv, plays, host)
    roles = tuple(dict.fromkeys(use.role.name for play in mine for use in play.roles))
    files = tuple(f for name in roles
                  for f in sorted((root / "roles" / name / "tests").glob("test_*.py")))
    from .runner import needs_become
    sudo = host.user != "root" and needs_become(host, mine)
    return HostChecks(host, roles, files, resolved_vars(root, inv, mine, host), sudo)


def pytest_argv(checks: HostChecks, ssh_config: Path) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", "testinfra.plugin", "-p", "mainsail.testinfra_plugin",
            "--rootdir", str(checks.files[0].parents[2]),
            "--ssh-config", str(ssh_config), "--hosts", "ssh://%s" % checks.host.name,
            *(["--sudo"] if checks.sudo else []), *[str(f) for f in checks.files]]


def run_checks(checks: HostChecks, ssh_config: Path) -> tuple[int, str]:
    """pytest on the host's checks; its output with the host's secrets masked (a failing
    assertion quotes the values it compared)."""
    if not checks.files:
        return 0, "no checks for roles %s\n" % ", ".join(checks.roles)
    with tempfile.TemporaryDirectory(prefix="mainsail-verify-", dir=private_dir_base()) as tmp:
        code, output = _run_pytest(checks, ssh_config, Path(tmp))
    password = checks.host.become_password
    secrets = [*secret_texts(checks.hostvars), *([str(password)] if password else [])]
    return code, Masker().with_secrets(secrets)(output)


def _run_pytest(checks: HostChecks, ssh_config: Path, private: Path) -> tuple[int, str]:
    """The variables go through a 0600 file in the private (0700) folder ``private``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAINSAIL_VAULT", "MAINSAIL_VERIFY_"))}
    # Only the plugins the checks need (pytest_argv): loading every installed one (the
    # test extra's hypothesis, say) cost 0.75 s of CPU per host, more than the checks.
    # PYTEST_ADDOPTS can still add one (-p NAME).
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env[VARS_FILE_ENV] = str(_private_file(private / "hostvars.json",
                                           json.dumps(checks.hostvars)))
    if checks.sudo and checks.host.become_password is not None:
        # To the checks' sudo through a private file (the folder is 0700), never an argv.
        env[SUDO_PASSWORD_ENV] = str(_private_file(private / "sudo",
                                                   str(checks.host.become_password)))
    done = subprocess.run(pytest_argv(checks, ssh_config), capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout + done.stderr


def _private_file(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def verify(root: Path, inv: Inventory, plays: Sequence[Play], hosts: Sequence[Host],
           ssh_config_text: str, say: Callable[[str], None], forks: int = 4
           ) -> FleetResult[str]:
    """Each host's checks, its outcome failed when one fails."""
    todo = [checks_for(root, inv, plays, h) for h in hosts]
    todo = [c for c in todo if c.roles]
    if not todo:
        raise BadInput("no selected host is in a play of the playbook", where="command line",
                       hint="check --host/--group against playbooks/site.yml")
    with tempfile.TemporaryDirectory(prefix="mainsail-verify-") as tmp:
        config = Path(tmp) / "ssh_config"
        # testinfra opens a connection per command; sharing one per host saves seconds.
        config.write_text("Host *\n  ControlMaster auto\n  ControlPath %s/%%C\n"
                          "  ControlPersist 5\n\n%s" % (tmp, ssh_config_text))
        results = parallel(lambda c: run_checks(c, config), todo, forks)
    for checks, (code, output) in zip(todo, results):
        say("== %s (%s): %s" % (checks.host.name, ", ".join(checks.roles),
                                "passed" if code == 0 else "FAILED"))
        if code != 0 or os.environ.get("MAINSAIL_VERBOSE"):
            say(output.rstrip())
        else:
            say("   " + (output.strip().splitlines() or [""])[-1])
    return FleetResult(tuple(HostResult(checks.host, OK if code == 0 else FAILED, output)
                             for checks, (code, output) in zip(todo, results)))
