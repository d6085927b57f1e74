"""Honest gaps and time windows: diff leaves out what a coverage gap hid (an app, a region, a
whole snapshot) but not what a failed events call did not hide; --as-of after the collection
counts only the observed window and says what could not be evaluated."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from scalingo_audit import diff
from scalingo_audit.checks import run_checks
from scalingo_audit.policy import Policy
from scalingo_audit.sources import from_snapshot

from . import clirun
from .orgs import app, collab, snapshot

A = "@acme.example"
FR, SEC = "osc-fr1", "osc-secnum-fr1"


def load(s):
    return from_snapshot(s, policy=Policy())


def two_regions(*, drop_secnum: bool = False, extra_fr: bool = False):
    apps = [app("shop"), app("blog")]
    collaborators = [collab("shop", f"carol{A}"), collab("blog", f"dave{A}", limited=True)]
    if not drop_secnum:
        apps += [app(f"hr-{i}", region=SEC) for i in range(5)]
        collaborators += [collab(f"hr-{i}", f"p{j}{A}") for i in range(5) for j in range(3)]
    if extra_fr:
        collaborators.append(collab("shop", f"nina{A}", limited=True))
    return snapshot(apps, collaborators)


def test_a_region_level_gap_lists_no_revocation_in_that_region() -> None:
    old = load(two_regions())
    s = two_regions(drop_secnum=True, extra_fr=True)
    s.regions = [FR, SEC]
    s.gaps = [{"region": SEC, "app": None, "request": "GET /v1/apps", "status": 500,
               "error": "server error"}]  # fmt: skip
    changes = diff.diff(
        old, load(s), old_findings=run_checks(old), new_findings=run_checks(load(s))
    )
    in_secnum = changes[changes["region"].fillna("").str.contains(SEC)]
    assert not (in_secnum["change"].isin(["access_revoked", "finding_fixed"])).any(), in_secnum
    assert (changes["change"] == "access_revoked").sum() == 0
    # what could be compared still is
    granted = changes[changes["change"] == "access_granted"]
    assert list(granted["email"]) == [f"nina{A}"]
    assert diff.left_out(old, load(s)) == [f"region {SEC}: its app list could not be read"]


def test_without_the_gap_the_same_loss_is_a_mass_revocation() -> None:
    """The control: the test above fails if gaps were ignored."""
    old = load(two_regions())
    changes = diff.diff(old, load(two_regions(drop_secnum=True)))
    assert (changes["change"] == "access_revoked").sum() == 20  # 15 collaborators + 5 owners


def test_a_gap_without_a_region_leaves_the_whole_snapshot_out() -> None:
    old = load(two_regions())
    s = two_regions(drop_secnum=True, extra_fr=True)
    s.gaps = [{"region": None, "app": None, "request": None, "status": None,
               "error": "collection was interrupted: this snapshot is incomplete"}]  # fmt: skip
    new = load(s)
    changes = diff.diff(old, new, old_findings=run_checks(old), new_findings=run_checks(new))
    assert (
        not changes["change"]
        .isin(["access_granted", "access_revoked", "finding_new", "finding_fixed"])
        .any()
    )
    assert diff.left_out(old, new)[0].startswith("every membership")


def test_a_failed_events_call_does_not_hide_membership_changes() -> None:
    old = load(two_regions())
    s = two_regions(extra_fr=True)
    s.events_days = 30
    s.gaps = [{"region": FR, "app": "shop", "request": "GET /v1/apps/shop/events",
               "status": 500, "error": "server error"},
              {"region": FR, "app": None, "request": "GET /v1/apps/blog/events",
               "status": 500, "error": "server error"}]  # fmt: skip
    changes = diff.diff(old, load(s))
    assert [(c, e) for c, e in zip(changes["change"], changes["email"], strict=True)] == [
        ("access_granted", f"nina{A}")
    ]


def test_an_app_level_gap_still_leaves_that_app_out() -> None:
    old = load(two_regions())
    s = two_regions()
    s.gaps = [{"region": FR, "app": "shop", "request": "GET /v1/apps/shop/collaborators",
               "status": 403}]  # fmt: skip
    for f in s.files:
        if f.kind == "collaborators":
            f.body["collaborators"] = [
                c for c in f.body["collaborators"] if c["app_name"] != "shop"
            ]
    changes = diff.diff(old, load(s))
    assert changes.empty


def test_a_failed_token_list_is_not_a_token_revocation() -> None:
    from .orgs import token

    old = load(snapshot([app("shop")], [], [token("ci", 10, 1)]))
    s = snapshot([app("shop")], [], [])
    s.gaps = [{"region": None, "app": None, "request": "GET /v1/tokens", "status": 500}]
    changes = diff.diff(old, load(s))
    assert "token_revoked" not in set(changes["change"])
    assert (changes["change"] == "access_revoked").sum() == 0


def test_diff_cli_names_what_it_left_out(tmp_path) -> None:
    from scalingo_audit.snapshot import write

    old = write(two_regions(), tmp_path / "old")
    s = two_regions(drop_secnum=True)
    s.regions = [FR, SEC]
    s.gaps = [{"region": SEC, "app": None, "request": "GET /v1/apps", "status": 500}]
    new = write(s, tmp_path / "new")
    r = clirun.run("diff", str(old), str(new), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert f"not compared (coverage gap): region {SEC}" in r.stderr
    assert "access_revoked" not in r.stdout


ACTIVITY = ("inactive_collaborator", "unused_full_privileges", "pending_invitation_stale")


def test_as_of_a_year_after_the_collection_gives_no_inactive_finding() -> None:
    data = load_demo()
    at_collection = run_checks(data)
    flagged = at_collection[at_collection["check_id"].isin(ACTIVITY)]
    assert (flagged["severity"] == "medium").sum() > 20  # the control: the demo has them
    later = run_checks(data, as_of=data.info.collected_at + dt.timedelta(days=365))
    activity = later[later["check_id"].isin(ACTIVITY)]
    assert sorted(activity["check_id"]) == sorted(ACTIVITY)  # one line each...
    assert set(activity["severity"]) == {"info"}  # ...and no finding
    for message in activity["message"]:
        assert message.startswith("Could not be evaluated: --as-of is 365 days after")
        assert "not observed" in message


def test_as_of_shortly_after_the_collection_counts_only_the_observed_window() -> None:
    data = load_demo()
    later = run_checks(data, as_of=data.info.collected_at + dt.timedelta(days=10))
    activity = later[later["check_id"].isin(ACTIVITY)]
    assert set(activity["severity"]) == {"info"}
    assert any("only 80 of the 90 days" in m for m in activity["message"])


def test_a_date_only_as_of_on_the_collection_day_is_the_collection() -> None:
    data = load_demo()
    day = data.info.collected_at.date().isoformat()
    same_day = run_checks(data, as_of=day)  # the end of that day, hours after the collection
    base = run_checks(data)
    pick = ["check_id", "app", "email"]

    def activity(f: pd.DataFrame) -> pd.DataFrame:
        return f[f["check_id"].isin(ACTIVITY)][pick].reset_index(drop=True)

    pd.testing.assert_frame_equal(activity(same_day), activity(base))


def test_check_cli_as_of_a_year_later(tmp_path) -> None:
    import json

    data = load_demo()
    later = (data.info.collected_at + dt.timedelta(days=365)).date().isoformat()
    r = clirun.run("check", "demo", "--as-of", later, "--format", "json")
    assert r.returncode == 0, r.stderr
    findings = [f for f in json.loads(r.stdout) if f["check_id"] in ACTIVITY]
    assert findings and all(f["severity"] == "info" for f in findings)


def load_demo():
    from scalingo_audit.sources import load as load_source

    return load_source("demo")
