"""Ansible's integration targets: Mainsail's run next to ansible-playbook's, per target.

    python bench/ansible_targets.py --inventory FILE --host NAME [TARGET...] [--json FILE]
    python bench/ansible_targets.py --local [TARGET...] [--json FILE]

For each target, on one host: Mainsail runs it as tests/e2e/test_ansible_targets.py does (a
project whose roles/ is the targets folder, one play ``hosts: NAME``, ``gather_facts: true``,
a pre_task that makes ``output_dir``, ``roles: [TARGET]``, run by ``inv deploy --json``),
then ansible-playbook runs the same playbook on the same host, with an Ansible inventory made
from the Mainsail one (address, user, key, the same known_hosts with host keys checked,
become, /usr/bin/python3, output_dir and remote_tmp_dir) and pipelining on. Each is timed as
a whole process (Python start-up included); tasks passed and failed are counted from
Mainsail's JSON report and from Ansible's PLAY RECAP.

The inventory is a Mainsail YAML inventory as the e2e tests write one: ``user``, ``ssh_key``,
``known_hosts``, ``become``, ``output_dir``/``remote_tmp_dir`` and hosts with an ``address``.
``--local`` runs both tools on this machine (connection local, no become), and only the
targets that touch nothing outside their own folder.

Default targets: those that pass on the testbed (MODULE_PASSING, BOOKWORM_ONLY and PASSING of
tests/e2e/test_ansible_targets.py); with --local, PASSING. The host needs not be fresh: the
few targets that check a state they make themselves get it reset before each tool's run, as
the e2e test does. ansible-core (the version the e2e tests fetch the targets of) is installed
into the bench's virtual environment outside the checkout (``$MAINSAIL_BENCH_VENV``, default
/var/cache/mainsail/bench-venv). A measurement, not a gate: exits 0 whatever the counts, 2 on
a setup problem (nothing measured).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
import compare  # noqa: E402  (the bench venv and whole-process timing)

from tests.e2e.ansible_targets import ANSIBLE_CORE, PYTHON, make_project  # noqa: E402

# Network traffic goes only to loopback and the testbed's hosts here; these targets fetch from
# public hosts whatever host runs them.
REFUSED = {
    "apt": "adds package sources and fetches packages and keys from public servers",
    "apt_key": "fetches keys from public key servers",
    "apt_repository": "adds public package sources (PPAs) and fetches from them",
    "git": "clones repositories from public Git hosts",
    "get_url": "downloads from public web servers",
    "uri": "sends requests to public web servers",
    "subversion": "checks out from a public Subversion server",
}
LOCAL_HOST = "testhost"  # the name ansible-test gives a local host; some targets read it
TIMEOUT = 1800  # seconds per tool and target: user and file take minutes on a loaded machine


class SetupError(Exception):
    """Nothing can be measured: a bad command line, inventory, targets folder or venv."""


# ---------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Run:
    """One tool's whole-process run of one target."""
    passed: int | None  # None: no count (the tool stopped before its recap or report)
    failed: int | None
    seconds: float
    error: str = ""  # the first failed task and its message, or why there is no count

    def counts(self) -> str:
        return "-" if self.passed is None else "%d / %d" % (self.passed, self.failed)


