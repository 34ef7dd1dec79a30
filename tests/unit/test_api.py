"""`from mainsail import Project`: the command line's runs, from Python."""

import json

import pytest

import mainsail
from mainsail import BadInput, Project, RunRecord

from tests.unit.test_flags import project  # noqa: F401 (fixture)


def test_the_public_names_are_stable():
    assert sorted(mainsail.__all__) == ["BadInput", "HostRecord", "MainsailError", "Project",
                                        "RunRecord", "StepRecord", "__version__"]
    for name in mainsail.__all__:
        assert getattr(mainsail, name) is not None
    with pytest.raises(AttributeError):
        mainsail.nothing_here  # noqa: B018


def test_plan_then_deploy_return_the_cli_records(project, tmp_path):
    p = Project(project / "roles")  # found by walking up, like the command line
    assert p.root == project
    planned = p.plan(limit="h1")
    assert isinstance(planned, RunRecord) and planned.check and planned.changed == 3
    assert not (tmp_path / "marker").exists()
    done = p.deploy(limit="h1", extra_vars={"greeting": "from python"})
    assert done.hosts["h1"].state == "ok" and done.changed == 3
    assert (tmp_path / "marker.role").read_text() == "from python\n"
    assert p.plan(limit="h1", extra_vars={"greeting": "from python"}).changed == 0
    p.write_json(done, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == p.as_json(done)
    p.write_junit(done, tmp_path / "r.xml")
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")


def test_bad_input_raises_before_any_host(project, tmp_path):
    (project / "roles/r/templates/t.j2").write_text("{{ undefined_thing }}\n")
    p = Project(project)
    with pytest.raises(BadInput, match="undefined_thing"):
        p.syntax_check()
    with pytest.raises(BadInput, match="undefined_thing"):
        p.deploy(check=True)
    assert not (tmp_path / "marker").exists()
    with pytest.raises(BadInput):
        p.hosts(limit="nosuch")


def test_the_package_is_typed():
    from pathlib import Path
    assert (Path(mainsail.__file__).parent / "py.typed").is_file()
