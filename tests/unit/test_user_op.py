"""user: Ansible's arguments beyond the basics (expiry, locking, password ageing, libuser,
skeleton and umask, homes made later, SSH keys), planned against fake /etc files; and the
plan pieces the user target needs (task vars reading each other, getent facts checked)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent.ops import accounts, user
from test_agent_support import run_op
from tests.unit.test_segments import plan_tasks

PASSWD = ("deploy:x:1001:1001::/home/deploy:/bin/bash\n"
          "app:x:1002:1002::/srv/app:/bin/sh\n"
          "bare::575:575::/home/dummy:/bin/bash\n")
GROUP = "deploy:x:1001:\napp:x:1002:\nadm:x:4:app\n"
SHADOW = ("deploy:$6$salt$hash:19000:0:99999:7:::\n"
          "app:!$6$salt$hash:19000:5:10:28:15:29281:\n")
SHA512 = "$6$rounds=656000$TT4O7jz2M57npccl$" + "a" * 86


@pytest.fixture
def fake_etc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in (("passwd", PASSWD), ("group", GROUP), ("shadow", SHADOW)):
        (tmp_path / name).write_text(text)
        monkeypatch.setattr(accounts, name.upper(), str(tmp_path / name))


def test_shadow_entries_read_empty_numbers_as_minus_one() -> None:
    table = accounts.parse_shadow_entries(SHADOW)
    assert table["deploy"] == accounts.ShadowEntry("$6$salt$hash", 0, 99999, 7, -1, -1)
    assert table["app"] == accounts.ShadowEntry("!$6$salt$hash", 5, 10, 28, 15, 29281)


@pytest.mark.parametrize("password, warns", [
    (SHA512, False), ("$y$jCT$" + "b" * 22 + "$" + "c" * 43, False), ("*", False),
    ("!", False), ("*************", False), ("plaintextpassword", True),
    ("$6$rounds=656000$salt$" + "d" * 81 + "+++++", True), ("$6$salt$short", True)])
def test_a_password_that_does_not_look_hashed_warns(password: str, warns: bool) -> None:
    assert bool(user.password_warnings(password)) is warns


def test_useradd_with_ansibles_creation_arguments(fake_etc: None) -> None:
    argv = user.useradd_argv("newbie", {
        "uid": 700, "non_unique": True, "expires": 2529881062, "password": SHA512,
        "password_lock": True, "skeleton": "/srv/skel", "umask": "077", "uid_min": 1500,
        "uid_max": 1501, "password_expire_account_disable": 15})
    assert argv == ["useradd", "-u", "700", "-o", "-e", "29281", "-f", "15", "-p",
                    "!" + SHA512, "-m", "-k", "/srv/skel", "-K", "UMASK=077",
                    "-K", "UID_MIN=1500", "-K", "UID_MAX=1501", "--", "newbie"]
    # a group of the user's name exists already: useradd must not try to make it
    assert user.useradd_argv("app", {"expires": -1})[1:] == ["-N", "-e", "", "-m", "--", "app"]


def test_local_accounts_go_through_libuser(fake_etc: None) -> None:
    assert user.useradd_argv("app", {"local": True, "groups": ["adm"], "expires": 0}) == \
        ["luseradd", "-n", "--", "app"]
    extra = user.local_commands("app", {"local": True, "groups": ["adm"], "expires": 0}, None)
    assert [argv for _, argv in extra] == [["lchage", "-E", "0", "--", "app"],
                                           ["lgroupmod", "-M", "app", "--", "adm"]]
    assert user.userdel_argv("app", {"local": True, "remove": True, "force": True}) == \
        ["luserdel", "-r", "--", "app"]


@pytest.mark.parametrize("key", ["umask", "uid_min", "uid_max"])
def test_local_with_a_setting_libuser_lacks_fails_in_ansibles_words(fake_etc: None,
                                                                   key: str) -> None:
    outcome = run_op("user", {"name": "newbie", "local": True, key: "077"}, check=True)
    assert outcome.status == "failed" and outcome.msg == "'%s' can not be used with 'local'" % key


@pytest.mark.parametrize("name, args, options", [
    ("app", {"expires": 2529881062}, []),  # the same day
    ("app", {"expires": -1}, ["-e", ""]),
    ("app", {"expires": -2529881062}, ["-e", ""]),
    ("deploy", {"expires": -1}, []),  # no expiry already
    ("deploy", {"expires": 0}, ["-e", "0"]),
    ("bare", {"expires": -1}, ["-e", ""]),  # no shadow line: counts as day 0, as in Ansible
    ("app", {"password_expire_account_disable": 15}, []),
    ("deploy", {"password_expire_account_disable": 10}, ["-f", "10"]),
])
def test_expiry_and_inactivity_compare_with_the_shadow_line(
        fake_etc: None, name: str, args: dict, options: list) -> None:
    assert user.usermod_plan(name, args, accounts.users()[name])[1] == options


@pytest.mark.parametrize("name, args, options, change", [
    ("deploy", {"password_lock": True}, ["-L"], "password locked"),
    ("app", {"password_lock": True}, [], None),
    ("app", {"password_lock": False}, ["-U"], "password unlocked"),
    ("deploy", {"password_lock": False}, [], None),
    # the same hash, locked or not, is no new password: only the lock changes
    ("app", {"password_lock": False, "password": "$6$salt$hash"}, ["-U"], "password unlocked"),
    ("deploy", {"password_lock": True, "password": "$6$new$hash"}, ["-p", "!$6$new$hash"],
     "password changed (locked)"),
])
def test_password_lock(fake_etc: None, name: str, args: dict, options: list,
                       change: str) -> None:
    changes, got = user.usermod_plan(name, args, accounts.users()[name])
    assert got == options and changes == ([change] if change else [])
    assert not any("$6$" in c for c in changes)


def test_password_ageing_with_chage(fake_etc: None) -> None:
    shadow = accounts.shadow_entries()
    assert user.chage_options(shadow["app"], {"password_expire_min": 5,
                                              "password_expire_max": 10}) == []
    assert user.chage_options(shadow["deploy"], {"password_expire_min": 0,
                                                 "password_expire_max": 0,
                                                 "password_expire_warn": 28}) == \
        ["-M", "0", "-W", "28"]
    assert user.chage_options(None, {"password_expire_max": 3}) == []  # no shadow line


def test_check_mode_reports_a_missing_home_and_the_ageing_without_changing(
        fake_etc: None, tmp_path: Path) -> None:
    before = (tmp_path / "shadow").read_text()
    outcome = run_op("user", {"name": "deploy", "password_expire_warn": 28,
                              "password_lock": True}, check=True)
    assert outcome.status == "changed"
    assert outcome.msg == "password locked, home /home/deploy created, password ageing -W 28"
    assert (tmp_path / "shadow").read_text() == before and not Path("/home/deploy").exists()


def test_append_without_groups_warns_as_ansible(fake_etc: None) -> None:
    outcome = run_op("user", {"name": "app", "append": True, "create_home": False}, check=True)
    assert outcome.status == "ok"
    assert outcome.data["warnings"][0].startswith("'append' is set, but no 'groups' are "
                                                  "specified. Use 'groups'")


def test_home_mode_follows_login_defs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defs = tmp_path / "login.defs"
    monkeypatch.setattr(user, "LOGIN_DEFS", str(defs))
    defs.write_text("# HOME_MODE 0750\nUMASK 027\n")
    assert user.home_mode() == 0o750
    defs.write_text("UMASK 022\nHOME_MODE 0700\n")
    assert user.home_mode() == 0o700
    defs.write_text("")
    assert user.home_mode() == 0o755


def test_a_made_home_copies_the_skeleton_links_as_links(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(user, "LOGIN_DEFS", str(tmp_path / "none"))
    skel = tmp_path / "skel"
    (skel / ".ssh").mkdir(parents=True)
    (skel / ".profile").write_text("x\n")
    (skel / "flag").symlink_to(tmp_path / "elsewhere")
    home = tmp_path / "deep" / "home"
    import os
    user.create_home(str(home), os.getuid(), os.getgid(), str(skel))
    assert (home / ".profile").read_text() == "x\n" and (home / ".ssh").is_dir()
    assert (home / "flag").is_symlink() and oct(home.stat().st_mode & 0o777) == "0o755"
    user.create_home(str(tmp_path / "plain"), os.getuid(), os.getgid(), "/dev/null")
    assert (tmp_path / "plain").is_dir() and not list((tmp_path / "plain").iterdir())


def test_a_key_is_made_with_its_passphrase_and_a_link_at_its_name_replaced(
        tmp_path: Path) -> None:
    import os
    import subprocess
    if not os.path.exists("/usr/bin/ssh-keygen"):
        pytest.skip("needs ssh-keygen")
    key = tmp_path / ".ssh" / "id_ed25519"
    flag = tmp_path / "flag"
    flag.write_text("keep\n")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_ed25519.pub").symlink_to(flag)
    args = {"ssh_key_type": "ed25519", "ssh_key_passphrase": "secret phrase",
            "ssh_key_comment": "test"}
    with pytest.raises(Exception, match="refused to overwrite"):
        user.generate_key(str(key), args, os.getuid(), os.getgid())
    user.generate_key(str(key), dict(args, force=True), os.getuid(), os.getgid())
    assert flag.read_text() == "keep\n" and not Path(str(key) + ".pub").is_symlink()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    unlocked = subprocess.run(["ssh-keygen", "-y", "-P", "secret phrase", "-f", str(key)],
                              capture_output=True, text=True)
    assert unlocked.returncode == 0 and unlocked.stdout.startswith("ssh-ed25519 ")
    fields = user._key_fields(str(key))
    assert fields["ssh_public_key"].endswith(" test") and "SHA256:" in fields["ssh_fingerprint"]


def test_task_vars_read_each_other(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - name: b
          vars:
            key: .ssh/test_rsa
            pub: "{{ key }}.pub"
            files: ["{{ key }}", "{{ pub }}"]
          command: "ls {{ files | join(' ') }}"
        """)
    assert "ls .ssh/test_rsa .ssh/test_rsa.pub" in str(plan.steps[0]["args"])


