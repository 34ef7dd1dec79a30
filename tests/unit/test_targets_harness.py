"""The integration targets' harness (tests/e2e/ansible_targets.py): taking out the tasks a
target cannot pass, by their first line or by FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.ansible_targets import drop_tasks

MAIN = """\
- name: keep one
  debug: msg=1

# a comment
- shell_no_failed:
    cmd: x
  register: y

- name: keep two
  debug: msg=2
"""
OTHER = """\
- block:
  - import_tasks: a.yml

  - import_tasks: b.yml
  - name: inner
    debug:
      msg: 3
- name: last
  debug: msg=4
"""


def test_tasks_are_taken_out_by_their_first_line_or_their_place(tmp_path: Path) -> None:
    (tmp_path / "main.yml").write_text(MAIN)
    (tmp_path / "other.yml").write_text(OTHER)
    drop_tasks(tmp_path / "main.yml", ["- shell_no_failed:", "other.yml:4", "other.yml:8"])
    assert (tmp_path / "main.yml").read_text() == \
        "- name: keep one\n  debug: msg=1\n\n# a comment\n- name: keep two\n  debug: msg=2\n"
    assert (tmp_path / "other.yml").read_text() == (
        "- block:\n  - import_tasks: a.yml\n\n  - name: inner\n    debug:\n      msg: 3\n")


def test_a_place_that_is_no_list_item_or_a_start_found_nowhere_is_an_error(tmp_path: Path
                                                                            ) -> None:
    (tmp_path / "main.yml").write_text(MAIN)
    with pytest.raises(ValueError):
        drop_tasks(tmp_path / "main.yml", ["main.yml:2"])
    with pytest.raises(ValueError):
        drop_tasks(tmp_path / "main.yml", ["- name: nowhere"])
