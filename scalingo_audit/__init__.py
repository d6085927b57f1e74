"""scalingo-audit: who can do what on Scalingo, and what should be fixed.

import scalingo_audit as sa
data = sa.load("demo")                 # or a snapshot directory, or a dashboard export
findings = sa.run_checks(data)         # one row per finding, see frames.SCHEMAS["findings"]

The names below are imported on first use (PEP 562), so ``scalingo-audit --version``
and ``--help`` start without loading pandas.

Logging: progress, notices and warnings go to the ``scalingo_audit`` logger (each module
logs to its child, ``logging.getLogger(__name__)``). The package only adds a
``NullHandler``, as libraries should, so calling it writes nothing on stderr until you
configure logging (``logging.basicConfig(level=logging.INFO)`` shows the progress of
``collect`` and ``build_report``). The ``scalingo-audit`` command installs its own
stderr handler (``--quiet``: errors only; ``-v``: debug). Caveats about the data a
notebook user must see under the cell (:class:`~scalingo_audit.errors.DataWarning`,
:class:`~scalingo_audit.errors.OutputWarning`) stay Python warnings; the command logs
them as warnings.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

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
