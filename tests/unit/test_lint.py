"""Warnings about variables: defined and never read, or defined where no host sees them.

Each names the definition's file:line and a hint, is printed once per run, never changes the
exit code, and the example site has none."""

from pathlib import Path

from mainsail import lint, vault
from mainsail.inventory import load_inventory
from mainsail.playbook import load_playbook

from tests.unit.test_flags import mainsail, project  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


def notes(root: Path) -> list[str]:
    inv = load_inventory(root / "inventory/hosts.yml", root=root)
    return lint.warnings(root, inv, load_playbook(root))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_example_site_has_no_warning():
    password = REPO / ".testbed/vault-password"  # the testbed's, when it was brought up
    secrets = vault.Vault(None, str(password) if password.is_file() else None)
    inv = load_inventory(REPO / "inventory/hosts.yml", root=REPO, secrets=secrets)
    for name in ("site", *(p.stem for p in (REPO / "playbooks").glob("*.yml"))):
        assert lint.warnings(REPO, inv, load_playbook(REPO, name, secrets), secrets) == [], name


def test_the_temp_project_has_no_warning(project):
    assert notes(project) == []


def test_a_var_nothing_reads_is_reported_with_its_file_and_line(project):
    write(project / "inventory/group_vars/all.yml", "greeting_colour: blue\nhttp_port: 80\n")
    (project / "roles/r/templates/t.j2").write_text("{{ greeting }} on {{ http_port }}\n")
    found = notes(project)
    assert len(found) == 1, found
    assert found[0].startswith("inventory/group_vars/all.yml:1: variable 'greeting_colour'")
    assert "never read" in found[0] and "hint:" in found[0]


def test_a_role_default_nothing_reads_is_reported_with_the_closest_name(project):
    write(project / "roles/r/defaults/main.yml", "greeting: hello\nlisten_port: 80\n")
    (project / "roles/r/templates/t.j2").write_text("{{ greeting }} {{ listen_prot }}\n")
    found = notes(project)
    assert len(found) == 1 and "roles/r/defaults/main.yml:2: variable 'listen_port'" in found[0]
    assert "did you mean 'listen_prot'" in found[0]


def test_every_kind_of_read_counts(project):
    defined = ["in_when", "in_loop", "in_hostvars", "in_other_var", "in_check", "in_meta",
               "in_template_dir", "in_playbook_template"]
    write(project / "inventory/group_vars/all.yml",
          "".join("%s: 1\n" % name for name in defined) + "combined: '{{ in_other_var }}'\n"
          "ansible_python_interpreter: /usr/bin/python3\nmainsail_future_knob: 1\n"
          "address: 127.0.0.1\n")
    write(project / "playbooks/site.yml",
          "- hosts: h1\n  roles: [r]\n  tasks:\n"
          "    - debug: {msg: \"{{ hostvars['h1']['in_hostvars'] }} {{ combined }}\"}\n"
          "      when: in_when | bool\n"
          "    - debug: {msg: '{{ item }}'}\n      loop: '{{ [in_loop] }}'\n")
    write(project / "roles/r/tests/test_r.py", "def test_x(hostvars):\n"
                                               "    assert hostvars['in_check']\n")
    write(project / "roles/r/meta/main.yml", "dependencies: []\n# in_meta is documented\n"
                                             "galaxy_info: {description: in_meta}\n")
    write(project / "templates/shared.conf", "{{ in_template_dir }}\n")
    write(project / "playbooks/templates/motd.j2", "{{ in_playbook_template }}\n")
    assert notes(project) == []


def test_a_key_or_a_commented_line_is_no_read(project):
    write(project / "inventory/group_vars/all.yml", "dest_dir: /srv\n")
    write(project / "playbooks/site.yml",
          "- hosts: h1\n  roles: [r]\n  tasks:\n"
          "    # - copy: {dest: '{{ dest_dir }}/x'}\n"
          "    - file:\n        dest_dir: /x\n      ignore_errors: true\n")
    # the task is bad input (unknown argument), but the check reads words, not tasks
    write(project / "playbooks/other.yml", "- hosts: h1\n  tasks:\n"
                                           "    - debug: {msg: hi}\n")
    inv = load_inventory(project / "inventory/hosts.yml", root=project)
    found = lint.warnings(project, inv, load_playbook(project, "other"))
    assert any("'dest_dir' is defined but never read" in n for n in found), found


def test_a_value_every_host_gets_from_higher_up_is_reported_as_never_seen(project):
    write(project / "inventory/hosts.yml",
          "all:\n  vars:\n    greeting: from-all\n"
          "  hosts:\n    h1: {connection: local, greeting: own}\n"
          "    h2: {connection: local}\n"
          "  children:\n    pair:\n      vars: {greeting: inline}\n"
          "      hosts: {h1: {}, h2: {}}\n")
    write(project / "inventory/group_vars/pair.yml", "greeting: file\n")
    found = notes(project)
    hidden = [n for n in found if "never seen" in n]
    # all's and pair's inline values lose everywhere; pair.yml's is still h2's
    assert len(hidden) == 2, found
    assert any(n.startswith("inventory/hosts.yml:3: variable 'greeting' is never seen: ") and
               "(h1: inventory/hosts.yml:5, h2: inventory/group_vars/pair.yml:1)" in n
               for n in hidden), hidden
    assert any(n.startswith("inventory/hosts.yml:9: variable 'greeting' is never seen") and
               "(h1: inventory/hosts.yml:5, h2: inventory/group_vars/pair.yml:1)" in n
               for n in hidden), hidden
    assert all("mainsail hosts" in n for n in hidden)
    assert not any("group_vars/pair.yml:1: variable" in n for n in found)


def test_warnings_are_printed_once_and_change_no_exit_code(project):
    write(project / "inventory/group_vars/all.yml", "stray_setting: 1\n")
    code, out, err = mainsail("deploy", "--syntax-check")
    assert code == 0 and "syntax ok" in out, err
    assert err.count("warning: inventory/group_vars/all.yml:1: variable 'stray_setting'") == 1
    code, _, err = mainsail("plan", "-l", "h1")
    assert code in (0, 8) and err.count("'stray_setting'") == 1, err


def test_the_inventory_is_not_read_again_for_the_warnings(project, monkeypatch):
    """What loading read is reused: reading again parsed the file (or ran the inventory's
    script) a second time per run."""
    from mainsail import inventory
    write(project / "inventory/group_vars/all.yml", "greeting_colour: blue\n")
    inv = load_inventory(project / "inventory/hosts.yml", root=project)

    def read_again(*args, **kwargs):
        raise AssertionError("the inventory was read again")
    monkeypatch.setattr(inventory, "read_sources", read_again)
    found = lint.warnings(project, inv, load_playbook(project))
    assert len(found) == 1 and "greeting_colour" in found[0]
