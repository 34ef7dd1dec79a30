"""The command line's flags against real hosts: -b, -u, -T, -vvv, --syntax-check."""

import pytest

from tests.conftest import inv
from tests.e2e.test_engine import project  # noqa: F401 (fixture: web2 in a temp project)

pytestmark = pytest.mark.e2e


def test_become_runs_the_command_as_root_and_only_when_asked(project):
    as_root = inv("run", "-l", "web2", "-b", "--", "id", "-u", cwd=project)
    assert "web2     | 0" in as_root.stdout
    as_login = inv("run", "-l", "web2", "--", "id", "-un", cwd=project)
    assert "web2     | deploy" in as_login.stdout


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
