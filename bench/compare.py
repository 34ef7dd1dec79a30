"""Benchmark: Mainsail against Ansible, pyinfra, a naive Fabric script and the bare SSH floor.

    python bench/compare.py [--hosts 1,20] [--runs 5] [--tools mainsail,ansible,pyinfra,fabric,floor]
                            [--scale 50,100] [--quick] [--profile] [--code DIR]

Every tool applies the same 7-step workload to light testbed hosts (``testbed_init: none``,
sshd only, at 127.0.2.x), logging in as ``deploy`` and escalating with sudo, as a real user
would:

1. package ``procps`` present (already in the base image: no network is needed; the step reads
   the package state and installs nothing),
2. folder ``/opt/mainsail-bench`` (root, 0755),
3. a 2 KB file copied to it (root, 0644),
4. a template with 3 host vars (root, 0644),
5. a line in a file,
6. a user ``benchuser`` (home /home/benchuser, shell /bin/bash),
7. an ad hoc ``true``.

Measured per tool and host count: the first apply (each run on hosts reset to the base state:
the workload's files, the user and Mainsail's agent cache removed) and a no-op (hosts already
converged), medians of whole-process runs; plus the floor: a tiny Python script that opens
one paramiko connection per host and runs ``sudo -n true``. Also the tool process's own CPU
(user+sys of it and its children, from os.wait4) and the host side's CPU (the machine's busy
time from /proc/stat over the run, minus the controller's: the hosts share this machine).
After each tool has converged the hosts, the next tool runs once and must report no change
(cross-convergence). ``--scale`` measures the no-op at more hosts, with controller peak memory.

Ansible's step 1 is a ``shell`` step (dpkg-query, then apt-get only when missing): its apt
module needs python3-apt on the host, which the base image lacks, and would fetch it from the
network. Ansible runs with pipelining and without fact gathering (the workload needs no facts).

Needs the base images of the testbed (``inv testbed.up`` builds them once); installs the peers
into a virtual environment outside the checkout (``$MAINSAIL_BENCH_VENV``, default
/var/cache/mainsail/bench-venv). Takes the machine-wide lock /tmp/mainsail-testbed.lock while
hosts are up, and stops them at the end. Exits 1 when a target below is missed.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import fcntl
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
# Where the measured Mainsail is imported from: a compiled copy (see compiled_copy), set by main.
MAINSAIL_PATH = ROOT
VENV = Path(os.environ.get("MAINSAIL_BENCH_VENV", "/var/cache/mainsail/bench-venv"))
PEER_PACKAGES = ["ansible-core", "pyinfra", "fabric"]
LOCK = Path("/tmp/mainsail-testbed.lock")
MAX_HOSTS = 120
TOOLS = ("mainsail", "ansible", "pyinfra", "fabric", "floor")
PEERS = ("ansible", "pyinfra", "fabric")
BENCH_DIR = "/opt/mainsail-bench"
BENCH_USER = "benchuser"
LINE = "bench_enabled=yes"
TEMPLATE = ("# managed by the benchmark\n"
            "name = {{ bench_name }}\n"
            "role = {{ bench_role }}\n"
            "port = {{ bench_port }}\n")

# The targets (issue 14); each is checked against the run's own figures.
TARGETS = (
    "no-op, 20 hosts: Mainsail <= 2x the floor, and faster than the naive Fabric script",
    "no-op, 1 host: Mainsail <= 1.5x the floor",
    "first apply, 1 host: Mainsail <= 0.6x pyinfra",
    "no-op, 100 hosts: Mainsail faster than Fabric; controller CPU <= 15 ms per host; "
    "host CPU <= Fabric's; controller peak memory <= 150 MB",
)


# ---------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Sample:
    """One whole-process run of one tool."""
    wall: float
    controller_cpu: float
    machine_busy: float
    max_rss_kb: int
    changed: int

    @property
    def host_cpu(self) -> float:
        return max(0.0, self.machine_busy - self.controller_cpu)


@dataclass(frozen=True)
class Cell:
    """The medians of one tool's runs in one situation (``first`` or ``noop``, N hosts)."""
    tool: str
    mode: str
    hosts: int
    wall: float
    controller_cpu: float
    host_cpu: float
    max_rss_mb: float
    runs: int


def summarize(tool: str, mode: str, hosts: int, samples: Sequence[Sample]) -> Cell:
    return Cell(tool, mode, hosts,
                wall=statistics.median(s.wall for s in samples),
                controller_cpu=statistics.median(s.controller_cpu for s in samples),
                host_cpu=statistics.median(s.host_cpu for s in samples),
                max_rss_mb=max(s.max_rss_kb for s in samples) / 1024,
                runs=len(samples))


