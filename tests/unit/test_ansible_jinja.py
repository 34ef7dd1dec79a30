"""Jinja as Ansible sets it up: trim_blocks on, the ``#jinja2:`` header, Ansible's filters,
tests and lookups."""

from __future__ import annotations

import json
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
                        {"who": "x"}, env=env) == "\nHello x\n"
    assert render_value("{{ lookup('template', 'c.j2', comment_start_string='[#', "
                        "comment_end_string='#]') }}", {}, env=env) == "Hello\n"
    assert render_value("{{ lookup('template', 't.j2', template_vars={'who': 'y'}, "
                        "variable_start_string='[%', variable_end_string='%]') }}",
                        {"who": "x"}, env=env) == "Hello y\n"
    (folder / "none.j2").write_text("{# only a comment, its newline trimmed #}\n")
    assert render_value("{{ lookup('template', 'none.j2') is none }}", {}, env=env) is True


def test_the_template_lookup_reads_the_header_and_includes_beside_it(folder: Path) -> None:
    env = lookup_env(folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "h.j2").write_text("#jinja2:trim_blocks:False\n{% if 1 %}\n"
                                         "{% include 'w.txt' %}\n{% endif %}\n")
    (folder / "sub" / "w.txt").write_text("world")
    assert render_value("{{ lookup('template', 'sub/h.j2') }}", {}, env=env) == "\nworld\n"


def test_a_template_lookup_that_renders_nothing_gives_none(folder: Path) -> None:
    env = lookup_env(folder)
    (folder / "none.j2").write_text("{# nothing #}")
    assert render_value("{{ lookup('template', 'none.j2') is none }}", {}, env=env) is True


def test_the_template_lookup_refuses_an_unknown_option(folder: Path) -> None:
    env = lookup_env(folder)
    (folder / "t.j2").write_text("x")
    err = bad(lambda: render_value("{{ lookup('template', 't.j2', bogus=1) }}", {}, env=env))
    assert "bogus" in str(err)


# ---------------------------------------------------------------------------- filters

def r(expr: str, variables: dict[str, object] | None = None) -> object:
    return render_value("{{ " + expr + " }}", variables or {})


def test_set_filters_keep_order_and_drop_duplicates() -> None:
    assert r("[1, 2, 2, 3] | union([3, 4, 1])") == [1, 2, 3, 4]
    assert r("[1, 2, 2, 3] | intersect([3, 2, 9])") == [2, 3]
    assert r("[1, 2, 2, 3] | difference([3])") == [1, 2]
    assert r("[1, 2, 3] | symmetric_difference([3, 4])") == [1, 2, 4]
    assert r("[{'a': 1}, {'a': 1}, {'b': 2}] | unique") == [{"a": 1}, {"b": 2}]
    assert r("['a', 'A', 'b'] | unique") == ["a", "b"]
    assert r("['a', 'A', 'b'] | unique(case_sensitive=true)") == ["a", "A", "b"]


def test_zip_and_zip_longest_pair_lists() -> None:
    assert r("[1, 2, 3] | zip(['a', 'b']) | list") == [[1, "a"], [2, "b"]]
    assert r("[1, 2] | zip_longest(['a'], fillvalue='-') | list") == [[1, "a"], [2, "-"]]


def test_combine_merges_recursively_and_by_list_merge() -> None:
    low = {"a": {"x": 1, "l": [1, 2]}, "b": 1}
    high = {"a": {"y": 2, "l": [2, 3]}}
    v = {"low": low, "high": high}
    assert r("low | combine(high)", v) == {"a": {"y": 2, "l": [2, 3]}, "b": 1}
    assert r("low | combine(high, recursive=true)", v) == \
        {"a": {"x": 1, "y": 2, "l": [2, 3]}, "b": 1}
    merged = {how: r(f"low | combine(high, recursive=true, list_merge='{how}')", v)
              for how in ("keep", "append", "prepend", "append_rp", "prepend_rp")}
    assert {how: m["a"]["l"] for how, m in merged.items()} == {  # type: ignore[index]
        "keep": [1, 2], "append": [1, 2, 2, 3], "prepend": [2, 3, 1, 2],
        "append_rp": [1, 2, 3], "prepend_rp": [2, 3, 1]}
    assert r("[{'a': 1}, {'b': 2}] | combine") == {"a": 1, "b": 2}
    assert "list_merge" in str(bad(lambda: r("{} | combine({}, list_merge='x')")))


def test_path_filters() -> None:
    assert r("'/etc/app.conf' | splitext | list") == ["/etc/app", ".conf"]
    assert r("'~/x' | expanduser") != "~/x"
    assert r("'/etc/../etc/hosts' | realpath") == "/etc/hosts"


