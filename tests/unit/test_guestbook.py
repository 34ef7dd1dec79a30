"""Guestbook CGI: run as Apache runs it, one process per request, env + stdin in, stdout out."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import pytest

GUESTBOOK = Path(__file__).resolve().parents[2] / "roles" / "guestbook" / "files" / "app" / "guestbook.py"
SCRIPT_NAME = "/cgi-bin/guestbook.py"
FORM = "application/x-www-form-urlencoded"


class Reply(NamedTuple):
    status: int
    headers: dict
    body: str
    stderr: str


def cgi_env(db: Path, method: str, extra: dict) -> dict:
    # A clean environment, like Apache's: nothing leaks in from the test run.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GATEWAY_INTERFACE": "CGI/1.1",
           "REQUEST_METHOD": method, "SCRIPT_NAME": SCRIPT_NAME, "QUERY_STRING": "",
           "SERVER_PROTOCOL": "HTTP/1.1", "GUESTBOOK_DB": str(db)}
    env.update(extra)
    return env


def parse_reply(stdout: bytes, stderr: bytes) -> Reply:
    head, sep, body = stdout.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = stdout.partition(b"\n\n")
    assert sep, "no header/body separator in CGI output: %r" % stdout[:300]
    headers = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    status = int(headers["status"].split()[0])
    return Reply(status, headers, body.decode("utf-8"), stderr.decode("utf-8", "replace"))


def run_cgi(db: Path, method: str = "GET", body: bytes = b"", **extra: str) -> Reply:
    done = subprocess.run([sys.executable, str(GUESTBOOK)], input=body, capture_output=True,
                          env=cgi_env(db, method, extra), timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    return parse_reply(done.stdout, done.stderr)


def form(**fields: str) -> bytes:
    return urllib.parse.urlencode(fields).encode("ascii")


def post(db: Path, body: bytes, **extra: str) -> Reply:
    extra.setdefault("CONTENT_TYPE", FORM)
    extra.setdefault("CONTENT_LENGTH", str(len(body)))
    return run_cgi(db, "POST", body, **extra)


def sign(db: Path, name: str, message: str, **extra: str) -> Reply:
    return post(db, form(name=name, message=message), **extra)


def stored(db: Path) -> list:
    if not db.exists():
        return []
    with sqlite3.connect(str(db)) as conn:
        return conn.execute("SELECT name, message FROM entries ORDER BY id").fetchall()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "guestbook.db"


# ---------------------------------------------------------------- reading

def test_get_on_a_new_guestbook_shows_the_form_and_no_entries(db: Path) -> None:
    reply = run_cgi(db)
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert '<form method="post" action="%s"' % SCRIPT_NAME in reply.body
    assert 'name="name"' in reply.body and 'name="message"' in reply.body
    assert "No entries yet" in reply.body
    assert "<article>" not in reply.body


def test_database_is_in_wal_mode(db: Path) -> None:
    run_cgi(db)
    with sqlite3.connect(str(db)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# ---------------------------------------------------------------- posting

def test_post_redirects_to_the_page_and_the_entry_is_shown(db: Path) -> None:
    reply = sign(db, "Ada", "Hello from the engine room")
    assert reply.status == 303
    assert reply.headers["location"] == SCRIPT_NAME
    assert stored(db) == [("Ada", "Hello from the engine room")]
    page = run_cgi(db).body
    assert "<h2>Ada</h2>" in page
    assert "Hello from the engine room" in page
    assert "1 entry." in page


def test_entries_carry_a_utc_timestamp(db: Path) -> None:
    sign(db, "Ada", "hi")
    with sqlite3.connect(str(db)) as conn:
        created_at = conn.execute("SELECT created_at FROM entries").fetchone()[0]
    when = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 60
    assert '<time datetime="%s">' % created_at in run_cgi(db).body


def test_entries_are_listed_newest_first(db: Path) -> None:
    for word in ("first", "second", "third"):
        assert sign(db, "n-" + word, "m-" + word).status == 303
    page = run_cgi(db).body
    assert page.index("m-third") < page.index("m-second") < page.index("m-first")


def test_user_text_is_html_escaped(db: Path) -> None:
    sign(db, "<script>alert(1)</script>", '"quoted" & <b>bold</b>')
    page = run_cgi(db).body
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in page


def test_utf8_text_round_trips(db: Path) -> None:
    name, message = "Zoë 李雷", "Grüße 👋🏽\nzweite Zeile"
    assert sign(db, name, message).status == 303
    assert stored(db) == [(name, message)]
    page = run_cgi(db).body
    assert name in page and message in page


def test_charset_parameter_on_the_content_type_is_accepted(db: Path) -> None:
    reply = sign(db, "Ada", "hi", CONTENT_TYPE=FORM + "; charset=UTF-8")
    assert reply.status == 303
    assert stored(db) == [("Ada", "hi")]


def test_text_is_trimmed_and_line_ends_normalised(db: Path) -> None:
    sign(db, "  Ada\r\n Lovelace ", "\r\n line one\r\nline two \r\n")
    assert stored(db) == [("Ada Lovelace", "line one\nline two")]


def test_fifty_concurrent_posts_are_all_stored(db: Path) -> None:
    procs = []
    for i in range(50):
        body = form(name="writer %d" % i, message="message %d" % i)
        proc = subprocess.Popen([sys.executable, str(GUESTBOOK)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=cgi_env(db, "POST", {"CONTENT_TYPE": FORM,
                                                         "CONTENT_LENGTH": str(len(body))}))
        # Small bodies fit the pipe buffer: write now so all processes run at once.
        proc.stdin.write(body)
        proc.stdin.close()
        procs.append(proc)
    statuses = []
    for proc in procs:
        # Replies are small enough for the pipe buffers, so waiting first is safe.
        proc.wait(timeout=60)
        with proc.stdout, proc.stderr:
            statuses.append(parse_reply(proc.stdout.read(), proc.stderr.read()).status)
    assert statuses == [303] * 50
    rows = stored(db)
    assert len(rows) == 50
    assert sorted(rows) == sorted(("writer %d" % i, "message %d" % i) for i in range(50))


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("fields", [
    {"name": "", "message": "hi"},
    {"name": "Ada", "message": ""},
    {"name": "   ", "message": "\r\n"},
    {"message": "no name field"},
    {},
])
def test_missing_or_empty_fields_are_refused_with_400(db: Path, fields: dict) -> None:
    reply = post(db, form(**fields))
    assert reply.status == 400
    assert "Please fill in your" in reply.body
    assert stored(db) == []


def test_longest_allowed_name_and_message_are_accepted(db: Path) -> None:
    assert sign(db, "n" * 100, "m" * 2000).status == 303
    assert stored(db) == [("n" * 100, "m" * 2000)]


@pytest.mark.parametrize("name, message, what", [
    ("n" * 101, "hi", "name is too long"),
    ("Ada", "m" * 2001, "message is too long"),
])
def test_over_long_fields_are_refused_with_413(db: Path, name: str, message: str,
                                               what: str) -> None:
    reply = sign(db, name, message)
    assert reply.status == 413
    assert what in reply.body
    assert stored(db) == []


def test_length_limits_count_characters_not_bytes(db: Path) -> None:
    # Two UTF-8 bytes each, so byte counting would refuse both.
    assert sign(db, "ü" * 100, "ß" * 2000).status == 303
    assert stored(db) == [("ü" * 100, "ß" * 2000)]


def test_body_of_exactly_16_kib_is_accepted(db: Path) -> None:
    body = form(name="Ada", message="hi") + b"&pad="
    body += b"x" * (16 * 1024 - len(body))
    assert len(body) == 16 * 1024
    assert post(db, body).status == 303


def test_body_over_16_kib_is_refused_with_413(db: Path) -> None:
    body = form(name="Ada", message="hi") + b"&pad=" + b"x" * (16 * 1024)
    reply = post(db, body)
    assert reply.status == 413
    assert stored(db) == []


def test_huge_content_length_is_refused_without_reading_the_body(db: Path) -> None:
    env = cgi_env(db, "POST", {"CONTENT_TYPE": FORM, "CONTENT_LENGTH": str(10 ** 9)})
    proc = subprocess.Popen([sys.executable, str(GUESTBOOK)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        proc.stdin.write(b"name=Ada&message=")
        proc.stdin.flush()
        # stdin stays open: a program that waited for the promised gigabyte would hang.
        assert proc.wait(timeout=15) == 0
        reply = parse_reply(proc.stdout.read(), proc.stderr.read())
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    assert reply.status == 413
    assert stored(db) == []


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x",
                                          "application/json", ""])
def test_other_content_types_are_refused_with_415(db: Path, content_type: str) -> None:
    reply = sign(db, "Ada", "hi", CONTENT_TYPE=content_type)
    assert reply.status == 415
    assert stored(db) == []


@pytest.mark.parametrize("length, status", [("", 411), ("abc", 400), ("-5", 400), ("1e3", 400)])
def test_missing_or_bad_content_length_is_refused(db: Path, length: str, status: int) -> None:
    reply = sign(db, "Ada", "hi", CONTENT_LENGTH=length)
    assert reply.status == status
    assert stored(db) == []


def test_body_shorter_than_content_length_is_refused_with_400(db: Path) -> None:
    body = form(name="Ada", message="hi")
    reply = post(db, body, CONTENT_LENGTH=str(len(body) + 10))
    assert reply.status == 400
    assert stored(db) == []


def test_invalid_utf8_is_refused_with_400(db: Path) -> None:
    reply = post(db, b"name=%FF%FE&message=hi")
    assert reply.status == 400
    assert stored(db) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_refused_with_405_and_allow(db: Path, method: str) -> None:
    reply = run_cgi(db, method, form(name="Ada", message="hi"), CONTENT_TYPE=FORM,
                    CONTENT_LENGTH="17")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, POST"
    assert stored(db) == []


def test_unexpected_error_gives_500_without_a_traceback(tmp_path: Path) -> None:
    # A folder where the database file should be: sqlite cannot open it.
    reply = run_cgi(tmp_path)
    assert reply.status == 500
    assert "Traceback" not in reply.body and "sqlite" not in reply.body.lower()
    assert "Traceback" in reply.stderr


# ---------------------------------------------------------------- mail

class SmtpSink(threading.Thread):
    """Accepts one SMTP session on 127.0.0.1 and keeps the message."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.server.settimeout(15)
        self.port = self.server.getsockname()[1]
        self.envelope: dict = {"rcpt": []}
        self.data = b""

    def run(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn, conn.makefile("rwb") as stream:
            conn.settimeout(15)
            self.session(stream)

    def session(self, stream) -> None:
        reply = lambda text: (stream.write(text.encode() + b"\r\n"), stream.flush())
        reply("220 sink ready")
        for line in iter(stream.readline, b""):
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                reply("250 sink")
            elif verb == b"MAIL":
                self.envelope["from"] = line.decode().strip()
                reply("250 ok")
            elif verb == b"RCPT":
                self.envelope["rcpt"].append(line.decode().strip())
                reply("250 ok")
            elif verb == b"DATA":
                reply("354 go ahead")
                self.data = self.read_data(stream)
                reply("250 queued")
            elif verb == b"QUIT":
                reply("221 bye")
                return
            else:
                reply("502 not here")

    @staticmethod
    def read_data(stream) -> bytes:
        lines = []
        for line in iter(stream.readline, b""):
            if line == b".\r\n":
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def close(self) -> None:
        self.server.close()
        self.join(5)


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.close()


def test_new_entry_is_mailed_when_smtp_is_configured(db: Path, smtp_sink: SmtpSink) -> None:
    reply = sign(db, "Zoë", "Nice <site>!", GUESTBOOK_SMTP_HOST="127.0.0.1",
                 GUESTBOOK_SMTP_PORT=str(smtp_sink.port), GUESTBOOK_NOTIFY_TO="ops@example.test",
                 GUESTBOOK_MAIL_FROM="guestbook@example.test")
    assert reply.status == 303
    smtp_sink.join(10)
    assert "guestbook@example.test" in smtp_sink.envelope["from"]
    assert any("ops@example.test" in rcpt for rcpt in smtp_sink.envelope["rcpt"])
    mail = email.message_from_bytes(smtp_sink.data, policy=email.policy.default)
    assert mail["To"] == "ops@example.test"
    assert "Zoë" in mail["Subject"]
    assert "Nice <site>!" in mail.get_content()


def test_dead_smtp_server_does_not_fail_the_post(db: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    reply = sign(db, "Ada", "hi", GUESTBOOK_SMTP_HOST="127.0.0.1", GUESTBOOK_SMTP_PORT=str(port),
                 GUESTBOOK_NOTIFY_TO="ops@example.test", GUESTBOOK_MAIL_FROM="gb@example.test")
    assert reply.status == 303
    assert time.monotonic() - started < 5
    assert stored(db) == [("Ada", "hi")]
    assert "notification mail" in reply.stderr and "failed" in reply.stderr


def test_no_mail_is_attempted_without_an_smtp_host(db: Path) -> None:
    reply = sign(db, "Ada", "hi", GUESTBOOK_NOTIFY_TO="ops@example.test")
    assert reply.status == 303
    assert reply.stderr == ""  # no failed delivery to some default host


# ---------------------------------------------------------------- hostile visitors

def test_every_answer_forbids_sniffing_framing_and_foreign_content(db: Path) -> None:
    for reply in (run_cgi(db), sign(db, "Ann", "hi"), run_cgi(db, "DELETE")):
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
        csp = reply.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "form-action 'self'" in csp


def test_the_page_style_is_allowed_by_its_hash(db: Path) -> None:
    import base64
    import hashlib
    import re
    reply = run_cgi(db)
    style = re.search(r"<style>(.*?)</style>", reply.body, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert "'sha256-%s'" % digest in reply.headers["content-security-policy"]


@pytest.mark.parametrize("headers", [
    {"HTTP_ORIGIN": "https://evil.example", "HTTP_HOST": "guestbook.example"},
    {"HTTP_ORIGIN": "null", "HTTP_HOST": "guestbook.example"},
    {"HTTP_REFERER": "https://evil.example/page", "HTTP_HOST": "guestbook.example"},
    {"HTTP_SEC_FETCH_SITE": "cross-site", "HTTP_HOST": "guestbook.example"},
    {"HTTP_ORIGIN": "https://guestbook.example.evil.example", "HTTP_HOST": "guestbook.example"},
])
def test_a_post_forged_by_another_site_is_refused(db: Path, headers: dict) -> None:
    reply = sign(db, "Mallory", "forged", **headers)
    assert reply.status == 403
    assert stored(db) == []


@pytest.mark.parametrize("headers", [
    {"HTTP_ORIGIN": "https://guestbook.example", "HTTP_HOST": "guestbook.example",
     "HTTP_SEC_FETCH_SITE": "same-origin"},
    {"HTTP_REFERER": "http://guestbook.example:8080/cgi-bin/guestbook.py",
     "HTTP_HOST": "guestbook.example:8080"},
    {},  # a script, not a browser
])
def test_a_post_from_the_guestbooks_own_page_is_stored(db: Path, headers: dict) -> None:
    assert sign(db, "Ann", "hello", **headers).status == 303
    assert stored(db) == [("Ann", "hello")]


def test_stored_entries_are_capped_keeping_the_newest(db: Path) -> None:
    for n in range(5):
        assert sign(db, "n%d" % n, "m", GUESTBOOK_MAX_ENTRIES="3").status == 303
    assert [name for name, _ in stored(db)] == ["n2", "n3", "n4"]


def test_the_default_cap_is_documented() -> None:
    text = GUESTBOOK.read_text()
    assert "GUESTBOOK_MAX_ENTRIES" in text and "Default: 10000" in text


def test_bidi_controls_are_removed_from_names(db: Path) -> None:
    assert sign(db, "Ann\u202egpj.exe\u2066x\u2069\u200f", "hi").status == 303
    assert stored(db) == [("Anngpj.exex", "hi")]
