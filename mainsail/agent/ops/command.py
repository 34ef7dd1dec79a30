"""command: run a program directly (never through a shell)."""
from __future__ import annotations

import os
from typing import Any, Mapping

from ..core import Context, OpError, Outcome, accept, flag
from ..spec import Arg, OpSpec
from ._exec import FREE_FORM_OPTIONS, execute, expand_vars, guard_args, to_argv


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    if bool(args.get("cmd")) == bool(args.get("argv")):
        raise OpError("command: give exactly one of cmd (a string) or argv (a list)")
    argv = to_argv(args.get("argv") or args.get("cmd"), via_sh=False)
    if args.get("expand_argument_vars") is None or flag(args, "expand_argument_vars"):
        argv = [expand_vars(os.path.expanduser(word), args) for word in argv]
    outcome = execute(ctx, args, argv, via_sh=False)
    if args.get("executable"):
        outcome.data.setdefault("warnings", []).append(
            "the parameter 'executable' is no longer supported with the 'command' module: "
            "not using %r (use shell)" % str(args["executable"]))
    return outcome


SPEC = OpSpec(
    name='command',
    summary='run a program, without a shell',
    ansible='`command`',
    args=(
        Arg('cmd', 'cmdline', doc='the command line, split into words'),
        Arg('argv', 'words', doc='the program and its arguments, one per item'),
        Arg('expand_argument_vars', 'bool',
            doc='expand `$VAR` and `~` in the words, as Ansible does (default `true`; no '
                'shell involved)'),
        Arg('executable', doc='accepted and not used, with a warning in the result '
                              '(`warnings`), as in Ansible: `command` runs no shell'),
    ) + guard_args('a command run first: skip this one when it exits 0'),
    required=(('cmd', 'argv'),),
    free_form='cmd',
    free_form_options=FREE_FORM_OPTIONS,
    doc="""\
Runs a program directly, without a shell: `cmd` is split into words like a shell would split
it (quotes respected), but nothing else a shell does happens: no `|`, `>`, `&&`, `*` or `$VAR`
(use [`shell`](#shell) for those), and `argv` gives the words as a list with no splitting at
all. A command cannot know whether it changed anything, so it is `changed` whenever it runs
and `failed` when it exits non-zero; the guards `creates`, `removes` and `unless` skip it
(`ok`, with the reason as the message) when it is not needed, and `changed_when` and
`failed_when` judge its result.
""",
    notes="""\
```yaml
- name: DKIM key for example.org
  command:
    argv: [opendkim-genkey, -b, "2048", -d, example.org, -s, mail,
           -D, /etc/opendkim/keys/example.org]
    creates: /etc/opendkim/keys/example.org/mail.private

- name: database migrations
  command:
    cmd: bin/manage migrate --noinput
    chdir: /srv/guestbook/current
    environment:
      GUESTBOOK_ENV: production
  changed_when: "'No migrations to apply' not in stdout"

- name: postfix configuration is sound
  command: postfix check
  changed_when: false

- name: alias database
  command:
    cmd: newaliases
    unless: test /etc/aliases.db -nt /etc/aliases

- name: guestbook database, created once (Ansible's one-line form)
  command: chdir=/srv/guestbook/current creates=/srv/guestbook/shared/guestbook.db bin/manage initdb
```

Notes:

* Ansible's one-line form works: `command: chdir=/srv/app make install` takes the words
  `chdir=`, `creates=`, `removes=`, `executable=`, `stdin=`, `stdin_add_newline=` and
  `strip_empty_ends=` out of the string wherever they stand, as Ansible does; the rest keeps
  its spacing and line breaks (a lone `\\` ending a line joins it to the next). Any argument
  can also come from the task's `args:` mapping.
* `changed_when` and `failed_when` are written as task keywords (as in Ansible) or as arguments.
  They are expressions over `rc` (the exit code), `stdout` and `stderr` (the output, without its
  final newline), using comparisons, `in` / `not in`, `and` / `or` / `not`, strings, numbers,
  lists, `true`, `false` and `none`; a list of expressions means all of them. Negative numbers
  are refused when the playbook loads: a command killed by a signal has a negative `rc`, which
  `rc < 0` catches. `{{ var }}` inserts a variable's value before the expression is judged. They
  are checked when the playbook loads and judged on the host. With `failed_when`, the exit code
  alone no longer fails the step: `failed_when: rc > 1` accepts exit codes 0 and 1.
* `unless` runs with the same `chdir` and `environment`, and also in check mode, so it must
  only look, never change anything.
* Check mode, as in Ansible: `creates`, `removes` and `unless` are evaluated; a command one
  of them says would run is reported `changed` ("Command would have run if not in check
  mode"), or `ok` with `changed_when: false`; a command with none of them is `skipped` with
  that message (nothing tells what it would do). No diff.
* A guard that skips the command reports `ok` with Ansible's message ("Did not run command
  since /x exists"), `rc` 0 and the reason as `stdout` ("skipped, since /x exists").
* The output is kept, up to 1 MiB per stream, in the `--json` report; a failure prints the
  command, its exit code and the last lines of its stderr. A program that does not exist
  fails with exit code 127 (126: not executable), the reason as its message and no output
  (Ansible gives the same, with the errno, 2, as `rc`); a `chdir` that does not exist fails
  too ("Unable to change directory before execution").
* The result holds Ansible's return values: `rc`, `stdout`, `stderr`, `cmd` (the argv list),
  `stdout_lines`, `stderr_lines`, `start`, `end` and `delta` (a task's registered result).
* `$VAR` and `~` in the words are expanded from the agent's environment (Ansible's
  `expand_argument_vars`, on by default); `expand_argument_vars: false` keeps them as written.
* Ansible differences: `unless` is Mainsail's. Conditions use `rc`, `stdout` and `stderr`
  directly rather than a registered variable (`rc == 2`, not `result.rc == 2`).
""",
)
