"""The Invoke collection: thin tasks that parse flags, call the engine and map errors to exits."""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from invoke import Collection, Context, Exit, task

from . import testbed as tb
from . import adhoc, opdoc, vault
from .errors import EXIT_CODES, BadInput, MainsailError, with_reference
from .fleet import FleetResult, exit_code
from .inventory import Host, Inventory, load_inventory, select_hosts
from .playbook import load_playbook
from .report import (Masker, Progress, RunRecord, make_console, recap, sanitize, write_json,
                     write_junit)
from .runner import RunOptions, holder_identity, run_playbook

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_INVENTORY = "inventory/hosts.yml"


def say(line: str) -> None:
    print(line, flush=True)


RUN_VAULT = "mainsail_run_vault"  # where clean_errors leaves the run's vault for the task


def clean_errors(fn: F) -> F:
    """Expected failures become one line and a documented exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(c: Context, *args: Any, **kwargs: Any) -> Any:
        # The run's vault: its password sources, and every value it decrypts.
        secrets = vault.Vault(kwargs.get("vault_password_file"), configured_password_file(c))
        c.config[RUN_VAULT] = secrets
        try:
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


def project_root() -> Path:
    return Path.cwd()


def inventory_path(c: Context, inventory: str | None) -> Path:
    configured = c.config.get("mainsail", {}).get("inventory", DEFAULT_INVENTORY)
    return project_root() / (inventory or configured)


def open_inventory(c: Context, inventory: str | None) -> Inventory:
    return load_inventory(inventory_path(c, inventory), secrets=run_vault(c))


def configured_password_file(c: Context) -> str | None:
    configured = c.config.get("mainsail", {}).get("vault_password_file")
    return str(configured) if configured else None


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


@task(help={"clean": "start every host from the base image, forgetting its state",
            "inventory": "inventory file (default inventory/hosts.yml)"})
@clean_errors
def up(c: Context, clean: bool = False, inventory: str | None = None) -> None:
    """Start the testbed hosts of the inventory (build the base image on first use)."""
    started = time.monotonic()
    hosts = testbed_hosts(open_inventory(c, inventory))
    tb.up(tb.default_layout(project_root()), hosts, say, clean=clean)
    say("testbed up: %d hosts in %.1f s" % (len(hosts), time.monotonic() - started))


@task(help={"inventory": "inventory file (default inventory/hosts.yml)"})
@clean_errors
def down(c: Context, inventory: str | None = None) -> None:
    """Stop every testbed host; their writable layers are kept for the next up."""
    tb.down(tb.default_layout(project_root()), testbed_hosts(open_inventory(c, inventory)), say)


@task(help={"inventory": "inventory file (default inventory/hosts.yml)"})
@clean_errors
def status(c: Context, inventory: str | None = None) -> None:
    """Show each testbed host: address, state, init PID, disk used by its own layer."""
    rows = tb.status(tb.default_layout(project_root()), testbed_hosts(open_inventory(c, inventory)))
    say("%-8s %-12s %-9s %-8s %-24s %-8s %s" % ("host", "address", "release", "init", "state",
                                                "pid", "disk"))
    for r in rows:
        say("%-8s %-12s %-9s %-8s %-24s %-8s %s" % (r.name, r.address, r.release, r.init,
                                                    r.state, r.pid or "-", r.disk))


@task(help={"name": "the testbed host to reset", "inventory": "inventory file"})
@clean_errors
def reset(c: Context, name: str, inventory: str | None = None) -> None:
    """Throw away one host's state and start it fresh from the base image."""
    hosts = testbed_hosts(open_inventory(c, inventory))
    tb.reset(tb.default_layout(project_root()), tb.find_host(hosts, name), say)


@task(help={"name": "the testbed host to reboot", "inventory": "inventory file"})
@clean_errors
def reboot(c: Context, name: str, inventory: str | None = None) -> None:
    """Reboot one testbed host cleanly: services stop, and start again if enabled."""
    hosts = testbed_hosts(open_inventory(c, inventory))
    tb.reboot(tb.default_layout(project_root()), tb.find_host(hosts, name), say)


# ---------------------------------------------------------------------------- ad hoc

def selected(c: Context, inventory: str | None, host: str | None, group: str | None,
             limit: str | None) -> list[Host]:
    return select_hosts(open_inventory(c, inventory), host=host, group=group, limit=limit)


SELECT_HELP = {"host": "host names or globs, comma separated (web1, 'web*')",
               "group": "group names, comma separated",
               "limit": "Ansible-style pattern: web:&prod, all:!mail1",
               "inventory": "inventory file (default inventory/hosts.yml)"}


