"""load(): the demo, snapshot directories, and what bad input gives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from scalingo_audit import InputError, frames, load
from scalingo_audit.demo import demo_policy, demo_snapshot
from scalingo_audit.snapshot import write

from .orgs import app, collab, edit_json, org, snapshot


def test_demo_source_is_realistic_and_typed():
    data = load("demo")
    for name in ("apps", "memberships", "people", "tokens", "events"):
        df = getattr(data, name)
        assert list(df.columns) == frames.columns(name)
        assert [str(t) for t in df.dtypes] == [c.dtype for c in frames.SCHEMAS[name]]
    assert 55 <= len(data.apps) <= 65
    assert set(data.apps["region"]) == {"osc-fr1", "osc-secnum-fr1"}
    assert data.apps["project_name"].nunique() >= 5
    assert 140 <= len(data.people) <= 160
    # app events of the last 120 days, for the activity checks
    assert data.info.events_days == 120
    assert len(data.events) > 500 and data.events["app_id"].isin(data.apps["app_id"]).all()
    assert data.apps["events_since"].notna().all()
    m = data.memberships
    # every app has exactly one owner membership, taken from the app's owner field
    owners = m[m["role"] == "owner"]
    assert sorted(owners["app_id"]) == sorted(data.apps["app_id"])
    # owners' 2FA is unknown, except the collecting account's own (GET /v1/client/tfa: off)
    mine = owners["email"] == data.info.collected_by
    assert mine.any() and (owners.loc[mine, "tfa"] == False).all()  # noqa: E712
    assert owners.loc[~mine, "tfa"].isna().all()
    assert set(m["role"]) == set(frames.ROLES)
    assert set(m["status"]) == set(frames.STATUSES)
    assert m["tfa"].isna().any() and (m["tfa"] == False).any()  # noqa: E712
    assert not m.duplicated(["region", "app_id", "email_key"]).any()
    assert all(e.endswith(".example") for e in data.people["email"])
    assert str(data.info.collected_at) == "2026-11-01 08:00:00+00:00"


def test_demo_is_deterministic():
    a = load("demo").memberships
    demo_snapshot.cache_clear()
    b = load("demo").memberships
    pd.testing.assert_frame_equal(a, b)


def test_api_shape_quirks():
    data = org(
        [app("a")],
        [
            collab("a", "s1@x.example", limited="true"),
            collab("a", "s2@x.example", limited="false"),
            collab("a", "nf@x.example", omit_tfa=True),
            collab("a", "p@x.example", status="pending"),
        ],
    )
    m = data.memberships.set_index("email")
    assert m.loc["s1@x.example", "role"] == "limited_collaborator"
    assert m.loc["s2@x.example", "role"] == "collaborator"
    assert pd.isna(m.loc["nf@x.example", "tfa"])
    assert pd.isna(m.loc["p@x.example", "username"])  # "n/a" while pending
    assert pd.isna(m.loc["p@x.example", "user_id"])
    assert m.loc["ops@acme.example", "role"] == "owner"


def test_snapshot_directory_source_equals_in_memory(tmp_path):
    path = write(demo_snapshot(), tmp_path / "snap")
    from_disk = load(path, policy=demo_policy())
    demo = load("demo")
    assert from_disk.info.kind == "snapshot"
    for name in ("apps", "memberships", "people", "tokens"):
        pd.testing.assert_frame_equal(getattr(from_disk, name), getattr(demo, name).copy())


@pytest.fixture
def snap_dir(tmp_path) -> Path:
    s = snapshot([app("a"), app("b", owner="x@acme.example")], [collab("a", "d@acme.example")])
    return write(s, tmp_path / "snap")


@pytest.mark.parametrize(
    ("file", "edit", "expected"),
    [
        (
            "raw/osc-fr1/collaborators.json",
            lambda b: b["collaborators"][0].update(status=42),  # an unknown text is kept
            r"collaborators\[0\] \(d@acme.example\): field 'status': expected a text, got 42",
        ),
        (
            "raw/osc-fr1/collaborators.json",
            lambda b: b["collaborators"][0].pop("email"),
            r"collaborators\[0\].*: field 'email': missing required field",
        ),
        (
            "raw/osc-fr1/collaborators.json",
            lambda b: b["collaborators"][0].update(is_limited="sometimes"),
            r"field 'is_limited': expected true or false",
        ),
        (
            "raw/osc-fr1/apps.json",
            lambda b: b["apps"][1]["owner"].pop("email"),
            r"apps\[1\] \(b\) owner: field 'email': missing required field",
        ),
        (
            "raw/osc-fr1/apps.json",
            lambda b: b["apps"][0].update(created_at="yesterday"),
            r"apps\[0\] \(a\): field 'created_at': not an ISO 8601 date",
        ),
        (
            "raw/auth/tokens.json",
            lambda b: b.update(tokens={"not": "a list"}),
            r"tokens.json: field 'tokens': must be a list",
        ),
        ("manifest.json", lambda b: b.pop("collected_at"), r"field 'collected_at': missing"),
        ("manifest.json", lambda b: b.update(format_version=99), r"unsupported snapshot format"),
    ],
)
def test_bad_snapshot_input_names_file_record_and_field(snap_dir, file, edit, expected):
    edit_json(snap_dir / file, edit)
    with pytest.raises(InputError, match=expected) as exc:
        load(snap_dir)
    assert file.split("/")[-1] in str(exc.value)
