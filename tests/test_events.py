"""events: activity derived from app events (the membership columns ``last_activity_at``,
``last_full_action_at``, ``invited_at``, ``member_since``) and the full-role event list.
The activity checks built on them are tested in test_activity.py."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from scalingo_audit.events import derive

from .orgs import COLLECTED_AT, COLLECTOR, app, collab, event, member, org_with_events

AT = dt.datetime.fromisoformat(COLLECTED_AT)


# --- a small organisation with every case --------------------------------------------

APPS = [app("a"), app("b", owner="boss@acme.example")]
COLLABS = [
    collab("a", "deployer@acme.example"),
    collab("a", "restarter@acme.example"),
    collab("a", "sleeper@acme.example"),
    collab("a", "ghost@acme.example", limited=True),
    collab("a", "newbie@acme.example"),
    collab("a", "oldjoin@acme.example", limited=True),
    collab("a", "byid@acme.example", limited=True),
    collab("a", "Case@Acme.example", limited=True),
    collab("a", "byname@acme.example", limited=True),
    collab("a", "pushed@acme.example"),
    collab("a", "manager@acme.example"),
    collab("a", "fresh-inv@x.example", status="pending"),
    collab("a", "old-inv@x.example", status="pending"),
    collab("a", "lost-inv@x.example", status="pending"),
    collab("a", "gone@acme.example", status="user account deleted"),
    collab("b", "deployer@acme.example"),  # active on a, nothing on b
    collab("b", COLLECTOR),
]
EVENTS = [
    event("a", "deployment", 10, **member("deployer@acme.example"), data={"pusher": "deployer"}),
    event("a", "restart", 5, **member("restarter@acme.example")),
    event("a", "deployment", 100, **member("sleeper@acme.example"), data={"pusher": "sleeper"}),
    # accepted 20 days ago, nothing since: too new to be flagged
    event("a", "new_collaborator", 22, uid="us-ops@acme.example",
       data={"collaborator": {"email": "NEWBIE@acme.example", "is_limited": False}}),
    event("a", "accept_collaborator", 20, **member("newbie@acme.example"),
       data={"id": "us-newbie@acme.example", "email": "newbie@acme.example"}),
    # accepted 100 days ago (the event names them in type_data only), nothing since
    event("a", "accept_collaborator", 100, data={"email": "oldjoin@acme.example"}),
    # matched by user id only, by email only (other case), by username only
    event("a", "restart", 3, uid="us-byid@acme.example"),
    event("a", "restart", 3, email="case@ACME.example"),
    event("a", "create_review_app", 3, username="byname"),
    # the deployment's user is the collecting account; the pusher is the member
    event("a", "deployment", 7, **member(COLLECTOR), data={"pusher": "pushed"}),
    # collaborator management needs the full role too
    event("a", "new_collaborator", 3, **member("manager@acme.example"),
       data={"collaborator": {"email": "fresh-inv@x.example", "is_limited": False}}),
    event("a", "new_collaborator", 30, uid="us-ops@acme.example",
       data={"collaborator": {"email": "old-inv@x.example", "is_limited": True}}),
    # an event on another app, matched by name when the id is missing
    event("b", "restart", 200, **member("deployer@acme.example"), app_id=None),
]  # fmt: skip


@pytest.fixture(scope="module")
def small():
    return org_with_events(APPS, COLLABS, EVENTS)


def test_activity_columns_match_by_id_email_username_and_pusher(small):
    m = small.memberships.set_index(["app_name", "email"])
    day = pd.Timedelta(days=1)

    def ago(col: str, who: str, app_name: str = "a") -> float:
        value = m.loc[(app_name, who), col]
        return round((pd.Timestamp(AT) - value) / day) if pd.notna(value) else -1

    assert ago("last_activity_at", "deployer@acme.example") == 10
    assert ago("last_full_action_at", "deployer@acme.example") == 10
    assert ago("last_activity_at", "restarter@acme.example") == 5
    assert ago("last_full_action_at", "restarter@acme.example") == -1
    assert ago("last_activity_at", "byid@acme.example") == 3
    assert ago("last_activity_at", "Case@Acme.example") == 3
    assert ago("last_activity_at", "byname@acme.example") == 3
    assert ago("last_full_action_at", "pushed@acme.example") == 7
    assert ago("last_full_action_at", "manager@acme.example") == 3
    assert ago("invited_at", "newbie@acme.example") == 22
    assert ago("member_since", "newbie@acme.example") == 20
    assert ago("member_since", "oldjoin@acme.example") == 100
    assert ago("invited_at", "fresh-inv@x.example") == 3
    assert ago("last_activity_at", "deployer@acme.example", "b") == 200
    # the deployment's user was the owner, but the pusher is credited: the owner's last
    # activity is its invitation of 22 days ago, not that deployment of 7 days ago
    assert ago("last_activity_at", COLLECTOR) == 22
    for col in ("invited_at", "member_since", "last_activity_at", "last_full_action_at"):
        assert str(small.memberships[col].dtype) == "datetime64[us, UTC]"
    assert small.info.events_days == 120 and small.info.activity_note is None


def test_derive_without_events_gives_empty_columns(small):
    out = derive(small.memberships, small.events.iloc[0:0])
    assert out["last_activity_at"].isna().all() and len(out) == len(small.memberships)


# --- the full-role list and the documented event shapes -----------------------------------

# Scalingo's permission matrix mapped to event types (../shared/scalingo-api.md)
NOTES_FULL_ROLE = [
    "deployment",
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
]
LIMITED_ACTIONS = ("restart", "create_review_app", "close_review_app", "create_data_access_consent")


def test_the_full_role_list_is_exactly_the_documented_one():
    from scalingo_audit.events import FULL_ROLE_EVENTS

    assert sorted(FULL_ROLE_EVENTS) == sorted(NOTES_FULL_ROLE)
    assert not set(LIMITED_ACTIONS) & FULL_ROLE_EVENTS


def test_membership_events_are_read_nested_with_a_flat_fallback():
    apps = [app("a")]
    collabs = [
        collab("a", "nested@acme.example"),
        collab("a", "flat@acme.example"),
        collab("a", "invited@x.example", status="pending"),
    ]
    events = [
        # the documented shape: the person under type_data.collaborator; the event's user
        # is someone else (the owner), so only type_data can name the person
        event("a", "accept_collaborator", 40, **member(COLLECTOR), data={"collaborator": {
            "id": "us-nested@acme.example", "email": "nested@acme.example", "username": "nested",
            "inviter": {"email": COLLECTOR, "username": "ops"}, "is_limited": False}}),
        event("a", "accept_collaborator", 50, **member(COLLECTOR),
           data={"email": "flat@acme.example"}),  # an older, flat shape
        event("a", "new_collaborator", 6, **member(COLLECTOR),
           data={"collaborator": {"email": "invited@x.example", "is_limited": True}}),
        # near miss: an inviter named in type_data is not the one who accepted
        event("a", "accept_collaborator", 2, **member(COLLECTOR), data={"collaborator": {
            "email": "someone-else@acme.example", "inviter": {"email": "flat@acme.example"}}}),
    ]  # fmt: skip
    m = org_with_events(apps, collabs, events).memberships.set_index("email")
    day = pd.Timedelta(days=1)
    assert round((pd.Timestamp(AT) - m.loc["nested@acme.example", "member_since"]) / day) == 40
    assert round((pd.Timestamp(AT) - m.loc["flat@acme.example", "member_since"]) / day) == 50
    assert round((pd.Timestamp(AT) - m.loc["invited@x.example", "invited_at"]) / day) == 6
    assert pd.isna(m.loc["invited@x.example", "member_since"])


def test_events_credit_the_membership_of_their_own_region():
    """``shop`` in two regions, the same person on both: an event counts for the app of its
    region, whether it names the app's id or (without one) only its name."""
    sec = "osc-secnum-fr1"
    shops = [app("shop"), app("shop", region=sec)]
    collabs = [collab(s, "dev@acme.example") for s in shops]
    events = [
        event(shops[1], "deployment", 5, **member("dev@acme.example"), data={"pusher": "dev"}),
        event(shops[0], "restart", 9, **member("dev@acme.example"), app_id=None),
    ]
    with pytest.raises(ValueError, match=r"in \['osc-fr1', 'osc-secnum-fr1'\]"):
        org_with_events(shops, collabs, events)  # an id-less event of an ambiguous name
    events[1] = event(shops[0], "restart", 9, **member("dev@acme.example"))
    m = org_with_events(shops, collabs, events).memberships
    dev = m[m["email"] == "dev@acme.example"].set_index("region")
    day = pd.Timedelta(days=1)
    assert round((pd.Timestamp(AT) - dev.loc[sec, "last_full_action_at"]) / day) == 5
    assert round((pd.Timestamp(AT) - dev.loc["osc-fr1", "last_activity_at"]) / day) == 9
    assert pd.isna(dev.loc["osc-fr1", "last_full_action_at"])  # a restart, in its region only
    assert round((pd.Timestamp(AT) - dev.loc[sec, "last_activity_at"]) / day) == 5
