"""package dispatches to apt; yum, dnf and apk load and fail clearly when run."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent.ops import package
from mainsail.opspec import OPS, canonical_args, canonical_op, coerce_args
from test_agent_support import calls, fake_command, make_bindir, run_op

INSTALLED = 'printf "curl\\tinstall ok installed\\t7.88\\n"'


def test_package_runs_apt_and_second_run_is_ok(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", 'printf "rsync\\tunknown ok not-installed\\t\\n"; exit 1')
    first = run_op("package", {"name": ["rsync"], "state": "installed"})
    assert first.status == "changed" and first.msg == "install rsync"
    assert any(c.startswith("apt-get install") and c.endswith("-- rsync") for c in calls(bindir))
    fake_command(bindir, "dpkg-query", INSTALLED.replace("curl", "rsync"))
    assert run_op("package", {"name": ["rsync"]}).status == "ok"


def test_package_removed_means_apt_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", INSTALLED)
    out = run_op("package", {"name": ["curl"], "state": "removed"}, check=True)
    assert out.status == "changed" and out.msg == "remove curl"
    assert not any(c.startswith("apt-get") for c in calls(bindir))


def test_package_detects_the_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(package.shutil, "which", lambda tool: "/x" if tool == "dnf" else None)
    assert package.detect() == "dnf"
    out = run_op("package", {"name": ["nginx"]})
    assert out.status == "failed" and "(dnf)" in out.msg


@pytest.mark.parametrize("tool", ["yum", "dnf", "apk"])
def test_foreign_managers_load_and_fail_with_a_clear_message(tool: str,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    assert canonical_op("ansible.builtin." + tool) == tool
    coerce_args(OPS[tool], canonical_args(OPS[tool], {"name": "nginx", "state": "present",
                                                      "update_cache": True}))
    monkeypatch.setenv("PATH", "/nonexistent")
    out = run_op(tool, {"name": ["nginx"], "state": "present"})
    assert out.status == "failed" and "this host has no %s" % tool in out.msg
    assert "pkg_mgr" in out.msg
