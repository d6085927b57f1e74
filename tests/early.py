"""Loaded before the plugins installed as packages (pyproject's addopts: ``-p tests.early``).

nbval imports nbformat, hence jsonschema, which imports ``rfc3987_syntax``: 1.7 s of CPU
(tests/blocked says why), paid by the pytest process at start-up, before any conftest runs
and before it starts its workers. Putting tests/blocked first on this process's path leaves
the module out here too, as tests/conftest.py does for the processes the tests start.
"""

from __future__ import annotations

import sys
from pathlib import Path

BLOCKED = str(Path(__file__).resolve().parent / "blocked")
if BLOCKED not in sys.path:
    sys.path.insert(0, BLOCKED)
