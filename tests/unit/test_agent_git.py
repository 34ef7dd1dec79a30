"""git, run locally against repositories made here with the git program (file:// URLs and
plain paths; no network)."""
from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Dict

import pytest

from mainsail.errors import BadInput
from mainsail.opspec import OPS, canonical_args, canonical_op, check_semantics, coerce_args
from test_agent_support import run_op
from tests.unit.test_flags import mainsail, project  # noqa: F401

pytestmark = pytest.mark.skipif(subprocess.run(["git", "--version"], capture_output=True)
                                .returncode != 0, reason="git is not installed")

IDENTITY = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.org",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.org"}


def git(*argv: str, cwd: Path) -> str:
    done = subprocess.run(["git", *argv], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class Upstream:
    """A bare repository (the server) and a work repository that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "upstream.git"
        self.work = root / "work"
        git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=root)
        git("init", "-q", "-b", "main", str(self.work), cwd=root)
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    @property
    def url(self) -> str:
        return "file://%s" % self.bare

    def commit(self, name: str, text: str, branch: str = "main") -> str:
        if git("symbolic-ref", "--short", "HEAD", cwd=self.work) != branch:
            exists = subprocess.run(["git", "rev-parse", "--verify", "--quiet",
                                     "refs/heads/" + branch], cwd=self.work,
                                    capture_output=True).returncode == 0
            git("checkout", "-q", *([] if exists else ["-b"]), branch, cwd=self.work)
        (self.work / name).write_text(text)
        git("add", name, cwd=self.work)
        git("commit", "-q", "-m", "%s: %s" % (name, text.strip()), cwd=self.work)
        git("push", "-q", "origin", branch, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def tag(self, name: str, annotated: bool = True) -> str:
        git("tag", *(["-a", "-m", name] if annotated else []), name, cwd=self.work)
        git("push", "-q", "origin", name, cwd=self.work)
        return git("rev-parse", name + "^{commit}", cwd=self.work)


@pytest.fixture(autouse=True)
def own_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration reaches the tests."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_SSH_COMMAND", raising=False)
    monkeypatch.delenv("GIT_SSH", raising=False)


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    up = Upstream(tmp_path)
    up.first = up.commit("README", "one\n")  # type: ignore[attr-defined]
    up.tag("v1")
    up.second = up.commit("README", "two\n")  # type: ignore[attr-defined]
    return up


def head(dest: Path) -> str:
    return git("rev-parse", "HEAD", cwd=dest)


def branch(dest: Path) -> str:
    done = subprocess.run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"], cwd=dest,
                          capture_output=True, text=True)
    return done.stdout.strip()


def hide(up: Upstream) -> Path:
    """Take the server away: a step that needs it now fails."""
    gone = up.bare.with_name("gone.git")
    up.bare.rename(gone)
    return gone


def repo_state(dest: Path) -> Dict[str, object]:
    """What 'nothing touched' means for a checkout: every file under it with its content
    and mtime (the .git folder included)."""
    found: Dict[str, object] = {}
    for path in sorted(dest.rglob("*")):
        st = path.lstat()
        found[str(path.relative_to(dest))] = (st.st_mtime_ns, st.st_size,
                                              path.read_bytes() if path.is_file() else b"")
    return found


# ---------------------------------------------------------------------------- clone, rerun

def test_a_clone_then_a_rerun_that_changes_nothing(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "srv" / "app"
    first = run_op("git", {"repo": upstream.url, "dest": str(dest)})
    assert first.status == "changed", first.msg
    assert (dest / "README").read_text() == "two\n"
    assert head(dest) == upstream.second and branch(dest) == "main"
    assert first.data == {"before": None, "after": upstream.second,
                          "remote_url_changed": False}
    assert "+" + upstream.second in first.diff and "-absent" in first.diff
    again = run_op("git", {"repo": upstream.url, "dest": str(dest)})
    assert again.status == "ok", again.msg
    assert again.data["before"] == again.data["after"] == upstream.second
    assert again.data["remote_url_changed"] is False
    assert again.diff == ""


def test_a_new_commit_upstream_is_pulled_in(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest)})
    third = upstream.commit("README", "three\n")
    result = run_op("git", {"repo": upstream.url, "dest": str(dest)})
    assert result.status == "changed", result.msg
    assert result.data["before"] == upstream.second and result.data["after"] == third
    assert (dest / "README").read_text() == "three\n" and branch(dest) == "main"
    assert "-%s\n+%s" % (upstream.second, third) in result.diff
    assert run_op("git", {"repo": upstream.url, "dest": str(dest)}).status == "ok"


def test_a_plain_path_is_taken_as_a_file_url(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    assert run_op("git", {"repo": str(upstream.bare), "dest": str(dest)}).status == "changed"
    assert git("config", "remote.origin.url", cwd=dest) == upstream.url
    again = run_op("git", {"repo": str(upstream.bare), "dest": str(dest)})
    assert again.status == "ok" and again.data["remote_url_changed"] is False
    # Written either way, the same repository is not a changed URL.
    assert run_op("git", {"repo": upstream.url, "dest": str(dest)}).status == "ok"


def test_another_repo_url_is_set_and_reported(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest)})
    mirror = tmp_path / "mirror.git"
    git("clone", "-q", "--bare", str(upstream.bare), str(mirror), cwd=tmp_path)
    result = run_op("git", {"repo": str(mirror), "dest": str(dest)})
    assert result.status == "changed" and result.data["remote_url_changed"] is True
    assert "remote origin set to" in result.msg
    assert git("config", "remote.origin.url", cwd=dest) == "file://%s" % mirror
    assert run_op("git", {"repo": str(mirror), "dest": str(dest)}).status == "ok"


# ---------------------------------------------------------------------------- versions

@pytest.mark.parametrize("annotated", [True, False])
def test_a_tag_is_checked_out_detached(tmp_path: Path, upstream: Upstream,
                                       annotated: bool) -> None:
    if not annotated:
        upstream.tag("light", annotated=False)
    name = "v1" if annotated else "light"
    wanted = upstream.first if annotated else upstream.second
    dest = tmp_path / "app"
    first = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": name})
    assert first.status == "changed", first.msg
    assert head(dest) == wanted and branch(dest) == "" and first.data["after"] == wanted
    again = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": name})
    assert again.status == "ok", again.msg
    assert "tag %s" % name in again.msg


def test_a_branch_is_checked_out_and_followed(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest)})
    dev = upstream.commit("DEV", "dev\n", branch="dev")
    moved = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": "dev"})
    assert moved.status == "changed", moved.msg
    assert head(dest) == dev and branch(dest) == "dev"
    assert moved.data["before"] == upstream.second and moved.data["after"] == dev
    assert git("rev-parse", "--abbrev-ref", "dev@{upstream}", cwd=dest) == "origin/dev"
    assert run_op("git", {"repo": upstream.url, "dest": str(dest),
                          "version": "dev"}).status == "ok"
    # version: HEAD follows the branch checked out, as in Ansible.
    assert run_op("git", {"repo": upstream.url, "dest": str(dest)}).status == "ok"
    newer = upstream.commit("DEV", "dev 2\n", branch="dev")
    result = run_op("git", {"repo": upstream.url, "dest": str(dest)})
    assert result.status == "changed" and head(dest) == newer and branch(dest) == "dev"


@pytest.mark.parametrize("length", [40, 10])
def test_a_commit_present_is_judged_without_the_server(tmp_path: Path, upstream: Upstream,
                                                       length: int) -> None:
    dest = tmp_path / "app"
    sha = upstream.first[:length]
    first = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": sha})
    assert first.status == "changed", first.msg
    assert head(dest) == upstream.first and branch(dest) == ""
    hide(upstream)
    again = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": sha})
    assert again.status == "ok", again.msg
    assert again.data["after"] == upstream.first
    # Another commit the clone holds: checked out, still without the server.
    moved = run_op("git", {"repo": upstream.url, "dest": str(dest),
                           "version": upstream.second[:length]})
    assert moved.status == "changed", moved.msg
    assert head(dest) == upstream.second


def test_a_branch_needs_the_server_to_be_judged(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest)})
    hide(upstream)
    result = run_op("git", {"repo": upstream.url, "dest": str(dest)})
    assert result.status == "failed" and "ls-remote" in result.msg


def test_an_unknown_version_fails_before_cloning(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": "nope"})
    assert result.status == "failed"
    assert "neither a branch nor a tag" in result.msg and not dest.exists()


def test_a_sha_the_server_lacks_fails_the_checkout(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": "0" * 40})
    assert result.status == "failed" and "Failed to checkout" in result.msg, result.msg


def test_update_false_leaves_a_repository_alone(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest)})
    upstream.commit("README", "three\n")
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "update": False,
                            "version": "v1"})
    assert result.status == "ok", result.msg
    assert result.data["before"] == result.data["after"] == upstream.second
    assert head(dest) == upstream.second


def test_clone_false_only_says_what_the_server_has(tmp_path: Path, upstream: Upstream) -> None:
    result = run_op("git", {"repo": upstream.url, "clone": False, "version": "v1"})
    assert result.status == "ok", result.msg
    assert result.data["after"] == upstream.first and result.data["before"] is None
    dest = tmp_path / "app"
    assert run_op("git", {"repo": upstream.url, "dest": str(dest),
                          "clone": False}).status == "ok"
    assert not dest.exists()


# ---------------------------------------------------------------------------- local changes

def test_local_modifications_fail_unless_force(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest)})
    (dest / "README").write_text("edited on the host\n")
    (dest / "notes.txt").write_text("untracked files do not count\n")
    refused = run_op("git", {"repo": upstream.url, "dest": str(dest)})
    assert refused.status == "failed"
    assert refused.msg.startswith("Local modifications exist in the destination: %s "
                                  "(force=no)." % dest)
    checked = run_op("git", {"repo": upstream.url, "dest": str(dest), "force": True},
                     check=True)
    assert checked.status == "changed" and "discarded" in checked.msg
    assert (dest / "README").read_text() == "edited on the host\n"
    forced = run_op("git", {"repo": upstream.url, "dest": str(dest), "force": True})
    assert forced.status == "changed", forced.msg
    assert (dest / "README").read_text() == "two\n"
    assert (dest / "notes.txt").exists()
    assert run_op("git", {"repo": upstream.url, "dest": str(dest)}).status == "ok"


def test_untracked_files_alone_are_no_modification(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest)})
    (dest / "local.cfg").write_text("x\n")
    assert run_op("git", {"repo": upstream.url, "dest": str(dest)}).status == "ok"


def test_a_folder_with_other_files_is_not_cloned_into(tmp_path: Path,
                                                      upstream: Upstream) -> None:
    dest = tmp_path / "app"
    dest.mkdir()
    (dest / "stray").write_text("x\n")
    for check in (True, False):
        result = run_op("git", {"repo": upstream.url, "dest": str(dest)}, check=check)
        assert result.status == "failed" and "not empty" in result.msg


# ---------------------------------------------------------------------------- check mode

def test_check_mode_clones_nothing(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest)}, check=True)
    assert result.status == "changed" and "cloned" in result.msg
    assert result.data["before"] is None and result.data["after"] == upstream.second
    assert "-absent" in result.diff and "+" + upstream.second in result.diff
    assert not dest.exists()


def test_check_mode_touches_nothing_in_the_repository(tmp_path: Path,
                                                       upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest)})
    third = upstream.commit("README", "three\n")
    (dest / "README").write_text("edited\n")
    before = repo_state(dest)
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "force": True},
                    check=True)
    assert result.status == "changed", result.msg
    assert result.data["before"] == upstream.second and result.data["after"] == third
    assert "-%s\n+%s" % (upstream.second, third) in result.diff
    assert repo_state(dest) == before


def test_without_diff_there_is_none(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest)}, diff=False)
    assert result.status == "changed" and result.diff == ""


# ---------------------------------------------------------------------------- clone kinds

def test_depth_one_is_a_shallow_clone(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "depth": 1})
    assert result.status == "changed", result.msg
    assert git("rev-list", "--count", "HEAD", cwd=dest) == "1"
    assert (dest / ".git" / "shallow").exists()
    assert run_op("git", {"repo": upstream.url, "dest": str(dest), "depth": 1}).status == "ok"
    tagged = run_op("git", {"repo": upstream.url, "dest": str(dest), "depth": 1,
                            "version": "v1"})
    assert tagged.status == "changed" and head(dest) == upstream.first, tagged.msg
    third = upstream.commit("README", "three\n")
    back = run_op("git", {"repo": upstream.url, "dest": str(dest), "depth": 1,
                          "version": "main"})
    assert back.status == "changed" and head(dest) == third, back.msg


def test_depth_with_a_commit_is_ignored_with_a_warning(tmp_path: Path,
                                                       upstream: Upstream) -> None:
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "depth": 1,
                            "version": upstream.first})
    assert result.status == "changed" and head(dest) == upstream.first
    assert "Ignoring depth" in result.data["warnings"][0]


def test_a_bare_clone_keeps_every_branch_and_tag(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "mirror.git"
    first = run_op("git", {"repo": upstream.url, "dest": str(dest), "bare": True})
    assert first.status == "changed", first.msg
    assert (dest / "HEAD").exists() and not (dest / ".git").exists()
    assert git("rev-parse", "v1^{commit}", cwd=dest) == upstream.first
    assert first.data["after"] == upstream.second
    assert run_op("git", {"repo": upstream.url, "dest": str(dest),
                          "bare": True}).status == "ok"
    third = upstream.commit("README", "three\n")
    upstream.tag("v2")
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "bare": True})
    assert result.status == "changed", result.msg
    assert result.data["before"] == upstream.second and result.data["after"] == third
    assert git("rev-parse", "v2^{commit}", cwd=dest) == third
    assert run_op("git", {"repo": upstream.url, "dest": str(dest),
                          "bare": True}).status == "ok"


def test_single_branch_clones_one_branch(tmp_path: Path, upstream: Upstream) -> None:
    dev = upstream.commit("DEV", "dev\n", branch="dev")
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": "dev",
                            "single_branch": True})
    assert result.status == "changed" and head(dest) == dev and branch(dest) == "dev"
    remotes = git("for-each-ref", "--format=%(refname)", "refs/remotes", cwd=dest).split()
    assert remotes == ["refs/remotes/origin/dev"]


def test_another_remote_name(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "remote": "upstream"})
    assert result.status == "changed", result.msg
    assert git("config", "remote.upstream.url", cwd=dest) == upstream.url
    assert git("rev-parse", "--abbrev-ref", "main@{upstream}", cwd=dest) == "upstream/main"
    assert run_op("git", {"repo": upstream.url, "dest": str(dest),
                          "remote": "upstream"}).status == "ok"


def test_separate_git_dir(tmp_path: Path, upstream: Upstream) -> None:
    dest, store = tmp_path / "app", tmp_path / "store" / "app.git"
    missing = run_op("git", {"repo": upstream.url, "dest": str(dest),
                             "separate_git_dir": str(store)})
    assert missing.status == "failed" and "does not exist" in missing.msg
    store.parent.mkdir()
    result = run_op("git", {"repo": upstream.url, "dest": str(dest),
                            "separate_git_dir": str(store)})
    assert result.status == "changed", result.msg
    assert (dest / ".git").read_text().strip() == "gitdir: %s" % store
    assert (store / "HEAD").exists() and head(dest) == upstream.second
    assert run_op("git", {"repo": upstream.url, "dest": str(dest),
                          "separate_git_dir": str(store)}).status == "ok"
    elsewhere = tmp_path / "other.git"
    moved = run_op("git", {"repo": upstream.url, "dest": str(dest),
                           "separate_git_dir": str(elsewhere)})
    assert moved.status == "changed", moved.msg
    assert moved.data["git_dir_before"] == str(store)
    assert moved.data["git_dir_now"] == str(elsewhere)
    assert (dest / ".git").read_text().strip() == "gitdir: %s" % elsewhere
    assert head(dest) == upstream.second


def test_submodules_are_checked_out(tmp_path: Path, upstream: Upstream,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # git refuses file:// submodules unless told (CVE-2022-39253); only this test allows it.
    for key, value in {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.file.allow",
                       "GIT_CONFIG_VALUE_0": "always"}.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "lib").mkdir()
    lib = Upstream(tmp_path / "lib")
    lib_sha = lib.commit("lib.txt", "lib\n")
    git("submodule", "add", "-q", lib.url, "vendor/lib", cwd=upstream.work)
    git("commit", "-q", "-m", "vendor lib", cwd=upstream.work)
    git("push", "-q", "origin", "main", cwd=upstream.work)
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest)})
    assert result.status == "changed", result.msg
    assert (dest / "vendor/lib/lib.txt").read_text() == "lib\n"
    assert git("rev-parse", "HEAD", cwd=dest / "vendor/lib") == lib_sha
    assert run_op("git", {"repo": upstream.url, "dest": str(dest)}).status == "ok"
    flat = tmp_path / "flat"
    assert run_op("git", {"repo": upstream.url, "dest": str(flat),
                          "recursive": False}).status == "changed"
    assert not (flat / "vendor/lib/lib.txt").exists()


def test_umask_applies_to_what_git_writes(tmp_path: Path, upstream: Upstream) -> None:
    dest = tmp_path / "app"
    old = os.umask(0o022)
    try:
        result = run_op("git", {"repo": upstream.url, "dest": str(dest), "umask": "0077"})
        assert os.umask(0o022) == 0o022  # the agent's own umask came back
    finally:
        os.umask(old)
    assert result.status == "changed", result.msg
    assert stat.S_IMODE((dest / "README").stat().st_mode) == 0o600


def test_archive_is_written_once(tmp_path: Path, upstream: Upstream) -> None:
    dest, archive = tmp_path / "app", tmp_path / "app.tar"
    args = {"repo": upstream.url, "dest": str(dest), "archive": str(archive),
            "archive_prefix": "app/"}
    checked = run_op("git", args, check=True, earlier=["apt"])
    assert checked.status == "changed" and not archive.exists()
    first = run_op("git", args)
    assert first.status == "changed" and "archive" in first.msg
    listing = subprocess.run(["tar", "-tf", str(archive)], capture_output=True, text=True)
    assert "app/README" in listing.stdout.split()
    again = run_op("git", args)
    assert again.status == "ok", again.msg


def test_a_clone_that_cannot_be_verified_is_taken_away(tmp_path: Path,
                                                       upstream: Upstream) -> None:
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "verify_commit": True})
    assert result.status == "failed" and "Failed to verify GPG signature" in result.msg
    assert not dest.exists()
    dest.mkdir()  # a folder that was there (empty) stays, emptied
    run_op("git", {"repo": upstream.url, "dest": str(dest), "verify_commit": True})
    assert dest.is_dir() and list(dest.iterdir()) == []


def test_an_unsigned_commit_fails_verify_commit_before_checkout(tmp_path: Path,
                                                                 upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest), "version": "v1"})
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": "main",
                            "verify_commit": True})
    assert result.status == "failed"
    assert "Failed to verify GPG signature" in result.msg
    assert head(dest) == upstream.first  # nothing moved


@pytest.fixture
def signer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A GPG key without a passphrase in a keyring of the test's own; its fingerprint."""
    if subprocess.run(["gpg", "--version"], capture_output=True).returncode != 0:
        pytest.skip("gpg is not installed")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                    "--quick-gen-key", "Signer <signer@example.org>", "ed25519", "sign",
                    "never"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--list-keys", "--with-colons"], check=True,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                       if line.startswith("fpr:"))
    yield fingerprint
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], capture_output=True)  # this keyring's


