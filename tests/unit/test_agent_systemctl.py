"""systemd units through systemctl: one `systemctl show` per unit, the verbs that reach the
wanted state, daemon-reload for a changed unit file, and systemd's verdict and journal when a
unit fails. Runs against a fake systemctl on PATH (nothing on this machine is touched)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent import facts, systemctl
from test_agent_support import calls, fake_command, make_bindir, run_op


@pytest.fixture
def bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "systemd").mkdir()
    monkeypatch.setattr(facts, "SYSTEMD_MARKER", str(tmp_path / "systemd"))
    return make_bindir(tmp_path, monkeypatch)


def fake_systemctl(bindir: Path, props: str, failing: str = "") -> None:
    """A systemctl whose `show` prints props and whose FAILING verb exits 1."""
    fake_command(bindir, "systemctl", '[ "$1" = show ] && { printf "%s"; exit 0; }; '
                 '[ "$1" = "%s" ] && exit 1; exit 0' % (props.replace("\n", "\\n"), failing))


def test_show_output_is_parsed_into_properties() -> None:
    text = "Id=nginx.service\nLoadState=loaded\nActiveState=active\nNeedDaemonReload=no\n"
    assert systemctl.parse_show(text) == {"Id": "nginx.service", "LoadState": "loaded",
                                        "ActiveState": "active", "NeedDaemonReload": "no"}


@pytest.mark.parametrize("props,state,enabled,masked,verbs", [
    ("ActiveState=inactive\nUnitFileState=disabled", "started", True, None, ["enable", "start"]),
    ("ActiveState=active\nUnitFileState=enabled", "started", True, None, []),
    ("ActiveState=active\nUnitFileState=static", "started", True, None, []),
    ("ActiveState=active\nUnitFileState=enabled", "stopped", False, None, ["disable", "stop"]),
    ("ActiveState=active\nUnitFileState=enabled", "restarted", None, None, ["restart"]),
    ("ActiveState=inactive\nUnitFileState=enabled", "reloaded", None, None, ["start"]),
    ("ActiveState=active\nUnitFileState=enabled", "reloaded", None, None, ["reload"]),
    ("LoadState=masked\nActiveState=inactive\nUnitFileState=masked", "started", None, False,
     ["unmask", "start"]),
    ("ActiveState=active\nUnitFileState=enabled", "stopped", None, True, ["stop", "mask"]),
])
def test_the_verbs_that_reach_the_wanted_state(bindir, props, state, enabled, masked, verbs):
    fake_systemctl(bindir, "LoadState=loaded\n" + props + "\n")
    assert systemctl.plan_unit(systemctl.Unit("demo"), state, enabled, masked) == verbs


def test_a_unit_whose_file_changed_gets_a_daemon_reload_first(bindir):
    fake_systemctl(bindir, "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"
                           "NeedDaemonReload=yes\n")
    assert run_op("service", {"name": "demo", "state": "restarted"}).status == "changed"
    assert calls(bindir)[1:] == ["systemctl daemon-reload",
                                 calls(bindir)[2], "systemctl restart -- demo"]
    assert calls(bindir)[2].startswith("systemctl show")


def test_a_failed_start_shows_systemds_verdict_and_the_journal(bindir):
    fake_systemctl(bindir, "LoadState=loaded\nActiveState=failed\nSubState=failed\n"
                           "Result=exit-code\nUnitFileState=enabled\n", failing="start")
    fake_command(bindir, "journalctl", 'echo "[  12.5] demo[42]: bind: Address in use"')
    outcome = run_op("service", {"name": "demo", "state": "started"})
    assert outcome.status == "failed"
    assert "failed (failed), result exit-code" in outcome.msg
    assert "bind: Address in use" in outcome.msg
    assert "journalctl -u demo" in outcome.msg  # the hint


def test_a_unit_nobody_installed_is_a_missing_prerequisite(bindir):
    fake_systemctl(bindir, "LoadState=not-found\nActiveState=inactive\n")
    outcome = run_op("service", {"name": "ghost", "state": "started"})
    assert outcome.status == "failed" and "no such unit: ghost" in outcome.msg
    assert run_op("service", {"name": "ghost", "state": "started"}, check=True).status == \
        "changed"
