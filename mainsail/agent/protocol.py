"""The messages between controller and agent (docs/architecture.md), checked at the boundary.

One JSON object per line. Both ends use this module: the agent to read requests and steps, the
controller to read what a host sends. A host is not trusted to be well-behaved: every line is
bounded in size and nesting depth before it is parsed, and every message is checked field by
field, so a bad message is a :class:`ProtocolError` for that host alone (never a
RecursionError or a KeyError in the controller). Stdlib only, Python >= 3.8.

The agent offers the protocol versions it speaks in hello; the controller picks the newest it
speaks too and names it in every request.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from .record import Frozen

VERSIONS = (1,)  # the versions this side speaks, oldest first
MAX_LINE_BYTES = 64 << 20  # a result carries at most a few MiB of output; blobs go the other way
MAX_DATA_BYTES = 16 << 20  # a step's module-specific results (StepResult.data), as JSON
MAX_DEPTH = 64  # facts and results nest a few levels; a host sending more is not an agent
STEP_STATUSES = ("ok", "changed", "failed", "ignored", "skipped")
HOST_VERDICTS = ("ok", "failed", "rolled back", "stopped")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


class ProtocolError(ValueError):
    """A message that breaks the protocol: too big, too deep, not JSON, or the wrong shape."""


# ---------------------------------------------------------------------------- lines

def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def decode(line: bytes, limit: Optional[int] = None) -> Dict[str, Any]:
    """One line -> a JSON object, refusing what is too long or too deeply nested first."""
    limit = MAX_LINE_BYTES if limit is None else limit
    if len(line) > limit:
        raise ProtocolError("a message of more than %d bytes" % limit)
    # no deeper than its count of opening brackets: counted in C, the exact depth (a regex
    # pass over the line) only where that count could be too many
    if line.count(b"[") + line.count(b"{") > MAX_DEPTH and nesting_depth(line) > MAX_DEPTH:
        raise ProtocolError("a message nested more than %d levels deep" % MAX_DEPTH)
    try:
        message = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError("not JSON (%s): %r" % (type(exc).__name__, line[:200]))
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object, not %r" % line[:200])
    return message


def nesting_depth(line: bytes) -> int:
    """How deep arrays and objects nest, strings left out (a bracket in a string is text)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', line)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def negotiate(offered: Any) -> int:
    """The newest version both sides speak."""
    versions = offered if isinstance(offered, list) else [offered]
    common = [v for v in versions if isinstance(v, int) and not isinstance(v, bool)
              and v in VERSIONS]
    if not common:
        raise ProtocolError("the agent speaks protocol %r, this controller %r"
                            % (offered, list(VERSIONS)))
    return max(common)


# ---------------------------------------------------------------------------- field checks

def _field(data: Mapping[str, Any], key: str, kinds: Union[type, Tuple[type, ...]],
           default: Any = None, what: str = "message") -> Any:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) and bool not in _as_tuple(kinds):
        raise ProtocolError("%s: %s must be %s, not %r" % (what, key, _names(kinds), value))
    if not isinstance(value, kinds):
        raise ProtocolError("%s: %s must be %s, not %s" % (what, key, _names(kinds),
                                                          type(value).__name__))
    return value


def _as_tuple(kinds: Union[type, Tuple[type, ...]]) -> Tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _names(kinds: Union[type, Tuple[type, ...]]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kinds))


