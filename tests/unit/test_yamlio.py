"""YAML loading: safe, positions kept, hostile input refused with file:line:column."""

from pathlib import Path

import pytest

from mainsail.errors import BadInput
from mainsail.yamlio import (MAX_FILE_BYTES, OctInt, Unsafe, YDict, YList, display_path,
                             load_yaml, load_yaml_text, loc_of)


def load(text: str) -> object:
    return load_yaml_text(text, "site.yml")


def error_of(text: str) -> BadInput:
    with pytest.raises(BadInput) as info:
        load(text)
    return info.value


# ---------------------------------------------------------------------------- positions

def test_mappings_and_sequences_load_as_plain_dicts_and_lists() -> None:
    data = load("a: 1\nb: [x, y]\n")
    assert data == {"a": 1, "b": ["x", "y"]}
    assert isinstance(data, YDict) and isinstance(data["b"], YList)


def test_each_mapping_knows_where_it_starts_and_where_each_key_is() -> None:
    data = load("top: 1\nweb:\n  port: 80\n  name: x\n")
    assert loc_of(data) == "site.yml:1:1"
    assert loc_of(data, "web") == "site.yml:2:1"
    assert loc_of(data["web"], "name") == "site.yml:4:3"
    assert loc_of(data["web"], "name", col=False) == "site.yml:4"


def test_each_sequence_item_has_a_position() -> None:
    data = load("tasks:\n  - a\n  - b\n")
    assert loc_of(data["tasks"], 1) == "site.yml:3:5"


def test_an_unknown_key_falls_back_to_the_mapping_position() -> None:
    data = load("\n\nx: 1\n")
    assert loc_of(data, "nope") == "site.yml:3:1"


def test_plain_values_have_no_position() -> None:
    assert loc_of("text") == ""


def test_positions_name_the_file_relative_to_the_project_root(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    path = tmp_path / "playbooks" / "site.yml"
    path.write_text("- hosts: all\n")
    data = load_yaml(path, root=tmp_path)
    assert loc_of(data[0], "hosts") == "playbooks/site.yml:1:3"


def test_a_path_outside_the_root_is_shown_as_given(tmp_path: Path) -> None:
    assert display_path("/etc/hosts", tmp_path) == "/etc/hosts"


# ---------------------------------------------------------------------------- values

def test_octal_numbers_are_marked_so_modes_can_tell_them_apart() -> None:
    data = load("a: 0644\nb: 644\n")
    assert data == {"a": 0o644, "b": 644}
    assert isinstance(data["a"], OctInt) and not isinstance(data["b"], OctInt)


def test_dates_stay_text() -> None:
    assert load("released: 2024-01-31\n") == {"released": "2024-01-31"}


def test_unsafe_tag_marks_strings_that_must_not_be_rendered() -> None:
    value = load("a: !unsafe '{{ raw }}'\n")["a"]
    assert value == "{{ raw }}" and isinstance(value, Unsafe)


def test_merge_keys_work_and_explicit_keys_win() -> None:
    data = load("base: &b {x: 1, y: 1}\nmine:\n  <<: *b\n  x: 2\n")
    assert data["mine"] == {"x": 2, "y": 1}


def test_an_empty_file_is_none() -> None:
    assert load("") is None


# ---------------------------------------------------------------------------- refused input

def test_a_duplicate_key_names_both_lines() -> None:
    err = error_of("name: a\nhosts: all\nname: b\n")
    assert err.where == "site.yml:3:1"
    assert "duplicate key 'name'" in err.what
    assert "line 1" in err.what and "line 3" in err.what


def test_a_duplicate_key_in_a_nested_mapping_is_found_too() -> None:
    err = error_of("- apt:\n    name: x\n    name: y\n")
    assert err.where == "site.yml:3:5"


def test_a_syntax_error_names_line_column_and_the_parser_problem() -> None:
    err = error_of("a: 1\nb: [1, 2\nc: 3\n")
    assert err.where.startswith("site.yml:3:")
    assert "YAML syntax error" in err.what and "expected ',' or ']'" in err.what


def test_tabs_get_a_hint() -> None:
    err = error_of("a:\n\t- 1\n")
    assert err.where == "site.yml:2:1"
    assert "tabs" in err.hint


def test_python_tags_are_refused() -> None:
    err = error_of("a: !!python/object/apply:os.system ['true']\n")
    assert err.where == "site.yml:1:4"
    assert "constructor for the tag" in err.what


def test_vault_values_load_undecrypted_with_their_position() -> None:
    from mainsail.yamlio import Vaulted
    data = load_yaml_text("a: 1\npassword: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n", "v.yml")
    assert isinstance(data["password"], Vaulted) and str(data["password"].pos) == "v.yml:2:11"
    assert data["password"].text.startswith("$ANSIBLE_VAULT;1.1;AES256\n")


def test_vault_on_anything_but_a_vault_text_is_refused_with_a_hint() -> None:
    err = error_of("password: !vault [1]\n")
    assert "!vault must tag an Ansible Vault text" in err.what and "encrypt_string" in err.hint


def test_a_mapping_key_that_is_a_list_is_refused() -> None:
    assert "plain value" in error_of("? [1, 2]\n: x\n").what


def test_several_documents_in_one_file_are_refused() -> None:
    assert "single document" in error_of("a: 1\n---\nb: 2\n").what


def test_a_recursive_alias_is_refused() -> None:
    assert "refers to itself" in error_of("a: &a [*a]\n").what


def test_an_alias_bomb_is_refused() -> None:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 8)]
    assert "alias bomb" in error_of("\n".join(lines) + "\n").what


