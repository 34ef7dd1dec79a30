"""apt, service, supervisor and debconf: parsing of captured tool output, and their apply
paths against fake tools on PATH (so nothing on this machine is installed or started)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mainsail.agent import facts
from mainsail.agent.ops import apt, debconf, service, supervisor
from test_agent_support import calls, fake_command, make_bindir, run_op
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args


@pytest.fixture
def bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_bindir(tmp_path, monkeypatch)

# ---- apt ---------------------------------------------------------------------------

DPKG_QUERY = (
    "adduser\tinstall ok installed\t3.134\n"
    "nginx\tdeinstall ok config-files\t1.22.1-9\n"
    "libc6\tinstall ok installed\t2.36-9\n"
    "libc6\tunknown ok not-installed\t\n"
    "curl\tinstall ok half-configured\t7.88.1-10\n"
)

APT_POLICY = """bash:
  Installed: 5.2.15-2+b8
  Candidate: 5.2.15-2+b13
  Version table:
     5.2.15-2+b13 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 5.2.15-2+b8 100
        100 /var/lib/dpkg/status
nginx:
  Installed: (none)
  Candidate: 1.22.1-9
  Version table:
     1.22.1-9 500
adduser:
  Installed: 3.134
  Candidate: 3.134
"""


def test_dpkg_query_parsing() -> None:
    table = apt.parse_dpkg_query(DPKG_QUERY)
    assert table["adduser"] == ("installed", "3.134")
    assert table["nginx"] == ("config-files", "1.22.1-9")
    assert table["libc6"] == ("installed", "2.36-9")  # an installed arch wins
    assert apt.is_installed(table, "adduser") and apt.is_installed(table, "adduser=3.134")
    assert not apt.is_installed(table, "adduser=9.9")
    assert not apt.is_installed(table, "nginx") and not apt.is_installed(table, "curl")
    assert not apt.is_installed(table, "missing")


def test_apt_cache_policy_parsing() -> None:
    policy = apt.parse_apt_policy(APT_POLICY)
    assert policy == {"bash": ("5.2.15-2+b8", "5.2.15-2+b13"), "nginx": (None, "1.22.1-9"),
                      "adduser": ("3.134", "3.134")}


def test_package_specs() -> None:
    assert apt.split_spec("nginx=1.22-1") == ("nginx", "1.22-1")
    assert apt.split_spec("libc6:amd64") == ("libc6", None)


def test_cache_age_uses_the_newest_stamp(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text("")
    new.write_text("")
    os.utime(old, (1000, 1000))
    os.utime(new, (5000, 5000))
    assert apt.cache_age((str(old), str(new), str(tmp_path / "gone")), now=6000) == 1000
    assert apt.cache_age((str(tmp_path / "gone"),)) is None


@pytest.fixture
def fake_apt(bindir: Path) -> Path:
    fake_command(bindir, "dpkg-query", 'printf "adduser\\tinstall ok installed\\t3.134\\n"; exit 1')
    fake_command(bindir, "apt-cache", "cat <<'EOF'\n%sEOF" % APT_POLICY)
    fake_command(bindir, "apt-get", 'echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> "%s/env"' % bindir)
    return bindir


def test_apt_installs_all_missing_packages_in_one_call(fake_apt: Path) -> None:
    outcome = run_op("apt", {"name": ["adduser", "nginx", "curl"]})
    assert outcome.status == "changed" and outcome.msg == "install nginx curl"
    installs = [c for c in calls(fake_apt) if c.startswith("apt-get")]
    assert installs == ["apt-get install -y -q -o DPkg::Lock::Timeout=120 "
                        "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
                        "--no-install-recommends -- nginx curl"]
    assert (fake_apt / "env").read_text() == "DEBIAN_FRONTEND=noninteractive\n"


def test_apt_with_everything_installed_is_ok_and_runs_no_apt_get(fake_apt: Path) -> None:
    assert run_op("apt", {"name": "adduser"}).status == "ok"
    assert not [c for c in calls(fake_apt) if c.startswith("apt-get")]


def test_apt_check_mode_says_what_it_would_install(fake_apt: Path) -> None:
    outcome = run_op("apt", {"name": "nginx", "install_recommends": True}, check=True)
    assert outcome.status == "changed" and "nginx" in outcome.msg
    # only apt's simulation runs (its output is the result's, as Ansible's check mode)
    assert [c.split()[:2] for c in calls(fake_apt) if c.startswith("apt-get")] == \
        [["apt-get", "-s"]]


def test_apt_latest_upgrades_when_the_candidate_is_newer(fake_apt: Path) -> None:
    assert run_op("apt", {"name": "adduser", "state": "latest"}).status == "ok"
    outcome = run_op("apt", {"name": ["bash", "adduser"], "state": "latest"})
    assert outcome.status == "changed" and outcome.msg == "install bash"


def test_apt_absent_removes_only_installed_packages(fake_apt: Path) -> None:
    assert run_op("apt", {"name": "nginx", "state": "absent"}).status == "ok"
    outcome = run_op("apt", {"name": ["nginx", "adduser"], "state": "absent", "purge": True})
    assert outcome.status == "changed"
    assert calls(fake_apt)[-1].startswith("apt-get purge -y") and calls(fake_apt)[-1].endswith(" adduser")


def test_apt_update_cache_honours_cache_valid_time(fake_apt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = fake_apt / "stamp"
    stamp.write_text("")
    monkeypatch.setattr(apt, "CACHE_STAMPS", (str(stamp),))
    fresh = run_op("apt", {"name": "adduser", "update_cache": True, "cache_valid_time": 3600})
    assert fresh.status == "ok" and "apt-get update" not in " ".join(calls(fake_apt))
    os.utime(stamp, (time.time() - 7200,) * 2)
    stale = run_op("apt", {"name": "adduser", "update_cache": True, "cache_valid_time": 3600})
    assert stale.status == "ok" and stale.msg == "cache updated"
    assert any(c.startswith("apt-get update") for c in calls(fake_apt))


def test_apt_failure_reports_the_command_and_stderr(fake_apt: Path) -> None:
    fake_command(fake_apt, "apt-get", 'echo "E: Unable to locate package nginxx" >&2; exit 100')
    outcome = run_op("apt", {"name": "nginxx"})
    assert outcome.status == "failed"
    assert "apt-get install failed (rc 100)" in outcome.msg and "Unable to locate" in outcome.msg


# ---- service -----------------------------------------------------------------------

INIT_SCRIPT = """STATE="%(dir)s/running"
case "$1" in
  start) touch "$STATE" ;;
  stop) rm -f "$STATE" ;;
  restart|reload) touch "$STATE" ;;
  status) [ -e "$STATE" ] && exit 0; exit 3 ;;
