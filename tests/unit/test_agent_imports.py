"""The agent's start imports only what a no-op run needs: stdlib modules used by one kind of
step (a diff, ini local facts, a temporary name) load when that step runs."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from mainsail.agent import facts
from mainsail.agentproc import build_agent_zip, local_agent

ON_USE = ("platform", "secrets", "difflib", "configparser")


def test_a_start_and_its_facts_import_none_of_the_on_use_modules(tmp_path: Path) -> None:
    probe = (
        "import json, sys\n"
        "sys.path.insert(0, %r)\n"
        "from mainsail_agent import facts, main\n"
        "facts.gather()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    _, digest = build_agent_zip()
    with local_agent(str(tmp_path)):
        pass
    out = subprocess.run([sys.executable, "-I", "-S", "-c", probe % str(tmp_path / digest)],
                         capture_output=True, check=True, timeout=60).stdout
    loaded = set(json.loads(out))
    assert not loaded & set(ON_USE), sorted(loaded & set(ON_USE))


@pytest.mark.parametrize("version", [
    "3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]",
    "3.12.0+ (heads/3.12:0fb18b02c8, Oct  2 2023, 10:00:00) [GCC 13.2.0]",
    "3.13.0rc1 (main, Aug  1 2024, 00:00:00) [Clang 15.0.0 ]",
    "3.8 (default, Jan  1 2020, 00:00:00) [GCC 9.3.0]",
    "3.9.2 (default, Feb 28 2021, 17:03:44) \n[GCC 10.2.1 20210110]",
])
def test_the_python_version_fact_is_platforms(version: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    expected = platform._sys_version(version)[1]  # type: ignore[attr-defined]
    monkeypatch.setattr(sys, "version", version)
    assert facts.python_version() == expected
    monkeypatch.undo()
    assert facts.python_version() == platform.python_version()
