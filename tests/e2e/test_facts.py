"""Facts under Ansible's names on the testbed (web1 bookworm, web2 trixie): what the hello
brings, gather_facts: false, the setup operation refreshing facts for the tasks after it,
and a template using them. The hosts are only read; nothing is left behind but a file
under /tmp that the run writes and the test removes."""

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import write_inventory
from tests.e2e.test_testbed import ssh

HOSTS = ("web1", "web2")
RELEASES = {"web1": "bookworm", "web2": "trixie"}
PLAYBOOK = """\
- name: facts from the hello
  hosts: sample
  become: false
  tasks:
    - name: names Ansible uses
      assert:
        that:
          - ansible_distribution == 'Debian'
          - ansible_facts.os_family == 'Debian'
          # the inventory's `become: true` wins over the play's, as in Ansible: root's facts
          - ansible_user_id == 'root' and ansible_user_dir == '/root'
          - ansible_interfaces | length > 0 and 'lo' in ansible_interfaces
          - ansible_lo.ipv4.address == '127.0.0.1'
          - ansible_mounts is defined and ansible_default_ipv4 is defined
          - ansible_date_time.date | length == 10
          - ansible_env.HOME == ansible_user_dir
          - ansible_processor_vcpus >= 1 and ansible_memtotal_mb > 0
          - ansible_selinux == false or ansible_selinux.status is defined
    - name: a file made from facts
      template: {src: facts.txt.j2, dest: /tmp/ms-facts.txt, mode: "0644"}

- name: no facts until setup
  hosts: sample
  become: false
  gather_facts: false
  tasks:
    - name: nothing yet
      assert: {that: ["ansible_facts == {}", "ansible_distribution is not defined"]}
    - name: gather the distribution only
      setup: {gather_subset: ['!all'], filter: ['ansible_distribution*']}
    - name: now known
      assert:
        that:
          - ansible_distribution == 'Debian'
          - ansible_distribution_release in ['bookworm', 'trixie']
          - ansible_mounts is not defined
"""
TEMPLATE = """\
{{ inventory_hostname }} {{ ansible_distribution_release }}
{% for name in ansible_interfaces | sort %}
{{ name }} {{ hostvars[inventory_hostname]['ansible_' ~ name].mtu }}
{% endfor %}
"""


@pytest.fixture(scope="module")
def project(live_testbed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("facts") / "site"
    (root / "playbooks").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "playbooks/facts.yml").write_text(PLAYBOOK)
    (root / "templates/facts.txt.j2").write_text(TEMPLATE)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, ROOT / "inventory/known_hosts",
                    {host: live_testbed[host] for host in HOSTS})
    return root


def test_facts_setup_and_gather_facts_false(project, ssh_config):
    out = project / "report.json"
    done = inv("deploy", "--playbook=facts", "--json", str(out), cwd=project, check=False)
    assert done.returncode in (0, 8), done.stdout + done.stderr
    data = json.loads(out.read_text())
    for host in HOSTS:
        assert data["hosts"][host]["failed"] == 0, data["hosts"][host]
        text = ssh(ssh_config, host, "cat /tmp/ms-facts.txt").stdout
        first, *rest = text.splitlines()
        assert first == "%s %s" % (host, RELEASES[host])
        assert any(line.startswith("lo ") for line in rest), text
    for host in HOSTS:
        ssh(ssh_config, host, "rm -f /tmp/ms-facts.txt")
