"""Errors: one line with where, what and hint; documented exit codes."""

import pickle

import pytest

from mainsail.errors import (EXIT_CODES, BadInput, HostFailed, Interrupted, LockHeld,
                             MainsailError, Unreachable)


def test_str_is_where_what_hint_on_one_line() -> None:
    err = BadInput("unknown keyword 'nme'", "playbooks/site.yml:12:5", "did you mean 'name'?")
    assert str(err) == "playbooks/site.yml:12:5: unknown keyword 'nme' (hint: did you mean 'name'?)"


def test_missing_where_and_hint_are_left_out() -> None:
    assert str(BadInput("no inventory")) == "no inventory"
    assert str(BadInput("no inventory", "inventory/hosts.yml")) == "inventory/hosts.yml: no inventory"


def test_multi_line_text_is_folded_into_one_line() -> None:
    err = BadInput("first\n  second", "host web1, task 'x'", "a\nb")
    assert "\n" not in str(err)
    assert str(err) == "host web1, task 'x': first second (hint: a b)"


def test_fields_are_kept() -> None:
    err = HostFailed("apt failed", "host web1, task 'install apache'", "see stderr")
    assert (err.what, err.where, err.hint) == ("apt failed", "host web1, task 'install apache'",
                                               "see stderr")


@pytest.mark.parametrize("cls, code", [(BadInput, 4), (HostFailed, 2), (Unreachable, 3),
                                       (LockHeld, 5), (Interrupted, 130)])
def test_each_error_has_its_documented_exit_code(cls: type[MainsailError], code: int) -> None:
    assert cls("x").exit_code == code
    assert issubclass(cls, MainsailError)


def test_exit_code_table_is_the_documented_one() -> None:
    assert dict(EXIT_CODES) == {"ok": 0, "host_failed": 2, "unreachable": 3, "bad_input": 4,
                                "lock_held": 5, "plan_changes": 8, "interrupted": 130}


def test_exit_code_table_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        EXIT_CODES["ok"] = 1  # type: ignore[index]


def test_errors_survive_pickling_between_processes() -> None:
    err = pickle.loads(pickle.dumps(Unreachable("timed out", "host web1", "is it up?")))
    assert isinstance(err, Unreachable) and str(err) == "host web1: timed out (hint: is it up?)"
