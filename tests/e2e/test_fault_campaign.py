"""Fault campaign: 200 faults at random points of a deploy, from a fixed seed.

Each case deploys a new version of a small role (four files, short pauses between them so a
fault lands mid-role) and injects one fault while the role is being applied:

* ``controller``: the deploy's controller process (this test's child) is killed;
* ``agent``: the agent on the host is killed; its PID is read from the run lock's holder file,
  taken only when the holder names this case's own run (a marker the test gives each run);
* ``sshd``: the sshd process serving this run's connection is killed: found inside the host by
  walking up the agent's parent chain in /proc to the first ``sshd`` process;
* ``stall``: the agent is stopped (SIGSTOP) for longer than the step timeout, then continued;
* ``disk``: the role's folder (a small tmpfs this test mounts) is filled up.

Processes are signalled by PID only, from inside the host, and only those of this test's runs.
After each fault, once the host's run lock is free: no file is partial (each is wholly the old
or wholly the new version, no temp file left), the role is wholly applied or wholly restored
(after a killed agent, which cannot roll back, the next run restores it first and says so),
and a clean run converges. Every figure is printed (pytest -s shows them).

The faults are shared between two hosts, each with a campaign process of its own (its random
stream derived from the seed and the host's place). It runs against the shared testbed's web1
and web2; MAINSAIL_CAMPAIGN_INVENTORY=FILE points it at the first two hosts of another
testbed inventory instead (for trying it on hosts of one's own).
MAINSAIL_CAMPAIGN_FAULTS=N changes the count (200).
"""

from __future__ import annotations

import collections
import hashlib
import multiprocessing
import multiprocessing.process
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from mainsail.inventory import load_inventory, select_hosts
from mainsail.masking import Masker
from mainsail.playbook import load_playbook
from mainsail.report import Progress
from mainsail.runner import RunOptions, holder_identity, run_playbook
from mainsail.tasks import run_exit_code
from mainsail.vault import Vault
from tests.conftest import ROOT, inv
from tests.e2e.test_engine import PROJECT, write_inventory
from tests.e2e.test_testbed import sudo_password

SEED = 20261202
# Under a second a fault on two testbed hosts side by side: CI runs all 200 (40 of each
# kind); MAINSAIL_CAMPAIGN_FAULTS=N for another count.
FAULTS = int(os.environ.get("MAINSAIL_CAMPAIGN_FAULTS", "200"))
KINDS = ("controller", "agent", "sshd", "stall", "disk")
FILES = 4
LINES = 400
FOLDER = "/srv/campaign"
LOCK = "/var/lib/mainsail/run.lock"
STEP_TIMEOUT = 1
# What the next run says when it rolled back what a killed agent left half-done.
RECOVERED = "rolled back by the next run"
STALL = 1.6  # longer than the step timeout
DISK = 256 * 1024
HANG = 90  # a controller still running after this long hangs (lock wait 60 s, steps 1 s)
HUNG = -1000
# The faults are shared among this many hosts, each campaign a process of its own: the
# cases spend most of their time waiting on the network and the host, not on this machine.
STREAMS = 2

ROLE_TASKS = "\n".join(
    "- name: file %(i)d\n"
    "  copy: {content: \"{{ (version ~ '-%(i)d-line\\n') * %(lines)d }}\", dest: %(dir)s/f%(i)d}\n"
    "  timeout: %(t)d\n"
    "- name: pause %(i)d\n"
    "  command: {cmd: sleep 0.05}\n"
    "  timeout: %(t)d\n" % {"i": i, "lines": LINES, "dir": FOLDER, "t": STEP_TIMEOUT}
    for i in range(1, FILES + 1))

