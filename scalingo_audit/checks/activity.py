"""Activity: access nobody uses, and invitations nobody accepts (needs app events).

These checks read the activity columns of ``memberships`` (:mod:`scalingo_audit.events`)
and only run when the events window covers the days they look back. Otherwise each says,
in one ``info`` finding, that it could not be evaluated and how to collect what it needs,
instead of flagging everyone (no events) or no one.

A membership whose start is unknown (no invitation or acceptance event in the window)
while the window covers the threshold began before the window did: it is taken as at
least as old as the window, hence old enough. Likewise a pending invitation with no
``new_collaborator`` event in such a window was sent before the window began: it is stale.
An app whose events were not collected (coverage gap) or were cut short is skipped and
named in an ``info`` finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from .. import events, frames
from .registry import Context, Finding, check, membership_finding

_COLLECT = (
    "Collect a snapshot with app events covering at least {days} days: "
    "scalingo-audit collect --events-days {days} --out SNAPSHOT."
)


def _not_evaluable(ctx: Context, days: int) -> Iterator[Finding]:
    """One info finding when the events window does not cover ``days`` before ``as_of``."""
    info = ctx.data.info
    why = events.window_problem(
        info.events_days, days, collected_at=info.collected_at, as_of=ctx.as_of
    )
    if why:
        yield {
            "severity": "info",
            "message": f"Could not be evaluated: {why}.",
            "remediation": _COLLECT.format(days=days),
        }


def _memberships(ctx: Context, days: int) -> tuple[pd.DataFrame, list[str]]:
    """Memberships with activity up to ``as_of``, restricted to apps whose events cover
    ``days`` before ``as_of``; and the names of the apps left out."""
    data = ctx.data
    m = data.memberships
    if ctx.as_of < data.info.collected_at:  # look at the events as they were on as_of
        m = events.derive(m, data.events, until=ctx.as_of)
    cutoff = pd.Timestamp(ctx.as_of - dt.timedelta(days=days))
    apps = data.apps
    covered = apps["events_since"].notna() & (apps["events_since"] <= cutoff)
    ok = set(zip(apps.loc[covered, "region"], apps.loc[covered, "app_id"], strict=True))
    keys = list(zip(m["region"], m["app_id"], strict=True))
    inside = pd.Series([k in ok for k in keys], index=m.index, dtype=bool)
    skipped = sorted(set(apps.loc[~covered, "app_name"].dropna()) & set(m["app_name"].dropna()))
    return m[inside], skipped


def _skipped(skipped: list[str], days: int) -> Iterator[Finding]:
    if skipped:
        more = f" (+{len(skipped) - 10} more)" if len(skipped) > 10 else ""
        yield {
            "severity": "info",
            "message": f"Could not be evaluated on {len(skipped)} app(s) whose events do not "
            f"cover the last {days} days (the events request failed or stopped at its page "
            f"limit): {', '.join(skipped[:10])}{more}.",
            "remediation": "See the report's coverage gaps. " + _COLLECT.format(days=days),
        }


def _old_enough(m: pd.DataFrame, cutoff: pd.Timestamp) -> pd.Series:
    """Memberships that began at or before ``cutoff``; an unknown start is before the window,
    so old enough (the caller made sure the window reaches back to ``cutoff``)."""
    start = m["member_since"].fillna(m["invited_at"])
    return (start.isna() | (start <= cutoff)).astype(bool)


def _since(when: object, window: int | None) -> str:
    if pd.isna(when):
        return f"none in the {window}-day events window"
    assert isinstance(when, pd.Timestamp)
    return when.strftime("%Y-%m-%d")


def _windowed(
    ctx: Context, days: int, findings: Callable[[pd.DataFrame, int | None], Iterator[Finding]]
) -> Iterator[Finding]:
    """The frame every activity check runs in: one info finding when the events window
    does not cover ``days``; else ``findings`` of the memberships of the apps whose events
    do (and the events window), then one info finding naming the apps left out."""
    blocked = list(_not_evaluable(ctx, days))
    if blocked:
        yield from blocked
        return
    m, skipped = _memberships(ctx, days)
    yield from findings(m, ctx.data.info.events_days)
    yield from _skipped(skipped, days)


def _unused(
    ctx: Context,
    last: str,
    *,
    full_only: bool,
    action: str,
    say: Callable[[dict[str, Any], int, int | None], str],
    fix: str,
) -> Iterator[Finding]:
    """The body of both checks of unused access: accepted members (full Collaborators with
    ``full_only``, else all but owners) old enough and with no ``last`` activity for
    ``inactive_days``, each a finding whose message is ``say(row, days, window)`` and whose
    remediation is ``fix`` followed by the ``action`` command."""
    days = ctx.policy.thresholds.inactive_days
    cutoff = pd.Timestamp(ctx.as_of - dt.timedelta(days=days))

    def findings(m: pd.DataFrame, window: int | None) -> Iterator[Finding]:
        role = (m["role"] == "collaborator") if full_only else (m["role"] != "owner")
        when = m[last]
        idle = m[
            (m["status"] == "accepted")
            & role
            & _old_enough(m, cutoff)
            & (when.isna() | (when < cutoff)).astype(bool)
        ]
        for r in frames.rows(idle):
            yield membership_finding(r, action, say(r, days, window), fix)

    yield from _windowed(ctx, days, findings)


@check(
    "inactive_collaborator",
    severity="medium",
    title="Collaborator with no activity on the app",
    risk="Access that is not used is exposure with no benefit: a dormant account is less "
    "watched, and a stolen password on it goes unnoticed. Scalingo asks for regular reviews "
    "that find inactive accounts.",
    remediation="Remove the collaborator from the app if they no longer need it.",
    action="revoke",
)
def inactive_collaborator(ctx: Context) -> Iterator[Finding]:
    yield from _unused(
        ctx,
        "last_activity_at",
        full_only=False,
        action="revoke",
        say=lambda r, days, window: (
            f"{r['email']} has done nothing on {r['app_name']} for "
            f"more than {days} days (last activity: {_since(r['last_activity_at'], window)})."
        ),
        fix="If the access is no longer needed, remove it: ",
    )


@check(
    "unused_full_privileges",
    severity="medium",
    title="Full Collaborator who never uses the full role",
    risk="The full role gives environment variables, deployments, add-ons and collaborator "
    "management; someone who only restarts the app or reads its logs needs no more than "
    "Limited Collaborator, which Scalingo recommends by default. Any deployment counts as a "
    "full-role action: events do not say which branch was deployed.",
    remediation="Downgrade to Limited Collaborator.",
    action="downgrade",
)
def unused_full_privileges(ctx: Context) -> Iterator[Finding]:
    yield from _unused(
        ctx,
        "last_full_action_at",
        full_only=True,
        action="downgrade",
        say=lambda r, days, window: (
            f"{r['email']} is a full Collaborator on {r['app_name']} "
            f"but took no action needing the full role in the last {days} days (last one: "
            f"{_since(r['last_full_action_at'], window)}; last activity of any kind: "
            f"{_since(r['last_activity_at'], window)})."
        ),
        fix="Downgrade to Limited Collaborator: ",
    )


@check(
    "pending_invitation_stale",
    severity="medium",
    title="Invitation pending for too long",
    risk="An invitation link is not bound to the invited email: whoever gets hold of it can "
    "accept it and get the role. The longer it stays open, the more places the link may "
    "have reached.",
    remediation="Revoke the invitation; invite the person again if they still need access.",
    action="revoke",
)
def pending_invitation_stale(ctx: Context) -> Iterator[Finding]:
    days = ctx.policy.thresholds.pending_invitation_days

    def findings(m: pd.DataFrame, window: int | None) -> Iterator[Finding]:
        for r in frames.rows(m[m["status"] == "pending"]):
            sent = r["invited_at"]
            if pd.isna(sent):
                when = f"before the {window}-day events window began"
            else:
                age = ctx.days_before(sent)
                if age <= days:
                    continue
                when = f"{age:.0f} days ago"
            yield membership_finding(
                r,
                "revoke",
                f"The invitation of {r['email']} to {r['app_name']} was sent {when} and is "
                f"still pending (more than {days} days).",
                "Revoke it, and invite again if still needed: ",
            )

    yield from _windowed(ctx, days, findings)
