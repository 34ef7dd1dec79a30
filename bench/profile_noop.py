"""Where a no-op deploy's time goes, per host: the figures behind docs/performance.md.

    python bench/profile_noop.py [--hosts 20] [--runs 3] [--py-spy]

Brings up light testbed hosts (as bench/compare.py does, under the same machine-wide lock),
converges them with compare.py's workload, then times no-op `inv deploy` runs with a timing
hook wrapped around the engine from outside (no engine code changes): for each host the wall
and controller-thread CPU milliseconds of TCP connect and key exchange, authentication, channel
open, exec, agent start (sudo, python3, imports, facts, up to the hello), planning (rendering),
the run request, and closing. On one host it times the host-side pieces one by one (sudo,
python3 start, the agent's imports and facts). With --py-spy, a sampling profile of one run's
controller (on-CPU, all threads) summed by function. Stops the hosts at the end.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare  # noqa: E402

PHASES = ("kex", "auth", "channel", "exec", "agent_start", "plan", "run", "close")


# ---------------------------------------------------------------------------- the hook

def install_hook(out: Path) -> None:
    """Wrap the engine's per-host calls with wall and thread-CPU timers; the figures are
    written to `out` as JSON at exit."""
    import atexit

    import paramiko

    import mainsail.runner as runner
    import mainsail.session as session

    records: dict = collections.defaultdict(lambda: collections.defaultdict(list))
    marks: dict = {"imported": time.time()}
    local = threading.local()

    def timed(name, fn, host_of):
        def wrapper(*args, **kwargs):
            host = host_of(args, kwargs) or getattr(local, "host", "?")
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                records[host][name].append(((time.perf_counter() - w0) * 1000,
                                            (time.thread_time() - c0) * 1000))
        return wrapper

    def open_session(host, *args, **kwargs):
        local.host = host.name
        return timed("open_total", original_open, lambda a, k: host.name)(host, *args, **kwargs)

    original_open = session.open_session
    runner.open_session = open_session
    session.start_agent = timed("agent_start", session.start_agent, lambda a, k: a[0].name)
    t = paramiko.Transport
    t.start_client = timed("kex", t.start_client, lambda a, k: None)
    t.auth_publickey = timed("auth", t.auth_publickey, lambda a, k: None)
    t.open_session = timed("channel", t.open_session, lambda a, k: None)
    paramiko.Channel.exec_command = timed("exec", paramiko.Channel.exec_command,
                                          lambda a, k: None)
    runner.build_plan = timed("plan", runner.build_plan,
                              lambda a, k: getattr(k.get("host") or a[2], "name", None)
                              if len(a) > 2 or "host" in k else None)
    hs = session.HostSession
    hs.run = timed("run", hs.run, lambda a, k: a[0].host.name)
    hs.close = timed("close", hs.close, lambda a, k: a[0].host.name)
    for name in ("connect_all", "plan_all", "apply_play", "close_all"):
        fn = getattr(runner, name)

        def stage(*a, _fn=fn, _name=name, **k):
            marks[_name + "_start"] = time.time()
            try:
                return _fn(*a, **k)
            finally:
                marks[_name + "_end"] = time.time()
        setattr(runner, name, stage)

    def dump():
        marks["exit"] = time.time()
        usage = __import__("resource").getrusage(__import__("resource").RUSAGE_SELF)
        out.write_text(json.dumps({"hosts": records, "marks": marks,
                                   "cpu": usage.ru_utime + usage.ru_stime}))
    atexit.register(dump)


def inner(out: Path, argv: list[str]) -> None:
    install_hook(out)
    from invoke import Collection, Program
    import tasks  # the project's tasks.py, in the current folder
    program = Program(namespace=Collection.from_module(tasks), name="inv", version="bench")
    program.run(["inv", *argv], exit=True)


# ---------------------------------------------------------------------------- the host side

HOST_PROBES = (
    ("exec `true` (channel + exec, no sudo)", "true"),
    ("sudo -n true", "sudo -n true"),
    ("python3 -I -c pass", "python3 -I -c pass"),
    ("sudo -n python3 -I -c pass", "sudo -n python3 -I -c pass"),
    ("python3 -I -S -c pass (no site)", "python3 -I -S -c pass"),
    ("import json, hashlib, zipfile, subprocess, pwd, grp",
     "python3 -I -c 'import json, hashlib, zipfile, subprocess, pwd, grp'"),
    ("agent start: bootstrap + imports + facts (hello), as root",
     "sudo -n python3 -I -S -c \"$(cat /tmp/bench-bootstrap.py)\" {sha} </dev/null"),
)


def host_probes(bed: compare.Bed, sha: str, bootstrap: str, repeat: int = 7) -> list[tuple]:
    """Wall milliseconds (median) of each piece, run over one open connection."""
    import paramiko
    client = paramiko.SSHClient()
    client.load_host_keys(str(bed.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(bed.addresses[0], username="deploy", key_filename=str(bed.key),
                   look_for_keys=False, allow_agent=False)
    sftp = client.open_sftp()
    with sftp.open("/tmp/bench-bootstrap.py", "w") as fh:
        fh.write(bootstrap)
    rows = []
    for label, command in HOST_PROBES:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            _, stdout, _ = client.exec_command(command.format(sha=sha))
            stdout.read()
            stdout.channel.recv_exit_status()
            times.append((time.perf_counter() - start) * 1000)
        rows.append((label, statistics.median(times)))
    _, stdout, stderr = client.exec_command(
        "sudo -n python3 -I -X importtime -c \"$(cat /tmp/bench-bootstrap.py)\" %s </dev/null"
        " >/dev/null" % sha)
    stdout.read()
    imports = stderr.read().decode()
    client.close()
    return rows, imports


def top_imports(text: str, n: int = 15) -> list[tuple[str, int]]:
    """The slowest imports by their own microseconds (nested ones included)."""
    found = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        try:
            own = int(parts[0])
        except ValueError:
            continue
        found.append((parts[2].strip(), own))
    return sorted(found, key=lambda x: -x[1])[:n]


# ---------------------------------------------------------------------------- py-spy

def py_spy_summary(raw: str, n: int = 25) -> tuple[list, list]:
    """Self and inclusive samples by function from py-spy's collapsed stacks."""
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = stack.split(";")
        own[frames[-1]] += c
        for f in set(frames):
            incl[f] += c
    def pct(items):
        return [(f, 100.0 * c / total) for f, c in items]
    return pct(own.most_common(n)), pct(incl.most_common(n * 2))


