"""Benchmark: a no-op deploy of a 20-task play, on one testbed host and on all four.

    python bench/noop_deploy.py [--runs 5] [--hosts web1,web2,mail1,echo1]

Targets (the script exits 1 when one is missed): a no-op deploy of the 20-task play takes
under 0.5 s of engine time on 1 host and under 1.0 s on 4, with one SSH channel and at most
5 round trips per host, and the controller stays under 150 MB of memory.

Builds a throwaway project (files, templates, lines, guarded commands under
/tmp/mainsail-bench on each host), deploys it once, then times no-op re-deploys: the engine's
own seconds, the whole `inv deploy` process, and the channels and round trips per host from the
JSON report. Logs in as `deploy` and escalates with sudo (`become: true`), as the testbed
wants. Needs the testbed up (`inv testbed.up`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT  # where the measured Mainsail is imported from (a compiled copy, set in measure)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (its compiled copy of the checkout)
ADDRESSES = {"web1": "127.0.0.11", "web2": "127.0.0.12", "mail1": "127.0.0.21",
             "echo1": "127.0.0.31"}

TASKS = """
- name: bench root
  file: {path: /tmp/mainsail-bench, state: directory, mode: "0755"}
""" + "".join("""
- name: file {i}
  copy: {{content: "file {i} on {{{{ inventory_hostname }}}}\\n", dest: /tmp/mainsail-bench/f{i}}}
- name: template {i}
  template: {{src: t.j2, dest: /tmp/mainsail-bench/t{i}}}
- name: line {i}
  line: {{path: /tmp/mainsail-bench/env, line: "K{i}=v{i}", create: true}}
""".format(i=i) for i in range(5)) + "".join("""
- name: guarded command {i}
  command: {{cmd: "touch /tmp/mainsail-bench/c{i}", creates: /tmp/mainsail-bench/c{i}}}
