from pathlib import Path

import pytest

from tests.conftest import inv

TESTBED = {"web1": "127.0.0.11", "web2": "127.0.0.12", "mail1": "127.0.0.21",
           "echo1": "127.0.0.31"}


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_testbed() -> dict:
    """The testbed, up. It is never skipped: a testbed that cannot start fails the run."""
    inv("testbed.up")
    return TESTBED


@pytest.fixture(scope="session")
def ssh_config(live_testbed: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ssh") / "config"
    path.write_text(inv("ssh-config").stdout)
    return path
