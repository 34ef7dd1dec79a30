"""What a run shows: progress lines, live bars on a terminal, JSON and JUnit reports."""

import io
import json
import sys
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


def test_json_report_steps_keep_the_ops_data_masked(tmp_path):
    run = RunRecord(playbook="site", check=False)
    run.host("web1").add(StepRecord("p", "read", "t.yml:1", "ok",
                                    data={"content": "key=s3cr3t", "lines": ["s3cr3t"]}))
    write_json(run, tmp_path / "r.json", Masker(("s3cr3t",)))
    step = json.loads((tmp_path / "r.json").read_text())["hosts"]["web1"]["steps"][0]
    assert step["data"] == {"content": "key=***", "lines": ["***"]}


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


# ---- host text is never markup, never terminal control --------------------------------

HOSTILE = ("[/b] closing tag; [sudo] password for deploy; \x1b]0;pwned title\x07"
           "\x1b[2J\x1b[31mred\x9b1m\u202eevil\r\x00end")


def hostile_step(status: str = "failed") -> StepRecord:
    return StepRecord("p", "task [/b] [sudo]", "x.yml:1", status, msg=HOSTILE, diff=HOSTILE,
                      cmd="echo", rc=1, stderr=HOSTILE + "\n")


def printed(show_diff: bool = True, terminal: bool = False) -> str:
    out = io.StringIO()
    progress = Progress(Console(file=out, width=400, force_terminal=terminal,
                                color_system=None), Masker(), show_diff=show_diff)
    with progress:
        progress.start_host("web1", 2)
        progress.step("web1", hostile_step())
        progress.step("web1", hostile_step("changed"))
        progress.event("web1", "failed", "rolled back: " + HOSTILE)
    return out.getvalue()


def test_host_text_with_markup_is_printed_as_it_is():
    text = printed()
    assert "task [/b] [sudo]" in text
    assert "[sudo] password for deploy" in text and "[/b] closing tag" in text


def test_control_characters_from_a_host_are_shown_escaped():
    for text in (printed(), printed(terminal=True)):
        assert "\\x1b]0;pwned title\\x07" in text and "\\x9b1m" in text and "\\u202e" in text
        assert "\\x00end" in text and "\\x0d" in text
    plain_text = printed()
    assert not any(c in plain_text for c in "\x1b\x07\x9b\u202e\x00\r")


def test_the_recap_survives_a_hostile_host_name_and_error():
    from mainsail.report import recap
    run = RunRecord(playbook="site", check=False)
    run.hosts["web[/b]1"] = HostRecord("web[/b]1", unreachable=True, error=HOSTILE)
    out = io.StringIO()
    recap(Console(file=out, width=400, color_system=None), run)
    assert "web[/b]1" in out.getvalue() and "\x1b" not in out.getvalue()


def test_junit_stays_valid_xml_whatever_a_host_prints(tmp_path):
    run = RunRecord(playbook="site", check=False)
    host = run.host("web1")
    host.add(hostile_step())
    host.add(hostile_step("changed"))
    host.add(StepRecord("p", "nul \x00 and \ufffe", "x.yml:2", "failed", msg="\x01\x1f",
                        stderr="\udcff surrogate\n"))
    run.hosts["mail1"] = HostRecord("mail1", unreachable=True, error="\x00\x1b[0m")
    write_junit(run, tmp_path / "r.xml", Masker())
    root = ET.fromstring((tmp_path / "r.xml").read_text())
    names = [c.get("name") for c in root.iter("testcase")]
    assert "task [/b] [sudo]" in names and "nul \\x00 and \\ufffe" in names


def test_inv_run_shows_a_hosts_control_characters_escaped():
    from mainsail.tasks import prefixed
    assert prefixed("web1", "ok\x1b]0;title\x07\nnext\n") == \
        "web1     | ok\\x1b]0;title\\x07\nweb1     | next\n"


