"""diff: the changes between two audits, each listed once and nothing else; their output."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from scalingo_audit import diff, frames, output
from scalingo_audit.checks import run_checks
from scalingo_audit.policy import Policy
from scalingo_audit.snapshot import write
from scalingo_audit.sources import from_snapshot
from scalingo_audit.sources import load as load_source

from .orgs import COLLECTOR, app, collab, snapshot, token

A = "@acme.example"
T1 = token("terraform", 100, 1)
T2 = token("old-ci", 500, 200)
T3 = token('=HYPERLINK("http://evil.example")', 2, None)


def old_snapshot():
    apps = [app("shop"), app("blog", owner=f"alice{A}"), app("legacy")]
    collaborators = [
        collab("shop", f"carol{A}"),  # full → limited
        collab("shop", f"dave{A}", limited=True, tfa=False),  # 2FA turned on
        collab("shop", f"erin{A}"),  # revoked
        collab("shop", f"frank{A}", status="pending"),  # accepts
        collab("shop", f"gina{A}", limited=True, status="pending"),  # invitation withdrawn
        collab("shop", f"hank{A}", limited=True),  # 2FA turned off
        collab("shop", f"ivan{A}", limited=True, status="user account deleted"),  # stays
        collab("shop", f"Jane{A}", limited="true"),  # same person, email case changes
        collab("shop", f"mia{A}", limited=True, omit_tfa=True),  # 2FA unknown → on: no change
        collab("blog", f"bob{A}"),  # becomes the owner (part of owner_changed)
        collab("legacy", f"kim{A}", limited=True),  # the app disappears
    ]
    return snapshot(apps, collaborators, [T1, T2])


def new_snapshot():
    apps = [app("shop"), app("blog", owner=f"bob{A}"), app("wiki")]
    collaborators = [
        collab("shop", f"carol{A}", limited=True),
        collab("shop", f"dave{A}", limited=True),
        collab("shop", f"frank{A}"),
        collab("shop", f"hank{A}", limited=True, tfa=False),
        collab("shop", f"ivan{A}", limited=True, status="user account deleted"),
        collab("shop", f"jane{A}", limited=True),
        collab("shop", f"mia{A}", limited=True),
        collab("shop", f"nina{A}", limited=True),  # granted
        collab("shop", f"olga{A}", status="pending"),  # invited
        collab("blog", f"alice{A}"),  # the former owner stays as full Collaborator
        collab("wiki", f"paul{A}", limited=True),  # granted on a new app
    ]
    s = snapshot(apps, collaborators, [T1, T3])
    s.collected_at = "2026-11-01T12:00:00+00:00"
    return s


def finding(check_id, app=None, email=None, token_name=None, region="osc-fr1"):
    return {
        "check_id": check_id,
        "severity": "medium",
        "region": region if app else None,
        "app": app,
        "email": email,
        "token_name": token_name,
        "message": f"{check_id} {app or token_name} {email}",
        "muted": False,
    }


OLD_FINDINGS = frames.build(
    "findings",
    [
        finding("collaborator_without_2fa", "shop", f"dave{A}"),  # fixed
        finding("collaborator_without_2fa", "shop", f"hank{A}"),  # still open
        finding("token_unused", token_name="old-ci", email=COLLECTOR),  # fixed
    ],
)
NEW_FINDINGS = frames.build(
    "findings",
    [
        finding("collaborator_without_2fa", "shop", f"hank{A}"),  # open
        finding("token_never_used", token_name=T3["name"], email=COLLECTOR),  # new
    ],
)

R = "osc-fr1"
EXPECTED = {
    # (change, region, app, email, token_name, check_id, before, after)
    ("owner_changed", R, "blog", f"bob{A}", None, None, f"alice{A}", f"bob{A}"),
    ("access_granted", R, "shop", f"nina{A}", None, None, None, "limited_collaborator"),
    ("access_granted", R, "wiki", COLLECTOR, None, None, None, "owner"),
    ("access_granted", R, "wiki", f"paul{A}", None, None, None, "limited_collaborator"),
    ("access_revoked", R, "shop", f"erin{A}", None, None, "collaborator", None),
    ("access_revoked", R, "shop", f"gina{A}", None, None, "limited_collaborator (pending)", None),
    ("access_revoked", R, "legacy", COLLECTOR, None, None, "owner", None),
    ("access_revoked", R, "legacy", f"kim{A}", None, None, "limited_collaborator", None),
    ("role_changed", R, "shop", f"carol{A}", None, None, "collaborator", "limited_collaborator"),
    ("invitation_sent", R, "shop", f"olga{A}", None, None, None, "collaborator"),
    ("invitation_accepted", R, "shop", f"frank{A}", None, None, "pending", "accepted"),
    ("tfa_enabled", None, None, f"dave{A}", None, None, "off", "on"),
    ("tfa_disabled", None, None, f"hank{A}", None, None, "on", "off"),
    ("token_created", None, None, COLLECTOR, T3["name"], None, None, T3["created_at"][:10]),
    ("token_revoked", None, None, COLLECTOR, "old-ci", None, T2["created_at"][:10], None),
}
EXPECTED_FINDINGS = {
    ("finding_new", None, None, COLLECTOR, T3["name"], "token_never_used", None, "open"),
    ("finding_fixed", R, "shop", f"dave{A}", None, "collaborator_without_2fa", "open", "fixed"),
    ("finding_fixed", None, None, COLLECTOR, "old-ci", "token_unused", "open", "fixed"),
    ("finding_open", R, "shop", f"hank{A}", None, "collaborator_without_2fa", "open", "open"),
}
KEY = ["change", "region", "app", "email", "token_name", "check_id", "before", "after"]


def rows(changes: pd.DataFrame) -> list[tuple]:
    return [
        tuple(None if pd.isna(v) else v for v in r) for r in changes[KEY].itertuples(index=False)
    ]


def load(s):
    return from_snapshot(s, policy=Policy())


def test_every_kind_of_change_listed_exactly_once():
    changes = diff.diff(
        load(old_snapshot()),
        load(new_snapshot()),
        old_findings=OLD_FINDINGS,
        new_findings=NEW_FINDINGS,
    )
    got = rows(changes)
    assert len(got) == len(set(got))  # nothing twice
    assert set(got) == EXPECTED | EXPECTED_FINDINGS  # nothing missing, nothing else
    assert set(changes["change"]) == set(diff.CHANGES)  # the scenario covers every kind
    assert list(changes.columns) == frames.columns("changes")
    # listed in the order of CHANGES
    ranks = changes["change"].map(diff.CHANGES.index)
    assert ranks.is_monotonic_increasing
    assert changes.loc[changes["change"] == "finding_new", "severity"].tolist() == ["medium"]


def test_without_findings_no_finding_rows():
    changes = diff.diff(load(old_snapshot()), load(new_snapshot()))
    assert set(rows(changes)) == EXPECTED


def test_unchanged_org_gives_only_open_findings():
    data = load(new_snapshot())
    assert diff.diff(data, data).empty
    findings = run_checks(data)
    assert not findings.empty
    changes = diff.diff(data, data, old_findings=findings, new_findings=findings)
    assert set(changes["change"]) == {"finding_open"}
    assert len(changes) == len(findings)


def test_coverage_gap_is_not_a_revocation():
    old = load(old_snapshot())
    s = new_snapshot()
    s.gaps = [{"region": R, "app": "shop", "request": "GET /v1/collaborators", "status": 403}]
    for f in s.files:
        if f.kind == "collaborators":
            f.body["collaborators"] = [
                c for c in f.body["collaborators"] if c["app_name"] != "shop"
            ]
    changes = diff.diff(old, load(s))
    assert not (changes["app"] == "shop").any()


def test_muted_finding_says_so():
    muted = OLD_FINDINGS.assign(muted=True, exception_reason="accepted")
    changes = diff.diff(
        load(old_snapshot()), load(old_snapshot()), old_findings=muted, new_findings=muted
    )
    assert changes["detail"].str.endswith("(muted by a policy exception)").all()


# --- output ----------------------------------------------------------------------------------


@pytest.fixture
def changes():
    return diff.diff(
        load(old_snapshot()),
        load(new_snapshot()),
        old_findings=OLD_FINDINGS,
        new_findings=NEW_FINDINGS,
    )


def test_json_is_an_array_of_objects(changes):
    data = json.loads(diff.to_json(changes))
    assert isinstance(data, list) and len(data) == len(changes)
    assert set(data[0]) == set(frames.columns("changes"))
    assert any(d["change"] == "token_created" and d["region"] is None for d in data)


def test_csv_neutralises_formulas(changes):
    out = list(csv.DictReader(io.StringIO(diff.to_csv(changes))))
    assert len(out) == len(changes)
    names = {r["token_name"] for r in out if r["change"] == "token_created"}
    assert names == {"'" + T3["name"]}
    assert not any(v.startswith(("=", "+", "-", "@")) for r in out for v in r.values())


def test_table_groups_by_change(changes):
    text = diff.to_table(changes)
    assert "OWNER CHANGED (1)" in text and "ACCESS REVOKED (4)" in text
    assert "still open: 1 medium" in text
    assert diff.to_table(changes.iloc[0:0]) == "No changes."
    assert diff.counts(changes)["count"].sum() == len(changes)


def test_compare_loads_two_snapshot_directories(tmp_path):
    old = write(old_snapshot(), tmp_path / "old")
    new = write(new_snapshot(), tmp_path / "new")
    changes = diff.compare(old, new, findings=False)
    assert set(rows(changes)) == EXPECTED
    with_findings = diff.compare(old, new)
    assert {"finding_open"} <= set(with_findings["change"])


def test_hostile_change_goes_through_the_one_writer():
    """The diff writes through output.py's writers: a formula is inert in CSV, a carriage
    return stays inside its cell, escape sequences never reach the terminal."""
    hostile = "=cmd|' /C calc'!A0\r\x1b[2Jgone"
    changes = frames.build(
        "changes",
        [
            {"change": "token_created", "email": COLLECTOR, "token_name": hostile,
             "detail": f"API token {hostile!r} created."},
            {"change": "finding_open", "check_id": "token_unused", "severity": "high",
             "detail": "open"},
        ],
    )  # fmt: skip
    out = list(csv.reader(io.StringIO(diff.to_csv(changes), newline="")))
    assert out[0] == list(diff.FIELDS) and len(out) == 3  # the \r split no row
    cell = out[1][diff.FIELDS.index("token_name")]
    assert cell == "'" + hostile
    text = diff.to_table(changes)
    assert "\x1b" not in text and "\r" not in text
    assert text == "TOKEN CREATED (1)\n" + "\n".join(
        output.wrapped(output.terminal_text(f"API token {hostile!r} created."), 100)
    ) + "\n\nFINDING OPEN (1)\n  still open: 1 high"  # fmt: skip


def test_the_same_app_name_in_two_regions_stays_two_apps_from_collect_to_diff(tmp_path):
    """``shop`` in osc-fr1 and in osc-secnum-fr1, collected from the fake API: two apps, two
    memberships of the same person, findings that keep their region, and a revocation in
    one region that the diff does not merge with the access kept in the other."""
    from .fakeapi import FakeScalingo, make_world
    from .test_collect import run_collect

    fr1, sec = "osc-fr1", "osc-secnum-fr1"
    world = make_world(owned=2, collaborated=0, regions=(fr1, sec))
    shops = {r: world.rename_app(r, world.apps[r][0]["name"], "shop") for r in (fr1, sec)}
    for shop in shops.values():
        world.collaborators[shop["id"]] = [collab(shop, f"dev{A}", tfa=False)]
    world.collaborators[shops[sec]["id"]].append(collab(shops[sec], f"lim{A}", limited=True))
    with FakeScalingo(world) as fake:
        old_dir, _ = run_collect(fake, tmp_path / "old")
        world.collaborators[shops[sec]["id"]] = [collab(shops[sec], f"lim{A}", limited=True)]
        new_dir, _ = run_collect(fake, tmp_path / "new")

    old, new = load_source(old_dir), load_source(new_dir)
    assert sorted(zip(old.apps["region"], old.apps["app_id"], strict=True)) == sorted(
        (r, s["id"]) for r, s in shops.items()
    )
    assert set(old.apps["app_name"]) == {"shop"}
    dev = old.memberships[old.memberships["email"] == f"dev{A}"]
    assert sorted(zip(dev["region"], dev["app_id"], strict=True)) == sorted(
        (r, s["id"]) for r, s in shops.items()
    )

    old_f, new_f = run_checks(old), run_checks(new)
    no_2fa = old_f[
        (old_f["check_id"] == "collaborator_without_2fa") & (old_f["email"] == f"dev{A}")
    ]
    assert sorted(no_2fa["region"]) == [fr1, sec] and set(no_2fa["app"]) == {"shop"}
    assert sorted(c[2] for c in no_2fa["command"]) == [fr1, sec]  # scalingo --region R ...

    changes = diff.diff(old, new, old_findings=old_f, new_findings=new_f)
    mine = changes[changes["email"] == f"dev{A}"]
    revoked = mine[mine["change"] == "access_revoked"]
    assert list(zip(revoked["region"], revoked["app"], strict=True)) == [(sec, "shop")]
    fixed = mine[
        (mine["change"] == "finding_fixed") & (mine["check_id"] == "collaborator_without_2fa")
    ]
    still = mine[
        (mine["change"] == "finding_open") & (mine["check_id"] == "collaborator_without_2fa")
    ]
    assert fixed["region"].tolist() == [sec] and still["region"].tolist() == [fr1]
    assert not (changes["email"] == f"lim{A}").any()  # untouched in its one region
    assert diff.compare(old_dir, new_dir).equals(changes)  # the same from the directories
