#!/usr/bin/python3
"""Guestbook: a small CGI program that lists and stores visitor messages.

GET (and HEAD) shows the entries, newest first, with a form that POSTs back to
the same URL. POST stores one entry and answers 303 See Other to the page
(post/redirect/get), so reloading the page never posts twice.

Settings come from environment variables; Apache passes them with SetEnv.
No config file is needed.

  GUESTBOOK_DB          SQLite database file.
                        Default: /var/lib/guestbook/guestbook.db
                        Its folder must be writable by the CGI user: WAL mode
                        keeps -wal and -shm files next to the database.
  GUESTBOOK_TITLE       Page title. Default: Guestbook
  GUESTBOOK_SHOW_LIMIT  How many of the newest entries the page shows.
                        Default: 100
  GUESTBOOK_SMTP_HOST   SMTP server for new-entry notifications. Unset or
                        empty: no mail is sent.
  GUESTBOOK_SMTP_PORT   SMTP port. Default: 25
  GUESTBOOK_NOTIFY_TO   Notification recipients, comma separated. Unset or
                        empty: no mail is sent.
  GUESTBOOK_MAIL_FROM   Sender address. Default: guestbook@localhost
  GUESTBOOK_MAX_ENTRIES Most entries kept. Each new entry beyond it removes
                        the oldest, so the database cannot grow without
                        bound. Default: 10000

Forgery: a POST whose Origin header (or, without one, Referer) names another
site than the request's Host, or whose Sec-Fetch-Site says cross-site, is
refused with 403. Browsers send these headers with every form post; clients
that send neither (scripts) are not browsers a forged page could drive.
Every answer carries X-Content-Type-Options: nosniff, X-Frame-Options: DENY
and a Content-Security-Policy that allows only the page's own style, posting
to itself, and no framing (frame-ancestors 'none'). Names lose bidirectional
control characters (right-to-left override and the like), which could make a
name read as something else.

A mail failure is logged to stderr (Apache's error log) and never fails the
POST. Limits: name 100 characters, message 2000 characters, request body
16 KiB. Runs on Python 3.8 and later with the standard library only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import os
import random
import sqlite3
import sys
import time
import traceback
import unicodedata
import urllib.parse
from datetime import datetime, timezone
from http import HTTPStatus

DEFAULT_DB = "/var/lib/guestbook/guestbook.db"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_BODY = 16 * 1024
MAX_NAME = 100
MAX_MESSAGE = 2000
DEFAULT_MAX_ENTRIES = 10000
# Explicit formatting characters of the Unicode bidirectional algorithm: an
# override makes "gpj.exe" show as "exe.jpg".
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")
# sqlite's busy_timeout: a writer waits this long for the lock. Generous, so a
# burst of hundreds of simultaneous posts queues up instead of failing.
BUSY_TIMEOUT_S = 10.0
SMTP_TIMEOUT_S = 5.0

SCHEMA = """CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""

STYLE = """body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}
label{display:block;margin-top:.8em}input,textarea{width:100%;box-sizing:border-box}
article{border-top:1px solid #ccc;padding:.5em 0}.message{white-space:pre-wrap}
time{color:#666;font-size:.9em}"""


