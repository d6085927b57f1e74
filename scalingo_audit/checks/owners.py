"""App ownership: Scalingo recommends a dedicated service account as Owner."""

from __future__ import annotations

from collections.abc import Iterator

from .. import frames
from .registry import GUIDE, Context, Finding, check


@check(
    "owner_not_service_account",
    severity="medium",
    title="App owned by a personal account",
    risk=f"The Owner alone can delete or rename the app and carries its billing; tied to a person, "
    f"it leaves with them. {GUIDE} recommends a dedicated service account as Owner, especially "
    f"for production apps.",
    remediation="Transfer the app to a service account listed in the policy.",
    needs="service_accounts",
)
def owner_not_service_account(ctx: Context) -> Iterator[Finding]:
    apps = ctx.data.apps
    for r in frames.rows(apps[apps["owner_email"].notna()], ["region", "app_name", "owner_email"]):
        if ctx.policy.is_service_account(r["owner_email"]):
            continue
        yield {
            "region": r["region"],
            "app": r["app_name"],
            "email": r["owner_email"],
            "message": f"{r['app_name']} is owned by {r['owner_email']}, not by a service account.",
            "remediation": f"Transfer ownership of {r['app_name']} to "
            f"{ctx.policy.service_accounts[0]} (dashboard: app Settings → Transfer ownership).",
        }
