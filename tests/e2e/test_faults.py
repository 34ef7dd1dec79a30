"""Fault injection on the testbed: runs cut short, broken configs, dead hosts, full disks.

Bounded: a fixed number of kills, short timeouts, traffic only to the testbed's addresses.
The figures each test saw are printed (pytest -s shows them) for the notes.
"""

import hashlib
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, inv
from tests.e2e.test_engine import PROJECT, write_inventory
from tests.e2e.test_testbed import ssh

KILLS = 8


@pytest.fixture(scope="module")
def project(live_testbed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults") / "site"
    shutil.copytree(PROJECT, root)
    (root / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(root, ROOT / "inventory/known_hosts", {"web2": live_testbed["web2"]})
    return root


def expected_digest(version: str, item: int) -> str:
    # big.j2 ends with `{% endfor %}` and a newline, which trim_blocks (Ansible's default)
    # takes with the tag
    text = "".join("%s-%d-%d\n" % (version, item, i) for i in range(2000))
    return hashlib.sha256(text.encode()).hexdigest()


def host_digests(ssh_config) -> dict:
    out = ssh(ssh_config, "web2", "cd /srv/many && sha256sum f*").stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines()}


def deploy_many(project, version, *args, check=True):
    return inv("deploy", "--playbook=many_files", "--var", "version=" + version,
               "--lock-wait=60", *args, cwd=project, check=check)


def test_killed_runs_leave_every_file_old_or_new_and_the_next_run_converges(project,
                                                                           ssh_config):
    deploy_many(project, "v0")
    rng = random.Random(7)
    partial, versions = 0, ["v0"]
    for kill in range(KILLS):
        version = "v%d" % (kill + 1)
        child = subprocess.Popen(
            [sys.executable, "-m", "invoke", "deploy", "--playbook=many_files", "--var",
             "version=" + version, "--lock-wait=60"], cwd=project, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.4, 1.6))
        child.send_signal(signal.SIGKILL)  # the controller and its connection vanish
        child.wait()
        versions.append(version)
        # Whatever the agent is still doing, every file is one version, whole, at any moment.
        digests = host_digests(ssh_config)
        allowed = {expected_digest(v, i) for v in versions for i in range(40)}
        partial += sum(1 for d in digests.values() if d not in allowed)
        # Once the orphaned agent has finished its step and exited (its lock is free), no
        # temp file may be left behind.
        ssh(ssh_config, "web2", "flock -w 30 /var/lib/mainsail/run.lock true")
        leftovers = ssh(ssh_config, "web2", "ls -a /srv/many | grep -c mainsail-tmp || true")
        partial += int(leftovers.stdout.strip() or 0)
    print("\nconnection kills: %d, files found partial: %d" % (KILLS, partial))
    assert partial == 0
    deploy_many(project, "final")
    digests = host_digests(ssh_config)
    assert digests == {"f%d" % i: expected_digest("final", i) for i in range(40)}
    again = inv("deploy", "--playbook=many_files", "--var", "version=final", "--json",
                str(project / "again.json"), cwd=project)
    assert '"changed": 0' in (project / "again.json").read_text()
    assert again.returncode == 0


def test_a_full_disk_fails_the_step_cleanly_and_keeps_the_old_file(project, ssh_config):
    ssh(ssh_config, "web2", "mkdir -p /srv/full && (mountpoint -q /srv/full || "
                            "mount -t tmpfs -o size=64k tmpfs /srv/full) && "
                            "echo old > /srv/full/data")
    try:
        (project / "playbooks/full.yml").write_text(
            "- hosts: sample\n  tasks:\n    - name: too big for the disk\n"
            "      copy: {content: \"{{ 'x' * 200000 }}\", dest: /srv/full/data}\n")
        done = inv("deploy", "--playbook=full", cwd=project, check=False)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "No space left on device" in done.stdout
        assert "Traceback" not in done.stdout + done.stderr
        assert ssh(ssh_config, "web2", "cat /srv/full/data").stdout == "old\n"
        assert ssh(ssh_config, "web2", "ls -a /srv/full").stdout.split() == [".", "..", "data"]
    finally:
        ssh(ssh_config, "web2", "umount /srv/full", check=False)


