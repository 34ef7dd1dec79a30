"""`mainsail-playbook`: ansible-playbook's command line, run by Mainsail.

A script or CI job that calls ``ansible-playbook site.yml -i hosts -e k=v --check -vv``
switches by changing the command's name: the same playbook paths and options, each given to
``mainsail deploy`` (docs/ansible.md lists them). As in Ansible, a play naming ``localhost``
runs on the controller when no inventory names it, and with no inventory at all only that
implicit localhost is there. What Mainsail does not do is refused with the reason, never
ignored.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import __version__

USAGE = "mainsail-playbook [options] PLAYBOOK [PLAYBOOK ...]"
# ansible-playbook's options that take a value -> the deploy option given it
VALUED = {
    "-i": "-i", "--inventory": "-i", "--inventory-file": "-i",
    "-e": "-e", "--extra-vars": "-e",
    "-l": "-l", "--limit": "-l",
    "-t": "-t", "--tags": "-t",
    "--skip-tags": "--skip-tags",
    "-u": "-u", "--user": "-u",
    "-f": "-f", "--forks": "-f",
    "-T": "-T", "--timeout": "-T",
    "--start-at-task": "--start-at-task",
    "--vault-password-file": "--vault-password-file",
    "--vault-pass-file": "--vault-password-file",
}
SWITCHES = {
    "-C": "-C", "--check": "-C", "-D": "-D", "--diff": "-D",
    "-b": "-b", "--become": "-b", "-K": "-K", "--ask-become-pass": "-K",
    "-J": "--ask-vault-pass", "--ask-vault-pass": "--ask-vault-pass",
    "--ask-vault-password": "--ask-vault-pass",
    "--syntax-check": "--syntax-check", "--list-hosts": "--list-hosts",
    "--list-tasks": "--list-tasks", "--list-tags": "--list-tags", "--step": "--step",
}
# Options Mainsail has no counterpart for: refused with why (EXIT 4), never ignored.
REFUSED = {
    "--become-user": "give become_user in the inventory or the play",
    "--become-method": "Mainsail becomes root with sudo: give become_method in the inventory",
    "-c": "give ansible_connection in the inventory",
    "--connection": "give ansible_connection in the inventory",
    "--private-key": "give ansible_ssh_private_key_file (ssh_key) in the inventory",
    "--key-file": "give ansible_ssh_private_key_file (ssh_key) in the inventory",
    "-k": "Mainsail logs in with keys only", "--ask-pass": "Mainsail logs in with keys only",
    "--vault-id": "use --vault-password-file",
    "-M": "Mainsail runs no module code from a path",
    "--module-path": "Mainsail runs no module code from a path",
    "--force-handlers": "handlers of a failed host do not run",
    "--flush-cache": "Mainsail keeps no fact cache between runs",
}


class UsageError(Exception):
    pass


def translate(argv: list[str], has_inventory: bool) -> list[list[str]]:
    """ansible-playbook's arguments -> one ``mainsail deploy`` argument list per playbook."""
    options: list[str] = []
    playbooks: list[str] = []
    inventories: list[str] = []
    tags: list[str] = []
    skip: list[str] = []
    args = list(argv)
    while args:
        word = args.pop(0)
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if word == "--":
            playbooks += args
            break
        if word.startswith("-v") and set(word[1:]) == {"v"}:
            options.append(word)
        elif name in VALUED or (word[:2] in VALUED and len(word) > 2 and word[1] != "-"):
            if name not in VALUED:  # -ihosts, -ek=v: the value joined to a short option
                name, value, eq = word[:2], word[2:], "="
            if not eq:
                if not args:
                    raise UsageError(f"{name} needs a value")
                value = args.pop(0)
            target = VALUED[name]
            if target in ("-i", "--vault-password-file") and "," not in value:
                value = os.path.abspath(value)  # the run may start in the playbook's folder
            elif target == "-e" and value.startswith("@"):
                value = "@" + os.path.abspath(value[1:])
            if target == "-i":
                inventories.append(value)
            elif target == "-t":
                tags.append(value)
            elif target == "--skip-tags":
                skip.append(value)
            else:
                options += [target, value]
        elif word in SWITCHES:
            options.append(SWITCHES[word])
        elif name in REFUSED:
            raise UsageError(f"{name} is not supported: {REFUSED[name]}")
        elif word.startswith("-") and len(word) > 1:
            raise UsageError(f"unknown option {word}")
        else:
            playbooks.append(word)
    if not playbooks:
        raise UsageError("no playbook given")
    if len(inventories) > 1:
        raise UsageError("one -i only: put several sources in one folder and give the folder")
    if inventories:
        options += ["-i", inventories[0]]
    elif not has_inventory:
        # No inventory anywhere: only the implicit localhost, as in Ansible.
        print("[WARNING]: No inventory was parsed, only implicit localhost is available",
              file=sys.stderr)
        options += ["-i", ","]
    if tags:
        options += ["-t", ",".join(tags)]
    if skip:
        options += ["--skip-tags", ",".join(skip)]
    runs = []
    for book in playbooks:
        path = Path(book)
        if not path.is_file():
            raise UsageError(f"the playbook {book} could not be found")
        runs.append(["deploy", "--playbook", str(path.resolve()), *options])
    return runs


MARKERS = ("invoke.yaml", "tasks.py", "inventory", "ansible.cfg")


def run_folder(playbook: str) -> Path:
    """Where the run starts: the project around the current folder, as `mainsail deploy`
    finds it; outside any project, the playbook's own folder (Ansible's playbook_dir: its
    roles/, group_vars/ and files are there)."""
    here = Path.cwd().resolve()
    if any((folder / m).exists() for folder in (here, *here.parents) for m in MARKERS):
        return here
    return Path(playbook).resolve().parent


def _has_inventory(root: Path) -> bool:
    """Whether an inventory is named without -i: the environment, ansible.cfg or the
    project's own inventory/hosts.yml."""
    from . import ansiblecfg
    from .api import DEFAULT_INVENTORY, find_root
    if os.environ.get("MAINSAIL_INVENTORY") or os.environ.get("ANSIBLE_INVENTORY"):
        return True
    root = find_root(root)
    if (root / DEFAULT_INVENTORY).exists():
        return True
    try:
        return bool(ansiblecfg.load(root).get("inventory"))
    except Exception:  # an unreadable ansible.cfg is reported by the run itself
        return True


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["-h"], ["--help"]):
        print(__doc__.strip().splitlines()[0] + "\n\nusage: " + USAGE + "\n\n"
              "Options as ansible-playbook's; `mainsail doc ansible` lists them.")
        return
    if argv == ["--version"]:
        print("mainsail-playbook %s" % __version__)
        return
    books = [w for w in argv if w.endswith((".yml", ".yaml")) and Path(w).is_file()]
    folder = run_folder(books[0]) if books else Path.cwd()
    try:
        runs = translate(argv, _has_inventory(folder))
    except UsageError as exc:
        print(f"error: command line: {exc} (hint: {USAGE})", file=sys.stderr)
        raise SystemExit(4) from None
    os.chdir(folder)
    from .cli import program
    for words in runs:  # in order, as ansible-playbook runs several: the first failure stops
        try:
            program.run(["mainsail", *words])
        except SystemExit as done:
            if done.code not in (0, None):
                raise
