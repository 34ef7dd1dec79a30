"""The cron operation on temp files: add, change, remove, check mode, diff, journal."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mainsail.agent import journal
from mainsail.agent.core import Context
from mainsail.agent.main import execute_step
from mainsail.agent.ops import cron
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import run_op


def job(tmp_path: Path, **args: object) -> dict:
    base = {"name": "backup", "job": "/usr/local/bin/backup", "cron_file": str(tmp_path / "f"),
            "user": "root"}
    return {**base, **args}


def test_a_job_is_added_with_its_marker_then_left_alone(tmp_path: Path) -> None:
    args = job(tmp_path, minute="30", hour="2")
    first = run_op("cron", args)
    assert first.status == "changed" and "added" in first.msg
    assert (tmp_path / "f").read_text() == \
        "#Mainsail: backup\n30 2 * * * root /usr/local/bin/backup\n"
    assert stat.S_IMODE(os.stat(tmp_path / "f").st_mode) == 0o644
    assert run_op("cron", args).status == "ok"


def test_a_changed_job_is_replaced_in_place_and_other_lines_stay(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("SHELL=/bin/sh\n#Ansible: backup\n0 1 * * * root old\n# mine\n")
    changed = run_op("cron", job(tmp_path, special_time="daily"))
    assert changed.status == "changed" and "changed" in changed.msg
    assert (tmp_path / "f").read_text() == ("SHELL=/bin/sh\n#Mainsail: backup\n"
                                            "@daily root /usr/local/bin/backup\n# mine\n")
    assert "-0 1 * * * root old" in changed.diff and "+@daily" in changed.diff


def test_check_mode_reports_and_writes_nothing(tmp_path: Path) -> None:
    outcome = run_op("cron", job(tmp_path), check=True)
    assert outcome.status == "changed" and not (tmp_path / "f").exists()
    assert "+#Mainsail: backup" in outcome.diff


def test_absent_removes_the_job_and_its_marker(tmp_path: Path) -> None:
    run_op("cron", job(tmp_path))
    (tmp_path / "f").write_text((tmp_path / "f").read_text() + "MAILTO=x\n")
    gone = run_op("cron", {"name": "backup", "state": "absent", "cron_file": str(tmp_path / "f")})
    assert gone.status == "changed" and (tmp_path / "f").read_text() == "MAILTO=x\n"
    assert run_op("cron", {"name": "backup", "state": "absent",
                           "cron_file": str(tmp_path / "f")}).status == "ok"


def test_absent_from_a_missing_file_is_ok(tmp_path: Path) -> None:
    assert run_op("cron", {"name": "x", "state": "absent",
                           "cron_file": str(tmp_path / "none")}).status == "ok"
    assert not (tmp_path / "none").exists()


def test_disabled_keeps_the_job_commented_out(tmp_path: Path) -> None:
    run_op("cron", job(tmp_path, disabled=True))
    assert (tmp_path / "f").read_text().splitlines()[1] == "#* * * * * root /usr/local/bin/backup"


def test_env_manages_a_variable_line(tmp_path: Path) -> None:
    args = {"name": "MAILTO", "env": True, "job": "ops@example.org",
            "cron_file": str(tmp_path / "f"), "user": "root"}
    assert run_op("cron", args).status == "changed"
    assert run_op("cron", {**args, "job": "root"}).status == "changed"
    assert (tmp_path / "f").read_text() == "MAILTO=root\n"
    # a new variable goes at the top, as Ansible puts it: every job below sees it
    run_op("cron", {"name": "backup", "job": "/usr/local/bin/backup",
                    "cron_file": str(tmp_path / "f"), "user": "root"})
    run_op("cron", {**args, "name": "SHELL", "job": "/bin/bash"})
    assert (tmp_path / "f").read_text().splitlines()[:2] == ["SHELL=/bin/bash", "MAILTO=root"]


def test_a_users_crontab_is_their_spool_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cron, "CRONTABS", str(tmp_path))
    outcome = run_op("cron", {"name": "tick", "job": "date", "minute": "*/5", "user": "nobody"})
    assert outcome.status == "changed"
    spool = tmp_path / "nobody"
    assert spool.read_text() == "#Mainsail: tick\n*/5 * * * * date\n"
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600 and spool.stat().st_uid == 65534


def test_backup_keeps_the_old_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("# old\n")
    run_op("cron", job(tmp_path, backup=True))
    assert (tmp_path / "f.mainsail-backup").read_text() == "# old\n"


def test_a_change_is_journalled_and_rolled_back(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("# before\n")
    folder = str(tmp_path / "journal")
    ctx = Context(journal=journal.Journal(folder))
    assert execute_step(ctx, {"id": 1, "op": "cron", "args": job(tmp_path)}).status == "changed"
    assert "#Mainsail: backup" in (tmp_path / "f").read_text()
    journal.restore(folder)
    assert (tmp_path / "f").read_text() == "# before\n"


@pytest.mark.parametrize("args,problem", [
    ({"name": "x"}, "needs job"),
    ({"name": "x", "job": "j", "minute": "5; rm"}, "not a cron time field"),
    ({"name": "x", "job": "j", "special_time": "daily", "hour": "3"}, "special_time replaces"),
    ({"name": "x", "job": "a\nb"}, "one line"),
    ({"name": "not a var", "job": "j", "env": True}, "variable's name"),
])
def test_bad_arguments_are_refused_at_load_time(args: dict, problem: str) -> None:
    with pytest.raises(BadInput) as caught:
        coerce_args(OPS["cron"], args, "site.yml:3")
    assert problem in caught.value.what and caught.value.where == "site.yml:3"


def test_aliases_and_defaults_come_from_the_declaration() -> None:
    spec = OPS["cron"]
    assert spec.arg("day").aliases == ("dom",) and spec.arg("weekday").aliases == ("dow",)
    assert coerce_args(spec, {"name": "x", "job": "j"}, "")["minute"] == "*"


def test_a_cron_file_whose_last_job_goes_is_removed(tmp_path: Path) -> None:
    run_op("cron", job(tmp_path))
    (tmp_path / "f").write_text((tmp_path / "f").read_text() + "\n   \n\t\n")
    gone = run_op("cron", {"name": "backup", "state": "absent", "cron_file": str(tmp_path / "f")})
    assert gone.status == "changed" and not (tmp_path / "f").exists()


def test_etc_crontab_is_not_a_cron_file() -> None:
    refused = run_op("cron", {"name": "x", "job": "ls", "cron_file": "/etc/crontab",
                              "user": "root"})
    assert refused.status == "failed"
    assert refused.msg == "Will not manage /etc/crontab via cron_file, see documentation."


def test_cron_is_woken_even_in_the_second_it_last_read_its_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    # cron re-reads a folder only when its mtime, in whole seconds, changed: the folder is
    # dated to the next second, so a job added right after cron's restart is still seen
    import time
    monkeypatch.setattr(cron, "CRON_D", str(tmp_path))
    before = int(time.time())
    assert run_op("cron", job(tmp_path)).status == "changed"
    assert os.stat(tmp_path).st_mtime >= before + 1
    assert os.stat(tmp_path).st_mtime > os.stat(tmp_path / "f").st_mtime
    # a folder cron does not read is left as it is
    other = tmp_path / "other"
    other.mkdir()
    os.utime(other, (1000, 1000))
    run_op("cron", job(tmp_path, cron_file=str(other / "f")))
    assert os.stat(other).st_mtime != 1000 and os.stat(other).st_mtime <= time.time()


def _env(tmp_path: Path, name: str, value: str, **more: object) -> dict:
    return {"name": name, "env": True, "job": value, "cron_file": str(tmp_path / "f"),
            "user": "root", **more}


def test_insertafter_and_insertbefore_place_a_new_variable(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("SHELL=/bin/sh\nPATH=/usr/bin\n#Mainsail: j\n* * * * * root j\n")
    after = run_op("cron", _env(tmp_path, "MAILTO", "ops", insertafter="SHELL"))
    assert after.status == "changed" and "+MAILTO=ops" in after.diff
    assert (tmp_path / "f").read_text().splitlines()[:3] == \
        ["SHELL=/bin/sh", "MAILTO=ops", "PATH=/usr/bin"]
    before = run_op("cron", _env(tmp_path, "HOME", "/root", insertbefore="SHELL"))
    assert before.status == "changed"
    assert (tmp_path / "f").read_text().splitlines()[:2] == ["HOME=/root", "SHELL=/bin/sh"]
    # a variable already there keeps its place: changed in place, or left alone
    assert run_op("cron", _env(tmp_path, "HOME", "/root", insertafter="PATH")).status == "ok"
    assert run_op("cron", _env(tmp_path, "HOME", "/srv", insertafter="PATH")).status == "changed"
    assert (tmp_path / "f").read_text().splitlines()[0] == "HOME=/srv"


def test_insertafter_in_check_mode_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("SHELL=/bin/sh\nPATH=/usr/bin\n")
    outcome = run_op("cron", _env(tmp_path, "MAILTO", "ops", insertbefore="PATH"), check=True)
    assert outcome.status == "changed" and "+MAILTO=ops" in outcome.diff
    assert (tmp_path / "f").read_text() == "SHELL=/bin/sh\nPATH=/usr/bin\n"


def test_insertafter_naming_a_missing_variable_fails_as_ansible_does(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("SHELL=/bin/sh\n")
    for check in (False, True):
        failed = run_op("cron", _env(tmp_path, "MAILTO", "ops", insertafter="NOPE"), check=check)
        assert failed.status == "failed" and failed.msg == "Variable named 'NOPE' not found."
    assert (tmp_path / "f").read_text() == "SHELL=/bin/sh\n"


@pytest.mark.parametrize("args,problem", [
    ({"name": "A", "job": "j", "env": True, "insertafter": "B", "insertbefore": "C"},
     "parameters are mutually exclusive: insertafter|insertbefore"),
    ({"name": "x", "job": "j", "insertafter": "B"},
     "Insertafter and insertbefore parameters are valid only with env=yes"),
    ({"name": "x", "job": "j", "env": False, "insertbefore": "B"},
     "Insertafter and insertbefore parameters are valid only with env=yes"),
])
def test_insert_arguments_are_checked_as_ansible_checks_them(args: dict, problem: str) -> None:
    with pytest.raises(BadInput) as caught:
        coerce_args(OPS["cron"], args, "site.yml:3")
    assert problem in caught.value.what


def test_insertafter_is_ignored_when_removing(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("A=1\nB=2\n")
    gone = run_op("cron", {"name": "A", "env": True, "state": "absent", "insertafter": "B",
                           "cron_file": str(tmp_path / "f")})
    assert gone.status == "changed" and (tmp_path / "f").read_text() == "B=2\n"
