"""Inventories as Ansible reads them: INI, YAML's shortcuts, scripts, host lists, folders, and
the ``ansible-inventory --list`` shape (compared with Ansible itself in tests/e2e)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.inventory import Inventory, ansible_list, load_inventory
from mainsail.inventory_formats import file_kind, parse_value, split_port

from tests.unit.test_flags import mainsail


def write(folder: Path, name: str, text: str, mode: int | None = None) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    if mode is not None:
        path.chmod(mode)
    return path


def load(folder: Path, name: str, text: str) -> Inventory:
    return load_inventory(write(folder, name, text), root=folder)


INI = """
    mail.example.com

    [webservers]
    foo.example.com http_port=80 maxRequestsPerChild=808
    bar.example.com:5309 ansible_user=deploy   # a comment

    [dbservers]
    db-[a:c].example.com
    one.example.com ansible_host=192.0.2.50 flag=True greeting="hello world" lst="[1, 2]"
    web[08:10] note='quoted' word=yes

    [southeast:children]
    webservers
    dbservers

    [southeast:vars]
    ntp = ntp.southeast.example.com
    escape_pods=2
    """


# ---------------------------------------------------------------------------- INI

def test_ini_sections_make_groups_and_hosts_before_any_section_are_ungrouped(tmp_path):
    inv = load(tmp_path, "hosts", INI)
    assert inv.groups["ungrouped"].hosts == ("mail.example.com",)
    assert inv.groups["webservers"].hosts == ("foo.example.com", "bar.example.com")
    assert inv.groups["southeast"].children == ("dbservers", "webservers")
    assert inv.groups["webservers"].parents == ("southeast",)


def test_ini_ranges_expand_letters_and_zero_padded_numbers(tmp_path):
    inv = load(tmp_path, "hosts.ini", INI)
    assert inv.groups["dbservers"].hosts == (
        "db-a.example.com", "db-b.example.com", "db-c.example.com", "one.example.com",
        "web08", "web09", "web10")


def test_ini_values_are_typed_as_ansible_types_them(tmp_path):
    one = load(tmp_path, "hosts.ini", INI).hosts["one.example.com"].vars
    assert one["flag"] is True and one["lst"] == [1, 2] and one["greeting"] == "hello world"
    web = load(tmp_path, "hosts.ini", INI).hosts["web08"].vars
    assert web["note"] == "quoted" and web["word"] == "yes"
    assert [parse_value(v) for v in ("80", "3.5", "'x'", "yes", "{'a': 1}", "1 # c", "foo bar")] \
        == [80, 3.5, "x", "yes", {"a": 1}, 1, "foo bar"]


def test_ini_group_vars_and_host_port_reach_the_hosts(tmp_path):
    inv = load(tmp_path, "hosts.ini", INI)
    bar = inv.hosts["bar.example.com"]
    assert bar.port == 5309 and bar.user == "deploy"
    assert bar.vars["ntp"] == "ntp.southeast.example.com" and bar.vars["escape_pods"] == 2
    assert inv.hosts["one.example.com"].address == "192.0.2.50"
    assert bar.var_sources["escape_pods"] == "hosts.ini:18"


@pytest.mark.parametrize("text, message, line", [
    ("[web]\nweb1\n[web:children]\nnope\n", "'nope', which has no section", 4),
    ("[nope:vars]\na=1\n", "[nope:vars] names the group 'nope'", 1),
    ("[web:sub]\n", "unknown type 'sub'", 1),
    ("[web]\nweb1 novalue\n", "expected key=value", 2),
    ("[web]\nweb1 a='open\n", "cannot read the host line", 2),
    ("[web servers]\n", "invalid section line", 1),
    ("[web]\nweb1:\n", "is not a host name", 2),
])
def test_ini_mistakes_name_their_line(tmp_path, text, message, line):
    with pytest.raises(BadInput) as info:
        load(tmp_path, "hosts.ini", text)
    assert message in info.value.what and info.value.where == f"hosts.ini:{line}"


def test_a_file_is_read_by_its_content_as_ansible_picks_its_plugin(tmp_path):
    assert file_kind(write(tmp_path, "a.yml", "all: {}\n")) == "yaml"
    assert file_kind(write(tmp_path, "b", "all:\n  hosts: {w1: }\n")) == "yaml"
    assert file_kind(write(tmp_path, "c", "web1\nweb2\n")) == "ini"
    assert file_kind(write(tmp_path, "d.yml", "[web]\nweb1\n")) == "ini"
    assert file_kind(write(tmp_path, "e.ini", "web1\n")) == "ini"
    assert file_kind(write(tmp_path, "f", "#!/bin/sh\n", mode=0o755)) == "script"
    assert split_port("web[01:03]:2222") == ("web[01:03]", 2222)
    assert split_port("web1") == ("web1", None)


# ---------------------------------------------------------------------------- YAML

def test_yaml_scalars_under_hosts_and_children_are_one_member_groups(tmp_path):
    inv = load(tmp_path, "hosts.yml", """
        all:
          children:
            other:
              children:
                group_x:
                  hosts:
                    test5
              hosts:
                test4:
            last: {hosts: test1, children: group_x}
        """)
    assert inv.groups["group_x"].hosts == ("test5",)
    assert inv.groups["last"].hosts == ("test1",)
    assert set(inv.groups["group_x"].parents) == {"other", "last"}


def test_yaml_host_port_keys_set_the_port(tmp_path):
    inv = load(tmp_path, "hosts.yml", "web:\n  hosts:\n    web1:2222:\n    'db[1:2]:2200':\n")
    assert inv.hosts["web1"].port == 2222 and inv.hosts["db2"].port == 2200
    assert inv.hosts["web1"].vars["ansible_port"] == 2222


def test_group_priority_orders_groups_of_one_depth(tmp_path):
    inv = load(tmp_path, "hosts.yml", """
        a_group:
          vars: {testvar: a, ansible_group_priority: 10}
          hosts: {web1: }
        b_group:
          vars: {testvar: b}
          hosts: {web1: }
        """)
    assert inv.hosts["web1"].vars["testvar"] == "a"
    assert inv.groups["a_group"].priority == 10
    assert "ansible_group_priority" not in inv.hosts["web1"].vars


def test_a_group_priority_that_is_not_a_number_is_bad_input(tmp_path):
    with pytest.raises(BadInput) as info:
        load(tmp_path, "hosts.yml", "a:\n  vars: {ansible_group_priority: high}\n")
    assert "whole number" in info.value.what and info.value.where == "hosts.yml:2"


def test_group_names_ansible_warns_about_are_kept_with_a_warning(tmp_path):
    inv = load(tmp_path, "hosts.yml", "web-servers:\n  hosts: {web1: }\n")
    assert inv.groups["web-servers"].hosts == ("web1",)
    assert any("'web-servers'" in w and "groups['web-servers']" in w for w in inv.warnings)


def test_a_top_level_group_with_a_parent_is_not_also_a_child_of_all(tmp_path):
    inv = load(tmp_path, "hosts.yml", """
        prod: {children: {east: }}
        east: {hosts: {foo: }}
        """)
    assert inv.groups["east"].parents == ("prod",)
    assert "east" not in ansible_list(inv)["all"]["children"]


# ---------------------------------------------------------------------------- scripts, lists, folders

SCRIPT = """
    #!/bin/sh
    if [ "$1" = "--list" ]; then
      echo '{"web": {"hosts": ["web1", "web2"], "vars": {"http_port": 80}},
             "db": ["db1"], "prod": {"children": ["web", "db"]}%s}'
    else
      echo '{"from_host": "'$2'"}'
    fi
    """


def test_an_inventory_script_with_meta_hostvars(tmp_path):
    script = write(tmp_path, "inv.sh",
                   SCRIPT % ', "_meta": {"hostvars": {"web1": {"ansible_port": 2201}}}', 0o755)
    inv = load_inventory(script, root=tmp_path)
    assert inv.hosts["web1"].port == 2201 and inv.hosts["web2"].vars == {"http_port": 80}
    assert inv.groups["prod"].children == ("db", "web") and inv.groups["db"].hosts == ("db1",)


def test_an_inventory_script_without_meta_is_asked_for_each_host(tmp_path):
    inv = load_inventory(write(tmp_path, "inv.sh", SCRIPT % "", 0o755), root=tmp_path)
    assert inv.hosts["db1"].vars == {"from_host": "db1"}


def test_a_failing_inventory_script_is_bad_input_naming_it(tmp_path):
    script = write(tmp_path, "inv.sh", "#!/bin/sh\necho boom >&2\nexit 3\n", 0o755)
    with pytest.raises(BadInput) as info:
        load_inventory(script, root=tmp_path)
    assert info.value.where == "inv.sh" and "exited 3: boom" in info.value.what


@pytest.mark.parametrize("given, hosts", [("h1,h2,", ["h1", "h2"]), ("h1,", ["h1"]),
                                          ("web1:2222, db1", ["web1", "db1"])])
def test_a_host_list(tmp_path, given, hosts):
    inv = load_inventory(given, root=tmp_path)
    assert list(inv.hosts) == hosts and inv.groups["ungrouped"].hosts == tuple(hosts)
    assert inv.hosts[hosts[0]].port == (2222 if "2222" in given else 22)


def test_a_folder_reads_every_source_in_it_by_name(tmp_path):
    write(tmp_path, "inv/01-hosts.yml", "web: {hosts: {web1: }}\n")
    write(tmp_path, "inv/02-more.ini", "[db]\ndb1\n[web]\nweb2\n")
    write(tmp_path, "inv/known_hosts", "127.0.0.11 ssh-ed25519 AAAA\n")
    write(tmp_path, "inv/notes.md", "# not an inventory\n")
    write(tmp_path, "inv/group_vars/web.yml", "http_port: 8080\n")
    inv = load_inventory(tmp_path / "inv", root=tmp_path)
    assert list(inv.hosts) == ["web1", "db1", "web2"]
    assert inv.hosts["web2"].vars["http_port"] == 8080
    assert inv.path.parent == tmp_path / "inv"


# ---------------------------------------------------------------------------- ansible_* names

def test_ansible_connection_variables_map_to_mainsails(tmp_path):
    write(tmp_path, "id_web", "key\n")
    h = load(tmp_path, "hosts.ini", """
        [web]
        web1 ansible_host=192.0.2.7 ansible_port=2200 ansible_user=deploy ansible_ssh_private_key_file=id_web ansible_become=true ansible_become_user=app ansible_python_interpreter=/usr/bin/python3.11
        here ansible_connection=local
        w3 ansible_connection=smart
        """).hosts
    web1 = h["web1"]
    assert (web1.address, web1.port, web1.user, web1.become, web1.become_user, web1.python_interpreter) == \
        ("192.0.2.7", 2200, "deploy", True, "app", "/usr/bin/python3.11")
    assert web1.ssh_key == str(tmp_path / "id_web")
    assert h["here"].connection == "local" and h["w3"].connection == "ssh"


# ---------------------------------------------------------------------------- --list

def test_ansible_list_shape(tmp_path):
    out = ansible_list(load(tmp_path, "hosts", INI))
    assert out["all"] == {"children": ["ungrouped", "southeast"]}
    assert out["ungrouped"] == {"hosts": ["mail.example.com"]}
    assert out["southeast"] == {"children": ["webservers", "dbservers"]}
    assert out["_meta"]["hostvars"]["bar.example.com"] == {
        "ansible_port": 5309, "ansible_user": "deploy", "ntp": "ntp.southeast.example.com",
        "escape_pods": 2}
    assert "mail.example.com" not in out["_meta"]["hostvars"]  # no variables: left out


def test_hosts_json_prints_the_list_shape(tmp_path, monkeypatch):
    write(tmp_path, "tasks.py", "from mainsail.tasks import ns\n")
    write(tmp_path, "inventory/hosts.ini", "[web]\nweb1 http_port=80\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAINSAIL_INVENTORY", raising=False)
    code, out, err = mainsail("hosts", "--json", "-i", "inventory/hosts.ini")
    assert code == 0, err
    data = json.loads(out)
    assert data["web"] == {"hosts": ["web1"]}
    assert data["_meta"]["hostvars"]["web1"] == {"http_port": 80}
    code, out, _ = mainsail("hosts", "--json", "-i", "h1,h2,")
    assert code == 0 and json.loads(out)["ungrouped"] == {"hosts": ["h1", "h2"]}


def test_ansible_connection_variables_mainsail_does_not_use_are_warned_about(tmp_path):
    inv = load(tmp_path, "hosts.ini", """
        [web]
        web1 ansible_password=hunter2
        web2 ansible_password=hunter2 ansible_ssh_common_args='-o ProxyJump=bastion'
        """)
    notes = [w for w in inv.warnings if "is not used" in w]
    assert notes == ["hosts.ini:2: ansible_password is not used: Mainsail logs in with SSH "
                     "keys (ssh_key), never a password",
                     "hosts.ini:3: ansible_password is not used: Mainsail logs in with SSH "
                     "keys (ssh_key), never a password",
                     "hosts.ini:3: ansible_ssh_common_args is not used: SSH options are not "
                     "passed; use ~/.ssh/config for proxies"]
