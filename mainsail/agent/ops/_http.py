"""What get_url and uri share: one HTTP(S) request with Python's urllib, and file details.

Stdlib only (the agent runs on the host's python3, 3.8 or newer): no requests, no curl. TLS
options are an ``ssl`` context, ``.netrc`` is read with ``netrc``, a gzip answer is
decompressed with ``gzip``, and a Unix socket is an ``http.client`` connection over AF_UNIX.
"""
from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import http.client
import netrc
import os
import socket
import ssl
import stat as st_mod
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import fileio, safepath
from ..core import OpError, as_list, flag
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
        Arg("ciphers", "names",
            doc="the TLS ciphers allowed, in OpenSSL's cipher list format; a list is joined "
                "with `:` (TLS 1.3's own suites are not affected)"),
        Arg("decompress", "bool", default=True,
            doc="decompress an answer sent with `Content-Encoding: gzip`"),
        Arg("client_cert", "abspath",
            doc="a PEM file on the host with the TLS client certificate chain (and its key, "
                "unless `client_key` names another file)"),
        Arg("client_key", "abspath",
            doc="a PEM file on the host with the client certificate's private key"),
        Arg("unredirected_headers", "any",
            doc="header names (any case) not sent again when a redirect is followed, "
                "e.g. `[Authorization]`"),
        Arg("use_gssapi", "bool", default=False,
            doc="Kerberos/Negotiate authentication: `true` is refused (it needs the Python "
                "`gssapi` library, which the agent does not use)"),
        Arg("use_netrc", "bool", default=True,
            doc="without `url_username`: basic auth with the login `.netrc` gives for the "
                "URL's host (the host user's `~/.netrc`, or the file `NETRC` names)"),
    )


def request_rule(args: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
    """What the shared request arguments refuse: checked when the playbook's task is
    rendered and again on the host."""
    if flag(args, "use_gssapi"):
        return ("use_gssapi: true needs the Python gssapi library (Kerberos/Negotiate "
                "authentication), which Mainsail's agent does not use: refused",
                "leave use_gssapi out (or false) and authenticate with url_username and "
                "url_password, or run `curl --negotiate -u :` with command")
    names = args.get("unredirected_headers")
    if names not in (None, "", []) and not isinstance(names, str) and not (
            isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)):
        return ("unredirected_headers must be a header name or a list of names",
                "unredirected_headers: [Authorization]")
    return None


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
          redirects: str = "safe", unix_socket: str = "", spool: str = "") -> Response:
    """One request; an HTTP error status is a Response too (the caller judges it), a
    connection failure is an OpError. ``unix_socket``: connect to that socket instead of the
    URL's host; ``spool``: an existing folder the body is first written to (a temp file,
    removed again) as it arrives."""
    check_url(op, url)
    problem = request_rule(args)
    if problem:
        raise OpError("%s: %s" % (op, problem[0]), hint=problem[1])
    parts = urllib.parse.urlsplit(url)
    sent = {"User-Agent": str(args.get("http_agent") or "mainsail-httpget")}
    if flag(args, "force"):  # Ansible's force: no cached copy
        sent["Cache-Control"] = "no-cache"
    sent.update(_header_map(op, args.get("headers")))
    sent.update(headers or {})
    handlers: List[Any] = [_Redirects(redirects)]
    if unix_socket or (not flag(args, "use_proxy") and args.get("use_proxy") is not None):
        handlers.append(urllib.request.ProxyHandler({}))
    context = tls_context(op, args) if parts.scheme.lower() == "https" else None
    if unix_socket:
        handlers.append(_UnixHTTPHandler(unix_socket))
        handlers.append(_UnixHTTPSHandler(unix_socket, context))
    elif context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    user, password = args.get("url_username"), args.get("url_password")
    if user is not None:
        if flag(args, "force_basic_auth"):
            sent["Authorization"] = _basic(str(user), str(password or ""))
        else:
            manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            manager.add_password(None, url, str(user), str(password or ""))
            handlers.append(urllib.request.HTTPBasicAuthHandler(manager))
    elif _flag_default(args, "use_netrc", True) and parts.scheme.lower() in ("http", "https") \
            and not any(k.lower() == "authorization" for k in sent):
        login = netrc_login(op, parts.hostname or "")
        if login is not None:
            sent["Authorization"] = _basic(*login)
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(url, data=body, method=method)
    unredirected = set(n.strip().lower() for n in as_list(args.get("unredirected_headers")))
    for name, value in sent.items():
        if name.lower() in unredirected and name.lower() != "user-agent":
            req.add_unredirected_header(name, value)
        else:
            req.add_header(name, value)
    timeout = float(args.get("timeout") or 10)
    decompress = _flag_default(args, "decompress", True)
    try:
        with opener.open(req, timeout=timeout) as resp:
            found = _headers(resp.headers)
            return Response(int(getattr(resp, "status", 200) or 200), resp.geturl(),
                            str(getattr(resp, "reason", "OK") or "OK"), found,
                            _body(op, resp, found, decompress, spool))
    except urllib.error.HTTPError as exc:
        found = _headers(exc.headers)
        data = b""
        try:
            data = _body(op, exc, found, decompress, "")
        except (OSError, OpError):
            pass
        return Response(int(exc.code), exc.geturl() or url, str(exc.reason), found, data)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        where = " over unix socket %s" % unix_socket if unix_socket else ""
        raise OpError("%s: request to %s%s failed: %s" % (op, url, where, reason),
                      hint="is the server up and reachable from the host? (timeout %gs)"
                           % timeout)