def test_a_signed_commit_and_tag_pass_verify_commit(tmp_path: Path, upstream: Upstream,
                                                    signer: str) -> None:
    git("config", "user.signingkey", signer, cwd=upstream.work)
    (upstream.work / "README").write_text("signed\n")
    git("commit", "-q", "-S", "-am", "signed", cwd=upstream.work)
    git("tag", "-s", "-m", "signed tag", "v2", cwd=upstream.work)
    git("push", "-q", "origin", "main", "v2", cwd=upstream.work)
    signed = git("rev-parse", "HEAD", cwd=upstream.work)
    dest = tmp_path / "app"
    result = run_op("git", {"repo": upstream.url, "dest": str(dest), "verify_commit": True,
                            "gpg_allowlist": [signer]})
    assert result.status == "changed" and head(dest) == signed, result.msg
    tagged = run_op("git", {"repo": upstream.url, "dest": str(tmp_path / "tagged"),
                            "version": "v2", "verify_commit": True})
    assert tagged.status == "changed", tagged.msg
    stranger = run_op("git", {"repo": upstream.url, "dest": str(tmp_path / "other"),
                              "verify_commit": True, "gpg_allowlist": ["A" * 40]})
    assert stranger.status == "failed"
    assert "gpg_allowlist does not include the public key \"%s\"" % signer in stranger.msg


