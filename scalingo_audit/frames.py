"""The one place that defines the audit frames: their columns, dtypes and meaning.

Every loader builds its frames through :func:`build`, and every check, plot and
notebook reads the columns named here. ``describe()`` returns this catalogue as
a DataFrame (the README's data model section is generated from it).

Dtypes are pandas' nullable ones: ``string`` for text, ``boolean`` where a
value may be unknown (``tfa`` is ``<NA>`` when Scalingo did not say, which is
not the same as ``False``), ``Int64`` for counts and UTC datetimes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:  # imported where used: the CLI reads SEVERITIES without loading pandas
    import pandas as pd

TEXT = "string"
BOOL = "boolean"
COUNT = "Int64"
TIME = "datetime64[us, UTC]"
RATIO = "Float64"
ARGV = "object"
"""A command as a tuple of words (:mod:`scalingo_audit.commands`), or ``None``."""

ROLES = ("owner", "collaborator", "limited_collaborator")
"""Membership roles, from most to least privileged (Scalingo's CLI shows
``owner``, ``collaborator`` and ``limited collaborator``)."""

ROLE_RANK = {r: i for i, r in enumerate(ROLES)}
"""A role's place in :data:`ROLES`: 0 for the most privileged."""

ROLE_LABELS = {
    "owner": "Owner",
    "collaborator": "Collaborator (full)",
    "limited_collaborator": "Limited Collaborator",
}
"""A role as a heading, axis or legend names it."""

ROLE_PROSE = {
    "owner": "owner",
    "collaborator": "full Collaborator",
    "limited_collaborator": "Limited Collaborator",
}
"""A role as a sentence names it (``became full Collaborator of shop``)."""

STATUSES = ("accepted", "pending", "user account deleted")
"""Membership statuses as the API spells them; owners are always ``accepted``."""

SEVERITIES = ("high", "medium", "low", "info")
"""Finding severities, most severe first."""

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
"""A severity's place in :data:`SEVERITIES`: 0 for the most severe (sort keys)."""

