"""What command and shell share: guards, running, changed_when / failed_when."""
from __future__ import annotations

import datetime
import glob
import os
import re
import shlex
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import proc, safeexpr
from ..core import CHANGED, FAILED, OK, SKIPPED, Context, MissingPrerequisite, OpError, Outcome
from ..spec import Arg


# Ansible takes these out of a command string wherever they stand: `chdir=/srv make all`.
FREE_FORM_OPTIONS = ("chdir", "creates", "removes", "executable", "stdin", "stdin_add_newline",
                     "strip_empty_ends")


def guard_args(unless_doc: str) -> Tuple[Arg, ...]:
    """The arguments command and shell share, declared once (``unless`` runs as they do)."""
    return (
        Arg('chdir', 'pathtext', doc='the folder to run it in'),
        Arg('creates', 'pathtext', doc='skip it when this path (a glob; relative to `chdir`) exists'),
        Arg('removes', 'pathtext', doc='skip it when this path (a glob; relative to `chdir`) does not exist'),
        Arg('unless', doc=unless_doc),
        Arg('environment', 'variables', doc='variables added to its environment'),
        Arg('stdin', doc='text fed to its standard input (otherwise `/dev/null`)'),
        Arg('stdin_add_newline', 'bool',
            doc='end `stdin` with a newline when it lacks one (default `true`)'),
        Arg('strip_empty_ends', 'bool',
            doc='drop trailing newlines from `stdout` and `stderr` (default `true`)'),
        Arg('changed_when', 'condition',
            doc='when the result counts as `changed` (instead of always)'),
        Arg('failed_when', 'condition',
            doc='when the result counts as `failed` (instead of a non-zero exit)'),
    )


