"""The Invoke collection: thin tasks that parse flags, call the engine and map errors to exits."""

from __future__ import annotations

import gc

# Loading the engine allocates many objects and frees none: the cycle collector's passes over
# them were about a seventh of the start-up's CPU. Off while loading; then what the imports
# made is frozen (gc.freeze), or the first full pass after them scans it all anyway. Import
# and the bench project's loading, median of 10: 388 ms of CPU as it was, 430 ms with the
# collector off alone, 357 ms with the freeze.
_GC_WAS_ON = gc.isenabled()
gc.disable()

import contextlib
import dataclasses
import functools
import importlib
import sys
from types import MappingProxyType
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from invoke import Collection, Context, Exit, task

from . import adhoc, flags, opdoc, preflight, vault
from .errors import EXIT_CODES, BadInput, MainsailError, with_reference
from .flags import command, helps
from .fleet import FleetResult, exit_code
from .ansiblecfg import with_host_defaults
from .inventory import (LOCALHOST, Host, Inventory, ansible_list, load_inventory,
                        names_localhost, select_hosts, with_implicit_localhost)
from .inventory_formats import is_host_list
from .playbook import load_playbook
from .report import (WOULD_RUN, Masker, Progress, RunRecord, make_console, recap, sanitize,
                     write_json, write_junit)
from .profile import Profile
from .profile import lines as profile_lines
from .runner import RunOptions, holder_identity, play_hosts, run_playbook
from .shard import in_shard, parse_shard
from .yamlio import display_path

gc.freeze()
if _GC_WAS_ON:
    gc.enable()

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_INVENTORY = "inventory/hosts.yml"


class _OnUse:
    """A module imported when first used: the testbed's code is not needed by most commands,
    and every command pays for what it imports at start-up."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name, __package__), attr)


tb: Any = _OnUse(".testbed")


def say(line: str) -> None:
    print(line, flush=True)


RUN_VAULT = "mainsail_run_vault"  # where clean_errors leaves the run's vault for the task


def clean_errors(fn: F) -> F:
    """Expected failures become one line and a documented exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(c: Context, *args: Any, **kwargs: Any) -> Any:
        # The run's vault: its password sources, and every value it decrypts.
        secrets = vault.Vault(kwargs.get("vault_password_file"),
                              lambda: configured_password_file(c))
        c.config[RUN_VAULT] = secrets
        try:
            if kwargs.get("ask_vault_pass"):
                secrets.keyring.password_file = None
                secrets.keyring._password = vault.Password(
                    flags.ask("Vault password: ", "--ask-vault-pass").encode("utf-8"),
                    "--ask-vault-pass")
            return fn(c, *args, **kwargs)
        except MainsailError as exc:
            # Last line of defence: whatever the message, no decrypted value is printed.
            masked = Masker().with_secrets(secrets.secrets())(str(with_reference(exc)))
            print("error: %s" % sanitize(masked), file=sys.stderr, flush=True)
            raise Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr, flush=True)
            raise Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


def project_root(start: Path | None = None) -> Path:
    """The project's folder: the nearest of the current folder and its parents that holds
    an invoke.yaml, a tasks.py or an inventory/ folder (like git and Invoke look up)."""
    from .api import find_root
    return find_root(start or Path.cwd())


def inventory_path(c: Context, inventory: str | None) -> Path | str:
    """The inventory to read: a path (relative to the project root), or a host list as
    given (``-i 'web1,web2,'``)."""
    given = str(flags.setting(c, "inventory", inventory, DEFAULT_INVENTORY))
    if is_host_list(given):
        return given
    return project_root() / given


def open_inventory(c: Context, inventory: str | None) -> Inventory:
    cfg = flags.ansible_cfg(c)  # first: it may refuse to run (host_key_checking = False)
    inv = with_host_defaults(load_inventory(inventory_path(c, inventory), secrets=run_vault(c)),
                             cfg)
    for text in inv.warnings:  # e.g. group_vars/wbe.yml names no group (did you mean web?)
        flags.warn(text)
    return inv


def configured_password_file(c: Context) -> str | None:
    """invoke.yaml's mainsail.vault_password_file, else ansible.cfg's vault_password_file."""
    configured = c.config.get("mainsail", {}).get("vault_password_file") or \
        flags.ansible_cfg(c).get("vault_password_file")
    return str(configured) if configured else None


def roles_path(c: Context) -> tuple[Path, ...]:
    """Folders searched for roles after the project's roles/: mainsail.roles_path in
    invoke.yaml (a list, or folders joined by ':'), else ansible.cfg's roles_path."""
    given = flags.setting(c, "roles_path", None, ())
    folders = given.split(":") if isinstance(given, str) else list(given)
    return tuple(project_root() / Path(f).expanduser() for f in folders if str(f).strip())


def run_vault(c: Context) -> vault.Vault:
    """The vault clean_errors made for this command (the password is asked only if an
    encrypted file is read)."""
    return c.config[RUN_VAULT]


# ---------------------------------------------------------------------------- testbed

def testbed_hosts(inv: Inventory) -> list[tb.TestbedHost]:
    default_known = inv.path.parent / "known_hosts"
    return [tb.host_from_vars(h.name, h.address, Path(h.known_hosts or default_known), h.vars,
                              h.loc, inv.path.parent / "host_vars")
            for h in inv.hosts.values()
            if h.connection == "ssh" and tb.is_testbed_address(h.address) and int(h.port) == 22]


@command(help={"clean": "start every host from the base image, forgetting its state",
            "inventory": "inventory file (default inventory/hosts.yml)"})
