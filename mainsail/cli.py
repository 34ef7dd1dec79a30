"""The `mainsail` console script: the same tasks as `inv`, usable outside a checkout.

It differs from Invoke's own `inv` in three ways: a bad command line exits 4 with one line and
a hint (Invoke exits 1), the project's invoke.yaml is read from the project root found by
walking up from the current folder, and `mainsail init DIR` works outside any project.
"""

from __future__ import annotations

import os
import sys

from invoke import Program

from . import __version__
from .flags import strict_parse, strict_tasks
from .tasks import ns, project_root


class MainsailProgram(Program):
    """Invoke's Program with Mainsail's command-line contract (docs/commands.md)."""

    def parse_core(self, argv: list[str] | None) -> None:
        strict_parse(super().parse_core, self.binary or "mainsail", argv)

    def parse_collection(self) -> None:
        super().parse_collection()
        # A bundled namespace loads no project config: read the project's invoke.yaml here.
        self.config.set_project_location(str(project_root()))
        self.config.load_project()

    def parse_tasks(self) -> None:
        strict_tasks(super().parse_tasks, self)


program = MainsailProgram(namespace=ns, version=__version__, binary="mainsail", name="Mainsail")


def main() -> None:
    try:
        program.run()
    except BrokenPipeError:
        # The reader went away (`mainsail --list | head`): say nothing more, and keep Python
        # from complaining while it flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
