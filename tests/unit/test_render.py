"""Rendering: strict, sandboxed Jinja2 whose errors name the template file:line and variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.render import (OMIT, broken, check_expression, eval_condition, make_env,
                             render_string, render_template, render_value)
from mainsail.yamlio import load_yaml_text, loc_of

VARS = {"port": 80, "ports": [80, 443], "name": "web", "flag_off": "false", "flag_on": "yes",
        "conf": {"user": "www"}, "empty": ""}


def bad(call: object) -> BadInput:
    with pytest.raises(BadInput) as info:
        call()  # type: ignore[operator]
    return info.value


@pytest.fixture()
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "roles" / "web" / "templates"
    folder.mkdir(parents=True)
    (tmp_path / "templates").mkdir()
    (folder / "site.conf.j2").write_text("Listen {{ port }}\n# {{ name }}\nUser {{ usr }}\n")
    (folder / "ok.j2").write_text("<{{ name }}> & {{ port }}\n")
    (folder / "outer.j2").write_text("start\n{% include 'inner.j2' %}\n")
    (tmp_path / "templates" / "inner.j2").write_text("one\n{{ missing_inner }}\n")
    (tmp_path / "templates" / "shared.j2").write_text("shared {{ name }}")
    (folder / "broken.j2").write_text("a\n{% if port %}\nno end\n")
    return tmp_path


def render_file(root: Path, name: str, variables: dict[str, object] = VARS) -> str:
    search = [root / "roles" / "web" / "templates", root / "templates"]
    return render_template(name, variables, search_path=search, root=root,
                           where="roles/web/tasks/main.yml:3")


# ---------------------------------------------------------------------------- values

def test_a_lone_expression_keeps_its_type() -> None:
    assert render_value("{{ ports }}", VARS) == [80, 443]
    assert render_value("{{ port }}", VARS) == 80
    assert render_value("{{ port + 1 }}", VARS) == 81


def test_text_around_an_expression_makes_a_string() -> None:
    assert render_value("port {{ port }}", VARS) == "port 80"
    assert render_value("{{ port }}{{ port }}", VARS) == "8080"


def test_a_generator_renders_as_its_list_as_in_ansible_2_19() -> None:
    items = {"xs": [{"a": 1}, {"a": 2}]}
    assert render_value("{{ xs | map(attribute='a') }}", items) == [1, 2]
    assert render_value("x {{ xs | map(attribute='a') }}", items) == "x [1, 2]"
    assert render_value("{{ xs | map(attribute='a') | select('gt', 1) }}", items) == [2]


def test_rendering_walks_lists_and_mappings() -> None:
    assert render_value({"a": ["{{ name }}", 1], "b": {"c": "{{ conf.user }}"}}, VARS) == \
        {"a": ["web", 1], "b": {"c": "www"}}


def test_plain_strings_and_other_values_pass_through() -> None:
    assert render_value("no templates here", VARS) == "no templates here"
    assert render_value(3, VARS) == 3 and render_value(None, VARS) is None


def test_rendered_mappings_keep_their_file_positions() -> None:
    args = load_yaml_text("dest: /etc/x\nmode: '{{ m }}'\n", "tasks.yml")
    assert loc_of(render_value(args, {"m": "0644"}), "mode") == "tasks.yml:2:1"


def test_unsafe_strings_are_never_rendered() -> None:
    value = load_yaml_text("a: !unsafe '{{ port }}'\n")["a"]
    assert render_value(value, VARS) == "{{ port }}"


def test_nothing_is_html_escaped_and_trailing_newlines_stay(templates: Path) -> None:
    assert render_file(templates, "ok.j2") == "<web> & 80\n"


def test_omit_is_available_as_a_placeholder() -> None:
    assert render_value("{{ nope | default(omit) }}", {}) == OMIT


def test_ansible_filters_are_available() -> None:
    assert render_value("{{ 'a b' | quote }}", {}) == "'a b'"
    assert render_value("{{ 'yes' | bool }}", {}) is True
    assert render_value("{{ {'a': 1} | combine({'b': 2}) }}", {}) == {"a": 1, "b": 2}
    assert render_value("{{ 'web-01' | regex_replace('-\\\\d+$', '') }}", {}) == "web"
    assert render_value("{{ {'a': 1} | to_nice_json }}", {}) == '{\n    "a": 1\n}'
    assert render_value("{{ 'x' is match('x') }}", {}) is True


# ---------------------------------------------------------------------------- errors

def test_an_undefined_variable_names_the_variable_and_place() -> None:
    err = bad(lambda: render_value("port {{ prot }}", {"x": 1}, where="site.yml:9"))
    assert err.where == "site.yml:9" and "undefined variable 'prot'" in err.what
    assert "define 'prot'" in err.hint


def test_an_undefined_variable_suggests_a_close_name() -> None:
    err = bad(lambda: render_value("{{ prot }}", VARS, where="site.yml:9"))
    assert err.hint.startswith("did you mean 'port'")


def test_a_missing_key_is_an_error_too() -> None:
    err = bad(lambda: render_value("{{ conf.group }}", VARS, where="site.yml:9"))
    assert "has no attribute 'group'" in err.what


def test_an_undefined_value_inside_a_returned_list_is_an_error() -> None:
    assert "undefined variable 'nope'" in bad(lambda: render_value("{{ [1, nope] }}", {})).what


def test_an_undefined_variable_in_a_template_names_the_file_and_line(templates: Path) -> None:
    err = bad(lambda: render_file(templates, "site.conf.j2"))
    assert err.where == "roles/web/templates/site.conf.j2:3"
    assert "undefined variable 'usr'" in err.what


def test_an_error_in_an_included_template_names_the_included_file(templates: Path) -> None:
    err = bad(lambda: render_file(templates, "outer.j2"))
    assert err.where == "templates/inner.j2:2" and "'missing_inner'" in err.what


def test_a_template_syntax_error_names_the_file_and_line(templates: Path) -> None:
    err = bad(lambda: render_file(templates, "broken.j2"))
    assert err.where.startswith("roles/web/templates/broken.j2:") and "syntax error" in err.what


def test_an_inline_syntax_error_names_the_task() -> None:
    err = bad(lambda: render_value("{{ port + }}", VARS, where="site.yml:4"))
    assert err.where == "site.yml:4" and "syntax error" in err.what


def test_templates_are_found_in_the_role_then_the_project(templates: Path) -> None:
    assert render_file(templates, "shared.j2") == "shared web"


def test_a_missing_template_suggests_the_closest(templates: Path) -> None:
    err = bad(lambda: render_file(templates, "site.conf"))
    assert "template 'site.conf' not found" in err.what and "'site.conf.j2'" in err.hint
    assert err.where == "roles/web/tasks/main.yml:3"


def test_templates_cannot_escape_their_folders(templates: Path) -> None:
    assert "not found" in bad(lambda: render_file(templates, "../../etc/passwd")).what


def test_the_sandbox_blocks_python_internals() -> None:
    err = bad(lambda: render_value("{{ ''.__class__.__mro__ }}", {}, where="x.yml:1"))
    assert "unsafe" in err.what


def test_runtime_errors_become_bad_input() -> None:
    err = bad(lambda: render_value("{{ 1 / 0 }}", {}, where="x.yml:1"))
    assert "ZeroDivisionError" in err.what and err.where == "x.yml:1"


def test_lookups_unknown_are_named_with_the_known_ones() -> None:
    err = bad(lambda: render_value("{{ lookup('dig', 'example.org') }}", {}))
    assert "lookup plugin 'dig' not found" in err.what and "first_found" in err.what


def test_lookup_env_and_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINSAIL_TEST_X", "42")
    assert render_value("{{ lookup('env', 'MAINSAIL_TEST_X') }}", {}) == "42"
    assert render_value("{{ lookup('vars', 'a', default=1) }} {{ q('vars', 'b') }}",
                        {"b": 2}) == "1 [2]"


def test_lookups_take_ansibles_collection_names() -> None:
    assert render_value('{{ query("ansible.builtin.sequence", count=2, start=10) }}', {}) == \
        ["10", "11"]
    assert render_value("{{ lookup('ansible.legacy.vars', 'b') }}", {"b": 3}) == 3


def test_sequence_and_vars_lookups_speak_as_ansibles_do() -> None:
    assert render_value('{{ query("sequence") }}', {}) == []
    assert render_value('{{ query("sequence", "count=3 start=0", stride=0) }}', {}) == []
    # Ansible's arithmetic with count and a negative stride, pinned by its own target
    assert render_value('{{ query("sequence", "count=2 start=0", stride=-1) }}', {}) == \
        ["0", "-1", "-2", "-3"]
    assert "has an invalid value" in bad(lambda: render_value(
        '{{ query("sequence", "start=A end=3") }}', {})).what
    assert "to count forward don't make stride negative" in bad(lambda: render_value(
        '{{ query("sequence", "start=1 end=4 stride=-2") }}', {})).what
    assert "No variable named 'nope' was found" in bad(lambda: render_value(
        '{{ lookup("vars", "nope") }}', {})).what
    assert "Variable name must be 'str' not 'int'" in bad(lambda: render_value(
        '{{ lookup("vars", 42) }}', {})).what


def test_binary_templates_are_refused(templates: Path) -> None:
    (templates / "templates" / "bin.j2").write_bytes(b"\x00\x01")
    assert "binary" in bad(lambda: render_file(templates, "bin.j2")).what


def test_a_broken_variable_raises_its_own_error_when_used() -> None:
    stand_in = broken(BadInput("variable 'x': undefined variable 'y'", "group_vars/all.yml:3"))
    err = bad(lambda: render_string("a {{ x }}", {"x": stand_in}, where="site.yml:1"))
    assert err.where == "group_vars/all.yml:3"
    assert render_value("{{ x | default('d') }}", {"x": stand_in}) == "d"


# ---------------------------------------------------------------------------- conditions

@pytest.mark.parametrize("expr, expected", [
    ("port == 80", True), ("port != 80", False), ("name in ['web', 'db']", True),
    ("nope is defined", False), ("conf.user == 'www'", True), ("ports | length > 1", True),
    (True, True), (False, False), (None, True), (["port == 80", "name == 'web'"], True),
    (["port == 80", "name == 'db'"], False), ("{{ port == 80 }}", True),
])
def test_conditions_follow_ansible_when(expr: object, expected: bool) -> None:
    assert eval_condition(expr, VARS) is expected


def test_a_bare_variable_holding_false_text_is_false() -> None:
    assert eval_condition("flag_off", VARS) is False
    assert eval_condition("flag_on", VARS) is True
    assert eval_condition("empty", VARS) is False


def test_an_undefined_name_in_a_condition_names_the_task() -> None:
    err = bad(lambda: eval_condition("prot == 80", VARS, where="site.yml:7"))
    assert err.where == "site.yml:7" and "'prot'" in err.what and "'port'" in err.hint


def test_a_templated_condition_must_render_to_a_boolean() -> None:
    assert "not true or false" in bad(lambda: eval_condition("{{ name }}", VARS)).what


def test_expression_syntax_is_checked_without_rendering() -> None:
    check_expression("nope == 1 and other is defined")
    assert "syntax error" in bad(lambda: check_expression("a ==", where="s.yml:1")).what


def test_one_environment_can_be_reused() -> None:
    env = make_env()
    assert render_value("{{ a }}", {"a": 1}, env=env) == 1
    assert render_value("{{ a }}", {"a": 2}, env=env) == 2
