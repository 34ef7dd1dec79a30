"""mount on a temp fstab and mountinfo, with fake mount and umount."""
from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.agent.ops import mount
from mainsail.errors import BadInput
from mainsail.opspec import OPS, coerce_args
from test_agent_support import calls, fake_command, make_bindir, run_op

INFO = ("22 1 0:21 / / rw,relatime - overlay overlay rw\n"
        "40 22 0:35 / /srv/old\\040space rw,nosuid - tmpfs tmpfs rw,size=1024k\n")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "mountinfo").write_text(INFO)
    (tmp_path / "fstab").write_text("# static\nUUID=abc\t/\text4\terrors=remount-ro\t0\t1\n")
    monkeypatch.setattr(mount, "MOUNTINFO", str(tmp_path / "mountinfo"))
    bindir = make_bindir(tmp_path, monkeypatch)
    fake_command(bindir, "mount")
    fake_command(bindir, "umount")
    return tmp_path


def scratch(env: Path, **kw: object) -> dict:
    base = {"path": str(env / "scratch"), "src": "tmpfs", "fstype": "tmpfs",
            "opts": "size=64m", "state": "mounted", "fstab": str(env / "fstab")}
    base.update(kw)
    return base


def test_mounted_writes_fstab_makes_the_point_and_mounts(env: Path) -> None:
    out = run_op("mount", scratch(env))
    assert out.status == "changed", out.msg
    assert (env / "fstab").read_text().splitlines()[-1] == \
        "tmpfs\t%s\ttmpfs\tsize=64m\t0\t0" % (env / "scratch")
    assert (env / "scratch").is_dir()
    assert calls(env / "bin") == ["mount -T %s -- %s" % (env / "fstab", env / "scratch")]
    (env / "mountinfo").write_text(INFO + "41 22 0:36 / %s rw - tmpfs tmpfs rw\n"
                                   % (env / "scratch"))
    assert run_op("mount", scratch(env)).status == "ok"
    # a changed line of a mounted path remounts it
    assert run_op("mount", scratch(env, opts="size=128m")).status == "changed"
    assert calls(env / "bin")[-1] == "mount -o remount -- %s" % (env / "scratch")


def test_present_only_writes_and_check_mode_nothing(env: Path) -> None:
    before = (env / "fstab").read_text()
    assert run_op("mount", scratch(env, state="present"), check=True).status == "changed"
    assert (env / "fstab").read_text() == before
    out = run_op("mount", scratch(env, state="present", boot=False))
    assert out.status == "changed" and "size=64m,noauto" in (env / "fstab").read_text()
    assert calls(env / "bin") == [] and "+tmpfs" in out.diff


def test_absent_unmounts_removes_the_line_and_the_empty_point(env: Path) -> None:
    point = env / "scratch"
    point.mkdir()
    (env / "fstab").write_text("tmpfs %s tmpfs defaults 0 0\n# kept\n" % point)
    (env / "mountinfo").write_text(INFO + "41 22 0:36 / %s rw - tmpfs tmpfs rw\n" % point)
    out = run_op("mount", {"path": str(point), "state": "absent", "fstab": str(env / "fstab")})
    assert out.status == "changed"
    assert (env / "fstab").read_text() == "# kept\n" and not point.exists()
    assert calls(env / "bin") == ["umount -- %s" % point]


def test_spaces_are_escaped_and_read_back(env: Path) -> None:
    assert mount.mounted_paths(str(env / "mountinfo"))["/srv/old space"][1] == "tmpfs"
    assert mount.escape("/srv/old space") == "/srv/old\\040space"
    assert run_op("mount", {"path": "/srv/old space", "state": "unmounted",
                            "fstab": str(env / "fstab")}).status == "changed"
    assert calls(env / "bin") == ["umount -- /srv/old space"]


def test_refusals() -> None:
    with pytest.raises(BadInput, match="needs src and fstype"):
        coerce_args(OPS["mount"], {"path": "/mnt/x"}, "site.yml:3")
    with pytest.raises(BadInput, match="must be absolute"):
        coerce_args(OPS["mount"], {"path": "mnt", "state": "unmounted"})
    with pytest.raises(BadInput, match="must not contain spaces"):
        coerce_args(OPS["mount"], {"path": "/m", "src": "tmpfs", "fstype": "tmpfs",
                                   "opts": "a b"})
