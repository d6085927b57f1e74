"""An interactive explorer for analysts (JupyterLab): filter memberships, pick a person.

All the logic is in :class:`Explorer`, testable without a browser: set a
widget's value (``explorer.widgets["role"].value = "collaborator"``) and read
:meth:`Explorer.filtered`, :meth:`Explorer.figure`, :attr:`Explorer.current_figure`
or the HTML widgets. The chart is a plain plotly ``go.Figure`` drawn into an
``ipywidgets.Output`` (``FigureWidget`` would need ``anywidget``) with plotly's
mimetype renderer, which JupyterLab draws through the extension plotly ships.

Widgets do not render in static HTML without the internet, so the explorer
is for live sessions only; the auditors' report does not use it.

    from scalingo_audit.explorer import Explorer
    Explorer(open_audit("demo"))   # the last expression of a cell displays it
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import pandas as pd
import plotly.graph_objects as go

from . import htmltable, plots, tables
from .frames import ROLE_LABELS, ROLES, STATUSES
from .notebook import Audit

ANY = ""
"""The value of every filter that is not set."""

FILTERS = ("region", "project", "app", "role", "status", "tfa", "internal")
"""Widgets that filter the memberships; ``person`` picks whom to show in detail."""

TABLE_COLUMNS = [
    "region",
    "project_name",
    "app_name",
    "email",
    "role",
    "status",
    "2FA",
    "internal",
]


class Explorer:
    """Filters over an audit's memberships, a table and a chart that follow them, and a
    person picker showing all of one person's access and findings.

    ``rows`` caps the table (the chart always counts every selected row).
    """

    def __init__(self, audit: Audit, *, rows: int = 50) -> None:
        self.audit = audit
        self.rows = rows
        m = audit.data.memberships
        self._memberships = m.assign(**{"2FA": tables.tfa_state(m)})
        self._people = frozenset(self._memberships["email_key"].dropna())
        self.widgets: dict[str, Any] = {
            "region": W.Dropdown(description="Region", options=self._choices("region", "All")),
            "project": W.Dropdown(
                description="Project", options=self._choices("project_name", "All")
            ),
            "app": W.Combobox(
                description="App",
                placeholder="any app (type to search)",
                options=self._names("app_name"),
                ensure_option=False,
            ),
            "role": W.Dropdown(
                description="Role",
                options=[("Any", ANY), *[(ROLE_LABELS[r], r) for r in ROLES]],
            ),
            "status": W.Dropdown(
                description="Status", options=[("Any", ANY), *[(s, s) for s in STATUSES]]
            ),
            "tfa": W.Dropdown(
                description="2FA",
                options=[("Any", ANY), *[(plots.TFA_LABELS[s], s) for s in tables.TFA_STATES]],
            ),
            "internal": W.Dropdown(
                description="Domain",
                options=[("Any", ANY), ("internal", "internal"), ("external", "external")],
            ),
            "person": W.Combobox(
                description="Person",
                placeholder="email (type to search)",
                options=self._names("email_key"),
                ensure_option=False,
            ),
        }
        self.reset_button = W.Button(description="Reset filters", icon="undo")
        self.summary = W.HTML()
        self.table = W.HTML()
        self.person = W.HTML()
        self.chart = W.Output()
        self.current_figure: go.Figure = go.Figure()
        for name, widget in self.widgets.items():
            widget.observe(self._on_change, names="value")
            widget.layout = W.Layout(width="auto") if name in ("app", "person") else widget.layout
            widget.add_class(f"sa-{name}")  # stable CSS selectors (tests/test_jupyterlab.py)
        self.reset_button.add_class("sa-reset")
        self.summary.add_class("sa-summary")
        self.table.add_class("sa-explorer-table")
        self.person.add_class("sa-person-panel")
        self.chart.add_class("sa-chart")
        self.reset_button.on_click(lambda _b: self.reset())
        self.refresh()

    # --- the logic ---------------------------------------------------------------------

    def filters(self) -> dict[str, str]:
        """The current filter values (``""`` = not set)."""
        return {name: str(self.widgets[name].value or ANY).strip() for name in FILTERS}

    def filtered(self) -> pd.DataFrame:
        """The memberships that pass every filter, in the memberships schema plus a ``2FA``
        column (``on``, ``off``, ``unknown``, ``not exposed``)."""
        m = self._memberships
        f = self.filters()
        keep = pd.Series(True, index=m.index)
        for name, column in (
            ("region", "region"),
            ("project", "project_name"),
            ("role", "role"),
            ("status", "status"),
            ("tfa", "2FA"),
        ):
            if f[name]:
                keep &= (m[column] == f[name]).fillna(False)
        if f["app"]:
            keep &= self._app_match(f["app"])
        if f["internal"]:
            keep &= (m["internal"] == (f["internal"] == "internal")).fillna(False)
        return m[keep].reset_index(drop=True)

    def figure(self) -> go.Figure:
        """The chart of the selected memberships: per role, stacked by 2FA state."""
        return plots.access_overview(self.filtered())

    def selected_person(self) -> str | None:
        """The picked person's lower-cased email, when it names someone in the data."""
        key = str(self.widgets["person"].value or "").strip().lower()
        return key if key and key in self._people else None

    def person_access(self) -> pd.DataFrame:
        """All memberships of the picked person (whatever the filters), empty when none."""
        key = self.selected_person()
        return tables.person_access(self._memberships, key or "\0")

    def person_findings(self) -> pd.DataFrame:
        """All findings about the picked person, muted ones included."""
        key = self.selected_person()
        return tables.person_findings(self.audit.findings, key or "\0")

    def reset(self) -> None:
        """Clear every filter and the person picker."""
        for widget in self.widgets.values():
            widget.value = ANY

    # --- the display -------------------------------------------------------------------

    def refresh(self) -> None:
        """Recompute the table, summary, chart and person panel from the widgets."""
        self._refresh_memberships()
        self._refresh_person()

    def _refresh_memberships(self) -> None:
        """The table, summary and chart (they follow the filters, not the person)."""
        rows = self.filtered()
        self.summary.value = self._summary_html(rows)
        shown = rows[TABLE_COLUMNS].head(self.rows)
        self.table.value = (
            f"<b>{len(rows)} memberships</b>"
            + _html_table(shown, total=len(rows), rest="narrow the filters to see the others")
            if len(rows)
            else "<i>No membership matches these filters.</i>"
        )
        self.current_figure = plots.access_overview(rows)
        self._draw(self.current_figure)

    def _refresh_person(self) -> None:
        """The person panel (it follows the person picker, whatever the filters)."""
        self.person.value = self._person_html()

    @property
    def ui(self) -> W.Widget:
        """The whole explorer as one widget."""
        w = self.widgets
        filters = W.VBox(
            [
                W.HBox([w["region"], w["project"], w["app"]]),
                W.HBox([w["role"], w["status"], w["tfa"], w["internal"]]),
                W.HBox([self.reset_button]),
            ]
        )
        person = W.VBox([w["person"], self.person])
        tabs = W.Tab(children=[W.VBox([self.summary, self.chart, self.table]), person])
        tabs.set_title(0, "Memberships")
        tabs.set_title(1, "Person")
        return W.VBox([filters, tabs]).add_class("sa-explorer")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.ui)

    # --- internals ---------------------------------------------------------------------

    def _on_change(self, change: dict[str, Any]) -> None:
        """Redraw only what the changed widget affects: picking a person leaves the
        table and chart as they are, a filter leaves the person panel (which can be
        thousands of rows for an account owning every app) as it is."""
        owner = change.get("owner")
        if owner is self.widgets["person"]:
            self._refresh_person()
            return
        if owner is self.widgets["region"] or owner is self.widgets["project"]:
            self._narrow_choices()
        self._refresh_memberships()

    def _narrow_choices(self) -> None:
        """Offer only the projects of the chosen region, and the apps of both."""
        m = self._memberships
        region = self.widgets["region"].value
        in_region = m[m["region"] == region] if region else m
        project = self.widgets["project"]
        choices = self._choices("project_name", "All", in_region)
        if project.value not in [v for _label, v in choices]:
            project.value = ANY
        project.options = choices
        scope = (
            in_region[in_region["project_name"] == project.value] if project.value else in_region
        )
        self.widgets["app"].options = self._names("app_name", scope)

    def _app_match(self, text: str) -> pd.Series:
        """An app name typed in full selects that app; a fragment selects every app whose
        name contains it (case-insensitive)."""
        names = self._memberships["app_name"]
        if (names == text).any():
            return (names == text).fillna(False)
        return names.str.contains(text, case=False, regex=False).fillna(False)

    def _choices(
        self, column: str, any_label: str, m: pd.DataFrame | None = None
    ) -> list[tuple[str, str]]:
        return [(any_label, ANY), *[(v, v) for v in self._names(column, m)]]

    def _names(self, column: str, m: pd.DataFrame | None = None) -> list[str]:
        m = self._memberships if m is None else m
        return sorted(str(v) for v in m[column].dropna().unique())

    def _summary_html(self, rows: pd.DataFrame) -> str:
        people = rows["email_key"].nunique()
        apps = rows["app_id"].nunique()
        state = rows["2FA"].value_counts()
        parts = ", ".join(
            f"{plots.TFA_LABELS[s]}: {int(state.get(s, 0))}" for s in tables.TFA_STATES
        )
        accepted = rows[(rows["status"] == "accepted") & (rows["role"] != "owner")]
        unknown = int((accepted["2FA"] == "unknown").sum())
        return html.escape(
            f"{len(rows)} memberships (every role and status), {people} people, {apps} apps. "
            f"{parts}. Of these, {len(accepted)} accepted collaborator memberships, "
            f"{unknown} with 2FA unknown (what the report's index counts)."
        )

    def _person_html(self) -> str:
        key = self.selected_person()
        if key is None:
            typed = str(self.widgets["person"].value or "").strip()
            return f"<i>No one with the email {html.escape(typed)}.</i>" if typed else ""
        access, found = self.person_access(), self.person_findings()
        return (
            f"<h4>{html.escape(key)}: {len(access)} memberships</h4>"
            + _html_table(access)
            + f"<h4>{len(found)} findings</h4>"
            + (_html_table(found) if len(found) else "<i>None.</i>")
        )

    def _draw(self, fig: go.Figure) -> None:
        """Draw ``fig`` into the chart output; only inside a kernel (nowhere to draw else).

        The plotly mimetype is drawn by JupyterLab's plotly extension (shipped with plotly).
        The renderer of the reports (:mod:`scalingo_audit.plotlyjs`) would put plotly.js inside
        the Output widget, which makes headless runs (papermill, nbval) hang.
        """
        if not _in_kernel():
            return
        self.chart.clear_output(wait=True)
        with self.chart:
            fig.show(renderer="plotly_mimetype")


def _html_table(df: pd.DataFrame, *, total: int | None = None, rest: str = "") -> str:
    """The report's table style (:mod:`scalingo_audit.htmltable`); its CSS comes along, since
    a widget's HTML runs no script and has no page ``<head>``."""
    return f"<style>{htmltable.STYLE}</style>" + htmltable.table(
        df, total=total, rest=rest, sortable=False
    )


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


__all__ = ["ANY", "FILTERS", "Explorer"]
