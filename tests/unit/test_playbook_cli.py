"""mainsail-playbook: ansible-playbook's command line run by Mainsail, and the implicit
localhost it relies on (a play naming localhost when no inventory does)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mainsail.inventory import load_inventory, select_hosts, with_implicit_localhost
from mainsail.playbook_cli import UsageError, translate

REPO = Path(__file__).resolve().parents[2]


def test_ansible_playbooks_options_become_deploys(tmp_path: Path) -> None:
    book = tmp_path / "site.yml"
    book.write_text("- hosts: all\n  tasks: []\n")
    runs = translate([str(book), "-i", "hosts.ini", "-e", "a=1", "--extra-vars=@vars.yml",
                      "-vvv", "--check", "-D", "-l", "web*", "-t", "a", "--tags", "b",
                      "--skip-tags=c", "-b", "-f", "5"], has_inventory=False)
    assert runs == [["deploy", "--playbook", str(book), "-e", "a=1",
                     "-e", "@" + os.path.abspath("vars.yml"), "-vvv", "-C", "-D",
                     "-l", "web*", "-b", "-f", "5", "-i", os.path.abspath("hosts.ini"),
                     "-t", "a,b", "--skip-tags", "c"]]


def test_no_inventory_anywhere_means_the_implicit_localhost_only(tmp_path: Path,
                                                                 capsys) -> None:
    book = tmp_path / "site.yml"
    book.write_text("- hosts: localhost\n  tasks: []\n")
    assert translate([str(book)], has_inventory=False)[0][-2:] == ["-i", ","]
    assert "only implicit localhost" in capsys.readouterr().err
    assert "-i" not in translate([str(book)], has_inventory=True)[0]


@pytest.mark.parametrize("argv,said", [
    (["--become-user", "x", "a.yml"], "--become-user is not supported"),
    (["--connection=local", "a.yml"], "--connection is not supported"),
    (["-x", "a.yml"], "unknown option -x"),
    ([], "no playbook given"),
    (["missing.yml"], "could not be found"),
    (["-i", "a", "-i", "b", "a.yml"], "one -i only"),
])
def test_what_mainsail_does_not_do_is_refused_with_why(argv, said, tmp_path) -> None:
    (tmp_path / "a.yml").write_text("[]\n")
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(UsageError) as info:
            translate(argv, has_inventory=True)
    finally:
        os.chdir(here)
    assert said in str(info.value)


def test_the_console_script_refuses_with_exit_4_and_no_traceback() -> None:
    done = subprocess.run([sys.executable, "-c", "from mainsail.playbook_cli import main; "
                           "main(['--ask-pass', 'x.yml'])"], capture_output=True, text=True,
                          cwd=REPO)
    assert done.returncode == 4 and "Traceback" not in done.stderr
    assert "--ask-pass is not supported" in done.stderr


def test_a_play_on_localhost_runs_on_the_controller_with_no_inventory(tmp_path: Path) -> None:
    book = tmp_path / "play" / "copy.yml"
    book.parent.mkdir()
    book.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - copy: {content: '{{ secret }}', dest: '{{ dest }}'}\n")
    out = tmp_path / "out.txt"
    done = subprocess.run([sys.executable, "-c", "from mainsail.playbook_cli import main; main()",
                           str(book), "-vvv", "-e", "secret=SECRET-VALUE", "-e",
                           "dest=%s" % out], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.read_text() == "SECRET-VALUE"
    # the copied content is never printed, not even at -vvv (what Ansible's copy target checks)
    assert "SECRET-VALUE" not in done.stdout + done.stderr


def test_the_implicit_localhost_is_chosen_only_by_its_own_name(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(
        "all:\n  vars: {site: x}\n  hosts: {web1: {}, web2: {}}\n")
    inv = load_inventory(tmp_path / "hosts.yml")
    assert with_implicit_localhost(inv, ["web*"], "/usr/bin/python3") is inv
    more = with_implicit_localhost(inv, ["all", "localhost"], "/usr/bin/python3")
    local = more.hosts["localhost"]
    assert local.connection == "local" and local.python_interpreter == "/usr/bin/python3"
    assert local.vars["site"] == "x" and local.groups == ()  # all's vars, in no group
    assert [h.name for h in select_hosts(more, limit="all")] == ["web1", "web2"]
    assert [h.name for h in select_hosts(more, limit="web*:localhost")] == \
        ["web1", "web2", "localhost"]
    assert [h.name for h in select_hosts(more, limit="localhost")] == ["localhost"]
    # an inventory that names localhost itself keeps its own
    (tmp_path / "own.yml").write_text("all:\n  hosts: {localhost: {ansible_port: 2222}}\n")
    own = load_inventory(tmp_path / "own.yml")
    assert with_implicit_localhost(own, ["localhost"], "python3") is own
