"""Charts for the reports and the explorer: pure functions returning plotly figures.

Nothing here displays anything: a notebook shows a figure with ``fig.show()``
after :func:`scalingo_audit.notebook.setup_display` (which embeds plotly.js so
the exported HTML draws offline). The numbers come from
:mod:`scalingo_audit.tables`, so a chart and its table always agree.

Each trace carries its key in ``meta`` (a role, a 2FA state, a check id) so
tests and callers can find it whatever its display label.

Names from the data (apps, projects, regions, emails) become category labels through
:func:`safe_label`, which escapes them: plotly renders a subset of HTML in any text it draws
(``<b>``, ``<br>``, ``<a href>``...), so an app named ``<b>x</b>`` would otherwise show as
bold ``x``. Very long names are shortened on the axis only; hover text shows them whole.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from . import tables
from .frames import ROLE_LABELS, ROLES, SEVERITIES
from .model import AuditData

ROLE_COLORS = {
    "owner": "#3b3b98",
    "collaborator": "#e17055",
    "limited_collaborator": "#74b9ff",
}
TFA_COLORS = {
    "on": "#00b894",
    "off": "#d63031",
    "unknown": "#b2bec3",
    "not exposed": "#dfe6e9",
}
TFA_LABELS = {
    "on": "2FA on",
    "off": "2FA off",
    "unknown": "2FA unknown",
    "not exposed": "not exposed (owners)",
}
SEVERITY_COLORS = {"high": "#d63031", "medium": "#e17055", "low": "#fdcb6e", "info": "#b2bec3"}
OWNER_COLORS = {"service account": "#00b894", "personal": "#e17055"}
CHECK_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363", "#9c9ede", "#cedb9c", "#e7ba52", "#e7969c",
)  # fmt: skip
"""Distinct colours for the findings chart: each check its own (in catalogue order)."""


def check_colors() -> dict[str, str]:
    """One colour per check id of the catalogue, never two checks alike while the palette
    lasts (then it cycles)."""
    from .checks import CHECKS

    return {cid: CHECK_PALETTE[i % len(CHECK_PALETTE)] for i, cid in enumerate(CHECKS)}


_BY_LABELS = {
    "region": "Region",
    "project_name": "Project",
    "app_name": "App",
    "role": "Role",
    "email": "Person",
}


def role_distribution(
    memberships: pd.DataFrame,
    by: str | None = None,
    *,
    top: int = 25,
    statuses: tuple[str, ...] = ("accepted",),
) -> go.Figure:
    """Memberships per role: one bar per role, or with ``by`` (``region``, ``project_name``,
    ``app_name``) one stacked bar per value, the ``top`` largest shown."""
    what = "accepted memberships" if statuses == ("accepted",) else "memberships"
    if by is None:
        counts = tables.role_counts(memberships, statuses=statuses).iloc[0]
        fig = go.Figure(
            [
                go.Bar(
                    x=[ROLE_LABELS[r] for r in ROLES],
                    y=[int(counts[r]) for r in ROLES],
                    marker_color=[ROLE_COLORS[r] for r in ROLES],
                    text=[int(counts[r]) for r in ROLES],
                    meta="all",
                    name="memberships",
                    hovertemplate="%{x}: %{y}<extra></extra>",
                )
            ]
        )
        return _layout(
            fig, f"Role distribution ({int(counts.sum())} {what})", "Role", f"Number of {what}"
        )
    table = tables.role_counts(memberships, by, statuses=statuses)
    total = len(table)
    shown = table.head(top)
    traces = {r: ROLE_LABELS[r] for r in ROLES}
    fig = _stacked_h(shown, traces, ROLE_COLORS)
    label = _BY_LABELS.get(by, by)
    return _layout(
        fig,
        f"Roles per {label.lower()}{_top_note(len(shown), total, label.lower() + 's')}",
        f"Number of {what}",
        label,
        rows=len(shown),
    )


def owner_kinds(data: AuditData) -> go.Figure:
    """Apps per region, split by who owns them: a listed service account or a personal
    account (Scalingo recommends a dedicated service account as Owner)."""
    table = tables.owner_counts(data)
    fig = go.Figure(
        [
            go.Bar(
                x=[safe_label(r) for r in table.index],
                y=[int(v) for v in table[kind]],
                name=kind,
                meta=kind,
                marker_color=OWNER_COLORS[kind],
                text=[int(v) for v in table[kind]],
            )
            for kind in table.columns
        ]
    )
    fig.update_layout(barmode="stack")
    note = "" if data.policy.service_accounts else " (no service account listed in the policy)"
    return _layout(fig, f"App owners: service account or personal{note}", "Region", "Apps")


def tfa_by_role(memberships: pd.DataFrame) -> go.Figure:
    """2FA of accepted collaborators per role: on, off and unknown kept apart (owners are
    left out: the API does not expose their 2FA)."""
    table = tables.tfa_counts(memberships, "role")
    table.index = [ROLE_LABELS[r] for r in table.index]
    states = {s: TFA_LABELS[s] for s in tables.TFA_STATES[:3]}
    fig = _stacked_h(table, states, TFA_COLORS)
    return _layout(
        fig,
        "2FA of accepted collaborators, by role (owners aside: the API reports only the "
        "collector's)",
        "Accepted memberships",
        "Role",
        rows=len(table),
    )


def tfa_by_app(memberships: pd.DataFrame, *, top: int = 25) -> go.Figure:
    """2FA of accepted collaborators per app, the apps with the most gaps (off, then unknown)
    first; only apps with at least one gap are shown."""
    table = tables.tfa_counts(memberships, "app_name")
    table = table[(table["off"] + table["unknown"]) > 0]
    shown = table.head(top)
    states = {s: TFA_LABELS[s] for s in tables.TFA_STATES[:3]}
    fig = _stacked_h(shown, states, TFA_COLORS)
    return _layout(
        fig,
        "Apps with collaborators whose 2FA is off or unknown"
        + _top_note(len(shown), len(table), "apps"),
        "Accepted collaborator memberships",
        "App",
        rows=len(shown),
    )


def full_role_breadth(data: AuditData, *, top: int = 25) -> go.Figure:
    """People ranked by the number of apps on which they hold the full Collaborator role,
    coloured by their 2FA state."""
    ranking = tables.full_role_ranking(data, top=len(data.people))
    shown = ranking.head(top)
    fig = go.Figure()
    for state in tables.TFA_STATES[:3]:
        part = shown[shown["2FA"] == state]
        fig.add_bar(
            y=[safe_label(e) for e in part["email"]],
            x=[int(v) for v in part["full_apps"]],
            orientation="h",
            name=TFA_LABELS[state],
            meta=state,
            marker_color=TFA_COLORS[state],
            text=[int(v) for v in part["full_apps"]],
        )
    _categories(fig, list(shown["email"]))
    limit = data.policy.thresholds.max_full_apps
    fig.add_vline(
        x=limit + 0.5,
        line_dash="dash",
        line_color="#636e72",
        annotation_text=f"policy: more than {limit} apps",
    )
    return _layout(
        fig,
        "People ranked by full Collaborator role breadth"
        + _top_note(len(shown), len(ranking), "people"),
        "Apps with the full Collaborator role (accepted)",
        "Person",
        rows=len(shown),
    )


def findings_by_severity(findings: pd.DataFrame) -> go.Figure:
    """Open (unmuted) findings per severity, stacked by check."""
    open_ = findings[~findings["muted"].fillna(False).astype(bool)]
    counts = tables.crosstab(open_["check_id"], open_["severity"]).reindex(
        columns=list(SEVERITIES), fill_value=0
    )
    colors = check_colors()
    fig = go.Figure(
        [
            go.Bar(
                x=list(SEVERITIES),
                y=[int(v) for v in counts.loc[check]],
                name=check,
                meta=check,
                marker_color=colors.get(str(check), "#7f7f7f"),
                hovertemplate=f"{check}: %{{y}}<extra></extra>",
            )
            for check in counts.index
        ]
    )
    fig.update_layout(barmode="stack")
    muted = len(findings) - len(open_)
    note = f"; {muted} muted by policy exceptions, not shown" if muted else ""
    return _layout(fig, f"Open findings by severity ({len(open_)}{note})", "Severity", "Findings")


def access_overview(memberships: pd.DataFrame) -> go.Figure:
    """Memberships (any status) per role, stacked by 2FA state, owners' 2FA shown as not
    exposed: the explorer's chart."""
    state = tables.tfa_state(memberships)
    table = tables.crosstab(memberships["role"], state).reindex(
        index=list(ROLES), columns=list(tables.TFA_STATES), fill_value=0
    )
    table.index = [ROLE_LABELS[r] for r in table.index]
    fig = _stacked_h(table, TFA_LABELS, TFA_COLORS)
    return _layout(
        fig,
        f"Selected memberships by role and 2FA ({len(memberships)})",
        "Memberships",
        "Role",
        rows=len(table),
    )


