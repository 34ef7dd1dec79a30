"""--profile: where a run's time went, per host and per controller stage, in one shape."""

import io
import json
import textwrap
from pathlib import Path

from rich.console import Console

from mainsail.inventory import load_inventory, select_hosts
from mainsail.playbook import load_playbook
from mainsail.profile import HOST_PHASES, Profile, lines
from mainsail.report import Masker, Progress
from mainsail.runner import RunOptions, run_playbook


def project(tmp_path: Path, hosts=("a", "b")) -> Path:
    root = tmp_path / "proj"
    (root / "inventory").mkdir(parents=True)
    (root / "playbooks").mkdir()
    (tmp_path / "out").mkdir()
    (root / "inventory/hosts.yml").write_text(
        "all:\n  hosts:\n" + "".join("    %s: {connection: local, mainsail_state_dir: %s}\n"
                                     % (h, tmp_path / "state" / h) for h in hosts))
    (root / "playbooks/site.yml").write_text(textwrap.dedent("""
        - hosts: all
          tasks:
            - name: mark
              copy: {content: "x\\n", dest: "%s/{{ inventory_hostname }}"}
    """ % (tmp_path / "out")))
    return root


def profiled_run(root: Path) -> tuple[Profile, dict]:
    inv = load_inventory(root / "inventory/hosts.yml")
    profile = Profile()
    progress = Progress(Console(file=io.StringIO()), Masker(), show_diff=False)
    record = run_playbook(root, inv, load_playbook(root), select_hosts(inv),
                          RunOptions(profile=profile), progress)
    steps = {n: [(s.task, s.elapsed) for s in h.steps] for n, h in record.hosts.items()}
    return profile, profile.to_dict(steps)


def test_a_profiled_run_times_each_host_phase_and_each_controller_stage(tmp_path):
    _, data = profiled_run(project(tmp_path))
    assert data["time_unit"] == "ms"
    assert list(data["controller"]) == ["start", "connect", "plan", "apply", "close"]
    for stage in data["controller"].values():
        assert set(stage) == {"wall", "cpu"} and stage["wall"] >= 0 and stage["cpu"] >= 0
    assert set(data["hosts"]) == {"a", "b"}
    for host in data["hosts"].values():
        # a local host has no SSH phases; it starts an agent, plans, applies and closes
        assert {"agent", "plan", "apply", "close"} <= set(host["wall"]) <= \
            set(HOST_PHASES) | {"output"}
        assert host["cpu"]["plan"] > 0  # rendering is the controller's own work
        assert host["round_trips"] >= 2  # hello and the run request at least
        assert [s["task"] for s in host["steps"]] == ["mark"]
    json.dumps(data)  # the JSON report carries it as is


def test_the_printed_profile_has_a_line_per_host_a_mean_and_one_per_step(tmp_path):
    _, data = profiled_run(project(tmp_path))
    text = lines(data)
    assert text[0].startswith("profile (ms")
    assert text[1].startswith("  controller: start ")
    assert [line.split()[0] for line in text[3:5]] == ["a", "b"]
    assert text[5].split()[:4] == ["mean", "of", "2", "hosts"]
    assert text[-1].split()[0] == "mark" and text[-1].split()[-1] == "2"


def test_laps_and_stages_add_up_in_order():
    profile = Profile()
    profile.lap("load")
    with profile.stage("report"):
        pass
    with profile.stage("connect"):
        pass
    assert list(profile.to_dict()["controller"])[-3:] == ["load", "connect", "report"]
    assert profile.to_dict()["hosts"] == {}


def test_a_host_phase_adds_wall_and_thread_cpu():
    profile = Profile()
    with profile.host("h").timed("plan"):
        sum(range(100000))
    profile.host("h").add("kex", 0.25)
    data = profile.to_dict()["hosts"]["h"]
    assert data["wall"]["kex"] == 250.0 and "kex" not in data["cpu"]
    assert data["cpu"]["plan"] > 0 and data["wall"]["plan"] >= data["cpu"]["plan"] * 0.5
