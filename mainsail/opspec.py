"""What each operation accepts (docs/operations.md), and checking task arguments against it.

Checking happens twice: when a playbook is loaded (names, aliases, required arguments, and the
values that hold no template), and when a host's plan is built (every value, once rendered).
Both raise :class:`~mainsail.errors.BadInput` naming file:line and the closest valid name.
"""

from __future__ import annotations

import ast
import re
import shlex
from types import MappingProxyType
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .agent import safeexpr
from .agent import ops
from .agent.spec import OpSpec
from .errors import BadInput, did_you_mean
from .yamlio import OctInt, loc_of

_TRUE = frozenset({"yes", "true", "on", "1", "y"})
_FALSE = frozenset({"no", "false", "off", "0", "n", ""})
_MODE_OCTAL = re.compile(r"0?[0-7]{3,4}")
# chmod's symbolic modes, as Ansible takes them: u+rwx,g-w,o=r
_MODE_SYMBOLIC = re.compile(r"[ugoa]*[-+=][rwxXst]*([-+=][rwxXst]*)*(,[ugoa]*[-+=][rwxXst]*([-+=][rwxXst]*)*)*")
_JINJA_MARKERS = ("{{", "{%", "{#")
CONDITION_NAMES = frozenset(safeexpr.VARIABLES) | frozenset(safeexpr.CONSTANT_NAMES) | \
    frozenset(safeexpr.FILTERS)
_CONDITION_NODES = safeexpr.ALLOWED_NODES
_CONDITION_HINT = ("compare rc, stdout, stderr or the registered result's fields, e.g. rc == 2, "
                   "'exists' in stdout or out.stdout_lines | length > 0")


class _Declarations(Mapping[str, OpSpec]):
    """Operation name -> its declaration, read from mainsail/agent/ops/<name>.py. A lookup
    imports that one module; iterating (listings, hints, docs) imports them all."""

    def __getitem__(self, name: str) -> OpSpec:
        found = ops.spec(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and ops.spec(name) is not None

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        found = ops.spec(name) if isinstance(name, str) else None
        return default if found is None else found

    def __iter__(self) -> Iterator[str]:
        return iter(ops.SPECS)

    def __len__(self) -> int:
        return len(ops.SPECS)


# The declarations live beside each operation's code (mainsail/agent/ops/<op>.py); this
# module only reads them.
OPS: Mapping[str, OpSpec] = _Declarations()


class _Aliases(Mapping[str, str]):
    """Ansible spellings that mean the same operation here (``lineinfile`` -> ``line``),
    declared by each op's SPEC: found by importing every op, so only asked for a name that
    is not an operation's own."""

    _found: dict[str, str] | None = None

    def _all(self) -> dict[str, str]:
        if self._found is None:
            self._found = {alias: spec.name for spec in ops.SPECS.values()
                           for alias in spec.aliases}
        return self._found

    def __getitem__(self, name: str) -> str:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


OP_ALIASES: Mapping[str, str] = _Aliases()
_FQCN_PREFIXES = ("ansible.builtin.", "ansible.legacy.")


def alias_map(spec: OpSpec) -> dict[str, str]:
    """Every accepted argument name -> its canonical name."""
    names = {arg.name: arg.name for arg in spec.args}
    names.update({alias: arg.name for arg in spec.args for alias in arg.aliases})
    return names


# ---------------------------------------------------------------------------- names

def canonical_op(name: str) -> str | None:
    """The operation a task key names (``ansible.builtin.apt`` -> ``apt``), or None."""
    for prefix in _FQCN_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name in OPS:
        return name
    name = OP_ALIASES.get(name, name)
    return name if name in OPS else None


def get_op(name: str, where: str = "") -> OpSpec:
    """The spec of operation ``name``; BadInput with the closest name when there is none."""
    canonical = canonical_op(name)
    if canonical is None:
        raise BadInput(f"unknown operation {name!r}", where, did_you_mean(name, OPS))
    return OPS[canonical]


def canonical_args(spec: OpSpec, args: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """``args`` with aliases replaced by canonical names; unknown or doubled names are BadInput."""
    names = alias_map(spec)
    out: dict[str, Any] = {}
    for key, value in args.items():
        here = loc_of(args, key) or where
        canonical = names.get(key) if isinstance(key, str) else None
        if canonical is None:
            raise UnknownArgument(f"{spec.name}: unknown argument {key!r}", here,
                                  did_you_mean(str(key), names) + _accepted(spec),
                                  f"Unsupported parameters for ({spec.name}) module: {key}")
        if canonical in out:
            raise BadInput(f"{spec.name}: {key!r} repeats argument {canonical!r}", here,
                           "give it once")
        out[canonical] = value
    return out


class UnknownArgument(BadInput):
    """An argument the op does not take. ``module_msg``: Ansible's words for it, which a
    task expecting the failure (``ignore_errors``, a rescue) reads in its place."""

    def __init__(self, what: str, where: str = "", hint: str = "", module_msg: str = "") -> None:
        super().__init__(what, where, hint)
        self.module_msg = module_msg or self.what

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.what, self.where, self.hint, self.module_msg))


