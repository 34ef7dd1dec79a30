"""A hostile user on a testbed host: links, FIFOs, hard links and look-alike temp names
planted where a deploy writes, under the user's home and under a folder the user owns.

The deploy runs with `become: true` (the login user need not be root). Afterwards the
root-owned canaries are unchanged (content, owner, mode) and the deploy reported every
refusal; nothing the user planted was followed.

The second half does the same to the example site's web play, role by role: the user is the
site's deploy account, and plants at every path the role writes (taken from the role's own plan), before the deploy and again and again while it
runs; after each role the canaries are checked and the refusals counted. The counts are
printed (pytest -s shows them).

It runs against the shared testbed's web2; MAINSAIL_HOSTILE_INVENTORY=FILE points it at the
first host of another testbed inventory instead (for trying it on hosts of one's own).
"""

import json
import os
import shlex
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from mainsail.inventory import load_inventory
from mainsail.plan import build_plan
from mainsail.playbook import load_playbook
from mainsail.vault import Vault
from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory

OWN = os.environ.get("MAINSAIL_HOSTILE_INVENTORY")
HOST = next(iter(yaml.safe_load(Path(OWN).read_text())["all"]["hosts"])) if OWN else "web2"
CANARY = "/etc/mainsail-canary"
CANARY_DIR = "/etc/mainsail-canary.d"
HOME = "/home/mallory"
OWNED = "/srv/mallory"

SETUP = """
- hosts: all
  become: true
  tasks:
    - user: {name: mallory, shell: /bin/sh}
    - copy: {dest: %(canary)s, content: "root secret\\n", owner: root, group: root, mode: "0600"}
    - file: {path: %(canary_dir)s, state: directory, owner: root, group: root, mode: "0700"}
    - copy: {dest: %(canary_dir)s/inside, content: "root only\\n", mode: "0600"}
    - file: {path: %(owned)s, state: directory, owner: mallory, group: mallory, mode: "0755"}
    - name: mallory plants links, a FIFO, a hard link and look-alike temp names
      shell:
        cmd: |
          runuser -u mallory -- sh -c '
            cd %(home)s
            rm -rf .ssh .profile pipe.conf hard.conf config .config.mainsail-tmp \\
                   config.mainsail-restore
            ln -s %(canary_dir)s .ssh
            ln -s %(canary)s .profile
            mkfifo pipe.conf
            ln %(canary)s hard.conf 2>/dev/null || ln -s %(canary)s hard.conf
            ln -s %(canary)s .config.mainsail-tmp
            ln -s %(canary)s config.mainsail-restore
            cd %(owned)s
            rm -rf app.conf sub releases
            ln -s %(canary)s app.conf
            ln -s %(canary_dir)s sub
          '
""" % {"canary": CANARY, "canary_dir": CANARY_DIR, "home": HOME, "owned": OWNED}

# Every task may be refused: ignore_errors lets each one be tried and reported.
DEPLOY = """
- hosts: all
  become: true
  tasks:
    - name: ssh folder
      file: {path: %(home)s/.ssh, state: directory, owner: mallory, mode: "0700"}
      ignore_errors: true
    - name: authorized keys
      copy: {dest: %(home)s/.ssh/authorized_keys, content: "ssh-ed25519 AAAA test\\n",
             owner: mallory, mode: "0600"}
      ignore_errors: true
    - name: profile
      copy: {dest: %(home)s/.profile, content: "umask 027\\n", owner: mallory}
      ignore_errors: true
    - name: profile line
      line: {path: %(home)s/.profile, line: "umask 027"}
      ignore_errors: true
    - name: fifo
      copy: {dest: %(home)s/pipe.conf, content: "x\\n"}
      ignore_errors: true
    - name: hard link
      file: {path: %(home)s/hard.conf, owner: mallory, mode: "0644"}
      ignore_errors: true
    - name: look-alike temp names
      copy: {dest: %(home)s/config, content: "a = 1\\n", owner: mallory}
      ignore_errors: true
    - name: owned folder file
      copy: {dest: %(owned)s/app.conf, content: "b = 2\\n", owner: mallory}
      ignore_errors: true
    - name: owned folder subfolder
      file: {path: %(owned)s/sub/inner, state: directory, owner: mallory}
      ignore_errors: true
""" % {"home": HOME, "owned": OWNED}

