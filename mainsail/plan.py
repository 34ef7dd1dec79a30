"""(play, host, facts) -> :class:`HostPlan`: the host's steps with every argument rendered.

A plan is pure data (JSON-serialisable apart from the blob bytes): the agent receives the steps
as they are, and nothing is rendered on the host. Building it touches no host; it reads only the
project's files. Any problem (undefined variable, missing template, bad argument) is BadInput
naming file:line, raised before anything runs anywhere.

Variables, lowest precedence first:

1. role defaults (the role's dependencies first)
2. inventory: group vars, group_vars/, host vars, host_vars/ (see inventory.py)
3. play vars, then the play's vars_files in order
4. role vars (dependencies first), then the role's parameters (``vars:`` on the role entry)
5. extra vars (``--var k=v``)
6. names Mainsail sets: inventory_hostname, groups, group_names, hostvars, facts, ...
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import jinja2

from .agent.facts import ansible_names as ansible_facts
from .agent.ops import OPS as RUNNERS
from .agent.core import OpError
from .agent.spec import Arg, Ships
from .errors import BadInput, did_you_mean
from .inventory import Host, Inventory, check_var_name, select_hosts
from . import taint
from .masking import MASK, Masker
from .opspec import OPS, coerce_args
from .playbook import (SPLAT, splat_args, CONTROLLER_OPS, FOREIGN_OP, PUBLISH_OP, BlockRef, Play, Role, RoleUse, Task,
                       load_vars_file, read_deferred)
from .render import (OMIT, Environment, broken, eval_condition, has_template, make_env,
                     reads_controller_files, referenced_names, render_lazily, render_string,
                     render_template, render_value, run_lookup, to_plain)
from . import ansible_vault
from .vault import MIN_SECRET_LENGTH, Vault, secret_texts
from .yamlio import YDict, display_path, load_yaml, loc_of

MAX_BLOB_BYTES = 100 * 1024 * 1024
# Ansible's default words (headers and checks look for "Ansible managed"), and who wrote it.
ANSIBLE_MANAGED = "Ansible managed (by Mainsail): local changes will be overwritten."
# Where a file goes and where it came from stay readable in a masked plan.
_SHOWN_WHEN_MASKED = frozenset({"dest", "path", "src", "mode", "owner", "group"})


@dataclass(frozen=True)
class HostPlan:
    """Everything one host will be asked to do in one play.

    ``steps`` follow the STEP schema of docs/architecture.md, plus ``where`` (the task's
    file:line), ``action`` (the operation as written, e.g. ``template``), ``become``, ``role``
    and ``tags``. ``handlers`` maps each handler name to its steps, in definition order;
    ``notify`` maps a step id to the handler names it notifies when it changes something.
    """

    host: str
    play: str
    steps: list[dict[str, Any]]
    blobs: dict[str, bytes]
    handlers: dict[str, list[dict[str, Any]]]
    notify: dict[int, list[str]]
    skipped: list[str] = field(default_factory=list)  # names of tasks whose `when` was false
    secrets: tuple[str, ...] = ()  # values the report must mask (no_log names, vault files)
    check: bool = False
    checks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # txn -> probes
    segment: int = 1  # which request of the host's play this is (1 = the first)
    delegate: str | None = None  # "localhost": the segment runs on the controller
    login: str | None = None  # the segment runs on the host logged in as this user (a
    # task's remote_user other than the play's), over a session of its own
    deferred: tuple[str, ...] = ()  # tasks left for later segments (they need a result)
    cursor: Any = field(default=None, compare=False, repr=False)  # renders what follows
    notified: list[str] = field(default_factory=list)  # handlers that steps of the request
    # before notified, judged changed here (``later``): the host runs them with this one's

    def following(self, results: Sequence[Mapping[str, Any]]) -> "HostPlan | None":
        """The next segment, rendered with the registered results of this one's ``results``;
        None when the play is done on this host."""
        if self.cursor is None or (not self.deferred and not self.cursor.flow.judging and
                                   not self.delegate and not self.login):
            return None  # (a segment run elsewhere passes its notifications on: resume)
        following = self.cursor.resume(results)
        if not following.steps and not following.notified and not following.deferred:
            return None  # nothing left to send (a judged step was the play's last)
        return following

    def as_dict(self, *, masked: bool = True) -> dict[str, Any]:
        """JSON-ready view for `plan` output: blobs by size, no_log arguments masked, and
        secrets masked wherever else they appear (a step name, a skipped task)."""
        show = _masked_step if masked else (lambda s: s)
        shown = {"host": self.host, "play": self.play, "check": self.check,
                 "steps": [show(s) for s in self.steps],
                 "handlers": {n: [show(s) for s in steps] for n, steps in self.handlers.items()},
                 "notify": {str(k): v for k, v in self.notify.items()},
                 "skipped": list(self.skipped), "segment": self.segment,
                 "deferred": list(self.deferred),
                 "blobs": {sha: len(data) for sha, data in self.blobs.items()}}
        if self.delegate:
            shown["delegate"] = self.delegate
        if self.login:
            shown["login"] = self.login
        return _mask_all(shown, Masker().with_secrets(self.secrets)) if masked else shown


def _mask_all(value: Any, mask: Masker) -> Any:
    if isinstance(value, dict):
        return {k: _mask_all(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v, mask) for v in value]
    return mask(value)


_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+@", re.I)


def _without_passwords(value: Any) -> Any:
    """Shown arguments with the password of a URL (`https://user:token@host/x`) masked."""
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + "@", value)
    if isinstance(value, dict):
        return {k: _without_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_passwords(v) for v in value]
    return value


def _masked_step(step: Mapping[str, Any]) -> dict[str, Any]:
    if not step.get("no_log"):
        return {**step, "args": _without_passwords(step.get("args"))}
    spec = OPS.get(str(step.get("op")))
    digest = spec.ships.digest if spec is not None and spec.ships else None  # content's hash
    args = {k: (v if k in _SHOWN_WHEN_MASKED or k == digest else MASK)
            for k, v in step["args"].items()}
    return {**step, "args": args}


def build_plan(project_root: Path | str, play: Play, host: Host, facts: Mapping[str, Any] | None,
               extra_vars: Mapping[str, Any] | None, *, tags: Sequence[str] = (),
               skip_tags: Sequence[str] = (), check: bool = False,
               inventory: Inventory | None = None, secrets: Vault | None = None,
               play_hosts: Sequence[str] | None = None, play_batch: Sequence[str] = (),
               host_facts: Mapping[str, Mapping[str, Any]] | None = None) -> HostPlan:
    """Render ``play`` for ``host``: ordered steps, content blobs, handlers, notifications.

    ``play_hosts``: the names of the hosts the play runs on, in order (``run_once`` tasks run
    on the first; ``ansible_play_hosts``); without it, the inventory's hosts matching the
    play's pattern.

    ``inventory`` provides ``groups`` and ``hostvars`` for templates; without it they
    describe this host alone. ``secrets``: the run's vault, for vars files named by a template.
    ``play_batch``: the hosts of this host's ``serial`` batch (``ansible_play_batch``);
    ``host_facts``: every connected host's facts (in ``hostvars``). A play with
    ``gather_facts: false`` sees no facts.

    The plan is the host's first *segment*: the tasks up to the first one that reads a result
    registered by a task of the same segment. ``HostPlan.following(results)`` renders the next
    segment once those results are known; the tasks it holds were checked here already.
    """
    builder = _Builder(Path(project_root), play, host,
                       dict(facts or {}) if play.gather_facts else {}, dict(extra_vars or {}),
                       inventory, check, _TagFilter(tuple(tags), tuple(skip_tags)), secrets)
    builder.hello_facts = dict(facts or {})
    builder.play_hosts = list(play_hosts) if play_hosts is not None else \
        _matching_hosts(play, host, inventory)
    builder.play_batch = list(play_batch) or builder.play_hosts
    builder.host_facts = {} if host_facts is None or not play.gather_facts else host_facts
    return builder.segment(first=True)


def _matching_hosts(play: Play, host: Host, inventory: Inventory | None) -> list[str]:
    if inventory is None:
        return [host.name]
    try:
        return [h.name for h in select_hosts(inventory, limit=play.hosts)]
    except BadInput:
        return [host.name]


# A unit of a play's run order: a task, or a role's (or the play's) checks.
_TASK, _CHECKS = "task", "checks"


def _units(play: Play) -> list[tuple[str, Any, RoleUse | None]]:
    """The play's run order: pre_tasks, roles, tasks, the play's checks, post_tasks (each
    phase its own transaction, so its notified handlers run at its end, as Ansible flushes
    them between these sections)."""
    def phase(name: str) -> list[tuple[str, Any, RoleUse | None]]:
        return [(_TASK, task, task.included) for task in play.tasks if task.phase == name]

    units = phase("pre_tasks")
    for use in play.roles:
        units += [(_TASK, task, task.included or use) for task in use.role.tasks]
        units.append((_CHECKS, use.role.checks, use))
    units += phase("")
    units.append((_CHECKS, play.checks, None))
    return units + phase("post_tasks")


def role_vars(project_root: Path | str, play: Play, host: Host,
               inventory: Inventory | None) -> dict[str, Any]:
    """The variables the play's roles see on ``host``, merged in role order, as plain data
    (no facts: those need the host; values built from them are left out). What `inv verify`
    hands a role's checks."""
    builder = _Builder(Path(project_root), play, host, {}, {}, inventory, False,
                       _TagFilter((), ()))
    merged: dict[str, Any] = {}
    for use in play.roles:
        for name, value in builder.scope(use).vars.items():
            if name in _MAGIC_OBJECTS or isinstance(value, jinja2.Undefined):
                continue
            try:
                merged[name] = json.loads(json.dumps(value))
            except (TypeError, ValueError):
                continue  # not plain data
    return merged


# Names that read a host's facts (besides ansible_<fact>), and ansible_ names that are not facts.
_FACT_NAMES = frozenset({"ansible_facts", "facts", "hostvars"})
# Operations whose result brings facts (Ansible's `ansible_facts`), with the facts they set
# that are also variables of their own name (Ansible sets module facts as host variables:
# after service_facts, `services` and `ansible_facts.services`).
FACT_OPS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "setup": (), "service_facts": ("services",),
    # getent's getent_DATABASE, a variable as in Ansible (the databases of nsswitch.conf)
    "getent": tuple("getent_" + db for db in (
        "passwd", "group", "shadow", "gshadow", "hosts", "ahosts", "ahostsv4", "ahostsv6",
        "services", "protocols", "networks", "netgroup", "aliases", "ethers", "rpc",
        "initgroups"))})
_INJECTED = frozenset(name for names in FACT_OPS.values() for name in names)
_NOT_FACTS = frozenset({"ansible_check_mode", "ansible_play_hosts", "ansible_play_batch",
                        "ansible_play_hosts_all", "ansible_managed"})

# Views and objects among the names Mainsail sets: templates use them, checks need not.
_MAGIC_OBJECTS = frozenset({"groups", "hostvars", "facts", "ansible_facts"})


# ---------------------------------------------------------------------------- blocks

_Failure = tuple  # (order, task, result): the earliest failure of a block's section


