"""script: a script from the project, sent to the host (as a blob by digest) and run there."""
from __future__ import annotations

import datetime
import os
import shlex
import shutil
import tempfile
from typing import Any, List, Mapping

from .. import fileio, proc
from ..core import CHANGED, SKIPPED, Context, OpError, Outcome, accept
from ..spec import Arg, OpSpec, Ships
from ._exec import guard_skip
from .raw import outcome as raw_outcome


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    words = _words(str(args["cmd"]))
    chdir = args.get("chdir") or None
    skip = guard_skip(args, chdir, via_sh=False)
    if skip:
        return Outcome("ok", skip)
    if ctx.check:
        # Ansible: with creates/removes the guard decided, so it would run; without them a
        # script's effect cannot be told in advance.
        if args.get("creates") or args.get("removes"):
            return Outcome(CHANGED, "would run %s (check mode)" % words[0])
        return Outcome(SKIPPED, "check mode is not supported for a script without "
                                "creates or removes")
    data = ctx.blob(str(args["content_sha"]))
    if fileio.sha256_bytes(data) != args["content_sha"]:
        raise OpError("script: content blob does not match its digest")
    folder = tempfile.mkdtemp(prefix="mainsail-script-")  # 0700, the agent's user's own
    try:
        path = os.path.join(folder, os.path.basename(words[0]) or "script")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o700)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        argv = _argv(args, path, words[1:])
        start = datetime.datetime.now()
        result = proc.run(argv, cwd=chdir)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return raw_outcome(str(args["cmd"]), result.rc, result.stdout, result.stderr, start)


def needed_blobs(args: Mapping[str, Any]) -> List[str]:
    """The script travels only when it is going to run (its guards do not skip it)."""
    sha = args.get("content_sha")
    if not sha:
        return []
    try:
        if guard_skip({k: args.get(k) for k in ("creates", "removes")},
                      args.get("chdir") or None, via_sh=False):
            return []
    except OpError:
        pass
    return [str(sha)]


def _words(cmd: str) -> List[str]:
    try:
        words = shlex.split(cmd)
    except ValueError as exc:
        raise OpError("script: cannot split %r: %s" % (cmd, exc))
    if not words:
        raise OpError("script: no script named", hint="script: scripts/setup.sh --fast")
    return words


def _argv(args: Mapping[str, Any], path: str, rest: List[str]) -> List[str]:
    """``executable PATH ARGS`` (e.g. python3), or the script itself (its #! line)."""
    executable = args.get("executable")
    if executable:
        return shlex.split(str(executable)) + [path] + rest
    return [path] + rest


SPEC = OpSpec(
    name="script",
    summary="a script from the project, sent to the host and run there",
    ansible="`script`",
    args=(
        Arg("cmd", doc="the script (a file in the role's or project's `files/`) and its "
                       "arguments, as a command line: `setup.sh --fast`"),
        Arg("chdir", doc="the folder to run it in"),
        Arg("creates", doc="skip it when this path (a glob; relative to `chdir`) exists"),
        Arg("removes", doc="skip it when this path (a glob; relative to `chdir`) does not "
                           "exist"),
        Arg("executable", doc="the program that runs it (`python3`, `/bin/bash`); otherwise "
                              "the script's own `#!` line"),
    ),
    required=(("cmd",),),
    free_form="cmd",
    free_form_options=("chdir", "creates", "removes", "executable"),
    ships=Ships("file", source="cmd", digest="content_sha", split=True),
    internal=("content_sha",),
    doc="""\
Sends a script from the project to the host and runs it there with its arguments: Ansible's
`script`. The first word of `cmd` names the file (looked up in the role's `files/`, then the
project's), the others are its arguments. The script travels as a blob named by its digest,
only when it is going to run; the agent writes it into a private temporary folder, runs it
(through `executable`, or its own `#!` line), and removes it. Like `command`, it is
`changed` whenever it runs and `failed` on a non-zero exit; `creates` and `removes` skip it
(`ok`). The result has `rc`, `stdout`, `stdout_lines`, `stderr`, `stderr_lines`. Check mode:
with `creates`/`removes` it reports whether it would run, otherwise it is `skipped`, as in
Ansible.
""",
    notes="""\
```yaml
- name: one-off data migration
  script: migrate.sh --from 1 --to 2
  args:
    creates: /srv/app/.migrated-2

- name: a Python script
  script:
    cmd: report.py --short
    executable: python3
    chdir: /srv/app
```

Notes:

* A script is not journalled: what it does cannot be undone by a rollback.
* Ansible differences: `decrypt` is not available (vault-encrypted scripts are not read).
""",
)
