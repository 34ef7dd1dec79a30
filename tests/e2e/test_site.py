"""The example site end to end: playbooks/site.yml deployed from the repo's own inventory to
the testbed (web1, web2, mail1, echo1), then used over the network as a client would."""

import http.client
import json
import re
import smtplib
import socket
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import inv
from tests.e2e.test_testbed import ssh

WEB1, MAIL1, ECHO1 = "127.0.0.11", "127.0.0.21", "127.0.0.31"
OUTSIDE = "127.0.0.99"  # a client address outside mynetworks
ECHO_PORT = 7000
DOMAIN = "example.test"
MAILBOX = "/home/webmaster/Maildir"


def deploy(tmp: Path, *args: str) -> dict:
    report = tmp / ("deploy-%s.json" % uuid.uuid4().hex[:8])
    done = inv("deploy", "--json", str(report), *args, check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(report.read_text())["hosts"]


@pytest.fixture(scope="module")
def site(live_testbed, tmp_path_factory) -> dict:
    """The whole site deployed; the first deploy on fresh hosts installs the packages."""
    hosts = deploy(tmp_path_factory.mktemp("site"))
    assert set(hosts) == set(live_testbed)
    assert all(h["failed"] == 0 for h in hosts.values()), hosts
    return hosts


def run_id() -> str:
    return uuid.uuid4().hex[:10]


def wait_for(what: str, check, timeout: float = 20.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("no %s within %.0f s" % (what, timeout))
        time.sleep(every)


# ---------------------------------------------------------------------------- guestbook

def request(method: str, path: str = "/guestbook", body: bytes | None = None,
         headers: dict | None = None, host: str = WEB1) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection(host, 80, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def post(name: str, message: str, host: str = WEB1) -> tuple[int, dict, str]:
    form = urllib.parse.urlencode({"name": name, "message": message}).encode()
    return request("POST", body=form, host=host,
                headers={"Content-Type": "application/x-www-form-urlencoded"})


def entry_count(page: str) -> int:
    found = re.search(r"<p>(\d+) entr(?:y|ies)[.;]", page)
    return int(found.group(1)) if found else 0


def count(host: str = WEB1) -> int:
    status, _, page = request("GET", host=host)
    assert status == 200
    return entry_count(page)


def test_guestbook_page_is_served_with_minimal_server_tokens(site):
    status, headers, page = request("GET")
    assert status == 200 and '<form method="post" action="/guestbook"' in page
    assert headers["Server"] == "Apache"


def test_a_posted_entry_appears_and_markup_comes_back_escaped(site):
    name = "visitor-%s" % run_id()
    status, headers, _ = post(name, "<script>alert('hi')</script>")
    assert status == 303 and headers["Location"] == "/guestbook"
    _, _, page = request("GET")
    assert "<h2>%s</h2>" % name in page
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in page
    assert "<script>" not in page


def test_over_long_posts_are_refused_and_nothing_is_stored(site):
    before = count()
    marker = run_id()
    status, _, _ = post("long-%s" % marker, "x" * 2001)  # the program's limit: 2000
    assert status == 413
    status, _, _ = post("huge-%s" % marker, "x" * 20000)  # Apache's LimitRequestBody
    assert status == 413
    _, _, page = request("GET")
    assert marker not in page and entry_count(page) == before


def test_no_directory_listing(site):
    status, _, page = request("GET", "/")
    assert status in (403, 404) and "Index of" not in page


def test_200_concurrent_posts_give_200_entries(site):
    before = count()
    batch = run_id()

    def one(i: int) -> int:
        return post("burst-%s-%03d" % (batch, i), "entry %d of 200" % i)[0]

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(one, range(200), timeout=120))
    assert statuses == [303] * 200
    assert count() == before + 200


def test_each_entry_is_mailed_to_the_site_mail_host(site, ssh_config):
    name = "mailed-%s" % run_id()
    assert post(name, "hello by mail")[0] == 303
    wait_for("notification mail", lambda: ssh(
        ssh_config, "mail1", "grep -rl 'New guestbook entry from %s' %s/new" % (name, MAILBOX),
        check=False).returncode == 0)


def test_web2_serves_its_own_guestbook(site):
    status, _, page = request("GET", host="127.0.0.12")
    assert status == 200 and "<h1>Guestbook</h1>" in page


# ---------------------------------------------------------------------------- echo server

def echo(line: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection((ECHO1, ECHO_PORT), timeout=timeout) as conn:
        conn.sendall(line)
        return conn.makefile("rb").readline()


def test_echo_server_echoes_a_line(site):
    line = b"hello from the test %s\n" % run_id().encode()
    assert echo(line) == line


def test_echo_server_serves_again_within_seconds_after_kill_9(site, ssh_config):
    pid = ssh(ssh_config, "echo1", "supervisorctl pid echo_server").stdout.strip()
    assert pid.isdigit() and pid != "0"
    ssh(ssh_config, "echo1", "kill -9 %s" % pid)
    killed = time.monotonic()

    def serving() -> bool:
        try:
            return echo(b"back?\n", timeout=1.0) == b"back?\n"
        except OSError:
            return False
    wait_for("echo server after kill -9", serving, timeout=10.0, every=0.1)
    assert time.monotonic() - killed < 10.0
    new_pid = ssh(ssh_config, "echo1", "supervisorctl pid echo_server").stdout.strip()
    assert new_pid.isdigit() and new_pid != pid


def test_a_changed_program_leaves_the_others_running(site, ssh_config):
    before = ssh(ssh_config, "echo1", "supervisorctl pid echo_server").stdout.strip()
    for command, state in (("/bin/sleep 1000", "started"), ("/bin/sleep 2000", "started"),
                           ("/bin/sleep 2000", "absent")):
        program = '[{name: ticker, command: "%s", user: nobody, state: %s}]' % (command, state)
        inv("deploy", "--host=echo1", "--var", "supervisor_programs=" + program, timeout=120)
        if state == "started":
            status = ssh(ssh_config, "echo1", "supervisorctl status ticker", check=False).stdout
            assert re.search(r"\b(RUNNING|STARTING)\b", status), status
    assert "ticker" not in ssh(ssh_config, "echo1", "supervisorctl status", check=False).stdout
    assert ssh(ssh_config, "echo1", "supervisorctl pid echo_server").stdout.strip() == before


# ---------------------------------------------------------------------------- mail

def smtp_from(source: str) -> smtplib.SMTP:
    return smtplib.SMTP(MAIL1, 25, timeout=10, source_address=(source, 0))


def test_mail_to_a_local_user_lands_in_the_mailbox(site, ssh_config):
    subject = "test mail %s" % run_id()
    message = "From: tester@outside.example\r\nTo: webmaster@%s\r\nSubject: %s\r\n\r\nhi\r\n" % (
        DOMAIN, subject)
    with smtp_from(OUTSIDE) as smtp:
        assert smtp.sendmail("tester@outside.example", ["webmaster@%s" % DOMAIN],
                             message) == {}
    wait_for("delivery to webmaster", lambda: ssh(
        ssh_config, "mail1", "grep -rl 'Subject: %s' %s/new" % (subject, MAILBOX),
        check=False).returncode == 0)


def test_relaying_from_outside_mynetworks_is_refused(site):
    with smtp_from(OUTSIDE) as smtp:
        smtp.ehlo()
        assert smtp.mail("tester@outside.example")[0] == 250
        code, text = smtp.rcpt("someone@elsewhere.example")
    assert code == 554 and b"Relay access denied" in text


def test_inventory_hosts_may_relay(site):
    with smtp_from(WEB1) as smtp:  # web1's address is in mynetworks
        smtp.ehlo()
        assert smtp.mail("guestbook@web1.%s" % DOMAIN)[0] == 250
        assert smtp.rcpt("someone@elsewhere.example")[0] == 250
        smtp.rset()  # nothing is sent


# ---------------------------------------------------------------------------- the site

def test_every_host_knows_every_other_by_name(site, ssh_config, live_testbed):
    names = " ".join("%s.%s" % (name, DOMAIN) for name in live_testbed)
    for host in live_testbed:
        found = ssh(ssh_config, host, "getent hosts %s" % names).stdout.split("\n")
        resolved = {line.split()[1]: line.split()[0] for line in found if line.strip()}
        assert resolved == {"%s.%s" % (n, DOMAIN): a for n, a in live_testbed.items()}, host


def test_verify_passes_on_every_host(site):
    done = inv("verify", check=False, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
    assert done.stdout.count(": passed") == 4


def test_deploy_of_one_host_touches_only_that_host(site, tmp_path):
    hosts = deploy(tmp_path, "--host=web1")
    assert list(hosts) == ["web1"] and hosts["web1"]["changed"] == 0


def test_second_deploy_of_the_whole_site_changes_nothing(site, tmp_path):
    hosts = deploy(tmp_path)
    assert {name: h["changed"] for name, h in hosts.items()} == {
        "web1": 0, "web2": 0, "mail1": 0, "echo1": 0}


def echo_answers(address: str = ECHO1) -> bool:
    try:
        with socket.create_connection((address, ECHO_PORT), timeout=5) as sock:
            sock.sendall(b"after reboot\n")
            return sock.recv(100) == b"after reboot\n"
    except OSError:
        return False


def test_after_a_reboot_the_site_comes_back_by_itself(site):
    # systemd starts what the site enabled: apache on web2 (trixie), supervisor and the echo
    # server under it on echo1 (trixie); no deploy runs in between.
    for host in ("web2", "echo1"):
        done = inv("testbed.reboot", host, timeout=120)
        assert "rebooted in" in done.stdout
    wait_for("the guestbook on web2", lambda: request("GET", host="127.0.0.12")[0] == 200
             if port_open("127.0.0.12", 80) else False)
    wait_for("the echo server on echo1", echo_answers)
    plan = inv("plan", check=False, timeout=300)
    assert plan.returncode == 0, plan.stdout[-4000:]


def port_open(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False
