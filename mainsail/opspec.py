"""What each operation accepts (docs/operations.md), and checking task arguments against it.

Checking happens twice: when a playbook is loaded (names, aliases, required arguments, and the
values that hold no template), and when a host's plan is built (every value, once rendered).
Both raise :class:`~mainsail.errors.BadInput` naming file:line and the closest valid name.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from .errors import BadInput, did_you_mean
from .yamlio import OctInt, loc_of

_TRUE = frozenset({"yes", "true", "on", "1", "y"})
_FALSE = frozenset({"no", "false", "off", "0", "n", ""})
_MODE_OCTAL = re.compile(r"0?[0-7]{3,4}")
_FREE_FORM_OPTION = re.compile(r"\s*(chdir|creates|removes)=(\S+)\s+")
_JINJA_MARKERS = ("{{", "{%", "{#")
CONDITION_NAMES = frozenset({"rc", "stdout", "stderr", "true", "false", "True", "False",
                             "none", "None"})
_CONDITION_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
                    ast.Compare, ast.cmpop, ast.Name, ast.Load, ast.Constant, ast.List,
                    ast.Tuple)
_CONDITION_HINT = "compare rc, stdout or stderr, e.g. rc == 2 or 'exists' in stdout"


@dataclass(frozen=True)
class Arg:
    """One argument: its value type, allowed values, documented default and alias names."""

    type: str = "str"
    choices: tuple[str, ...] = ()
    default: Any = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpSpec:
    """One operation: its arguments, the groups of which exactly one must be given, its agent op."""

    name: str
    agent_op: str
    args: Mapping[str, Arg]
    required: tuple[tuple[str, ...], ...] = ()
    free_form: bool = False  # `command: "ls -l"` is accepted as `cmd`

    def alias_map(self) -> dict[str, str]:
        """Every accepted argument name -> its canonical name."""
        names = {name: name for name in self.args}
        names.update({alias: name for name, arg in self.args.items() for alias in arg.aliases})
        return names


def _spec(name: str, agent_op: str, args: dict[str, Arg],
          required: tuple[tuple[str, ...], ...] = (), free_form: bool = False) -> OpSpec:
    return OpSpec(name, agent_op, MappingProxyType(args), required, free_form)


_OWNERSHIP = {"mode": Arg("mode"), "owner": Arg(), "group": Arg()}
_COMMAND_ARGS = {"chdir": Arg(), "creates": Arg(), "removes": Arg(), "unless": Arg(),
                 "environment": Arg("env"), "stdin": Arg(),
                 # Judged on the host against rc/stdout/stderr; see plan.py.
                 "changed_when": Arg("condition"), "failed_when": Arg("condition")}

OPS: Mapping[str, OpSpec] = MappingProxyType({
    "apt": _spec("apt", "apt", {
        "name": Arg("names", aliases=("pkg", "package")),
        "state": Arg(choices=("present", "absent", "latest"), default="present"),
        "update_cache": Arg("bool", aliases=("update-cache",)),
        "cache_valid_time": Arg("int"),
        "install_recommends": Arg("bool", default=False, aliases=("install-recommends",)),
        "purge": Arg("bool"),
    }, (("name",),)),
    "file": _spec("file", "file", {
        "path": Arg("abspath", aliases=("dest", "name")),
        "state": Arg(choices=("file", "directory", "absent", "link", "touch"), default="file"),
        "src": Arg(), **_OWNERSHIP,
    }, (("path",),)),
    "copy": _spec("copy", "copy", {
        "dest": Arg("abspath"), "src": Arg(), "content": Arg("content"),
        "validate": Arg("validate"), **_OWNERSHIP,
    }, (("dest",), ("src", "content"))),
    "template": _spec("template", "copy", {
        "src": Arg(), "dest": Arg("abspath"), "validate": Arg("validate"), **_OWNERSHIP,
    }, (("src",), ("dest",))),
    "line": _spec("line", "line", {
        "path": Arg("abspath", aliases=("dest", "destfile", "name")),
        "line": Arg(aliases=("value",)),
        "regexp": Arg("regex", aliases=("regex",)),
        "state": Arg(choices=("present", "absent"), default="present"),
        "insertafter": Arg(), "insertbefore": Arg(), "create": Arg("bool"),
        "validate": Arg("validate"), **_OWNERSHIP,
    }, (("path",),)),
    "user": _spec("user", "user", {
        "name": Arg(aliases=("user",)),
        "state": Arg(choices=("present", "absent"), default="present"),
        "uid": Arg("int"), "group": Arg(), "groups": Arg("names"), "append": Arg("bool"),
        "shell": Arg(), "home": Arg(), "create_home": Arg("bool", default=True,
                                                          aliases=("createhome",)),
        "system": Arg("bool"), "password": Arg(), "comment": Arg(),
    }, (("name",),)),
    "group": _spec("group", "group", {
        "name": Arg(), "state": Arg(choices=("present", "absent"), default="present"),
        "gid": Arg("int"), "system": Arg("bool"),
    }, (("name",),)),
    "service": _spec("service", "service", {
        "name": Arg(aliases=("service",)),
        "state": Arg(choices=("started", "stopped", "restarted", "reloaded")),
        "enabled": Arg("bool"),
    }, (("name",),)),
    "supervisor": _spec("supervisor", "supervisor", {
        "name": Arg(), "command": Arg(), "user": Arg(), "directory": Arg(),
        "environment": Arg("env"), "autostart": Arg("bool"), "autorestart": Arg("autorestart"),
        "startsecs": Arg("int"),
        "stopsignal": Arg(choices=("TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2")),
        "stdout_logfile": Arg(), "stderr_logfile": Arg(),
        "state": Arg(choices=("present", "started", "stopped", "restarted", "absent"),
                     default="started"),
        "config_dir": Arg("abspath", default="/etc/supervisor/conf.d"),
    }, (("name",),)),
    "command": _spec("command", "command", {"cmd": Arg("cmd"), "argv": Arg("argv"),
                                            **_COMMAND_ARGS},
                     (("cmd", "argv"),), free_form=True),
    "shell": _spec("shell", "shell", {"cmd": Arg("cmd"), **_COMMAND_ARGS}, (("cmd",),),
                   free_form=True),
    "probe": _spec("probe", "probe", {
        "tcp": Arg(), "http": Arg(), "send": Arg(), "expect": Arg(),
        "status": Arg("int", default=200), "contains": Arg(),
        "retries": Arg("int", default=10), "delay": Arg("float", default=0.5),
        "timeout": Arg("float", default=3.0),
    }, (("tcp", "http"),)),
    "release": _spec("release", "release", {
        "src": Arg(), "path": Arg("abspath", aliases=("dest",)), "keep": Arg("int", default=5),
        "shared": Arg("names"), "owner": Arg(), "group": Arg(),
    }, (("src",), ("path",))),
    "debconf": _spec("debconf", "debconf", {
        "name": Arg(aliases=("pkg",)), "question": Arg(aliases=("selection", "setting")),
        "vtype": Arg(choices=("boolean", "error", "multiselect", "note", "password", "seen",
                              "select", "string", "text", "title")),
        "value": Arg("debconf_value", aliases=("answer",)),
    }, (("name",), ("question",), ("vtype",), ("value",))),
})

# Ansible spellings that mean the same operation here.
OP_ALIASES: Mapping[str, str] = MappingProxyType({"lineinfile": "line"})
_FQCN_PREFIXES = ("ansible.builtin.", "ansible.legacy.")


# ---------------------------------------------------------------------------- names

def canonical_op(name: str) -> str | None:
    """The operation a task key names (``ansible.builtin.apt`` -> ``apt``), or None."""
    for prefix in _FQCN_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
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
    names = spec.alias_map()
    out: dict[str, Any] = {}
    for key, value in args.items():
        here = loc_of(args, key) or where
        canonical = names.get(key) if isinstance(key, str) else None
        if canonical is None:
            raise BadInput(f"{spec.name}: unknown argument {key!r}", here,
                           did_you_mean(str(key), names) + _accepted(spec))
        if canonical in out:
            raise BadInput(f"{spec.name}: {key!r} repeats argument {canonical!r}", here,
                           "give it once")
        out[canonical] = value
    return out


def _accepted(spec: OpSpec) -> str:
    return f" ({spec.name} accepts: {', '.join(spec.args)})"


def check_required(spec: OpSpec, args: Mapping[str, Any], where: str = "") -> None:
    """Each required group needs exactly one of its names."""
    for group in spec.required:
        given = [name for name in group if args.get(name) is not None]
        if not given:
            wanted = " or ".join(repr(n) for n in group)
            raise BadInput(f"{spec.name}: missing required argument {wanted}", where,
                           f"add {group[0]}: ...")
        if len(given) > 1:
            raise BadInput(f"{spec.name}: give only one of {' or '.join(map(repr, given))}",
                           where)


def free_form_args(spec: OpSpec, text: str, where: str = "") -> dict[str, Any]:
    """``command: "chdir=/srv make all"`` -> ``{"chdir": "/srv", "cmd": "make all"}``."""
    if not spec.free_form:
        raise BadInput(f"{spec.name}: arguments must be a mapping, not a string", where,
                       f"write them as {spec.name}: {{{_as_mapping_text(text)}}}")
    args: dict[str, Any] = {}
    match = _FREE_FORM_OPTION.match(text)
    while match:  # Ansible lets leading k=v options ride along in the command string
        args[match.group(1)] = match.group(2)
        text = text[match.end():]
        match = _FREE_FORM_OPTION.match(text)
    args["cmd"] = text
    return args


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
    out = {name: spec.args[name].default for name in spec.args
           if spec.args[name].default is not None}
    for name, value in args.items():
        if value is not None:
            out[name] = coerce_value(spec, name, value, loc_of(args, name) or where)
    check_semantics(spec, out, where)
    return out


def coerce_value(spec: OpSpec, name: str, value: Any, where: str = "") -> Any:
    """One argument value converted to its type; BadInput naming the argument otherwise."""
    arg = spec.args[name]
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
    text = _as_str(value, label, where)
    if not text.startswith("/"):
        raise BadInput(f"{label} must be an absolute path, not {text!r}", where,
                       "paths on the host start with /")
    return text


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
    if _MODE_OCTAL.fullmatch(text):
        return text if len(text) == 4 else "0" + text
    raise BadInput(f"{label} {text!r} is not an octal file mode", where,
                   "write it like '0644' or '0755'")


def _as_names(value: Any, label: str, where: str) -> list[str]:
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
        raise BadInput(f"{label} must contain %s (where the new file's path goes)", where,
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
    if isinstance(value, list):
        return ", ".join(_as_str(v, label, where) for v in value)
    return _env_text(value, label, where)


def _as_condition(value: Any, label: str, where: str) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):  # Ansible: a list means all of them
        value = " and ".join(f"({_as_str(v, label, where)})" for v in value) or "True"
    text = _as_str(value, label, where)
    _check_condition(text, label, where)
    return text


def _check_condition(text: str, label: str, where: str) -> None:
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
            raise BadInput(f"{label} can only use rc, stdout and stderr, not {node.id!r}", where,
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
    "str": _as_str, "abspath": _as_abspath, "int": _as_int, "float": _as_float, "bool": as_bool,
    "mode": _as_mode, "names": _as_names, "argv": _as_argv, "cmd": _as_cmd, "env": _as_env,
    "content": _as_content, "validate": _as_validate, "regex": _as_regex,
    "autorestart": _as_autorestart, "debconf_value": _as_debconf_value,
    "condition": _as_condition,
})


# ---------------------------------------------------------------------------- combinations

def check_semantics(spec: OpSpec, args: Mapping[str, Any], where: str = "") -> None:
    """Rules that span several arguments of one operation."""
    rule = _SEMANTICS.get(spec.name)
    if rule is not None:
        problem = rule(args)
        if problem:
            raise BadInput(f"{spec.name}: {problem[0]}", where, problem[1])


def _file_rule(args: Mapping[str, Any]) -> tuple[str, str] | None:
    if args.get("state") == "link" and not args.get("src"):
        return "state: link needs src (the link target)", "add src: /path/to/target"
    if args.get("src") and args.get("state") != "link":
        return "src is only used with state: link", "add state: link, or use copy"
    if args.get("state") == "link" and args.get("mode"):
        # A link's own mode is always 0777; chmod would follow it and change the target.
        return "mode has no meaning for a link", "set the mode on the link's target instead"
    return None


def _line_rule(args: Mapping[str, Any]) -> tuple[str, str] | None:
    if args.get("state") == "present" and args.get("line") is None:
        return "state: present needs line", "add line: the text the file must contain"
    if args.get("state") == "absent" and args.get("line") is None and not args.get("regexp"):
        return "state: absent needs line or regexp", "add regexp: matching the lines to remove"
    if args.get("insertafter") and args.get("insertbefore"):
        return "give only one of insertafter or insertbefore", "keep the one you mean"
    if args.get("insertafter") == "BOF":
        return "insertafter: BOF is not a place", "insertbefore: BOF puts the line first"
    return None


def _service_rule(args: Mapping[str, Any]) -> tuple[str, str] | None:
    if args.get("state") is None and args.get("enabled") is None:
        return "nothing to do without state or enabled", "add state: started or enabled: true"
    return None


def _supervisor_rule(args: Mapping[str, Any]) -> tuple[str, str] | None:
    # Without command a task only drives the state of an already configured program
    # (e.g. a handler's state: restarted); declaring one needs its command.
    if args.get("state") == "present" and not args.get("command"):
        return "state: present needs command", "add command: the program to run"
    return None


def _release_rule(args: Mapping[str, Any]) -> tuple[str, str] | None:
    if args.get("keep") is not None and int(args["keep"]) < 1:
        return "keep must be at least 1 (the current release)", "keep: 5 keeps the last five"
    return None


_SEMANTICS: Mapping[str, Callable[[Mapping[str, Any]], tuple[str, str] | None]] = \
    MappingProxyType({"file": _file_rule, "line": _line_rule, "service": _service_rule,
                      "supervisor": _supervisor_rule, "release": _release_rule})