INSPECT = """
- hosts: all
  become: true
  tasks:
    - name: canaries
      command: {cmd: "stat -c '%%a %%U %%G %%n' %(canary)s %(canary_dir)s %(canary_dir)s/inside"}
      changed_when: false
    - name: canary contents
      command: {cmd: "sha256sum %(canary)s %(canary_dir)s/inside"}
      changed_when: false
    - name: canary folder listing
      command: {cmd: "ls -A %(canary_dir)s"}
      changed_when: false
""" % {"canary": CANARY, "canary_dir": CANARY_DIR}

REFUSED = {"ssh folder": "refused", "authorized keys": "refused", "profile": "refused",
           "profile line": "refused", "fifo": "is a fifo", "owned folder file": "refused",
           "owned folder subfolder": "refused"}


def host_address(request: pytest.FixtureRequest) -> tuple[str, Path, list[str]]:
    """This test's host: its address, known_hosts and the inventory option naming it."""
    if OWN:
        data = yaml.safe_load(Path(OWN).read_text())
        known = (Path(OWN).parent / data["all"]["vars"]["known_hosts"]).resolve()
        return data["all"]["hosts"][HOST]["address"], known, ["--inventory", OWN]
    return (request.getfixturevalue("live_testbed")[HOST], ROOT / "inventory/known_hosts", [])


@pytest.fixture(scope="module")
def project(request, tmp_path_factory) -> Path:
    address, known, option = host_address(request)
    inv("testbed.reset", HOST, *option)
    root = tmp_path_factory.mktemp("hostile") / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    for name, text in (("setup", SETUP), ("hostile", DEPLOY), ("inspect", INSPECT)):
        (root / "playbooks" / (name + ".yml")).write_text(textwrap.dedent(text).lstrip())
    write_inventory(root, known, {HOST: address})
    return root


def run_playbook(project: Path, name: str) -> dict:
    out = project / (name + ".json")
    done = inv("deploy", "--playbook=" + name, "--json", str(out), cwd=project, check=False)
    assert out.exists(), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(out.read_text())["hosts"][HOST]


def steps(report: dict) -> dict:
    return {s["task"]: s for s in report["steps"]}


def canaries(project: Path) -> dict:
    report = run_playbook(project, "inspect")
    assert report["failed"] == 0, report
    return {name: s["stdout"] for name, s in steps(report).items()}


def test_planted_paths_are_refused_and_root_files_stay_untouched(project):
    setup = run_playbook(project, "setup")
    assert setup["failed"] == 0, setup
    before = canaries(project)
    assert "600 root root %s" % CANARY in before["canaries"]

    report = run_playbook(project, "hostile")
    done = steps(report)
    for task, words in REFUSED.items():
        # Each hostile task has ignore_errors, so the run goes on: its failure is "ignored".
        assert done[task]["status"] == "ignored", (task, done[task])
        assert words in done[task]["msg"], (task, done[task]["msg"])
    assert done["fifo"]["elapsed"] < 10  # refused at once, never opened
    hard = done["hard link"]
    assert hard["status"] == "ignored" and ("hard link" in hard["msg"] or "refused" in hard["msg"])
    assert done["look-alike temp names"]["status"] == "changed"

    assert canaries(project) == before
    assert before["canary folder listing"].split() == ["inside"]


def test_a_second_deploy_is_refused_the_same_way(project):
    """Nothing the first attempt did made the planted paths acceptable."""
    before = canaries(project)
    done = steps(run_playbook(project, "hostile"))
    assert all(done[task]["status"] == "ignored" for task in REFUSED)
    assert canaries(project) == before



# ---- the example site, role by role -----------------------------------------------------

SITE_ROLES = ("common", "apache", "guestbook")  # playbooks/site.yml's web play, in order
KINDS = ("symlink", "fifo", "hardlink", "lookalike")
# The hostile user is the site's deploy account (its home is written by `common`), without
# sudo. (The guestbook keeps its CGI account: Apache runs the program as www-data.)
HOSTILE_VARS = {"common_deploy_user": "mallory", "common_deploy_sudo": False,
                "common_deploy_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostileTestKeyOnly"
                                       "x0000000000000000000 hostile-test"],
                "guestbook_smtp_host": ""}

