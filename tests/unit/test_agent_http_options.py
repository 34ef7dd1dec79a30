"""get_url's and uri's TLS, auth, encoding and transport options, against real servers on
127.0.0.1 (HTTP and HTTPS) and on a Unix socket, run in-process."""
from __future__ import annotations

import datetime
import gzip
import hashlib
import ipaddress
import json
import os
import socketserver
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from mainsail.agent.fileio import sha256_bytes
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import run_op

TEXT = b"plain text, sent gzip-encoded\n" * 20
SEEN: List[Dict[str, Any]] = []
SERVER_CIPHER = "ECDHE-RSA-AES256-GCM-SHA384"
OTHER_CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: Tuple[Tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        SEEN.append({"method": self.command, "path": self.path, "body": body,
                     "headers": dict((k.lower(), v) for k, v in self.headers.items())})
        if self.path == "/gz":
            self._send(200, gzip.compress(TEXT), (("Content-Type", "text/plain"),
                                                  ("Content-Encoding", "gzip")))
        elif self.path == "/gz.json":
            self._send(200, gzip.compress(b'{"zipped": true}'),
                       (("Content-Type", "application/json"), ("Content-Encoding", "gzip")))
        elif self.path == "/not-gz":
            self._send(200, b"this is not gzip", (("Content-Encoding", "gzip"),))
        elif self.path == "/moved":
            self._send(302, b"", (("Location", "/echo"),))
        elif self.path == "/login":
            if self.headers.get("Authorization") == "Basic bmV0dXNlcjpuZXRwYXNz":  # netuser:netpass
                self._send(200, b"welcome netuser")
            else:
                self._send(401, b"who are you?", (("WWW-Authenticate", 'Basic realm="x"'),))
        elif self.path == "/whoami":
            cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") \
                else None
            name = dict(x[0] for x in cert["subject"])["commonName"] if cert else "anonymous"
            self._send(200, name.encode())
        else:
            self._send(200, json.dumps({"got": body.decode("utf-8", "replace"),
                                        "path": self.path,
                                        "type": self.headers.get("Content-Type")}).encode(),
                       (("Content-Type", "application/json"),))

    do_GET = do_POST = do_PUT = do_HEAD = _answer


@pytest.fixture(autouse=True)
def no_netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without a netrc file (the runner's own must not leak in)."""
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    SEEN.clear()


def _serve(server: socketserver.BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def http() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _serve(httpd)
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


# ---------------------------------------------------------------- certificates


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(name: str, key: rsa.RSAPrivateKey, issuer: Optional[Tuple[x509.Name, Any]] = None,
          ca: bool = False, ip: str = "") -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def pki() -> Iterator[Dict[str, str]]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    folder = tempfile.mkdtemp(prefix="mainsail-pki-")
    ca_key, server_key, client_key = _key(), _key(), _key()
    ca = _cert("test CA", ca_key, ca=True)
    server = _cert("127.0.0.1", server_key, (ca.subject, ca_key), ip="127.0.0.1")
    client = _cert("client-one", client_key, (ca.subject, ca_key))
    files = {"ca": _pem(ca), "server": _pem(server) + _key_pem(server_key),
             "client_cert": _pem(client), "client_key": _key_pem(client_key),
             "client_both": _pem(client) + _key_pem(client_key)}
    paths = {}
    for name, data in files.items():
        path = os.path.join(folder, name + ".pem")
        with open(path, "wb") as handle:
            handle.write(data)
        paths[name] = path
    yield paths
    for path in paths.values():
        os.unlink(path)
    os.rmdir(folder)


def _server_context(pki: Dict[str, str]) -> ssl.SSLContext:
    """TLS 1.2 with one cipher (so that `ciphers` can miss it); a client certificate is
    asked for and checked against the CA, not required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(SERVER_CIPHER)
    context.load_cert_chain(pki["server"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


class _TLSServer(ThreadingHTTPServer):
    context: ssl.SSLContext

    def get_request(self) -> Tuple[Any, Any]:
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes are part of the tests


@pytest.fixture(scope="module")
def https(pki: Dict[str, str]) -> Iterator[str]:
    httpd = _TLSServer(("127.0.0.1", 0), _Handler)
    httpd.context = _server_context(pki)
    _serve(httpd)
    yield "https://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    context: Any = None

    def get_request(self) -> Tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True)
        return sock, ("unix", 0)  # BaseHTTPRequestHandler reads client_address[0]


@pytest.fixture
def unix_server(tmp_path: Path) -> Iterator[Tuple[str, _UnixServer]]:
    path = str(tmp_path / "web.sock")
    server = _UnixServer(path, _Handler)
    _serve(server)
    yield path, server
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- decompress


def test_get_url_decompresses_a_gzip_answer_unless_told_not_to(http: str,
                                                               tmp_path: Path) -> None:
    dest = tmp_path / "text.txt"
    result = run_op("get_url", {"url": http + "/gz", "dest": str(dest)})
    assert result.status == "changed", result.msg
    assert dest.read_bytes() == TEXT and result.data["size"] == len(TEXT)
    assert result.data["checksum_src"] == hashlib.sha1(TEXT).hexdigest()
    # As Ansible: no Accept-Encoding is asked for; the server chose to send gzip.
    assert SEEN[0]["headers"].get("accept-encoding") == "identity"
    raw = tmp_path / "text.txt.gz"
    kept = run_op("get_url", {"url": http + "/gz", "dest": str(raw), "decompress": False})
    assert kept.status == "changed" and raw.read_bytes() != TEXT
    assert gzip.decompress(raw.read_bytes()) == TEXT


def test_get_url_checksum_is_of_the_decompressed_file(http: str, tmp_path: Path) -> None:
    args = {"url": http + "/gz", "dest": str(tmp_path / "t"),
            "checksum": "sha256:" + hashlib.sha256(TEXT).hexdigest()}
    assert run_op("get_url", args).status == "changed"
    assert run_op("get_url", args).status == "ok"


def test_uri_decompresses_content_and_parses_gzipped_json(http: str, tmp_path: Path) -> None:
    text = run_op("uri", {"url": http + "/gz", "return_content": True})
    assert text.status == "ok" and text.data["content"] == TEXT.decode()
    assert text.data["content_encoding"] == "gzip"  # the answer's headers, as they came
    parsed = run_op("uri", {"url": http + "/gz.json"})
    assert parsed.data["json"] == {"zipped": True}
    raw = run_op("uri", {"url": http + "/gz.json", "decompress": False,
                         "dest": str(tmp_path / "a.gz")})
    assert raw.status == "changed" and "json" not in raw.data
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == b'{"zipped": true}'


def test_a_broken_gzip_answer_is_a_clean_failure(http: str, tmp_path: Path) -> None:
    result = run_op("get_url", {"url": http + "/not-gz", "dest": str(tmp_path / "x")})
    assert result.status == "failed" and "cannot be decompressed" in result.msg
    assert not (tmp_path / "x").exists()
    kept = run_op("get_url", {"url": http + "/not-gz", "dest": str(tmp_path / "x"),
                              "decompress": False})
    assert kept.status == "changed" and (tmp_path / "x").read_bytes() == b"this is not gzip"


# ---------------------------------------------------------------- netrc


def test_netrc_gives_basic_auth_for_the_host(http: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netuser password netpass\n")
    monkeypatch.setenv("NETRC", str(netrc))
    got = run_op("uri", {"url": http + "/login", "return_content": True})
    assert got.status == "ok" and got.data["content"] == "welcome netuser"
    dest = tmp_path / "page"
    assert run_op("get_url", {"url": http + "/login", "dest": str(dest)}).status == "changed"
    assert dest.read_bytes() == b"welcome netuser"
    off = run_op("uri", {"url": http + "/login", "use_netrc": False})
    assert off.status == "failed" and off.data["status"] == 401
    assert "authorization" not in SEEN[-1]["headers"]
    # url_username wins over the file, as in Ansible.
    named = run_op("uri", {"url": http + "/login", "url_username": "other",
                           "url_password": "x", "force_basic_auth": True})
    assert named.status == "failed" and SEEN[-1]["headers"]["authorization"] != \
        "Basic bmV0dXNlcjpuZXRwYXNz"


def test_netrc_is_read_from_home_and_an_explicit_header_is_kept(
        http: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("default login netuser password netpass\n")
    (home / ".netrc").chmod(0o600)
    monkeypatch.delenv("NETRC")
    monkeypatch.setenv("HOME", str(home))
    assert run_op("uri", {"url": http + "/login"}).status == "ok"
    mine = run_op("uri", {"url": http + "/echo", "headers": {"Authorization": "Bearer t"}})
    assert mine.status == "ok" and SEEN[-1]["headers"]["authorization"] == "Bearer t"


def test_a_broken_netrc_file_is_named(http: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("bogus 127.0.0.1\n")
    monkeypatch.setenv("NETRC", str(netrc))
    result = run_op("uri", {"url": http + "/echo"})
    assert result.status == "failed" and "netrc file cannot be read" in result.msg
    assert run_op("uri", {"url": http + "/echo", "use_netrc": False}).status == "ok"


# ---------------------------------------------------------------- headers and caching


def test_unredirected_headers_stay_off_the_redirected_request(http: str) -> None:
    args = {"url": http + "/moved", "url_username": "u", "url_password": "p",
            "force_basic_auth": True, "headers": {"X-Token": "t", "X-Kept": "k"}}
    assert run_op("uri", args).status == "ok"
    first, second = SEEN[-2]["headers"], SEEN[-1]["headers"]
    assert first["authorization"] == second["authorization"] == "Basic dTpw"
    assert second["x-token"] == "t"
    SEEN.clear()
    dropped = run_op("uri", dict(args, unredirected_headers=["authorization", "X-TOKEN"]))
    assert dropped.status == "ok" and dropped.data["redirected"] is True
    first, second = SEEN[0]["headers"], SEEN[1]["headers"]
    assert first["authorization"] == "Basic dTpw" and first["x-token"] == "t"
    assert "authorization" not in second and "x-token" not in second
    assert second["x-kept"] == "k" and second["user-agent"] == "mainsail-httpget"


def test_get_url_takes_unredirected_headers_as_one_string(http: str, tmp_path: Path) -> None:
    result = run_op("get_url", {"url": http + "/moved", "dest": str(tmp_path / "e"),
                                "headers": {"X-Token": "t"},
                                "unredirected_headers": "X-Token"})
    assert result.status == "changed" and "x-token" not in SEEN[-1]["headers"]
    assert SEEN[0]["headers"]["x-token"] == "t"


def test_force_asks_for_no_cached_copy(http: str, tmp_path: Path) -> None:
    assert run_op("uri", {"url": http + "/echo", "force": True}).status == "ok"
    assert SEEN[-1]["headers"]["cache-control"] == "no-cache"
    assert run_op("uri", {"url": http + "/echo"}).status == "ok"
    assert "cache-control" not in SEEN[-1]["headers"]
    dest = tmp_path / "f"
    assert run_op("get_url", {"url": http + "/echo", "dest": str(dest), "force": True}
                  ).status == "changed"
    assert SEEN[-1]["headers"]["cache-control"] == "no-cache"


# ---------------------------------------------------------------- gssapi


def test_use_gssapi_true_is_refused_with_the_reason(http: str, tmp_path: Path) -> None:
    for op, args in (("uri", {"url": http + "/echo"}),
                     ("get_url", {"url": http + "/echo", "dest": str(tmp_path / "g")})):
        with pytest.raises(BadInput, match="gssapi library"):
            coerce_args(OPS[op], dict(args, use_gssapi=True), "site.yml:4")
        refused = run_op(op, dict(args, use_gssapi=True))
        assert refused.status == "failed" and "needs the Python gssapi library" in refused.msg
        assert run_op(op, dict(args, use_gssapi=False)).status in ("ok", "changed")
    assert len(SEEN) == 2  # the refused ones sent nothing


# ---------------------------------------------------------------- TLS


def test_ca_path_verifies_a_private_ca(https: str, pki: Dict[str, str]) -> None:
    unknown = run_op("uri", {"url": https + "/echo", "timeout": 5})
    assert unknown.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in unknown.msg
    trusted = run_op("uri", {"url": https + "/echo", "ca_path": pki["ca"]})
    assert trusted.status == "ok", trusted.msg
    assert trusted.data["json"]["path"] == "/echo"
    missing = run_op("uri", {"url": https + "/echo", "ca_path": pki["ca"] + ".nope"})
    assert missing.status == "failed" and "cannot be read as PEM" in missing.msg


def test_ciphers_choose_what_tls_may_use(https: str, pki: Dict[str, str]) -> None:
    base = {"url": https + "/echo", "ca_path": pki["ca"], "timeout": 5}
    assert run_op("uri", dict(base, ciphers=[SERVER_CIPHER, OTHER_CIPHER])).status == "ok"
    assert run_op("uri", dict(base, ciphers=SERVER_CIPHER)).status == "ok"
    other = run_op("uri", dict(base, ciphers=[OTHER_CIPHER]))
    assert other.status == "failed" and "failed" in other.msg
    bogus = run_op("uri", dict(base, ciphers=["NO-SUCH-CIPHER"]))
    assert bogus.status == "failed" and "no TLS cipher matches" in bogus.msg
    assert coerce_args(OPS["uri"], {"url": "https://x/", "ciphers": "A:B"})["ciphers"] == ["A:B"]


def test_a_client_certificate_is_presented(https: str, pki: Dict[str, str],
                                           tmp_path: Path) -> None:
    anonymous = run_op("uri", {"url": https + "/whoami", "ca_path": pki["ca"],
                               "return_content": True})
    assert anonymous.data["content"] == "anonymous"
    paired = run_op("uri", {"url": https + "/whoami", "ca_path": pki["ca"],
                            "return_content": True, "client_cert": pki["client_cert"],
                            "client_key": pki["client_key"]})
    assert paired.status == "ok" and paired.data["content"] == "client-one"
    dest = tmp_path / "who"
    got = run_op("get_url", {"url": https + "/whoami", "dest": str(dest),
                             "validate_certs": False, "client_cert": pki["client_both"]})
    assert got.status == "changed" and dest.read_bytes() == b"client-one"
    keyless = run_op("uri", {"url": https + "/whoami", "ca_path": pki["ca"],
                             "client_cert": pki["client_cert"]})
    assert keyless.status == "failed" and "client certificate" in keyless.msg


def test_get_url_validate_certs_false_still_works_with_a_cipher(https: str,
                                                               tmp_path: Path) -> None:
    dest = tmp_path / "e"
    result = run_op("get_url", {"url": https + "/echo", "dest": str(dest),
                                "validate_certs": False, "ciphers": [SERVER_CIPHER]})
    assert result.status == "changed" and json.loads(dest.read_text())["path"] == "/echo"


# ---------------------------------------------------------------- unix socket


def test_uri_speaks_http_over_a_unix_socket(unix_server: Tuple[str, _UnixServer],
                                            tmp_path: Path) -> None:
    path, _server = unix_server
    got = run_op("uri", {"url": "http://localhost/echo", "unix_socket": path,
                         "method": "POST", "body": "hello", "status_code": 200})
    assert got.status == "ok", got.msg
    assert got.data["json"]["got"] == "hello" and SEEN[-1]["headers"]["host"] == "localhost"
    dest = tmp_path / "out.json"
    written = run_op("uri", {"url": "http://localhost/echo", "unix_socket": path,
                             "dest": str(dest)})
    assert written.status == "changed" and json.loads(dest.read_text())["path"] == "/echo"
    gone = run_op("uri", {"url": "http://localhost/echo",
                          "unix_socket": str(tmp_path / "none.sock")})
    assert gone.status == "failed" and "unix socket" in gone.msg


def test_uri_speaks_https_over_a_unix_socket(unix_server: Tuple[str, _UnixServer],
                                             pki: Dict[str, str]) -> None:
    path, server = unix_server
    server.context = _server_context(pki)
    got = run_op("uri", {"url": "https://127.0.0.1/whoami", "unix_socket": path,
                         "ca_path": pki["ca"], "client_cert": pki["client_both"],
                         "return_content": True})
    assert got.status == "ok", got.msg
    assert got.data["content"] == "client-one"


# ---------------------------------------------------------------- tmp_dest


def test_get_url_spools_the_download_in_tmp_dest(http: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    made: List[str] = []
    real = tempfile.mkstemp

    def spy(*args: Any, **kwargs: Any) -> Tuple[int, str]:
        fd, name = real(*args, **kwargs)
        made.append(name)
        return fd, name
    monkeypatch.setattr(tempfile, "mkstemp", spy)
    dest = tmp_path / "t.txt"
    result = run_op("get_url", {"url": http + "/gz", "dest": str(dest), "tmp_dest": str(spool)})
    assert result.status == "changed" and dest.read_bytes() == TEXT
    assert [os.path.dirname(m) for m in made] == [str(spool)]
    assert list(spool.iterdir()) == []  # the temp file is gone again
    check = run_op("get_url", {"url": http + "/gz", "dest": str(tmp_path / "c"),
                               "tmp_dest": str(spool)}, check=True)
    assert check.status == "changed" and len(made) == 1  # check mode writes nothing
    assert not (tmp_path / "c").exists()


def test_get_url_tmp_dest_must_be_an_existing_folder(http: str, tmp_path: Path) -> None:
    missing = run_op("get_url", {"url": http + "/gz", "dest": str(tmp_path / "a"),
                                 "tmp_dest": str(tmp_path / "nope")})
    assert missing.status == "failed" and "directory does not exist." in missing.msg
    (tmp_path / "file").write_text("")
    a_file = run_op("get_url", {"url": http + "/gz", "dest": str(tmp_path / "a"),
                                "tmp_dest": str(tmp_path / "file")})
    assert a_file.status == "failed" and "is a file but should be a directory." in a_file.msg
    assert SEEN == [] and not (tmp_path / "a").exists()


# ---------------------------------------------------------------- uri src


def test_uri_sends_a_file_on_the_host_with_remote_src(http: str, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_bytes(b'{"from": "file"}')
    sent = run_op("uri", {"url": http + "/echo", "method": "POST", "src": str(payload),
                          "remote_src": True, "body_format": "json"})
    assert sent.status == "ok", sent.msg
    assert sent.data["json"] == {"got": '{"from": "file"}', "path": "/echo",
                                 "type": "application/json"}
    missing = run_op("uri", {"url": http + "/echo", "method": "POST", "remote_src": True,
                             "src": str(tmp_path / "none")})
    assert missing.status == "failed" and "Unable to open source file" in missing.msg
    skipped = run_op("uri", {"url": http + "/echo", "method": "POST", "src": str(payload),
                             "remote_src": True}, check=True)
    assert skipped.status == "skipped" and len(SEEN) == 1


def test_uri_sends_a_shipped_file(http: str) -> None:
    data = b"shipped from the project\n"
    sent = run_op("uri", {"url": http + "/echo", "method": "PUT", "src": "files/body.txt",
                          "content_sha": sha256_bytes(data)}, blobs=[data])
    assert sent.status == "ok" and sent.data["json"]["got"] == data.decode()
    lost = run_op("uri", {"url": http + "/echo", "method": "PUT", "src": "files/body.txt"})
    assert lost.status == "failed" and "no file was shipped" in lost.msg


def test_uri_asks_for_the_shipped_file_only_when_it_sends_it(tmp_path: Path) -> None:
    from mainsail.agent.ops import uri
    args = {"url": "http://127.0.0.1/", "src": "files/b", "content_sha": "ab" * 32}
    assert uri.needed_blobs(args) == ["ab" * 32]
    assert uri.needed_blobs(dict(args, creates=str(tmp_path))) == []
    assert uri.needed_blobs({"url": "http://127.0.0.1/"}) == []


def test_uri_refuses_body_with_src() -> None:
    with pytest.raises(BadInput, match="mutually exclusive: body|src"):
        coerce_args(OPS["uri"], {"url": "http://127.0.0.1/", "body": "x", "src": "a.json"},
                    "site.yml:2")
