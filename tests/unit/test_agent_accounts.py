"""user and group: parsing of /etc files, planned useradd/usermod options, and (as root on
this throwaway machine) real create / modify / delete of mainsail-test-* accounts."""
from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from mainsail.agent.ops import accounts, user
from test_agent_support import run_op

PASSWD = """root:x:0:0:root:/root:/bin/bash
# a comment
+nisuser::::::
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
broken-line
deploy:x:1001:1001:Deploy User,,,:/home/deploy:/bin/bash
"""
GROUP = "root:x:0:\nadm:x:4:syslog,deploy\nsudo:x:27:deploy\ndeploy:x:1001:\nwww-data:x:33:\n"
SHADOW = "root:*:19000:0:99999:7:::\ndeploy:$6$salt$hash:19000:0:99999:7:::\n"


def test_passwd_parsing_skips_comments_nis_and_junk() -> None:
    table = accounts.parse_passwd(PASSWD)
    assert sorted(table) == ["deploy", "root", "www-data"]
    assert table["deploy"] == accounts.PasswdEntry("deploy", 1001, 1001, "Deploy User,,,",
                                                   "/home/deploy", "/bin/bash")


def test_group_and_shadow_parsing() -> None:
    groups = accounts.parse_group(GROUP)
    assert groups["adm"].members == ["syslog", "deploy"] and groups["deploy"].members == []
    assert accounts.supplementary_groups("deploy", groups) == ["adm", "sudo"]
    assert accounts.parse_shadow(SHADOW)["deploy"] == "$6$salt$hash"


def test_useradd_options() -> None:
    argv = user.useradd_argv("app", {"uid": 2001, "group": "app", "groups": ["adm", "sudo"],
                                     "shell": "/bin/sh", "system": True, "create_home": False})
    assert argv == ["useradd", "-u", "2001", "-g", "app", "-G", "adm,sudo", "-s", "/bin/sh",
                    "-M", "-r", "--", "app"]


def test_userdel_options() -> None:
    assert user.userdel_argv("app", {}) == ["userdel", "--", "app"]
    assert user.userdel_argv("app", {"remove": True, "force": "yes"}) == \
        ["userdel", "--remove", "--force", "--", "app"]


@pytest.fixture
def fake_etc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in (("passwd", PASSWD), ("group", GROUP), ("shadow", SHADOW)):
        (tmp_path / name).write_text(text)
        monkeypatch.setattr(accounts, name.upper(), str(tmp_path / name))


def test_usermod_plan_for_an_existing_user(fake_etc: None) -> None:
    current = accounts.users()["deploy"]
    changes, options = user.usermod_plan("deploy", {
        "shell": "/bin/zsh", "groups": ["adm"], "password": "$6$new$hash", "uid": 1001}, current)
    assert options == ["-G", "adm", "-s", "/bin/zsh", "-p", "$6$new$hash"]
    assert "shell /bin/bash -> /bin/zsh" in changes and "password changed" in changes
    assert not any("$6$" in c for c in changes)


def test_usermod_plan_with_append_only_adds(fake_etc: None) -> None:
    current = accounts.users()["deploy"]
    changes, options = user.usermod_plan("deploy", {"groups": ["adm", "www-data"], "append": True},
                                         current)
    assert options == ["-a", "-G", "www-data"] and changes == ["groups +www-data"]
    assert user.usermod_plan("deploy", {"groups": "sudo,adm"}, current) == ([], [])


def test_user_in_check_mode_changes_nothing(fake_etc: None) -> None:
    outcome = run_op("user", {"name": "deploy", "shell": "/bin/zsh", "create_home": False},
                     check=True)
    assert outcome.status == "changed" and outcome.msg == "shell /bin/bash -> /bin/zsh"
    assert accounts.users()["deploy"].shell == "/bin/bash"


# ---- real accounts (root only; names are random and always cleaned up) ------------

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/sbin/useradd"),
                                reason="needs root and the passwd tools")


@pytest.fixture
def name() -> Iterator[str]:
    account = "mainsail-test-%s" % secrets.token_hex(3)
    yield account
    subprocess.run(["userdel", "-r", account], capture_output=True)
    subprocess.run(["groupdel", account], capture_output=True)


@needs_root
def test_group_create_change_gid_and_delete(name: str) -> None:
    assert run_op("group", {"name": name}, check=True).status == "changed"
    assert name not in accounts.groups()
    assert run_op("group", {"name": name, "gid": 45601}).status == "changed"
    assert accounts.groups()[name].gid == 45601
    assert run_op("group", {"name": name, "gid": 45601}).status == "ok"
    moved = run_op("group", {"name": name, "gid": 45602})
    assert moved.status == "changed" and moved.msg == "gid 45601 -> 45602"
    assert accounts.groups()[name].gid == 45602
    assert run_op("group", {"name": name, "state": "absent"}).status == "changed"
    assert name not in accounts.groups()
    assert run_op("group", {"name": name, "state": "absent"}).status == "ok"


@needs_root
def test_user_create_modify_and_delete(name: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = {"name": name, "shell": "/bin/sh", "home": str(home), "comment": "Mainsail test",
            "password": "$6$abc$notarealhash", "groups": ["adm"]}
    created = run_op("user", args)
    assert created.status == "changed", created.msg
    entry = accounts.users()[name]
    assert (entry.shell, entry.home, entry.comment) == ("/bin/sh", str(home), "Mainsail test")
    assert home.is_dir()
    assert accounts.password_hashes()[name] == "$6$abc$notarealhash"
    assert accounts.supplementary_groups(name, accounts.groups()) == ["adm"]
    assert run_op("user", args).status == "ok"
    changed = run_op("user", dict(args, shell="/bin/bash", groups=[]))
    assert changed.status == "changed"
    assert accounts.users()[name].shell == "/bin/bash"
    assert accounts.supplementary_groups(name, accounts.groups()) == []
    assert run_op("user", {"name": name, "state": "absent"}).status == "changed"
    assert name not in accounts.users()


@needs_root
def test_a_failing_useradd_reports_stderr_but_never_the_password_hash(name: str) -> None:
    outcome = run_op("user", {"name": name, "group": "no-such-group-xyz",
                              "password": "$6$secret$hash"})
    assert outcome.status == "failed" and "useradd" in outcome.msg
    assert "no-such-group-xyz" in outcome.msg
    assert "$6$secret$hash" not in (outcome.msg + (outcome.cmd or ""))
