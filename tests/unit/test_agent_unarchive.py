"""unarchive (tar gz/bz2/xz and zip; shipped or on the host) and wait_for_connection."""
from __future__ import annotations

import io
import os
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from mainsail.agent.fileio import sha256_bytes
from mainsail.agent import journal as journals
from mainsail.errors import BadInput
from mainsail.opspec import OPS, canonical_op, coerce_args
from test_agent_support import run_op

TREE: List[Tuple[str, bytes]] = [("app/", b""), ("app/bin/", b""),
                                 ("app/bin/run", b"#!/bin/sh\necho hi\n"),
                                 ("app/README", b"read me\n")]


def tar_bytes(entries: List[Tuple[str, bytes]], compression: str = "gz",
              links: Dict[str, str] = {}) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:" + compression) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = 1700000000
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755 if name.endswith("run") else 0o644
                tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def zip_bytes(entries: List[Tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = ((0o40755 if name.endswith("/") else 0o100644) << 16)
            archive.writestr(info, data)
    return buf.getvalue()


def shipped(dest: Path, data: bytes, **extra: object) -> Dict[str, object]:
    return {"src": "files/app.tar.gz", "dest": str(dest), "content_sha": sha256_bytes(data),
            **extra}


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", ""])
def test_a_tar_is_unpacked_once_then_left_alone(tmp_path: Path, compression: str) -> None:
    data = tar_bytes(TREE, compression)
    first = run_op("unarchive", shipped(tmp_path, data, list_files=True), blobs=[data])
    assert first.status == "changed", first.msg
    assert (tmp_path / "app/bin/run").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert os.stat(tmp_path / "app/bin/run").st_mode & 0o777 == 0o755
    assert first.data["handler"] == "TarArchive"
    assert first.data["files"] == ["app", "app/bin", "app/bin/run", "app/README"]
    again = run_op("unarchive", shipped(tmp_path, data), blobs=[data])
    assert again.status == "ok" and "already in place" in again.msg


def test_a_zip_is_unpacked_and_only_a_changed_member_is_rewritten(tmp_path: Path) -> None:
    data = zip_bytes(TREE)
    assert run_op("unarchive", shipped(tmp_path, data), blobs=[data]).status == "changed"
    (tmp_path / "app/README").write_bytes(b"edited\n")
    before = os.stat(tmp_path / "app/bin/run").st_ino
    result = run_op("unarchive", shipped(tmp_path, data), blobs=[data])
    assert result.status == "changed" and "1 of 4" in result.msg
    assert "-edited" in result.diff and "+read me" in result.diff
    assert (tmp_path / "app/README").read_bytes() == b"read me\n"
    assert os.stat(tmp_path / "app/bin/run").st_ino == before  # untouched
    assert result.data["handler"] == "ZipArchive"


def test_check_mode_reports_the_members_and_writes_nothing(tmp_path: Path) -> None:
    data = tar_bytes(TREE)
    result = run_op("unarchive", shipped(tmp_path, data), check=True, blobs=[data])
    assert result.status == "changed" and "+echo hi" in result.diff
    assert list(tmp_path.iterdir()) == []


def test_a_remote_src_archive_on_the_host_is_read_there(tmp_path: Path) -> None:
    archive = tmp_path / "app.tgz"
    archive.write_bytes(tar_bytes(TREE))
    (tmp_path / "out").mkdir()
    result = run_op("unarchive", {"src": str(archive), "dest": str(tmp_path / "out"),
                                  "remote_src": True})
    assert result.status == "changed" and (tmp_path / "out/app/README").exists()
    missing = run_op("unarchive", {"src": str(tmp_path / "nope.tgz"), "remote_src": True,
                                   "dest": str(tmp_path / "out")})
    assert missing.status == "failed" and "does not exist on the host" in missing.msg


def test_creates_skips_without_reading_the_archive(tmp_path: Path) -> None:
    (tmp_path / "done").write_text("")
    result = run_op("unarchive", {"src": "files/a.tgz", "dest": str(tmp_path),
                                  "content_sha": "0" * 64, "creates": str(tmp_path / "done")})
    assert result.status == "ok" and "exists" in result.msg


def test_strip_components_is_mapped_and_other_extra_opts_are_refused(tmp_path: Path) -> None:
    data = tar_bytes(TREE)
    stripped = run_op("unarchive", shipped(tmp_path, data, extra_opts=["--strip-components=1"]),
                      blobs=[data])
    assert stripped.status == "changed" and (tmp_path / "bin/run").exists()
    refused = run_op("unarchive", shipped(tmp_path, data, extra_opts=["--no-same-owner"]),
                     blobs=[data])
    assert refused.status == "failed" and "'--no-same-owner' is not understood" in refused.msg


def test_include_exclude_and_mode(tmp_path: Path) -> None:
    data = tar_bytes(TREE)
    result = run_op("unarchive", shipped(tmp_path, data, exclude=["app/README"], mode="0700"),
                    blobs=[data])
    assert result.status == "changed"
    assert not (tmp_path / "app/README").exists()
    assert os.stat(tmp_path / "app/bin/run").st_mode & 0o777 == 0o700
    assert run_op("unarchive", shipped(tmp_path, data, exclude=["app/README"], mode="0700"),
                  blobs=[data]).status == "ok"


@pytest.mark.parametrize("name", ["/etc/evil", "app/../../evil", "../evil"])
def test_member_paths_that_leave_dest_are_refused_before_anything_is_written(
        tmp_path: Path, name: str) -> None:
    data = tar_bytes([("app/", b""), ("app/ok", b"x"), (name, b"evil")])
    (tmp_path / "d").mkdir()
    result = run_op("unarchive", shipped(tmp_path / "d", data), blobs=[data])
    assert result.status == "failed" and "refused" in result.msg
    assert list((tmp_path / "d").iterdir()) == [] and not (tmp_path / "evil").exists()


def test_a_link_leading_out_of_dest_is_refused(tmp_path: Path) -> None:
    data = tar_bytes([("x/f", b"evil")], links={"x": "../outside"})
    (tmp_path / "d").mkdir()
    result = run_op("unarchive", shipped(tmp_path / "d", data), blobs=[data])
    assert result.status == "failed" and "outside dest" in result.msg


def test_an_existing_link_under_dest_leading_out_is_not_written_through(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "d" / "app").symlink_to(tmp_path / "outside")
    data = tar_bytes([("app/README", b"read me\n")])
    result = run_op("unarchive", shipped(tmp_path / "d", data), blobs=[data])
    assert result.status == "failed" and "outside dest" in result.msg
    assert list((tmp_path / "outside").iterdir()) == []


def test_links_inside_the_archive_are_made(tmp_path: Path) -> None:
    data = tar_bytes(TREE, links={"current": "app"})
    assert run_op("unarchive", shipped(tmp_path, data), blobs=[data]).status == "changed"
    assert os.readlink(tmp_path / "current") == "app"
    assert run_op("unarchive", shipped(tmp_path, data), blobs=[data]).status == "ok"


def test_dest_must_be_a_folder_and_junk_is_not_an_archive(tmp_path: Path) -> None:
    data = b"not an archive at all"
    nodest = run_op("unarchive", shipped(tmp_path / "none", data), blobs=[data])
    assert nodest.status == "failed" and "not a folder" in nodest.msg
    junk = run_op("unarchive", shipped(tmp_path, data), blobs=[data])
    assert junk.status == "failed" and "neither a tar nor a zip" in junk.msg


def test_a_journal_removes_what_was_unpacked_and_restores_what_was_replaced(
        tmp_path: Path) -> None:
    dest = tmp_path / "d"
    (dest / "app").mkdir(parents=True)
    (dest / "app/README").write_bytes(b"old\n")
    data = tar_bytes(TREE)
    journal = journals.Journal(str(tmp_path / "journal"))
    assert run_op("unarchive", shipped(dest, data), blobs=[data],
                  journal=journal).status == "changed"
    journals.restore(journal.folder)
    assert (dest / "app/README").read_bytes() == b"old\n"
    assert not (dest / "app/bin").exists()


def test_unarchive_loads_under_ansible_names_and_remote_src_ships_nothing() -> None:
    assert canonical_op("ansible.builtin.unarchive") == "unarchive"
    spec = OPS["unarchive"]
    assert spec.ships is not None and spec.ships.unless == "remote_src"
    args = coerce_args(spec, {"src": "/tmp/a.tgz", "dest": "/opt", "remote_src": "yes"}, "x:1")
    assert args["remote_src"] is True
    with pytest.raises(BadInput, match="dest"):
        coerce_args(spec, {"src": "a.tgz", "dest": "-opt"}, "x:1")


# ---------------------------------------------------------------- wait_for_connection

def test_wait_for_connection_on_a_running_agent_waits_only_its_delay() -> None:
    started = time.monotonic()
    result = run_op("wait_for_connection", {"delay": 1, "timeout": 5})
    assert result.status == "ok" and result.data["elapsed"] == 1
    assert 1 <= time.monotonic() - started < 3
    assert run_op("wait_for_connection", {}, check=True).status == "skipped"
    assert canonical_op("ansible.legacy.wait_for_connection") == "wait_for_connection"


def test_the_plan_ships_a_project_archive_and_nothing_with_remote_src(tmp_path: Path) -> None:
    from test_plan import one_task
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "app.tgz").write_bytes(tar_bytes(TREE))
    plan = one_task(tmp_path, """
        - unarchive: {src: app.tgz, dest: /opt}
        - ansible.builtin.unarchive: {src: /srv/app.tgz, dest: /opt, remote_src: true}
        """)
    shipped_args, remote_args = plan.steps[0]["args"], plan.steps[1]["args"]
    assert plan.blobs[shipped_args["content_sha"]] == (tmp_path / "files/app.tgz").read_bytes()
    assert shipped_args["src"] == "files/app.tgz"
    assert remote_args["src"] == "/srv/app.tgz" and "content_sha" not in remote_args
    assert len(plan.blobs) == 1


@pytest.mark.parametrize("size", [1, 7, 65536])
def test_io_buffer_size_is_the_chunk_a_file_is_compared_in(tmp_path: Path, size: int,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from mainsail.agent import safepath
    seen: List[int] = []
    real = safepath.iter_chunks

    def spy(path: str, chunk: int = 1 << 20):  # type: ignore[no-untyped-def]
        seen.append(chunk)
        return real(path, chunk)
    monkeypatch.setattr(safepath, "iter_chunks", spy)
    body = b"x" * 100 + b"tail\n"
    data = tar_bytes([("big", body)])
    args = shipped(tmp_path, data, io_buffer_size=size)
    assert run_op("unarchive", args, blobs=[data]).status == "changed"
    assert run_op("unarchive", args, blobs=[data]).status == "ok"
    assert seen == [size]
    (tmp_path / "big").write_bytes(b"x" * 100 + b"TAIL\n")  # same size, last chunk differs
    again = run_op("unarchive", args, blobs=[data], check=True)
    assert again.status == "changed" and "+" + "x" * 100 + "tail" in again.diff
    assert (tmp_path / "big").read_bytes().endswith(b"TAIL\n")  # check mode wrote nothing
    assert run_op("unarchive", args, blobs=[data]).status == "changed"
    assert (tmp_path / "big").read_bytes() == body


def test_io_buffer_size_is_a_positive_int() -> None:
    spec = OPS["unarchive"]
    assert coerce_args(spec, {"src": "a.tgz", "dest": "/x"})["io_buffer_size"] == 65536
    assert coerce_args(spec, {"src": "a.tgz", "dest": "/x", "io_buffer_size": "4096"}
                       )["io_buffer_size"] == 4096
    for bad in (0, -1, "many"):
        with pytest.raises(BadInput):
            coerce_args(spec, {"src": "a.tgz", "dest": "/x", "io_buffer_size": bad})