class _Flow:
    """block / rescue / always on one host, as the plan is built.

    Tasks carry their blocks (playbook.BlockRef, outermost first). A section's first failure
    is recorded; the block's later tasks are then skipped, its rescue runs (and clears the
    failure unless a rescue task fails), its always runs in every case. When the next task is
    outside a block, a failure still standing goes to the enclosing block, or fails the host.

    A failure known on the controller (a template that cannot render, a false assert) costs
    no round trip. A step run on the host may fail: it is sent ``caught``, and the plan is cut
    where the outcome matters (before the block's next section, or a task the controller
    carries out itself), so a block of host steps costs one more request, not one per step.
    """

    def __init__(self) -> None:
        self.failures: dict[str, dict[str, _Failure]] = {}  # block id -> section -> failure
        self.open: tuple[BlockRef, ...] = ()  # the blocks of the last task planned
        self.caught: dict[int, Task] = {}  # step id -> its task: sent, outcome not in yet
        # step id -> (task, scope, item): sent; its changed_when / failed_when are judged here
        # when its result arrives (Task.later), so nothing after it goes in the same request
        self.judging: dict[int, tuple[Task, Any, Any]] = {}
        self.halted = False  # a failure no block cleared: nothing more is planned

    def copy(self) -> "_Flow":
        other = _Flow()
        other.failures = {k: dict(v) for k, v in self.failures.items()}
        other.open, other.caught, other.halted = self.open, dict(self.caught), self.halted
        other.judging = dict(self.judging)
        return other

    def skips(self, task: Task) -> bool:
        """Whether the task's section is not to run: after a failure in it, or a rescue
        whose block did not fail."""
        for ref in task.blocks:
            failed = self.failures.get(ref.id, {})
            if ref.section in failed or (ref.section == "rescue" and "block" not in failed):
                return True
        return False

    def must_wait(self, task: Task) -> bool:
        """Whether ``task`` needs the outcome of the caught steps sent: it is outside their
        section, or the controller carries it out (its effect would stand even if they
        failed)."""
        if task.op in CONTROLLER_OPS or task.op == PUBLISH_OP or (
                task.register and task.op in _JUDGED_HERE):
            return True
        sections = [(r.id, r.section) for r in task.blocks]
        for sent in self.caught.values():
            chain = [(r.id, r.section) for r in sent.blocks]
            if sections[:len(chain)] != chain:
                return True
        return False

    def record(self, ref: BlockRef, order: int, task: Task, result: Mapping[str, Any]) -> bool:
        """The failure of ``ref``'s section, if it is the earliest; True when recorded."""
        failed = self.failures.setdefault(ref.id, {})
        if ref.section in failed and failed[ref.section][0] <= order:
            return False
        failed[ref.section] = (order, task, result)
        return True

    def leave(self, chain: Sequence[BlockRef],
              fails: Callable[[tuple[BlockRef, ...], _Failure], None]) -> _Failure | None:
        """Close the open blocks ``chain`` is not in, innermost first; a failure that still
        stands goes to ``fails`` with the blocks around it (which take it before they close
        in turn). The failure that leaves the outermost block, if any: the host's."""
        ids = {r.id for r in chain}
        opened, self.open = self.open, tuple(chain)
        for depth in range(len(opened) - 1, -1, -1):
            ref = opened[depth]
            if ref.id in ids:
                continue
            failed = self.failures.pop(ref.id, {})
            standing = next((failed[s] for s in ("always", "rescue", "block")
                             if s in failed and (s != "block" or not ref.rescue)), None)
            if standing is None:
                continue
            if depth == 0:
                return standing
            fails(opened[:depth], standing)
        return None


_UNSET: Any = object()  # a segment whose machine is not decided yet (no host step so far)


def _runs_on_host(task: Task) -> bool:
    """Whether the task's step does something on a machine (not a verdict the controller
    reached, nor a variable it set)."""
    return task.op not in CONTROLLER_OPS and task.op not in _JUDGED_HERE and \
        task.op != PUBLISH_OP


def _caught(task: Task) -> bool:
    """Whether a block section around the task takes its failure: a block (which has a rescue
    or an always), or a rescue followed by an always."""
    return any(r.section == "block" or (r.section == "rescue" and r.always)
               for r in task.blocks)


# ---------------------------------------------------------------------------- tags

@dataclass(frozen=True)
class _TagFilter:
    """``--tags`` / ``--skip-tags`` with Ansible's special tags: always, never, tagged, untagged."""

    tags: tuple[str, ...]
    skip: tuple[str, ...]

    def wants(self, task_tags: set[str]) -> bool:
        return self._selected(task_tags) and not self._skipped(task_tags)

    def _selected(self, task_tags: set[str]) -> bool:
        if not self.tags:
            return "always" in task_tags or "never" not in task_tags
        wanted = set(self.tags)
        return ("always" in task_tags or bool(wanted & task_tags)
                or ("all" in wanted and "never" not in task_tags)
                or ("tagged" in wanted and bool(task_tags) and "never" not in task_tags)
                or ("untagged" in wanted and not task_tags))

    def _skipped(self, task_tags: set[str]) -> bool:
        skip = set(self.skip)
        if "all" in skip:
            return "always" not in task_tags or "always" in skip
        return (bool(skip & task_tags) or ("tagged" in skip and bool(task_tags))
                or ("untagged" in skip and not task_tags))


# ---------------------------------------------------------------------------- scopes

# A task's template strings by (task, inherited conditions), for every host of the run.
_TEMPLATES: dict[Any, tuple[Task, tuple[str, ...]]] = {}
_TEMPLATES_MAX = 4096  # tasks made per host (an include's) each hold an entry: bounded


@dataclass(frozen=True)
class _Scope:
    """Where a task runs: its role (if any), its variables, and its template environment."""

    use: RoleUse | None
    vars: Mapping[str, Any]
    env: Environment
    files: tuple[Path, ...]  # where copy looks for src
    tags: frozenset[str]  # inherited from the play and role entries
    when: tuple[Any, ...]  # inherited from role entries
    become: bool | None
    become_user: str | None


