"""Jinja2 rendering for templates, task arguments and ``when`` conditions.

One sandboxed environment per plan: undefined variables are errors (StrictUndefined), nothing
is HTML-escaped (these are config files), a file's trailing newline is kept, and templates are
looked up in the role's ``templates/`` and then the project's ``templates/``. Every failure is
a :class:`~mainsail.errors.BadInput` naming the template file:line (or the task's file:line
for inline strings) and the variable involved.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import math
import json
import os
import re
import random
import shlex
import stat
import subprocess
import string
import traceback
from pathlib import Path
from types import MappingProxyType
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jinja2
import jinja2.environment
import jinja2.meta
import jinja2.nodes
import jinja2.parser
import yaml
from jinja2.lexer import Token, TokenStream
from jinja2.loaders import split_template_path
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from . import taint
from .ansible_filters import make_filters, version_compare
from .shacrypt import new_salt
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
    """The sandboxed environment, plus the project root used to show template paths.

    Lookups and outputs are watched so that values computed from a secret are secrets too
    (see taint.py)."""

    context_class = taint.TaintContext

    def __init__(self, search_path: Sequence[Path], root: Path | None) -> None:
        # optimized=False: Jinja's optimizer would run constant filters at compile time, and
        # compiled code is shared between hosts (see compile): `'pw' | password_hash` or
        # `[1, 2] | shuffle` would then draw once for every host of the run.
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                         loader=_TemplateLoader(search_path),
                         finalize=taint.finalize, optimized=False)
        self.root = root
        self.search_path = tuple(Path(p) for p in search_path)
        self.filters = dict(_watched_filters(self.filters))
        self.tests.update(TESTS)
        self.globals["omit"] = OMIT
        self.globals["now"] = _now  # Ansible's now(utc=False, fmt=None)
        self.files_path: tuple[Path, ...] = ()  # where file lookups look (role files/, ...)
        self.globals["lookup"] = self._lookup
        self.globals["query"] = self.globals["q"] = self._query

    @jinja2.pass_context
    def _lookup(self, context: Any, name: str, *terms: Any, **options: Any) -> Any:
        """Ansible's ``lookup``: a comma-joined string, unless ``wantlist=True``;
        ``errors='ignore'`` (or ``warn``): None where the lookup fails."""
        wantlist = bool(options.pop("wantlist", False))
        found = self._run_lookup(context, name, terms, options)
        if found is None:
            return [] if wantlist else None
        if wantlist:
            return found
        if all(isinstance(f, str) for f in found):
            return ",".join(found)
        return found[0] if len(found) == 1 else found

    @jinja2.pass_context
    def _query(self, context: Any, name: str, *terms: Any, **options: Any) -> list[Any]:
        options.pop("wantlist", None)
        found = self._run_lookup(context, name, terms, options)
        return [] if found is None else found

    def _run_lookup(self, context: Any, name: str, terms: tuple[Any, ...],
                    options: dict[str, Any]) -> list[Any] | None:
        """The lookup's values; None where it failed and ``errors`` says to go on."""
        errors = str(options.pop("errors", "strict"))
        if errors not in ("strict", "warn", "ignore"):
            raise ValueError(f"errors must be strict, warn or ignore, not {errors!r}")
        try:
            return run_lookup(self, context, name, list(terms), options)
        except (ValueError, TypeError, OSError):
            if errors == "strict":
                raise
            return None

    line_offset = 0  # lines before the source that were taken off (a ``#jinja2:`` header)

    def _tokenize(self, source: str, name: str | None, filename: str | None = None,
                  state: str | None = None) -> TokenStream:
        stream = super()._tokenize(source, name, filename, state)
        if not self.line_offset:
            return stream
        shifted = (Token(t.lineno + self.line_offset, t.type, t.value) for t in stream)
        return TokenStream(shifted, name, filename)

    def getitem(self, obj: Any, argument: Any) -> Any:
        return taint.read(super().getitem(obj, argument))

    # Every plan has an environment of its own, mostly configured alike: a template or an
    # expression compiled for one host is the same code for the next, so the code is kept
    # (by source text and the settings that change how it compiles: a `#jinja2:` header or a
    # template lookup's options) for the whole process instead of compiled again per host.
    def _settings(self) -> tuple[Any, ...]:
        return (type(self), self.block_start_string, self.block_end_string,
                self.variable_start_string, self.variable_end_string,
                self.comment_start_string, self.comment_end_string,
                self.line_statement_prefix, self.line_comment_prefix, self.trim_blocks,
                self.lstrip_blocks, self.newline_sequence, self.keep_trailing_newline,
                self.line_offset)

    def compile(self, source: Any, name: str | None = None, filename: str | None = None,
                raw: bool = False, defer_init: bool = False) -> Any:
        if raw or not isinstance(source, str):
            return super().compile(source, name, filename, raw, defer_init)
        key = (self._settings(), source, name, filename, defer_init)
        code = _COMPILED.get(key)
        if code is None:
            code = _keep(key, super().compile(source, name, filename, raw, defer_init))
        return code

    def compile_expression(self, source: str, undefined_to_none: bool = True) -> Any:
        key = (self._settings(), "expression", source)
        code = _COMPILED.get(key)
        if code is None:
            parser = jinja2.parser.Parser(self, source, state="variable")
            try:
                expr = parser.parse_expression()
                if not parser.stream.eos:
                    raise jinja2.TemplateSyntaxError("chunk after expression",
                                                     parser.stream.current.lineno, None, None)
                expr.set_environment(self)
            except jinja2.TemplateSyntaxError:
                self.handle_exception(source=source)
            body = [jinja2.nodes.Assign(jinja2.nodes.Name("result", "store"), expr, lineno=1)]
            code = _keep(key, super().compile(jinja2.nodes.Template(body, lineno=1)))
        template = self.template_class.from_code(self, code, self.make_globals(None))
        return jinja2.environment.TemplateExpression(template, undefined_to_none)

    def getattr(self, obj: Any, attribute: str) -> Any:
        return taint.read(super().getattr(obj, attribute))


