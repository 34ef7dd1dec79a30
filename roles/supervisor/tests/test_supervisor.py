"""testinfra checks of the supervisor role (run by `inv verify`)."""


def test_supervisord_runs_with_a_private_unix_socket(host, hostvars):
    assert host.process.filter(comm="supervisord")
    sock = host.file(hostvars["supervisor_socket"])
    assert sock.is_socket and sock.user == "root" and sock.mode == 0o700


def test_no_inet_http_server(host):
    conf = host.file("/etc/supervisor/supervisord.conf").content_string
    assert "[inet_http_server]" not in [line.strip() for line in conf.splitlines()]
    pids = {str(p.pid) for p in host.process.filter(comm="supervisord")}
    listening = host.check_output("ss -Hltnp")
    assert not [line for line in listening.splitlines() if any(
        "pid=%s," % pid in line for pid in pids)]


def test_declared_programs_run(host, hostvars):
    for program in hostvars["supervisor_programs"]:
        assert "RUNNING" in host.run("supervisorctl status %s", program["name"]).stdout