def _object(value: Any, what: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError("%s must be an object, not %s" % (what, type(value).__name__))
    return value


def _strings(value: Any, what: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError("%s must be a list of strings" % what)
    return tuple(value)


# ---------------------------------------------------------------------------- messages

class Hello(Frozen):
    """Agent -> controller, first: the host's facts, the agent's digest, its versions, and
    whether a resident agent's fork is the one speaking (resident.py)."""

    __slots__ = ("facts", "agent", "protocol", "resident")
    facts: Dict[str, Any]
    agent: str
    protocol: Tuple[int, ...]
    resident: bool

    def __init__(self, facts: Dict[str, Any], agent: str,
                 protocol: Tuple[int, ...] = VERSIONS, resident: bool = False) -> None:
        self._fill(facts, agent, protocol, resident)

    @classmethod
    def from_wire(cls, data: Any) -> "Hello":
        data = _object(data, "hello")
        offered = data.get("protocol", [1])  # an agent from before negotiation speaks 1
        return cls(_object(data.get("facts", {}), "hello facts"),
                   _field(data, "agent", str, "", "hello"),
                   tuple(offered) if isinstance(offered, list) else (offered,),
                   data.get("resident") is True)

    def to_wire(self) -> Dict[str, Any]:
        wire = {"facts": self.facts, "agent": self.agent, "protocol": list(self.protocol)}
        if self.resident:
            wire["resident"] = True
        return {"hello": wire}


class Step(Frozen):
    """One operation to apply. ``become``, ``become_user`` and ``timeout`` (seconds) are
    carried for per-step privilege and step time limits; None means the session's own.
    ``args`` and ``extra`` left out (None) are new empty dicts."""

    __slots__ = ("id", "op", "args", "name", "txn", "notify", "no_log", "ignore_errors",
                 "where", "handler", "check", "become", "become_user", "timeout", "caught",
                 "check_mode", "diff", "later", "extra")
    id: int
    op: str
    args: Dict[str, Any]
    name: str
    txn: Optional[str]
    notify: Tuple[str, ...]
    no_log: bool
    ignore_errors: bool
    where: str
    handler: Optional[str]
    check: bool
    become: Optional[bool]
    become_user: Optional[str]
    timeout: Optional[float]
    caught: bool  # a block's rescue/always handles its failure: the request ends
    # there, the host does not fail, nothing is rolled back
    check_mode: Optional[bool]  # the task's own check_mode: over the request's check
    diff: Optional[bool]  # the task's own diff: over the request's
    later: bool  # the controller judges its outcome (changed_when / failed_when the
    # host cannot evaluate): a failure here neither ends the request nor rolls anything back
    extra: Dict[str, Any]  # display fields (action, role, tags)

    KNOWN = ("id", "op", "args", "name", "txn", "notify", "no_log", "ignore_errors", "where",
             "handler", "check", "become", "become_user", "timeout", "caught", "check_mode",
             "diff", "later")

    def __init__(self, id: int, op: str, args: Optional[Dict[str, Any]] = None,
                 name: str = "", txn: Optional[str] = None, notify: Tuple[str, ...] = (),
                 no_log: bool = False, ignore_errors: bool = False, where: str = "",
                 handler: Optional[str] = None, check: bool = False,
                 become: Optional[bool] = None, become_user: Optional[str] = None,
                 timeout: Optional[float] = None, caught: bool = False,
                 check_mode: Optional[bool] = None, diff: Optional[bool] = None,
                 later: bool = False, extra: Optional[Dict[str, Any]] = None) -> None:
        self._fill(id, op, {} if args is None else args, name, txn, notify, no_log, ignore_errors,
                   where, handler, check, become, become_user, timeout, caught, check_mode, diff,
                   later, {} if extra is None else extra)

    @classmethod
    def from_wire(cls, data: Any) -> "Step":
        data = _object(data, "step")
        what = "step %r" % (data.get("id"),)
        timeout = _field(data, "timeout", (int, float), None, what)
        if timeout is not None and timeout <= 0:
            raise ProtocolError("%s: timeout must be more than 0 seconds" % what)
        return cls(
            id=_field(data, "id", int, None, what) if "id" in data else 0,
            op=_field(data, "op", str, "", what),
            args=_object({} if data.get("args") is None else data["args"], what + " args"),
            name=str(_field(data, "name", str, "", what) or ""),
            txn=_field(data, "txn", str, None, what),
            notify=_strings(data.get("notify") or [], what + " notify"),
            no_log=bool(_field(data, "no_log", bool, False, what)),
            ignore_errors=bool(_field(data, "ignore_errors", bool, False, what)),
            where=_field(data, "where", str, "", what) or "",
            handler=_field(data, "handler", str, None, what),
            check=bool(_field(data, "check", bool, False, what)),
            become=_field(data, "become", bool, None, what),
            become_user=_field(data, "become_user", str, None, what),
            timeout=None if timeout is None else float(timeout),
            caught=bool(_field(data, "caught", bool, False, what)),
            check_mode=_field(data, "check_mode", bool, None, what),
            diff=_field(data, "diff", bool, None, what),
            later=bool(_field(data, "later", bool, False, what)),
            extra={k: v for k, v in data.items() if k not in cls.KNOWN})

    def to_wire(self) -> Dict[str, Any]:
        out: Dict[str, Any] = dict(self.extra)
        out.update(id=self.id, op=self.op, args=self.args, name=self.name,
                   notify=list(self.notify), no_log=self.no_log,
                   ignore_errors=self.ignore_errors, where=self.where)
        for key in ("txn", "handler", "become", "become_user", "timeout", "check_mode", "diff"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.check:
            out["check"] = True
        if self.caught:
            out["caught"] = True
        if self.later:
            out["later"] = True
        return out


class StepResult(Frozen):
    """Agent -> controller, one per step run: the agent's verdict on it and what it saw."""

    __slots__ = ("id", "status", "msg", "diff", "rc", "stdout", "stderr", "cmd", "elapsed",
                 "rollback", "data")
    id: Optional[int]
    status: str
    msg: str
    diff: str
    rc: Optional[int]
    stdout: str
    stderr: str
    cmd: Optional[str]
    elapsed: float
    rollback: bool
    # Module-specific return values, Ansible's names at the top level (``stat``, ``files``,
    # ``stdout_lines``, ``ansible_facts``...): a registered result is the common fields
    # (changed, failed, msg, rc, stdout, stderr, cmd, diff) updated with ``data`` (left out:
    # a new empty dict).
    data: Dict[str, Any]

    def __init__(self, id: Optional[int], status: str, msg: str = "", diff: str = "",
                 rc: Optional[int] = None, stdout: str = "", stderr: str = "",
                 cmd: Optional[str] = None, elapsed: float = 0.0, rollback: bool = False,
                 data: Optional[Dict[str, Any]] = None) -> None:
        self._fill(id, status, msg, diff, rc, stdout, stderr, cmd, elapsed, rollback,
                   {} if data is None else data)

    @classmethod
    def from_wire(cls, data: Any) -> "StepResult":
        data = _object(data, "result")
        what = "result of step %r" % (data.get("id"),)
        status = _field(data, "status", str, "", what)
        if status not in STEP_STATUSES:
            raise ProtocolError("%s: status %r is not one of %s"
                                % (what, status, ", ".join(STEP_STATUSES)))
        return cls(id=_field(data, "id", int, None, what), status=status,
                   msg=_field(data, "msg", str, "", what) or "",
                   diff=_field(data, "diff", str, "", what) or "",
                   rc=_field(data, "rc", int, None, what),
                   stdout=_field(data, "stdout", str, "", what) or "",
                   stderr=_field(data, "stderr", str, "", what) or "",
                   cmd=_field(data, "cmd", str, None, what),
                   elapsed=float(_field(data, "elapsed", (int, float), 0.0, what) or 0.0),
                   rollback=bool(_field(data, "rollback", bool, False, what)),
                   data=_object({} if data.get("data") is None else data["data"],
                                what + " data"))

    def to_wire(self) -> Dict[str, Any]:
        out = {"id": self.id, "status": self.status, "msg": self.msg, "diff": self.diff,
               "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr, "cmd": self.cmd,
               "elapsed": self.elapsed}
        if self.rollback:
            out["rollback"] = True
        if self.data:
            out["data"] = dict(self.data)
        return out


def result_data(data: Mapping[str, Any]) -> Tuple[Dict[str, Any], str]:
    """An op's ``Outcome.data`` as it may travel: (JSON-only copy, "") or ({}, why not).

    Checked on the agent, so a module returning a set, bytes or megabytes of output fails
    its own step instead of breaking the message loop."""
    if not data:
        return {}, ""
    try:
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        return {}, "the result data is not JSON: %s" % exc
    if len(text) > MAX_DATA_BYTES:
        return {}, "the result data is %d bytes, more than %d" % (len(text), MAX_DATA_BYTES)
    if nesting_depth(text.encode("utf-8")) > MAX_DEPTH - 4:
        return {}, "the result data nests more than %d levels" % (MAX_DEPTH - 4)
    copied = json.loads(text)
    return copied, ""


class Done(Frozen):
    """Agent -> controller, last message of a run or rollback: the verdict on the host."""

    __slots__ = ("failed", "stopped", "host", "rollbacks", "locked", "stale_lock",
                 "rolled_back", "lost_controller")
    failed: bool
    stopped: bool
    host: str
    rollbacks: Tuple[Dict[str, Any], ...]
    locked: Optional[Dict[str, Any]]
    stale_lock: Optional[Dict[str, Any]]
    rolled_back: Optional[Dict[str, Any]]
    # A run of this host that lost its controller earlier, and what it rolled back.
    lost_controller: Optional[Dict[str, Any]]

    def __init__(self, failed: bool, stopped: bool = False, host: str = "ok",
                 rollbacks: Tuple[Dict[str, Any], ...] = (),
                 locked: Optional[Dict[str, Any]] = None,
                 stale_lock: Optional[Dict[str, Any]] = None,
                 rolled_back: Optional[Dict[str, Any]] = None,
                 lost_controller: Optional[Dict[str, Any]] = None) -> None:
        self._fill(failed, stopped, host, rollbacks, locked, stale_lock, rolled_back,
                   lost_controller)

    @classmethod
    def from_wire(cls, data: Any) -> "Done":
        data = _object(data, "done")
        failed = bool(_field(data, "failed", bool, False, "done"))
        host = _field(data, "host", str, "failed" if failed else "ok", "done")
        if host not in HOST_VERDICTS:
            raise ProtocolError("done: host %r is not one of %s" % (host, ", ".join(HOST_VERDICTS)))
        rollbacks = _field(data, "rollbacks", list, [], "done")
        return cls(failed=failed, stopped=bool(_field(data, "stopped", bool, False, "done")),
                   host=host,
                   rollbacks=tuple(_object(r, "done rollback") for r in rollbacks),
                   locked=_optional_object(data, "locked"),
                   stale_lock=_optional_object(data, "stale_lock"),
                   rolled_back=_optional_object(data, "rolled_back"),
                   lost_controller=_optional_object(data, "lost_controller"))


def _optional_object(data: Mapping[str, Any], key: str) -> Optional[Dict[str, Any]]:
    value = data.get(key)
    return None if value is None else _object(value, "done " + key)


class Need(Frozen):
    """Agent -> controller: the content blobs (by sha256) the run still lacks."""

    __slots__ = ("shas",)
    shas: Tuple[str, ...]

    def __init__(self, shas: Tuple[str, ...]) -> None:
        self._fill(shas)

    @classmethod
    def from_wire(cls, data: Any) -> "Need":
        return cls(_strings(data, "need"))


class Facts(Frozen):
    __slots__ = ("facts",)
    facts: Dict[str, Any]

    def __init__(self, facts: Dict[str, Any]) -> None:
        self._fill(facts)


class AgentFailure(Frozen):
    """Agent -> controller: the agent could not read a request."""

    __slots__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        self._fill(text)


class NeedAgent(Frozen):
    """The bootstrap, before the agent runs: send the zipapp."""

    __slots__ = ()


HostMessage = Union[Hello, StepResult, Done, Need, Facts, AgentFailure, NeedAgent]


def from_host(data: Dict[str, Any]) -> HostMessage:
    """A decoded line from a host -> the one message it is; ProtocolError otherwise."""
    if "result" in data:
        return StepResult.from_wire(data["result"])
    if "done" in data:
        return Done.from_wire(data["done"])
    if "need" in data:
        return Need.from_wire(data["need"])
    if "hello" in data:
        return Hello.from_wire(data["hello"])
    if "facts" in data:
        return Facts(_object(data["facts"], "facts"))
    if "error" in data:
        return AgentFailure(str(data["error"])[:2000])
    if data.get("need_agent") is True:
        return NeedAgent()
    raise ProtocolError("not a message the agent sends: keys %s" % sorted(data)[:5])


def steps_from_wire(items: Any, what: str = "steps") -> List[Step]:
    if not isinstance(items, list):
        raise ProtocolError("%s must be a list" % what)
    return [Step.from_wire(item) for item in items]