# ---------------------------------------------------------------------------- refusals

def test_git_missing_is_a_missing_prerequisite(tmp_path: Path, upstream: Upstream,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    args = {"repo": upstream.url, "dest": str(tmp_path / "app")}
    result = run_op("git", args)
    assert result.status == "failed"
    assert "install git first (apt: name: git)" in result.msg
    checked = run_op("git", args, check=True, earlier=["apt"])
    assert checked.status == "changed" and "assuming an earlier task" in checked.msg


def test_accept_hostkey_and_unchecked_ssh_opts_are_refused(tmp_path: Path) -> None:
    spec = OPS["git"]
    base = {"repo": "git@git.example.org:shop/app.git", "dest": "/srv/app"}
    for extra in ({"accept_hostkey": True},
                  {"ssh_opts": "-o StrictHostKeyChecking=no"},
                  {"ssh_opts": "-oUserKnownHostsFile=/dev/null"},
                  {"accept_newhostkey": True},
                  {"ssh_opts": "-o StrictHostKeyChecking=accept-new"}):
        with pytest.raises(BadInput) as caught:
            check_semantics(spec, coerce_args(spec, {**base, **extra}))
        assert "host key" in str(caught.value) and "known_hosts" in str(caught.value)
        result = run_op("git", {**base, **extra, "dest": str(tmp_path / "app")})
        assert result.status == "failed" and "refused" in result.msg


def test_accept_hostkey_means_nothing_where_no_ssh_is_used() -> None:
    # a local path, file:// or https:// has no host key: Ansible ignores the flag there
    spec = OPS["git"]
    for repo in ("/srv/repos/app", "file:///srv/repos/app", "https://git.example.org/app.git",
                 "./app"):
        check_semantics(spec, coerce_args(spec, {"repo": repo, "dest": "/srv/app",
                                                 "accept_hostkey": True}))
    for repo in ("ssh://git@git.example.org/app.git", "git@git.example.org:app.git"):
        with pytest.raises(BadInput):
            check_semantics(spec, coerce_args(spec, {"repo": repo, "dest": "/srv/app",
                                                     "accept_hostkey": True}))


def test_load_time_rules() -> None:
    spec = OPS["git"]
    for args, words in (({"repo": "x"}, "destination directory must be specified"),
                        ({"repo": "x", "dest": "/a", "track_submodules": True},
                         "track_submodules"),
                        ({"repo": "x", "dest": "/a", "archive": "/a.rar"}, "extension"),
                        ({"repo": "x", "dest": "/a", "bare": True, "separate_git_dir": "/b"},
                         "exclude each other"),
                        ({"repo": "x", "dest": "/a", "archive_prefix": "p/"}, "archive")):
        with pytest.raises(BadInput, match=words):
            check_semantics(spec, coerce_args(spec, args))
    check_semantics(spec, coerce_args(spec, {"repo": "x", "clone": False}))
    assert canonical_op("ansible.builtin.git") == canonical_op("ansible.legacy.git") == "git"
    assert canonical_args(spec, {"name": "x", "dest": "/a"}) == {"repo": "x", "dest": "/a"}


def test_a_repo_starting_with_a_dash_is_refused(tmp_path: Path) -> None:
    result = run_op("git", {"repo": "--upload-pack=touch /tmp/x", "dest": str(tmp_path / "a")})
    assert result.status == "failed" and "starts with '-'" in result.msg


def test_credentials_in_the_url_are_masked(tmp_path: Path) -> None:
    # Nothing listens on port 1 of the loopback: the request fails at once.
    url = "https://deploy:s3cr3tT0ken@127.0.0.1:1/shop/app.git"
    result = run_op("git", {"repo": url, "dest": str(tmp_path / "app")})
    assert result.status == "failed"
    shown = " ".join(str(x) for x in (result.msg, result.stdout, result.stderr, result.cmd))
    assert "s3cr3tT0ken" not in shown and "********" in shown
    token_only = run_op("git", {"repo": "https://ghp_abcdef123456@127.0.0.1:1/a.git",
                                "dest": str(tmp_path / "b")})
    assert "ghp_abcdef123456" not in token_only.msg + token_only.stderr + str(token_only.cmd)


def test_ssh_options_reach_ssh_as_words(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """GIT_SSH_COMMAND goes through a shell: a key path with a space or a `$(...)` in the
    options arrives at ssh as one word each, never run."""
    seen = tmp_path / "argv"
    fake = tmp_path / "fake-ssh"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done > "%s"\nexit 255\n' % seen)
    fake.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake))
    key = tmp_path / "deploy key"
    key.write_text("not a key\n")
    result = run_op("git", {"repo": "ssh://git@git.example.org/shop/app.git",
                            "dest": str(tmp_path / "app"), "key_file": str(key),
                            "ssh_opts": "-o Port=2222 -o 'ProxyCommand=$(touch %s/pwned)'"
                                        % tmp_path})
    assert result.status == "failed"
    words = seen.read_text().splitlines()
    assert words[:2] == ["-o", "BatchMode=yes"]
    assert "IdentitiesOnly=yes" in words
    assert words[words.index("-i") + 1] == str(key)
    assert "ProxyCommand=$(touch %s/pwned)" % tmp_path in words
    assert not (tmp_path / "pwned").exists()


