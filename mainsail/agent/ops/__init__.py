"""One module per operation: its declaration ``SPEC`` (spec.py) beside its ``run(ctx, args)``.

Operations are found, not listed: every public module of this package with a ``SPEC`` is one,
so adding an operation is adding its module. A module whose op is applied by another op's code
(``template`` by ``copy``) has no ``run``. Helper modules start with ``_`` or have no SPEC.

The agent imports an operation's module only when a step uses it (``OPS.get(name)`` imports
``ops/<name>.py``): importing all of them at every start was most of the agent's start-up on
the host. The controller also loads declarations one at a time (``spec(name)``); ``SPECS``
(all of them, for aliases, listings and docs) imports every module, on first use.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType
from typing import Any, Dict, Iterator, Mapping, MutableMapping, Optional, Tuple

from ..spec import OpSpec

_OP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a public module name: never a path or a helper


def _op_modules() -> Iterator[str]:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            yield info.name


def _spec_of(module: ModuleType) -> Optional[OpSpec]:
    spec = getattr(module, "SPEC", None)
    return spec if isinstance(spec, OpSpec) else None


def _discover() -> Tuple[Dict[str, OpSpec], Dict[str, ModuleType]]:
    specs: Dict[str, OpSpec] = {}
    runners: Dict[str, ModuleType] = {}
    for name in _op_modules():
        module = importlib.import_module("%s.%s" % (__name__, name))
        spec = _spec_of(module)
        if spec is None:
            continue
        specs[spec.name] = spec
        if hasattr(module, "run"):
            runners[spec.name] = module
    return specs, runners


_found: Optional[Tuple[Dict[str, OpSpec], Dict[str, ModuleType]]] = None


def _everything() -> Tuple[Dict[str, OpSpec], Dict[str, ModuleType]]:
    global _found
    if _found is None:
        _found = _discover()
    return _found


class _Runners(MutableMapping[str, ModuleType]):
    """Operation name -> the module that applies it, imported on first use.

    An op's module is named after it (``apt`` in ``ops/apt.py``; a unit test holds every
    module to it), so a name is looked up by importing that one module: never all of them."""

    def __init__(self) -> None:
        self._loaded: Dict[str, Optional[ModuleType]] = {}

    def _load(self, name: str) -> Optional[ModuleType]:
        if name in self._loaded:
            return self._loaded[name]
        found = spec(name)
        module = importlib.import_module("%s.%s" % (__name__, name)) if found else None
        if module is not None and not hasattr(module, "run"):
            module = None  # declared, applied by another op's code (template by copy's)
        self._loaded[name] = module
        return module

    def __getitem__(self, name: str) -> ModuleType:
        module = self._load(name) if isinstance(name, str) else None
        if module is None:
            raise KeyError(name)
        return module

    def __setitem__(self, name: str, module: ModuleType) -> None:  # tests put stand-ins here
        self._loaded[name] = module

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def _names(self) -> set:
        return set(_everything()[1]) | {n for n, m in self._loaded.items() if m is not None}

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._names()))

    def __len__(self) -> int:
        return len(self._names())


OPS: MutableMapping[str, ModuleType] = _Runners()
"""The modules that apply operations, by name (imported when first asked for)."""


_specs: Dict[str, Optional[OpSpec]] = {}


def spec(name: str) -> Optional[OpSpec]:
    """The declaration of operation ``name`` (its canonical name, which is its module's name),
    or None: only that module is imported, so the controller loads the operations a playbook
    uses, not all of them (every module cost ~45 ms at each start)."""
    if name in _specs:
        return _specs[name]
    found: Optional[OpSpec] = None
    if _found is not None:
        found = _found[0].get(name)
    elif isinstance(name, str) and _OP_NAME.match(name):
        try:
            module = importlib.import_module("%s.%s" % (__name__, name))
        except ModuleNotFoundError as exc:
            if exc.name != "%s.%s" % (__name__, name):
                raise
        else:
            candidate = _spec_of(module)
            found = candidate if candidate is not None and candidate.name == name else None
    _specs[name] = found
    return found


def __getattr__(name: str) -> Any:
    # SPECS: every operation's declaration by name, discovered on first use (PEP 562).
    if name == "SPECS":
        return _everything()[0]
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