def test_a_failing_handler_rolls_back_and_nothing_stays_pending(project, ssh_config):
    (project / "playbooks/bad_handler.yml").write_text("""
- hosts: sample
  tasks:
    - name: config
      copy: {content: "{{ version }}\\n", dest: /srv/handler.conf}
      notify: reload
  handlers:
    - name: reload
      shell: {cmd: "grep -q {{ good }} /srv/handler.conf"}
""")
    inv("deploy", "--playbook=bad_handler", "--var", "version=v1", "--var", "good=v", cwd=project)
    done = inv("deploy", "--playbook=bad_handler", "--var", "version=v2", "--var", "good=v1",
               cwd=project, check=False)
    assert done.returncode == 2 and "rolled back" in done.stdout
    assert ssh(ssh_config, "web2", "cat /srv/handler.conf").stdout == "v1\n"
    assert ssh(ssh_config, "web2", "cat /var/lib/mainsail/handlers.json").stdout.strip() == "[]"
    fixed = inv("deploy", "--playbook=bad_handler", "--var", "version=v2", "--var", "good=v2",
                cwd=project)
    assert "handler: reload" in fixed.stdout
    assert ssh(ssh_config, "web2", "cat /srv/handler.conf").stdout == "v2\n"


def test_a_host_whose_sshd_died_is_unreachable_within_the_timeout(live_testbed, ssh_config,
                                                                 tmp_path):
    other = tmp_path / "all4"
    shutil.copytree(PROJECT, other)
    (other / "tasks.py").write_text("from mainsail.tasks import ns  # noqa\n")
    write_inventory(other, ROOT / "inventory/known_hosts", live_testbed)
    (other / "playbooks/touch.yml").write_text(
        "- hosts: sample\n  tasks:\n    - name: marker\n"
        "      copy: {content: \"{{ inventory_hostname }}\\n\", dest: /tmp/fault-marker}\n")
    ssh(ssh_config, "echo1", "kill $(cat /run/sshd.pid)")
    try:
        started = time.monotonic()
        done = inv("deploy", "--playbook=touch", "--timeout=3", cwd=other, check=False)
        elapsed = time.monotonic() - started
        assert done.returncode == 3, done.stdout + done.stderr
        assert "echo1" in done.stdout and "unreachable" in done.stdout
        assert elapsed < 10
        for name in ("web1", "web2", "mail1"):
            assert ssh(ssh_config, name, "cat /tmp/fault-marker").stdout == name + "\n"
    finally:
        inv("testbed.up")  # brings echo1's sshd back


def test_the_site_deploys_where_packages_start_their_services_on_install(live_testbed):
    """A Debian server starts apache2 as the package installs it, on its default *:80 (the
    testbed's image forbids that with a policy-rc.d, as container images do): the role's
    change of listening address must restart Apache, since a reload cannot bind it."""
    inv("testbed.reset", "web1")
    try:
        inv("run", "--host", "web1", "-b", "--", "rm -f /usr/sbin/policy-rc.d")
        inv("deploy", "--host=web1")
        url = "http://%s/guestbook" % live_testbed["web1"]
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert answer.status == 200
    finally:  # the image's policy back: later tests install packages as the image does
        inv("run", "--host", "web1", "-b", "--", "printf '#!/bin/sh\\nexit 101\\n' > "
            "/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d", check=False)


def test_a_broken_vhost_is_refused_and_the_old_site_keeps_serving(live_testbed):
    inv("deploy", "--host=web1")
    url = "http://%s/guestbook" % live_testbed["web1"]
    failures, requests, stop = [], [0], threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status != 200:
                        failures.append(answer.status)
            except OSError as exc:
                failures.append(str(exc))
            requests[0] += 1
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        broken = ('apache_sites=[{"name": "www", "server_name": "www.example.test", '
                  '"tls_cert": "/nonexistent.crt", "tls_key": "/nonexistent.key"}]')
        done = inv("deploy", "--host=web1", "--var", broken, check=False)
    finally:
        time.sleep(0.5)
        stop.set()
        poller.join()
    print("\nrollbacks tried: 1, requests during it: %d, outages: %d" % (requests[0],
                                                                         len(failures)))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "rolled back" in done.stdout or "validation failed" in done.stdout
    assert failures == []
    assert inv("plan", "--host=web1", check=False).returncode == 0  # nothing half-applied