# --- over time (a history of snapshots, see history.trends) ------------------------------


def shares_over_time(trend: pd.DataFrame) -> go.Figure:
    """2FA coverage and the share of full Collaborators per snapshot (``history.trends``)."""
    fig = go.Figure()
    for col, label, color in (
        ("tfa_coverage", "2FA on (of known)", TFA_COLORS["on"]),
        ("full_collaborator_share", "full Collaborators", ROLE_COLORS["collaborator"]),
    ):
        fig.add_trace(
            go.Scatter(
                x=trend["collected_at"],
                y=[None if pd.isna(v) else float(v) for v in trend[col]],
                name=label,
                meta=col,
                mode="lines+markers",
                line={"color": color},
                hovertemplate=f"{label}: %{{y:.0%}}<extra></extra>",
            )
        )
    fig = _layout(
        fig, f"2FA coverage and full Collaborators ({len(trend)} snapshots)", "Collected", "Share"
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return fig


def findings_over_time(trend: pd.DataFrame) -> go.Figure:
    """Open (unmuted) findings per snapshot, stacked by severity (``history.trends``)."""
    fig = go.Figure(
        [
            go.Bar(
                x=trend["collected_at"],
                y=[int(v) for v in trend[f"findings_{s}"]],
                name=s,
                meta=s,
                marker_color=SEVERITY_COLORS[s],
                hovertemplate=f"{s}: %{{y}}<extra></extra>",
            )
            for s in SEVERITIES
        ]
    )
    fig.update_layout(barmode="stack")
    return _layout(fig, "Open findings by severity over time", "Collected", "Findings")


# --- helpers -----------------------------------------------------------------------------


def _stacked_h(table: pd.DataFrame, traces: dict[str, str], colors: dict[str, str]) -> go.Figure:
    """One horizontal stacked bar per row of ``table``, one trace per column in ``traces``
    (key: column, value: legend label), first row on top."""
    labels = [safe_label(i) for i in table.index]
    fig = go.Figure(
        [
            go.Bar(
                y=labels,
                x=[int(v) for v in table[col]],
                orientation="h",
                name=label,
                meta=col,
                marker_color=colors.get(col),
                hovertemplate=f"%{{y}}: %{{x}} {label}<extra></extra>",
            )
            for col, label in traces.items()
            if col in table.columns
        ]
    )
    fig.update_layout(barmode="stack")
    _categories(fig, list(table.index))
    return fig


def safe_label(value: object) -> str:
    """A name from the data as plotly text: ``&``, ``<`` and ``>`` as entities (the only
    ones plotly decodes), so it shows as typed and no tag or link in it takes effect."""
    return html.escape(str(value), quote=False)


LABEL_MAX = 60
"""Longest category label drawn on an axis (in characters); hover text shows it whole."""


def _categories(fig: go.Figure, names: list[object]) -> None:
    """The y axis lists ``names`` (escaped with :func:`safe_label`) in order, first on top; a name
    longer than :data:`LABEL_MAX` is shortened on the axis only."""
    values = [safe_label(n) for n in names]
    short = [safe_label(_shorten(str(n))) for n in names]
    fig.update_yaxes(categoryorder="array", categoryarray=values, autorange="reversed")
    if short != values:
        fig.update_yaxes(tickmode="array", tickvals=values, ticktext=short)


def _shorten(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _layout(
    fig: go.Figure, title: str, xlabel: str, ylabel: str, *, rows: int | None = None
) -> go.Figure:
    height = max(320, 120 + 24 * rows) if rows else 420
    fig.update_layout(
        title=title,
        xaxis_title=xlabel,
        yaxis_title=ylabel,
        height=height,
        template="plotly_white",
        legend_title_text="",
        legend_traceorder="normal",
        margin={"l": 10, "r": 10, "t": 60, "b": 40},
    )
    return fig


def _top_note(shown: int, total: int, what: str) -> str:
    return f" (top {shown} of {total} {what})" if total > shown else ""


__all__ = [
    "LABEL_MAX",
    "access_overview",
    "findings_by_severity",
    "findings_over_time",
    "full_role_breadth",
    "owner_kinds",
    "role_distribution",
    "safe_label",
    "shares_over_time",
    "tfa_by_app",
    "tfa_by_role",
]
