"""Playbooks and roles -> frozen :class:`Play`, :class:`Task` and :class:`Role` data.

Everything is validated once, at load time: keywords, operations and argument names (with
"did you mean"), required arguments, values that hold no template, ``when`` syntax, and that
every ``notify`` names a handler. Errors name file:line. Templates are rendered later, per
host, by plan.py.
"""

from __future__ import annotations

import codecs
import contextvars
import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from collections.abc import Iterable, Mapping
from typing import Any

from .agent.ops import OPS as RUNNERS
from .agent.safeexpr import bind_register
from .errors import BadInput, did_you_mean
from .inventory import check_var_name
from .opspec import (OPS, OpSpec, alias_map, as_bool, canonical_args, canonical_op, check_required,
                     check_condition, check_static_values, free_form_args, get_op)
from .render import check_expression, has_template
from .vault import Vault
from .yamlio import YDict, display_path, load_yaml, loc_of

EMPTY: Mapping[str, Any] = MappingProxyType({})
PLAY_KEYWORDS = ("name", "hosts", "vars", "vars_files", "roles", "tasks", "handlers", "become",
                 "become_user", "become_method", "serial", "max_fail_percentage",
                 "any_errors_fatal", "tags", "no_log", "gather_facts", "transaction", "checks",
                 "pre_tasks", "post_tasks", "strategy", "order", "environment", "remote_user",
                 "connection")
STRATEGIES = ("linear", "free")
HOST_ORDERS = ("inventory", "reverse_inventory", "sorted", "reverse_sorted", "shuffle")
CONNECTIONS = ("ssh", "local", "smart", "paramiko")  # smart and paramiko: ssh here
TRANSACTION_MODES = ("role", "play")
TASK_KEYWORDS = ("name", "when", "notify", "loop", "tags", "become", "become_user",
                 "become_method", "ignore_errors", "no_log", "changed_when", "failed_when", "args",
                 "timeout", "register", "loop_control", "vars", "until", "retries", "delay",
                 "environment", "run_once", "delegate_to", "check_mode", "diff",
                 "ignore_unreachable", "module_defaults", "remote_user", "async",
                 "poll") + tuple(f"with_{k}" for k in (
                     "items", "list", "dict", "together", "subelements", "sequence", "fileglob",
                     "first_found", "nested", "indexed_items", "cartesian", "flattened"))
LOOP_CONTROL_KEYS = ("loop_var", "index_var", "label", "pause", "extended",
                     "extended_allitems")
HANDLER_KEYWORDS = tuple(k for k in TASK_KEYWORDS if k != "notify") + ("listen",)
ROLE_ENTRY_KEYS = ("role", "name", "vars", "tags", "when", "become", "become_user",
                   "become_method", "environment")
BECOME_METHODS = ("sudo",)
META_KEYS = ("dependencies", "galaxy_info", "allow_duplicates", "collections", "argument_specs")
RESULT_CONDITIONS = ("changed_when", "failed_when")
# Ansible keywords Mainsail deliberately does not have, and what to do instead.
UNSUPPORTED: Mapping[str, str] = MappingProxyType({
    "rescue": "rescue belongs to a block: `- block: [...]` with `rescue: [...]`",
    "always": "always belongs to a block: `- block: [...]` with `always: [...]`",
    "vars_prompt": "pass values with --var name=value",
    "delegate_facts": "facts stay with the host that gathered them",
})
_ROLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_SERIAL_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


@dataclass(frozen=True)
class Task:
    """One task (or handler): a single operation with its unrendered arguments."""

    op: str  # canonical operation name, e.g. "template"
    args: Mapping[str, Any]  # canonical argument names; values still hold templates
    loc: str  # file:line of the task
    name: str | None = None
    when: tuple[Any, ...] = ()
    notify: tuple[str, ...] = ()
    loop: Any = None  # a list, or a "{{ expression }}" string
    tags: tuple[str, ...] = ()
    become: bool | None = None
    become_user: str | None = None  # may be a template, rendered in the plan
    ignore_errors: bool | str = False
    no_log: bool | tuple[str, ...] = False
    role: str | None = None
    listen: tuple[str, ...] = ()  # handlers only: extra names they answer to
    timeout: float | None = None  # seconds; None: the agent's default step timeout
    register: str | None = None  # the variable that receives the task's result
    judge: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # changed_when /
    # failed_when of an op that does not judge them itself: applied on the host after it
    later: Mapping[str, tuple[Any, ...]] = field(default_factory=lambda: EMPTY)  # changed_when /
    # failed_when the host's small evaluator cannot judge (a test with an argument, another
    # variable): judged on the controller with full Jinja once the result is in
    loop_with: str | None = None  # with_<kind>: how the rendered loop value becomes items
    found_in: str = ""  # with_first_found's folder: templates/vars/files, by the action's
    # name as written (Ansible: "template" in it, then "var", else files)
    loop_control: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    until: str | None = None  # judged on the host over the step's result; retried till true
    retries: int | None = None  # with until: how many more times (3)
    delay: float | None = None  # with until: seconds between attempts (5)
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # the task's own (and its
    # blocks' and includes'), rendered with the task
    blocks: tuple["BlockRef", ...] = ()  # the blocks with rescue/always around it, outermost
    # first: where a failure of this task goes (plan.py runs the sections)
    environment: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # the task's own
    # and its blocks' and includes': variables for the commands it runs
    phase: str = ""  # a play's task: "pre_tasks" or "post_tasks", else "" (tasks)
    run_once: bool | str = False  # only the play's first host runs it (a template: judged
    # per host)
    delegate_to: str | None = None  # "localhost" (or a template of it): runs on the controller
    check_mode: bool | None = None  # True: only reports (even in a real run); False: runs
    # (even with --check)
    diff: bool | None = None  # shows (or hides) its changes whatever --diff says
    remote_user: str | None = None  # must be the user the host's session logs in as
    async_seconds: int | None = None  # async: its time limit; with poll 0 it runs in the
    poll: int = 15  # background (async_status reads it), else in place under that limit
    included: "RoleUse | None" = field(default=None, compare=False, repr=False)  # the role an
    # include_role / import_role brought this task in with: its variables, files, templates
    deferred: "DeferredInclude | None" = field(default=None, compare=False, repr=False)  # an
    # include_tasks read when the plan reaches it (its file name is a template)

    @property
    def agent_op(self) -> str:
        return OPS[self.op].agent_op if self.op in OPS else self.op

    @property
    def title(self) -> str:
        """The task's name, or ``op first-argument`` when it has none."""
        if self.name:
            return self.name
        if self.op == FOREIGN_OP:
            return str(self.args.get("module"))
        if self.op not in OPS:
            return self.op
        spec = OPS[self.op]
        # the first required argument given; else `name` (apt's name is optional beside
        # update_cache or upgrade, but still what names the task)
        candidates = [n for g in spec.required for n in g] + ["name"]
        first = next((self.args.get(n) for n in candidates if self.args.get(n) is not None), "")
        return f"{self.op} {first}".strip()


@dataclass(frozen=True)
class BlockRef:
    """A task's place in a block that has ``rescue`` or ``always``: which block (``id``, unique
    per block in the playbook as loaded), which of its sections, and which sections it has."""

    id: str
    section: str  # "block", "rescue" or "always"
    rescue: bool
    always: bool
    loc: str


@dataclass(frozen=True)
class RoleRef:
    """One mention of a role: in a play's roles, or in a role's meta dependencies."""

    name: str
    loc: str
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    tags: tuple[str, ...] = ()
    when: tuple[Any, ...] = ()
    become: bool | None = None
    become_user: str | None = None
    environment: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class Role:
    """A role folder, loaded: ``roles/<name>/{defaults,vars,tasks,handlers,meta}/main.yml``."""

    name: str
    path: Path
    loc: str
    defaults: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    tasks: tuple[Task, ...] = ()
    handlers: tuple[Task, ...] = ()
    dependencies: tuple[RoleRef, ...] = ()
    checks: tuple[Task, ...] = ()  # checks/main.yml: run after the role's handlers

    @property
    def templates(self) -> Path:
        return self.path / "templates"

    @property
    def files(self) -> Path:
        return self.path / "files"


@dataclass(frozen=True)
class RoleUse:
    """A role in a play's run order; dependencies come before the roles needing them."""

    role: Role
    ref: RoleRef
    via: tuple[str, ...] = ()  # the chain of roles that pulled this one in


@dataclass(frozen=True)
class VarsFile:
    """A play's ``vars_files`` entry; ``data`` is None when its path is a template."""

    path: str
    loc: str
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Play:
    """One play of a playbook, with its roles resolved and every task validated."""

    name: str
    hosts: str
    loc: str
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    vars_files: tuple[VarsFile, ...] = ()
    roles: tuple[RoleUse, ...] = ()
    tasks: tuple[Task, ...] = ()
    handlers: tuple[Task, ...] = ()  # the play's own; role handlers stay with their role
    become: bool | None = None
    become_user: str | None = None
    serial: int | str | None = None
    max_fail_percentage: float | None = None
    any_errors_fatal: bool = False
    tags: tuple[str, ...] = ()
    no_log: bool | tuple[str, ...] = False
    gather_facts: bool = True
    transaction: str = "role"  # what commits or rolls back together: each role, or the play
    checks: tuple[Task, ...] = ()  # the play's own checks, after its handlers
    included: tuple[RoleUse, ...] = ()  # roles brought in by include_role / import_role
    strategy: str = "linear"  # accepted; every host runs its play on its own either way
    order: str = "inventory"  # the order hosts are taken in (and cut into serial batches)
    environment: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    remote_user: str | None = None  # the login user where the inventory names none
    connection: str | None = None  # ssh or local, where the inventory names none

    def role_uses(self) -> tuple[RoleUse, ...]:
        """The play's roles, then those its tasks include."""
        return self.roles + self.included

    def handler_names(self) -> set[str]:
        """Every name a task may notify: handler names, their listen topics, `role : name`."""
        found: set[str] = set()
        for role, handler in self.all_handlers():
            found.update(_handler_aliases(handler))
        return found

    def all_handlers(self) -> list[tuple[Role | None, Task]]:
        """Role handlers (in role order), then the play's own, as Ansible loads them."""
        roles = list({id(use.role): use.role for use in self.role_uses()}.values())
        pairs: list[tuple[Role | None, Task]] = [(role, h) for role in roles
                                                 for h in role.handlers]
        return pairs + [(None, h) for h in self.handlers]