""".format(i=i) for i in range(4))


def make_project(folder: Path, hosts: list[str]) -> None:
    (folder / "playbooks").mkdir(parents=True)
    (folder / "templates").mkdir()
    (folder / "inventory").mkdir()
    (folder / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    (folder / "templates/t.j2").write_text("{{ inventory_hostname }} has {{ facts.cpus }} cpus\n")
    (folder / "playbooks/site.yml").write_text(
        "- name: twenty tasks\n  hosts: all\n  tasks:\n" +
        "\n".join("    " + line for line in TASKS.strip().splitlines()) + "\n")
    # As on the testbed's production-like hosts: log in as deploy, escalate with sudo (root
    # cannot log in over SSH).
    lines = ["all:", "  vars:", "    user: deploy", "    become: true",
             "    ssh_key: %s" % (ROOT / ".testbed/id_ed25519"),
             "    known_hosts: %s" % (ROOT / "inventory/known_hosts"), "  hosts:"]
    lines += ["    %s: {address: %s}" % (h, ADDRESSES[h]) for h in hosts]
    (folder / "inventory/hosts.yml").write_text("\n".join(lines) + "\n")
    # A host whose sudo asks for a password (mail1) has its encrypted become_password in the
    # checkout's host_vars, readable with the testbed's vault password. The benchmark decrypts
    # it here, once, into its private throwaway project: the measured deploy then derives no
    # vault key (scrypt: 128 MiB and ~0.4 s of CPU per process, by design), which would
    # otherwise dominate the controller's memory and a 1-host run's CPU (docs/vault.md).
    for h in hosts:
        if (ROOT / "inventory/host_vars" / h).is_dir():
            copy_vars(ROOT / "inventory/host_vars" / h, folder / "inventory/host_vars" / h)


# Decrypting derives a vault key (scrypt, 128 MiB): done in a process of its own, so that this
# script stays small. Linux counts a forked child's memory from the fork, before its exec: a
# big benchmark process would make every deploy it starts look as big as itself.
DECRYPT = """
import sys
from pathlib import Path
from mainsail import vault
password = Path(sys.argv[2]).read_bytes().removesuffix(b"\\n")
sys.stdout.write(vault.decrypt(Path(sys.argv[1]).read_text(), password, sys.argv[1]).decode())
"""


def copy_vars(source: Path, target: Path) -> None:
    """A host_vars folder, its encrypted files decrypted (0600, in the temp project)."""
    sys.path.insert(0, str(ROOT))
    from mainsail import vault  # only to tell encrypted files: no key derived here
    target.mkdir(parents=True)
    target.chmod(0o700)
    for path in sorted(source.iterdir()):
        text = path.read_text()
        if vault.is_encrypted(text):
            text = subprocess.run([sys.executable, "-c", DECRYPT, str(path),
                                   str(ROOT / ".testbed/vault-password")],
                                  capture_output=True, text=True, check=True,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
        (target / path.name).write_text(text)
        (target / path.name).chmod(0o600)


PEAK_KB = 0  # the largest deploy process's own peak memory (ru_maxrss of that process)


def deploy(folder: Path, report: Path) -> tuple[float, dict]:
    global PEAK_KB
    started = time.monotonic()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen([sys.executable, "-m", "invoke", "deploy", "--json",
                                  str(report)], cwd=folder, stdout=out, stderr=out,
                                 env=dict(os.environ, PYTHONPATH=str(CODE)))
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        PEAK_KB = max(PEAK_KB, usage.ru_maxrss)
        if os.waitstatus_to_exitcode(status) != 0:
            out.seek(0)
            sys.exit("deploy failed:\n" + out.read().decode("utf-8", "replace"))
    return wall, json.loads(report.read_text())


def measure(hosts: list[str], runs: int) -> dict:
    global CODE
    with tempfile.TemporaryDirectory() as tmp:
        # this checkout's Mainsail, with its bytecode compiled (bench/compare.py says why)
        CODE = compare.compiled_copy(ROOT, Path(tmp))
        folder = Path(tmp) / "bench"
        make_project(folder, hosts)
        report = Path(tmp) / "report.json"
        deploy(folder, report)  # first run: makes the files
        walls, engine = [], []
        data: dict = {}
        for _ in range(runs):
            wall, data = deploy(folder, report)
            walls.append(wall)
            engine.append(data["seconds"])
        changed = sum(h["changed"] for h in data["hosts"].values())
        tasks = len(next(iter(data["hosts"].values()))["steps"])
        return {"hosts": len(hosts), "tasks": tasks, "changed": changed,
                "engine_s": statistics.median(engine), "process_s": statistics.median(walls),
                "channels": {h: v["channels"] for h, v in data["hosts"].items()},
                "round_trips": {h: v["round_trips"] for h, v in data["hosts"].items()}}


TARGET_ENGINE_S = {1: 0.5, 4: 1.0}
TARGET_ROUND_TRIPS = 5
TARGET_RSS_MB = 150


def misses(r: dict) -> list[str]:
    found = []
    limit = TARGET_ENGINE_S.get(r["hosts"])
    if limit is not None and r["engine_s"] > limit:
        found.append("engine %.3f s > %.1f s on %d hosts" % (r["engine_s"], limit, r["hosts"]))
    if set(r["channels"].values()) != {1}:
        found.append("channels per host %s" % sorted(set(r["channels"].values())))
    if max(r["round_trips"].values()) > TARGET_ROUND_TRIPS:
        found.append("round trips per host %s" % sorted(set(r["round_trips"].values())))
    if r["changed"]:
        found.append("a no-op deploy changed %d steps" % r["changed"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hosts", default="web1,web2,mail1,echo1")
    args = parser.parse_args()
    every = args.hosts.split(",")
    missed = []
    for hosts in ([every[0]], every):
        r = measure(hosts, args.runs)
        print("no-op deploy, %d tasks, %d host(s): engine %.3f s, whole inv process %.3f s "
              "(median of %d); changed=%d; channels/host %s; round trips/host %s"
              % (r["tasks"], r["hosts"], r["engine_s"], r["process_s"], args.runs, r["changed"],
                 sorted(set(r["channels"].values())), sorted(set(r["round_trips"].values()))))
        missed += misses(r)
    rss_mb = PEAK_KB / 1024
    print("controller peak memory: %.0f MB" % rss_mb)
    if rss_mb > TARGET_RSS_MB:
        missed.append("controller memory %.0f MB > %d MB" % (rss_mb, TARGET_RSS_MB))
    for miss in missed:
        print("MISSED TARGET: " + miss)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
