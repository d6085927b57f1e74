"""Least privilege: who holds the full Collaborator role, and where."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import frames
from ..commands import argv, example
from .registry import GUIDE, Context, Finding, check, membership_finding


@check(
    "external_full_collaborator",
    severity="high",
    title="External person with the full Collaborator role",
    risk=f"Someone outside the organisation can read environment variables and secrets, deploy, "
    f"and invite others. {GUIDE} recommends Limited Collaborator by default.",
    remediation="Downgrade to Limited Collaborator, or record an exception with an expiry date.",
    needs="internal_domains",
    action="downgrade",
)
def external_full_collaborator(ctx: Context) -> Iterator[Finding]:
    m = ctx.data.memberships
    mask = (
        (m["role"] == "collaborator")
        & m["status"].isin(["accepted", "pending"])
        & (m["internal"] == False)  # noqa: E712
    )  # .loc takes a missing value in the mask as False, as m[mask] did
    for r in frames.rows(m.loc[mask, ["region", "app_name", "email", "domain", "status"]]):
        pending = " (invitation pending)" if r["status"] == "pending" else ""
        yield membership_finding(
            r,
            "downgrade",
            f"{r['email']} ({r['domain']}, external) is a full Collaborator on "
            f"{r['app_name']}{pending}.",
            "Downgrade to Limited Collaborator: ",
        )


@check(
    "full_collaborator_on_many_apps",
    severity="low",
    title="Full Collaborator on many apps",
    risk=f"One account holding the full role on many apps makes its compromise a compromise of all "
    f"of them. {GUIDE} asks for the minimum role per responsibility.",
    remediation="Review each app: keep the full role only where the person manages it.",
)
def full_collaborator_on_many_apps(ctx: Context) -> Iterator[Finding]:
    limit = ctx.policy.thresholds.max_full_apps
    m = ctx.data.memberships
    is_full = (m["role"] == "collaborator") & (m["status"] == "accepted")
    full = m.loc[is_full, ["email_key", "email", "region", "app_name", "app_id"]]
    counts = full.groupby("email_key", sort=True)["app_id"].nunique()
    over = counts[counts > limit]
    if over.empty:
        return
    sel = full.loc[full["email_key"].isin(over.index), ["email_key", "email", "region", "app_name"]]
    # only the people over the limit are grouped again (a few among thousands), in plain
    # Python: a pandas group costs more than its handful of rows
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in frames.rows(sel):
        groups.setdefault(r["email_key"], []).append(r)
    for key in sorted(groups):
        group = groups[key]
        n = int(over[key])
        email = group[0]["email"]
        apps = sorted(r["app_name"] for r in group)
        region, app = min((r["app_name"], r["region"]) for r in group)[::-1]
        yield {
            "region": ", ".join(sorted({r["region"] for r in group})),
            "app": None,
            "email": email,
            "message": f"{email} is a full Collaborator on {n} apps (more than {limit}): "
            + ", ".join(apps)
            + ".",
            "remediation": "Downgrade where the full role is not needed, app by app; "
            + example(argv("downgrade", region, app, email)),
        }
