"""Ansible's own integration targets, run as Ansible's test runner runs them.

The ansible-core source distribution is fetched at test time (cached outside the repository,
never committed). A target runs as a play ``hosts: <one host>``, ``gather_facts: true``,
``roles: [<target>]`` with the targets folder as the roles folder; it passes when every task
succeeds. ``python -m tests.e2e.ansible_targets TARGET...`` runs targets on a local host
(``connection: local``) and prints the tasks passed and failed per target.

Targets that install packages, manage accounts, services or cron, or write outside their
``output_dir`` must not run on the machine itself: ``--inventory FILE --host NAME`` runs them
on a host of that inventory instead (a testbed host: ``become: true``, the target's
``output_dir`` under ``/tmp/mainsail-ansible-targets/``).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from typing import Sequence
from pathlib import Path

ANSIBLE_CORE = "2.19.4"
# ansible-test's inventory names the host's interpreter; targets read it.
PYTHON = "/usr/bin/python3"
CACHE = Path(os.environ.get("MAINSAIL_ANSIBLE_SDIST", "/var/cache/mainsail/ansible-sdist"))
TARGETS = ("assert", "loops", "changed_when", "failed_when", "until", "tempfile",
           "lookup_first_found", "lookup_file", "lookup_items", "lookup_dict",
           "lookup_subelements", "lookup_sequence", "lookup_template", "lookup_vars",
           "test_files", "test_mathstuff")


def targets_folder(cache: Path = CACHE) -> Path:
    """test/integration/targets of ansible-core, downloaded once with pip and unpacked."""
    unpacked = cache / f"ansible_core-{ANSIBLE_CORE}"
    folder = unpacked / "test" / "integration" / "targets"
    if folder.is_dir():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"ansible_core-{ANSIBLE_CORE}.tar.gz"
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                        ":all:", f"ansible-core=={ANSIBLE_CORE}", "-d", str(cache)], check=True,
                       capture_output=True, timeout=900)
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers()
                   if "/test/integration/targets/" in m.name and not m.issym() and not m.islnk()]
        archive.extractall(cache, members=members, filter="data")
    return folder


# Tasks of the targets that cannot pass, by design (docs/ansible.md says why): each entry is
# how the task's first line starts in the target's tasks/main.yml.
CANNOT_PASS = {
    # the target's own action plugin (Python code on Ansible's API, never run)
    "until": ("- shell_no_failed:",),
    "apt": (
        # the internet, which this machine and its testbed do not reach: .deb files from
        # Ansible's CI file server (url-with-deps.yml; a URL deb and its check; the old hello
        # that the held-packages part installs, uses and removes), a Launchpad PPA and its 403
        "main.yml:25", "apt.yml:279", "apt.yml:283",
        "apt.yml:319", "apt.yml:324", "apt.yml:330", "apt.yml:336",
        *["apt.yml:%d" % n for n in (460, 465, 468, 472, 477, 484, 488, 495, 502, 506, 512,
                                     519, 523, 530, 533, 537, 542, 549, 553, 559, 566, 571)],
        # Ansible's python3-apt machinery (auto-installing it, auto_install_module_deps):
        # Mainsail's apt does not use python3-apt
        "apt.yml:21", "apt.yml:32", "apt.yml:39",
        # update_cache alone is `changed` in Ansible; in Mainsail refreshing the lists is `ok`
        "apt.yml:114",
    ),
    "git": (
        # the task files that clone from GitHub (repo_format1..3, the submodule and URL-change
        # repositories), and specific-revision.yml, which reads format1, cloned from there
        *["main.yml:%d" % n for n in (29, 30, 31, 33, 34, 35, 36, 38, 43, 44, 45, 46, 47, 48)],
        # `clone: false` with no dest is `changed` in Ansible; Mainsail says `ok` (nothing
        # on the host changed)
        "no-destination.yml:11",
    ),
    "assert": (
        # a loop item's rendered text is untrusted as an expression (Ansible 2.19's data
        # tagging): Mainsail evaluates it
        "- name: check results from previous assert failures",
        # the target's own lookup plugin yield_terms (Python code, never run)
        "- name: ensure that expressions with embedded lookup arg templates",
    ),
}


_AT_LINE = re.compile(r"(?P<file>[\w./-]+\.ya?ml):(?P<line>\d+)")


def drop_tasks(tasks_file: Path, starts: Sequence[str]) -> None:
    """Take out of ``tasks_file`` each top-level task whose first line starts so; an entry
    ``FILE.yml:LINE`` takes out the list item (a task, an import, a block) starting at that
    line of ``FILE.yml`` beside it (the targets' version is pinned, so lines hold)."""
    at = [m for m in map(_AT_LINE.fullmatch, starts) if m]
    for name in sorted({m.group("file") for m in at}):
        lines_at = sorted((int(m.group("line")) for m in at if m.group("file") == name),
                          reverse=True)  # from the bottom: the lines above stay put
        _drop_items(tasks_file.parent / name, lines_at)
    starts = [s for s in starts if not _AT_LINE.fullmatch(s)]
    if not starts:
        return
    lines = tasks_file.read_text().splitlines(keepends=True)
    out: list[str] = []
    dropping = False
    for line in lines:
        if line.startswith("- "):
            dropping = any(line.startswith(start) for start in starts)
        elif line.strip() and not line.startswith((" ", "#")):
            dropping = False
        if not dropping:
            out.append(line)
    if len(out) == len(lines):
        raise ValueError("none of %s in %s" % (starts, tasks_file))
    tasks_file.write_text("".join(out))


def _drop_items(path: Path, line_numbers: Sequence[int]) -> None:
    lines = path.read_text().splitlines(keepends=True)
    for number in line_numbers:
        first = lines[number - 1]
        start = re.match(r"( *)- ", first)
        if not start:
            raise ValueError("%s:%d is not a list item: %r" % (path, number, first))
        indent = len(start.group(1))
        end = number
        while end < len(lines) and (not lines[end].strip() or
                                    len(lines[end]) - len(lines[end].lstrip(" ")) > indent):
            end += 1
        del lines[number - 1:end]
    path.write_text("".join(lines))


def make_project(root: Path, targets: Path, target: str, inventory: str,
                 hosts: str, play_vars: str = "", drop: Sequence[str] = ()) -> Path:
    """A project whose roles/ is the targets folder and whose one play runs ``target``.

    ``play_vars``: extra lines of the play (``become``, ``vars``), indented by two spaces;
    ``drop``: tasks taken out of the target's tasks/main.yml (see drop_tasks).
    """
    (root / "playbooks").mkdir(parents=True, exist_ok=True)
    (root / "inventory").mkdir(exist_ok=True)
    if not (root / "roles").exists():
        # the target's own role is a private copy (some targets write into their files/:
        # copy's links, lookup_template's output), the others are linked
        (root / "roles").mkdir()
        for entry in targets.iterdir():
            if entry.name == target:
                shutil.copytree(entry, root / "roles" / target, symlinks=True)
                if drop:
                    drop_tasks(root / "roles" / target / "tasks" / "main.yml", drop)
            else:
                (root / "roles" / entry.name).symlink_to(entry)
    # ansible-test makes each target's output_dir before it runs; so does this play.
    (root / "playbooks" / "site.yml").write_text(
        f"- hosts: {hosts}\n  gather_facts: true\n{play_vars}"
        "  pre_tasks:\n    - file: {path: '{{ output_dir }}', state: directory}\n"
        "      when: output_dir is defined\n"
        f"  roles: [{target}]\n")
    (root / "inventory" / "hosts.yml").write_text(inventory)
    return root


@dataclass(frozen=True)
class Outcome:
    target: str
    passed: int
    failed: int
    error: str  # a load/plan error (nothing ran), or the first failed task and its message
    failures: tuple = ()  # every failed step: "task (where): msg"


def run_local(target: str, workdir: Path, targets: Path | None = None,
              drop: Sequence[str] = ()) -> Outcome:
    """``target`` on a local host (the agent as a local process), counted per task."""
    out = workdir / "output"
    out.mkdir(parents=True, exist_ok=True)
    inventory = ("all:\n  vars:\n    output_dir: %s\n    remote_tmp_dir: %s\n"
                 "    ansible_python_interpreter: %s\n  hosts:\n"
                 "    testhost: {connection: local, mainsail_state_dir: %s}\n"
                 % (out, out, PYTHON, workdir / "state"))
    root = make_project(workdir / "proj", targets or targets_folder(), target, inventory,
                        "testhost", drop=drop)
    # A local host's relative paths start in the controller's folder (as ansible-playbook's
    # do): run from the project, as `inv deploy` would be
    here = os.getcwd()
    os.chdir(root)
    try:
        return _run(target, root, root / "inventory" / "hosts.yml", "testhost")
    finally:
        os.chdir(here)


def run_on_host(target: str, workdir: Path, inventory: Path, host: str,
                targets: Path | None = None, drop: Sequence[str] = ()) -> Outcome:
    """``target`` on ``host`` of ``inventory`` (a testbed host), as root through become."""
    from mainsail.inventory import load_inventory

    out = "/tmp/mainsail-ansible-targets/%s" % target
    play = ("  become: true\n  vars:\n    output_dir: %s\n    remote_tmp_dir: %s\n"
            % (out, out))
    # ansible-test's inventory names the host's own interpreter (/usr/bin/python3.13): an
    # inventory that does is kept, else the play names python3
    found = load_inventory(inventory.resolve(), root=inventory.resolve().parent)
    if "ansible_python_interpreter" not in found.hosts[host].vars:
        play += "    ansible_python_interpreter: %s\n" % PYTHON
    root = make_project(workdir / "proj", targets or targets_folder(), target, "all: {}\n",
                        host, play, drop=drop)
    inventory = inventory.resolve()
    here = os.getcwd()
    os.chdir(root)  # what a task delegated to localhost writes lands in the project
    try:
        return _run(target, root, inventory, host)
    finally:
        os.chdir(here)


def _run(target: str, root: Path, inventory: Path, host_name: str) -> Outcome:
    from rich.console import Console

    from mainsail.errors import MainsailError
    from mainsail.inventory import load_inventory, select_hosts
    from mainsail.playbook import load_playbook
    from mainsail.report import Masker, Progress
    from mainsail.runner import RunOptions, run_playbook

    try:
        inv = load_inventory(inventory, root=inventory.parent)
        plays = load_playbook(root)
        progress = Progress(Console(file=io.StringIO(), width=200), Masker(), False)
        record = run_playbook(root, inv, plays, select_hosts(inv, host_name), RunOptions(),
                              progress)
    except MainsailError as exc:
        return Outcome(target, 0, 0, str(exc).splitlines()[0])
    host = record.hosts[host_name]
    failed = [s for s in host.steps if s.status == "failed"]
    passed = [s for s in host.steps if s.status in ("ok", "changed", "ignored", "skipped")]
    first = failed[0] if failed else None
    error = host.error or (f"{first.task} ({first.where}): {first.msg}" if first else "")
    failures = tuple("%s (%s): %s" % (s.task, s.where, " ".join((s.msg or "").split()))
                     for s in failed)
    if os.environ.get("MAINSAIL_TARGET_STEPS"):  # every step's status, for a closer look
        with open(os.environ["MAINSAIL_TARGET_STEPS"], "a") as out:
            for s in host.steps:
                out.write("%s | %s | %s\n" % (s.status, s.task, " ".join((s.msg or "").split())))
    return Outcome(target, len(passed), len(failed), error.splitlines()[0] if error else "",
                   failures)


def main(argv: list[str] | None = None) -> None:
    import tempfile
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.ansible_targets")
    parser.add_argument("target", nargs="*", help="targets to run (default: %s)"
                        % ", ".join(TARGETS))
    parser.add_argument("--inventory", type=Path, help="run on a host of this inventory")
    parser.add_argument("--host", help="the host of --inventory to run on")
    parser.add_argument("--targets", type=Path, help="a targets folder (default: the sdist's)")
    parser.add_argument("--without-listed", action="store_true",
                        help="take out the tasks that cannot pass (CANNOT_PASS, docs/ansible.md)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every failed task, not only the first")
    opts = parser.parse_args(argv)
    if bool(opts.inventory) != bool(opts.host):
        parser.error("--inventory and --host go together")
    for name in opts.target or TARGETS:
        with tempfile.TemporaryDirectory() as tmp:
            drop = CANNOT_PASS.get(name, ()) if opts.without_listed else ()
            if opts.inventory:
                got = run_on_host(name, Path(tmp), opts.inventory, opts.host, opts.targets,
                                  drop)
            else:
                got = run_local(name, Path(tmp), opts.targets, drop)
        print(f"{got.target}: passed {got.passed}, failed {got.failed}"
              + (f" -- {got.error}" if got.error else ""), flush=True)
        if opts.verbose:
            for failure in got.failures:
                print("  failed: " + failure, flush=True)


if __name__ == "__main__":
    main()
