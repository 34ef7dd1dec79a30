"""get_url and uri, run in-process against a small HTTP server on 127.0.0.1."""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from mainsail.errors import BadInput
from mainsail.opspec import OPS, canonical_args, canonical_op, coerce_args
from test_agent_support import run_op

FILES: Dict[str, bytes] = {
    "/app.tar.gz": b"release one\n",
    "/SHA256SUMS": b"",
    "/data.json": b'{"name": "web1", "ports": [80, 443]}',
}


class _Handler(BaseHTTPRequestHandler):
    seen: List[Dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:  # quiet in test output
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "path": self.path,
                          "headers": dict(self.headers), "body": body})
        if self.path == "/private" and self.headers.get("Authorization") != "Basic dTpw":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="x"')
            self.end_headers()
            return
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/data.json")
            self.end_headers()
            return
        if self.path == "/echo":
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Set-Cookie", "SESSION=abc; Path=/")
            self.end_headers()
            self.wfile.write(json.dumps({"got": body.decode(), "type":
                                         self.headers.get("Content-Type")}).encode())
            return
        data = FILES.get(self.path, b"secret" if self.path == "/private" else None)
        if data is None:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"no such page")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if self.path.endswith(".json")
                         else "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = _answer


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    _Handler.seen.clear()
    FILES["/app.tar.gz"] = b"release one\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- get_url

def test_get_url_downloads_once_then_leaves_an_existing_file_alone(server: str,
                                                                   tmp_path: Path) -> None:
    dest = tmp_path / "app.tar.gz"
    args = {"url": server + "/app.tar.gz", "dest": str(dest), "mode": "0640"}
    first = run_op("get_url", args)
    assert first.status == "changed", first.msg
    assert dest.read_bytes() == b"release one\n" and oct(dest.stat().st_mode & 0o777) == "0o640"
    assert first.data["status_code"] == 200 and first.data["size"] == 12
    assert first.data["checksum_src"] == hashlib.sha1(b"release one\n").hexdigest()
    assert first.data["dest"] == str(dest) and first.data["mode"] == "0640"
    again = run_op("get_url", args)
    assert again.status == "ok" and again.data["msg"] == "file already exists"
    assert len(_Handler.seen) == 1  # the second run did not even ask


def test_get_url_with_a_matching_checksum_does_not_download_again(server: str,
                                                                  tmp_path: Path) -> None:
    dest = tmp_path / "app.tar.gz"
    args = {"url": server + "/app.tar.gz", "dest": str(dest),
            "checksum": "sha256:" + sha256(b"release one\n")}
    assert run_op("get_url", args).status == "changed"
    assert run_op("get_url", args).status == "ok"
    assert len(_Handler.seen) == 1


