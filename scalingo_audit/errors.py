"""Errors raised by scalingo-audit.

Hierarchy::

    AuditError                 user-facing: bad input, bad policy, API faults.
    ├── InputError             a source (snapshot, export, file) is malformed
    ├── PolicyError            the policy file is invalid
    └── ReportError            a notebook failed while building a report

Every ``AuditError`` carries a message meant for a person: it names the file,
the record and the field at fault and, where it helps, what to do next. The
CLI prints it on one line and exits with status 2. Anything else that escapes
is a bug in scalingo-audit, not in the user's input.
"""

from __future__ import annotations

from pathlib import Path


class AuditError(Exception):
    """Base class of every error meant to be shown to a user."""


class InputError(AuditError):
    """A source could not be read: names the file, the record and the field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.record = record
        self.field = field
        self.reason = message
        where = []
        if self.file:
            where.append(self.file)
        if record:
            where.append(record)
        if field:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)


class PolicyError(AuditError):
    """The policy file is invalid: names the file and the key."""


class ReportError(AuditError):
    """A report notebook failed to execute."""
