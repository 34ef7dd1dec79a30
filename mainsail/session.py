"""One SSH connection per host, with host keys checked; the agent is spoken to over it."""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import shlex
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import paramiko
from fabric import Connection

from .agentproc import (BOOTSTRAP, AgentClient, AgentError, AgentLocked, build_agent_zip,
                        local_agent)
from .errors import LockHeld, Unreachable
from .inventory import Host
from .profile import HostProfile

DEFAULT_CONNECT_TIMEOUT = 10.0

# paramiko logs transport failures with tracebacks from its own threads; the failure itself
# reaches the user as one Unreachable line, so its log stays quiet unless asked for.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


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


# What a run reads once for all its connections (configuration, pinned keys, the private key)
# is read under this lock: the connections' threads all ask at once.
_PARSED_LOCK = threading.Lock()

# Where Fabric reads its configuration: the SSH client's, and its own system and user files.
_CONFIG_FILES = ("~/.ssh/config", "/etc/ssh/ssh_config") + tuple(
    "%s.%s" % (base, ext) for base in ("/etc/fabric", "~/.fabric")
    for ext in ("yaml", "yml", "json", "py"))


def _config_stamp() -> tuple[Any, ...]:
    """What Fabric's configuration is read from: HOME, and those files as they are now."""
    stamp: list[Any] = [os.environ.get("HOME")]
    for path in _CONFIG_FILES:
        try:
            st = os.stat(os.path.expanduser(path))
            stamp.append((path, st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            stamp.append((path, None))
    return tuple(stamp)


class _Settings(NamedTuple):
    """What a run reads of Fabric's configuration, read once: the parsed SSH configuration,
    the key files Fabric's own configuration adds to every connection, and whether anything
    in it (a gateway, an authentication strategy) needs Fabric to make the connection."""

    ssh_config: Any
    key_filenames: tuple[str, ...]
    needs_fabric: bool


_SETTINGS: dict[tuple[Any, ...], _Settings] = {}


def _settings() -> _Settings:
    """The run's settings, read again when HOME or one of those files changes (each Fabric
    configuration read them all again: 1.1 ms of CPU per connection)."""
    key = _config_stamp()
    with _PARSED_LOCK:
        if key not in _SETTINGS:
            from fabric import Config
            config = Config()
            keys = config.connect_kwargs.get("key_filename") or []
            _SETTINGS.clear()
            _SETTINGS[key] = _Settings(
                config.base_ssh_config,
                tuple([keys] if isinstance(keys, str) else keys),
                bool(config.gateway or config.authentication.strategy_class))
        return _SETTINGS[key]


def fabric_config() -> Any:
    """A Fabric configuration for one connection, over the SSH configuration parsed once per
    run. One configuration per connection: Invoke's configuration objects are not safe to
    share between threads (a shared one failed under 100 concurrent connections)."""
    from fabric import Config
    return Config(ssh_config=_settings().ssh_config)


def build_connection(host: Host, timeout: float = DEFAULT_CONNECT_TIMEOUT,
                     direct: bool = False) -> Connection | DirectConnection:
    """The connection to host, not opened yet, every hop's host key checked. A Fabric
    connection; with ``direct``, a DirectConnection when nothing stands between us and the
    host (no ProxyJump or ProxyCommand in the SSH configuration, no gateway in Fabric's)."""
    pinned = pinned_keys(known_hosts_files(host))
    plain = direct_connection(host, timeout) if direct else None
    if plain is not None:
        plain.client.set_missing_host_key_policy(RefuseUnknownHost())
        pin(plain.client, pinned, plain.host, plain.port)
        return plain
    connect_kwargs: dict[str, Any] = {"banner_timeout": timeout, "auth_timeout": timeout}
    if host.ssh_key:
        connect_kwargs.update(key_filename=str(host.ssh_key), look_for_keys=False,
                              allow_agent=False)
    conn = Connection(host.address or host.name, user=host.user, port=int(host.port),
                      connect_timeout=timeout, connect_kwargs=connect_kwargs,
                      config=fabric_config())
    # Fabric's default policy would accept any key, and a ProxyJump in ~/.ssh/config makes
    # gateway connections with that default: every hop gets the target's policy and keys.
    hop: Any = conn
    while isinstance(hop, Connection):
        hop.client.set_missing_host_key_policy(RefuseUnknownHost())
        pin(hop.client, pinned, hop.host, int(hop.port))
        hop = hop.gateway
    return conn


class DirectConnection:
    """A connection straight to the host, made as Fabric would make it (the SSH
    configuration's HostName and IdentityFile, Fabric's own key files) but without Fabric's
    per-connection configuration objects: building those cost 1.1 ms of CPU per host, a
    tenth of a no-op's on a 100-host run. An agent session needs nothing more of it."""

    gateway = None

    def __init__(self, hostname: str, port: int, user: str,
                 connect_kwargs: dict[str, Any]) -> None:
        self.host = hostname
        self.port = port
        self.user = user
        self.connect_kwargs = connect_kwargs
        self.client = paramiko.SSHClient()

    def open(self) -> None:
        kwargs = dict(self.connect_kwargs)
        files = list(kwargs.pop("key_filename", ()))
        key = loaded_key(files[0]) if files else None
        if key is not None:
            kwargs["pkey"] = key  # paramiko tries it first, as it would the first file
            files = files[1:]
        if files:
            kwargs["key_filename"] = files
        self.client.connect(self.host, self.port, self.user, **kwargs)

    def close(self) -> None:
        self.client.close()


def direct_connection(host: Host, timeout: float) -> DirectConnection | None:
    """host's DirectConnection, or None when something stands between (Fabric makes that)."""
    settings = _settings()
    if settings.needs_fabric:
        return None
    name = host.address or host.name
    found = settings.ssh_config.lookup(name)
    if "proxyjump" in found or "proxycommand" in found:
        return None
    kwargs: dict[str, Any] = {"banner_timeout": timeout, "auth_timeout": timeout,
                              "timeout": timeout}
    keys = list(settings.key_filenames)  # Fabric's order: its configuration, ours, ssh's
    if host.ssh_key:
        keys.append(str(host.ssh_key))
        kwargs.update(look_for_keys=False, allow_agent=False)
    identity = found.get("identityfile", [])
    keys.extend([identity] if isinstance(identity, str) else identity)
    if keys:
        kwargs["key_filename"] = keys
    return DirectConnection(found.get("hostname", name), int(host.port), host.user, kwargs)


_KEYS: dict[tuple[str, int, int], paramiko.PKey | None] = {}


def loaded_key(path: str) -> paramiko.PKey | None:
    """The private key in ``path``, read once per run rather than once per host (paramiko
    parses the file as each key type in turn, 0.17 ms). None where paramiko's own reading is
    needed: a key with a passphrase or a certificate beside it, a file that cannot be read.
    paramiko then reads it, and reports what is wrong, as it would have."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (path, st.st_mtime_ns, st.st_size)
    with _PARSED_LOCK:
        if stamp in _KEYS:
            return _KEYS[stamp]
    key = None
    if not path.endswith("-cert.pub") and not os.path.exists(path + "-cert.pub"):
        for kind in (paramiko.RSAKey, paramiko.ECDSAKey, paramiko.Ed25519Key):  # paramiko's
            try:
                key = kind.from_private_key_file(path)
                break
            except (paramiko.SSHException, OSError, ValueError):
                continue
    with _PARSED_LOCK:
        _KEYS[stamp] = key
    return key


class PinnedKeys:
    """The keys pinned in known_hosts files, found by name in one step. paramiko's lookup
    reads every line for every host, so a run over N hosts with N pinned read N*N lines
    (15,000 name comparisons at 100 hosts). Plain names are indexed; hashed ones (``|1|``,
    each with its own salt) are still tried one by one, as paramiko tries them."""

    def __init__(self, keys: paramiko.HostKeys) -> None:
        self.by_name: dict[str, list[tuple[int, Any]]] = {}
        self.hashed: list[tuple[int, Any]] = []
        for index, entry in enumerate(getattr(keys, "_entries", ())):
            if entry.key is None:
                continue
            if any(name.startswith("|1|") for name in entry.hostnames):
                self.hashed.append((index, entry))
            for name in entry.hostnames:
                if not name.startswith("|1|"):
                    self.by_name.setdefault(name, []).append((index, entry))

    def lookup(self, name: str) -> dict[str, paramiko.PKey]:
        """Key type -> key for name, the first line of each type winning (as in paramiko)."""
        found = dict(self.by_name.get(name, ()))
        for index, entry in self.hashed:
            if index not in found and any(
                    h.startswith("|1|") and
                    hmac.compare_digest(paramiko.HostKeys.hash_host(name, h).encode(),
                                        h.encode())
                    for h in entry.hostnames):
                found[index] = entry
        keys: dict[str, paramiko.PKey] = {}
        for index in sorted(found):
            keys.setdefault(found[index].key.get_name(), found[index].key)
        return keys


_PARSED: dict[tuple[tuple[str, int, int], ...], PinnedKeys] = {}


def pinned_keys(files: list[Path]) -> PinnedKeys:
    """The keys pinned in files, parsed once per run rather than once per connection (a
    known_hosts of N hosts parsed for each of N hosts grows with the square of the fleet).
    Parsed again when a file changes (its size or modification time)."""
    stamp = []
    for path in files:
        st = path.stat()
        stamp.append((str(path), st.st_mtime_ns, st.st_size))
    key = tuple(stamp)
    with _PARSED_LOCK:
        if key not in _PARSED:
            keys = paramiko.HostKeys()
            for path in files:
                keys.load(str(path))
            _PARSED[key] = PinnedKeys(keys)
        return _PARSED[key]


def pin(client: paramiko.SSHClient, pinned: PinnedKeys, hostname: str, port: int) -> None:
    """Give client the pinned keys of hostname:port, under the name paramiko looks them up by
    (hashed entries included): the same keys, and the same refusals, as loading the files."""
    name = hostname if port == 22 else "[%s]:%d" % (hostname, port)
    target = client.get_host_keys()
    for keytype, key in pinned.lookup(name).items():
        target.add(name, keytype, key)


QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class QuickAckSocket(socket.socket):
    """A TCP socket that acknowledges what it receives at once (Linux's TCP_QUICKACK, which
    the kernel turns off again by itself, so it is set before every read). sshd leaves Nagle's
    algorithm on for non-interactive sessions: after authentication it sends a small packet
    (its host keys notice), then holds the reply to our channel open until that packet is
    acknowledged, which a delayed ACK put off by ~40 ms on every session."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        try:
            self.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        except OSError:
            pass
        return super().recv(bufsize, flags)


def open_socket(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection with Nagle's algorithm off: SSH writes each packet whole, and waiting
    to merge small ones only delays the next round trip. Where the system has TCP_QUICKACK
    (Linux), our acknowledgements are not delayed either (QuickAckSocket)."""
    sock = socket.create_connection((address, port), timeout=timeout)
    if QUICKACK is not None:
        sock = QuickAckSocket(fileno=sock.detach())
        sock.settimeout(timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass  # not TCP (cannot happen here), or refused: still a working connection
    return sock


class QuietTransport(paramiko.Transport):
    """paramiko's Transport, its thread waking once a second rather than ten times to see
    whether it was closed (closing does not wait for that: stop_thread closes the socket).
    With 100 hosts connected the wake-ups alone cost 46 ms of CPU per second, and took the
    GIL from the threads doing the run's work. Timeouts (10 s) are still kept, to a second."""

    _active_check_timeout = 1.0


def timed_transport(timings: HostProfile) -> type[paramiko.Transport]:
    """A Transport that adds its key exchange's wall time to timings (for --profile)."""

    class TimedTransport(QuietTransport):
        def start_client(self, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return super().start_client(*args, **kwargs)
            finally:
                timings.add("kex", time.monotonic() - started)

    return TimedTransport


def open_connection(conn: Connection | DirectConnection, timeout: float,
                    timings: HostProfile | None = None) -> None:
    """Open conn; a direct one over our own socket, so TCP_NODELAY is set before the key
    exchange (with Nagle's algorithm a channel open on loopback waited ~40 ms for an ACK).
    With timings: the TCP connect, the key exchange, and the rest of opening (authentication)."""
    if conn.gateway is not None:
        conn.open()
        return
    started = time.monotonic()
    sock = open_socket(conn.host, int(conn.port), timeout)
    if timings is not None:
        timings.add("tcp_connect", time.monotonic() - started)
    conn.connect_kwargs["transport_factory"] = \
        QuietTransport if timings is None else timed_transport(timings)
    conn.connect_kwargs["sock"] = sock
    try:
        opened = time.monotonic()
        conn.open()
        if timings is not None:
            timings.add("auth", time.monotonic() - opened - timings.wall.get("kex", 0.0))
    except BaseException:
        sock.close()
        raise


def connect(host: Host, timeout: float = DEFAULT_CONNECT_TIMEOUT,
            timings: HostProfile | None = None, direct: bool = False) -> Any:
    """An open connection whose host key matched a pinned key, or Unreachable. A Fabric
    connection; with ``direct``, a DirectConnection where one can be made."""
    conn = build_connection(host, timeout, direct)
    try:
        open_connection(conn, timeout, timings)
    except UnknownHostKey as exc:
        gateway = "" if exc.hostname.strip("[]").split("]:")[0] in (host.address, host.name) \
            else " (gateway %s)" % exc.hostname
        raise Unreachable(
            "host key not known%s: %s" % (gateway, fingerprint(exc.key)),
            where="host %s" % host.name,
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


# ---------------------------------------------------------------------------- agent sessions

AGENT_HINT = "install python3 (3.8 or newer) on the host: apt-get install python3"


_BUNDLE: list[tuple[bytes, str]] = []
_BUNDLE_LOCK = threading.Lock()


def agent_bundle() -> tuple[bytes, str]:
    """The agent zipapp and its digest, built once per controller process. Under a lock: the
    sessions' threads all ask at once, and an unlocked cache let each of them build it (20
    builds of 7 ms of CPU at the start of a 20-host run)."""
    with _BUNDLE_LOCK:
        if not _BUNDLE:
            _BUNDLE.append(build_agent_zip())
        return _BUNDLE[0]


# What sudo prints (on stderr) when it wants the become password: a marker no other program
# prints, so the controller answers sudo and nothing else.
SUDO_PROMPT = "[mainsail: sudo password]"


def agent_command(host: Host, sha: str, become: bool) -> str:
    """The one command run per session. With become the agent runs as root under sudo and
    runs each step as the user that step asks for. Without a become password sudo must not
    ask for one (-n); with one, sudo reads it from the channel (-S), never from an argv.

    Python starts isolated (-I: no current folder or user site folder on sys.path, no
    PYTHON* variables) from /, so a hashlib.py left in the login folder is never imported;
    and without the site module (-S): the agent is stdlib-only, and site's work at every start
    (site-packages folders, their .pth files, sitecustomize) is start-up time on every host."""
    command = "%s -I -S -c %s %s" % (shlex.quote(host.python_interpreter),
                                     shlex.quote(BOOTSTRAP), shlex.quote(sha))
    if not runs_as_root(host, become):
        # The agent's cache in the login user's home (the bootstrap expands ~ there).
        command += " " + shlex.quote(USER_AGENT_DIR)
    if become and host.user != "root":
        if host.become_password is not None:
            command = "sudo -S -p %s -H -- %s" % (shlex.quote(SUDO_PROMPT), command)
        else:
            command = "sudo -n -H -- " + command
    return "cd / && " + command


USER_AGENT_DIR = "~/.cache/mainsail/agent"


def runs_as_root(host: Host, become: bool) -> bool:
    """Whether the session's agent is root: it logs in as root, or escalates with sudo."""
    if host.connection == "local":
        return os.geteuid() == 0
    return host.user == "root" or become


def answer_sudo(channel: paramiko.Channel, host: Host, timeout: float) -> None:
    """Give sudo the become password when it asks (on stderr), once. sudo may not ask (a
    cached credential); the agent's first line on stdout then ends the wait. A second prompt
    means the password was wrong: refused, rather than feeding sudo the protocol."""
    seen = b""
    sent = False
    prompt = SUDO_PROMPT.encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if channel.recv_stderr_ready():
            seen += channel.recv_stderr(4096)
            asked = seen.count(prompt)
            if asked >= 2 or (asked and b"incorrect password" in seen):
                raise Unreachable("sudo refused the become password for %s" % host.user,
                                  where="host %s" % host.name,
                                  hint="check become_password (ansible_become_password) "
                                       "for this host")
            if asked == 1 and not sent:
                channel.sendall(str(host.become_password).encode() + b"\n")
                sent = True
            continue
        if channel.recv_ready() or channel.exit_status_ready():
            return
        time.sleep(0.002)
    raise Unreachable("sudo did not answer within %gs" % timeout, where="host %s" % host.name,
                      hint="is sudo installed, and may %s use it?" % host.user)


class HostSession:
    """One host's connection and its running agent; every request goes over one channel."""

    def __init__(self, host: Host, client: AgentClient, facts: dict[str, Any],
                 closer: Callable[[], None], channels: int, setup_trips: int,
                 as_root: bool = True) -> None:
        self.host = host
        self.as_root = as_root  # where its state lives: /var/lib/mainsail or the user's own
        self.client = client
        self.facts = facts
        self._closer = closer
        self._channels = channels
        self._setup_trips = setup_trips

    @contextlib.contextmanager
    def _agent_errors(self, again: str) -> Iterator[None]:
        """The agent's failures as the user's errors: a held lock, or a lost agent."""
        try:
            yield
        except AgentLocked as exc:
            raise LockHeld("locked by another run: %s" % describe_holder(exc.holder),
                           where="host %s" % self.host.name,
                           hint="wait for it to finish, or run with --lock-wait SECONDS"
                           ) from None
        except AgentError as exc:
            raise Unreachable("lost the agent: %s" % exc, where="host %s" % self.host.name,
                              hint=again) from None

    def run(self, steps: list[dict[str, Any]], blobs: Mapping[str, bytes], check: bool,
            diff: bool, on_result: Callable[[dict[str, Any]], None] | None = None,
            lock: Mapping[str, Any] | None = None, state_dir: str | None = None,
            transaction: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._agent_errors("the connection or the agent died; run again to converge"):
            return self.client.run(steps, blobs, check=check, diff=diff, on_result=on_result,
                                   lock=lock, state_dir=state_dir, transaction=transaction)

    def rollback(self, state_dir: str, lock: Mapping[str, Any] | None,
                 on_result: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        with self._agent_errors("run the rollback again"):
            return self.client.rollback(state_dir, lock, on_result)

    def request_stop(self) -> None:
        self.client.request_stop()

    def counters(self) -> tuple[int, int, int]:
        return (self._channels, self._setup_trips + self.client.round_trips,
                self.client.bytes_sent)

    def close(self) -> None:
        try:
            self.client.close()
        except (AgentError, OSError, EOFError):
            pass
        self._closer()


class ChannelStream:
    """Line reads and whole writes on a channel's stdio (paramiko's file objects flush from
    their finalizers, which fails noisily at interpreter exit)."""

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self.buffer = bytearray()

    def readline(self, limit: int = -1) -> bytes:
        """One line; at most ``limit`` bytes of it (the rest stays for the next read)."""
        while True:
            end = self.buffer.find(b"\n")
            if end < 0 and 0 <= limit <= len(self.buffer):
                end = limit - 1
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line
            data = self.channel.recv(1 << 16)
            if not data:
                line, self.buffer = bytes(self.buffer), bytearray()
                return line
            self.buffer += data

    def write(self, data: bytes) -> None:
        self.channel.sendall(data)

    def flush(self) -> None:
        """Writes are unbuffered."""


def describe_holder(holder: Mapping[str, Any]) -> str:
    if holder.get("error"):
        return str(holder["error"])
    return "%s@%s (pid %s, %s) since %s" % (holder.get("user", "?"), holder.get("host", "?"),
                                           holder.get("pid", "?"), holder.get("command", "?"),
                                           holder.get("since", "?"))


def channel_stderr(channel: paramiko.Channel) -> Callable[[], str]:
    """What the remote command wrote to stderr so far, waiting briefly for it to arrive."""

    def tail() -> str:
        deadline = time.monotonic() + 0.5
        while not (channel.recv_stderr_ready() or channel.exit_status_ready()) \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        chunks = []
        while channel.recv_stderr_ready():
            chunks.append(channel.recv_stderr(4096))
        return b"".join(chunks).decode("utf-8", "replace")[-2000:]

    return tail


def start_agent(host: Host, client: AgentClient) -> dict[str, Any]:
    zip_bytes, sha = agent_bundle()
    try:
        return client.start(zip_bytes, sha)
    except AgentError as exc:
        text = str(exc)
        if "python3" in text and "not found" in text:
            raise Unreachable("python3 is not installed", where="host %s" % host.name,
                              hint=AGENT_HINT) from None
        raise Unreachable("the agent did not start: %s" % text, where="host %s" % host.name,
                          hint="if sudo asked for a password, allow it without one (NOPASSWD)"
                          ) from None


@contextlib.contextmanager
def _untimed(phase: str) -> Iterator[None]:
    yield


def open_session(host: Host, timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 become: bool | None = None, conn: Any = None,
                 timings: HostProfile | None = None) -> HostSession:
    """The host's session: its agent started over ``conn`` (already open, e.g. by the steps
    of a play's head: prelude.py) or over a new connection; with timings, each phase's wall
    time."""
    timed = timings.timed if timings is not None else _untimed
    if host.connection == "local":
        stack = contextlib.ExitStack()
        # a host with its own state folder keeps the agent's cache there too
        state = host.vars.get("mainsail_state_dir")
        with timed("agent"):
            client = stack.enter_context(local_agent(os.path.join(str(state), "agent")
                                                     if state else None))
        return HostSession(host, client, client.facts_at_start, stack.close, 0, 0,
                           runs_as_root(host, False))
    conn = conn or connect(host, timeout, timings, direct=True)
    try:
        with timed("channel"):
            channel = conn.client.get_transport().open_session(timeout=timeout)
        with timed("agent"):
            escalate = host.become if become is None else become
            channel.exec_command(agent_command(host, agent_bundle()[1], escalate))
            if escalate and host.user != "root" and host.become_password is not None:
                answer_sudo(channel, host, timeout)
            stream = ChannelStream(channel)
            client = AgentClient(stream, stream, channel_stderr(channel))
            client.persist = host.agent_persist
            facts = start_agent(host, client)
    except BaseException:
        conn.close()
        raise
    # Setup cost on the wire: channel open and exec each wait for one reply.
    return HostSession(host, client, facts, conn.close, 1, 2, runs_as_root(host, escalate))