def _accepted(spec: OpSpec) -> str:
    return f" ({spec.name} accepts: {', '.join(a.name for a in spec.args)})"


def check_required(spec: OpSpec, args: Mapping[str, Any], where: str = "") -> None:
    """Each required group needs exactly one of its names."""
    for group in spec.required:
        given = [name for name in group if args.get(name) is not None]
        empty = dict(spec.missing).get(group[0] + ":")
        if not given and empty and any(name in args for name in group):
            # given with no value (`that:`), where Ansible has words of its own for it
            raise BadInput(f"{spec.name}: {empty}", where, f"give {group[0]} a value")
        if not given:
            wanted = " or ".join(repr(n) for n in group)
            said = f"missing required arguments: {group[0]}" if len(group) == 1 else \
                f"missing required argument {wanted} (one of the following is required: " \
                f"{', '.join(group)})"  # Ansible's words, which roles and tests look for
            said = dict(spec.missing).get(group[0], said)
            raise BadInput(f"{spec.name}: {said}", where, f"add {group[0]}: ...")
        if len(given) > 1:
            # Ansible's words too, which roles and tests look for
            raise BadInput(f"{spec.name}: give only one of {' or '.join(map(repr, given))} "
                           f"(parameters are mutually exclusive: {'|'.join(group)})", where)


def free_form_args(spec: OpSpec, text: str, where: str = "") -> dict[str, Any]:
    """A plain string given as a free-form op's arguments -> its arguments mapping.

    As Ansible reads ``command``, ``shell``, ``script`` and ``raw``: the words of the string
    that are one of the op's options (``creates=/x``) are taken out wherever they stand, and
    the rest is joined again with its line breaks and spacing, a lone ``\\`` ending a line
    joining it to the next (so ``cmd`` reads as Ansible's does)."""
    if not spec.free_form:
        raise BadInput(f"{spec.name}: arguments must be a mapping, not a string", where,
                       f"write them as {spec.name}: {{{_as_mapping_text(text)}}}")
    if not spec.free_form_options:
        return {spec.free_form: text}
    args: dict[str, Any] = {}
    rest: list[str] = []
    for word in free_form_words(text, where):
        key, value = _option_of(word)
        if key in spec.free_form_options:
            args[key] = _unquoted(value.strip())
        else:
            rest.append(word if key is not None or "=" not in word
                        else word.replace("\\=", "="))
    args[spec.free_form] = _joined(rest)
    return args


def _option_of(word: str) -> tuple[str | None, str]:
    """(name, value) of a ``name=value`` word: its first ``=`` not escaped by a backslash
    (at index 1 or later); (None, "") when it has none."""
    for pos in range(1, len(word)):
        if word[pos] == "=" and word[pos - 1] != "\\":
            return word[:pos].strip(), word[pos + 1:]
    return None, ""


