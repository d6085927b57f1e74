"""Charts and tables on the demo organisation: the numbers drawn are the numbers in the frames."""

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
    assert "not exposed" in fig.layout.title.text


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


# --- tables ------------------------------------------------------------------------------


def test_tfa_state_never_turns_unknown_into_off(audit):
    m = audit.data.memberships
    state = tables.tfa_state(m)
    assert set(state[m["tfa"].isna() & (m["role"] != "owner")]) == {"unknown"}
    assert set(state[(m["role"] == "owner") & m["tfa"].isna()]) == {"not exposed"}
    assert set(state[(m["role"] == "owner") & m["tfa"].notna()]) == {"off"}  # the collector's own
    assert (state == "off").sum() == (m["tfa"] == False).sum()  # noqa: E712


def test_chase_list_puts_full_role_people_first(audit):
    chase = tables.tfa_chase_list(audit.data, top=1000)
    assert set(chase["2FA"]) == {"off", "unknown"}
    full = (chase["full_apps"] > 0).tolist()
    assert full == sorted(full, reverse=True)  # all full-role people before the others
    first_block = chase[chase["full_apps"] > 0]["2FA"].tolist()
    assert first_block == sorted(first_block, key=lambda s: s != "off")
    assert len(tables.tfa_chase_list(audit.data, top=3)) == 3
    # every person with an accepted collaborator membership with 2FA off is listed
    m = _accepted(audit)
    off = set(m[(m["role"] != "owner") & (m["tfa"] == False)]["email"])  # noqa: E712
    assert off <= set(chase["email"])


def test_downgrade_commands_reuse_the_remediation(audit):
    f = audit.findings
    down = tables.downgrade_commands(f)
    assert len(down) > 0
    assert down["command"].is_unique
    for r in down.itertuples():
        assert r.command.startswith(
            f"scalingo --region {r.region} --app {r.app} collaborators-update --limited=true "
        )
        assert any(r.command in rem for rem in f["remediation"].dropna())
    # the muted exception (lea.martin on shop-api) is not asked to be downgraded there
    assert not (
        (down["app"] == "shop-api") & (down["email"] == "lea.martin@webagency.example")
    ).any()
    assert list(down["severity"]) == sorted(
        down["severity"], key=["high", "medium", "low", "info"].index
    )


def test_external_and_no_2fa_full_role(audit):
    ext = tables.external_full_role(audit.data)
    assert len(ext) > 0 and not ext["email"].str.endswith("@acme.example").any()
    no2fa = tables.full_role_without_tfa(audit.data, top=1000)
    assert set(no2fa["2FA"]) == {"off"}
    assert len(no2fa) == (audit.findings["check_id"] == "collaborator_without_2fa").sum()


def test_findings_tables_split_muted_and_expired(audit):
    f = audit.findings
    overview = tables.findings_overview(f)
    assert overview["open"].sum() + overview["muted"].sum() == len(f)
    assert len(tables.findings_list(f, muted=True)) == int(f["muted"].sum())
    assert len(tables.findings_list(f, top=10)) == 10
    exc = tables.exceptions_status(audit.data.policy, f, audit.as_of)
    expired = exc[exc["state"].str.startswith("expired")]
    assert len(expired) == len(audit.expired) == 1
    assert expired["state"].iloc[0].endswith("mutes nothing")
    assert expired["findings muted"].iloc[0] == 0


def test_scope_recomputes_people(audit):
    scoped = tables.scope(audit.data, region="osc-secnum-fr1")
    assert set(scoped.memberships["region"]) == {"osc-secnum-fr1"}
    assert set(scoped.apps["region"]) == {"osc-secnum-fr1"}
    assert (
        scoped.people["full_apps"].sum()
        == (
            (scoped.memberships["role"] == "collaborator")
            & (scoped.memberships["status"] == "accepted")
        ).sum()
    )
    f = tables.scope_findings(audit.findings, scoped)
    assert 0 < len(f) < len(audit.findings)
    assert tables.scope(audit.data) is audit.data


def test_source_line(audit):
    line = tables.source_line(audit.data.info, audit.as_of)
    assert line.startswith("Data: demo")
    assert "collected at 2026-11-01" in line and "ops@acme.example" in line
    assert tables.coverage_gaps(audit.data.info).empty


def test_source_markdown_lists_gaps(audit):
    from dataclasses import replace

    line = tables.source_line(audit.data.info)
    assert tables.source_markdown(audit.data.info) == tables.markdown_escape(line)
    gaps = tuple(
        {
            "region": "osc-fr1",
            "app": f"app-{i}",
            "request": "GET /v1/apps/x/collaborators",
            "status": 403,
            "error": "forbidden",
        }
        for i in range(12)
    )
    info = replace(audit.data.info, gaps=gaps)
    text = tables.source_markdown(info, top=10)
    assert "Coverage gaps: 12 request(s) failed" in text
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    html = markdown2html_mistune(text)  # values are escaped: check the rendered text
    assert "osc-fr1 / app-0: <code>GET /v1/apps/x/collaborators</code> → 403 (forbidden)" in html
    assert "and 2 more" in text
    assert len(tables.coverage_gaps(info)) == 12
