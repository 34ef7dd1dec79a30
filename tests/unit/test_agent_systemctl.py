"""systemd units through systemctl: one `systemctl show` per unit, the verbs that reach the
wanted state, daemon-reload for a changed unit file, and systemd's verdict and journal when a
unit fails. Runs against a fake systemctl on PATH (nothing on this machine is touched)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent import facts
from mainsail.agent.ops import _systemctl as systemctl
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
    assert outcome.status == "failed" and "requested service ghost: no such" in outcome.msg
    assert run_op("service", {"name": "ghost", "state": "started"}, check=True,
                  earlier=["apt"]).status == "changed"
    assert run_op("service", {"name": "ghost", "state": "started"}, check=True).status == \
        "failed"  # nothing earlier would change: the real run would fail too


# ---- the systemd operation ------------------------------------------------------------

def test_systemd_starts_enables_and_reloads_a_changed_unit_file_first(bindir):
    fake_systemctl(bindir, "LoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n"
                           "NeedDaemonReload=yes\n")
    outcome = run_op("systemd", {"name": "app", "state": "started", "enabled": True})
    assert outcome.status == "changed"
    assert "daemon-reload (the unit file changed on disk)" in outcome.msg
    assert calls(bindir)[1:] == ["systemctl daemon-reload", "systemctl enable -- app",
                                 "systemctl start -- app"]


def test_a_changed_unit_file_with_nothing_to_do_is_no_change(bindir):
    fake_systemctl(bindir, "LoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n"
                           "NeedDaemonReload=yes\n")
    assert run_op("systemd", {"name": "app", "enabled": False}).status == "ok"
    assert len(calls(bindir)) == 1  # no daemon-reload unasked: Ansible's systemd makes none


def test_systemd_does_nothing_when_the_unit_is_as_asked(bindir):
    fake_systemctl(bindir, "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n")
    assert run_op("systemd", {"name": "app", "state": "started", "enabled": True}).status == "ok"
    assert len(calls(bindir)) == 1  # one systemctl show, nothing else


def test_systemd_masks_and_unmasks(bindir):
    fake_systemctl(bindir, "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n")
    assert run_op("systemd", {"name": "old", "state": "stopped", "masked": True}).status == \
        "changed"
    assert calls(bindir)[1:] == ["systemctl stop -- old", "systemctl mask -- old"]


def test_a_masked_unit_is_not_started_without_masked_false(bindir):
    fake_systemctl(bindir, "LoadState=masked\nActiveState=inactive\nUnitFileState=masked\n")
    outcome = run_op("systemd", {"name": "old", "state": "started"})
    assert outcome.status == "failed" and "masked" in outcome.msg and "masked: false" in outcome.msg
    assert run_op("systemd", {"name": "old", "state": "started", "masked": False}).status == \
        "changed"
    assert calls(bindir)[-2:] == ["systemctl unmask -- old", "systemctl start -- old"]


def test_daemon_reload_alone_and_check_mode(bindir):
    fake_systemctl(bindir, "LoadState=loaded\n")
    assert run_op("systemd", {"daemon_reload": True}, check=True).status == "changed"
    assert calls(bindir) == []
    assert run_op("systemd", {"daemon_reload": True}).status == "changed"
    assert calls(bindir) == ["systemctl daemon-reload"]


def test_a_host_without_systemd_is_told_to_use_service(tmp_path, monkeypatch):
    monkeypatch.setattr(facts, "SYSTEMD_MARKER", str(tmp_path / "absent"))
    outcome = run_op("systemd", {"name": "app", "state": "started"})
    assert outcome.status == "failed" and "use the service operation" in outcome.msg


def test_systemd_needs_something_to_do():
    from mainsail.errors import BadInput
    from mainsail.opspec import OPS, coerce_args
    with pytest.raises(BadInput, match="nothing to do"):
        coerce_args(OPS["systemd"], {"name": "app"}, "site.yml:3")


def test_check_mode_assumes_a_missing_unit_only_after_a_step_that_would_change(
        bindir, tmp_path):
    from mainsail.agent.core import Context
    from mainsail.agent.main import run_step
    fake_systemctl(bindir, "LoadState=not-found\nActiveState=inactive\n")
    ctx = Context(check=True, would_change=[])
    ghost = {"id": 2, "op": "systemd", "args": {"name": "ghost", "state": "started"}}
    assert run_step(ctx, ghost)["status"] == "failed"  # as a real run, and as Ansible
    assert run_step(ctx, {"id": 1, "op": "service", "args": {"name": "x", "state": "started"}}
                    )["status"] == "failed" and ctx.would_change == []  # provides nothing
    touch = {"id": 3, "op": "file", "args": {"path": str(tmp_path / "unit"), "state": "touch"}}
    assert run_step(ctx, touch)["status"] == "changed" and ctx.would_change == ["file"]
    assumed = run_step(ctx, ghost)
    assert assumed["status"] == "changed" and not (tmp_path / "unit").exists()


@pytest.mark.parametrize("listing,enabled", [("indirect\n", False),
                                             ("indirect\\n  /etc/x.wants/dummy.socket\n", True)])
def test_an_indirect_unit_is_enabled_once_what_its_also_names_is_installed(
        bindir, listing, enabled):
    fake_command(bindir, "systemctl",
                 '[ "$1" = show ] && { printf "LoadState=loaded\\nUnitFileState=indirect\\n"; '
                 'exit 0; }; [ "$1" = is-enabled ] && { printf "%s"; exit 0; }; exit 0'
                 % listing)
    assert systemctl.Unit("dummy.service").enabled is enabled


@pytest.mark.parametrize("state", ["alias", "enabled-runtime"])
def test_alias_and_runtime_units_are_enabled_for_good_when_asked(bindir, state):
    fake_systemctl(bindir, "LoadState=loaded\nActiveState=active\nUnitFileState=%s\n" % state)
    assert not systemctl.Unit("x.service").enabled
