"""A run whose agent died mid-transaction (killed, host down) is rolled back by the next run."""

from __future__ import annotations

from pathlib import Path

from mainsail.agent import journal, txn


def half_done(state: Path, run: str, name: str, target: Path, old: str, new: str,
              finished: bool = False) -> Path:
    target.write_text(old)
    book = journal.Journal(str(state / "journal" / run / name))
    book.save(str(target))
    target.write_text(new)
    if finished:
        book.write_meta({"txn": name, "handlers": []})
    return Path(book.folder)


def test_the_last_runs_unfinished_transaction_is_rolled_back_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = half_done(state, "20260101T000000Z-1", "000-common", tmp_path / "a", "a0", "a1",
                     finished=True)
    cut = half_done(state, "20260101T000000Z-1", "001-app", tmp_path / "b", "b0", "b1")
    record = txn.recover_unfinished(str(state))
    assert record is not None and record["run"] == "20260101T000000Z-1"
    assert record["rollbacks"][0]["restored"] == [str(tmp_path / "b")]
    assert (tmp_path / "b").read_text() == "b0"  # the cut transaction: restored
    assert (tmp_path / "a").read_text() == "a1"  # the finished one: kept
    assert Path(str(cut) + ".rolled-back").is_dir() and done.is_dir()
    assert txn.recover_unfinished(str(state)) is None


def test_only_the_newest_run_is_recovered(tmp_path: Path) -> None:
    state = tmp_path / "state"
    half_done(state, "20260101T000000Z-1", "000-app", tmp_path / "old", "o0", "o1")
    half_done(state, "20260102T000000Z-2", "000-app", tmp_path / "new", "n0", "n1",
              finished=True)
    assert txn.recover_unfinished(str(state)) is None
    assert (tmp_path / "old").read_text() == "o1"


def replaced(state: Path, run: str, name: str, target: Path) -> journal.Journal:
    """A transaction that replaced target as every write does (the old file kept beside)."""
    from mainsail.agent import fileio
    target.write_text("old")
    book = journal.Journal(str(state / "journal" / run / name))
    fileio.atomic_write(str(target), b"new", journal=book)
    return book


def test_a_replaced_file_is_kept_beside_until_its_transaction_ends(tmp_path: Path) -> None:
    book = replaced(tmp_path / "state", "20260101T000000Z-1", "000-app", tmp_path / "a")
    kept = [p for p in tmp_path.iterdir() if p.name.endswith(journal.KEEP_SUFFIX)]
    assert [p.read_text() for p in kept] == ["old"]  # the old file itself, not a copy
    book.write_meta({"txn": "app", "handlers": []})
    journal.drop_keeps(book.folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "state"]
    assert journal.restore(book.folder) == [str(tmp_path / "a")]  # `inv rollback` still can
    assert (tmp_path / "a").read_text() == "old"


def test_the_next_run_removes_what_a_committed_but_cut_transaction_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    book = replaced(state, "20260101T000000Z-1", "000-app", tmp_path / "a")
    book.write_meta({"txn": "app", "handlers": []})  # and the agent died here
    assert txn.recover_unfinished(str(state)) is None  # nothing to roll back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "state"]
    assert (tmp_path / "a").read_text() == "new"


def test_a_rollback_puts_the_kept_file_itself_back(tmp_path: Path) -> None:
    target = tmp_path / "a"
    book = replaced(tmp_path / "state", "20260101T000000Z-1", "000-app", target)
    kept = next(p for p in tmp_path.iterdir() if p.name.endswith(journal.KEEP_SUFFIX))
    inode = kept.stat().st_ino
    assert txn.recover_unfinished(str(tmp_path / "state")) is not None
    assert target.read_text() == "old" and target.stat().st_ino == inode  # renamed, not written
    assert not kept.exists()
