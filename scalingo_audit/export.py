"""Load a dashboard Collaborators export (CSV or JSON) into the audit frames.

Scalingo's dashboard exports its consolidated Collaborators page as CSV or
JSON, with each collaborator's 2FA status. No public document gives the exact
columns, so columns are **mapped by name**: case, spaces, underscores, dashes
and other punctuation are ignored (``"Two-factor authentication"`` matches
``two_factor_authentication``), each field accepts the aliases in
:data:`ALIASES`, and unknown columns are ignored.

Required: an app (``app``, ``app_name``, ``application``), an email (``email``,
``e-mail``, ``collaborator``) and a role: either ``role`` (``owner``,
``collaborator``, ``limited collaborator``) or ``is_limited``/``limited``
(true/false). Optional: ``status`` (default ``accepted``; a status this version does not
know is kept as given, with one warning, as in a snapshot), 2FA (``tfa``,
``2fa``, ``tfa_status``, ``two_factor``, ``mfa``: true/false/yes/no/
enabled/disabled/1/0, empty = unknown, never false), ``username``,
``user_id``, ``region`` (default ``unknown``), ``project``, ``app_id``.

- CSV: UTF-8 (a BOM is fine), delimiter ``,``, ``;`` or tab (guessed from the
  header). Rows are named by their line in the file (the header is row 1).
- JSON: a list of objects, or an object holding one such list (preferably under
  ``collaborators``). Nested objects are flattened (``{"app": {"name": ...}}``
  reads as ``app_name``). Records are named ``collaborators[i]`` (0-based).

Rows whose role is ``owner`` set their app's owner; an app with no owner row
has an unknown owner. The export has no app ids unless an ``app_id`` column
says otherwise: the app name (unique within a region) then stands in for the
id, so per-app counts still work. The collection time is the file's
modification time (UTC). Every problem raises one
:class:`~scalingo_audit.errors.InputError` naming the file, the row and the
column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import frames
from .errors import InputError, excerpt
from .frames import ROLE_RANK, STATUSES
from .model import AuditData, SourceInfo, assemble, warn_unknown_statuses
from .policy import Policy
from .snapshot import parse_json

__all__ = ["ALIASES", "REQUIRED", "load_export", "map_columns"]

ALIASES: dict[str, tuple[str, ...]] = {
    "app": ("app", "app_name", "application", "application_name"),
    "email": (
        "email",
        "e-mail",
        "email_address",
        "collaborator",
        "collaborator_email",
        "user_email",
        "mail",
    ),
    "role": ("role", "collaborator_role", "access_role"),
    "is_limited": ("is_limited", "limited", "is_limited_collaborator"),
    "status": ("status", "invitation_status", "collaborator_status", "state"),
    "tfa": (
        "tfa",
        "2fa",
        "tfa_status",
        "2fa_status",
        "two_factor",
        "two-factor authentication",
        "two_factor_status",
        "two_factor_enabled",
        "tfa_enabled",
        "2fa_enabled",
        "mfa",
        "mfa_status",
        "mfa_enabled",
    ),
    "username": ("username", "user_name", "user_username", "login"),
    "user_id": ("user_id", "userid"),
    "region": ("region", "region_name", "app_region"),
    "project": ("project", "project_name", "app_project", "app_project_name"),
    "project_id": ("project_id", "app_project_id"),
    "app_id": ("app_id", "application_id"),
    "collaboration_id": ("collaboration_id", "collaborator_id"),
}
"""Accepted column names per field, in order of preference; compared by :func:`normalise`."""

REQUIRED = ("app", "email", "role")
"""Fields without which an export cannot be read (``role`` may be given as ``is_limited``)."""

_ROLES = {
    "owner": "owner",
    "collaborator": "collaborator",
    "full collaborator": "collaborator",
    "limited collaborator": "limited_collaborator",
    "limited": "limited_collaborator",
}
_TRUE = {"true", "yes", "y", "enabled", "on", "1"}
_FALSE = {"false", "no", "n", "disabled", "off", "0"}
_UNKNOWN = {"", "n/a", "na", "unknown", "null", "none", "-"}

Row = tuple[str, dict[str, Any]]  # (name of the row for messages, {column: value})


def normalise(name: str) -> str:
    """A column name reduced to lower-case letters and digits: ``"E-Mail "`` → ``"email"``."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def map_columns(columns: list[str], *, filled: set[str] | None = None) -> dict[str, str]:
    """Map each known field to the column that names it (field → column as found).

    Aliases are tried in order; among the columns that match, one with values
    (in ``filled``, when given) wins over an empty one, e.g. a JSON ``"project": null``
    beside ``"project": {"name": ...}`` elsewhere."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for fld, aliases in ALIASES.items():
        candidates = [
            c for a in aliases for c in columns if normalise(c) == normalise(a) and c not in used
        ]
        if candidates:
            col = next((c for c in candidates if filled is None or c in filled), candidates[0])
            out[fld] = col
            used.add(col)
    return out


def load_export(path: Path, *, policy: Policy) -> AuditData:
    """Read a dashboard Collaborators export (``.csv`` or ``.json``) into :class:`AuditData`."""
    path = Path(path)
    text = _read_text(path)
    if _is_json(path, text):
        columns, rows = _json_rows(text, path)
    else:
        columns, rows = _csv_rows(text, path)
    if not rows:
        raise InputError(
            "no collaborator rows (only a header or an empty list); export the page again",
            file=path,
        )
    filled = {c for _, values in rows for c, v in values.items() if _text(v) is not None}
    cols = map_columns(columns, filled=filled)
    missing = [f for f in REQUIRED if f not in cols and not (f == "role" and "is_limited" in cols)]
    if missing:
        names = ", ".join(f"'{f}' (or 'is_limited')" if f == "role" else f"'{f}'" for f in missing)
        accepted = "; ".join(f"{f}: {', '.join(ALIASES[f])}" for f in missing)
        found = ", ".join(repr(c) for c in columns) or "none"
        raise InputError(
            f"missing required column {names}; accepted names: {accepted}; columns found: {found}",
            file=path,
            field=", ".join(missing),
        )
    notes = []
    if "status" not in cols:
        notes.append("the export has no status column: every row is taken as accepted")
    if "region" not in cols:
        notes.append("the export has no region column: region is 'unknown'")
    if "app_id" not in cols:
        notes.append("the export has no app ids: app names stand in for them")
    if "tfa" not in cols:
        notes.append("the export has no 2FA column: every 2FA status is unknown")
    records = [_membership(label, values, cols, path) for label, values in rows]
    warn_unknown_statuses((r["status"] for r in records), path, stacklevel=3)
    apps, memberships = _frames(records, path)
    info = SourceInfo(
        kind="export",
        location=str(path),
        collected_at=dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC),
        collected_by=None,
        regions=tuple(sorted(apps["region"].unique())),
        notes=tuple(notes),
    )
    return assemble(apps, memberships, frames.empty("tokens"), frames.empty("events"), info, policy)


# --- reading ------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", file=path) from None
    if not raw.strip():
        raise InputError("empty file; export the Collaborators page again", file=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the export as UTF-8",
            file=path,
        ) from None


def _is_json(path: Path, text: str) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return True
    if suffix in (".csv", ".tsv", ".txt"):
        return False
    return text.lstrip()[:1] in ("[", "{")


def _json_rows(text: str, path: Path) -> tuple[list[str], list[Row]]:
    data = parse_json(text.encode("utf-8"), path)  # the one JSON reader and its errors
    key = "records"
    if isinstance(data, Mapping):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if "collaborators" in lists:
            key = "collaborators"
        elif len(lists) == 1:
            key = lists[0]
        else:
            raise InputError(
                "expected a list of collaborators, or an object holding one list "
                f"(e.g. under 'collaborators'); found keys: {excerpt(list(data)) if data else 'none'}",
                file=path,
            )
        data = data[key]
    if not isinstance(data, list):
        raise InputError("expected a JSON list of collaborators", file=path)
    columns: dict[str, None] = {}
    rows: list[Row] = []
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise InputError("must be a JSON object", file=path, record=f"{key}[{i}]")
        try:
            flat = _flatten(item)
        except RecursionError:
            raise InputError("nested too deeply", file=path, record=f"{key}[{i}]") from None
        columns.update(dict.fromkeys(flat))
        rows.append((f"{key}[{i}]", flat))
    return list(columns), rows


def _flatten(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in item.items():
        name = f"{prefix}_{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flatten(v, name))
        elif isinstance(v, list):
            out[name] = json.dumps(v)
        else:
            out[name] = v
    return out


def _csv_rows(text: str, path: Path) -> tuple[list[str], list[Row]]:
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t", key=lambda d: _count_outside_quotes(header_line, d))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[Row] = []
    start = 1
    try:
        for values in reader:
            line, start = start, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue
            if header is None:
                header = [v.strip() for v in values]
                continue
            extra = values[len(header) :]
            if any(v.strip() for v in extra):
                raise InputError(
                    f"malformed CSV: {len(values)} values but the header has {len(header)} columns",
                    file=path,
                    record=f"row {line}",
                )
            rows.append((f"row {line}", dict(zip(header, values, strict=False))))
    except csv.Error as exc:
        raise InputError(f"malformed CSV at line {reader.line_num}: {exc}", file=path) from None
    return [h for h in header or [] if h], rows


def _count_outside_quotes(line: str, char: str) -> int:
    return sum(part.count(char) for part in line.split('"')[::2])


# --- interpreting ---------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """An export's cell as :func:`frames.text`, stripped, ``None`` when empty or missing, a
    spreadsheet's boolean spelt ``true`` / ``false`` (as :data:`_TRUE` / :data:`_FALSE` read
    it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return frames.text(value).strip() or None