def ratio(value: float, base: float | None) -> str:
    if base is None or base <= 0:
        return "-"
    return "%.2fx" % (value / base)


def best_peer(cells: Sequence[Cell], mode: str, hosts: int, tool: str) -> Cell | None:
    """The fastest tool other than `tool` and the floor in that situation."""
    others = [c for c in cells if c.mode == mode and c.hosts == hosts
              and c.tool not in (tool, "floor")]
    return min(others, key=lambda c: c.wall) if others else None


def find(cells: Sequence[Cell], tool: str, mode: str, hosts: int) -> Cell | None:
    for c in cells:
        if (c.tool, c.mode, c.hosts) == (tool, mode, hosts):
            return c
    return None


def format_table(cells: Sequence[Cell]) -> str:
    """A Markdown table: one row per tool and situation, with ratios to the floor of the same
    host count and to the fastest other tool."""
    head = ("| tool | run | hosts | wall s | x floor | x best peer | controller CPU s "
            "| host CPU s | peak MB |")
    rows = [head, "|" + "---|" * 9]
    order = {t: i for i, t in enumerate(TOOLS)}
    for c in sorted(cells, key=lambda c: (c.hosts, c.mode != "first", order.get(c.tool, 99))):
        floor = find(cells, "floor", "noop", c.hosts)
        peer = best_peer(cells, c.mode, c.hosts, c.tool)
        rows.append("| %s | %s | %d | %.2f | %s | %s | %.2f | %.2f | %.0f |" % (
            c.tool, "first apply" if c.mode == "first" else "no-op", c.hosts, c.wall,
            ratio(c.wall, floor.wall if floor and c.tool != "floor" else None),
            ratio(c.wall, peer.wall if peer and c.tool != "floor" else None),
            c.controller_cpu, c.host_cpu, c.max_rss_mb))
    return "\n".join(rows)


def check_targets(cells: Sequence[Cell]) -> list[str]:
    """The targets missed, each as a sentence with the figures; those whose figures the run
    did not measure are skipped."""
    missed: list[str] = []

    def need(cell: Cell | None, *others: Cell | None) -> bool:
        return cell is not None and all(o is not None for o in others)

    ms, floor, fab = (find(cells, "mainsail", "noop", 20), find(cells, "floor", "noop", 20),
                      find(cells, "fabric", "noop", 20))
    if need(ms, floor) and ms.wall > 2 * floor.wall:
        missed.append("no-op, 20 hosts: %.2f s > 2x the floor (%.2f s)" % (ms.wall, floor.wall))
    if need(ms, fab) and ms.wall >= fab.wall:
        missed.append("no-op, 20 hosts: %.2f s, not faster than Fabric (%.2f s)"
                      % (ms.wall, fab.wall))
    ms, floor = find(cells, "mainsail", "noop", 1), find(cells, "floor", "noop", 1)
    if need(ms, floor) and ms.wall > 1.5 * floor.wall:
        missed.append("no-op, 1 host: %.2f s > 1.5x the floor (%.2f s)" % (ms.wall, floor.wall))
    ms, pyi = find(cells, "mainsail", "first", 1), find(cells, "pyinfra", "first", 1)
    if need(ms, pyi) and ms.wall > 0.6 * pyi.wall:
        missed.append("first apply, 1 host: %.2f s > 0.6x pyinfra (%.2f s)" % (ms.wall, pyi.wall))
    ms, fab = find(cells, "mainsail", "noop", 100), find(cells, "fabric", "noop", 100)
    if need(ms):
        if ms.controller_cpu / 100 > 0.015:
            missed.append("no-op, 100 hosts: controller CPU %.1f ms per host > 15 ms"
                          % (ms.controller_cpu * 10))
        if ms.max_rss_mb > 150:
            missed.append("no-op, 100 hosts: controller peak memory %.0f MB > 150 MB"
                          % ms.max_rss_mb)
    if need(ms, fab):
        if ms.wall >= fab.wall:
            missed.append("no-op, 100 hosts: %.2f s, not faster than Fabric (%.2f s)"
                          % (ms.wall, fab.wall))
        if ms.host_cpu > fab.host_cpu:
            missed.append("no-op, 100 hosts: host CPU %.2f s > Fabric's %.2f s"
                          % (ms.host_cpu, fab.host_cpu))
    return missed


