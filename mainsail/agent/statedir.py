"""The agent's state folders (run lock, journals, pending handlers): root's alone.

Journals hold the old content of every file a run replaced (private keys, shadow copies), so
every folder on the way that Mainsail makes is 0700, whatever the umask, and a state folder
found open (made by an older version) is closed again. ``os.makedirs(mode=...)`` would not do:
since Python 3.7 the mode applies to the last folder only.
"""
from __future__ import annotations

import os
import stat

PRIVATE = 0o700


def private_dirs(path: str) -> None:
    """Make ``path`` and each missing folder above it 0700; an existing ``path`` (and its
    parent when that is Mainsail's own, named ``mainsail``) is made 0700 too."""
    path = os.path.abspath(path)
    missing = []
    top = path
    while not os.path.isdir(top):
        missing.append(top)
        top = os.path.dirname(top)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE)
        except FileExistsError:
            pass  # made meanwhile by another run
        _close(folder, made=True)
    _close(path)
    parent = os.path.dirname(path)
    if os.path.basename(parent) == "mainsail":
        _close(parent)


def _close(folder: str, made: bool = False) -> None:
    """chmod 0700 a folder we own that others may enter (``made``: one we just made, whatever
    the umask left). Done on a descriptor opened without following a link."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        if made:
            raise
        return  # not a folder (a link, say): nothing of ours to close
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and (made or st.st_mode & 0o077):
            os.fchmod(fd, PRIVATE)
    finally:
        os.close(fd)