def test_head_after_a_tag_goes_back_to_the_default_branch(tmp_path: Path,
                                                          upstream: Upstream) -> None:
    dest = tmp_path / "app"
    run_op("git", {"repo": upstream.url, "dest": str(dest), "version": "v1"})
    assert branch(dest) == ""
    result = run_op("git", {"repo": upstream.url, "dest": str(dest)})
    assert result.status == "changed", result.msg
    assert head(dest) == upstream.second and branch(dest) == "main"
    # Detached at the branch's own commit: being put on the branch is the change.
    git("checkout", "-q", "--detach", cwd=dest)
    onto = run_op("git", {"repo": upstream.url, "dest": str(dest), "version": "main"})
    assert onto.status == "changed" and "on branch main" in onto.msg, onto.msg
    assert onto.diff == "" and branch(dest) == "main"


def test_a_single_branch_bare_clone_stays_one_branch(tmp_path: Path,
                                                     upstream: Upstream) -> None:
    upstream.commit("DEV", "dev\n", branch="dev")
    dest = tmp_path / "mirror.git"
    args = {"repo": upstream.url, "dest": str(dest), "bare": True, "single_branch": True}
    assert run_op("git", args).status == "changed"
    assert run_op("git", args).status == "ok"
    third = upstream.commit("README", "three\n")
    result = run_op("git", args)
    assert result.status == "changed" and result.data["after"] == third, result.msg
    heads = git("for-each-ref", "--format=%(refname)", "refs/heads", cwd=dest).split()
    assert heads == ["refs/heads/main"]
    assert run_op("git", args).status == "ok"


