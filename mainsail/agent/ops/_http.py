"""What get_url and uri share: one HTTP(S) request with Python's urllib, and file details.

Stdlib only (the agent runs on the host's python3, 3.8 or newer): no requests, no curl.
"""
from __future__ import annotations

import base64
import hashlib
import os
import ssl
import stat as st_mod
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import OpError, flag
from ..spec import Arg

SCHEMES = ("http", "https", "ftp", "file")
# A response is held in memory (it is written with one atomic write): bounded.
MAX_BODY = 512 << 20
REDIRECTS = ("all", "safe", "none", "no", "yes", "urllib2")


def request_args(timeout: int) -> Tuple[Arg, ...]:
    """The arguments both modules take for the request itself, declared once."""
    return (
        Arg("headers", "any", doc="request headers, a mapping of names to values"),
        Arg("timeout", "int", default=timeout, doc="seconds the request may take"),
        Arg("url_username", aliases=("username",), doc="user name for HTTP basic auth"),
        Arg("url_password", aliases=("password",), doc="password for HTTP basic auth"),
        Arg("force_basic_auth", "bool", default=False,
            doc="send the basic auth header with the first request, before a 401 asks"),
        Arg("validate_certs", "bool", default=True,
            doc="check the server's TLS certificate (`false` only for self-signed test hosts)"),
        Arg("use_proxy", "bool", default=True,
            doc="use the proxy named by the host's `http_proxy`/`https_proxy` variables"),
        Arg("http_agent", default="mainsail-httpget", doc="the User-Agent header"),
    )


class Response:
    """What came back: status, final URL, headers (lowercase names) and the body."""

    def __init__(self, status: int, url: str, reason: str, headers: Dict[str, str],
                 body: bytes) -> None:
        self.status = status
        self.url = url
        self.reason = reason
        self.headers = headers
        self.body = body

    def msg(self) -> str:
        return "%s (%d bytes)" % (self.reason or "OK", len(self.body))


def check_url(op: str, url: str) -> str:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise OpError("%s: url %r has no supported scheme" % (op, url),
                      hint="one of %s, e.g. https://example.org/file" % ", ".join(SCHEMES))
    return url


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Ansible's follow_redirects: `safe` follows only GET and HEAD, `none` nothing."""

    def __init__(self, policy: str) -> None:
        self.policy = policy

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        if self.policy in ("none", "no"):
            return None
        if self.policy == "safe" and req.get_method() not in ("GET", "HEAD"):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(op: str, args: Mapping[str, Any], url: str, method: str = "GET",
          body: Optional[bytes] = None, headers: Optional[Mapping[str, str]] = None,
          redirects: str = "safe") -> Response:
    """One request; an HTTP error status is a Response too (the caller judges it), a
    connection failure is an OpError."""
    check_url(op, url)
    sent = {"User-Agent": str(args.get("http_agent") or "mainsail-httpget")}
    sent.update(_header_map(op, args.get("headers")))
    sent.update(headers or {})
    handlers: List[Any] = [_Redirects(redirects)]
    if not flag(args, "use_proxy") and args.get("use_proxy") is not None:
        handlers.append(urllib.request.ProxyHandler({}))
    if args.get("validate_certs") is not None and not flag(args, "validate_certs"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    user, password = args.get("url_username"), args.get("url_password")
    if user is not None:
        if flag(args, "force_basic_auth"):
            token = base64.b64encode(("%s:%s" % (user, password or "")).encode("utf-8"))
            sent["Authorization"] = "Basic " + token.decode("ascii")
        else:
            manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            manager.add_password(None, url, str(user), str(password or ""))
            handlers.append(urllib.request.HTTPBasicAuthHandler(manager))
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(url, data=body, headers=sent, method=method)
    timeout = float(args.get("timeout") or 10)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return Response(int(getattr(resp, "status", 200) or 200), resp.geturl(),
                            str(getattr(resp, "reason", "OK") or "OK"),
                            _headers(resp.headers), _read(op, resp))
    except urllib.error.HTTPError as exc:
        data = b""
        try:
            data = _read(op, exc)
        except (OSError, OpError):
            pass
        return Response(int(exc.code), exc.geturl() or url, str(exc.reason),
                        _headers(exc.headers), data)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OpError("%s: request to %s failed: %s" % (op, url, reason),
                      hint="is the server up and reachable from the host? (timeout %gs)"
                           % timeout)


def _read(op: str, resp: Any) -> bytes:
    data = resp.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise OpError("%s: the response is larger than %d bytes" % (op, MAX_BODY),
                      hint="fetch large files with a command (curl, wget) instead")
    return data


def _headers(message: Any) -> Dict[str, str]:
    if message is None:
        return {}
    return dict((str(k).lower(), str(v)) for k, v in message.items())


def _header_map(op: str, value: Any) -> Dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise OpError("%s: headers must be a mapping of names to values" % op,
                      hint='headers: {Accept: "application/json"}')
    return dict((str(k), "" if v is None else str(v)) for k, v in value.items())


def digest(data: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def digest_of_file(path: str, algorithm: str) -> Optional[str]:
    chunks = safepath.iter_chunks(path)
    if chunks is None:
        return None
    hasher = hashlib.new(algorithm)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def file_details(path: str) -> Dict[str, Any]:
    """Ansible's file fields of a result: mode, owner, group, uid, gid, size, state."""
    entry = safepath.lstat(path)
    if entry is None:
        return {"state": "absent"}
    return {"mode": "%04o" % st_mod.S_IMODE(entry.st_mode), "uid": entry.st_uid,
            "gid": entry.st_gid, "owner": fileio.user_name(entry.st_uid),
            "group": fileio.group_name(entry.st_gid), "size": entry.st_size,
            "state": "directory" if st_mod.S_ISDIR(entry.st_mode) else "file"}


def url_filename(url: str) -> str:
    """The last part of a URL's path, as get_url names a file put into a folder."""
    name = os.path.basename(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    return name if name not in ("", ".", "..") else "index.html"
