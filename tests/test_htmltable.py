"""The one table style: readable cells, nothing truncated or hidden, escaping, and the
sort/filter script working from a file:// URL in headless Chromium with no network."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
import pandas as pd
import pytest

from scalingo_audit import htmltable, tables
from scalingo_audit.checks import CHECKS
from scalingo_audit.notebook import open_audit


@dataclass
class Cells:
    """Rows of every table: header texts and cell texts (markup stripped, entities decoded,
    white space collapsed)."""

    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def parse(html: str) -> Cells:
    """The table cells of ``html``, by lxml's HTML parser (a 17 MB report in about 2 s,
    half the time of the standard library's)."""
    p = Cells()
    for tr in lxml.html.document_fromstring(html).iter("tr"):
        row: list[str] = []
        for cell in tr.iterchildren("td", "th"):
            text = " ".join(cell.text_content().split())
            (p.headers if cell.tag == "th" else row).append(text)
        if row:
            p.rows.append(row)
    return p


@pytest.fixture(scope="module")
def demo():
    return open_audit("demo")


def test_cells_people_read() -> None:
    frame = pd.DataFrame(
        {
            "email": ["a@x.example", None],
            "internal": pd.array([True, None], dtype="boolean"),
            "muted": pd.array([False, True], dtype="boolean"),
            "severity": ["high", "low"],
            "created_at": pd.to_datetime(["2026-01-02T10:00:00Z", None], utc=True),
            "full_apps": pd.array([3, None], dtype="Int64"),
        }
    )
    html = htmltable.table(frame)
    p = parse(html)
    assert p.headers == [
        "Email",
        "Internal",
        "Muted",
        "Severity",
        "Created",
        "Apps with the full role",
    ]
    assert p.rows == [
        ["a@x.example", "yes", "no", "high", "2026-01-02", "3"],
        ["unknown", "unknown", "yes", "low", "unknown", "unknown"],
    ]
    assert '<span class="sa-badge sa-high">high</span>' in html
    assert "<NA>" not in html and "NaT" not in html and "True" not in html


def test_no_index_column_and_a_labelled_index_becomes_a_column(demo) -> None:
    counts = tables.role_counts(demo.data.memberships, "app_name")
    p = parse(htmltable.table(counts))
    assert p.headers == ["App", "Owner", "Collaborator (full)", "Limited Collaborator"]
    assert len(p.rows) == len(counts)  # never capped
    assert [r[0] for r in p.rows] == list(counts.index)
    plain = parse(htmltable.table(pd.DataFrame({"app": ["b", "a"]}, index=[7, 3])))
    assert plain.headers == ["App"] and plain.rows == [["b"], ["a"]]


def test_a_capped_table_says_so_and_where_the_rest_is() -> None:
    frame = pd.DataFrame({"app": [f"app-{i}" for i in range(40)]})
    html = htmltable.table(frame, limit=25, rest="all rows in findings.csv")
    assert len(parse(html).rows) == 25
    assert "showing 25 of 40 rows; all rows in findings.csv" in html
    assert "showing" not in htmltable.table(frame)


def test_commands_in_full_in_a_block_and_values_escaped() -> None:
    cmd = "scalingo --app 'x<y' collaborators-update --limited=true 'a&b@x.example'"
    text = "Downgrade to Limited Collaborator: " + cmd
    html = htmltable.table(
        pd.DataFrame({"remediation": [text], "app": ["<img src=x onerror=alert(1)>"]})
    )
    block = html.split('<pre class="sa-cmd"><code>')[1].split("</code></pre>")[0]
    assert re.sub(r"<[^>]+>", "", block) == (
        "scalingo --app &#x27;x&lt;y&#x27; collaborators-update "
        "--limited=true &#x27;a&amp;b@x.example&#x27;"
    )
    assert html.split('<pre class="sa-cmd">')[0].endswith("Downgrade to Limited Collaborator:")
    assert "<sa-id>collaborators-update</sa-id>" in block  # never split
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "..." not in html and "…" not in html


IDENTIFIER_TEXTS = [
    "plain words only",
    "mail ops@acme.example, app shop-prod and flag --limited=true.",
    "a.b c_d e/f g-h i@j trailing.",
    "-leading dash; ends with dot.",
    "&lt;b&gt;x.y&lt;/b&gt; &amp;amp; tabs\tand\nnewlines.x",
    "", ".", "--", "x" * 3000 + " y" * 3000, ("ab" * 500 + " ") * 20 + "a.b",
]  # fmt: skip


