"""Jinja2 rendering for templates, task arguments and ``when`` conditions.

One sandboxed environment per plan: undefined variables are errors (StrictUndefined), nothing
is HTML-escaped (these are config files), a file's trailing newline is kept, and templates are
looked up in the role's ``templates/`` and then the project's ``templates/``. Every failure is
a :class:`~mainsail.errors.BadInput` naming the template file:line (or the task's file:line
for inline strings) and the variable involved.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import traceback
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import jinja2
import jinja2.meta
import yaml
from jinja2.loaders import split_template_path
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from .errors import BadInput, did_you_mean
from .yamlio import Unsafe, YDict, YList, display_path, read_text

#: Ansible's ``omit``: an argument whose value renders to this is dropped from the step.
OMIT = "__mainsail_omit__"
_SINGLE_EXPRESSION = re.compile(r"\{\{(?P<expr>.*)\}\}", re.DOTALL)
_UNDEFINED_NAME = re.compile(r"'(?P<name>[^']+)' is undefined")
_MARKERS = ("{{", "{%", "{#")
_TRUE_WORDS = frozenset({"true", "yes", "on", "1", "y"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0", "n", "", "none"})
_RENDER_FAILURES = (TypeError, ValueError, ZeroDivisionError, KeyError, IndexError,
                    AttributeError, OverflowError, RecursionError, re.error, yaml.YAMLError)


class Environment(SandboxedEnvironment):
    """The sandboxed environment, plus the project root used to show template paths."""

    def __init__(self, search_path: Sequence[Path], root: Path | None) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False,
                         keep_trailing_newline=True, loader=_TemplateLoader(search_path))
        self.root = root
        self.search_path = tuple(Path(p) for p in search_path)
        self.filters.update(FILTERS)
        self.tests.update(TESTS)
        self.globals["omit"] = OMIT


class _TemplateLoader(jinja2.FileSystemLoader):
    """FileSystemLoader that refuses binary, non-UTF-8 and huge templates with BadInput."""

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # refuses `..` escapes
        for base in self.searchpath:
            path = os.path.join(base, *pieces)
            if os.path.isfile(path):
                root = getattr(environment, "root", None)
                text = read_text(path, root, what="template")
                mtime = os.path.getmtime(path)
                return text, os.path.normpath(path), lambda: os.path.getmtime(path) == mtime
        raise jinja2.TemplateNotFound(template)


class BrokenVariable(jinja2.UndefinedError):
    """Raised when a template uses a variable whose own value failed to render."""

    error: BadInput


def broken(error: BadInput) -> jinja2.StrictUndefined:
    """A stand-in for a variable whose value failed to render: using it raises ``error``.

    Variables render lazily in Ansible, so one that is broken but never used must not fail
    the plan; ``| default(...)`` and ``is defined`` treat it as undefined.
    """
    exc_type = type("BrokenVariable", (BrokenVariable,), {"error": error})
    return jinja2.StrictUndefined(hint=str(error), exc=exc_type)


def make_env(search_path: Sequence[Path] = (), root: Path | None = None) -> Environment:
    """A fresh environment looking up templates in ``search_path`` (first match wins)."""
    return Environment(search_path, root)


# ---------------------------------------------------------------------------- public API

def has_template(text: Any) -> bool:
    """Whether a string contains Jinja markup."""
    return isinstance(text, str) and not isinstance(text, Unsafe) and \
        any(m in text for m in _MARKERS)


def render_value(obj: Any, vars: Mapping[str, Any], *, where: str = "",
                 env: Environment | None = None) -> Any:
    """``obj`` with every string rendered, recursively through lists and mappings.

    A string that is exactly one ``{{ expression }}`` keeps the expression's type, so
    ``"{{ ports }}"`` stays a list and ``"{{ port }}"`` an int.
    """
    env = env or make_env()
    if isinstance(obj, str):
        return _render_str(obj, vars, where, env)
    if isinstance(obj, Mapping):
        rendered = {k: render_value(v, vars, where=where, env=env) for k, v in obj.items()}
        return _keep_positions(obj, YDict(rendered)) if isinstance(obj, YDict) else rendered
    if isinstance(obj, (list, tuple)):
        items = [render_value(v, vars, where=where, env=env) for v in obj]
        return _keep_positions(obj, YList(items)) if isinstance(obj, YList) else items
    return obj


def _keep_positions(source: Any, target: Any) -> Any:
    """Carry file positions over to the rendered copy, so later checks still name the line."""
    for slot in type(source).__slots__:
        if hasattr(source, slot):
            setattr(target, slot, getattr(source, slot))
    return target


def render_string(text: str, vars: Mapping[str, Any], *, where: str = "",
                  env: Environment | None = None) -> str:
    """``text`` rendered as a template, always a string."""
    if not has_template(text):
        return str(text)
    env = env or make_env()
    return str(_guard(lambda: env.from_string(text).render(vars), vars, where, env))


def eval_condition(expr: Any, vars: Mapping[str, Any], *, where: str = "",
                   env: Environment | None = None) -> bool:
    """Ansible ``when``: a bare expression (``x == 1``, ``flag``); a list means all of them."""
    if expr is None or isinstance(expr, bool):
        return expr is not False
    if isinstance(expr, (list, tuple)):
        return all(eval_condition(e, vars, where=where, env=env) for e in expr)
    if isinstance(expr, (int, float)):
        return bool(expr)
    env = env or make_env()
    text = str(expr).strip()
    if has_template(text):
        return _word_to_bool(render_string(text, vars, where=where, env=env), text, where)
    value = _evaluate(text, vars, where, env)
    if isinstance(value, str) and re.fullmatch(r"[\w.]+", text):
        # A bare variable holding "false" (say, from --var flag=false) means false, as in Ansible.
        return value.strip().lower() not in _FALSE_WORDS
    return _truth(value, text, vars, where)


def render_template(name: str, vars: Mapping[str, Any], *, search_path: Sequence[Path] = (),
                    where: str = "", env: Environment | None = None,
                    root: Path | None = None) -> str:
    """The template file ``name`` (looked up in ``search_path``) rendered with ``vars``."""
    env = env or make_env(search_path, root)
    return str(_guard(lambda: _load(env, name, where).render(vars), vars, where, env))


def check_expression(expr: str, *, where: str = "", env: Environment | None = None) -> None:
    """Syntax-check a bare expression or a template string, so typos fail at load time."""
    env = env or make_env()
    text = expr if has_template(expr) else "{{ " + expr + " }}"
    try:
        env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise BadInput(f"syntax error in {expr!r}: {exc.message}", where,
                       "check quotes, brackets and operators") from None


def referenced_names(text: str, env: Environment | None = None) -> set[str]:
    """Top-level variable names a template string uses (for secrets and diagnostics)."""
    env = env or make_env()
    try:
        return set(jinja2.meta.find_undeclared_variables(env.parse(text)))
    except jinja2.TemplateSyntaxError:
        return set()


# ---------------------------------------------------------------------------- internals

def _render_str(text: str, vars: Mapping[str, Any], where: str, env: Environment) -> Any:
    if isinstance(text, Unsafe) or not has_template(text):
        return str(text)
    single = _SINGLE_EXPRESSION.fullmatch(text)
    if single and not any(m in single.group("expr") for m in ("{{", "}}", "{%", "{#")):
        return _evaluate(single.group("expr"), vars, where, env)
    return render_string(text, vars, where=where, env=env)


def _evaluate(expr: str, vars: Mapping[str, Any], where: str, env: Environment) -> Any:
    def run() -> Any:
        value = env.compile_expression(expr.strip(), undefined_to_none=False)(**vars)
        _raise_if_undefined(value)
        return value

    return _guard(run, vars, where, env, expr=expr.strip())


def _raise_if_undefined(value: Any) -> None:
    """An expression may *return* an undefined value without touching it; that is an error too."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Mapping):
        for item in value.values():
            _raise_if_undefined(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _raise_if_undefined(item)


def _truth(value: Any, text: str, vars: Mapping[str, Any], where: str) -> bool:
    try:
        return bool(value)
    except BrokenVariable as exc:
        raise type(exc).error from None
    except jinja2.UndefinedError as exc:
        raise _undefined_error(exc, vars, where, text) from None


def _word_to_bool(rendered: str, text: str, where: str) -> bool:
    word = rendered.strip().lower()
    if word in _TRUE_WORDS | _FALSE_WORDS:
        return word in _TRUE_WORDS
    raise BadInput(f"condition {text!r} rendered to {rendered!r}, not true or false", where,
                   "write when: as a bare expression without {{ }}")


def _load(env: Environment, name: str, where: str) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise _not_found(env, str(exc.name or name), where) from None


def _not_found(env: Environment, name: str, where: str) -> BadInput:
    dirs = [display_path(p, env.root) + "/" for p in env.search_path]
    known = [str(f.relative_to(d)) for d in env.search_path if d.is_dir()
             for f in d.rglob("*") if f.is_file()]
    hint = did_you_mean(name, known) if known else ""
    looked = f"looked in {', '.join(dirs)}" if dirs else "no templates/ folder"
    return BadInput(f"template {name!r} not found ({looked})", where, hint)


def _guard(run: Callable[[], Any], vars: Mapping[str, Any], where: str, env: Environment,
           expr: str | None = None) -> Any:
    """Run a render step, turning every Jinja or Python failure into BadInput with a place."""
    try:
        return run()
    except BadInput:
        raise
    except BrokenVariable as exc:
        raise type(exc).error from None
    except jinja2.UndefinedError as exc:
        raise _undefined_error(exc, vars, _template_where(exc, env, where), expr) from None
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(exc, env, where, expr) from None
    except jinja2.TemplateNotFound as exc:
        raise _not_found(env, str(exc.name or exc), _template_where(exc, env, where)) from None
    except SecurityError as exc:
        raise BadInput(f"template tried an unsafe operation: {exc}",
                       _template_where(exc, env, where)) from None
    except (jinja2.TemplateError, *_RENDER_FAILURES) as exc:
        shown = f" in {{{{ {expr} }}}}" if expr else ""
        raise BadInput(f"template error{shown}: {type(exc).__name__}: {exc}",
                       _template_where(exc, env, where)) from None


def _undefined_error(exc: jinja2.UndefinedError, vars: Mapping[str, Any], where: str,
                     expr: str | None) -> BadInput:
    message = exc.message or "undefined value"
    match = _UNDEFINED_NAME.search(message)
    shown = f" in {{{{ {expr} }}}}" if expr else ""
    if not match:
        return BadInput(f"undefined value{shown}: {message}", where,
                        "check the attribute or key name, or add | default(...)")
    name = match.group("name")
    return BadInput(f"undefined variable '{name}'{shown}", where, _undefined_hint(name, vars))


def _undefined_hint(name: str, vars: Mapping[str, Any]) -> str:
    if name in ("lookup", "query", "q"):
        return "lookups are not supported; put the value in a variable"
    close = did_you_mean(name, [k for k in vars if isinstance(k, str)])
    if close.startswith("did you mean"):
        return close
    return (f"define '{name}' in the play's vars, group_vars/, host_vars/ or --var, "
            f"or give a default: {{{{ {name} | default('') }}}}")


def _syntax_error(exc: jinja2.TemplateSyntaxError, env: Environment, where: str,
                  expr: str | None) -> BadInput:
    if exc.filename and exc.filename != "<template>":
        place = f"{display_path(exc.filename, env.root)}:{exc.lineno}"
    else:
        place = where
    shown = f" in {{{{ {expr} }}}}" if expr else ""
    return BadInput(f"template syntax error{shown}: {exc.message}", place,
                    "check the {{ }} / {% %} pairs and filter names")


def _template_where(exc: BaseException, env: Environment, fallback: str) -> str:
    """The innermost template frame (file:line) of a render failure, else ``fallback``."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if _is_template_file(frame.filename, env):
            return f"{display_path(frame.filename, env.root)}:{frame.lineno}"
    return fallback


def _is_template_file(filename: str, env: Environment) -> bool:
    path = Path(filename)
    return any(_inside(path, base) for base in env.search_path)


def _inside(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        return False
    return True


# ---------------------------------------------------------------------------- filters

def _flags(ignorecase: bool) -> int:
    return re.I if ignorecase else 0


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return bool(value)


def _mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, jinja2.Undefined):
        if msg:
            raise jinja2.UndefinedError(msg)
        value._fail_with_undefined_error()
    return value


def _regex_replace(value: Any, pattern: str, replacement: str = "",
                   ignorecase: bool = False, multiline: bool = False) -> str:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.sub(pattern, replacement, str(value), flags=flags)


def _regex_search(value: Any, pattern: str, ignorecase: bool = False) -> str | None:
    found = re.search(pattern, str(value), flags=re.I if ignorecase else 0)
    return found.group(0) if found else None


def _ternary(value: Any, true_value: Any, false_value: Any, none_value: Any = None) -> Any:
    if value is None and none_value is not None:
        return none_value
    return true_value if value else false_value


def _combine(*dicts: Mapping[str, Any], recursive: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in dicts:
        for key, value in d.items():
            both = isinstance(out.get(key), Mapping) and isinstance(value, Mapping)
            out[key] = _combine(out[key], value, recursive=True) if recursive and both else value
    return out


def _hash(value: Any, algorithm: str = "sha1") -> str:
    if algorithm not in hashlib.algorithms_guaranteed:
        raise ValueError(f"unknown hash algorithm {algorithm!r}")
    return hashlib.new(algorithm, str(value).encode()).hexdigest()


def _flatten(value: Sequence[Any], levels: int | None = None) -> list[Any]:
    out: list[Any] = []
    for item in value:
        if isinstance(item, (list, tuple)) and (levels is None or levels > 0):
            out.extend(_flatten(item, None if levels is None else levels - 1))
        else:
            out.append(item)
    return out


def _to_nice_yaml(value: Any, indent: int = 2) -> str:
    return str(yaml.safe_dump(_plain(value), default_flow_style=False, indent=indent,
                              sort_keys=False, allow_unicode=True))


def _plain(value: Any) -> Any:
    """YDict/YList and Unsafe back to builtin types, so yaml.safe_dump accepts them."""
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    return int(value) if isinstance(value, int) else value


def to_plain(value: Any, *, where: str = "") -> Any:
    """``value`` as JSON types only (dict, list, str, int, float, bool, None), else BadInput."""
    if isinstance(value, jinja2.Undefined):
        _raise_if_undefined(value)
    if isinstance(value, Mapping):
        return {_plain_key(k, where): to_plain(v, where=where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, where=where) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return _plain(value)
    raise BadInput(f"a value of type {type(value).__name__} cannot be sent to a host", where,
                   "render it to text or a list/mapping of plain values")


def _plain_key(key: Any, where: str) -> str:
    if isinstance(key, bool) or not isinstance(key, (str, int, float)):
        raise BadInput(f"mapping key {key!r} is not text", where)
    return str(key)


FILTERS: Mapping[str, Callable[..., Any]] = MappingProxyType({
    "bool": _to_bool,
    "mandatory": _mandatory,
    "to_json": lambda v, **kw: json.dumps(v, **kw),
    "to_nice_json": lambda v, indent=4: json.dumps(v, indent=indent, sort_keys=True),
    "from_json": json.loads,
    "to_yaml": lambda v: yaml.safe_dump(_plain(v), default_flow_style=True, sort_keys=False),
    "to_nice_yaml": _to_nice_yaml,
    "from_yaml": yaml.safe_load,
    "regex_replace": _regex_replace,
    "regex_search": _regex_search,
    "regex_findall": lambda v, p, ignorecase=False: re.findall(p, str(v), _flags(ignorecase)),
    "regex_escape": lambda v: re.escape(str(v)),
    "b64encode": lambda v: base64.b64encode(str(v).encode()).decode(),
    "b64decode": lambda v: base64.b64decode(str(v)).decode(),
    "basename": lambda v: os.path.basename(str(v)),
    "dirname": lambda v: os.path.dirname(str(v)),
    "quote": lambda v: shlex.quote(str(v)),
    "ternary": _ternary,
    "combine": _combine,
    "dict2items": lambda d: [{"key": k, "value": v} for k, v in d.items()],
    "items2dict": lambda items: {i["key"]: i["value"] for i in items},
    "hash": _hash,
    "flatten": _flatten,
    "split": lambda v, sep=None, maxsplit=-1: str(v).split(sep, maxsplit),
    "difference": lambda a, b: [x for x in a if x not in b],
    "intersect": lambda a, b: [x for x in a if x in b],
    "union": lambda a, b: list(a) + [x for x in b if x not in a],
    "type_debug": lambda v: type(v).__name__,
})

def _result(value: Any, test: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"the {test!r} test needs a registered result, not "
                        f"{type(value).__name__}")
    return value


def _result_test(field: str, negate: bool = False) -> Callable[[Any], bool]:
    """Ansible's tests on a registered result: ``result is changed``, ``is succeeded``..."""
    def test(value: Any) -> bool:
        return bool(_result(value, field).get(field, False)) != negate
    return test


RESULT_TESTS: Mapping[str, Callable[[Any], bool]] = MappingProxyType({
    **{name: _result_test("changed") for name in ("changed", "change")},
    **{name: _result_test("failed") for name in ("failed", "failure")},
    **{name: _result_test("failed", negate=True) for name in ("succeeded", "success",
                                                               "successful")},
    **{name: _result_test("skipped") for name in ("skipped", "skip")},
    "finished": lambda value: bool(_result(value, "finished").get("finished", True)),
    "reachable": lambda value: not _result(value, "reachable").get("unreachable", False),
    "unreachable": lambda value: bool(_result(value, "unreachable").get("unreachable", False)),
})

TESTS: Mapping[str, Callable[..., bool]] = MappingProxyType({
    **RESULT_TESTS,
    "match": lambda v, p, ignorecase=False: bool(re.match(p, str(v), _flags(ignorecase))),
    "search": lambda v, p, ignorecase=False: bool(re.search(p, str(v), _flags(ignorecase))),
    "regex": lambda v, p, ignorecase=False: bool(re.search(p, str(v), _flags(ignorecase))),
})
