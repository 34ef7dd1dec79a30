"""Mainsail: deploy and run servers over SSH from Python.

The stable API is ``__all__``: :class:`Project` runs and checks a project; runs return a
:class:`RunRecord` (per host a :class:`HostRecord`, per step a :class:`StepRecord`), the same
objects the command line prints and writes; bad input raises :class:`BadInput`, every expected
failure is a :class:`MainsailError`. Names are imported on first use, so ``import mainsail``
stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["BadInput", "HostRecord", "MainsailError", "Project", "RunRecord", "StepRecord",
           "__version__"]

_WHERE = {"Project": "api", "RunRecord": "report", "HostRecord": "report",
          "StepRecord": "report", "BadInput": "errors", "MainsailError": "errors"}

if TYPE_CHECKING:
    from .api import Project
    from .errors import BadInput, MainsailError
    from .report import HostRecord, RunRecord, StepRecord


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib
        return getattr(importlib.import_module("." + _WHERE[name], __name__), name)
    raise AttributeError("module 'mainsail' has no attribute %r" % name)