@clean_errors
def up(c: Context, clean: bool = False, inventory: str | None = None) -> None:
    """Start the testbed hosts of the inventory (build the base image on first use)."""
    started = time.monotonic()
    hosts = testbed_hosts(open_inventory(c, inventory))
    tb.up(tb.default_layout(project_root()), hosts, say, clean=clean)
    say("testbed up: %d hosts in %.1f s" % (len(hosts), time.monotonic() - started))


@command(help={"inventory": "inventory file (default inventory/hosts.yml)"})
@clean_errors
def down(c: Context, inventory: str | None = None) -> None:
    """Stop every testbed host; their writable layers are kept for the next up."""
    tb.down(tb.default_layout(project_root()), testbed_hosts(open_inventory(c, inventory)), say)


@command(help={"inventory": "inventory file (default inventory/hosts.yml)"})
@clean_errors
def status(c: Context, inventory: str | None = None) -> None:
    """Show each testbed host: address, state, init PID, disk used by its own layer."""
    rows = tb.status(tb.default_layout(project_root()), testbed_hosts(open_inventory(c, inventory)))
    say("%-8s %-12s %-9s %-8s %-24s %-8s %s" % ("host", "address", "release", "init", "state",
                                                "pid", "disk"))
    for r in rows:
        say("%-8s %-12s %-9s %-8s %-24s %-8s %s" % (r.name, r.address, r.release, r.init,
                                                    r.state, r.pid or "-", r.disk))


@command(help={"name": "the testbed host to reset", "inventory": "inventory file"})
@clean_errors
def reset(c: Context, name: str, inventory: str | None = None) -> None:
    """Throw away one host's state and start it fresh from the base image."""
    hosts = testbed_hosts(open_inventory(c, inventory))
    tb.reset(tb.default_layout(project_root()), tb.find_host(hosts, name), say)


@command(help={"name": "the testbed host to reboot", "inventory": "inventory file"})
@clean_errors
def reboot(c: Context, name: str, inventory: str | None = None) -> None:
    """Reboot one testbed host cleanly: services stop, and start again if enabled."""
    hosts = testbed_hosts(open_inventory(c, inventory))
    tb.reboot(tb.default_layout(project_root()), tb.find_host(hosts, name), say)


# ---------------------------------------------------------------------------- selection

def selected(c: Context, inventory: str | None, host: str | None, group: str | None,
             limit: str | None) -> list[Host]:
    return select_hosts(open_inventory(c, inventory), host=host, group=group, limit=limit)


@dataclass(frozen=True)
class Target:
    """The hosts a command works on, with -u/-b/-K applied, and how to reach them."""

    inv: Inventory
    hosts: list[Host]
    forks: int
    timeout: float


def target(c: Context, *, inventory: str | None, host: str | None = None,
           group: str | None = None, limit: str | None = None, user: str | None = None,
           become: bool = False, ask_become_pass: bool = False, forks: Any = None,
           timeout: Any = None, implicit_ok: bool = False) -> Target:
    """Every host-taking command's selection and connection flags, checked before anything
    connects (a bad number is bad input, exit 4). ``implicit_ok``: an empty inventory, or a
    limit naming localhost where the inventory does not, may still select the implicit
    localhost of a play (with_implicit)."""
    forks_n = flags.number(flags.setting(c, "forks", forks, 20), "--forks", int, 1)
    timeout_s = flags.number(flags.setting(c, "timeout", timeout, 10.0), "--timeout", float,
                             0.001)
    ask_become_pass = ask_become_pass or bool(flags.ansible_cfg(c).get("ask_become_pass"))
    password = flags.ask("BECOME password: ", "--ask-become-pass") if ask_become_pass else None
    inv = flags.with_overrides(open_inventory(c, inventory),
                               flags.setting(c, "user", user, None), become, password)
    try:
        chosen = select_hosts(inv, host=host, group=group, limit=limit)
    except BadInput:
        if not implicit_ok or host or group or not (not inv.hosts or names_localhost(limit)):
            raise
        chosen = []  # the plays may name the implicit localhost
    return Target(inv, chosen, forks_n, timeout_s)


def print_hosts(hosts: list[Host]) -> None:
    say("  hosts (%d):" % len(hosts))
    for h in hosts:
        say("    %s" % h.name)


SELECT = ("limit", "inventory", "host", "group")
REACH = ("user", "become", "ask_become_pass", "timeout", "forks", "verbose")


@command(name="ssh-config", help=helps(*SELECT, "user"))
@clean_errors
def ssh_config(c: Context, limit: str | None = None, inventory: str | None = None,
               user: str | None = None, host: str | None = None,
               group: str | None = None) -> None:
    """Print an OpenSSH client config for the inventory's hosts (ssh -F <(inv ssh-config))."""
    for h in target(c, inventory=inventory, host=host, group=group, limit=limit,
                    user=user).hosts:
        say(ssh_config_block(h))


def ssh_config_value(value: str, where: str) -> str:
    """One ssh_config argument: double-quoted when it has spaces (ssh_config has no escapes,
    so a value with a double quote cannot be written at all)."""
    if '"' in value or "\n" in value:
        raise BadInput("cannot write %r into an SSH config (it holds a quote or newline)"
                       % value, where, "rename the file or folder")
    return '"%s"' % value if any(c.isspace() or c == "#" for c in value) else value


def ssh_config_block(h: Host) -> str:
    where = "host %s" % h.name
    lines = ["Host %s" % h.name, "  HostName %s" % (h.address or h.name), "  Port %s" % h.port,
             "  User %s" % h.user]
    if h.ssh_key:
        lines += ["  IdentityFile %s" % ssh_config_value(str(Path(h.ssh_key).resolve()), where),
                  "  IdentitiesOnly yes"]
    known = [str(Path(h.known_hosts).resolve())] if h.known_hosts else []
    lines += ["  UserKnownHostsFile %s" % " ".join(ssh_config_value(k, where) for k in
                                                   known + ["~/.ssh/known_hosts"]),
              "  StrictHostKeyChecking yes", ""]
    return "\n".join(lines)