def _flag_default(args: Mapping[str, Any], name: str, default: bool) -> bool:
    return default if args.get(name) is None else flag(args, name)


def _basic(user: str, password: str) -> str:
    token = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8"))
    return "Basic " + token.decode("ascii")


def netrc_login(op: str, hostname: str) -> Optional[Tuple[str, str]]:
    """(login, password) that the netrc file gives for ``hostname`` (its ``default`` entry
    too), as Ansible reads it: the file ``NETRC`` names, else ``~/.netrc``; none when the
    file is missing or gives no password."""
    if not hostname:
        return None
    try:
        found = netrc.netrc(os.environ.get("NETRC") or None).authenticators(hostname)
    except netrc.NetrcParseError as exc:
        raise OpError("%s: the netrc file cannot be read: %s" % (op, exc),
                      hint="fix the file (a ~/.netrc holding passwords must be private to "
                           "its owner: chmod 600), or set use_netrc: false")
    except OSError:
        return None
    if not found or not found[0] or not found[2]:
        return None
    return str(found[0]), str(found[2])


def tls_context(op: str, args: Mapping[str, Any]) -> Optional[ssl.SSLContext]:
    """The TLS context the options ask for; None when the defaults do (urllib's own)."""
    validate = _flag_default(args, "validate_certs", True)
    ciphers = as_list(args.get("ciphers"))
    cert, key, cafile = args.get("client_cert"), args.get("client_key"), args.get("ca_path")
    if validate and not (ciphers or cert or cafile):
        return None
    try:
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (OSError, ssl.SSLError) as exc:
        raise OpError("%s: ca_path %s cannot be read as PEM certificates: %s"
                      % (op, cafile, exc), hint="a PEM file holding the CA certificate(s)")
    if not validate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if ciphers:
        try:
            context.set_ciphers(":".join(ciphers))
        except ssl.SSLError:
            raise OpError("%s: no TLS cipher matches ciphers %s" % (op, ":".join(ciphers)),
                          hint="OpenSSL cipher names, e.g. ECDHE-RSA-AES256-GCM-SHA384 "
                               "(`openssl ciphers -v` on the host lists them)")
    if cert:
        if hasattr(context, "post_handshake_auth"):  # TLS 1.3 asks for it after the handshake
            context.post_handshake_auth = True
        try:
            context.load_cert_chain(str(cert), keyfile=str(key) if key else None)
        except (OSError, ssl.SSLError) as exc:
            raise OpError("%s: the client certificate %s%s cannot be loaded: %s"
                          % (op, cert, " (key %s)" % key if key else "", exc),
                          hint="PEM files readable on the host; a certificate without its "
                               "key needs client_key")
    return context


def _unix_connect(path: str, timeout: Any) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if isinstance(timeout, (int, float)):
        sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise OSError("cannot connect to unix socket %s: %s" % (path, exc.strerror or exc))
    return sock


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket: the URL's host only names the Host header."""

    def __init__(self, path: str, host: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = _unix_connect(self.socket_path, self.timeout)


class _UnixHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS over a Unix socket: TLS on the socket, the URL's host as the server name."""

    def __init__(self, path: str, host: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.socket_path = path

    def connect(self) -> None:
        sock = _unix_connect(self.socket_path, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _UnixHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.socket_path = path

    def http_open(self, req: Any) -> Any:
        return self.do_open(functools.partial(_UnixHTTPConnection, self.socket_path), req)


class _UnixHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, path: str, context: Optional[ssl.SSLContext]) -> None:
        super().__init__(context=context)
        self.socket_path = path

    def https_open(self, req: Any) -> Any:
        return self.do_open(functools.partial(_UnixHTTPSConnection, self.socket_path), req,
                            context=self._context)  # type: ignore[attr-defined]


def _body(op: str, resp: Any, headers: Mapping[str, str], decompress: bool,
          spool: str) -> bytes:
    """The answer's body, decompressed when it says it is gzip-encoded (and ``decompress``),
    through a temp file in ``spool`` when one is given."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if not decompress or encoding not in ("gzip", "x-gzip"):
        return _spooled(op, resp, spool) if spool else _read(op, resp)
    stream = gzip.GzipFile(fileobj=resp, mode="rb")
    try:
        return _spooled(op, stream, spool) if spool else _read(op, stream)
    except (EOFError, zlib.error, getattr(gzip, "BadGzipFile", zlib.error)) as exc:
        raise OpError("%s: the answer is sent gzip-encoded but cannot be decompressed: %s"
                      % (op, exc), hint="decompress: false keeps the answer as it was sent")


def _spooled(op: str, stream: Any, folder: str) -> bytes:
    """The body written to a private temp file in ``folder`` as it arrives, then read back
    through the same descriptor (whoever else can write to the folder cannot swap the file
    in between); the file is removed in every case."""
    fd, path = tempfile.mkstemp(dir=folder, prefix=".mainsail-download.")
    try:
        total = 0
        with os.fdopen(fd, "w+b") as handle:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                total += len(chunk)
                if total > MAX_BODY:
                    raise _too_large(op)
                handle.write(chunk)
            handle.flush()
            handle.seek(0)
            return handle.read()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def _too_large(op: str) -> OpError:
    return OpError("%s: the response is larger than %d bytes" % (op, MAX_BODY),
                   hint="fetch large files with a command (curl, wget) instead")


def _read(op: str, resp: Any) -> bytes:
    data = resp.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise _too_large(op)
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
