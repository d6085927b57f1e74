"""The explorer's logic, driven by setting widget values as an analyst would."""

from __future__ import annotations

import pytest

from scalingo_audit.explorer import Explorer
from scalingo_audit.notebook import Audit, open_audit


@pytest.fixture(scope="module")
def audit() -> Audit:
    return open_audit("demo")


@pytest.fixture
def explorer(audit) -> Explorer:
    return Explorer(audit)


def _figure_total(fig) -> int:
    return int(sum(sum(t.x) for t in fig.data))


def test_no_filter_shows_everything(explorer, audit):
    assert len(explorer.filtered()) == len(audit.data.memberships)
    assert f"{len(audit.data.memberships)} memberships" in explorer.table.value


def test_role_filter_changes_table_and_figure(explorer, audit):
    before = explorer.current_figure.to_dict()
    explorer.widgets["role"].value = "limited_collaborator"
    rows = explorer.filtered()
    m = audit.data.memberships
    assert set(rows["role"]) == {"limited_collaborator"}
    assert len(rows) == (m["role"] == "limited_collaborator").sum()
    assert explorer.current_figure.to_dict() != before
    assert _figure_total(explorer.current_figure) == len(rows)
    assert _figure_total(explorer.figure()) == len(rows)
    assert (
        "collaborator" in explorer.table.value
        and f"{len(rows)} memberships" in explorer.table.value
    )


@pytest.mark.parametrize(
    ("widget", "value", "column", "expected"),
    [
        ("region", "osc-secnum-fr1", "region", {"osc-secnum-fr1"}),
        ("project", "health", "project_name", {"health"}),
        ("status", "pending", "status", {"pending"}),
        ("tfa", "off", "tfa", {False}),
        ("internal", "external", "internal", {False}),
    ],
)
def test_each_filter(explorer, widget, value, column, expected):
    explorer.widgets[widget].value = value
    rows = explorer.filtered()
    assert len(rows) > 0
    assert set(rows[column]) == expected


def test_tfa_unknown_is_not_off(explorer, audit):
    explorer.widgets["tfa"].value = "unknown"
    rows = explorer.filtered()
    assert rows["tfa"].isna().all()
    assert "owner" not in set(rows["role"])  # owners are "not exposed", not unknown
    explorer.widgets["tfa"].value = "not exposed"
    assert set(explorer.filtered()["role"]) == {"owner"}


def test_filters_combine(explorer, audit):
    explorer.widgets["role"].value = "collaborator"
    explorer.widgets["tfa"].value = "off"
    explorer.widgets["status"].value = "accepted"
    rows = explorer.filtered()
    n = (audit.findings["check_id"] == "collaborator_without_2fa").sum()
    assert len(rows) == n


def test_app_filter_exact_name_or_fragment(explorer):
    explorer.widgets["app"].value = "shop-api"
    assert set(explorer.filtered()["app_name"]) == {"shop-api"}
    explorer.widgets["app"].value = "SHOP-"
    apps = set(explorer.filtered()["app_name"])
    assert len(apps) > 1 and all(a.startswith("shop-") for a in apps)


def test_region_narrows_project_and_app_choices(explorer, audit):
    explorer.widgets["project"].value = "shop"
    explorer.widgets["region"].value = "osc-secnum-fr1"
    apps = audit.data.apps
    secnum = apps[apps["region"] == "osc-secnum-fr1"]
    projects = {v for _label, v in explorer.widgets["project"].options} - {""}
    assert projects == set(secnum["project_name"].dropna())
    if "shop" not in projects:
        assert explorer.widgets["project"].value == ""
    assert set(explorer.widgets["app"].options) <= set(secnum["app_name"])


def test_no_match_says_so(explorer):
    explorer.widgets["app"].value = "no-such-app"
    assert explorer.filtered().empty
    assert "No membership matches" in explorer.table.value


def test_person_picker_shows_exactly_their_access_and_findings(explorer, audit):
    explorer.widgets["role"].value = "owner"  # filters do not narrow a person's view
    explorer.widgets["person"].value = "Paul.Clement@ACME.example"
    key = "paul.clement@acme.example"
    m = audit.data.memberships
    theirs = m[m["email_key"] == key]
    access = explorer.person_access()
    assert explorer.selected_person() == key
    assert sorted(access["app_name"]) == sorted(theirs["app_name"])
    assert len(access) == len(theirs) > 0
    found = explorer.person_findings()
    assert len(found) == (audit.findings["email"].str.lower() == key).sum() > 0
    assert key in explorer.person.value and "shop-api" in explorer.person.value


def test_unknown_person(explorer):
    explorer.widgets["person"].value = "nobody@nowhere.example"
    assert explorer.selected_person() is None
    assert explorer.person_access().empty
    assert "No one" in explorer.person.value


def test_reset(explorer, audit):
    explorer.widgets["role"].value = "owner"
    explorer.widgets["person"].value = "ops@acme.example"
    explorer.reset()
    assert len(explorer.filtered()) == len(audit.data.memberships)
    assert explorer.person.value == ""


def test_ui_builds(explorer):
    ui = explorer.ui
    assert explorer.widgets["role"] in ui.children[0].children[1].children


def test_counts_agree_with_the_report_and_check(audit: Audit) -> None:
    """The explorer, the report's index and ``check`` count the same memberships the same
    way: every membership, then the accepted collaborator ones (the index's 2FA figures)."""
    import re

    from scalingo_audit import output

    s = audit.data.summary()
    text = Explorer(audit).summary.value
    m = re.search(r"^(\d+) memberships .*, (\d+) people, (\d+) apps\.", text)
    assert m and [int(g) for g in m.groups()] == [s["memberships"], s["people"], s["apps"]]
    m = re.search(r"(\d+) accepted collaborator memberships, (\d+) with 2FA unknown", text)
    assert m and [int(g) for g in m.groups()] == [s["accepted_collaborators"], s["tfa_unknown"]]
    person = audit.findings["email"].dropna().iloc[0]
    ex = Explorer(audit)
    ex.widgets["person"].value = person
    mine = audit.findings[audit.findings["email"].str.lower() == person.lower()]
    assert len(ex.person_findings()) == len(mine)
    assert sum(output.severity_counts(audit.findings).values()) == int(
        (~audit.findings["muted"].astype(bool)).sum()
    )
