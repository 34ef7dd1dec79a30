"""bench/ansible_targets.py's pure parts: the Ansible inventory made from a Mainsail host, the
counts from Mainsail's report and Ansible's recap, the refusals, the table."""
from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path

import pytest

from mainsail.inventory import Host, load_inventory

PATH = Path(__file__).resolve().parents[2] / "bench" / "ansible_targets.py"
spec = importlib.util.spec_from_file_location("bench_ansible_targets", PATH)
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_ansible_targets"] = bench
spec.loader.exec_module(bench)
Run, Row = bench.Run, bench.Row

INVENTORY = """all:
  vars:
    user: deploy
    become: true
    ssh_key: keys/id_ed25519
    known_hosts: known_hosts
    output_dir: /tmp/mainsail-ansible-targets
    remote_tmp_dir: /tmp/mainsail-ansible-targets
  hosts:
    web1: {address: 127.0.2.1}
    web2: {address: 127.0.2.2, port: 2222}
"""


@pytest.fixture()
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inv" / "hosts.yml"
    path.parent.mkdir()
    path.write_text(INVENTORY)
    return path


# ---------------------------------------------------------------------------- inventory

def test_ansible_inventory_reaches_the_host_as_mainsail_does(inventory: Path):
    host = load_inventory(inventory, root=inventory.parent).hosts["web1"]
    hv = bench.ansible_inventory(host)["all"]["hosts"]["web1"]
    folder = inventory.parent
    assert hv["ansible_host"] == "127.0.2.1" and hv["ansible_user"] == "deploy"
    assert "ansible_port" not in hv
    # relative paths are read from the inventory's folder, as Mainsail reads them
    assert hv["ansible_ssh_private_key_file"] == str(folder / "keys/id_ed25519")
    assert shlex.split(hv["ansible_ssh_common_args"]) == [
        "-o", "UserKnownHostsFile=%s" % (folder / "known_hosts"),
        "-o", "StrictHostKeyChecking=yes"]
    assert hv["ansible_become"] is True and hv["ansible_become_method"] == "sudo"
    assert "ansible_become_user" not in hv
    assert hv["ansible_python_interpreter"] == "/usr/bin/python3"
    assert hv["output_dir"] == hv["remote_tmp_dir"] == "/tmp/mainsail-ansible-targets"
    assert "ansible_connection" not in hv


def test_ansible_inventory_keeps_a_port_and_a_become_user(inventory: Path):
    host = load_inventory(inventory, root=inventory.parent).hosts["web2"]
    assert bench.ansible_inventory(host)["all"]["hosts"]["web2"]["ansible_port"] == 2222
    other = Host("h", address="10.0.0.1", known_hosts="/k", become=True, become_user="app")
    assert bench.ansible_inventory(other)["all"]["hosts"]["h"]["ansible_become_user"] == "app"


def test_ansible_inventory_without_become_has_none():
    hv = bench.ansible_inventory(Host("h", known_hosts="/k"))["all"]["hosts"]["h"]
    assert "ansible_become" not in hv and "ansible_ssh_private_key_file" not in hv


def test_ansible_inventory_needs_known_hosts_as_host_keys_stay_checked():
    with pytest.raises(ValueError, match="known_hosts"):
        bench.ansible_inventory(Host("h"))


def test_local_inventory_is_connection_local_without_become(tmp_path: Path):
    host = bench.local_host(tmp_path)
    assert host.connection == "local" and host.name == "testhost"
    hv = bench.ansible_inventory(host, local=True)["all"]["hosts"]["testhost"]
    assert hv == {"ansible_python_interpreter": "/usr/bin/python3",
                  "ansible_connection": "local", "output_dir": str(tmp_path / "output"),
                  "remote_tmp_dir": str(tmp_path / "output")}


def test_a_host_the_inventory_lacks_is_a_setup_problem(inventory: Path):
    with pytest.raises(bench.SetupError, match="no host 'web9'.*web1, web2"):
        bench.load_host(inventory, "web9")


# ---------------------------------------------------------------------------- counts

def step(status: str, task: str = "t", msg: str = "") -> dict:
    return {"status": status, "task": task, "where": "main.yml:3", "msg": msg}


def test_mainsail_counts_pass_ignored_and_skipped_steps_and_give_the_first_failure():
    report = {"hosts": {"web1": {"error": "", "steps": [
        step("ok"), step("changed"), step("skipped"), step("ignored"),
        step("failed", "bad", "boom\nmore"), step("failed", "worse")]}}}
    assert bench.mainsail_counts(report, "web1") == (4, 2, "bad (main.yml:3): boom")


def test_mainsail_counts_prefer_the_host_error():
    report = {"hosts": {"web1": {"error": "unreachable: refused", "steps": []}}}
    assert bench.mainsail_counts(report, "web1") == (0, 0, "unreachable: refused")


