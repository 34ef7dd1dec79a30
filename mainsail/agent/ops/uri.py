"""uri: one HTTP request from the host (urllib), its status checked, its answer returned."""
from __future__ import annotations

import glob
import json
import os
import re
import time
import urllib.parse
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import (FAILED, SKIPPED, Context, MissingPrerequisite, OpError, Outcome, accept, flag, ok,
                    relative_base, settle)
from ..spec import Arg, OpSpec, Ships
from ._http import (MAX_BODY, REDIRECTS, Response, check_url, fetch, file_details, request_args,
                    request_rule)

# Methods that only read: run in check mode too, so a registered answer is there to use.
READING = ("GET", "HEAD", "OPTIONS")
JSON_TYPES = ("json", "javascript", "x-json")
MAX_CONTENT = 8 << 20  # what the result may carry (the whole result travels as one message)


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    args = accept(SPEC, args)
    problem = _rule(args)
    if problem:
        raise OpError("uri: %s" % problem[0], hint=problem[1])
    url = check_url("uri", str(args["url"]))
    method = str(args["method"]).upper()
    skip = _guard(args)
    if skip:
        outcome = ok(skip)
        outcome.data = {"url": url, "msg": skip}
        return outcome
    if ctx.check and (method not in READING or args.get("dest")):
        return Outcome(SKIPPED, "%s %s not sent in check mode (it may change something)"
                       % (method, url))
    body, headers = _body(ctx, args)
    started = time.monotonic()
    resp = fetch("uri", args, url, method, body, headers, str(args["follow_redirects"]),
                 unix_socket=str(args.get("unix_socket") or ""))
    data = _result(args, url, resp, int(time.monotonic() - started))
    wanted = status_codes(args)
    if resp.status not in wanted:
        data["content"] = _text(resp)
        outcome = Outcome(FAILED, "Status code was %d and not %s: %s"
                          % (resp.status, wanted, resp.reason))
        outcome.data = data
        return outcome
    outcome = _to_dest(ctx, args, resp, data) if args.get("dest") else ok(data["msg"])
    outcome.data = data
    return outcome


def status_codes(args: Mapping[str, Any]) -> List[int]:
    value = args.get("status_code")
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        return [int(str(v).strip()) for v in items if str(v).strip()]
    except ValueError:
        raise OpError("uri: status_code must be numbers, got %r" % (value,),
                      hint="status_code: [200, 201]")


def _guard(args: Mapping[str, Any]) -> str:
    if args.get("creates") and glob.glob(str(args["creates"])):
        return "skipped, since %s exists" % args["creates"]
    if args.get("removes") and not glob.glob(str(args["removes"])):
        return "skipped, since %s does not exist" % args["removes"]
    return ""


def needed_blobs(args: Mapping[str, Any]) -> List[str]:
    """The shipped ``src`` travels only when the request is going to be sent."""
    sha = args.get("content_sha")
    if not sha or flag(args, "remote_src") or _guard(args):
        return []
    return [str(sha)]


def _body(ctx: Context, args: Mapping[str, Any]) -> Tuple[Optional[bytes], Dict[str, str]]:
    """The request body and the Content-Type it implies (unless headers give one)."""
    body, fmt = args.get("body"), str(args["body_format"])
    given = args.get("headers") if isinstance(args.get("headers"), Mapping) else {}
    typed = any(str(k).lower() == "content-type" for k in given)
    headers: Dict[str, str] = {}
    if args.get("src") or args.get("content_sha"):
        if not typed and fmt == "json":  # as Ansible: the format's type, whatever the source
            headers["Content-Type"] = "application/json"
        elif not typed and fmt == "form-urlencoded":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return _source(ctx, args), headers
    if body is None:
        return None, headers
    if fmt == "json":
        text = body if isinstance(body, str) else json.dumps(body)
        if not typed:
            headers["Content-Type"] = "application/json"
    elif fmt == "form-urlencoded":
        text = body if isinstance(body, str) else _form(body)
        if not typed:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        text = body if isinstance(body, str) else json.dumps(body)
    return text.encode("utf-8"), headers


def _source(ctx: Context, args: Mapping[str, Any]) -> bytes:
    """``src``'s content: the file shipped from the project (a blob by digest), or with
    ``remote_src`` the file on the host."""
    src = str(args.get("src") or "")
    if not flag(args, "remote_src"):
        sha = str(args.get("content_sha") or "")
        if not sha:
            raise OpError("uri: no file was shipped for src %r" % src,
                          hint="src names a file in the project's files/; a file on the host "
                               "needs remote_src: true")
        data = ctx.blob(sha)
        if fileio.sha256_bytes(data) != sha:
            raise OpError("uri: content blob %s does not match its digest" % sha[:12])
        return data
    path = src if src.startswith("/") else os.path.join(relative_base(),
                                                         os.path.expanduser(src))
    found = safepath.kind(path)
    if found == "absent":
        raise MissingPrerequisite("uri: Unable to open source file %s" % path,
                                  hint="create it first, or drop remote_src to send a file "
                                       "from the project's files/")
    if found != "file":
        raise OpError("uri: source %s is a %s, not a file" % (path, found))
    entry = safepath.lstat(path)
    if entry is not None and entry.st_size > MAX_BODY:
        raise OpError("uri: source file %s is larger than %d bytes" % (path, MAX_BODY),
                      hint="send large files with a command (curl -T) instead")
    data = safepath.read_bytes(path)
    if data is None:
        raise OpError("uri: Unable to open source file %s" % path)
    return data


