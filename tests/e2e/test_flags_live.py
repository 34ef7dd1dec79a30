"""The command line's flags against real hosts: -b, -u, -T, -vvv, --syntax-check, run -m."""

import json

import pytest

from tests.conftest import inv
from tests.e2e.test_engine import project  # noqa: F401 (fixture: web2 in a temp project)

pytestmark = pytest.mark.e2e


def test_become_runs_the_command_as_root_and_only_when_asked(project):
    as_root = inv("run", "-l", "web2", "-b", "--", "id", "-u", cwd=project)
    assert "web2     | 0" in as_root.stdout
    as_login = inv("run", "-l", "web2", "--", "id", "-un", cwd=project)
    assert "web2     | deploy" in as_login.stdout
    # a shell line (a loop, a pipe, two commands) runs whole under sudo too
    line = inv("run", "-l", "web2", "-b", "--",
               "for w in a b; do echo $w; done | wc -l; id -u", cwd=project)
    assert "web2     | 2" in line.stdout and "web2     | 0" in line.stdout, line.stdout
    assert "password" not in line.stdout + line.stderr


def test_a_wrong_user_is_unreachable_and_a_fraction_of_a_second_is_a_timeout(project):
    done = inv("ping", "-l", "web2", "-u", "nobody-here", "-T", "2.5", cwd=project,
               check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    assert inv("ping", "-l", "web2", "-T", "0.9", cwd=project).returncode == 0


def test_triple_v_shows_the_ssh_transport(project):
    done = inv("facts", "-l", "web2", "-vvv", cwd=project)
    assert "paramiko" in done.stderr


def test_syntax_check_connects_to_nothing_and_agrees_with_plan(project):
    checked = inv("deploy", "--playbook=every_op", "--syntax-check", cwd=project)
    assert "syntax ok" in checked.stdout
    planned = inv("plan", "--playbook=every_op", cwd=project, check=False)
    assert planned.returncode in (0, 8), planned.stdout + planned.stderr


def test_an_operation_through_the_agent_with_check_become_and_diff(project):
    # tree: a package no role installs. -C first: nothing changes on the host.
    checked = inv("run", "-l", "web2", "-b", "-C", "-m", "apt", "-a",
                  "name=tree update_cache=true", cwd=project)
    assert "web2 | CHANGED" in checked.stdout
    assert inv("run", "-l", "web2", "--", "command", "-v", "tree", cwd=project,
               check=False).returncode == 2
    try:
        inv("run", "-l", "web2", "-b", "-m", "ansible.builtin.apt", "-a",
            "name=tree update_cache=true", cwd=project)
        assert "/usr/bin/tree" in inv("run", "-l", "web2", "--", "command", "-v", "tree",
                                      cwd=project).stdout
        again = inv("run", "-l", "web2", "-b", "-m", "apt", "-a", "name=tree", cwd=project)
        assert "web2 | OK" in again.stdout
    finally:
        inv("run", "-l", "web2", "-b", "-m", "apt", "-a", "name=tree state=absent",
            cwd=project)
    motd = inv("run", "-l", "web2", "-b", "-D", "-m", "copy", "-a",
               "dest=/etc/motd-mainsail content={{ banner }}", "-e", "banner=hello",
               cwd=project)
    assert "+hello" in motd.stdout and "web2 | CHANGED" in motd.stdout
    # Without -b the inventory's `become: true` still applies, as with `ansible -m`.
    again = inv("run", "-l", "web2", "-m", "copy", "-a", "dest=/etc/motd-mainsail content=x",
                cwd=project)
    assert "web2 | CHANGED" in again.stdout
    inv("run", "-l", "web2", "-b", "-m", "file", "-a", "path=/etc/motd-mainsail state=absent",
        cwd=project)


def test_facts_filter_picks_ansible_names_on_a_real_host(project):
    done = inv("facts", "-l", "web2", "--filter", "ansible_distribution*,os_family", cwd=project)
    shown = json.loads(done.stdout)["web2"]
    assert shown["ansible_distribution"] == "Debian"
    assert shown["ansible_distribution_release"] == "trixie"
    assert shown["ansible_os_family"] == "Debian" and "hostname" not in shown