# ---------------------------------------------------------------------------- parsing output

def changed_mainsail(report: dict, hosts: int) -> int:
    """Steps changed in a Mainsail JSON report, which must cover every host."""
    if len(report["hosts"]) != hosts:
        raise ValueError("mainsail reported %d of %d hosts" % (len(report["hosts"]), hosts))
    return sum(int(h.get("changed", 0)) for h in report["hosts"].values())


ANSIBLE_RECAP = re.compile(r"^\S+\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                           re.M)


def changed_ansible(stdout: str, hosts: int) -> int:
    """Steps changed, from the PLAY RECAP; a recap that is missing, leaves a host out or shows
    a failed or unreachable host is an error."""
    found = ANSIBLE_RECAP.findall(stdout)
    if not found:
        raise ValueError("no PLAY RECAP in ansible's output")
    if len(found) != hosts:
        raise ValueError("ansible reported %d of %d hosts" % (len(found), hosts))
    if any(int(unreach) or int(failed) for _, unreach, failed in found):
        raise ValueError("ansible reports failed or unreachable hosts")
    return sum(int(changed) for changed, _, _ in found)


PYINFRA_MARK = "BENCH-ADHOC"


def changed_pyinfra(stdout: str, hosts: int) -> int:
    """Operations that changed something, from pyinfra's results table (columns Operation,
    Hosts, Success, Error, No Change, split by runs of spaces; "Success" counts the hosts where
    the operation changed something), leaving out the ad hoc step, which pyinfra always runs."""
    changed = 0
    in_table = seen = False
    for line in stdout.splitlines():
        cells = re.split(r"\s{2,}|\s*\|\s*", line.strip())
        if cells[:3] == ["Operation", "Hosts", "Success"]:
            in_table = seen = True
            continue
        if not in_table:
            continue
        if len(cells) < 5 or cells[0] == "Grand total":
            in_table = False
            continue
        if cells[1] != str(hosts):
            raise ValueError("pyinfra ran %r on %s of %d hosts" % (cells[0], cells[1], hosts))
        if cells[3] not in ("-", "0"):
            raise ValueError("pyinfra reports errors: %s" % line.strip())
        if PYINFRA_MARK not in cells[0] and cells[2].isdigit():
            changed += int(cells[2])
    if not seen:
        raise ValueError("no results table in pyinfra's output")
    return changed


FABRIC_CHANGED = re.compile(r"^bench (\S+) changed=(\d+)$", re.M)


def changed_fabric(stdout: str, hosts: int) -> int:
    found = FABRIC_CHANGED.findall(stdout)
    if len(found) != hosts:
        raise ValueError("the fabric script reported %d of %d hosts" % (len(found), hosts))
    return sum(int(n) for _, n in found)


def proc_stat_busy(text: str) -> float:
    """Busy seconds of the whole machine from /proc/stat's first line (every state but idle
    and iowait), in clock ticks converted to seconds."""
    fields = text.splitlines()[0].split()
    assert fields[0] == "cpu", "not /proc/stat"
    values = [int(v) for v in fields[1:]]
    busy = sum(values[:8]) - values[3] - values[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- running

@dataclass
class Bed:
    """The temp folder with the inventory and each tool's workload files."""
    folder: Path
    names: list[str]
    addresses: list[str]
    key: Path
    known_hosts: Path
    blob: bytes = b""
    extra_env: dict = field(default_factory=dict)


def machine_busy() -> float:
    return proc_stat_busy(Path("/proc/stat").read_text())




def run_process(argv: list[str], cwd: Path, env: dict | None = None,
                timeout: float = 900) -> tuple[Sample, str, int]:
    """Run one whole process and reap it with os.wait4, for its (and its children's) CPU and
    peak memory; machine busy time from /proc/stat around it."""
    busy0 = machine_busy()
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                text=True)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.monotonic() - started
        busy = machine_busy() - busy0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    return (Sample(wall, usage.ru_utime + usage.ru_stime, busy, usage.ru_maxrss, 0), text,
            proc.returncode)


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    """The peers in a throwaway virtual environment outside the checkout, reused when there."""
    if (VENV / "bin" / "ansible-playbook").exists() and (VENV / "bin" / "pyinfra").exists():
        return
    print("installing %s into %s" % (", ".join(PEER_PACKAGES), VENV), flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(venv_python()), "-m", "pip", "install", "-q", *PEER_PACKAGES],
                   check=True)


