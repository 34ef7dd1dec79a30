"""raw and wait_for_connection at a play's head: run by the controller before the agent."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from mainsail.errors import BadInput, Unreachable
from mainsail.inventory import Host
from mainsail.plan import build_plan
from mainsail.playbook import load_playbook
from mainsail.prelude import (Head, HeadFailed, exec_command, find_heads, head_length,
                              raw_command, run_head, without_head)
from mainsail.session import SUDO_PROMPT
from test_agent_support import run_op


# ---------------------------------------------------------------- a scripted SSH connection

class FakeChannel:
    """Answers each command with what ``script`` says: (rc, stdout, stderr)."""

    def __init__(self, conn: "FakeConn") -> None:
        self.conn = conn
        self.out = b""
        self.err = b""
        self.rc = 0
        self.closed = False
        self.sent = b""

    def exec_command(self, command: str) -> None:
        self.conn.commands.append(command)
        self.rc, out, err = self.conn.script(command)
        self.out, self.err = out.encode(), err.encode()

    def recv_ready(self) -> bool:
        return bool(self.out)

    def recv(self, n: int) -> bytes:
        data, self.out = self.out[:n], self.out[n:]
        return data

    def recv_stderr_ready(self) -> bool:
        return bool(self.err)

    def recv_stderr(self, n: int) -> bytes:
        data, self.err = self.err[:n], self.err[n:]
        return data

    def sendall(self, data: bytes) -> None:
        self.sent += data
        self.conn.typed.append(data)

    def shutdown_write(self) -> None:
        pass

    def exit_status_ready(self) -> bool:
        return not self.out and not self.err

    def recv_exit_status(self) -> int:
        return self.rc

    def close(self) -> None:
        self.closed = True


class FakeConn:
    def __init__(self, script: Any) -> None:
        self.script = script
        self.commands: List[str] = []
        self.typed: List[bytes] = []
        self.closed = False
        conn = self

        class Transport:
            def open_session(self, timeout: float = 0) -> FakeChannel:
                return FakeChannel(conn)

        class Client:
            def get_transport(self) -> Transport:
                return Transport()

        self.client = Client()

    def close(self) -> None:
        self.closed = True


def project(tmp_path: Path, plays: str) -> Path:
    (tmp_path / "playbooks").mkdir(parents=True)
    (tmp_path / "playbooks" / "site.yml").write_text(textwrap.dedent(plays).lstrip("\n"))
    return tmp_path


BOOTSTRAP = """
- hosts: all
  tasks:
    - name: python3 for the agent
      raw: test -x /usr/bin/python3 || apt-get install -y python3
      become: true
      register: boot
    - command: python3 --version
      when: boot.rc == 0
"""


def heads_of(root: Path, host: Host, check: bool = False) -> Dict[str, Head]:
    plays = load_playbook(root)
    return find_heads(root, None, plays, [[host]] * len(plays),  # type: ignore[arg-type]
                      extra_vars={}, check=check)


# ---------------------------------------------------------------- where a head is

def test_a_play_head_is_its_leading_raw_and_wait_for_connection_tasks(tmp_path: Path) -> None:
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - wait_for_connection: {timeout: 30}
            - ansible.builtin.raw: echo one
            - raw: echo two
            - command: echo three
            - raw: echo four
        """)
    play = load_playbook(root)[0]
    assert head_length(play) == 3
    assert [t.op for t in without_head(play, 3).tasks] == ["command", "raw"]


def test_a_play_with_roles_or_a_later_play_has_no_head(tmp_path: Path) -> None:
    (tmp_path / "roles" / "r" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "r" / "tasks" / "main.yml").write_text("- command: echo r\n")
    root = project(tmp_path, """
        - hosts: all
          roles: [r]
          tasks:
            - raw: echo one
        - hosts: all
          tasks:
            - raw: echo two
        """)
    assert head_length(load_playbook(root)[0]) == 0
    assert heads_of(root, Host("web1", address="127.0.0.11")) == {}


def test_the_head_is_planned_without_facts_and_errors_stop_before_anything_runs(
        tmp_path: Path) -> None:
    root = project(tmp_path, BOOTSTRAP)
    heads = heads_of(root, Host("web1", address="127.0.0.11"))
    steps = heads["web1"].plan.steps
    assert [s["op"] for s in steps] == ["raw"] and steps[0]["become"] is True
    bad = project(tmp_path / "bad", """
        - hosts: all
          tasks:
            - raw: "echo {{ ansible_distribution }}"
        """)
    with pytest.raises(BadInput, match="ansible_distribution"):
        heads_of(bad, Host("web1", address="127.0.0.11"))


def test_a_local_host_has_no_head_its_agent_is_this_machines_python(tmp_path: Path) -> None:
    root = project(tmp_path, BOOTSTRAP)
    assert heads_of(root, Host("me", connection="local")) == {}


