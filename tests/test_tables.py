"""tables: the frames the report's tables show, on the demo organisation (the numbers
shown are the numbers in the frames)."""

from __future__ import annotations

import pandas as pd
import pytest

from scalingo_audit import frames, tables
from scalingo_audit.notebook import Audit, open_audit


@pytest.fixture(scope="module")
def audit() -> Audit:
    return open_audit("demo")


def _accepted(audit: Audit) -> pd.DataFrame:
    m = audit.data.memberships
    return m[m["status"] == "accepted"]


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


# --- the same app name in two regions ------------------------------------------------------


def test_tables_keep_the_region_of_an_app_name_in_two_regions():
    from scalingo_audit.checks import run_checks

    from .orgs import app, collab, org

    sec = "osc-secnum-fr1"
    shops = [app("shop"), app("shop", region=sec)]
    people = [collab(s, "dev@agency.example", tfa=False) for s in shops]
    people.append(collab(shops[1], "lim@acme.example", limited=True))
    data = org(shops, people)
    scoped = tables.scope(data, region=sec)
    assert scoped.apps[["region", "app_name"]].values.tolist() == [[sec, "shop"]]
    assert sorted(scoped.memberships["email"]) == [
        "dev@agency.example", "lim@acme.example", "ops@acme.example"
    ]  # fmt: skip
    dev = scoped.people.set_index("email").loc["dev@agency.example"]
    assert dev["full_apps"] == 1  # one app in this region, not the two named shop
    per_region = tables.role_counts(data.memberships, "region")
    assert per_region.loc["osc-fr1", "collaborator"] == per_region.loc[sec, "collaborator"] == 1
    assert per_region.loc[sec, "limited_collaborator"] == 1
    access = tables.person_access(data.memberships, "DEV@agency.example")
    assert sorted(access["region"]) == ["osc-fr1", sec] and set(access["app_name"]) == {"shop"}
    found = tables.person_findings(run_checks(data), "dev@agency.example")
    no_2fa = found[found["check_id"] == "collaborator_without_2fa"]
    assert sorted(no_2fa["region"]) == ["osc-fr1", sec]  # two rows a reader can tell apart


@pytest.mark.parametrize(
    "index, columns",
    [
        (["b", "a", "b", None, "c"], ["x", "y", "x", "y", None]),
        (["a", "a"], ["owner", "collaborator"]),
        ([], []),
        ([None, None], ["x", "y"]),
    ],
)
@pytest.mark.parametrize("dtype", [frames.TEXT, object])
@pytest.mark.parametrize("names", [("app_name", "role"), (None, None)])
def test_crosstab_is_pandas_crosstab(index, columns, dtype, names):
    """tables.crosstab counts with one groupby instead of pd.crosstab's Python len per
    group; the same frame comes out (values, order, labels, names, dtypes), missing values
    left out."""
    i = pd.Series(index, dtype=dtype, name=names[0], index=range(10, 10 + len(index)))
    c = pd.Series(columns, dtype=dtype, name=names[1], index=i.index)
    pd.testing.assert_frame_equal(tables.crosstab(i, c), pd.crosstab(i, c))


@pytest.mark.parametrize("dropna", [True, False])
def test_per_group_text_is_what_pandas_agg_gives(dropna: bool) -> None:
    """tables._per_group against ``g[column].agg``: the same groups, in the same order, with
    missing keys (their own group with ``dropna=False``) and missing values (left out)."""
    frame = pd.DataFrame(
        {
            "a": pd.array(["x", None, "y", "x", None, "z"], dtype="string"),
            "b": pd.array(["r", "s", None, "t", "s", None], dtype="string"),
            "v": pd.array(["2", "1", "3", None, "0", "9"], dtype="string"),
        }
    )
    g = frame.groupby(["a", "b"], sort=False, dropna=dropna)
    expected = g["v"].agg(lambda s: ",".join(sorted(s.dropna())))
    got = tables._per_group(g, "v", lambda vs: ",".join(sorted(vs)))
    pd.testing.assert_series_equal(got, expected.astype("string"), check_names=False)
