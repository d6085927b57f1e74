"""Invitations and memberships left behind."""

from __future__ import annotations

from collections.abc import Iterator

from .. import frames
from .registry import Context, Finding, check, membership_finding


@check(
    "pending_invitation",
    severity="low",
    title="Pending invitation",
    risk="An invitation link is not bound to the invited email: whoever holds the link can accept "
    "it and get the role. Unused invitations should not linger.",
    remediation="Revoke invitations that are no longer expected to be accepted.",
    action="revoke",
)
def pending_invitation(ctx: Context) -> Iterator[Finding]:
    m = ctx.data.memberships
    pending = m.loc[m["status"] == "pending", ["region", "app_name", "email", "role"]]
    for r in frames.rows(pending):
        role = frames.ROLE_PROSE.get(r["role"], "Limited Collaborator")
        yield membership_finding(
            r,
            "revoke",
            f"{r['email']} has a pending invitation as {role} on {r['app_name']}.",
            "If it is no longer expected, revoke it: ",
        )


@check(
    "deleted_account_collaborator",
    severity="low",
    title="Collaborator whose account was deleted",
    risk="The membership outlived its account; it clutters access reviews and hides who really "
    "has access.",
    remediation="Remove the membership.",
    action="revoke",
)
def deleted_account_collaborator(ctx: Context) -> Iterator[Finding]:
    m = ctx.data.memberships
    deleted = m.loc[m["status"] == "user account deleted", ["region", "app_name", "email"]]
    for r in frames.rows(deleted):
        yield membership_finding(
            r,
            "revoke",
            f"{r['email']} is still listed on {r['app_name']} but the account was deleted.",
            "Remove the membership: ",
        )
