"""``python -m mainsail.agent SHA [STATE_DIR]`` runs the agent loop on stdin/stdout."""
from __future__ import annotations

import sys

from .main import main

sys.exit(main(sys.argv[1:]))