@task(name="ssh-config", help=SELECT_HELP)
@clean_errors
def ssh_config(c: Context, host: str | None = None, group: str | None = None,
               limit: str | None = None, inventory: str | None = None) -> None:
    """Print an OpenSSH client config for the inventory's hosts (ssh -F <(inv ssh-config))."""
    for h in selected(c, inventory, host, group, limit):
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


@task(help=SELECT_HELP)
@clean_errors
def ping(c: Context, host: str | None = None, group: str | None = None,
         limit: str | None = None, inventory: str | None = None) -> None:
    """Connect to each host (host key checked), start the agent, report the time it took."""
    result = adhoc.ping(selected(c, inventory, host, group, limit))
    for r in result.results:
        say("%-8s %s" % (r.host.name, r.value if r.ok else "UNREACHABLE " + r.error))
    finish(result)


def finish(result: FleetResult[Any]) -> None:
    """The exit code the hosts' outcomes mean (docs/commands.md), if not 0."""
    if result.exit_code:
        raise Exit(code=result.exit_code)


# ---------------------------------------------------------------------------- engine

RUN_HELP = {**SELECT_HELP,
            "playbook": "playbook name in playbooks/ (default: site)",
            "check": "change nothing; report what would change",
            "diff": "show unified diffs of what changes (secrets masked)",
            "tags": "only tasks with these tags (comma separated)",
            "skip_tags": "skip tasks with these tags (comma separated)",
            "forks": "hosts worked on in parallel (default 20)",
            "var": "extra variable k=v (YAML value), highest precedence; repeatable",
            "json": "write the run report as JSON to this file",
            "junit": "write a JUnit XML report to this file",
            "timeout": "SSH connect timeout in seconds (default 10)",
            "lock_wait": "seconds to wait for another run's lock on a host (default 0: "
                         "fail at once, exit 5)",
            "vault_password_file": "file holding the vault password (see docs/vault.md)"}