def _handler_aliases(handler: Task) -> set[str]:
    names = set(handler.listen)
    if handler.name:
        names.add(handler.name)
        if handler.role:
            names.add(f"{handler.role} : {handler.name}")
    return names


@dataclass(frozen=True)
class Project:
    """A deployment project's folders, and the run's vault for its encrypted vars files."""

    root: Path
    secrets: Vault | None = field(default=None, compare=False)
    roles_path: tuple[Path, ...] = ()  # searched after roles/ (ansible.cfg's roles_path)

    @property
    def playbooks(self) -> Path:
        return self.root / "playbooks"

    @property
    def roles(self) -> Path:
        return self.root / "roles"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def files(self) -> Path:
        return self.root / "files"

    def playbook_names(self) -> list[str]:
        if not self.playbooks.is_dir():
            return []
        return sorted(p.stem for p in self.playbooks.iterdir() if p.suffix in (".yml", ".yaml"))

    def role_names(self) -> list[str]:
        if not self.roles.is_dir():
            return []
        return sorted(p.name for p in self.roles.iterdir() if p.is_dir())


def load_project(root: Path | str, secrets: Vault | None = None,
                 roles_path: tuple[Path, ...] = ()) -> Project:
    """The project at ``root``; BadInput when it is not a folder."""
    path = Path(root)
    if not path.is_dir():
        raise BadInput("project folder not found", str(path))
    return Project(path, secrets, tuple(roles_path))


def playbook_path(root: Path | str, name: str = "site") -> Path:
    """``playbooks/NAME.yml`` (or .yaml); also accepts a path to the file itself."""
    project = load_project(root)
    given = Path(name)
    candidates = [project.root / given] if given.suffix in (".yml", ".yaml") else []
    candidates += [project.playbooks / f"{name}{ext}" for ext in (".yml", ".yaml")]
    for path in candidates:
        if path.is_file():
            return path
    raise BadInput(f"playbook {name!r} not found (looked for playbooks/{name}.yml)",
                   str(project.root), did_you_mean(name, project.playbook_names()))


def load_playbook(root: Path | str, name: str = "site",
                  secrets: Vault | None = None, roles_path: tuple[Path, ...] = ()) -> list[Play]:
    """The plays of ``playbooks/NAME.yml``, with roles loaded and everything validated;
    ``secrets`` is the run's vault for encrypted vars files; ``roles_path``: more folders
    searched for roles after roles/."""
    project = load_project(root, secrets, roles_path)
    roles = _RoleLoader(project)
    return _playbook_plays(playbook_path(root, name), project, roles, ())


IMPORT_PLAYBOOK_KEYS = ("import_playbook", "ansible.builtin.import_playbook",
                        "ansible.legacy.import_playbook")


def _playbook_plays(path: Path, project: Project, roles: "_RoleLoader",
                    chain: tuple[Path, ...]) -> list[Play]:
    """A playbook file's plays; an ``import_playbook`` entry brings in the plays of the file
    it names (relative to this one's folder), its vars and tags given to each."""
    data = load_yaml(path, project.root, secrets=project.secrets)  # inline !vault values
    shown = display_path(path, project.root)
    if not isinstance(data, list) or not data:
        raise BadInput("a playbook must be a list of plays", loc_of(data) or shown,
                       "start each play with `- name: ...` and `hosts: ...`")
    plays: list[Play] = []
    for i, entry in enumerate(data):
        key = next((k for k in IMPORT_PLAYBOOK_KEYS if isinstance(entry, dict) and k in entry),
                   None)
        if key is None:
            plays.append(_parse_play(entry, i, shown, project, roles))
        else:
            plays += _imported_plays(entry, key, path, project, roles, chain + (path,))
    return plays


def _imported_plays(entry: Mapping[str, Any], key: str, path: Path, project: Project,
                    roles: "_RoleLoader", chain: tuple[Path, ...]) -> list[Play]:
    where = loc_of(entry, key)
    _check_keys(entry, (key, "name", "vars", "tags"), "import_playbook")
    name = entry[key]
    if not isinstance(name, str) or not name.strip() or has_template(name):
        raise BadInput("import_playbook needs a playbook file name", where,
                       "import_playbook: other.yml (a template is not supported)")
    target = (path.parent / name.strip()).resolve()
    if not target.is_file():
        raise BadInput(f"import_playbook: {name!r} not found (looked in "
                       f"{display_path(path.parent, project.root)}/)", where)
    if target in chain:
        raise BadInput(f"import_playbook: {name!r} imports itself", where)
    imported = _playbook_plays(target, project, roles, chain)
    extra = _vars_block(entry.get("vars"), loc_of(entry, "vars"), "import_playbook vars")
    tags = _tags(entry.get("tags"), loc_of(entry, "tags"))
    return [dataclasses.replace(play, vars={**extra, **play.vars},
                                tags=tuple(dict.fromkeys(tags + play.tags)))
            for play in imported]


def plays_from_data(root: Path | str, data: list[Any], shown: str,
                    secrets: Vault | None = None) -> list[Play]:
    """Plays given as data, not read from a file (`mainsail run -m OP`), validated the same."""
    project = load_project(root, secrets)
    roles = _RoleLoader(project)
    return [_parse_play(play, i, shown, project, roles) for i, play in enumerate(data)]


# ---------------------------------------------------------------------------- plays

def _parse_play(data: Any, index: int, shown: str, project: Project,
                roles: _RoleLoader) -> Play:
    where = loc_of(data, col=False) or shown
    if not isinstance(data, dict):
        raise BadInput(f"play {index + 1} must be a mapping", where,
                       "- hosts: web\n  roles: [common]")
    _check_keys(data, PLAY_KEYWORDS, "play")
    hosts = _hosts(data)
    _SOURCE.set((project.root, project.playbooks))
    _ROLES.set((roles, ()))
    play = Play(
        name=str(data.get("name") or hosts), hosts=hosts, loc=where,
        vars=_vars_block(data.get("vars"), loc_of(data, "vars"), "play vars"),
        vars_files=tuple(_vars_files(data, project)),
        roles=roles.expand(_role_refs(data.get("roles"), loc_of(data, "roles"))),
        tasks=_play_tasks(data),
        handlers=_tasks(data.get("handlers"), loc_of(data, "handlers"), None, handlers=True),
        become=_opt_bool(data, "become"), become_user=_become_user(data), serial=_serial(data),
        max_fail_percentage=_percentage(data), any_errors_fatal=bool(_opt_bool(data,
                                                                               "any_errors_fatal")),
        tags=_tags(data.get("tags"), loc_of(data, "tags")),
        no_log=_no_log(data.get("no_log"), loc_of(data, "no_log")),
        gather_facts=_opt_bool(data, "gather_facts") is not False,
        transaction=_transaction(data),
        strategy=_choice(data, "strategy", STRATEGIES, "linear"),
        order=_choice(data, "order", HOST_ORDERS, "inventory"),
        environment=_environment(data),
        remote_user=_remote_user(data),
        connection=_choice(data, "connection", CONNECTIONS, None),
        checks=_tasks(data.get("checks"), loc_of(data, "checks"), None, handlers=False))
    tasks = [*play.tasks, *(t for use in play.roles for t in use.role.tasks)]
    play = dataclasses.replace(play, included=tuple(
        {id(t.included): t.included for t in tasks if t.included is not None}.values()))
    _check_notify(play)
    return play


def _play_tasks(data: Mapping[str, Any]) -> tuple[Task, ...]:
    """pre_tasks, tasks and post_tasks in one list, each play task marked with its phase
    (plan.py runs pre_tasks before the roles, post_tasks after the tasks)."""
    out: list[Task] = []
    for key, phase in (("pre_tasks", "pre_tasks"), ("tasks", ""), ("post_tasks", "post_tasks")):
        tasks = _tasks(data.get(key), loc_of(data, key), None, handlers=False)
        out += [dataclasses.replace(t, phase=phase) if phase else t for t in tasks]
    return tuple(out)


def _choice(data: Mapping[str, Any], key: str, choices: tuple[str, ...],
            default: str | None) -> Any:
    value = data.get(key)
    if value is None:
        return default
    if value not in choices:
        raise BadInput(f"{key} must be one of {', '.join(choices)}, not {value!r}",
                       loc_of(data, key), did_you_mean(str(value), choices))
    return {"smart": "ssh", "paramiko": "ssh"}.get(str(value), str(value))