def _form(body: Any) -> str:
    if isinstance(body, Mapping):
        pairs: List[Tuple[str, str]] = []
        for key, value in body.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            pairs.extend((str(key), "" if v is None else str(v)) for v in values)
        return urllib.parse.urlencode(pairs)
    if isinstance(body, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2
                                               for p in body):
        return urllib.parse.urlencode([(str(k), str(v)) for k, v in body])
    raise OpError("uri: a form-urlencoded body must be a mapping, a list of pairs or a string")


def _result(args: Mapping[str, Any], url: str, resp: Response, elapsed: int) -> Dict[str, Any]:
    """Ansible's result: every response header (lowercase, '-' as '_'), status, url, ..."""
    data: Dict[str, Any] = dict((k.replace("-", "_"), v) for k, v in resp.headers.items())
    data.update(status=resp.status, url=resp.url, redirected=resp.url != url,
                elapsed=elapsed, msg=resp.msg(), cookies=_cookies(resp),
                cookies_string="; ".join("%s=%s" % kv for kv in _cookies(resp).items()))
    if "location" in data:
        data["location"] = urllib.parse.urljoin(url, str(data["location"]))
    if _is_json(resp):
        try:
            data["json"] = json.loads(resp.body.decode("utf-8", "replace"))
        except ValueError:
            pass
    if flag(args, "return_content"):
        data["content"] = _text(resp)
    return data


def _is_json(resp: Response) -> bool:
    kind = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    sub = kind.partition("/")[2]
    suffix = sub.partition("+")[2] if "+" in sub else sub
    return suffix in JSON_TYPES


def _text(resp: Response) -> str:
    if len(resp.body) > MAX_CONTENT:
        raise OpError("uri: the answer is %d bytes, more than the %d a result carries"
                      % (len(resp.body), MAX_CONTENT), hint="write it to a file with dest:")
    charset = re.search(r"charset=([\w.-]+)", resp.headers.get("content-type", ""))
    try:
        return resp.body.decode(charset.group(1) if charset else "utf-8", "replace")
    except LookupError:
        return resp.body.decode("utf-8", "replace")


def _cookies(resp: Response) -> Dict[str, str]:
    found: Dict[str, str] = {}
    raw = resp.headers.get("set-cookie", "")
    for part in re.split(r",\s*(?=[^;=\s]+=)", raw) if raw else []:
        name, sep, value = part.split(";", 1)[0].partition("=")
        if sep and name.strip():
            found[name.strip()] = value.strip()
    return found


def _to_dest(ctx: Context, args: Mapping[str, Any], resp: Response,
             data: Dict[str, Any]) -> Outcome:
    """The answer written to ``dest`` (atomic, journalled); ``changed`` only when it differs."""
    dest = str(args["dest"])
    if safepath.kind(dest) == "directory":
        dest = os.path.join(dest, os.path.basename(urllib.parse.urlsplit(resp.url).path)
                            or "index.html")
    data["path"] = dest
    if resp.status == 304:
        return ok(data["msg"])
    if safepath.kind(os.path.dirname(dest)) != "directory":
        raise MissingPrerequisite("uri: folder of %s does not exist" % dest,
                                  hint=fileio.MISSING_PARENT_HINT)
    mode, owner, group = args.get("mode"), args.get("owner"), args.get("group")
    before = fileio.read_file(dest) if safepath.kind(dest) == "file" else None
    if before == resp.body:
        outcome = settle(ctx, fileio.attr_changes(dest, mode, owner, group),
                         lambda: fileio.apply_attrs(dest, mode, owner, group,
                                                    journal=ctx.journal), ok_msg=data["msg"])
    else:
        outcome = settle(ctx, ["wrote the answer to %s" % dest], lambda: fileio.atomic_write(
            dest, resp.body, mode, owner, group, journal=ctx.journal),
            fileio.unified_diff(before, resp.body, dest) if ctx.diff else "")
    if not ctx.check:
        data.update((k, v) for k, v in file_details(dest).items() if k != "size")
    return outcome


def _rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    if not re.match(r"^[A-Z]+$", str(args.get("method", "GET"))):
        return ("method %r must be one word in capitals" % args.get("method"),
                "GET, POST, PUT, PATCH, DELETE, HEAD, ...")
    if args.get("body_format") in ("json", "form-urlencoded") and args.get("body") is not None \
            and not isinstance(args["body"], (str, Mapping, list, tuple, int, float, bool)):
        return "body must be text, a mapping or a list", "body: {name: value}"
    if args.get("body") is not None and args.get("src"):
        return ("parameters are mutually exclusive: body|src",
                "send either body (the text or data itself) or src (a file)")
    return request_rule(args)


