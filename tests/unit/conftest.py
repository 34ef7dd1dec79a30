"""Unit tests keep their state in temp folders, never in the machine's /var/lib/mainsail."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail import agentproc, runner


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hosts without mainsail_state_dir, and local agents started without a folder, use a
    temp folder: a unit test must not take the machine's run lock or leave journals there."""
    folder = tmp_path_factory.mktemp("mainsail-state")
    monkeypatch.setattr(runner, "STATE_DIR", str(folder))
    monkeypatch.setattr(agentproc, "LOCAL_AGENT_DIR", str(folder / "agent"))
    return folder