RECAP = """
PLAY RECAP *********************************************************************
testhost                   : ok=10   changed=2    unreachable=0    failed=1    skipped=3    rescued=2    ignored=1
other                      : ok=1    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
"""


def test_ansible_counts_come_from_the_host_s_recap_line():
    # ok holds the ignored failures already; a rescued failure passes, as in Mainsail
    assert bench.ansible_counts(RECAP, "testhost") == (15, 1)
    assert bench.ansible_counts(RECAP, "other") == (1, 1)
    assert bench.ansible_counts(RECAP, "absent") is None
    assert bench.ansible_counts("ERROR! no playbook", "testhost") is None


OUTPUT = """
TASK [lookup_dict : Convert a non-dict] ****************************************
fatal: [testhost]: FAILED! => {"changed": false, "msg": "ignored one"}
...ignoring

TASK [stat : stat the file] ****************************************************
fatal: [testhost]: FAILED! => {"changed": false, "msg": "the real one\\nsecond line"}
"""


def test_ansible_error_is_the_first_failure_not_ignored():
    assert bench.ansible_error(OUTPUT) == "stat : stat the file: the real one"


def test_ansible_error_falls_back_to_ansible_s_own_error():
    assert bench.ansible_error("[ERROR]: the role 'nope' was not found\n") == \
        "the role 'nope' was not found"
    assert bench.ansible_error("ERROR! bad playbook\n") == "bad playbook"
    assert bench.ansible_error("ok: [testhost]\n") == ""


# ---------------------------------------------------------------------------- targets

def test_targets_that_reach_public_hosts_are_refused_by_name(tmp_path: Path):
    for name in ("stat", "apt", "git"):
        (tmp_path / name / "tasks").mkdir(parents=True)
    bench.check_targets(["stat"], tmp_path, False, ())
    with pytest.raises(bench.SetupError) as info:
        bench.check_targets(["stat", "apt", "git", "nope"], tmp_path, False, ())
    text = str(info.value)
    assert "apt: refused" in text and "git: refused, it clones" in text
    assert "nope: no such target" in text and "stat" not in text


def test_local_runs_only_the_harmless_targets(tmp_path: Path):
    for name in ("user", "lookup_items"):
        (tmp_path / name / "tasks").mkdir(parents=True)
    bench.check_targets(["lookup_items"], tmp_path, True, ("lookup_items",))
    with pytest.raises(bench.SetupError, match="user: not run with --local"):
        bench.check_targets(["user", "lookup_items"], tmp_path, True, ("lookup_items",))


@pytest.mark.parametrize("argv", [
    ["--local", "--inventory", "x.yml", "--host", "web1"],  # both ways at once
    [],  # neither
    ["--inventory", "x.yml"],  # no host
])
def test_a_bad_command_line_exits_2(tmp_path: Path, argv: list[str], capsys):
    assert bench.main(argv + ["--targets", str(tmp_path)]) == 2
    assert "setup problem" in capsys.readouterr().err


def test_a_refused_target_exits_2_before_anything_runs(tmp_path: Path, capsys):
    assert bench.main(["--local", "--targets", str(tmp_path), "apt"]) == 2
    assert "apt: refused" in capsys.readouterr().err


def test_a_missing_inventory_exits_2(tmp_path: Path, capsys):
    argv = ["--inventory", str(tmp_path / "none.yml"), "--host", "web1",
            "--targets", str(tmp_path)]
    assert bench.main(argv) == 2
    assert "no inventory file" in capsys.readouterr().err


# ---------------------------------------------------------------------------- table

def test_table_and_json_give_counts_seconds_and_the_ratio():
    rows = [Row("stat", Run(19, 0, 2.0), Run(21, 0, 7.0)),
            Row("user", Run(299, 1, 10.0, "boom"), Run(None, None, 3.0, "no recap"))]
    table = bench.format_table(rows).splitlines()
    assert table[0].startswith("| target | mainsail passed / failed | mainsail s")
    assert table[2] == "| stat | 19 / 0 | 2.00 | 21 / 0 | 7.00 | 3.50x |"
    assert table[3] == "| user | 299 / 1 | 10.00 | - | 3.00 | 0.30x |"
    data = bench.to_json(rows, {"host": "web1"})
    assert data["host"] == "web1"
    assert data["targets"][0] == {"target": "stat", "ratio": 3.5,
                                  "mainsail": {"passed": 19, "failed": 0, "seconds": 2.0,
                                               "error": ""},
                                  "ansible": {"passed": 21, "failed": 0, "seconds": 7.0,
                                              "error": ""}}
    assert data["targets"][1]["ansible"]["passed"] is None


def test_a_host_of_connection_local_stays_local_for_ansible():
    hv = bench.ansible_inventory(Host("h", connection="local"))["all"]["hosts"]["h"]
    assert hv["ansible_connection"] == "local" and "ansible_host" not in hv