def test_comment_decorates_each_line() -> None:
    assert r("'one\ntwo' | comment") == "#\n# one\n# two\n#"
    assert r("'x' | comment('c')") == "//\n// x\n//"
    assert r("'x' | comment('cblock')") == "/*\n *\n * x\n *\n */"
    assert r("'x' | comment('xml')") == "<!--\n -\n - x\n -\n-->"
    assert r("'x' | comment(decoration='; ', prefix_count=2)") == ";\n;\n; x\n;"


def test_hashes_and_encodings() -> None:
    assert r("'abc' | checksum") == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert r("'abc' | hash('md5')") == "900150983cd24fb0d6963f7d28e17f72"
    assert r("'a?b' | b64encode(urlsafe=true)") == "YT9i"
    assert r("'YT9i' | b64decode(urlsafe=true)") == "a?b"


def test_password_hash_is_sha_crypt() -> None:
    # The SHA-crypt specification's own example (key "Hello world!", salt "saltstring").
    assert r("'Hello world!' | password_hash('sha512', 'saltstring')") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcb"
        "YEdFCoEOfaS35inz1")
    assert r("'Hello world!' | password_hash('sha256_crypt', 'saltstringsaltstring', "
             "rounds=10000)") == \
        "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"
    drawn = str(r("'pw' | password_hash"))
    assert drawn.startswith("$6$") and len(drawn.split("$")[2]) == 16
    assert drawn != r("'pw' | password_hash")
    assert "not supported" in str(bad(lambda: r("'pw' | password_hash('md5')")))


def test_math_and_size_filters() -> None:
    assert r("100 | log(10)") == 2.0
    assert r("2 | pow(10)") == 1024.0
    assert r("81 | root") == 9.0 and r("27 | root(3)") == pytest.approx(3.0)
    assert r("1048576 | human_readable") == "1.00 MB"
    assert r("10 | human_readable") == "10.00 Bytes"
    assert r("1024 | human_readable(isbits=true)") == "1.00 Kb"
    assert r("1048576 | human_readable(unit='K')") == "1024.00 KB"
    assert r("'1.5 GB' | human_to_bytes") == 1610612736
    assert r("'10' | human_to_bytes('M')") == 10485760
    assert r("'1Mb' | human_to_bytes(isbits=true)") == 1048576
    assert r("'2 kilobyte' | human_to_bytes") == 2048
    assert "unit" in str(bad(lambda: r("'1Mb' | human_to_bytes")))


def test_random_and_shuffle_repeat_with_a_seed() -> None:
    assert r("100 | random(seed='a')") == r("100 | random(seed='a')")
    assert r("10 | random(start=5, step=5)") == 5
    assert r("['x'] | random") == "x"
    assert sorted(r("[1, 2, 3] | shuffle(seed=1)")) == [1, 2, 3]  # type: ignore[type-var]


def test_urls_dates_and_versions() -> None:
    url = "'https://u:p@example.org:8443/a/b?x=1#top'"
    assert r(url + " | urlsplit('hostname')") == "example.org"
    assert r(url + " | urlsplit('port')") == 8443
    assert r(url + " | urlsplit")["query"] == "x=1"  # type: ignore[index]
    assert r("'%Y-%m-%d' | strftime(0, utc=true)") == "1970-01-01"
    assert r("(('2026-01-02 00:00:00' | to_datetime) - "
             "('2026-01-01' | to_datetime('%Y-%m-%d'))).days") == 1
    assert r("'1.10' | version('1.9', '>')") is True
    assert r("'2.0' | version_compare('2.0.1', 'lt')") is True


def test_regex_search_returns_the_groups_asked_for() -> None:
    assert r("'port=80 host=a' | regex_search('port=(\\\\d+)')") == "port=80"
    assert r("'port=80 host=a' | regex_search('port=(\\\\d+) host=(?P<h>\\\\w)', "
             "'\\\\1', '\\\\g<h>')") == ["80", "a"]
    assert r("'x' | regex_search('y', '\\\\1') is none") is True


def test_the_subelements_filter() -> None:
    users = [{"name": "a", "keys": [1, 2]}, {"name": "b"}]
    assert r("users | subelements('keys', skip_missing=true)", {"users": users}) == \
        [[users[0], 1], [users[0], 2]]


# ---------------------------------------------------------------------------- the password lookup

def test_the_password_lookup_keeps_its_password_in_a_private_file(tmp_path: Path) -> None:
    env = make_env([], tmp_path)
    expr = "{{ lookup('password', 'credentials/db length=12 chars=digits') }}"
    first = render_value(expr, {}, env=env)
    kept = tmp_path / "credentials" / "db"
    assert isinstance(first, str) and first.isdigit() and len(first) == 12
    assert kept.read_text() == first + "\n" and kept.stat().st_mode & 0o777 == 0o600
    assert render_value(expr, {}, env=env) == first


