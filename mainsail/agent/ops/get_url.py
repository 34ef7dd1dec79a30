"""get_url: a file downloaded on the host (urllib), checked against its checksum, written
atomically; left alone when it is already there (and matches the checksum when one is given)."""
from __future__ import annotations

import hashlib
import os
import time
from typing import Any, Dict, List, Mapping, Tuple

from .. import fileio, safepath
from ..core import Context, MissingPrerequisite, OpError, Outcome, accept, flag, settle
from ..spec import Arg, OpSpec
from ._backup import keep_copy
from ._http import (Response, check_url, digest_of_file, fetch, file_details, request_args,
                    request_rule, url_filename)


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    url = check_url("get_url", str(args["url"]))
    dest = str(args["dest"])
    started = time.monotonic()
    algorithm, wanted = parse_checksum(args, url)
    into_folder = safepath.kind(dest) == "directory"
    data: Dict[str, Any] = {"url": url, "dest": dest}
    if not into_folder:
        reason = _already_there(dest, args, algorithm, wanted)
        if reason:
            return _attrs_only(ctx, args, dest, reason, data)
    spool = _tmp_dest(args)
    resp = fetch("get_url", args, url, spool="" if ctx.check else spool)
    data.update(status_code=resp.status, elapsed=int(time.monotonic() - started))
    if not 200 <= resp.status < 300:
        raise OpError("get_url: request to %s failed: HTTP %d %s" % (url, resp.status, resp.reason),
                      hint="check the url (and credentials) from the host")
    if into_folder:
        dest = os.path.join(dest, url_filename(resp.url))
        data["dest"] = dest
    _check_download(resp, algorithm, wanted, url)
    return _write(ctx, args, dest, resp, data)


def _tmp_dest(args: Mapping[str, Any]) -> str:
    """The folder the download is first written to (``tmp_dest``): it must exist, as in
    Ansible; '' without one (the download is then held in memory only)."""
    folder = str(args.get("tmp_dest") or "")
    if not folder:
        return ""
    found = safepath.kind(folder)
    if found == "absent":
        raise MissingPrerequisite("get_url: %s directory does not exist." % folder,
                                  hint="create it first (file: state=directory), or leave "
                                       "tmp_dest out")
    if found != "directory":
        raise OpError("get_url: %s is a file but should be a directory." % folder,
                      hint="tmp_dest names a folder for the temporary download")
    return folder


def parse_checksum(args: Mapping[str, Any], url: str) -> Tuple[str, str]:
    """``ALGORITHM:HEX`` (or ``ALGORITHM:URL`` of a checksums file) -> (algorithm, hex);
    ('', '') when there is none."""
    text = str(args.get("checksum") or "").strip()
    if not text:
        return "", ""
    algorithm, sep, value = text.partition(":")
    algorithm = algorithm.strip().lower()
    if not sep or algorithm not in hashlib.algorithms_guaranteed:
        raise OpError("get_url: checksum %r is not ALGORITHM:VALUE" % text,
                      hint="e.g. sha256:9f86d08...; algorithms: sha1, sha256, sha512, md5, ...")
    value = value.strip()
    if "://" in value:
        value = _from_checksums_file(args, value, url)
    value = value.lower()
    if not value or any(c not in "0123456789abcdef" for c in value):
        raise OpError("get_url: checksum %r is not a hexadecimal digest" % text)
    return algorithm, value


def _from_checksums_file(args: Mapping[str, Any], sums_url: str, url: str) -> str:
    """The digest for ``url``'s file in a SHA256SUMS-style file: ``DIGEST  NAME`` lines."""
    resp = fetch("get_url", args, check_url("get_url", sums_url))
    if resp.status != 200:
        raise OpError("get_url: checksum file %s: HTTP %d" % (sums_url, resp.status))
    name = url_filename(url)
    lines = resp.body.decode("utf-8", "replace").splitlines()
    for line in lines:
        words = line.split()
        if len(words) >= 2 and os.path.basename(words[-1].lstrip("*")) == name:
            return words[0]
    if len(lines) == 1 and len(lines[0].split()) == 1:
        return lines[0].strip()
    raise OpError("get_url: no line for %s in checksum file %s" % (name, sums_url))


def _already_there(dest: str, args: Mapping[str, Any], algorithm: str, wanted: str) -> str:
    """Why no download is needed ('' when one is): the file exists and, with a checksum,
    matches it; without one, only ``force`` fetches an existing file again."""
    if safepath.kind(dest) == "absent":
        return ""
    if algorithm:
        return "file already exists and matches the checksum" \
            if digest_of_file(dest, algorithm) == wanted else ""
    return "" if flag(args, "force") else "file already exists"


def _check_download(resp: Response, algorithm: str, wanted: str, url: str) -> None:
    if not algorithm:
        return
    got = hashlib.new(algorithm, resp.body).hexdigest()
    if got != wanted:
        raise OpError("get_url: the checksum for %s did not match %s:%s; it was %s"
                      % (url, algorithm, wanted, got),
                      hint="the file on the server changed, or the checksum is wrong; "
                           "nothing was written")


def _attrs_only(ctx: Context, args: Mapping[str, Any], dest: str, reason: str,
                data: Dict[str, Any]) -> Outcome:
    changes = fileio.attr_changes(dest, args.get("mode"), args.get("owner"), args.get("group"))
    outcome = settle(ctx, changes, lambda: fileio.apply_attrs(
        dest, args.get("mode"), args.get("owner"), args.get("group"), journal=ctx.journal),
        ok_msg=reason)
    data.update(file_details(dest), msg=reason)
    outcome.data = data
    return outcome