# Runs as root on the host. Waits for the run lock's holder written for the run $MARK, then
# for $DELAY seconds, then injects $KIND into that run's agent; prints what it did.
INJECT = r"""
H=%(lock)s.holder
pid=""
i=0
while [ $i -lt 1500 ]; do
  if grep -qs "\"command\": \"$MARK\"" "$H"; then
    pid=$(sed -n 's/.*"agent_pid": \([0-9]*\).*/\1/p' "$H")
    [ -n "$pid" ] && break
  fi
  i=$((i + 1))
  sleep 0.01
done
[ -n "$pid" ] || { echo "missed: no holder"; exit 0; }
sleep "$DELAY"
[ -d /proc/$pid ] || { echo "missed: agent $pid gone"; exit 0; }
case "$KIND" in
  wait) echo "agent $pid";;
  agent) kill -KILL "$pid" && echo "killed agent $pid";;
  disk) head -c %(disk)d /dev/zero > %(folder)s/filler 2>/dev/null; echo "filled the disk";;
  stall) kill -STOP "$pid" && sleep %(stall)s; kill -CONT "$pid"; echo "stalled agent $pid";;
  sshd)
    p=$pid
    while [ "$p" -gt 1 ]; do
      case "$(cat /proc/$p/comm)" in
        sshd*) kill -KILL "$p" && echo "killed sshd $p of agent $pid"; exit 0;;
      esac
      p=$(sed 's/^.*) [A-Za-z] \([0-9]*\) .*/\1/' /proc/$p/stat)
    done
    echo "missed: no sshd above $pid";;
esac
""" % {"lock": LOCK, "stall": STALL, "disk": DISK, "folder": FOLDER}


@dataclass
class Target:
    name: str
    project: Path
    ssh_config: Path

    def ssh(self, command: str, check: bool = True, timeout: float = 120
            ) -> subprocess.CompletedProcess:
        password = sudo_password(self.name)
        sudo = "sudo -S -p '' " if password else "sudo -n "
        done = subprocess.run(["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes",
                               self.name, sudo + "sh -c " + shlex.quote(command)],
                              capture_output=True, text=True, timeout=timeout,
                              input=(password + "\n") if password else None)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def deploy(self, version: str, marker: str) -> "Controller":
        """A deploy of ``version`` in a controller process of its own (forked from this one:
        `inv deploy`'s code without its seconds of start-up), the lock holder's ``command``
        set to ``marker`` so the host can tell this run's agent from a dead one's."""
        log = self.project / "last-run.log"
        process = multiprocessing.get_context("fork").Process(
            target=_controller, args=(self.project, version, marker, log), daemon=True)
        process.start()
        return Controller(process, log)


@dataclass
class Controller:
    process: multiprocessing.process.BaseProcess
    log: Path

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)  # our own controller process, by its PID

    def wait(self, timeout: float = HANG) -> tuple[int, str]:
        """Its exit code and log; a controller still running after ``timeout`` seconds hangs:
        it is killed, and its code is HUNG."""
        self.process.join(timeout)
        hung = self.process.exitcode is None
        if hung:
            self.kill()
            self.process.join(10)
        try:
            output = self.log.read_text(errors="replace")
        except OSError:
            output = ""
        return (HUNG, output + "\n[hung: killed after %.0f s]" % timeout) if hung \
            else (int(self.process.exitcode or 0), output)


def _controller(project: Path, version: str, marker: str, log: Path) -> None:
    """`inv deploy --playbook=campaign --var version=VERSION --lock-wait=60`, in-process
    (its modules imported by the test itself, once: a forked child only runs)."""
    code = 1
    with open(log, "w") as out:
        try:
            secrets = Vault(configured_file=str(ROOT / ".testbed/vault-password"))
            inv = load_inventory(project / "inventory/hosts.yml", root=project, secrets=secrets)
            plays = load_playbook(project, "campaign", secrets)
            opts = RunOptions(extra_vars={"version": version}, lock_wait=60, secrets=secrets,
                              holder=holder_identity(marker))
            record = run_playbook(project, inv, plays, select_hosts(inv), opts,
                                  Progress(Console(file=out, width=200), Masker(), show_diff=False), "campaign")
            code = run_exit_code(record)
        except BaseException as exc:  # noqa: B902 - reported in the log, the code says failed
            out.write("controller error: %r\n" % exc)
        out.flush()
    os._exit(code)


