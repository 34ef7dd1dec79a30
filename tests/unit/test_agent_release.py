"""release: full copies under releases/, `current` switched by rename, last N kept."""

import hashlib
import os

from mainsail.agentproc import local_agent


def step(base, files, **extra):
    manifest = {rel: {"sha": hashlib.sha256(data).hexdigest(), "mode": mode}
                for rel, (data, mode) in files.items()}
    blobs = {hashlib.sha256(data).hexdigest(): data for data, _ in files.values()}
    args = {"path": str(base), "files": manifest, **extra}
    return {"id": 1, "op": "release", "name": "release", "args": args}, blobs


def test_first_release_then_no_op_then_new_release_and_pruning(tmp_path):
    base = tmp_path / "app"
    with local_agent(state_dir=str(tmp_path / "agent")) as agent:
        v1, blobs1 = step(base, {"app.py": (b"print(1)\n", "0755"), "lib/x.txt": (b"x\n", "0644")},
                          keep=2, shared=["logs"])
        assert agent.run([v1], blobs1)[0]["status"] == "changed"
        current = os.readlink(base / "current")
        assert (base / "current/app.py").read_bytes() == b"print(1)\n"
        assert os.stat(base / "current/app.py").st_mode & 0o777 == 0o755
        assert os.path.realpath(base / "current/logs") == str(base / "shared/logs")

        sent = agent.bytes_sent
        assert agent.run([v1], blobs1)[0]["status"] == "ok"
        assert os.readlink(base / "current") == current
        assert agent.bytes_sent - sent < 1000  # no content travelled for the no-op

        made = [current]
        for n in range(3):
            vn, blobs = step(base, {"app.py": (b"print(%d)\n" % (n + 2), "0755")}, keep=2)
            result = agent.run([vn], blobs)[0]
            assert result["status"] == "changed", result
            made.append(os.readlink(base / "current"))
        assert len(set(made)) == 4
        kept = sorted(n for n in os.listdir(base / "releases") if not n.startswith("."))
        assert kept == sorted(os.path.basename(m) for m in made[-2:])
        assert (base / "current/app.py").read_bytes() == b"print(4)\n"


def test_check_mode_makes_no_release(tmp_path):
    base = tmp_path / "app"
    with local_agent(state_dir=str(tmp_path / "agent")) as agent:
        v1, blobs = step(base, {"app.py": (b"x\n", "0644")})
        assert agent.run([v1], blobs, check=True)[0]["status"] == "changed"
        assert not base.exists()


def test_a_tampered_release_is_replaced_by_a_fresh_one(tmp_path):
    base = tmp_path / "app"
    with local_agent(state_dir=str(tmp_path / "agent")) as agent:
        v1, blobs = step(base, {"app.py": (b"good\n", "0644")})
        agent.run([v1], blobs)
        first = os.readlink(base / "current")
        (base / "current/app.py").write_bytes(b"tampered\n")
        assert agent.run([v1], blobs)[0]["status"] == "changed"
        assert os.readlink(base / "current") != first
        assert (base / "current/app.py").read_bytes() == b"good\n"


def test_paths_that_escape_the_release_are_refused(tmp_path):
    with local_agent(state_dir=str(tmp_path / "agent")) as agent:
        bad, blobs = step(tmp_path / "app", {"../evil": (b"x", "0644")})
        result = agent.run([bad], blobs)[0]
        assert result["status"] == "failed" and "bad file path" in result["msg"]
        assert not (tmp_path / "evil").exists()
