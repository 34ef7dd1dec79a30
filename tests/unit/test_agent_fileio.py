"""fileio: atomic writes that keep owner and mode, validate without a shell, diffs."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mainsail.agent import fileio
from mainsail.agent.core import OpError

NOBODY = 65534


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder: Path) -> list:
    return [p.name for p in folder.iterdir() if "mainsail-tmp" in p.name]


def test_a_new_file_gets_the_content_and_mode_0644(tmp_path: Path) -> None:
    target = tmp_path / "new.conf"
    fileio.atomic_write(str(target), b"a = 1\n")
    assert target.read_bytes() == b"a = 1\n"
    assert mode_of(target) == 0o644
    assert leftovers(tmp_path) == []


def test_an_existing_file_keeps_its_owner_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret.conf"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    os.chown(target, NOBODY, NOBODY)
    fileio.atomic_write(str(target), b"new\n")
    st = os.stat(target)
    assert target.read_text() == "new\n"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, NOBODY, NOBODY)


def test_given_owner_and_mode_win(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    fileio.atomic_write(str(target), b"y", mode="0640", owner="nobody", group=str(NOBODY))
    st = os.stat(target)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, NOBODY, NOBODY)


def test_the_file_is_replaced_not_rewritten_in_place(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    inode = os.stat(target).st_ino
    with open(target) as reader:  # a reader holding the old file still sees the old bytes
        fileio.atomic_write(str(target), b"new")
        assert reader.read() == "old"
    assert os.stat(target).st_ino != inode


def test_a_failed_validate_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("good\n")
    with pytest.raises(OpError, match="validation failed") as err:
        fileio.atomic_write(str(target), b"bad\n", validate="grep -q good %s")
    assert err.value.rc == 1
    assert target.read_text() == "good\n"
    assert leftovers(tmp_path) == []


def test_validate_sees_the_new_content_at_the_temp_path(tmp_path: Path) -> None:
    target = tmp_path / "f"
    fileio.atomic_write(str(target), b"good\n", validate="grep -q good %s")
    assert target.read_text() == "good\n"


def test_validate_quotes_the_temp_path_and_never_uses_a_shell(tmp_path: Path) -> None:
    folder = tmp_path / "it's a folder"
    folder.mkdir()
    fileio.atomic_write(str(folder / "f"), b"x", validate="test -f %s")
    assert (folder / "f").read_bytes() == b"x"
    # through a shell "false; true" would succeed; as one argv it is no program at all
    with pytest.raises(OpError, match="validation failed"):
        fileio.atomic_write(str(folder / "g"), b"x", validate="false; true %s")
    assert not (folder / "g").exists()


def test_validate_without_a_placeholder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OpError, match="%s"):
        fileio.atomic_write(str(tmp_path / "f"), b"x", validate="true")


def test_a_missing_parent_folder_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(OpError) as err:
        fileio.atomic_write(str(tmp_path / "nope" / "f"), b"x")
    assert "does not exist" in err.value.msg and "state: directory" in err.value.hint


def test_writing_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_text("old")
    link = tmp_path / "link"
    link.symlink_to(real)
    fileio.atomic_write(str(link), b"new")
    assert link.is_symlink() and real.read_text() == "new"


@pytest.mark.parametrize("given,expected", [
    ("0644", 0o644), ("644", 0o644), ("0o755", 0o755), ("01777", 0o1777), (0o600, 0o600), (None, None)])
def test_parse_mode(given: object, expected: object) -> None:
    assert fileio.parse_mode(given) == expected


@pytest.mark.parametrize("text, current, is_dir, want", [
    ("u+rwx", 0o400, False, 0o700), ("go-w", 0o666, False, 0o644), ("a=r", 0o777, False, 0o444),
    ("u=rw,g=r,o=", 0o777, False, 0o640), ("+X", 0o644, True, 0o755), ("+X", 0o644, False, 0o644),
    ("u+s,o+t", 0o755, True, 0o5755)])
def test_parse_mode_applies_a_symbolic_mode_to_the_current_one(
        text: str, current: int, is_dir: bool, want: int) -> None:
    assert fileio.parse_mode(text, current, is_dir) == want


@pytest.mark.parametrize("bad", ["u+rwz", "999", "77777", True])
def test_parse_mode_refuses_non_octal(bad: object) -> None:
    with pytest.raises(OpError):
        fileio.parse_mode(bad)


def test_unknown_owner_is_an_error_naming_it() -> None:
    with pytest.raises(OpError, match="no such user: no-such-user-xyz"):
        fileio.resolve_uid("no-such-user-xyz")


def test_digests(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"abc")
    assert fileio.sha256_file(str(target)) == fileio.sha256_bytes(b"abc") == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert fileio.sha256_file(str(tmp_path / "missing")) is None
    assert fileio.sha256_file(str(tmp_path)) is None


def test_unified_diff_of_text() -> None:
    diff = fileio.unified_diff(b"a\nb\nc\n", b"a\nB\nc\n", "/etc/x")
    assert diff.startswith("--- before: /etc/x\n+++ after: /etc/x\n")
    assert "-b\n" in diff and "+B\n" in diff and " a\n" in diff


def test_unified_diff_equal_is_empty_and_absent_is_named() -> None:
    assert fileio.unified_diff(b"same", b"same", "/x") == ""
    assert "(absent)" in fileio.unified_diff(None, b"new\n", "/x")


def test_unified_diff_shows_a_missing_final_newline() -> None:
    diff = fileio.unified_diff(b"a\n", b"a", "/x")
    assert "No newline at end of file" in diff


def test_unified_diff_of_binary_files_only_says_they_differ() -> None:
    assert fileio.unified_diff(b"\x00\x01", b"\x00\x02", "/bin/x") == \
        "Binary files before/bin/x and after/bin/x differ\n"
    assert "Binary" in fileio.unified_diff(b"text\n", b"\xff\xfe", "/x")


def test_unified_diff_is_capped() -> None:
    before = "".join("line %d\n" % i for i in range(5000)).encode()
    diff = fileio.unified_diff(before, b"", "/x", cap=1000)
    assert len(diff) < 1100 and "diff truncated" in diff


def test_temp_files_a_killed_run_left_are_removed_by_the_next_write(tmp_path):
    """An agent killed between creating its temp file and the rename leaves the temp file;
    the next write of the same file removes it. A look-alike owned by another user stays."""
    import os
    from mainsail.agent import fileio
    target = tmp_path / "app.conf"
    target.write_text("old\n")
    left = tmp_path / ".app.conf.0123456789abcdef.mainsail-tmp"
    left.write_text("half")
    planted = tmp_path / ".app.conf.fedcba9876543210.mainsail-tmp"
    planted.write_text("someone else's")
    os.chown(planted, 65534, 65534)
    other = tmp_path / ".other.conf.0123456789abcdef.mainsail-tmp"
    other.write_text("another file's")
    fileio.atomic_write(str(target), b"new\n")
    assert target.read_text() == "new\n"
    assert not left.exists() and planted.exists() and other.exists()