# Runs as root on the host with PATHS (one "d|f PATH" a line) and KIND set. As mallory, plants
# KIND at every path (a link to a canary, a FIFO, a hard link to a file of mallory's own, or
# links under the temp and restore names Mainsail uses beside a path); with LOOP, plants again
# every 20 ms for LOOP seconds in the background (its PID printed, stopped by that PID).
PLANT = r"""
cat > /run/mainsail-plant.sh <<'PLANTER'
n=0; ok=0
try() { n=$((n + 1)); if "$@" 2>/dev/null; then ok=$((ok + 1)); echo "planted: $*"; fi; }
while read -r what path; do
  [ -n "$path" ] || continue
  dir=$(dirname "$path"); base=$(basename "$path")
  target=%(canary)s; [ "$what" = d ] && target=%(canary_dir)s
  case "$KIND" in
    symlink) try ln -s "$target" "$path";;
    fifo) try mkfifo "$path";;
    hardlink) try ln %(home)s/.own "$path";;
    lookalike) try ln -s "$target" "$dir/.$base.0123456789abcdef.mainsail-tmp"
               try ln -s "$target" "$dir/.$base.0123456789abcdef.mainsail-keep"
               try ln -s "$target" "$path.mainsail-restore";;
  esac
done < /run/mainsail-plant.paths
echo "tried $n planted $ok"
PLANTER
printf '%%s\n' "$PATHS" > /run/mainsail-plant.paths
chmod 0644 /run/mainsail-plant.sh /run/mainsail-plant.paths
runuser -u mallory -- sh -c 'echo own > %(home)s/.own' 2>/dev/null
runuser -u mallory -- env KIND="$KIND" sh /run/mainsail-plant.sh
if [ -n "$LOOP" ]; then
  runuser -u mallory -- env KIND="$KIND" timeout "$LOOP" sh -c \
    'while :; do sh /run/mainsail-plant.sh >/dev/null; sleep 0.02; done' >/dev/null 2>&1 &
  echo "planter $!"
fi
""" % {"canary": CANARY, "canary_dir": CANARY_DIR, "home": HOME}

# As root, between rounds: mallory's plantings of the last round go, the site's files stay.
CLEAR = r"""
rm -rf %(home)s/.ssh %(home)s/.own
while read -r what path; do
  [ -n "$path" ] || continue
  dir=$(dirname "$path"); base=$(basename "$path")
  for p in "$path" "$dir/.$base.0123456789abcdef.mainsail-tmp" \
           "$dir/.$base.0123456789abcdef.mainsail-keep" "$path.mainsail-restore"; do
    if [ -L "$p" ] || [ -p "$p" ] || { [ -f "$p" ] && [ "$(stat -c %%U "$p")" = mallory ]; }
    then rm -f "$p"; fi
  done
done < /run/mainsail-plant.paths 2>/dev/null
true
""" % {"home": HOME}


@pytest.fixture(scope="module")
def site(project: Path) -> Path:
    """The example site's roles with the hostile user's variables, a playbook per role."""
    for folder in ("roles", "templates", "files"):
        if (ROOT / folder).is_dir() and not (project / folder).exists():
            shutil.copytree(ROOT / folder, project / folder)
    group_vars = project / "inventory/group_vars"
    group_vars.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "inventory/group_vars/all.yml", group_vars / "all.yml")
    shutil.copy(ROOT / "inventory/group_vars/web.yml", group_vars / "sample.yml")
    host_vars = project / "inventory/host_vars" / HOST
    host_vars.mkdir(parents=True, exist_ok=True)
    (host_vars / "hostile.yml").write_text(yaml.safe_dump(HOSTILE_VARS))
    for role in SITE_ROLES:
        (project / "playbooks" / ("role-%s.yml" % role)).write_text(
            "- hosts: all\n  become: true\n  roles: [%s]\n" % role)
    return project


