"""The package as a user gets it: the wheel built from this checkout, installed into a
throwaway virtual environment with its dependencies, used from folders outside the checkout.

It needs the package index for the build backend and the dependencies, and takes about a
minute: marked `packaging` (CI runs it with the rest; `-m "not e2e and not packaging"` leaves
it out of a quick run)."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mainsail import __version__

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
LEFT_OUT = shutil.ignore_patterns(".git", ".venv", ".testbed", ".state", "build", "dist",
                                  "*.egg-info", "__pycache__", ".pytest_cache")


def sh(*argv: str, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, "%s exited %d\n%s\n%s" % (" ".join(argv), done.returncode,
                                                          done.stdout, done.stderr)
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict, Path]:
    """(the venv's bin folder, an environment that knows nothing of this checkout, the
    wheel)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=LEFT_OUT, symlinks=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and
           not k.startswith("MAINSAIL_")}
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"),
       str(source), cwd=work, env=env)
    wheels = list((work / "dist").glob("mainsail-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    sh(sys.executable, "-m", "venv", str(venv), cwd=work, env=env)
    sh(str(venv / "bin/python"), "-m", "pip", "install", "-q", str(wheels[0]), cwd=work,
       env=env)
    env["PATH"] = "%s:%s" % (venv / "bin", env.get("PATH", ""))
    env["VIRTUAL_ENV"] = str(venv)
    return venv / "bin", env, wheels[0]


def test_the_wheel_holds_the_agent_the_docs_and_the_type_marker(installed):
    names = zipfile.ZipFile(installed[2]).namelist()
    for name in ("mainsail/py.typed", "mainsail/agent/main.py", "mainsail/agent/ops/copy.py",
                 "mainsail/docs/commands.md", "mainsail/docs/vault.md",
                 "mainsail/opdoc_intro.md"):
        assert name in names, name
    assert not [n for n in names if n.startswith(("tests/", "docs/"))]


def test_the_installed_command_runs_outside_the_checkout(installed, tmp_path):
    bin_dir, env, _ = installed
    where = sh(str(bin_dir / "python"), "-c", "import mainsail; print(mainsail.__file__)",
               cwd=tmp_path, env=env).stdout
    assert where.startswith(str(bin_dir.parent)), where  # the wheel's copy, not the checkout
    assert __version__ in sh("mainsail", "--version", cwd=tmp_path, env=env).stdout
    page = sh("mainsail", "doc", "vault", cwd=tmp_path, env=env).stdout
    assert page == (REPO / "docs/vault.md").read_text(encoding="utf-8")


def test_init_then_hosts_from_a_subfolder_then_a_deploy(installed, tmp_path):
    _, env, _ = installed
    sh("mainsail", "init", str(tmp_path / "x"), cwd=tmp_path, env=env)
    hosts = sh("mainsail", "hosts", cwd=tmp_path / "x/roles", env=env).stdout
    assert "example1" in hosts
    checked = sh("mainsail", "deploy", "--syntax-check", cwd=tmp_path / "x/roles", env=env)
    assert "syntax ok" in checked.stdout
    # The agent shipped in the wheel runs the example host's plan (connection: local).
    env = {**env, "HOME": str(tmp_path)}
    out = "hello_dir=%s" % (tmp_path / "out")
    sh("mainsail", "deploy", "-e", out, cwd=tmp_path / "x", env=env)
    assert (tmp_path / "out/hello.txt").is_file()
    planned = subprocess.run(["mainsail", "plan", "-e", out], cwd=tmp_path / "x", env=env,
                             capture_output=True, text=True, timeout=300)
    assert planned.returncode == 0, planned.stdout + planned.stderr
