"""apt_repository and deb822_repository on temp source folders."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent import journal
from mainsail.agent.ops import apt_repository as one_line
from mainsail.agent.ops import deb822_repository as deb822
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import run_op

REPO = "deb [signed-by=/etc/apt/keyrings/ex.asc arch=amd64] http://apt.example.org/debian bookworm main"


@pytest.fixture
def apt_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://deb.example.net/debian bookworm main\n")
    monkeypatch.setattr(one_line, "SOURCES_LIST", str(tmp_path / "sources.list"))
    monkeypatch.setattr(one_line, "SOURCES_DIR", str(tmp_path / "sources.list.d"))
    monkeypatch.setattr(deb822, "SOURCES_DIR", str(tmp_path / "sources.list.d"))
    monkeypatch.setattr(deb822, "KEYRINGS", str(tmp_path / "keyrings"))
    return tmp_path


def repo(**kw: object) -> dict:
    return {"repo": REPO, "state": "present", "update_cache": False, **kw}


def test_lines_compare_by_meaning_not_spacing() -> None:
    assert one_line.normalize("deb  [arch=amd64 signed-by=/k]  http://h/d  bookworm main") == \
        one_line.normalize("# deb [signed-by=/k arch=amd64] http://h/d bookworm main")
    assert one_line.normalize("deb-src http://h/d bookworm main") != \
        one_line.normalize("deb http://h/d bookworm main")
    assert one_line.normalize("# just a comment") is None


def test_the_file_name_is_made_from_the_uri_as_ansible_does() -> None:
    assert one_line.suggest_filename(REPO) == "apt_example_org_debian"
    assert one_line.suggest_filename("deb https://user:pw@h.example/x/ stable main") == \
        "h_example_x"


def test_a_line_is_added_to_its_own_file_then_left_alone(apt_dir: Path) -> None:
    out = run_op("apt_repository", repo())
    target = apt_dir / "sources.list.d/apt_example_org_debian.list"
    assert out.status == "changed" and target.read_text() == REPO + "\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert out.data["sources_added"] == [REPO] and "+" + REPO in out.diff
    again = run_op("apt_repository", repo())
    assert again.status == "ok" and again.data["sources_added"] == []


def test_an_existing_equivalent_line_anywhere_is_enough(apt_dir: Path) -> None:
    assert run_op("apt_repository", repo(
        repo="deb   http://deb.example.net/debian bookworm main")).status == "ok"


def test_a_commented_out_copy_is_enabled_in_place(apt_dir: Path) -> None:
    (apt_dir / "sources.list.d/old.list").write_text("# keep\n# " + REPO + "\n")
    assert run_op("apt_repository", repo()).status == "changed"
    assert (apt_dir / "sources.list.d/old.list").read_text() == "# keep\n" + REPO + "\n"
    assert not (apt_dir / "sources.list.d/apt_example_org_debian.list").exists()


def test_absent_removes_the_line_everywhere_and_an_emptied_file(apt_dir: Path) -> None:
    (apt_dir / "sources.list.d/a.list").write_text(REPO + "\n")
    (apt_dir / "sources.list.d/b.list").write_text("deb http://o/x y z\n" + REPO + "\n")
    out = run_op("apt_repository", repo(state="absent"))
    assert out.status == "changed" and len(out.data["sources_removed"]) == 2
    assert not (apt_dir / "sources.list.d/a.list").exists()
    assert (apt_dir / "sources.list.d/b.list").read_text() == "deb http://o/x y z\n"
    assert run_op("apt_repository", repo(state="absent")).status == "ok"


def test_check_mode_writes_nothing_and_a_journal_undoes(apt_dir: Path) -> None:
    assert run_op("apt_repository", repo(), check=True).status == "changed"
    assert list((apt_dir / "sources.list.d").iterdir()) == []
    jr = journal.Journal(str(apt_dir / "j"))
    (apt_dir / "sources.list.d/a.list").write_text(REPO + "\n")
    run_op("apt_repository", repo(state="absent"), journal=jr)
    journal.restore(str(apt_dir / "j"))
    assert (apt_dir / "sources.list.d/a.list").read_text() == REPO + "\n"


def test_bad_lines_are_refused_before_anything_runs() -> None:
    with pytest.raises(BadInput, match="PPAs"):
        coerce_args(OPS["apt_repository"], {"repo": "ppa:nginx/stable"}, "site.yml:4")
    with pytest.raises(BadInput, match="not a one-line source"):
        coerce_args(OPS["apt_repository"], {"repo": "http://h/d bookworm"})
    with pytest.raises(BadInput, match="plain name"):
        coerce_args(OPS["apt_repository"], {"repo": REPO, "filename": "../x"})


KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZabc\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"


def source(**kw: object) -> dict:
    base = {"name": "Example Repo", "uris": ["http://apt.example.org/debian"],
            "suites": ["bookworm"], "components": ["main", "contrib"], "state": "present",
            "types": ["deb"]}
    base.update(kw)
    return base


def test_a_deb822_file_says_exactly_the_fields_given(apt_dir: Path) -> None:
    out = run_op("deb822_repository", source(signed_by=KEY, trusted=False))
    path = apt_dir / "sources.list.d/example-repo.sources"
    assert out.status == "changed" and out.data["dest"] == str(path)
    assert path.read_text() == (
        "X-Repolib-Name: Example Repo\nTypes: deb\nURIs: http://apt.example.org/debian\n"
        "Suites: bookworm\nComponents: main contrib\nTrusted: no\nSigned-By:\n"
        " -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mDMEZabc\n =abcd\n"
        " -----END PGP PUBLIC KEY BLOCK-----\n")
    assert run_op("deb822_repository", source(signed_by=KEY, trusted=False)).status == "ok"
    changed = run_op("deb822_repository", source(suites=["trixie"]))
    assert changed.status == "changed" and "+Suites: trixie" in changed.diff
    gone = run_op("deb822_repository", {"name": "Example Repo", "state": "absent"})
    assert gone.status == "changed" and not path.exists()


def test_deb822_refusals() -> None:
    with pytest.raises(BadInput, match="uris is required"):
        coerce_args(OPS["deb822_repository"], {"name": "x", "suites": "bookworm"})
    with pytest.raises(BadInput, match="components are required"):
        coerce_args(OPS["deb822_repository"], {"name": "x", "uris": "http://h/", "suites": "s"})
    assert coerce_args(OPS["deb822_repository"],
                       {"name": "x", "uris": "http://h/", "suites": "./"})["suites"] == ["./"]
    with pytest.raises(BadInput, match="not deb or deb-src"):
        coerce_args(OPS["deb822_repository"], {"name": "x", "uris": "http://h/",
                                               "suites": "s", "components": "c",
                                               "types": "rpm"})


def test_a_key_url_is_fetched_by_the_host_into_the_keyrings(apt_dir: Path) -> None:
    import functools
    import http.server
    import threading
    served = apt_dir / "www"
    served.mkdir()
    (served / "key.asc").write_text(KEY)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d/key.asc" % server.server_address[1]
        out = run_op("deb822_repository", source(signed_by=url))
        key = apt_dir / "keyrings/example-repo.asc"
        assert out.status == "changed" and key.read_text() == KEY
        assert "Signed-By: %s\n" % key in (apt_dir / "sources.list.d/example-repo.sources").read_text()
        assert run_op("deb822_repository", source(signed_by=url)).status == "ok"
        missing = run_op("deb822_repository", source(signed_by=url + ".nope"))
        assert missing.status == "failed" and "fetching the key" in missing.msg
    finally:
        server.shutdown()
        server.server_close()
