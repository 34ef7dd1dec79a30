"""get_url, uri, unarchive, script, fetch and wait_for_connection on the testbed (web1
bookworm, web2 trixie). Each host serves files with `python3 -m http.server` on its own
address (started by the test, stopped by its PID from inside the host); the play downloads
them, unpacks archives, runs a script and fetches a file back. The first run changes, the
second changes nothing; check mode and diff are looked at on a host that drifted."""

import base64
import hashlib
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory
from tests.e2e.test_testbed import ssh

HOSTS = ("web1", "web2")
PORT = 18231
WWW = "/srv/ms-net-www"
PIDFILE = "/run/ms-net-http.pid"
PAYLOAD = "payload served by the host\n"
INFO = {"name": "ms-net", "ports": [80, 443]}
README = "read me\n"

PLAYBOOK = """\
- name: network and transfer modules
  hosts: sample
  become: true
  tasks:
    - name: a folder to work in
      file: {path: /srv/ms-net/zip, state: directory, mode: "0755"}
    - name: wait_for_connection in the middle of a play
      wait_for_connection: {timeout: 10}
    - name: get_url with a checksum
      get_url:
        url: "{{ http_base }}/payload.txt"
        dest: /srv/ms-net/payload.txt
        checksum: "sha256:PAYLOAD_SHA"
        mode: "0640"
    - name: uri reads JSON
      uri: {url: "{{ http_base }}/info.json"}
      register: info
    - name: uri's answer is as served
      assert:
        that: ["info.json.name == 'ms-net'", "info.status == 200"]
    - name: uri writes the answer to a file
      ansible.builtin.uri: {url: "{{ http_base }}/info.json", dest: /srv/ms-net/info.json}
    - name: unarchive from the project
      unarchive: {src: app.tar.gz, dest: /srv/ms-net, list_files: true}
    - name: get_url a zip
      get_url: {url: "{{ http_base }}/site.zip", dest: /srv/ms-net/site.zip}
    - name: unarchive on the host
      unarchive: {src: /srv/ms-net/site.zip, dest: /srv/ms-net/zip, remote_src: true}
    - name: script runs once
      script: hello.sh /srv/ms-net/hello.out
      args: {creates: /srv/ms-net/hello.out}
    - name: fetch the payload back
      fetch: {src: /srv/ms-net/payload.txt, dest: fetched}
""".replace("PAYLOAD_SHA", hashlib.sha256(PAYLOAD.encode()).hexdigest())

HELLO = "#!/bin/sh\necho \"hello from $(hostname)\" > \"$1\"\n"


def app_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("app/README", README.encode()), ("app/bin/run", b"#!/bin/sh\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name.endswith("run") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def site_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("index.html", "<h1>site</h1>\n")
    return buf.getvalue()


def make_project(root: Path, hosts: dict, known_hosts: Path) -> Path:
    """The project: the playbook, its files, and each host's http_base (its own server)."""
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks/net.yml").write_text(PLAYBOOK)
    (root / "files").mkdir()
    (root / "files/app.tar.gz").write_bytes(app_tar())
    (root / "files/hello.sh").write_text(HELLO)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, known_hosts, hosts)
    for name, address in hosts.items():
        folder = root / "inventory/host_vars" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "net.yml").write_text("http_base: http://%s:%d\n" % (address, PORT))
    return root


def serve(ssh_config: Path, hosts: dict) -> None:
    """Each host serves WWW on its own address, in the background; its PID kept on it."""
    files = {"payload.txt": PAYLOAD.encode(), "info.json": json.dumps(INFO).encode(),
             "site.zip": site_zip()}
    for host, address in hosts.items():
        writes = " && ".join("echo %s | base64 -d > %s/%s" % (base64.b64encode(data).decode(),
                                                              WWW, name)
                             for name, data in files.items())
        ssh(ssh_config, host, "mkdir -p %s && %s" % (WWW, writes))
        ssh(ssh_config, host, "cd %s && nohup python3 -m http.server --bind %s %d "
                              "</dev/null >/dev/null 2>&1 & echo $! > %s"
            % (WWW, address, PORT, PIDFILE))
        ssh(ssh_config, host, "for i in $(seq 50); do python3 -c 'import urllib.request as u;"
                              "u.urlopen(\"http://%s:%d/info.json\")' 2>/dev/null && exit 0;"
                              " sleep 0.1; done; exit 1" % (address, PORT))


