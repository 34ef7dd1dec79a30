"""The command line's shared flags: their spellings, their settings, and what they do before a
run starts (listing, offline checks, per-run host overrides).

Flags are spelled as ansible-playbook users type them (docs/commands.md has the mapping).
Invoke would invent a short flag from each parameter's first free letter (``-h`` for
``--host``, ``-v`` for ``--var``); :class:`MainsailTask` gives short flags only to the names in
:data:`SHORT`, the same on every command.
"""

from __future__ import annotations

import dataclasses
import difflib
import getpass
import logging
import os
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Sequence

from invoke import Context, Exit, ParseError, Program, Task, task

from .errors import EXIT_CODES, BadInput
from .inventory import Host, Inventory

# parameter name -> its short flag, on every command that has the parameter
SHORT: Mapping[str, str] = MappingProxyType({
    "extra_vars": "e", "verbose": "v", "limit": "l", "inventory": "i", "tags": "t",
    "check": "C", "diff": "D", "forks": "f", "user": "u", "become": "b",
    "ask_become_pass": "K", "timeout": "T", "module": "m", "args": "a"})

CLI = "command line"


class MainsailTask(Task):
    """An Invoke task whose short flags are exactly those of :data:`SHORT`."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT.get(name)
        if short and short not in taken_names:
            opts["names"].append(short)
        return opts


def command(**kwargs: Any) -> Callable[[Callable[..., Any]], MainsailTask]:
    """``@task`` with Mainsail's flag spellings; counted ``-v`` and repeatable ``-e`` built in."""
    kwargs.setdefault("incrementable", ["verbose"])
    kwargs.setdefault("iterable", ["extra_vars", "var"])
    return task(klass=MainsailTask, auto_shortflags=False, **kwargs)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- help texts

HELP: Mapping[str, str] = MappingProxyType({
    "limit": "hosts: an Ansible pattern (web:&prod, all:!mail1, 'web*', web1,mail1)",
    "inventory": "inventory file (default inventory/hosts.yml; MAINSAIL_INVENTORY)",
    "host": "old spelling: host names or globs, comma separated (prefer -l)",
    "group": "old spelling: group names, comma separated (prefer -l)",
    "extra_vars": "extra variables, highest precedence: k=v, YAML/JSON, or @file.yml; "
                  "repeatable",
    "var": "old spelling of -e k=v",
    "verbose": "more output: -v each step's command and output, -vv also its file:line "
               "and arguments, -vvv also the SSH transport's debug log",
    "tags": "only tasks with these tags (comma separated)",
    "skip_tags": "skip tasks with these tags (comma separated)",
    "check": "change nothing; report what would change",
    "diff": "show unified diffs of what changes (secrets masked)",
    "forks": "hosts worked on in parallel (default 20; MAINSAIL_FORKS)",
    "user": "log in as this user (overrides the inventory's user)",
    "become": "run as root through sudo (the inventory's become_user)",
    "ask_become_pass": "ask for sudo's password on the terminal",
    "vault_password_file": "file holding the vault password",
    "ask_vault_pass": "ask for the vault password on the terminal",
    "timeout": "SSH connect timeout in seconds, fractions allowed (default 10; "
               "MAINSAIL_TIMEOUT)",
    "list_hosts": "list the hosts each play would run on, and stop (no connection)",
    "list_tasks": "list each play's tasks, and stop (no connection)",
    "list_tags": "list each play's tags, and stop (no connection)",
    "syntax_check": "load, validate and render everything for every selected host with no "
                    "connection (facts are placeholders); exit 4 on bad input",
    "start_at_task": "start at the first task of this name (earlier tasks are left out)",
    "step": "ask, for each task, whether to run it (on a terminal)",
    "playbook": "playbook name in playbooks/ (default site; MAINSAIL_PLAYBOOK)",
    "json": "write the run report as JSON to this file (docs: mainsail doc reports)",
    "junit": "write a JUnit XML report to this file",
    "lock_wait": "seconds to wait for another run's lock on a host (default 0: fail at "
                 "once, exit 5)",
    "shard": "only this share of the selected hosts, I/N (1 <= I <= N): each host is in one "
             "shard, by a hash of its name (docs/ci.md)",
    "profile": "after the recap, where the time went: per host connect, key exchange, "
               "authentication, agent start, plan, apply; the controller's CPU per stage "
               "(in --json under profile)",
})


