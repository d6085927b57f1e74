"""2FA: Scalingo cannot enforce it, so the audit is the only control."""

from __future__ import annotations

from collections.abc import Iterator

from .. import frames
from .registry import GUIDE, Context, Finding, check, membership_finding

_ENABLE = (
    "Ask {email} to enable two-factor authentication (dashboard: User settings → Authentication)"
)


def _collaborators(ctx: Context, role: str, tfa_known: bool) -> Iterator[dict]:
    m = ctx.data.memberships
    tfa = m["tfa"]
    state = (tfa.notna() & (tfa == False)) if tfa_known else tfa.isna()  # noqa: E712
    # one mask over the whole frame, then only the columns read: no copy of every column
    mask = (m["status"] == "accepted") & (m["role"] == role) & state
    yield from frames.rows(m.loc[mask, ["region", "app_name", "email", "role"]])


@check(
    "collaborator_without_2fa",
    severity="high",
    title="Collaborator without 2FA",
    risk=f"A full Collaborator can read secrets, deploy and manage collaborators; a stolen password "
    f"alone is enough to take the app over. {GUIDE} asks owners to check every collaborator's 2FA.",
    remediation="Have the person enable 2FA, or downgrade them to Limited Collaborator until they do.",
    action="downgrade",
)
def collaborator_without_2fa(ctx: Context) -> Iterator[Finding]:
    yield from _without_2fa(ctx, "collaborator", "downgrade", "; until then downgrade: ")


@check(
    "limited_collaborator_without_2fa",
    severity="medium",
    title="Limited Collaborator without 2FA",
    risk=f"A Limited Collaborator can still restart the app, read logs and metrics; a stolen "
    f"password exposes them. {GUIDE} recommends 2FA for every collaborator.",
    remediation="Have the person enable 2FA, or remove them if they no longer need access.",
    action="revoke",
)
def limited_collaborator_without_2fa(ctx: Context) -> Iterator[Finding]:
    yield from _without_2fa(ctx, "limited_collaborator", "revoke", "; or remove the access: ")


def _without_2fa(ctx: Context, role: str, action: str, meanwhile: str) -> Iterator[Finding]:
    """Accepted members with ``role`` whose 2FA is off: enable it, ``meanwhile`` ``action``."""
    for r in _collaborators(ctx, role, tfa_known=True):
        yield membership_finding(
            r,
            action,
            f"{r['email']} is a {frames.ROLE_PROSE[role]} on {r['app_name']} without 2FA.",
            _ENABLE.format(email=r["email"]) + meanwhile,
        )


@check(
    "tfa_status_unknown",
    severity="low",
    title="Collaborator whose 2FA status is unknown",
    risk="The API did not report this collaborator's 2FA status, so the audit cannot tell whether "
    "the account is protected; unknown is not the same as enabled.",
    remediation="Check the person's 2FA on the dashboard's Collaborators page.",
)
def tfa_status_unknown(ctx: Context) -> Iterator[Finding]:
    for role in ("collaborator", "limited_collaborator"):
        for r in _collaborators(ctx, role, tfa_known=False):
            yield {
                "region": r["region"],
                "app": r["app_name"],
                "email": r["email"],
                "message": f"The 2FA status of {r['email']} on {r['app_name']} is unknown.",
                "remediation": "Check 2FA for this person on https://dashboard.scalingo.com/collaborators "
                "and ask them to enable it if it is off.",
            }


@check(
    "owner_without_2fa",
    severity="high",
    title="App owner without 2FA",
    risk="The Owner can delete, rename or transfer its apps and do everything a Collaborator "
    "can; a stolen password alone gives all of that away. The API exposes only the collecting "
    "account's own 2FA, so only that owner can be known to lack it.",
    remediation="Enable 2FA on the owner account (dashboard: User settings → Authentication).",
)
def owner_without_2fa(ctx: Context) -> Iterator[Finding]:
    p = ctx.data.people
    sel = p[(p["owner_apps"].fillna(0) >= 1) & p["tfa"].notna() & (p["tfa"] == False)]  # noqa: E712
    for r in frames.rows(sel):
        n = int(r["owner_apps"])
        yield {
            "region": None,
            "app": None,
            "email": r["email"],
            "message": f"{r['email']} owns {n} app(s) and has two-factor authentication off.",
            "remediation": f"Sign in as {r['email']} and enable two-factor authentication "
            "(dashboard: User settings → Authentication).",
        }