@pytest.mark.parametrize("escaped", IDENTIFIER_TEXTS)
def test_every_token_with_an_identifier_character_is_kept_whole_and_nothing_else(escaped) -> None:
    """The identifier rule, checked against its plain statement: split the text into runs of
    characters other than spaces, < and >; a run holding - @ . _ or / is wrapped whole."""
    parts = re.split(r"([\s<>]+)", escaped)
    expected = "".join(
        f"<sa-id>{p}</sa-id>" if i % 2 == 0 and any(c in p for c in "-@._/") else p
        for i, p in enumerate(parts)
    )
    assert htmltable._unbroken(escaped) == expected


def test_findings_by_check_shows_every_open_finding_grouped(demo) -> None:
    f = demo.findings
    open_ = f[~f["muted"].astype(bool)]
    html = htmltable.findings_by_check(f)
    sections = re.findall(r'<section class="sa-check sa-wide" id="check-([a-z0-9_]+)">', html)
    assert sections == list(dict.fromkeys(open_["check_id"]))  # most severe check first
    for check_id, group in open_.groupby("check_id"):
        check = CHECKS[check_id]
        part = html.split(f'id="check-{check_id}"')[1].split("</section>")[0]
        assert f"· {len(group)} finding" in part
        assert check.remediation.replace("'", "&#x27;") in part
        if check.guide:  # the guide's recommendation, where the check's risk cites the guide
            assert check.guide.split(" ", 5)[-1][:20].replace("'", "&#x27;") in part
            assert "<b>Scalingo's guide.</b>" in part
        rows = parse(part).rows
        assert len(rows) == len(group)
        for (_, finding), row in zip(group.iterrows(), rows, strict=True):
            assert finding["message"] in row
            for col in ("app", "email", "token_name"):
                if pd.notna(finding[col]):
                    assert finding[col] in row
    muted = f[f["muted"].astype(bool)]
    assert len(muted) and all(m not in html for m in muted["message"])
    assert '"sa-unknown">unknown<' not in html  # a finding naming no app says "—"


def test_check_guide_and_risk_split() -> None:
    for check in CHECKS.values():
        if "best-practices guide" in check.risk:
            assert "best-practices guide" in check.guide
            assert "best-practices guide" not in check.risk_alone
            assert check.risk_alone


def test_explorer_table_uses_the_shared_style(demo) -> None:
    from scalingo_audit.explorer import Explorer

    ex = Explorer(demo, rows=10)
    value = ex.table.value
    assert htmltable.STYLE in value and 'class="sa-table"' in value
    assert f"showing 10 of {len(ex.filtered())} rows" in value
    assert "<th>" not in value.split("<thead>")[0]  # no index header cell


def page(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "page.html"
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{htmltable.assets()}</head>"
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def test_sort_and_filter_from_a_file_url_offline(browser, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "app": ["beta", "alpha", "gamma", "delta"],
            "full_apps": [10, 9, 100, 2],
            "email": ["b@x.example", "a@y.example", "c@x.example", "d@y.example"],
        }
    )
    path = page(tmp_path, htmltable.table(frame))
    context = browser.new_context()
    blocked: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(path.as_uri())

    def column(i: int) -> list[str]:
        return p.eval_on_selector_all(
            "table.sa-table tbody tr",
            f"rows => rows.filter(r => r.style.display !== 'none').map(r => r.cells[{i}].innerText)",
        )

    assert p.inner_text(".sa-count") == "4 rows"
    p.click("th[data-col=full_apps]")
    assert column(1) == ["2", "9", "10", "100"]  # numbers sort as numbers
    p.click("th[data-col=full_apps]")
    assert column(1) == ["100", "10", "9", "2"]
    p.click("th[data-col=app]")
    assert column(0) == ["alpha", "beta", "delta", "gamma"]
    p.fill("input.sa-filter", "y.example")
    assert column(0) == ["alpha", "delta"]
    assert p.inner_text(".sa-count") == "showing 2 of 4 rows"
    p.fill("input.sa-filter", "")
    assert len(column(0)) == 4
    assert errors == [] and blocked == []
    context.close()
