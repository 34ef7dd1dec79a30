"""An operation is declared once, in its own module (mainsail/agent/ops/<op>.py).

The controller reads those declarations (opspec.py, plan.py, playbook.py, opdoc.py); no other
module names an operation's arguments. A name that also means something else in Mainsail (a
task keyword, a field of the agent's messages or journal, an inventory or facts key) cannot be
told apart by a scan, so those few are listed below with the reason; every other argument name
appears as a string in its op's module only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mainsail.agent.ops import OPS as RUNNERS
from mainsail.agent.ops import SPECS
from mainsail.agent.spec import OpSpec
from mainsail.playbook import TASK_KEYWORDS, UNSUPPORTED

PACKAGE = Path(__file__).resolve().parents[2] / "mainsail"
OPS_FOLDER = PACKAGE / "agent" / "ops"
ALSO_MEANS_SOMETHING_ELSE = {
    # Fields of a step, a result, a journal entry, facts or the inventory.
    "name", "state", "status", "cmd", "path", "mode", "uid", "gid", "user", "group", "groups",
    "command", "value",
    # Generic file words: the file op's own states, the plan's masked view of a file step,
    # the project's files/ folder.
    "dest", "src", "owner", "directory", "files",
    # Command-line flags and testbed settings with the same word.
    "timeout", "stdin", "enabled", "var", "decrypt",
    # The local connection (inventory, facts, timezone's local time) and libuser's local mode.
    "local",
    # A debconf value type; Jinja tests and lookups; a type's name in the docs.
    "password", "regex", "contains", "env",
    # A result's message (every op reports one).
    "msg",
    # systemd's own word for its system manager (the systemd op's scope), also user's flag.
    "system",
    # Ansible's return fields, which a module reports under these names (Outcome.data) and a
    # task may also take as arguments elsewhere; Jinja's words (dict keys, the split filter).
    "content", "encoding", "size", "key", "split", "executable",
    # A codec's error handler (bytes.decode(..., "replace")).
    "replace",
    # A result's message, an inventory host and port, the vault's password prompt, durations
    # in the report.
    "msg", "host", "port", "prompt", "seconds",
    # A systemctl verb; the testbed's package words.
    "reload", "deb",
    # dpkg_selections' return fields and a dpkg selection state.
    "before", "after", "purge",
    # The command line's --limit.
    "limit",
    # The block keyword (blockinfile's block); a nesting depth the loader and plan bound
    # (find's depth); the first_found lookup's own option (find's paths).
    "block", "depth", "paths",
    # deb822's field words, which the testbed also writes into its images' apt sources; a
    # release's codename among the facts; deb822_repository's `repo` return field (Ansible's).
    "types", "uris", "suites", "components", "codename", "repo",
    # pip's `version`: also a fact's, the vault format's and the tool's own version.
    "version",
    # apt_key's `data`, `file` and `id`: a step's result data, the file op's state and the
    # lookup, and the protocol's step ids.
    "data", "file", "id",
    # fetch's return field (the host file's SHA-1), get_url's argument.
    "checksum",
    # Ansible's fact fields (date_time's day/hour/minute/month/weekday, an IPv6 address's
    # prefix and scope, apparmor's status) and filter names and options (comment, checksum,
    # combine's list_merge values append and keep).
    "day", "hour", "minute", "month", "weekday", "prefix", "scope", "disabled",
    "comment", "checksum", "append", "keep",
    # setup's `filter`, also the facts command's --filter; mount's `fstype` and zypper's
    # `type`, also fields of the mounts and interface facts; uri's `username` beside
    # urlsplit's own field of that name.
    "filter", "fstype", "type", "username",
    # apt-get's remove verb (user's remove).
    "remove",
    # openbsd_pkg's `clean`, also testbed.up's --clean; yum/zypper_repository's
    # `description`, also the lsb facts' field.
    "clean", "description",
    # unarchive's old `copy` argument, also the copy operation's own name; add_host's
    # `hostname` (Ansible's alias of its name), also the hostname operation and fact.
    "copy", "hostname",
    # git's `update`, also the verb of apt-get and supervisorctl (and the testbed's apt);
    # git's `archive`, also unarchive's word for an archive that has no name.
    "update", "archive",
    # find's `pattern` (Ansible's alias of `patterns`), also the value type of the regexes
    # of line, replace and assemble.
    "pattern",
    # service's alias `service`, also the operation's own name.
    "service",
    # dnf's `list`, also a lookup's name, pip's subcommand and an inventory source kind;
    # user's Solaris `profile` and `role`, also the --profile flag (and its report field) and
    # a play's roles (a role's name in plans, facts and results).
    "list", "profile", "role",
}
# Ansible's aliases that are also a value type's name: the op must accept them as Ansible does.
TYPE_NAMED_ALIASES = {"pattern"}
EXEMPT = ALSO_MEANS_SOMETHING_ELSE | set(TASK_KEYWORDS) | set(UNSUPPORTED)


def string_constants(path: Path) -> set[str]:
    """The strings in a module, a class's ``__slots__`` left out (attribute names of a
    record class, such as proc.Proc's ``argv``, never read an argument)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    slots = {id(node) for assign in ast.walk(tree) if _sets_slots(assign)
             for node in ast.walk(assign)}
    return {node.value for node in ast.walk(tree) if id(node) not in slots
            and isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _sets_slots(node: ast.AST) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, ast.AnnAssign) else []
    return any(isinstance(t, ast.Name) and t.id == "__slots__" for t in targets)


