"""The SSH side that needs no host: the command sent, the host-key policy."""

import shlex

import paramiko
import pytest

from mainsail.agentproc import BOOTSTRAP
from mainsail.inventory import Host
from mainsail.session import RefuseUnknownHost, UnknownHostKey, agent_command


def test_the_agent_command_is_one_quoted_python3_call():
    command = agent_command(Host("web1", user="root"), "abc123", become=True)
    assert shlex.split(command) == ["cd", "/", "&&", "python3", "-I", "-S", "-c", BOOTSTRAP,
                                    "abc123"]


def test_become_runs_the_agent_under_sudo_without_a_password_prompt():
    command = agent_command(Host("web1", user="deploy"), "abc123", become=True)
    assert shlex.split(command)[3:10] == ["sudo", "-n", "-H", "--", "python3", "-I", "-S"]
    assert "sudo" not in agent_command(Host("web1", user="deploy"), "abc", become=False)


def test_an_unknown_host_key_is_refused_never_added():
    client = paramiko.SSHClient()
    policy = RefuseUnknownHost()
    fake = paramiko.RSAKey.generate(1024)
    with pytest.raises(UnknownHostKey) as caught:
        policy.missing_host_key(client, "127.0.0.11", fake)
    assert caught.value.key is fake
    assert len(client.get_host_keys()) == 0


def test_the_bootstrap_never_imports_modules_from_the_login_folder(tmp_path):
    """A user who can write the login folder plants hashlib.py; root's python3 must not run it."""
    import os
    import subprocess
    home = tmp_path / "home"
    home.mkdir()
    marker = tmp_path / "pwned"
    (home / "hashlib.py").write_text("open(%r, 'w').close()\nraise SystemExit(42)\n" % str(marker))
    command = agent_command(Host("web1", user="root"), "abc123", become=True)
    command += " " + shlex.quote(str(tmp_path / "agent"))  # keep its cache out of /var/lib
    done = subprocess.run(["/bin/sh", "-c", command], cwd=home, input=b"", capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(home)}, timeout=60)
    assert not marker.exists()
    assert done.stdout.startswith(b'{"need_agent": true}')  # the bootstrap itself ran


def proxyjump_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        "Host 127.0.0.5\n  ProxyJump jump@127.0.0.6:2222,127.0.0.7\n")
    monkeypatch.setenv("HOME", str(home))
    return home


def test_proxyjump_gateways_are_checked_like_targets(tmp_path, monkeypatch):
    from mainsail.session import build_connection
    proxyjump_home(tmp_path, monkeypatch)
    conn = build_connection(Host("web1", address="127.0.0.5", user="root"))
    hops = []
    hop = conn
    while hop is not None and not isinstance(hop, str):
        hops.append(hop)
        hop = hop.gateway
    assert [h.host for h in hops] == ["127.0.0.5", "127.0.0.6", "127.0.0.7"]
    for hop in hops:
        assert isinstance(hop.client._policy, RefuseUnknownHost), hop.host


def test_an_unknown_gateway_key_is_refused_over_a_real_connection(tmp_path, monkeypatch):
    """A tiny SSH server on loopback plays the jump host; its key is in no known_hosts."""
    import socket
    import threading
    from mainsail.errors import Unreachable
    from mainsail.session import connect
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    (home / ".ssh" / "config").write_text(
        "Host 127.0.0.5\n  ProxyJump 127.0.0.1:%d\n" % port)
    monkeypatch.setenv("HOME", str(home))
    server_key = paramiko.RSAKey.generate(1024)
    done = threading.Event()

    def serve():
        sock, _ = listener.accept()
        transport = paramiko.Transport(sock)
        transport.add_server_key(server_key)
        try:
            transport.start_server(server=paramiko.ServerInterface())
            done.wait(10)
        except Exception:
            pass
        finally:
            transport.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(Unreachable) as caught:
            connect(Host("web1", address="127.0.0.5", user="root"), timeout=5)
    finally:
        done.set()
        thread.join(10)
        listener.close()
    assert "host key not known (gateway" in str(caught.value)