def stop_serving(ssh_config: Path, hosts: dict) -> None:
    for host in hosts:
        ssh(ssh_config, host, "test -f %s && kill $(cat %s); rm -f %s; rm -rf %s /srv/ms-net"
            % (PIDFILE, PIDFILE, PIDFILE, WWW), check=False)


@pytest.fixture(scope="module")
def hosts(live_testbed) -> dict:
    return {host: live_testbed[host] for host in HOSTS}


@pytest.fixture(scope="module")
def project(hosts, ssh_config, tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("net") / "site", hosts,
                        ROOT / "inventory/known_hosts")
    stop_serving(ssh_config, hosts)
    serve(ssh_config, hosts)
    yield root
    stop_serving(ssh_config, hosts)
    shutil.rmtree(root, ignore_errors=True)


def run(project: Path, *args: str) -> dict:
    out = project / "report.json"
    done = inv("deploy", "--playbook=net", "--json", str(out), *args, cwd=project, check=False)
    assert done.returncode in (0, 8), done.stdout + done.stderr
    return json.loads(out.read_text())


def steps(data: dict, host: str, status: str) -> list:
    return [s["task"] for s in data["hosts"][host]["steps"] if s["status"] == status]


def test_first_run_changes_then_second_run_changes_nothing(project, hosts, ssh_config):
    first = run(project)
    for host in hosts:
        assert first["hosts"][host]["failed"] == 0, first["hosts"][host]
        changed = steps(first, host, "changed")
        for task in ("get_url with a checksum", "uri writes the answer to a file",
                     "unarchive from the project", "unarchive on the host", "script runs once",
                     "fetch the payload back"):
            assert task in changed, (host, task, changed)
    second = run(project)
    for host in hosts:
        assert second["hosts"][host]["changed"] == 0, steps(second, host, "changed")
        assert second["hosts"][host]["failed"] == 0, second["hosts"][host]


def test_the_hosts_and_the_controller_hold_what_was_asked_for(project, hosts, ssh_config):
    run(project)
    for host in hosts:
        assert ssh(ssh_config, host, "stat -c '%a' /srv/ms-net/payload.txt; "
                                     "cat /srv/ms-net/payload.txt").stdout == "640\n" + PAYLOAD
        assert json.loads(ssh(ssh_config, host, "cat /srv/ms-net/info.json").stdout) == INFO
        assert ssh(ssh_config, host, "cat /srv/ms-net/app/README").stdout == README
        assert ssh(ssh_config, host, "stat -c '%a' /srv/ms-net/app/bin/run").stdout == "755\n"
        assert ssh(ssh_config, host, "cat /srv/ms-net/zip/index.html").stdout == \
            "<h1>site</h1>\n"
        assert ssh(ssh_config, host, "cat /srv/ms-net/hello.out").stdout.startswith("hello")
        assert (project / "fetched" / host / "srv/ms-net/payload.txt").read_text() == PAYLOAD


def test_check_mode_and_diff_on_a_drifted_host(project, hosts, ssh_config):
    run(project)
    host = HOSTS[-1]
    ssh(ssh_config, host, "echo edited > /srv/ms-net/app/README; "
                          "echo edited > /srv/ms-net/payload.txt")
    (project / "fetched" / host / "srv/ms-net/payload.txt").unlink()
    data = run(project, "--check", "--diff")
    changed = steps(data, host, "changed")
    drifted = ["fetch the payload back", "get_url with a checksum", "unarchive from the project"]
    assert sorted(changed) == drifted, changed
    diffs = {s["task"]: s.get("diff", "") for s in data["hosts"][host]["steps"]}
    assert "-edited" in diffs["unarchive from the project"]
    assert "+read me" in diffs["unarchive from the project"]
    assert "-edited" in diffs["get_url with a checksum"]
    assert "+" + PAYLOAD.strip() in diffs["get_url with a checksum"]
    assert ssh(ssh_config, host, "cat /srv/ms-net/app/README /srv/ms-net/payload.txt").stdout \
        == "edited\nedited\n"
    assert not (project / "fetched" / host / "srv/ms-net/payload.txt").exists()
    assert sorted(steps(run(project), host, "changed")) == drifted
    assert ssh(ssh_config, host, "cat /srv/ms-net/app/README").stdout == README
    assert ssh(ssh_config, host, "cat /srv/ms-net/payload.txt").stdout == PAYLOAD
    assert (project / "fetched" / host / "srv/ms-net/payload.txt").read_text() == PAYLOAD