STRINGS = {path: string_constants(path) for path in sorted(PACKAGE.rglob("*.py"))}


def declared_names(spec: OpSpec) -> set[str]:
    return {n for arg in spec.args for n in (arg.name, *arg.aliases)} | set(spec.internal)


def allowed_files(name: str) -> set[Path]:
    """The op modules that declare ``name`` (or are the op called ``name``) and their shared
    helpers (``_exec.py``)."""
    owners = {OPS_FOLDER / f"{op}.py" for op, spec in SPECS.items()
              if name in declared_names(spec) or op == name}
    return owners | {path for path in STRINGS if path.parent == OPS_FOLDER
                     and path.name.startswith("_") and path.name != "__init__.py"}


ARG_NAMES = sorted({n for spec in SPECS.values() for n in declared_names(spec)} - EXEMPT)


@pytest.mark.parametrize("name", ARG_NAMES)
def test_an_argument_name_appears_only_where_it_is_declared(name: str) -> None:
    holders = {path for path, strings in STRINGS.items() if name in strings}
    stray = sorted(str(p.relative_to(PACKAGE)) for p in holders - allowed_files(name))
    assert not stray, f"argument {name!r} is named outside its op's module: {stray}"


@pytest.mark.parametrize("name", ["create_home", "sysctl_set", "firstmatch",
                                  "cache_valid_time", "config_dir", "unless"])
def test_a_specific_argument_lives_in_exactly_one_file(name: str) -> None:
    holders = [p for p, strings in STRINGS.items() if name in strings]
    assert len(holders) == 1, holders


def test_no_value_type_is_named_like_an_argument() -> None:
    """A type's name lives in opspec.py and opdoc.py; an argument so named would appear
    there too, and adding its op would mean touching them."""
    from mainsail.opdoc import TYPE_WORDS
    names = {n for spec in SPECS.values() for n in declared_names(spec)} - TYPE_NAMED_ALIASES
    assert not names & set(TYPE_WORDS), names & set(TYPE_WORDS)


def test_the_scan_sees_a_name_written_elsewhere(tmp_path: Path) -> None:
    probe = tmp_path / "x.py"
    probe.write_text('ARGS = ("create_home",)\n')
    assert "create_home" in string_constants(probe)


def test_every_op_module_declares_itself_and_every_declared_op_runs() -> None:
    modules = {p.stem for p in OPS_FOLDER.glob("*.py") if not p.stem.startswith("_")}
    assert set(SPECS) <= modules
    for spec in SPECS.values():
        assert spec.agent_op in RUNNERS, f"{spec.name} runs as {spec.agent_op}, which has no run"


def test_an_op_is_declared_in_the_module_of_its_own_name() -> None:
    # The controller and the agent find an op by importing ops/<name>.py alone: a
    # declaration elsewhere would be missed until something imported every module.
    import importlib
    for name, spec in SPECS.items():
        module = importlib.import_module("mainsail.agent.ops." + name)
        assert module.SPEC is spec


def test_a_lookup_imports_only_the_op_asked_for() -> None:
    import subprocess
    import sys
    code = ("import sys\n"
            "from mainsail.opspec import OPS, canonical_op\n"
            "from mainsail.plan import _JUDGED_HERE\n"
            "assert canonical_op('ansible.builtin.template') == 'template'\n"
            "assert 'set_fact' not in OPS and 'debug' in _JUDGED_HERE\n"
            "assert 'template' not in _JUDGED_HERE\n"
            "import mainsail.agent.ops as ops\n"
            "assert ops._found is None, 'every op was imported'\n"
            "assert canonical_op('lineinfile') == 'line'  # an alias: they are all read\n"
            "assert ops._found is not None\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
