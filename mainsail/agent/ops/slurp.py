"""slurp: a file's content, base64-encoded, in the step's result (read only)."""
from __future__ import annotations

import base64
import os
from typing import Any, Mapping

from .. import safepath
from ..core import Context, OpError, Outcome, accept, ok
from ..spec import Arg, OpSpec

# base64 grows a file by a third; the whole result must fit protocol.MAX_DATA_BYTES.
MAX_BYTES = 8 << 20


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    path = str(args["src"])
    # Ansible's own messages, which playbooks test for
    try:
        kind = safepath.kind(path)
    except PermissionError:  # a folder on the way that this user may not enter
        raise OpError("File is not readable: %s" % path)
    except OpError as exc:  # e.g. a file where a folder should be
        raise OpError("Unable to slurp file: %s" % exc.msg, hint=exc.hint)
    if kind == "absent":
        raise OpError("File not found: %s" % path)
    if kind == "directory" and not os.access(path, os.R_OK):
        raise OpError("File is not readable: %s" % path)
    if kind == "directory":
        raise OpError("Source is a directory and must be a file: %s" % path,
                      hint="slurp reads one regular file")
    entry = safepath.lstat(path)
    if entry is not None and entry.st_size > MAX_BYTES:
        raise OpError("slurp: %s is %d bytes, more than the %d slurp returns"
                      % (path, entry.st_size, MAX_BYTES), hint="use fetch for large files")
    try:
        data = safepath.read_bytes(path)
    except PermissionError:
        raise OpError("File is not readable: %s" % path)
    if data is None:
        raise OpError("File not found: %s" % path)
    outcome = ok("%s: %d bytes" % (path, len(data)))
    outcome.data = {"content": base64.b64encode(data).decode("ascii"), "encoding": "base64",
                    "source": path}
    return outcome


SPEC = OpSpec(
    name="slurp",
    summary="a file's content, base64-encoded, in the result",
    ansible="`slurp`",
    args=(Arg("src", "abspath", aliases=("path",), doc="the file to read"),),
    required=(("src",),),
    doc="""\
Reads one regular file on the host and returns it: Ansible's `slurp`. A task that
`register`s it reads `content` (the bytes, base64-encoded: decode with `| b64decode`),
`encoding` (`base64`) and `source` (the path). The step is always `ok`; a missing file or a
folder fails it. Read by the agent itself (no process starts), through the same safe path
walk as every write: a link in a folder another user can change is refused.
""",
    notes="""\
```yaml
- name: the CA certificate
  slurp:
    src: /etc/ssl/certs/ca-certificates.crt
```

Notes:

* Files over 8 MiB are refused (the result travels in one message); use `fetch`.
""",
)
