"""bench/compare.py's pure parts: parsing each tool's output, the table, the target checks."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "bench" / "compare.py"
spec = importlib.util.spec_from_file_location("bench_compare", PATH)
compare = importlib.util.module_from_spec(spec)
sys.modules["bench_compare"] = compare
spec.loader.exec_module(compare)
Cell, Sample = compare.Cell, compare.Sample


def cell(tool: str, mode: str, hosts: int, wall: float, cpu: float = 0.1, host_cpu: float = 0.1,
         rss: float = 50.0) -> Cell:
    return Cell(tool, mode, hosts, wall, cpu, host_cpu, rss, 5)


# ---------------------------------------------------------------------------- parsing

ANSIBLE_OUT = """
PLAY RECAP *********************************************************************
b001                       : ok=7    changed=2    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
b002                       : ok=7    changed=3    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
"""


def test_ansible_changed_steps_are_summed_over_the_recap():
    assert compare.changed_ansible(ANSIBLE_OUT, 2) == 5


def test_ansible_failed_or_unreachable_host_is_an_error():
    with pytest.raises(ValueError, match="failed or unreachable"):
        compare.changed_ansible(ANSIBLE_OUT.replace("unreachable=0", "unreachable=1", 1), 2)


def test_ansible_output_without_recap_is_an_error():
    with pytest.raises(ValueError, match="no PLAY RECAP"):
        compare.changed_ansible("ERROR! the playbook could not be found", 1)


PYINFRA_OUT = """
--> Results:
    Operation     Hosts   Success   Error   No Change
    package       2       -         -       2
    folder        2       1         -       1
    copy          2       2         -       -
    BENCH-ADHOC   2       2         -       -
    Grand total   8       5         -       3

