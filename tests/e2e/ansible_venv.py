"""ansible-core in a throwaway virtual environment outside the repository, for comparisons.

Created on first use (``pip install ansible-core``), reused afterwards; never installed into
the Python that runs Mainsail. ``MAINSAIL_ANSIBLE_VENV`` moves it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ANSIBLE_CORE = "2.19.4"
VENV = Path(os.environ.get("MAINSAIL_ANSIBLE_VENV", "/var/cache/mainsail/ansible-venv"))


def ansible_python(venv: Path = VENV) -> Path:
    """The venv's python, with ansible-core importable (made on first use)."""
    python = venv / "bin" / "python"
    if python.exists() and _has_ansible(python):
        return python
    fresh = venv.with_name(venv.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=300)
    subprocess.run([str(fresh / "bin" / "python"), "-m", "pip", "install", "-q",
                    f"ansible-core=={ANSIBLE_CORE}"], check=True, timeout=900)
    shutil.rmtree(venv, ignore_errors=True)
    fresh.rename(venv)  # whole or not at all: a half-made venv is never reused
    return python


def _has_ansible(python: Path) -> bool:
    done = subprocess.run([str(python), "-c", "import ansible.cli.inventory"],
                          capture_output=True, timeout=120, check=False)
    return done.returncode == 0


def ansible(tool: str, *args: str, cwd: Path, stdin: str | None = None,
            env: dict[str, str] | None = None,
            project_cfg: bool = False) -> subprocess.CompletedProcess[str]:
    """``ansible-<tool> ARGS`` (inventory, vault, config) run from the venv in ``cwd``, with a
    home of its own there so no user ansible.cfg is read; no ansible.cfg at all unless
    ``project_cfg``, when Ansible looks for one itself (``cwd``'s comes first)."""
    home = cwd / ".ansible-home"
    home.mkdir(exist_ok=True)
    (home / "empty.cfg").write_text("[defaults]\n")  # no /etc/ansible/ansible.cfg either
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    clean.update({"HOME": str(home), "ANSIBLE_HOME": str(home / ".ansible"),
                  "ANSIBLE_NOCOLOR": "1", **(env or {})})
    if not project_cfg:
        clean["ANSIBLE_CONFIG"] = str(home / "empty.cfg")
    return subprocess.run([str(ansible_python()), "-m", f"ansible.cli.{tool}", *args],
                          cwd=cwd, env=clean, input=stdin, capture_output=True, text=True,
                          timeout=300, check=False)
