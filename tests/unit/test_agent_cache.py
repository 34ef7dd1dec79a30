"""The agent's cache on the host: the verified zipapp is unpacked once per digest, with its
bytecode, into a folder only the running user can write; operations load when a step uses them."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mainsail.agentproc import BOOTSTRAP, build_agent_zip, local_agent


def test_the_verified_agent_is_unpacked_once_with_its_bytecode(tmp_path: Path) -> None:
    _, digest = build_agent_zip()
    with local_agent(str(tmp_path)):
        pass
    tree = tmp_path / digest
    assert stat.S_IMODE(os.lstat(tree).st_mode) == 0o700
    assert (tree / "__main__.py").is_file()
    compiled = list((tree / "mainsail_agent" / "__pycache__").glob("main.*.pyc"))
    assert compiled, "the agent's bytecode is compiled at install"
    assert not list(tmp_path.glob("*.tmp")), "no half-unpacked folder is left"
    before = compiled[0].stat().st_mtime_ns
    with local_agent(str(tmp_path)) as client:
        assert client.agent_sent is False
        assert client.facts_at_start["hostname"]
    assert compiled[0].stat().st_mtime_ns == before, "the second start reuses the bytecode"


def test_a_missing_unpacked_folder_is_rebuilt_from_the_cached_zipapp(tmp_path: Path) -> None:
    _, digest = build_agent_zip()
    with local_agent(str(tmp_path)):
        pass
    subprocess.run(["rm", "-rf", "--", str(tmp_path / digest)], check=True)
    with local_agent(str(tmp_path)) as client:
        assert client.agent_sent is False
    assert (tmp_path / digest / "__main__.py").is_file()


def _bootstrap(folder: Path) -> "subprocess.CompletedProcess[bytes]":
    _, digest = build_agent_zip()
    return subprocess.run([sys.executable, "-I", "-c", BOOTSTRAP, digest, str(folder)],
                          input=b"", capture_output=True, timeout=60, cwd="/")


def test_a_cache_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "agent"
    folder.mkdir()
    folder.chmod(0o777)
    done = _bootstrap(folder)
    assert done.returncode == 3
    assert b"only it can write: refused" in done.stderr
    assert done.stdout == b"", "nothing is asked for or run from a refused folder"


def test_a_link_in_place_of_the_cache_folder_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "agent").symlink_to(real)
    done = _bootstrap(tmp_path / "agent")
    assert done.returncode == 3
    assert b"refused" in done.stderr
    assert list(real.iterdir()) == []


def test_a_link_in_place_of_the_unpacked_agent_is_refused(tmp_path: Path) -> None:
    zip_bytes, digest = build_agent_zip()
    (tmp_path / (digest + ".pyz")).write_bytes(zip_bytes)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / digest).symlink_to(elsewhere)
    done = _bootstrap(tmp_path)
    assert done.returncode == 3
    assert b"refused" in done.stderr


def test_the_agent_imports_only_the_operations_its_steps_use(tmp_path: Path) -> None:
    """A start imports no operation; a run imports the ones its steps name."""
    probe = (
        "import sys, json\n"
        "sys.path.insert(0, %r)\n"
        "from mainsail_agent import main\n"
        "def loaded():\n"
        "    return sorted(m.rsplit('.', 1)[1] for m in sys.modules\n"
        "                  if m.startswith('mainsail_agent.ops.') and '._' not in m)\n"
        "at_start = loaded()\n"
        "main.OPS.get('file')\n"
        "print(json.dumps([at_start, loaded(), sorted(main.OPS)]))\n"
    )
    _, digest = build_agent_zip()
    with local_agent(str(tmp_path)):
        pass
    out = subprocess.run([sys.executable, "-I", "-c", probe % str(tmp_path / digest)],
                         capture_output=True, check=True, timeout=60).stdout
    at_start, after, every = json.loads(out)
    assert at_start == []
    assert after == ["file"]
    assert {"apt", "copy", "file", "user"} <= set(every), "listing still finds every operation"


def test_an_unknown_operation_name_imports_nothing_outside_the_ops(tmp_path: Path) -> None:
    from mainsail.agent.ops import OPS
    for name in ("os", "../spec", "_exec", "spec", "template"):
        assert OPS.get(name) is None, name
    with pytest.raises(KeyError):
        OPS["no_such_op"]
