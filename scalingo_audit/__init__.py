"""scalingo-audit: who can do what on Scalingo, and what should be fixed.

import scalingo_audit as sa
data = sa.load("demo")                 # or a snapshot directory, or a dashboard export
findings = sa.run_checks(data)         # one row per finding, see frames.SCHEMAS["findings"]
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import AuditError, InputError, PolicyError
from .model import AuditData
from .policy import Policy, load_policy
from .sources import load

__all__ = [
    "AuditData",
    "AuditError",
    "InputError",
    "Policy",
    "PolicyError",
    "__version__",
    "load",
    "load_policy",
]
