"""wait_for: until a port answers (or stops, or drains) or a file appears (or goes)."""
from __future__ import annotations

import os
import re
import socket
import time
from typing import Any, Dict, List, Mapping, Optional, Pattern, Tuple

from .. import safepath
from ..core import FAILED, SKIPPED, Context, OpError, Outcome, accept, as_list, ok
from ..spec import Arg, OpSpec

PROC_NET = ("/proc/net/tcp", "/proc/net/tcp6")
# /proc/net/tcp state codes Ansible's `drained` waits out by default.
DEFAULT_ACTIVE = ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV", "SYN_SENT", "TIME_WAIT")
_TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
               "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
               "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("wait_for: %s" % problem[0], hint=problem[1])
    if ctx.check:  # what it waits for may come from a step check mode did not apply
        return Outcome(SKIPPED, "not waited for in check mode")
    started = time.monotonic()
    time.sleep(float(args["delay"]))
    deadline = started + float(args["timeout"])
    pattern = _pattern(args.get("search_regex"))
    state = str(args["state"])
    found: Optional["re.Match[str]"] = None
    if args.get("port") is None and not args.get("path"):
        time.sleep(float(args["timeout"]))  # Ansible: a plain wait of timeout, after delay
    while args.get("port") is not None or args.get("path"):
        done, found = _check(args, state, pattern)
        if done:
            break
        if time.monotonic() >= deadline:
            # Ansible's words exactly (roles compare them), and how long it waited
            return Outcome(FAILED, str(args.get("msg") or _timeout_msg(args, state, pattern)),
                           data={"elapsed": int(time.monotonic() - started), "state": state})
        time.sleep(min(float(args["sleep"]), max(0.0, deadline - time.monotonic())))
    elapsed = time.monotonic() - started
    outcome = ok("%s after %.1fs" % (_what(args, state), elapsed))
    outcome.data = {"elapsed": int(elapsed), "state": state,
                    "match_groups": list(found.groups()) if found else [],
                    "match_groupdict": found.groupdict() if found else {}}
    for key in ("path", "port", "search_regex"):
        if args.get(key) not in (None, ""):
            outcome.data[key] = args[key]
    return outcome


def _check(args: Mapping[str, Any], state: str,
           pattern: Optional[Pattern[str]]) -> Tuple[bool, Optional["re.Match[str]"]]:
    if args.get("path"):
        path = str(args["path"])
        exists = safepath.kind(path) != "absent"
        if state in ("absent", "stopped"):
            return not exists, None
        if not exists:
            return False, None
        if pattern is None:
            return True, None
        try:
            data = safepath.read_bytes(path) or b""
        except OSError:
            return False, None
        match = pattern.search(data.decode("utf-8", "replace"))
        return match is not None, match
    host, port = str(args["host"]), int(args["port"])
    if state == "drained":
        return not _active(port, args), None
    answered, match = _connect(host, port, float(args["connect_timeout"]), pattern)
    if state == "stopped":
        return not answered, None
    return answered and (pattern is None or match is not None), match


def _connect(host: str, port: int, timeout: float, pattern: Optional[Pattern[str]]
             ) -> Tuple[bool, Optional["re.Match[str]"]]:
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return False, None
    with conn:
        if pattern is None:
            return True, None
        received = ""
        conn.settimeout(timeout)
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                received += chunk.decode("utf-8", "replace")
                match = pattern.search(received)
                if match:
                    return True, match
        except OSError:
            pass
        match = pattern.search(received)
        return True, match


def _active(port: int, args: Mapping[str, Any]) -> bool:
    """Connections to ``port`` on this host in one of the active states, read from /proc."""
    states = set(as_list(args.get("active_connection_states")) or DEFAULT_ACTIVE)
    excluded = set(as_list(args.get("exclude_hosts")))
    for table in PROC_NET:
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 4:
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote = _address(fields[2].rsplit(":", 1)[0])
            if local_port == port and _TCP_STATES.get(fields[3]) in states \
                    and remote not in excluded:
                return True
    return False


def _address(hex_ip: str) -> str:
    """/proc/net/tcp's little-endian hex address as text (IPv4; IPv6 kept as hex)."""
    if len(hex_ip) == 8:
        return ".".join(str(int(hex_ip[i:i + 2], 16)) for i in (6, 4, 2, 0))
    return hex_ip