def _environment(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """environment: names to values (templates allowed), or one '{{ mapping }}'."""
    value = data.get("environment")
    if value is None:
        return EMPTY
    if isinstance(value, str) and has_template(value):
        check_expression(value, where=loc_of(data, "environment"))
        return {"": value}  # the whole mapping, rendered with the task
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        merged: dict[str, Any] = {}  # Ansible's list of mappings: later ones win
        for part in value:
            merged.update(part)
        value = merged
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise BadInput("environment must be a mapping of variable names to values",
                       loc_of(data, "environment"), "environment: {http_proxy: ...}")
    return value


def _async(data: Mapping[str, Any]) -> dict[str, Any]:
    """async: N (seconds) and poll: M. poll 0 starts the step in the background on the host;
    otherwise the step runs in place with N seconds as its time limit, as Ansible's polling
    ends the same way."""
    if data.get("async") is None:
        if data.get("poll") is not None:
            raise BadInput("poll goes with async", loc_of(data, "poll"), "async: 300")
        return {}
    out: dict[str, Any] = {}
    for key, low in (("async", 1), ("poll", 0)):
        value = data.get(key, 15)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise BadInput(f"{key} must be a whole number of seconds, at least {low}",
                           loc_of(data, key) or loc_of(data, "async"))
        out["async_seconds" if key == "async" else "poll"] = value
    return out


def _task_remote_user(data: Mapping[str, Any]) -> str | None:
    """A task's (or block's) remote_user: a name or a template of one; checked per host."""
    value = data.get("remote_user")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"remote_user must be a user name, not {value!r}",
                       loc_of(data, "remote_user"), "e.g. remote_user: deploy")
    return value.strip()


def _remote_user(data: Mapping[str, Any]) -> str | None:
    value = data.get("remote_user")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or value.startswith("-") or \
            has_template(value):
        raise BadInput(f"remote_user must be a user name, not {value!r}",
                       loc_of(data, "remote_user"), "e.g. remote_user: deploy")
    return value.strip()


def _transaction(data: Mapping[str, Any]) -> str:
    """role (default): each role's steps, handlers and checks commit or roll back together;
    play: the whole play does."""
    mode = data.get("transaction", "role")
    if mode not in TRANSACTION_MODES:
        raise BadInput(f"transaction must be one of {', '.join(TRANSACTION_MODES)}, not {mode!r}",
                       loc_of(data, "transaction"), "transaction: role (the default) or play")
    return str(mode)


def _check_keys(data: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    allowed = tuple(allowed)
    for key in data:
        if key in allowed:
            continue
        if key in UNSUPPORTED:
            raise BadInput(f"{what} keyword {key!r} is not supported", loc_of(data, key),
                           UNSUPPORTED[key])
        raise BadInput(f"unknown {what} keyword {key!r}", loc_of(data, key),
                       did_you_mean(str(key), allowed))


def _hosts(data: Mapping[str, Any]) -> str:
    value = data.get("hosts")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = ":".join(value)
    if not isinstance(value, str) or not value.strip():
        raise BadInput("play needs hosts: (a group, host or pattern such as web:&prod)",
                       loc_of(data, "hosts") or loc_of(data))
    return value.strip()


def _vars_block(data: Any, where: str, what: str) -> Mapping[str, Any]:
    if data is None:
        return EMPTY
    if not isinstance(data, dict):
        raise BadInput(f"{what} must be a mapping of variable names to values", where,
                       "vars: {http_port: 80}")
    for key in data:
        check_var_name(key, loc_of(data, key) or where)
    return data


def _vars_files(data: Mapping[str, Any], project: Project) -> list[VarsFile]:
    entries = data.get("vars_files")
    if entries is None:
        return []
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list):
        raise BadInput("vars_files must be a list of file paths", loc_of(data, "vars_files"))
    return [_vars_file(e, loc_of(entries, i) or loc_of(data, "vars_files"), project)
            for i, e in enumerate(entries)]


def _vars_file(entry: Any, where: str, project: Project) -> VarsFile:
    if not isinstance(entry, str):
        raise BadInput("a vars_files entry must be a file path", where,
                       "vars_files: [vars/common.yml]")
    if has_template(entry):
        return VarsFile(entry, where)  # resolved per host when the plan is built
    return VarsFile(entry, where, load_vars_file(project.root, entry, where, project.secrets))


def load_vars_file(root: Path, name: str, where: str,
                   secrets: Vault | None = None) -> Mapping[str, Any]:
    """A vars file, looked up beside the playbooks, then from the project root."""
    for base in (root / "playbooks", root):
        path = base / name
        if path.is_file():
            data = load_yaml(path, root, vars_file=True, secrets=secrets)
            return _vars_block(data, loc_of(data) or display_path(path, root), name)
    raise BadInput(f"vars file {name!r} not found (looked in playbooks/ and the project root)",
                   where)


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    if data.get(key) is None:
        return None
    return as_bool(data[key], key, loc_of(data, key))


def _become_user(data: Mapping[str, Any]) -> str | None:
    """become_user (a user name, or a template of one); become_method may only be sudo."""
    method = data.get("become_method")
    if method is not None and str(method) not in BECOME_METHODS:
        raise BadInput(f"become_method {str(method)!r} is not supported",
                       loc_of(data, "become_method"),
                       "become_method: sudo (the only method; su, doas, runas and others are "
                       "not supported)")
    value = data.get("become_user")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadInput("become_user must be a user name", loc_of(data, "become_user"),
                       "e.g. become_user: www-data")
    if value.startswith("-"):
        raise BadInput(f"become_user {value!r} starts with '-'", loc_of(data, "become_user"),
                       "a user name cannot start with '-'")
    return value


def _serial(data: Mapping[str, Any]) -> int | str | None:
    value = data.get("serial")
    if value is None:
        return None
    if isinstance(value, str) and _SERIAL_PERCENT.fullmatch(value.strip()):
        if 0 < float(value.strip()[:-1]) <= 100:
            return value.strip()
    elif isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).isdigit() \
            and int(value) > 0:
        return int(value)
    raise BadInput(f"serial must be a number of hosts or a percentage, not {value!r}",
                   loc_of(data, "serial"), "for example serial: 2 or serial: '25%'")


def _percentage(data: Mapping[str, Any]) -> float | None:
    value = data.get("max_fail_percentage")
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip().rstrip("%")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not 0 <= number <= 100:
        raise BadInput(f"max_fail_percentage must be between 0 and 100, not {value!r}",
                       loc_of(data, "max_fail_percentage"))
    return number


