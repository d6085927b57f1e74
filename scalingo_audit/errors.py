"""Errors raised by scalingo-audit.

Hierarchy::

    AuditError                 user-facing: bad input, bad policy, API faults.
    ├── InputError             a source (snapshot, export, file) is malformed
    ├── PolicyError            the policy file is invalid
    ├── ReportError            a report could not be built (notebook, cell_index, ename,
    │                          evalue when a notebook cell raised)
    ├── MissingToolError       a system tool is not installed (tool: "chromium", ...)
    └── ApiError               a Scalingo API call failed for good (status, request)
        ├── ApiStatusError     the API answered with an HTTP error status (status, request)
        ├── ApiTransportError  no answer: connection failed or timed out (request)
        ├── AuthError          SCALINGO_API_TOKEN missing, rejected or revoked
        ├── PageLimitError     a list announced more pages than the bound allows
        └── DeadlineError      a call not made, or given up, because the deadline passed

A plain ``ApiError`` is an answer that could not be used (malformed JSON or pagination).
The fields are for programs (``except ApiStatusError as e: e.status``); the message stays
the one line the CLI prints.

Every ``AuditError`` carries a message meant for a person: it names the file,
the record and the field at fault and, where it helps, what to do next. The
CLI prints it on one line (:func:`one_line`) and exits with status 2. Anything
else that escapes is a bug in scalingo-audit, not in the user's input: the CLI
reports it as an internal error, also with status 2.

A bad value is quoted with :func:`excerpt`: short, escaped, bounded whatever its
size or depth (a YAML alias bomb expands to billions of items; a name can hold
10,000 characters, newlines or terminal escapes).
"""

from __future__ import annotations

import reprlib
import unicodedata
from pathlib import Path
from typing import Any

EXCERPT_CHARS = 60
"""The longest quotation of a bad value in an error message."""


def _repr() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 2, 3, 3, 3, 3
    r.maxstring, r.maxother, r.maxlong = EXCERPT_CHARS, EXCERPT_CHARS, EXCERPT_CHARS
    return r


_REPR = _repr()


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A short, escaped quotation of ``value`` for an error message: its ``repr`` with
    nesting and lengths bounded (never walking more than a few items), every control
    or format character escaped, and at most ``limit`` characters."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a hostile __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return short(text, limit)


def short(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` escaped (:func:`escape`) and cut to ``limit`` characters (ending in …)."""
    text = escape(text[: limit * 4])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """``text`` with control and format characters (newlines, ESC, NUL, bidi overrides)
    written as escapes, so it prints as one inert line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape_char(c) for c in text)


def _escape_char(c: str) -> str:
    n = ord(c)
    if c in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[c]
    if unicodedata.category(c) in ("Zs",):
        return c
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def one_line(message: str, limit: int = 2000) -> str:
    """An error message as the CLI prints it: escaped onto one line, bounded in length."""
    text = escape(str(message))
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    """A report could not be built. When a notebook cell raised (papermill's
    ``PapermillExecutionError``), ``notebook`` is the notebook's file name, ``cell_index``
    the index of the failed cell among the executed notebook's cells (papermill's parameters
    cell included), ``ename``/``evalue`` the
    exception's name and text; otherwise they are ``None``."""

    def __init__(
        self,
        message: str,
        *,
        notebook: str | None = None,
        cell_index: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
    ) -> None:
        self.notebook = notebook
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        super().__init__(message)


class MissingToolError(AuditError):
    """A system tool the command needs is not installed: ``tool`` is its name
    (``"chromium"``, ``"pdftoppm"``); the message says how to install it."""

    def __init__(self, message: str, *, tool: str) -> None:
        self.tool = tool
        super().__init__(message)


class ApiError(AuditError):
    """A Scalingo API request failed for good (after retries): carries the status and request.

    ``request`` is ``"GET /v1/apps/shop-api/collaborators"`` — never a credential."""

    def __init__(self, message: str, *, status: int | None = None, request: str = "") -> None:
        self.status = status
        self.request = request
        super().__init__(f"{request}: {message}" if request else message)


class ApiStatusError(ApiError):
    """The API answered ``request`` with an HTTP error status (``status``), for good."""

    status: int

    def __init__(self, message: str, *, status: int, request: str = "") -> None:
        super().__init__(message, status=status, request=request)


class ApiTransportError(ApiError):
    """No answer to ``request``: the connection failed or timed out (after retries)."""


class AuthError(ApiError):
    """The API token is missing, rejected or revoked. The message never contains the token."""


class PageLimitError(ApiError):
    """A list announced more pages than the bound allows (``api.MAX_PAGES``): what was read
    is incomplete, so the call is a coverage gap."""


class DeadlineError(ApiError):
    """A call was not sent, or its retries were given up, because the deadline passed."""


class OutputWarning(UserWarning):
    """Something in the data had to be changed to be written (e.g. a control character a
    spreadsheet cannot store): names the file and the cell. The CLI prints it on one line."""


class DataWarning(UserWarning):
    """The data was read with a change or an assumption its reader should know of (variable
    values redacted on load, an unknown collaborator status, a row without ``is_limited``).
    Issued once per load; the CLI prints it on one line."""
