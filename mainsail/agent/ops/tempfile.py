"""tempfile: a new, uniquely named temporary file or folder (Ansible's `tempfile`)."""
from __future__ import annotations

import os
import stat
import tempfile as std_tempfile
from typing import Any, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import CHANGED, Context, MissingPrerequisite, OpError, Outcome, accept
from ..spec import Arg, OpSpec


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("tempfile: %s" % problem[0], hint=problem[1])
    folder = str(args.get("path") or std_tempfile.gettempdir())
    if safepath.kind(folder) != "directory":
        raise MissingPrerequisite("tempfile: folder %s does not exist" % folder,
                                  hint="create it first with a file task (state: directory)")
    real = safepath.real_path(folder)  # links only where safepath follows them
    if ctx.check:
        return Outcome(CHANGED, "a temporary %s would be made in %s" % (args["state"], real))
    made = _make(real, str(args["state"]), str(args["prefix"]), str(args["suffix"] or ""))
    ctx.keep(made)  # recorded as absent before: a rollback removes it
    outcome = Outcome(CHANGED, "%s created" % made)
    outcome.data = {"path": made, "state": str(args["state"])}
    try:  # Ansible's file fields of what was made
        st = os.lstat(made)
        outcome.data.update(mode="%04o" % stat.S_IMODE(st.st_mode), uid=st.st_uid,
                            gid=st.st_gid, owner=fileio.user_name(st.st_uid),
                            group=fileio.group_name(st.st_gid), size=st.st_size)
    except OSError:
        pass
    return outcome


def _make(folder: str, state: str, prefix: str, suffix: str) -> str:
    # mkstemp/mkdtemp: O_EXCL and mode 0600/0700, so no other user can get there first.
    if state == "directory":
        return std_tempfile.mkdtemp(suffix, prefix, folder)
    handle, name = std_tempfile.mkstemp(suffix, prefix, folder)
    os.close(handle)
    return name


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    for key in ("prefix", "suffix"):
        if "/" in str(args.get(key) or ""):
            return "%s must not contain '/'" % key, "put the folder in path"
    return None


SPEC = OpSpec(
    name="tempfile",
    summary="a new temporary file or folder, its path in the result",
    ansible="`tempfile`",
    args=(
        Arg("state", default="file", choices=("file", "directory"), doc="what to create"),
        Arg("path", "abspath", doc="the folder to create it in (default: the system's, "
                                   "`$TMPDIR` or `/tmp`)"),
        Arg("prefix", default="ansible.", doc="the start of its name"),
        Arg("suffix", default="", doc="the end of its name"),
    ),
    rule=_rule,
    journalled=True,
    doc="""\
Creates a new, uniquely named, empty file (mode `0600`) or folder (mode `0700`): Ansible's
`tempfile`. A task that `register`s it reads the new `path`. Every run makes a new one, so the
step is always `changed`; in check mode nothing is created and `path` is absent. The creation
is journalled: when the transaction rolls back, the file or folder is removed.
""",
    notes="""\
```yaml
- name: a scratch folder for the build
  tempfile:
    state: directory
    suffix: build
```

Notes:

* Remove it when done (`file: path="{{ scratch.path }}" state=absent`): nothing cleans it up.
""",
)
