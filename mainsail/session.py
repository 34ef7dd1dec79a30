"""One SSH connection per host, with host keys checked; the agent is spoken to over it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from fabric import Connection

from .errors import Unreachable
from .inventory import Host

DEFAULT_CONNECT_TIMEOUT = 10.0


class RefuseUnknownHost(paramiko.MissingHostKeyPolicy):
    """Never accept a key nobody pinned: an unknown host is refused with its fingerprint."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        raise UnknownHostKey(hostname, key)


class UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__("unknown host key for %s" % hostname)
        self.hostname = hostname
        self.key = key


def fingerprint(key: paramiko.PKey) -> str:
    return "%s %s" % (key.get_name(), key.fingerprint)


def known_hosts_files(host: Host) -> list[Path]:
    files = [Path(host.known_hosts)] if host.known_hosts else []
    files.append(Path(os.path.expanduser("~/.ssh/known_hosts")))
    return [f for f in files if f.is_file()]


@dataclass
class Counters:
    """Per-host wire accounting for the report: channels opened and protocol round trips."""

    channels: int = 0
    round_trips: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def key_lookup_name(host: Host) -> str:
    # OpenSSH writes non-default ports as "[addr]:port" in known_hosts; paramiko looks up the same.
    address = host.address or host.name
    return address if int(host.port) == 22 else "[%s]:%d" % (address, int(host.port))


def connect(host: Host, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Connection:
    """An open Fabric connection whose host key matched a pinned key, or Unreachable."""
    connect_kwargs: dict[str, Any] = {"banner_timeout": timeout, "auth_timeout": timeout}
    if host.ssh_key:
        connect_kwargs.update(key_filename=str(host.ssh_key), look_for_keys=False,
                              allow_agent=False)
    conn = Connection(host.address or host.name, user=host.user, port=int(host.port),
                      connect_timeout=timeout, connect_kwargs=connect_kwargs)
    # Fabric installs AutoAddPolicy and would accept any key: replace it before connecting.
    conn.client.set_missing_host_key_policy(RefuseUnknownHost())
    for path in known_hosts_files(host):
        conn.client.get_host_keys().load(str(path))
    try:
        conn.open()
    except UnknownHostKey as exc:
        raise Unreachable(
            "host key not known: %s" % fingerprint(exc.key), where="host %s" % host.name,
            hint="verify the fingerprint out of band, then add it to %s" %
                 (host.known_hosts or "~/.ssh/known_hosts")) from None
    except paramiko.BadHostKeyException as exc:
        raise Unreachable(
            "HOST KEY CHANGED: got %s, expected %s" % (fingerprint(exc.key),
                                                       fingerprint(exc.expected_key)),
            where="host %s" % host.name,
            hint="someone may be intercepting the connection; if the host was rebuilt, "
                 "replace its line in %s" % (host.known_hosts or "~/.ssh/known_hosts")) from None
    except paramiko.AuthenticationException as exc:
        raise Unreachable("authentication failed as %s: %s" % (host.user, exc),
                          where="host %s" % host.name,
                          hint="check ssh_key / user for this host in the inventory") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise Unreachable("cannot connect to %s:%s: %s" % (host.address, host.port,
                                                           exc or type(exc).__name__),
                          where="host %s" % host.name,
                          hint="is the host up and sshd listening? (connect timeout %gs)"
                               % timeout) from None
    return conn