@dataclass(frozen=True)
class Row:
    target: str
    mainsail: Run
    ansible: Run

    @property
    def ratio(self) -> float | None:
        """Ansible's time over Mainsail's: how many times faster Mainsail ran the target."""
        if self.mainsail.seconds <= 0:
            return None
        return self.ansible.seconds / self.mainsail.seconds


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table, one row per target; counts are tasks passed / failed."""
    lines = ["| target | mainsail passed / failed | mainsail s | ansible passed / failed "
             "| ansible s | ansible / mainsail |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %.2f | %s | %.2f | %s |" % (
            r.target, r.mainsail.counts(), r.mainsail.seconds, r.ansible.counts(),
            r.ansible.seconds, "-" if r.ratio is None else "%.2fx" % r.ratio))
    return "\n".join(lines)


def to_json(rows: Sequence[Row], meta: dict[str, Any]) -> dict[str, Any]:
    return {**meta, "targets": [
        {"target": r.target, "mainsail": asdict(r.mainsail), "ansible": asdict(r.ansible),
         "ratio": None if r.ratio is None else round(r.ratio, 3)} for r in rows]}


# ---------------------------------------------------------------------------- parsing

def mainsail_counts(report: dict[str, Any], host: str) -> tuple[int, int, str]:
    """Tasks passed and failed on ``host`` in a Mainsail JSON report, counted as
    tests/e2e/ansible_targets.py counts them (ignored and skipped steps pass), and the first
    error."""
    record = report["hosts"][host]
    steps = record.get("steps", [])
    failed = [s for s in steps if s["status"] == "failed"]
    passed = [s for s in steps if s["status"] in ("ok", "changed", "ignored", "skipped")]
    error = record.get("error") or ""
    if not error and failed:
        first = failed[0]
        error = "%s (%s): %s" % (first.get("task", ""), first.get("where", ""),
                                 first.get("msg", ""))
    return len(passed), len(failed), error.splitlines()[0] if error else ""


RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                   r"(?:\s+skipped=(\d+))?(?:\s+rescued=(\d+))?(?:\s+ignored=(\d+))?", re.M)
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$")
FATAL = re.compile(r"^fatal: \[[^\]]+\]: (?:FAILED|UNREACHABLE)! => (.*)$")
ERROR = re.compile(r"^\[ERROR\]: (.*)$|^ERROR! (.*)$")


def ansible_counts(output: str, host: str) -> tuple[int, int] | None:
    """Tasks passed and failed on ``host`` from ansible-playbook's PLAY RECAP, or None without
    one. Passed: ok (which holds the ignored failures) + skipped + rescued (a failure a
    block's rescue took, which Mainsail counts as ignored); failed: failed + unreachable."""
    for name, ok, _changed, unreachable, failed, skipped, rescued, _ignored \
            in RECAP.findall(output):
        if name == host:
            return (int(ok) + int(skipped or 0) + int(rescued or 0),
                    int(failed) + int(unreachable))
    return None


def ansible_error(output: str) -> str:
    """The first failed task and its message (``fatal: [...]``, unless Ansible went on with
    ``...ignoring``), or Ansible's own error."""
    task = ""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        found = TASK.match(line)
        if found:
            task = found.group(1)
            continue
        found = FATAL.match(line)
        if found:
            rest = [n.strip() for n in lines[index + 1:index + 3] if n.strip()]
            if rest[:1] == ["...ignoring"]:
                continue
            msg = found.group(1)
            try:  # the default callback prints the result as JSON: its msg says the most
                msg = str(json.loads(msg).get("msg", msg))
            except (ValueError, AttributeError):
                pass
            return ("%s: %s" % (task, msg)).splitlines()[0]
        found = ERROR.match(line)
        if found:
            return (found.group(1) or found.group(2)).strip()
    return ""


# ---------------------------------------------------------------------------- inventories

def ansible_inventory(host: Any, local: bool = False) -> dict[str, Any]:
    """An Ansible YAML inventory (as data) for one Mainsail inventory host: how to reach it,
    with its host keys checked against the same known_hosts, and its output_dir and
    remote_tmp_dir. ``local`` (or a host of connection local): connection local, no become."""
    hv: dict[str, Any] = {"ansible_python_interpreter": PYTHON}
    if local or host.connection == "local":
        hv["ansible_connection"] = "local"
    else:
        hv.update(ansible_host=host.address, ansible_user=host.user)
        if host.port != 22:
            hv["ansible_port"] = host.port
        if host.ssh_key:
            hv["ansible_ssh_private_key_file"] = host.ssh_key
        if not host.known_hosts:  # both tools check the host's key against the same file
            raise ValueError("host %s has no known_hosts in the inventory" % host.name)
        hv["ansible_ssh_common_args"] = shlex.join([
            "-o", "UserKnownHostsFile=%s" % host.known_hosts, "-o", "StrictHostKeyChecking=yes"])
        if host.become:
            hv.update(ansible_become=True, ansible_become_method=host.become_method)
            if host.become_user != "root":
                hv["ansible_become_user"] = host.become_user
    for name in ("output_dir", "remote_tmp_dir"):
        if name in host.vars:
            hv[name] = str(host.vars[name])
    return {"all": {"hosts": {host.name: hv}}}


def local_inventory(work: Path) -> str:
    """Mainsail's inventory for a local run, as tests/e2e/ansible_targets.run_local writes it."""
    out = work / "output"
    return ("all:\n  vars:\n    output_dir: %s\n    remote_tmp_dir: %s\n"
            "    ansible_python_interpreter: %s\n  hosts:\n"
            "    %s: {connection: local, mainsail_state_dir: %s}\n"
            % (out, out, PYTHON, LOCAL_HOST, work / "state"))


def load_host(inventory: Path, name: str) -> Any:
    """The inventory's host ``name``, with its settings resolved as Mainsail resolves them
    (paths made absolute from the inventory's folder)."""
    from mainsail.errors import MainsailError
    from mainsail.inventory import load_inventory
    try:
        inv = load_inventory(inventory, root=inventory.parent)
    except MainsailError as exc:
        raise SetupError("cannot load %s: %s" % (inventory, exc)) from None
    if name not in inv.hosts:
        raise SetupError("%s has no host %r (it has: %s)"
                         % (inventory, name, ", ".join(inv.hosts) or "none"))
    return inv.hosts[name]


def check_targets(names: Sequence[str], folder: Path, local: bool,
                  local_ok: Sequence[str]) -> None:
    """Refuses targets that reach public hosts, unknown ones, and, locally, those that change
    the machine."""
    problems = ["%s: refused, it %s" % (n, REFUSED[n]) for n in names if n in REFUSED]
    problems += ["%s: no such target in %s" % (n, folder) for n in names
                 if n not in REFUSED and not (folder / n / "tasks").is_dir()]
    if local:
        problems += ["%s: not run with --local, it may change this machine (run it on a "
                     "testbed host with --inventory/--host)" % n for n in names
                     if n not in REFUSED and n not in local_ok]
    if problems:
        raise SetupError("\n".join(problems))


# ---------------------------------------------------------------------------- running

def ensure_ansible() -> Path:
    """ansible-playbook of ANSIBLE_CORE from the bench venv, installed there when missing or of
    another version (compare.py's ensure_venv then adds its other peers beside it)."""
    venv = compare.VENV
    playbook = venv / "bin" / "ansible-playbook"
    if playbook.exists() and compare.tool_version("ansible-core") == ANSIBLE_CORE and \
            compare.tool_version("passlib") != "?":
        return playbook
    print("installing ansible-core==%s into %s" % (ANSIBLE_CORE, venv), flush=True)
    try:
        if not compare.venv_python().exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        # passlib: the targets' password_hash needs it, as ansible-test's controllers have it
        subprocess.run([str(compare.venv_python()), "-m", "pip", "install", "-q",
                        "ansible-core==%s" % ANSIBLE_CORE, "passlib"], check=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError("cannot install ansible-core into %s: %s" % (venv, exc)) from None
    return playbook


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, int]:
    sample, out, rc = compare.run_process(argv, cwd, env, timeout=TIMEOUT)
    return sample.wall, out, rc


def run_mainsail(project: Path, inventory: Path, host: str) -> Run:
    report = project / "report.json"
    report.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    wall, out, rc = timed([sys.executable, "-m", "invoke", "deploy", "-i", str(inventory),
                           "-l", host, "--json", str(report)], project, env)
    if not report.exists():
        last = [line for line in out.splitlines() if line.strip()][-1:] or ["no output"]
        return Run(None, None, wall, "no report (rc %d): %s" % (rc, last[0]))
    try:
        passed, failed, error = mainsail_counts(json.loads(report.read_text()), host)
    except (ValueError, KeyError) as exc:
        return Run(None, None, wall, "unreadable report: %s" % exc)
    return Run(passed, failed, wall, error)


def ansible_env(work: Path, targets: Path, local: bool) -> dict[str, str]:
    """Ansible's environment: no ansible.cfg read (neither the user's nor /etc/ansible's),
    its home, local temp and (locally) remote temp in ``work``; the targets as roles."""
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    (work / "empty.cfg").write_text("[defaults]\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    env.update(HOME=str(home), ANSIBLE_HOME=str(home / ".ansible"),
               ANSIBLE_CONFIG=str(work / "empty.cfg"), ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
               ANSIBLE_ROLES_PATH=str(targets), ANSIBLE_PIPELINING="1", ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOST_KEY_CHECKING="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_STDOUT_CALLBACK="default")
    if local:
        env["ANSIBLE_REMOTE_TMP"] = str(work / "remote-tmp")
    return env


def run_ansible(playbook_bin: Path, project: Path, inventory: Path, host: str,
                env: dict[str, str]) -> Run:
    wall, out, rc = timed([str(playbook_bin), "-i", str(inventory),
                           str(project / "playbooks" / "site.yml")], project, env)
    (project / "ansible.log").write_text(out)
    counts = ansible_counts(out, host)
    error = ansible_error(out)
    if counts is None:
        return Run(None, None, wall, "no recap (rc %d): %s" % (rc, error or out[-300:].strip()))
    # a failure a block's rescue took is no error of the run
    return Run(counts[0], counts[1], wall, error if counts[1] else "")


def prepare(target: str, project: Path, inventory: Path, host: str) -> str:
    """What tests/e2e/test_ansible_targets.py does before these targets on a testbed host,
    so each tool finds the state the target expects; a problem is returned, not raised."""
    steps: list[list[str]] = []
    if target == "debconf":  # the answers it sets first, forgotten: as on a fresh host
        steps.append(["-b", "--", "for p in ddclient ddclient2 libnss-ldapd libnns-ldap; do "
                      "echo PURGE | debconf-communicate $p >/dev/null; done; true"])
    if target == "lineinfile":  # setfacl for its ACL test; it writes file.txt in the home
        steps += [["-b", "-m", "apt", "-a", "name=acl"], ["--", "rm -f file.txt test.txt"]]
    if target == "cron":  # the files it checks are absent before it makes them
        steps.append(["-b", "--", "rm -f /etc/cron.d/cron_remove_name "
                      "/etc/cron.d/cron_remove_whitespace"])
    for args in steps:
        done = subprocess.run([sys.executable, "-m", "invoke", "run", "-i", str(inventory),
                               "--host", host, *args], cwd=project, capture_output=True,
                              text=True, timeout=600, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        if done.returncode != 0:
            return "preparing %s: inv run %s exited %d" % (target, " ".join(args),
                                                          done.returncode)
    return ""


def bench_target(target: str, work: Path, targets: Path, playbook_bin: Path,
                 inventory: Path | None, host: Any) -> tuple[Row, list[str]]:
    """Mainsail, then Ansible, on the same host; each after the target's preparation."""
    notes: list[str] = []
    local = inventory is None
    if local:
        inv_text = local_inventory(work)
        (work / "output").mkdir(parents=True, exist_ok=True)
    else:
        inv_text = "all: {}\n"  # the user's inventory is given with -i (its relative paths hold)
    project = make_project(work / "mainsail", targets, target, inv_text, host.name)
    (project / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    ms_inventory = project / "inventory" / "hosts.yml" if local else inventory
    if not local:
        notes.append(prepare(target, project, ms_inventory, host.name))
    ms = run_mainsail(project, ms_inventory, host.name)

    ans_project = make_project(work / "ansible", targets, target, "", host.name)
    ans_inventory = ans_project / "inventory" / "ansible.yml"
    ans_inventory.write_text(json.dumps(ansible_inventory(host, local), indent=2) + "\n")
    if not local:
        notes.append(prepare(target, project, ms_inventory, host.name))
    ans = run_ansible(playbook_bin, ans_project, ans_inventory, host.name,
                      ansible_env(work / "ansible-env", targets, local))
    return Row(target, ms, ans), [n for n in notes if n]


def local_host(work: Path) -> Any:
    """The local host as Mainsail loads it from local_inventory."""
    path = work / "hosts.yml"
    path.write_text(local_inventory(work))
    return load_host(path, LOCAL_HOST)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="*", help="targets (default: those that pass)")
    parser.add_argument("--inventory", type=Path, help="a Mainsail YAML inventory")
    parser.add_argument("--host", help="the host of --inventory to run on")
    parser.add_argument("--local", action="store_true",
                        help="both tools on this machine, connection local (harmless targets)")
    parser.add_argument("--targets", type=Path, help="a targets folder (default: the sdist's)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    try:
        return bench(args)
    except SetupError as exc:
        print("setup problem, nothing measured:\n%s" % exc, file=sys.stderr)
        return 2


def bench(args: argparse.Namespace) -> int:
    from tests.e2e.ansible_targets import targets_folder
    from tests.e2e.test_ansible_targets import BOOKWORM_ONLY, MODULE_PASSING, PASSING

    if args.local == bool(args.inventory or args.host):
        raise SetupError("give either --local, or --inventory FILE and --host NAME")
    if not args.local and not (args.inventory and args.host):
        raise SetupError("--inventory and --host go together")
    if args.inventory and not args.inventory.is_file():
        raise SetupError("no inventory file %s" % args.inventory)
    try:
        targets = (args.targets or targets_folder()).resolve()
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError("cannot fetch the targets: %s" % exc) from None
    names = args.target or (list(PASSING) if args.local
                            else list(MODULE_PASSING + BOOKWORM_ONLY + PASSING))
    check_targets(names, targets, args.local, PASSING)
    inventory = args.inventory.resolve() if args.inventory else None
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mainsail-ansbench-") as tmp:
        host = local_host(Path(tmp)) if args.local else load_host(inventory, args.host)
        try:
            ansible_inventory(host, args.local)
        except ValueError as exc:
            raise SetupError(str(exc)) from None
        playbook_bin = ensure_ansible()
        where = "this machine (connection local)" if args.local else "%s (%s)" % (
            host.name, host.address)
        print("ansible-core %s; on %s; Mainsail first, then Ansible, each once per target "
              "(the host may have run a target before)" % (ANSIBLE_CORE, where), flush=True)
        for name in names:
            work = Path(tmp) / name
            row, more = bench_target(name, work, targets, playbook_bin, inventory, host)
            rows.append(row)
            notes += more
            print("  %s: mainsail %s in %.2f s, ansible %s in %.2f s" % (
                name, row.mainsail.counts(), row.mainsail.seconds, row.ansible.counts(),
                row.ansible.seconds), flush=True)
            for tool, run in (("mainsail", row.mainsail), ("ansible", row.ansible)):
                if run.error:
                    notes.append("%s, %s: %s" % (name, tool, run.error))
    print()
    print("Tasks passed / failed; seconds of the whole process (start-up included); "
          "load average at the end: %s" % Path("/proc/loadavg").read_text().strip())
    print(format_table(rows))
    for note in notes:
        print(note)
    if args.json:
        meta = {"ansible_core": ANSIBLE_CORE, "host": "local" if args.local else host.name,
                "address": None if args.local else host.address,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "notes": notes}
        args.json.write_text(json.dumps(to_json(rows, meta), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
