"""A user on the host plants links, hard links and FIFOs where the root agent writes.

Each test builds a user's home (owned by `nobody`) in a temp folder and a root-owned
canary that the planted entry points at; the operation must refuse, naming the path,
and leave the canary exactly as it was (content, owner, mode).
"""
from __future__ import annotations

import contextlib
import os
import signal
import stat
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from mainsail.agent import journal
from test_agent_support import run_op

NOBODY = 65534


def state(path: Path) -> Tuple[bytes, int, int, int]:
    st = os.lstat(path)
    data = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
    return data, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A user's home: the user can replace anything in it."""
    folder = tmp_path / "home" / "alice"
    folder.mkdir(parents=True)
    os.chown(folder, NOBODY, NOBODY)
    return folder


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A root-owned file standing in for /etc/shadow, in a root-owned folder (/etc)."""
    etc = tmp_path / "etc"
    etc.mkdir(mode=0o755)
    secret = etc / "shadow"
    secret.write_bytes(b"root:$6$secret:19000::::::\n")
    os.chmod(secret, 0o640)
    return secret


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging when an operation blocks (on a FIFO, say)."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("operation blocked for %d s" % seconds)
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---- links -----------------------------------------------------------------------

def test_directory_state_refuses_a_planted_link_and_leaves_its_target_alone(
        home: Path, canary: Path) -> None:
    etc = canary.parent
    before = state(etc)
    (home / ".ssh").symlink_to(etc)
    outcome = run_op("file", {"path": str(home / ".ssh"), "state": "directory",
                              "owner": "nobody", "mode": "0700"})
    assert outcome.status == "failed"
    assert "refused" in outcome.msg and str(home / ".ssh") in outcome.msg
    assert state(etc) == before


def test_copy_refuses_to_write_through_a_planted_final_link(home: Path, canary: Path) -> None:
    ssh = home / ".ssh"
    ssh.mkdir()
    os.chown(ssh, NOBODY, NOBODY)
    before = state(canary)
    (ssh / "authorized_keys").symlink_to(canary)
    outcome = run_op("copy", {"dest": str(ssh / "authorized_keys"), "content": "ssh-ed25519 A\n",
                              "owner": "nobody", "mode": "0600"})
    assert outcome.status == "failed" and "refused" in outcome.msg
    assert str(ssh / "authorized_keys") in outcome.msg
    assert state(canary) == before
    assert (ssh / "authorized_keys").is_symlink()


def test_copy_refuses_a_planted_link_in_the_middle_of_the_path(home: Path, canary: Path) -> None:
    etc = canary.parent
    (home / ".ssh").symlink_to(etc)
    outcome = run_op("copy", {"dest": str(home / ".ssh" / "shadow"), "content": "x\n",
                              "owner": "nobody"})
    assert outcome.status == "failed" and "refused" in outcome.msg
    assert canary.read_bytes().startswith(b"root:") and os.stat(canary).st_uid == 0
    assert sorted(os.listdir(etc)) == ["shadow"]


def test_line_refuses_to_edit_through_a_planted_link(home: Path, canary: Path) -> None:
    before = state(canary)
    (home / ".profile").symlink_to(canary)
    outcome = run_op("line", {"path": str(home / ".profile"), "line": "umask 022"})
    assert outcome.status == "failed" and "refused" in outcome.msg
    assert state(canary) == before


def test_file_attrs_refuse_a_planted_link(home: Path, canary: Path) -> None:
    before = state(canary)
    (home / "notes").symlink_to(canary)
    outcome = run_op("file", {"path": str(home / "notes"), "owner": "nobody", "mode": "0666"})
    assert outcome.status == "failed" and "refused" in outcome.msg
    assert state(canary) == before


def test_absent_never_removes_through_a_planted_folder_link(home: Path, canary: Path) -> None:
    (home / "cache").symlink_to(canary.parent)
    outcome = run_op("file", {"path": str(home / "cache" / "shadow"), "state": "absent"})
    assert outcome.status == "failed" and "refused" in outcome.msg
    assert canary.exists()


def test_a_hard_link_in_a_user_folder_is_not_chowned(home: Path, canary: Path) -> None:
    before = state(canary)
    os.link(canary, home / "hardlinked")
    outcome = run_op("file", {"path": str(home / "hardlinked"), "owner": "nobody",
                              "mode": "0644"})
    assert outcome.status == "failed" and "hard link" in outcome.msg
    assert state(canary) == before


def test_a_hard_link_in_a_user_folder_is_removed_unread_and_put_back_by_name(
        tmp_path: Path, home: Path, canary: Path) -> None:
    before = state(canary)
    os.link(canary, home / "hardlinked")
    book = journal.Journal(str(tmp_path / "journal"))
    outcome = run_op("file", {"path": str(home / "hardlinked"), "state": "absent"},
                     journal=book)
    assert outcome.status == "changed" and not (home / "hardlinked").exists()
    assert not [p for p in (tmp_path / "journal").iterdir() if p.suffix == ".data"]  # unread
    journal.restore(book.folder)
    assert os.path.samefile(home / "hardlinked", canary) and state(canary) == before
    assert sorted(p.name for p in home.iterdir()) == ["hardlinked"]


def test_a_look_alike_temp_name_is_never_written_through(home: Path, canary: Path) -> None:
    """Fixed or guessable temp names would be followed: every temp file is O_EXCL."""
    before = state(canary)
    for name in ("config.mainsail-tmp", ".config.mainsail-tmp", "config.mainsail-restore",
                 ".config.%d.mainsail-tmp" % os.getpid()):
        (home / name).symlink_to(canary)
    outcome = run_op("copy", {"dest": str(home / "config"), "content": "a=1\n"})
    assert outcome.status == "changed"
    assert (home / "config").read_text() == "a=1\n" and not (home / "config").is_symlink()
    assert state(canary) == before


def test_links_made_by_root_in_root_owned_folders_are_still_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.conf"
    real.write_text("old\n")
    (tmp_path / "alias.conf").symlink_to(real)
    outcome = run_op("copy", {"dest": str(tmp_path / "alias.conf"), "content": "new\n"})
    assert outcome.status == "changed" and real.read_text() == "new\n"
    assert (tmp_path / "alias.conf").is_symlink()


def test_release_never_builds_through_a_planted_partial_folder(tmp_path: Path,
                                                                canary: Path) -> None:
    base = tmp_path / "srv" / "app"
    (base / "releases").mkdir(parents=True)
    os.chown(base / "releases", NOBODY, NOBODY)
    before = state(canary.parent)
    data = b"print('hi')\n"
    from mainsail.agent.fileio import sha256_bytes
    sha = sha256_bytes(data)
    # the next release id starts with the current UTC second: plant every likely name
    import time
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    for delta in range(0, 5):
        name = ".%d.partial" % (int(stamp) + delta)
        (base / "releases" / name).symlink_to(canary.parent)
    outcome = run_op("release", {"path": str(base), "files": {"app.py": {"sha": sha}},
                                 "owner": "nobody"}, blobs=[data])
    assert state(canary.parent) == before
    assert sorted(os.listdir(canary.parent)) == ["shadow"]
    assert outcome.status == "changed"


# ---- rollback's restore ----------------------------------------------------------

def test_restore_never_follows_a_link_planted_at_a_fixed_restore_name(
        tmp_path: Path, home: Path, canary: Path) -> None:
    target = home / "app.conf"
    target.write_text("v1\n")
    book = journal.Journal(str(tmp_path / "journal"))
    book.save(str(target))
    target.write_text("v2\n")
    before = state(canary)
    (home / "app.conf.mainsail-restore").symlink_to(canary)
    journal.restore(book.folder)
    assert target.read_text() == "v1\n" and not target.is_symlink()
    assert state(canary) == before


def test_restore_refuses_a_folder_swapped_for_a_link(tmp_path: Path, home: Path,
                                                     canary: Path) -> None:
    conf = home / "conf"
    conf.mkdir()
    (conf / "shadow").write_text("mine\n")
    book = journal.Journal(str(tmp_path / "journal"))
    book.save(str(conf / "shadow"))
    os.rename(conf, home / "conf.old")
    conf.symlink_to(canary.parent)
    before = state(canary)
    with pytest.raises(Exception, match="refused"):
        journal.restore(book.folder)
    assert state(canary) == before


# ---- FIFOs and other non-files ---------------------------------------------------

@pytest.mark.parametrize("op,args", [
    ("copy", {"dest": "{p}", "content": "x\n"}),
    ("line", {"path": "{p}", "line": "x"}),
    ("file", {"path": "{p}", "mode": "0600"}),
    ("file", {"path": "{p}", "state": "touch", "mode": "0600"}),
])
def test_a_fifo_at_a_destination_is_refused_at_once(tmp_path: Path, op: str,
                                                    args: dict) -> None:
    fifo = tmp_path / "dest"
    os.mkfifo(fifo)
    filled = {k: (v.format(p=fifo) if isinstance(v, str) else v) for k, v in args.items()}
    with deadline(5):
        outcome = run_op(op, filled)
    assert outcome.status == "failed" and "is a fifo" in outcome.msg
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# ---- option injection ------------------------------------------------------------

INJECTED = "-oDPkg::Pre-Invoke::=touch /tmp/pwned"


@pytest.mark.parametrize("op,args", [
    ("apt", {"name": ["curl", INJECTED]}),
    ("user", {"name": "--badname"}),
    ("group", {"name": "-g0"}),
    ("service", {"name": "--now"}),
    ("supervisor", {"name": "-c", "command": "/bin/true"}),
])
def test_names_that_start_with_a_dash_never_reach_a_tool(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         op: str, args: dict) -> None:
    from test_agent_support import calls, fake_command, make_bindir
    bindir = make_bindir(tmp_path, monkeypatch)
    for tool in ("apt-get", "dpkg-query", "apt-cache", "useradd", "usermod", "groupadd",
                 "systemctl", "supervisorctl", "update-rc.d"):
        fake_command(bindir, tool)
    outcome = run_op(op, args)
    assert outcome.status == "failed" and "starts with '-'" in outcome.msg
    assert calls(bindir) == []


def test_the_agent_ends_options_before_operands(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from test_agent_support import calls, fake_command, make_bindir
    from mainsail.agent.ops import user
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "dpkg-query", "exit 1")
    fake_command(bindir, "apt-get")
    run_op("apt", {"name": ["curl"]})
    text = "\n".join(calls(bindir))
    assert text.count(" -- curl") == 2, text  # dpkg-query and apt-get install
    assert user.useradd_argv("app", {})[-2:] == ["--", "app"]


@pytest.mark.parametrize("task", [
    "- apt: {name: ['curl', '%s']}" % INJECTED,
    "- apt: {name: '{{ pkg }}'}",
    "- user: {name: '-o'}",
    "- group: {name: '--gid=0'}",
    "- service: {name: '-H', state: started}",
    "- supervisor: {name: '-x', command: /bin/true}",
])
def test_dash_names_are_refused_at_plan_time_with_the_task_location(tmp_path: Path,
                                                                    task: str) -> None:
    from mainsail.errors import BadInput
    from test_plan import one_task
    with pytest.raises(BadInput) as info:
        one_task(tmp_path, task + "\n", extra={"pkg": INJECTED})
    text = str(info.value)
    assert "starts with '-'" in text and "site.yml:3" in text and "hint" in text


def test_absent_removes_a_fifo_without_opening_it_and_rollback_makes_it_again(
        tmp_path: Path) -> None:
    fifo = tmp_path / "control.fifo"
    os.mkfifo(fifo)
    os.chmod(fifo, 0o620)
    book = journal.Journal(str(tmp_path / "journal"))
    with deadline(5):
        outcome = run_op("file", {"path": str(fifo), "state": "absent"}, journal=book)
    assert outcome.status == "changed" and not os.path.lexists(fifo)
    journal.restore(book.folder)
    st = os.lstat(fifo)
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o620


def test_validate_in_a_user_folder_checks_the_file_written_not_a_swapped_name(
        tmp_path: Path, home: Path) -> None:
    """In a folder its owner can change, the validator gets the agent's own descriptor of
    the temp file (a link renamed over the temp name would otherwise be read by root); in
    a root-owned folder it gets the temp file's path, beside the destination."""
    seen = tmp_path / "seen"
    check = "sh -c 'echo %%s >> %s; cat %%s >> %s'" % (seen, seen)
    for folder in (home, tmp_path):
        outcome = run_op("copy", {"dest": str(folder / "app.conf"), "content": "ok = 1\n",
                                  "validate": check})
        assert outcome.status == "changed"
    user_arg, user_content, root_arg, root_content = seen.read_text().splitlines()
    assert user_arg.startswith("/proc/") and "/fd/" in user_arg
    assert root_arg.startswith(str(tmp_path / ".app.conf.")) and root_arg.endswith(".mainsail-tmp")
    assert user_content == root_content == "ok = 1"
