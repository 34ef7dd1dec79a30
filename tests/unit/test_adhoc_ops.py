"""`mainsail run -m OP -a ARGS`: one operation through the agent, as `ansible -m` runs one,
with check, diff, become and extra vars; shell commands keep working as before.

Runs in-process against the temp project of test_flags (hosts `connection: local`)."""

import json

import pytest

from mainsail import adhoc
from mainsail.errors import BadInput

from tests.unit.test_flags import assert_bad_command_line, mainsail, project  # noqa: F401


def test_an_operation_runs_through_the_agent_and_converges(project, tmp_path):
    dest = tmp_path / "motd"
    code, out, err = mainsail("run", "-l", "h1", "-m", "copy", "-a",
                              "content='hello there' dest=%s mode=0640" % dest)
    assert code == 0, err
    assert dest.read_text() == "hello there" and oct(dest.stat().st_mode)[-3:] == "640"
    assert "h1 | CHANGED =>" in out and '"dest": "%s"' % dest in out
    code, out, err = mainsail("run", "-l", "h1", "-m", "ansible.builtin.copy", "-a",
                              "content='hello there' dest=%s mode=0640" % dest)
    assert code == 0 and "h1 | OK =>" in out, err


def test_check_changes_nothing_and_diff_shows_what_would(project, tmp_path):
    dest = tmp_path / "conf"
    code, out, err = mainsail("run", "-l", "h1", "-C", "-D", "-m", "copy", "-a",
                              "content=port=80 dest=%s" % dest)
    assert code == 0, err
    assert not dest.exists()
    assert "+port=80" in out and "h1 | CHANGED" in out


def test_args_as_a_yaml_or_json_mapping(project, tmp_path):
    for n, args in enumerate(('{"content": "a\\n", "dest": "%s"}', "{content: b, dest: %s}",
                              "path: %s")):
        dest = tmp_path / ("f%d" % n)
        op = "stat" if args.startswith("path") else "copy"
        code, out, err = mainsail("run", "-l", "h1", "-m", op, "-a", args % dest)
        assert code == 0, err
        assert (op == "stat" and '"exists": false' in out) or dest.exists()


def test_the_return_values_are_printed_and_written_to_the_json_report(project, tmp_path):
    code, out, err = mainsail("run", "-l", "h1,h2", "-m", "command", "-a", "echo {{ word }}",
                              "-e", "word=extra", "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    assert out.count('"stdout": "extra"') == 2
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["playbook"] == "ad hoc"
    assert report["hosts"]["h2"]["steps"][0]["data"]["stdout_lines"] == ["extra"]


def test_a_failing_operation_fails_its_host(project):
    code, out, _ = mainsail("run", "-l", "h1", "-m", "command", "-a", "false")
    assert code == 2 and "h1 | FAILED" in out and '"rc": 1' in out


def test_list_hosts_runs_nothing(project, tmp_path):
    code, out, _ = mainsail("run", "--list-hosts", "-m", "copy", "-a",
                            "content=x dest=%s" % (tmp_path / "never"))
    assert code == 0 and "h1" in out and "h2" in out
    assert not (tmp_path / "never").exists()


def test_an_unknown_operation_is_bad_input_with_the_closest_names(project):
    code, _, err = mainsail("run", "-m", "cpoy", "-a", "dest=/x")
    assert code == 4 and "unknown operation 'cpoy'" in err and "'copy'" in err


def test_bad_arguments_name_the_command_line(project):
    code, _, err = mainsail("run", "-m", "copy", "-a", "dest=/x nosuch=1")
    assert code == 4 and "command line: -m copy" in err and "nosuch" in err
    code, _, err = mainsail("run", "-m", "copy", "-a", "{dest: [unclosed")
    assert code == 4 and "-a" in err and "Traceback" not in err


def test_module_flags_are_refused_for_a_shell_command(project):
    for extra in (["-a", "x=1"], ["-e", "x=1"], ["-D"], ["--json", "r.json"]):
        code, _, err = mainsail("run", "-l", "h1", *extra, "--cmd", "uptime")
        assert code == 4 and "-m shell" in err, (extra, err)
    code, _, err = mainsail("run", "-l", "h1", "-m", "command", "--cmd", "uptime")
    assert code == 4 and "both given" in err


def test_a_shell_command_still_runs_as_before(project):
    code, out, _ = mainsail("run", "-C", "-l", "h1", "--cmd", "uptime")
    assert code == 0 and "would run: uptime" in out


def test_become_makes_the_play_escalate(project):
    play = adhoc.operation_play(project, "apt", "name=tree", become=True)
    assert play.become is True and play.tasks[0].op == "apt"
    assert play.tasks[0].args["name"] in ("tree", ["tree"])
    assert adhoc.operation_play(project, "apt", "name=tree", become=False).become is None


@pytest.mark.parametrize("text,expected", [
    ("name=tree state=present", "name=tree state=present"),
    ('{"name": "tree"}', {"name": "tree"}),
    ("name: tree", {"name": "tree"}),
    ("echo a: b", "echo a: b"),
    ("", None),
])
def test_args_forms(text, expected):
    assert adhoc.operation_args(text) == expected


def test_a_free_form_operations_command_is_never_read_as_yaml():
    assert adhoc.operation_args("echo: hi", free_form=True) == "echo: hi"
    assert adhoc.operation_args("echo: hi") == {"echo": "hi"}


def test_args_that_are_broken_yaml_are_bad_input():
    with pytest.raises(BadInput, match="not valid YAML/JSON"):
        adhoc.operation_args("{name: [tree")


# ---------------------------------------------------------------- facts --filter

FACTS = {"hostname": "web1", "os": {"id": "debian", "version_id": "12", "codename": "bookworm"},
         "memory_mb": 512, "cpus": 2, "python": {"version": "3.11.2"}}


def test_a_filter_matches_ansible_names_with_or_without_the_prefix():
    found = adhoc.filter_facts(FACTS, ["ansible_distribution*"])
    assert found == {"ansible_distribution": "Debian", "ansible_distribution_major_version": "12",
                     "ansible_distribution_release": "bookworm",
                     "ansible_distribution_version": "12"}
    assert adhoc.filter_facts(FACTS, ["distribution_r*"]) == {
        "ansible_distribution_release": "bookworm"}


def test_several_filters_are_a_union_and_match_the_agents_own_names_too():
    found = adhoc.filter_facts(FACTS, ["memory_mb", "os_family", "hostname"])
    assert found == {"memory_mb": 512, "ansible_os_family": "Debian", "hostname": "web1",
                     "ansible_hostname": "web1"}


def test_no_filter_is_every_fact_as_before_and_matching_is_case_sensitive():
    assert adhoc.filter_facts(FACTS, []) == FACTS
    assert adhoc.filter_facts(FACTS, ["HOSTNAME"]) == {}


def test_facts_filter_on_the_command_line(project):
    code, out, err = mainsail("facts", "-l", "h1", "--filter", "ansible_distribution*,os",
                              "--filter", "hostname")
    assert code == 0, err
    shown = json.loads(out)["h1"]
    assert "ansible_distribution" in shown and "os" in shown and "hostname" in shown
    assert "memory_mb" not in shown and "ansible_os_family" not in shown
    code, out, err = mainsail("facts", "-l", "h1", "--filter", "no_such_fact*")
    assert code == 0 and json.loads(out) == {"h1": {}} and "matched no fact" in err
