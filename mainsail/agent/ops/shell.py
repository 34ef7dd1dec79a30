"""shell: run a command line with /bin/sh -c (pipes, redirections, globs)."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, Outcome, accept
from ..spec import Arg, OpSpec
from ._exec import FREE_FORM_OPTIONS, execute, guard_args, to_argv


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    argv = to_argv(args["cmd"], via_sh=True)
    if args.get("executable"):
        argv = [str(args["executable"]), "-c", argv[-1]]
    return execute(ctx, args, argv, via_sh=True)


SPEC = OpSpec(
    name='shell',
    summary='run a command line with `/bin/sh`',
    ansible='`shell`',
    args=(
        Arg('cmd', 'cmdline', doc='the command line, run by `/bin/sh -c`'),
        Arg('executable', 'abspath', doc='the shell to run it with instead of `/bin/sh` '
                                         '(`/bin/bash`)'),
    ) + guard_args('a shell command line run first: skip this one when it exits 0'),
    required=(('cmd',),),
    free_form='cmd',
    free_form_options=FREE_FORM_OPTIONS,
    doc="""\
Runs a command line with `/bin/sh -c`, so pipes, redirections, globs, `&&` and variables work.
Everything else is as for [`command`](#command): `changed` when it runs, `failed` on a
non-zero exit (the exit code of the last command of a pipeline), the same guards, conditions,
check mode and output. `unless` is a shell command line too.
""",
    notes="""\
```yaml
- name: database role for the guestbook
  shell:
    cmd: runuser -u postgres -- createuser --no-superuser guestbook
    unless: >-
      runuser -u postgres -- psql -tAc
      "SELECT 1 FROM pg_roles WHERE rolname = 'guestbook'" | grep -q 1

- name: messages stuck in the mail queue
  shell: mailq | grep -c '^[0-9A-F]'
  changed_when: false
  failed_when: rc > 1
```

Notes:

* `/bin/sh` is dash on Debian: write POSIX shell, or give `executable: /bin/bash`.
* The one-line form takes `chdir=`, `creates=`, `removes=`, `executable=`, `stdin=`,
  `stdin_add_newline=` and `strip_empty_ends=` out of the string, as for `command`; `cmd` is
  the rest, as Ansible's is.
* Prefer `command` when no shell feature is needed: its words are never re-read by a shell, so
  values with spaces or quotes cannot break the command line.
""",
)
