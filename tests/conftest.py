import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def inv(*args: str, check: bool = True, timeout: float = 900, cwd: Path = ROOT,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an `inv` command of this project the way a user types it."""
    done = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and done.returncode != 0:
        pytest.fail("inv %s exited %d\nstdout:\n%s\nstderr:\n%s"
                    % (" ".join(args), done.returncode, done.stdout, done.stderr))
    return done


# The sample project's role checks are testinfra files run by `inv verify`, not by pytest.
collect_ignore = ["e2e/project"]