def _pattern(text: Any) -> Optional[Pattern[str]]:
    if text in (None, ""):
        return None
    try:
        return re.compile(str(text), re.MULTILINE)
    except re.error as exc:
        raise OpError("wait_for: search_regex %r is not a valid regex: %s" % (text, exc))


def _what(args: Mapping[str, Any], state: str) -> str:
    if not args.get("path") and args.get("port") is None:
        return "waited"  # a plain pause: nothing named to wait for
    where = str(args["path"]) if args.get("path") else "%s:%s" % (args["host"], args["port"])
    return "%s %s" % (where, state)


def _timeout_msg(args: Mapping[str, Any], state: str, pattern: Optional[Pattern[str]]) -> str:
    """Ansible's messages for a wait that timed out."""
    if args.get("path"):
        path = str(args["path"])
        if state in ("absent", "stopped"):
            return "Timeout when waiting for %s to be absent." % path
        if pattern is not None:
            return "Timeout when waiting for search string %s in %s" % (pattern.pattern, path)
        return "Timeout when waiting for file %s" % path
    where = "%s:%s" % (args["host"], args["port"])
    if state == "drained":
        return "Timeout when waiting for %s to drain" % where
    if state in ("absent", "stopped"):
        return "Timeout when waiting for %s to stop." % where
    if pattern is not None:
        return "Timeout when waiting for search string %s in %s" % (pattern.pattern, where)
    return "Timeout when waiting for %s" % where


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    has_port, has_path = args.get("port") is not None, bool(args.get("path"))
    state = args.get("state", "started")
    if has_port and has_path:
        return "give port or path, not both", "one wait_for task waits for one thing"
    if has_path and state == "drained":
        return "state: drained is for a port", "use present/absent with a path"
    if has_port and state in ("present", "absent"):
        return "state: %s is for a path" % state, "use started, stopped or drained for a port"
    if not has_port and not has_path and state != "started":
        return "state: %s needs port or path" % state, "add port: or path:"
    if args.get("search_regex") and state not in ("started", "present"):
        return "search_regex goes with state started or present", "drop one of them"
    return None


SPEC = OpSpec(
    name="wait_for",
    summary="wait until a port answers or closes, or a file appears or goes",
    ansible="`wait_for`",
    args=(
        Arg("host", default="127.0.0.1", doc="the address to connect to (from the host)"),
        Arg("port", "int", doc="the TCP port to wait for"),
        Arg("path", "abspath", doc="the file to wait for"),
        Arg("state", default="started", choices=("started", "stopped", "present", "absent",
                                                 "drained"),
            doc="port: `started` (answers), `stopped` (refuses), `drained` (no active "
                "connections); path: `present`/`started` (exists), `absent`/`stopped`"),
        Arg("search_regex", doc="a regex the port's first output or the file must match"),
        Arg("timeout", "int", default=300, doc="seconds before the step fails"),
        Arg("delay", "int", default=0, doc="seconds to wait before the first check"),
        Arg("sleep", "int", default=1, doc="seconds between checks"),
        Arg("connect_timeout", "int", default=5, doc="seconds one connection attempt may take"),
        Arg("msg", doc="the failure message instead of the default"),
        Arg("exclude_hosts", "names", doc="with `drained`: addresses whose connections "
                                          "do not count"),
        Arg("active_connection_states", "names",
            doc="with `drained`: the TCP states that count as active"),
    ),
    rule=_rule,
    doc="""\
Waits on the host until a TCP port answers (`started`, optionally until its first output
matches `search_regex`), refuses connections (`stopped`) or has no active connections left
(`drained`, read from `/proc/net/tcp`), or until a file exists (`present`, optionally holding
`search_regex`) or is gone (`absent`): Ansible's `wait_for`. With neither port nor path it
waits `timeout` seconds. It never changes anything (`ok`) and fails after `timeout` seconds;
in check mode it is `skipped`, as in Ansible (what it waits for may come from a step that
check mode did not apply). The result has Ansible's `elapsed`, `match_groups` and
`match_groupdict`.
""",
    notes="""\
```yaml
- name: the app answers
  wait_for:
    port: 8000
    timeout: 60

- name: the app has written its pid file
  wait_for:
    path: /run/guestbook/guestbook.pid
    state: present
```

Notes:

* The step's own time limit (`timeout:` as a task keyword) still applies and may end a
  long wait first.
""",
)