esac
"""


@pytest.fixture
def sysv(tmp_path: Path, bindir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake /etc/init.d/demo in a temp folder; systemd reported absent."""
    initd = tmp_path / "init.d"
    initd.mkdir()
    fake_command(initd, "demo", INIT_SCRIPT % {"dir": tmp_path})
    monkeypatch.setattr(service, "INIT_D", str(initd))
    monkeypatch.setattr(service, "RC_ROOT", str(tmp_path))
    monkeypatch.setattr(facts, "SYSTEMD_MARKER", str(tmp_path / "no-systemd"))
    return initd


def test_lsb_status_codes() -> None:
    assert service.lsb_running(0) is True
    assert [service.lsb_running(rc) for rc in (1, 2, 3, 4)] == [False] * 4


def test_plan_actions() -> None:
    assert service.plan_actions("started", False) == ["start"]
    assert service.plan_actions("started", True) == []
    assert service.plan_actions("stopped", True) == ["stop"]
    assert service.plan_actions("restarted", True) == ["restart"]
    assert service.plan_actions("reloaded", False) == ["reload"]


def test_sysv_start_is_idempotent_and_check_mode_does_not_start(sysv: Path, tmp_path: Path) -> None:
    assert run_op("service", {"name": "demo", "state": "started"}, check=True).status == "changed"
    assert not (tmp_path / "running").exists()
    assert run_op("service", {"name": "demo", "state": "started"}).status == "changed"
    assert (tmp_path / "running").exists()
    assert run_op("service", {"name": "demo", "state": "started"}).status == "ok"
    assert [c for c in calls(sysv) if "start" in c] == ["demo start"]


def test_sysv_stop_and_restart(sysv: Path, tmp_path: Path) -> None:
    (tmp_path / "running").write_text("")
    assert run_op("service", {"name": "demo", "state": "stopped"}).status == "changed"
    assert not (tmp_path / "running").exists()
    assert run_op("service", {"name": "demo", "state": "restarted"}).status == "changed"
    assert run_op("service", {"name": "demo", "state": "restarted"}).status == "changed"


