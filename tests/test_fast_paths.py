"""The loader's and the checks' fast paths give exactly what the straightforward code gives.

Speed work (issue 10: load + checks on 50,000 memberships under 1 s) reads the usual
collaborator row without field-by-field checks, reads frame rows column by column
(``frames.rows``) instead of ``to_dict("records")``, classifies each distinct domain once
and joins each person's regions without a per-group Python aggregation. Each test runs the
whole load + checks twice, with the fast code and with the reference code, and compares
every frame and the findings value by value, on organisations with the variety the fast
paths must not get wrong.
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest

from scalingo_audit import frames, sources
from scalingo_audit.checks import run_checks
from scalingo_audit.demo import demo_policy, demo_snapshot
from scalingo_audit.demo.large import generate_large, large_policy
from scalingo_audit.model import AuditData
from scalingo_audit.snapshot import Snapshot


def _reference_rows(df: pd.DataFrame, columns: Any = None) -> list[dict[str, Any]]:
    return (df if columns is None else df[list(columns)]).to_dict("records")


def _irregular(s: Snapshot) -> Snapshot:
    """The same organisation with rows the fast path must hand to the checked path:
    booleans as text, no ``is_limited``, ``n/a`` user names, mixed-case emails, no app id."""
    s = copy.deepcopy(s)
    n = 0
    for f in s.files:
        if "collaborators" not in f.kind:
            continue
        for rec in f.body["collaborators"]:
            n += 1
            if n % 7 == 0:
                rec["is_limited"] = "true" if rec.get("is_limited") else "False"
            if n % 11 == 0:
                rec.pop("is_limited", None)
            if n % 13 == 0:
                rec["tfa_status"] = " false "
            if n % 5 == 0:
                rec["tfa_status"] = None
            if n % 17 == 0:
                rec["username"] = "n/a"
            if n % 19 == 0:
                rec["email"] = rec["email"].upper()
            if n % 23 == 0 and rec.get("app_name"):
                rec.pop("app_id", None)
    return s


def _load_and_check(s: Snapshot, policy: Any) -> tuple[AuditData, pd.DataFrame]:
    data = sources.from_snapshot(s, policy=policy)
    return data, run_checks(data)


CASES = {
    "demo": lambda: (demo_snapshot(), demo_policy()),
    "large": lambda: (generate_large(apps=300, people=150, memberships=2500), large_policy()),
    "large-irregular": lambda: (
        _irregular(generate_large(apps=300, people=150, memberships=2500, seed=3)),
        large_policy(),
    ),
}


@pytest.mark.filterwarnings("ignore::scalingo_audit.errors.DataWarning")
@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_paths_match_the_reference(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    snap, policy = CASES[case]()
    fast, fast_findings = _load_and_check(copy.deepcopy(snap), policy)

    with monkeypatch.context() as mp:
        mp.setattr(sources, "_collaborator", sources._collaborator_checked)
        mp.setattr(frames, "rows", _reference_rows)
        ref, ref_findings = _load_and_check(snap, policy)

    for name in ("apps", "memberships", "people", "tokens", "events"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(ref, name), check_exact=True)
    pd.testing.assert_frame_equal(fast_findings, ref_findings, check_exact=True)
    assert len(fast_findings) > 0

    # one classification per domain, spread back: the same as classifying every row
    m = fast.memberships
    per_row = [None if pd.isna(d) else policy.is_internal(d) for d in m["domain"]]
    assert m["internal"].astype(object).where(m["internal"].notna(), None).tolist() == per_row
    # each person's regions, sorted and joined: the same as a groupby aggregation
    pairs = m[["email_key", "region"]].dropna().drop_duplicates()
    expected = (
        pairs.sort_values(["email_key", "region"]).groupby("email_key")["region"].agg(", ".join)
    )
    got = fast.people.set_index("email_key")["regions"].dropna()
    assert got.to_dict() == expected.to_dict()
    # each person's counts: the same as summing the per-membership flags by group
    accepted = m["status"] == "accepted"
    flags = pd.DataFrame(
        {
            "email_key": m["email_key"],
            "owner_apps": (accepted & (m["role"] == "owner")).astype(int),
            "full_apps": (accepted & (m["role"] == "collaborator")).astype(int),
            "pending_invitations": (m["status"] == "pending").astype(int),
            "deleted_memberships": (m["status"] == "user account deleted").astype(int),
            "apps": accepted.astype(int),
        }
    )
    sums = flags.groupby("email_key", sort=True).sum()
    people = fast.people.set_index("email_key")[sums.columns].astype(int)
    pd.testing.assert_frame_equal(people, sums, check_index_type=False)
    # 2FA of the account: all known values true, unknown when none is known
    told = m[m["tfa"].notna()].groupby("email_key")["tfa"].all()
    tfa = fast.people.set_index("email_key")["tfa"]
    assert tfa.dropna().to_dict() == told.to_dict()
    assert tfa.notna().sum() == len(told)
    if case == "demo":
        assert fast_findings["muted"].any()  # the exceptions loop ran on real matches


ODD_VALUES: list[Any] = [
    None,
    "",
    "true",
    "false",
    "TRUE",
    " false ",
    "yes",
    1,
    0,
    1.0,
    [],
    {},
    ["true"],
    True,
]


@pytest.mark.parametrize("field", ["email", "status", "is_limited", "tfa_status", "app_id"])
@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_collaborator_fast_path_is_the_checked_path(field: str, value: Any) -> None:
    rec = {
        "id": "co-1",
        "email": "ana@acme.example",
        "status": "accepted",
        "is_limited": "false",
        "tfa_status": True,
        "app_id": "ap-1",
        "username": "n/a",
    }
    rec[field] = value

    def read(fn: Any, name: str | None) -> Any:
        try:
            return fn(rec, "osc-fr1", "snap/c.json", "collaborators[0]", app_name=name)
        except Exception as e:
            return type(e), str(e)

    for name in (None, "front"):
        assert read(sources._collaborator, name) == read(sources._collaborator_checked, name)


def test_load_restores_the_cycle_collector(tmp_path: Any) -> None:
    import gc

    from scalingo_audit import snapshot

    path = snapshot.write(demo_snapshot(), tmp_path / "snap")
    assert gc.isenabled()
    sources.load(path, policy=demo_policy())
    assert gc.isenabled()
    (path / "manifest.json").write_text("{", encoding="utf-8")
    with pytest.raises(Exception):  # noqa: B017 - any refusal; the collector is what matters
        sources.load(path, policy=demo_policy())
    assert gc.isenabled()
    gc.disable()
    try:
        sources.load(snapshot.write(demo_snapshot(), tmp_path / "again"), policy=demo_policy())
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