CHECK_IDS = (
    "inactive_collaborator", "unused_full_privileges", "pending_invitation_stale",
    "pending_invitation", "deleted_account_collaborator",
    "collaborator_without_2fa", "limited_collaborator_without_2fa", "tfa_status_unknown",
    "owner_without_2fa",
    "owner_not_service_account",
    "external_full_collaborator", "full_collaborator_on_many_apps",
    "token_account_on_many_apps", "token_never_used", "token_unused", "token_too_old",
)  # fmt: skip
"""The check ids (values of ``findings.check_id``), a contract: CI configurations and
policy exceptions name them. Listed here, below the policy and the checks, so that the
policy validates an exception's ``check_id`` without importing the catalogue: a check
registers only under one of these ids (:func:`scalingo_audit.checks.registry.check`), and
every one of them has its check (tests/test_checks.py)."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    doc: str


SCHEMAS: dict[str, tuple[Column, ...]] = {
    "apps": (
        Column("region", TEXT, "Scalingo region, e.g. osc-fr1"),
        Column("app_id", TEXT, "app id (ap-...)"),
        Column("app_name", TEXT, "app name, unique within a region"),
        Column("project_id", TEXT, "project id (pr-...), when known"),
        Column("project_name", TEXT, "project name, when known"),
        Column("owner_id", TEXT, "owner's user id (us-...)"),
        Column("owner_email", TEXT, "owner's email"),
        Column("owner_username", TEXT, "owner's username"),
        Column("created_at", TIME, "when the app was created"),
        Column("last_deployed_at", TIME, "last deployment, empty if never deployed"),
        Column("last_deployed_by", TEXT, "who deployed last"),
        Column("hds_resource", BOOL, "app hosts health data (HDS)"),
        Column("url", TEXT, "the app's URL"),
        Column(
            "events_since",
            TIME,
            "start of the period the collected events of this app cover (the events window, or "
            "later when collection was cut short); empty when its events were not collected",
        ),
    ),
    "memberships": (
        Column("region", TEXT, "Scalingo region"),
        Column("app_id", TEXT, "app id"),
        Column("app_name", TEXT, "app name"),
        Column("project_name", TEXT, "the app's project, when known"),
        Column("role", TEXT, "owner | collaborator | limited_collaborator"),
        Column(
            "status",
            TEXT,
            "accepted | pending | user account deleted; another value is kept as given (no "
            "check looks at it)",
        ),
        Column("email", TEXT, "email as Scalingo returned it"),
        Column("email_key", TEXT, "lower-cased email: the person's key everywhere"),
        Column("username", TEXT, "username, empty while an invitation is pending"),
        Column("user_id", TEXT, "user id (us-...), empty while pending"),
        Column(
            "tfa",
            BOOL,
            "2FA enabled; <NA> when unknown (owners other than the collecting account, whose own "
            "2FA GET /v1/client/tfa gives; pending; not reported)",
        ),
        Column("domain", TEXT, "email domain, lower-cased"),
        Column("internal", BOOL, "email domain is internal; <NA> when the policy names none"),
        Column(
            "collaboration_id", TEXT, "id of the collaboration (not of the user); empty for owners"
        ),
        Column(
            "invited_at",
            TIME,
            "last invitation of this person to this app (new_collaborator event); empty when "
            "none is in the events window",
        ),
        Column(
            "member_since",
            TIME,
            "last acceptance of an invitation to this app (accept_collaborator event); empty "
            "when none is in the events window",
        ),
        Column(
            "last_activity_at",
            TIME,
            "this person's last event of any kind on this app; empty when none in the window",
        ),
        Column(
            "last_full_action_at",
            TIME,
            "this person's last action on this app that needs the full Collaborator role "
            "(activity.FULL_ROLE_EVENTS); empty when none in the window",
        ),
    ),
    "people": (
        Column("email_key", TEXT, "lower-cased email: one row per person across apps and regions"),
        Column("email", TEXT, "email as first seen"),
        Column("username", TEXT, "username, when known"),
        Column("user_id", TEXT, "user id, when known"),
        Column("domain", TEXT, "email domain"),
        Column("internal", BOOL, "internal domain; <NA> when the policy names none"),
        Column("service_account", BOOL, "listed in the policy's service_accounts"),
        Column("token_account", BOOL, "listed in the policy's api_token_accounts"),
        Column("tfa", BOOL, "2FA enabled; <NA> when unknown"),
        Column("owner_apps", COUNT, "apps owned"),
        Column("full_apps", COUNT, "apps with the full Collaborator role, accepted"),
        Column("limited_apps", COUNT, "apps with the Limited Collaborator role, accepted"),
        Column("pending_invitations", COUNT, "invitations not yet accepted"),
        Column("deleted_memberships", COUNT, "memberships whose account was deleted"),
        Column("apps", COUNT, "apps with any accepted access (owner included)"),
        Column(
            "highest_role",
            TEXT,
            "most privileged accepted role, or pending/deleted; other when only unknown statuses",
        ),
        Column("regions", TEXT, "regions where the person has access, comma-separated"),
    ),
    "tokens": (
        Column("token_id", TEXT, "token id"),
        Column("name", TEXT, "token name"),
        Column("account_email", TEXT, "account that holds the token (the collecting account)"),
        Column("created_at", TIME, "creation time"),
        Column("last_used_at", TIME, "last use; empty when never used"),
        Column(
            "issued_at",
            TIME,
            "when its current secret was issued: later than created_at once renewed (Renew in "
            "the dashboard); empty when not reported",
        ),
    ),
    "events": (
        Column("region", TEXT, "Scalingo region"),
        Column("event_id", TEXT, "event id"),
        Column("created_at", TIME, "when it happened"),
        Column("type", TEXT, "event type, e.g. new_collaborator, deployment"),
        Column("app_id", TEXT, "app id, when the event is about an app"),
        Column("app_name", TEXT, "app name at event time"),
        Column("user_id", TEXT, "who did it: user id"),
        Column("user_email", TEXT, "who did it: email"),
        Column("user_username", TEXT, "who did it: username"),
        Column("type_data", TEXT, "type-specific details, as JSON text"),
    ),
    "findings": (
        Column("check_id", TEXT, "check identifier (a stable contract)"),
        Column("severity", TEXT, "high | medium | low | info"),
        Column("title", TEXT, "check title"),
        Column("region", TEXT, "region of the app concerned"),
        Column("app", TEXT, "app concerned"),
        Column("email", TEXT, "person concerned"),
        Column("token_name", TEXT, "token concerned"),
        Column("message", TEXT, "what was found, in one sentence"),
        Column("risk", TEXT, "why it matters"),
        Column("remediation", TEXT, "what to do, with the Scalingo CLI command where one exists"),
        Column(
            "command",
            ARGV,
            "that CLI command as a tuple of words (--region and --app "
            "always); None when there is none or a value is unsafe in a shell",
        ),
        Column("muted", BOOL, "muted by a policy exception"),
        Column("exception_reason", TEXT, "reason of the exception that mutes it"),
        Column("exception_expires", TEXT, "expiry date of that exception"),
        Column(
            "finding_id",
            TEXT,
            "stable id: hash of check id, region, app id (else name), lower-case email, token name",
        ),
        Column("baseline_status", TEXT, "new | existing | fixed against --baseline; empty without"),
    ),
    "changes": (
        Column("change", TEXT, "kind of change, one of diff.CHANGES (e.g. access_granted)"),
        Column("region", TEXT, "region of the app concerned"),
        Column("app", TEXT, "app concerned"),
        Column("email", TEXT, "person concerned (lower-cased email)"),
        Column("token_name", TEXT, "token concerned"),
        Column("check_id", TEXT, "check concerned (finding_* changes)"),
        Column("severity", TEXT, "the finding's severity (finding_* changes)"),
        Column("before", TEXT, "value in the older snapshot (a role, an owner, 2FA on/off)"),
        Column("after", TEXT, "value in the newer snapshot"),
        Column("detail", TEXT, "the change in one sentence"),
    ),
    "trends": (
        Column("collected_at", TIME, "when the snapshot was collected"),
        Column("snapshot", TEXT, "the snapshot directory"),
        Column("apps", COUNT, "apps"),
        Column("people", COUNT, "people"),
        Column("accepted_collaborators", COUNT, "accepted non-owner memberships"),
        Column("tfa_coverage", RATIO, "share of those with 2FA on, among those known"),
        Column("full_collaborator_share", RATIO, "share of those with the full role"),
        Column("pending_invitations", COUNT, "invitations not yet accepted"),
        Column("findings_high", COUNT, "open (unmuted) high findings"),
        Column("findings_medium", COUNT, "open (unmuted) medium findings"),
        Column("findings_low", COUNT, "open (unmuted) low findings"),
        Column("findings_info", COUNT, "open (unmuted) info findings"),
    ),
    "review": (
        Column("person", TEXT, "email of the person reviewed"),
        Column("username", TEXT, "username, when known"),
        Column("app", TEXT, "app name"),
        Column("region", TEXT, "region"),
        Column("project", TEXT, "project, when known"),
        Column("role", TEXT, "owner | collaborator | limited_collaborator"),
        Column("status", TEXT, "accepted | pending | user account deleted"),
        Column("tfa", TEXT, "2FA: on | off | unknown | not exposed"),
        Column("internal", TEXT, "internal | external | empty when the policy names no domain"),
        Column("last_activity_at", TEXT, "last event on the app by the person (when collected)"),
        Column("last_full_action_at", TEXT, "last action needing the full role (when collected)"),
        Column("findings", TEXT, "check ids of the open findings on this membership"),
        Column("suggested_action", TEXT, "keep | downgrade to Limited | revoke"),
        Column("reason", TEXT, "why that action is suggested"),
        Column("command", TEXT, "Scalingo CLI command carrying out the suggested action"),
        Column(
            "source_verified",
            TEXT,
            "verified | UNVERIFIED (loaded with --no-verify) | n/a (no manifest), as in check's CSV",
        ),
        Column("decision", TEXT, "to fill: keep | downgrade | revoke"),
        Column("reviewer", TEXT, "to fill: who decided"),
        Column("date", TEXT, "to fill: when (YYYY-MM-DD)"),
    ),
}


def columns(name: str) -> list[str]:
    """Column names of frame ``name``, in order."""
    return [c.name for c in SCHEMAS[name]]


def build(name: str, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Make frame ``name`` from records (or a DataFrame) with exactly the schema's columns
    and dtypes. Missing columns are filled with ``<NA>``; extra ones are dropped."""
    import pandas as pd

    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(list(rows))
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for col in SCHEMAS[name]:
        values = df[col.name].reset_index(drop=True) if col.name in df.columns else None
        if values is None and col.dtype == ARGV:
            out[col.name] = pd.Series([None] * len(out), index=out.index, dtype=ARGV)
        elif values is None:
            out[col.name] = pd.Series(pd.NA, index=out.index, dtype=col.dtype)
        elif col.dtype == TIME:
            out[col.name] = pd.to_datetime(values, utc=True, format="ISO8601").astype(TIME)
        elif col.dtype == BOOL:
            out[col.name] = values.astype("object").where(values.notna(), pd.NA).astype(BOOL)
        elif col.dtype == ARGV:
            words = [tuple(map(str, v)) if isinstance(v, list | tuple) else None for v in values]
            out[col.name] = pd.Series(words, index=out.index, dtype=ARGV)
        else:
            out[col.name] = values.astype(col.dtype)
    return out


