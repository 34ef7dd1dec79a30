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

It runs against the shared testbed's web2; MAINSAIL_CAMPAIGN_INVENTORY=FILE points it at the
first host of another testbed inventory instead (for trying it on hosts of one's own).
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

import pytest
import yaml

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import PROJECT, write_inventory
from tests.e2e.test_testbed import sudo_password

SEED = 20261202
# About 4 s a fault on the testbed: CI runs 50 (12 rounds of each kind and then some);
# MAINSAIL_CAMPAIGN_FAULTS=200 for the whole campaign (about 13 minutes).
FAULTS = int(os.environ.get("MAINSAIL_CAMPAIGN_FAULTS", "50"))
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

    def wait(self, timeout: float = 300) -> tuple[int, str]:
        self.process.join(timeout)
        assert self.process.exitcode is not None, "a controller is still running"
        try:
            output = self.log.read_text(errors="replace")
        except OSError:
            output = ""
        return self.process.exitcode, output


def _controller(project: Path, version: str, marker: str, log: Path) -> None:
    """`inv deploy --playbook=campaign --var version=VERSION --lock-wait=60`, in-process."""
    from rich.console import Console

    from mainsail.inventory import load_inventory, select_hosts
    from mainsail.masking import Masker
    from mainsail.playbook import load_playbook
    from mainsail.report import Progress
    from mainsail.runner import RunOptions, holder_identity, run_playbook
    from mainsail.tasks import run_exit_code
    from mainsail.vault import Vault

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


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Target:
    root = tmp_path_factory.mktemp("campaign") / "site"
    shutil.copytree(PROJECT, root)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    own = os.environ.get("MAINSAIL_CAMPAIGN_INVENTORY")
    if own:
        data = yaml.safe_load(Path(own).read_text())
        name, entry = next(iter(data["all"]["hosts"].items()))
        known = (Path(own).parent / data["all"]["vars"]["known_hosts"]).resolve()
        write_inventory(root, known, {name: entry["address"]})
        config_text = inv("ssh-config", "--inventory", own, "--host", name).stdout
    else:
        name = "web2"
        write_inventory(root, ROOT / "inventory/known_hosts",
                        {name: request.getfixturevalue("live_testbed")[name]})
        config_text = request.getfixturevalue("ssh_config").read_text()
    sockets = tmp_path_factory.mktemp("cm")
    config = root / "ssh_config"
    # One OpenSSH connection per host for the test's own commands: they are many and short.
    config.write_text("Host *\n  ControlMaster auto\n  ControlPath %s/%%C\n  ControlPersist 120"
                      "\n\n%s" % (sockets, config_text))
    (root / "roles/campaign/tasks").mkdir(parents=True)
    (root / "roles/campaign/tasks/main.yml").write_text(ROLE_TASKS)
    (root / "playbooks/campaign.yml").write_text(
        "- hosts: sample\n  roles: [campaign]\n")
    return Target(name, root, config)


def content(version: str, index: int) -> bytes:
    return (("%s-%d-line\n" % (version, index)) * LINES).encode()


def digests(version: str) -> list[str]:
    return [hashlib.sha256(content(version, i)).hexdigest() for i in range(1, FILES + 1)]


@dataclass
class Figures:
    injected: collections.Counter
    missed: collections.Counter
    survived: int = 0
    partial: int = 0
    mixed: int = 0
    leftovers: int = 0
    temps_at_fault: int = 0  # temp files a killed agent left, seen before the next run
    runs_to_converge: collections.Counter = None  # type: ignore[assignment]
    applied: int = 0
    restored: int = 0
    restored_next_run: collections.Counter = None  # type: ignore[assignment]
    left_names: set = dataclasses.field(default_factory=set)


def observe(target: Target, old: str, new: str, figures: Figures) -> str:
    """Once no run holds the lock: each file whole; the role applied, restored or mixed."""
    listing = target.ssh("flock -w 60 %s true && cd %s && sha256sum %s; echo ==; ls -A"
                         % (LOCK, FOLDER, " ".join("f%d" % i for i in range(1, FILES + 1))),
                         check=False).stdout
    sums, _, names = listing.partition("==")
    found = {line.split()[1]: line.split()[0] for line in sums.splitlines() if line.strip()}
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
    # A killed agent may leave its temp file beside the file it was writing; what counts is
    # that the next run removes it (temps_left, after converging).
    figures.temps_at_fault += len(temp_names(names))
    if None not in versions and len(set(versions)) == 1:
        figures.applied += versions[0] == new and old != new
        figures.restored += versions[0] == old
        return "applied" if versions[0] == new else "restored"
    return "mixed"


def temp_names(listing: str) -> set[str]:
    return {n for n in listing.split() if n not in {"f%d" % i for i in range(1, FILES + 1)}
            and n != "filler"}


def temps_left(target: Target, figures: Figures) -> None:
    """Temp files still there once the next run converged: each counted once."""
    extra = temp_names(target.ssh("ls -A %s" % FOLDER, check=False).stdout) - figures.left_names
    if extra:
        print("temp files left: %s" % ", ".join(sorted(extra)))
    figures.left_names |= extra
    figures.leftovers += len(extra)


def converge(target: Target, version: str, figures: Figures) -> tuple[bool, str]:
    """Clean runs of ``version`` until one succeeds with every file new (at most 3); whether
    one did, and what the first one said."""
    first = ""
    for runs in range(1, 4):
        code, output = target.deploy(version, "campaign-converge").wait()
        first = first or output
        found = target.ssh("cd %s && sha256sum %s" % (
            FOLDER, " ".join("f%d" % i for i in range(1, FILES + 1))), check=False).stdout
        if code == 0 and [ln.split()[0] for ln in found.splitlines()] == digests(version):
            figures.runs_to_converge[runs] += 1
            return True, first
        print("run %d to converge on %s exited %d:\n%s" % (runs, version, code, output[-2000:]))
    figures.runs_to_converge["never"] += 1
    return False, first


def inject(target: Target, kind: str, rng: random.Random, version: str,
           case: int) -> tuple[bool, str]:
    """Deploy ``version`` with one fault of ``kind``; whether it hit, and what happened."""
    marker = "campaign-%d-%d" % (SEED, case)
    child = target.deploy(version, marker)
    delay = rng.uniform(0.0, 0.3)
    script = "MARK=%s DELAY=%.3f KIND=%s; %s" % (marker, delay,
                                                 "wait" if kind == "controller" else kind, INJECT)
    said = target.ssh(script, check=False, timeout=120).stdout.strip()
    if kind == "controller" and said.startswith("agent "):
        child.kill()
        said = "killed controller %d after %.2fs" % (child.pid, delay)
    child.wait()
    if kind == "disk":
        target.ssh("rm -f %s/filler" % FOLDER)
    return not said.startswith("missed"), said


def test_two_hundred_faults_leave_no_partial_file_and_every_run_converges(
        target: Target) -> None:
    started = time.monotonic()
    target.ssh("mkdir -p {d} && (mountpoint -q {d} || mount -t tmpfs -o size={s},mode=0755 "
               "tmpfs {d})".format(d=FOLDER, s=DISK))
    figures = Figures(collections.Counter(), collections.Counter(),
                      runs_to_converge=collections.Counter(),
                      restored_next_run=collections.Counter())
    rng = random.Random(SEED)
    try:
        assert converge(target, "v0", figures)[0]
        current, case = "v0", 0
        plan = [KINDS[i % len(KINDS)] for i in range(FAULTS)]
        rng.shuffle(plan)
        while sum(figures.injected.values()) < FAULTS and case < FAULTS * 2:
            kind = plan[case % len(plan)]
            case += 1
            version = "v%d" % case
            hit, said = inject(target, kind, rng, version, case)
            (figures.injected if hit else figures.missed)[kind] += 1
            before = (figures.partial, figures.mixed, figures.leftovers)
            state = observe(target, current, version, figures)
            ok, said_next = converge(target, version, figures)
            temps_left(target, figures)
            if state == "mixed" and RECOVERED in " ".join(said_next.split()):
                # The agent died (killed, or failed while rolling back): its successor did it.
                figures.restored_next_run[kind] += 1
            elif state == "mixed":
                figures.mixed += 1
                print("the run after case %d said:\n%s" % (case, said_next[-1500:]))
            survived = ok and before == (figures.partial, figures.mixed, figures.leftovers)
            figures.survived += hit and survived
            if not survived:
                print("case %d (%s): %s -> partial %d, mixed %d, leftovers %d, converged %s"
                      % (case, kind, said, figures.partial, figures.mixed, figures.leftovers,
                         ok))
            current = version
    finally:
        target.ssh("umount %s" % FOLDER, check=False)
    elapsed = time.monotonic() - started
    print("\nfault campaign (seed %d, %d cases, %.0f s): faults injected %d %s, missed %d %s; "
          "survived %d; files found partial %d; role mixed %d; temp files seen right after "
          "a fault %d, left after the next run %d; "
          "role applied %d, restored %d, restored by the next run %s; runs to converge %s"
          % (SEED, case, elapsed, sum(figures.injected.values()), dict(figures.injected),
             sum(figures.missed.values()), dict(figures.missed), figures.survived,
             figures.partial, figures.mixed, figures.temps_at_fault, figures.leftovers,
             figures.applied,
             figures.restored, dict(figures.restored_next_run), dict(figures.runs_to_converge)))
    assert sum(figures.injected.values()) >= FAULTS
    assert figures.partial == 0 and figures.mixed == 0 and figures.leftovers == 0
    assert figures.survived == sum(figures.injected.values())
    assert set(figures.runs_to_converge) <= {1}