def test_the_password_lookup_encrypts_with_a_kept_salt(tmp_path: Path) -> None:
    env = make_env([], tmp_path)
    expr = "{{ lookup('password', 'pw encrypt=sha512_crypt') }}"
    hashed = render_value(expr, {}, env=env)
    password, salt = (tmp_path / "pw").read_text().rstrip("\n").split(" salt=")
    assert hashed == r(f"'{password}' | password_hash('sha512', '{salt}')")
    assert render_value(expr, {}, env=env) == hashed


def test_the_password_lookup_without_a_file_is_refused() -> None:
    assert "needs a file" in str(bad(lambda: r("lookup('password')")))
    assert "unknown parameter" in str(bad(lambda: r("lookup('password', '/dev/null bogus=1')")))
    assert len(str(r("lookup('password', '/dev/null chars=digits,,')"))) == 20


# ---------------------------------------------------------------------------- magic variables

FACTS = {"hostname": "web1", "os": {"id": "debian", "version_id": "12"}}


def play_plan(tmp_path: Path, play: str, **options: object) -> list[dict[str, object]]:
    """The arguments of each step of a one-play project on web1 (inventory: web1, web2)."""
    import textwrap

    from mainsail.inventory import load_inventory
    from mainsail.plan import build_plan
    from mainsail.playbook import load_playbook

    files = {"inventory/hosts.yml": "all:\n  children:\n    web:\n      hosts:\n"
                                    "        web1.example.org: {port: 80}\n"
                                    "        web2: {port: 81}\n",
             "playbooks/site.yml": textwrap.dedent(play).lstrip("\n")}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    inventory = load_inventory(tmp_path / "inventory" / "hosts.yml", root=tmp_path)
    plan = build_plan(tmp_path, load_playbook(tmp_path)[0],
                      inventory.hosts["web1.example.org"], FACTS, {}, inventory=inventory,
                      **options)  # type: ignore[arg-type]
    return [s["args"] for s in plan.steps]


def test_play_hosts_hostvars_and_host_names(tmp_path: Path) -> None:
    steps = play_plan(tmp_path, """
        - hosts: all
          tasks:
            - debug:
                msg:
                  - "{{ ansible_play_hosts }}"
                  - "{{ play_hosts }} {{ ansible_play_batch }}"
                  - "{{ inventory_hostname_short }} {{ group_names }}"
                  - "{{ hostvars['web2'].port }} {{ hostvars['web2'].group_names }}"
                  - "{{ hostvars['web2'].ansible_facts.os_family | default('none') }}"
                  - "{{ hostvars[inventory_hostname].ansible_hostname }}"
                  - "{{ hostvars['web2'].inventory_hostname }}"
        """, play_hosts=["web1.example.org", "web2"],
        host_facts={"web2": {"os": {"id": "debian"}}})
    assert json.loads(str(steps[0]["msg"])) == [
        ["web1.example.org", "web2"], "['web1.example.org', 'web2'] ['web1.example.org', "
        "'web2']", "web1 ['web']", "81 ['web']", "Debian", "web1", "web2"]


def test_without_gather_facts_a_play_sees_no_facts(tmp_path: Path) -> None:
    steps = play_plan(tmp_path, """
        - hosts: all
          gather_facts: false
          tasks:
            - debug:
                msg: "{{ ansible_facts }} {{ ansible_os_family | default('unset') }}"
        """, host_facts={"web2": {"os": {"id": "debian"}}})
    assert steps[0]["msg"] == "{} unset"


def test_an_argument_set_to_omit_is_left_out(tmp_path: Path) -> None:
    steps = play_plan(tmp_path, """
        - hosts: all
          tasks:
            - file: {path: /tmp/x, state: directory, mode: "{{ nothing | default(omit) }}"}
        """)
    assert "mode" not in steps[0]


def test_trailing_newlines_are_kept_at_the_top_and_dropped_from_an_include(
        folder: Path) -> None:
    (folder / "world.txt").write_text("world\n")
    assert render_file(folder, "Hello {% include 'world.txt' %}!\n\n") == "Hello world!\n\n"
    assert render_file(folder, "{% if 1 %}\nx\n{% endif %}\n") == "x\n"
    assert render_value("{{ 1 }} {{ 2 }}\n", {}) == "1 2\n"


