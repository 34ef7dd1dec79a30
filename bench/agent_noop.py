"""The agent's own CPU for one no-op, run locally: hello, then one run request of the bench
workload's host-side steps on a converged folder (package procps, folder, copy with a blob,
a line, `true`), then bye. CPU is the agent process's and its children's (dpkg-query, `true`),
from wait4; bytecode is used as on a host (the agent's cache is warmed first, and
PYTHONDONTWRITEBYTECODE is dropped for the agent).

    python bench/agent_noop.py --runs 15
    python bench/agent_noop.py --importtime     # -X importtime of one start, slowest first

Needs a Debian machine where procps is installed (the package step must be a no-op).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mainsail.agentproc import (BOOTSTRAP, AgentClient, StderrTail, _finish,  # noqa: E402
                                agent_environment, build_agent_zip)

BLOB = b"x" * 2048


def steps(folder: str) -> list:
    sha = hashlib.sha256(BLOB).hexdigest()
    return [
        {"id": 1, "op": "apt", "args": {"name": ["procps"], "state": "present"}},
        {"id": 2, "op": "file", "args": {"path": folder, "state": "directory", "mode": "0755"}},
        {"id": 3, "op": "copy", "args": {"dest": folder + "/blob.txt", "content_sha": sha,
                                         "mode": "0644"}},
        {"id": 4, "op": "line", "args": {"path": folder + "/settings.conf",
                                               "line": "bench=1", "create": True}},
        {"id": 5, "op": "command", "args": {"cmd": "true"}, "changed_when": "false"},
    ]


def one_run(state: str, folder: str, zip_bytes: bytes, sha: str, python: str,
            extra: tuple = ()) -> tuple:
    env = agent_environment(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    argv = [python, "-I", "-S", *extra, "-c", BOOTSTRAP, sha, state]
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd="/", env=env)
    tail = StderrTail(child.stderr, keep=1 << 20)
    client = AgentClient(child.stdout, child.stdin, lambda: tail.text(wait=0.5))
    client.start(zip_bytes, sha)
    results = client.run(steps(folder), {hashlib.sha256(BLOB).hexdigest(): BLOB})
    client.close()
    for stream in (child.stdin, child.stdout):
        stream.close()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return usage.ru_utime + usage.ru_stime, wall, results, tail.text(wait=0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default="python3")
    parser.add_argument("--importtime", action="store_true")
    opts = parser.parse_args()
    zip_bytes, sha = build_agent_zip()
    with tempfile.TemporaryDirectory(prefix="mainsail-agentbench.") as tmp:
        state, folder = os.path.join(tmp, "agent"), os.path.join(tmp, "work")
        for _ in range(2):  # unpack and compile the agent; converge the folder
            results = one_run(state, folder, zip_bytes, sha, opts.python)[2]
        bad = [r for r in results if r["status"] != "ok"]
        if bad:
            print("not a no-op: %s" % bad, file=sys.stderr)
            return 1
        if opts.importtime:
            text = one_run(state, folder, zip_bytes, sha, opts.python,
                           ("-X", "importtime"))[3]
            rows = [line.split("|") for line in text.splitlines()
                    if line.startswith("import time:") and "[us]" not in line]
            print("modules imported: %d" % len(rows))
            print(" ".join(sorted(r[2].strip() for r in rows)))
            for row in sorted(rows, key=lambda r: -int(r[1]))[:30]:
                print("%8d us cumulative %8d us self  %s" % (int(row[1]), int(row[0].split(":")[1]),
                                                             row[2].rstrip()))
            return 0
        cpu, wall = [], []
        for _ in range(opts.runs):
            c, w, results, _ = one_run(state, folder, zip_bytes, sha, opts.python)
            assert all(r["status"] == "ok" for r in results), results
            cpu.append(c)
            wall.append(w)
    print("agent no-op, %d runs: CPU median %.1f ms (min %.1f, max %.1f); wall median %.1f ms"
          % (opts.runs, statistics.median(cpu) * 1e3, min(cpu) * 1e3, max(cpu) * 1e3,
             statistics.median(wall) * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
