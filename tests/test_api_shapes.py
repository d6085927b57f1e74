"""Robust to new values: an unknown collaborator status, rows from before the Limited role,
renewed tokens (``issued_at``). True positives and near misses for each."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from scalingo_audit.checks import run_checks
from scalingo_audit.errors import DataWarning
from scalingo_audit.review import review_sheet

from .orgs import app, collab, org, token


def _load(*args, **kwargs):
    """``org(...)`` and the messages of the DataWarnings it gave (at least one)."""
    with pytest.warns(DataWarning) as caught:
        data = org(*args, **kwargs)
    return data, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def _quiet(*args, **kwargs):
    """``org(...)``, which must give no warning at all."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return org(*args, **kwargs)


def test_an_unknown_status_keeps_the_row_fires_nothing_and_warns_once():
    apps = [app("a"), app("b")]
    rows = [
        collab("a", "suspended@x.example", status="suspended", tfa=False),
        collab("b", "suspended@x.example", status="suspended", tfa=False),
        collab("a", "odd@x.example", status="on hold\x1b[31m", tfa=False),
        collab("a", "known@x.example", tfa=False),  # near miss: a known status still fires
    ]
    data, warned = _load(apps, rows)
    assert len(warned) == 1  # once per load, however many rows
    assert "3 collaborator row(s)" in warned[0] and "'suspended'" in warned[0]
    assert "\x1b" not in warned[0]  # the hostile value is quoted escaped
    m = data.memberships
    assert sorted(m.loc[m["email"] == "suspended@x.example", "status"]) == ["suspended"] * 2
    f = run_checks(data)
    assert set(f.loc[f["email"].notna(), "email"]) == {"known@x.example"}
    person = data.people.set_index("email_key").loc["suspended@x.example"]
    assert person["highest_role"] == "other" and person["apps"] == 0
    sheet = review_sheet(data, f)
    assert len(sheet[sheet["person"] == "suspended@x.example"]) == 2  # reviewed, not lost
    # near miss: only known statuses, no warning
    _quiet(apps, [collab("a", "known@x.example")])


def test_a_row_without_is_limited_is_the_full_role_with_a_warning():
    apps = [app("a")]
    old = collab("a", "old@x.example", tfa=False)
    del old["is_limited"]  # data from before June 2025
    rows = [old, collab("a", "limited@x.example", limited="true", tfa=False)]
    data, warned = _load(apps, rows)
    assert len(warned) == 1 and "1 collaborator row(s) without is_limited" in warned[0]
    roles = data.memberships.set_index("email")["role"]
    assert roles["old@x.example"] == "collaborator"
    assert roles["limited@x.example"] == "limited_collaborator"  # near miss: "true" is limited
    f = run_checks(data)
    assert list(f.loc[f["check_id"] == "collaborator_without_2fa", "email"]) == ["old@x.example"]
    _quiet(apps, [collab("a", "x@x.example", limited=False)])  # false: no warning


def test_token_age_counts_from_issued_at_when_renewed():
    renewed = token("renewed", created_days_ago=900, used_days_ago=1)
    renewed["issued_at"] = token("x", created_days_ago=10, used_days_ago=None)["created_at"]
    stale = token("stale", created_days_ago=900, used_days_ago=1)
    stale["issued_at"] = stale["created_at"]  # never renewed
    odd = token("odd", created_days_ago=900, used_days_ago=1)
    odd["issued_at"] = token("y", created_days_ago=1000, used_days_ago=None)["created_at"]
    legacy = token("legacy", created_days_ago=900, used_days_ago=1)  # no issued_at at all
    data = org([app("a")], tokens=[renewed, stale, odd, legacy])
    t = data.tokens.set_index("name")
    assert str(t["issued_at"].dtype) == "datetime64[us, UTC]" and pd.isna(
        t.loc["legacy", "issued_at"]
    )
    f = run_checks(data)
    old = f[f["check_id"] == "token_too_old"].set_index("token_name")
    # renewed 10 days ago: young again; issued before its creation (odd): counts from creation
    assert sorted(old.index) == ["legacy", "odd", "stale"]
    assert all("Renew" in r for r in old["remediation"])
    assert "created 900 days ago" in old.loc["stale", "message"]


@pytest.mark.parametrize("days", [400, 300])
def test_a_renewed_token_still_ages(days):
    t = token("renewed", created_days_ago=900, used_days_ago=1)
    t["issued_at"] = token("x", created_days_ago=days, used_days_ago=None)["created_at"]
    f = run_checks(org([app("a")], tokens=[t]))
    old = f[f["check_id"] == "token_too_old"]
    limit = 365  # the default token_max_age_days
    assert len(old) == (1 if days > limit else 0)
    if days > limit:
        assert f"renewed {days} days ago" in old["message"].iloc[0]
