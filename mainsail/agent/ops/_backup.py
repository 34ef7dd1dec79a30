"""A file's old content kept beside it before an edit (Ansible's `backup: true`)."""
from __future__ import annotations

import os
import time
from typing import Optional

from .. import fileio, safepath
from ..core import Context


def backup_name(path: str) -> str:
    """Ansible's naming: PATH.PID.YYYY-MM-DD@HH:MM:SS~ (one per run and second)."""
    return "%s.%d.%s~" % (path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S"))


def keep_copy(ctx: Context, path: str, before: Optional[bytes]) -> str:
    """Write ``before`` beside ``path`` with the file's mode; the copy's path ('' when there
    was no file). Journalled: a rollback removes the copy along with the edit."""
    if before is None:
        return ""
    name = backup_name(path)
    current = safepath.lstat(path)
    mode = "%04o" % (current.st_mode & 0o7777) if current is not None else "0600"
    fileio.atomic_write(name, before, mode, journal=ctx.journal)
    return name
