"""Plays whose hosts do not overlap run at the same time; a host keeps its plays' order."""

import io
import textwrap
from pathlib import Path

from rich.console import Console

from mainsail.inventory import load_inventory, select_hosts
from mainsail.playbook import Play, load_playbook
from mainsail.playwaves import Wave, waves
from mainsail.report import Masker, Progress
from mainsail.runner import RunOptions, run_playbook


def play(name: str, **kw) -> Play:
    return Play(name=name, hosts="all", loc="site.yml:1", **kw)


def test_plays_on_separate_hosts_share_a_wave():
    plays = [play("web"), play("mail"), play("echo")]
    assert waves(plays, [["w1", "w2"], ["m1"], ["e1"]], forks=20) == [Wave((0, 1, 2))]


def test_a_host_in_two_plays_runs_them_in_order_in_successive_waves():
    plays = [play("base"), play("web"), play("mail")]
    assert waves(plays, [["w1", "m1"], ["w1"], ["m1"]], forks=20) == \
        [Wave((0,)), Wave((1, 2))]
    # the third play overlaps the first, not the second: it waits for a wave of its own
    assert waves(plays, [["w1"], ["m1"], ["w1"]], forks=20) == [Wave((0, 1)), Wave((2,))]


def test_serial_any_errors_fatal_and_max_fail_percentage_run_alone_and_say_why():
    plays = [play("a"), play("b", serial=1), play("c", any_errors_fatal=True),
             play("d", max_fail_percentage=10.0), play("e")]
    hosts = [["a1"], ["b1"], ["c1"], ["d1"], ["e1"]]
    assert waves(plays, hosts, forks=20) == [
        Wave((0,)), Wave((1,), "serial"), Wave((2,), "any_errors_fatal"),
        Wave((3,), "max_fail_percentage"), Wave((4,))]


def test_a_wave_holds_at_most_forks_hosts_and_plays_without_hosts_are_left_out():
    plays = [play("a"), play("b"), play("c"), play("d")]
    assert waves(plays, [["a1", "a2"], [], ["c1", "c2"], ["d1"]], forks=3) == \
        [Wave((0,)), Wave((2, 3))]


def project(tmp_path: Path, playbook: str) -> Path:
    root = tmp_path / "proj"
    (root / "inventory").mkdir(parents=True)
    (root / "playbooks").mkdir()
    (tmp_path / "out").mkdir()
    (root / "inventory/hosts.yml").write_text(
        "all:\n  vars:\n    out: %s\n  hosts:\n" % (tmp_path / "out") +
        "".join("    %s: {connection: local, mainsail_state_dir: %s}\n"
                % (h, tmp_path / "state" / h) for h in ("a", "b")))
    (root / "playbooks/site.yml").write_text(textwrap.dedent(playbook))
    return root


def run(root: Path):
    inv = load_inventory(root / "inventory/hosts.yml")
    progress = Progress(Console(file=io.StringIO()), Masker(), show_diff=False)
    return run_playbook(root, inv, load_playbook(root), select_hosts(inv), RunOptions(),
                        progress)


WAIT_FOR = """command: {cmd: "sh -c 'for i in $(seq 100); do test -e %s && exit 0; sleep 0.1; done; exit 1'"}"""


def test_disjoint_plays_really_run_together(tmp_path):
    """Play 1 (host a) waits for a file that only play 2 (host b) writes: one by one, play 1
    would give up after 10 s and fail."""
    root = project(tmp_path, """
        - name: first
          hosts: a
          tasks:
            - name: wait for b
              %s
        - name: second
          hosts: b
          tasks:
            - name: b was here
              copy: {content: "b\\n", dest: "{{ out }}/b"}
    """ % (WAIT_FOR % (tmp_path / "out/b")))
    record = run(root)
    assert {h: r.state for h, r in record.hosts.items()} == {"a": "ok", "b": "ok"}


def test_a_host_in_two_plays_sees_the_first_plays_work_in_the_second(tmp_path):
    root = project(tmp_path, """
        - name: first
          hosts: all
          tasks:
            - name: mark
              copy: {content: "1\\n", dest: "{{ out }}/{{ inventory_hostname }}.1"}
        - name: second
          hosts: a
          tasks:
            - name: needs the first
              command: {cmd: "test -e {{ out }}/a.1"}
    """)
    record = run(root)
    assert record.hosts["a"].state == "ok"
    assert [s.task for s in record.hosts["a"].steps] == ["mark", "needs the first"]