def written_paths(project: Path, role: str) -> list[tuple[str, str]]:
    """Every path the role's steps write, from its plan (no host needed): ("d", folder) or
    ("f", file)."""
    secrets = Vault(configured_file=str(ROOT / ".testbed/vault-password"))
    inventory = load_inventory(project / "inventory/hosts.yml", root=project, secrets=secrets)
    play = load_playbook(project, "role-" + role, secrets)[0]
    plan = build_plan(project, play, inventory.hosts[HOST], None, {}, inventory=inventory,
                      secrets=secrets, check=True)
    found: dict[str, str] = {}
    for step in plan.steps:
        args = step.get("args") or {}
        path = args.get("dest") or args.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            continue
        folder = step["op"] == "release" or args.get("state") == "directory"
        found.setdefault(path, "d" if folder else "f")
    return sorted((kind, path) for path, kind in found.items())


def shell_playbook(project: Path, name: str, script: str, env: dict) -> dict:
    """Run ``script`` as root on the host (a one-task playbook); its report."""
    prefix = "".join("%s=%s\n" % (k, shlex.quote(v)) for k, v in env.items())
    (project / "playbooks" / (name + ".yml")).write_text(yaml.safe_dump([{
        "hosts": "all", "become": True,
        "tasks": [{"name": name, "shell": {"cmd": prefix + script}, "changed_when": False}]}]))
    report = run_playbook(project, name)
    assert report["failed"] == 0, report
    return report


def plant(project: Path, paths: list[tuple[str, str]], kind: str,
          loop: int) -> tuple[int, list[str], str]:
    """Mallory plants ``kind`` at every path; (tried, the paths planted, planter's PID or
    '')."""
    text = "\n".join("%s %s" % pair for pair in paths)
    out = steps(shell_playbook(project, "plant", PLANT, {"PATHS": text, "KIND": kind,
                                                         "LOOP": str(loop)}))["plant"]["stdout"]
    tried, planted, pid = 0, [], ""
    for line in out.splitlines():
        if line.startswith("tried "):
            tried = int(line.split()[1])
        elif line.startswith("planted: "):
            planted.append(line.split()[-1])
        elif line.startswith("planter "):
            pid = line.split()[1]
    return tried, planted, pid


def refusals(report: dict, planted: list[str]) -> list[str]:
    """The failures that name a path mallory planted: the deploy refusing it, and saying so."""
    return [s["msg"] for s in report["steps"] if s["status"] in ("failed", "ignored")
            and any(path in (s["msg"] or "") for path in planted)]


def test_each_role_of_the_site_keeps_root_files_and_reports_what_it_refused(site: Path) -> None:
    setup = run_playbook(site, "setup")
    assert setup["failed"] == 0, setup
    before = canaries(site)
    totals = {"tried": 0, "planted": 0, "refusals": 0, "deploys": 0}
    lines = []
    for role in SITE_ROLES:
        paths = written_paths(site, role)
        assert paths, role
        for kind in KINDS:
            shell_playbook(site, "clear", CLEAR, {})
            tried, planted, pid = plant(site, paths, kind, loop=120)
            try:
                report = run_playbook(site, "role-" + role)
            finally:
                if pid:  # our own planter, by its PID
                    shell_playbook(site, "stop", "kill %s 2>/dev/null; true" % pid, {})
            refused = refusals(report, planted)
            totals["tried"] += tried
            totals["planted"] += len(planted)
            totals["refusals"] += len(refused)
            totals["deploys"] += 1
            lines.append("%-9s %-9s paths %3d tried %3d planted %3d refused %d, failed steps %d"
                         % (role, kind, len(paths), tried, len(planted), len(refused),
                            report["failed"]))
            # The role's own files were never followed into the canaries: after each role.
            assert canaries(site) == before, (role, kind)
            in_the_way = [p for p in planted if kind != "lookalike"]
            if in_the_way:
                # Something stood where the role writes: the deploy said it refused it.
                assert refused, (role, kind, in_the_way, [s for s in report["steps"]
                                                          if s["status"] == "failed"])
            else:
                assert report["failed"] == 0, (role, kind, report)
    print("\nhostile site, role by role on %s:\n  %s\nhostile paths tried %d, planted %d, "
          "refusals reported %d, deploys %d"
          % (HOST, "\n  ".join(lines), totals["tried"], totals["planted"], totals["refusals"],
             totals["deploys"]))
    assert totals["planted"] > 0 and totals["refusals"] > 0
    assert before["canary folder listing"].split() == ["inside"]
