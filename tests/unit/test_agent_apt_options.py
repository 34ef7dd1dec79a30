"""apt's Ansible options: the apt-get argv each one gives, check mode and the changed verdict."""
from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from mainsail.agent.ops import apt
from mainsail.errors import BadInput
from mainsail.opspec import OPS, canonical_args, coerce_args
from test_agent_support import calls, fake_command, make_bindir, run_op

DEFAULTS = ("-y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef "
            "-o Dpkg::Options::=--force-confold")
HELLO = 'printf "hello\\tinstall ok installed\\t2.10-5\\n"'
ABSENT = 'printf "hello\\tunknown ok not-installed\\t\\n"; exit 1'


def apt_calls(bindir: Path, verb: str = "") -> List[str]:
    return [c for c in calls(bindir) if c.startswith("apt-get " + verb)]


def test_default_options_are_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", ABSENT)
    assert run_op("apt", coerce_args(OPS["apt"], {"name": "hello"})).status == "changed"
    assert apt_calls(bindir) == ["apt-get install %s --no-install-recommends -- hello"
                                 % DEFAULTS]


def test_dpkg_options_and_lock_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", ABSENT)
    args = coerce_args(OPS["apt"], {"name": "hello", "lock_timeout": "30",
                                    "dpkg_options": "force-confnew, force-overwrite"})
    run_op("apt", args)
    assert apt_calls(bindir)[-1] == (
        "apt-get install -y -q -o DPkg::Lock::Timeout=30 -o Dpkg::Options::=--force-confnew "
        "-o Dpkg::Options::=--force-overwrite --no-install-recommends -- hello")
    run_op("apt", {"name": ["hello"], "dpkg_options": ""})  # none at all
    assert "Dpkg::Options" not in apt_calls(bindir)[-1]
    with pytest.raises(BadInput, match="without their dashes"):
        coerce_args(OPS["apt"], {"name": "hello", "dpkg_options": "--force-confnew"})


def test_force_and_the_allow_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", ABSENT)
    run_op("apt", {"name": ["hello"], "force": True})
    assert apt_calls(bindir)[-1].endswith(
        "--no-install-recommends --allow-unauthenticated --allow-downgrades "
        "--allow-remove-essential --allow-change-held-packages -- hello")
    args = canonical_args(OPS["apt"], {"name": "hello", "allow-unauthenticated": True,
                                       "allow-downgrades": "yes",
                                       "allow_change_held_packages": True,
                                       "fail_on_autoremove": True})
    run_op("apt", coerce_args(OPS["apt"], args))
    assert apt_calls(bindir)[-1].endswith(
        "--no-install-recommends --no-remove --allow-unauthenticated --allow-downgrades "
        "--allow-change-held-packages -- hello")
    # force with an allow flag: each flag once
    run_op("apt", {"name": ["hello"], "force": True, "allow_downgrade": True})
    assert apt_calls(bindir)[-1].count("--allow-downgrades") == 1


def test_remove_takes_only_the_held_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", HELLO)
    out = run_op("apt", {"name": ["hello"], "state": "absent", "allow_downgrade": True,
                         "allow_unauthenticated": True, "fail_on_autoremove": True,
                         "allow_change_held_packages": True})
    assert out.status == "changed"
    assert apt_calls(bindir) == ["apt-get remove %s --allow-change-held-packages -- hello"
                                 % DEFAULTS]


def test_downgrade_to_a_named_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", HELLO)
    out = run_op("apt", {"name": ["hello=2.10-3"], "allow_downgrade": True}, check=True)
    assert out.status == "changed" and out.msg == "install hello=2.10-3"
    # check mode only asks apt's simulation (its output is the result's, as in Ansible)
    assert [c.split()[:2] for c in apt_calls(bindir)] == [["apt-get", "-s"]]
    out = run_op("apt", {"name": ["hello=2.10-3"], "allow_downgrade": True})
    assert out.status == "changed"
    assert apt_calls(bindir)[-1].endswith("--allow-downgrades -- hello=2.10-3")
    fake_command(bindir, "dpkg-query", HELLO.replace("2.10-5", "2.10-3"))
    assert run_op("apt", {"name": ["hello=2.10-3"], "allow_downgrade": True}).status == "ok"