def test_a_getent_fact_read_by_key_later_is_not_refused_before_it_runs(tmp_path: Path) -> None:
    plan = plan_tasks(tmp_path, """
        - {name: g, getent: {database: shadow, key: someone}}
        - assert: {that: ["getent_shadow['someone'][1] != '*'",
                          "ansible_facts.getent_shadow['someone'][2] == '5'"]}
        """)
    assert [s["name"] for s in plan.steps] == ["g"]


def test_a_new_primary_group_is_given_by_number(fake_etc: None) -> None:
    # lusermod takes no group name; usermod takes either
    assert user.usermod_plan("deploy", {"group": "adm", "local": True},
                             accounts.users()["deploy"]) == (["group adm"], ["-g", "4"])


IGNORED_ON_LINUX = {"hidden": True, "login_class": "staff", "profile": "Printer Management",
                    "authorization": "solaris.admin.printer", "role": "netadm"}


def test_seuser_goes_to_useradd_at_creation_only(fake_etc: None) -> None:
    argv = user.useradd_argv("newbie", {"uid": 700, "seuser": "staff_u", "group": "adm"})
    assert argv[:7] == ["useradd", "-u", "700", "-Z", "staff_u", "-g", "adm"]
    assert user.useradd_argv("newbie", {"local": True, "seuser": "staff_u"})[:3] == \
        ["luseradd", "-Z", "staff_u"]
    assert "-Z" not in user.useradd_argv("newbie", {"seuser": ""})
    # an existing account: Ansible's usermod never passes it
    assert user.usermod_plan("deploy", {"seuser": "staff_u"}, accounts.users()["deploy"]) == \
        ([], [])


def test_the_macos_bsd_and_solaris_arguments_are_ignored_on_linux(fake_etc: None) -> None:
    assert user.usermod_plan("deploy", IGNORED_ON_LINUX, accounts.users()["deploy"]) == ([], [])
    assert user.useradd_argv("newbie", IGNORED_ON_LINUX) == \
        user.useradd_argv("newbie", {})
    outcome = run_op("user", {"name": "app", "create_home": False, **IGNORED_ON_LINUX})
    assert outcome.status == "ok", outcome.msg


def test_a_new_user_with_seuser_runs_useradd_z(fake_etc: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list = []
    monkeypatch.setattr(user, "_run", lambda argv, secrets: ran.append(argv))
    args = {"name": "newbie", "seuser": "user_u", "create_home": False, **IGNORED_ON_LINUX}
    checked = run_op("user", args, check=True)
    assert checked.status == "changed" and checked.msg == "user created" and ran == []
    done = run_op("user", args)
    assert done.status == "changed"
    assert ran == [["useradd", "-Z", "user_u", "-M", "--", "newbie"]]