def helps(*names: str, **extra: str) -> dict[str, str]:
    return {**{n: HELP[n] for n in names}, **extra}


# ---------------------------------------------------------------------------- settings

def setting(c: Context, name: str, given: Any, default: Any) -> Any:
    """A setting's value: the flag, else ``MAINSAIL_<NAME>``, else ``mainsail.<name>`` in the
    project's invoke.yaml, else the project's ansible.cfg, else the default."""
    if given is not None:
        return given
    env = os.environ.get("MAINSAIL_" + name.upper())
    if env:
        return env
    configured = c.config.get("mainsail", {}).get(name)
    if configured is not None:
        return configured
    from_cfg = ansible_cfg(c).get(name)
    return default if from_cfg is None else from_cfg


ANSIBLE_CFG = "mainsail_ansible_cfg"  # where the command's ansible.cfg is kept once read


def ansible_cfg(c: Context) -> Any:
    """The project's ansible.cfg (mainsail/ansiblecfg.py), read once per command; its
    warnings printed then. BadInput when it turns host key checking off."""
    found = c.config.get(ANSIBLE_CFG)
    if found is None:
        from . import ansiblecfg
        from .api import find_root
        found = ansiblecfg.load(find_root(Path.cwd()))
        for text in found.warnings:
            warn(text)
        c.config[ANSIBLE_CFG] = found
    return found


def number(text: Any, flag: str, kind: type, minimum: float) -> Any:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise BadInput("%s %r is not a number" % (flag, text), where=CLI,
                       hint="e.g. %s %s" % (flag, "2.5" if kind is float else "10")) from None
    if value < minimum:
        raise BadInput("%s must be at least %g" % (flag, minimum), where=CLI,
                       hint="e.g. %s %s" % (flag, "2.5" if kind is float else "10"))
    return value