def test_get_url_replaces_a_file_whose_checksum_differs(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "app.tar.gz"
    dest.write_bytes(b"old\n")
    args = {"url": server + "/app.tar.gz", "dest": str(dest),
            "checksum": "sha256:" + sha256(b"release one\n"), "backup": True}
    result = run_op("get_url", args)
    assert result.status == "changed" and dest.read_bytes() == b"release one\n"
    assert result.data["checksum_dest"] == hashlib.sha1(b"old\n").hexdigest()
    assert Path(result.data["backup_file"]).read_bytes() == b"old\n"
    assert "-old" in result.diff and "+release one" in result.diff


def test_get_url_refuses_a_download_that_does_not_match_and_writes_nothing(
        server: str, tmp_path: Path) -> None:
    dest = tmp_path / "app.tar.gz"
    result = run_op("get_url", {"url": server + "/app.tar.gz", "dest": str(dest),
                                "checksum": "sha256:" + sha256(b"something else")})
    assert result.status == "failed" and "did not match" in result.msg
    assert not dest.exists() and list(tmp_path.iterdir()) == []


def test_get_url_reads_the_digest_from_a_checksums_file(server: str, tmp_path: Path) -> None:
    FILES["/SHA256SUMS"] = ("%s  other.tar.gz\n%s  app.tar.gz\n"
                            % (sha256(b"x"), sha256(b"release one\n"))).encode()
    dest = tmp_path / "app"
    result = run_op("get_url", {"url": server + "/app.tar.gz", "dest": str(dest),
                                "checksum": "sha256:%s/SHA256SUMS" % server})
    assert result.status == "changed" and dest.read_bytes() == b"release one\n"


def test_get_url_force_fetches_again_but_changes_only_when_the_content_differs(
        server: str, tmp_path: Path) -> None:
    dest = tmp_path / "app.tar.gz"
    args = {"url": server + "/app.tar.gz", "dest": str(dest), "force": True}
    assert run_op("get_url", args).status == "changed"
    assert run_op("get_url", args).status == "ok"
    FILES["/app.tar.gz"] = b"release two\n"
    assert run_op("get_url", args).status == "changed"
    assert dest.read_bytes() == b"release two\n"


def test_get_url_in_check_mode_reports_and_writes_nothing(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "app.tar.gz"
    result = run_op("get_url", {"url": server + "/app.tar.gz", "dest": str(dest)}, check=True)
    assert result.status == "changed" and "+release one" in result.diff
    assert not dest.exists()


def test_get_url_into_a_folder_names_the_file_after_the_url(server: str, tmp_path: Path) -> None:
    result = run_op("get_url", {"url": server + "/app.tar.gz", "dest": str(tmp_path)})
    assert result.status == "changed"
    assert (tmp_path / "app.tar.gz").read_bytes() == b"release one\n"
    assert result.data["dest"] == str(tmp_path / "app.tar.gz")


def test_get_url_fails_on_an_http_error_and_on_a_missing_folder(server: str,
                                                                tmp_path: Path) -> None:
    missing = run_op("get_url", {"url": server + "/nothing", "dest": str(tmp_path / "f")})
    assert missing.status == "failed" and "HTTP 404" in missing.msg
    nofolder = run_op("get_url", {"url": server + "/app.tar.gz",
                                  "dest": str(tmp_path / "no" / "f")})
    assert nofolder.status == "failed" and "does not exist" in nofolder.msg


def test_get_url_sends_basic_auth_and_headers(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "p"
    result = run_op("get_url", {"url": server + "/private", "dest": str(dest),
                                "url_username": "u", "url_password": "p",
                                "force_basic_auth": True, "headers": {"X-Team": "ops"}})
    assert result.status == "changed" and dest.read_bytes() == b"secret"
    assert _Handler.seen[0]["headers"]["X-Team"] == "ops"


def test_get_url_without_forced_auth_answers_the_servers_challenge(server: str,
                                                                   tmp_path: Path) -> None:
    args = canonical_args(OPS["get_url"], {"url": server + "/private", "username": "u",
                                           "dest": str(tmp_path / "p"), "password": "p"})
    result = run_op("get_url", args)
    assert result.status == "changed", result.msg
    assert [s["headers"].get("Authorization") for s in _Handler.seen] == [None, "Basic dTpw"]


def test_get_url_refuses_bad_checksums_and_urls(tmp_path: Path) -> None:
    bad = run_op("get_url", {"url": "http://127.0.0.1:1/x", "dest": str(tmp_path / "f"),
                             "checksum": "crc32:abc"})
    assert bad.status == "failed" and "ALGORITHM:VALUE" in bad.msg
    scheme = run_op("get_url", {"url": "gopher://127.0.0.1/x", "dest": str(tmp_path / "f")})
    assert scheme.status == "failed" and "scheme" in scheme.msg


def test_get_url_names_load_under_ansible_names_with_aliases() -> None:
    assert canonical_op("ansible.builtin.get_url") == "get_url"
    assert canonical_op("ansible.legacy.uri") == "uri"
    args = coerce_args(OPS["get_url"], {"url": "http://127.0.0.1/x", "dest": "/tmp/x",
                                   "timeout": "5"}, "site.yml:3")
    assert args["timeout"] == 5 and args["force"] is False
    with pytest.raises(BadInput, match="dest"):
        coerce_args(OPS["get_url"], {"url": "http://127.0.0.1/x", "dest": "-o"}, "site.yml:3")


# ---------------------------------------------------------------- uri

def test_uri_get_returns_status_headers_and_parsed_json(server: str) -> None:
    result = run_op("uri", {"url": server + "/data.json"})
    assert result.status == "ok"
    assert result.data["status"] == 200 and result.data["json"]["ports"] == [80, 443]
    assert result.data["content_type"] == "application/json"
    assert "content" not in result.data  # only with return_content
    assert run_op("uri", {"url": server + "/data.json", "return_content": True}
                  ).data["content"].startswith('{"name"')


def test_uri_fails_when_the_status_is_not_expected_and_accepts_listed_ones(server: str) -> None:
    missing = run_op("uri", {"url": server + "/nothing"})
    assert missing.status == "failed" and "Status code was 404" in missing.msg
    assert missing.data["content"] == "no such page"
    assert run_op("uri", {"url": server + "/nothing", "status_code": [200, 404]}).status == "ok"
    assert run_op("uri", {"url": server + "/nothing", "status_code": "404"}).status == "ok"


def test_uri_posts_json_and_form_bodies(server: str) -> None:
    posted = run_op("uri", {"url": server + "/echo", "method": "POST", "body_format": "json",
                            "body": {"a": 1}, "status_code": 201})
    assert posted.status == "ok" and posted.data["json"]["got"] == '{"a": 1}'
    assert posted.data["json"]["type"] == "application/json"
    assert posted.data["cookies"] == {"SESSION": "abc"}
    form = run_op("uri", {"url": server + "/echo", "method": "PUT", "status_code": [201],
                          "body_format": "form-urlencoded", "body": {"q": "a b", "n": [1, 2]}})
    assert form.data["json"]["got"] == "q=a+b&n=1&n=2"
    assert form.data["json"]["type"] == "application/x-www-form-urlencoded"


def test_uri_follows_safe_redirects_only_when_asked(server: str) -> None:
    followed = run_op("uri", {"url": server + "/moved"})
    assert followed.status == "ok" and followed.data["redirected"] is True
    assert followed.data["url"].endswith("/data.json")
    kept = run_op("uri", {"url": server + "/moved", "follow_redirects": "none",
                          "status_code": 302})
    assert kept.status == "ok" and kept.data["location"] == server + "/data.json"


def test_uri_in_check_mode_reads_but_never_sends_what_may_change(server: str) -> None:
    read = run_op("uri", {"url": server + "/data.json"}, check=True)
    assert read.status == "ok" and read.data["json"]["name"] == "web1"
    post = run_op("uri", {"url": server + "/echo", "method": "POST"}, check=True)
    assert post.status == "skipped"
    assert [s["method"] for s in _Handler.seen] == ["GET"]


def test_uri_writes_dest_atomically_and_only_when_it_differs(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "data.json"
    args = {"url": server + "/data.json", "dest": str(dest)}
    first = run_op("uri", args)
    assert first.status == "changed" and dest.read_bytes() == FILES["/data.json"]
    assert first.data["path"] == str(dest)
    assert run_op("uri", args).status == "ok"


def test_uri_creates_and_removes_skip_the_request(server: str, tmp_path: Path) -> None:
    (tmp_path / "done").write_text("")
    skipped = run_op("uri", {"url": server + "/echo", "method": "POST",
                             "creates": str(tmp_path / "done")})
    assert skipped.status == "ok" and "exists" in skipped.msg
    assert _Handler.seen == []


def test_uri_refuses_a_lowercase_method_at_load_time() -> None:
    with pytest.raises(BadInput, match="method"):
        coerce_args(OPS["uri"], {"url": "http://127.0.0.1/", "method": "post"}, "site.yml:9")


def test_uri_connection_refused_is_a_clean_failure() -> None:
    result = run_op("uri", {"url": "http://127.0.0.1:1/", "timeout": 2})
    assert result.status == "failed" and "request to http://127.0.0.1:1/ failed" in result.msg