@command(help=helps(*SELECT, *REACH, "list_hosts"))
@clean_errors
def ping(c: Context, limit: str | None = None, inventory: str | None = None,
         user: str | None = None, become: bool = False, ask_become_pass: bool = False,
         timeout: float | None = None, forks: int | None = None, verbose: int = 0,
         list_hosts: bool = False, host: str | None = None, group: str | None = None) -> None:
    """Connect to each host (host key checked), start the agent, report the time it took."""
    flags.log_protocol(verbose)
    t = target(c, inventory=inventory, host=host, group=group, limit=limit, user=user,
               become=become, ask_become_pass=ask_become_pass, forks=forks, timeout=timeout)
    if list_hosts:
        return print_hosts(t.hosts)
    result = adhoc.ping(t.hosts, t.forks, t.timeout)
    for r in result.results:
        say("%-8s %s" % (r.host.name, r.value if r.ok else "UNREACHABLE " + r.error))
    finish(result)


def finish(result: FleetResult[Any]) -> None:
    """The exit code the hosts' outcomes mean (docs/commands.md), if not 0."""
    if result.exit_code:
        raise Exit(code=result.exit_code)


# ---------------------------------------------------------------------------- engine

ENGINE = (*SELECT, *REACH, "extra_vars", "var", "tags", "skip_tags", "check", "diff",
          "vault_password_file", "ask_vault_pass", "list_hosts", "list_tasks", "list_tags",
          "syntax_check", "start_at_task", "step", "playbook", "json", "junit", "lock_wait",
          "profile", "shard")
split_list = flags.split_list