# ---------------------------------------------------------------------------- driver

def summarize(dumps: list[dict]) -> list[tuple[str, float, float]]:
    """Per phase: the median over runs of the mean over hosts, wall ms and CPU ms."""
    rows = []
    for phase in PHASES + ("open_total",):
        walls, cpus = [], []
        for d in dumps:
            w = [sum(x[0] for x in h[phase]) for h in d["hosts"].values() if phase in h]
            c = [sum(x[1] for x in h[phase]) for h in d["hosts"].values() if phase in h]
            if w:
                walls.append(statistics.mean(w))
                cpus.append(statistics.mean(c))
        if walls:
            rows.append((phase, statistics.median(walls), statistics.median(cpus)))
    return rows


def stages(dumps: list[dict]) -> list[tuple[str, float]]:
    out = []
    for a, b, label in (("start", "imported", "interpreter start + imports up to the hook"),
                        ("imported", "connect_all_start", "load inventory, playbook, CLI"),
                        ("connect_all_start", "connect_all_end", "connect all hosts"),
                        ("plan_all_start", "plan_all_end", "plan (render) all hosts"),
                        ("apply_play_start", "apply_play_end", "apply: run requests"),
                        ("close_all_start", "close_all_end", "close all"),
                        ("close_all_end", "exit", "report, recap, exit")):
        values = [(d["marks"][b] - d["marks"][a]) * 1000 for d in dumps
                  if a in d["marks"] and b in d["marks"]]
        if values:
            out.append((label, statistics.median(values)))
    return out


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--inner":
        inner(Path(sys.argv[2]), sys.argv[3:])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--py-spy", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(compare.ROOT))
    from mainsail.agentproc import BOOTSTRAP
    from mainsail.session import agent_bundle
    sha = agent_bundle()[1]
    with tempfile.TemporaryDirectory(prefix="mainsail-profile-") as tmp, compare.machine_lock():
        bed = compare.make_bed(Path(tmp), args.hosts)
        inventory = str(bed.folder / "mainsail/inventory/hosts.yml")
        compare.inv("testbed.up", "--inventory", inventory)
        try:
            compare.reset_hosts(bed, args.hosts)
            compare.run_tool("mainsail", bed, args.hosts)  # converge
            env = dict(os.environ, PYTHONPATH=str(compare.ROOT))
            dumps, walls = [], []
            for i in range(args.runs):
                out = bed.folder / ("hook-%d.json" % i)
                started = time.time()
                sample, text, rc = compare.run_process(
                    [sys.executable, str(HERE / "profile_noop.py"), "--inner", str(out),
                     "deploy"], bed.folder / "mainsail", env)
                if rc:
                    raise SystemExit(text[-3000:])
                d = json.loads(out.read_text())
                d["marks"]["start"] = started
                d["process_cpu"] = sample.controller_cpu
                d["host_cpu"] = sample.host_cpu
                d["wall"] = sample.wall
                dumps.append(d)
            spy = None
            if args.py_spy:
                raw = bed.folder / "spy.txt"
                subprocess.run([str(compare.VENV / "bin/py-spy"), "record", "-r", "250", "-f",
                                "raw", "-o", str(raw), "--", sys.executable, "-m", "invoke",
                                "deploy"], cwd=bed.folder / "mainsail", env=env,
                               capture_output=True)
                spy = py_spy_summary(raw.read_text()) if raw.exists() else None
            probes, imports = host_probes(bed, sha, BOOTSTRAP)
        finally:
            compare.inv("testbed.down", "--inventory", inventory)
    n = args.hosts
    print("no-op deploy, %d light hosts, %d runs: wall %.2f s, controller CPU %.2f s "
          "(%.0f ms/host), host-side CPU %.2f s (%.0f ms/host)" % (
              n, args.runs, statistics.median(d["wall"] for d in dumps),
              statistics.median(d["process_cpu"] for d in dumps),
              1000 * statistics.median(d["process_cpu"] for d in dumps) / n,
              statistics.median(d["host_cpu"] for d in dumps),
              1000 * statistics.median(d["host_cpu"] for d in dumps) / n))
    print("\n| phase (per host, mean over hosts) | wall ms | controller thread CPU ms |")
    print("|---|---|---|")
    for phase, wall, cpu in summarize(dumps):
        print("| %s | %.0f | %.1f |" % (phase, wall, cpu))
    print("\n| stage of the whole process | ms |")
    print("|---|---|")
    for label, ms in stages(dumps):
        print("| %s | %.0f |" % (label, ms))
    print("\n| on one host, over an open connection | ms (median of 7) |")
    print("|---|---|")
    for label, ms in probes:
        print("| %s | %.0f |" % (label, ms))
    print("\nslowest imports in the agent's start (own us, compile included):")
    for name, us in top_imports(imports):
        print("  %8d  %s" % (us, name))
    if spy:
        print("\npy-spy, controller on-CPU samples, self %:")
        for f, p in spy[0]:
            print("  %5.1f  %s" % (p, f))
        print("\npy-spy, inclusive %:")
        for f, p in spy[1]:
            print("  %5.1f  %s" % (p, f))
    return 0


if __name__ == "__main__":
    sys.exit(main())