--> Disconnecting from hosts...
"""


def test_pyinfra_changes_come_from_the_results_table_without_the_ad_hoc_step():
    assert compare.changed_pyinfra(PYINFRA_OUT, 2) == 3


def test_pyinfra_no_op_counts_nothing_although_the_ad_hoc_step_ran():
    noop = PYINFRA_OUT.replace("2       1         -       1", "2       -         -       2") \
                      .replace("2       2         -       -\n    BENCH", "2       -         -       2\n    BENCH")
    assert compare.changed_pyinfra(noop, 2) == 0


def test_ansible_recap_that_leaves_a_host_out_is_an_error():
    with pytest.raises(ValueError, match="2 of 3 hosts"):
        compare.changed_ansible(ANSIBLE_OUT, 3)


def test_pyinfra_run_on_fewer_hosts_than_asked_is_an_error():
    with pytest.raises(ValueError, match="on 2 of 20 hosts"):
        compare.changed_pyinfra(PYINFRA_OUT, 20)


def test_pyinfra_errors_are_an_error():
    with pytest.raises(ValueError, match="errors"):
        compare.changed_pyinfra(PYINFRA_OUT.replace("2       2         -       -\n    BENCH",
                                                    "2       1         1       -\n    BENCH"), 2)


def test_pyinfra_output_without_a_table_is_an_error():
    with pytest.raises(ValueError, match="no results table"):
        compare.changed_pyinfra("--> Connecting to hosts...\n", 1)


def test_fabric_script_reports_every_host():
    out = "bench b001 changed=0\nbench b002 changed=4\n"
    assert compare.changed_fabric(out, 2) == 4
    with pytest.raises(ValueError, match="1 of 2 hosts"):
        compare.changed_fabric("bench b001 changed=0\n", 2)


def test_mainsail_changes_come_from_the_json_report():
    report = {"hosts": {"b001": {"changed": 2}, "b002": {"changed": 0}}}
    assert compare.changed_mainsail(report, 2) == 2
    with pytest.raises(ValueError, match="2 of 3 hosts"):
        compare.changed_mainsail(report, 3)


def test_proc_stat_busy_leaves_out_idle_and_iowait():
    ticks = compare.os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    text = "cpu  %d 0 %d 99999 5000 0 %d 0 0 0\ncpu0 1 2 3 4\n" % (ticks * 2, ticks, ticks)
    assert compare.proc_stat_busy(text) == pytest.approx(4.0)


def test_host_cpu_is_the_machine_busy_time_minus_the_controller():
    assert Sample(1.0, 0.4, 1.5, 1000, 0).host_cpu == pytest.approx(1.1)
    assert Sample(1.0, 0.4, 0.3, 1000, 0).host_cpu == 0.0


# ---------------------------------------------------------------------------- summary, table

def test_summary_takes_medians_and_the_peak_memory():
    samples = [Sample(w, 0.1 * w, 0.3 * w, rss, 0)
               for w, rss in ((1.0, 40 * 1024), (3.0, 60 * 1024), (2.0, 50 * 1024))]
    c = compare.summarize("mainsail", "noop", 1, samples)
    assert (c.wall, c.controller_cpu, c.max_rss_mb, c.runs) == (2.0, pytest.approx(0.2), 60.0, 3)


def test_ratio_formatting():
    assert compare.ratio(3.0, 1.5) == "2.00x"
    assert compare.ratio(3.0, None) == "-"
    assert compare.ratio(3.0, 0.0) == "-"


def test_table_gives_ratios_to_the_floor_and_the_best_other_tool():
    cells = [cell("floor", "noop", 20, 0.5), cell("mainsail", "noop", 20, 2.0),
             cell("fabric", "noop", 20, 1.0), cell("pyinfra", "noop", 20, 4.0)]
    rows = {line.split("|")[1].strip(): line for line in
            compare.format_table(cells).splitlines()[2:]}
    assert "| 2.00 | 4.00x | 2.00x |" in rows["mainsail"]  # best other tool: fabric
    assert "| 1.00 | 2.00x | 0.50x |" in rows["fabric"]  # best other tool: mainsail
    assert "| 0.50 | - | - |" in rows["floor"]


def test_table_orders_by_host_count_then_first_apply_then_tool():
    cells = [cell("fabric", "noop", 20, 1.0), cell("mainsail", "noop", 1, 1.0),
             cell("mainsail", "first", 1, 2.0), cell("floor", "noop", 1, 0.4)]
    tools = [(line.split("|")[1].strip(), line.split("|")[2].strip())
             for line in compare.format_table(cells).splitlines()[2:]]
    assert tools == [("mainsail", "first apply"), ("mainsail", "no-op"), ("floor", "no-op"),
                     ("fabric", "no-op")]


# ---------------------------------------------------------------------------- targets

def test_targets_met_report_nothing():
    cells = [cell("floor", "noop", 20, 1.0), cell("mainsail", "noop", 20, 1.5),
             cell("fabric", "noop", 20, 1.7), cell("floor", "noop", 1, 0.4),
             cell("mainsail", "noop", 1, 0.55), cell("mainsail", "first", 1, 1.0),
             cell("pyinfra", "first", 1, 2.0), cell("mainsail", "noop", 100, 4.0, cpu=1.0,
                                                     host_cpu=5.0, rss=90),
             cell("fabric", "noop", 100, 5.0, host_cpu=6.0)]
    assert compare.check_targets(cells) == []


def test_each_missed_target_is_named_with_its_figures():
    cells = [cell("floor", "noop", 20, 0.65), cell("mainsail", "noop", 20, 3.27),
             cell("fabric", "noop", 20, 1.74), cell("floor", "noop", 1, 0.40),
             cell("mainsail", "noop", 1, 0.89), cell("mainsail", "first", 1, 3.03),
             cell("pyinfra", "first", 1, 2.99), cell("mainsail", "noop", 100, 13.5, cpu=3.1,
                                                      host_cpu=18.3, rss=160),
             cell("fabric", "noop", 100, 5.5, host_cpu=6.0)]
    missed = compare.check_targets(cells)
    assert missed == [
        "no-op, 20 hosts: 3.27 s > 2x the floor (0.65 s)",
        "no-op, 20 hosts: 3.27 s, not faster than Fabric (1.74 s)",
        "no-op, 1 host: 0.89 s > 1.5x the floor (0.40 s)",
        "first apply, 1 host: 3.03 s > 0.6x pyinfra (2.99 s)",
        "no-op, 100 hosts: controller CPU 31.0 ms per host > 15 ms",
        "no-op, 100 hosts: controller peak memory 160 MB > 150 MB",
        "no-op, 100 hosts: 13.50 s, not faster than Fabric (5.50 s)",
        "no-op, 100 hosts: host CPU 18.30 s > Fabric's 6.00 s",
    ]


def test_targets_without_their_figures_are_not_judged():
    assert compare.check_targets([cell("mainsail", "noop", 20, 9.0)]) == []


# ---------------------------------------------------------------------------- options

def test_host_counts_stay_within_the_testbed_range():
    assert compare.parse_counts("1,20") == [1, 20]
    with pytest.raises(compare.argparse.ArgumentTypeError):
        compare.parse_counts("0,200")


def test_unknown_tools_are_refused_by_name():
    assert compare.parse_tools("mainsail,floor") == ["mainsail", "floor"]
    with pytest.raises(compare.argparse.ArgumentTypeError, match="chef"):
        compare.parse_tools("mainsail,chef")