# ---------------------------------------------------------------- the command line sent

def test_raw_command_lines() -> None:
    host = Host("web1", address="127.0.0.11", user="deploy")
    plain = {"args": {"cmd": "apt-get install -y python3"}}
    assert raw_command(host, plain) == "apt-get install -y python3"
    shell = {"args": {"cmd": "echo $0", "executable": "/bin/bash"}}
    assert raw_command(host, shell) == "/bin/bash -c 'echo $0'"
    become = {"args": {"cmd": "id -u"}, "become": True, "become_user": "root"}
    assert raw_command(host, become) == "sudo -n -H -u root -- /bin/sh -c 'id -u'"
    other = {"args": {"cmd": "id -u"}, "become": True, "become_user": "www-data"}
    assert " -u www-data -- " in raw_command(host, other)
    asks = Host("mail1", address="127.0.0.21", user="deploy", become_password="pw")
    line = raw_command(asks, become)
    assert line.startswith("sudo -S -p ") and "pw" not in line


# ---------------------------------------------------------------- running it

def script(rc: int = 0, out: str = "", err: str = "") -> Any:
    return lambda command: (rc, out, err)


def test_a_head_runs_its_raw_steps_and_keeps_their_registered_results(tmp_path: Path) -> None:
    root = project(tmp_path, BOOTSTRAP)
    host = Host("web1", address="127.0.0.11", user="deploy")
    conn = FakeConn(script(0, "Setting up python3\n"))
    seen: List[Dict[str, Any]] = []
    ran = run_head(host, heads_of(root, host)["web1"], False, seen.append, 5,
                   connector=lambda h, t: conn)  # type: ignore[arg-type,return-value]
    assert conn.commands == ["sudo -n -H -u root -- /bin/sh -c "
                             "'test -x /usr/bin/python3 || apt-get install -y python3'"]
    assert seen[0]["status"] == "changed" and seen[0]["rc"] == 0
    assert seen[0]["data"]["stdout_lines"] == ["Setting up python3"]
    assert ran.conn is conn
    assert ran.registered["boot"]["rc"] == 0 and ran.registered["boot"]["changed"] is True
    rest = build_plan(root, without_head(load_playbook(root)[0], 1), host, {}, ran.registered)
    assert [s["op"] for s in rest.steps] == ["command"]  # its when read boot.rc


def test_a_failing_raw_step_stops_the_host_and_closes_the_connection(tmp_path: Path) -> None:
    root = project(tmp_path, BOOTSTRAP)
    host = Host("web1", address="127.0.0.11", user="deploy")
    conn = FakeConn(script(100, "", "E: Unable to locate package python3"))
    seen: List[Dict[str, Any]] = []
    with pytest.raises(HeadFailed, match="non-zero return code"):
        run_head(host, heads_of(root, host)["web1"], False, seen.append, 5,
                 connector=lambda h, t: conn)  # type: ignore[arg-type,return-value]
    assert seen[0]["status"] == "failed" and "Unable to locate" in seen[0]["stderr"]
    assert conn.closed


def test_changed_when_and_ignore_errors_judge_a_head_step(tmp_path: Path) -> None:
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - raw: test -x /usr/bin/python3
              changed_when: false
            - raw: "false"
              ignore_errors: true
        """)
    host = Host("web1", address="127.0.0.11", user="deploy")
    conn = FakeConn(lambda command: (1, "", "") if command == "false" else (0, "", ""))
    seen: List[Dict[str, Any]] = []
    run_head(host, heads_of(root, host)["web1"], False, seen.append, 5,
             connector=lambda h, t: conn)  # type: ignore[arg-type,return-value]
    assert [r["status"] for r in seen] == ["ok", "ignored"]


def test_check_mode_skips_the_head_without_connecting(tmp_path: Path) -> None:
    root = project(tmp_path, BOOTSTRAP)
    host = Host("web1", address="127.0.0.11", user="deploy")

    def refuse(h: Host, t: float) -> Any:
        raise AssertionError("no connection in check mode")
    seen: List[Dict[str, Any]] = []
    ran = run_head(host, heads_of(root, host, check=True)["web1"], True, seen.append, 5,
                   connector=refuse)
    assert [r["status"] for r in seen] == ["skipped"] and ran.conn is None
    assert ran.registered["boot"]["skipped"] is True


def test_wait_for_connection_retries_until_the_host_answers(tmp_path: Path) -> None:
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - wait_for_connection: {sleep: 0, timeout: 10, connect_timeout: 1}
            - raw: echo up
        """)
    host = Host("web1", address="127.0.0.11", user="deploy")
    conn = FakeConn(script(0, "up\n"))
    tries: List[float] = []

    def flaky(h: Host, timeout: float) -> Any:
        tries.append(timeout)
        if len(tries) < 3:
            raise Unreachable("cannot connect to 127.0.0.11:22: refused")
        return conn
    seen: List[Dict[str, Any]] = []
    run_head(host, heads_of(root, host)["web1"], False, seen.append, 5, connector=flaky)
    assert tries == [1.0, 1.0, 1.0]
    assert [r["status"] for r in seen] == ["ok", "changed"] and conn.commands == ["echo up"]


