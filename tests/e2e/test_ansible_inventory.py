"""Inventories written the way Ansible's documentation writes them resolve in Mainsail to
what ``ansible-inventory --list`` prints (ansible-core from a throwaway venv; no testbed)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mainsail.inventory import ansible_list, load_inventory

from tests.e2e.ansible_venv import ansible

# Our own inventories in the shapes Ansible's inventory guide and its YAML and INI plugin
# pages show: groups of groups, ranges, ports, typed inline vars, [group:vars], a scalar
# under hosts:, group priority, group_vars/ and host_vars/ files, names Ansible warns about.
EXAMPLES = {
    "guide.ini": """
        mail.example.com

        [webservers]
        foo.example.com
        bar.example.com

        [dbservers]
        one.example.com
        two.example.com
        three.example.com
        """,
    "groups.ini": """
        [atlanta]
        host1 http_port=80 maxRequestsPerChild=808
        host2:5309 ansible_user=deploy

        [raleigh]
        host2
        host3 ansible_host=192.0.2.50 enabled=True ratio=0.5 tags="['a', 'b']" motd="hello world"

        [southeast:children]
        atlanta
        raleigh

        [southeast:vars]
        some_server=foo.southeast.example.com
        halon_system_timeout=30
        escape_pods = 2
        word=yes

        [usa:children]
        southeast

        [web]
        www[01:03].example.com
        db-[a:c].example.com

        [all:vars]
        ntp_server=ntp.example.com
        """,
    "guide.yml": """
        ungrouped:
          hosts:
            mail.example.com:
        webservers:
          hosts:
            foo.example.com:
            bar.example.com:
        dbservers:
          hosts:
            one.example.com:
            two.example.com:
            three.example.com:
        east:
          hosts:
            foo.example.com:
            one.example.com:
            two.example.com:
        west:
          hosts:
            bar.example.com:
            three.example.com:
        prod:
          children:
            east:
        test:
          children:
            west:
        """,
    "plugin.yml": """
        all:
          hosts:
            test1:
            test2:
              host_var: value
          vars:
            group_all_var: value
          children:
            other_group:
              children:
                group_x:
                  hosts:
                    test5
                group_y:
                  hosts:
                    test6:
              vars:
                g2_var2: value3
              hosts:
                test4:
                  ansible_host: 127.0.0.1
            last_group:
              hosts:
                test1
              vars:
                group_last_var: value
        """,
    "priority.yml": """
        a_group:
          vars:
            testvar: a
            ansible_group_priority: 10
          hosts:
            web1:2222:
            "db-[1:2]":
        b_group:
          vars:
            testvar: b
            my-var: 3
          hosts:
            web1:2222:
        web-servers:
          hosts:
            db-1:
        """,
}
VARS_FILES = {
    "group_vars/all.yml": "site: example\n",
    "group_vars/southeast/main.yml": "halon_system_timeout: 45\n",
    "host_vars/host1.yml": "http_port: 8080\n",
    "group_vars/b_group.yml": "testvar: from_file\n",
}


def ansible_inventory_list(folder: Path, source: str) -> dict:
    done = ansible("inventory", "-i", source, "--list", cwd=folder)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    data["_meta"].pop("profile", None)
    return data


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_mainsail_resolves_the_inventory_as_ansible_does(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(textwrap.dedent(EXAMPLES[name]).lstrip())
    for rel, text in VARS_FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    ours = ansible_list(load_inventory(tmp_path / name, root=tmp_path))
    assert ours == ansible_inventory_list(tmp_path, name)


def test_a_host_list_resolves_as_ansible_does(tmp_path: Path) -> None:
    ours = ansible_list(load_inventory("web1,db1:2222,", root=tmp_path))
    assert ours == ansible_inventory_list(tmp_path, "web1,db1:2222,")


def test_a_folder_of_sources_resolves_as_ansible_does(tmp_path: Path) -> None:
    folder = tmp_path / "inventory"
    folder.mkdir()
    for name in ("groups.ini", "plugin.yml"):
        (folder / name).write_text(textwrap.dedent(EXAMPLES[name]).lstrip())
    (folder / "group_vars").mkdir()
    (folder / "group_vars" / "usa.yml").write_text("country: us\n")
    ours = ansible_list(load_inventory(folder, root=tmp_path))
    assert ours == ansible_inventory_list(tmp_path, "inventory")


@pytest.mark.parametrize("meta", [', "_meta": {"hostvars": {"web1": {"ansible_port": 2201}}}',
                                  ""])
def test_an_inventory_script_resolves_as_ansible_does(tmp_path: Path, meta: str) -> None:
    script = tmp_path / "inventory.sh"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        if [ "$1" = "--list" ]; then
          echo '{"web": {"hosts": ["web1", "web2"], "vars": {"http_port": 80}},
                 "db": ["db1"], "prod": {"children": ["web", "db"]}%s}'
        else
          echo '{"asked_for": "'$2'"}'
        fi
        """ % meta))
    script.chmod(0o755)
    ours = ansible_list(load_inventory(script, root=tmp_path))
    assert ours == ansible_inventory_list(tmp_path, "inventory.sh")


def test_the_inventory_named_in_the_projects_ansible_cfg_is_the_one_ansible_reads(
        tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    (tmp_path / "tasks.py").write_text("from mainsail.tasks import ns\n")
    (tmp_path / "ansible.cfg").write_text("[defaults]\ninventory = inv/groups.ini\n")
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "groups.ini").write_text(textwrap.dedent(EXAMPLES["groups.ini"]))
    tmp_path.chmod(0o755)
    done = ansible("inventory", "--list", cwd=tmp_path, project_cfg=True)
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)
    theirs["_meta"].pop("profile", None)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "MAINSAIL_INVENTORY"))}
    ours = subprocess.run([sys.executable, "-m", "mainsail", "hosts", "--json"], cwd=tmp_path,
                          env={**env, "HOME": str(tmp_path / ".ansible-home"),
                               "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
                          capture_output=True, text=True, timeout=300, check=False)
    assert ours.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == theirs
