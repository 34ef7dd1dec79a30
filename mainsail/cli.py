"""The `mainsail` console script: the same tasks as `inv`, usable outside a checkout."""

from __future__ import annotations

import os
import sys

from invoke import Program

from . import __version__
from .tasks import ns

program = Program(namespace=ns, version=__version__, binary="mainsail", name="Mainsail")


def main() -> None:
    try:
        program.run()
    except BrokenPipeError:
        # The reader went away (`mainsail --list | head`): say nothing more, and keep Python
        # from complaining while it flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
