"""group: Ansible's local, force, gid_min/gid_max and non_unique (as root on this throwaway
machine, with mainsail-test-* groups that are always cleaned up)."""
from __future__ import annotations

import secrets
import shutil
import subprocess
from typing import Iterator

import pytest

from mainsail.agent.ops import accounts
from test_agent_accounts import needs_root
from test_agent_support import run_op


@pytest.fixture
def names() -> Iterator[list[str]]:
    made = ["mainsail-test-%s" % secrets.token_hex(3) for _ in range(3)]
    yield made
    for account in made:  # users first: a group that is a user's primary one stays
        subprocess.run(["userdel", "-r", account], capture_output=True)
    for account in made:
        subprocess.run(["groupdel", account], capture_output=True)


def test_arguments_ansible_refuses_are_refused() -> None:
    local_min = run_op("group", {"name": "mainsail-test-x", "gid_min": 1000, "local": True})
    assert local_min.status == "failed" and local_min.msg == "'gid_min' can not be used with 'local'"
    lone = run_op("group", {"name": "mainsail-test-x", "non_unique": True})
    assert lone.status == "failed" and lone.msg == "gid must be set if non_unique is true"


@pytest.mark.skipif(shutil.which("lgroupadd") is not None, reason="libuser is installed here")
def test_local_without_libuser_names_the_package() -> None:
    outcome = run_op("group", {"name": "mainsail-test-x", "local": True})
    assert outcome.status == "failed" and "lgroupadd" in outcome.msg


@needs_root
def test_a_new_gid_is_taken_from_the_range_given(names: list[str]) -> None:
    first = run_op("group", {"name": names[0], "gid_min": 45700, "gid_max": 45701})
    second = run_op("group", {"name": names[1], "gid_min": 45700, "gid_max": 45701})
    assert {first.data["gid"], second.data["gid"]} == {45700, 45701}
    full = run_op("group", {"name": names[2], "gid_min": 45700, "gid_max": 45701})
    assert full.status == "failed" and names[2] not in accounts.groups()


@needs_root
def test_non_unique_shares_a_gid_and_force_removes_a_primary_group(names: list[str]) -> None:
    gid = run_op("group", {"name": names[0], "gid": 45710}).data["gid"]
    shared = run_op("group", {"name": names[1], "gid": gid, "non_unique": True})
    assert shared.status == "changed" and accounts.groups()[names[1]].gid == 45710
    subprocess.run(["useradd", "-M", "-g", names[0], names[2]], check=True)
    refused = run_op("group", {"name": names[0], "state": "absent"})
    assert refused.status == "failed" and names[0] in accounts.groups()
    assert run_op("group", {"name": names[0], "state": "absent", "force": True}).status == \
        "changed"
    assert names[0] not in accounts.groups()
