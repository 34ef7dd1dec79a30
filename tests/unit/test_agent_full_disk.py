"""A rollback on a full disk: the files come back by rename, and what cannot come back yet is
finished by the next run; never a partial file, never a dead agent.

Each case runs in a private mount namespace (`unshare --mount`, as root) with a tmpfs of a
few hundred KB holding the role's files, while the journal stays on the ordinary disk (as
/srv and /var/lib/mainsail often are). The role writes its files, then a step fills the tmpfs
to the last byte and fails: the rollback must put the old files back with no free byte.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

from mainsail.agentproc import local_agent

ROOT = Path(__file__).resolve().parents[2]
SIZE = 256 * 1024
BIG = 60 * 1024  # each file: two old and two new ones fit, a third copy of one does not
# Fills the tmpfs, notes its free blocks beside it (in the work folder), and fails.
FILL = "head -c 10000000 /dev/zero > {0}/filler; stat -f -c %a {0} > {0}.free; exit 1"


def in_small_filesystem(tmp_path: Path, case: str) -> Dict[str, Any]:
    """Run ``case`` of this module as root in its own mount namespace, with SMALL a tmpfs."""
    assert os.geteuid() == 0 and shutil.which("unshare"), \
        "these tests need root and unshare(1): they mount a tmpfs in a private namespace"
    small, work = tmp_path / "small", tmp_path / "work"
    small.mkdir()
    work.mkdir()
    script = ("mount --make-rprivate / && mount -t tmpfs -o size=%d,mode=0755 tmpfs %s && "
              "exec %s -m tests.unit.test_agent_full_disk %s %s %s"
              % (SIZE, small, sys.executable, case, small, work))
    done = subprocess.run(["unshare", "--mount", "--", "sh", "-c", script], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def copy(step_id: int, dest: str, text: str) -> Dict[str, Any]:
    return {"id": step_id, "op": "copy", "txn": "role web", "name": "copy %d" % step_id,
            "args": {"dest": dest, "content": text}}


def fill_and_fail(step_id: int, small: str) -> Dict[str, Any]:
    return {"id": step_id, "op": "shell", "txn": "role web", "name": "fill the disk",
            "args": {"cmd": FILL.format(small)}}


def listing(small: str) -> List[str]:
    return sorted(n for n in os.listdir(small) if n != "filler")


def contents(small: str) -> Dict[str, str]:
    out = {}
    for name in listing(small):
        with open(os.path.join(small, name)) as handle:
            text = handle.read()
        out[name] = text[:1] + "x%d" % len(text)  # which version, and whole or not
    return out


def run(client: Any, steps: List[Dict[str, Any]], state: str) -> Dict[str, Any]:
    try:
        # With the run lock, as every deploy takes it: a dead run's journal is recovered then.
        results = client.run(steps, {}, state_dir=state,
                             lock={"path": state + "/run.lock", "wait": 5, "holder": {}})
    except Exception as exc:  # noqa: B902 - a dead agent is what the case reports
        return {"error": "%s: %s" % (type(exc).__name__, exc)}
    return {"statuses": [r["status"] for r in results], "rollbacks": client.rollbacks,
            "lost": client.lost_controller}


def case_replaced_files(small: str, work: str) -> Dict[str, Any]:
    """Two files replaced, then the disk filled and a step failed."""
    state = os.path.join(work, "state")
    for name in ("a.conf", "b.conf"):
        with open(os.path.join(small, name), "w") as handle:
            handle.write("o" * BIG)
    steps = [copy(1, small + "/a.conf", "n" * BIG), copy(2, small + "/b.conf", "n" * BIG),
             fill_and_fail(3, small)]
    with local_agent(os.path.join(work, "agent")) as client:
        first = run(client, steps, state)
    os.unlink(os.path.join(small, "filler"))
    with open(small + ".free") as handle:
        free = int(handle.read())
    return {"run": first, "files": contents(small), "free": free,
            "journal": sorted(name for run in os.listdir(os.path.join(state, "journal"))
                              for name in os.listdir(os.path.join(state, "journal", run)))}


def case_removed_file(small: str, work: str) -> Dict[str, Any]:
    """A removed file needs its bytes back, which a full disk cannot take: the next run
    (disk still full) does nothing else, the one after (space again) finishes the restore."""
    state = os.path.join(work, "state")
    with open(os.path.join(small, "gone.conf"), "w") as handle:
        handle.write("o" * BIG)
    steps = [{"id": 1, "op": "file", "txn": "role web", "name": "remove",
              "args": {"path": small + "/gone.conf", "state": "absent"}},
             copy(2, small + "/later.conf", "n" * 10), fill_and_fail(3, small)]
    later = [copy(1, small + "/other.conf", "n" * 10)]
    out: Dict[str, Any] = {}
    with local_agent(os.path.join(work, "agent")) as client:
        out["first"] = run(client, steps, state)
        out["after_first"] = listing(small)
    with local_agent(os.path.join(work, "agent")) as client:
        out["second"] = run(client, later, state)
        out["after_second"] = listing(small)
    os.unlink(os.path.join(small, "filler"))
    with local_agent(os.path.join(work, "agent")) as client:
        out["third"] = run(client, later, state)
    out["files"] = contents(small)
    return out


def test_files_a_role_replaced_come_back_by_rename_on_a_full_disk(tmp_path: Path) -> None:
    got = in_small_filesystem(tmp_path, "replaced_files")
    assert "error" not in got["run"], got["run"]
    assert got["run"]["statuses"] == ["changed", "changed", "failed"]
    assert got["free"] == 0  # when the rollback began, not a block was free
    rolled = got["run"]["rollbacks"][0]
    assert sorted(Path(p).name for p in rolled["restored"]) == ["a.conf", "b.conf"]
    assert "unfinished" not in rolled["reason"]
    # each file wholly the old one, and nothing left beside them
    assert got["files"] == {"a.conf": "ox%d" % BIG, "b.conf": "ox%d" % BIG}
    assert got["journal"] == ["000-role_web.rolled-back"]  # done: nothing left to finish


def test_a_restore_the_full_disk_refuses_is_finished_by_the_next_run_with_space(
        tmp_path: Path) -> None:
    got = in_small_filesystem(tmp_path, "removed_file")
    first = got["first"]
    assert "error" not in first, first  # the agent lived to report it
    assert first["statuses"] == ["changed", "changed", "failed"]
    rolled = first["rollbacks"][0]
    assert "unfinished" in rolled["reason"] and "gone.conf" in rolled["reason"]
    assert got["after_first"] == []  # later.conf removed; gone.conf still absent, no temp file
    second = got["second"]
    assert "error" not in second, second
    assert second["statuses"] == []  # nothing new on top of a half-restored role
    assert "gone.conf" in second["lost"]["reason"] and "unfinished" in second["lost"]["reason"]
    assert got["after_second"] == []
    third = got["third"]
    assert third["statuses"] == ["changed"]
    assert "rolled back by the next run" in third["lost"]["reason"]
    assert got["files"] == {"gone.conf": "ox%d" % BIG, "other.conf": "nx10"}


if __name__ == "__main__":
    CASES = {"replaced_files": case_replaced_files, "removed_file": case_removed_file}
    print(json.dumps(CASES[sys.argv[1]](sys.argv[2], sys.argv[3])))
