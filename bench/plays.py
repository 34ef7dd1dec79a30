"""Benchmark: a playbook of several plays on separate hosts, against its slowest single host.

    python bench/plays.py [--runs 5] [--code DIR]

The example site's shape on 4 light testbed hosts (127.0.2.x, as bench/compare.py brings
them up): a play for the two web hosts, one for the mail host, one for the echo host, each
the 7-step workload of bench/compare.py. Measured: a no-op `inv deploy` of the whole playbook
(all 4 hosts), and a no-op of each host alone (`-l HOST`: that host's plays only); medians of
whole-process runs. The target (issue 14): the whole playbook within 1.3x its slowest single
host. ``--code DIR`` runs the Mainsail checkout in DIR instead of this one (for a before and
after pair, back to back); either runs from a compiled copy, as bench/compare.py does.

Takes the machine-wide lock /tmp/mainsail-testbed.lock while its hosts are up (well under a
minute at the default runs), and stops them at the end. Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the same hosts, workload and process timing)

TARGET = 1.3
PLAYS = (("web", ("b001", "b002")), ("mail", ("b003",)), ("echo", ("b004",)))


def write_playbook(bed: compare.Bed) -> None:
    """The bench workload, once per play, each play on its own hosts."""
    single = (bed.folder / "mainsail/playbooks/site.yml").read_text()
    tasks = single.split("  tasks:\n", 1)[1]
    text = "".join("- name: %s\n  hosts: %s\n  become: true\n  tasks:\n%s"
                   % (name, ",".join(hosts), tasks) for name, hosts in PLAYS)
    (bed.folder / "mainsail/playbooks/site.yml").write_text(text)


def deploy(bed: compare.Bed, code: Path, limit: str) -> float:
    argv = [sys.executable, "-m", "invoke", "deploy", "--limit", limit]
    sample, out, rc = compare.run_process(argv, bed.folder / "mainsail",
                                          dict(os.environ, PYTHONPATH=str(code)))
    if rc != 0:
        raise SystemExit("deploy -l %s failed (rc %d):\n%s" % (limit, rc, out[-3000:]))
    return sample.wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--code", type=Path, default=compare.ROOT,
                        help="the Mainsail checkout to run (default: this one)")
    args = parser.parse_args(argv)
    names = [h for _, hosts in PLAYS for h in hosts]
    with tempfile.TemporaryDirectory(prefix="mainsail-plays-") as tmp, compare.machine_lock():
        bed = compare.make_bed(Path(tmp), len(names))
        code = compare.compiled_copy(args.code.resolve(), Path(tmp))
        write_playbook(bed)
        inventory = str(bed.folder / "mainsail/inventory/hosts.yml")
        compare.inv("testbed.up", "--inventory", inventory)
        try:
            deploy(bed, code, "all")  # converge
            whole = statistics.median(deploy(bed, code, "all") for _ in range(args.runs))
            single = {h: statistics.median(deploy(bed, code, h) for _ in range(args.runs))
                      for h in names}
        finally:
            compare.inv("testbed.down", "--inventory", inventory)
    slowest = max(single, key=single.__getitem__)
    print("load average at the end: %s" % Path("/proc/loadavg").read_text().strip())
    print("no-op, medians of %d whole-process runs, code from %s:" % (args.runs, args.code))
    print("  whole playbook, %d plays on %d hosts: %.2f s" % (len(PLAYS), len(names), whole))
    for h in names:
        print("  %s alone: %.2f s" % (h, single[h]))
    ratio = whole / single[slowest]
    print("whole / slowest single host (%s): %.2fx (target <= %.1fx)" % (slowest, ratio, TARGET))
    if ratio > TARGET:
        print("MISSED TARGET: %.2fx > %.1fx" % (ratio, TARGET))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
