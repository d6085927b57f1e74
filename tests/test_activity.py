"""checks/activity.py: the three activity checks and when they cannot be evaluated, on
small organisations with events files, the demo, and one over the fake API (the columns
they read are derived by events.py, tested in test_events.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from scalingo_audit import load, tables
from scalingo_audit.checks import run_checks
from scalingo_audit.policy import parse_policy

from .orgs import COLLECTED_AT, app, collab, event, member, org_with_events
from .test_events import APPS, COLLABS, EVENTS, LIMITED_ACTIONS

AT = dt.datetime.fromisoformat(COLLECTED_AT)
ACTIVITY = ("inactive_collaborator", "unused_full_privileges", "pending_invitation_stale")


def hits(findings: pd.DataFrame, check_id: str, severity: str = "medium") -> list[tuple]:
    f = findings[(findings["check_id"] == check_id) & (findings["severity"] == severity)]
    return sorted(zip(f["app"], f["email"], strict=True))


def infos(findings: pd.DataFrame) -> dict[str, str]:
    """The activity checks' "could not be evaluated" findings (policy-dependent checks have
    their own, which these tests do not look at)."""
    f = findings[(findings["severity"] == "info") & findings["check_id"].isin(ACTIVITY)]
    return dict(zip(f["check_id"], f["message"], strict=True))


@pytest.fixture(scope="module")
def small():
    return org_with_events(APPS, COLLABS, EVENTS)


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


@pytest.mark.parametrize("kind", ["stop_app", "database/add_feature", "new_notifier",
                                  "new_autoscaler", "new_addon_log_drain", "edit_app",
                                  "upgrade_database", "new_alert"])  # fmt: skip
def test_full_role_only_actions_keep_the_full_role(kind):
    apps = [app("a")]
    collabs = [collab("a", "doer@acme.example"), collab("a", "light@acme.example")]
    events = [
        event("a", kind, 5, **member("doer@acme.example")),  # true negative: needed the full role
        *(event("a", k, 4, **member("light@acme.example")) for k in LIMITED_ACTIONS),  # near miss
    ]
    f = run_checks(org_with_events(apps, collabs, events))
    assert hits(f, "unused_full_privileges") == [("a", "light@acme.example")]
    assert hits(f, "inactive_collaborator") == []


def test_a_deployment_counts_and_the_check_says_why():
    from scalingo_audit.checks import CHECKS

    apps = [app("a")]
    collabs = [collab("a", "deployer@acme.example")]
    f = run_checks(org_with_events(apps, collabs, [
        event("a", "deployment", 5, **member("deployer@acme.example"), data={"pusher": "deployer"})
    ]))  # fmt: skip
    assert hits(f, "unused_full_privileges") == []
    assert "branch" in CHECKS["unused_full_privileges"].risk