def execute(ctx: Context, args: Mapping[str, Any], argv: List[str], via_sh: bool) -> Outcome:
    """Run argv unless a guard says it is not needed; classify the outcome."""
    _validate_conditions(args, ctx.attempt)
    chdir = args.get("chdir") or None
    skip = guard_skip(args, chdir, via_sh)
    display = argv[-1] if via_sh else shlex.join(argv)
    if skip:  # Ansible's message, and its stdout (the reason, as it has always said)
        return Outcome(OK, "%s not run command since %s" % (
            "Would" if ctx.check else "Did", skip[len("skipped, since "):]),
            rc=0, stdout=skip, cmd=display)
    if ctx.check:
        return _check_outcome(args, display)
    if chdir and not os.path.isdir(str(chdir)):  # Ansible's words, which roles search for
        raise MissingPrerequisite("Unable to change directory before execution: no such "
                                  "directory %s" % chdir)
    start = datetime.datetime.now()
    result = proc.run(argv, stdin=_stdin(args), cwd=chdir, extra_env=_environment(args))
    end = datetime.datetime.now()
    strip = args.get("strip_empty_ends") not in (False, "false", "no")
    # Ansible strips every trailing \r and \n (a Windows line end too), nothing else
    stdout = result.stdout.rstrip("\r\n") if strip else result.stdout
    stderr = result.stderr.rstrip("\r\n") if strip else result.stderr
    if result.error:  # never started: no output, the reason is the message (Ansible's way)
        stdout = stderr = ""
    outcome = classify(args, result.rc, stdout, stderr, display, ctx.attempt)
    if result.error and outcome.status == FAILED:
        outcome.msg = result.error
    outcome.data = {"cmd": display if via_sh else list(argv), "start": str(start),
                    "end": str(end), "delta": str(end - start),
                    "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines()}
    if args.get("failed_when") is not None:  # Ansible's fields, which roles read
        outcome.data["failed_when_result"] = outcome.status == FAILED
        if outcome.status != FAILED and outcome.rc:  # a failure failed_when overruled
            outcome.data["failed_when_suppressed_exception"] = \
                "non-zero return code %d" % outcome.rc
    return outcome


def _check_outcome(args: Mapping[str, Any], display: str) -> Outcome:
    """Check mode, as in Ansible: where a guard (creates, removes, unless) decided, the
    command would run, so it would change (unless changed_when: false says it never does);
    with no guard nothing tells what it would do: skipped."""
    msg = "Command would have run if not in check mode"  # Ansible's words
    if not any(args.get(key) for key in ("creates", "removes", "unless")):
        return Outcome(SKIPPED, msg, rc=0, cmd=display)
    never_changes = args.get("changed_when") in (False, "false", "False")
    return Outcome(OK if never_changes else CHANGED, msg, rc=0, cmd=display)


def _validate_conditions(args: Mapping[str, Any], attempt: int = 0) -> None:
    """Refuse a bad condition up front, so check mode reports it as a real run would."""
    values = safeexpr.result_values(0, "", "")
    if attempt:
        values["result"]["attempts"] = attempt
    for key in ("changed_when", "failed_when"):
        if args.get(key) is not None:
            safeexpr.evaluate(args[key], values)


def classify(args: Mapping[str, Any], rc: int, stdout: str, stderr: str, display: str,
             attempt: int = 0) -> Outcome:
    values = safeexpr.result_values(rc, stdout, stderr, failed=rc != 0)
    if attempt:  # with until / retries, the conditions may read the run's number
        values["result"]["attempts"] = attempt
    failed_when = args.get("failed_when")
    changed_when = args.get("changed_when")
    is_failed = safeexpr.evaluate(failed_when, values) if failed_when is not None else rc != 0
    if is_failed:
        why = ("failed_when %r is true" % failed_when if failed_when is not None
               else "non-zero return code %d" % rc)
        tail = "\n".join(stderr.splitlines()[-5:])
        msg = why + (": " + tail if tail else "")
        return Outcome(FAILED, msg, rc=rc, stdout=stdout, stderr=stderr, cmd=display)
    values["result"]["failed"] = False
    is_changed = safeexpr.evaluate(changed_when, values) if changed_when is not None else True
    return Outcome(CHANGED if is_changed else OK, "", rc=rc, stdout=stdout, stderr=stderr,
                   cmd=display)


def _in_chdir(path: str, chdir: Optional[str]) -> str:
    return os.path.join(chdir, path) if chdir and not os.path.isabs(path) else path


def guard_skip(args: Mapping[str, Any], chdir: Optional[str], via_sh: bool) -> str:
    """A message saying why the command need not run, or '' when it must run."""
    creates, removes, unless = args.get("creates"), args.get("removes"), args.get("unless")
    if creates and glob.glob(_in_chdir(str(creates), chdir)):
        return "skipped, since %s exists" % creates
    if removes and not glob.glob(_in_chdir(str(removes), chdir)):
        return "skipped, since %s does not exist" % removes
    if unless:
        argv = to_argv(unless, via_sh)
        result = proc.run(argv, cwd=chdir, extra_env=_environment(args))
        if result.rc == 0:
            return "skipped, since unless command succeeded: %s" % (
                unless if isinstance(unless, str) else shlex.join(argv))
    return ""


def to_argv(cmd: Any, via_sh: bool) -> List[str]:
    """A command string as argv: split like a shell would, or handed to /bin/sh -c."""
    if isinstance(cmd, (list, tuple)):
        if via_sh:
            raise OpError("shell: cmd must be a string")
        return [str(a) for a in cmd]
    if via_sh:
        return ["/bin/sh", "-c", str(cmd)]
    try:
        argv = shlex.split(str(cmd))
    except ValueError as exc:
        raise OpError("cannot split command %r: %s" % (cmd, exc))
    if not argv:
        raise OpError("empty command")
    return argv


_VAR = re.compile(r"\$(\w+|\{[^}]*\})")


def expand_vars(word: str, args: Mapping[str, Any]) -> str:
    """``$NAME`` and ``${NAME}`` in ``word`` from the agent's environment with the task's
    ``environment`` over it (the program's own environment, as in Ansible); unknown names
    are left as written."""
    env = dict(os.environ)
    env.update(_environment(args))

    def value(match: "re.Match[str]") -> str:
        name = match.group(1).strip("{}")
        return env.get(name, match.group(0))
    return _VAR.sub(value, word)


def _environment(args: Mapping[str, Any]) -> Dict[str, str]:
    env = args.get("environment") or {}
    if not isinstance(env, Mapping):
        raise OpError("environment must be a mapping of names to values")
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _stdin(args: Mapping[str, Any]) -> Optional[str]:
    value = args.get("stdin")
    if value is None:
        return None
    text = str(value)
    if args.get("stdin_add_newline") not in (False, "false", "no") and not text.endswith("\n"):
        text += "\n"
    return text
