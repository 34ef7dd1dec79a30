"""One module per operation: its declaration ``SPEC`` (spec.py) beside its ``run(ctx, args)``.

Operations are found, not listed: every public module of this package with a ``SPEC`` is one,
so adding an operation is adding its module. A module whose op is applied by another op's code
(``template`` by ``copy``) has no ``run``. Helper modules start with ``_`` or have no SPEC.

The agent imports an operation's module only when a step uses it (``OPS.get(name)`` imports
``ops/<name>.py``): importing all of them at every start was most of the agent's start-up on
the host. ``SPECS`` (the controller's view) still imports every module, on first use.
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

    An op's module is named after it (``apt`` in ``ops/apt.py``); a name that is not found so
    falls back to importing every module, so a differently named module is still found."""

    def __init__(self) -> None:
        self._loaded: Dict[str, ModuleType] = {}

    def _load(self, name: str) -> Optional[ModuleType]:
        if name in self._loaded:
            return self._loaded[name]
        module: Optional[ModuleType] = None
        if _OP_NAME.match(name):
            try:
                candidate = importlib.import_module("%s.%s" % (__name__, name))
            except ModuleNotFoundError as exc:
                if exc.name != "%s.%s" % (__name__, name):
                    raise  # the module exists and lacks something: a real error
                candidate = None
            spec = _spec_of(candidate) if candidate is not None else None
            if spec is not None and spec.name == name and hasattr(candidate, "run"):
                module = candidate
        if module is None:
            module = _everything()[1].get(name)
        if module is not None:
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

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(_everything()[1]) | set(self._loaded)))

    def __len__(self) -> int:
        return len(set(_everything()[1]) | set(self._loaded))


OPS: MutableMapping[str, ModuleType] = _Runners()
"""The modules that apply operations, by name (imported when first asked for)."""


def __getattr__(name: str) -> Any:
    # SPECS: every operation's declaration by name, discovered on first use (PEP 562).
    if name == "SPECS":
        return _everything()[0]
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