def test_only_upgrade_leaves_out_packages_not_installed(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query",
                 'printf "hello\\tinstall ok installed\\t2.10-3\\n'
                 'tree\\tunknown ok not-installed\\t\\n"; exit 1')
    fake_command(bindir, "apt-cache", 'printf "hello:\\n  Installed: 2.10-3\\n'
                                      '  Candidate: 2.10-5\\ntree:\\n  Installed: (none)\\n'
                                      '  Candidate: 2.1.1-2\\n"')
    out = run_op("apt", {"name": ["hello", "tree"], "only_upgrade": True})
    assert out.status == "ok" and apt_calls(bindir) == []
    out = run_op("apt", {"name": ["hello", "tree"], "only_upgrade": True, "state": "latest"})
    assert out.status == "changed" and out.msg == "install hello"
    assert calls(bindir)[-2] == "apt-cache policy -- hello"
    assert apt_calls(bindir)[-1].endswith("--only-upgrade --no-install-recommends -- hello")
    # nothing installed: no apt-cache either
    fake_command(bindir, "dpkg-query", ABSENT)
    before = calls(bindir)
    out = run_op("apt", {"name": ["hello"], "only_upgrade": True, "state": "latest"})
    assert out.status == "ok"
    assert not [c for c in calls(bindir)[len(before):] if c.startswith("apt")]


def test_deb_with_force_tells_dpkg_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    deb = tmp_path / "tool_1.0_all.deb"
    deb.write_bytes(b"!<arch>\n")
    fake_command(bindir, "dpkg-deb", 'printf "Package: tool\\nVersion: 1.0\\n"')
    fake_command(bindir, "dpkg-query", 'printf "tool\\tinstall ok installed\\t1.2\\n"')
    fake_command(bindir, "apt-get")
    run_op("apt", {"deb": str(deb), "force": True})
    assert apt_calls(bindir)[-1].endswith(
        "-o Dpkg::Options::=--force-all --allow-unauthenticated --allow-downgrades "
        "--allow-remove-essential --allow-change-held-packages -- %s" % deb)
    run_op("apt", {"deb": str(deb), "allow_downgrade": True})
    assert apt_calls(bindir)[-1] == "apt-get install %s --allow-downgrades -- %s" % (DEFAULTS, deb)