def test_more_of_ansibles_filters() -> None:
    assert r("'abc' | md5") == "900150983cd24fb0d6963f7d28e17f72"
    assert r("'abc' | sha1") == r("'abc' | checksum")
    # uuid5 in the DNS namespace, Python's documented example; Ansible's own namespace else.
    assert r("'python.org' | to_uuid('6ba7b810-9dad-11d1-80b4-00c04fd430c8')") == \
        "886313e1-3b8a-5372-9b90-0c9aee199e5d"
    assert r("'python.org' | to_uuid") not in ("886313e1-3b8a-5372-9b90-0c9aee199e5d", "")
    assert r("['/etc', 'app', 'x.conf'] | path_join") == "/etc/app/x.conf"
    assert r("'/a/b/../c' | normpath") == "/a/c"
    assert r("'/a/b/c' | relpath('/a')") == "b/c"
    assert r("['/a/b/c', '/a/b/d'] | commonpath") == "/a/b"
    assert r("'C:\\\\x\\\\y.txt' | win_basename") == "y.txt"
    assert r("'a: 1\n---\nb: 2\n' | from_yaml_all") == [{"a": 1}, {"b": 2}]
    assert r("[0, 2] | map('extract', ['x', 'y', 'z']) | list") == ["x", "z"]
    assert r("'a' | extract(d, 'b')", {"d": {"a": {"b": 1}}}) == 1
    assert r("[{'n': 'a', 'v': 1}] | rekey_on_member('n')") == {"a": {"n": "a", "v": 1}}
    assert "duplicated" in str(bad(lambda: r("[{'n': 1}, {'n': 1}] | rekey_on_member('n')")))
    assert r("[1, 2] | product(['a']) | list") == [[1, "a"], [2, "a"]]
    assert r("[1, 2, 3] | combinations(2) | list") == [[1, 2], [1, 3], [2, 3]]
    assert r("[1, 2] | permutations | list") == [[1, 2], [2, 1]]
    assert r("'a%20b+c' | urldecode") == "a b c"


def test_ansibles_old_path_test_names(tmp_path: Path) -> None:
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    v = {"link": str(link), "none": str(tmp_path / "nothing")}
    assert r("link is link_exists and link is not exists", v) is True
    assert r("none is not link_exists", v) is True
    assert r("'/' is is_abs and '/' is is_mount and '/' is is_same_file('/')") is True


# ---------------------------------------------------------------------------- subelements

USERS = [{"name": "a", "mysql": {"password": "x", "hosts": ["h1", "h2"]}},
         {"name": "b", "mysql": {"password": "y"}}]


@pytest.mark.parametrize("expr, words", [
    ("lookup('subelements', 9001, 'groups')", "first a dict or a list"),
    ("lookup('subelements', users, true)", "second a string"),
    ("lookup('subelements', users, 'mysql.password')", "should point to a list"),
    ("lookup('subelements', users, 'mysql.hosts.x')", "should point to a dictionary"),
    ("lookup('subelements', users, 'mysql.monkey')", "could not find 'monkey' key"),
    ("lookup('subelements', users, 'mysql.hosts', 'wolves')",
     "the optional third item must be a dict"),
])
def test_subelements_errors_say_what_ansibles_say(expr: str, words: str) -> None:
    assert words in str(bad(lambda: r(expr, {"users": USERS})))


def test_subelements_skip_missing_and_a_skipped_result() -> None:
    got = r("lookup('subelements', users, 'mysql.hosts', {'skip_missing': true}, "
            "wantlist=true)", {"users": USERS})
    assert [(u["name"], h) for u, h in got] == [("a", "h1"), ("a", "h2")]  # type: ignore[union-attr]
    assert r("lookup('subelements', {'skipped': true}, 'x', wantlist=true)") == []


def test_a_loop_that_cannot_be_rendered_registers_one_failed_result(tmp_path: Path) -> None:
    steps = play_plan(tmp_path, """
        - hosts: all
          tasks:
            - set_fact: {x: 1}
              with_subelements: [[{a: [1]}], a, wolves]
              ignore_errors: true
              register: out
            - debug:
                msg: "{{ out.failed }} {{ out.results is defined }} {{ 'must be a dict' in out.msg }}"
        """)
    assert steps[-1]["msg"] == "True False True"


def test_the_batch_is_the_hosts_serial_batch(tmp_path: Path) -> None:
    from mainsail.inventory import Host
    from mainsail.runner import batch_of
    hosts = [Host(f"h{i}") for i in range(5)]
    assert batch_of(hosts[3], hosts, 2) == ["h2", "h3"]
    assert batch_of(hosts[4], hosts, "40%") == ["h4"]
    assert batch_of(hosts[0], hosts, None) == [h.name for h in hosts]
    steps = play_plan(tmp_path, """
        - hosts: all
          tasks:
            - debug: {msg: "{{ ansible_play_batch }} {{ play_hosts }} {{ ansible_play_hosts }}"}
        """, play_hosts=["web1.example.org", "web2"], play_batch=["web1.example.org"])
    assert steps[0]["msg"] == "['web1.example.org'] ['web1.example.org'] " \
                              "['web1.example.org', 'web2']"