def test_a_missing_key_file_is_a_missing_prerequisite(tmp_path: Path) -> None:
    result = run_op("git", {"repo": "git@git.example.org:a/b.git", "dest": str(tmp_path / "a"),
                            "key_file": str(tmp_path / "deploy_key")})
    assert result.status == "failed" and "key_file" in result.msg


def test_a_playbook_registers_the_result_through_the_agent(tmp_path: Path, upstream: Upstream,
                                                           project: Path) -> None:
    """The whole way: loaded, planned, run by a local agent; `register` sees Ansible's
    fields and a second run is ok."""
    dest = tmp_path / "checkout"
    (project / "playbooks/git.yml").write_text(
        "- hosts: h1\n  tasks:\n"
        "    - name: the app\n      ansible.builtin.git:\n"
        "        repo: %s\n        dest: %s\n        version: v1\n      register: co\n"
        "    - name: fields\n      assert:\n        that:\n"
        "          - co.after == '%s'\n          - co.remote_url_changed == false\n"
        % (upstream.url, dest, upstream.first))
    code, out, err = mainsail("deploy", "--playbook", "git")
    assert code == 0, out + err
    assert head(dest) == upstream.first
    code, out, err = mainsail("deploy", "--playbook", "git")
    assert code == 0 and re.search(r"h1\s+ok\s+the app", out), out + err