_WATCHED: dict[str, Callable[..., Any]] = {}


def _watched_filters(base: Mapping[str, Callable[..., Any]]) -> Mapping[str, Callable[..., Any]]:
    """Jinja's filters and ours, each watched for secrets (taint.py): the same wrappers for
    every environment (they hold no environment), made once rather than once per host."""
    if not _WATCHED:
        _WATCHED.update(taint.watched({**base, **FILTERS}))
    return _WATCHED


_COMPILED: dict[tuple[Any, ...], Any] = {}
_COMPILED_MAX = 20000  # distinct sources kept; a run past it starts again (memory bound)


def _keep(key: tuple[Any, ...], code: Any) -> Any:
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = code
    return code


class _TemplateLoader(jinja2.FileSystemLoader):
    """FileSystemLoader that refuses binary, non-UTF-8 and huge templates with BadInput."""

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # refuses `..` escapes
        for base in self.searchpath:
            path = os.path.join(base, *pieces)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            mtime = st.st_mtime
            # Read once per run, not once per host (each host's plan has its own environment,
            # and Jinja asks twice): read again when the file changes.
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            found = _SOURCES.get(path)
            if found is None or found[0] != stamp:
                root = getattr(environment, "root", None)
                # (a copy of the values: plans in threads may add one meanwhile)
                if sum(len(text) for _, text in list(_SOURCES.values())) > _SOURCES_MAX:
                    _SOURCES.clear()
                found = _SOURCES[path] = (stamp, read_text(path, root, what="template"))
            return found[1], os.path.normpath(path), lambda: os.path.getmtime(path) == mtime
        raise jinja2.TemplateNotFound(template)


_SOURCES: dict[str, tuple[tuple[int, int, int], str]] = {}
_SOURCES_MAX = 64 << 20  # characters of template text kept; past it, read again


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


