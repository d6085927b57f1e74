"""Activity from events: the derived columns, the three activity checks, and when they
cannot be evaluated. Small organisations with events files, then one over the fake API."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pandas as pd
import pytest

from scalingo_audit import load, tables
from scalingo_audit.checks import run_checks
from scalingo_audit.events import derive
from scalingo_audit.policy import Policy, parse_policy
from scalingo_audit.snapshot import RawFile
from scalingo_audit.sources import from_snapshot

from .orgs import COLLECTED_AT, COLLECTOR, app, collab, snapshot

AT = dt.datetime.fromisoformat(COLLECTED_AT)
ACTIVITY = ("inactive_collaborator", "unused_full_privileges", "pending_invitation_stale")
_ids = itertools.count(1)


def ev(
    app_name: str,
    kind: str,
    days_ago: float,
    *,
    email: str | None = None,
    uid: str | None = None,
    username: str | None = None,
    data: dict[str, Any] | None = None,
    app_id: str | None = "default",
) -> dict[str, Any]:
    """An app event in API shape; ``user`` only carries the fields given."""
    user = {k: v for k, v in (("id", uid), ("email", email), ("username", username)) if v}
    return {
        "id": f"ev-{next(_ids)}",
        "created_at": (AT - dt.timedelta(days=days_ago)).isoformat(),
        "user": user or None,
        "type": kind,
        "app_id": f"ap-{app_name}" if app_id == "default" else app_id,
        "app_name": app_name,
        "type_data": data or {},
    }


def me(email: str) -> dict[str, Any]:
    """The identity orgs.collab gives a member: user id, email and username."""
    return {"uid": f"us-{email}", "email": email, "username": email.split("@")[0]}


def org_with_events(
    apps: list[dict[str, Any]],
    collabs: list[dict[str, Any]],
    events: list[dict[str, Any]] | None,
    *,
    events_days: int | None = 120,
    policy: Policy | None = None,
    gaps: list[dict[str, Any]] = (),  # type: ignore[assignment]
    next_page: set[str] = frozenset(),  # type: ignore[assignment]
):
    """orgs.org plus one events page per app (``events=None``: events not collected)."""
    s = snapshot(apps, collabs)
    if events is not None:
        for a in apps:
            mine = [e for e in events if e["app_name"] == a["name"]]
            mine.sort(key=lambda e: e["created_at"], reverse=True)
            more = 2 if a["name"] in next_page else None
            body = {"events": mine, "meta": {"pagination": {"current_page": 1, "next_page": more}}}
            s.files.append(
                RawFile(
                    f"raw/{a['region']}/apps/{a['name']}/events.page-1.json",
                    "app_events",
                    a["region"],
                    f"GET /v1/apps/{a['name']}/events",
                    body,
                    app=a["name"],
                )
            )
        s.events_days = events_days
    s.gaps = list(gaps)
    return from_snapshot(s, policy=policy or Policy())


def hits(findings: pd.DataFrame, check_id: str, severity: str = "medium") -> list[tuple]:
    f = findings[(findings["check_id"] == check_id) & (findings["severity"] == severity)]
    return sorted(zip(f["app"], f["email"], strict=True))


def infos(findings: pd.DataFrame) -> dict[str, str]:
    """The activity checks' "could not be evaluated" findings (policy-dependent checks have
    their own, which these tests do not look at)."""
    f = findings[(findings["severity"] == "info") & findings["check_id"].isin(ACTIVITY)]
    return dict(zip(f["check_id"], f["message"], strict=True))


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
    ev("a", "deployment", 10, **me("deployer@acme.example"), data={"pusher": "deployer"}),
    ev("a", "restart", 5, **me("restarter@acme.example")),
    ev("a", "deployment", 100, **me("sleeper@acme.example"), data={"pusher": "sleeper"}),
    # accepted 20 days ago, nothing since: too new to be flagged
    ev("a", "new_collaborator", 22, uid="us-ops@acme.example",
       data={"collaborator": {"email": "NEWBIE@acme.example", "is_limited": False}}),
    ev("a", "accept_collaborator", 20, **me("newbie@acme.example"),
       data={"id": "us-newbie@acme.example", "email": "newbie@acme.example"}),
    # accepted 100 days ago (the event names them in type_data only), nothing since
    ev("a", "accept_collaborator", 100, data={"email": "oldjoin@acme.example"}),
    # matched by user id only, by email only (other case), by username only
    ev("a", "restart", 3, uid="us-byid@acme.example"),
    ev("a", "restart", 3, email="case@ACME.example"),
    ev("a", "create_review_app", 3, username="byname"),
    # the deployment's user is the collecting account; the pusher is the member
    ev("a", "deployment", 7, **me(COLLECTOR), data={"pusher": "pushed"}),
    # collaborator management needs the full role too
    ev("a", "new_collaborator", 3, **me("manager@acme.example"),
       data={"collaborator": {"email": "fresh-inv@x.example", "is_limited": False}}),
    ev("a", "new_collaborator", 30, uid="us-ops@acme.example",
       data={"collaborator": {"email": "old-inv@x.example", "is_limited": True}}),
    # an event on another app, matched by name when the id is missing
    ev("b", "restart", 200, **me("deployer@acme.example"), app_id=None),
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


def test_the_three_checks_give_exactly_the_expected_findings(small):
    f = run_checks(small)
    assert infos(f) == {}
    assert hits(f, "inactive_collaborator") == [
        ("a", "ghost@acme.example"),  # limited, no event in 120 days, start unknown: old
        ("a", "oldjoin@acme.example"),  # accepted 100 days ago, nothing since
        ("a", "sleeper@acme.example"),  # last deployed 100 days ago
        ("b", "deployer@acme.example"),  # active elsewhere does not count
        ("b", "ops@acme.example"),  # the collecting account is a collaborator like any other
    ]
    assert hits(f, "unused_full_privileges") == [
        ("a", "restarter@acme.example"),  # only restarts
        ("a", "sleeper@acme.example"),
        ("b", "deployer@acme.example"),
        ("b", "ops@acme.example"),
    ]
    assert hits(f, "pending_invitation_stale") == [
        ("a", "lost-inv@x.example"),  # no invitation event in a 120-day window: older
        ("a", "old-inv@x.example"),  # sent 30 days ago
    ]
    rem = f[f["check_id"] == "unused_full_privileges"]["remediation"].iloc[0]
    assert rem.endswith(
        ": scalingo --region osc-fr1 --app a collaborators-update --limited=true "
        "restarter@acme.example"
    )
    downgrades = tables.downgrade_commands(f)
    assert "restarter@acme.example" in set(downgrades["email"])
    msg = f[(f["check_id"] == "pending_invitation_stale") & (f["email"] == "old-inv@x.example")]
    assert "30 days ago" in msg["message"].iloc[0]


def test_thresholds_come_from_the_policy():
    policy = parse_policy({"thresholds": {"inactive_days": 4, "pending_invitation_days": 2}})
    f = run_checks(org_with_events(APPS, COLLABS, EVENTS, policy=policy))
    inactive = {e for _, e in hits(f, "inactive_collaborator")}
    assert "restarter@acme.example" in inactive and "byid@acme.example" not in inactive
    assert "newbie@acme.example" in inactive  # 20 days is old enough now
    assert ("a", "fresh-inv@x.example") in hits(f, "pending_invitation_stale")


def test_not_evaluated_when_events_were_not_collected():
    data = org_with_events(APPS, COLLABS, None)
    f = run_checks(data)
    sel = f[f["check_id"].isin(ACTIVITY)]
    assert sorted(sel["check_id"]) == sorted(ACTIVITY)
    assert set(sel["severity"]) == {"info"}
    assert sel[["region", "app", "email"]].isna().all().all()
    assert all("events were not collected" in m for m in sel["message"])
    assert all("--events-days" in r for r in sel["remediation"])
    note = data.info.activity_note
    assert note and "--events-days 90" in note
    assert note in tables.source_markdown(data.info)


def test_not_evaluated_when_the_window_is_shorter_than_the_threshold():
    f = run_checks(org_with_events(APPS, COLLABS, EVENTS, events_days=30))
    assert set(infos(f)) == {"inactive_collaborator", "unused_full_privileges"}
    assert "cover 30 days, fewer than the 90" in infos(f)["inactive_collaborator"]
    assert hits(f, "inactive_collaborator") == hits(f, "unused_full_privileges") == []
    # 30 days cover the 14 the invitation check needs
    assert hits(f, "pending_invitation_stale") == [
        ("a", "lost-inv@x.example"),
        ("a", "old-inv@x.example"),
    ]
    # a policy that looks back 20 days makes the same window enough
    policy = parse_policy({"thresholds": {"inactive_days": 20}})
    data = org_with_events(APPS, COLLABS, EVENTS, events_days=30, policy=policy)
    assert data.info.activity_note is None
    assert infos(run_checks(data)) == {}


def test_as_of_before_the_collection_shortens_the_window_and_hides_later_events():
    data = org_with_events(APPS, COLLABS, EVENTS, events_days=120)
    early = run_checks(data, as_of=AT - dt.timedelta(days=40))
    assert "the events cover 80 days" in infos(early)["inactive_collaborator"]
    long = org_with_events(APPS, COLLABS, EVENTS, events_days=365)
    f = run_checks(long, as_of=AT - dt.timedelta(days=8))
    # 8 days earlier, the deployment of 7 days ago had not happened yet
    assert ("a", "pushed@acme.example") in hits(f, "unused_full_privileges")
    assert ("a", "deployer@acme.example") not in hits(f, "unused_full_privileges")


def test_apps_whose_events_failed_or_were_cut_short_are_skipped_and_named():
    gap = {"region": "osc-fr1", "app": "b", "request": "GET /v1/apps/b/events", "status": 403}
    recent = [e for e in EVENTS if e["created_at"] >= (AT - dt.timedelta(days=60)).isoformat()]
    data = org_with_events(APPS, COLLABS, recent, gaps=[gap], next_page={"a"})
    apps = data.apps.set_index("app_name")
    assert pd.isna(apps.loc["b", "events_since"])
    # a's only page says there are more: its events go back to the oldest one collected
    oldest = data.events[data.events["app_name"] == "a"]["created_at"].min()
    assert apps.loc["a", "events_since"] == oldest
    assert round((pd.Timestamp(AT) - oldest).days) == 30
    f = run_checks(data)
    # a's events cover 30 days, b's none: nobody can be called inactive there
    assert hits(f, "inactive_collaborator") == hits(f, "unused_full_privileges") == []
    assert "on 2 app(s)" in infos(f)["inactive_collaborator"]
    assert infos(f)["inactive_collaborator"].endswith(": a, b.")
    assert infos(f)["pending_invitation_stale"].endswith(": b.")
    # 30 days are enough for invitations (14)
    assert hits(f, "pending_invitation_stale") == [
        ("a", "lost-inv@x.example"),
        ("a", "old-inv@x.example"),
    ]


def test_derive_without_events_gives_empty_columns(small):
    out = derive(small.memberships, small.events.iloc[0:0])
    assert out["last_activity_at"].isna().all() and len(out) == len(small.memberships)


# --- the demo organisation --------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    data = load("demo")
    return data, run_checks(data)


def test_demo_has_a_120_day_window_and_every_activity_check_evaluated(demo):
    data, f = demo
    assert data.info.events_days == 120 and data.info.activity_note is None
    assert not (f["severity"] == "info").any()
    for check_id in ACTIVITY:
        assert len(hits(f, check_id)) > 0


def test_demo_cast_activity(demo):
    _data, f = demo
    inactive = {e for _, e in hits(f, "inactive_collaborator")}
    unused = hits(f, "unused_full_privileges")
    stale = {e for _, e in hits(f, "pending_invitation_stale")}
    assert {"omar.haddad@devshop.example", "sophie.laurent@acme.example"} <= inactive
    assert ("billing-api", "nina.costa@freelance.example") in unused
    assert {a for a, e in unused if e == "julie.moreau@acme.example"} == {
        "mobile-api",
        "mobile-api-staging",
        "mobile-push",
        "mobile-sandbox",
    }
    assert "sam.taylor@studio-nord.example" in stale
    # true negatives: regular deployers, the limited collaborator who restarts, recent
    # joiners, the invitation sent 3 days ago
    flagged = inactive | {e for _, e in unused} | stale
    for email in (
        "hugo.lefebvre@acme.example",
        "ci-shop@acme.example",
        "ci-data@acme.example",
        "pierre.durand@acme.example",
        "lea.martin@webagency.example",
        "jonas.weber@devshop.example",
        "kim.nguyen@studio-nord.example",
    ):
        assert email not in flagged, email
    assert ("hr-payroll", "jade.gauthier@acme.example") not in hits(f, "inactive_collaborator")
    assert ("hr-payroll", "yanis.henry@acme.example") not in unused


def test_demo_activity_findings_agree_with_the_frames(demo):
    data, f = demo
    m = data.memberships.set_index(["app_name", "email"])
    cutoff = pd.Timestamp(data.info.collected_at - dt.timedelta(days=90))
    for check_id, col in (
        ("inactive_collaborator", "last_activity_at"),
        ("unused_full_privileges", "last_full_action_at"),
    ):
        flagged = set(hits(f, check_id))
        for key, r in m.iterrows():
            eligible = r["status"] == "accepted" and r["role"] != "owner"
            if check_id == "unused_full_privileges":
                eligible = eligible and r["role"] == "collaborator"
            start = r["member_since"]
            old = pd.isna(start) or start <= cutoff
            idle = pd.isna(r[col]) or r[col] < cutoff
            assert (key in flagged) == bool(eligible and old and idle), (check_id, key)


# --- over the fake API: collect with events, then check ---------------------------------


def test_collected_from_the_fake_api_with_known_activity(tmp_path):
    from .fakeapi import FakeScalingo, make_world
    from .test_collect import run_collect

    now = dt.datetime.now(dt.UTC)
    world = make_world(owned=3, collaborated=1, regions=("osc-fr1",), collaborators_per_app=4)

    def at(days: float) -> str:
        return (now - dt.timedelta(days=days)).isoformat()

    expected: dict[str, set[tuple[str, str]]] = {c: set() for c in ACTIVITY}
    for _region, a in world.all_apps():
        events = []
        for i, c in enumerate(world.collaborators.get(a["id"], [])):
            who = {"id": c["user_id"], "email": c["email"], "username": c["username"]}
            key = (a["name"], c["email"])
            limited = c["is_limited"] in (True, "true")
            if c["status"] == "pending":
                days = 30 if i % 2 else 3
                data = {"collaborator": {"email": c["email"], "is_limited": limited}}
                events.append(("new_collaborator", days, world.user, data))
                if days > 14:
                    expected["pending_invitation_stale"].add(key)
                continue
            if c["status"] != "accepted":
                continue
            kind = ("deployment", "restart", None)[i % 3]
            if kind:
                data = {"pusher": c["username"]} if kind == "deployment" else {}
                events.append((kind, 2 + i, who, data))
            if kind is None:
                expected["inactive_collaborator"].add(key)
            if kind != "deployment" and not limited:
                expected["unused_full_privileges"].add(key)
        world.events[a["id"]] = [
            {
                "id": f"ev-{a['name']}-{n}",
                "created_at": at(days),
                "user": {k: user[k] for k in ("id", "email", "username")},
                "type": kind,
                "app_id": a["id"],
                "app_name": a["name"],
                "type_data": data,
            }
            for n, (kind, days, user, data) in enumerate(
                sorted(events, key=lambda e: e[1])  # newest first
            )
        ]
    assert all(expected.values())  # the world has every case
    with FakeScalingo(world, per_page=3) as fake:
        path, _ = run_collect(fake, tmp_path / "snap", events_days=100, per_page=3)
    audit = load(path)
    assert audit.info.events_days == 100
    f = run_checks(audit)
    assert infos(f) == {}
    for check_id in ACTIVITY:
        assert set(hits(f, check_id)) == expected[check_id], check_id
    # the same snapshot without events cannot be evaluated
    with FakeScalingo(world) as fake:
        path, _ = run_collect(fake, tmp_path / "no-events")
    assert set(infos(run_checks(load(path)))) == set(ACTIVITY)


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


@pytest.mark.parametrize("kind", ["stop_app", "database/add_feature", "new_notifier",
                                  "new_autoscaler", "new_addon_log_drain", "edit_app",
                                  "upgrade_database", "new_alert"])  # fmt: skip
def test_full_role_only_actions_keep_the_full_role(kind):
    apps = [app("a")]
    collabs = [collab("a", "doer@acme.example"), collab("a", "light@acme.example")]
    events = [
        ev("a", kind, 5, **me("doer@acme.example")),  # true negative: needed the full role
        *(ev("a", k, 4, **me("light@acme.example")) for k in LIMITED_ACTIONS),  # near miss
    ]
    f = run_checks(org_with_events(apps, collabs, events))
    assert hits(f, "unused_full_privileges") == [("a", "light@acme.example")]
    assert hits(f, "inactive_collaborator") == []


def test_a_deployment_counts_and_the_check_says_why():
    from scalingo_audit.checks import CHECKS

    apps = [app("a")]
    collabs = [collab("a", "deployer@acme.example")]
    f = run_checks(org_with_events(apps, collabs, [
        ev("a", "deployment", 5, **me("deployer@acme.example"), data={"pusher": "deployer"})
    ]))  # fmt: skip
    assert hits(f, "unused_full_privileges") == []
    assert "branch" in CHECKS["unused_full_privileges"].risk


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
        ev("a", "accept_collaborator", 40, **me(COLLECTOR), data={"collaborator": {
            "id": "us-nested@acme.example", "email": "nested@acme.example", "username": "nested",
            "inviter": {"email": COLLECTOR, "username": "ops"}, "is_limited": False}}),
        ev("a", "accept_collaborator", 50, **me(COLLECTOR),
           data={"email": "flat@acme.example"}),  # an older, flat shape
        ev("a", "new_collaborator", 6, **me(COLLECTOR),
           data={"collaborator": {"email": "invited@x.example", "is_limited": True}}),
        # near miss: an inviter named in type_data is not the one who accepted
        ev("a", "accept_collaborator", 2, **me(COLLECTOR), data={"collaborator": {
            "email": "someone-else@acme.example", "inviter": {"email": "flat@acme.example"}}}),
    ]  # fmt: skip
    m = org_with_events(apps, collabs, events).memberships.set_index("email")
    day = pd.Timedelta(days=1)
    assert round((pd.Timestamp(AT) - m.loc["nested@acme.example", "member_since"]) / day) == 40
    assert round((pd.Timestamp(AT) - m.loc["flat@acme.example", "member_since"]) / day) == 50
    assert round((pd.Timestamp(AT) - m.loc["invited@x.example", "invited_at"]) / day) == 6
    assert pd.isna(m.loc["invited@x.example", "member_since"])