def test_wait_for_connection_fails_after_its_timeout(tmp_path: Path) -> None:
    root = project(tmp_path, """
        - hosts: all
          tasks:
            - wait_for_connection: {sleep: 0, timeout: 1, connect_timeout: 1}
        """)
    host = Host("web1", address="127.0.0.11", user="deploy")

    def down(h: Host, timeout: float) -> Any:
        raise Unreachable("cannot connect to 127.0.0.11:22: refused")
    with pytest.raises(HeadFailed, match="timed out waiting for connection"):
        run_head(host, heads_of(root, host)["web1"], False, lambda r: None, 5, connector=down)


def test_sudo_is_given_the_password_once_on_the_channel() -> None:
    conn = FakeConn(lambda command: (0, "0\n", SUDO_PROMPT))
    rc, out, err = exec_command(conn, "sudo -S -p X -H -u root -- /bin/sh -c 'id -u'", 5,
                                password="s3cret")  # type: ignore[arg-type]
    assert (rc, out, err) == (0, "0\n", "") and conn.typed == [b"s3cret\n"]
    twice = FakeConn(lambda command: (1, "", SUDO_PROMPT + "Sorry, try again.\n" + SUDO_PROMPT))
    with pytest.raises(Unreachable, match="refused the become password"):
        exec_command(twice, "sudo -S ...", 5, password="wrong")  # type: ignore[arg-type]


# ---------------------------------------------------------------- raw through the agent

def test_raw_after_the_head_runs_through_the_agent(tmp_path: Path) -> None:
    result = run_op("raw", {"cmd": "echo out; echo err >&2; exit 3"})
    assert result.status == "failed" and result.rc == 3 and result.msg == "non-zero return code"
    assert result.data["stdout_lines"] == ["out"] and result.data["stderr_lines"] == ["err"]
    bash = run_op("raw", {"cmd": "echo $BASH_VERSION", "executable": "/bin/bash"})
    assert bash.status == "changed" and bash.stdout.strip()
    assert run_op("raw", {"cmd": "touch %s" % (tmp_path / "x")}, check=True).status == "skipped"
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- in a run

def test_a_run_runs_the_head_first_then_plans_the_rest_with_its_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two SSH hosts whose head runs over a scripted connection; their agents then run here
    as local processes. b's head fails: b stops there, failed (not unreachable); a goes on."""
    import dataclasses
    import getpass
    import io

    from rich.console import Console

    from mainsail import prelude, runner, session
    from mainsail.inventory import load_inventory, select_hosts
    from mainsail.report import Masker, Progress

    root = tmp_path / "proj"
    (root / "inventory").mkdir(parents=True)
    (root / "inventory/hosts.yml").write_text("all:\n  hosts:\n" + "".join(
        "    %s: {address: 127.0.5.%d, user: %s, mainsail_state_dir: %s}\n"
        % (h, i + 1, getpass.getuser(), tmp_path / "state" / h) for i, h in enumerate("ab")))
    project(root, """
        - hosts: all
          tasks:
            - raw: "echo {{ inventory_hostname }}"
              register: boot
            - copy: {content: "{{ boot.stdout }}", dest: "%s/{{ inventory_hostname }}"}
        """ % tmp_path)
    conns: Dict[str, FakeConn] = {}

    def connector(host: Host, timeout: float) -> FakeConn:
        conns[host.name] = FakeConn(lambda c: (1 if c == "echo b" else 0, c[5:] + "\n", ""))
        return conns[host.name]

    opened: List[Any] = []

    def local_session(host: Host, timeout: float = 0, become: Any = None,
                      conn: Any = None, timings: Any = None) -> Any:
        opened.append(conn)
        return session.open_session(dataclasses.replace(host, connection="local"), timeout)

    monkeypatch.setattr(prelude, "connect", connector)
    monkeypatch.setattr(runner, "run_head", lambda *a: prelude.run_head(*a, connector=connector))
    monkeypatch.setattr(runner, "open_session", local_session)
    inv = load_inventory(root / "inventory/hosts.yml")
    progress = Progress(Console(file=io.StringIO(), width=200), Masker(), show_diff=False)
    record = runner.run_playbook(root, inv, load_playbook(root), select_hosts(inv),
                                 runner.RunOptions(), progress)
    assert (tmp_path / "a").read_text() == "a\n"
    assert opened == [conns["a"]]  # the agent started over the head's own connection
    assert record.hosts["a"].state == "ok" and record.hosts["a"].changed == 2
    assert record.hosts["b"].state == "failed" and not record.hosts["b"].unreachable
    assert not (tmp_path / "b").exists()