def render_lazily(obj: Any, vars: Mapping[str, Any], *, where: str = "",
                  env: Environment | None = None) -> Any:
    """render_value for a lookup that skips what is undefined (first_found): a string that
    is one expression keeps the undefined values inside what it gives, as Ansible 2.19's
    lazy templating does; a list's items that cannot render are undefined themselves."""
    env = env or make_env()
    if isinstance(obj, str):
        single = _SINGLE_EXPRESSION.fullmatch(obj)
        if single and not any(m in single.group("expr") for m in ("{{", "}}", "{%", "{#")):
            expr = single.group("expr").strip()
            return _guard(lambda: env.compile_expression(expr, undefined_to_none=False)(**vars),
                          vars, where, env)
        try:
            return render_value(obj, vars, where=where, env=env)
        except BadInput as exc:
            if "undefined" not in exc.what:
                raise
            return env.undefined(name=obj)
    if isinstance(obj, Mapping):
        return {k: render_lazily(v, vars, where=where, env=env) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [render_lazily(v, vars, where=where, env=env) for v in obj]
    return obj


def render_string(text: str, vars: Mapping[str, Any], *, where: str = "",
                  env: Environment | None = None) -> str:
    """``text`` rendered as a template, always a string."""
    if not has_template(text):
        return str(text)
    env = env or make_env()
    return _text(_guard(lambda: keep_newlines(text, env.from_string(text).render(vars)),
                        vars, where, env))


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
    if has_template(text) and not _whole_template(text, env):
        # An expression whose string constants hold templates (`x == "du{{ 'de' }}"`): they
        # are rendered, as Ansible 2.19 does; a template outside a string is refused.
        text = _render_constants(text, vars, where, env)
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

    def run() -> str:
        template = _load(env, name, where)
        return keep_newlines(template.trailing_newlines,  # type: ignore[attr-defined]
                             template.render(vars), template.environment.newline_sequence)

    return _text(_guard(run, vars, where, env))


def keep_newlines(source: str | int, rendered: str, newline: str = "\n") -> str:
    """Ansible's rule for trailing newlines: Jinja drops one at the end of every template
    (so an included file's last newline goes), and the outermost template gets back as many
    as its source ends with (in its ``newline`` sequence). ``source``: the source, or how
    many newlines it ends with."""
    wanted = source if isinstance(source, int) else len(source) - len(source.rstrip("\n"))
    has = len(rendered) - len(rendered.rstrip("\n"))
    return rendered + newline * (wanted - has) if wanted > has else rendered


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
    return set(_analysis(text, env or make_env())[0])


def _analysis(text: str, env: Environment) -> tuple[frozenset[str], bool]:
    """What a template string reads: its top-level names, and whether it reads the
    controller's files. Parsed once per run and Jinja setting rather than once per host
    and use (a parse costs 50-100 us; a plan asks several times per task)."""
    key = (env._settings(), "analysis", text)
    found = _COMPILED.get(key)
    if found is None:
        try:
            tree = env.parse(text)
        except jinja2.TemplateSyntaxError:
            found = (frozenset(), False)
        else:
            found = (frozenset(jinja2.meta.find_undeclared_variables(tree)),
                     _reads_files(tree))
        _keep(key, found)
    return found


# Jinja tests and lookups that read the controller's files.
_FILE_TESTS = frozenset({"file", "is_file", "directory", "is_dir", "link", "is_link", "exists",
                         "link_exists", "mount", "is_mount", "same_file", "is_same_file"})
_FILE_LOOKUPS = frozenset({"file", "fileglob", "first_found", "lines", "template", "pipe",
                           "csvfile", "ini", "unvault", "with_fileglob", "with_first_found"})


def reads_controller_files(text: str, env: Environment | None = None) -> bool:
    """Whether a template string tests or looks up files on the controller (``is link``,
    ``lookup('file', ...)``): what an earlier step on the controller may have changed."""
    return _analysis(text, env or make_env())[1]


def _reads_files(tree: jinja2.nodes.Template) -> bool:
    for node in tree.find_all((jinja2.nodes.Test, jinja2.nodes.Call)):
        if isinstance(node, jinja2.nodes.Test) and node.name in _FILE_TESTS:
            return True
        if isinstance(node, jinja2.nodes.Call) and isinstance(node.node, jinja2.nodes.Name) \
                and node.node.name in ("lookup", "query", "q") and node.args and \
                isinstance(node.args[0], jinja2.nodes.Const) and node.args[0].value in _FILE_LOOKUPS:
            return True
    return False


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
        return taint.listed(value)

    return _guard(run, vars, where, env, expr=expr.strip())


def _whole_template(text: str, env: Environment) -> bool:
    """``{{ ... }}`` and nothing else (one expression, its constants left alone)."""
    try:
        kinds = [kind for _, kind, _ in env.lexer.tokeniter(text, None)]
    except jinja2.TemplateSyntaxError:
        return True  # rendered as it is: the error names the problem
    return bool(kinds) and kinds[0] == "variable_begin" and kinds[-1] == "variable_end" and \
        kinds.count("variable_begin") == 1 and "data" not in kinds


def _render_constants(text: str, vars: Mapping[str, Any], where: str, env: Environment) -> str:
    """``text`` (an expression) with each string constant that holds a template rendered."""
    try:
        tokens = list(env.lexer.tokeniter("{{ %s }}" % text, None))
    except jinja2.TemplateSyntaxError:
        tokens = []
    inner = [t for t in tokens[1:-1]]
    bare = "".join(v for _, kind, v in inner if kind not in ("string", "whitespace"))
    if not tokens or tokens[0][1] != "variable_begin" or tokens[-1][1] != "variable_end" or \
            any(kind in ("variable_begin", "block_begin") for _, kind, _ in inner) or \
            "{{" in bare or "{%" in bare:
        raise BadInput(f"condition {text!r} is an untrusted template or expression: a "
                       "template inside an expression is not evaluated again", where,
                       "write the condition as one expression (x == y), or as one template "
                       "({{ x == y }})")
    out = []
    for _, kind, value in inner:
        if kind == "string" and has_template(value[1:-1]):
            body = ast.literal_eval(value)
            out.append(repr(render_string(body, vars, where=where, env=env)))
        else:
            out.append(value)
    return " ".join(out)


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
        source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    except jinja2.TemplateNotFound as exc:
        raise _not_found(env, str(exc.name or name), where) from None
    if not source.startswith(HEADER):
        template = env.get_template(name)
    else:
        place = f"{display_path(filename, env.root)}:1"
        template = compile_with_header(env, source, place, name=name, filename=filename)
    template.trailing_newlines = len(source) - len(source.rstrip("\n"))  # type: ignore[attr-defined]
    return template


#: Ansible's first-line override of a template's Jinja settings: ``#jinja2:key:value,...``.
HEADER = "#jinja2:"
_HEADER_KEYS = ("block_start_string", "block_end_string", "variable_start_string",
                "variable_end_string", "comment_start_string", "comment_end_string",
                "line_statement_prefix", "line_comment_prefix", "trim_blocks", "lstrip_blocks",
                "newline_sequence", "keep_trailing_newline")
_HEADER_STRINGS = frozenset(k for k in _HEADER_KEYS if k.endswith(("_string", "_prefix")))
_NEWLINES = ("\n", "\r\n", "\r")


def header_overrides(line: str, where: str) -> dict[str, Any]:
    """The settings a ``#jinja2:`` line (without its marker) asks for, checked as Ansible
    checks them: known keys, Python literals of the right type, distinct start strings."""
    overrides: dict[str, Any] = {}
    for pair in line.split(","):
        key, sep, raw = pair.partition(":")
        key = key.strip()
        if not sep or key not in _HEADER_KEYS:
            raise BadInput(f"bad {HEADER} override {pair.strip()!r}", where,
                           f"write {HEADER}key:value,... with keys among {', '.join(_HEADER_KEYS)}")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            raise BadInput(f"{HEADER} override {key}: {raw.strip()!r} is not a Python literal",
                           where, "quote strings: variable_start_string:'[%'") from None
        wanted: Any = (str, type(None)) if key.endswith("_prefix") else \
            str if key in _HEADER_STRINGS or key == "newline_sequence" else bool
        bad_newline = key == "newline_sequence" and value not in _NEWLINES
        if not isinstance(value, wanted) or bad_newline:
            raise BadInput(f"{HEADER} override {key}: {value!r} is not allowed", where,
                           "newline_sequence is '\\n', '\\r\\n' or '\\r'; the *_blocks "
                           "keys True or False; the others strings")
        overrides[key] = value
    starts = [overrides.get(k, default) for k, default in (
        ("block_start_string", "{%"), ("variable_start_string", "{{"),
        ("comment_start_string", "{#"))]
    if len(set(starts)) != 3:
        raise BadInput(f"{HEADER} block, variable and comment start strings must differ",
                       where)
    return overrides


def compile_with_header(env: Environment, source: str, where: str, *, name: str | None = None,
                        filename: str | None = None,
                        base: Mapping[str, Any] | None = None) -> jinja2.Template:
    """A template whose first line may be a ``#jinja2:`` header, compiled in an overlay of
    ``env`` with those settings (on top of ``base``)."""
    settings = dict(base or {})
    offset = 0
    if source.startswith(HEADER):
        line, newline, source = source[len(HEADER):].partition("\n")
        if not newline:
            raise BadInput(f"a {HEADER} header needs a newline after it", where)
        settings.update(header_overrides(line, where))
        offset = 1
    target = env.overlay(**settings) if settings or offset else env
    target.line_offset = offset  # the header line is gone: errors still name the file's lines
    code = target.compile(source, name, filename)
    return target.template_class.from_code(target, code, target.make_globals(None))


def _not_found(env: Environment, name: str, where: str) -> BadInput:
    dirs = [display_path(p, env.root) + "/" for p in env.search_path]
    known = [str(f.relative_to(d)) for d in env.search_path if d.is_dir()
             for f in d.rglob("*") if f.is_file()]
    hint = did_you_mean(name, known) if known else ""
    looked = f"looked in {', '.join(dirs)}" if dirs else "no templates/ folder"
    return BadInput(f"template {name!r} not found ({looked})", where, hint)


def _text(value: Any) -> str:
    """``str(value)``, keeping a rendered string's mark as a secret (see taint.py)."""
    return value if isinstance(value, str) else str(value)


def _guard(run: Callable[[], Any], vars: Mapping[str, Any], where: str, env: Environment,
           expr: str | None = None) -> Any:
    """Run a render step, turning every Jinja or Python failure into BadInput with a place."""
    try:
        return taint.tracked(run, vars)
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


def _regex_search(value: Any, pattern: str, *groups: str, ignorecase: bool = False,
                  multiline: bool = False) -> Any:
    """The first match, or with group arguments (``'\\1'``, ``'\\g<name>'``) the list of
    those groups of it; None when nothing matches."""
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    found = re.search(pattern, str(value), flags=flags)
    if not groups:
        return found.group(0) if found else None
    wanted: list[Any] = []
    for group in groups:
        number = re.fullmatch(r"\\(\d+)", str(group))
        name = re.fullmatch(r"\\g<(\w+)>", str(group))
        if not (number or name):
            raise ValueError(f"regex_search: unknown argument {group!r} "
                             "(give '\\\\N' or '\\\\g<name>')")
        wanted.append(int(number.group(1)) if number else name.group(1))  # type: ignore[union-attr]
    return [found.group(g) for g in wanted] if found else None


def _ternary(value: Any, true_value: Any, false_value: Any, none_value: Any = None) -> Any:
    if value is None and none_value is not None:
        return none_value
    return true_value if value else false_value


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


# ---------------------------------------------------------------------------- lookups and with_*

def run_lookup(env: "Environment", context: Any, name: str, terms: list[Any],
               options: Mapping[str, Any]) -> list[Any]:
    """One of Ansible's lookups (also what ``with_<name>`` loops over): always a list.
    ``ansible.builtin.NAME`` and ``ansible.legacy.NAME`` are NAME, as for operations."""
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name not in LOOKUPS:
        raise ValueError(f"lookup plugin {name!r} not found: it is not available (known: "
                         f"{', '.join(sorted(LOOKUPS))})")
    # A template in a lookup's terms is rendered, as Ansible does (they are the playbook's).
    terms = [render_string(t, context.get_all(), env=env) if isinstance(t, str) and
             has_template(t) else t for t in terms]
    for value in options.values():  # an option must be defined, even where terms may not
        _raise_if_undefined(value)
    return LOOKUPS[name](env, context, terms, dict(options))


def _lk_pipe(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    """Ansible's pipe: each term run by the shell on the controller, its output (trailing
    newlines taken off); a failing command is an error. A term is a shell line the playbook
    wrote (that is what this lookup is for): quote variables in it with `| quote`."""
    out = []
    for term in terms:
        done = subprocess.run(["/bin/sh", "-c", str(term)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False,
                              timeout=float(opts.get("timeout", 60)))
        if done.returncode != 0:
            raise ValueError(f"lookup_plugin.pipe({term!r}) returned {done.returncode}")
        out.append(done.stdout.rstrip("\n"))
    return out


def _lk_items(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    return _flatten(terms, 1)


def _lk_list(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    return terms[0] if len(terms) == 1 and isinstance(terms[0], list) else list(terms)


def _lk_dict(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    out = []
    for term in terms:
        if not isinstance(term, Mapping):
            raise ValueError("the dict lookup plugin expects a dictionary, got "
                             f"{type(term).__name__}")
        out += [{"key": k, "value": v} for k, v in term.items()]
    return out


def _lists(terms: list[Any]) -> list[list[Any]]:
    if len(terms) == 1 and isinstance(terms[0], list) and all(isinstance(t, list)
                                                                 for t in terms[0]):
        terms = terms[0]
    return [t if isinstance(t, list) else [t] for t in terms]


def _lk_together(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    lists = _lists(terms)
    if not lists:
        raise ValueError("with_together requires at least one element in each list")
    return [list(t) for t in itertools.zip_longest(*lists)]


def _lk_nested(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    lists = _lists(terms)
    if not lists:
        raise ValueError("with_nested requires at least one element in the nested list")
    return [list(t) for t in itertools.product(*lists)]


def _lk_indexed(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    items = _lk_list(env, ctx, terms, opts)
    return [[i, x] for i, x in enumerate(items)]


def _lk_flattened(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    return _flatten(terms)


_SUBELEMENTS_TERMS = "subelements lookup expects a list of two or three items, "


def _lk_subelements(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    """Each element paired with each item of its list under a (dotted) key; the errors say
    what Ansible's say, since playbooks test for their wording."""
    if len(terms) == 1 and isinstance(terms[0], list) and 2 <= len(terms[0]) <= 3:
        terms = terms[0]
    if not 2 <= len(terms) <= 3:
        raise ValueError(_SUBELEMENTS_TERMS.rstrip(", "))
    elements, key = terms[0], terms[1]
    if not isinstance(elements, (list, Mapping)) or not isinstance(key, str):
        raise ValueError(_SUBELEMENTS_TERMS + "first a dict or a list, second a string "
                         "pointing to the subkey")
    flags = terms[2] if len(terms) == 3 else {}
    if not isinstance(flags, Mapping) or set(flags) - {"skip_missing"}:
        raise ValueError(_SUBELEMENTS_TERMS + "the optional third item must be a dict with "
                         "flags skip_missing")
    skip = _to_bool(flags.get("skip_missing", False))
    if isinstance(elements, Mapping):
        if elements.get("skipped") is True:
            return []  # the registered result of a skipped task
        elements = list(elements.values())
    out = []
    for element in elements:
        if not isinstance(element, Mapping):
            raise ValueError(f"subelements lookup: each element must be a dict, got "
                             f"{element!r}")
        if element.get("skipped") is True:
            continue
        found = _subelement(element, key.split("."), skip)
        if found is None:
            continue
        out += [[element, sub] for sub in found]
    return out


def _subelement(element: Mapping[str, Any], parts: list[str], skip: bool) -> list[Any] | None:
    """The list under ``parts`` in ``element``; None when it is missing and ``skip``."""
    value: Any = element
    for depth, part in enumerate(parts):
        if not isinstance(value, Mapping) or part not in value:
            if skip:
                return None
            raise ValueError(f"could not find {part!r} key in iterated item {value!r}")
        value = value[part]
        last = depth == len(parts) - 1
        if not last and not isinstance(value, Mapping):
            if skip:
                return None
            raise ValueError(f"the key {part} should point to a dictionary, got {value!r}")
        if last and not isinstance(value, list):
            raise ValueError(f"the key {part} should point to a list, got {value!r}")
    return value


_SEQ_SHORT = re.compile(r"^(?:(?P<start>-?[0-9a-fA-Fx]+)-)?(?P<end>-?[0-9a-fA-Fx]+)"
                        r"(?:/(?P<stride>-?[0-9a-fA-Fx]+))?(?::(?P<format>.+))?$")


def _seq_int(text: Any, what: str) -> int:
    try:
        return int(str(text), 0)
    except ValueError:
        raise ValueError(f"{what}={text} has an invalid value: not an integer") from None


def _sequence_one(term: str, opts: Mapping[str, Any]) -> list[str]:
    fields: dict[str, Any] = {"start": 1, "stride": 1, "format": "%d", "end": None,
                              "count": None}
    fields.update({k: v for k, v in opts.items() if k in fields})
    term = str(term).strip()
    if term:
        if "=" in term:
            for word in shlex.split(term):
                key, _, value = word.partition("=")
                if key not in fields:
                    raise ValueError(f"unrecognized arguments to with_sequence: {key}")
                fields[key] = value
        else:
            match = _SEQ_SHORT.match(term)
            if not match:
                raise ValueError(f"can't parse arg {term!r} as a sequence shortcut")
            fields.update({k: v for k, v in match.groupdict().items() if v is not None})
    start = _seq_int(fields["start"], "start")
    stride = _seq_int(fields["stride"], "stride")
    if fields["count"] is not None and fields["end"] is not None:
        raise ValueError("can't specify both count and end in with_sequence")
    if fields["count"] is not None:
        count = _seq_int(fields["count"], "count")
        # Ansible's own arithmetic, quirk included: with a negative stride it runs past count
        end = start + count * stride - 1 if count else start - stride
        if count == 0:
            return []
    elif fields["end"] is not None:
        end = _seq_int(fields["end"], "end")
    else:
        raise ValueError("must specify count or end in with_sequence")
    if stride == 0:
        return []  # Ansible's: no step, no numbers
    if stride > 0 and end < start:
        raise ValueError("to count backwards make stride negative")
    if stride < 0 and end > start:
        raise ValueError("to count forward don't make stride negative")
    fmt = str(fields["format"])
    numbers = range(start, end + (1 if stride > 0 else -1), stride)
    try:
        return [fmt % n for n in numbers]
    except (TypeError, ValueError):
        raise ValueError(f"bad formatting string: {fmt}") from None


def _lk_sequence(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    if not terms and not opts:
        return out  # Ansible's: a sequence of nothing
    for term in terms or [""]:
        out += _sequence_one(term, opts)
    return out


def _search_dirs(env: Any, ctx: Any, subdir: str) -> list[Path]:
    """Where a relative path in a lookup is looked for: the role's files/ (or templates/,
    vars/), then the role itself, then the project's folder of that kind."""
    dirs: list[Path] = []
    for nearby in (ctx.get("ansible_search_path") or [])[:1] if ctx is not None else []:
        if Path(str(nearby)).name != "playbooks" and str(nearby) != ctx.get("role_path"):
            dirs += [Path(str(nearby)) / subdir, Path(str(nearby))]  # the task file's own
    role_path = ctx.get("role_path") if ctx is not None else None
    if role_path:
        dirs += [Path(role_path) / subdir, Path(role_path)]
    dirs += list(getattr(env, "files_path", ()))
    if env.root is not None:
        dirs += [env.root / subdir, env.root / "playbooks" / subdir, env.root / "playbooks",
                 env.root]
    return dirs


def _find_file(env: Any, ctx: Any, name: str, subdir: str = "files") -> Path | None:
    path = Path(os.path.expanduser(str(name)))
    if path.is_absolute():
        return path if path.exists() else None
    for base in _search_dirs(env, ctx, subdir):
        if (base / path).exists():
            return base / path
    return None


def _lk_file(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    out = []
    for term in terms:
        found = _find_file(env, ctx, str(term))
        if found is None or not found.is_file():
            raise ValueError(f"could not locate file in lookup: {term}")
        text = found.read_text(encoding="utf-8")
        if _to_bool(opts.get("rstrip", True)):
            text = text.rstrip()
        if _to_bool(opts.get("lstrip", False)):
            text = text.lstrip()
        out.append(text)
    return out


def _lk_lines(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        out += _lk_file(env, ctx, [term], {"rstrip": True})[0].splitlines()
    return out


def _lk_fileglob(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        pattern = os.path.expanduser(str(term))
        bases = [Path("/")] if os.path.isabs(pattern) else _search_dirs(env, ctx, "files")
        for base in bases:
            found = sorted(str(p) for p in base.glob(pattern.lstrip("/") if base == Path("/")
                                                     else pattern) if p.is_file())
            if found:
                out += found
                break
    return out


def _defined(value: Any) -> Any:
    """A first_found term's files or paths without its undefined values."""
    if isinstance(value, jinja2.Undefined):
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if not isinstance(v, jinja2.Undefined)]
    return value


def _lk_first_found(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    files: list[str] = []
    paths: list[str] = []
    skip = _to_bool(opts.get("skip", False))
    for term in _flatten(terms):
        if isinstance(term, jinja2.Undefined):
            continue  # an undefined term is left out, as Ansible's lazy templating does
        if isinstance(term, Mapping):
            got = _defined(term.get("files", []))
            files += got if isinstance(got, list) else re.split(r"[,;:]", str(got))
            where = _defined(term.get("paths", []))
            paths += where if isinstance(where, list) else re.split(r"[,:;]", str(where))
            skip = skip or _to_bool(term.get("skip", False))
        elif isinstance(term, str):
            files.append(term)
        else:  # Ansible's words
            raise ValueError("Invalid term supplied. A string or a mapping of files and paths "
                             "is required, not %r" % type(term).__name__)
    files += opts.get("files", []) if isinstance(opts.get("files"), list) else []
    paths += opts.get("paths", []) if isinstance(opts.get("paths"), list) else []
    candidates = [str(Path(p) / f) for p in paths for f in files] if paths else files
    # with_first_found: the folder its task's action names (Ansible's); a lookup: any
    subdirs = [str(opts["_subdir"])] if opts.get("_subdir") else \
        ["files", "templates", "vars", "tasks"]
    for name in candidates:
        for subdir in subdirs:
            found = _find_file(env, ctx, name, subdir)
            if found is not None and found.is_file():
                return [str(found)]
    if skip:
        return []
    raise ValueError("no file was found when using first_found: " + ", ".join(candidates))


def _lk_env(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    default = opts.get("default", "")
    return [os.environ.get(str(t), default) for t in terms]


def _lk_vars(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    out = []
    for term in terms:
        if not isinstance(term, str):
            raise ValueError(f"Variable name must be 'str' not '{type(term).__name__}'")
        value = ctx.resolve_or_missing(term) if ctx is not None else jinja2.utils.missing
        if value is jinja2.utils.missing or isinstance(value, jinja2.Undefined):
            if "default" in opts:
                out.append(opts["default"])
                continue
            raise jinja2.UndefinedError(f"No variable named '{term}' was found")  # Ansible's
        out.append(value)
    return out


_LOOKUP_TEMPLATE_OPTIONS = ("variable_start_string", "variable_end_string",
                            "comment_start_string", "comment_end_string", "trim_blocks")


def _lk_template(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    """Ansible's template lookup: the file rendered with the task's variables (and
    ``template_vars``); includes are looked for beside it first. A template that renders
    to nothing gives None."""
    unknown = set(opts) - {*_LOOKUP_TEMPLATE_OPTIONS, "template_vars", "convert_data",
                           "jinja2_native"}
    if unknown:
        raise ValueError(f"unknown option(s) for the template lookup: {', '.join(sorted(unknown))}")
    settings = {k: opts[k] for k in _LOOKUP_TEMPLATE_OPTIONS if k in opts}
    if "trim_blocks" in settings:
        settings["trim_blocks"] = _to_bool(settings["trim_blocks"])
    out = []
    for term in terms:
        found = _find_file(env, ctx, str(term), "templates")
        if found is None or not found.is_file():
            raise ValueError(f"the template file {term} could not be found for the lookup")
        variables = dict(ctx.get_all()) if ctx is not None else {}
        variables.update(opts.get("template_vars") or {})
        loader = _TemplateLoader([found.parent, *env.search_path])
        source = read_text(found, env.root, what="template")
        template = compile_with_header(env, source, f"{display_path(found, env.root)}:1",
                                       filename=str(found), base={**settings, "loader": loader})
        # A template that outputs nothing at all (a comment, trimmed) is None, as Ansible's
        # native rendering gives; any output, an empty line too, is text.
        try:
            parts = list(template.root_render_func(template.new_context(variables)))
        except Exception:
            template.environment.handle_exception()  # as Template.render reports it
        if not parts:
            out.append(None)
            continue
        text = keep_newlines(source, "".join(parts), template.environment.newline_sequence)
        out.append(text if text else None)
    return out


_PASSWORD_CHARSETS = {"ascii_letters": string.ascii_letters, "letters": string.ascii_letters,
                      "ascii_lowercase": string.ascii_lowercase,
                      "ascii_uppercase": string.ascii_uppercase, "digits": string.digits,
                      "hexdigits": string.hexdigits, "octdigits": string.octdigits,
                      "punctuation": string.punctuation}
_PASSWORD_PARAMS = ("length", "encrypt", "chars", "ident", "seed")


def _password_term(term: str, opts: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``PATH key=value ...`` (Ansible's spelling) into the path and its parameters."""
    path, _, rest = term.strip().partition(" ")
    params: dict[str, Any] = {k: v for k, v in opts.items() if k in _PASSWORD_PARAMS}
    for word in rest.split():
        key, sep, value = word.partition("=")
        if not sep:
            raise ValueError(f"password lookup: {word!r} is not key=value")
        params[key] = value
    unknown = set(params) - set(_PASSWORD_PARAMS) | (set(opts) - set(_PASSWORD_PARAMS))
    if unknown:
        raise ValueError(f"password lookup: unknown parameter(s) {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(_PASSWORD_PARAMS)})")
    return path, params


def _password_chars(chars: Any) -> str:
    """``ascii_letters,digits,,`` -> the letters, the digits and a comma (``,,`` is one)."""
    if isinstance(chars, list):
        names = [str(c) for c in chars]
    else:
        parts, names = str(chars).split(","), []
        while parts:
            part = parts.pop(0)
            if part:
                names.append(part)
            elif parts and parts[0] == "":
                names.append(",")
                parts.pop(0)
    return "".join(_PASSWORD_CHARSETS.get(name, name) for name in names)


def _lk_password(env: Any, ctx: Any, terms: list[Any], opts: dict[str, Any]) -> list[Any]:
    """Ansible's password lookup: the password kept in a file on the controller, made (random,
    0600) on first use; ``/dev/null`` keeps nothing. A lookup without a file is refused: its
    value would change on every run."""
    if not terms:
        raise ValueError("the password lookup needs a file to keep the password in: "
                         "lookup('password', 'credentials/NAME length=20')")
    out = []
    for term in terms:
        name, params = _password_term(str(term), opts)
        if not name or "=" in name:
            raise ValueError(f"the password lookup needs a file path first, not {term!r}")
        base = Path(str(ctx.get("playbook_dir"))) if ctx is not None and \
            ctx.get("playbook_dir") else (env.root or Path.cwd())
        path = Path(os.path.expanduser(name))
        path = path if path.is_absolute() else base / path
        chars = _password_chars(params.get("chars", ["ascii_letters", "digits", ".,:-_"]))
        stored = path.read_text(encoding="utf-8").rstrip("\n") if path.is_file() else ""
        password, _, salt_part = stored.partition(" salt=")
        if not stored:
            chooser = random.Random(str(params["seed"])) if params.get("seed") else \
                random.SystemRandom()
            password = "".join(chooser.choice(chars) for _ in range(int(params.get("length", 20))))
        encrypt = params.get("encrypt")
        salt = salt_part or (new_salt() if encrypt else "")
        if str(path) != os.devnull and (not stored or (encrypt and not salt_part)):
            _write_private(path, password + (f" salt={salt}" if encrypt else "") + "\n")
        out.append(FILTERS["password_hash"](password, str(encrypt), salt=salt)
                   if encrypt else password)
    return out


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (folders made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


LOOKUPS: Mapping[str, Callable[..., list[Any]]] = MappingProxyType({
    "items": _lk_items, "list": _lk_list, "dict": _lk_dict, "together": _lk_together,
    "nested": _lk_nested, "cartesian": _lk_nested, "indexed_items": _lk_indexed,
    "flattened": _lk_flattened, "subelements": _lk_subelements, "sequence": _lk_sequence,
    "file": _lk_file, "lines": _lk_lines, "fileglob": _lk_fileglob,
    "first_found": _lk_first_found, "env": _lk_env, "vars": _lk_vars,
    "template": _lk_template, "password": _lk_password, "pipe": _lk_pipe,
})


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


def _now(utc: bool = False, fmt: str | None = None) -> Any:
    import datetime
    moment = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) if utc \
        else datetime.datetime.now()
    return moment.strftime(fmt) if fmt else moment


def _length(value: Any) -> int:
    """Jinja's length, also of what select / map / reject give (Ansible's reads them too)."""
    try:
        return len(value)
    except TypeError:
        if isinstance(value, Iterable):
            return sum(1 for _ in value)
        raise


FILTERS: Mapping[str, Callable[..., Any]] = MappingProxyType({
    "length": _length, "count": _length,
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
    "basename": lambda v: os.path.basename(str(v)),
    "dirname": lambda v: os.path.dirname(str(v)),
    "quote": lambda v: shlex.quote(str(v)),
    "ternary": _ternary,
    "dict2items": lambda d: [{"key": k, "value": v} for k, v in d.items()],
    "items2dict": lambda items: {i["key"]: i["value"] for i in items},
    "hash": _hash,
    "flatten": _flatten,
    "split": lambda v, sep=None, maxsplit=-1: str(v).split(sep, maxsplit),
    "type_debug": lambda v: type(v).__name__,
    **make_filters(),
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

def _is_nan(value: Any) -> bool:
    try:
        return math.isnan(value)
    except TypeError:
        return False


TESTS: Mapping[str, Callable[..., bool]] = MappingProxyType({
    **RESULT_TESTS,
    **{name: (lambda a, b: all(x in b for x in a)) for name in ("subset", "issubset")},
    **{name: (lambda a, b: all(x in a for x in b)) for name in ("superset", "issuperset")},
    "contains": lambda seq, value: value in seq,
    **{name: _is_nan for name in ("nan", "isnan")},
    "any": lambda seq: any(seq), "all": lambda seq: all(seq),
    "truthy": lambda v, convert_bool=False: bool(_to_bool(v) if convert_bool else v),
    "falsy": lambda v, convert_bool=False: not (_to_bool(v) if convert_bool else v),
    **{name: version_compare for name in ("version", "version_compare")},
    **{name: (lambda path: os.path.isabs(str(path))) for name in ("abs", "is_abs")},
    "link_exists": lambda path: os.path.lexists(os.path.expanduser(str(path))),
    "exists": lambda path: os.path.exists(os.path.expanduser(str(path))),
    **{name: (lambda path: os.path.isfile(str(path))) for name in ("file", "is_file")},
    **{name: (lambda path: os.path.isdir(str(path))) for name in ("directory", "is_dir")},
    **{name: (lambda path: os.path.islink(str(path))) for name in ("link", "is_link")},
    **{name: (lambda a, b: os.path.samefile(str(a), str(b)))
       for name in ("same_file", "is_same_file")},
    **{name: (lambda path: os.path.ismount(str(path))) for name in ("mount", "is_mount")},
    "match": lambda v, p, ignorecase=False: bool(re.match(p, str(v), _flags(ignorecase))),
    "search": lambda v, p, ignorecase=False: bool(re.search(p, str(v), _flags(ignorecase))),
    "regex": lambda v, p, ignorecase=False: bool(re.search(p, str(v), _flags(ignorecase))),
})
