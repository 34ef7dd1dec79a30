"""expect (refused), dpkg_selections, assemble and known_hosts."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent.ops import known_hosts
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import calls, fake_command, make_bindir, run_op

ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3zF0yQkYV7Y1Q9VbQ8uE0nS3qJmB0Q8m3K1a5bC7dE"
ED2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def test_expect_loads_and_is_refused_when_run() -> None:
    coerce_args(OPS["expect"], {"command": "passwd", "responses": "x"}, "site.yml:3")
    out = run_op("expect", {"command": "passwd"})
    assert out.status == "failed" and "not supported" in out.msg
    # Ansible's own form, a mapping of prompts to answers, loads too: the refusal says why
    args = coerce_args(OPS["expect"], {"command": "passwd", "responses": {"password:": "x"}})
    out = run_op("expect", args)
    assert out.status == "failed" and "not supported" in out.msg


def test_dpkg_selections_hold_then_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "dpkg", 'case "$1" in --get-selections) printf "nginx\\tinstall\\n";; '
                                 'esac')
    out = run_op("dpkg_selections", {"name": "nginx", "selection": "hold"})
    assert out.status == "changed" and out.data == {"before": "install", "after": "hold"}
    assert calls(bindir)[-1] == "dpkg --set-selections"
    fake_command(bindir, "dpkg", 'printf "nginx\\thold\\n"')
    assert run_op("dpkg_selections", {"name": "nginx", "selection": "hold"}).status == "ok"
    assert run_op("dpkg_selections", {"name": "nginx", "selection": "install"},
                  check=True).status == "changed"


def test_assemble_joins_fragments_in_order_then_leaves_the_file(tmp_path: Path) -> None:
    frags = tmp_path / "d"
    frags.mkdir()
    (frags / "20-b.conf").write_text("b\n")
    (frags / "10-a.conf").write_text("a")
    (frags / ".hidden.conf").write_text("h\n")
    (frags / "notes.txt").write_text("n\n")
    args = {"src": str(frags), "dest": str(tmp_path / "out"), "regexp": r"\.conf$",
            "ignore_hidden": True, "delimiter": "# --"}
    preview = run_op("assemble", args, check=True)
    assert preview.status == "changed" and not (tmp_path / "out").exists()
    assert run_op("assemble", args).status == "changed"
    assert (tmp_path / "out").read_text() == "a\n# --\nb\n"
    assert run_op("assemble", args).status == "ok"


def test_assemble_refuses_fragments_from_the_project() -> None:
    with pytest.raises(BadInput, match="remote_src: false"):
        coerce_args(OPS["assemble"], {"src": "/a", "dest": "/b", "remote_src": False})


def test_known_hosts_adds_replaces_and_removes(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("other.example.org %s\n" % ED2)
    args = {"name": "git.example.org", "key": "git.example.org " + ED, "path": str(path)}
    first = run_op("known_hosts", args)
    assert first.status == "changed" and path.read_text().endswith("git.example.org %s\n" % ED)
    assert run_op("known_hosts", args).status == "ok"
    replaced = run_op("known_hosts", {**args, "key": "git.example.org " + ED2})
    assert replaced.status == "changed" and "replaced" in replaced.msg
    assert path.read_text().count("git.example.org") == 1
    gone = run_op("known_hosts", {"name": "git.example.org", "state": "absent",
                                  "path": str(path)})
    assert gone.status == "changed" and path.read_text() == "other.example.org %s\n" % ED2


def test_known_hosts_hashed_entries_are_found(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    args = {"name": "[git.example.org]:2222", "key": "[git.example.org]:2222 " + ED,
            "path": str(path), "hash_host": True}
    assert run_op("known_hosts", args).status == "changed"
    assert path.read_text().startswith("|1|") and "git.example.org" not in path.read_text()
    assert run_op("known_hosts", args).status == "ok"
    assert known_hosts.host_matches(path.read_text().split()[0], "[git.example.org]:2222")


def test_known_hosts_rules() -> None:
    with pytest.raises(BadInput, match="does not name"):
        coerce_args(OPS["known_hosts"], {"name": "a.example", "key": "b.example " + ED})
    with pytest.raises(BadInput, match="needs key"):
        coerce_args(OPS["known_hosts"], {"name": "a.example"})


def test_tempfile_reports_ansibles_fields(tmp_path) -> None:
    out = run_op("tempfile", {"state": "directory", "path": str(tmp_path), "prefix": "ansible.",
                              "suffix": ".test"})
    assert out.data["state"] == "directory" and out.data["mode"] == "0700"
    assert out.data["path"].startswith(str(tmp_path))


def test_ping_answers_with_its_data_and_crash_fails() -> None:
    assert run_op("ping", {"data": "pong"}).data == {"ping": "pong"}
    assert run_op("ping", {"data": "crash"}).status == "failed"
