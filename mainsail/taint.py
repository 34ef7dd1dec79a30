"""Values computed from a secret are secrets too.

A vault value passed through a filter (``b64encode``, ``upper``, ``to_json``), joined to other
text, or used in arithmetic no longer contains the secret's own text, so masking the known
values misses it. Rendering therefore tracks where a secret was *read*:

* every top-level variable a template looks up goes through :meth:`TaintContext.resolve_or_missing`;
  when the value holds a secret (a :class:`~mainsail.vault.Secret`, an encrypted number, or a
  list or dict holding one), the render is *tainted*; so is a render that reads a secret as an
  item or attribute (``hostvars[name].password``: the environment's getitem/getattr), passes
  a value holding one to a filter, or outputs one;
* in a tainted render, each ``{{ expression }}``'s output is a derived value (recorded by the
  environment's ``finalize`` hook), unless it is, as the very same object, a plain variable that
  holds no secret (``{{ app_user }}`` beside ``{{ password | b64encode }}`` stays readable);
  each filter's result counts as an output too (a ``{% filter %}`` block's result does not pass
  ``finalize``), so intermediate values of a tainted render are masked as well;
* a tainted render's result is itself marked as a secret, so a variable defined from a secret
  taints whatever is computed from it in turn;
* a bare expression (``"{{ codes | map('string') | list }}"``) that was tainted gives a
  derived value whole.

Derived values go to the collector of the plan being built (:func:`collecting`), which adds
them to the values the plan and the report mask, and marks steps holding them ``no_log``.

Limits (docs/vault.md): a value that depends on a secret only through control flow
(``{{ 'a' if password.startswith('x') else 'b' }}``) reveals that much; derived values shorter
than three characters are not masked (as for secrets themselves); a tainted render may mask
more than it must (every expression output that is not a plain variable).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2.runtime

from .vault import SECRET_TYPES, as_secret

_state = threading.local()


@dataclass
class _Render:
    """What one render read and wrote."""

    plain_ids: frozenset[int]
    tainted: bool = False
    outputs: list[Any] = field(default_factory=list)
    seen: dict[int, bool] = field(default_factory=dict)


def _stack() -> list[_Render]:
    if not hasattr(_state, "stack"):
        _state.stack = []
    return _state.stack  # type: ignore[no-any-return]


def holds_secret(value: Any, seen: dict[int, bool] | None = None) -> bool:
    """Whether ``value`` is a secret or holds one (dicts, lists and tuples walked).

    Other mappings (``hostvars``, ``groups``: views over the whole inventory) are not walked:
    their items are checked as a template reads them (:func:`read`), so reading one host's
    address does not count as reading another host's sudo password."""
    seen = {} if seen is None else seen
    if isinstance(value, SECRET_TYPES):
        return True
    if not isinstance(value, (dict, list, tuple)):
        return False
    key = id(value)
    if key not in seen:
        seen[key] = False  # a cycle holds nothing new
        items = value.values() if isinstance(value, dict) else value
        seen[key] = any(holds_secret(item, seen) for item in items)
    return seen[key]


def _taint_if(holds: bool) -> None:
    stack = _stack()
    if stack and holds:
        stack[-1].tainted = True


def read(value: Any) -> Any:
    """An item or attribute a template read: a secret read taints the render."""
    _taint_if(isinstance(value, SECRET_TYPES))
    return value


class TaintContext(jinja2.runtime.Context):
    """A template context that notes when a lookup returns a secret."""

    def resolve_or_missing(self, key: str) -> Any:
        value = super().resolve_or_missing(key)
        stack = _stack()
        if stack and not stack[-1].tainted and holds_secret(value, stack[-1].seen):
            stack[-1].tainted = True
        return value


def finalize(value: Any) -> Any:
    """The environment's ``finalize``: note each expression's output of the render under way
    (an output holding a secret taints it: a loop variable over a view's items, say)."""
    value = listed(value)  # "x {{ xs | map('upper') }}" shows the items, as Ansible 2.19
    stack = _stack()
    if stack:
        _taint_if(not stack[-1].tainted and holds_secret(value, stack[-1].seen))
        stack[-1].outputs.append(value)
    return value


def listed(value: Any) -> Any:
    """A generator (`xs | map(...)`) as its list, as Ansible 2.19's finalizing gives it: it
    would print as its repr, and be used up by its first reader."""
    if isinstance(value, Iterator) and not isinstance(value, (str, bytes)):
        return list(value)
    return value


def watched(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The filters, each noting its result as an output of the render under way: a
    ``{% filter %}`` block's result is written without passing ``finalize``."""
    return {name: _watch(f) for name, f in filters.items()}


def _watch(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)  # keeps jinja's pass_context/pass_environment marks
    def watching(*args: Any, **kwargs: Any) -> Any:
        stack = _stack()
        if stack and not stack[-1].tainted:
            seen = stack[-1].seen
            _taint_if(any(holds_secret(a, seen) for a in (*args, *kwargs.values())))
        return finalize(fn(*args, **kwargs))

    return watching


def tracked(run: Callable[[], Any], variables: Mapping[str, Any]) -> Any:
    """``run()`` (one render), its result marked and its derived parts collected when it read
    a secret. Nested renders taint the render around them."""
    plain = frozenset(id(v) for v in variables.values()
                      if isinstance(v, str) and not isinstance(v, SECRET_TYPES))
    render = _Render(plain)
    stack = _stack()
    stack.append(render)
    try:
        result = run()
    finally:
        stack.pop()
    if not render.tainted:
        return result
    if stack:
        stack[-1].tainted = True
    if isinstance(result, str):
        parts = [out for out in render.outputs if id(out) not in render.plain_ids]
        _collect(text for part in parts for text in _texts(part))
        return as_secret(result)
    _collect(_texts(result))
    return marked(result)


def marked(value: Any) -> Any:
    """A copy of ``value`` with every string and number in it marked as a secret."""
    if isinstance(value, Mapping):
        return {k: marked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(marked(v) for v in value) if isinstance(value, tuple) \
            else [marked(v) for v in value]
    return as_secret(value)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value)
        yield text
        if '"' in text or "\\" in text:
            yield text.replace("\\", "\\\\").replace('"', '\\"')  # as JSON quotes it


# ---------------------------------------------------------------------------- collecting

def _collect(texts: Iterable[str]) -> None:
    sink = getattr(_state, "sink", None)
    if sink is not None:
        sink(list(texts))


@contextlib.contextmanager
def collecting(sink: Callable[[Iterable[str]], None]) -> Iterator[None]:
    """Send every derived value rendered in this thread meanwhile to ``sink``."""
    before = getattr(_state, "sink", None)
    _state.sink = sink
    try:
        yield
    finally:
        _state.sink = before
