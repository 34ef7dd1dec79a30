"""fetch: a file from the host, written on the controller under dest/<host>/<path> (or flat).

Three parts, one per place: ``controller_args`` (controller, when the plan is built) works out
the controller's file and its checksum; ``run`` (host) sends the file only when its checksum
differs; ``on_controller`` (controller, as the result arrives) checks the bytes against the
host's checksum and writes the file atomically.
"""
from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import tempfile
from typing import Any, Dict, Mapping, Optional

from .. import safepath
from ..core import CHANGED, Context, OpError, Outcome, accept, flag, ok
from ..spec import Arg, OpSpec

MAX_BYTES = 12 << 20  # base64 grows it by a third; a result carries at most 16 MiB
MISSING = "the remote file does not exist, not transferring, ignored"


# ---------------------------------------------------------------------------- on the controller

def controller_args(args: Mapping[str, Any], host: str, root: str) -> Dict[str, Any]:
    """Where the file lands on the controller, and the checksum of what is there now."""
    path = local_path(args, host, root)
    return {"dest_path": path, "dest_checksum": _sha1_file(path)}


def local_path(args: Mapping[str, Any], host: str, root: str) -> str:
    """Ansible's layout: DEST/HOST/SRC (the host's absolute path below it), or with ``flat``
    DEST itself (DEST/NAME when DEST ends with '/'). A relative dest is under the project."""
    dest, src = str(args["dest"]), str(args["src"])
    base = dest if os.path.isabs(dest) else os.path.join(root, dest)
    if flag(args, "flat"):
        return os.path.join(base, posixpath.basename(src)) if dest.endswith("/") \
            else os.path.normpath(base)
    parts = [p for p in src.split("/") if p not in ("", ".")]
    if ".." in parts or host in ("", ".", "..") or "/" in host:
        raise OpError("fetch: cannot place %r from host %r under %s" % (src, host, dest),
                      hint="src must be a path without '..'")
    return os.path.join(base, host, *parts)


def on_controller(step: Mapping[str, Any], result: Dict[str, Any]) -> str:
    """Write what the host sent; '' when done (or nothing to do), else why it failed."""
    data = result.get("data")
    if not isinstance(data, dict):
        return ""
    content = data.pop("content", None)
    if result.get("status") != CHANGED or content is None:
        return ""
    args = step.get("args") or {}
    try:
        raw = base64.b64decode(str(content), validate=True)
    except ValueError:
        return "fetch: the host sent content that is not base64"
    if args.get("validate_checksum", True) and hashlib.sha1(raw).hexdigest() != data.get(
            "checksum"):
        return "fetch: checksum mismatch: the bytes that arrived differ from the host's file"
    try:
        write_atomic(str(args["dest_path"]), raw)
    except OSError as exc:
        return "fetch: cannot write %s on the controller: %s" % (args["dest_path"], exc)
    return ""


def write_atomic(path: str, data: bytes) -> None:
    """Temp file beside it, fsync, rename, fsync of the folder: whole or not at all."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), 0o644)  # the file we made, not whatever the name is now
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _sha1_file(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha1(handle.read()).hexdigest()
    except OSError:
        return None


# ---------------------------------------------------------------------------- on the host

def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    src = str(args["src"])
    dest = str(args.get("dest_path") or args["dest"])
    kind = safepath.kind(src)
    if kind == "absent":
        if flag(args, "fail_on_missing"):
            raise OpError("fetch: the remote file does not exist: %s" % src,
                          hint="fail_on_missing: false lets a missing file be skipped")
        outcome = ok(MISSING)
        outcome.data = {"file": src, "msg": MISSING}
        return outcome
    if kind == "directory":
        raise OpError("fetch: %s is a directory; fetch cannot work on directories" % src)
    entry = safepath.lstat(src)
    if entry is not None and entry.st_size > MAX_BYTES:
        raise OpError("fetch: %s is %d bytes, more than the %d fetch carries"
                      % (src, entry.st_size, MAX_BYTES), hint="use `inv get` for large files")
    content = safepath.read_bytes(src)
    if content is None:
        raise OpError("fetch: the remote file does not exist: %s" % src)
    checksum = hashlib.sha1(content).hexdigest()
    data: Dict[str, Any] = {"file": src, "dest": dest, "checksum": checksum,
                            "remote_checksum": checksum, "remote_md5sum": None}
    try:
        data["md5sum"] = hashlib.md5(content).hexdigest()
    except ValueError:  # a FIPS host refuses md5
        data["md5sum"] = None
    if args.get("dest_checksum") == checksum:
        outcome = ok("%s already fetched" % src)
    else:
        outcome = Outcome(CHANGED, "fetched %s (%d bytes)" % (src, len(content)))
        if not ctx.check:
            data["content"] = base64.b64encode(content).decode("ascii")
    outcome.data = data
    return outcome


SPEC = OpSpec(
    name="fetch",
    summary="a file from the host, copied to the controller",
    ansible="`fetch`",
    args=(
        Arg("src", "abspath", doc="the file on the host"),
        Arg("dest", doc="a folder on the controller (relative: under the project); the file "
                        "lands in `DEST/HOST/SRC`, or with `flat` at `DEST`"),
        Arg("flat", "bool", default=False,
            doc="`DEST` is the file itself (or, ending with `/`, the folder it goes in "
                "under its own name), without the host and path"),
        Arg("fail_on_missing", "bool", default=True,
            doc="fail when the host has no such file (`false`: `ok`, nothing fetched)"),
        Arg("validate_checksum", "bool", default=True,
            doc="check the bytes that arrived against the host's SHA-1 before writing"),
    ),
    required=(("src",), ("dest",)),
    internal=("dest_path", "dest_checksum"),
    doc="""\
Copies one file from the host to the controller: Ansible's `fetch`. When the plan is built,
the controller works out where the file goes (`DEST/HOST/SRC`, or `DEST` with `flat`) and
sends the SHA-1 of what it has there; the host reads its file and sends it back only when
that checksum differs. The controller checks the bytes against the host's checksum and writes
them with a temp file and a rename, so the file is whole or absent. Same content: `ok`;
written: `changed`. The result has Ansible's `file`, `dest`, `checksum`, `remote_checksum`,
`md5sum` and `remote_md5sum`.
""",
    notes="""\
```yaml
- name: each host's SSH host key
  fetch:
    src: /etc/ssh/ssh_host_ed25519_key.pub
    dest: fetched

- name: the CA certificate, once
  fetch:
    src: /etc/ssl/ca/ca.crt
    dest: files/ca.crt
    flat: true
```

Notes:

* Check mode compares checksums and reports `changed` without transferring anything.
* Files over 12 MiB are refused (the content travels in the step's result): use `inv get`.
* With `no_log`, the content cannot reach the controller (the result is censored on the
  host): the step is then `changed` and nothing is written.
* Files are written with mode 0644 by the controller's user; the host's owner and mode are
  not kept.
""",
)
