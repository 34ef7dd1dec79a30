"""`inv verify` on local hosts: checks run through the host's agent session, each host in a
fork of its own (or in this process), results and failures per host, secrets masked."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest

from mainsail import verify as verify_module
from mainsail.inventory import load_inventory
from mainsail.playbook import load_playbook

SECRET = "n0t-For-Output-7731"


def project(tmp_path: Path, check: str, hosts: tuple[str, ...] = ("a", "b")) -> Path:
    lines = ["all:", "  hosts:"]
    for name in hosts:
        lines += ["    %s:" % name, "      connection: local",
                  "      mainsail_state_dir: %s" % (tmp_path / "state" / name),
                  "      colour: %s" % ("blue" if name == "a" else "red"),
                  # a secret (a become password is masked in all output)
                  "      become_password: %s" % SECRET]
    files = {
        "inventory/hosts.yml": "\n".join(lines) + "\n",
        "playbooks/site.yml": "- hosts: all\n  roles: [app]\n",
        "roles/app/defaults/main.yml": "token: %s\n" % SECRET,
        "roles/app/tasks/main.yml": "- debug: {msg: hi}\n",
        "roles/app/tests/test_app.py": textwrap.dedent(check),
    }
    for name, text in files.items():
        path = tmp_path / "p" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "p"


def run(root: Path) -> tuple[dict[str, tuple[str, str]], str]:
    inv = load_inventory(root / "inventory/hosts.yml")
    plays = load_playbook(root, "site")
    said: list[str] = []
    result = verify_module.verify(root, inv, plays, list(inv.hosts.values()), said.append)
    return {r.host.name: (r.state, r.value) for r in result.results}, "\n".join(said)


CHECKS = """
    def test_the_command_runs_on_the_host(host):
        assert host.run("echo %s", "here").stdout == "here\\n"
        assert host.run("exit 3").rc == 3

    def test_colour_is_blue(host, hostvars):
        assert hostvars["colour"] == "blue", hostvars["token"]
    """


@pytest.mark.parametrize("forked", [True, False])
def test_each_host_has_its_own_outcome_and_secrets_are_masked(tmp_path, monkeypatch, forked):
    if not forked:  # as when threads already run: every host in this process
        monkeypatch.setattr(threading, "active_count", lambda: 2)
    else:
        monkeypatch.setattr(threading, "active_count", lambda: 1)
    outcomes, said = run(project(tmp_path, CHECKS))
    assert outcomes["a"][0] == "ok" and outcomes["b"][0] == "failed"
    assert "2 passed" in outcomes["a"][1]
    assert "1 failed, 1 passed" in outcomes["b"][1]
    assert "test_colour_is_blue[b]" in outcomes["b"][1] and "red" in outcomes["b"][1]
    assert SECRET not in said and "***" in said
    assert "== a (app): passed" in said and "== b (app): FAILED" in said


def test_a_check_file_that_does_not_load_fails_its_hosts(tmp_path):
    outcomes, said = run(project(tmp_path, "def broken(:\n"))
    assert outcomes["a"][0] == outcomes["b"][0] == "failed"
    assert "SyntaxError" in outcomes["a"][1] or "invalid syntax" in outcomes["a"][1]


def test_a_host_that_cannot_be_reached_fails_alone(tmp_path):
    root = project(tmp_path, CHECKS.replace('"blue"', 'hostvars["colour"]'))
    hosts = root / "inventory/hosts.yml"
    hosts.write_text(hosts.read_text() + "    c:\n      address: 127.0.0.1\n      port: 1\n"
                     "      colour: green\n")
    outcomes, said = run(root)
    assert outcomes["a"][0] == outcomes["b"][0] == "ok"
    assert outcomes["c"][0] == "failed" and outcomes["c"][1].startswith("unreachable:")
