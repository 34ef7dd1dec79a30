"""What a run shows: progress lines, live bars on a terminal, JSON and JUnit reports."""

import io
import json
import xml.etree.ElementTree as ET

from rich.console import Console

from mainsail.report import (HostRecord, Masker, Progress, RunRecord, StepRecord, write_json,
                             write_junit)


def record() -> RunRecord:
    run = RunRecord(playbook="site", check=False)
    host = run.host("web1")
    host.add(StepRecord("p", "write config", "roles/a/tasks/main.yml:3", "changed",
                        diff="+token=s3cr3t\n"))
    host.add(StepRecord("p", "restart", "roles/a/tasks/main.yml:9", "failed", msg="boom",
                        cmd="service x restart", rc=1, stderr="s3cr3t leaked\n"))
    host.verdict = "failed"  # the agent's verdict; the report only shows it
    run.hosts["mail1"] = HostRecord("mail1", unreachable=True, error="cannot connect")
    return run


def test_json_report_has_counts_states_and_masked_values(tmp_path):
    write_json(record(), tmp_path / "r.json", Masker(("s3cr3t",)))
    text = (tmp_path / "r.json").read_text()
    data = json.loads(text)
    assert data["hosts"]["web1"]["changed"] == 1 and data["hosts"]["web1"]["failed"] == 1
    assert data["hosts"]["web1"]["state"] == "failed"
    assert data["hosts"]["mail1"]["state"] == "unreachable"
    assert "s3cr3t" not in text and "***" in text


def test_junit_has_a_suite_per_host_and_a_case_per_step(tmp_path):
    write_junit(record(), tmp_path / "r.xml", Masker(("s3cr3t",)))
    text = (tmp_path / "r.xml").read_text()
    suites = {s.get("name"): s for s in ET.fromstring(text)}
    assert set(suites) == {"web1", "mail1"}
    cases = suites["web1"].findall("testcase")
    assert [c.get("name") for c in cases] == ["write config", "restart"]
    assert cases[1].find("failure") is not None
    assert suites["mail1"].find("testcase/error") is not None
    assert "s3cr3t" not in text


def test_progress_prints_plain_lines_off_a_terminal():
    out = io.StringIO()
    progress = Progress(Console(file=out, width=120), Masker(), show_diff=False)
    with progress:
        progress.start_host("web1", 2)
        progress.step("web1", StepRecord("p", "write config", "", "changed"))
    assert progress.bars is None
    assert out.getvalue().split() == ["web1", "changed", "write", "config"]


def test_progress_keeps_a_live_bar_per_host_on_a_terminal():
    out = io.StringIO()
    progress = Progress(Console(file=out, width=120, force_terminal=True), Masker(),
                        show_diff=False)
    with progress:
        progress.start_host("web1", 2)
        progress.step("web1", StepRecord("p", "write config", "", "changed"))
        bar = progress.bars.tasks[0]
        assert (bar.description, bar.completed, bar.total) == ("web1", 1, 2)
    assert progress.bars is None
    assert "write config" in out.getvalue()