def _write(ctx: Context, args: Mapping[str, Any], dest: str, resp: Response,
           data: Dict[str, Any]) -> Outcome:
    folder = os.path.dirname(dest)
    if safepath.kind(folder) != "directory":
        raise MissingPrerequisite("get_url: destination folder %s does not exist" % folder,
                                  hint=fileio.MISSING_PARENT_HINT)
    before = fileio.read_file(dest) if safepath.kind(dest) == "file" else None
    data["checksum_src"] = hashlib.sha1(resp.body).hexdigest()
    data["size"] = len(resp.body)
    if before is not None:
        data["checksum_dest"] = hashlib.sha1(before).hexdigest()
    if before == resp.body:
        return _attrs_only(ctx, args, dest, "file already up to date", data)
    kept: List[str] = []

    def apply() -> None:
        if flag(args, "backup") and before is not None:
            kept.append(keep_copy(ctx, dest, before))
        fileio.atomic_write(dest, resp.body, args.get("mode"), args.get("owner"),
                            args.get("group"), journal=ctx.journal)

    diff = fileio.unified_diff(before, resp.body, dest) if ctx.diff else ""
    change = "downloaded %s (%d bytes)" % (data["url"], len(resp.body))
    outcome = settle(ctx, [change], apply, diff)
    data["msg"] = resp.msg()
    if not ctx.check:
        data.update(file_details(dest))
    if kept and kept[0]:
        data["backup_file"] = kept[0]
    outcome.data = data
    return outcome


SPEC = OpSpec(
    name="get_url",
    summary="a file downloaded over HTTP(S) or FTP, checked against its checksum",
    ansible="`get_url`",
    args=(
        Arg("url", doc="where to download it from: `http`, `https`, `ftp` or `file` URL"),
        Arg("dest", "abspath", doc="the file to write; a folder: the file keeps the URL's "
                                   "name (downloaded every run)"),
        Arg("checksum", doc="`ALGORITHM:DIGEST` (`sha256:9f86...`), or `ALGORITHM:URL` of a "
                            "checksums file with `DIGEST  NAME` lines; the download must "
                            "match, and an existing file that matches is not downloaded again"),
        Arg("force", "bool", default=False,
            doc="download even when the file exists (without `checksum`, an existing file "
                "is otherwise left alone); it is replaced only when its content differs"),
        Arg("backup", "bool", default=False,
            doc="keep the old file beside it as `DEST.PID.DATE@TIME~` (result: "
                "`backup_file`)"),
        Arg("mode", "octal", doc="the file's permissions"),
        Arg("owner", doc="the owning user"),
        Arg("group", doc="the owning group"),
        Arg("tmp_dest", "abspath",
            doc="an existing folder the download is first written to, in a temp file that "
                "is removed again (default: none, the download is held in memory)"),
    ) + request_args(10),
    required=(("url",), ("dest",)),
    rule=request_rule,
    journalled=True,
    doc="""\
Downloads a file on the host with Python's own `urllib` (no curl or wget needed) and writes
it with an [atomic write](#how-operations-behave), journalled: Ansible's `get_url`. A file
that is already there is left alone (`ok`, nothing downloaded) unless `force` is true, or a
`checksum` is given and the file does not match it. A download must match `checksum` or the
step fails and nothing is written; a download equal to the file already there is `ok`. Only
`mode`, `owner` and `group` are then set when they differ. The result has Ansible's fields:
`dest`, `url`, `status_code`, `checksum_src` and `checksum_dest` (SHA-1), `size`, `msg`,
`elapsed`, `mode`, `owner`, `group`, `uid`, `gid`, `state` and `backup_file`.
""",
    notes="""\
```yaml
- name: the exporter's release
  get_url:
    url: https://downloads.example.org/exporter-1.2.tar.gz
    dest: /opt/exporter-1.2.tar.gz
    checksum: sha256:5b2d7f2c9a7e0c0b5f4a6d0e3c1b2a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b
    mode: "0644"
```

Notes:

* Check mode downloads (reading changes nothing) and compares: `changed` only when the file
  would be written. With `--diff`, a text file's changes are shown.
* The whole download is held in memory before it is written (at most 512 MiB). With
  `tmp_dest` it is first written to a private temp file in that folder as it arrives (not in
  check mode), read back and removed; `dest` is then written by the same atomic write, from
  a temp file beside it.
* An answer sent with `Content-Encoding: gzip` is decompressed (`decompress: false` keeps it
  as sent); `checksum`, `size` and `checksum_src` are of what is written. As in Ansible, no
  `Accept-Encoding` is asked for: `headers: {Accept-Encoding: gzip}` asks for it.
* Without `url_username`, a login for the URL's host in `~/.netrc` (of the user the step
  runs as; or the file the `NETRC` variable names) is sent as basic auth, unless `use_netrc`
  is false or `headers` give an `Authorization` header themselves.
* `ciphers`, `client_cert` and `client_key` build the TLS context with Python's `ssl`;
  `force` also sends `Cache-Control: no-cache`, as Ansible does.
* `url_password` is sent as given; mark the task `no_log: true` to keep it out of reports.
* Ansible differences: `use_gssapi: true` is refused (Kerberos needs the Python `gssapi`
  library, which the agent does not use); HTTP `If-Modified-Since` is not sent (an existing
  file is compared by content instead).
""",
)
