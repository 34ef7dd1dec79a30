"""One fan-out under every command (mainsail/fleet.py) and its one exit-code mapping."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mainsail import adhoc
from mainsail.errors import BadInput, HostFailed, LockHeld, Unreachable
from mainsail.fleet import HostResult, exit_code, fan_out
from mainsail.inventory import load_inventory, select_hosts


@pytest.mark.parametrize("states,aborted,code", [
    ({"ok"}, "", 0),
    ({"ok", "failed"}, "", 2),
    ({"failed", "unreachable"}, "", 2),  # docs/commands.md: both -> 2
    ({"locked", "unreachable"}, "", 5),
    ({"ok", "unreachable"}, "", 3),
    ({"ok"}, "max_fail_percentage 10 exceeded", 2),
    ({"ok", "failed"}, "interrupted", 130),
    ({"interrupted"}, "", 130),
])
def test_outcomes_map_to_the_documented_exit_codes(states, aborted, code) -> None:
    assert exit_code(states, aborted) == code


def hosts(tmp_path: Path, names=("a", "b", "c", "d")):
    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n" + "".join(
            "    %s: {connection: local, mainsail_state_dir: %s}\n" % (n, tmp_path / n)
            for n in names))
    return select_hosts(load_inventory(tmp_path / "hosts.yml"))


def test_each_hosts_error_is_its_own_outcome_and_the_others_carry_on(tmp_path: Path) -> None:
    errors = {"b": HostFailed("boom"), "c": Unreachable("refused"), "d": LockHeld("by x")}

    def work(host):
        if host.name in errors:
            raise errors[host.name]
        return host.name.upper()

    result = fan_out(hosts(tmp_path), work, forks=2)
    assert [(r.host.name, r.state, r.value) for r in result.results] == [
        ("a", "ok", "A"), ("b", "failed", None), ("c", "unreachable", None),
        ("d", "locked", None)]
    assert result.results[1].error == "boom" and result.exit_code == 2


def test_the_pool_is_bounded_by_forks(tmp_path: Path) -> None:
    running, most = [0], [0]
    lock = threading.Lock()

    def work(host):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    fan_out(hosts(tmp_path), work, forks=2)
    assert most[0] == 2


def test_bad_input_is_not_a_host_outcome(tmp_path: Path) -> None:
    def work(host):
        raise BadInput("no such file")

    assert fan_out(hosts(tmp_path, ("a",)), work).results[0].state == "failed"


def test_put_and_ping_run_through_the_fan_out(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    chosen = hosts(tmp_path, ("a",))
    first = adhoc.put(chosen, b"hello\n", str(target))
    again = adhoc.put(chosen, b"hello\n", str(target))
    assert [r.value[0] for r in first.results + again.results] == ["changed", "ok"]
    assert target.read_bytes() == b"hello\n" and first.exit_code == 0
    assert adhoc.ping(chosen).results[0].value.startswith("pong in ")


def test_a_failed_put_fails_its_host(tmp_path: Path) -> None:
    result = adhoc.put(hosts(tmp_path, ("a",)), b"x", str(tmp_path / "missing" / "f"))
    assert result.results[0].state == "failed" and result.exit_code == 2
    assert isinstance(result.results[0], HostResult)
