"""Types shared by the message loop and the operations."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional

from .record import Record

if TYPE_CHECKING:
    from .journal import Journal
    from .spec import OpSpec

OK = "ok"
CHANGED = "changed"
FAILED = "failed"
SKIPPED = "skipped"
IGNORED = "ignored"  # failed, but the task has ignore_errors: the host carries on, still ok
# A host's verdict on a run, in done.host: judged here once; the controller only shows it.
HOST_OK = "ok"
HOST_FAILED = "failed"
HOST_ROLLED_BACK = "rolled back"  # failed, and its transaction's changes were undone
HOST_STOPPED = "stopped"  # the controller asked to stop (Ctrl-C) before the end


class OpError(Exception):
    """An expected failure: the step fails with this message (and hint), no traceback."""

    def __init__(self, msg: str, hint: str = "", cmd: Optional[str] = None,
                 rc: Optional[int] = None, stdout: str = "", stderr: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.hint = hint
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def outcome(self) -> "Outcome":
        text = self.msg + (" (hint: %s)" % self.hint if self.hint else "")
        return Outcome(FAILED, text, rc=self.rc, stdout=self.stdout,
                       stderr=self.stderr, cmd=self.cmd)


class MissingPrerequisite(OpError):
    """Something an earlier task of the same run may provide (a folder, a user, a
    package's tool or service). A real run fails; check mode, where earlier tasks
    changed nothing, reports the step as changed instead of failing the preview, when an
    earlier step of the run would have changed something (Context.may_provide). Where none
    would, a real run fails too, and so does check mode (as Ansible's modules do)."""

    def check_outcome(self) -> "Outcome":
        return Outcome(CHANGED, "%s: assuming an earlier task provides it (check mode)" % self.msg)


class Outcome(Record):
    """What an operation reports; the loop adds id and elapsed to make a RESULT."""

    __slots__ = ("status", "msg", "diff", "rc", "stdout", "stderr", "cmd", "data")
    status: str
    msg: str
    diff: str
    rc: Optional[int]
    stdout: str
    stderr: str
    cmd: Optional[str]
    # The module's own return values (Ansible's `stat`, `stdout_lines`, `files`, ...): JSON
    # only, merged by the controller into the dict a task `register`s (protocol.StepResult).
    # Left out: a new empty dict.
    data: Dict[str, Any]

    def __init__(self, status: str = OK, msg: str = "", diff: str = "",
                 rc: Optional[int] = None, stdout: str = "", stderr: str = "",
                 cmd: Optional[str] = None, data: Optional[Dict[str, Any]] = None) -> None:
        self.status = status
        self.msg = msg
        self.diff = diff
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.cmd = cmd
        self.data = {} if data is None else data


def ok(msg: str = "", diff: str = "") -> Outcome:
    return Outcome(OK, msg, diff)


def changed(msg: str = "", diff: str = "") -> Outcome:
    return Outcome(CHANGED, msg, diff)


def failed(msg: str) -> Outcome:
    return Outcome(FAILED, msg)


class BlobStore:
    """Content blobs by sha256; asks the controller (via ``fetch``) for those it lacks."""

    def __init__(self, fetch: Optional[Callable[[List[str]], Dict[str, bytes]]] = None) -> None:
        self._blobs: Dict[str, bytes] = {}
        self._fetch = fetch

    def has(self, sha: str) -> bool:
        return sha in self._blobs

    def add(self, sha: str, data: bytes) -> None:
        self._blobs[sha] = data

    def prefetch(self, shas: Iterable[str]) -> None:
        missing = [s for s in dict.fromkeys(shas) if s not in self._blobs]
        if missing and self._fetch is not None:
            self._blobs.update(self._fetch(missing))

    def get(self, sha: str) -> bytes:
        self.prefetch([sha])
        if sha not in self._blobs:
            raise OpError("content blob %s was not provided by the controller" % sha[:12])
        return self._blobs[sha]


class Context(Record):
    """What an operation may know about the run besides its arguments."""

    __slots__ = ("check", "diff", "blobs", "journal", "would_change", "attempt")
    check: bool
    diff: bool
    blobs: Optional[BlobStore]
    # The transaction's journal: every path an op changes is recorded here first, so that a
    # failed transaction can put it back. None in check mode and outside a transaction.
    journal: Optional["Journal"]
    # The ops of earlier steps of this session that check mode reported as changed (a shared
    # list: each step's context adds to the session's).
    would_change: Optional[List[str]]
    # With until / retries: which run of the step this is (1, 2, ...), which changed_when and
    # failed_when may read as `attempts`; 0 for a step run once.
    attempt: int

    def __init__(self, check: bool = False, diff: bool = False,
                 blobs: Optional[BlobStore] = None, journal: Optional["Journal"] = None,
                 would_change: Optional[List[str]] = None, attempt: int = 0) -> None:
        self.check = check
        self.diff = diff
        self.blobs = blobs
        self.journal = journal
        self.would_change = would_change
        self.attempt = attempt

    def may_provide(self) -> bool:
        """Whether something missing now may come from an earlier step check mode skipped."""
        return bool(self.would_change)

    def keep(self, path: str) -> None:
        """Record ``path``'s state before the op changes it."""
        if self.journal is not None:
            self.journal.save(path)

    def blob(self, sha: str) -> bytes:
        if self.blobs is None:
            raise OpError("no content blobs available in this context")
        return self.blobs.get(sha)


def login_home() -> str:
    """The home of the user Mainsail logged in as (sudo's SUDO_USER), else of this user."""
    import pwd
    user = os.environ.get("SUDO_USER")
    if user:
        try:
            return pwd.getpwnam(user).pw_dir
        except KeyError:
            pass
    return os.path.expanduser("~")


def relative_base() -> str:
    """Where a relative path starts: the login user's home, as over SSH; for a local agent
    the controller's own folder (MAINSAIL_RELATIVE_BASE), as Ansible's local connection runs
    its modules in ansible-playbook's folder."""
    return os.environ.get("MAINSAIL_RELATIVE_BASE") or login_home()


def accept(spec: "OpSpec", args: Mapping[str, Any]) -> Dict[str, Any]:
    """``args`` checked against the op's declaration, with its defaults filled in.

    The controller checked them already; checking again here names a plan bug (or a hand-built
    step) instead of guessing at it. Groups naming shipped content are the plan's business."""
    allowed_set = set(spec.accepted())
    unknown = sorted(str(k) for k in args if k not in allowed_set)
    if unknown:
        raise OpError("%s: unknown argument(s) %s" % (spec.name, ", ".join(unknown)),
                      hint="accepted: %s" % ", ".join(sorted(allowed_set)))
    shipped = (spec.ships.source, spec.ships.inline) if spec.ships else ()
    for group in spec.required:
        if any(name in shipped for name in group):
            continue
        if all(args.get(name) in (None, "") for name in group):
            raise OpError("%s: missing required argument(s) %s" % (spec.name, " or ".join(group)))
    full = spec.with_defaults(args)
    for arg in spec.args:
        value = full.get(arg.name)
        if arg.type == "abspath" and isinstance(value, str) and value and \
                not value.startswith("/"):
            # Relative to the remote user's home, as in Ansible (whose modules start in the
            # SSH session's folder; the agent starts in / so that nothing there is imported).
            value = full[arg.name] = os.path.join(relative_base(), os.path.expanduser(value))
        if arg.choices and value == "":  # a templated value that came out empty: left out
            value = arg.default
            full.pop(arg.name)
            if value is not None:
                full[arg.name] = value
        if arg.choices and value is not None and value not in arg.choices:
            raise OpError("%s: unknown %s %r" % (spec.name, arg.name, value),
                          hint="one of " + ", ".join(arg.choices))
    return full


def as_bool(value: Any, name: str = "value") -> bool:
    """YAML-ish booleans; strings arrive when a value was templated."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "on", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("no", "false", "off", "0", ""):
        return False
    raise OpError("%s must be a boolean, got %r" % (name, value))


def flag(args: Mapping[str, Any], name: str) -> bool:
    """A boolean argument; left out (and without a declared default) means false."""
    value = args.get(name)
    return False if value is None else as_bool(value, name)


def as_list(value: Any) -> List[str]:
    """A string or list of strings; a comma-separated string is split (Ansible habit)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def operand(op: str, what: str, value: Any) -> str:
    """A name handed to a system tool as an operand: one starting with '-' would be read as
    an option (``-oDPkg::Pre-Invoke::=...`` runs a command as root), so it is refused."""
    text = str(value)
    if text.startswith("-"):
        raise OpError("%s: %s %r starts with '-': refused, it would be read as an option"
                      % (op, what, text), hint="names of packages, users, groups and services "
                                               "never start with '-'")
    return text


def settle(ctx: Context, changes: List[str], apply: Callable[[], None],
           diff: str = "", ok_msg: str = "") -> Outcome:
    """Check, then apply: every op funnels through here, so check mode never writes.

    ``changes`` describes what differs (empty = nothing to do); ``apply`` makes it
    so and is called only outside check mode.
    """
    if not changes:
        return ok(ok_msg)
    if not ctx.check:
        apply()
    return changed(", ".join(changes), diff if ctx.diff else "")


def nothing() -> None:
    """An apply for plans that have nothing left to do once checked."""
