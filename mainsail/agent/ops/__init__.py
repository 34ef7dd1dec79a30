"""One module per operation: its declaration ``SPEC`` (spec.py) beside its ``run(ctx, args)``.

Operations are found, not listed: every public module of this package with a ``SPEC`` is one,
so adding an operation is adding its module. A module whose op is applied by another op's code
(``template`` by ``copy``) has no ``run``. Helper modules start with ``_`` or have no SPEC.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Dict, Tuple

from ..spec import OpSpec


def _discover() -> Tuple[Dict[str, OpSpec], Dict[str, ModuleType]]:
    specs: Dict[str, OpSpec] = {}
    runners: Dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module("%s.%s" % (__name__, info.name))
        spec = getattr(module, "SPEC", None)
        if not isinstance(spec, OpSpec):
            continue
        specs[spec.name] = spec
        if hasattr(module, "run"):
            runners[spec.name] = module
    return specs, runners


SPECS, OPS = _discover()
"""SPECS: every operation's declaration by name; OPS: the modules that apply them."""
