"""How an operation declares itself: its arguments, its content, its documentation.

Each module in ``agent/ops/`` holds one ``SPEC = OpSpec(...)`` beside its ``run``. The agent
uses it to fill defaults and refuse unknown arguments; the controller imports the same
declaration to check playbooks at load time, build plans and write docs/operations.md and
``mainsail doc OP``. Stdlib only: this module runs on the host too (Python >= 3.8).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .record import Frozen

# A rule spanning several arguments: None when fine, else (problem, hint).
Rule = Callable[[Mapping[str, Any]], Optional[Tuple[str, str]]]


class Arg(Frozen):
    """One argument. ``type`` names a value type the controller knows how to check
    (see docs/operations.md, "Argument types"); ``doc`` is its one-line meaning.

    ``operand``: what the value is when the op hands it to a system tool as an operand
    ("package name"): a value starting with '-' would be read as an option, so it is refused.
    ``var``: a variable the plan takes the value from when the task gives none (Ansible's
    action plugins read some: `ansible_package_use` for package's `use`)."""

    __slots__ = ("name", "type", "default", "choices", "aliases", "doc", "operand", "var")
    name: str
    type: str
    default: Any
    choices: Tuple[str, ...]
    aliases: Tuple[str, ...]
    doc: str
    operand: str
    var: str

    def __init__(self, name: str, type: str = "str", default: Any = None,
                 choices: Tuple[str, ...] = (), aliases: Tuple[str, ...] = (), doc: str = "",
                 operand: str = "", var: str = "") -> None:
        self._fill(name, type, default, choices, aliases, doc, operand, var)


class Ships(Frozen):
    """Content the controller reads from the project and sends by digest.

    ``kind`` is ``file`` (a file under files/), ``template`` (a template rendered per host) or
    ``folder`` (every file under a folder). ``source`` names the argument holding the project
    path, ``inline`` one holding the content itself; the plan replaces them with ``digest``
    (one sha256) or ``manifest`` (relative path -> sha256 and mode). ``unless`` names a
    boolean argument that, when true, says the source is on the host: nothing ships. A task
    that gives neither ``source`` nor ``inline`` ships nothing (content the op may do
    without, such as a request's body file).
    ``split``: the source is a command line whose first word names the file (``script``);
    the argument keeps the whole line. ``follow`` names a boolean argument of a folder copy:
    false ships links in the folder as links, else (the default) what they point to."""

    __slots__ = ("kind", "source", "inline", "digest", "manifest", "unless", "split", "follow")
    kind: str
    source: str
    inline: str
    digest: str
    manifest: str
    unless: str
    split: bool
    follow: str

    def __init__(self, kind: str, source: str, inline: str = "", digest: str = "",
                 manifest: str = "", unless: str = "", split: bool = False,
                 follow: str = "") -> None:
        self._fill(kind, source, inline, digest, manifest, unless, split, follow)


class OpSpec(Frozen):
    """One operation, declared once.

    ``required`` groups: exactly one name of each must be given. ``internal`` arguments are
    set by the plan (a digest, a manifest), never written in a task. ``runs_as`` names the
    operation whose code applies this one on the host (``template`` is applied by ``copy``).
    ``free_form`` names the argument that a task giving a plain string instead of a mapping
    sets. ``journalled``: its changes are journalled and undone when its transaction rolls back.
    """

    __slots__ = ("name", "summary", "args", "doc", "notes", "ansible", "required", "rule",
                 "free_form", "free_form_options", "ships", "journalled", "runs_as", "aliases",
                 "internal", "defaults_from", "defaults_shared", "provides", "missing")
    name: str
    summary: str
    args: Tuple[Arg, ...]
    doc: str
    notes: str
    ansible: str
    required: Tuple[Tuple[str, ...], ...]
    rule: Optional[Rule]
    free_form: str  # the argument a plain string (`command: ls -l`) is taken as
    free_form_options: Tuple[str, ...]  # NAME=value options leading such a string
    ships: Optional[Ships]
    journalled: bool
    runs_as: str
    aliases: Tuple[str, ...]
    internal: Tuple[str, ...]
    # Modules whose module_defaults apply to this op too (Ansible: the backend it hands the
    # task to), and which of their arguments (empty: all).
    defaults_from: Tuple[str, ...]
    defaults_shared: Tuple[str, ...]
    # Whether its change can be what a later step needs (a folder, a package, a user); false
    # for ops that only act on what exists (services): see core.MissingPrerequisite.
    provides: bool
    # Ansible's own words for a required group left out (its first name -> the message),
    # where the module's action plugin checks before the module does: tests look for them;
    # under "NAME:", the words for it given with no value (assert's `that:`).
    missing: Tuple[Tuple[str, str], ...]

    def __init__(self, name: str, summary: str, args: Tuple[Arg, ...], doc: str,
                 notes: str = "", ansible: str = "", required: Tuple[Tuple[str, ...], ...] = (),
                 rule: Optional[Rule] = None, free_form: str = "",
                 free_form_options: Tuple[str, ...] = (), ships: Optional[Ships] = None,
                 journalled: bool = False, runs_as: str = "", aliases: Tuple[str, ...] = (),
                 internal: Tuple[str, ...] = (), defaults_from: Tuple[str, ...] = (),
                 defaults_shared: Tuple[str, ...] = (), provides: bool = True,
                 missing: Tuple[Tuple[str, str], ...] = ()) -> None:
        self._fill(name, summary, args, doc, notes, ansible, required, rule, free_form,
                   free_form_options, ships, journalled, runs_as, aliases, internal, defaults_from,
                   defaults_shared, provides, missing)

    @property
    def agent_op(self) -> str:
        return self.runs_as or self.name

    def arg(self, name: str) -> Arg:
        for arg in self.args:  # a scan: building arg_map() per lookup cost more
            if arg.name == name:
                return arg
        raise KeyError(name)

    def arg_map(self) -> Dict[str, Arg]:
        return dict((a.name, a) for a in self.args)

    def defaults(self) -> Dict[str, Any]:
        return dict((a.name, a.default) for a in self.args if a.default is not None)

    def accepted(self) -> Tuple[str, ...]:
        """Every name the agent accepts in a step's args."""
        return tuple(a.name for a in self.args) + self.internal

    def with_defaults(self, args: Mapping[str, Any]) -> Dict[str, Any]:
        """``args`` with the declared default of every argument left out (or null)."""
        out = self.defaults()
        out.update((k, v) for k, v in args.items() if v is not None)
        return out


def replaced(arg: Arg, **changes: Any) -> Arg:
    """``arg`` with some fields changed (e.g. another ``doc`` where an op shares an argument)."""
    fields = dict(name=arg.name, type=arg.type, default=arg.default, choices=arg.choices,
                  aliases=arg.aliases, doc=arg.doc)
    fields.update(changes)
    return Arg(**fields)
