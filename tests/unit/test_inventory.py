"""Inventory: Ansible's YAML schema, connection vars, vars precedence, host selection."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.inventory import Host, Inventory, load_inventory, match_pattern, select_hosts

FIXTURE = Path(__file__).parent.parent / "fixtures" / "inventory"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(FIXTURE / "hosts.yml", root=FIXTURE)


def write_inventory(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Path:
    for name, content in (files or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    path = tmp_path / "hosts.yml"
    path.write_text(textwrap.dedent(text))
    return path


def load_text(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Inventory:
    return load_inventory(write_inventory(tmp_path, text, files), root=tmp_path)


def error_of(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> BadInput:
    with pytest.raises(BadInput) as info:
        load_text(tmp_path, text, files)
    return info.value


def names(hosts: list[Host]) -> list[str]:
    return [h.name for h in hosts]


# ---------------------------------------------------------------------------- schema

def test_hosts_keep_the_file_order(inv: Inventory) -> None:
    assert list(inv.hosts) == ["mail1", "web1", "web2", "db1", "web3", "local1"]


def test_nested_groups_know_parents_children_and_all_their_hosts(inv: Inventory) -> None:
    prod = inv.groups["prod"]
    assert prod.parents == ("all",) and prod.children == ("db", "web")
    assert prod.all_hosts == ("web1", "web2", "db1")
    assert inv.groups["web"].depth == 2 and inv.groups["web"].parents == ("prod",)


def test_a_host_in_several_groups_belongs_to_each_and_their_parents(inv: Inventory) -> None:
    assert inv.hosts["web1"].groups == ("all", "alpha", "beta", "prod", "web")


def test_hosts_only_under_all_are_ungrouped_as_in_ansible(inv: Inventory) -> None:
    assert inv.groups["ungrouped"].hosts == ("mail1",)
    assert inv.hosts["mail1"].groups == ("all", "ungrouped")


def test_top_level_groups_besides_all_are_children_of_all(tmp_path: Path) -> None:
    inv = load_text(tmp_path, """
        web:
          hosts:
            web1:
        """)
    assert inv.groups["web"].parents == ("all",)
    assert inv.hosts["web1"].groups == ("all", "web")


def test_a_group_may_be_listed_under_several_parents(tmp_path: Path) -> None:
    inv = load_text(tmp_path, """
        all:
          children:
            prod:
              children:
                web:
                  hosts: {web1: }
            eu:
              children:
                web:
        """)
    assert inv.groups["web"].parents == ("prod", "eu")
    assert inv.groups["eu"].all_hosts == ("web1",)


def test_host_ranges_expand_like_ansible(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "all:\n  hosts:\n    web[01:03]:\n    db-[a:b]:\n")
    assert list(inv.hosts) == ["web01", "web02", "web03", "db-a", "db-b"]


def test_unknown_group_key_names_the_line_and_closest_key(tmp_path: Path) -> None:
    err = error_of(tmp_path, "all:\n  host:\n    web1:\n")
    assert err.where == "hosts.yml:2:3"
    assert "unknown key 'host'" in err.what and "did you mean 'hosts'?" in err.hint


def test_hosts_written_as_a_list_get_a_hint(tmp_path: Path) -> None:
    err = error_of(tmp_path, "all:\n  hosts:\n    - web1\n")
    assert err.where == "hosts.yml:2:3" and "mapping" in err.what and "web1:" in err.hint


def test_an_empty_inventory_is_bad_input(tmp_path: Path) -> None:
    assert "empty" in error_of(tmp_path, "# nothing\n").what


def test_ini_text_in_a_yml_file_is_read_as_ini_as_ansible_does(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "[web]\nweb1 ansible_host=10.0.0.1\n")
    assert inv.groups["web"].hosts == ("web1",) and inv.hosts["web1"].address == "10.0.0.1"


def test_a_cycle_of_groups_is_bad_input(tmp_path: Path) -> None:
    err = error_of(tmp_path, """
        all:
          children:
            a:
              children:
                b:
                  children:
                    a:
        """)
    assert "a -> b -> a" in err.what


@pytest.mark.parametrize("name", ["web1;reboot", "web 1", "web1\nrm", "$(id)", "web`x`"])
def test_hostile_host_names_are_refused_with_the_line(tmp_path: Path, name: str) -> None:
    text = 'all:\n  hosts:\n    ok1:\n    "%s":\n' % name.replace("\n", "\\n")
    err = error_of(tmp_path, text)
    assert err.where == "hosts.yml:4:5" and "not allowed" in err.what


def test_variable_names_ansible_warns_about_are_kept_with_a_warning(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "all:\n  vars:\n    my-var: 1\n  hosts: {web1: }\n")
    assert inv.hosts["web1"].vars["my-var"] == 1
    assert any("hosts.yml:3:5" in w and "'my-var'" in w and "vars['my-var']" in w
               for w in inv.warnings)


@pytest.mark.parametrize("name", ["my var", "$(id)", "a;b", "x{{y}}"])
def test_variable_names_beyond_those_are_refused(tmp_path: Path, name: str) -> None:
    err = error_of(tmp_path, 'all:\n  vars:\n    "%s": 1\n  hosts: {web1: }\n' % name)
    assert err.where == "hosts.yml:3:5" and "is not a valid variable name" in err.what


def test_reserved_variable_names_are_refused(tmp_path: Path) -> None:
    err = error_of(tmp_path, "all:\n  hosts:\n    web1:\n      inventory_hostname: x\n")
    assert "set by Mainsail itself" in err.what


def test_a_folder_means_the_hosts_yml_inside(tmp_path: Path) -> None:
    write_inventory(tmp_path, "all:\n  hosts: {web1: }\n")
    assert list(load_inventory(tmp_path, root=tmp_path).hosts) == ["web1"]


def test_vars_files_for_unknown_groups_are_reported_as_warnings(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "all:\n  hosts: {web1: }\n", {"group_vars/wbe.yml": "x: 1\n"})
    assert inv.warnings and "no group named 'wbe'" in inv.warnings[0]


# ---------------------------------------------------------------------------- connection vars

def test_connection_defaults(inv: Inventory) -> None:
    db1 = inv.hosts["db1"]
    assert (db1.address, db1.port, db1.user, db1.connection, db1.become) == \
        ("db1", 22, "root", "ssh", False)
    assert db1.ssh_key is None and db1.known_hosts is None


def test_mainsail_connection_names(inv: Inventory) -> None:
    web3 = inv.hosts["web3"]
    assert (web3.address, web3.become, web3.connection) == ("10.0.1.13", True, "ssh")


def test_ansible_connection_names_are_aliases(inv: Inventory) -> None:
    assert inv.hosts["web1"].address == "10.0.0.11"
    assert inv.hosts["local1"].connection == "local"


def test_an_alias_in_a_higher_layer_wins_over_the_plain_name(inv: Inventory) -> None:
    # hosts.yml says port: 2222, host_vars/web2.yml says ansible_port: 2200
    assert inv.hosts["web2"].port == 2200 and inv.hosts["web2"].user == "deploy"


def test_key_and_known_hosts_paths_are_relative_to_the_inventory_folder(inv: Inventory) -> None:
    assert inv.hosts["web3"].ssh_key == str(FIXTURE / "keys" / "staging")
    assert inv.hosts["web3"].known_hosts == str(FIXTURE / "known_hosts")


def test_connection_vars_may_use_templates(tmp_path: Path) -> None:
    inv = load_text(tmp_path, """
        all:
          vars:
            address: "{{ inventory_hostname }}.example.com"
          hosts: {web1: }
        """)
    assert inv.hosts["web1"].address == "web1.example.com"


@pytest.mark.parametrize("setting, value, message", [
    ("port", "ssh", "not a port number"), ("port", "70000", "not a port number"),
    ("connection", "winrm", "must be ssh or local"), ("user", "root;id", "not a user name"),
    ("address", "10.0.0.1 -oProxyCommand=x", "not a host name"), ("become", "maybe", "true or false"),
])
def test_bad_connection_values_name_their_line(tmp_path: Path, setting: str, value: str,
                                               message: str) -> None:
    err = error_of(tmp_path, f'all:\n  hosts:\n    web1:\n      {setting}: "{value}"\n')
    assert message in err.what and err.where == "hosts.yml:4"


# ---------------------------------------------------------------------------- precedence

def var(inv: Inventory, host: str, name: str) -> object:
    return inv.hosts[host].vars[name]


def test_precedence_parent_group_beats_all(inv: Inventory) -> None:
    assert var(inv, "web1", "v_parent") == "from prod"


def test_precedence_child_group_beats_parent(inv: Inventory) -> None:
    assert var(inv, "web1", "v_child") == "from web"


def test_precedence_sibling_groups_are_applied_by_name(inv: Inventory) -> None:
    assert var(inv, "web1", "v_sibling") == "from beta"


def test_precedence_group_vars_files_beat_inventory_group_vars(inv: Inventory) -> None:
    # group_vars/all.yml beats the `web` group's inline vars: files form a later layer
    assert var(inv, "web1", "v_inline_vs_file") == "from group_vars/all"


def test_precedence_group_vars_files_follow_the_group_order(inv: Inventory) -> None:
    assert var(inv, "web1", "v_files") == "from group_vars/web"
    assert var(inv, "db1", "v_files") == "from group_vars/prod"
    assert var(inv, "mail1", "v_files") == "from group_vars/all"


def test_precedence_inventory_host_vars_beat_group_vars_files(inv: Inventory) -> None:
    assert var(inv, "web1", "v_host_vs_file") == "from inventory host"


def test_precedence_host_vars_files_beat_inventory_host_vars(inv: Inventory) -> None:
    assert var(inv, "web1", "v_hostfile") == "from host_vars/web1"


def test_group_vars_folder_reads_every_yml_file_in_it(inv: Inventory) -> None:
    assert var(inv, "web1", "web_extra") == "from a second file in group_vars/web/"


def test_each_variable_remembers_the_file_and_line_it_came_from(inv: Inventory) -> None:
    sources = inv.hosts["web1"].var_sources
    assert sources["v_parent"] == "hosts.yml:13"
    assert sources["v_files"] == "group_vars/web/main.yml:1"
    assert sources["v_hostfile"] == "host_vars/web1.yaml:1"


def test_a_group_keeps_its_own_vars(inv: Inventory) -> None:
    assert inv.groups["web"].vars["http_port"] == 80
    assert inv.groups["web"].vars["v_files"] == "from group_vars/web"


def test_vars_files_must_hold_a_mapping(tmp_path: Path) -> None:
    err = error_of(tmp_path, "all:\n  hosts: {web1: }\n", {"host_vars/web1.yml": "- a\n"})
    assert "mapping" in err.what and "host_vars/web1.yml" in err.where


# ---------------------------------------------------------------------------- selection

def test_nothing_given_selects_every_host(inv: Inventory) -> None:
    assert names(select_hosts(inv)) == list(inv.hosts)


def test_host_names_and_comma_lists(inv: Inventory) -> None:
    assert names(select_hosts(inv, host="db1, web1")) == ["web1", "db1"]


def test_host_globs(inv: Inventory) -> None:
    assert names(select_hosts(inv, host="web*")) == ["web1", "web2", "web3"]


def test_group_names_include_child_groups(inv: Inventory) -> None:
    assert names(select_hosts(inv, group="prod")) == ["web1", "web2", "db1"]


def test_limit_union(inv: Inventory) -> None:
    assert names(select_hosts(inv, limit="db:mail1")) == ["mail1", "db1"]


def test_limit_intersection(inv: Inventory) -> None:
    assert names(select_hosts(inv, limit="web:&alpha")) == ["web1"]
    assert names(select_hosts(inv, limit="web*:&prod")) == ["web1", "web2"]


def test_limit_exclusion(inv: Inventory) -> None:
    assert names(select_hosts(inv, limit="all:!mail1")) == ["web1", "web2", "db1", "web3", "local1"]


def test_limit_with_only_exclusions_starts_from_all(inv: Inventory) -> None:
    assert "mail1" not in names(select_hosts(inv, limit="!mail1:!staging"))


def test_limit_regex(inv: Inventory) -> None:
    assert names(select_hosts(inv, limit="~web[12]")) == ["web1", "web2"]


def test_filters_combine(inv: Inventory) -> None:
    assert names(select_hosts(inv, host="web*", group="prod", limit="!web2")) == ["web1"]


def test_unknown_host_suggests_the_closest(inv: Inventory) -> None:
    with pytest.raises(BadInput) as info:
        select_hosts(inv, host="wbe1")
    assert "wbe1" in info.value.what and info.value.hint == "did you mean 'web1'?"


def test_unknown_group_suggests_the_closest(inv: Inventory) -> None:
    with pytest.raises(BadInput, match="prd") as info:
        select_hosts(inv, group="prd")
    assert "'prod'" in info.value.hint


def test_unknown_name_in_a_pattern_suggests_the_closest(inv: Inventory) -> None:
    with pytest.raises(BadInput) as info:
        select_hosts(inv, limit="all:!mial1")
    assert "'mial1' is not a group or host" in info.value.what
    assert "'mail1'" in info.value.hint


def test_a_glob_matching_nothing_is_bad_input(inv: Inventory) -> None:
    with pytest.raises(BadInput, match="no host matches 'zz\\*'"):
        select_hosts(inv, host="zz*")


def test_a_pattern_whose_result_is_empty_is_bad_input(inv: Inventory) -> None:
    with pytest.raises(BadInput, match="matches no hosts"):
        select_hosts(inv, limit="web:&db")


def test_match_pattern_gives_names(inv: Inventory) -> None:
    assert match_pattern(inv, "staging") == {"web3", "local1"}


def test_hosts_are_hashable_and_frozen(inv: Inventory) -> None:
    web1 = inv.hosts["web1"]
    assert {web1: 1}[web1] == 1
    with pytest.raises(AttributeError):
        web1.port = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        web1.vars["x"] = 1  # type: ignore[index]
