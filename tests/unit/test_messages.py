"""What a run says: warnings shown, each error once, bars that never overflow, handlers that
would run listed by plan, and reports with a schema version, timestamps and totals."""

import io
import json
import xml.etree.ElementTree as ET

from rich.console import Console

from mainsail.report import Masker, Progress, StepRecord

from tests.unit.test_flags import mainsail, project  # noqa: F401 (fixture)

HANDLER_PLAY = """- hosts: h1
  tasks:
    - name: write
      copy: {content: "x\\n", dest: "%s"}
      notify: reload
  handlers:
    - name: reload
      command: {cmd: "true"}
"""


def test_plan_lists_the_handlers_that_would_run(project, tmp_path):
    (project / "playbooks/h.yml").write_text(HANDLER_PLAY % (tmp_path / "hfile"))
    code, out, err = mainsail("plan", "--playbook", "h", "--json", str(tmp_path / "r.json"))
    assert code == 8, err
    assert "would run handler: reload" in out and "skipped" not in out.split("recap")[0]
    assert "h1: 1 to change: write; handlers that would run: reload" in out
    steps = json.loads((tmp_path / "r.json").read_text())["hosts"]["h1"]["steps"]
    assert [(s["task"], s["status"], s["handler"]) for s in steps] == [
        ("write", "changed", False), ("reload", "would run", True)]


def test_the_json_report_has_a_schema(project, tmp_path):
    code, _, err = mainsail("deploy", "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["schema_version"] == 1 and report["tool"] == "mainsail"
    assert report["tool_version"]
    assert report["started_at"] <= report["ended_at"] and report["ended_at"].endswith("Z")
    first = report["hosts"]["h1"]["steps"][0]
    assert (first["op"], first["role"], first["where"]) == ("copy", "r",
                                                           "roles/r/tasks/main.yml:1")


def test_junit_has_totals_and_timestamps(project, tmp_path):
    code, _, err = mainsail("deploy", "-l", "h1", "--junit", str(tmp_path / "r.xml"))
    assert code == 0, err
    root = ET.parse(tmp_path / "r.xml").getroot()
    assert root.get("tests") == "3" and root.get("failures") == "0"
    assert root.get("timestamp") and root.get("time")
    assert root.find("testsuite").get("timestamp") == root.get("timestamp")


def test_an_unreachable_host_is_reported_once(project):
    (project / "inventory/hosts.yml").write_text(
        "all:\n  hosts:\n    h1: {address: 127.0.6.1, port: 1}\n")
    code, out, err = mainsail("deploy", "-T", "2")
    assert code == 3
    assert (out + err).count("cannot connect to 127.0.6.1:1") == 1, out + err


def test_a_misspelt_group_vars_file_is_a_printed_warning(project):
    (project / "inventory/group_vars").mkdir()
    (project / "inventory/group_vars/wbe.yml").write_text("a: 1\n")
    code, _, err = mainsail("hosts")
    assert code == 0
    assert "warning: inventory/group_vars/wbe.yml" in err and "'wbe'" in err


def test_the_bar_counts_handlers_and_checks_too():
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    progress = Progress(console, Masker(), show_diff=False)
    with progress:
        progress.start_host("web1", 2)
        for name in ("a", "b", "handler"):
            progress.step("web1", StepRecord("p", name, "", "changed", handler=name == "handler"))
        bar = progress.bars.tasks[0]
        assert (bar.completed, bar.total) == (3, 3)


def test_doc_prints_a_documentation_page(project):
    code, out, _ = mainsail("doc", "commands")
    assert code == 0 and out.startswith("# Commands")
    code, _, err = mainsail("doc", "nosuchpage")
    assert code == 4 and "pages: " in err and "commands" in err