def make_target(root: Path, name: str, address: str, known: Path, config_text: str,
                sockets: Path) -> Target:
    shutil.copytree(PROJECT, root)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, known, {name: address})
    config = root / "ssh_config"
    # One OpenSSH connection per host for the test's own commands: they are many and short.
    config.write_text("Host *\n  ControlMaster auto\n  ControlPath %s/%%C\n  ControlPersist 120"
                      "\n\n%s" % (sockets, config_text))
    (root / "roles/campaign/tasks").mkdir(parents=True)
    (root / "roles/campaign/tasks/main.yml").write_text(ROLE_TASKS)
    (root / "playbooks/campaign.yml").write_text(
        "- hosts: sample\n  roles: [campaign]\n")
    return Target(name, root, config)


@pytest.fixture(scope="module")
def targets(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> list[Target]:
    """The shared testbed's web1 and web2, or the first two hosts of
    MAINSAIL_CAMPAIGN_INVENTORY (one, if it has one)."""
    base = tmp_path_factory.mktemp("campaign")
    sockets = tmp_path_factory.mktemp("cm")
    own = os.environ.get("MAINSAIL_CAMPAIGN_INVENTORY")
    if own:
        data = yaml.safe_load(Path(own).read_text())
        hosts = {name: entry["address"] for name, entry in data["all"]["hosts"].items()}
        known = (Path(own).parent / data["all"]["vars"]["known_hosts"]).resolve()
        config_text = inv("ssh-config", "--inventory", own).stdout
    else:
        testbed = request.getfixturevalue("live_testbed")
        hosts = {name: testbed[name] for name in ("web1", "web2")}
        known = ROOT / "inventory/known_hosts"
        config_text = request.getfixturevalue("ssh_config").read_text()
    return [make_target(base / name, name, address, known, config_text, sockets)
            for name, address in list(hosts.items())[:STREAMS]]


def content(version: str, index: int) -> bytes:
    return (("%s-%d-line\n" % (version, index)) * LINES).encode()


def digests(version: str) -> list[str]:
    return [hashlib.sha256(content(version, i)).hexdigest() for i in range(1, FILES + 1)]


def counter() -> collections.Counter:
    return collections.Counter()


@dataclass
class Figures:
    injected: collections.Counter = dataclasses.field(default_factory=counter)
    missed: collections.Counter = dataclasses.field(default_factory=counter)
    survived: int = 0
    partial: int = 0
    mixed: int = 0
    leftovers: int = 0
    temps_at_fault: int = 0  # temp files a killed agent left, seen before the next run
    kept_at_fault: int = 0  # old files a killed agent's transaction kept beside the new ones
    runs_to_converge: collections.Counter = dataclasses.field(default_factory=counter)
    applied: int = 0
    restored: int = 0
    restored_next_run: collections.Counter = dataclasses.field(default_factory=counter)
    hung: collections.Counter = dataclasses.field(default_factory=counter)
    left_names: set = dataclasses.field(default_factory=set)
    seconds: collections.Counter = dataclasses.field(default_factory=counter)
    cases: int = 0

    @classmethod
    def total(cls, parts: list["Figures"]) -> "Figures":
        """The hosts' figures added up (counts summed, counters merged)."""
        out = cls()
        for part in parts:
            for field in dataclasses.fields(cls):
                mine, theirs = getattr(out, field.name), getattr(part, field.name)
                setattr(out, field.name, mine | theirs if isinstance(mine, set)
                        and not isinstance(mine, collections.Counter) else mine + theirs)
        return out


def sums_and_names(target: Target, before: str = "") -> tuple[dict, str]:
    """The files' digests and the folder's listing, in one command (after ``before``)."""
    listing = target.ssh("%scd %s && sha256sum %s; echo ==; ls -A" % (
        before, FOLDER, " ".join("f%d" % i for i in range(1, FILES + 1))), check=False).stdout
    sums, _, names = listing.partition("==")
    return {line.split()[1]: line.split()[0] for line in sums.splitlines() if line.strip()}, \
        names


def observe(target: Target, old: str, new: str, figures: Figures) -> str:
    """Once no run holds the lock: each file whole; the role applied, restored or mixed.
    (The disk fault's filler goes first: it is not the role's.)"""
    found, names = sums_and_names(target, "flock -w 60 %s true; rm -f %s/filler; "
                                  % (LOCK, FOLDER))
    versions = []
    for index, (was, will) in enumerate(zip(digests(old), digests(new)), start=1):
        got = found.get("f%d" % index)
        if got == was:
            versions.append(old)
        elif got == will:
            versions.append(new)
        else:
            figures.partial += 1
            versions.append(None)
    # A killed agent may leave its temp file beside the file it was writing, and the old
    # files its transaction kept beside the new ones; what counts is that the next run
    # removes them (temps_left, after converging).
    left = temp_names(names)
    figures.kept_at_fault += sum(n.endswith(".mainsail-keep") for n in left)
    figures.temps_at_fault += sum(not n.endswith(".mainsail-keep") for n in left)
    if None not in versions and len(set(versions)) == 1:
        figures.applied += versions[0] == new and old != new
        figures.restored += versions[0] == old
        return "applied" if versions[0] == new else "restored"
    return "mixed"


def temp_names(listing: str) -> set[str]:
    return {n for n in listing.split() if n not in {"f%d" % i for i in range(1, FILES + 1)}
            and n != "filler"}


def temps_left(names: str, figures: Figures) -> None:
    """Temp files still there once the next run converged: each counted once."""
    extra = temp_names(names) - figures.left_names
    if extra:
        print("temp files left: %s" % ", ".join(sorted(extra)))
    figures.left_names |= extra
    figures.leftovers += len(extra)


def converge(target: Target, version: str, figures: Figures) -> tuple[bool, str, str]:
    """Clean runs of ``version`` until one succeeds with every file new (at most 3); whether
    one did, what the first one said, and the folder's listing after the last."""
    first, names = "", ""
    for runs in range(1, 4):
        code, output = target.deploy(version, "campaign-converge").wait()
        figures.hung["converge"] += code == HUNG
        first = first or output
        found, names = sums_and_names(target)
        if code == 0 and [found.get("f%d" % i) for i in range(1, FILES + 1)] == digests(version):
            figures.runs_to_converge[runs] += 1
            return True, first, names
        print("%s: run %d to converge on %s exited %d:\n%s"
              % (target.name, runs, version, code, output[-2000:]))
    figures.runs_to_converge["never"] += 1
    return False, first, names


def inject(target: Target, kind: str, rng: random.Random, version: str,
           case: str, figures: Figures) -> tuple[bool, str]:
    """Deploy ``version`` with one fault of ``kind``; whether it hit, and what happened."""
    marker = "campaign-%d-%s" % (SEED, case)
    child = target.deploy(version, marker)
    delay = rng.uniform(0.0, 0.3)
    script = "MARK=%s DELAY=%.3f KIND=%s; %s" % (marker, delay,
                                                 "wait" if kind == "controller" else kind, INJECT)
    said = target.ssh(script, check=False, timeout=120).stdout.strip()
    if kind == "controller" and said.startswith("agent "):
        child.kill()
        said = "killed controller %d after %.2fs" % (child.pid, delay)
    code, output = child.wait()
    if code == HUNG:
        figures.hung[kind] += 1
        print("%s case %s (%s): the controller hung:\n%s"
              % (target.name, case, kind, output[-3000:]))
    return not said.startswith("missed"), said


def campaign(target: Target, stream: int, faults: int) -> Figures:
    """``faults`` faults on one host, from the seed's own stream for it."""
    figures = Figures()
    rng = random.Random("%d-%d" % (SEED, stream))
    assert converge(target, "v0", figures)[0]
    current, case = "v0", 0
    plan = [KINDS[i % len(KINDS)] for i in range(faults)]
    rng.shuffle(plan)
    while sum(figures.injected.values()) < faults and case < faults * 2:
        kind = plan[case % len(plan)]
        case += 1
        version = "v%d" % case
        times = [time.monotonic()]
        hit, said = inject(target, kind, rng, version, "%d-%d" % (stream, case), figures)
        times.append(time.monotonic())
        (figures.injected if hit else figures.missed)[kind] += 1
        before = (figures.partial, figures.mixed, figures.leftovers)
        state = observe(target, current, version, figures)
        times.append(time.monotonic())
        ok, said_next, names = converge(target, version, figures)
        temps_left(names, figures)
        times.append(time.monotonic())
        for phase, start, end in zip(("inject", "observe", "converge"), times, times[1:]):
            figures.seconds[phase] += end - start
        if state == "mixed" and RECOVERED in " ".join(said_next.split()):
            # The agent died (killed, or failed while rolling back): its successor did it.
            figures.restored_next_run[kind] += 1
        elif state == "mixed":
            figures.mixed += 1
            print("the run after case %d said:\n%s" % (case, said_next[-1500:]))
        survived = ok and before == (figures.partial, figures.mixed, figures.leftovers)
        figures.survived += hit and survived
        if not survived:
            print("%s case %d (%s): %s -> partial %d, mixed %d, leftovers %d, converged %s"
                  % (target.name, case, kind, said, figures.partial, figures.mixed,
                     figures.leftovers, ok))
        current = version
    figures.cases = case
    return figures


def _stream(target: Target, stream: int, faults: int, pipe: Any) -> None:
    try:
        pipe.send(campaign(target, stream, faults))
    except BaseException as exc:  # noqa: B902 - the parent reports it
        pipe.send("%s: %s" % (type(exc).__name__, exc))
    pipe.close()
    os._exit(0)


def run_streams(targets: list[Target], faults: int) -> list[Figures]:
    """One campaign process per host (forked: single-threaded, as each forks its own
    controllers), the faults shared out; each one's figures."""
    context = multiprocessing.get_context("fork")
    shares = [faults // len(targets) + (i < faults % len(targets)) for i in range(len(targets))]
    running = []
    for stream, (target, share) in enumerate(zip(targets, shares)):
        mine, theirs = context.Pipe(duplex=False)
        process = context.Process(target=_stream, args=(target, stream, share, theirs))
        process.start()
        theirs.close()
        running.append((process, mine))
    results = []
    for process, pipe in running:
        got = pipe.recv()
        process.join(60)
        assert isinstance(got, Figures), got
        results.append(got)
    return results


def test_two_hundred_faults_leave_no_partial_file_and_every_run_converges(
        targets: list[Target]) -> None:
    started = time.monotonic()
    for target in targets:
        target.ssh("mkdir -p {d} && (mountpoint -q {d} || mount -t tmpfs -o size={s},"
                   "mode=0755 tmpfs {d})".format(d=FOLDER, s=DISK))
    try:
        figures = Figures.total(run_streams(targets, FAULTS))
    finally:
        for target in targets:
            target.ssh("umount %s" % FOLDER, check=False)
    elapsed = time.monotonic() - started
    print("\nfault campaign (seed %d, %d hosts, %d cases, %.0f s): faults injected %d %s, "
          "missed %d %s; survived %d; files found partial %d; role mixed %d; controllers "
          "hung %d; temp files seen right after a fault %d, old files kept beside %d, "
          "either left after the next run %d; "
          "role applied %d, restored %d, restored by the next run %s; runs to converge %s"
          % (SEED, len(targets), figures.cases, elapsed, sum(figures.injected.values()),
             dict(figures.injected), sum(figures.missed.values()), dict(figures.missed),
             figures.survived, figures.partial, figures.mixed, sum(figures.hung.values()),
             figures.temps_at_fault, figures.kept_at_fault, figures.leftovers,
             figures.applied, figures.restored,
             dict(figures.restored_next_run), dict(figures.runs_to_converge)))
    print("seconds spent (all hosts): %s" % ", ".join(
        "%s %.0f" % kv for kv in figures.seconds.items()))
    assert sum(figures.injected.values()) >= FAULTS
    assert figures.partial == 0 and figures.mixed == 0 and figures.leftovers == 0
    assert not +figures.hung, dict(figures.hung)
    assert figures.survived == sum(figures.injected.values())
    assert set(figures.runs_to_converge) <= {1}
