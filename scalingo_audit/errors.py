"""Errors raised by scalingo-audit.

Hierarchy::

    AuditError                 user-facing: bad input, bad policy, API faults.
    ├── InputError             a source (snapshot, export, file) is malformed
    ├── PolicyError            the policy file is invalid
    ├── ReportError            a notebook failed while building a report
    └── ApiError               the Scalingo API answered with an error (status, request)
        ├── AuthError          SCALINGO_API_TOKEN missing, rejected or revoked
        └── DeadlineError      a call not made, or given up, because the deadline passed

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


class ApiError(AuditError):
    """A Scalingo API request failed for good (after retries): carries the status and request.

    ``request`` is ``"GET /v1/apps/shop-api/collaborators"`` — never a credential."""

    def __init__(self, message: str, *, status: int | None = None, request: str = "") -> None:
        self.status = status
        self.request = request
        super().__init__(f"{request}: {message}" if request else message)


class AuthError(ApiError):
    """The API token is missing, rejected or revoked. The message never contains the token."""


class DeadlineError(ApiError):
    """A call was not sent, or its retries were given up, because the deadline passed."""