def test_sysv_missing_init_script_is_a_clear_failure(sysv: Path) -> None:
    outcome = run_op("service", {"name": "nosuch", "state": "started"})
    assert outcome.status == "failed" and "no init script" in outcome.msg


def test_check_mode_assumes_an_earlier_task_installs_the_service(sysv: Path) -> None:
    outcome = run_op("service", {"name": "nosuch", "state": "started"}, check=True,
                     earlier=["apt"])
    assert outcome.status == "changed" and "assuming an earlier task" in outcome.msg
    # Nothing earlier would change: the real run would fail, so does the check (Ansible too).
    alone = run_op("service", {"name": "nosuch", "state": "started"}, check=True)
    assert alone.status == "failed" and "Could not find the requested service" in alone.msg


def test_sysv_enabled_reads_rc_links_and_calls_update_rc_d(sysv: Path, tmp_path: Path,
                                                          bindir: Path) -> None:
    fake_command(bindir, "update-rc.d")
    (tmp_path / "rc2.d").mkdir()
    assert run_op("service", {"name": "demo", "enabled": True}).status == "changed"
    assert calls(bindir)[-2:] == ["update-rc.d demo defaults", "update-rc.d demo enable"]
    os.symlink("../init.d/demo", str(tmp_path / "rc2.d" / "S01demo"))
    assert service.rc_links("demo", "S", "2345") == [str(tmp_path / "rc2.d" / "S01demo")]
    assert run_op("service", {"name": "demo", "enabled": True}).status == "ok"


def test_systemd_is_used_when_it_runs(tmp_path: Path, bindir: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "systemd").mkdir()
    monkeypatch.setattr(facts, "SYSTEMD_MARKER", str(tmp_path / "systemd"))
    fake_command(bindir, "systemctl", '[ "$1" = show ] && printf "LoadState=loaded\\n'
                 'ActiveState=inactive\\nUnitFileState=disabled\\n"; exit 0')
    assert run_op("service", {"name": "nginx", "state": "started", "enabled": True}).status == "changed"
    assert calls(bindir)[-2:] == ["systemctl start -- nginx", "systemctl enable -- nginx"]
    assert calls(bindir)[0].startswith("systemctl show -p Id -p LoadState")


# ---- supervisor --------------------------------------------------------------------

STATUS_TEXT = """web                              RUNNING   pid 123, uptime 0:01:02
worker                           STOPPED   Not started
broken                           FATAL     Exited too quickly (process log may have details)
"""


def test_supervisor_status_parsing() -> None:
    assert supervisor.parse_status(STATUS_TEXT, "web") == "RUNNING"
    assert supervisor.parse_status(STATUS_TEXT, "worker") == "STOPPED"
    assert supervisor.parse_status("ghost: ERROR (no such process)\n", "ghost") is None
    assert supervisor.status_table(STATUS_TEXT) == {"web": "RUNNING", "worker": "STOPPED",
                                                    "broken": "FATAL"}


def test_supervisor_recognises_an_unreachable_daemon() -> None:
    assert supervisor.daemon_unreachable("unix:///var/run/supervisor.sock no such file")
    assert supervisor.daemon_unreachable("unix:///var/run/supervisor.sock refused connection")
    assert not supervisor.daemon_unreachable("ghost: ERROR (no such process)")
    assert not supervisor.daemon_unreachable(STATUS_TEXT)


def test_supervisor_config_rendering() -> None:
    text = supervisor.render_config("web", {
        "command": "/srv/web/bin/run --port 80", "user": "www-data", "autostart": True,
        "autorestart": "unexpected", "startsecs": 5,
        "environment": {"B": 'say "hi"', "A": "1"}})
    assert text.splitlines()[1:] == [
        "[program:web]", "command=/srv/web/bin/run --port 80", "user=www-data",
        'environment=A="1",B="say \\"hi\\""', "autostart=true", "autorestart=unexpected",
        "startsecs=5"]


def test_supervisor_refuses_values_that_would_inject_config() -> None:
    outcome = run_op("supervisor", {"name": "web", "command": "x\n[program:evil]"}, check=True)
    assert outcome.status == "failed" and "single line" in outcome.msg
    assert run_op("supervisor", {"name": "../etc/x", "command": "x"}).status == "failed"


