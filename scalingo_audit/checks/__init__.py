"""The check catalogue and :func:`run_checks`.

One module per theme (``mfa``, ``roles``, ``invitations``, ``owners``,
``tokens``, ``activity``); each registers its checks in :data:`CHECKS` by id. Checks are
pure: frames + policy + ``as_of`` in, findings out. Policy exceptions are
applied here, after the checks, so every check stays oblivious of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from .. import frames
from ..identity import assign_ids
from ..model import AuditData
from ..policy import Policy, PolicyException
from . import activity, invitations, mfa, owners, roles, tokens  # noqa: F401  (registers the checks)
from .registry import CHECKS, Check, Context

__all__ = ["CHECKS", "Check", "catalogue", "expired_exceptions", "run_checks"]


def run_checks(
    data: AuditData,
    *,
    policy: Policy | None = None,
    as_of: dt.datetime | dt.date | str | None = None,
    only: list[str] | None = None,
) -> pd.DataFrame:
    """Run the catalogue (or the ``only`` ids) and return the findings frame.

    ``as_of`` defaults to the data's collection time; ``policy`` to the policy
    the data was loaded with. Findings muted by a policy exception stay in the
    frame with ``muted=True`` and the exception's reason.
    """
    if policy is not None and policy is not data.policy:
        data = data.with_policy(policy)
    ctx = Context(data=data, policy=data.policy, as_of=resolve_as_of(as_of, data))
    rows: list[dict[str, Any]] = []
    for check in CHECKS.values():
        if only is not None and check.id not in only:
            continue
        for finding in check.fn(ctx):
            rows.append(
                {
                    "check_id": check.id,
                    "severity": check.severity,
                    "title": check.title,
                    "risk": check.risk,
                    **finding,
                }
            )
    out = frames.build("findings", rows)
    out["muted"] = False
    out["finding_id"] = assign_ids(out, data.apps)
    day = ctx.as_of.date()
    active = [e for e in ctx.policy.exceptions if e.active_on(day)]
    keys = frames.rows(out, ["check_id", "region", "app", "email", "token_name"]) if active else []
    for i, r in enumerate(keys):
        for e in active:
            if e.matches(r["check_id"], r["app"], r["email"], r["token_name"], r["region"]):
                out.loc[i, ["muted", "exception_reason", "exception_expires"]] = [
                    True,
                    e.reason,
                    e.expires.isoformat(),
                ]
                break
    order = out["severity"].map(frames.SEVERITY_RANK)
    return (
        out.assign(_o=order)
        .sort_values(
            ["_o", "check_id", "region", "app", "email", "token_name"], na_position="first"
        )
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def resolve_as_of(as_of: dt.datetime | dt.date | str | None, data: AuditData) -> dt.datetime:
    """``as_of`` as an aware datetime; a date means the end of that day (UTC)."""
    if as_of is None or as_of == "":
        return data.info.collected_at
    if isinstance(as_of, str):
        try:
            parsed = dt.datetime.fromisoformat(as_of)
        except ValueError:
            from ..errors import InputError, excerpt

            raise InputError(f"--as-of: not a date (YYYY-MM-DD): {excerpt(as_of)}") from None
        if len(as_of.strip()) == 10:
            return parsed.replace(hour=23, minute=59, second=59, tzinfo=dt.UTC)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if isinstance(as_of, dt.datetime):
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)
    return dt.datetime(as_of.year, as_of.month, as_of.day, 23, 59, 59, tzinfo=dt.UTC)


def expired_exceptions(policy: Policy, as_of: dt.datetime) -> list[PolicyException]:
    """Exceptions whose expiry date is before ``as_of``: they mute nothing any more."""
    return [e for e in policy.exceptions if not e.active_on(as_of.date())]


def catalogue() -> pd.DataFrame:
    """The catalogue as a table: id, severity, theme, title, risk, remediation (most severe
    first)."""
    table = pd.DataFrame(
        [
            {
                "check_id": c.id,
                "severity": c.severity,
                "theme": c.theme,
                "title": c.title,
                "risk": c.risk,
                "remediation": c.remediation,
            }
            for c in CHECKS.values()
        ]
    )
    rank = table["severity"].map(frames.SEVERITY_RANK)
    return table.assign(_r=rank).sort_values(["_r", "theme", "check_id"]).drop(columns="_r")