def split_list(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


# ---------------------------------------------------------------------------- extra vars

def parse_extra_vars(items: Iterable[str], base: Path) -> dict[str, Any]:
    """``-e``: ``k=v`` pairs (values read as YAML, so 8080 is a number), a YAML/JSON mapping,
    or ``@file.yml``; later ones win."""
    import yaml
    out: dict[str, Any] = {}
    for item in items:
        text = item.strip()
        if text.startswith("@"):
            out.update(_vars_file(text[1:], base))
        elif text.startswith("{"):
            out.update(_mapping(text, "-e %s" % text))
        else:
            for pair in _pairs(text):
                key, _, value = pair.partition("=")
                try:
                    out[key] = yaml.safe_load(value) if value else ""
                except yaml.YAMLError:
                    out[key] = value
    return out


def _pairs(text: str) -> list[str]:
    import shlex
    pairs = shlex.split(text)
    for pair in pairs:
        key, sep, _ = pair.partition("=")
        if not sep or not key.isidentifier():
            raise BadInput("-e %r is not NAME=VALUE, a YAML mapping or @FILE" % pair, where=CLI,
                           hint="e.g. -e http_port=8080, -e '{\"port\": 8080}' or "
                                "-e @vars.yml")
    return pairs


def _mapping(text: str, shown: str) -> dict[str, Any]:
    import yaml
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInput("%s is not valid YAML/JSON: %s" % (shown, str(exc).splitlines()[0]),
                       where=CLI, hint="quote it for the shell: -e '{\"port\": 8080}'") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise BadInput("%s is not a mapping of names to values" % shown, where=CLI,
                       hint="e.g. port: 8080")
    return data


def _vars_file(name: str, base: Path) -> dict[str, Any]:
    path = Path(name) if Path(name).is_absolute() else base / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput("-e @%s: %s" % (name, exc.strerror or exc), where=CLI,
                       hint="give a YAML or JSON file of name: value lines") from None
    return _mapping(text, "-e @%s" % name) if text.strip() else {}


# ---------------------------------------------------------------------------- hosts

def on_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:
        return False


def ask(prompt: str, flag: str) -> str:
    """A password from the terminal; without one, bad input naming what to do instead."""
    if not on_terminal():
        raise BadInput("%s needs a terminal to ask on" % flag, where=CLI,
                       hint="put the password in an encrypted vars file instead "
                            "(mainsail doc vault)")
    return getpass.getpass(prompt)


def with_overrides(inv: Inventory, user: str | None, become: bool,
                   become_password: str | None) -> Inventory:
    """The inventory with ``-u``, ``-b`` and ``-K`` applied to every host."""
    if not (user or become or become_password):
        return inv
    changes: dict[str, Any] = {}
    if user:
        changes["user"] = user
    if become:
        changes["become"] = True
    if become_password:
        changes["become_password"] = become_password
    hosts = {name: dataclasses.replace(h, **changes) for name, h in inv.hosts.items()}
    return dataclasses.replace(inv, hosts=MappingProxyType(hosts))


def log_protocol(verbose: int) -> None:
    """-vvv: the SSH transport's own debug log on stderr."""
    if verbose >= 3:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        for name in ("paramiko", "mainsail"):
            logging.getLogger(name).addHandler(handler)
            logging.getLogger(name).setLevel(logging.DEBUG)


def closest(name: str, known: Sequence[str]) -> str:
    found = difflib.get_close_matches(name, known, n=3)
    return ("did you mean %s?" % ", ".join(repr(f) for f in found)) if found else \
        "known: %s" % ", ".join(repr(k) for k in list(known)[:8])


def warn(text: str) -> None:
    print("warning: %s" % text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- parse errors

def command_line_error(exc: BaseException, binary: str) -> Exit:
    """A parse error as one line with a hint, exit 4 (Invoke's own would exit 1)."""
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    if isinstance(exc, ValueError):
        text = "a flag's value has the wrong type (%s)" % text
    return Exit(message="error: command line: %s (hint: %s --help TASK lists its flags; "
                        "%s --list lists the tasks)" % (text, binary, binary),
                code=EXIT_CODES["bad_input"])


def strict_parse(step: Callable[..., None], binary: str, *args: Any) -> None:
    try:
        step(*args)
    except (ParseError, ValueError) as exc:
        raise command_line_error(exc, binary) from None


def asked_for_help(words: Sequence[str]) -> str | None:
    """The task named before a -h/--help (``put -h`` is ``--help put``: help, even when the
    task's positional arguments are missing)."""
    words = list(words[:words.index("--")] if "--" in words else words)
    tasks = [w for w in words if not w.startswith("-")]
    if tasks and any(w in ("-h", "--help") for w in words[words.index(tasks[0]):]):
        return tasks[0]
    return None


def strict_tasks(parse_tasks: Callable[[], None], program: Program) -> None:
    """Program.parse_tasks with help first and parse errors as exit 4."""
    name = asked_for_help(program.core.unparsed)
    if name and name in program.collection.task_names:
        program.parser = program._make_parser()
        program.print_task_help(name)
        raise Exit
    strict_parse(parse_tasks, (program.binary or "mainsail").replace("[oke]", ""))


def strict_inv() -> None:
    """Give Invoke's own `inv` the same contract, for Mainsail's collection only: `inv` is
    Invoke's console script, so its Program is wrapped once, and only a run whose loaded
    collection carries the ``mainsail`` configuration parses strictly; any other collection
    keeps Invoke's behaviour."""
    original = Program.parse_tasks
    if getattr(original, "mainsail_strict", False):
        return

    def parse_tasks(self: Program) -> None:
        collection = getattr(self, "collection", None)
        if collection is None or "mainsail" not in collection.configuration():
            return original(self)
        return strict_tasks(lambda: original(self), self)

    parse_tasks.mainsail_strict = True  # type: ignore[attr-defined]
    Program.parse_tasks = parse_tasks  # type: ignore[method-assign]
