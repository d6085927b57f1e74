"""The demo report in a real headless browser (Debian's chromium), with the network cut off.

Every page must load nothing but local files, log no console error, show no code and
draw every plotly chart. Skips on a laptop without chromium; fails in CI (``CI`` set).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from scalingo_audit import plotlyjs
from scalingo_audit.sources import load

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")

pytestmark = pytest.mark.slow  # builds the demo report with the real notebooks (~30-60 s)


@pytest.fixture
def report(browser: Browser, demo_report: Path) -> Path:
    """The demo report's index.html (built once for the run: tests/conftest.py)."""
    return demo_report


@dataclass
class Visit:
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    plots: int = 0
    drawn: int = 0
    code_cells: int = 0
    text: str = ""


def visit(browser: Browser, page_file: Path, screenshot: Path | None = None) -> Visit:
    """Open ``page_file`` offline; record blocked requests, console errors and what drew."""
    seen, page = open_page(browser, page_file, screenshot)
    page.context.close()
    return seen


def open_page(
    browser: Browser, page_file: Path, screenshot: Path | None = None
) -> tuple[Visit, Page]:
    """:func:`visit` of ``page_file``, its page left open (in a context of its own, which
    still lets nothing but local files load) for a test to use further."""
    seen = Visit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(r: Route) -> None:
        if r.request.url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            seen.blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))

    def failed(request: Request) -> None:
        if request.url not in seen.blocked:
            seen.blocked.append(request.url)

    page.on("requestfailed", failed)
    page.goto(page_file.as_uri(), wait_until="load")
    expected = page_file.read_text(encoding="utf-8").count("Plotly.newPlot(")
    drawn_js = (
        "[...document.querySelectorAll('.js-plotly-plot')]"
        ".filter(d => d.querySelector('.main-svg')).length"
    )
    with contextlib.suppress(PlaywrightTimeout):  # the assertions below say what is missing
        page.wait_for_function(f"{drawn_js} >= {expected}", timeout=20_000)
    seen.plots = expected
    seen.drawn = page.evaluate(drawn_js)
    seen.code_cells = page.evaluate(
        "document.querySelectorAll('.jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor').length"
    )
    seen.text = page.inner_text("body")
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=False)
    return seen, page


@pytest.fixture(scope="module")
def opened(
    browser: Browser, demo_report: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Visit, Page]]]:
    """index.html and report.html, each opened once for this module's tests (a page with
    plotly.js takes a second or more to load): they read what the visit recorded, and the
    last one sorts and filters report.html's tables in place. Screenshots in a folder of
    their own."""
    shots = tmp_path_factory.mktemp("screenshots")
    found = {}
    for name in ("index.html", "report.html"):
        page_file = demo_report.parent / name
        found[name] = open_page(browser, page_file, shots / f"{page_file.stem}.png")
    yield found
    for _, page in found.values():
        page.context.close()


def test_every_page_renders_offline(opened: dict[str, tuple[Visit, Page]]) -> None:
    total_plots = 0
    for name, (seen, _) in opened.items():
        assert seen.blocked == [], f"{name} needed the network: {seen.blocked}"
        assert seen.errors == [], f"{name} logged console errors: {seen.errors}"
        assert seen.code_cells == 0, f"{name} shows code"
        assert seen.drawn == seen.plots, f"{name}: {seen.drawn} of {seen.plots} charts drew"
        assert "open_audit(" not in seen.text
        total_plots += seen.plots
    assert total_plots > 0, "the report has no chart at all"


def test_every_chart_is_of_a_trace_type_the_embedded_plotly_js_draws(
    opened: dict[str, tuple[Visit, Page]],
) -> None:
    """The report embeds plotly's basic bundle where the installed plotly allows it
    (scalingo_audit.plotlyjs): every trace of every chart is of a type it has registered."""
    _, page = opened["report.html"]
    found = page.evaluate(
        """() => ({
            version: Plotly.version,
            registered: Object.keys(Plotly.PlotSchema.get().traces),
            used: [...document.querySelectorAll('.js-plotly-plot')]
                .flatMap(d => d.data.map(t => t.type || 'scatter')),
        })"""
    )
    assert found["version"] == plotlyjs.installed_plotlyjs_version()
    assert found["used"] and set(found["used"]) <= set(found["registered"]), found["used"]
    if found["version"] == plotlyjs.BASIC_VERSION:
        assert set(found["registered"]) == plotlyjs.BASIC_TRACES  # the basic bundle it is


def test_index_shows_the_headline_figures(
    opened: dict[str, tuple[Visit, Page]], report: Path
) -> None:
    s = load("demo").summary()
    text = opened["index.html"][0].text
    for value in (
        str(s["people"]),
        str(s["apps"]),
        f"{s['full_collaborator_share'] * 100:.1f} %",
        f"{s['tfa_coverage'] * 100:.1f} %",
    ):
        assert re.search(rf"(^|\s){re.escape(value)}(\s|$)", text), value
    assert (report.parent / "report.html").is_file()


def test_findings_tables_sort_and_filter_offline(opened: dict[str, tuple[Visit, Page]]) -> None:
    """On the real findings page, with the network cut off: a click on a header sorts, typing
    in a filter hides the other rows and says how many are shown."""
    seen, page = opened["report.html"]
    table = "#check-collaborator_without_2fa table.sa-table"
    shown = f"{table} tbody tr:not([style*='none'])"
    emails = page.eval_on_selector_all(shown, "rows => rows.map(r => r.cells[2].innerText.trim())")
    total = len(emails)
    assert total > 3
    page.click(f"{table} th[data-col=email]")
    assert page.eval_on_selector_all(
        shown, "rows => rows.map(r => r.cells[2].innerText.trim())"
    ) == sorted(emails, key=str.lower)
    page.click(f"{table} th[data-col=email]")
    assert page.eval_on_selector_all(
        shown, "rows => rows.map(r => r.cells[2].innerText.trim())"
    ) == sorted(emails, key=str.lower, reverse=True)
    target = emails[0]
    box = page.locator("#check-collaborator_without_2fa input.sa-filter")
    box.fill(target)
    rows = page.eval_on_selector_all(shown, "rows => rows.map(r => r.innerText)")
    assert rows and all(target in r for r in rows)
    expected = sum(target in e for e in emails)
    count = page.inner_text("#check-collaborator_without_2fa .sa-count")
    assert count == f"showing {len(rows)} of {total} rows" and len(rows) >= expected
    assert seen.blocked == [] and seen.errors == [], (seen.blocked, seen.errors)
