"""One module per operation, each with ``run(ctx, args) -> Outcome``."""
from __future__ import annotations

from types import ModuleType
from typing import Dict

from . import (apt, command, copy, debconf, file, group, line, probe, release, service,
               shell, supervisor, user)

OPS: Dict[str, ModuleType] = {
    "apt": apt, "command": command, "copy": copy, "debconf": debconf, "file": file,
    "group": group, "line": line, "probe": probe, "release": release, "service": service, "shell": shell,
    "supervisor": supervisor, "user": user,
}
