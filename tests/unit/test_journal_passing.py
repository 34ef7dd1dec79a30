"""The journal is passed to the ops that write (Context.journal), never held by the module."""
from __future__ import annotations

from pathlib import Path

from mainsail.agent import journal
from mainsail.agent.core import Context
from mainsail.agent.main import execute_step


def copy_step(dest: Path, text: str) -> dict:
    return {"id": 1, "op": "copy", "args": {"dest": str(dest), "content": text}}


def test_each_context_records_into_its_own_journal(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text("old a\n")
    second.write_text("old b\n")
    one = journal.Journal(str(tmp_path / "j1"))
    execute_step(Context(journal=one), copy_step(first, "new a\n"))
    execute_step(Context(), copy_step(second, "new b\n"))  # no transaction: nothing recorded
    assert one.paths() == [str(first)]
    journal.restore(one.folder)
    assert first.read_text() == "old a\n" and second.read_text() == "new b\n"


def test_the_journal_module_keeps_no_transaction_of_its_own() -> None:
    assert not [name for name in ("activate", "paused", "save", "created", "_ACTIVE")
                if hasattr(journal, name)]
