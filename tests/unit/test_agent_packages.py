"""package dispatches to apt; yum, dnf and apk load and fail clearly when run."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent.ops import package
from mainsail.opspec import OPS, canonical_args, canonical_op, coerce_args
from test_agent_support import calls, fake_command, make_bindir, run_op

INSTALLED = 'printf "curl\\tinstall ok installed\\t7.88\\n"'


def test_package_runs_apt_and_second_run_is_ok(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", 'printf "rsync\\tunknown ok not-installed\\t\\n"; exit 1')
    first = run_op("package", {"name": ["rsync"], "state": "installed"})
    assert first.status == "changed" and first.msg == "install rsync"
    assert any(c.startswith("apt-get install") and c.endswith("-- rsync") for c in calls(bindir))
    fake_command(bindir, "dpkg-query", INSTALLED.replace("curl", "rsync"))
    assert run_op("package", {"name": ["rsync"]}).status == "ok"


def test_package_removed_means_apt_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", INSTALLED)
    out = run_op("package", {"name": ["curl"], "state": "removed"}, check=True)
    assert out.status == "changed" and out.msg == "remove curl"
    assert not any(c.startswith("apt-get") for c in calls(bindir))


def test_package_passes_apts_own_arguments_and_refuses_anothers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", INSTALLED)
    monkeypatch.setattr(package.shutil, "which",
                        lambda tool: "/x" if tool == "apt-get" else None)
    # a Red Hat task loads (a `when:` skips it on Debian) ...
    args = coerce_args(OPS["package"], {"name": "git", "enablerepo": "epel"}, "main.yml:6")
    assert args["enablerepo"] == ["epel"]
    # ... and fails clearly if it runs
    out = run_op("package", args)
    assert out.status == "failed" and "apt does not take enablerepo" in out.msg
    assert calls(bindir) == []
    out = run_op("package", coerce_args(OPS["package"], {"name": "curl", "update_cache": True}))
    assert out.status == "ok" and calls(bindir)[0].startswith("apt-get update")


def test_package_detects_the_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(package.shutil, "which", lambda tool: "/x" if tool == "dnf" else None)
    assert package.detect() == "dnf"
    out = run_op("package", {"name": ["nginx"]})
    assert out.status == "failed" and "(dnf)" in out.msg


@pytest.mark.parametrize("tool", ["yum", "dnf", "apk"])
def test_foreign_managers_load_and_fail_with_a_clear_message(tool: str,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    assert canonical_op("ansible.builtin." + tool) == tool
    coerce_args(OPS[tool], canonical_args(OPS[tool], {"name": "nginx", "state": "present",
                                                      "update_cache": True}))
    monkeypatch.setenv("PATH", "/nonexistent")
    out = run_op(tool, {"name": ["nginx"], "state": "present"})
    assert out.status == "failed" and "this host has no %s" % tool in out.msg
    assert "pkg_mgr" in out.msg


# ---------------------------------------------------------------- apt additions

def test_apt_installs_a_deb_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    deb = tmp_path / "tool_1.2_all.deb"
    deb.write_bytes(b"!<arch>\n")
    fake_command(bindir, "dpkg-deb", 'printf "Package: tool\\nVersion: 1.2\\n"')
    fake_command(bindir, "dpkg-query", 'printf "tool\\tinstall ok installed\\t1.1\\n"')
    fake_command(bindir, "apt-get")
    out = run_op("apt", {"deb": str(deb)})
    assert out.status == "changed" and "install tool 1.2" in out.msg
    assert calls(bindir)[-1].endswith("-- %s" % deb)
    fake_command(bindir, "dpkg-query", 'printf "tool\\tinstall ok installed\\t1.2\\n"')
    assert run_op("apt", {"deb": str(deb)}).status == "ok"
    assert run_op("apt", {"deb": str(tmp_path / "none.deb")}).status == "failed"


def test_apt_autoremove_only_when_something_would_go(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get", 'case "$*" in *-s*) echo "Remv libold1 [1.0]";; esac')
    fake_command(bindir, "dpkg-query", INSTALLED)
    out = run_op("apt", {"name": ["curl"], "autoremove": True})
    assert out.status == "changed" and out.msg == "autoremove libold1"
    assert any(c.startswith("apt-get autoremove") for c in calls(bindir))
    fake_command(bindir, "apt-get", "true")
    assert run_op("apt", {"name": ["curl"], "autoremove": True}).status == "ok"


def test_apt_default_release_and_cache_valid_time(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "apt-get")
    fake_command(bindir, "dpkg-query", 'printf "x\\tunknown ok not-installed\\t\\n"; exit 1')
    run_op("apt", {"name": ["nginx"], "default_release": "bookworm-backports",
                   "cache_valid_time": 0})
    assert calls(bindir)[0].startswith("apt-get update")  # cache_valid_time implies it
    assert "-t bookworm-backports" in calls(bindir)[-1]


def test_apt_needs_something_to_do() -> None:
    from mainsail.errors import BadInput
    with pytest.raises(BadInput, match="nothing to do: give name, deb"):
        coerce_args(OPS["apt"], {"state": "present"}, "site.yml:4")


@pytest.mark.parametrize("tool,program,extra", [
    ("pacman", "pacman", {"update_cache": True}), ("zypper", "zypper", {"update_cache": True}),
    ("pkgng", "pkg", {"cached": True}), ("openbsd_pkg", "pkg_add", {"build": False}),
    ("zypper_repository", "zypper", {"repo": "http://x/"}),
    ("yum_repository", "yum", {"baseurl": "http://x/", "gpgcheck": True})])
def test_other_systems_tasks_load_and_fail_clearly_when_run(tool: str, program: str,
                                                            extra: dict,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    args = coerce_args(OPS[tool], {"name": "nginx", "state": "present", **extra},
                       "setup-FreeBSD.yml:3")
    monkeypatch.setattr("shutil.which", lambda name: None)
    out = run_op(tool, args)
    assert out.status == "failed" and "this host has no %s" % program in out.msg


def test_service_facts_reads_both_systemd_listings(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from mainsail.agent.ops import service_facts
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "systemctl", """case "$1" in
list-units) printf 'ssh.service loaded active running OpenBSD Secure Shell server\\n'
            printf 'apache2.service loaded failed failed The Apache HTTP Server\\n'
            printf 'gone.service not-found inactive dead gone.service\\n' ;;
