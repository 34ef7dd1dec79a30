"""timezone on temp files: the zone link, /etc/timezone and /etc/adjtime."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from mainsail.agent import journal as journal_mod
from mainsail.agent.ops import timezone
from mainsail.errors import BadInput
from mainsail.opspec import OPS, canonical_args, coerce_args
from test_agent_support import run_op


@pytest.fixture
def tz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    zoneinfo = tmp_path / "zoneinfo"
    for name in ("Etc/UTC", "Europe/Paris"):
        (zoneinfo / name).parent.mkdir(parents=True, exist_ok=True)
        (zoneinfo / name).write_bytes(b"TZif2 " + name.encode())
    etc = tmp_path / "etc"
    etc.mkdir()
    os.symlink(str(zoneinfo / "Etc/UTC"), etc / "localtime")
    (etc / "timezone").write_text("Etc/UTC\n")
    monkeypatch.setattr(timezone, "ZONEINFO", str(zoneinfo))
    monkeypatch.setattr(timezone, "LOCALTIME", str(etc / "localtime"))
    monkeypatch.setattr(timezone, "TIMEZONE_FILE", str(etc / "timezone"))
    monkeypatch.setattr(timezone, "ADJTIME", str(etc / "adjtime"))
    return tmp_path


def test_a_zone_is_set_by_link_and_file_then_left_alone(tz: Path) -> None:
    out = run_op("timezone", {"name": "Europe/Paris"})
    assert out.status == "changed", out.msg
    assert os.readlink(tz / "etc/localtime") == str(tz / "zoneinfo/Europe/Paris")
    assert (tz / "etc/timezone").read_text() == "Europe/Paris\n"
    assert out.data["diff"] == {"before": {"name": "Etc/UTC", "hwclock": "UTC"},
                                "after": {"name": "Europe/Paris", "hwclock": "UTC"}}
    assert "+name=Europe/Paris" in out.diff
    assert run_op("timezone", {"name": "Europe/Paris"}).status == "ok"


def test_check_mode_changes_nothing(tz: Path) -> None:
    out = run_op("timezone", {"name": "Europe/Paris", "hwclock": "local"}, check=True)
    assert out.status == "changed"
    assert os.readlink(tz / "etc/localtime") == str(tz / "zoneinfo/Etc/UTC")
    assert not (tz / "etc/adjtime").exists()


def test_the_hardware_clock_line_is_the_third_of_adjtime(tz: Path) -> None:
    (tz / "etc/adjtime").write_text("0.000000 1700000000 0.000000\n1700000000\nUTC\n")
    assert run_op("timezone", {"hwclock": "UTC"}).status == "ok"
    assert canonical_args(OPS["timezone"], {"rtc": "local"}) == {"hwclock": "local"}
    assert run_op("timezone", {"hwclock": "local"}).status == "changed"
    assert (tz / "etc/adjtime").read_text() == "0.000000 1700000000 0.000000\n1700000000\nLOCAL\n"
    assert run_op("timezone", {"hwclock": "local"}).status == "ok"


def test_an_unknown_zone_fails_with_a_hint(tz: Path) -> None:
    out = run_op("timezone", {"name": "Mars/Olympus"})
    assert out.status == "failed" and "not a time zone on this host" in out.msg


def test_bad_names_are_refused_before_anything_runs() -> None:
    with pytest.raises(BadInput, match="not a time zone name"):
        coerce_args(OPS["timezone"], {"name": "../../etc/shadow"}, "site.yml:3")
    with pytest.raises(BadInput, match="neither UTC nor local"):
        coerce_args(OPS["timezone"], {"hwclock": "GMT"})
    with pytest.raises(BadInput, match="nothing to set"):
        coerce_args(OPS["timezone"], {})


def test_a_rollback_restores_the_old_zone(tz: Path, tmp_path: Path) -> None:
    jr = journal_mod.Journal(str(tmp_path / "journal"))
    assert run_op("timezone", {"name": "Europe/Paris"}, journal=jr).status == "changed"
    journal_mod.restore(str(tmp_path / "journal"))
    assert os.readlink(tz / "etc/localtime") == str(tz / "zoneinfo/Etc/UTC")
    assert (tz / "etc/timezone").read_text() == "Etc/UTC\n"
