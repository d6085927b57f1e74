"""The large synthetic organisation used by scripts/benchmark.py, at a small size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import scalingo_audit as sa
from scalingo_audit import snapshot
from scalingo_audit.checks import run_checks
from scalingo_audit.demo.large import generate_large, large_policy
from scalingo_audit.sources import from_snapshot

SIZE = {"apps": 200, "people": 100, "memberships": 1500}


@pytest.fixture(scope="module")
def small() -> snapshot.Snapshot:
    return generate_large(**SIZE)


def test_counts_match_what_was_asked(small: snapshot.Snapshot) -> None:
    data = from_snapshot(small, policy=large_policy())
    assert len(data.apps) == 200
    assert len(data.people) == 100
    # ``memberships`` counts one owner row per app plus the collaborator records.
    assert len(data.memberships) == 1500
    assert (data.memberships["role"] == "owner").sum() == 200
    raw = sum(len(f.body["collaborators"]) for f in small.files if "collaborators" in f.kind)
    assert raw == 1500 - 200


def test_shape_is_like_a_live_collection(small: snapshot.Snapshot) -> None:
    kinds = [f.kind for f in small.files]
    assert kinds.count("collaborators") == 2  # one per region
    assert 1 <= kinds.count("app_collaborators") < 10  # a few apps owned by staff
    assert kinds.count("tokens") == 1
    per_region = [len(f.body["collaborators"]) for f in small.files if f.kind == "collaborators"]
    assert sum(per_region) > 0.9 * (1500 - 200)
    emails = {
        c["email"].lower()
        for f in small.files
        if "collaborators" in f.kind
        for c in f.body["collaborators"]
    }
    assert all(e.endswith(".example") for e in emails)


def test_deterministic(small: snapshot.Snapshot) -> None:
    def dump(s: snapshot.Snapshot) -> list[str]:
        return [f.path + json.dumps(f.body, sort_keys=True) for f in s.files]

    assert dump(generate_large(**SIZE)) == dump(small)
    assert dump(generate_large(**SIZE, seed=8)) != dump(small)


def test_loads_from_disk_and_runs_checks(small: snapshot.Snapshot, tmp_path: Path) -> None:
    path = snapshot.write(small, tmp_path / "large")
    data = sa.load(path, policy=large_policy())
    assert len(data.memberships) == 1500
    findings = run_checks(data)
    found = set(findings["check_id"])
    for check_id in (
        "collaborator_without_2fa",
        "limited_collaborator_without_2fa",
        "tfa_status_unknown",
        "external_full_collaborator",
        "pending_invitation",
        "deleted_account_collaborator",
        "owner_not_service_account",
        "token_account_on_many_apps",
    ):
        assert check_id in found


def test_too_few_memberships_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        generate_large(apps=50, people=100, memberships=60)


def test_both_organisations_share_the_collaborator_record_shape():
    """Acme (the demo) and Bigcorp are built by demo/records.py: an accepted record has a
    user and, unless unknown, a 2FA status; a pending one has neither and a link."""
    from scalingo_audit.demo import records

    user = {"id": "us-1", "username": "a", "email": "a@acme.example"}
    app = {"id": "ap-1", "name": "shop"}
    tokens = iter(["tk-1"])
    kw: dict[str, Any] = dict(
        id="co-1", email="a@acme.example", app=app, is_limited=True, user=user
    )
    pending = records.collaborator(
        **kw, status="pending", tfa=True, invitation=lambda: next(tokens)
    )
    assert pending["user_id"] is None and pending["tfa_status"] is None
    assert pending["invitation_link"].endswith("token=tk-1")
    unknown = records.collaborator(
        **kw, status="accepted", tfa="missing", invitation=lambda: str(1 / 0)
    )
    assert "tfa_status" not in unknown and unknown["user_id"] == "us-1"  # no link drawn either
    assert records.limited_shape(True, 14) == "true" and records.limited_shape(True, 15) is True