def test_step_lines_off_a_terminal_are_what_rich_would_print():
    """Written directly off a terminal (rich cost a third of a millisecond a line): the same
    characters as rich's rendering, emoji codes and hostile text included."""
    import io
    from rich.console import Console
    from mainsail.report import Masker, Progress, StepRecord
    labels = ["install\tpackages", "restart: apache", "a [b]red[/b] :rocket: task",
              "evil \x1b[31m\u202e text", "deploy"]
    seen = []
    for fast in (True, False):
        out = io.StringIO()
        console = Console(file=out, highlight=False, soft_wrap=True)
        progress = Progress(console, Masker(), show_diff=False)
        if not fast:
            console.record = True  # the rich path, for comparison
        for i, label in enumerate(labels):
            progress.step("web%d" % i, StepRecord(play="p", task=label, where="x.yml:1", status="changed"))
            progress.event("web%d" % i, "failed", label)
        seen.append(out.getvalue())
    assert seen[0] == seen[1]
    assert "\x1b" not in seen[0] and "\\x1b" in seen[0]


def _recap_text(console_factory, run) -> str:
    from mainsail.report import recap
    out = io.StringIO()
    recap(console_factory(out), run)
    return out.getvalue()


def test_the_recap_off_a_terminal_is_what_rich_would_draw(monkeypatch):
    """Drawn without rich where it fits (rich took about a millisecond a row); the same
    characters either way, and rich's own drawing where the table is too wide to fit."""
    from mainsail.report import PlainConsole
    monkeypatch.setenv("COLUMNS", "80")
    runs = []
    for check, names in ((False, ["b001", "web1.example.com"]), (True, ["h"] * 1),
                         (False, ["a-host-name-long-enough-to-make-rich-shrink-the-table"]),
                         (False, ["wëb1", "web:rocket:2", "web[/b]3"])):
        run = RunRecord(playbook="site", check=check, aborted="stop" if not check else "")
        for i, name in enumerate(names):
            run.hosts[name] = HostRecord(name, ok=7 * i, changed=i, failed=i % 2,
                                         unreachable=bool(i % 2), seconds=0.0912 * i)
        runs.append(run)
    for run in runs:
        rich_drawn = _recap_text(lambda out: Console(file=out, highlight=False, soft_wrap=True,
                                                     record=True), run)
        assert _recap_text(lambda out: PlainConsole(out), run) == rich_drawn
        assert _recap_text(lambda out: Console(file=out, highlight=False, soft_wrap=True),
                           run) == rich_drawn


def test_plain_lines_are_what_rich_would_print():
    from mainsail.report import PlainConsole
    texts = ["plain", "tab\there", "two\nlines", "  indented  ", "a :rocket: code",
             "[b]not markup[/b]", "wide 漢字", "\x1b[31m raw escape", "trailing\n"]
    for text in texts:
        fast, slow = io.StringIO(), io.StringIO()
        PlainConsole(fast).print(text, markup=False, highlight=False, style="red")
        Console(file=slow, highlight=False, soft_wrap=True).print(text, markup=False,
                                                                 highlight=False, style="red")
        assert fast.getvalue() == slow.getvalue(), text


def test_the_console_is_plain_off_a_terminal_and_rich_on_request(monkeypatch):
    from mainsail.report import PlainConsole, make_console
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert isinstance(make_console(), PlainConsole)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert isinstance(make_console(), Console)


def test_a_quiet_console_shows_no_step_lines():
    # The API's default console (Console(quiet=True)): nothing printed, not even the lines
    # written without rich.
    out = io.StringIO()
    console = Console(file=out, quiet=True)
    progress = Progress(console, Masker(), show_diff=False)
    progress.step("web1", StepRecord("p", "write config", "", "changed"))
    progress.event("web1", "failed", "boom")
    from mainsail.report import recap
    run = RunRecord(playbook="site", check=False)
    run.hosts["web1"] = HostRecord("web1")
    recap(console, run)
    assert out.getvalue() == ""
