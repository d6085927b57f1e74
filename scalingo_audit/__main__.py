"""``python -m scalingo_audit`` is the ``scalingo-audit`` command."""

import sys

from .cli import main

sys.exit(main())
