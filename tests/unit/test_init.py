"""`mainsail init DIR`: a new project that works at once, from any folder inside it."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def mainsail(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # `python -m mainsail` with this checkout first: the console script on PATH may belong
    # to another checkout.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAINSAIL_INVENTORY", None)
    return subprocess.run([sys.executable, "-m", "mainsail", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_init_then_hosts_from_the_roles_folder(tmp_path):
    made = mainsail("init", str(tmp_path / "x"), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    for name in ("inventory/hosts.yml", "invoke.yaml", "roles/hello/tasks/main.yml",
                 "playbooks/site.yml", ".gitignore", ".ci/check", "tasks.py"):
        assert (tmp_path / "x" / name).is_file(), name
    listed = mainsail("hosts", cwd=tmp_path / "x" / "roles")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("example1 ") and "group_vars/web.yml:2" in listed.stdout


def test_a_new_project_checks_and_deploys_from_a_subfolder(tmp_path):
    assert mainsail("init", "x", cwd=tmp_path).returncode == 0
    inside = tmp_path / "x" / "roles" / "hello"
    checked = mainsail("deploy", "--syntax-check", cwd=inside)
    assert checked.returncode == 0 and "syntax ok" in checked.stdout, checked.stderr
    target = tmp_path / "site"
    done = mainsail("deploy", "-e", "hello_dir=%s" % target, cwd=inside)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / "hello.txt").read_text() == "Hello from Mainsail, example1!\n"
    assert not (inside / ".state").exists()  # state stays in the project's own folder
    assert mainsail("plan", "-e", "hello_dir=%s" % target, cwd=tmp_path / "x").returncode == 0


def test_init_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine\n")
    done = mainsail("init", str(tmp_path / "x"), cwd=tmp_path)
    assert done.returncode == 4 and "not an empty folder" in done.stderr
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine\n"


def test_verify_names_its_extra_when_pytest_is_missing(tmp_path):
    assert mainsail("init", "x", cwd=tmp_path).returncode == 0
    # pytest and testinfra made unfindable, as after a plain `pip install mainsail`
    code = ("import importlib.util, sys; real = importlib.util.find_spec; "
            "importlib.util.find_spec = lambda n, *a: None if n in ('pytest', 'testinfra') "
            "else real(n, *a); sys.argv = ['mainsail', 'verify']; "
            "from mainsail.cli import main; main()")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "x", env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "pytest and pytest-testinfra" in done.stderr and "mainsail[verify]" in done.stderr
