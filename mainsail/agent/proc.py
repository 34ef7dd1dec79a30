"""Running commands: always an argv list, never a shell, output captured.

The agent's own stdin/stdout carry the protocol, so a child must never
inherit them: stdin is /dev/null unless input is given, stdout is a pipe.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from typing import IO, Mapping, Optional, Sequence

from .core import MissingPrerequisite, OpError
from .record import Record

OUTPUT_CAP = 1024 * 1024  # keep one runaway command from flooding the channel


class Proc(Record):
    __slots__ = ("argv", "rc", "stdout", "stderr", "secrets", "error")
    argv: Sequence[str]
    rc: int
    stdout: str
    stderr: str
    secrets: Sequence[str]
    # Why the program could not be started ('' when it ran); stderr says it too, as a
    # shell would, for the callers that only read stderr.
    error: str

    def __init__(self, argv: Sequence[str], rc: int, stdout: str, stderr: str,
                 secrets: Sequence[str] = (), error: str = "") -> None:
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.secrets = secrets
        self.error = error

    @property
    def cmd(self) -> str:
        """The command as a shell would read it, with secrets (password hashes) masked."""
        text = shlex.join(list(self.argv))
        for secret in self.secrets:
            if secret:
                text = text.replace(shlex.quote(secret), "********").replace(secret, "********")
        return text

    def tail(self, lines: int = 5) -> str:
        text = (self.stderr.strip() or self.stdout.strip())
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str = "", hint: str = "") -> OpError:
        msg = "%s failed (rc %d)%s" % (what or self.cmd, self.rc,
                                      ": " + self.tail() if self.tail() else "")
        return OpError(msg, hint=hint, cmd=self.cmd, rc=self.rc,
                       stdout=self.stdout, stderr=self.stderr)


def _read_back(fh: IO[bytes]) -> str:
    fh.seek(0)
    data = fh.read(OUTPUT_CAP + 1)
    text = data[:OUTPUT_CAP].decode("utf-8", "replace")
    if len(data) > OUTPUT_CAP:
        size = os.fstat(fh.fileno()).st_size
        text += "\n[... %d more bytes not shown]" % (size - OUTPUT_CAP)
    return text


def run(argv: Sequence[str], stdin: Optional[str] = None, cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None, extra_env: Optional[Mapping[str, str]] = None,
        secrets: Sequence[str] = ()) -> Proc:
    """Run argv and wait for it to exit; a missing program is rc 127 as in a shell.

    Output goes to temp files, not pipes: a daemon started by an init script may
    keep its inherited stdout open forever, and a pipe would make us wait for it.
    """
    full_env = dict(os.environ if env is None else env)
    full_env.update(extra_env or {})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            done = _run_in_group(
                list(argv), None if stdin is None else stdin.encode("utf-8"),
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=out, stderr=err, cwd=cwd, env=full_env, close_fds=True)
        except FileNotFoundError as exc:
            if cwd is not None and not os.path.isdir(cwd):
                raise MissingPrerequisite("chdir: no such directory %s" % cwd)
            why = "%s: command not found (%s)" % (argv[0], exc.strerror)
            return Proc(argv, 127, "", why, secrets, error=why)
        except PermissionError as exc:
            why = "%s: %s" % (argv[0], exc.strerror)
            return Proc(argv, 126, "", why, secrets, error=why)
        return Proc(argv, done.returncode, _read_back(out), _read_back(err), secrets)


def _run_in_group(argv: Sequence[str], data: Optional[bytes],
                  **kw: object) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """subprocess.run in a process group of its own: when the wait is interrupted (the
    step's timeout, a stop), the whole group is killed, grandchildren included."""
    with subprocess.Popen(list(argv), start_new_session=True, **kw) as child:  # type: ignore
        try:
            child.communicate(data)
        except BaseException:
            kill_group(child.pid)
            child.wait()
            raise
        return subprocess.CompletedProcess(list(argv), child.returncode)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def check_output(argv: Sequence[str], what: str = "", hint: str = "", **kw: object) -> Proc:
    """run() that raises OpError (command + stderr tail) on a non-zero exit."""
    proc = run(argv, **kw)  # type: ignore[arg-type]
    if proc.rc != 0:
        raise proc.failure(what, hint)
    return proc


C_LOCALE = {"LC_ALL": "C", "LANG": "C"}  # parse tool output in one language
