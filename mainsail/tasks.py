"""The Invoke collection: thin tasks that parse flags, call the engine and map errors to exits."""

from __future__ import annotations

import functools
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from invoke import Collection, Context, Exit, task

from . import testbed as tb
from .errors import MainsailError
from .inventory import Host, Inventory, load_inventory, select_hosts

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_INVENTORY = "inventory/hosts.yml"


def say(line: str) -> None:
    print(line, flush=True)


def clean_errors(fn: F) -> F:
    """Expected failures become one line and a documented exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(c: Context, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(c, *args, **kwargs)
        except MainsailError as exc:
            print("error: %s" % exc, file=sys.stderr, flush=True)
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
    return load_inventory(inventory_path(c, inventory))


# ---------------------------------------------------------------------------- testbed

def testbed_hosts(inv: Inventory) -> list[tb.TestbedHost]:
    default_known = inv.path.parent / "known_hosts"
    return [tb.TestbedHost(h.name, h.address, Path(h.known_hosts or default_known))
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
    say("%-8s %-12s %-24s %-8s %s" % ("host", "address", "state", "pid", "disk"))
    for r in rows:
        say("%-8s %-12s %-24s %-8s %s" % (r.name, r.address, r.state, r.pid or "-", r.disk))


@task(help={"name": "the testbed host to reset", "inventory": "inventory file"})
@clean_errors
def reset(c: Context, name: str, inventory: str | None = None) -> None:
    """Throw away one host's state and start it fresh from the base image."""
    hosts = testbed_hosts(open_inventory(c, inventory))
    tb.reset(tb.default_layout(project_root()), tb.find_host(hosts, name), say)


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


def ssh_config_block(h: Host) -> str:
    lines = ["Host %s" % h.name, "  HostName %s" % (h.address or h.name), "  Port %s" % h.port,
             "  User %s" % h.user]
    if h.ssh_key:
        lines += ["  IdentityFile %s" % Path(h.ssh_key).resolve(), "  IdentitiesOnly yes"]
    known = [str(Path(h.known_hosts).resolve())] if h.known_hosts else []
    lines += ["  UserKnownHostsFile %s" % " ".join(known + ["~/.ssh/known_hosts"]),
              "  StrictHostKeyChecking yes", ""]
    return "\n".join(lines)


@task(help=SELECT_HELP)
@clean_errors
def ping(c: Context, host: str | None = None, group: str | None = None,
         limit: str | None = None, inventory: str | None = None) -> None:
    """Connect to each host (host key checked) and report how long it took."""
    from .session import connect

    def one(h: Host) -> tuple[Host, str, bool]:
        started = time.monotonic()
        try:
            conn = connect(h)
            result = conn.run("true", hide=True, warn=True, in_stream=False)
            conn.close()
        except MainsailError as exc:
            return h, str(exc), False
        ok = result.exited == 0
        return h, "pong in %.0f ms" % ((time.monotonic() - started) * 1000), ok

    hosts = selected(c, inventory, host, group, limit)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, hosts))
    for h, text, ok in results:
        say("%-8s %s" % (h.name, text if ok else "UNREACHABLE " + text))
    if not all(ok for _, _, ok in results):
        raise Exit(code=3)


testbed = Collection("testbed", up, down, status, reset)
ns = Collection(ssh_config, ping, testbed)
ns.configure({"mainsail": {"inventory": DEFAULT_INVENTORY}})
