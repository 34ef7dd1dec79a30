"""The `mainsail` console script: the same tasks as `inv`, usable outside a checkout."""

from __future__ import annotations

from invoke import Program

from . import __version__
from .tasks import ns

program = Program(namespace=ns, version=__version__, binary="mainsail", name="Mainsail")


def main() -> None:
    program.run()