def _tags(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [part.strip() for part in str(value).split(",")]
    if not isinstance(value, list) or not all(isinstance(t, (str, int)) for t in value):
        raise BadInput("tags must be a name or a list of names", where, "tags: [web, config]")
    return tuple(str(t).strip() for t in value if str(t).strip())


def _names(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BadInput(f"{what} must be a name or a list of names", where,
                       "a name, or a list such as [a, b]")
    return tuple(value)


def _no_log(value: Any, where: str) -> bool | tuple[str, ...]:
    """``true``/``false``, or the names of variables whose values are secrets."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "no", "true", "false"):
        return as_bool(value, "no_log", where)
    if isinstance(value, str) and has_template(value):
        # "{{ apache_ssl_no_log }}": known per host only later; masking never shows less than
        # asked, so it counts as true.
        return True
    names = _names(value, where, "no_log")
    for name in names:
        check_var_name(name, where)
    return names


# ---------------------------------------------------------------------------- roles

def _role_refs(data: Any, where: str) -> list[RoleRef]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise BadInput("roles must be a list of role names", where,
                       "write each role as `- name` on its own line")
    return [_role_ref(entry, loc_of(data, i, col=False) or where) for i, entry in enumerate(data)]


def _role_ref(entry: Any, where: str) -> RoleRef:
    if isinstance(entry, str):
        return RoleRef(_role_name(entry, where), where)
    if not isinstance(entry, dict):
        raise BadInput("a role entry must be a name or a mapping with role:", where,
                       "roles: [common, {role: apache, vars: {http_port: 8080}}]")
    for key in entry:
        if key not in ROLE_ENTRY_KEYS:
            raise BadInput(f"unknown role keyword {key!r}", loc_of(entry, key),
                           did_you_mean(str(key), ROLE_ENTRY_KEYS) +
                           " (role parameters go under vars:)")
    name = entry.get("role", entry.get("name"))
    if not isinstance(name, str):
        raise BadInput("a role entry needs role: NAME", where)
    return RoleRef(_role_name(name, where), where,
                   vars=_vars_block(entry.get("vars"), loc_of(entry, "vars"), "role vars"),
                   tags=_tags(entry.get("tags"), loc_of(entry, "tags")),
                   when=_when(entry.get("when"), loc_of(entry, "when")),
                   become=_opt_bool(entry, "become"), become_user=_become_user(entry),
                   environment=_environment(entry))


def _role_name(name: str, where: str) -> str:
    if "/" in name and all(_ROLE_NAME.fullmatch(p) for p in name.strip("/").split("/")):
        return name  # a role named by its folder
    if not _ROLE_NAME.fullmatch(name):
        raise BadInput(f"role name {name!r} is not allowed", where,
                       "a role is a folder name under roles/")
    return name


class _RoleLoader:
    """Loads each role folder once per playbook and orders roles after their dependencies."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.loaded: dict[str, Role] = {}

    def expand(self, refs: list[RoleRef]) -> tuple[RoleUse, ...]:
        uses: dict[str, RoleUse] = {}
        for ref in refs:
            self._add(ref, (), uses)
        return tuple(uses.values())

    def _add(self, ref: RoleRef, chain: tuple[str, ...], uses: dict[str, RoleUse]) -> None:
        if ref.name in chain:
            cycle = " -> ".join(chain[chain.index(ref.name):] + (ref.name,))
            raise BadInput(f"role dependency cycle: {cycle}", ref.loc,
                           "remove one of these dependencies from meta/main.yml")
        role = self.load(ref)
        for dep in role.dependencies:
            self._add(dep, chain + (ref.name,), uses)
        if ref.name not in uses:  # a role runs once, even when several roles depend on it
            uses[ref.name] = RoleUse(role, ref, chain)

    def load(self, ref: RoleRef, files: Mapping[str, str] = EMPTY) -> Role:
        """The role, with ``files`` naming other files than main.yml for some of its parts
        (include_role's tasks_from, vars_from, defaults_from, handlers_from)."""
        key = ref.name + "".join(f"|{k}={v}" for k, v in sorted(files.items()))
        if key not in self.loaded:
            self.loaded[key] = self._read(ref, files)
        return self.loaded[key]

    def included(self, ref: RoleRef, files: Mapping[str, str]) -> list[RoleUse]:
        """An included role after its dependencies (each once in this include)."""
        uses: dict[str, RoleUse] = {}
        for dep in self.load(ref, files).dependencies:
            self._add(dep, (ref.name,), uses)
        uses[ref.name] = RoleUse(self.load(ref, files), ref)
        return list(uses.values())

    def _read(self, ref: RoleRef, files: Mapping[str, str] = EMPTY) -> Role:
        # roles/ first, then ansible.cfg's roles_path; a folder name: absolute, else under
        # roles/ or the project
        path = next((d / ref.name for d in (self.project.roles, *self.project.roles_path)
                     if (d / ref.name).is_dir()), self.project.roles / ref.name)
        if "/" in ref.name:
            path = next((p for p in (Path(ref.name), self.project.roles / ref.name,
                                     self.project.root / ref.name) if p.is_dir()), path)
        if not path.is_dir():
            raise BadInput(f"role {ref.name!r} not found (looked in roles/"
                           + "".join(f", {d}" for d in self.project.roles_path) + ")", ref.loc,
                           did_you_mean(ref.name, self.project.role_names()))
        part = _RolePart(self.project.root, path, self.project.secrets, files, ref.loc)
        token = _SOURCE.set((self.project.root, path / "tasks"))
        try:
            return self._role(ref, path, part)
        finally:
            _SOURCE.reset(token)

    def _role(self, ref: RoleRef, path: Path, part: "_RolePart") -> Role:
        return Role(
            name=path.name if "/" in ref.name else ref.name, path=path,
            loc=display_path(path, self.project.root),
            defaults=_vars_block(part.load("defaults"), part.where("defaults"), "role defaults"),
            vars=_vars_block(part.load("vars"), part.where("vars"), "role vars"),
            tasks=_tasks(part.load("tasks"), part.where("tasks"), ref.name, handlers=False),
            handlers=_tasks(part.load("handlers"), part.where("handlers"), ref.name,
                            handlers=True),
            checks=_tasks(part.load("checks"), part.where("checks"), ref.name, handlers=False),
            dependencies=_dependencies(part.load("meta"), part.where("meta")))


class _RolePart:
    """``roles/<name>/<part>/main.yml`` (or main.yaml) of one role."""

    def __init__(self, root: Path, path: Path, secrets: Vault | None,
                 files: Mapping[str, str] = EMPTY, loc: str = "") -> None:
        self.root, self.path, self.secrets = root, path, secrets
        self.files, self.loc = files, loc

    def file(self, part: str) -> Path | None:
        stem = self.files.get(part, "main")
        names = [stem] if stem.endswith((".yml", ".yaml", ".json")) else \
            [f"{stem}.yml", f"{stem}.yaml", f"{stem}.json"]
        for name in names:
            path = self.path / part / name
            if path.is_file() and (self.path / part).resolve() in path.resolve().parents:
                return path
        if part in self.files:  # named on purpose: a missing file is an error, not "none"
            raise BadInput(f"role {self.path.name!r} has no {part}/{stem} (looked for "
                           f"{', '.join(names)})", self.loc)
        return None

    def load(self, part: str) -> Any:
        file = self.file(part)
        if file is None:
            return None
        return load_yaml(file, self.root, vars_file=part in ("defaults", "vars"),
                         secrets=self.secrets)

    def where(self, part: str) -> str:
        file = self.file(part)
        return display_path(file or self.path / part, self.root)


def _dependencies(meta: Any, where: str) -> tuple[RoleRef, ...]:
    if meta is None:
        return ()
    if not isinstance(meta, dict):
        raise BadInput("meta/main.yml must be a mapping", where)
    for key in meta:
        if key not in META_KEYS:
            raise BadInput(f"unknown meta keyword {key!r}", loc_of(meta, key),
                           did_you_mean(str(key), META_KEYS))
    return tuple(_role_refs(meta.get("dependencies"), loc_of(meta, "dependencies") or where))


# ---------------------------------------------------------------------------- tasks

# Where the task list being read lives (its folder, and the project root for positions):
# include_tasks / import_tasks name files relative to it.
_SOURCE: contextvars.ContextVar[tuple[Path, Path] | None] = contextvars.ContextVar(
    "task_source", default=None)
BLOCK_KEYWORDS = ("block", "name", "when", "tags", "become", "become_user", "become_method",
                  "vars", "ignore_errors", "no_log", "rescue", "always", "environment",
                  "module_defaults", "delegate_to", "remote_user")
INCLUDE_KEYS = tuple(f"{p}{k}" for p in ("", "ansible.builtin.", "ansible.legacy.")
                     for k in ("include_tasks", "import_tasks"))
ROLE_INCLUDE_KEYS = tuple(f"{p}{k}" for p in ("", "ansible.builtin.", "ansible.legacy.")
                          for k in ("include_role", "import_role"))
ROLE_INCLUDE_ARGS = ("name", "role", "tasks_from", "vars_from", "defaults_from", "handlers_from",
                     "public", "apply", "allow_duplicates", "rolespec_validate")
# The play's role loader, and the chain of includes being read (a role including itself is
# refused).
_ROLES: contextvars.ContextVar[tuple[Any, tuple[str, ...]] | None] = \
    contextvars.ContextVar("role_includes", default=None)
# A task standing for a public include's end: its role's defaults and vars become the play's.
PUBLISH_OP = "include_role public"
_MAX_INCLUDE_DEPTH = 20
_BLOCK_IDS = itertools.count(1)


def _tasks(data: Any, where: str, role: str | None, *, handlers: bool) -> tuple[Task, ...]:
    if data is None:
        return ()
    what = "handlers" if handlers else "tasks"
    if not isinstance(data, list):
        raise BadInput(f"{what} must be a list", loc_of(data) or where,
                       "start each entry with `- name: ...`")
    out: list[Task] = []
    for i, item in enumerate(data):
        here = loc_of(data, i, col=False) or where
        if isinstance(item, dict) and "block" in item:
            out += _block(item, here, role, handlers)
        elif isinstance(item, dict) and any(k in item for k in INCLUDE_KEYS):
            out += _included(item, here, role, handlers)
        elif isinstance(item, dict) and any(k in item for k in ROLE_INCLUDE_KEYS):
            out += _role_included(item, here, role, handlers)
        else:
            out.append(parse_task(item, here, role, handler=handlers))
    return tuple(out)


_EXPECTS_FAILURE: contextvars.ContextVar[bool] = contextvars.ContextVar("expects_failure",
                                                                        default=False)
_TRUE_WORDS = (True, "yes", "true", "True")


def _block(data: Mapping[str, Any], where: str, role: str | None,
           handlers: bool) -> list[Task]:
    """A block's tasks, each inheriting its when, tags, become, vars, ignore_errors; with
    ``rescue``/``always``, those sections' tasks follow, each task marked with its section
    (plan.py decides, per host, which sections run)."""
    _check_keys(data, BLOCK_KEYWORDS, "block")
    sections = [key for key in ("rescue", "always") if data.get(key)]
    if handlers and sections:
        raise BadInput(f"block keyword {sections[0]!r} is not supported in handlers",
                       loc_of(data, sections[0]), "a handler's block runs its tasks in order")
    defaults_token = _MODULE_DEFAULTS.set(_module_defaults(data, _MODULE_DEFAULTS.get()))
    try:
        return _block_sections(data, where, role, handlers, sections)
    finally:
        _MODULE_DEFAULTS.reset(defaults_token)


def _block_sections(data: Mapping[str, Any], where: str, role: str | None, handlers: bool,
                    sections: list[str]) -> list[Task]:
    out: list[Task] = []
    ident = f"{where}#{next(_BLOCK_IDS)}"
    for section in ("block", *sections):
        # A task whose arguments are wrong fails in its place (not at load) where a rescue
        # takes its failure or ignore_errors keeps the play going, as in Ansible.
        token = _EXPECTS_FAILURE.set(_EXPECTS_FAILURE.get() or (
            section == "block" and "rescue" in sections) or
            data.get("ignore_errors") in _TRUE_WORDS)
        try:
            inner = _tasks(data.get(section) or [], loc_of(data, section) or where, role,
                           handlers=handlers)
        finally:
            _EXPECTS_FAILURE.reset(token)
        if sections:
            ref = BlockRef(ident, section, "rescue" in sections, "always" in sections, where)
            inner = tuple(dataclasses.replace(t, blocks=(ref, *t.blocks)) for t in inner)
        out += [_inherit(t, data) for t in inner]
    return out


# module_defaults of the blocks being read: canonical op -> default arguments
_MODULE_DEFAULTS: contextvars.ContextVar[Mapping[str, Mapping[str, Any]]] = \
    contextvars.ContextVar("module_defaults", default=EMPTY)


def _module_defaults(data: Mapping[str, Any], outer: Mapping[str, Mapping[str, Any]]
                     ) -> Mapping[str, Mapping[str, Any]]:
    """``module_defaults: {MODULE: {arg: value}}`` over the enclosing ones (a module's
    short name or FQCN; Ansible's action groups, `group/...`, are refused with why)."""
    value = data.get("module_defaults")
    if value is None:
        return outer
    where = loc_of(data, "module_defaults")
    items = value if isinstance(value, list) else [value]
    merged = {k: dict(v) for k, v in outer.items()}
    for part in items:
        if not isinstance(part, dict):
            raise BadInput("module_defaults must map module names to their default arguments",
                           where, "module_defaults: {apt: {update_cache: true}}")
        for name, args in part.items():
            if str(name).startswith("group/"):
                raise BadInput(f"module_defaults: action groups ({name}) are not supported",
                               where, "name each module")
            op = canonical_op(str(name)) or _SERVICE_BACKENDS.get(str(name).split(".")[-1])
            if not isinstance(args, dict):
                raise BadInput(f"module_defaults for {name} must be a mapping of arguments",
                               where)
            if op is not None:  # another system's module: nothing here uses its defaults
                merged.setdefault(op, {}).update(args)
    return MappingProxyType(merged)


# service runs the host's service manager; Ansible applies that backend module's defaults.
_SERVICE_BACKENDS = {"sysvinit": "service"}



def _with_defaults(data: Mapping[str, Any], op_key: str) -> Mapping[str, Any]:
    """The task with the module_defaults for its op under its own ``args:`` (what the
    task gives wins)."""
    known = _module_defaults(data, _MODULE_DEFAULTS.get())
    op = canonical_op(op_key) or ""
    spec = OPS.get(op)
    backend = {k: v for mod in (spec.defaults_from if spec else ())
               for k, v in known.get(mod, {}).items()
               if not spec.defaults_shared or k in spec.defaults_shared}
    defaults = {**backend, **known.get(op, {})}
    if not defaults:
        return data
    out = _merged({}, data)
    extra = data.get("args")
    out["args"] = _merged(defaults, extra if isinstance(extra, dict) else {})
    return out


def _inherit(task: Task, parent: Mapping[str, Any]) -> Task:
    """``task`` with what its block (or include) sets: their when first, tags added, become
    and vars where the task sets none."""
    changes: dict[str, Any] = {}
    if parent.get("when") is not None:
        changes["when"] = _when(parent.get("when"), loc_of(parent, "when")) + task.when
    if parent.get("tags") is not None:
        changes["tags"] = tuple(dict.fromkeys(_tags(parent["tags"], loc_of(parent, "tags"))
                                              + task.tags))
    if task.become is None and _opt_bool(parent, "become") is not None:
        changes["become"] = _opt_bool(parent, "become")
    if task.become_user is None and _become_user(parent):
        changes["become_user"] = _become_user(parent)
    if parent.get("vars"):
        changes["vars"] = {**_vars_block(parent["vars"], loc_of(parent, "vars"), "vars"),
                           **task.vars}
    if parent.get("ignore_errors") is not None and task.ignore_errors is False:
        changes["ignore_errors"] = _ignore_errors(parent)
    if parent.get("environment") is not None:
        changes["environment"] = {**_environment(parent), **task.environment}
    if parent.get("delegate_to") is not None and task.delegate_to is None:
        changes["delegate_to"] = _delegate_to(parent)
    if parent.get("remote_user") is not None and task.remote_user is None:
        changes["remote_user"] = _task_remote_user(parent)
    if parent.get("no_log") is not None and task.no_log is False:
        changes["no_log"] = _no_log(parent.get("no_log"), loc_of(parent, "no_log"))
    return dataclasses.replace(task, **changes) if changes else task


def _included(data: Mapping[str, Any], where: str, role: str | None,
              handlers: bool) -> list[Task]:
    """include_tasks / import_tasks: the file's tasks, read now (relative to the including
    file's folder), each inheriting the include's when, tags, become and vars."""
    key = next(k for k in INCLUDE_KEYS if k in data)
    looped = tuple(_loop_keys(data)) if key.rsplit(".", 1)[-1] == "include_tasks" else ()
    allowed = (key, "name", "when", "tags", "become", "become_user", "vars", "args",
               "ignore_errors", "no_log", "apply", "environment", "delegate_to",
               "remote_user") + looped + \
        (("loop_control",) if looped else ())
    _check_keys(data, allowed, key.rsplit(".", 1)[-1])
    spec = data[key]
    if isinstance(spec, str) and spec.strip().startswith("file="):  # include_tasks: file=x.yml
        spec = kv_args(spec, loc_of(data, key)).get("file")
    if isinstance(spec, dict):
        spec = spec.get("file")
    if not isinstance(spec, str) and isinstance(data.get("args"), dict):
        spec = data["args"].get("file")
    if not isinstance(spec, str) or not spec.strip():
        raise BadInput(f"{key} needs a file name", loc_of(data, key), f"{key}: other.yml")
    source = _SOURCE.get()
    if source is None:
        raise BadInput(f"{key} is not available here", where)
    root, folder = source
    if has_template(spec) or looped:
        # Named from facts or variables ("setup-{{ ansible_os_family }}.yml"): read when the
        # host's plan reaches it (plan.py), as Ansible's include_tasks is dynamic.
        deferred = DeferredInclude(spec, data, folder, root, role, where)
        placeholder = Task(op=DYNAMIC_INCLUDE, args={"file": spec}, loc=loc_of(data, key) or where,
                           name=str(data["name"]) if data.get("name") else None,
                           role=role, deferred=deferred, loop=_loop_value(data),
                           loop_with=_loop_with(data), loop_control=_loop_control(data))
        return [_inherit(placeholder, data)]  # its vars may name the file (first_found)
    path = (folder / spec).resolve()
    if not path.is_file() and role is not None and (folder.parent / "tasks" / spec).is_file():
        path = folder.parent / "tasks" / spec
    if not path.is_file():
        raise BadInput(f"{key}: file {spec!r} not found (looked in "
                       f"{display_path(folder, root)}/)", loc_of(data, key))
    if len(where.split("<")) > _MAX_INCLUDE_DEPTH:
        raise BadInput(f"{key}: includes nested too deep", where)
    token = _SOURCE.set((root, path.parent))
    try:
        inner = _tasks(load_yaml(path, root), display_path(path, root), role,
                       handlers=handlers)
    finally:
        _SOURCE.reset(token)
    return [_inherit(t, data) for t in inner]


@dataclass(frozen=True)
class DeferredInclude:
    """An include_tasks whose file name is a template: what reading it later needs."""

    spec: str  # the file name, a template
    entry: Mapping[str, Any] = field(compare=False, repr=False)  # the include as written
    folder: Path = Path(".")  # the including file's folder
    root: Path = Path(".")
    role: str | None = None
    where: str = ""
    action: bool = False  # an ``action:`` whose module is a template, not a file


DYNAMIC_INCLUDE = "include_tasks"  # the op of a task standing for a DeferredInclude


def read_deferred(include: DeferredInclude, name: str) -> list[Task]:
    """The tasks of the file ``name`` (the include's rendered file name), read as a static
    include reads them, each inheriting the include's when, tags, become and vars. For a
    templated ``action:``, ``name`` is the rendered action: the one task, read as written."""
    where = loc_of(include.entry) or include.where
    if include.action:
        entry = include.entry
        action = entry["action"]
        if isinstance(action, dict):
            action = {**action, "module": name}
        data = _merged({}, {k: v for k, v in entry.items() if k != "action"})
        data["action"] = action if isinstance(action, dict) else name
        if getattr(entry, "key_pos", {}).get("action") is not None:
            data.key_pos["action"] = entry.key_pos["action"]
        token = _SOURCE.set((include.root, include.folder))
        try:
            return [parse_task(data, include.where, include.role)]
        finally:
            _SOURCE.reset(token)
    path = (include.folder / name).resolve()
    if not path.is_file() and include.role is not None and \
            (include.folder.parent / "tasks" / name).is_file():
        path = include.folder.parent / "tasks" / name
    if not path.is_file():
        raise BadInput(f"include_tasks: file {name!r} not found (looked in "
                       f"{display_path(include.folder, include.root)}/)", where,
                       f"the file name comes from {include.spec!r}")
    token = _SOURCE.set((include.root, path.parent))
    try:
        inner = _tasks(load_yaml(path, include.root), display_path(path, include.root),
                       include.role, handlers=False)
    finally:
        _SOURCE.reset(token)
    return [_inherit(t, include.entry) for t in inner]


def _role_path_name(name: str, project: Project, role: str | None, where: str) -> str:
    """A role named by a path: ``{{ role_path }}`` (the including role's folder) and
    ``{{ playbook_dir }}`` are known when the playbook loads; other templates are not."""
    known = {"role_path": str(project.roles / role) if role else None,
             "playbook_dir": str(project.playbooks)}

    def refuse() -> BadInput:
        return BadInput(f"a role name with a template is not supported ({name!r})", where,
                        "name the role itself, or its folder (roles are read when the "
                        "playbook loads); {{ role_path }} and {{ playbook_dir }} may be used")

    def value(match: re.Match[str]) -> str:
        found = known.get(match.group(1))
        if found is None:
            raise refuse()
        return found

    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", value, name)
    if has_template(text):
        raise refuse()
    return text


def _role_included(data: Mapping[str, Any], where: str, role: str | None,
                   handlers: bool) -> list[Task]:
    """include_role / import_role: the role's tasks (``tasks_from``, else main), read now and
    run in the include's place with the role's variables, files and templates; its
    dependencies' tasks first. ``public`` (import_role's default): its defaults and vars stay
    visible to the tasks after it. ``apply`` and the include's when/tags/become pass to every
    task, as import_tasks does."""
    key = next(k for k in ROLE_INCLUDE_KEYS if k in data)
    what = key.rsplit(".", 1)[-1]
    _check_keys(data, (key, "name", "when", "tags", "become", "become_user", "become_method",
                       "vars", "args", "ignore_errors", "no_log", "environment"), what)
    if handlers:
        raise BadInput(f"{what} is not supported in handlers", loc_of(data, key),
                       "notify the role's own handlers instead")
    spec = data[key]
    spec = {"name": spec} if isinstance(spec, str) else spec
    if isinstance(data.get("args"), dict):
        spec = {**data["args"], **(spec or {})}
    if not isinstance(spec, dict):
        raise BadInput(f"{what} needs a role name", loc_of(data, key), f"{what}: {{name: web}}")
    for name in spec:
        if name not in ROLE_INCLUDE_ARGS:
            raise BadInput(f"unknown {what} argument {name!r}", loc_of(spec, name) or where,
                           did_you_mean(str(name), ROLE_INCLUDE_ARGS))
    name = spec.get("name", spec.get("role"))
    if not isinstance(name, str) or not name.strip():
        raise BadInput(f"{what} needs name: the role", loc_of(data, key), f"{what}: {{name: web}}")
    context = _ROLES.get()
    if context is None:
        raise BadInput(f"{what} is not available here", where)
    loader, chain = context
    name = _role_name(_role_path_name(name.strip(), loader.project, role, where), where)
    if name in chain:
        raise BadInput(f"{what}: role {name!r} includes itself ({' -> '.join(chain + (name,))})",
                       loc_of(data, key))
    files = {part: str(spec[f"{part}_from"]) for part in ("tasks", "vars", "defaults",
                                                          "handlers") if spec.get(f"{part}_from")}
    ref = RoleRef(name, where, vars=_vars_block(data.get("vars"), loc_of(data, "vars"),
                                                "include vars"))
    token = _ROLES.set((loader, chain + (name,)))
    try:
        uses = loader.included(ref, files)
    finally:
        _ROLES.reset(token)
    apply = spec.get("apply") or {}
    if not isinstance(apply, dict):
        raise BadInput(f"{what}: apply must be a mapping of task keywords",
                       loc_of(spec, "apply") or where)
    _check_keys(apply, ("when", "tags", "become", "become_user", "become_method", "vars",
                        "ignore_errors", "no_log", "environment"), "apply")
    parent = {k: v for k, v in data.items() if k != "vars"}
    if hasattr(data, "key_pos"):
        parent = _merged({}, parent)
    out = [_inherit(_inherit(t if t.included else dataclasses.replace(t, included=use), apply),
                    parent)
           for use in uses for t in use.role.tasks]
    public = spec.get("public", key.endswith("import_role"))
    if as_bool(public, "public", loc_of(spec, "public") or where):
        out.append(_inherit(Task(op=PUBLISH_OP, args={}, loc=where, tags=("always",),
                                 included=uses[-1]), parent))
    return out


FOREIGN_OP = "unavailable module"  # a task's op for a module Mainsail does not have


def foreign_module(name: str) -> bool:
    """Whether ``name`` is a module of another platform or collection (never a misspelt
    operation): Windows' win_*, or a collection's name other than ansible.builtin/legacy."""
    if name.startswith(("ansible.builtin.", "ansible.legacy.")):
        return False
    return name.startswith("win_") or bool(re.match(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$", name))


def parse_task(data: Any, where: str, role: str | None = None, *,
               handler: bool = False) -> Task:
    """One task mapping -> :class:`Task`, validated; ``where`` is its file:line."""
    if not isinstance(data, dict):
        raise BadInput("a task must be a mapping (name:, an operation and its arguments)", where)
    for key in ("local_action", "delegate_to", "run_once") if handler else ():
        if key in data:
            raise BadInput(f"{key} is not supported in handlers", loc_of(data, key),
                           "a handler runs on the host that notified it")
    if "local_action" in data:
        data = _local_action(data, where)
    elif "action" in data:
        if _templated_action(data):
            return _deferred_action(data, where, role, handler)
        data = _action(data, where)
    keywords = HANDLER_KEYWORDS if handler else TASK_KEYWORDS
    written = data
    data = _plugin_aliases(data, keywords)
    op_key = _operation_key(data, keywords, where, handler)
    # the action's name as written (a plugin alias's own), for with_first_found's folder
    action = next((k for k in written if k not in data), op_key) if written is not data \
        else op_key
    if foreign_module(op_key) and canonical_op(op_key) is None:
        # Another platform's or collection's module (win_file, community.mysql.mysql_db): it
        # loads, so that a role for several systems reads; the plan refuses it if it would run.
        return Task(op=FOREIGN_OP, args={"module": op_key}, loc=where, role=role,
                    name=_task_name(data), when=_when(data.get("when"), loc_of(data, "when")),
                    tags=_tags(data.get("tags"), loc_of(data, "tags")),
                    register=_register(data))
    later: Mapping[str, tuple[Any, ...]] | None = None
    if _controller_op(op_key):
        op = _controller_op(op_key)
        args = _set_fact_args(data, op_key) if op == "set_fact" else \
            _meta_args(data, op_key) if op == "meta" else _include_vars_args(data, op_key)
    else:
        spec = get_op(op_key, loc_of(data, op_key))
        data = _with_defaults(data, op_key)
        later = _later(data, _judged_here(spec.name))
        try:
            op, args = spec.name, _task_args(data, op_key, spec.name, where,
                                             conditions=not later)
        except BadInput as exc:
            if data.get("ignore_errors") not in _TRUE_WORDS and not _EXPECTS_FAILURE.get():
                raise
            # The task expects to fail (Ansible's targets test a module's argument errors
            # this way): it fails in its place, with the reason, and the play goes on.
            # Ansible's message is the module's own, without the op's name before it
            msg = exc.what[len(spec.name) + 2:] if exc.what.startswith(spec.name + ": ") \
                else exc.what
            op, args = "fail", YDict(msg=getattr(exc, "module_msg", msg))
            args.pos, args.key_pos = getattr(data, "pos", None), {}
            later = None  # judged as the fail it became
    if later is None:
        later = _later(data, judged_here=_judged_here(op))
    judge = {} if later else _judge(data, op)
    return Task(
        judge=judge, later=later,
        op=op, args=args, loc=where, role=role,
        name=_task_name(data), when=_when(data.get("when"), loc_of(data, "when")),
        notify=_names(data.get("notify"), loc_of(data, "notify"), "notify"),
        loop=_loop_value(data), loop_with=_loop_with(data),
        found_in=_found_in(str(action)) if _loop_with(data) == "first_found" else "",
        loop_control=_loop_control(data),
        vars=_vars_block(data.get("vars"), loc_of(data, "vars"), "task vars"), tags=_tags(data.get("tags"), loc_of(data, "tags")),
        become=_opt_bool(data, "become"), become_user=_become_user(data),
        ignore_errors=_ignore_errors(data),
        no_log=_no_log(data.get("no_log"), loc_of(data, "no_log")),
        listen=_names(data.get("listen"), loc_of(data, "listen"), "listen"),
        timeout=_timeout(data), register=_register(data), environment=_environment(data),
        run_once=_template_or_bool(data, "run_once"), delegate_to=_delegate_to(data),
        check_mode=_opt_bool(data, "check_mode"), diff=_opt_bool(data, "diff"),
        remote_user=_task_remote_user(data), **_async(data),
        **_until(data))


def _found_in(action: str) -> str:
    """The folder with_first_found searches for a task of this action (as Ansible)."""
    for word in ("template", "var", "file"):
        if word in action:
            return word + "s"
    return "files"


def _until(data: Mapping[str, Any]) -> dict[str, Any]:
    """until / retries / delay: the host runs the step again until the condition (over its
    own result, as changed_when reads it) holds."""
    out: dict[str, Any] = {}
    if data.get("until") is not None:
        cond = data["until"]
        if isinstance(cond, list):
            cond = " and ".join(f"({c})" for c in cond)
        if isinstance(cond, bool):
            cond = str(cond)
        if not isinstance(cond, str):
            raise BadInput("until must be an expression", loc_of(data, "until"))
        out["until"] = bind_register(cond, data.get("register") or "")
        check_condition(out["until"], "until", loc_of(data, "until"))
    for key, kind in (("retries", int), ("delay", float)):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise BadInput(f"{key} must be a number of at least 0, not {value!r}",
                           loc_of(data, key))
        out[key] = kind(value)
    return out


def _meta_args(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``meta: ACTION``: what the plan does at that point for the host."""
    action = data.get(key)
    if isinstance(action, dict):
        action = action.get("free-form", action.get("_raw_params"))
    here = loc_of(data, key)
    if action in META_REFUSED:
        raise BadInput(f"meta: {action} is not supported", here, META_REFUSED[action])
    if action not in META_ACTIONS:
        raise BadInput(f"unknown meta action {action!r}", here,
                       did_you_mean(str(action), META_ACTIONS))
    return {"action": action}


def _template_or_bool(data: Mapping[str, Any], key: str) -> bool | str:
    value = data.get(key)
    if value is None:
        return False
    if isinstance(value, str) and has_template(value):
        check_expression(value, where=loc_of(data, key))
        return value
    return as_bool(value, key, loc_of(data, key))


def _delegate_to(data: Mapping[str, Any]) -> str | None:
    """``delegate_to``: the controller (localhost), or a template giving it; another host of
    the inventory is refused when the plan is built."""
    value = data.get("delegate_to")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadInput("delegate_to must be a host name", loc_of(data, "delegate_to"),
                       "delegate_to: localhost")
    return value.strip()  # what it notifies runs on the task's own host (plan: resume)


def _action(data: Mapping[str, Any], where: str, key: str = "action") -> YDict:
    """``action: MODULE ARGS`` (or a mapping with ``module:``): Ansible's older spelling of
    a task, the module named as a value."""
    action = data[key]
    module, body = "", None
    if isinstance(action, str):
        module, _, rest = action.strip().partition(" ")
        body = rest.strip() or None
    elif isinstance(action, dict) and isinstance(action.get("module"), str):
        module = action["module"]
        body = {k: v for k, v in action.items() if k != "module"}
    if not module:
        raise BadInput(f"{key} needs a module and its arguments", loc_of(data, key) or where,
                       f"{key}: command hostname")
    out = _merged({}, {k: v for k, v in data.items() if k != key})
    out[module] = body
    if getattr(data, "key_pos", {}).get(key) is not None:
        out.key_pos[module] = data.key_pos[key]
    return out


def _templated_action(data: Mapping[str, Any]) -> bool:
    """``action: "{{ ansible_facts.pkg_mgr }}"``: the module itself named by a template."""
    action = data["action"]
    module = action.strip().partition(" ")[0] if isinstance(action, str) else \
        action.get("module") if isinstance(action, dict) else None
    return isinstance(module, str) and has_template(module)


def _deferred_action(data: Mapping[str, Any], where: str, role: str | None,
                     handler: bool) -> Task:
    """A task whose module is named by a template stands in the plan until the host's
    variables (its facts) name the module; it is then read as written (read_deferred)."""
    if handler:
        raise BadInput("action: a module named by a template is not supported in handlers",
                       loc_of(data, "action"), "name the module itself")
    action = data["action"]
    spec = action.strip() if isinstance(action, str) else str(action["module"])
    source = _SOURCE.get()
    root, folder = source if source is not None else (Path("."), Path("."))
    deferred = DeferredInclude(spec, data, folder, root, role, where, action=True)
    # when, tags and register stay with the stand-in: a false when skips it unread
    return Task(op=DYNAMIC_INCLUDE, args={"action": spec}, loc=loc_of(data, "action") or where,
                name=_task_name(data), role=role, deferred=deferred,
                when=_when(data.get("when"), loc_of(data, "when")),
                tags=_tags(data.get("tags"), loc_of(data, "tags")),
                register=_register(data),
                vars=_vars_block(data.get("vars"), loc_of(data, "vars"), "task vars"))


def _local_action(data: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """``local_action: MODULE ARGS`` (or a mapping with ``module:``): the task, delegated to
    localhost."""
    out = _action(data, where, "local_action")
    if "delegate_to" in data:
        raise BadInput("local_action and delegate_to together", loc_of(data, "delegate_to"),
                       "local_action already runs the task on localhost")
    out["delegate_to"] = "localhost"
    return out


def _register(data: Mapping[str, Any]) -> str | None:
    """``register: name``: the variable later tasks read the result from."""
    value = data.get("register")
    if value is None:
        return None
    if not isinstance(value, str) or has_template(value):
        raise BadInput("register must be a variable name", loc_of(data, "register"),
                       "e.g. register: result")
    try:
        check_var_name(value, loc_of(data, "register"))
    except BadInput as exc:
        raise BadInput("register: %s" % exc.what, exc.where, exc.hint) from None
    return value


# Tasks the controller carries out itself while it builds the plan: no step on the host.
CONTROLLER_OPS = ("set_fact", "include_vars", "meta")
# meta: actions; each refused one with why.
META_ACTIONS = ("flush_handlers", "noop", "end_play", "end_host", "end_batch", "clear_facts",
                "clear_host_errors")
META_REFUSED: Mapping[str, str] = MappingProxyType({
    "refresh_inventory": "the inventory is read once, when the run starts: run again to use "
                         "a changed one",
    "reset_connection": "a run keeps one connection per host",
    "end_role": "put the rest of the role under a when:",
    "role_complete": "put the rest of the role under a when:",
})
INCLUDE_VARS_KEYS = ("file", "dir", "name", "files_matching", "ignore_files", "extensions",
                     "depth", "free-form", "hash_behaviour")
_FQCN = ("ansible.builtin.", "ansible.legacy.")


def _controller_op(key: Any) -> str:
    """``set_fact`` (or its FQCN), else ''."""
    name = str(key)
    for prefix in _FQCN:
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name if name in CONTROLLER_OPS else ""


def _set_fact_args(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``set_fact``: variable names to values (``k=v`` text too); ``cacheable`` is accepted
    (facts live for the run: there is no fact cache to keep them in)."""
    raw = data.get(key)
    here = loc_of(data, key)
    if isinstance(raw, str):
        raw = kv_args(raw, here)
    if not isinstance(raw, dict) or not raw:
        raise BadInput("set_fact needs variable names and values", here,
                       "set_fact: {name: value}")
    facts = {k: v for k, v in raw.items() if k != "cacheable"}
    for name in facts:
        if not has_template(name):
            check_var_name(name, loc_of(raw, name) or here)
    return facts


def _include_vars_args(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``include_vars: file.yml``, or ``{file: ..., name: ...}``, or ``{dir: ...}``."""
    raw = data.get(key)
    here = loc_of(data, key)
    if isinstance(raw, str):
        raw = kv_args(raw, here) if "=" in raw and not has_template(raw.split("=")[0]) \
            else {"file": raw}
    if raw is None and isinstance(data.get("args"), dict):
        raw = data["args"]
    if not isinstance(raw, dict):
        raise BadInput("include_vars needs a file or a dir", here, "include_vars: vars/os.yml")
    if "free-form" in raw:
        raw = {**{k: v for k, v in raw.items() if k != "free-form"}, "file": raw["free-form"]}
    for name in raw:
        if name not in INCLUDE_VARS_KEYS:
            raise BadInput(f"unknown include_vars argument {name!r}", loc_of(raw, name) or here,
                           did_you_mean(str(name), INCLUDE_VARS_KEYS))
    if bool(raw.get("file")) == bool(raw.get("dir")):
        raise BadInput("include_vars needs exactly one of file or dir", here)
    return raw


def kv_args(text: str, where: str) -> dict[str, Any]:
    """Ansible's one-line ``k=v k2="v 2"`` arguments; a ``{{ }}`` may hold spaces."""
    args: dict[str, Any] = {}
    for word in _kv_words(text, where):
        word = _decode_escapes(word)  # as Ansible's parse_kv: regexp='\\b' is \b
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise BadInput(f"{word!r} is not name=value", where,
                           "write the arguments as a mapping, or each as name=value")
        args[key] = _unquote(value)
    return args


# Ansible's escapes in the one-line form (no octal ones: `replace='\1'` stays a backreference)
_ESCAPES = re.compile(r"""(\\U[0-9a-fA-F]{8}|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}"""
                      r"""|\\N\{[^}]+\}|\\[\\'"abfnrtv])""")


def _decode_escapes(text: str) -> str:
    """Python's backslash escapes decoded, the rest of the text left as it is."""
    return _ESCAPES.sub(lambda m: codecs.decode(m.group(0), "unicode-escape"), text)


def _kv_words(text: str, where: str) -> list[str]:
    words, current, quote, depth, i = [], "", "", 0, 0
    while i < len(text):
        ch, pair = text[i], text[i:i + 2]
        if pair in ("{{", "{%") and not quote:
            depth += 1
        elif pair in ("}}", "%}") and depth and not quote:
            depth -= 1
        if quote:
            if ch == "\\" and i + 1 < len(text):
                current += text[i:i + 2]
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"" and not depth:
            quote = ch
        elif ch.isspace() and not depth:
            if current:
                words.append(current)
            current = ""
            i += 1
            continue
        current += ch
        i += 1
    if quote:
        raise BadInput(f"unclosed quote in {text!r}", where)
    return words + ([current] if current else [])


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].replace("\\" + value[0], value[0])
    return value


def _timeout(data: Mapping[str, Any]) -> float | None:
    """A task's step timeout: a positive number of seconds."""
    value = data.get("timeout")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise BadInput(f"timeout must be a positive number of seconds, got {value!r}",
                       loc_of(data, "timeout"), "e.g. timeout: 1800 for a long download")
    return float(value)


# An action plugin that only re-exports a builtin action (``from ansible.plugins.action.debug
# import ActionModule``) is that action under another name: read, never run.
_REEXPORT = re.compile(r"from\s+ansible\.plugins\.action\.([a-z_]+)\s+import\s+ActionModule\b")
_PLUGIN_CODE = re.compile(r"^(from __future__ import .*|assert ActionModule|#.*|\s*)$")


def _plugin_aliases(data: Any, keywords: tuple[str, ...]) -> Any:
    """``data`` with a task key naming such a plugin (in the role's or the playbook's
    action_plugins/) renamed to the builtin it re-exports."""
    source = _SOURCE.get()
    if source is None or not isinstance(data, YDict):
        return data
    for key in list(data):
        if not isinstance(key, str) or key in keywords or _controller_op(key) or \
                canonical_op(key) is not None or not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
            continue
        target = _reexported(key, source)
        if target is None:
            continue
        out = YDict((target if k == key else k, v) for k, v in data.items())
        out.pos = data.pos
        out.key_pos = {(target if k == key else k): p for k, p in data.key_pos.items()}
        return out
    return data


def _reexported(name: str, source: tuple[Path, Path]) -> str | None:
    root, folder = source
    for base in (folder.parent, folder, root):
        path = base / "action_plugins" / f"{name}.py"
        try:
            code = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found = _REEXPORT.search(code)
        rest = _REEXPORT.sub("", code).splitlines()
        if found and canonical_op(found.group(1)) and all(_PLUGIN_CODE.match(l) for l in rest):
            return found.group(1)
    return None


def _operation_key(data: Mapping[str, Any], keywords: tuple[str, ...], where: str,
                   handler: bool) -> str:
    ops = []
    for key in data:
        if key in keywords:
            continue
        if key == "notify" and handler:
            raise BadInput("a handler cannot notify other handlers", loc_of(data, key),
                           "notify every handler needed from the task itself")
        if key in UNSUPPORTED:
            raise BadInput(f"task keyword {key!r} is not supported", loc_of(data, key),
                           UNSUPPORTED[key])
        if isinstance(key, str) and foreign_module(key) and canonical_op(key) is None:
            ops.append(key)
            continue
        if not isinstance(key, str) or (not _controller_op(key) and canonical_op(key) is None):
            raise BadInput(f"unknown task keyword or operation {key!r}", loc_of(data, key),
                           did_you_mean(str(key), [*keywords, *OPS]))
        ops.append(key)
    if not ops:
        raise BadInput("task has no operation", where, "add one of: " + ", ".join(OPS))
    if len(ops) > 1:
        raise BadInput(f"task has more than one operation: {', '.join(ops)}",
                       loc_of(data, ops[1]), "split it into one task per operation")
    return ops[0]


def _task_args(data: Mapping[str, Any], op_key: str, op: str, where: str,
               conditions: bool = True) -> Mapping[str, Any]:
    spec = OPS[op]
    raw = data.get(op_key)
    here = loc_of(data, op_key)
    splat = isinstance(raw, str) and not spec.free_form and _WHOLE_TEMPLATE.fullmatch(raw)
    if splat:  # `assert: '{{ item }}'`: the arguments are a variable's mapping (plan time)
        raw = {SPLAT: raw}
    elif isinstance(raw, str) and not spec.free_form:
        raw = kv_args(raw, here)  # Ansible's one-line form: `copy: dest=/x mode=0644`
    elif isinstance(raw, str):
        raw = free_form_args(spec, raw, here)
    elif raw is not None and not isinstance(raw, dict):
        raise BadInput(f"{op}: arguments must be a mapping", here)
    extra = data.get("args")
    if extra is not None and not isinstance(extra, dict):
        raise BadInput("args must be a mapping", loc_of(data, "args"))
    merged = _merged(extra or {}, raw or {})
    for key in RESULT_CONDITIONS if conditions else ():
        if key in data and key in spec.arg_map():  # the others: judged after the op (_judge)
            _put(merged, key, _bound(data[key], data.get("register")), data)
    if splat:  # checked once the plan has the mapping (splat_args)
        template = merged.pop(SPLAT)
        args = _canonical(spec, merged, here)
        args[SPLAT] = template
        return args
    args = _canonical(spec, merged, here)
    check_required(spec, args, here)
    check_static_values(spec, args, here)
    return args


SPLAT = "__args__"  # a task's arguments given as one template that gives a mapping
_WHOLE_TEMPLATE = re.compile(r"\s*\{\{(?:(?!\}\}).)*\}\}\s*", re.S)


def splat_args(op: str, args: Mapping[str, Any], value: Any, where: str) -> YDict:
    """A task's arguments once its ``{{ mapping }}`` is rendered: that mapping under the
    task's ``args:``, checked as written ones are. Its strings are data: a template inside
    one is not rendered again (as Ansible 2.19 treats values from variables)."""
    if not isinstance(value, Mapping):
        raise BadInput(f"{op}: the arguments template must give a mapping, not "
                       f"{type(value).__name__}", where)
    spec = OPS[op]
    merged = YDict({**{str(k): _as_data(v) for k, v in value.items()},
                    **{k: v for k, v in args.items() if k != SPLAT}})
    merged.pos, merged.key_pos = getattr(args, "pos", None), {}
    out = _canonical(spec, merged, where)
    check_required(spec, out, where)
    check_static_values(spec, out, where)
    return out


def _as_data(value: Any) -> Any:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return "{% raw %}" + value.replace("{% endraw %}", "") + "{% endraw %}"
    if isinstance(value, Mapping):
        return {k: _as_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_data(v) for v in value]
    return value


def _judged_here(op: str) -> bool:
    """Whether the controller reaches the op's verdict itself (debug, assert, fail): its
    changed_when / failed_when are then judged there too."""
    module = RUNNERS.get(op)
    return hasattr(module, "prepare") and hasattr(module, "registered")


def _later(data: Mapping[str, Any], judged_here: bool = False
           ) -> Mapping[str, tuple[Any, ...]]:
    """changed_when / failed_when the host cannot judge itself: they read another variable,
    or use a test or filter beyond its small evaluator (``result.msg is contains('x')``).
    Both then go to the controller, which judges them with full Jinja when the step's result
    arrives (the plan waits for it: one more request). {} when the host can judge them."""
    given = {key: data[key] for key in RESULT_CONDITIONS if key in data}
    if not given:
        return EMPTY
    out: dict[str, tuple[Any, ...]] = {}
    host_can = True
    for key, value in given.items():
        items = tuple(value) if isinstance(value, list) else (value,)
        for item in items:
            if isinstance(item, str):
                check_expression(item, where=loc_of(data, key))
                try:
                    check_condition(_bound(item, data.get("register")), key, loc_of(data, key))
                except BadInput:
                    host_can = False
            elif not isinstance(item, (bool, int)):
                raise BadInput(f"{key} must be an expression or true/false", loc_of(data, key))
        out[key] = items
    return EMPTY if host_can and not judged_here else MappingProxyType(out)


def _judge(data: Mapping[str, Any], op: str) -> Mapping[str, Any]:
    """changed_when / failed_when on an op that does not take them as arguments: the host
    judges the op's result with them (Ansible allows them on every task)."""
    out: dict[str, Any] = {}
    taken = OPS[op].arg_map() if op in OPS else {}
    for key in RESULT_CONDITIONS:
        if key not in data or key in taken:
            continue
        value = _bound(data[key], data.get("register"))
        if isinstance(value, list):
            value = " and ".join(f"({v})" for v in value) or "True"
        if not isinstance(value, (bool, str)):
            raise BadInput(f"{key} must be an expression or true/false", loc_of(data, key))
        if isinstance(value, str):
            check_condition(value, key, loc_of(data, key))
        out[key] = value
    return out


def _bound(condition: Any, register: Any) -> Any:
    """A condition naming the task's own registered result: the host knows it as
    ``result``."""
    if not isinstance(register, str):
        return condition
    if isinstance(condition, list):
        return [bind_register(c, register) for c in condition]
    return bind_register(condition, register)


def _merged(first: Mapping[str, Any], second: Mapping[str, Any]) -> YDict:
    """A YDict of both mappings (second wins) that keeps each key's position for errors."""
    out = YDict()
    out.pos, out.key_pos = getattr(second, "pos", None), {}
    for source in (first, second):
        for key, value in source.items():
            _put(out, key, value, source)
    return out


def _canonical(spec: OpSpec, args: YDict, where: str) -> YDict:
    """Aliases renamed to canonical names; each keeps the position of the name as written."""
    names = alias_map(spec)
    out = YDict(canonical_args(spec, args, where))
    out.pos = args.pos
    out.key_pos = {names.get(k, k): pos for k, pos in args.key_pos.items()}
    return out


def _put(target: YDict, key: str, value: Any, source: Mapping[str, Any]) -> None:
    target[key] = value
    pos = getattr(source, "key_pos", {}).get(key)
    if pos is not None:
        target.key_pos[key] = pos


def _task_name(data: Mapping[str, Any]) -> str | None:
    name = data.get("name")
    if name is None:
        return None
    if not isinstance(name, (str, int, float)) or isinstance(name, bool):
        raise BadInput("name must be text", loc_of(data, "name"))
    return str(name)


def _when(value: Any, where: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            check_expression(item, where=where)
        elif not isinstance(item, (bool, int)):
            raise BadInput("when must be an expression or a list of expressions", where)
    return tuple(items)


def _loop(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, str) and has_template(value):
        check_expression(value, where=loc_of(data, key))
        return value
    raise BadInput("loop must be a list or a '{{ expression }}' giving a list",
                   loc_of(data, key), 'for example loop: "{{ users }}" or loop: [a, b]')


def _loop_keys(data: Mapping[str, Any]) -> list[str]:
    keys = [k for k in data if k == "loop" or str(k).startswith("with_")]
    if len(keys) > 1:
        raise BadInput(f"a task has one loop, not {' and '.join(keys)}", loc_of(data, keys[1]))
    return keys


def _loop_with(data: Mapping[str, Any]) -> str | None:
    keys = _loop_keys(data)
    return keys[0][len("with_"):] if keys and keys[0] != "loop" else None


def _loop_value(data: Mapping[str, Any]) -> Any:
    """``loop:`` (a list or an expression), or a ``with_<kind>:`` value (also a string, a
    mapping: what its kind takes)."""
    keys = _loop_keys(data)
    if not keys:
        return None
    if keys[0] == "loop":
        return _loop(data, "loop")
    value = data[keys[0]]
    if isinstance(value, str) and has_template(value):
        check_expression(value, where=loc_of(data, keys[0]))
    return value


def _loop_control(data: Mapping[str, Any]) -> Mapping[str, Any]:
    value = data.get("loop_control")
    if value is None:
        return EMPTY
    if not isinstance(value, dict):
        raise BadInput("loop_control must be a mapping", loc_of(data, "loop_control"),
                       "loop_control: {loop_var: user}")
    for key in value:
        if key not in LOOP_CONTROL_KEYS:
            raise BadInput(f"unknown loop_control keyword {key!r}", loc_of(value, key),
                           did_you_mean(str(key), LOOP_CONTROL_KEYS))
    for key in ("loop_var", "index_var"):
        if key in value and not (isinstance(value[key], str) and has_template(value[key])):
            check_var_name(value[key], loc_of(value, key))
    return value


def _ignore_errors(data: Mapping[str, Any]) -> bool | str:
    value = data.get("ignore_errors")
    if value is None:
        return False
    if isinstance(value, str) and has_template(value):
        return value
    return as_bool(value, "ignore_errors", loc_of(data, "ignore_errors"))


# ---------------------------------------------------------------------------- notify

def _check_notify(play: Play) -> None:
    known = play.handler_names()
    tasks = [t for use in play.roles for t in use.role.tasks] + list(play.tasks)
    for task in tasks:
        for name in task.notify:
            if name not in known:
                raise BadInput(f"notify: no handler named {name!r} in this play", task.loc,
                               did_you_mean(name, known) or "define it under handlers:")