def _membership(
    label: str, values: Mapping[str, Any], cols: Mapping[str, str], path: Path
) -> dict[str, Any]:
    def get(fld: str) -> str | None:
        return _text(values.get(cols[fld])) if fld in cols else None

    email = get("email")
    record = f"{label} ({email})" if email else label

    def fail(message: str, fld: str) -> InputError:
        return InputError(message, file=path, record=record, field=cols.get(fld, fld))

    if not email:
        raise fail("missing value (an email is required)", "email")
    if "@" not in email:
        raise fail(f"not an email address: {excerpt(email)}", "email")
    app = get("app")
    if not app:
        raise fail("missing value (an app name is required)", "app")

    role_text = get("role")
    if role_text is not None:
        role = _ROLES.get(re.sub(r"[\s_\-]+", " ", role_text.lower()))
        if role is None:
            raise fail(
                f"unknown role {excerpt(role_text)} (expected owner, collaborator or limited collaborator)",
                "role",
            )
    elif "is_limited" in cols:
        limited = _flag(get("is_limited"))
        if limited is None:
            raise fail(
                "missing or unreadable value (expected true or false)"
                + ("" if "role" not in cols else "; the role column is empty too"),
                "is_limited",
            )
        role = "limited_collaborator" if limited else "collaborator"
    else:
        raise fail("missing value (expected owner, collaborator or limited collaborator)", "role")

    status_text = get("status")
    if status_text is None:
        if "status" in cols and role != "owner":
            raise fail(f"missing value (expected one of: {', '.join(STATUSES)})", "status")
        status = "accepted"
    else:
        status = re.sub(r"[\s_\-]+", " ", status_text.lower())
        if status not in STATUSES:  # kept as given, like a snapshot's (one warning per load)
            status = status_text

    tfa_text = get("tfa")
    tfa = _flag(tfa_text)
    if tfa is None and tfa_text is not None and tfa_text.lower() not in _UNKNOWN:
        raise fail(
            f"unknown 2FA value {excerpt(tfa_text)} (expected true/false, yes/no, enabled/disabled, "
            "1/0, or empty when unknown)",
            "tfa",
        )
    username = get("username")
    return {
        "region": get("region") or "unknown",
        "app_id": get("app_id"),
        "app_name": app,
        "project_name": get("project"),
        "project_id": get("project_id"),
        "role": role,
        "status": status,
        "email": email,
        "username": None if username in (None, "n/a") else username,
        "user_id": get("user_id"),
        "tfa": tfa,
        "collaboration_id": get("collaboration_id"),
        "_record": record,
    }


