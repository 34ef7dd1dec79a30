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

from ..core import OK, Context, OpError, Outcome, check_args

ALLOWED = ("tcp", "http", "send", "expect", "status", "contains", "retries", "delay", "timeout")


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    check_args("probe", args, ALLOWED, [])
    if bool(args.get("tcp")) == bool(args.get("http")):
        raise OpError("probe: give exactly one of tcp or http")
    attempts = max(1, int(args.get("retries", 10)))
    delay = float(args.get("delay", 0.5))
    problem = ""
    for attempt in range(attempts):
        problem = probe_once(args, float(args.get("timeout", 3)))
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
        return get(str(args["http"]), int(args.get("status", 200)), args.get("contains"),
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