class Refused(Exception):
    """A request answered with a 4xx status; nothing was stored."""

    def __init__(self, status: int, text: str, headers: list | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers or []


class Response:
    def __init__(self, status: int, body: str, headers: list | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or []


# ---------------------------------------------------------------- storage

def db_path(environ: dict) -> str:
    return environ.get("GUESTBOOK_DB") or DEFAULT_DB


def is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def open_db(path: str) -> sqlite3.Connection:
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    # isolation_level=None: no implicit transactions; writes use explicit
    # BEGIN IMMEDIATE below. timeout sets sqlite's busy_timeout.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    use_wal(conn, path)
    # In WAL mode NORMAL stays consistent after a crash and avoids an fsync
    # per post; losing the last posts on power loss is acceptable here.
    conn.execute("PRAGMA synchronous=NORMAL")
    ensure_schema(conn)
    return conn


def use_wal(conn: sqlite3.Connection, path: str) -> None:
    """Switch to WAL once; the mode is stored in the database file."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    # Processes racing to create a fresh database can get "locked" here
    # without the busy handler being consulted, so retry for a while.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
        if time.monotonic() > deadline:
            log("could not switch %s to WAL mode; going on without it" % path)
            return
        time.sleep(random.uniform(0.01, 0.05))


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection):
    # IMMEDIATE takes the write lock up front, through the busy handler. A
    # deferred transaction that upgrades from reading to writing can get
    # SQLITE_BUSY at once when another process committed in between.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def ensure_schema(conn: sqlite3.Connection) -> None:
    # Check first so that page views never take the write lock.
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='entries'").fetchone()
    if not found:
        with write_transaction(conn):
            conn.execute(SCHEMA)


def add_entry(conn: sqlite3.Connection, name: str, message: str, created_at: str,
              keep: int = DEFAULT_MAX_ENTRIES) -> None:
    with write_transaction(conn):
        conn.execute("INSERT INTO entries (name, message, created_at) VALUES (?, ?, ?)",
                     (name, message, created_at))
        # the newest `keep` entries stay; ids only grow (AUTOINCREMENT)
        conn.execute("DELETE FROM entries WHERE id <= (SELECT MAX(id) FROM entries) - ?",
                     (keep,))


def max_entries(environ: dict) -> int:
    try:
        return max(1, int(environ.get("GUESTBOOK_MAX_ENTRIES") or DEFAULT_MAX_ENTRIES))
    except ValueError:
        return DEFAULT_MAX_ENTRIES


def newest_entries(conn: sqlite3.Connection, limit: int) -> list:
    # id, not created_at, orders entries: timestamps tie within a second.
    return conn.execute("SELECT name, message, created_at FROM entries"
                        " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def count_entries(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


# ---------------------------------------------------------------- pages

def esc(text: str) -> str:
    return html.escape(text, quote=True)


def page(environ: dict, content: str, subtitle: str = "") -> str:
    heading = esc(environ.get("GUESTBOOK_TITLE") or "Guestbook")
    if subtitle:
        heading += ": " + esc(subtitle)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<h1>%s</h1>\n%s\n"
            "</body>\n</html>\n" % (heading, STYLE, heading, content))


def self_url(environ: dict) -> str:
    # Percent-encode so that odd characters can never break the header or
    # the attribute; "/" and the usual path characters stay as they are.
    return urllib.parse.quote(environ.get("SCRIPT_NAME") or "/", safe="/:@!$&'()*+,;=~")


def form_html(environ: dict) -> str:
    return ("<form method=\"post\" action=\"%s\" accept-charset=\"utf-8\">\n"
            "<label for=\"name\">Name</label>\n"
            "<input id=\"name\" name=\"name\" maxlength=\"%d\" required>\n"
            "<label for=\"message\">Message</label>\n"
            "<textarea id=\"message\" name=\"message\" rows=\"5\" maxlength=\"%d\" required>"
            "</textarea>\n<p><button type=\"submit\">Sign the guestbook</button></p>\n</form>"
            % (esc(self_url(environ)), MAX_NAME, MAX_MESSAGE))


def entry_html(row: tuple) -> str:
    name, message, created_at = row
    shown = created_at.replace("T", " ").replace("Z", " UTC")
    return ("<article>\n<h2>%s</h2>\n<time datetime=\"%s\">%s</time>\n"
            "<p class=\"message\">%s</p>\n</article>"
            % (esc(name), esc(created_at), esc(shown), esc(message)))


def plural(count: int, one: str, many: str) -> str:
    return "%d %s" % (count, one if count == 1 else many)


def listing_html(rows: list, total: int) -> str:
    if not rows:
        return "<p>No entries yet. Be the first!</p>"
    note = "<p>%s.</p>" % plural(total, "entry", "entries")
    if total > len(rows):
        note = "<p>%s; the newest %d are shown.</p>" % (plural(total, "entry", "entries"),
                                                        len(rows))
    return note + "\n" + "\n".join(entry_html(row) for row in rows)


def show_limit(environ: dict) -> int:
    try:
        return max(1, int(environ.get("GUESTBOOK_SHOW_LIMIT") or 100))
    except ValueError:
        return 100


def error_page(environ: dict, status: int, text: str) -> str:
    return page(environ, "<p>%s</p>\n<p><a href=\"%s\">Back to the guestbook</a></p>"
                % (esc(text), esc(self_url(environ))), HTTPStatus(status).phrase)


# ---------------------------------------------------------------- requests

def handle(environ: dict, stdin) -> Response:
    method = (environ.get("REQUEST_METHOD") or "GET").upper()
    try:
        if method in ("GET", "HEAD"):  # Apache drops the body of a HEAD answer
            return show(environ)
        if method == "POST":
            return post(environ, stdin)
        raise Refused(405, "Method %s is not allowed here; use GET or POST." % method,
                      [("Allow", "GET, POST")])
    except Refused as refused:
        return Response(refused.status, error_page(environ, refused.status, refused.text),
                        refused.headers)


def show(environ: dict) -> Response:
    conn = open_db(db_path(environ))
    try:
        rows = newest_entries(conn, show_limit(environ))
        total = count_entries(conn)
    finally:
        conn.close()
    return Response(200, page(environ, form_html(environ) + "\n" + listing_html(rows, total)))


def same_site(environ: dict) -> bool:
    """Whether a POST comes from our own page, as far as the browser tells."""
    if (environ.get("HTTP_SEC_FETCH_SITE") or "").lower() in ("cross-site", "same-site"):
        return False
    source = environ.get("HTTP_ORIGIN")
    if source is None:
        source = environ.get("HTTP_REFERER")
    if source is None:
        return True  # not a browser: no page of another site can be sending this
    host = (environ.get("HTTP_HOST") or "").strip().lower()
    try:
        claimed = urllib.parse.urlsplit(source.strip()).netloc.lower()
    except ValueError:
        return False
    return bool(host) and claimed == host  # "null" (a sandboxed or hidden origin) never is


def post(environ: dict, stdin) -> Response:
    if not same_site(environ):
        raise Refused(403, "This form can only be sent from the guestbook's own page.")
    fields = read_form(environ, stdin)
    name, message = validate(fields)
    created_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn = open_db(db_path(environ))
    try:
        add_entry(conn, name, message, created_at, max_entries(environ))
    finally:
        conn.close()
    notify(environ, name, message, created_at)
    url = self_url(environ)
    body = page(environ, "<p>Your entry was saved. <a href=\"%s\">Back to the guestbook</a></p>"
                % esc(url), "Thank you")
    return Response(303, body, [("Location", url)])


def content_length(environ: dict) -> int:
    raw = (environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        raise Refused(411, "The request needs a Content-Length.")
    if not raw.isdigit():
        raise Refused(400, "The Content-Length %r is not a number." % raw)
    length = int(raw)
    if length > MAX_BODY:
        raise Refused(413, "The request body is too large (%d bytes; at most %d)."
                      % (length, MAX_BODY))
    return length


def media_type(environ: dict) -> str:
    return (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()


def read_body(stdin, length: int) -> bytes:
    # One read() may return less than asked from a pipe; stop at EOF.
    chunks = []
    left = length
    while left > 0:
        chunk = stdin.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    if left:
        raise Refused(400, "The request body ended %d bytes early." % left)
    return b"".join(chunks)


def read_form(environ: dict, stdin) -> dict:
    # Size checks come before reading so a huge body is never read in full.
    length = content_length(environ)
    if media_type(environ) != FORM_TYPE:
        raise Refused(415, "Send the form as %s." % FORM_TYPE)
    body = read_body(stdin, length)
    try:
        return urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                     encoding="utf-8", errors="strict", max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "The form data is not valid UTF-8 form encoding.") from None


def is_control(char: str) -> bool:
    # Only category Cc: format characters such as the zero-width joiner in
    # emoji sequences are real text and stay.
    return unicodedata.category(char) == "Cc"


def clean_name(text: str) -> str:
    # A name is one line: any run of whitespace or control characters
    # becomes one space; bidirectional controls are dropped.
    text = "".join(c for c in text if c not in BIDI_CONTROLS)
    return " ".join("".join(" " if is_control(c) else c for c in text).split())


def clean_message(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or not is_control(c)).strip()


def validate(fields: dict) -> tuple:
    name = clean_name((fields.get("name") or [""])[0])
    message = clean_message((fields.get("message") or [""])[0])
    missing = [label for label, value in (("name", name), ("message", message)) if not value]
    if missing:
        raise Refused(400, "Please fill in your %s." % " and ".join(missing))
    if len(name) > MAX_NAME:
        raise Refused(413, "The name is too long (%d characters; at most %d)."
                      % (len(name), MAX_NAME))
    if len(message) > MAX_MESSAGE:
        raise Refused(413, "The message is too long (%d characters; at most %d)."
                      % (len(message), MAX_MESSAGE))
    return name, message


# ---------------------------------------------------------------- mail

def notify(environ: dict, name: str, message: str, created_at: str) -> None:
    host = (environ.get("GUESTBOOK_SMTP_HOST") or "").strip()
    to = [a.strip() for a in (environ.get("GUESTBOOK_NOTIFY_TO") or "").split(",") if a.strip()]
    if not host or not to:
        return
    # Imported here: page views, the common case, skip their start-up cost.
    import smtplib
    try:
        port = int(environ.get("GUESTBOOK_SMTP_PORT") or 25)
        mail = notification(environ, to, name, message, created_at)
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.send_message(mail)
    except Exception as exc:  # the entry is stored; mail is only a courtesy
        log("notification mail to %s via %s failed: %s: %s"
            % (", ".join(to), host, type(exc).__name__, exc))


def notification(environ: dict, to: list, name: str, message: str, created_at: str):
    from email.message import EmailMessage
    mail = EmailMessage()
    mail["From"] = environ.get("GUESTBOOK_MAIL_FROM") or "guestbook@localhost"
    mail["To"] = ", ".join(to)
    mail["Subject"] = "New guestbook entry from %s" % name
    mail.set_content("%s wrote at %s:\n\n%s\n" % (name, created_at, message))
    return mail


# ---------------------------------------------------------------- CGI glue

def log(text: str) -> None:
    print("guestbook: %s" % text, file=sys.stderr, flush=True)


def failure(environ: dict, exc: BaseException) -> Response:
    # The client gets a plain page; the traceback goes to Apache's error log.
    traceback.print_exc(file=sys.stderr)
    if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
        return Response(503, error_page(environ, 503, "The guestbook is busy; "
                                        "please try again in a moment."),
                        [("Retry-After", "5")])
    return Response(500, error_page(environ, 500, "Something went wrong on our side. "
                                    "Please try again later."))


STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'sha256-%s'; "
     "form-action 'self'; frame-ancestors 'none'; base-uri 'none'" % STYLE_HASH),
]


def write_response(out, response: Response) -> None:
    lines = ["Status: %d %s" % (response.status, HTTPStatus(response.status).phrase),
             "Content-Type: text/html; charset=utf-8"]
    lines += ["%s: %s" % header for header in SECURITY_HEADERS]
    lines += ["%s: %s" % header for header in response.headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    out.write(head + response.body.encode("utf-8"))
    out.flush()


def main() -> int:
    environ = dict(os.environ)
    try:
        response = handle(environ, sys.stdin.buffer)
    except Exception as exc:
        response = failure(environ, exc)
    write_response(sys.stdout.buffer, response)
    return 0


if __name__ == "__main__":
    sys.exit(main())
