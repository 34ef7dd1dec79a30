"""testinfra checks of the echo_server role (run by `inv verify`)."""


def test_installed_as_a_release(host, hostvars):
    base = hostvars["echo_server_path"]
    current = host.file("%s/current" % base)
    assert current.is_symlink and current.linked_to.startswith("%s/releases/" % base)
    assert host.file("%s/current/echo_server.py" % base).user == "root"
    releases = host.check_output("ls %s/releases", base).split()
    assert 1 <= len(releases) <= hostvars["echo_server_keep"]


def test_runs_under_supervisor_as_its_user(host, hostvars):
    assert "RUNNING" in host.run("supervisorctl status echo_server").stdout
    procs = [p for p in host.process.filter(comm="python3") if "echo_server.py" in p.args]
    assert procs and all(p.user == hostvars["echo_server_user"] for p in procs)


def test_listens_on_the_host_address_and_echoes(host, hostvars):
    address, port = hostvars["address"], str(hostvars["echo_server_port"])
    assert host.socket("tcp://%s:%s" % (address, port)).is_listening
    assert not host.socket("tcp://0.0.0.0:%s" % port).is_listening
    reply = host.check_output(
        "python3 -c 'import socket; s = socket.create_connection((\"%s\", %s), 5); "
        "s.sendall(b\"ping\\n\"); print(s.makefile().readline().strip())'", address, port)
    assert reply == "ping"
