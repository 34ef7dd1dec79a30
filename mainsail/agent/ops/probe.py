"""probe: a health check from the host itself. It looks and never changes anything.

One of: `tcp: HOST:PORT` (the port accepts a connection; with `send`, the reply to one line
contains `expect`), or `http: URL` (the answer has `status`, default 200, and contains
`contains`). Retried `retries` times `delay` seconds apart, since a service that was just
reloaded may take a moment to answer.
"""
from __future__ import annotations

import http.client
import socket
import time
import urllib.parse
from typing import Any, Mapping, Optional

from ..core import OK, Context, OpError, Outcome, accept
from ..spec import Arg, OpSpec

def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    if bool(args.get("tcp")) == bool(args.get("http")):
        raise OpError("probe: give exactly one of tcp or http")
    attempts = max(1, int(args["retries"]))
    delay = float(args["delay"])
    problem = ""
    for attempt in range(attempts):
        problem = probe_once(args, float(args["timeout"]))
        if not problem:
            return Outcome(OK, "healthy" + (" after %d tries" % (attempt + 1) if attempt else ""))
        if attempt + 1 < attempts:
            time.sleep(delay)
    raise OpError("probe failed after %d tries: %s" % (attempts, problem),
                  hint="is the service running and listening where the probe looks?")


def probe_once(args: Mapping[str, Any], timeout: float) -> str:
    """'' when healthy, else what was wrong."""
    try:
        if args.get("tcp"):
            return tcp(str(args["tcp"]), args.get("send"), args.get("expect"), timeout)
        return get(str(args["http"]), int(args["status"]), args.get("contains"),
                   timeout)
    except (OSError, http.client.HTTPException) as exc:
        return "%s: %s" % (args.get("tcp") or args.get("http"), exc)


def split_address(text: str) -> tuple:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise OpError("probe: tcp must be HOST:PORT, not %r" % text)
    return host.strip("[]"), int(port)


def tcp(address: str, send: Optional[str], expect: Optional[str], timeout: float) -> str:
    with socket.create_connection(split_address(address), timeout=timeout) as sock:
        if send is None:
            return ""
        sock.sendall(str(send).encode("utf-8") + b"\n")
        reply = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in reply and time.monotonic() < deadline and len(reply) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    text = reply.decode("utf-8", "replace")
    if expect is not None and str(expect) not in text:
        return "%s answered %r, expected %r" % (address, text.strip()[:200], expect)
    return ""


def get(url: str, status: int, contains: Optional[str], timeout: float) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise OpError("probe: http must be an http:// URL, not %r" % url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", (parts.path or "/") + ("?" + parts.query if parts.query else ""),
                     headers={"User-Agent": "mainsail-probe"})
        answer = conn.getresponse()
        body = answer.read(1 << 20).decode("utf-8", "replace")
    finally:
        conn.close()
    if answer.status != status:
        return "GET %s gave %d, expected %d" % (url, answer.status, status)
    if contains is not None and str(contains) not in body:
        return "GET %s did not contain %r" % (url, contains)
    return ""


SPEC = OpSpec(
    name='probe',
    summary='a health check from the host: a port or a URL answers as it should',
    ansible='`wait_for`, `uri` (looking only)',
    args=(
        Arg('tcp', doc='`HOST:PORT` to connect to'),
        Arg('http', doc='`http://` URL to GET'),
        Arg('send', doc='with `tcp`: a line to send'),
        Arg('expect', doc='with `tcp` and `send`: text the reply must contain'),
        Arg('status', 'int', default=200, doc='with `http`: the status the answer must have'),
        Arg('contains', doc='with `http`: text the body must contain'),
        Arg('retries', 'int', default=10, doc='how many tries before the probe fails'),
        Arg('delay', 'float', default=0.5, doc='seconds between tries'),
        Arg('timeout', 'float', default=3.0, doc='seconds one try may take'),
    ),
    required=(('tcp', 'http'),),
    doc="""\
A health check, run on the host itself: it looks and never changes anything, so it reports
`ok` or `failed`, never `changed`. Probes are meant for a role's checks
(`roles/<name>/checks/main.yml`, see [playbooks.md](playbooks.md#transactions-and-checks)),
which run after the role's handlers; a failed check rolls the role's changes back. A probe
can also be an ordinary task.

Exactly one of `tcp` or `http`:

* `tcp: HOST:PORT`: the port accepts a connection. With `send`, one line is sent and the
  first line of the answer must contain `expect`.
* `http: URL` (plain `http://`): a GET whose status is `status` and whose body contains
  `contains`.

A service that was just reloaded may need a moment, so a probe tries `retries` times,
`delay` seconds apart, each try bounded by `timeout` seconds.
""",
    notes="""\
```yaml
- name: the guestbook answers
  probe:
    http: "http://{{ address }}/guestbook"
    contains: Guestbook
```

```yaml
- name: the echo server echoes
  probe:
    tcp: "{{ address }}:7000"
    send: ping
    expect: ping
    retries: 20
```

Notes:

* The probe runs on the host, so `127.0.0.1` and the host's own addresses mean the host.
* Failure message: `probe failed after N tries: WHAT`, with what the last try saw (refused,
  timed out, the status or text it got).
* Check mode: a check is not run (nothing changed to check); a probe task runs as usual.
""",
)