SUPERVISORCTL = """STATE="%(dir)s/state"
case "$1" in
  status) if [ -e "%(dir)s/down" ]; then echo "unix:///var/run/supervisor.sock no such file"; exit 4; fi
          if [ -e "$STATE" ]; then echo "$2   $(cat "$STATE")   pid 1, uptime 0:00:01"; exit 0; fi
          echo "$2: ERROR (no such process)"; exit 4 ;;
  update) [ -n "$2" ] && [ ! -e "$STATE" ] && echo STOPPED > "$STATE"; echo "$2: updated" ;;
  start) echo RUNNING > "$STATE" ;;
  stop) echo STOPPED > "$STATE" ;;
esac
"""


@pytest.fixture
def fake_supervisor(bindir: Path) -> Path:
    fake_command(bindir, "supervisorctl", SUPERVISORCTL % {"dir": bindir})
    (bindir / "conf.d").mkdir()
    return bindir


def program(bindir: Path, **extra: object) -> dict:
    return dict({"name": "web", "command": "/bin/sleep 1000", "config_dir": str(bindir / "conf.d")},
                **extra)


def test_supervisor_writes_config_rereads_updates_only_its_group_then_starts(
        fake_supervisor: Path) -> None:
    outcome = run_op("supervisor", program(fake_supervisor))
    assert outcome.status == "changed" and "+[program:web]" in outcome.diff
    ctl = [c for c in calls(fake_supervisor) if c.startswith("supervisorctl")]
    assert ctl == ["supervisorctl status web", "supervisorctl reread", "supervisorctl update web",
                   "supervisorctl status web", "supervisorctl start web"]
    assert (fake_supervisor / "conf.d" / "web.conf").read_text().startswith("; managed by")
    again = run_op("supervisor", program(fake_supervisor))
    assert again.status == "ok"
    assert calls(fake_supervisor)[len(ctl):] == ["supervisorctl status web"]


def test_supervisor_check_mode_writes_no_config(fake_supervisor: Path) -> None:
    outcome = run_op("supervisor", program(fake_supervisor), check=True)
    assert outcome.status == "changed"
    assert not (fake_supervisor / "conf.d" / "web.conf").exists()
    assert calls(fake_supervisor) == ["supervisorctl status web"]


def test_supervisor_stopped_and_absent(fake_supervisor: Path) -> None:
    run_op("supervisor", program(fake_supervisor))
    assert run_op("supervisor", program(fake_supervisor, state="stopped")).status == "changed"
    assert (fake_supervisor / "state").read_text().strip() == "STOPPED"
    gone = run_op("supervisor", program(fake_supervisor, state="absent"))
    assert gone.status == "changed" and not (fake_supervisor / "conf.d" / "web.conf").exists()
    assert calls(fake_supervisor)[-2:] == ["supervisorctl reread", "supervisorctl update web"]


def test_supervisor_without_a_daemon_fails_with_a_hint(fake_supervisor: Path) -> None:
    (fake_supervisor / "down").write_text("")
    outcome = run_op("supervisor", program(fake_supervisor))
    assert outcome.status == "failed" and "Is supervisord running?" in outcome.msg


def test_supervisor_not_installed(bindir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "SUPERVISORCTL", "no-such-supervisorctl")
    (bindir / "conf.d").mkdir()
    outcome = run_op("supervisor", program(bindir))
    assert outcome.status == "failed" and "supervisorctl not found" in outcome.msg
    preview = run_op("supervisor", program(bindir), check=True, earlier=["apt"])
    assert preview.status == "changed" and "supervisorctl not found" in preview.msg


# ---- debconf -----------------------------------------------------------------------

DEBCONF_SHOW = """  debconf-apt-progress/media-change:
* debconf/frontend: Dialog
  debconf/priority: high
* tzdata/Areas: Europe
"""


def test_debconf_show_parsing() -> None:
    assert debconf.parse_debconf_show(DEBCONF_SHOW) == {
        "debconf-apt-progress/media-change": "", "debconf/frontend": "Dialog",
        "debconf/priority": "high", "tzdata/Areas": "Europe"}


def test_debconf_passwords_dat_parsing() -> None:
    text = ("Name: mysql-server/root_password\nTemplate: mysql-server/root_password\n"
            "Value: s3cret\nOwners: mysql-server\n\nName: other/pw\nTemplate: other/pw\n")
    assert debconf.parse_passwords_dat(text) == {"mysql-server/root_password": "s3cret",
                                                 "other/pw": ""}


def test_debconf_normalises_booleans_and_multiselect() -> None:
    assert debconf.normalize("boolean", True) == debconf.normalize("boolean", "yes") == "true"
    assert debconf.normalize("multiselect", ["b", "a"]) == "a, b"
    assert debconf.normalize("multiselect", "b, a") == "b, a"  # a string as written (Ansible)


