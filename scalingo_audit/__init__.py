"""scalingo-audit: who can do what on Scalingo, and what should be fixed.

import scalingo_audit as sa
data = sa.load("demo")                 # or a snapshot directory, or a dashboard export
findings = sa.run_checks(data)         # one row per finding, see frames.SCHEMAS["findings"]

The names below are imported on first use (PEP 562), so ``scalingo-audit --version``
and ``--help`` start without loading pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .checks import run_checks
    from .errors import AuditError, InputError, PolicyError
    from .model import AuditData
    from .policy import Policy, load_policy
    from .sources import load

_EXPORTS = {
    "AuditData": "model",
    "AuditError": "errors",
    "InputError": "errors",
    "Policy": "policy",
    "PolicyError": "errors",
    "load": "sources",
    "load_policy": "policy",
    "run_checks": "checks",
}

__all__ = [
    "AuditData",
    "AuditError",
    "InputError",
    "Policy",
    "PolicyError",
    "__version__",
    "load",
    "load_policy",
    "run_checks",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
