"""pytest plugin for `inv verify`: the `hostvars` fixture, the host's resolved variables."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

VARS_ENV = "MAINSAIL_VERIFY_HOSTVARS"


@pytest.fixture(scope="session")
def hostvars() -> dict[str, Any]:
    """Inventory vars (with `address`, `inventory_hostname`) over the applied roles' defaults."""
    return json.loads(os.environ.get(VARS_ENV, "{}"))