def rows(df: pd.DataFrame, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The rows of ``df`` (or of its ``columns``) as dicts of plain Python values, what
    ``df.to_dict("records")`` gives, read column by column: pandas boxes extension-array
    values one at a time in ``to_dict``, ten times slower on the large organisation."""
    names = list(df.columns if columns is None else columns)
    if not names:
        return [{} for _ in range(len(df))]
    cells = [values(df[c]) for c in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*cells, strict=True)]


def values(column: pd.Series) -> list[Any]:
    """A column's values as ``to_dict`` (and :func:`rows`) gives them: missing as ``None``
    and numpy scalars as Python ones in object and extension columns (``<NA>``, ``NaT`` and
    ``NaN`` otherwise); for code that reads a few columns of every row."""
    import numpy as np
    import pandas as pd

    items = column.tolist()
    if column.dtype != object:
        if not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
            return items
        if not column.isna().any():  # extension arrays give Python values but <NA>
            return items
        return [None if v is pd.NA else v for v in items]
    return [
        None
        if v is pd.NA
        else pd.Timestamp(v)
        if isinstance(v, np.datetime64)
        else pd.Timedelta(v)
        if isinstance(v, np.timedelta64)
        else v.item()
        if isinstance(v, np.generic)
        else v
        for v in items
    ]


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing value: ``None``, ``NaN``, ``NaT`` or ``pd.NA``. Never
    raises; a string, a list or a tuple is never missing."""
    if value is None:
        return True
    if isinstance(value, str | int):  # the usual values (bool is an int), without pandas
        return False
    if isinstance(value, float):
        return value != value
    pd = sys.modules.get("pandas")  # pd.NA or NaT exist only once pandas is imported
    if pd is None:
        return False
    if value is pd.NA or value is pd.NaT:  # the usual missing values, without pd.isna
        return True
    if not pd.api.types.is_scalar(value):
        return False
    return bool(pd.isna(value))


@overload
def text(value: Any) -> str: ...
@overload
def text(value: Any, missing: str) -> str: ...
@overload
def text(value: Any, missing: None) -> str | None: ...
def text(value: Any, missing: str | None = "") -> str | None:
    """``value`` as text, the one rule for every cell, record field and key: a missing value
    (:func:`is_missing`) is ``missing`` (``""`` by default, ``None`` where absence must stay
    visible), anything else is ``str(value)`` as it is, nothing stripped or lowered."""
    return missing if is_missing(value) else str(value)


def texts(column: pd.Series) -> list[str]:
    """:func:`text` of every value of ``column``, computed for the whole column at once."""
    return column.astype(TEXT).fillna("").tolist()


def empty(name: str) -> pd.DataFrame:
    """An empty frame ``name`` with the schema's columns and dtypes."""
    return build(name, [])


def describe() -> pd.DataFrame:
    """The data model as a table: frame, column, dtype, meaning."""
    import pandas as pd

    return pd.DataFrame(
        [
            {"frame": frame, "column": c.name, "dtype": c.dtype, "meaning": c.doc}
            for frame, cols in SCHEMAS.items()
            for c in cols
        ]
    )