def test_control_characters_are_refused_with_the_line() -> None:
    err = error_of("a: 1\nb: \x07\n")
    assert err.where == "site.yml:2"


def test_binary_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_bytes(b"\x7fELF\x02\x01\x00\x00")
    with pytest.raises(BadInput, match="binary"):
        load_yaml(path)


def test_non_utf8_files_are_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(BadInput, match="not UTF-8") as info:
        load_yaml(path, tmp_path)
    assert info.value.where == "x.yml:2"


def test_huge_files_are_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    with path.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(BadInput, match="too large"):
        load_yaml(path)


def test_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not found") as info:
        load_yaml(tmp_path / "nope.yml", tmp_path)
    assert info.value.where == "nope.yml"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_yaml(path) == {"a": 1}


def test_libyaml_and_pythons_parser_give_the_same_values_and_positions(monkeypatch):
    """libyaml reads first (6x faster on a 100-host inventory); the result, positions
    included, is what PyYAML's own parser gives."""
    from pathlib import Path
    from mainsail import yamlio
    if yamlio._FastLoader is None:
        return  # a PyYAML without libyaml: only the Python parser
    repo = Path(__file__).resolve().parents[2]

    def shape(value):
        if isinstance(value, dict):
            return ("map", str(value.pos), {k: (str(value.key_pos[k]), shape(v))
                                             for k, v in value.items()})
        if isinstance(value, list):
            return ("seq", str(value.pos), [(str(p), shape(v))
                                            for p, v in zip(value.item_pos, value)])
        return (type(value).__name__, value)
    files = sorted(repo.glob("roles/**/*.yml")) + sorted(repo.glob("inventory/**/*.yml")) + \
        sorted(repo.glob("playbooks/*.yml"))
    assert files
    for path in files:
        text = path.read_text()
        fast = shape(yamlio.load_yaml_text(text, path.name))
        monkeypatch.setattr(yamlio, "_FastLoader", None)
        assert shape(yamlio.load_yaml_text(text, path.name)) == fast, path
        monkeypatch.undo()


def test_what_libyaml_refuses_is_reported_in_pythons_parsers_words():
    import pytest
    from mainsail.errors import BadInput
    from mainsail.yamlio import load_yaml_text
    with pytest.raises(BadInput) as caught:
        load_yaml_text("a: 1\n\tb: 2\n", "x.yml")
    assert "tabs" in caught.value.hint
    with pytest.raises(BadInput) as caught:
        load_yaml_text("a: 1\na: 2\n", "x.yml")
    assert "duplicate key 'a'" in str(caught.value)


def test_a_relative_path_is_shown_from_where_it_is_read(tmp_path: Path, monkeypatch) -> None:
    """display_path remembers its answers; a relative path's answer depends on the folder."""
    (tmp_path / "a" / "x").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert display_path("x/f.yml", tmp_path) == "a/x/f.yml"
    monkeypatch.chdir(tmp_path / "b")
    assert display_path("x/f.yml", tmp_path) == "b/x/f.yml"