SPEC = OpSpec(
    name="uri",
    summary="an HTTP request from the host, its status checked and its answer returned",
    ansible="`uri`",
    args=(
        Arg("url", doc="the URL: `http`, `https`, `ftp` or `file`"),
        Arg("method", default="GET", doc="the HTTP method, in capitals"),
        Arg("body", "any", doc="the request body: text, or a mapping/list encoded as "
                               "`body_format` says"),
        Arg("body_format", default="raw", choices=("raw", "json", "form-urlencoded"),
            doc="how a mapping or list `body` is encoded; `json` and `form-urlencoded` also "
                "set Content-Type unless `headers` give one"),
        Arg("status_code", "any", default=[200],
            doc="the statuses that count as success (a number or a list)"),
        Arg("return_content", "bool", default=False,
            doc="put the answer's body in the result as `content` (JSON answers are always "
                "parsed into `json`)"),
        Arg("follow_redirects", default="safe", choices=REDIRECTS,
            doc="`safe`: follow redirects of GET and HEAD only; `all`/`yes`: any; "
                "`none`/`no`: never"),
        Arg("dest", "abspath", doc="write the answer's body to this file (atomic, journalled)"),
        Arg("creates", doc="skip the request when this path (a glob) exists"),
        Arg("removes", doc="skip the request when this path (a glob) does not exist"),
        Arg("mode", "octal", doc="with `dest`: the file's permissions"),
        Arg("owner", doc="with `dest`: the owning user"),
        Arg("group", doc="with `dest`: the owning group"),
        Arg("src", doc="send this file as the body: a file in the role's or project's "
                       "`files/`; with `remote_src`, a path on the host (not with `body`)"),
        Arg("remote_src", "bool", default=False,
            doc="`src` is a file on the host, not in the project"),
        Arg("force", "bool", default=False,
            doc="ask for no cached copy: sends `Cache-Control: no-cache`"),
        Arg("ca_path", "abspath",
            doc="a PEM file on the host with the CA certificate(s) that verify the server "
                "(only these, instead of the system's)"),
        Arg("unix_socket", "abspath",
            doc="connect to this Unix socket on the host instead of the URL's host (which "
                "then only names the `Host` header); proxies are not used"),
    ) + request_args(30),
    required=(("url",),),
    rule=_rule,
    ships=Ships("file", source="src", digest="content_sha", unless="remote_src"),
    internal=("content_sha",),
    journalled=True,
    doc="""\
Sends one HTTP request from the host with Python's own `urllib`: Ansible's `uri`. The step
fails when the answer's status is not in `status_code`; otherwise it is `ok` (a request does
not say whether it changed anything: judge it with `changed_when`), or `changed` when `dest`
was written because the answer differs from the file. The result has Ansible's fields:
`status`, `url`, `msg`, `redirected`, `elapsed`, `cookies`, `cookies_string`, every response
header under its lowercase name with `-` as `_` (`content_type`, `content_length`), `json`
when the answer is JSON, `content` with `return_content` (and on a failed status), and
`path` with `dest`.
""",
    notes="""\
```yaml
- name: the app is healthy
  uri:
    url: http://127.0.0.1:8000/health
    return_content: true
  register: health

- name: register the node with the cluster
  uri:
    url: http://127.0.0.1:8500/v1/agent/service/register
    method: PUT
    body_format: json
    body:
      name: guestbook
      port: 8000
    status_code: [200, 204]
```

Notes:

* Check mode: `GET`, `HEAD` and `OPTIONS` requests are sent (they only read, and a later
  task may need the registered answer); other methods, and any request with `dest`, are
  `skipped`, as Ansible skips `uri` in check mode.
* `src` sends a file as the body: from the project's `files/` (shipped by digest, as `copy`
  ships it) or, with `remote_src`, from the host. `body_format: json` or `form-urlencoded`
  still sets Content-Type; `src` and `body` together are refused, as in Ansible.
* `unix_socket`: the request goes to that socket (Docker's `/var/run/docker.sock`, for
  instance); the URL's host only names the `Host` header (and, for `https`, the name the
  certificate must carry).
* An answer sent with `Content-Encoding: gzip` is decompressed (`decompress: false` keeps it
  as sent, also in `dest`); its headers are returned as they came. As in Ansible, no
  `Accept-Encoding` is asked for.
* Without `url_username`, a login for the URL's host in `~/.netrc` (of the user the step
  runs as; or the file the `NETRC` variable names) is sent as basic auth, unless `use_netrc`
  is false or `headers` give an `Authorization` header themselves.
* `ca_path`, `ciphers`, `client_cert` and `client_key` build the TLS context with Python's
  `ssl`.
* Ansible differences: `form-multipart` is not available; `use_gssapi: true` is refused
  (Kerberos needs the Python `gssapi` library, which the agent does not use); with `dest`,
  `If-Modified-Since` is not sent (the answer is compared with the file instead).
""",
)
