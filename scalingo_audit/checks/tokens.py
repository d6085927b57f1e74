"""API tokens: they carry every right of their account, so scope and age matter."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from .. import frames
from ..commands import argv, example
from .registry import GUIDE, Context, Finding, check

_REVOKE = "Revoke it in the dashboard (User settings → API Tokens) if nothing uses it"


@check(
    "token_account_on_many_apps",
    severity="medium",
    title="API-token account with access to several apps",
    risk=f"API tokens inherit all the permissions of their account. {GUIDE} recommends a dedicated "
    f"service account per application, added to that one app only, so a token cannot reach others.",
    remediation="Keep the token account on one app; use one dedicated account per app.",
    needs="api_token_accounts",
)
def token_account_on_many_apps(ctx: Context) -> Iterator[Finding]:
    m = ctx.data.memberships
    accepted = m.loc[
        m["status"] == "accepted", ["email_key", "email", "region", "app_name", "app_id"]
    ]
    for account in ctx.policy.api_token_accounts:
        rows = accepted[accepted["email_key"] == account]
        n = rows["app_id"].nunique()
        if n > 1:
            apps = sorted(rows["app_name"])
            region, app = max(zip(rows["app_name"], rows["region"], strict=True))[::-1]
            email = rows["email"].iloc[0]
            yield {
                "region": ", ".join(sorted(set(rows["region"]))),
                "app": None,
                "email": email,
                "message": f"API-token account {email} has access to {n} apps: {', '.join(apps)}.",
                "remediation": "Use a separate account for each other app and remove this one "
                "from all but one app; " + example(argv("revoke", region, app, email)),
            }


def _tokens(ctx: Context) -> Iterator[dict]:
    yield from frames.rows(ctx.data.tokens)


def _about(t: dict, message: str, remediation: str = _REVOKE + ".") -> Finding:
    """A finding about token ``t``, named by its account and its name."""
    return {
        "email": t["account_email"],
        "token_name": t["name"],
        "message": message,
        "remediation": remediation,
    }


@check(
    "token_never_used",
    severity="low",
    title="API token never used",
    risk="A token that was never used is a credential nobody needs, still able to do everything "
    "its account can.",
    remediation="Revoke the token.",
)
def token_never_used(ctx: Context) -> Iterator[Finding]:
    for t in _tokens(ctx):
        if pd.isna(t["last_used_at"]):
            age = ctx.days_before(t["created_at"])
            yield _about(
                t,
                f"Token '{t['name']}' of {t['account_email']} was created {age:.0f} days ago "
                "and never used.",
            )


@check(
    "token_unused",
    severity="medium",
    title="API token unused for a long time",
    risk="A long-idle token is likely forgotten, yet still valid with all its account's rights; "
    "forgotten credentials are the ones that leak unnoticed.",
    remediation="Revoke the token, or document who uses it.",
)
def token_unused(ctx: Context) -> Iterator[Finding]:
    limit = ctx.policy.thresholds.token_idle_days
    for t in _tokens(ctx):
        if pd.notna(t["last_used_at"]):
            idle = ctx.days_before(t["last_used_at"])
            if idle > limit:
                yield _about(
                    t,
                    f"Token '{t['name']}' of {t['account_email']} was last used {idle:.0f} "
                    f"days ago (more than {limit}).",
                )


@check(
    "token_too_old",
    severity="low",
    title="API token older than the rotation period",
    risk="Long-lived tokens accumulate exposure (CI logs, laptops, former staff); regular rotation "
    "limits how long a leaked token stays useful.",
    remediation="Renew the token (a new secret under the same name), or create a new one and "
    "revoke the old one.",
)
def token_too_old(ctx: Context) -> Iterator[Finding]:
    limit = ctx.policy.thresholds.token_max_age_days
    for t in _tokens(ctx):
        # a renewed token's secret dates from its renewal (issued_at), not its creation
        issued = t.get("issued_at")
        renewed = pd.notna(issued) and issued > t["created_at"]
        age = ctx.days_before(issued if renewed else t["created_at"])
        if age > limit:
            since = "renewed" if renewed else "created"
            yield _about(
                t,
                f"Token '{t['name']}' of {t['account_email']} was {since} {age:.0f} days ago "
                f"(more than {limit}).",
                f"Rotate it: Renew '{t['name']}' in the dashboard (User settings → API Tokens "
                "→ Renew) and update what uses it, or create a new token and revoke this one.",
            )