def split_list(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def parse_vars(pairs: list[str]) -> dict[str, Any]:
    """--var k=v: the value is read as YAML, so numbers and booleans keep their type."""
    import yaml
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise BadInput("--var %r is not NAME=VALUE" % pair, where="command line",
                           hint="e.g. --var http_port=8080")
        try:
            out[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def engine_run(c: Context, *, check: bool, diff: bool, host: str | None, group: str | None,
               limit: str | None, playbook: str | None, tags: str | None,
               skip_tags: str | None, forks: int, var: list[str], inventory: str | None,
               json: str | None, junit: str | None, quiet_ok: bool,
               timeout: int = 10, lock_wait: int = 0) -> tuple[RunRecord, Masker]:
    root = project_root()
    inv = open_inventory(c, inventory)
    chosen = select_hosts(inv, host=host, group=group, limit=limit)
    name = playbook or c.config.get("mainsail", {}).get("playbook", "site")
    plays = load_playbook(root, name, run_vault(c))
    if forks < 1:
        raise BadInput("--forks must be at least 1", where="command line",
                       hint="--forks 20 works on 20 hosts at a time")
    opts = RunOptions(check=check, diff=diff, tags=split_list(tags),
                      skip_tags=split_list(skip_tags), forks=forks, extra_vars=parse_vars(var),
                      connect_timeout=float(timeout), lock_wait=float(lock_wait),
                      holder=holder_identity("deploy playbook=%s" % name), secrets=run_vault(c))
    console = make_console()
    masker = Masker().with_secrets(run_vault(c).secrets())  # the plans add theirs
    progress = Progress(console, masker, show_diff=diff, verbose=not quiet_ok)
    with progress:
        record = run_playbook(root, inv, plays, chosen, opts, progress, playbook=name)
    recap(console, record, progress.mask)
    if json:
        write_json(record, Path(json), progress.mask)
    if junit:
        write_junit(record, Path(junit), progress.mask)
    return record, progress.mask


def run_exit_code(record: RunRecord) -> int:
    if record.aborted == "interrupted":
        print("interrupted", file=sys.stderr, flush=True)
    return exit_code({h.state for h in record.hosts.values()}, record.aborted)


@task(help=RUN_HELP, iterable=["var"])
@clean_errors
def deploy(c: Context, host: str | None = None, group: str | None = None,
           limit: str | None = None, playbook: str | None = None, check: bool = False,
           diff: bool = False, tags: str | None = None, skip_tags: str | None = None,
           forks: int = 20, var: list[str] | None = None, inventory: str | None = None,
           json: str | None = None, junit: str | None = None, timeout: int = 10,
           lock_wait: int = 0, vault_password_file: str | None = None) -> None:
    """Apply a playbook (default: site) to the selected hosts; only what differs changes."""
    record, _ = engine_run(c, check=check, diff=diff, host=host, group=group, limit=limit,
                           playbook=playbook, tags=tags, skip_tags=skip_tags, forks=forks,
                           var=var or [], inventory=inventory, json=json, junit=junit,
                           quiet_ok=False, timeout=timeout, lock_wait=lock_wait)
    code = run_exit_code(record)
    if code:
        raise Exit(code=code)


@task(help={k: v for k, v in RUN_HELP.items() if k not in ("check", "lock_wait")},
      iterable=["var"])
@clean_errors
def plan(c: Context, host: str | None = None, group: str | None = None,
         limit: str | None = None, playbook: str | None = None, diff: bool = True,
         tags: str | None = None, skip_tags: str | None = None, forks: int = 20,
         var: list[str] | None = None, inventory: str | None = None, json: str | None = None,
         junit: str | None = None, timeout: int = 10,
         vault_password_file: str | None = None) -> None:
    """Show what a deploy would change, changing nothing; exit 8 when anything would change."""
    record, mask = engine_run(c, check=True, diff=diff, host=host, group=group, limit=limit,
                              playbook=playbook, tags=tags, skip_tags=skip_tags, forks=forks,
                              var=var or [], inventory=inventory, json=json, junit=junit,
                              quiet_ok=True, timeout=timeout)
    for h in record.hosts.values():
        todo = [mask(s.task) for s in h.steps if s.status == "changed"]
        say("%s: %s" % (h.name, "%d to change: %s" % (len(todo), "; ".join(todo)) if todo
                         else "no changes"))
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


@task(help={**SELECT_HELP, "cmd": "the command (or put it after --)",
            "forks": "hosts worked on in parallel (default 20)"})
@clean_errors
def run(c: Context, host: str | None = None, group: str | None = None,
        limit: str | None = None, cmd: str | None = None, forks: int = 20,
        inventory: str | None = None) -> None:
    """Run a shell command on the selected hosts in parallel: inv run --host='web*' -- uptime."""
    command = cmd or remainder_command()
    if not command.strip():
        raise BadInput("no command given", where="command line",
                       hint="inv run --host=web1 -- uptime")
    result = adhoc.run(selected(c, inventory, host, group, limit), command, forks)
    for r in result.results:
        code, out, err = r.value if r.value is not None else (-1, "", r.error)
        sys.stdout.write(prefixed(r.host.name, out))
        sys.stderr.write(prefixed(r.host.name, err))
        say("%-8s = %s" % (r.host.name, "UNREACHABLE" if code < 0 else "exit %d" % code))
    finish(result)


@task(help={**SELECT_HELP, "local": "local file", "remote": "path on the hosts (a folder "
            "ending in / keeps the file's name)", "forks": "hosts in parallel"})
@clean_errors
def put(c: Context, local: str, remote: str, host: str | None = None, group: str | None = None,
        limit: str | None = None, forks: int = 20, inventory: str | None = None) -> None:
    """Copy a file to the hosts atomically; hosts with the same content are left alone."""
    path = Path(local)
    if not path.is_file():
        raise BadInput("no such local file: %s" % local, where="command line")
    if remote.endswith("/"):
        remote += path.name
    result = adhoc.put(selected(c, inventory, host, group, limit), path.read_bytes(), remote,
                       forks)
    for r in result.results:
        status, msg = r.value if r.value is not None else (r.state, r.error)
        say("%-8s %-11s %s %s" % (r.host.name, status, remote, msg))
    finish(result)


@task(help={**SELECT_HELP, "remote": "path on the hosts", "local_dir": "local folder; each "
            "host's copy lands in LOCAL_DIR/<host>/<name>", "forks": "hosts in parallel"})
@clean_errors
def get(c: Context, remote: str, local_dir: str, host: str | None = None,
        group: str | None = None, limit: str | None = None, forks: int = 20,
        inventory: str | None = None) -> None:
    """Fetch a file from the hosts into LOCAL_DIR/<host>/<name>."""
    result = adhoc.get(selected(c, inventory, host, group, limit), remote, Path(local_dir), forks)
    for r in result.results:
        say("%-8s %s" % (r.host.name, "-> %s" % r.value if r.ok else
                         "%s %s" % (r.state.upper(), r.error)))
    finish(result)


@task(help=SELECT_HELP)
@clean_errors
def facts(c: Context, host: str | None = None, group: str | None = None,
          limit: str | None = None, inventory: str | None = None) -> None:
    """Print the facts each host reports (as JSON), as templates see them in `facts`."""
    import json as jsonlib
    result = adhoc.facts(selected(c, inventory, host, group, limit))
    for r in result.results:
        if not r.ok:
            print("error: %s" % r.error, file=sys.stderr)
    say(jsonlib.dumps({r.host.name: r.value for r in result.results if r.ok}, indent=2,
                      sort_keys=True))
    finish(result)


@task(help=SELECT_HELP)
@clean_errors
def hosts(c: Context, host: str | None = None, group: str | None = None,
          limit: str | None = None, inventory: str | None = None) -> None:
    """Show the inventory as resolved: each host's groups and each var with where it came from."""
    for h in selected(c, inventory, host, group, limit):
        say("%s  (%s:%s, groups: %s)" % (h.name, h.address, h.port, ", ".join(h.groups)))
        for key in sorted(h.vars):
            say("    %-24s = %-30s  # %s" % (key, short_repr(h.vars[key]),
                                             h.var_sources.get(key, "?")))


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@task(help={**SELECT_HELP, "playbook": "playbook whose roles are checked (default: site)"})
@clean_errors
def verify(c: Context, host: str | None = None, group: str | None = None,
           limit: str | None = None, playbook: str | None = None,
           inventory: str | None = None) -> None:
    """Run each role's testinfra checks against the hosts it is applied to (host keys checked)."""
    from .verify import verify as run_verify
    inv = open_inventory(c, inventory)
    chosen = select_hosts(inv, host=host, group=group, limit=limit)
    plays = load_playbook(project_root(), playbook or "site", run_vault(c))
    config = "\n".join(ssh_config_block(h) for h in inv.hosts.values())
    finish(run_verify(project_root(), inv, plays, chosen, config, say))


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


@task(name="encrypt", help=VAULT_HELP)
@clean_errors
def vault_encrypt(c: Context, file: str, vault_password_file: str | None = None) -> None:
    """Encrypt a variables file in place (scrypt key, AES-256-GCM)."""
    vault.encrypt_file(Path(file), file, run_vault(c), check_yaml(file))
    say("encrypted %s" % file)


@task(name="decrypt", help=VAULT_HELP)
@clean_errors
def vault_decrypt(c: Context, file: str, vault_password_file: str | None = None) -> None:
    """Replace an encrypted file by its plaintext (to stop encrypting it)."""
    vault.decrypt_file(Path(file), file, run_vault(c))
    say("decrypted %s" % file)


@task(name="view", help=VAULT_HELP)
@clean_errors
def vault_view(c: Context, file: str, vault_password_file: str | None = None) -> None:
    """Print the plaintext of an encrypted file; nothing is written to disk."""
    sys.stdout.write(vault.view_file(Path(file), file, run_vault(c)))
    sys.stdout.flush()


@task(name="edit", help=VAULT_HELP)
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


@task(help={**SELECT_HELP, "release": "switch each release of the playbook back to the one "
            "before it, instead of restoring the last run's journal",
            "playbook": "playbook whose releases --release switches (default: site)",
            "lock_wait": "seconds to wait for another run's lock (default 0)"})
@clean_errors
def rollback(c: Context, host: str | None = None, group: str | None = None,
             limit: str | None = None, release: bool = False, playbook: str | None = None,
             inventory: str | None = None, lock_wait: int = 0) -> None:
    """Undo the last run on the hosts (files restored, handlers rerun), or --release."""
    from .rollback import roll_back
    inv = open_inventory(c, inventory)
    chosen = select_hosts(inv, host=host, group=group, limit=limit)
    plays = load_playbook(project_root(), playbook or "site", run_vault(c)) if release else []
    opts = RunOptions(lock_wait=float(lock_wait), holder=holder_identity("rollback"),
                      secrets=run_vault(c))
    finish(roll_back(project_root(), inv, plays, chosen, release, opts, say))


testbed = Collection("testbed", up, down, status, reset, reboot)
vault_tasks = Collection("vault", vault_encrypt, vault_decrypt, vault_view, vault_edit)
@task(help={"op": "the operation, e.g. cron or ansible.builtin.copy"})
@clean_errors
def doc(c: Context, op: str) -> None:
    """Print an operation's reference, like ansible-doc: what it does, its arguments, examples.

    The whole reference is docs/operations.md (rewritten by `python -m mainsail.opdoc`)."""
    sys.stdout.write(opdoc.reference(op))


ns = Collection(doc, deploy, plan, rollback, run, put, get, ping, facts, hosts, verify, ssh_config,
                testbed,
                vault_tasks)
ns.configure({"mainsail": {"inventory": DEFAULT_INVENTORY}})