def _unquoted(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


_JINJA_PAIRS = (("{{", "}}"), ("{%", "%}"), ("{#", "#}"))


def free_form_words(text: str, where: str = "") -> list[str]:
    """``text`` split at spaces as Ansible splits a free-form string: quotes and ``{{ }}``
    keep their spaces; a word keeps the extra spaces and the line break after it, so that
    joining the words again gives the text back (a lone ``\\`` ending a line aside)."""
    words: list[str] = []
    quote: str | None = None
    depth = [0, 0, 0]
    lines = text.split("\n")
    for number, line in enumerate(lines):
        continued = False
        for index, token in enumerate(line.split(" ")):
            if not token and index:  # one more space between two words
                words.append(words.pop() + " " if words else " ")
                continue
            if token == "\\" and quote is None:  # line continuation
                continued = True
                continue
            was_quoted = quote is not None
            quote = _quote_after(token, quote)
            glued = False
            if quote is not None and not was_quoted and not any(depth):
                words.append(token)
                glued = True
            elif any(depth) or quote is not None or was_quoted:
                words[-1] += (" " if index else "") + token
                glued = True
            for i, (opening, closing) in enumerate(_JINJA_PAIRS):
                before = depth[i]
                opened = token.count(opening) - token.count(closing)
                depth[i] = max(0, before + opened)
                if depth[i] != before and not glued:
                    words.append(token)
                    glued = True
            if not any(depth) and quote is None and not glued and token:
                words.append(token)
        if number < len(lines) - 1 and not continued:
            words.append(words.pop() + "\n" if words else "\n")
    if quote is not None or any(depth):
        raise BadInput(f"unbalanced quotes or {{{{ }}}} in {text!r}", where,
                       "close each quote and template")
    return words


def _quote_after(token: str, quote: str | None) -> str | None:
    """The quote still open after ``token`` (a backslash escapes the next quote)."""
    for i, char in enumerate(token):
        if char in "\"'" and (i == 0 or token[i - 1] != "\\"):
            if quote is None:
                quote = char
            elif char == quote:
                quote = None
    return quote


def _joined(words: list[str]) -> str:
    out = ""
    for word in words:
        out += word if not out or out.endswith("\n") else " " + word
    return out


def _as_mapping_text(text: str) -> str:
    try:
        pairs = [token.partition("=") for token in shlex.split(text)]
    except ValueError:
        return "...: ..."
    return ", ".join(f"{k}: {v}" for k, _, v in pairs) or "...: ..."


# ---------------------------------------------------------------------------- values

def has_template(value: Any) -> bool:
    """Whether ``value`` (or anything inside it) still needs rendering."""
    if isinstance(value, str):
        return any(marker in value for marker in _JINJA_MARKERS)
    if isinstance(value, Mapping):
        return any(has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(has_template(v) for v in value)
    return False


def check_static_values(spec: OpSpec, args: Mapping[str, Any], where: str = "") -> None:
    """Check, at load time, every argument value that holds no template."""
    for name, value in args.items():
        if value is not None and not has_template(value):
            coerce_value(spec, name, value, loc_of(args, name) or where)


def coerce_args(spec: OpSpec, args: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Rendered ``args`` checked, converted to their types, documented defaults filled in."""
    check_required(spec, args, where)
    out = spec.defaults()
    for name, value in args.items():
        if value is not None:
            out[name] = coerce_value(spec, name, value, loc_of(args, name) or where)
    check_semantics(spec, out, where)
    return out


def coerce_value(spec: OpSpec, name: str, value: Any, where: str = "") -> Any:
    """One argument value converted to its type; BadInput naming the argument otherwise."""
    arg = spec.arg(name)
    label = f"{spec.name}: {name}"
    converted = _COERCERS[arg.type](value, label, where)
    if arg.choices and converted not in arg.choices:
        raise BadInput(f"{label} must be one of {', '.join(arg.choices)}, not {value!r}", where,
                       did_you_mean(str(value), arg.choices))
    return converted


def as_bool(value: Any, label: str = "value", where: str = "") -> bool:
    """YAML and Ansible booleans: true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadInput(f"{label} must be true or false, not {value!r}", where,
                   "write true or false (yes/no also work)")


def _as_str(value: Any, label: str, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadInput(f"{label} must be a string, not {_kind(value)}", where,
                       "quote the value")
    return str(value)


def _as_abspath(value: Any, label: str, where: str) -> str:
    """A path on the host: absolute, or (as in Ansible) relative to the remote user's home,
    `~/x` included; the agent makes it absolute."""
    text = _as_str(value, label, where)
    if not text.strip() or text.startswith("-") or "\0" in text:
        raise BadInput(f"{label} must be a path on the host, not {text!r}", where,
                       "paths on the host start with / (or are relative to the remote "
                       "user's home)")
    return text


def _as_path_text(value: Any, label: str, where: str) -> str:
    """Ansible's ``path`` type for command's guards: any scalar is taken as its text
    (``creates: yes`` is the path ``True`` there, so it is here)."""
    if isinstance(value, bool):
        return str(value)
    return _as_str(value, label, where)


def _as_int(value: Any, label: str, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise BadInput(f"{label} must be a whole number, not {value!r}", where, "e.g. 3600")


def _as_float(value: Any, label: str, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        raise BadInput(f"{label} must be a number of seconds, not {value!r}", where) from None


def _as_mode(value: Any, label: str, where: str) -> str:
    if isinstance(value, OctInt):
        return f"0{int(value):o}"
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads `644` as decimal six hundred and forty-four, which is not rw-r--r--.
        raise BadInput(f"{label} {value} is a decimal number", where,
                       f"write the mode as a quoted octal string: '0{value}'")
    text = _as_str(value, label, where)
    if text == "preserve":  # copy / template: the source file's mode (the op says if not)
        return text
    if _MODE_OCTAL.fullmatch(text):
        return text if len(text) == 4 else "0" + text
    if _MODE_SYMBOLIC.fullmatch(text):
        return text
    raise BadInput(f"{label} {text!r} is not an octal file mode", where,
                   "write it like '0644' or '0755', or symbolically like 'u+rwx,g-w'")


def _as_names(value: Any, label: str, where: str) -> list[str]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a number (a gid) is the one name it writes, as Ansible's list
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list):
        items = [_as_str(v, label, where).strip() for v in value]
    else:
        raise BadInput(f"{label} must be a name or a list of names, not {_kind(value)}", where,
                       "e.g. [nginx, curl] or 'nginx, curl'")
    if not items or any(not item for item in items):
        raise BadInput(f"{label} has an empty name", where, "remove the empty entry")
    return items


def _as_argv(value: Any, label: str, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadInput(f"{label} must be a non-empty list of words", where,
                       "use cmd: for a command line as one string")
    return [_as_str(v, label, where) for v in value]


def _as_cmd(value: Any, label: str, where: str) -> str:
    text = _as_str(value, label, where)
    if not text.strip():
        raise BadInput(f"{label} is empty", where, "give at least one word")
    return text


def _as_globs(value: Any, label: str, where: str) -> list[str]:
    """Names or patterns to match, where an empty list means none (find's ``excludes: []``)."""
    if value == []:
        return []
    return _as_names(value, label, where)


def _as_env(value: Any, label: str, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise BadInput(f"{label} must be a mapping of NAME: value", where,
                       "environment: {LANG: C.UTF-8}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise BadInput(f"{label}: {key!r} is not an environment variable name", where,
                           "letters, digits and _, not starting with a digit")
        out[key] = item if isinstance(item, str) else _env_text(item, label, where)
    return out


def _env_text(value: Any, label: str, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _as_str(value, label, where)


def _as_content(value: Any, label: str, where: str) -> str:
    if isinstance(value, (Mapping, list)):
        raise BadInput(f"{label} must be text, not {_kind(value)}", where,
                       "turn data into text with a filter, e.g. {{ data | to_nice_json }}")
    return _env_text(value, label, where)


def _as_validate(value: Any, label: str, where: str) -> str:
    text = _as_str(value, label, where)
    if "%s" not in text:
        raise BadInput(f"{label} must contain %s: {text} (%s is where the new file's path "
                       "goes)", where,
                       f"for example: {text.strip() or 'visudo -cf'} %s")
    return text


def _as_regex(value: Any, label: str, where: str) -> str:
    text = _as_str(value, label, where)
    try:
        re.compile(text)
    except re.error as exc:
        raise BadInput(f"{label} is not a valid regular expression: {exc}", where) from None
    return text


def _as_autorestart(value: Any, label: str, where: str) -> str:
    if isinstance(value, str) and value.strip().lower() == "unexpected":
        return "unexpected"
    return "true" if as_bool(value, label, where) else "false"


def _as_debconf_value(value: Any, label: str, where: str) -> str:
    if isinstance(value, list):  # multiselect: sorted, as debconf stores it (Ansible too)
        if not all(isinstance(v, str) for v in value):
            raise BadInput(f"{label}: Invalid value provided for 'multiselect' (a list of "
                           f"strings): {value!r}", where, "quote each choice")
        return ", ".join(sorted(value))
    return _env_text(value, label, where)


def _as_condition(value: Any, label: str, where: str) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):  # Ansible: a list means all of them
        value = " and ".join(f"({_as_str(v, label, where)})" for v in value) or "True"
    text = _as_str(value, label, where)
    check_condition(text, label, where)
    return text


def check_condition(text: str, label: str, where: str) -> None:
    """The host judges these with a tiny evaluator: refuse early what it would refuse late."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise BadInput(f"{label} {text!r} is not a simple expression", where,
                       _CONDITION_HINT) from None
    for node in ast.walk(tree):
        if not isinstance(node, _CONDITION_NODES):
            raise BadInput(f"{label} {text!r} uses {type(node).__name__}, which is not allowed",
                           where, _CONDITION_HINT)
        if isinstance(node, ast.Name) and node.id not in CONDITION_NAMES:
            raise BadInput(f"{label} can only use rc, stdout, stderr and the task's registered "
                           f"result, not {node.id!r}", where,
                           "insert a variable's value with '{{ var }}'")


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return "nothing" if value is None else type(value).__name__


_COERCERS: Mapping[str, Callable[[Any, str, str], Any]] = MappingProxyType({
    "str": _as_str, "abspath": _as_abspath,
    "pathtext": _as_path_text, "int": _as_int, "float": _as_float, "bool": as_bool,
    "octal": _as_mode, "names": _as_names, "globs": _as_globs, "words": _as_argv, "cmdline": _as_cmd, "variables": _as_env,
    "text": _as_content, "checker": _as_validate, "pattern": _as_regex,
    "restart": _as_autorestart, "debconf_value": _as_debconf_value,
    "condition": _as_condition,
    "any": lambda value, label, where: value,
})


# ---------------------------------------------------------------------------- combinations

def check_semantics(spec: OpSpec, args: Mapping[str, Any], where: str = "") -> None:
    """Rules that span several arguments of one operation (declared with the operation)."""
    problem = spec.rule(args) if spec.rule is not None else None
    if problem:
        raise BadInput(f"{spec.name}: {problem[0]}", where, problem[1])
