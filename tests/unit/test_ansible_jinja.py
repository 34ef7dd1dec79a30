"""Jinja as Ansible sets it up: trim_blocks on, the ``#jinja2:`` header, Ansible's filters,
tests and lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.render import make_env, render_template, render_value


def bad(call: object) -> BadInput:
    with pytest.raises(BadInput) as info:
        call()  # type: ignore[operator]
    return info.value


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    return tmp_path / "templates"


def render_file(folder: Path, text: str, variables: dict[str, object] | None = None) -> str:
    (folder / "t.j2").write_text(text)
    return render_template("t.j2", variables or {}, search_path=[folder],
                           root=folder.parent, where="tasks/main.yml:1")


# ---------------------------------------------------------------------------- templates

def test_a_block_tag_eats_the_newline_after_it_as_in_ansible(folder: Path) -> None:
    text = "{% if on %}\nHello\n{% endif %}\nBye\n"
    assert render_file(folder, text, {"on": True}) == "Hello\nBye\n"
    assert render_value("{% for x in [1, 2] %}\n{{ x }}\n{% endfor %}\n", {}) == "1\n2\n"


def test_a_header_turns_trim_blocks_off(folder: Path) -> None:
    text = "#jinja2:trim_blocks:False\n{% if on %}\nHello\n{% endif %}\nBye\n"
    assert render_file(folder, text, {"on": True}) == "\nHello\n\nBye\n"


def test_a_header_sets_lstrip_blocks_and_the_newline_sequence(folder: Path) -> None:
    text = "#jinja2: lstrip_blocks: True, newline_sequence: '\\r\\n'\n" \
           "  {% if on %}\nHello\n  {% endif %}\nBye\n"
    assert render_file(folder, text, {"on": True}) == "Hello\r\nBye\r\n"


def test_a_header_changes_the_delimiters(folder: Path) -> None:
    text = "#jinja2:variable_start_string:'[%', variable_end_string:'%]'\n[% x %] {{ x }}\n"
    assert render_file(folder, text, {"x": 1}) == "1 {{ x }}\n"


def test_errors_in_a_template_with_a_header_name_the_files_own_line(folder: Path) -> None:
    err = bad(lambda: render_file(folder, "#jinja2:trim_blocks:False\nok\n{{ nope }}\n"))
    assert "'nope'" in str(err) and err.where == "templates/t.j2:3"
    err = bad(lambda: render_file(folder, "#jinja2:trim_blocks:False\nok\n{{ x \n"))
    assert err.where == "templates/t.j2:3"


@pytest.mark.parametrize("header", [
    "#jinja2:bogus_key:''", "#jinja2:variable_start_string:2", "#jinja2:",
    "#jinja2:trim_blocks:maybe", "#jinja2:newline_sequence:'\\n\\r'",
    "#jinja2:variable_start_string:'{%'",
])
def test_a_bad_header_is_refused_at_its_line(folder: Path, header: str) -> None:
    err = bad(lambda: render_file(folder, header + "\nHello\n"))
    assert "#jinja2:" in str(err) and err.where == "templates/t.j2:1"


def test_a_header_without_a_newline_is_refused(folder: Path) -> None:
    assert "newline" in str(bad(lambda: render_file(folder, "#jinja2:trim_blocks:False")))


def lookup_env(folder: Path):  # type: ignore[no-untyped-def]
    return make_env([folder], folder.parent)


def test_the_template_lookup_takes_ansibles_options(folder: Path) -> None:
    env = lookup_env(folder)
    (folder / "t.j2").write_text("{% if 1 %}\nHello [% who %]\n{% endif %}\n")
    (folder / "c.j2").write_text("[# note #]Hello\n")
    assert render_value("{{ lookup('template', 't.j2') }}", {"who": "x"}, env=env) == \
        "Hello [% who %]\n"
    assert render_value("{{ lookup('template', 't.j2', trim_blocks=False, "
                        "variable_start_string='[%', variable_end_string='%]') }}",
                        {"who": "x"}, env=env) == "\nHello x\n\n"
    assert render_value("{{ lookup('template', 'c.j2', comment_start_string='[#', "
                        "comment_end_string='#]') }}", {}, env=env) == "Hello\n"
    assert render_value("{{ lookup('template', 't.j2', template_vars={'who': 'y'}, "
                        "variable_start_string='[%', variable_end_string='%]') }}",
                        {"who": "x"}, env=env) == "Hello y\n"


def test_the_template_lookup_reads_the_header_and_includes_beside_it(folder: Path) -> None:
    env = lookup_env(folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "h.j2").write_text("#jinja2:trim_blocks:False\n{% if 1 %}\n"
                                         "{% include 'w.txt' %}\n{% endif %}\n")
    (folder / "sub" / "w.txt").write_text("world")
    assert render_value("{{ lookup('template', 'sub/h.j2') }}", {}, env=env) == "\nworld\n\n"


def test_a_template_lookup_that_renders_nothing_gives_none(folder: Path) -> None:
    env = lookup_env(folder)
    (folder / "none.j2").write_text("{# nothing #}")
    assert render_value("{{ lookup('template', 'none.j2') is none }}", {}, env=env) is True


def test_the_template_lookup_refuses_an_unknown_option(folder: Path) -> None:
    env = lookup_env(folder)
    (folder / "t.j2").write_text("x")
    err = bad(lambda: render_value("{{ lookup('template', 't.j2', bogus=1) }}", {}, env=env))
    assert "bogus" in str(err)
