"""Activity from app events: per (app, person), when they were invited, when they accepted,
and when they last did anything, or anything that needs the full Collaborator role.

Events come from ``GET /v1/apps/{app}/events`` (collected with ``--events-days N``) and
are matched to memberships of the same app: by user id where the event has one, else by
email (case-insensitive), else by username. Who an event is about depends on its type:

- any event: its ``user`` did something on the app (last activity);
- ``deployment``: ``type_data.pusher`` (a username or an email) pushed the code; when
  the pusher is a member of the app the deployment is theirs, else the event's ``user``'s;
- ``new_collaborator``: ``type_data.collaborator`` was invited (``invited_at``);
- ``accept_collaborator``: ``type_data.collaborator`` (``id``, ``email``, ``username``)
  accepted (``member_since``); without those fields, the event's ``user``.

Membership events nest the person under ``type_data.collaborator`` (Scalingo's API); a
flat ``type_data`` (``email``... at the top level) is read as a fallback.

What the events cannot say is never guessed: a column is empty (``NaT``) when no event in
the window says it. The checks (:mod:`scalingo_audit.checks.activity`) decide what an empty
value means, and only when the events window covers their threshold.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .frames import TIME

if TYPE_CHECKING:  # annotations only: the events layer sits below the policy file
    from .policy import Thresholds

FULL_ROLE_EVENTS = frozenset(
    {
        # Scalingo's permission matrix ("Understanding Roles"), mapped to event types: what
        # only the full Collaborator role (or the owner) may do. A Limited Collaborator may
        # restart, use review apps, reset the deployment cache, grant data access to support
        # (create_data_access_consent) and redeploy the default branch: none of those is here.
        "deployment",  # events don't say the branch, so a deployment counts as full-role
        "run",
        "new_variable",
        "edit_variable",
        "edit_variables",
        "delete_variable",
        "new_addon",
        "upgrade_addon",
        "delete_addon",
        "upgrade_database",
        "database/add_feature",
        "database/remove_feature",
        "scale",
        "stop_app",
        "stack_changed",
        "edit_app",
        "new_autoscaler",
        "edit_autoscaler",
        "delete_autoscaler",
        "new_log_drain",
        "delete_log_drain",
        "new_addon_log_drain",
        "delete_addon_log_drain",
        "link_scm",
        "update_scm",
        "unlink_scm",
        "link_github",
        "unlink_github",
        "new_domain",
        "edit_domain",
        "delete_domain",
        "new_notifier",
        "edit_notifier",
        "delete_notifier",
        "new_alert",
        "delete_alert",
        "new_collaborator",
        "change_collaborator_role",
        "delete_collaborator",
    }
)
"""Event types whose author needed the full Collaborator role (or ownership)."""

COLUMNS = ("invited_at", "member_since", "last_activity_at", "last_full_action_at")
"""The memberships columns this module computes (see :mod:`scalingo_audit.frames`)."""

CHECK_IDS = ("inactive_collaborator", "unused_full_privileges", "pending_invitation_stale")
"""The checks that need events."""


@dataclass
class _AppIndex:
    """The memberships of one app, by each key a person can be matched with."""

    ids: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)
    usernames: dict[str, int] = field(default_factory=dict)

    def find(self, uid: Any = None, email: Any = None, username: Any = None) -> int | None:
        """The membership row of a person: by user id, else email, else username."""
        if _given(uid) and uid in self.ids:
            return self.ids[uid]
        if _given(email) and email.strip().lower() in self.emails:
            return self.emails[email.strip().lower()]
        if _given(username) and username.strip().lower() in self.usernames:
            return self.usernames[username.strip().lower()]
        return None


def _given(value: Any) -> bool:
    """Whether an event names something: a string with more than blanks (not text made of
    a missing value, :func:`frames.text`)."""
    return isinstance(value, str) and bool(value.strip())


def derive(
    memberships: pd.DataFrame, events: pd.DataFrame, *, until: dt.datetime | None = None
) -> pd.DataFrame:
    """``memberships`` with :data:`COLUMNS` computed from ``events`` (only events up to
    ``until`` when given). Memberships no event mentions get ``NaT``."""
    m = memberships.reset_index(drop=True)
    found: dict[str, dict[int, pd.Timestamp]] = {c: {} for c in COLUMNS}
    if not m.empty and not events.empty:
        apps, by_name = _index(m)
        ev = events
        if until is not None:
            ev = ev[ev["created_at"] <= pd.Timestamp(until)]
        for e in ev.itertuples(index=False):
            key = _app_key(e.region, e.app_id, e.app_name, apps, by_name)
            if key is None or pd.isna(e.created_at):
                continue
            _apply(e, apps[key], found)
    out = m.copy()
    for col in COLUMNS:
        column = pd.Series(pd.NaT, index=m.index, dtype=TIME)  # no event: NaT, no row loop
        if found[col]:
            at = pd.Series(found[col])
            column[at.index] = pd.to_datetime(at, utc=True).astype(TIME).to_numpy()
        out[col] = column
    return out


def _index(
    m: pd.DataFrame,
) -> tuple[dict[tuple[str, str], _AppIndex], dict[tuple[str, str], tuple[str, str]]]:
    apps: dict[tuple[str, str], _AppIndex] = {}
    by_name: dict[tuple[str, str], tuple[str, str]] = {}
    cols = ["region", "app_id", "app_name", "user_id", "collaboration_id", "email", "username"]
    for i, (region, app_id, app_name, uid, cid, email, username) in enumerate(
        m[cols].astype(object).where(m[cols].notna(), None).itertuples(index=False)
    ):
        key = (region or "", app_id or app_name or "")
        ix = apps.setdefault(key, _AppIndex())
        if app_name:
            by_name.setdefault((region or "", app_name), key)
        for ident in (uid, cid):
            if _given(ident):
                ix.ids.setdefault(ident, i)
        if _given(email):
            ix.emails.setdefault(email.strip().lower(), i)
        if _given(username):
            ix.usernames.setdefault(username.strip().lower(), i)
    return apps, by_name


def _app_key(
    region: Any,
    app_id: Any,
    app_name: Any,
    apps: Mapping[tuple[str, str], _AppIndex],
    by_name: Mapping[tuple[str, str], tuple[str, str]],
) -> tuple[str, str] | None:
    region = region if isinstance(region, str) else ""
    if _given(app_id) and (region, app_id) in apps:
        return (region, app_id)
    if _given(app_name):
        return by_name.get((region, app_name))
    return None


def _apply(e: Any, ix: _AppIndex, found: dict[str, dict[int, pd.Timestamp]]) -> None:
    when = e.created_at
    data = _data(e.type_data) if e.type in ("deployment", *_SUBJECT_EVENTS) else {}
    actor = ix.find(e.user_id, e.user_email, e.user_username)
    if e.type == "deployment":
        pusher = data.get("pusher")
        by_pusher = ix.find(None, pusher, pusher) if _given(pusher) else None
        actor = by_pusher if by_pusher is not None else actor
    if actor is not None:
        _latest(found["last_activity_at"], actor, when)
        if e.type in FULL_ROLE_EVENTS:
            _latest(found["last_full_action_at"], actor, when)
    if e.type in _SUBJECT_EVENTS:
        # documented: the person is nested under type_data.collaborator; flat as a fallback
        nested = data.get("collaborator")
        subject_data = nested if isinstance(nested, Mapping) else data
        subject = None
        if isinstance(subject_data, Mapping):
            subject = ix.find(
                subject_data.get("id") or subject_data.get("user_id"),
                subject_data.get("email"),
                subject_data.get("username"),
            )
        if subject is None and e.type == "accept_collaborator":
            subject = actor  # the person accepting is the event's user
        if subject is not None:
            _latest(found[_SUBJECT_EVENTS[e.type]], subject, when)


_SUBJECT_EVENTS = {"new_collaborator": "invited_at", "accept_collaborator": "member_since"}


def _data(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _latest(column: dict[int, pd.Timestamp], row: int, when: pd.Timestamp) -> None:
    if row not in column or when > column[row]:
        column[row] = when


# --- what the events window lets the checks see -------------------------------------------


def window_problem(
    events_days: int | None,
    threshold: int,
    *,
    collected_at: dt.datetime | None = None,
    as_of: dt.datetime | None = None,
) -> str | None:
    """Why a check looking ``threshold`` days back cannot be evaluated, or None when it can.

    The events cover ``events_days`` days before the collection; only the observed part of
    the ``threshold`` days before ``as_of`` counts. When ``as_of`` is earlier than the
    collection, that is the part of the window before ``as_of``; when it is later (by more
    than :data:`AS_OF_GRACE`, the resolution of a date-only ``--as-of``), the days after the
    collection were not observed at all, so nobody can be said to have been inactive over
    them: the check could not be evaluated, whatever the window."""
    fix = f"collect again with --events-days {threshold} or more"
    if events_days is None:
        return f"events were not collected; {fix}"
    covered = float(events_days)
    if collected_at is not None and as_of is not None and as_of > collected_at + AS_OF_GRACE:
        unseen = (as_of - collected_at).total_seconds() / 86400
        observed = max(0.0, min(covered, threshold - unseen))
        return (
            f"--as-of is {unseen:.0f} days after the collection "
            f"({collected_at.astimezone(dt.UTC):%Y-%m-%d}) and activity after it was not "
            f"observed: only {observed:.0f} of the {threshold} days this check looks back were; "
            "collect again, or give an --as-of at or before the collection"
        )
    if collected_at is not None and as_of is not None and as_of < collected_at:
        covered -= (collected_at - as_of).total_seconds() / 86400
    if covered < threshold:
        return (
            f"the events cover {max(covered, 0):.0f} days, fewer than the {threshold} days "
            f"this check looks back; {fix}"
        )
    return None


AS_OF_GRACE = dt.timedelta(days=1)
"""An ``--as-of`` this little after the collection counts as the collection time for the
activity checks: a date-only ``--as-of`` (the end of that day) on the day of collection."""


def lookback(thresholds: Thresholds) -> list[tuple[str, int]]:
    """Each activity check with the number of days it looks back."""
    return [
        ("inactive_collaborator", thresholds.inactive_days),
        ("unused_full_privileges", thresholds.inactive_days),
        ("pending_invitation_stale", thresholds.pending_invitation_days),
    ]


def activity_note(events_days: int | None, thresholds: Thresholds) -> str | None:
    """One line for every report when some activity checks cannot be evaluated, else None."""
    blocked = [(c, d) for c, d in lookback(thresholds) if window_problem(events_days, d)]
    if not blocked:
        return None
    names = ", ".join(f"`{c}`" for c, _ in blocked)
    need = max(d for _, d in blocked)
    if events_days is None:
        why = "events were not collected"
    else:
        why = f"the events cover only {events_days} days"
    return (
        f"Activity checks not evaluated ({names}): {why}; "
        f"collect again with --events-days {need} or more."
    )
