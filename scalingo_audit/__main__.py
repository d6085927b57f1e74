"""``python -m scalingo_audit`` is the ``scalingo-audit`` command."""

from .cli import console

console()
