"""Names chosen by other people cannot attack the auditor (tests/hostile.py's organisation).

The report of the hostile organisation is opened page by page in headless Chromium with
the network cut off: no payload runs (the ``window.__pwned`` sentinel stays unset, no
dialog opens), no ``javascript:`` link, event handler, image or stray SVG appears, every
chart still draws, and the payloads read as typed, in tables, Markdown and chart labels
and hover text alike. Then the same without a browser for the explorer's HTML widgets,
the chart and Markdown helpers, and the CSV output (spreadsheet formulas neutralised).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scalingo_audit import plots, tables
from scalingo_audit.explorer import Explorer
from scalingo_audit.notebook import Audit, open_audit
from scalingo_audit.report import build_report, report_notebooks

from . import clirun
from .hostile import (
    A_LINK,
    COLLECTOR,
    EMAILS,
    FORMULA,
    IMG,
    JS_URL,
    LONG,
    MD_LINK,
    PAYLOADS,
    RLO,
    SCRIPT,
    SVG,
    write_hostile,
)

RAW_TAGS = ("<script>window", "<img src=x", "<svg onload", '<a href="javascript')
"""Payload markup that must never reach a page's HTML source unescaped."""

# Event-handler attributes and script URLs anywhere (SVG included); images, frames and SVG
# outside plotly's charts (but its measuring #js-plotly-tester), links inside a chart's
# drawing (plotly turns <a href> in a label into one; its toolbar logo link is not drawn).
_DANGER_JS = """() => {
  const bad = [];
  const urls = ['href', 'xlink:href', 'src', 'action', 'formaction', 'data', 'poster', 'srcdoc'];
  for (const e of document.querySelectorAll('*')) {
    for (const a of e.attributes) {
      if (a.name.toLowerCase().startsWith('on')) bad.push(`${e.tagName} ${a.name}`);
      if (urls.includes(a.name.toLowerCase()) && /^\\s*(javascript|vbscript|data):/i.test(a.value))
        bad.push(`${e.tagName} ${a.name}=${a.value.slice(0, 60)}`);
    }
  }
  // the tables' own filter boxes (htmltable's script adds them) are the only inputs
  for (const e of document.querySelectorAll('img, iframe, object, embed, form, input'))
    if (!e.matches('div.sa-tools > input.sa-filter[type=search]:only-of-type'))
      bad.push(e.outerHTML.slice(0, 80));
  for (const e of document.querySelectorAll('svg:not(#js-plotly-tester)'))
    if (!e.closest('.js-plotly-plot')) bad.push('svg outside a chart: ' + e.outerHTML.slice(0, 80));
  for (const e of document.querySelectorAll('.js-plotly-plot .main-svg a'))
    bad.push('link in a chart: ' + e.outerHTML.slice(0, 80));
  return bad;
}"""
_DRAWN_JS = (
    "[...document.querySelectorAll('.js-plotly-plot')]"
    ".filter(d => d.querySelector('.main-svg')).length"
)
_LABELS_JS = (
    "[...document.querySelectorAll('.js-plotly-plot :is(.xtick, .ytick) text')]"
    ".map(t => t.textContent)"
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_hostile(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def audit(hostile: tuple[Path, Path]) -> Audit:
    snapshot, policy = hostile
    return open_audit(str(snapshot), str(policy))


# --- the report in a browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def report(hostile: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    snapshot, policy = hostile
    out = tmp_path_factory.mktemp("report") / "hostile"
    return build_report(
        str(snapshot), policy=str(policy), out_dir=out, progress=False, per_notebook=True
    )


@dataclass
class Visit:
    pwned: bool = False
    dialogs: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    danger: list[str] = field(default_factory=list)
    plots: int = 0
    drawn: int = 0
    text: str = ""
    labels: list[str] = field(default_factory=list)
    hovers: list[str] = field(default_factory=list)


def visit(browser, page_file: Path, *, hover: bool = True) -> Visit:
    """Open ``page_file`` offline, hover the first bar of every chart (with ``hover``),
    record what happened."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from .test_browser import LOCAL_SCHEMES

    seen = Visit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(r) -> None:
        if r.request.url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            seen.blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()

    def dialog(d) -> None:
        seen.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on("requestfailed", lambda r: seen.blocked.append(r.url))
    page.goto(page_file.as_uri(), wait_until="load")
    seen.plots = page_file.read_text(encoding="utf-8").count("Plotly.newPlot(")
    with contextlib.suppress(PlaywrightTimeout):  # the assertion on seen.drawn says what is missing
        page.wait_for_function(f"{_DRAWN_JS} >= {seen.plots}", timeout=20_000)
    for chart in page.query_selector_all(".js-plotly-plot") if hover else []:
        bar = chart.query_selector(".bars .point path")
        box = bar.bounding_box() if bar else None
        if box is None:
            continue
        chart.scroll_into_view_if_needed()
        box = bar.bounding_box() if bar else None
        if box:
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            with contextlib.suppress(PlaywrightTimeout):  # the hover assertion says what is missing
                chart.wait_for_selector(".hoverlayer .hovertext", state="attached", timeout=2_000)
            seen.hovers.append(chart.eval_on_selector(".hoverlayer", "e => e.textContent"))
    seen.danger = page.evaluate(_DANGER_JS)  # after hovering: hover labels included
    seen.drawn = page.evaluate(_DRAWN_JS)
    seen.labels = page.evaluate(_LABELS_JS)
    seen.text = page.inner_text("body")
    seen.pwned = page.evaluate("typeof window.__pwned !== 'undefined'")
    context.close()
    return seen


@pytest.fixture(scope="module")
def visited(browser) -> Callable[[Path], Visit]:
    """``visit(browser, page)``, done once per page for this module's tests, which only
    read what it recorded. Charts are hovered on ``report.html``, which has every chart of
    the per-notebook pages (the same figures, exported once more): their hover labels are
    read there."""
    return functools.cache(
        lambda page_file: visit(browser, page_file, hover=page_file.name == "report.html")
    )


@pytest.mark.slow
def test_no_payload_runs_on_any_report_page(visited: Callable[[Path], Visit], report: Path) -> None:
    pages = [report, report.parent / "report.html"]
    pages += [report.parent / f"{p.stem}.html" for p in report_notebooks()]
    text = ""
    hovers: list[str] = []
    for page_file in pages:
        name = page_file.name
        source = page_file.read_text(encoding="utf-8")
        for tag in RAW_TAGS:
            assert tag not in source, f"{name}: {tag!r} in the HTML source, unescaped"
        seen = visited(page_file)
        assert not seen.pwned, f"{name}: a payload ran (window.__pwned is set)"
        assert seen.dialogs == [], f"{name}: a dialog opened: {seen.dialogs}"
        assert seen.blocked == [], f"{name}: requests: {seen.blocked}"
        assert seen.errors == [], f"{name}: console errors: {seen.errors}"
        assert seen.danger == [], f"{name}: dangerous elements: {seen.danger}"
        assert seen.drawn == seen.plots, f"{name}: {seen.drawn} of {seen.plots} charts drew"
        # The data's provenance heads every page: the collector's name, as typed.
        assert IMG in seen.text, f"{name}: the collecting account is not shown intact"
        text += seen.text
        hovers += seen.hovers
    for payload in (*PAYLOADS[:-1], LONG[:100], JS_URL + "@evil.example"):
        assert payload in text, f"{payload!r} is not shown as text anywhere"
    assert SCRIPT in report.read_text(encoding="utf-8").replace("&lt;", "<").replace("&gt;", ">")
    assert any(p in h for h in hovers for p in PAYLOADS), f"hover text not intact: {hovers}"


@pytest.mark.slow
def test_chart_labels_show_names_as_typed(visited: Callable[[Path], Visit], report: Path) -> None:
    charts = visited(report.parent / "report.html")  # every chart of every section
    for name in (SCRIPT, IMG, A_LINK, MD_LINK, FORMULA, JS_URL, RLO):
        assert name in charts.labels, f"app {name!r} not on the per-app axis: {charts.labels}"
    assert LONG[: plots.LABEL_MAX - 1] + "…" in charts.labels  # shortened on the axis only
    for email in (EMAILS["script"], EMAILS["img"], EMAILS["svg"], EMAILS["formula"]):
        assert email in charts.labels, f"{email!r} not on the people axis: {charts.labels}"


# --- without a browser -------------------------------------------------------------------


def test_hostile_org_loads_with_every_payload(audit: Audit) -> None:
    m = audit.data.memberships
    assert {SCRIPT, IMG, A_LINK, MD_LINK, FORMULA, JS_URL, RLO, LONG} <= set(m["app_name"])
    assert set(EMAILS.values()) <= set(m["email"])
    assert audit.data.info.collected_by == COLLECTOR
    assert len(LONG) == 500


def test_explorer_html_is_escaped(audit: Audit) -> None:
    explorer = Explorer(audit, rows=500)
    explorer.widgets["person"].value = EMAILS["script"]
    assert explorer.selected_person() == EMAILS["script"].lower()
    for widget in (explorer.table, explorer.person, explorer.summary):
        value = widget.value
        for tag in ("<script", "<img", "<svg", "<a ", "<a>"):
            assert tag not in value.lower(), f"{tag} in the explorer's HTML: {value[:300]}"
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in explorer.table.value
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;@evil.example" in explorer.person.value
    explorer.widgets["person"].value = IMG
    assert "&lt;img src=x" in explorer.person.value  # "no one with the email ...", escaped
    assert "<img" not in explorer.person.value
    explorer.widgets["app"].value = A_LINK
    assert len(explorer.filtered()) > 0
    for trace in explorer.figure().data:
        assert all("<" not in str(y) for y in trace.y)


def test_chart_labels_are_escaped(audit: Audit) -> None:
    data = audit.data
    figures = [
        plots.role_distribution(data.memberships, "app_name"),
        plots.role_distribution(data.memberships, "project_name"),
        plots.tfa_by_app(data.memberships),
        plots.full_role_breadth(data),
        plots.owner_kinds(data),
    ]
    for fig in figures:
        spec = fig.to_plotly_json()
        for trace in spec["data"]:
            for value in [*trace.get("x", []), *trace.get("y", [])]:
                assert not re.search(r"<[a-z/]", str(value), re.I), value
        axis = spec["layout"].get("yaxis", {})
        for value in [*axis.get("categoryarray", []), *axis.get("ticktext", [])]:
            assert "<" not in str(value), value
    apps = figures[0]
    assert plots.safe_label(A_LINK) in apps.layout.yaxis.categoryarray
    assert plots.safe_label(SCRIPT) == "&lt;script&gt;window.__pwned=1&lt;/script&gt;"
    short = dict(zip(apps.layout.yaxis.tickvals, apps.layout.yaxis.ticktext, strict=True))
    assert short[plots.safe_label(LONG)] == LONG[: plots.LABEL_MAX - 1] + "…"


@pytest.mark.parametrize("payload", (*PAYLOADS, f"*a* _b_ `c` $d$ # e\n1. f {EMAILS['md']}"))
def test_markdown_escape_renders_text_as_typed(payload: str) -> None:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    html = markdown2html_mistune(tables.markdown_escape(payload))
    assert not re.search(r"<(?!/?p>)", html), html  # no tag but the paragraph
    body = re.sub(r"</?p>", "", html).strip()
    expected = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert body.replace("&quot;", '"') == expected.replace("\n", "\n")


def test_source_markdown_escapes_provenance_and_gaps(audit: Audit) -> None:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    html = markdown2html_mistune(tables.source_markdown(audit.data.info, audit.as_of))
    tags = set(re.findall(r"<([a-z0-9]+)", html))
    assert tags <= {"p", "strong", "ul", "li", "code"}, tags
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;@acme.example" in html
    assert "[click me](javascript:window.__pwned=1)" in html  # as text, not a link


def test_csv_neutralises_formulas(hostile: tuple[Path, Path]) -> None:
    snapshot, policy = hostile
    command = ["check", str(snapshot), "--policy", str(policy), "--format", "csv"]
    r = clirun.run(*command)
    assert r.returncode in (0, 1), r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    header, body = rows[0], rows[1:]
    assert body, "no findings"
    for row in body:
        for name, cell in zip(header, row, strict=True):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    cells = {c for row in body for c in row}
    assert "'" + FORMULA in cells
    assert "'" + EMAILS["formula"] in cells
    assert "'" + EMAILS["plus"] in cells and "'" + EMAILS["at"] in cells
    assert SCRIPT in cells and SVG in "".join(cells)  # other text kept as is
