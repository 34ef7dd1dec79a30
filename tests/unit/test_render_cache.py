"""Templates and expressions are compiled once per process, not once per host's environment."""

import jinja2
import pytest

from mainsail import render
from mainsail.errors import BadInput
from mainsail.render import eval_condition, make_env, render_string


def test_two_hosts_environments_share_the_compiled_code_and_keep_their_own_values(monkeypatch):
    compiled = []
    original = jinja2.sandbox.SandboxedEnvironment.compile

    def counting(self, source, *args, **kwargs):
        compiled.append(source)
        return original(self, source, *args, **kwargs)
    monkeypatch.setattr(jinja2.sandbox.SandboxedEnvironment, "compile", counting)
    monkeypatch.setattr(render, "_COMPILED", {})
    text = "port = {{ port }} on {{ inventory_hostname }}"
    first = render_string(text, {"port": 80, "inventory_hostname": "web1"}, env=make_env())
    second = render_string(text, {"port": 81, "inventory_hostname": "web2"}, env=make_env())
    assert (first, second) == ("port = 80 on web1", "port = 81 on web2")
    assert eval_condition("port > 80", {"port": 81}, env=make_env())
    assert not eval_condition("port > 80", {"port": 80}, env=make_env())
    assert len(compiled) == 2  # the template once, the expression once


def test_a_bad_template_is_still_bad_input_every_time(monkeypatch):
    monkeypatch.setattr(render, "_COMPILED", {})
    for _ in range(2):
        with pytest.raises(BadInput) as caught:
            render_string("{{ port + }}", {"port": 1}, where="site.yml:3", env=make_env())
        assert "site.yml:3" in str(caught.value)
        with pytest.raises(BadInput):
            eval_condition("port >", {"port": 1}, where="site.yml:4", env=make_env())
    assert render._COMPILED == {}  # nothing that failed is kept


def test_the_kept_code_is_bounded(monkeypatch):
    monkeypatch.setattr(render, "_COMPILED", {})
    monkeypatch.setattr(render, "_COMPILED_MAX", 3)
    env = make_env()
    for i in range(7):
        assert render_string("{{ x }}-%d" % i, {"x": "a"}, env=env) == "a-%d" % i
    assert 1 <= len(render._COMPILED) <= 3


def test_a_template_file_is_read_once_and_again_when_it_changes(tmp_path, monkeypatch):
    import os
    from mainsail import yamlio
    from mainsail.render import render_template
    monkeypatch.setattr(render, "_SOURCES", {})
    (tmp_path / "motd.j2").write_text("hello {{ name }}\n")
    reads = []
    real = yamlio.read_text
    monkeypatch.setattr(render, "read_text",
                        lambda *a, **k: (reads.append(a[0]), real(*a, **k))[1])
    for name in ("web1", "web2"):
        assert render_template("motd.j2", {"name": name}, env=make_env([tmp_path])) == \
            "hello %s\n" % name
    assert len(reads) == 1  # two hosts' environments, each asked twice by Jinja
    (tmp_path / "motd.j2").write_text("bye {{ name }}\n")
    os.utime(tmp_path / "motd.j2", ns=(1, 1))
    assert render_template("motd.j2", {"name": "web3"}, env=make_env([tmp_path])) == "bye web3\n"
    assert len(reads) == 2


def test_a_template_strings_names_are_found_once_and_stay_each_callers_own(monkeypatch):
    from mainsail.render import reads_controller_files, referenced_names
    monkeypatch.setattr(render, "_COMPILED", {})
    parsed = []
    original = render.Environment.parse

    def counting(self, source, *args, **kwargs):
        parsed.append(source)
        return original(self, source, *args, **kwargs)
    monkeypatch.setattr(render.Environment, "parse", counting)
    text = "{{ port }} {{ lookup('file', path) }}"
    first = referenced_names(text, make_env())
    first.add("mine")  # a caller's set is its own
    assert referenced_names(text, make_env()) == {"port", "path"}  # lookup: a global
    assert reads_controller_files(text, make_env())
    assert not reads_controller_files("{{ port }}", make_env())
    assert referenced_names("{{ port +", make_env()) == set()  # a syntax error reads nothing
    assert parsed == [text, "{{ port }}", "{{ port +"]
