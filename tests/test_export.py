"""The dashboard Collaborators export (CSV or JSON) as a source."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest

import scalingo_audit as sa
from scalingo_audit.checks import run_checks
from scalingo_audit.errors import DataWarning
from scalingo_audit.export import load_export, map_columns
from scalingo_audit.policy import Policy, Thresholds

FIXTURES = Path(__file__).parent / "fixtures"
CSV = FIXTURES / "dashboard_export.csv"
JSON = FIXTURES / "dashboard_export.json"
POLICY = Policy(
    internal_domains=("corp.example",),
    service_accounts=("ops@corp.example",),
    thresholds=Thresholds(max_full_apps=2),
)


def _roles(data: sa.AuditData) -> dict[tuple[str, str], tuple[str, str, bool | None]]:
    """(app, email_key) → (role, status, tfa), tfa as True/False/None (unknown)."""
    m = data.memberships
    return {
        (a, e): (r, s, None if t is pd.NA else bool(t))
        for a, e, r, s, t in zip(
            m["app_name"], m["email_key"], m["role"], m["status"], m["tfa"], strict=True
        )
    }


@pytest.mark.parametrize("path", [CSV, JSON], ids=["csv", "json"])
def test_fixture_memberships(path: Path) -> None:
    data = load_export(path, policy=POLICY)
    roles = _roles(data)
    # 12 distinct (app, person): the CSV's duplicate alice row on web-api is dropped.
    assert len(data.memberships) == 12
    assert roles[("web-api", "alice.martin@corp.example")][:2] == ("collaborator", "accepted")
    assert roles[("web-api", "bob.lee@corp.example")] == ("limited_collaborator", "accepted", False)
    assert roles[("web-front", "alice.martin@corp.example")][0] == "collaborator"
    carol = roles[("web-api", "carol.diaz@corp.example")]
    assert carol[:2] == ("limited_collaborator", "pending") and carol[2] is None
    # A missing 2FA value is unknown, never False.
    assert roles[("web-front", "erin.fox@corp.example")][2] is None
    assert roles[("vault", "frank.moss@corp.example")][2] is False
    assert roles[("vault", "gone.user@corp.example")][1] == "user account deleted"
    # Owners come from owner rows; an app without one has an unknown owner.
    owners = dict(zip(data.apps["app_name"], data.apps["owner_email"], strict=True))
    assert owners["web-api"] == "ops@corp.example"
    assert owners["web-front"] == "Dana.Owner@Corp.example"
    assert owners["sandbox"] is pd.NA
    assert (data.memberships["role"] == "owner").sum() == 3
    assert set(data.apps["region"]) == {"osc-fr1", "osc-secnum-fr1"}
    # Emails compare case-insensitively: Alice is one person on three apps.
    alice = data.people.set_index("email_key").loc["alice.martin@corp.example"]
    assert alice["full_apps"] == 3
    assert data.memberships["app_id"].notna().all()
    assert data.info.kind == "export"
    assert data.info.location == str(path)
    assert data.info.collected_at == dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    assert len(data.tokens) == 0 and len(data.events) == 0


def test_json_keeps_ids_and_projects() -> None:
    data = load_export(JSON, policy=POLICY)
    apps = data.apps.set_index("app_name")
    assert apps.loc["web-api", "app_id"] == "ap-0001"
    assert apps.loc["web-api", "project_name"] == "web"
    assert apps.loc["web-api", "project_id"] == "pr-01"
    assert apps.loc["web-front", "owner_id"] == "us-0005"
    assert data.info.notes == ()


def test_csv_without_ids_uses_app_names_and_says_so() -> None:
    data = load_export(CSV, policy=POLICY)
    assert list(data.apps["app_id"]) == list(data.apps["app_name"])
    assert any("app ids" in n for n in data.info.notes)


@pytest.mark.parametrize("path", [CSV, JSON], ids=["csv", "json"])
def test_fixture_findings(path: Path) -> None:
    findings = run_checks(load_export(path, policy=POLICY))
    # an export has no events: the activity checks say they could not be evaluated; the
    # policy names no API-token account: that check says it was not evaluated
    info = findings[findings["severity"] == "info"]
    assert set(info["check_id"]) == {
        "inactive_collaborator",
        "unused_full_privileges",
        "pending_invitation_stale",
        "token_account_on_many_apps",
    }
    findings = findings[findings["severity"] != "info"]
    got = {
        (c, a if a is not pd.NA else None, e.lower())
        for c, a, e in zip(findings["check_id"], findings["app"], findings["email"], strict=True)
    }
    assert got == {
        ("collaborator_without_2fa", "vault", "frank.moss@corp.example"),
        ("limited_collaborator_without_2fa", "web-api", "bob.lee@corp.example"),
        ("tfa_status_unknown", "web-front", "erin.fox@corp.example"),
        ("external_full_collaborator", "web-api", "dev@agency.example"),
        ("pending_invitation", "web-api", "carol.diaz@corp.example"),
        ("deleted_account_collaborator", "vault", "gone.user@corp.example"),
        ("owner_not_service_account", "web-front", "dana.owner@corp.example"),
        ("full_collaborator_on_many_apps", None, "alice.martin@corp.example"),
    }


def test_load_dispatches_to_export() -> None:
    data = sa.load(CSV, policy=POLICY)
    assert data.info.kind == "export"
    assert sa.load(str(JSON)).info.kind == "export"


def test_column_names_are_matched_loosely() -> None:
    cols = ["Application Name", "E-Mail", "IS-LIMITED", "Two-factor authentication", "Extra"]
    assert map_columns(cols) == {
        "app": "Application Name",
        "email": "E-Mail",
        "is_limited": "IS-LIMITED",
        "tfa": "Two-factor authentication",
    }


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_is_limited_instead_of_role_and_no_status(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "export.csv",
        "app_name;collaborator;limited;2FA\n"
        "shop;a@corp.example;true;off\n"
        "shop;b@corp.example;FALSE;\n"
        "shop;c@corp.example;0;On\n",
    )
    data = load_export(path, policy=Policy())
    roles = _roles(data)
    assert roles[("shop", "a@corp.example")] == ("limited_collaborator", "accepted", False)
    assert roles[("shop", "b@corp.example")][:2] == ("collaborator", "accepted")
    assert roles[("shop", "b@corp.example")][2] is None
    assert roles[("shop", "c@corp.example")][2] is True
    assert set(data.memberships["region"]) == {"unknown"}
    assert data.apps["owner_email"].isna().all()
    assert any("no status column" in n for n in data.info.notes)


def test_json_list_and_other_wrapper_key(tmp_path: Path) -> None:
    rows = '[{"app": "shop", "email": "a@corp.example", "role": "limited collaborator"}]'
    assert len(load_export(_write(tmp_path, "a.json", rows), policy=Policy()).memberships) == 1
    wrapped = '{"meta": {"n": 1}, "items": ' + rows + "}"
    assert len(load_export(_write(tmp_path, "b.json", wrapped), policy=Policy()).memberships) == 1


def test_utf8_bom_and_no_extension(tmp_path: Path) -> None:
    path = _write(tmp_path, "export", "\ufeffApp,Email,Role\nshop,a@corp.example,owner\n".encode())
    data = load_export(path, policy=Policy())
    assert data.apps.loc[0, "owner_email"] == "a@corp.example"


def test_collected_at_is_file_mtime(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.csv", "app,email,role\nshop,a@corp.example,collaborator\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    assert load_export(path, policy=Policy()).info.collected_at == dt.datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC
    )


# --- bad input: one InputError naming the file and the column/field ------------------------


def _error(path: Path) -> sa.InputError:
    with pytest.raises(sa.InputError) as exc:
        sa.load(path)
    assert str(path) in str(exc.value)
    return exc.value


def test_missing_required_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.csv", "Application,Role,Notes\nshop,owner,x\n")
    err = _error(path)
    msg = str(err)
    assert "missing required column 'email'" in msg
    assert "columns found: 'Application', 'Role', 'Notes'" in msg
    assert err.field == "email"


def test_missing_role_column_names_both_choices(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.json", '[{"app": "shop", "email": "a@corp.example"}]')
    msg = str(_error(path))
    assert "'role' (or 'is_limited')" in msg
    assert "'app', 'email'" in msg


def _load_warning(path: Path) -> tuple[sa.AuditData, list[str]]:
    with pytest.warns(DataWarning) as caught:
        data = sa.load(path)
    return data, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def test_unknown_status_keeps_the_row_and_warns_once(tmp_path: Path) -> None:
    """As in a snapshot (sources.py): the row is kept with its status as given, no check
    looks at it, and one warning names the values, bounded."""
    hostile = "=cmd|' /C calc'!A0" + "x" * 5000
    rows = "".join(f"shop,u{i}@corp.example,collaborator,invited\n" for i in range(3))
    path = _write(
        tmp_path,
        "e.csv",
        "App,Email,Role,Status\nshop,a@corp.example,owner,accepted\n"
        f"shop,b@corp.example,collaborator,Pending\n{rows}shop,c@corp.example,collaborator,"
        f"{hostile}\n"
        + "".join(f"shop,v{i}@corp.example,collaborator,new-{i}\n" for i in range(6)),
    )
    data, caught = _load_warning(path)
    assert len(caught) == 1, caught
    msg = caught[0]
    assert str(path) in msg and "10 collaborator row(s)" in msg and "'invited'" in msg
    assert "kept as given" in msg and ", ..." in msg  # 8 values, 5 shown
    assert len(msg) < 1000  # the 5,000-character value is an excerpt
    roles = _roles(data)
    assert roles[("shop", "u0@corp.example")] == ("collaborator", "invited", None)
    assert roles[("shop", "b@corp.example")] == ("collaborator", "pending", None)
    assert roles[("shop", "c@corp.example")][1] == hostile  # data, kept whole
    assert len(data.memberships) == 12
    found = run_checks(data)
    assert not found["email"].isin([f"u{i}@corp.example" for i in range(3)]).any()


def test_unknown_status_in_json_like_a_snapshot(tmp_path: Path) -> None:
    body = {"app": "shop", "email": "a@corp.example", "role": "collaborator", "status": "gone"}
    path = _write(tmp_path, "e.json", json.dumps({"collaborators": [body]}))
    data, caught = _load_warning(path)
    assert data.memberships["status"].tolist() == ["gone"] and len(caught) == 1
    snapshot = tmp_path / "snap"
    _, from_snapshot = _snapshot_warning(snapshot, "gone")
    # the same sentence, but for where it comes from
    assert [m.replace(str(path), "WHERE") for m in caught] == [
        m.replace(str(snapshot), "WHERE") for m in from_snapshot
    ]


def _snapshot_warning(where: Path, status: str) -> tuple[sa.AuditData, list[str]]:
    """A snapshot of one app whose one collaborator has ``status``."""
    from scalingo_audit.snapshot import write

    from .orgs import app, collab, snapshot

    s = snapshot([app("shop")], [collab("shop", "a@corp.example", status=status)])
    return _load_warning(write(s, where))


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ("shop,a@corp.example,admin,yes", "role", "unknown role 'admin'"),
        ("shop,a@corp.example,owner,maybe", "2fa", "unknown 2FA value 'maybe'"),
        ("shop,not-an-email,owner,yes", "email", "not an email address"),
        (",a@corp.example,owner,yes", "app", "missing value"),
    ],
)
def test_bad_values(tmp_path: Path, row: str, field: str, words: str) -> None:
    path = _write(tmp_path, "e.csv", f"app,email,role,2fa\n{row}\n")
    err = _error(path)
    assert err.field == field
    assert err.record is not None and err.record.startswith("row 2")
    assert words in str(err)


def test_two_owners_for_one_app(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "e.csv", "app,email,role\nshop,a@x.example,owner\nshop,b@x.example,owner\n"
    )
    assert "second owner" in str(_error(path))


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("e.csv", 'app,email,role\nshop,"a@corp.example,owner\n', "malformed CSV"),
        ("e.csv", "app,email,role\nshop,a@corp.example,owner,surprise\n", "malformed CSV"),
        ("e.json", '{"collaborators": [{"app": "shop",}]}', "malformed JSON at line 1"),
        ("e.json", '{"a": [], "b": []}', "expected a list of collaborators"),
        ("e.json", '["shop"]', "must be a JSON object"),
        ("e.csv", "", "empty file"),
        ("e.json", "  \n", "empty file"),
        ("e.csv", "app,email,role\n", "no collaborator rows"),
        ("e.csv", b"app,email,role\nshop,caf\xe9@corp.example,owner\n", "not UTF-8"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, content: str | bytes, words: str) -> None:
    path = _write(tmp_path, name, content)
    assert words in str(_error(path))
