"""Helpers for the agent tests (no tests here): run ops directly, fake system tools on PATH."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from mainsail.agent.core import BlobStore, Context, Outcome
from mainsail.agent.fileio import sha256_bytes
from mainsail.agent.main import execute_step


def run_op(op: str, args: Dict[str, Any], check: bool = False, diff: bool = True,
           blobs: Optional[List[bytes]] = None, journal: Any = None,
           earlier: Optional[List[str]] = None) -> Outcome:
    """Run one operation exactly as the agent loop does (errors become failed outcomes);
    ``earlier``: ops of earlier steps check mode found would change (Context.would_change)."""
    store = BlobStore()
    for data in blobs or []:
        store.add(sha256_bytes(data), data)
    ctx = Context(check=check, diff=diff, blobs=store, journal=journal,
                  would_change=list(earlier or []))
    return execute_step(ctx, {"id": 1, "op": op, "args": args})


def fake_command(bindir: Path, name: str, body: str = "") -> Path:
    """A /bin/sh script named `name` in bindir; every call appends its argv to bindir/calls."""
    path = bindir / name
    path.write_text('#!/bin/sh\necho "%s $*" >> "%s/calls"\n%s\n' % (name, bindir, body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def calls(bindir: Path) -> List[str]:
    log = bindir / "calls"
    return log.read_text().splitlines() if log.exists() else []


def snapshot(path: Path) -> Tuple[bytes, int, int, int, int]:
    """Content, mode, owner and mtime: what 'nothing changed' means for a file."""
    st = os.stat(path)
    return (path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns)


def make_bindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder put first on PATH, for fake_command scripts standing in for system tools.

    apt reads dpkg's status file itself; here it finds none, so a fake dpkg-query answers;
    nor does it find this machine's apt records of automatic installs."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", "%s:%s" % (folder, os.environ.get("PATH", "")))
    monkeypatch.setattr("mainsail.agent.ops.apt.DPKG_ADMINDIR", str(tmp_path / "no-dpkg"))
    monkeypatch.setattr("mainsail.agent.ops.apt.EXTENDED_STATES", str(tmp_path / "no-states"))
    return folder