class _Builder:
    """Builds one host's plan, segment by segment; lives as long as the host's play."""

    def __init__(self, root: Path, play: Play, host: Host, facts: dict[str, Any],
                 extra: dict[str, Any], inventory: Inventory | None, check: bool,
                 tag_filter: _TagFilter, secrets: Vault | None = None) -> None:
        self.root, self.play, self.host, self.facts = root, play, host, facts
        self.vault = secrets
        self.extra, self.inventory, self.check = extra, inventory, check
        self.tag_filter = tag_filter
        for name in extra:
            check_var_name(name, f"--var {name}")
        self.steps: list[dict[str, Any]] = []
        self.blobs: dict[str, bytes] = {}
        self.handlers: dict[str, list[dict[str, Any]]] = {}
        self.notify: dict[int, list[str]] = {}
        self.checks: dict[str, list[dict[str, Any]]] = {}
        self.skipped: list[str] = []
        self.secrets: list[str] = []
        self.scopes: dict[tuple[str, str] | None, _Scope] = {}
        self.next_id = 0
        self.units = _units(play)
        self.pos = 0  # the next unit to render
        self.number = 0  # segments rendered so far
        self.after_include = False  # checking ahead: a dynamic include was passed
        self.added_groups: list[str] = []  # group_by: groups this host joined in the play
        self.known_here: dict[int, dict[str, Any]] = {}  # pseudo step id -> result known here
        self.notify_later: list[str] = []  # handlers judged-later steps notified (next request)
        self.registered: dict[str, Any] = {}  # results known on the controller
        self.awaited: dict[str, list[tuple[Any, int | None]]] = {}  # name -> (item, step id)
        self.looped: set[str] = set()  # awaited names registered by a loop
        # block / rescue / always (see _Flow): how each open block is going on this host
        self.flow = _Flow()
        self.play_hosts: list[str] = [host.name]
        self.play_batch: list[str] = [host.name]
        self.host_facts: Mapping[str, Mapping[str, Any]] = {}
        self.hello_facts: dict[str, Any] = {}  # what the host sent, even under gather_facts: false
        self.added_facts: dict[str, Any] = {}  # Ansible-named facts from setup (and the like)
        self.flushes = 0  # meta: flush_handlers so far: each starts new transactions
        self.sample_derived: set[str] = set()  # set_fact names made from sample results
        self.sample_facts: set[str] = set()  # module facts (getent_shadow) standing in empty
        self.delegate: str | None = None  # where this segment's steps run (None: the host)
        self._add_secrets(inventory.secrets if inventory else secret_texts(host.vars))
        # Values the run's vault decrypted while loading (inline !vault in a playbook or task
        # file): a step quoting one is no_log like a step quoting a vars file's secret.
        self._add_secrets(secrets.secrets() if secrets is not None else ())

    # -- scopes and variables

    def scope(self, use: RoleUse | None) -> _Scope:
        key = (use.role.name, use.ref.loc) if use else None  # a role included twice: its own
        if key not in self.scopes:
            self.scopes[key] = self._new_scope(use)
        return self.scopes[key]

    def _new_scope(self, use: RoleUse | None) -> _Scope:
        chain = self._role_chain(use)
        templates = [r.templates for r in chain[-1:]] + [self.root / "templates"]
        # then the role's own folder: `src: files/x` finds roles/R/files/x, as in Ansible
        files = tuple([r.files for r in chain[-1:]] + [self.root / "files"] +
                      [r.files.parent for r in chain[-1:]] + [self.root])  # (Ansible: the
        # playbook's own folder last)
        env = make_env(templates, self.root)
        env.files_path = files
        raw, sources = self._layers(use, chain, env)
        variables = _resolve_vars(raw, sources, env, self._magic(use))
        self._collect_secrets(self.play.no_log, variables)
        # A vault value that is a template is a secret once rendered too.
        self._add_secrets(text for name in raw if any(secret_texts(raw[name]))
                          for text in _strings(variables.get(name)))
        refs = self._refs(use)
        return _Scope(use, variables, env, files,
                      frozenset(self.play.tags) | {t for r in refs for t in r.tags},
                      tuple(w for r in refs for w in r.when),
                      next((r.become for r in reversed(refs) if r.become is not None), None),
                      next((r.become_user for r in reversed(refs) if r.become_user), None))

    def _role_chain(self, use: RoleUse | None) -> list[Role]:
        """The role and its dependencies, dependencies first, each once."""
        if use is None:
            return []
        by_name = {u.role.name: u.role for u in reversed(self.play.role_uses())}
        by_name[use.role.name] = use.role  # an included role may read other files than main
        ordered: list[Role] = []

        def visit(role: Role) -> None:
            for dep in role.dependencies:
                if dep.name in by_name and by_name[dep.name] not in ordered:
                    visit(by_name[dep.name])
            if role not in ordered:
                ordered.append(role)

        visit(use.role)
        return ordered

    def _refs(self, use: RoleUse | None) -> list[Any]:
        """The role entries that brought this role in: outermost first, then its own."""
        if use is None:
            return []
        by_name = {u.role.name: u.ref for u in reversed(self.play.role_uses())}
        return [by_name[n] for n in use.via if n in by_name] + [use.ref]

    def _layers(self, use: RoleUse | None, chain: list[Role],
                env: Environment) -> tuple[dict[str, Any], dict[str, str]]:
        raw: dict[str, Any] = {"ansible_managed": ANSIBLE_MANAGED}
        sources: dict[str, str] = {"ansible_managed": "mainsail"}

        def put(mapping: Mapping[str, Any], source: Any) -> None:
            self._add_secrets(secret_texts(mapping))  # before any rendering can quote them
            for key, value in mapping.items():
                raw[key] = value
                sources[key] = source(key) if callable(source) else source

        for role in chain:
            put(role.defaults, lambda k, m=role.defaults: loc_of(m, k, col=False))
        put(self.host.vars, lambda k: self.host.var_sources.get(k, f"host {self.host.name}"))
        put(self.play.vars, lambda k: loc_of(self.play.vars, k, col=False) or self.play.loc)
        for vars_file in self.play.vars_files:
            data = vars_file.data if vars_file.data is not None else \
                self._templated_vars_file(vars_file.path, vars_file.loc, raw, env)
            put(data, lambda k, m=data: loc_of(m, k, col=False) or vars_file.loc)
        for role in chain:
            put(role.vars, lambda k, m=role.vars: loc_of(m, k, col=False))
        if use is not None:
            put(use.ref.vars, lambda k: loc_of(use.ref.vars, k, col=False) or use.ref.loc)
        put(self.extra, lambda k: f"--var {k}")
        return raw, sources

    def _templated_vars_file(self, path: str, where: str, so_far: Mapping[str, Any],
                             env: Environment) -> Mapping[str, Any]:
        context = {**so_far, **self.extra, **self._magic(None)}
        name = render_string(path, context, where=where, env=env)
        return load_vars_file(self.root, name, where, self.vault)

    def _magic(self, use: RoleUse | None) -> dict[str, Any]:
        host, inv = self.host, self.inventory
        magic = {"inventory_hostname": host.name,
                 # where Mainsail connects: the inventory's address (ansible_host), else the name
                 "ansible_host": host.address or host.name,
                 "ansible_connection": host.connection,
                 "inventory_hostname_short": host.name.split(".")[0],
                 "group_names": [g for g in host.groups if g not in ("all", "ungrouped")]
                 + [g for g in self.added_groups if g not in host.groups],
                 "groups": _GroupsView(inv, host.name, self.added_groups) if inv else
                 {g: [host.name] for g in [*host.groups, *self.added_groups]},
                 "hostvars": _HostVarsView(inv, {**self.host_facts, host.name: self.facts},
                                           {host.name: self.added_facts})
                 if inv else {host.name: {**host.vars,
                                          **fact_vars(self.facts, self.added_facts)}},
                 **fact_vars(self.facts, self.added_facts), "play_hosts": list(self.play_batch),
                 **{name: value for name, value in self.added_facts.items()
                    if name in _INJECTED},
                 "ansible_play_hosts": list(self.play_hosts),
                 "ansible_play_batch": list(self.play_batch),
                 "ansible_play_hosts_all": list(self.play_hosts),
                 "ansible_check_mode": self.check, "playbook_dir": str(self.root / "playbooks")}
        magic["ansible_search_path"] = [magic["playbook_dir"]]  # where relative files are
        if use is not None:
            magic["role_name"] = use.role.name
            magic["role_path"] = str(use.role.path)
            magic["ansible_search_path"] = [str(use.role.path), magic["playbook_dir"]]
        return magic

    def _add_secrets(self, texts: Iterable[str]) -> None:
        """Values from encrypted files: too short ones would mask every "no" and "80"."""
        for text in texts:
            if len(text) >= MIN_SECRET_LENGTH and str(text) not in self.secrets:
                self.secrets.append(str(text))

    def _collect_secrets(self, no_log: bool | tuple[str, ...],
                         variables: Mapping[str, Any]) -> None:
        if isinstance(no_log, bool):
            return
        for name in no_log:
            for text in _strings(variables.get(name)):
                if text and text not in self.secrets:
                    self.secrets.append(text)

    # -- segments

    def segment(self, first: bool = False) -> HostPlan:
        """Render units from where the last segment stopped up to the first task that reads
        a result this segment registers; on the first segment, check the rest too."""
        self.number += 1
        self.steps, self.blobs, self.handlers, self.notify = [], {}, {}, {}
        self.checks, self.skipped = {}, []
        self.delegate = _UNSET
        try:
            with taint.collecting(self._add_secrets):  # values computed from secrets
                self._render_segment(first)
        except BadInput as exc:  # rendering errors may quote values: mask the secrets among them
            raise Masker().with_secrets(self.secrets).error(exc) from None
        return self.finish()

    def _render_segment(self, first: bool) -> None:
        while self.pos < len(self.units):
            kind, what, use = self.units[self.pos]
            scope = self.scope(use)
            if kind == _TASK and self._waits(what, scope):
                break
            if kind == _TASK and what.deferred is not None:
                # include_tasks named by a template: its tasks take its place, then run
                self.units[self.pos:self.pos + 1] = [
                    (_TASK, task, use) for task in self._expand_include(what, scope)]
                continue
            if kind == _TASK and what.op == FOREIGN_OP:
                self._unavailable(what, scope)  # skipped here, or bad input
                self.pos += 1
                continue
            self.pos += 1
            self._enter_blocks(what.blocks if kind == _TASK else (), scope)
            if self.flow.halted:
                self.pos = len(self.units)
                break
            if kind == _TASK:
                if not self.flow.skips(what):
                    self.add_task(what, scope)
            else:
                self.add_checks(what, scope)
        if self.pos >= len(self.units) and not self.flow.caught and not self.flow.halted \
                and not self.flow.judging:
            self._enter_blocks((), self.scope(None))
        self.add_handlers()
        if first:
            self._check_deferred()

    def _expand_include(self, task: Task, scope: _Scope) -> list[Task]:
        """A dynamic include_tasks on this host: nothing when its `when` is false, else the
        tasks of the file its rendered name gives."""
        assert task.deferred is not None
        if not self.tag_filter.wants(set(scope.tags) | set(task.tags)):
            return []
        variables = self._item_vars(task, scope, None)  # the include's own vars too
        if task.when and not eval_condition(list(scope.when) + list(task.when), variables,
                                            where=task.loc, env=scope.env):
            self.skipped.append(task.title)
            if task.deferred.action and task.register:  # the task itself was skipped
                self.registered[task.register] = dict(SKIPPED_RESULT)
            return []
        if task.loop is None:
            name = render_string(task.deferred.spec, variables, where=task.loc, env=scope.env)
            return read_deferred(task.deferred, str(name).strip())
        # A looped include: the file's tasks once per item, each seeing the loop's variables.
        tasks: list[Task] = []
        control = task.loop_control
        for item in self._items(task, scope, self.skipped):
            bound = self._item_vars(task, scope, item)
            name = render_string(task.deferred.spec, bound, where=task.loc, env=scope.env)
            names = [str(bound.get("ansible_loop_var") or "item")]
            if control.get("index_var"):
                names.append(str(control["index_var"]))
            own = {n: bound[n] for n in names + ["ansible_loop_var"] if n in bound}
            tasks += [dataclasses.replace(t, vars={**own, **t.vars})
                      for t in read_deferred(task.deferred, str(name).strip())]
        return tasks

    def _unit_tasks(self) -> list[Task]:
        return [what for kind, what, _ in self.units if kind == _TASK]

    def _unavailable(self, task: Task, scope: _Scope) -> None:
        """A module Mainsail does not have: skipped where its `when` is false (a role's task
        for another system), else the host's plan is refused before anything runs."""
        if not self.tag_filter.wants(set(scope.tags) | set(task.tags)):
            return
        if eval_condition(list(scope.when) + list(task.when) or [True], self._vars(scope),
                          where=task.loc, env=scope.env):
            raise BadInput(f"{task.args['module']}: this module is not available in Mainsail",
                           task.loc, "give the task a when: that skips it on these hosts "
                                     "(mainsail doc operations lists what is available)")
        self.skipped.append(task.title)
        if task.register:
            self.registered[task.register] = dict(SKIPPED_RESULT)

    def resume(self, results: Sequence[Mapping[str, Any]]) -> HostPlan:
        """The next segment, once the results of the one before are in."""
        by_id = {r.get("id"): r for r in results}
        if self.delegate not in (_UNSET, None):  # run elsewhere: its notifications go on to
            # the play's own session with the next request
            for step_id, names in self.notify.items():
                if by_id.get(step_id, {}).get("status") == "changed":
                    self.notify_later += [n for n in names if n not in self.notify_later]
        self._take_facts(results)
        fatal = next((entry for i, entry in sorted(self.flow.judging.items())
                      if by_id.get(i, {}).get("status") == "failed" and i not in self.flow.caught),
                     None)
        self.flow.judging = {}
        if fatal is not None:  # failed by its failed_when, judged here: the host stops
            self.flow.halted = True
            raise BadInput(f"{fatal[0].title}: failed (failed_when)", fatal[0].loc)
        failed = sorted(i for i in self.flow.caught if by_id.get(i, {}).get("status") == "failed")
        if failed:  # the host stopped there: the block's rescue / always decide what follows
            task = self.flow.caught[failed[0]]
            self._block_failed(task.blocks, failed[0], task,
                               {**result_fields(by_id[failed[0]]), "failed": True})
        self.flow.caught = {}
        for name, entries in self.awaited.items():
            self.registered[name] = _registered(entries, {**self.known_here, **by_id},
                                                name in self.looped, fields=_fields_of)
        self.awaited, self.looped = {}, set()
        return self.segment()

    def _take_facts(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Facts a step returned (``setup``, ``hostname``...) are the host's facts from now
        on, as in Ansible; the scopes are rendered again with them."""
        for result in results:
            data = result.get("data")
            returned = data.get("ansible_facts") if isinstance(data, Mapping) else None
            if isinstance(returned, Mapping) and returned:
                self.added_facts.update({k[len("ansible_"):] if k.startswith("ansible_") else k:
                                         v for k, v in returned.items()})
                self.scopes = {}

    def _reads_facts(self, task: Task, scope: _Scope) -> bool:
        """Whether ``task`` reads facts while a ``setup`` step of this segment may change
        them: then it waits for the next segment."""
        ops = {step.get("op") for step in self.steps} & FACT_OPS.keys()
        if not ops:
            return False
        injected = {name for op in ops for name in FACT_OPS[str(op)]}
        return any(name in _FACT_NAMES or name in injected or
                   (name.startswith("ansible_") and name not in _NOT_FACTS)
                   for name in self._deps(task, scope))

    def _deps(self, task: Task, scope: _Scope) -> set[str]:
        """The variable names a task's templates read (when, loop, arguments, name, ...)."""
        names: set[str] = set()
        for text in self._templates(task, scope):
            names |= referenced_names(text, scope.env)
        return names

    def _templates(self, task: Task, scope: _Scope) -> tuple[str, ...]:
        """The task's template strings (when, loop, arguments, name, ...), a bare condition
        as the template it is. The same for every host: found once per task and scope."""
        try:
            key: Any = (id(task), scope.when)
            hit = _TEMPLATES.get(key)
        except TypeError:  # an unhashable condition: not remembered
            key, hit = None, None
        if hit is not None and hit[0] is task:  # held there, so its id is still its own
            return hit[1]
        texts = [task.title, task.loop, task.args, task.become_user, task.ignore_errors,
                 dict(task.vars), dict(task.environment),
                 [w for w in list(scope.when) + list(task.when) if isinstance(w, str)]]
        out = [text for text in _strings(texts) if has_template(text)]
        bare = list(scope.when) + list(task.when)
        if task.op in _JUDGED_HERE:
            bare += _JUDGED_HERE[task.op].expressions(task.args)
        out += ["{{ %s }}" % cond for cond in bare
                if isinstance(cond, str) and not has_template(cond)]
        if key is not None:
            if len(_TEMPLATES) >= _TEMPLATES_MAX:
                _TEMPLATES.clear()
            _TEMPLATES[key] = (task, tuple(out))
        return tuple(out)

    def _controller_changes(self) -> bool:
        """Whether the play's steps may change the controller's files (a local host, or
        tasks delegated to localhost)."""
        return self.host.connection == "local" or any(
            kind == _TASK and what.delegate_to for kind, what, _ in self.units)

    def _reads_changed_files(self, task: Task, scope: _Scope) -> bool:
        """Whether the task tests or looks up the controller's files while this segment's
        steps run on the controller (a local host, or delegated to localhost): it waits for
        them, as Ansible renders each task when its turn comes."""
        if not self.steps or not (self.host.connection == "local" or
                                  self.delegate == "localhost"):
            return False
        return any(reads_controller_files(text, scope.env)
                   for text in self._templates(task, scope))

    def _waits(self, task: Task, scope: _Scope) -> bool:
        """Whether ``task`` reads a result registered earlier in this segment (or facts a
        ``setup`` of this segment may change), or must wait for whether a step of a block
        with rescue/always failed on the host."""
        if self.flow.judging or (self.flow.caught and self.flow.must_wait(task)):
            return True
        if self.delegate is not _UNSET and _runs_on_host(task) and \
                (task.delegate_to or task.remote_user):
            try:
                elsewhere = self._where(task, scope, self._vars(scope)) != self.delegate
            except BadInput:  # e.g. it reads the loop's item: rendered (or refused) with it
                elsewhere = False
            if elsewhere:
                return True  # a request runs on one machine, as one login: the host's or
                # another user's, or the controller
        elif self.delegate not in (_UNSET, None) and _runs_on_host(task):
            return True  # back to the host
        return bool(self._deps(task, scope) & (self.awaited.keys() - self.extra.keys())) or \
            self._reads_facts(task, scope) or self._reads_changed_files(task, scope)

    def _check_deferred(self) -> None:
        """What later segments hold is checked before anything runs: each task renders with
        every result it may read standing in as a sample result (ok, rc 0, no output)."""
        if self.pos >= len(self.units):
            return
        saved = (self.steps, self.blobs, self.notify, self.checks, self.skipped, self.next_id,
                 self.registered, self.handlers, self.awaited, self.looped, self.flow,
                 self.delegate, self.flushes, self.facts, self.added_facts, self.scopes)
        self.flow = self.flow.copy()
        ahead = {step.get("op") for step in self.steps} | \
            {what.op for kind, what, _ in self.units[self.pos:] if kind == _TASK}
        if ahead & FACT_OPS.keys():
            # What setup (or service_facts) will return is not known yet: the facts the host
            # sent stand in, and an empty value for each fact such an op sets as a variable.
            samples = {name: {} for op in ahead & FACT_OPS.keys() for name in FACT_OPS[str(op)]}
            self.sample_facts = set(samples) - set(self.added_facts)
            if self.sample_facts:  # also read as ansible_facts.getent_shadow
                self.sample_facts.add("ansible_facts")
            self.added_facts = {**samples, **ansible_facts(self.hello_facts), **self.added_facts}
            self.scopes = {}
        self.steps, self.blobs, self.notify, self.checks, self.skipped = [], {}, {}, {}, []
        self.registered = {**self.registered, **_sample_results(self.play, self._unit_tasks())}
        self.awaited, self.looped = {}, set()
        self.sample_derived = set()
        self.after_include = False
        try:
            for kind, what, use in self.units[self.pos:]:
                scope = self.scope(use)
                if kind == _TASK and what.deferred is not None:
                    # an include's file may set any variable (set_fact); an action may not
                    self.after_include = self.after_include or not what.deferred.action
                    continue  # a dynamic include is read, and checked, when its turn comes
                if kind == _TASK and what.op == FOREIGN_OP:
                    continue
                if kind == _TASK:
                    self.delegate = _UNSET  # each checked as the first of its request
                    self._check_task(what, scope)
        finally:
            (self.steps, self.blobs, self.notify, self.checks, self.skipped, self.next_id,
             self.registered, self.handlers, self.awaited, self.looped, self.flow,
             self.delegate, self.flushes, self.facts, self.added_facts, self.scopes) = saved

    def _check_task(self, task: Task, scope: _Scope) -> None:
        """Render a deferred task with sample results: an undefined variable that is not a
        registered result, a missing template or a bad argument is bad input now."""
        # A registered result's sample, and what a set_fact made of one (its real value is
        # only known once the host has answered): reading them is not bad input yet.
        results = set(_sample_results(self.play, self._unit_tasks())) | self.sample_derived \
            | self.sample_facts  # an empty getent_shadow lacks the key a real one has
        if any(referenced_names("{{ %s }}" % w if not has_template(w) else w, scope.env)
               & results for w in task.when if isinstance(w, str)):
            task = dataclasses.replace(task, when=())  # checked as if its result says run
        try:
            self.add_task(task, scope)
            if task.op == "set_fact" and self._deps(task, scope) & results:
                # what it set from a sample is a sample too: a later task's bad value made
                # of it (a path '' from a sample's stdout) is judged with the real one
                self.sample_derived |= {str(k) for k in task.args if not str(k).startswith("_")}
        except BadInput as exc:
            reads = self._deps(task, scope) & results
            if self.after_include and "undefined variable" in exc.what:
                return  # perhaps set by the dynamic include before it: checked when it runs
            if self._controller_changes() and any(reads_controller_files(text, scope.env)
                                                  for text in self._templates(task, scope)):
                if task.op == "set_fact":  # what it sets is known only then, too
                    self.sample_derived |= {str(k) for k in task.args
                                            if not str(k).startswith("_")}
                return  # a file an earlier step on the controller makes: checked then
            if not (reads and (_about_results(exc, self.play, self._unit_tasks()) or
                               reads & self.sample_derived)):
                raise
            if task.op == "set_fact":
                self.sample_derived |= {str(k) for k in task.args if not str(k).startswith("_")}

    def _vars(self, scope: _Scope) -> Mapping[str, Any]:
        """A scope's variables with the registered results (extra vars still win)."""
        if not self.registered:
            return scope.vars
        return {**scope.vars, **self.registered,
                **{k: scope.vars[k] for k in self.extra if k in scope.vars}}

    # -- tasks

    def add_task(self, task: Task, scope: _Scope) -> None:
        if not self.tag_filter.wants(set(scope.tags) | set(task.tags)):
            return
        if task.op == PUBLISH_OP:
            self._publish(task, scope)
            return
        if task.op == "meta":
            self._meta(task, scope)
            return
        if task.run_once is not False and task.op not in CONTROLLER_OPS and \
                self.play_hosts[:1] != [self.host.name] and \
                eval_condition([task.run_once], self._vars(scope), where=task.loc,
                               env=scope.env):
            self.skipped.append(task.title)  # the play's first host runs it
            if task.register:
                self.registered[task.register] = {**SKIPPED_RESULT,
                                                  "skip_reason": "run_once: another host"}
            return
        ran: list[tuple[Any, int | None]] = []
        local: dict[int, dict[str, Any]] = {}  # results known here (debug, assert, fail, ...)
        try:
            items = self._items(task, scope, self.skipped)
        except BadInput as exc:
            items = [self._failed_render(task, scope, exc, _NO_ITEM, ran, local)]
        pause = self._loop_pause(task, scope)
        for item in items:
            if item is None:
                continue
            if pause and isinstance(item, _LoopItem) and item.index and \
                    task.op in CONTROLLER_OPS:
                time.sleep(pause)  # loop_control.pause between items judged here
            try:
                step = self._set_fact(task, scope, item, local) if task.op in CONTROLLER_OPS \
                    else self._step_for(task, scope, item, self.skipped)
            except BadInput as exc:
                self._failed_render(task, scope, exc, item, ran, local)
                if _caught(task) and task.ignore_errors is not True:
                    break  # failed: the block's rescue / always take over
                continue
            if step is None and task.register and isinstance(item, _LoopItem):
                step = self._skipped_item(task, scope, item, local)
            ran.append((item.value if isinstance(item, _LoopItem) else item,
                        None if step is None else step["id"]))
            if step is None or step.get("_local"):
                continue
            if task.op in _JUDGED_HERE:
                local[step["id"]] = _JUDGED_HERE[task.op].registered(step["args"])
                if task.until is None and task.retries:  # retried until it does not fail
                    # (on the host too, in its place): its attempts are known here
                    failed = bool(local[step["id"]].get("failed"))
                    local[step["id"]]["attempts"] = task.retries if failed else 1
                    if failed:
                        local[step["id"]]["retries"] = task.retries + 1
                joins = getattr(_JUDGED_HERE[task.op], "joins", None)
                if joins is not None:  # group_by
                    self._join(joins(step["args"]))
                if task.later:  # its verdict is known here: so is what the conditions make of it
                    step["judge"] = self._judge_here(task, scope, item, local[step["id"]],
                                                     step)
            elif task.later:
                self._try_later(task, scope, item)
                step["later"] = True  # judged when its result is in (judge_result)
                self.flow.judging[step["id"]] = (task, scope, item)
            step["txn"] = self.txn_name(scope, task)
            if pause and isinstance(item, _LoopItem) and item.index:
                step["pause"] = pause  # the host waits before running it (loop_control.pause)
            stop = self._mind_block(task, step, local.get(step["id"]))
            if task.register:
                step["register"] = task.register
            if task.until is not None or task.retries is not None:
                step.update(until=task.until, retries=task.retries, delay=task.delay)
            if task.judge:
                step["judge"] = dict(task.judge)
            self.steps.append(step)
            if task.notify and not step.get("later"):  # else: notified once judged
                self.notify[step["id"]] = self._handler_names(task.notify)
                step["notify"] = list(self.notify[step["id"]])  # recorded on the host
            if stop:
                break
        if task.register:
            self._register(task, ran, local)

    def _skipped_item(self, task: Task, scope: _Scope, item: "_LoopItem",
                      local: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
        """A loop item its ``when`` skipped, whose ``loop_control.label`` reads the task's
        registered result: as in Ansible, the label is rendered with this item's (skipped)
        result, and why it cannot be is kept in that result's ``msg``. None otherwise."""
        label = task.loop_control.get("label")
        if not isinstance(label, str) or task.register not in \
                referenced_names(label, scope.env):
            return None
        variables = {**self._item_vars(task, scope, item), task.register: dict(SKIPPED_RESULT)}
        try:
            render_string(label, variables, where=task.loc, env=scope.env)
            return None
        except BadInput as exc:
            self.next_id += 1
            local[-self.next_id] = {**SKIPPED_RESULT, "msg": exc.what}
            return {"id": -self.next_id, "_local": True}

    def _loop_pause(self, task: Task, scope: _Scope) -> float:
        """loop_control.pause: seconds between a loop's items (0: none)."""
        value = task.loop_control.get("pause")
        if value is None or task.loop is None:
            return 0.0
        value = render_value(value, self._vars(scope), where=task.loc, env=scope.env)
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise BadInput(f"loop_control.pause must be a number of seconds, not {value!r}",
                           task.loc) from None
        if not 0 <= seconds <= 3600:
            raise BadInput("loop_control.pause must be between 0 and 3600 seconds", task.loc)
        return seconds

    # -- changed_when / failed_when judged here (Task.later)

    def _later_verdict(self, task: Task, scope: _Scope, item: Any,
                       fields: dict[str, Any]) -> str:
        """Apply the task's changed_when / failed_when to ``fields`` (its result under
        Ansible's names, the task's registered name bound to it, as in Ansible); '' or why a
        condition could not be judged (the step then fails, as in Ansible)."""
        variables = dict(self._item_vars(task, scope, item))
        if task.register:
            variables[task.register] = fields
        for key in ("changed_when", "failed_when"):
            if key not in task.later or (key == "changed_when" and fields.get("failed")):
                continue
            try:
                held = eval_condition(list(task.later[key]), variables, where=task.loc,
                                      env=scope.env)
            except BadInput as exc:  # Ansible: the task fails, the result says why
                fields["failed"], fields[key + "_result"] = True, exc.what
                return exc.what
            if key == "changed_when":
                fields["changed"] = held
            else:
                fields["failed"] = fields["failed_when_result"] = held
        return ""

    def _try_later(self, task: Task, scope: _Scope, item: Any) -> None:
        """Bad input before anything runs: conditions naming a variable nothing defines are
        refused now (judged over a sample result), unless the task expects to fail
        (ignore_errors, a block's rescue): then, as in Ansible, the step fails."""
        fields = result_fields({"status": "ok", "rc": 0, "stdout": "", "stderr": "",
                                "cmd": ""})
        problem = self._later_verdict(task, scope, item, fields)
        if problem and "undefined variable" in problem and task.ignore_errors is not True \
                and not _caught(task):
            raise BadInput(problem, task.loc, "define it, or give a default: "
                           "{{ name | default(...) }}")

    def _judge_here(self, task: Task, scope: _Scope, item: Any, verdict: dict[str, Any],
                    step: dict[str, Any]) -> dict[str, Any]:
        """A verdict known on the controller (assert, fail, debug) with the task's
        conditions applied; the host is told the outcome as literal conditions."""
        problem = self._later_verdict(task, scope, item, verdict)
        if problem:
            step["args"] = {**step["args"], "msg": problem}
        return {"changed_when": bool(verdict.get("changed")),
                "failed_when": bool(verdict.get("failed"))}

    def judge_result(self, step: Mapping[str, Any], result: dict[str, Any]) -> None:
        """A ``later`` step's result, as it arrives: its changed_when / failed_when judged
        with full Jinja, its status (and what ``register`` will see) set from them, and its
        handlers notified if it changed."""
        entry = self.flow.judging.get(step.get("id"))  # type: ignore[arg-type]
        if entry is None or result.get("status") == "skipped":
            return
        task, scope, item = entry
        fields = result_fields(result)
        problem = self._later_verdict(task, scope, item, fields)
        data = dict(result.get("data") or {})
        for key in ("changed_when_result", "failed_when_result"):
            if key in fields:
                data[key] = fields[key]
        result["data"] = data
        if problem:
            result["msg"] = problem
        if fields["failed"]:
            result["status"] = "ignored" if step.get("ignore_errors") else "failed"
        else:
            result["status"] = "changed" if fields["changed"] else "ok"
            if fields["changed"] and task.notify:
                names = self._handler_names(task.notify)
                self.notify_later += [n for n in names if n not in self.notify_later]

    def _failed_render(self, task: Task, scope: _Scope, exc: BadInput, item: Any,
                       ran: list[tuple[Any, int | None]],
                       local: dict[int, dict[str, Any]]) -> None:
        """A task that cannot be rendered is bad input, unless it has ``ignore_errors: true``
        or a block's rescue/always catch it: then, as in Ansible, it is a failed task, reported
        in its place (as ignored: the host goes on)."""
        caught = _caught(task) and task.ignore_errors is not True
        if task.ignore_errors is not True and not caught:
            raise exc
        self.next_id += 1
        # the step's own place is shown beside it: the message need not say it again
        msg = exc.what + (" (hint: %s)" % exc.hint if exc.hint else "") \
            if exc.where in ("", task.loc) else str(exc)
        try:
            variables = self._item_vars(task, scope, item)
        except BadInput:
            variables = self._vars(scope)
        words = _in_ansible_words(exc, _failing_argument(task.args, variables, scope.env))
        if words:  # what a role that reads result.msg looks for, then Mainsail's own
            msg = "%s (%s)" % (words, msg)
        step = {"id": self.next_id, "op": "fail", "name": task.title, "args": {"msg": msg},
                "no_log": task.no_log is True, "ignore_errors": True, "where": task.loc,
                "action": task.op, "role": task.role, "become": False, "timeout": None,
                "become_user": None, "tags": sorted(set(scope.tags) | set(task.tags)),
                "txn": self.txn_name(scope, task)}
        self.steps.append(step)
        local[step["id"]] = {"changed": False, "failed": True, "msg": msg}
        ran.append((item.value if isinstance(item, _LoopItem) else item, step["id"]))
        if caught:
            self._block_failed(task.blocks, step["id"], task,
                               {"changed": False, "failed": True, "msg": exc.what})
        return None

    def _meta(self, task: Task, scope: _Scope) -> None:
        """meta: flush_handlers starts new transactions (the handlers notified so far run at
        the end of the current ones); end_play / end_host / end_batch end this host's play
        here; clear_facts forgets the facts; noop and clear_host_errors change nothing (a
        failed host has stopped before it gets here)."""
        if not eval_condition(list(scope.when) + list(task.when), self._vars(scope),
                              where=task.loc, env=scope.env):
            return
        action = task.args["action"]
        if action == "flush_handlers":
            self.flushes += 1
        elif action in ("end_play", "end_host", "end_batch"):
            self.flow.halted = True
        elif action == "clear_facts":
            self.facts, self.added_facts = {}, {}  # what the host sent and what setup added
            self.scopes = {}  # built again without them

    def _where(self, task: Task, scope: _Scope, variables: Mapping[str, Any]) -> str | None:
        """Where and as whom the task runs: None (the host, as the play logs in),
        "localhost" (the controller), or LOGIN + a user (the host, logged in as that user:
        the task's remote_user)."""
        delegate = self._delegate(task, scope, variables)
        if delegate is not None or task.remote_user is None or \
                self.host.connection == "local":
            return delegate
        user = str(render_string(task.remote_user, variables, where=task.loc,
                                 env=scope.env)).strip()
        if not user or user.startswith("-") or any(c.isspace() for c in user):
            raise BadInput(f"remote_user {user!r} is not a user name", task.loc)
        return None if user == self.host.user else LOGIN + user

    def _delegate(self, task: Task, scope: _Scope, variables: Mapping[str, Any]) -> str | None:
        """Where the task runs: None for its own host, "localhost" for the controller."""
        if task.delegate_to is None:
            return None
        name = render_string(task.delegate_to, variables, where=task.loc, env=scope.env)
        if name in (self.host.name, self.host.address):
            return None
        if name in ("localhost", "127.0.0.1") and (self.inventory is None or
                                                   name not in self.inventory.hosts):
            return "localhost"
        raise BadInput(f"delegate_to {name!r}: only localhost (the controller) is supported",
                       task.loc, "run the task in a play for that host")

    def _publish(self, task: Task, scope: _Scope) -> None:
        """A public include_role / import_role ends: its role's vars, and its defaults that
        nothing else set, are seen by the tasks after it (as values: already rendered)."""
        if scope.use is None or not eval_condition(list(scope.when) + list(task.when),
                                                   self._vars(scope), where=task.loc,
                                                   env=scope.env):
            return
        outer = self.scope(None).vars
        for role in self._role_chain(scope.use):
            for name in [*role.defaults, *role.vars]:
                value = scope.vars.get(name)
                if isinstance(value, jinja2.Undefined) or (
                        name in role.defaults and name not in role.vars
                        and (name in outer or name in self.registered)):
                    continue  # broken (unused so far), or a default something else sets
                self.registered[name] = value

    # -- block / rescue / always

    def _mind_block(self, task: Task, step: dict[str, Any],
                    verdict: Mapping[str, Any] | None) -> bool:
        """A step of a task inside a block with rescue/always. A verdict known here (assert,
        fail) fails the block now; the step only reports it (as ignored). A step run on the
        host is marked ``caught``: if it fails, the agent ends the request there without
        failing the host, and the next segment starts with the block's rescue / always.
        True when the task failed here (its other items are not run)."""
        if not _caught(task) or step["ignore_errors"]:
            return False
        if verdict is not None:
            if not verdict.get("failed"):
                return False
            step["ignore_errors"] = True
            self._block_failed(task.blocks, step["id"], task, dict(verdict))
            return True
        step["caught"] = True
        self.flow.caught[step["id"]] = task
        return False

    def _block_failed(self, chain: Sequence[BlockRef], order: int, task: Task,
                      result: Mapping[str, Any]) -> None:
        """A failure inside the block sections ``chain``: the innermost one takes it; a block
        section's failure is what its rescue tasks see as ansible_failed_task/_result."""
        if not chain:
            return
        ref = chain[-1]
        if not self.flow.record(ref, order, task, result):
            return
        if ref.section == "block":
            self.registered["ansible_failed_task"] = {
                "name": task.name or task.title, "action": task.op, "loc": task.loc}
            self.registered["ansible_failed_result"] = dict(result)

    def _enter_blocks(self, chain: Sequence[BlockRef], scope: _Scope) -> None:
        """Close the blocks the next unit is outside of, innermost first: a failure that no
        rescue cleared goes to the enclosing block, or fails the host."""
        def fails(parents: tuple[BlockRef, ...], failure: _Failure) -> None:
            self._block_failed(parents, failure[0], failure[1], failure[2])

        outermost = self.flow.open[:1]
        standing = self.flow.leave(chain, fails)
        if standing is not None:
            self._host_fails(standing[1], scope, standing[2], outermost[0])

    def _host_fails(self, task: Task, scope: _Scope, result: Mapping[str, Any],
                    ref: BlockRef) -> None:
        """A block's failure no rescue cleared: the host fails here (after the always tasks),
        with the failed task's message; nothing after it is planned."""
        self.next_id += 1
        msg = str(result.get("msg") or "failed")
        self.steps.append({
            "id": self.next_id, "op": "fail", "name": task.name or task.title,
            "args": {"msg": msg}, "no_log": task.no_log is True, "ignore_errors": False,
            "where": ref.loc, "action": "block", "role": task.role, "become": False,
            "timeout": None, "become_user": None, "tags": sorted(scope.tags),
            "txn": self.txn_name(scope, task)})
        self.flow.halted = True

    def _set_fact(self, task: Task, scope: _Scope, item: Any,
                  local: dict[int, dict[str, Any]]) -> None:
        """``set_fact``: the variables are set now, for the tasks after it on this host."""
        variables = self._item_vars(task, scope, item)
        value = item.value if isinstance(item, _LoopItem) else item
        if not eval_condition(list(scope.when) + list(task.when), variables,
                              where=task.loc, env=scope.env):
            self.skipped.append(self._skipped_name(task, variables, scope, value))
            return None
        if task.op == "include_vars":
            facts = self._included_vars(task, scope, variables)
        else:
            facts = {render_string(k, variables, where=task.loc, env=scope.env):
                     render_value(v, variables, where=task.loc, env=scope.env)
                     for k, v in task.args.items()}
        for name in facts:
            check_var_name(name, task.loc)
        # `{{ xs | map(attribute='path') }}` gives a generator: kept as a list, as Ansible
        # does (a generator would be used up by the first task that reads it).
        facts = {k: list(v) if isinstance(v, Iterator) else v for k, v in facts.items()}
        self.registered.update(facts)
        for name in facts:
            self.awaited.pop(name, None)
        if task.register:  # known now: a pseudo id keeps its place among the items
            self.next_id += 1
            local[-self.next_id] = {"changed": False, "failed": False,
                                    "ansible_facts": facts}
            return {"id": -self.next_id, "_local": True}  # type: ignore[return-value]
        return None

    def _included_vars(self, task: Task, scope: _Scope,
                       variables: Mapping[str, Any]) -> dict[str, Any]:
        """``include_vars``: a file (looked up in the role's vars/, then the including
        folders, then the project) or a folder of them, read when the plan is built."""
        args = render_value(dict(task.args), variables, where=task.loc, env=scope.env)
        role = scope.use.role.path if scope.use is not None else None
        bases = ([role / "vars", role / "tasks", role] if role else []) + \
            [self.root / "playbooks" / "vars", self.root / "playbooks", self.root / "vars",
             self.root]
        if args.get("file"):
            files = [_first_existing(str(args["file"]), bases, task.loc, self.root)]
        else:
            folder = _first_existing(str(args["dir"]), bases, task.loc, self.root)
            extensions = args.get("extensions") or ["yaml", "yml", "json"]
            pattern = re.compile(str(args.get("files_matching") or ".*"))
            ignored = set(args.get("ignore_files") or [])
            depth = int(args.get("depth") or 0)
            files = sorted(p for p in folder.rglob("*") if p.is_file()
                           and p.suffix.lstrip(".") in extensions and pattern.search(p.name)
                           and p.name not in ignored
                           and (not depth or len(p.relative_to(folder).parts) <= depth))
        loaded: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for path in files:
            data = load_yaml(path, self.root, vars_file=True, secrets=self.vault) or {}
            if not isinstance(data, Mapping):
                raise BadInput(f"include_vars: {display_path(path, self.root)} is not a "
                               "mapping of variables", task.loc)
            self._add_secrets(secret_texts(data))
            loaded.update(data)
            sources.update((str(k), display_path(path, self.root)) for k in data)
        # Templates inside the values (a list of {line: "Listen {{ port }}"}) are rendered
        # as role vars are, over what the task sees: Ansible templates them when used.
        loaded = _resolve_vars(loaded, sources, scope.env,
                               {k: v for k, v in variables.items() if k not in loaded})
        loaded = {k: v for k, v in loaded.items() if k in sources}
        return {str(args["name"]): loaded} if args.get("name") else loaded

    def _register(self, task: Task, ran: list[tuple[Any, int | None]],
                  local: Mapping[int, dict[str, Any]]) -> None:
        """A task whose every item was skipped here, or whose result the controller judged
        itself, has its result now; one with a step on the host waits for it."""
        name = str(task.register)
        # A loop that could not be rendered failed as a whole, without per-item results.
        looped = task.loop is not None and not any(item is _NO_ITEM for item, _ in ran)
        on_host = [i for _, i in ran if i is not None and i not in local]
        if local and not on_host:
            self.awaited.pop(name, None)
            self.registered[name] = _registered(ran, local, looped, fields=dict)
            return
        # items known here (a skipped one's label error) wait with the others, as they are
        self.known_here.update({i: {_KNOWN: dict(v)} for i, v in local.items()})
        if any(step_id is not None for _, step_id in ran):
            self.awaited[name] = ran
            self.looped.discard(name)
            if looped:
                self.looped.add(name)
            self.registered.pop(name, None)
        else:
            self.awaited.pop(name, None)
            self.registered[name] = _registered(ran, {}, looped)

    def _items(self, task: Task, scope: _Scope, skipped: list[str]) -> list[Any]:
        if task.loop is None:
            return [_NO_ITEM]
        try:
            if task.loop_with == "first_found":  # what is undefined in it is left out
                items = render_lazily(task.loop, self._item_vars(task, scope, _NO_ITEM),
                                      where=task.loc, env=scope.env)
            else:
                # the task's own vars too: `with_items: "{{ test_var }}"` with vars: test_var
                items = render_value(task.loop, self._item_vars(task, scope, _NO_ITEM),
                                     where=task.loc, env=scope.env)
            if task.loop_with is not None:
                items = self._with_items(task, items, scope)
        except BadInput:
            # A loop over something undefined is fine when the task would be skipped anyway.
            if self._when_false_without_item(task, scope):
                skipped.append(task.title)
                return []
            raise
        if not isinstance(items, list):
            raise BadInput(f"loop must give a list, not {type(items).__name__}", task.loc,
                           "loop over a mapping with | dict2items")
        return [_LoopItem(value, index, tuple(items)) for index, value in enumerate(items)]

    def _with_items(self, task: Task, value: Any, scope: _Scope) -> list[Any]:
        """``with_<kind>: value``: the items Ansible's lookup of that kind gives."""
        terms = [value] if task.loop_with in ("dict", "sequence") or \
            not isinstance(value, list) else value
        if task.loop_with == "subelements":
            terms = value if isinstance(value, list) else [value]
        try:
            # the task's variables: role_path makes first_found search the role's vars/,
            # files/ and templates/ as Ansible's does
            options = {"_subdir": task.found_in} if task.found_in else {}
            return run_lookup(scope.env, self._vars(scope), str(task.loop_with), terms, options)
        except (ValueError, TypeError) as exc:
            raise BadInput(f"with_{task.loop_with}: {exc}", task.loc) from None

    def _when_false_without_item(self, task: Task, scope: _Scope) -> bool:
        try:
            return not eval_condition(list(scope.when) + list(task.when), self._vars(scope),
                                      where=task.loc, env=scope.env)
        except BadInput:
            return False

    def _step_for(self, task: Task, scope: _Scope, item: Any,
                  skipped: list[str]) -> dict[str, Any] | None:
        """The step for one task (and loop item), or None (recorded in ``skipped``)."""
        variables = self._item_vars(task, scope, item)
        item = item.value if isinstance(item, _LoopItem) else item
        if not eval_condition(list(scope.when) + list(task.when), variables, where=task.loc,
                              env=scope.env):
            skipped.append(self._skipped_name(task, variables, scope, item))
            return None
        if SPLAT in task.args:  # `op: '{{ mapping }}'`: the arguments come from a variable
            given = render_value(task.args[SPLAT], variables, where=task.loc, env=scope.env)
            task = dataclasses.replace(task, args=splat_args(task.op, task.args, given,
                                                             task.loc))
        name = _without_passwords(self._name(task, variables, scope, item))  # display only
        self._collect_secrets(task.no_log, variables)
        if task.op in _JUDGED_HERE:
            rendered = self._judge(task, variables, scope)
            if rendered is None:
                return None
        else:
            rendered = render_value(task.args, variables, where=task.loc, env=scope.env)
        internal = {k: rendered.pop(k) for k in OPS[task.op].internal if k in rendered} \
            if task.op in _JUDGED_HERE else {}
        args = self._with_environment(task, scope, variables, _without_omitted(rendered))
        for key, value in list(args.items()):
            if isinstance(value, (dict, list)) and isinstance(task.args.get(key), str) and \
                    OPS[task.op].arg_map().get(key, _NO_ARG).type in _TEXT_TYPES:
                # a template that renders a mapping (a loop's find result) where text goes:
                # its text, as Ansible's; a mapping written as such stays refused
                args[key] = str(to_plain(value, where=task.loc))
        for arg in OPS[task.op].args:  # an argument a variable gives (ansible_package_use)
            if arg.var and args.get(arg.name) in (None, arg.default) and \
                    variables.get(arg.var) not in (None, ""):
                args[arg.name] = variables[arg.var]
        args = coerce_args(OPS[task.op], args, task.loc)
        args.update(internal)  # the plan's verdict, which the host reports
        refuse_option_names(task.op, args, task.loc)
        local = getattr(RUNNERS.get(task.op), "controller_args", None)
        if local is not None:  # what only the controller knows (fetch: its own copy)
            try:
                args.update(local(args, self.host.name, str(self.root)))
            except OpError as exc:
                raise BadInput(exc.msg, task.loc, exc.hint) from None
        no_log = self._no_log(task, args)
        ships = OPS[task.op].ships
        if ships is not None and ships.unless and args.get(ships.unless):
            ships = None  # e.g. unarchive's remote_src: the source is on the host
        if ships is not None and ships.source not in args and \
                not (ships.inline and ships.inline in args):
            ships = None  # an op whose content is optional, left out: nothing to ship
        if ships is not None and ships.kind == "folder":
            args = self._release_args(task, ships, args, scope)
        elif ships is not None:
            args = self._content_args(task, ships, args, variables, scope)
            manifest = args.get(ships.manifest) if ships.manifest else None
            shas = [e["sha"] for e in manifest.values() if "sha" in e] \
                if isinstance(manifest, dict) else [args[ships.digest]]
            no_log = no_log or any(self._has_secret(self.blobs[sha]) for sha in shas)
        self.next_id += 1
        step = {"id": self.next_id, "op": task.agent_op, "name": name,
                "args": to_plain(args, where=task.loc), "no_log": no_log,
                "ignore_errors": self._ignore_errors(task, variables, scope),
                "where": task.loc, "action": task.op, "role": task.role,
                "become": self._become(task, scope), "timeout": task.timeout,
                "become_user": self._run_as(task, scope, variables),
                "tags": sorted(set(scope.tags) | set(task.tags))}
        for key in ("check_mode", "diff"):
            if getattr(task, key) is not None:
                step[key] = getattr(task, key)
        if task.async_seconds is not None:
            if task.poll == 0:  # started in the background: async_status reads it
                step.update({"async": task.async_seconds, "poll": 0})
            elif task.timeout is None:
                step["timeout"] = float(task.async_seconds)
        if _runs_on_host(task):
            where = self._where(task, scope, variables)
            if self.delegate is _UNSET:
                self.delegate = where
            elif where != self.delegate:
                raise BadInput("delegate_to or remote_user gives another machine or login for "
                               "some items than for others", task.loc, "split the task in two")
            if where == "localhost":  # the controller's own user, no become there
                step.update(become=False, become_user=None)
            elif where is not None and not step.get("become"):  # as the user it logs in as
                step["become_user"] = where[len(LOGIN):]
        return step

    def _with_environment(self, task: Task, scope: _Scope, variables: Mapping[str, Any],
                          args: YDict) -> YDict:
        """The play's, role entries' and task's (and its blocks') ``environment``, for an op
        that runs commands with one (its own ``environment`` argument wins); other ops run
        as they are."""
        if "environment" not in OPS[task.op].arg_map():
            return args
        layers = [self.play.environment, *(r.environment for r in self._refs(scope.use)),
                  task.environment]
        merged: dict[str, Any] = {}
        for layer in layers:
            for name, value in layer.items():
                value = render_value(value, variables, where=task.loc, env=scope.env)
                if name == "":  # environment: "{{ mapping }}"
                    if not isinstance(value, Mapping):
                        raise BadInput(f"environment must give a mapping, not "
                                       f"{type(value).__name__}", task.loc)
                    merged.update(value)
                else:
                    merged[name] = value
        if not merged:
            return args
        own = args.get("environment")
        args["environment"] = {**merged, **(own if isinstance(own, Mapping) else {})}
        return args

    def _task_folder(self, task: Task) -> str | None:
        """The folder of the task's file where it is not a role's tasks/ or playbooks/ (a
        file included from a subfolder), as Ansible puts it first on the search path."""
        file = task.loc.rsplit(":", 2)[0] if ":" in task.loc else task.loc
        folder = (self.root / file).parent if file else None
        if folder is None or folder.name in ("tasks", "playbooks", "handlers") or \
                folder == self.root:
            return None
        return str(folder)

    def _item_vars(self, task: Task, scope: _Scope, item: Any) -> Mapping[str, Any]:
        """The task's variables with the loop's: ``item`` (or loop_control's loop_var), the
        index_var, and with ``extended`` Ansible's ``ansible_loop``."""
        known = self._vars(scope)
        nearby = self._task_folder(task)
        if nearby is not None:  # a task file in a subfolder: lookups look beside it first
            known = {**known, "ansible_search_path": [nearby, *known.get(
                "ansible_search_path", ())]}
        if task.vars:  # the task's own vars (and its blocks'), over everything but extra vars
            # each after the ones it reads (`pub: "{{ key }}.pub"` beside `key`), as Ansible
            own = _resolve_vars(dict(task.vars), {k: task.loc for k in task.vars}, scope.env,
                                {}, outer=known)
            known = {**known, **own, **{k: known[k] for k in self.extra if k in known}}
        if not isinstance(item, _LoopItem):
            return known
        control = task.loop_control
        loop_var = str(control.get("loop_var") or "item")
        if has_template(loop_var):  # loop_var: "{{ name }}"
            loop_var = str(render_string(loop_var, known, where=task.loc, env=scope.env))
            check_var_name(loop_var, task.loc)
        extra: dict[str, Any] = {loop_var: item.value, "ansible_loop_var": loop_var}
        if control.get("index_var"):
            extra[str(control["index_var"])] = item.index
        if control.get("extended"):
            i, items = item.index, item.items
            extra["ansible_loop"] = {
                "index": i + 1, "index0": i, "revindex": len(items) - i,
                "revindex0": len(items) - i - 1, "first": i == 0, "last": i == len(items) - 1,
                "length": len(items),  # no previtem on the first, no nextitem on the last
                **({"previtem": items[i - 1]} if i else {}),
                **({"nextitem": items[i + 1]} if i + 1 < len(items) else {}),
                **({"allitems": list(items)} if control.get("extended_allitems", True)
                   else {})}
        return {**known, **extra}

    def _judge(self, task: Task, variables: Mapping[str, Any],
               scope: _Scope) -> YDict | None:
        """Ops decided here, with the host's variables (debug, assert, fail: their module's
        ``prepare``); the step only reports the verdict in its place. None: no step."""
        def render(value: Any) -> Any:
            try:
                return render_value(value, variables, where=task.loc, env=scope.env)
            except BadInput as exc:
                if "undefined" in exc.what:
                    raise ValueError(exc.what) from None
                raise

        def judge(condition: Any) -> bool:
            return eval_condition(condition, variables, where=task.loc, env=scope.env)

        try:
            prepared = _JUDGED_HERE[task.op].prepare(task.args, render, judge)
        except ValueError as exc:
            raise BadInput(str(exc), task.loc) from None
        if prepared is None:
            return None
        out = YDict(prepared)
        out.pos, out.key_pos = getattr(task.args, "pos", None), {}
        return out

    def _name(self, task: Task, variables: Mapping[str, Any], scope: _Scope, item: Any) -> str:
        name = render_string(task.title, variables, where=task.loc, env=scope.env)
        loop_var = str(variables.get("ansible_loop_var") or "item")
        if item is _NO_ITEM or loop_var in referenced_names(task.title, scope.env):
            return name
        label_text = task.loop_control.get("label")
        if label_text is not None:
            try:
                item = render_value(label_text, variables, where=task.loc, env=scope.env)
            except BadInput:
                # A label reading the task's own result (known only once the item has run,
                # where Ansible renders it): the item stands for itself in the name.
                if not (task.register and isinstance(label_text, str) and
                        task.register in referenced_names(label_text, scope.env)):
                    raise
        # A label is cut at 60 characters and JSON-escaped: the report's masking could no
        # longer find a secret in it, so an item holding one is masked whole here.
        secret = any(self._has_secret(text) for text in _strings(item))
        label = MASK if task.no_log is True or secret else _label(item)
        return f"{name} (item={label})"

    def _skipped_name(self, task: Task, variables: Mapping[str, Any], scope: _Scope,
                      item: Any) -> str:
        try:
            return self._name(task, variables, scope, item)
        except BadInput:  # a skipped task's name may well use what its `when` guards against
            return task.title

    def _no_log(self, task: Task, args: Mapping[str, Any]) -> bool:
        if task.no_log is True or self.play.no_log is True:
            return True
        return any(self._has_secret(text) for text in _strings(args))

    def _has_secret(self, text: str | bytes) -> bool:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return any(secret in text for secret in self.secrets)

    def _ignore_errors(self, task: Task, variables: Mapping[str, Any], scope: _Scope) -> bool:
        if isinstance(task.ignore_errors, bool):
            return task.ignore_errors
        return eval_condition(task.ignore_errors, variables, where=task.loc, env=scope.env)

    def _become(self, task: Task, scope: _Scope) -> bool:
        if "ansible_become" in task.vars:  # a task's (or block's) connection variable wins
            value = render_value(task.vars["ansible_become"], self._vars(scope),
                                 where=task.loc, env=scope.env)
            return str(value).strip().lower() in ("true", "yes", "1", "on")
        for choice in (task.become, scope.become, self.play.become):
            if choice is not None:
                return choice
        return self.host.become

    def _run_as(self, task: Task, scope: _Scope, variables: Mapping[str, Any]) -> str | None:
        """The user the step runs as: become_user (root by default) with become, else the
        login user (None, the agent's own user, on a local connection)."""
        if not self._become(task, scope):
            return None if self.host.connection == "local" else self.host.user
        for choice in (task.vars.get("ansible_become_user"), task.become_user,
                       scope.become_user, self.play.become_user):
            if choice:
                user = render_string(choice, variables, where=task.loc, env=scope.env)
                if not user or user.startswith("-") or any(c.isspace() for c in user):
                    raise BadInput(f"become_user renders to {user!r}, not a user name",
                                   task.loc, "e.g. become_user: www-data")
                return user
        return self.host.become_user

    # -- file contents

    def _content_args(self, task: Task, ships: Ships, args: dict[str, Any],
                      variables: Mapping[str, Any], scope: _Scope) -> dict[str, Any]:
        """An op that ships a file (or a rendered template): the content goes to a blob named
        by its sha256, and the source argument then only names where it came from. An op
        that takes a manifest (copy) ships a source folder file by file instead."""
        folder = self._source_folder(task, ships, args, scope)
        if folder is not None:
            return self._folder_copy_args(task, ships, args, folder)
        data, shown = self._content(task, ships, args, variables, scope)
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        kept = {k: v for k, v in args.items() if k not in (ships.source, ships.inline)}
        if kept.get("mode") == "preserve" and not ships.split and args.get(ships.source) \
                and not (ships.inline and ships.inline in args):
            # the mode of the file it came from, as Ansible's copy and template keep it
            folders = scope.env.search_path if ships.kind == "template" else scope.files
            path = _find_source(str(args[ships.source]), folders, ships.kind, task.loc,
                                self.root)
            kept["mode"] = "0%o" % (path.stat().st_mode & 0o7777)
        if ships.split:  # a command line naming the file: its arguments stay
            shown = str(args[ships.source])
        return {**kept, ships.digest: sha, **({ships.source: shown} if shown else {})}

    def _content(self, task: Task, ships: Ships, args: Mapping[str, Any],
                 variables: Mapping[str, Any], scope: _Scope) -> tuple[bytes, str]:
        source = args.get(ships.source)
        if ships.kind == "template":
            path = _find_source(source, scope.env.search_path, "template", task.loc, self.root)
            text = render_template(source, variables, where=task.loc, env=scope.env)
            return text.encode("utf-8"), display_path(path, self.root)
        if ships.inline and ships.inline in args:
            return str(args[ships.inline]).encode("utf-8"), ""
        if ships.split:
            source = _first_word(str(source), task.loc)
        path = _find_source(source, scope.files, "file", task.loc, self.root)
        data = self._decrypted(task, ships, args, path, _read_blob(path, task.loc, self.root))
        return data, display_path(path, self.root)

    def _decrypted(self, task: Task, ships: Ships, args: Mapping[str, Any], path: Path,
                   data: bytes) -> bytes:
        """An Ansible Vault file copied with ``decrypt`` (the default) travels as its
        plaintext, as Ansible's copy sends it; the plaintext is a secret of the run."""
        if not ships.manifest or args.get("decrypt") is False or \
                not data.startswith(ansible_vault.PREFIX.encode()):
            return data
        why = f"A vault password or secret must be specified to decrypt {path}"
        if self.vault is None:
            raise BadInput(why, task.loc)
        try:
            self.vault.keyring.password(str(path))
        except BadInput:  # none given: Ansible's words, which its tests look for
            raise BadInput(why, task.loc) from None
        plain = ansible_vault.decrypt_text(data.decode("utf-8", "replace"), str(path),
                                           self.vault)
        self._add_secrets([plain])
        return plain.encode("utf-8")

    def _source_folder(self, task: Task, ships: Ships, args: Mapping[str, Any],
                       scope: _Scope) -> Path | None:
        """The folder a copy's ``src`` names (in the role's files/, then the project's), or
        None: a file, inline content, or an op that ships files only."""
        source = args.get(ships.source)
        if not ships.manifest or not source or (ships.inline and ships.inline in args):
            return None
        inside = _inside_project(str(source), self.root)
        if inside is not None:
            return inside if inside.is_dir() else None
        relative = _relative_src(str(source), task.op, task.loc)
        for folder in scope.files:
            if (folder / relative).is_dir():
                return folder / relative
            if (folder / relative).is_file():
                return None
        return None

    def _folder_copy_args(self, task: Task, ships: Ships, args: dict[str, Any],
                          folder: Path) -> dict[str, Any]:
        """Ansible's folder copy: ``src/`` copies what the folder holds, ``src`` the folder
        itself (under its name). The manifest maps each path under dest to a file's digest
        and mode, ``{dir: true}`` or ``{link: TARGET}``; with ``local_follow`` (the default)
        links are copied as what they point to, except one that would loop."""
        import os  # only this walk needs it

        follow = not ships.follow or args.get(ships.follow) is None or bool(args[ships.follow])
        prefix = "" if str(args[ships.source]).endswith("/") else folder.name
        entries: dict[str, dict[str, Any]] = {prefix: {"dir": True}} if prefix else {}

        def rel(path: str) -> str:
            return os.path.join(prefix, path) if prefix else path

        def walk(top: Path, base: str, parents: frozenset[tuple[int, int]]) -> None:
            for here, dirs, names in os.walk(top):
                inner = os.path.relpath(here, top)
                inner = "" if inner == "." else inner
                for name in sorted(names):
                    path = Path(here) / name
                    dest = os.path.join(base, inner, name)
                    if _build_junk(path):
                        continue
                    # realpath, not resolve(): a link looping onto itself is copied as a link
                    real_file = Path(os.path.realpath(path))
                    if path.is_symlink() and not (follow and real_file.is_file()):
                        entries[rel(dest)] = {"link": os.readlink(path)}
                        continue
                    data = self._decrypted(task, ships, args, path, _read_blob(
                        real_file if path.is_symlink() else path, task.loc, self.root))
                    sha = hashlib.sha256(data).hexdigest()
                    self.blobs[sha] = data
                    entries[rel(dest)] = {"sha": sha,
                                          "mode": "%04o" % (path.stat().st_mode & 0o7777)}
                for name in sorted(dirs):
                    path = Path(here) / name
                    dest = os.path.join(base, inner, name)
                    if not path.is_symlink():
                        entries[rel(dest)] = {"dir": True}
                        continue
                    real = Path(os.path.realpath(path))
                    st = real.stat() if real.is_dir() else None
                    ancestors = {(p.stat().st_dev, p.stat().st_ino)
                                 for p in [path.parent, *path.parent.parents]}
                    if not follow or st is None or (st.st_dev, st.st_ino) in parents | ancestors:
                        entries[rel(dest)] = {"link": os.readlink(path)}
                    else:  # a link to a folder outside the copy: its files are copied
                        entries[rel(dest)] = {"dir": True}
                        walk(real, dest, parents | {(st.st_dev, st.st_ino)})

        top = folder.stat()
        walk(folder, "", frozenset({(top.st_dev, top.st_ino)}))
        # ``digest`` names the whole copy (its manifest): the agent asks for the files'
        # blobs, never for this one, and the secret check reads every file.
        digest = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
        kept = {k: v for k, v in args.items() if k not in (ships.source, ships.inline)}
        return {**kept, ships.manifest: entries, ships.digest: digest,
                ships.source: display_path(folder, self.root) + ("" if prefix else "/")}

    def _release_args(self, task: Task, ships: Ships, args: dict[str, Any],
                      scope: _Scope) -> dict[str, Any]:
        """An op that ships a folder: every file under it becomes a blob; the agent gets the
        manifest (relative path -> digest and mode) and asks only for what it lacks."""
        folder = _find_folder(args[ships.source], scope.files, task.loc, self.root)
        files: dict[str, dict[str, str]] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not _build_junk(p)):
            data = _read_blob(path, task.loc, self.root)
            sha = hashlib.sha256(data).hexdigest()
            self.blobs[sha] = data
            executable = path.stat().st_mode & 0o111
            files[str(path.relative_to(folder))] = {"sha": sha,
                                                    "mode": "0755" if executable else "0644"}
        if not files:
            raise BadInput(f"{task.op} {ships.source} {args[ships.source]!r} holds no files",
                           task.loc, "put the application's files in that folder")
        kept = {k: v for k, v in args.items() if k != ships.source}
        return {**kept, ships.manifest: files, ships.source: display_path(folder, self.root)}

    # -- handlers

    def _handler_names(self, notified: Iterable[str]) -> list[str]:
        names: list[str] = []
        for _, handler in self.play.all_handlers():
            key = handler.title
            aliases = set(handler.listen) | {key} | \
                ({f"{handler.role} : {key}"} if handler.role else set())
            if aliases & set(notified) and key not in names:
                names.append(key)
        return names

    def txn_name(self, scope: _Scope, task: Task | None = None) -> str:
        """The transaction a step belongs to: its role's (a dependency's: the role's that
        needs it), or the play's (pre_tasks and post_tasks each their own); after a meta:
        flush_handlers, new ones."""
        flushed = f" #{self.flushes}" if self.flushes else ""
        if self.play.transaction == "play":
            return "play" + flushed
        if scope.use is None:
            return (task.phase if task is not None and task.phase else "play") + flushed
        # A role pulled in by another's meta dependencies is part of that role's transaction:
        # its handlers (setup_remote_tmp_dir's cleanup) run after the role that needs it.
        top = scope.use.via[0] if scope.use.via else scope.use.role.name
        return "role " + top + flushed

    def add_checks(self, tasks: Iterable[Task], scope: _Scope) -> None:
        """A role's (or the play's) checks: probes run after its handlers, never skipped by
        tags, judged on the host; a failure rolls its transaction back."""
        checks = self.checks.setdefault(self.txn_name(scope), [])
        for task in tasks:
            ignored: list[str] = []
            for item in self._items(task, scope, ignored):
                step = self._step_for(task, scope, item, ignored)
                if step is not None:
                    step["check"] = True
                    checks.append(step)

    def add_handlers(self) -> None:
        for role, handler in self.play.all_handlers():
            use = next((u for u in self.play.role_uses() if role is not None and u.role is role),
                       None)
            scope = self.scope(use)
            if self._waits(handler, scope):
                continue  # reads a result not in yet: sent with a later segment
            if handler.op == FOREIGN_OP:
                # Another system's module as a handler (setup_remote_tmp_dir's win_file):
                # notified only by that system's tasks; if it is notified here, it fails.
                said = "%s: this module is not available in Mainsail" % handler.args["module"]
                handler = dataclasses.replace(handler, op="command", args={
                    "cmd": shlex.join(["/bin/sh", "-c", "echo \"$0\" >&2; exit 1", said])})
            steps: list[dict[str, Any]] = []
            not_recorded: list[str] = []  # a handler's skip only matters if it is notified
            try:
                # a handler that includes a file named by a template (with_first_found over
                # cleanup files): the file's tasks, read for this host, run under its name
                inner = self._expand_include(handler, scope) \
                    if handler.deferred is not None and not handler.deferred.action \
                    else [handler]
                for task in inner:
                    for item in self._items(task, scope, not_recorded):
                        step = self._step_for(task, scope, item, not_recorded)
                        if step is not None:
                            step["handler"] = handler.title  # cleared on the host once run
                            steps.append(step)
            except BadInput:
                notified = {n for names in self.notify.values() for n in names} | \
                    set(self.notify_later)
                more = self.pos < len(self.units) or bool(self.flow.judging)
                if not more and (handler.title in notified or set(handler.listen) & notified):
                    raise  # (with more requests to come they run later, rendered then)
                # Not notified in this request: it may read what a later task sets (a
                # set_fact after an include), and is rendered again with each request.
                self.handlers.pop(handler.title, None)
                continue
            self.handlers[handler.title] = steps  # a later handler of the same name wins

    def _join(self, groups: Sequence[str]) -> None:
        """group_by: the host is in these groups for its later tasks."""
        for name in groups:
            if name not in self.added_groups and name not in self.host.groups:
                self.added_groups.append(str(name))
                self.scopes = {}  # built again with the new groups

    def _take_notified(self) -> list[str]:
        names, self.notify_later = self.notify_later, []
        return names

    def finish(self) -> HostPlan:
        where = None if self.delegate is _UNSET else self.delegate
        delegate = where if where is not None and not where.startswith(LOGIN) else None
        login = where[len(LOGIN):] if where is not None and where.startswith(LOGIN) else None
        if where is not None:  # the play's own handlers and checks run in its own session;
            # what this segment's steps notify is passed on to it (resume)
            self.handlers, self.checks = {}, {}
            for step in self.steps:
                step.pop("notify", None)
        return HostPlan(host=self.host.name, play=self.play.name, steps=self.steps,
                        blobs=self.blobs, handlers=self.handlers, notify=self.notify,
                        skipped=self.skipped, secrets=tuple(self.secrets), check=self.check,
                        delegate=delegate, login=login,
                        checks={k: v for k, v in self.checks.items() if v},
                        segment=self.number, cursor=self,
                        notified=self._take_notified(),
                        deferred=tuple(u[1].title for u in self.units[self.pos:]
                                       if u[0] == _TASK))


def refuse_option_names(op: str, args: Mapping[str, Any], where: str) -> None:
    """A name starting with '-' would reach the tool as an option (apt-get
    '-oDPkg::Pre-Invoke::=touch /tmp/pwned' runs a command as root): refused before any host.
    Which arguments are such operands, each op declares (``Arg.operand``)."""
    spec = OPS.get(op)
    for arg in spec.args if spec is not None else ():
        if not arg.operand:
            continue
        value = args.get(arg.name)
        for name in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(name, str) and name.startswith("-"):
                raise BadInput(f"{op}: {arg.operand} {name!r} starts with '-' and would be read "
                               "as an option", where,
                               f"check the {arg.name} (and the variables it comes from)")


_NO_ITEM = object()  # a sentinel: None is a legitimate loop item


@dataclass(frozen=True)
class _LoopItem:
    """One item of a task's loop, with its place (for index_var and ansible_loop)."""

    value: Any
    index: int
    items: tuple[Any, ...]


class _GroupsView(Mapping[str, list[str]]):
    """``groups`` for templates, read from the inventory on use (no copy per host)."""

    def __init__(self, inventory: Inventory, host: str = "", added: Sequence[str] = ()) -> None:
        self._inventory = inventory
        self._host, self._added = host, [g for g in added if g not in inventory.groups]
        self._joined = set(added)  # groups group_by put this host in (seen by its own tasks)

    def __getitem__(self, name: str) -> list[str]:
        hosts = list(self._inventory.groups[name].all_hosts) \
            if name in self._inventory.groups else [] if name in self._joined else None
        if hosts is None:
            raise KeyError(name)
        return hosts + [self._host] if name in self._joined and self._host not in hosts \
            else hosts

    def __iter__(self) -> Iterator[str]:
        return iter([*self._inventory.groups, *self._added])

    def __len__(self) -> int:
        return len(self._inventory.groups) + len(self._added)


class _HostVarsView(Mapping[str, Mapping[str, Any]]):
    """``hostvars`` for templates, in Ansible's shape: each host's inventory variables (as
    loaded), its names (``inventory_hostname``, ``group_names``) and its facts when known."""

    def __init__(self, inventory: Inventory,
                 facts: Mapping[str, Mapping[str, Any]] | None = None,
                 added: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._inventory = inventory
        self._facts = facts or {}
        self._added = added or {}
        self._seen: dict[str, Mapping[str, Any]] = {}  # a loop over groups reads each often

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        if name not in self._seen:
            host = self._inventory.hosts[name]
            self._seen[name] = {
                **host.vars, "inventory_hostname": name,
                "inventory_hostname_short": name.split(".")[0],
                "group_names": [g for g in host.groups if g not in ("all", "ungrouped")],
                **fact_vars(self._facts.get(name) or {}, self._added.get(name))}
        return self._seen[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._inventory.hosts)

    def __len__(self) -> int:
        return len(self._inventory.hosts)


# ---------------------------------------------------------------------------- facts

def fact_vars(facts: Mapping[str, Any],
              added: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The variables a host's facts give: ``facts`` as gathered, ``ansible_facts`` (those
    plus Ansible's names, plus ``added`` ones a task such as ``setup`` returned) and each
    Ansible name as ``ansible_<name>``."""
    named = {**ansible_facts(dict(facts)), **(added or {})}
    return {"facts": facts, "ansible_facts": {**facts, **named},
            **{"ansible_" + k: v for k, v in named.items()}}



# ---------------------------------------------------------------------------- results

SKIPPED_RESULT: Mapping[str, Any] = {"changed": False, "failed": False, "skipped": True,
                                     "skip_reason": "Conditional result was False"}


_KNOWN = "known here"  # marks a result the controller knew (not a host's)


def _fields_of(result: Mapping[str, Any]) -> dict[str, Any]:
    return dict(result[_KNOWN]) if _KNOWN in result else result_fields(result)


def result_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    """A step's result under Ansible's names: changed, failed, skipped, msg, and for
    commands rc, stdout(_lines), stderr(_lines), cmd; the op's own fields (``data``) too."""
    status = str(result.get("status") or "")
    fields: dict[str, Any] = {"changed": status == "changed",
                              "failed": status in ("failed", "ignored"),
                              "msg": result.get("msg") or ""}
    if status == "skipped":  # Ansible's results name `skipped` only when it is true
        fields["skipped"] = True
    if result.get("rc") is not None or result.get("cmd") is not None:
        stdout, stderr = str(result.get("stdout") or ""), str(result.get("stderr") or "")
        fields.update(rc=result.get("rc"), stdout=stdout, stdout_lines=stdout.splitlines(),
                      stderr=stderr, stderr_lines=stderr.splitlines(), cmd=result.get("cmd"))
    data = result.get("data")
    if result.get("diff"):
        fields["diff"] = result["diff"]
    if isinstance(data, Mapping) and isinstance(data.get("diff"), (Mapping, list)):
        fields["diff"] = data["diff"]  # the module's own (Ansible's before/after), not the text
    if isinstance(data, Mapping):
        fields.update({k: v for k, v in data.items() if k not in fields})
    if fields["failed"]:  # Ansible 2.19 gives every failed result the error as `exception`
        fields.setdefault("exception", fields["msg"] or "(traceback unavailable)")
    return fields


# Ops whose module prepares the step on the controller (``prepare``) and says what
# ``register`` keeps of it (``registered``): their verdict is known when the plan is built.
def _failing_argument(args: Mapping[str, Any], variables: Mapping[str, Any],
                      env: Environment) -> str | None:
    """Which of a task's arguments cannot render (for the message Ansible gives)."""
    for key, value in args.items():
        try:
            render_value(value, variables, env=env)
        except BadInput:
            return str(key)
    return None


def _in_ansible_words(exc: BadInput, argument: str | None) -> str | None:
    """A render failure as Ansible words it in a failed task's msg, which roles and
    Ansible's own targets test: an undefined variable in an argument, a template's error."""
    undefined = re.search(r"undefined variable '([^']+)'", exc.what)
    if undefined and argument:
        return "Error while resolving value for %r: %r is undefined" % (argument,
                                                                          undefined.group(1))
    failed = re.search(r"^template error(?: in .*?)?: \w+: (.*)$", exc.what)
    if failed:
        return "Error rendering template: %s" % failed.group(1)
    return None


LOGIN = "login:"  # a segment's place: the host, logged in as the user that follows

# Argument types that take text; Ansible gives a mapping or list rendered there its text.
_TEXT_TYPES = ("str", "abspath", "pathtext")
_NO_ARG = Arg("")

class _JudgedHere(Mapping[str, Any]):
    """The ops whose verdict the controller reaches itself (debug, assert, fail: their module
    has ``prepare`` and ``registered``), by name; a lookup imports only that op's module."""

    def get(self, name: object, default: Any = None) -> Any:
        module = RUNNERS.get(name) if isinstance(name, str) else None
        return module if hasattr(module, "prepare") and hasattr(module, "registered") \
            else default

    def __getitem__(self, name: str) -> Any:
        module = self.get(name)
        if module is None:
            raise KeyError(name)
        return module

    def __contains__(self, name: object) -> bool:
        return self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return (name for name in RUNNERS if name in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


_JUDGED_HERE: Mapping[str, Any] = _JudgedHere()


def _registered(entries: Sequence[tuple[Any, int | None]], by_id: Mapping[Any, Mapping[str, Any]],
                looped: bool, fields: Any = None) -> dict[str, Any]:
    """The value ``register:`` gives: one result, or for a loop Ansible's ``results`` list."""
    def one(step_id: int | None) -> dict[str, Any]:
        if step_id is None:
            return dict(SKIPPED_RESULT)
        if step_id not in by_id:  # the host stopped before this step
            return {"changed": False, "failed": False, "skipped": True,
                    "skip_reason": "not run"}
        return (fields or result_fields)(by_id[step_id])

    if not looped:
        return one(entries[0][1]) if entries else dict(SKIPPED_RESULT)
    results = [{**one(step_id), "item": item, "ansible_loop_var": "item"}
               for item, step_id in entries]
    return {"changed": any(r["changed"] for r in results),
            "failed": any(r["failed"] for r in results),
            "skipped": all(r.get("skipped") for r in results),
            "msg": "All items completed" if results else "No items in the list",
            "results": results}


_SAMPLE = {"changed": False, "failed": False, "skipped": False, "msg": "", "rc": 0,
           "stdout": "", "stdout_lines": [], "stderr": "", "stderr_lines": [], "cmd": "",
           "results": []}


def _sample_results(play: Play, more: Sequence[Task] = ()) -> dict[str, Any]:
    """A stand-in result for every name the play registers (for checking deferred tasks);
    ``more``: tasks the plan has read since (a dynamic include's)."""
    tasks = [t for use in play.roles for t in use.role.tasks] + list(play.tasks) + list(more)
    samples = {t.register: dict(_SAMPLE) for t in tasks if t.register}
    if any(r.section == "rescue" for t in tasks for r in t.blocks):  # what a rescue reads
        samples["ansible_failed_result"] = {**_SAMPLE, "failed": True}
        samples["ansible_failed_task"] = {"name": "", "action": "", "loc": ""}
    return samples


def _about_results(exc: BadInput, play: Play, more: Sequence[Task] = ()) -> bool:
    """Whether a deferred task's render failure may come from the sample results (a field a
    real result has, a value a real result makes valid) rather than from the task."""
    names = set(_sample_results(play, more))
    text = f"{exc.what} {exc.hint}"
    if "has no attribute" in text:
        return True  # an op's own result field (e.g. stat.exists), absent from the sample
    undefined = [m.group("name") or m.group("other") for m in _UNDEFINED.finditer(text)]
    if undefined:
        return all(n in names for n in undefined)
    # A value problem (e.g. from_json of ''): judged when the real result is in; a missing
    # file is not one.
    return "not found" not in text


_UNDEFINED = re.compile(r"undefined variable '(?P<name>[^']+)'|'(?P<other>[^']+)' is undefined")


# ---------------------------------------------------------------------------- helpers

def _resolve_vars(raw: Mapping[str, Any], sources: Mapping[str, str], env: Environment,
                  fixed: Mapping[str, Any], outer: Mapping[str, Any] | None = None
                  ) -> dict[str, Any]:
    """Render variables whose values are templates, each after the variables it uses.

    ``fixed`` (the names Mainsail sets) take part as they are and override the rest. A
    variable that cannot be rendered becomes a stand-in that raises its error only when
    something uses it, so an unused broken default does not fail the plan. ``outer``: the
    variables around them (a task's), read where ``raw`` does not name the variable.
    """
    resolver = _VarResolver(raw, sources, env, dict(fixed), outer or {})
    for key in raw:
        resolver.resolve(key, ())
    return resolver.done


@dataclass
class _VarResolver:
    raw: Mapping[str, Any]
    sources: Mapping[str, str]
    env: Environment
    done: dict[str, Any]
    outer: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def resolve(self, name: str, chain: tuple[str, ...]) -> None:
        if name in self.done:
            return
        value = self.raw[name]
        if not _has_templates(value):
            self.done[name] = value
        elif name in chain:
            cycle = " -> ".join(chain[chain.index(name):] + (name,))
            self.done[name] = broken(BadInput(f"variable {name!r} refers to itself: {cycle}",
                                              self.sources.get(name, ""), "break the loop"))
        else:
            for dep in sorted(_names_used(value, self.env) & self.raw.keys()):
                self.resolve(dep, chain + (name,))
            self.done[name] = self.render(name, value)

    def render(self, name: str, value: Any) -> Any:
        try:
            return render_value(value, {**self.outer, **self.raw, **self.done},
                                where=self.sources.get(name, ""), env=self.env)
        except BadInput as exc:
            if isinstance(value, (list, dict)):
                # Lazy, as Ansible 2.19's containers: only the items that cannot render are
                # broken (a lookup that skips undefined values, first_found, skips them)
                if isinstance(value, dict):
                    return {k: self.render(name, v) for k, v in value.items()}
                return [self.render(name, v) for v in value]
            return broken(BadInput(f"variable {name!r}: {exc.what}", exc.where, exc.hint))


def _has_templates(value: Any) -> bool:
    if isinstance(value, str):
        return has_template(value)
    if isinstance(value, Mapping):
        return any(_has_templates(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_templates(v) for v in value)
    return False


def _names_used(value: Any, env: Environment) -> set[str]:
    return {n for text in _strings(value) if has_template(text)
            for n in referenced_names(text, env)}


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _without_omitted(args: Mapping[str, Any]) -> YDict:
    """Arguments whose value is ``omit`` (``{{ x | default(omit) }}``) are left out."""
    kept = YDict((k, v) for k, v in args.items() if not (isinstance(v, str) and v == OMIT))
    kept.pos = getattr(args, "pos", None)
    kept.key_pos = dict(getattr(args, "key_pos", {}))
    return kept


def _label(item: Any) -> str:
    text = item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_word(line: str, where: str) -> str:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise BadInput(f"cannot split {line!r}: {exc}", where) from None
    if not words:
        raise BadInput("no file named", where, "e.g. setup.sh --fast")
    return words[0]


def _relative_src(name: str, what: str, where: str) -> Path:
    """A src must stay inside the folders it is looked up in."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise BadInput(f"{what} src {name!r} must be a path inside files/ or templates/ (or "
                       "an absolute path)", where,
                       "give it relative to the role's or the project's folder")
    return relative


def _looked_in(folders: Iterable[Path], root: Path) -> str:
    return ", ".join(display_path(f, root) + "/" for f in folders)


def _inside_project(name: str, root: Path) -> Path | None:
    """An absolute src as that path: the controller's file, anywhere the controller's user
    can read (`{{ role_path }}/files/x`, a folder a delegated task made), as Ansible reads
    it; None for a relative one."""
    if not name.startswith("/"):
        return None
    return Path(os.path.normpath(name))


def _find_source(name: str, folders: Iterable[Path], what: str, where: str, root: Path) -> Path:
    """``name`` inside the first of ``folders`` holding it; nothing outside them (an
    absolute path: inside the project)."""
    inside = _inside_project(name, root)
    if inside is not None and inside.is_file():
        return inside
    if inside is not None:
        raise BadInput(f"{what} {name!r} not found" + (" (a folder)" if inside.is_dir() else
                                                     ""), where,
                       "give an existing file on the controller")
    relative = _relative_src(name, what, where)
    searched = list(folders)
    for folder in searched:
        path = folder / relative
        if path.is_dir():
            raise BadInput(f"{what} src {name!r} is a folder; copying folders is not supported",
                           where, "copy each file with its own task (loop: over the names)")
        if path.is_file():
            return path
    looked = _looked_in(searched, root)
    # the hint names what the files/ folders hold (not the whole project or a role's tree)
    known = [str(p.relative_to(f)) for f in searched if f.is_dir() and f.name == "files"
             for p in f.rglob("*") if p.is_file()]
    raise BadInput(f"{what} {name!r} not found (looked in {looked})", where,
                   did_you_mean(name, known))


def _first_existing(name: str, bases: Sequence[Path], where: str, root: Path) -> Path:
    path = Path(name)
    if path.is_absolute() and path.exists():
        return path
    for base in bases:
        if (base / path).exists():
            return base / path
    raise BadInput(f"include_vars: {name!r} not found (looked in "
                   f"{_looked_in(bases, root)})", where)


def _build_junk(path: Path) -> bool:
    """Files a run of the code leaves beside it, never part of a release."""
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")


def _find_folder(name: str, folders: Iterable[Path], where: str, root: Path) -> Path:
    """A release's source folder: in the role's files/, then the project's files/."""
    relative = _relative_src(name, "release", where)
    searched = list(folders)
    for folder in searched:
        if (folder / relative).is_dir():
            return folder / relative
    raise BadInput(f"release folder {name!r} not found (looked in {_looked_in(searched, root)})",
                   where,
                   "create it under the role's files/")


def _read_blob(path: Path, where: str, root: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_BLOB_BYTES:
        raise BadInput(f"file {display_path(path, root)} is too large to copy ({size} bytes)",
                       where, f"the limit is {MAX_BLOB_BYTES} bytes")
    return path.read_bytes()