list-unit-files) printf 'ssh.service enabled enabled\\napache2.service enabled enabled\\n'
                 printf 'cron.service disabled enabled\\n' ;;
esac""")
    monkeypatch.setattr(service_facts, "SYSTEMD_RUNNING", str(tmp_path))
    out = run_op("service_facts", {})
    services = out.data["ansible_facts"]["services"]
    assert out.status == "ok" and set(services) == {"ssh.service", "apache2.service",
                                                    "cron.service"}
    assert services["ssh.service"] == {"name": "ssh.service", "state": "running",
                                       "status": "enabled", "source": "systemd"}
    assert services["apache2.service"]["state"] == "failed"
    assert services["cron.service"]["state"] == "stopped"
    assert services["cron.service"]["status"] == "disabled"
    monkeypatch.setattr(service_facts, "SYSTEMD_RUNNING", str(tmp_path / "none"))
    (tmp_path / "init.d").mkdir()
    (tmp_path / "init.d" / "supervisor").write_text("#!/bin/sh\n")
    monkeypatch.setattr(service_facts, "INIT_D", str(tmp_path / "init.d"))
    assert run_op("service_facts", {}).data["ansible_facts"]["services"] == {
        "supervisor": {"name": "supervisor", "state": "unknown", "status": "unknown",
                       "source": "sysv"}}


# ---------------------------------------------------------------- yum_repository and dnf options

YUM_REPOSITORY_OPTIONS = (  # Ansible 2.19's, beyond name, state, description, baseurl, gpgkey,
    # gpgcheck, enabled, file and mirrorlist
    "async bandwidth cost countme deltarpm_metadata_percentage deltarpm_percentage "
    "enablegroups exclude failovermethod gpgcakey module_hotfixes http_caching include "
    "includepkgs ip_resolve keepalive keepcache metadata_expire metadata_expire_filter "
    "metalink mirrorlist_expire password priority protect proxy proxy_password proxy_username "
    "repo_gpgcheck reposdir retries s3_enabled skip_if_unavailable ssl_check_cert_permissions "
    "sslcacert sslclientcert sslclientkey sslverify throttle timeout ui_repoid_vars "
    "username").split()


def test_yum_repository_takes_every_ansible_option_with_its_type() -> None:
    spec = OPS["yum_repository"]
    assert set(YUM_REPOSITORY_OPTIONS) <= {a.name for a in spec.args}
    given = {"name": "epel", "description": "EPEL", "metalink": "https://x/metalink",
             "async": "yes", "countme": True, "exclude": "kernel*, foo", "includepkgs": ["a"],
             "validate_certs": "no", "ca_cert": "/etc/pki/ca", "client_cert": "/c",
             "client_key": "/k"}
    args = coerce_args(spec, canonical_args(spec, {**given, "priority": 10, "cost": 500,
                                                   "ip_resolve": 4, "keepcache": 1,
                                                   "reposdir": "/srv/repos"}))
    assert args["async"] is True and args["countme"] is True and args["sslverify"] is False
    assert args["exclude"] == ["kernel*", "foo"] and args["includepkgs"] == ["a"]
    assert (args["sslcacert"], args["sslclientcert"], args["sslclientkey"]) == \
        ("/etc/pki/ca", "/c", "/k")
    assert (args["priority"], args["cost"], args["ip_resolve"], args["keepcache"]) == \
        ("10", "500", "4", "1")
    assert args["reposdir"] == "/srv/repos"
    assert coerce_args(spec, {"name": "x"})["reposdir"] == "/etc/yum.repos.d"  # Ansible's
    assert canonical_args(spec, {"excludepkgs": "x"}) == {"exclude": "x"}
    from mainsail.errors import BadInput
    for bad in ({"failovermethod": "random"}, {"http_caching": "some"},
                {"metadata_expire_filter": "sometimes"}, {"keepcache": 2},
                {"skip_if_unavailable": "perhaps"}):
        with pytest.raises(BadInput):
            coerce_args(spec, {"name": "x", **bad})


def test_yum_repository_with_secrets_is_refused_without_showing_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = OPS["yum_repository"]
    args = coerce_args(spec, {"name": "private", "description": "p", "baseurl": "https://x/",
                              "username": "u", "password": "s3cret-pw",
                              "proxy": "http://proxy:3128", "proxy_password": "pr0xy-pw"})
    monkeypatch.setattr("shutil.which", lambda name: None)
    for check in (False, True):
        out = run_op("yum_repository", args, check=check)
        assert out.status == "failed" and "this host has no yum" in out.msg
        shown = repr((out.msg, out.diff, out.data))
        assert "s3cret-pw" not in shown and "pr0xy-pw" not in shown


def test_yum_repository_options_load_in_a_playbook(tmp_path: Path) -> None:
    # `async` inside the arguments is the repository option, not the task keyword
    from test_plan import args_of, one_task
    plan = one_task(tmp_path, """
        - yum_repository:
            name: epel
            description: EPEL
            metalink: https://x/metalink
            async: false
            skip_if_unavailable: true
            excludepkgs: kernel*
        """)
    (args,) = args_of(plan)
    assert (args["async"], args["skip_if_unavailable"], args["exclude"]) == \
        (False, True, ["kernel*"])
    assert plan.steps[0]["timeout"] is None


@pytest.mark.parametrize("tool", ["dnf", "yum"])  # Ansible 2.19 runs yum as dnf
def test_dnf_takes_list_install_repoquery_allowerasing_and_best(
        tool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = OPS[tool]
    args = coerce_args(spec, {"name": "nginx", "allowerasing": "yes", "best": False,
                              "install_repoquery": True})
    assert (args["allowerasing"], args["best"], args["install_repoquery"]) == \
        (True, False, True)
    assert coerce_args(spec, {"list": "installed"})["list"] == "installed"
    from mainsail.errors import BadInput
    with pytest.raises(BadInput, match="mutually exclusive: name|list"):
        coerce_args(spec, {"name": "nginx", "list": "updates"})
    with pytest.raises(BadInput, match="mutually exclusive: best|nobest"):
        coerce_args(spec, {"name": "nginx", "best": True, "nobest": False})
    # the op never runs the host's package manager: a dnf there is not called
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, tool)
    for check in (False, True):
        out = run_op(tool, args, check=check)
        assert out.status == "failed" and "Mainsail does not drive %s yet" % tool in out.msg
        out = run_op(tool, coerce_args(spec, {"list": "installed"}), check=check)
        assert out.status == "failed"
    assert calls(bindir) == []
