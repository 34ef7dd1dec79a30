"""Generated bad input: whatever YAML a user writes, loading and planning either succeed or
fail with BadInput (one line, a place, a hint), never with any other exception."""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mainsail.errors import BadInput, with_reference
from mainsail.inventory import load_inventory, select_hosts
from mainsail.plan import build_plan
from mainsail.playbook import load_playbook

WORDS = ["all", "hosts", "vars", "children", "web", "h1", "address", "port", "user",
         "connection", "local", "name", "tasks", "roles", "handlers", "copy", "file", "apt",
         "command", "shell", "template", "dest", "path", "src", "content", "state", "mode",
         "when", "notify", "loop", "tags", "serial", "become", "{{ x }}", "{{ nope }}",
         "0644", "; rm -rf /", "$(id)", "\n", "", "item", "cmd", "absent", "directory"]
SCALARS = st.one_of(st.sampled_from(WORDS), st.integers(-5, 70000), st.booleans(), st.none(),
                    st.text(max_size=12))
DOCS = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)),
    max_leaves=25)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_clean_error(exc: BadInput) -> None:
    text = str(with_reference(exc))
    assert "\n" not in text and "(hint: " in text


def project(tmp: Path, inventory: object, playbook: object) -> Path:
    root = tmp / "p"
    (root / "inventory").mkdir(parents=True, exist_ok=True)
    (root / "playbooks").mkdir(exist_ok=True)
    (root / "inventory/hosts.yml").write_text(yaml.safe_dump(inventory))
    (root / "playbooks/site.yml").write_text(yaml.safe_dump(playbook))
    return root


@SETTINGS
@given(doc=DOCS)
def test_any_inventory_loads_or_is_bad_input(tmp_path, doc):
    root = project(tmp_path, doc, [])
    try:
        select_hosts(load_inventory(root / "inventory/hosts.yml", root))
    except BadInput as exc:
        assert_clean_error(exc)


GOOD_INVENTORY = {"all": {"hosts": {"h1": {"connection": "local", "address": "127.0.0.1"}}}}


def assert_plans_or_is_bad_input(root: Path) -> None:
    try:
        inv = load_inventory(root / "inventory/hosts.yml", root)
        for play in load_playbook(root):
            build_plan(root, play, inv.hosts["h1"], {}, {}, inventory=inv)
    except BadInput as exc:
        assert_clean_error(exc)


@SETTINGS
@given(doc=DOCS)
def test_any_playbook_loads_and_plans_or_is_bad_input(tmp_path, doc):
    assert_plans_or_is_bad_input(project(tmp_path, GOOD_INVENTORY, doc))


@SETTINGS
@given(task=st.dictionaries(st.sampled_from(WORDS), DOCS, min_size=1, max_size=4))
def test_any_task_plans_or_is_bad_input(tmp_path, task):
    assert_plans_or_is_bad_input(project(tmp_path, GOOD_INVENTORY, [{"hosts": "all",
                                                                     "tasks": [task]}]))