def tool_version(name: str) -> str:
    code = "import importlib.metadata as m; print(m.version(%r))" % name
    done = subprocess.run([str(venv_python()), "-c", code], capture_output=True, text=True)
    return done.stdout.strip() or "?"


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    """The testbed lock every user of testbed hosts on this machine takes."""
    with open(LOCK, "a") as handle:
        print("waiting for %s" % LOCK, flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def inv(*args: str) -> None:
    """`inv` from this checkout: the testbed state lives in its .testbed/."""
    done = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit("inv %s failed:\n%s%s" % (" ".join(args), done.stdout, done.stderr))


def host_vars(i: int) -> dict:
    return {"bench_name": "b%03d" % i, "bench_role": ("web", "db", "cache")[i % 3],
            "bench_port": 8000 + i}


def write_inventory(bed: Bed) -> Path:
    lines = ["all:", "  vars:", "    user: deploy", "    ssh_key: %s" % bed.key,
             "    known_hosts: known_hosts", "    become: true", "    testbed_init: none",
             "    testbed_release: bookworm", "  hosts:"]
    for i, (name, address) in enumerate(zip(bed.names, bed.addresses), 1):
        v = host_vars(i)
        lines.append("    %s: {address: %s, bench_name: %s, bench_role: %s, bench_port: %d}"
                     % (name, address, v["bench_name"], v["bench_role"], v["bench_port"]))
    path = bed.folder / "mainsail/inventory/hosts.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def make_bed(folder: Path, count: int) -> Bed:
    names = ["b%03d" % i for i in range(1, count + 1)]
    addresses = ["127.0.2.%d" % i for i in range(1, count + 1)]
    bed = Bed(folder, names, addresses, ROOT / ".testbed/id_ed25519",
              folder / "mainsail/inventory/known_hosts")
    # 2 KB of text, the same on every run so a converged host stays converged.
    bed.blob = ("".join("line %04d of the benchmark's copied file\n" % i for i in range(48))
                .encode()[:2048])
    write_inventory(bed)
    write_mainsail(bed)
    write_ansible(bed)
    write_pyinfra(bed)
    write_fabric(bed)
    write_floor(bed)
    return bed


def write_mainsail(bed: Bed) -> None:
    project = bed.folder / "mainsail"
    for sub in ("playbooks", "templates", "files"):
        (project / sub).mkdir(parents=True, exist_ok=True)
    (project / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    (project / "files/blob.txt").write_bytes(bed.blob)
    (project / "templates/bench.conf.j2").write_text(TEMPLATE)
    (project / "playbooks/site.yml").write_text(f"""\
- name: bench
  hosts: all
  become: true
  tasks:
    - name: package
      apt: {{name: procps, state: present}}
    - name: folder
      file: {{path: {BENCH_DIR}, state: directory, owner: root, group: root, mode: "0755"}}
    - name: copy
      copy: {{src: blob.txt, dest: {BENCH_DIR}/blob.txt, owner: root, group: root, mode: "0644"}}
    - name: template
      template: {{src: bench.conf.j2, dest: {BENCH_DIR}/bench.conf, owner: root, group: root, mode: "0644"}}
    - name: line
      line: {{path: {BENCH_DIR}/settings.conf, line: "{LINE}", create: true}}
    - name: user
      user: {{name: {BENCH_USER}, home: /home/{BENCH_USER}, shell: /bin/bash}}
    - name: ad hoc
      command: "true"
      changed_when: false
""")


def write_ansible(bed: Bed) -> None:
    folder = bed.folder / "ansible"
    folder.mkdir()
    (folder / "blob.txt").write_bytes(bed.blob)
    (folder / "bench.conf.j2").write_text(TEMPLATE)
    hosts = ["[bench]"]
    for i, (name, address) in enumerate(zip(bed.names, bed.addresses), 1):
        v = host_vars(i)
        hosts.append("%s ansible_host=%s bench_name=%s bench_role=%s bench_port=%d"
                     % (name, address, v["bench_name"], v["bench_role"], v["bench_port"]))
    hosts += ["[bench:vars]", "ansible_user=deploy",
              "ansible_ssh_private_key_file=%s" % bed.key,
              "ansible_python_interpreter=/usr/bin/python3"]
    (folder / "hosts.ini").write_text("\n".join(hosts) + "\n")
    (folder / "ansible.cfg").write_text(f"""\
[defaults]
inventory = hosts.ini
forks = 20
host_key_checking = True
retry_files_enabled = False
interpreter_python = /usr/bin/python3
[ssh_connection]
pipelining = True
control_path_dir = {bed.folder}/ansible-cp
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={bed.known_hosts} -o StrictHostKeyChecking=yes
""")
    (folder / "site.yml").write_text(f"""\
- name: bench
  hosts: bench
  become: true
  gather_facts: false
  tasks:
    - name: package
      ansible.builtin.shell: >-
        dpkg-query -W -f='${{Status}}' procps 2>/dev/null | grep -q 'ok installed'
        && echo present || {{ apt-get install -y -q procps >/dev/null && echo installed; }}
      register: pkg
      changed_when: pkg.stdout == 'installed'
    - name: folder
      ansible.builtin.file: {{path: {BENCH_DIR}, state: directory, owner: root, group: root, mode: "0755"}}
    - name: copy
      ansible.builtin.copy: {{src: blob.txt, dest: {BENCH_DIR}/blob.txt, owner: root, group: root, mode: "0644"}}
    - name: template
      ansible.builtin.template: {{src: bench.conf.j2, dest: {BENCH_DIR}/bench.conf, owner: root, group: root, mode: "0644"}}
    - name: line
      ansible.builtin.lineinfile: {{path: {BENCH_DIR}/settings.conf, line: "{LINE}", create: true}}
    - name: user
      ansible.builtin.user: {{name: {BENCH_USER}, home: /home/{BENCH_USER}, shell: /bin/bash, create_home: true}}
    - name: ad hoc
      ansible.builtin.command: "true"
      changed_when: false
""")


def write_pyinfra(bed: Bed) -> None:
    folder = bed.folder / "pyinfra"
    folder.mkdir()
    (folder / "blob.txt").write_bytes(bed.blob)
    (folder / "bench.conf.j2").write_text(TEMPLATE)
    entries = []
    for i, (name, address) in enumerate(zip(bed.names, bed.addresses), 1):
        data = dict(host_vars(i), ssh_hostname=address, ssh_user="deploy", ssh_key=str(bed.key),
                    ssh_known_hosts_file=str(bed.known_hosts),
                    ssh_strict_host_key_checking="yes", _sudo=True)
        entries.append("    (%r, %r)," % (name, data))
    # One inventory file per host count: pyinfra's --limit takes one pattern, not a list.
    for count in range(1, len(entries) + 1):
        (folder / ("inventory%d.py" % count)).write_text(
            "bench = [\n%s\n]\n" % "\n".join(entries[:count]))
    (folder / "deploy.py").write_text(f"""\
from pyinfra import host
from pyinfra.operations import apt, files, server

apt.packages(name="package", packages=["procps"])
files.directory(name="folder", path="{BENCH_DIR}", user="root", group="root", mode="755")
files.put(name="copy", src="blob.txt", dest="{BENCH_DIR}/blob.txt", user="root", group="root",
          mode="644")
files.template(name="template", src="bench.conf.j2", dest="{BENCH_DIR}/bench.conf",
               user="root", group="root", mode="644", bench_name=host.data.bench_name,
               bench_role=host.data.bench_role, bench_port=host.data.bench_port)
files.line(name="line", path="{BENCH_DIR}/settings.conf", line="{LINE}")
server.user(name="user", user="{BENCH_USER}", home="/home/{BENCH_USER}", shell="/bin/bash",
            create_home=True)
server.shell(name="{PYINFRA_MARK}", commands=["true"])
""")


def write_fabric(bed: Bed) -> None:
    """A naive Fabric script: one command per check, one per change, hosts in threads."""
    folder = bed.folder / "fabric"
    folder.mkdir()
    (folder / "blob.txt").write_bytes(bed.blob)
    hosts = [[name, address, host_vars(i)]
             for i, (name, address) in enumerate(zip(bed.names, bed.addresses), 1)]
    template = TEMPLATE.replace("{{ ", "{").replace(" }}", "}")
    (folder / "fab.py").write_text(f"""\
import hashlib, io, shlex, sys
from concurrent.futures import ThreadPoolExecutor
from fabric import Connection
import paramiko

HOSTS = {json.dumps(hosts)}
BLOB = open("blob.txt", "rb").read()
TEMPLATE = {template!r}


def put_if_differs(c, content, dest):
    want = hashlib.sha256(content).hexdigest()
    have = c.sudo("sha256sum %s 2>/dev/null || true" % dest, hide=True).stdout.split(" ")[0]
    if have == want:
        return 0
    tmp = "/tmp/bench-upload"
    c.put(io.BytesIO(content), tmp)
    c.sudo("install -m 0644 -o root -g root %s %s && rm -f %s" % (tmp, dest, tmp), hide=True)
    return 1


def one(entry):
    name, address, hv = entry
    c = Connection(address, user="deploy", connect_kwargs={{
        "key_filename": {str(bed.key)!r}, "look_for_keys": False, "allow_agent": False}})
    c.client.load_host_keys({str(bed.known_hosts)!r})
    c.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    changed = 0
    status = c.sudo("dpkg-query -W -f='${{Status}}' procps || true", hide=True).stdout
    if "ok installed" not in status:
        c.sudo("apt-get install -y -q procps", hide=True)
        changed += 1
    if c.sudo("stat -c '%F %a %U %G' {BENCH_DIR} 2>/dev/null || true",
              hide=True).stdout.strip() != "directory 755 root root":
        c.sudo("install -d -m 0755 -o root -g root {BENCH_DIR}", hide=True)
        changed += 1
    changed += put_if_differs(c, BLOB, "{BENCH_DIR}/blob.txt")
    changed += put_if_differs(c, TEMPLATE.format(**hv).encode(), "{BENCH_DIR}/bench.conf")
    if c.sudo("grep -qxF {LINE} {BENCH_DIR}/settings.conf", hide=True, warn=True).failed:
        c.sudo("sh -c 'echo {LINE} >> {BENCH_DIR}/settings.conf'", hide=True)
        changed += 1
    if c.sudo("id -u {BENCH_USER}", hide=True, warn=True).failed:
        c.sudo("useradd -m -d /home/{BENCH_USER} -s /bin/bash {BENCH_USER}", hide=True)
        changed += 1
    c.sudo("true", hide=True)
    c.close()
    return name, changed


with ThreadPoolExecutor(20) as pool:
    for name, changed in pool.map(one, HOSTS):
        print("bench %s changed=%d" % (name, changed))
""")


def write_floor(bed: Bed) -> None:
    """The floor: paramiko connect, `sudo -n true`, per host in threads, as a process."""
    (bed.folder / "floor.py").write_text(f"""\
import sys
from concurrent.futures import ThreadPoolExecutor
import paramiko

ADDRESSES = {bed.addresses!r}
COMMAND = sys.argv[1] if len(sys.argv) > 1 else "sudo -n true"
# Parsed once: parsing the whole file for every connection grows with the square of the hosts.
KNOWN = paramiko.HostKeys({str(bed.known_hosts)!r})


def one(address):
    client = paramiko.SSHClient()
    for kind, key in (KNOWN.lookup(address) or {{}}).items():
        client.get_host_keys().add(address, kind, key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(address, username="deploy", key_filename={str(bed.key)!r},
                   look_for_keys=False, allow_agent=False)
    _, out, _ = client.exec_command(COMMAND)
    rc = out.channel.recv_exit_status()
    client.close()
    return rc


with ThreadPoolExecutor(20) as pool:
    codes = list(pool.map(one, ADDRESSES))
sys.exit(1 if any(codes) else 0)
""")


RESET = ("sudo -n rm -rf {dir} /var/lib/mainsail; sudo -n userdel -r {user} 2>/dev/null; "
         "sudo -n rm -f /tmp/bench-upload; true").format(dir=BENCH_DIR, user=BENCH_USER)


def compiled_copy(code: Path, into: Path) -> Path:
    """The mainsail package of checkout ``code`` copied under ``into`` with its bytecode
    compiled, as an installed package has it (installers compile it). Run from a bare checkout
    with PYTHONDONTWRITEBYTECODE set (as on this machine) every run compiled Mainsail's ~80
    modules from source, about 0.35 s of CPU per process, while the peers and the floor import
    compiled packages. A copy, so that a checkout given with --code is left untouched."""
    target = into / "code"
    shutil.copytree(code / "mainsail", target / "mainsail",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if not compileall.compile_dir(str(target / "mainsail"), quiet=1):
        raise SystemExit("compiling %s failed" % (code / "mainsail"))
    return target


def reset_hosts(bed: Bed, count: int) -> None:
    """Back to the base state: no workload files, no user, no Mainsail agent cache."""
    done = subprocess.run([sys.executable, str(bed.folder / "floor.py"), RESET],
                          cwd=bed.folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit("resetting the hosts failed: %s" % done.stderr[-2000:])


def run_tool(tool: str, bed: Bed, count: int) -> Sample:
    """One whole-process run of `tool` on the first `count` hosts; its changed steps."""
    limit = ",".join(bed.names[:count])
    env = dict(os.environ)
    vbin = VENV / "bin"
    if tool == "mainsail":
        env["PYTHONPATH"] = str(MAINSAIL_PATH)
        report = bed.folder / "mainsail-report.json"
        argv = [sys.executable, "-m", "invoke", "deploy", "--limit", limit, "--json", str(report)]
        sample, out, rc = run_process(argv, bed.folder / "mainsail", env)
        if rc != 0:
            raise SystemExit("mainsail failed (rc %d):\n%s" % (rc, out[-3000:]))
        changed = changed_mainsail(json.loads(report.read_text()), count)
    elif tool == "ansible":
        env["ANSIBLE_CONFIG"] = str(bed.folder / "ansible/ansible.cfg")
        argv = [str(vbin / "ansible-playbook"), "site.yml", "--limit", limit]
        sample, out, rc = run_process(argv, bed.folder / "ansible", env)
        if rc != 0:
            raise SystemExit("ansible failed (rc %d):\n%s" % (rc, out[-3000:]))
        changed = changed_ansible(out, count)
    elif tool == "pyinfra":
        argv = [str(vbin / "pyinfra"), "-y", "inventory%d.py" % count, "deploy.py"]
        sample, out, rc = run_process(argv, bed.folder / "pyinfra", env)
        if rc != 0:
            raise SystemExit("pyinfra failed (rc %d):\n%s" % (rc, out[-3000:]))
        changed = changed_pyinfra(out, count)
    elif tool == "fabric":
        script = (bed.folder / "fabric/fab.py").read_text()
        (bed.folder / "fabric/run.py").write_text(
            script.replace("HOSTS = ", "HOSTS_ALL = ", 1).replace(
                "BLOB = ", "HOSTS = HOSTS_ALL[:%d]\nBLOB = " % count, 1))
        argv = [str(venv_python()), "run.py"]
        sample, out, rc = run_process(argv, bed.folder / "fabric", env)
        if rc != 0:
            raise SystemExit("fabric script failed (rc %d):\n%s" % (rc, out[-3000:]))
        changed = changed_fabric(out, count)
    elif tool == "floor":
        script = (bed.folder / "floor.py").read_text().replace(
            "ADDRESSES = ", "ADDRESSES = %r or " % bed.addresses[:count], 1)
        (bed.folder / "floor-run.py").write_text(script)
        argv = [sys.executable, str(bed.folder / "floor-run.py")]
        sample, out, rc = run_process(argv, bed.folder, env)
        if rc != 0:
            raise SystemExit("the floor script failed (rc %d):\n%s" % (rc, out[-3000:]))
        changed = 0
    else:
        raise ValueError(tool)
    return Sample(sample.wall, sample.controller_cpu, sample.machine_busy, sample.max_rss_kb,
                  changed)


def profile_mainsail(bed: Bed, count: int) -> list[str]:
    """One more no-op of Mainsail with --profile: its profile, as deploy prints it."""
    sys.path.insert(0, str(ROOT))
    from mainsail.profile import lines
    report = bed.folder / "mainsail-profile.json"
    argv = [sys.executable, "-m", "invoke", "deploy", "--limit", ",".join(bed.names[:count]),
            "--profile", "--json", str(report)]
    _, out, rc = run_process(argv, bed.folder / "mainsail",
                             dict(os.environ, PYTHONPATH=str(MAINSAIL_PATH)))
    if rc != 0:
        raise SystemExit("mainsail --profile failed (rc %d):\n%s" % (rc, out[-3000:]))
    return ["mainsail --profile, no-op, %d hosts:" % count] + \
        lines(json.loads(report.read_text())["profile"])


def measure(tools: Sequence[str], bed: Bed, count: int, runs: int, first: bool,
            cross: bool, notes: list[str], profiles: list[str] | None = None) -> list[Cell]:
    """First apply and no-op of each tool on `count` hosts; the cross-convergence check after
    each tool (the next tool runs once on the hosts it converged and must change nothing)."""
    cells: list[Cell] = []
    workers = [t for t in tools if t != "floor"]
    if "floor" in tools:
        samples = [run_tool("floor", bed, count) for _ in range(runs)]
        cells.append(summarize("floor", "noop", count, samples))
        print("  floor, %d hosts: %.2f s" % (count, cells[-1].wall), flush=True)
    for index, tool in enumerate(workers):
        if first:
            samples = []
            for _ in range(runs):
                reset_hosts(bed, count)
                samples.append(run_tool(tool, bed, count))
            if not any(s.changed for s in samples):
                notes.append("%s's first apply on %d hosts reported no change" % (tool, count))
            cells.append(summarize(tool, "first", count, samples))
            print("  %s first apply, %d hosts: %.2f s" % (tool, count, cells[-1].wall), flush=True)
        else:
            run_tool(tool, bed, count)  # converge
        samples = [run_tool(tool, bed, count) for _ in range(runs)]
        for s in samples:
            if s.changed:
                notes.append("%s's no-op on %d hosts changed %d steps" % (tool, count, s.changed))
                break
        cells.append(summarize(tool, "noop", count, samples))
        print("  %s no-op, %d hosts: %.2f s" % (tool, count, cells[-1].wall), flush=True)
        if tool == "mainsail" and profiles is not None:
            profiles += profile_mainsail(bed, count) + [""]
        if cross and len(workers) > 1:
            other = workers[(index + 1) % len(workers)]
            changed = run_tool(other, bed, count).changed
            notes.append("cross-convergence: %s on hosts converged by %s: %s" % (
                other, tool, "no change" if not changed else "%d CHANGED" % changed))
    return cells


def parse_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    for n in counts:
        if not 1 <= n <= MAX_HOSTS:
            raise argparse.ArgumentTypeError("host counts go from 1 to %d" % MAX_HOSTS)
    return counts


def parse_tools(text: str) -> list[str]:
    tools = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise argparse.ArgumentTypeError("unknown tools %s (known: %s)"
                                         % (", ".join(unknown), ", ".join(TOOLS)))
    return tools


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=parse_counts, default=[1, 20])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", type=parse_tools, default=list(TOOLS))
    parser.add_argument("--scale", type=parse_counts, default=[],
                        help="no-op only, at these host counts (Ansible left out: minutes)")
    parser.add_argument("--quick", action="store_true", help="1 run, 1 and 3 hosts")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="the Mainsail checkout to measure (default: this one; for a "
                             "before/after pair, back to back)")
    parser.add_argument("--profile", action="store_true",
                        help="after Mainsail's no-op runs, one more with --profile, printed")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.hosts = 1, [1, 3]
    if any(t in PEERS for t in args.tools):
        ensure_venv()
    count = max(args.hosts + args.scale)
    notes: list[str] = []
    cells: list[Cell] = []
    profiles: list[str] | None = [] if args.profile else None
    with tempfile.TemporaryDirectory(prefix="mainsail-compare-") as tmp, machine_lock():
        bed = make_bed(Path(tmp), count)
        global MAINSAIL_PATH
        MAINSAIL_PATH = compiled_copy(args.code.resolve(), Path(tmp))
        inventory = str(bed.folder / "mainsail/inventory/hosts.yml")
        started = time.monotonic()
        inv("testbed.up", "--inventory", inventory)
        print("%d light hosts up in %.1f s; load average %s" % (
            count, time.monotonic() - started, Path("/proc/loadavg").read_text().strip()),
            flush=True)
        try:
            for i, n in enumerate(sorted(args.hosts)):
                cells += measure(args.tools, bed, n, args.runs, first=True, cross=(i == 0),
                                 notes=notes, profiles=profiles)
            for n in args.scale:
                tools = [t for t in args.tools if t != "ansible"]
                cells += measure(tools, bed, n, args.runs, first=False, cross=False, notes=notes)
        except SystemExit as exc:
            # A tool that failed ends the measuring; what was measured is still printed.
            notes.append("STOPPED EARLY: %s" % exc)
        finally:
            inv("testbed.down", "--inventory", inventory)
    versions = ", ".join("%s %s" % (p, tool_version(p)) for p in PEER_PACKAGES
                         if any(p.startswith(t) for t in args.tools))
    print()
    print("load average at the end: %s" % Path("/proc/loadavg").read_text().strip())
    print("Medians of %d whole-process runs; %s; Mainsail from %s. Ratios: to the floor of the "
          "same host count, and to the fastest other tool."
          % (args.runs, versions or "no peers", args.code))
    print(format_table(cells))
    print()
    for line in profiles or ():
        print(line)
    for note in notes:
        print(note)
    print("\nTargets:")
    for t in TARGETS:
        print("  " + t)
    missed = check_targets(cells)
    for m in missed:
        print("MISSED TARGET: " + m)
    bad = [n for n in notes if "CHANGED" in n or "no-op on" in n or "STOPPED" in n]
    return 1 if missed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