def known_hosts_with(tmp_path, lines):
    path = tmp_path / "known_hosts"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_known_hosts_is_parsed_once_for_every_connection_of_a_run(tmp_path, monkeypatch):
    from mainsail.session import build_connection
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts of the machine's
    keys = [paramiko.ECDSAKey.generate() for _ in range(3)]
    path = known_hosts_with(tmp_path, ["127.0.0.%d %s %s" % (i + 1, k.get_name(), k.get_base64())
                                       for i, k in enumerate(keys)])
    loads = []
    real_load = paramiko.HostKeys.load
    monkeypatch.setattr(paramiko.HostKeys, "load",
                        lambda self, name: (loads.append(name), real_load(self, name))[1])
    conns = [build_connection(Host("web%d" % i, address="127.0.0.%d" % (i + 1), user="root",
                                   known_hosts=str(path))) for i in range(3)]
    assert loads == [str(path)]
    for conn, key in zip(conns, keys):
        pinned = conn.client.get_host_keys()
        assert len(pinned) == 1, "each client holds its own host's keys only"
        assert pinned.lookup(conn.host)[key.get_name()] == key


def test_a_changed_known_hosts_is_parsed_again(tmp_path, monkeypatch):
    import os
    from mainsail.session import build_connection
    monkeypatch.setenv("HOME", str(tmp_path))
    old, new = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    path = known_hosts_with(tmp_path, ["127.0.0.1 %s %s" % (old.get_name(), old.get_base64())])
    host = Host("web1", address="127.0.0.1", user="root", known_hosts=str(path))
    build_connection(host)
    path.write_text("127.0.0.1 %s %s\n" % (new.get_name(), new.get_base64()))
    os.utime(path, ns=(1, 1))
    pinned = build_connection(host).client.get_host_keys()
    assert pinned.lookup("127.0.0.1")[new.get_name()] == new


def test_hashed_entries_and_other_ports_are_pinned_as_before(tmp_path, monkeypatch):
    from mainsail.session import build_connection
    monkeypatch.setenv("HOME", str(tmp_path))
    key, other = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    hashed = paramiko.HostKeys.hash_host("[127.0.0.9]:2222")
    path = known_hosts_with(tmp_path, ["%s %s %s" % (hashed, key.get_name(), key.get_base64()),
                                       "127.0.0.9 %s %s" % (other.get_name(), other.get_base64())])
    conn = build_connection(Host("web9", address="127.0.0.9", port=2222, user="root",
                                 known_hosts=str(path)))
    pinned = conn.client.get_host_keys()
    assert pinned.lookup("[127.0.0.9]:2222")[key.get_name()] == key
    assert pinned.lookup("127.0.0.9") is None, "port 22's key does not pin port 2222"


def test_proxyjump_gateways_get_their_own_pinned_keys(tmp_path, monkeypatch):
    from mainsail.session import build_connection
    home = proxyjump_home(tmp_path, monkeypatch)
    gateway_key, target_key = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    (home / ".ssh" / "known_hosts").write_text(
        "[127.0.0.6]:2222 %s %s\n127.0.0.5 %s %s\n" % (
            gateway_key.get_name(), gateway_key.get_base64(),
            target_key.get_name(), target_key.get_base64()))
    conn = build_connection(Host("web1", address="127.0.0.5", user="root"))
    assert conn.client.get_host_keys().lookup("127.0.0.5")[target_key.get_name()] == target_key
    gateway = conn.gateway
    assert gateway.client.get_host_keys().lookup("[127.0.0.6]:2222")[
        gateway_key.get_name()] == gateway_key
    assert len(gateway.gateway.client.get_host_keys()) == 0, "127.0.0.7 has no pinned key"


def _connect_looking(monkeypatch, look):
    """connect() to a local listener, with Connection.open replaced by look(sock, listener):
    what the socket is like when the key exchange would start. The listener's port."""
    import socket
    from fabric import Connection
    from mainsail.session import connect
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    monkeypatch.setattr(Connection, "open",
                        lambda conn: look(conn.connect_kwargs["sock"], listener))
    try:
        connect(Host("web1", address="127.0.0.1", port=port, user="root"))
    finally:
        listener.close()
    return port


