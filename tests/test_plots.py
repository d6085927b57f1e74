"""Charts on the demo organisation: the numbers drawn are the numbers in the frames."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from scalingo_audit import plots, tables
from scalingo_audit.notebook import Audit, open_audit


@pytest.fixture(scope="module")
def audit() -> Audit:
    return open_audit("demo")


def _totals(fig: go.Figure) -> dict[str, int]:
    """Sum of each trace's values, keyed by the trace's ``meta``."""
    return {t.meta: int(sum(t.x if t.orientation == "h" else t.y)) for t in fig.data}


def _accepted(audit: Audit) -> pd.DataFrame:
    m = audit.data.memberships
    return m[m["status"] == "accepted"]


def test_overall_roles_match_memberships(audit):
    fig = plots.role_distribution(audit.data.memberships)
    bar = fig.data[0]
    expected = _accepted(audit)["role"].value_counts()
    assert list(bar.y) == [
        int(expected[r]) for r in ("owner", "collaborator", "limited_collaborator")
    ]
    assert list(bar.x) == ["Owner", "Collaborator (full)", "Limited Collaborator"]
    assert "accepted memberships" in fig.layout.title.text


@pytest.mark.parametrize("by", ["region", "project_name", "app_name"])
def test_roles_per_group_stack_to_the_role_counts(audit, by):
    fig = plots.role_distribution(audit.data.memberships, by, top=1000)
    assert fig.layout.barmode == "stack"
    assert _totals(fig) == _accepted(audit)["role"].value_counts().to_dict()
    groups = set(fig.data[0].y)
    assert groups == set(_accepted(audit)[by].dropna())


def test_roles_per_app_is_cut_to_top_and_says_so(audit):
    fig = plots.role_distribution(audit.data.memberships, "app_name", top=10)
    assert all(len(t.y) == 10 for t in fig.data)
    n_apps = _accepted(audit)["app_name"].nunique()
    assert f"top 10 of {n_apps} apps" in fig.layout.title.text
    # the largest app comes first
    sizes = _accepted(audit).groupby("app_name").size()
    assert fig.data[0].y[0] in set(sizes[sizes == sizes.max()].index)


def test_owner_kinds_split_apps_by_service_account(audit):
    fig = plots.owner_kinds(audit.data)
    totals = _totals(fig)
    service = audit.data.apps["owner_email"].str.lower().isin(audit.data.policy.service_accounts)
    assert totals == {"service account": int(service.sum()), "personal": int((~service).sum())}
    assert totals["personal"] > 0


def test_tfa_by_role_keeps_unknown_apart_and_leaves_owners_out(audit):
    fig = plots.tfa_by_role(audit.data.memberships)
    collab = _accepted(audit)
    collab = collab[collab["role"] != "owner"]
    totals = _totals(fig)
    assert totals["on"] == int((collab["tfa"] == True).sum())  # noqa: E712
    assert totals["off"] == int((collab["tfa"] == False).sum())  # noqa: E712
    assert totals["unknown"] == int(collab["tfa"].isna().sum()) > 0
    assert "Owner" not in set(fig.data[0].y)
    assert "owners aside: the API reports only the collector's" in fig.layout.title.text


def test_tfa_by_app_shows_only_apps_with_gaps_worst_first(audit):
    fig = plots.tfa_by_app(audit.data.memberships, top=5)
    off = next(t for t in fig.data if t.meta == "off")
    unknown = next(t for t in fig.data if t.meta == "unknown")
    assert all(o + u > 0 for o, u in zip(off.x, unknown.x, strict=True))
    assert list(off.x) == sorted(off.x, reverse=True)
    assert "top 5 of" in fig.layout.title.text


def test_full_role_breadth_ranks_people(audit):
    fig = plots.full_role_breadth(audit.data, top=5)
    bars = {y: x for t in fig.data for y, x in zip(t.y, t.x, strict=True)}
    people = audit.data.people.set_index("email")
    assert len(bars) == 5
    for email, n in bars.items():
        assert n == people.loc[email, "full_apps"]
    assert max(bars.values()) == int(people["full_apps"].max())
    top_person = fig.layout.yaxis.categoryarray[0]
    assert bars[top_person] == max(bars.values())


def test_findings_by_severity_counts_open_findings(audit):
    f = audit.findings
    fig = plots.findings_by_severity(f)
    open_ = f[~f["muted"]]
    per_severity = {s: 0 for s in ("high", "medium", "low", "info")}
    for t in fig.data:
        for s, y in zip(t.x, t.y, strict=True):
            per_severity[s] += y
    assert per_severity == tables.severity_counts(f).to_dict()
    assert sum(per_severity.values()) == len(open_)
    assert _totals(fig) == open_["check_id"].value_counts().to_dict()
    assert "1 muted" in fig.layout.title.text
    colours = [t.marker.color for t in fig.data]
    assert len(set(colours)) == len(colours) == open_["check_id"].nunique()  # one per check
    assert len(set(plots.check_colors().values())) == len(plots.check_colors())


def test_access_overview_counts_every_membership(audit):
    m = audit.data.memberships
    totals = _totals(plots.access_overview(m))
    assert sum(totals.values()) == len(m)
    assert totals["not exposed"] == int(((m["role"] == "owner") & m["tfa"].isna()).sum())


def test_figures_are_json_serialisable(audit):
    d = audit.data
    for fig in (
        plots.role_distribution(d.memberships, "project_name"),
        plots.owner_kinds(d),
        plots.tfa_by_app(d.memberships),
        plots.full_role_breadth(d),
        plots.findings_by_severity(audit.findings),
    ):
        assert fig.layout.title.text
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
        fig.to_json()