def parse_vars(pairs: Sequence[str]) -> dict[str, Any]:
    """--var k=v (the old spelling of -e k=v): one pair each, the value read as YAML."""
    import yaml
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise BadInput("--var %r is not NAME=VALUE" % pair, where="command line",
                           hint="e.g. -e http_port=8080")
        try:
            out[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


@dataclass(frozen=True)
class EngineFlags:
    """What deploy and plan were asked, as given on the command line."""

    limit: str | None = None
    inventory: str | None = None
    host: str | None = None
    group: str | None = None
    user: str | None = None
    become: bool = False
    ask_become_pass: bool = False
    timeout: Any = None
    forks: Any = None
    verbose: int = 0
    extra_vars: tuple[str, ...] = ()
    var: tuple[str, ...] = ()
    tags: str | None = None
    skip_tags: str | None = None
    check: bool = False
    diff: bool = False
    list_hosts: bool = False
    list_tasks: bool = False
    list_tags: bool = False
    syntax_check: bool = False
    start_at_task: str | None = None
    step: bool = False
    playbook: str | None = None
    json: str | None = None
    junit: str | None = None
    lock_wait: Any = None
    profile: bool = False
    shard: str | None = None


def engine_flags(values: dict[str, Any]) -> EngineFlags:
    names = {f.name for f in dataclasses.fields(EngineFlags)}
    given = {k: v for k, v in values.items() if k in names}
    given["extra_vars"] = tuple(values.get("extra_vars") or ())
    given["var"] = tuple(values.get("var") or ())
    return EngineFlags(**given)


def engine_run(c: Context, f: EngineFlags, *, quiet_ok: bool) -> tuple[RunRecord, Masker] | None:
    """deploy and plan: flags checked, playbook loaded, then either a listing or an offline
    check (None: nothing ran), or the run and its report."""
    flags.log_protocol(f.verbose)
    profile = Profile() if f.profile else None  # counts the process's start-up as "start"
    root = project_root()
    t = target(c, inventory=f.inventory, host=f.host, group=f.group, limit=f.limit,
               user=f.user, become=f.become, ask_become_pass=f.ask_become_pass, forks=f.forks,
               timeout=f.timeout, implicit_ok=True)
    if f.shard:
        t = dataclasses.replace(t, hosts=in_shard(t.hosts, parse_shard(f.shard)))
    name = flags.setting(c, "playbook", f.playbook, "site")
    extra = {**parse_vars(f.var), **flags.parse_extra_vars(f.extra_vars, Path.cwd())}
    lock_wait = flags.number(f.lock_wait or 0, "--lock-wait", float, 0)
    plays = load_playbook(root, name, run_vault(c), roles_path=roles_path(c))
    t = with_implicit(t, plays, f)
    if f.start_at_task:
        plays = preflight.start_at_task(plays, f.start_at_task)
    listing = (preflight.list_hosts(t.inv, plays, t.hosts) if f.list_hosts else []) + \
        (preflight.list_tasks(plays, split_list(f.tags), split_list(f.skip_tags))
         if f.list_tasks else []) + \
        (preflight.list_tags(plays) if f.list_tags else [])
    if listing:
        say("playbook: %s" % name)
        for line in listing:
            say(line)
        return None
    show_lint(root, t.inv, plays, run_vault(c))
    if f.syntax_check:
        count = preflight.syntax_check(root, t.inv, plays, t.hosts, extra, split_list(f.tags),
                                       split_list(f.skip_tags), run_vault(c))
        say("playbook: %s: syntax ok (%d host plans rendered offline)" % (name, count))
        return None
    if f.step:
        if not flags.on_terminal():
            raise BadInput("--step needs a terminal to ask on", where=flags.CLI,
                           hint="use --tags/--skip-tags or --start-at-task to choose tasks")
        plays = preflight.step_through(plays, input)
    if f.shard and not any(play_hosts(t.inv, p, t.hosts) for p in plays):
        # A shard may hold none of the plays' hosts: nothing to do is a success for its job.
        say("shard %s: no host of the selection in this shard is in a play" % f.shard)
        record = RunRecord(playbook=name, check=f.check)
        record.ended = record.started
        if f.json:
            write_json(record, Path(f.json), Masker())
        return record, Masker()
    opts = RunOptions(check=f.check, diff=f.diff, tags=split_list(f.tags),
                      skip_tags=split_list(f.skip_tags), forks=t.forks, extra_vars=extra,
                      connect_timeout=t.timeout, lock_wait=lock_wait,
                      holder=holder_identity("deploy playbook=%s" % name), secrets=run_vault(c),
                      profile=profile)
    if profile:
        profile.lap("load")  # inventory, playbook, vault, command line
    console = make_console()
    masker = Masker().with_secrets(run_vault(c).secrets())  # the plans add theirs
    progress = Progress(console, masker, show_diff=f.diff, verbose=not quiet_ok,
                        level=f.verbose)
    with progress:
        record = run_playbook(root, t.inv, plays, t.hosts, opts, progress, playbook=name)
    with profile.stage("report") if profile else contextlib.nullcontext():
        recap(console, record, progress.mask)
    extra = {}
    if profile:
        extra["profile"] = profile.to_dict({name: [(progress.mask(s.task), s.elapsed)
                                                   for s in h.steps if s.status != "skipped"]
                                            for name, h in record.hosts.items()})
        for line in profile_lines(extra["profile"]):
            console.print(line, markup=False, highlight=False)
    if f.json:
        write_json(record, Path(f.json), progress.mask, extra)
    if f.junit:
        write_junit(record, Path(f.junit), progress.mask)
    return record, progress.mask


def with_implicit(t: Target, plays: Sequence[Any], f: EngineFlags) -> Target:
    """Ansible's implicit localhost, where a play names ``localhost`` and the inventory does
    not: the controller, run with this Python (selected unless the filters leave it out)."""
    inv = with_implicit_localhost(t.inv, [p.hosts for p in plays], sys.executable)
    chosen = list(t.hosts)
    if inv is not t.inv:
        if f.become:  # -b applies to it as to every host
            hosts = dict(inv.hosts)
            hosts[LOCALHOST] = dataclasses.replace(hosts[LOCALHOST], become=True)
            inv = dataclasses.replace(inv, hosts=MappingProxyType(hosts))
        try:
            chosen = [h for h in select_hosts(inv, host=f.host, group=f.group, limit=f.limit)
                      if h.name == LOCALHOST or h in t.hosts]  # the shard's choice kept
        except BadInput:
            chosen = []
    if not chosen and not f.shard:  # (a shard may hold none of the hosts)
        raise BadInput("the selection matches no hosts", f.limit or "",
                       "the filters are combined: a host must match all of them")
    return dataclasses.replace(t, inv=inv, hosts=chosen)


def show_lint(root: Path, inv: Inventory, plays: Sequence[Any], secrets: vault.Vault) -> None:
    """Warnings about the project's variables (mainsail/lint.py says how they are decided),
    once per run. They never stop it: a file the check cannot read is the run's to report."""
    from . import lint
    try:
        notes = lint.warnings(root, inv, plays, secrets)
    except (MainsailError, OSError):  # a file gone while read (under /proc, say)
        return
    for text in notes:
        flags.warn(text)


def run_exit_code(record: RunRecord) -> int:
    if record.aborted == "interrupted":
        print("interrupted", file=sys.stderr, flush=True)
    return exit_code({h.state for h in record.hosts.values()}, record.aborted)


@command(help=helps(*ENGINE))
@clean_errors
def deploy(c: Context, limit: str | None = None, inventory: str | None = None,
           extra_vars: list[str] | None = None, verbose: int = 0, tags: str | None = None,
           skip_tags: str | None = None, check: bool = False, diff: bool = False,
           forks: int | None = None, user: str | None = None, become: bool = False,
           ask_become_pass: bool = False, vault_password_file: str | None = None,
           ask_vault_pass: bool = False, timeout: float | None = None,
           list_hosts: bool = False, list_tasks: bool = False, list_tags: bool = False,
           syntax_check: bool = False, start_at_task: str | None = None, step: bool = False,
           playbook: str | None = None, json: str | None = None, junit: str | None = None,
           lock_wait: float | None = None, host: str | None = None, group: str | None = None,
           var: list[str] | None = None, profile: bool = False,
           shard: str | None = None) -> None:
    """Apply a playbook (default: site) to the selected hosts; only what differs changes."""
    done = engine_run(c, engine_flags(locals()), quiet_ok=False)
    if done is not None:
        code = run_exit_code(done[0])
        if code:
            raise Exit(code=code)


@command(help=helps(*(n for n in ENGINE if n != "lock_wait"),
                    diff="show diffs (default on; --no-diff to hide them)"))
@clean_errors
def plan(c: Context, limit: str | None = None, inventory: str | None = None,
         extra_vars: list[str] | None = None, verbose: int = 0, tags: str | None = None,
         skip_tags: str | None = None, check: bool = True, diff: bool = True,
         forks: int | None = None, user: str | None = None, become: bool = False,
         ask_become_pass: bool = False, vault_password_file: str | None = None,
         ask_vault_pass: bool = False, timeout: float | None = None,
         list_hosts: bool = False, list_tasks: bool = False, list_tags: bool = False,
         syntax_check: bool = False, start_at_task: str | None = None, step: bool = False,
         playbook: str | None = None, json: str | None = None, junit: str | None = None,
         host: str | None = None, group: str | None = None,
         var: list[str] | None = None, profile: bool = False,
         shard: str | None = None) -> None:
    """Show what a deploy would change, changing nothing; exit 8 when anything would change."""
    values = {**locals(), "check": True}
    done = engine_run(c, engine_flags(values), quiet_ok=True)
    if done is None:
        return
    record, mask = done
    for h in record.hosts.values():
        todo = [mask(s.task) for s in h.steps if s.status == "changed"]
        handlers = [mask(s.task) for s in h.steps if s.status == WOULD_RUN]
        say("%s: %s%s" % (h.name, "%d to change: %s" % (len(todo), "; ".join(todo)) if todo
                           else "no changes",
                           "; handlers that would run: %s" % "; ".join(handlers)
                           if handlers else ""))
    code = run_exit_code(record)
    if code:
        raise Exit(code=code)
    if record.changed:
        raise Exit(code=EXIT_CODES["plan_changes"])


# ---------------------------------------------------------------------------- ad hoc

def remainder_command() -> str:
    """The words after `--`, joined with spaces the way ssh joins them for the remote shell."""
    argv = sys.argv
    return " ".join(argv[argv.index("--") + 1:]) if "--" in argv else ""


def prefixed(name: str, text: str) -> str:
    """A host's output, a line at a time behind its name; control characters shown escaped."""
    return "".join("%-8s | %s\n" % (name, line) for line in sanitize(text).splitlines())


@command(help=helps(*SELECT, *REACH, "check", "diff", "extra_vars", "list_hosts", "json",
                    "junit", "vault_password_file", "ask_vault_pass", "profile", "shard",
                    cmd="the command (or put it after --)",
                    module="run this operation through the agent instead of a shell command "
                           "(apt, copy, service, ...: mainsail doc operations)",
                    args="the operation's arguments: k=v k2='v 2', or a YAML/JSON mapping"))
@clean_errors
def run(c: Context, limit: str | None = None, inventory: str | None = None,
        user: str | None = None, become: bool = False, ask_become_pass: bool = False,
        timeout: float | None = None, forks: int | None = None, verbose: int = 0,
        check: bool = False, diff: bool = False, extra_vars: list[str] | None = None,
        list_hosts: bool = False, cmd: str | None = None, module: str | None = None,
        args: str | None = None, json: str | None = None, junit: str | None = None,
        vault_password_file: str | None = None, ask_vault_pass: bool = False,
        host: str | None = None, group: str | None = None, profile: bool = False,
        shard: str | None = None) -> None:
    """Run a shell command on the selected hosts in parallel: mainsail run -l 'web*' -- uptime;
    or one operation through the agent: mainsail run -l web1 -m apt -a 'name=tree'."""
    flags.log_protocol(verbose)
    timings = Profile() if profile else None
    command_text = cmd or remainder_command()
    if module:
        if command_text.strip():
            raise BadInput("-m %s and a shell command were both given" % module, where=flags.CLI,
                           hint="give the command as the operation's arguments: "
                                "-m shell -a %s" % adhoc.shlex.quote(command_text))
        return run_operation(c, module, args, engine_flags(locals()))
    for flag, given in (("-a", args), ("-e", extra_vars), ("--json", json), ("--junit", junit),
                        ("-D", diff)):
        if given:
            raise BadInput("%s applies to operations (-m OP), not to a shell command" % flag,
                           where=flags.CLI, hint="mainsail run -m shell -a 'CMD' %s ..." % flag)
    if not command_text.strip():
        raise BadInput("no command given", where="command line",
                       hint="mainsail run -l web1 -- uptime, or -m OP -a ARGS")
    t = target(c, inventory=inventory, host=host, group=group, limit=limit, user=user,
               become=become, ask_become_pass=ask_become_pass, forks=forks, timeout=timeout)
    if shard:
        t = dataclasses.replace(t, hosts=in_shard(t.hosts, parse_shard(shard)))
    if list_hosts or check:
        say("would run: %s" % command_text if check else "command: %s" % command_text)
        return print_hosts(t.hosts)
    if verbose:
        say("running on %d hosts: %s" % (len(t.hosts), command_text))
    if timings:
        timings.lap("load")
    with timings.stage("apply") if timings else contextlib.nullcontext():
        result = adhoc.run(t.hosts, command_text, t.forks, t.timeout, become=become,
                           profile=timings)
    for r in result.results:
        code, out, err = r.value if r.value is not None else (-1, "", r.error)
        sys.stdout.write(prefixed(r.host.name, out))
        sys.stderr.write(prefixed(r.host.name, err))
        say("%-8s = %s" % (r.host.name, "UNREACHABLE" if code < 0 else "exit %d" % code))
    for line in profile_lines(timings.to_dict()) if timings else ():
        say(line)
    finish(result)


def run_operation(c: Context, module: str, args: str | None, f: EngineFlags) -> None:
    """`run -m OP -a ARGS`: a one-task play, run like `deploy` (check, diff, become, -e,
    reports), then each host's outcome with the operation's return values, as `ansible -m`
    shows them."""
    import json as jsonlib
    flags.log_protocol(f.verbose)
    t = target(c, inventory=f.inventory, host=f.host, group=f.group, limit=f.limit,
               user=f.user, become=f.become, ask_become_pass=f.ask_become_pass, forks=f.forks,
               timeout=f.timeout)
    play = adhoc.operation_play(project_root(), module, args, f.become, run_vault(c))
    if f.list_hosts:
        say("operation: %s" % play.tasks[0].name)
        return print_hosts(t.hosts)
    extra = flags.parse_extra_vars(f.extra_vars, Path.cwd())
    opts = RunOptions(check=f.check, diff=f.diff, forks=t.forks, extra_vars=extra,
                      connect_timeout=t.timeout,
                      holder=holder_identity("run -m %s" % module), secrets=run_vault(c))
    console = make_console()
    progress = Progress(console, Masker().with_secrets(run_vault(c).secrets()),
                        show_diff=f.diff, verbose=True, level=f.verbose)
    with progress:
        record = run_playbook(project_root(), t.inv, [play], t.hosts, opts, progress,
                              playbook="ad hoc")
    for h in record.hosts.values():
        for s in h.steps:
            shown = {"status": s.status, "msg": s.msg, "rc": s.rc, "stdout": s.stdout,
                     "stderr": s.stderr, **s.data}
            shown = {k: v for k, v in shown.items() if v not in ("", None)}
            say("%s | %s => %s" % (h.name, s.status.upper(),
                                   sanitize(progress.mask(jsonlib.dumps(shown, indent=2,
                                                                        default=str)))))
    if f.json:
        write_json(record, Path(f.json), progress.mask)
    if f.junit:
        write_junit(record, Path(f.junit), progress.mask)
    code = run_exit_code(record)
    if code:
        raise Exit(code=code)


@command(help=helps(*SELECT, *REACH, "check", "diff", "list_hosts",
                    local="local file", remote="path on the hosts (a folder ending in / keeps "
                    "the file's name)"))
@clean_errors
def put(c: Context, local: str, remote: str, limit: str | None = None,
        inventory: str | None = None, user: str | None = None, become: bool = False,
        ask_become_pass: bool = False, timeout: float | None = None, forks: int | None = None,
        verbose: int = 0, check: bool = False, diff: bool = False, list_hosts: bool = False,
        host: str | None = None, group: str | None = None) -> None:
    """Copy a file to the hosts atomically; hosts with the same content are left alone."""
    flags.log_protocol(verbose)
    path = Path(local)
    if not path.is_file():
        raise BadInput("no such local file: %s" % local, where="command line")
    if remote.endswith("/"):
        remote += path.name
    t = target(c, inventory=inventory, host=host, group=group, limit=limit, user=user,
               become=become, ask_become_pass=ask_become_pass, forks=forks, timeout=timeout)
    if list_hosts:
        return print_hosts(t.hosts)
    result = adhoc.put(t.hosts, path.read_bytes(), remote, t.forks, t.timeout, check=check,
                       diff=diff)
    for r in result.results:
        status, msg, changes = r.value if r.value is not None else (r.state, r.error, "")
        say("%-8s %-11s %s %s" % (r.host.name, status, remote, msg))
        if changes:
            sys.stdout.write(prefixed(r.host.name, changes))
    finish(result)


@command(help=helps(*SELECT, *REACH, "list_hosts", remote="path on the hosts",
                    local_dir="local folder; each host's copy lands in LOCAL_DIR/<host>/<name>"))
@clean_errors
def get(c: Context, remote: str, local_dir: str, limit: str | None = None,
        inventory: str | None = None, user: str | None = None, become: bool = False,
        ask_become_pass: bool = False, timeout: float | None = None, forks: int | None = None,
        verbose: int = 0, list_hosts: bool = False, host: str | None = None,
        group: str | None = None) -> None:
    """Fetch a file from the hosts into LOCAL_DIR/<host>/<name>."""
    flags.log_protocol(verbose)
    t = target(c, inventory=inventory, host=host, group=group, limit=limit, user=user,
               become=become, ask_become_pass=ask_become_pass, forks=forks, timeout=timeout)
    if list_hosts:
        return print_hosts(t.hosts)
    result = adhoc.get(t.hosts, remote, Path(local_dir), t.forks, t.timeout)
    for r in result.results:
        say("%-8s %s" % (r.host.name, "-> %s" % r.value if r.ok else
                         "%s %s" % (r.state.upper(), r.error)))
    finish(result)


@command(help=helps(*SELECT, *REACH, "list_hosts",
                    filter="only facts whose name matches this shell pattern, as Ansible's "
                           "setup filter: 'ansible_distribution*', 'os*' (also matched with "
                           "ansible_ in front); comma separated or repeated"),
         iterable=["filter"])
@clean_errors
def facts(c: Context, limit: str | None = None, inventory: str | None = None,
          user: str | None = None, become: bool = False, ask_become_pass: bool = False,
          timeout: float | None = None, forks: int | None = None, verbose: int = 0,
          list_hosts: bool = False, filter: list[str] | None = None, host: str | None = None,
          group: str | None = None) -> None:
    """Print the facts each host reports (as JSON), as templates see them in `facts`;
    --filter picks facts by name, Ansible's names (ansible_distribution, ...) included."""
    import json as jsonlib
    flags.log_protocol(verbose)
    patterns = [p for given in filter or () for p in split_list(given)]
    t = target(c, inventory=inventory, host=host, group=group, limit=limit, user=user,
               become=become, ask_become_pass=ask_become_pass, forks=forks, timeout=timeout)
    if list_hosts:
        return print_hosts(t.hosts)
    result = adhoc.facts(t.hosts, t.forks, t.timeout)
    for r in result.results:
        if not r.ok:
            print("error: %s" % r.error, file=sys.stderr)
    shown = {r.host.name: adhoc.filter_facts(r.value, patterns)
             for r in result.results if r.ok}
    if patterns and shown and not any(shown.values()):
        flags.warn("--filter %s matched no fact (mainsail facts --filter 'ansible_*' lists "
                   "Ansible's names)" % ",".join(patterns))
    say(jsonlib.dumps(shown, indent=2, sort_keys=True))
    finish(result)


@command(help=helps(*SELECT, "user", "become", "list_hosts", "verbose",
                    json="print the inventory as JSON in ansible-inventory --list's shape"))
@clean_errors
def hosts(c: Context, limit: str | None = None, inventory: str | None = None,
          user: str | None = None, become: bool = False, list_hosts: bool = False,
          verbose: int = 0, host: str | None = None, group: str | None = None,
          json: bool = False) -> None:
    """Show the inventory as resolved: each host's groups and each var with where it came from."""
    t = target(c, inventory=inventory, host=host, group=group, limit=limit, user=user,
               become=become)
    if list_hosts:
        return print_hosts(t.hosts)
    if json:
        import json as jsonlib
        say(jsonlib.dumps(ansible_list(t.inv, t.hosts), indent=2, default=str))
        return
    for h in t.hosts:
        say("%s  (%s@%s:%s, groups: %s%s)" % (h.name, h.user, h.address, h.port,
                                              ", ".join(h.groups),
                                              ", become" if h.become else ""))
        for key in sorted(h.vars):
            say("    %-24s = %-30s  # %s" % (key, short_repr(h.vars[key]),
                                             h.var_sources.get(key, "?")))


def verify_needs() -> None:
    """verify runs pytest with testinfra: an extra, named when missing."""
    import importlib.util
    missing = [name for name, module in (("pytest", "pytest"), ("pytest-testinfra", "testinfra"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise MainsailError("mainsail verify needs %s, which is not installed"
                            % " and ".join(missing), where="verify",
                            hint="pip install 'mainsail[verify]' (in the same environment)")


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@command(help=helps(*SELECT, "user", "forks", "verbose", "list_hosts", "playbook",
                    "vault_password_file", "ask_vault_pass",
                    playbook="playbook whose roles are checked (default: site)"))
@clean_errors
def verify(c: Context, limit: str | None = None, inventory: str | None = None,
           user: str | None = None, forks: int | None = None, verbose: int = 0,
           list_hosts: bool = False, playbook: str | None = None,
           vault_password_file: str | None = None, ask_vault_pass: bool = False,
           host: str | None = None, group: str | None = None) -> None:
    """Run each role's testinfra checks against the hosts it is applied to (host keys checked)."""
    t = target(c, inventory=inventory, host=host, group=group, limit=limit, user=user,
               forks=forks)
    if list_hosts:
        return print_hosts(t.hosts)
    verify_needs()
    from .verify import verify as run_verify
    plays = load_playbook(project_root(), flags.setting(c, "playbook", playbook, "site"),
                          run_vault(c), roles_path=roles_path(c))
    finish(run_verify(project_root(), t.inv, plays, t.hosts, say, t.forks, t.timeout))


# ---------------------------------------------------------------------------- vault

VAULT_HELP = {"file": "the variables file",
              "vault_password_file": "file holding the vault password (else "
                                     "MAINSAIL_VAULT_PASSWORD_FILE, MAINSAIL_VAULT_PASSWORD, "
                                     "mainsail.vault_password_file, a prompt)"}


def check_yaml(shown: str) -> Callable[[str], None]:
    """A YAML syntax check for plaintext about to be encrypted (errors quote no values)."""
    from .yamlio import load_yaml_text

    def check(text: str) -> None:
        load_yaml_text(text, shown)

    return check


@command(name="encrypt", help=VAULT_HELP)
@clean_errors
def vault_encrypt(c: Context, file: str, vault_password_file: str | None = None) -> None:
    """Encrypt a variables file in place (scrypt key, AES-256-GCM)."""
    vault.encrypt_file(Path(file), file, run_vault(c), check_yaml(file))
    say("encrypted %s" % file)


@command(name="decrypt", help=VAULT_HELP)
@clean_errors
def vault_decrypt(c: Context, file: str, vault_password_file: str | None = None) -> None:
    """Replace an encrypted file by its plaintext (to stop encrypting it)."""
    vault.decrypt_file(Path(file), file, run_vault(c))
    say("decrypted %s" % file)


@command(name="view", help=VAULT_HELP)
@clean_errors
def vault_view(c: Context, file: str, vault_password_file: str | None = None) -> None:
    """Print the plaintext of an encrypted file; nothing is written to disk."""
    sys.stdout.write(vault.view_file(Path(file), file, run_vault(c)))
    sys.stdout.flush()


@command(name="edit", help=VAULT_HELP)
@clean_errors
def vault_edit(c: Context, file: str, vault_password_file: str | None = None) -> None:
    """Edit an encrypted file with $EDITOR (a missing file is created encrypted)."""
    after = vault.edit_file(Path(file), file, vault.editor_command(), run_vault(c))
    if after is None:
        say("%s unchanged" % file)
        return
    say("encrypted %s" % file)
    try:
        check_yaml(file)(after)
    except BadInput as exc:  # saved anyway: throwing the edits away would be worse
        print("warning: %s (run inv vault.edit %s to fix it)" % (exc, file), file=sys.stderr)


@command(name="import", help=VAULT_HELP)
@clean_errors
def vault_import(c: Context, file: str, vault_password_file: str | None = None) -> None:
    """Re-encrypt an Ansible Vault file in Mainsail's format, with the same password."""
    vault.import_file(Path(file), file, run_vault(c), check_yaml(file))
    say("imported %s (now in Mainsail's vault format)" % file)


@command(name="rekey", iterable=["file"], help={
    "file": "a vault file to rekey (repeatable; default: every vault file in the project)",
    "vault_password_file": "file holding the current vault password",
    "new_vault_password_file": "file holding the new password (else typed twice)"})
@clean_errors
def vault_rekey(c: Context, file: list[str] | None = None,
                vault_password_file: str | None = None,
                new_vault_password_file: str | None = None) -> None:
    """Change the password of the project's vault files: all of them or none."""
    root = project_root()
    paths = [Path(f) for f in file] if file else vault.project_vault_files(root)
    if not paths:
        raise BadInput("no vault files to rekey", str(root),
                       "inv vault.encrypt FILE makes one; --file FILE names one")
    shown = [(p, f if file else display_path(p, root)) for p, f in
             zip(paths, file or [str(p) for p in paths])]
    vault.rekey_files(shown, run_vault(c), vault.new_password(new_vault_password_file))
    for _, name in shown:
        say("rekeyed %s" % name)


@command(help=helps(*SELECT, *REACH, "list_hosts", "lock_wait", "vault_password_file",
                    "ask_vault_pass", release="switch each release of the playbook back to "
                    "the one before it, instead of restoring the last run's journal",
                    playbook="playbook whose releases --release switches (default: site)"))
@clean_errors
def rollback(c: Context, limit: str | None = None, inventory: str | None = None,
             user: str | None = None, become: bool = False, ask_become_pass: bool = False,
             timeout: float | None = None, forks: int | None = None, verbose: int = 0,
             list_hosts: bool = False, release: bool = False, playbook: str | None = None,
             lock_wait: float | None = None, vault_password_file: str | None = None,
             ask_vault_pass: bool = False, host: str | None = None,
             group: str | None = None) -> None:
    """Undo the last run on the hosts (files restored, handlers rerun), or --release."""
    from .rollback import roll_back
    flags.log_protocol(verbose)
    t = target(c, inventory=inventory, host=host, group=group, limit=limit, user=user,
               become=become, ask_become_pass=ask_become_pass, forks=forks, timeout=timeout)
    if list_hosts:
        return print_hosts(t.hosts)
    name = flags.setting(c, "playbook", playbook, "site")
    plays = load_playbook(project_root(), name, run_vault(c), roles_path=roles_path(c)) \
        if release else []
    opts = RunOptions(lock_wait=flags.number(lock_wait or 0, "--lock-wait", float, 0),
                      holder=holder_identity("rollback"), secrets=run_vault(c),
                      forks=t.forks, connect_timeout=t.timeout)
    finish(roll_back(project_root(), t.inv, plays, t.hosts, release, opts, say))


@command(help={"directory": "the new project's folder (missing or empty)"})
@clean_errors
def init(c: Context, directory: str) -> None:
    """Lay out a new project: inventory, settings, a role, a playbook, .gitignore, CI check."""
    from .scaffold import init as lay_out
    target = Path(directory)
    written = lay_out(target)
    say("created %s: %d files" % (target, len(written)))
    say("next: cd %s && mainsail hosts && mainsail plan && mainsail deploy" % directory)


testbed = Collection("testbed", up, down, status, reset, reboot)
vault_tasks = Collection("vault", vault_encrypt, vault_decrypt, vault_view, vault_edit,
                         vault_import, vault_rekey)
@command(help={"topic": "a documentation page (commands, inventory, playbooks, vault, "
                         "reports, api, ...) or an operation (cron, ansible.builtin.copy)"})
@clean_errors
def doc(c: Context, topic: str) -> None:
    """Print a documentation page, or an operation's reference like ansible-doc.

    `mainsail doc commands` prints the commands page; `mainsail doc copy` the copy operation's
    arguments and examples (the whole reference: `mainsail doc operations`)."""
    from . import docpages
    text = docpages.page(topic)
    if text is None:
        try:
            text = opdoc.reference(topic)
        except BadInput as exc:
            raise BadInput("no page or operation named %r" % topic, "mainsail doc",
                           "%s; pages: %s" % (exc.hint, ", ".join(docpages.topics()))) from None
    sys.stdout.write(text)


@command(name="merge", positional=["reports"], help={
    "reports": "the shard jobs' JSON reports: files or globs, comma separated "
               "('reports/shard-*.json')",
    "json": "write the merged report to this file"})
@clean_errors
def report_merge(c: Context, reports: str | None = None, json: str | None = None) -> None:
    """Merge the JSON reports of a sharded run into one; exit as the merged run would (docs/ci.md)."""
    import glob
    import json as jsonlib
    from . import reportmerge
    names = [n for part in split_list(reports) for n in (sorted(glob.glob(part)) or [part])]
    data = reportmerge.merge_files([Path(n) for n in names])
    text = jsonlib.dumps(data, indent=2) + "\n"
    if json:
        Path(json).parent.mkdir(parents=True, exist_ok=True)
        Path(json).write_text(text)
    else:
        sys.stdout.write(text)
    states = [h.get("state", "ok") for h in data["hosts"].values()]
    print("merged %d reports: %d hosts (%s)" % (
        len(names), len(states), ", ".join("%s %d" % (s, states.count(s))
                                           for s in sorted(set(states))) or "none"),
          file=sys.stdout if json else sys.stderr, flush=True)
    code = exit_code(states, data["aborted"])
    if code:
        raise Exit(code=code)


report_tasks = Collection("report", report_merge)
ns = Collection(init, doc, deploy, plan, rollback, run, put, get, ping, facts, hosts, verify,
                ssh_config, testbed, vault_tasks, report_tasks)
# The defaults live in flags.setting's callers, so that ansible.cfg can come before them.
ns.configure({"mainsail": {}})
flags.strict_inv()