@pytest.fixture
def fake_debconf(bindir: Path) -> Path:
    fake_command(bindir, "debconf-show", "cat <<'EOF'\n%sEOF" % DEBCONF_SHOW)
    fake_command(bindir, "debconf-set-selections", 'cat >> "%s/selections"' % bindir)
    return bindir


def test_debconf_sets_only_a_differing_answer(fake_debconf: Path) -> None:
    same = {"name": "tzdata", "question": "tzdata/Areas", "vtype": "select", "value": "Europe"}
    assert run_op("debconf", same).status == "ok"
    outcome = run_op("debconf", dict(same, value="America"))
    assert outcome.status == "changed" and "'Europe' -> 'America'" in outcome.msg
    assert (fake_debconf / "selections").read_text() == "tzdata tzdata/Areas select America\n"


def test_debconf_check_mode_sets_nothing(fake_debconf: Path) -> None:
    args = {"name": "tzdata", "question": "tzdata/Areas", "vtype": "select", "value": "Asia"}
    assert run_op("debconf", args, check=True).status == "changed"
    assert not (fake_debconf / "selections").exists()


def test_debconf_unseen_passes_u_and_does_not_change_the_comparison(bindir: Path) -> None:
    fake_command(bindir, "debconf-show", "cat <<'EOF'\n%sEOF" % DEBCONF_SHOW)
    fake_command(bindir, "debconf-set-selections",
                 'echo "$*" >> "%s/argv"; cat >> "%s/selections"' % (bindir, bindir))
    same = {"name": "tzdata", "question": "tzdata/Areas", "vtype": "select", "value": "Europe",
            "unseen": True}
    assert run_op("debconf", same).status == "ok"  # the same answer: nothing set
    assert run_op("debconf", dict(same, value="Asia"), check=True).status == "changed"
    assert not (bindir / "argv").exists()
    assert run_op("debconf", dict(same, value="Asia")).status == "changed"
    assert (bindir / "argv").read_text() == "-u\n"
    assert (bindir / "selections").read_text() == "tzdata tzdata/Areas select Asia\n"
    assert run_op("debconf", dict(same, value="Africa", unseen=False)).status == "changed"
    assert (bindir / "argv").read_text() == "-u\n\n"  # without unseen: no -u
    assert coerce_args(OPS["debconf"], {"name": "x", "unseen": "yes"})["unseen"] is True


def test_debconf_never_shows_a_password(fake_debconf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debconf, "PASSWORDS_DAT", str(fake_debconf / "none"))
    outcome = run_op("debconf", {"name": "mysql-server", "question": "mysql-server/root_password",
                                 "vtype": "password", "value": "hunter2"})
    assert outcome.status == "changed" and "hunter2" not in outcome.msg


def test_apt_update_cache_alone_is_a_task_of_its_own(fake_apt: Path) -> None:
    # Ansible's `apt: update_cache=yes` with no package (geerlingguy roles do this)
    args = coerce_args(OPS["apt"], {"update_cache": True}, "main.yml:13")
    out = run_op("apt", args)
    assert out.status == "ok" and out.msg == "cache updated"
    assert [c.split()[:2] for c in calls(fake_apt)] == [["apt-get", "update"]]
    with pytest.raises(BadInput, match="nothing to do"):
        coerce_args(OPS["apt"], {"state": "present"}, "main.yml:14")
    with pytest.raises(BadInput, match="only one of name and deb"):
        coerce_args(OPS["apt"], {"name": "x", "deb": "/x.deb"})


def test_apt_upgrade_runs_when_the_simulation_installs_something(bindir: Path) -> None:
    fake_command(bindir, "apt-get", '[ "$1" = "-s" ] && echo "Inst libc6 [2.36-9] (2.36-9+deb12u9 Debian:12)"; exit 0')
    out = run_op("apt", coerce_args(OPS["apt"], {"upgrade": "dist"}))
    assert out.status == "changed" and out.msg == "dist-upgrade libc6"
    assert calls(bindir)[-1].startswith("apt-get dist-upgrade -y")
    fake_command(bindir, "apt-get", "exit 0")
    assert run_op("apt", coerce_args(OPS["apt"], {"upgrade": True})).status == "ok"
    with pytest.raises(BadInput, match="upgrade: sideways"):
        coerce_args(OPS["apt"], {"upgrade": "sideways"})