def _flag(text: str | None) -> bool | None:
    """true/false, yes/no, enabled/disabled, on/off, 1/0; None when empty or unreadable."""
    if text is None:
        return None
    t = text.strip().lower()
    return True if t in _TRUE else False if t in _FALSE else None


def _frames(records: list[dict[str, Any]], path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apps (one per region and app name) and memberships (deduplicated per app and email)."""
    apps: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        key = (r["region"], r["app_name"])
        a = apps.setdefault(
            key,
            {"region": key[0], "app_name": key[1], "app_id": None, "project_name": None},
        )
        for col in ("app_id", "project_id", "project_name"):
            if a.get(col) is None and r[col] is not None:
                a[col] = r[col]
        if r["role"] == "owner":
            owner = a.get("owner_email")
            if owner is not None and owner.lower() != r["email"].lower():
                raise InputError(
                    f"a second owner for app {excerpt(key[1])} (already owned by {owner})",
                    file=path,
                    record=r["_record"],
                )
            a.update(owner_email=r["email"], owner_username=r["username"], owner_id=r["user_id"])
    for a in apps.values():
        a["app_id"] = a["app_id"] or a["app_name"]

    # One membership per app and person: the most privileged row wins, then the first.
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        k = (r["region"], r["app_name"], r["email"].lower())
        if k not in best or ROLE_RANK[r["role"]] < ROLE_RANK[best[k]["role"]]:
            best[k] = r
    rows = []
    for (region, app_name, _), r in best.items():
        a = apps[(region, app_name)]
        rows.append(
            {**r, "app_id": a["app_id"], "project_name": a["project_name"], "_record": None}
        )
    memberships = pd.DataFrame.from_records(rows).drop(columns="_record")
    return pd.DataFrame.from_records(list(apps.values())), memberships
