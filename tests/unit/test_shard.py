"""--shard I/N and report.merge: a fleet split over CI jobs, and their reports joined again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.inventory import Host
from mainsail.reportmerge import merge, merge_files
from mainsail.shard import Shard, in_shard, parse_shard, shard_of


def test_a_shard_is_i_of_n_counted_from_one():
    assert parse_shard("2/4") == Shard(2, 4)
    assert parse_shard(" 1 / 1 ") == Shard(1, 1)
    for bad in ("0/4", "5/4", "2", "a/b", "-1/2", ""):
        with pytest.raises(BadInput) as caught:
            parse_shard(bad)
        assert caught.value.hint


def test_the_assignment_depends_on_the_name_and_n_only():
    # Pinned: a change here would move hosts between the shards of every CI pipeline.
    assert {n: shard_of(n, 4) for n in ("web1", "web2", "mail1", "echo1", "db1")} == \
        {"web1": 3, "web2": 2, "mail1": 2, "echo1": 2, "db1": 4}
    hosts = [Host("h%03d" % i) for i in range(200)]
    shards = [in_shard(hosts, Shard(i, 4)) for i in range(1, 5)]
    assert sorted(h.name for s in shards for h in s) == sorted(h.name for h in hosts)
    assert all(30 <= len(s) <= 70 for s in shards)  # spread, not all in one
    # another order, and a host more, moves nobody
    more = list(reversed(hosts)) + [Host("new1")]
    assert [h.name for h in in_shard(more, Shard(2, 4)) if h.name != "new1"] == \
        [h.name for h in reversed(shards[1])]
    assert in_shard(hosts, None) == hosts


def report(hosts, playbook="site", check=False, started=100.0, ended=110.0, **extra):
    return {"schema_version": 1, "tool": "mainsail", "tool_version": "0.1.0",
            "playbook": playbook, "check": check, "seconds": ended - started, "aborted": "",
            "started": started, "ended": ended, "started_at": "x", "ended_at": "y",
            "hosts": {h: {"state": state, "changed": 0, "steps": []}
                      for h, state in hosts.items()}, **extra}


def test_merging_joins_the_hosts_and_spans_the_shards_times():
    merged = merge([("a.json", report({"web1": "ok"}, started=100, ended=110)),
                    ("b.json", report({"mail1": "failed"}, started=101, ended=115))])
    assert list(merged["hosts"]) == ["mail1", "web1"]
    assert merged["hosts"]["mail1"]["state"] == "failed"
    assert (merged["started"], merged["ended"], merged["seconds"]) == (100, 115, 15)
    assert merged["schema_version"] == 1 and merged["playbook"] == "site"
    assert [m["file"] for m in merged["merged_from"]] == ["a.json", "b.json"]
    assert merged["merged_from"][1]["hosts"] == ["mail1"]
    assert "profile" not in merged


def test_profiles_are_merged_per_host_with_each_controllers_stages():
    prof = {"time_unit": "ms", "controller": {"start": {"wall": 1, "cpu": 1}},
            "hosts": {"web1": {"wall": {"kex": 3}}}}
    merged = merge([("a.json", report({"web1": "ok"}, profile=prof)),
                    ("b.json", report({"mail1": "ok"}))])
    assert merged["profile"]["hosts"] == {"web1": {"wall": {"kex": 3}}}
    assert merged["profile"]["controllers"] == [prof["controller"]]


@pytest.mark.parametrize("second, words", [
    (report({"web1": "ok"}), "host web1 is in two reports"),
    (report({"mail1": "ok"}, playbook="other"), "differ in playbook"),
    (report({"mail1": "ok"}, check=True), "differ in check"),
])
def test_overlapping_or_unrelated_reports_are_refused(second, words):
    with pytest.raises(BadInput) as caught:
        merge([("a.json", report({"web1": "ok"})), ("b.json", second)])
    assert words in str(caught.value)


def test_a_file_that_is_not_a_report_is_bad_input_naming_it(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    (tmp_path / "v2.json").write_text(json.dumps(dict(report({}), schema_version=2)))
    for name, words in (("x.json", "not a Mainsail run report"), ("v2.json", "version 2"),
                        ("missing.json", "not found")):
        with pytest.raises(BadInput) as caught:
            merge_files([tmp_path / name])
        assert words in str(caught.value) and name in str(caught.value)


def test_the_merge_command_writes_the_report_and_exits_as_the_merged_run(tmp_path):
    (tmp_path / "shard-1.json").write_text(json.dumps(report({"web1": "ok"})))
    (tmp_path / "shard-2.json").write_text(json.dumps(report({"mail1": "failed"})))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-m", "mainsail", "report.merge",
                           str(tmp_path / "shard-*.json"), "--json", str(tmp_path / "all.json")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr  # a failed host: exit 2, as the run would
    assert "merged 2 reports: 2 hosts (failed 1, ok 1)" in done.stdout
    assert sorted(json.loads((tmp_path / "all.json").read_text())["hosts"]) == ["mail1", "web1"]


def test_deploy_with_a_shard_runs_only_its_hosts_and_an_empty_shard_succeeds(tmp_path):
    root = tmp_path / "proj"
    (root / "inventory").mkdir(parents=True)
    (root / "playbooks").mkdir()
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    names = ["a", "b", "c"]
    (root / "inventory/hosts.yml").write_text("all:\n  hosts:\n" + "".join(
        "    %s: {connection: local, mainsail_state_dir: %s}\n" % (h, tmp_path / "state" / h)
        for h in names))
    (root / "playbooks/site.yml").write_text(
        "- hosts: a,b,c\n  tasks:\n    - name: look\n      command: 'true'\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    by_shard = {i: sorted(h for h in names if shard_of(h, 4) == i) for i in range(1, 5)}
    empty = next(i for i, hosts in by_shard.items() if not hosts)
    busy = next(i for i, hosts in by_shard.items() if hosts)
    for index in (busy, empty):
        out = tmp_path / ("shard-%d.json" % index)
        done = subprocess.run([sys.executable, "-m", "mainsail", "deploy", "--shard",
                               "%d/4" % index, "--json", str(out)], capture_output=True,
                              text=True, env=env, cwd=root, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert sorted(json.loads(out.read_text())["hosts"]) == by_shard[index]
    assert "no host of the selection in this shard" in done.stdout