def test_upgrade_options_reach_the_simulation_too(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get", 'case "$*" in -s*) echo "Inst hello [2.10-3] (2.10-5)";; esac')
    out = run_op("apt", {"upgrade": "dist", "fail_on_autoremove": True, "allow_downgrade": True,
                         "allow_change_held_packages": True,
                         "default_release": "trixie-backports"})
    assert out.status == "changed" and out.msg == "dist-upgrade hello"
    tail = "--no-remove -t trixie-backports --allow-downgrades"
    assert calls(bindir) == ["apt-get -s dist-upgrade %s %s" % (DEFAULTS, tail),
                             "apt-get dist-upgrade %s %s" % (DEFAULTS, tail)]


def test_autoclean_is_changed_when_it_deleted(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get", 'echo "Reading package lists..."; '
                                    'echo "Del hello 2.10-3 [56.2 kB]"')
    out = run_op("apt", coerce_args(OPS["apt"], {"autoclean": "yes"}), check=True)
    assert out.status == "changed" and out.msg == "autoclean hello=2.10-3"
    assert calls(bindir) == ["apt-get autoclean %s -s" % DEFAULTS]
    out = run_op("apt", {"autoclean": True})
    assert out.status == "changed" and calls(bindir)[-1] == "apt-get autoclean %s" % DEFAULTS
    fake_command(bindir, "apt-get", 'echo "Reading package lists..."')
    assert run_op("apt", {"autoclean": True}).status == "ok"


def test_clean_only_when_there_are_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    archives = tmp_path / "archives"
    (archives / "partial").mkdir(parents=True)
    (archives / "lock").write_text("")
    monkeypatch.setattr(apt, "CLEAN_DIRS", (str(archives), str(archives / "partial")))
    assert run_op("apt", coerce_args(OPS["apt"], {"clean": True})).status == "ok"
    assert calls(bindir) == []
    (archives / "hello_2.10-5_amd64.deb").write_text("x")
    (archives / "partial" / "tree_2.1.1-2_amd64.deb").write_text("x")
    out = run_op("apt", {"clean": True}, check=True)
    assert out.status == "changed" and out.msg == "clean 2 downloaded files"
    assert calls(bindir) == []
    out = run_op("apt", {"clean": True})
    assert out.status == "changed" and calls(bindir) == ["apt-get clean -q"]


def test_policy_rc_d_is_there_only_while_apt_runs(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    policy = tmp_path / "policy-rc.d"
    monkeypatch.setattr(apt, "POLICY_RC_D", str(policy))
    seen = tmp_path / "seen"
    fake_command(bindir, "apt-get", 'cat "%s" >> "%s"; "%s"; echo "rc $?" >> "%s"'
                 % (policy, seen, policy, seen))
    fake_command(bindir, "dpkg-query", ABSENT)
    out = run_op("apt", coerce_args(OPS["apt"], {"name": "hello", "policy_rc_d": "101"}))
    assert out.status == "changed"
    assert seen.read_text() == "#!/bin/sh\nexit 101\nrc 101\n"
    assert not policy.exists()
    # one that was there is put back, also when apt fails
    policy.write_text("#!/bin/sh\nexit 0\n")
    policy.chmod(0o700)
    fake_command(bindir, "apt-get", 'cat "%s" > "%s"; exit 100' % (policy, seen))
    out = run_op("apt", {"name": ["hello"], "policy_rc_d": 101})
    assert out.status == "failed" and seen.read_text() == "#!/bin/sh\nexit 101\n"
    assert policy.read_text() == "#!/bin/sh\nexit 0\n" and policy.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("policy")) == \
        ["policy-rc.d"]
    # check mode writes nothing
    seen.unlink()
    policy.unlink()
    assert run_op("apt", {"name": ["hello"], "policy_rc_d": 101}, check=True).status == "changed"
    # (only apt's simulation ran, with no policy-rc.d: it starts no service anyway)
    assert not policy.exists() and apt_calls(bindir)[-1].startswith("apt-get -s install")
    with pytest.raises(BadInput, match="not an exit code"):
        coerce_args(OPS["apt"], {"name": "hello", "policy_rc_d": 300})


def test_update_cache_is_tried_again_with_backoff(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    monkeypatch.setattr(apt, "cache_age", lambda: None)
    waits: List[float] = []
    monkeypatch.setattr(apt.time, "sleep", waits.append)
    monkeypatch.setattr(apt.random, "random", lambda: 0.5)
    count = tmp_path / "count"
    # fails twice, then succeeds
    fake_command(bindir, "apt-get", 'echo x >> "%s"; [ "$(wc -l < "%s")" -ge 3 ]' % (count, count))
    out = run_op("apt", coerce_args(OPS["apt"], {"update_cache": True}))
    assert out.status == "ok" and out.msg == "cache updated"
    assert calls(bindir) == ["apt-get update -q -o DPkg::Lock::Timeout=120"] * 3
    assert waits == [1.5, 2.5]
    count.unlink()
    waits.clear()
    out = run_op("apt", {"update_cache": True, "update_cache_retries": 2,
                         "update_cache_retry_max_delay": 0})
    assert out.status == "failed" and "apt-get update (2 tries) failed" in out.msg
    assert waits == [0.5]
    waits.clear()
    fake_command(bindir, "apt-get", "exit 100")
    out = run_op("apt", {"update_cache": True, "update_cache_retries": 0})
    assert out.status == "failed" and waits == []


def test_the_new_arguments_alone_are_something_to_do() -> None:
    for args in ({"clean": True}, {"autoclean": True}, {"update_cache": True}):
        coerce_args(OPS["apt"], args, "site.yml:3")
    with pytest.raises(BadInput, match="autoclean or clean"):
        coerce_args(OPS["apt"], {"force": True}, "site.yml:3")
    # the package op passes them on to apt
    assert "allow_downgrade" in coerce_args(OPS["package"], canonical_args(
        OPS["package"], {"name": "hello", "allow-downgrade": True}))


SIMULATED = 'case "$1" in -s) echo "Inst debhelper (13.11 Debian:12/stable [all])"; ' \
            'echo "Conf debhelper (13.11 Debian:12/stable [all])";; esac'


def test_build_dep_asks_apts_simulation_then_installs(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get", SIMULATED)
    fake_command(bindir, "dpkg-query", ABSENT)
    check = run_op("apt", {"name": ["rolldice"], "state": "build-dep"}, check=True)
    assert check.status == "changed" and "build-dep rolldice: debhelper" in check.msg
    assert apt_calls(bindir) == ["apt-get -s build-dep %s --no-install-recommends -- rolldice"
                                 % DEFAULTS]
    done = run_op("apt", {"name": ["rolldice"], "state": "build-dep"})
    assert done.status == "changed"
    assert apt_calls(bindir)[-1] == \
        "apt-get build-dep %s --no-install-recommends -- rolldice" % DEFAULTS


def test_build_dep_with_nothing_to_install_and_fixed_alone(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get", 'echo "0 upgraded, 0 newly installed, 0 to remove."')
    fake_command(bindir, "dpkg-query", ABSENT)
    assert run_op("apt", {"name": ["rolldice"], "state": "build-dep"}).status == "ok"
    fixed = run_op("apt", coerce_args(OPS["apt"], {"state": "fixed"}))
    assert fixed.status == "ok"
    assert apt_calls(bindir)[-1] == \
        "apt-get -s install %s --fix-broken --no-install-recommends --" % DEFAULTS


def test_name_patterns_are_matched_against_the_package_lists() -> None:
    known = ["hello", "hello-traditional", "help2man", "python3", "python3-yaml"]
    assert apt.expand_patterns(["hel?o", "he?lo", "curl"], known) == ["hello", "curl"]
    assert apt.expand_patterns(["python3-*=1.0", "hello:amd64"], known) == \
        ["python3-yaml=1.0", "hello:amd64"]
    assert apt.expand_patterns(["hello"], None) == ["hello"]  # no pattern: no apt-cache
    with pytest.raises(apt.OpError, match="No package\\(s\\) matching 'nothing\\*' available"):
        apt.expand_patterns(["nothing*"], known)


def test_a_named_package_installed_as_a_dependency_is_marked_manual(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    states = tmp_path / "extended_states"
    states.write_text("Package: hello\nArchitecture: amd64\nAuto-Installed: 1\n\n"
                      "Package: other\nArchitecture: amd64\nAuto-Installed: 1\n")
    bindir = make_bindir(tmp_path, monkeypatch)
    monkeypatch.setattr(apt, "EXTENDED_STATES", str(states))
    assert apt.auto_installed(["hello", "curl"]) == ["hello"]
    fake_command(bindir, "apt-get")
    fake_command(bindir, "apt-mark")
    fake_command(bindir, "dpkg-query", HELLO)
    check = run_op("apt", {"name": ["hello"]}, check=True)
    assert check.status == "changed" and check.msg == "mark manual hello"
    assert run_op("apt", {"name": ["hello"]}).status == "changed"
    assert calls(bindir)[-1] == "apt-mark manual -- hello" and not apt_calls(bindir)
    states.write_text("Package: hello\nArchitecture: amd64\nAuto-Installed: 0\n")
    assert run_op("apt", {"name": ["hello"]}).status == "ok"


def test_an_architectures_package_is_looked_up_and_removed_as_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    # dpkg-query answers for hello:i386 only when asked by that name
    fake_command(bindir, "dpkg-query", 'for a; do last="$a"; done; case "$last" in '
                 'hello:i386) printf "install ok installed\\t2.10-3\\n";; '
                 '*) printf "hello\\tinstall ok installed\\t2.10-3\\n";; esac')
    assert apt.installed_table(["hello:i386", "hello"]) == {
        "hello": ("installed", "2.10-3"), "hello:i386": ("installed", "2.10-3")}
    gone = run_op("apt", {"name": ["hello:i386"], "state": "absent", "purge": True})
    assert gone.msg == "purge hello:i386"
    assert apt_calls(bindir)[-1].endswith("-- hello:i386")


@pytest.mark.parametrize("a,b,sign", [
    ("1.0.0", "1.0.1", -1), ("1.0.1", "1.0.0", 1), ("1.0", "1.0", 0), ("1.0~rc1", "1.0", -1),
    ("1:0.9", "2.0", 1), ("2.10-3", "2.10-10", -1), ("1.0a", "1.0", 1), ("1.0+b1", "1.0", 1),
    ("1.01", "1.1", 0), ("2.0.0", "10.0", -1), ("1.0-1", "1.0", 1), ("7.88.1-10+deb12u5",
                                                                        "7.88.1-10+deb12u12", -1),
])
def test_debian_versions_compare_as_dpkg_does(a: str, b: str, sign: int) -> None:
    got = apt.version_compare(a, b)
    assert (got > 0) - (got < 0) == sign


POLICY = """foo:
  Installed: 1.0.0
  Candidate: 1.0.1
  Version table:
     2.0.1 1
          1 file:/tmp/repo testing/main all Packages
     2.0.0 1
          1 file:/tmp/repo testing/main all Packages
     1.0.1 500
        500 file:/tmp/repo stable/main all Packages
 *** 1.0.0 500
        500 file:/tmp/repo stable/main all Packages
        100 /var/lib/dpkg/status
"""


def test_a_version_comparison_or_pattern_is_matched_as_ansible_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert apt.parse_version_table(POLICY) == {"foo": ["2.0.1", "2.0.0", "1.0.1", "1.0.0"]}
    assert apt.split_cmp("foo>=1.0") == ("foo", ">=", "1.0")
    assert apt.split_spec("foo>=1.0") == ("foo", "1.0")
    assert apt.is_matched("foo>=1.0") and apt.is_matched("foo=1.0.*")
    assert not apt.is_matched("foo=1.0.1") and not apt.is_matched("foo")
    monkeypatch.setattr(apt, "policy_text", lambda names, release=None: POLICY)
    have = {"foo": ("installed", "1.0.0")}
    assert apt._matched("foo>=1.0.0", have, False, None) is None  # installed will do
    assert apt._matched("foo>=1.0.0", have, True, None) == "foo=1.0.1"  # latest: candidate
    assert apt._matched("foo>=1.0.1", have, False, None) == "foo=1.0.1"
    assert apt._matched("foo=1.0.*", have, True, None) == "foo=1.0.1"
    assert apt._matched("foo=2.0.*", have, False, None) == "foo=2.0.1"  # above every pin
    with pytest.raises(apt.OpError, match="no available installation candidate for foo>=3"):
        apt._matched("foo>=3", have, False, None)


def test_the_diff_is_what_apt_said_between_its_markers() -> None:
    out = ("Reading package lists...\nBuilding dependency tree...\n"
           "Reading state information...\nThe following NEW packages will be installed:\n"
           "  foo\n0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n"
           "Setting up foo (1.0.0) ...\n")
    assert apt.prepared_diff(out) == ("The following NEW packages will be installed:\n  foo\n"
                                      "0 upgraded, 1 newly installed, 0 to remove and 0 not "
                                      "upgraded.")
    assert apt.prepared_diff("just this\n") == "just this"