def test_a_direct_connection_has_nagles_algorithm_off_before_the_key_exchange(monkeypatch):
    """With Nagle's algorithm each SSH round trip on loopback waited ~40 ms for a delayed ACK."""
    import socket
    seen = {}

    def look(sock, listener):
        seen["nodelay"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        seen["peer"] = sock.getpeername()
    port = _connect_looking(monkeypatch, look)
    assert seen["nodelay"] != 0
    assert seen["peer"] == ("127.0.0.1", port)


def test_a_refused_connection_is_unreachable_and_names_the_address():
    import socket
    from mainsail.errors import Unreachable
    from mainsail.session import connect
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(Unreachable) as caught:
        connect(Host("web1", address="127.0.0.1", port=port, user="root"), timeout=5)
    assert "cannot connect to 127.0.0.1:%d" % port in str(caught.value)


def test_ansible_python_interpreter_picks_the_agents_python():
    command = agent_command(Host("web1", user="root", python_interpreter="/opt/py 3/bin/python3"), "abc",
                            become=False)
    assert shlex.split(command)[3:5] == ["/opt/py 3/bin/python3", "-I"]
@pytest.mark.parametrize("direct", [False, True], ids=["fabric", "direct"])
def test_a_profiled_connection_times_tcp_key_exchange_and_authentication(tmp_path, direct):
    """A tiny SSH server on loopback that accepts the client's key; --profile's phases."""
    import socket
    import threading
    from mainsail.profile import HostProfile
    from mainsail.session import connect
    server_key, client_key = paramiko.RSAKey.generate(1024), paramiko.RSAKey.generate(1024)
    client_key.write_private_key_file(str(tmp_path / "id_rsa"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    (tmp_path / "known_hosts").write_text("[127.0.0.1]:%d %s %s\n" % (
        port, server_key.get_name(), server_key.get_base64()))

    class AcceptsTheKey(paramiko.ServerInterface):
        def get_allowed_auths(self, username):
            return "publickey"

        def check_auth_publickey(self, username, key):
            return paramiko.AUTH_SUCCESSFUL if key == client_key else paramiko.AUTH_FAILED

    done = threading.Event()

    def serve():
        sock, _ = listener.accept()
        transport = paramiko.Transport(sock)
        transport.add_server_key(server_key)
        try:
            transport.start_server(server=AcceptsTheKey())
            done.wait(10)
        finally:
            transport.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    timings = HostProfile()
    try:
        conn = connect(Host("web1", address="127.0.0.1", port=port, user="deploy",
                            ssh_key=str(tmp_path / "id_rsa"),
                            known_hosts=str(tmp_path / "known_hosts")), timeout=5,
                       timings=timings, direct=direct)
        assert conn.client.get_transport().is_authenticated()
        assert (type(conn).__name__ == "DirectConnection") == direct
        conn.close()
    finally:
        done.set()
        thread.join(10)
        listener.close()
    assert set(timings.wall) == {"tcp_connect", "kex", "auth"}
    assert all(value >= 0 for value in timings.wall.values())
    assert timings.wall["kex"] > 0 and timings.wall["auth"] > 0


def test_a_direct_connection_acknowledges_at_once_where_linux_allows(monkeypatch):
    """sshd held its channel-open reply ~40 ms for our delayed ACK of its host keys notice."""
    import socket
    from mainsail.session import QuickAckSocket
    if not hasattr(socket, "TCP_QUICKACK"):
        return  # not Linux: a plain socket, as the test above checks
    seen = {}

    def look(sock, listener):
        peer, _ = listener.accept()
        peer.sendall(b"SSH-2.0-test\r\n")
        seen["line"] = sock.recv(100)
        seen["quickack"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK)
        seen["type"] = type(sock)
        peer.close()
    _connect_looking(monkeypatch, look)
    assert seen["type"] is QuickAckSocket
    assert seen["line"] == b"SSH-2.0-test\r\n"
    assert seen["quickack"] != 0


def test_a_session_connects_directly_as_fabric_would_without_a_gateway(tmp_path, monkeypatch):
    """No ProxyJump: a plain paramiko client, with the SSH configuration's HostName and
    IdentityFile (after the inventory's key, as Fabric orders them), the pinned keys only,
    and unknown keys refused."""
    from mainsail.session import DirectConnection, build_connection
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        "Host web1\n  HostName 127.0.0.5\n  IdentityFile ~/.ssh/other\n")
    monkeypatch.setenv("HOME", str(home))
    key = paramiko.ECDSAKey.generate()
    (home / ".ssh" / "known_hosts").write_text(
        "127.0.0.5 %s %s\n127.0.0.6 %s %s\n" % (key.get_name(), key.get_base64(),
                                                key.get_name(), key.get_base64()))
    conn = build_connection(Host("web1", address="web1", user="deploy", ssh_key="/k/id"),
                            direct=True)
    assert isinstance(conn, DirectConnection)
    assert (conn.host, conn.port, conn.user) == ("127.0.0.5", 22, "deploy")
    assert conn.connect_kwargs["key_filename"] == ["/k/id", str(home / ".ssh" / "other")]
    assert conn.connect_kwargs["look_for_keys"] is False
    assert isinstance(conn.client._policy, RefuseUnknownHost)
    pinned = conn.client.get_host_keys()
    assert len(pinned) == 1 and pinned.lookup("127.0.0.5")[key.get_name()] == key


def test_a_gateway_keeps_fabrics_connection_when_direct_is_asked(tmp_path, monkeypatch):
    from fabric import Connection
    from mainsail.session import build_connection
    proxyjump_home(tmp_path, monkeypatch)
    conn = build_connection(Host("web1", address="127.0.0.5", user="root"), direct=True)
    assert isinstance(conn, Connection) and conn.gateway is not None


def test_pinned_keys_are_found_as_paramiko_finds_them(tmp_path):
    """The index gives, for every name, what paramiko's own lookup gives: plain and hashed
    names, several names on a line, ports, the first line of a key type winning."""
    from mainsail.session import PinnedKeys
    keys = [paramiko.ECDSAKey.generate() for _ in range(4)]
    rsa = paramiko.RSAKey.generate(1024)
    lines = [
        "a.example,10.0.0.1 %s %s" % (keys[0].get_name(), keys[0].get_base64()),
        "%s %s %s" % (paramiko.HostKeys.hash_host("b.example"), keys[1].get_name(),
                      keys[1].get_base64()),
        "[a.example]:2222 %s %s" % (keys[2].get_name(), keys[2].get_base64()),
        "a.example %s %s" % (keys[3].get_name(), keys[3].get_base64()),  # same type: later
        "%s,b.example %s %s" % (paramiko.HostKeys.hash_host("10.0.0.1"), rsa.get_name(),
                                rsa.get_base64()),
    ]
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    theirs = paramiko.HostKeys(str(path))
    ours = PinnedKeys(paramiko.HostKeys(str(path)))
    for name in ("a.example", "10.0.0.1", "b.example", "[a.example]:2222", "c.example",
                 "[b.example]:2222"):
        found = theirs.lookup(name)
        expected = {t: found[t] for t in found.keys()} if found else {}
        assert ours.lookup(name) == expected, name


def test_the_private_key_is_read_once_and_left_to_paramiko_when_it_needs_more(tmp_path):
    from mainsail.session import loaded_key
    plain = paramiko.ECDSAKey.generate()
    plain.write_private_key_file(str(tmp_path / "id_plain"))
    assert loaded_key(str(tmp_path / "id_plain")) == plain
    assert loaded_key(str(tmp_path / "id_plain")) is loaded_key(str(tmp_path / "id_plain"))
    locked = paramiko.ECDSAKey.generate()
    locked.write_private_key_file(str(tmp_path / "id_locked"), password="secret")
    assert loaded_key(str(tmp_path / "id_locked")) is None  # paramiko asks for it
    certified = paramiko.ECDSAKey.generate()
    certified.write_private_key_file(str(tmp_path / "id_cert"))
    (tmp_path / "id_cert-cert.pub").write_text("not read here\n")
    assert loaded_key(str(tmp_path / "id_cert")) is None  # paramiko loads the certificate
    assert loaded_key(str(tmp_path / "missing")) is None
