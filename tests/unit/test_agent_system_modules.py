"""hostname, sysctl and authorized_key on temp files, with fake system tools."""
from __future__ import annotations

import os
import pwd
import socket
from pathlib import Path

import pytest

from mainsail.agent import journal
from mainsail.agent.core import Context
from mainsail.agent.main import execute_step
from mainsail.agent.ops import hostname, sysctl
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import calls, fake_command, make_bindir, run_op

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA a@x"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB b@x"
ME = pwd.getpwuid(os.getuid()).pw_name


# ---------------------------------------------------------------- hostname

@pytest.fixture
def host_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "hostname").write_text("old\n")
    monkeypatch.setattr(hostname, "HOSTNAME_FILE", str(tmp_path / "hostname"))
    current = {"name": "old"}
    monkeypatch.setattr(socket, "gethostname", lambda: current["name"])
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "hostname")
    return bindir


def test_hostname_writes_the_file_and_sets_the_running_name(tmp_path: Path, host_env: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    out = run_op("hostname", {"name": "web1.example.org"})
    assert out.status == "changed" and "+web1.example.org" in out.diff
    assert (tmp_path / "hostname").read_text() == "web1.example.org\n"
    assert calls(host_env) == ["hostname -- web1.example.org"]
    assert out.data["ansible_facts"]["ansible_hostname"] == "web1"
    assert out.data["ansible_facts"]["ansible_domain"] == "example.org"
    monkeypatch.setattr(socket, "gethostname", lambda: "web1.example.org")
    assert run_op("hostname", {"name": "web1.example.org"}).status == "ok"


def test_hostname_check_mode_and_bad_names(tmp_path: Path, host_env: Path) -> None:
    assert run_op("hostname", {"name": "new"}, check=True).status == "changed"
    assert (tmp_path / "hostname").read_text() == "old\n" and calls(host_env) == []
    with pytest.raises(BadInput, match="not a host name"):
        coerce_args(OPS["hostname"], {"name": "bad_name!"}, "site.yml:2")
    with pytest.raises(BadInput, match="not supported"):
        coerce_args(OPS["hostname"], {"name": "ok", "use": "redhat"})


# ---------------------------------------------------------------- sysctl

@pytest.fixture
def proc_sys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proc"
    (root / "net" / "ipv4").mkdir(parents=True)
    (root / "net" / "ipv4" / "ip_forward").write_text("0\n")
    monkeypatch.setattr(sysctl, "PROC_SYS", str(root))
    return root


def test_sysctl_sets_the_file_and_reloads_once(tmp_path: Path, proc_sys: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "sysctl")
    conf = tmp_path / "99.conf"
    conf.write_text("# mine\nnet.ipv4.ip_forward = 0\nvm.swappiness=10\n")
    args = {"name": "net.ipv4.ip_forward", "value": 1, "sysctl_file": str(conf)}
    first = run_op("sysctl", args)
    assert first.status == "changed"
    assert conf.read_text() == "# mine\nnet.ipv4.ip_forward=1\nvm.swappiness=10\n"
    assert calls(bindir) == ["sysctl -p %s" % conf]
    assert run_op("sysctl", args).status == "ok" and len(calls(bindir)) == 1


def test_sysctl_set_writes_proc_sys_without_a_process(tmp_path: Path, proc_sys: Path) -> None:
    conf = tmp_path / "f.conf"
    args = {"name": "net.ipv4.ip_forward", "value": "1", "sysctl_file": str(conf),
            "reload": False, "sysctl_set": True}
    preview = run_op("sysctl", args, check=True)
    assert preview.status == "changed" and not conf.exists()
    assert run_op("sysctl", args).status == "changed"
    assert (proc_sys / "net" / "ipv4" / "ip_forward").read_text() == "1"
    assert conf.read_text() == "net.ipv4.ip_forward=1\n"
    assert run_op("sysctl", args).status == "ok"


def test_sysctl_absent_removes_the_line_and_values_compare_normalised(tmp_path: Path,
                                                                      proc_sys: Path) -> None:
    conf = tmp_path / "f.conf"
    conf.write_text("net.ipv4.tcp_rmem = 4096\t87380   6291456\nkernel.x=1\n")
    same = {"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456",
            "sysctl_file": str(conf), "reload": False}
    assert run_op("sysctl", same).status == "ok"
    gone = run_op("sysctl", {**same, "state": "absent"})
    assert gone.status == "changed" and conf.read_text() == "kernel.x=1\n"


def test_sysctl_rules() -> None:
    with pytest.raises(BadInput, match="needs value"):
        coerce_args(OPS["sysctl"], {"name": "vm.swappiness"}, "site.yml:1")
    with pytest.raises(BadInput, match="not a kernel parameter"):
        coerce_args(OPS["sysctl"], {"name": "../../etc/passwd", "value": "1"})


# ---------------------------------------------------------------- authorized_key

def keys_file(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".ssh" / "authorized_keys"


def test_a_key_is_added_with_its_folder_then_left_alone(tmp_path: Path) -> None:
    args = {"user": ME, "key": KEY_A, "path": str(keys_file(tmp_path))}
    (tmp_path / "home").mkdir()
    first = run_op("authorized_key", args)
    assert first.status == "changed" and keys_file(tmp_path).read_text() == KEY_A + "\n"
    assert (keys_file(tmp_path).parent.stat().st_mode & 0o777) == 0o700
    assert (keys_file(tmp_path).stat().st_mode & 0o777) == 0o600
    assert first.data["keyfile"] == str(keys_file(tmp_path)) and first.data["user"] == ME
    assert run_op("authorized_key", args).status == "ok"


def test_options_comment_exclusive_and_absent(tmp_path: Path) -> None:
    path = keys_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("# keep me\n%s\n%s\n" % (KEY_A, KEY_B))
    base = {"user": ME, "path": str(path)}
    out = run_op("authorized_key", {**base, "key": KEY_A, "key_options": 'from="10.0.0.1"'})
    assert out.status == "changed"
    assert path.read_text().splitlines()[1] == 'from="10.0.0.1" ' + KEY_A
    run_op("authorized_key", {**base, "key": KEY_B, "exclusive": True})
    assert path.read_text() == "# keep me\n%s\n" % KEY_B
    gone = run_op("authorized_key", {**base, "key": KEY_B, "state": "absent"})
    assert gone.status == "changed" and path.read_text() == "# keep me\n"
    assert run_op("authorized_key", {**base, "key": KEY_B, "state": "absent"}).status == "ok"


def test_authorized_key_check_mode_diff_and_journal(tmp_path: Path) -> None:
    path = keys_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(KEY_B + "\n")
    args = {"user": ME, "key": KEY_A, "path": str(path)}
    preview = run_op("authorized_key", args, check=True)
    assert preview.status == "changed" and "+" + KEY_A in preview.diff
    assert path.read_text() == KEY_B + "\n"
    jr = journal.Journal(str(tmp_path / "j"))
    execute_step(Context(journal=jr), {"id": 1, "op": "authorized_key", "args": args})
    journal.restore(str(tmp_path / "j"))
    assert path.read_text() == KEY_B + "\n"


def test_authorized_key_refuses_urls_garbage_and_unknown_users(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="URL"):
        coerce_args(OPS["authorized_key"], {"user": "x", "key": "https://example.org/k"})
    bad = run_op("authorized_key", {"user": ME, "key": "not a key",
                                    "path": str(keys_file(tmp_path))})
    assert bad.status == "failed" and "not an SSH public key" in bad.msg
    assert run_op("authorized_key", {"user": "no-such-user-x", "key": KEY_A}).status == "failed"
