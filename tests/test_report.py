"""build_report: inputs validated first, notebooks executed, HTML without code, index figures.

Failure paths and path handling run small generated notebooks (a few seconds each);
``test_demo_report`` runs the real ``notebooks/`` on the demo (marked ``slow``, ~30-60 s).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import nbformat
import pytest

from scalingo_audit import snapshot
from scalingo_audit.demo import demo_snapshot
from scalingo_audit.errors import InputError, PolicyError, ReportError
from scalingo_audit.htmltable import assets
from scalingo_audit.model import with_info
from scalingo_audit.notebook import open_audit
from scalingo_audit.report import (
    _PLOTLY_BUNDLE,
    DATA_FILES,
    PARALLEL_FROM,
    Page,
    build_report,
    default_out_dir,
    default_workers,
    describe_notebook,
    export_html,
    merge_notebooks,
    notebook_parameters,
    render_index,
    report_notebooks,
    run_notebooks,
)
from scalingo_audit.resources import notebooks_dir
from scalingo_audit.sources import load

from .tools import demo_report_has_pdf

PARAMETERS = (
    'source: str = "demo"  # demo, snapshot dir or export\npolicy: str = ""\nas_of: str = ""'
)


def write_notebook(path: Path, *cells: str, title: str = "A page", in_report: bool = True) -> Path:
    """A notebook shaped like the real ones: a heading, a parameters cell, then ``cells``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat this page shows."), params]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if not in_report:
        nb.metadata["scalingo_audit"] = {"report": False}
    nbformat.write(nb, path)
    return path


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]


def links(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.hrefs


def figure(html: str, key: str) -> str:
    m = re.search(rf'data-figure="{key}"><div class="value">([^<]*)</div>', html)
    assert m, f"no headline figure {key}"
    return m.group(1)


def assert_no_code(html: str) -> None:
    assert 'class="jp-CodeMirrorEditor' not in html
    assert 'class="highlight' not in html
    assert "open_audit(" not in html
    assert 'source: str = "demo"' not in html
    assert "\x1b[" not in html


# --- discovery, paths, parameters (no kernel) ---------------------------------------------


def test_report_notebooks_sorted_and_without_explorer(tmp_path: Path) -> None:
    for name in ("02_b.ipynb", "01_a.ipynb", "notes.ipynb", "1_x.ipynb"):
        write_notebook(tmp_path / name)
    write_notebook(tmp_path / "05_explorer.ipynb", in_report=False)
    assert [p.name for p in report_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]


def test_missing_or_empty_notebooks_dir_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="notebooks directory not found"):
        report_notebooks(tmp_path / "nope")
    with pytest.raises(ReportError, match="no report notebooks"):
        report_notebooks(tmp_path)


def test_default_notebooks_are_the_bundled_ones() -> None:
    # where the bundled notebooks are (package data in a wheel, notebooks/ in a checkout)
    # is tested in test_packaging.py; the report takes them from there
    assert report_notebooks() == report_notebooks(notebooks_dir())


def test_default_out_dir(tmp_path: Path) -> None:
    (tmp_path / "acme snapshot").mkdir()
    (tmp_path / "export.csv").write_text("x")
    assert default_out_dir("demo") == Path("reports/demo")
    assert default_out_dir(str(tmp_path / "acme snapshot")) == Path("reports/acme-snapshot")
    assert default_out_dir(str(tmp_path / "export.csv")) == Path("reports/export")


def test_parameters_are_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert notebook_parameters("demo", "", "") == {"source": "demo", "policy": "", "as_of": ""}
    p = notebook_parameters("snap", "policy.yaml", "2026-11-01")
    assert p == {
        "source": str(tmp_path / "snap"),
        "policy": str(tmp_path / "policy.yaml"),
        "as_of": "2026-11-01",
    }


def test_index_escapes_user_controlled_strings() -> None:
    audit = open_audit("demo")
    evil = "<script>alert(1)</script>"
    data = with_info(audit.data, location=evil, collected_by=evil, gaps=({"app": evil},))
    html = render_index(
        dataclasses.replace(audit, data=data),
        [Page(Path("01_x.ipynb"), evil, evil, "01_x.html")],
        policy=evil,
    )
    assert html.count(assets()) == 1  # the table script, our own, embedded once
    assert "<script" not in html.replace(assets(), "")
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5


# --- errors: raised before or while running notebooks -------------------------------------


def marker_notebooks(tmp_path: Path) -> tuple[Path, Path]:
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    marker = tmp_path / "ran"
    write_notebook(nbs / "01_touch.ipynb", f"open({str(marker)!r}, 'w').close()")
    return nbs, marker


def test_bad_source_is_an_input_error_before_any_notebook_runs(tmp_path: Path) -> None:
    nbs, marker = marker_notebooks(tmp_path)
    with pytest.raises(InputError, match="no such file or directory"):
        build_report(str(tmp_path / "missing"), out_dir=tmp_path / "out", notebooks_dir=nbs)
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_bad_policy_is_a_policy_error_before_any_notebook_runs(tmp_path: Path) -> None:
    nbs, marker = marker_notebooks(tmp_path)
    bad = tmp_path / "policy.yaml"
    bad.write_text("internal_domain: [acme.example]\n")
    with pytest.raises(PolicyError, match="internal_domain"):
        build_report("demo", policy=str(bad), out_dir=tmp_path / "out", notebooks_dir=nbs)
    assert not marker.exists()


def test_failing_notebook_is_a_report_error_naming_it(tmp_path: Path) -> None:
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_fine.ipynb", "print('fine')")
    write_notebook(nbs / "02_boom.ipynb", "x = 1", "raise ValueError(f'boom at {x}\\nsee the log')")
    out = tmp_path / "out"
    with pytest.raises(ReportError) as info:
        build_report("demo", out_dir=out, notebooks_dir=nbs, progress=False)
    message = str(info.value)
    assert "02_boom.ipynb" in message
    assert "ValueError: boom at 1 see the log" in message
    assert "\x1b" not in message and "Traceback" not in message and "\n" not in message
    # papermill's data, kept as fields: the notebook, the failed cell, the exception
    e = info.value
    assert (e.notebook, e.ename) == ("02_boom.ipynb", "ValueError")
    assert e.evalue is not None and e.evalue.startswith("boom at 1")
    # Nothing half-built: no index, no pages; the failed notebook is kept, uncoloured.
    assert not (out / "index.html").exists()
    assert not (out / "01_fine.html").exists()
    failed = (out / "_failed" / "02_boom.ipynb").read_text()
    assert "ValueError" in failed and "\\u001b[" not in failed
    # cell_index counts the executed notebook's cells; the kept copy has papermill's two
    # error cells added (a banner at the top, an anchor before the failed cell)
    cells = json.loads(failed)["cells"]
    assert e.cell_index is not None
    assert "raise ValueError" in "".join(cells[e.cell_index + 2]["source"])


def test_notebooks_run_at_once_leave_the_process_where_it_was(tmp_path: Path) -> None:
    """Kernels start in their notebook's folder without moving this process: papermill's
    own ``cwd=`` chdirs the whole process, which threads running at once leave in another
    notebook's folder (relative paths then break for the rest of the run)."""
    folders = [tmp_path / f"nb{i}" for i in range(4)]
    notebooks = []
    for i, folder in enumerate(folders):
        folder.mkdir()
        notebooks.append(folder / f"0{i}_where.ipynb")
        write_notebook(notebooks[-1], "import os, time; time.sleep(0.3); print(os.getcwd())")
    staging, out = tmp_path / "staging", tmp_path / "out"
    staging.mkdir()
    before = Path.cwd()
    executed = run_notebooks(notebooks, staging, {}, out=out, progress=False, workers=4)
    assert Path.cwd() == before
    for folder, path in zip(folders, executed, strict=True):
        printed = nbformat.read(path, as_version=4).cells[-1].outputs[0]["text"].strip()
        assert Path(printed).resolve() == folder.resolve()


# --- a whole report on generated notebooks: paths, gaps, expired exceptions ---------------


def test_report_on_a_snapshot_with_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scalingo_audit")
    monkeypatch.chdir(tmp_path)
    gap = {"region": "osc-fr1", "app": "legacy-erp", "request": "collaborators", "status": 403}
    snapshot.write(dataclasses.replace(demo_snapshot(), gaps=[gap]), tmp_path / "acme-snap")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        (resources.files("scalingo_audit.demo") / "policy.yaml").read_text(), encoding="utf-8"
    )
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    write_notebook(nbs / "01_params.ipynb", "print(source, policy, sep='|')", title="Parameters")
    write_notebook(nbs / "05_explorer.ipynb", "raise RuntimeError('explorer ran')", in_report=False)

    index = build_report(
        "acme-snap", policy="policy.yaml", as_of="2026-12-01", notebooks_dir=nbs, per_notebook=True
    )

    assert index == Path("reports/acme-snap/index.html")
    assert sorted(p.name for p in index.parent.iterdir()) == sorted(
        ["01_params.html", "index.html", "report.html", *(name for name, _ in DATA_FILES)]
    )
    page = (index.parent / "01_params.html").read_text()
    assert f"{tmp_path / 'acme-snap'}|{policy}" in page  # absolute paths reached the kernel
    assert_no_code(page)
    assert "<title>Parameters · scalingo-audit</title>" in page
    html = index.read_text()
    assert "legacy-erp" in html and "Coverage gaps" in html
    assert "Expired policy exceptions" in html and "marketing-blog" in html
    assert "2026-12-01" in html
    assert "[1/1] 01_params … done in" in caplog.text


# --- the real notebooks on the demo ---------------------------------------------------------


# demo_report: the demo report, built once for the run (tests/conftest.py)


@pytest.mark.slow  # executes every report notebook in notebooks/ (~30-60 s)
def test_demo_report(demo_report: Path) -> None:
    out = demo_report.parent
    data_files = [name for name, _ in DATA_FILES]
    pdf = ["report.pdf"] if demo_report_has_pdf() else []  # built with pdf=True (conftest)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["index.html", "report.html", *data_files, *pdf]
    )
    html = demo_report.read_text()
    assert [h for h in links(html) if h.endswith(".html")] == ["report.html"]
    assert [h for h in links(html) if h in data_files] == data_files
    for href in links(html):
        assert (out / href).is_file(), href
    report = (out / "report.html").read_text()
    assert len(report.encode()) <= 6 * 1024 * 1024  # one portable file, at most 6 MB
    assert_no_code(report)
    assert report.count("Plotly.newPlot(") == report.count('class="plotly-graph-div"') > 0
    assert report.count("* plotly.js v") == 1  # embedded once, never fetched from a CDN
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', report)
    # the title page: headline figures, provenance, then a table of contents, in order
    titles = [describe_notebook(nb)[0] for nb in report_notebooks()]
    toc = re.findall(r'<li><a href="#(section-\d+)">([^<]*)</a>', report)
    assert [t for _, t in toc] == titles
    positions = [report.index(f'id="{anchor}"') for anchor, _ in toc]
    assert positions == sorted(positions)
    assert report.index("Provenance") < positions[0]
    for anchor in re.findall(r'href="#([^"]+)"', report):
        assert f'id="{anchor}"' in report, anchor
    assert figure(report, "people") == figure(html, "people")

    s = load("demo").summary()
    assert figure(html, "people") == str(s["people"])
    assert figure(html, "apps") == str(s["apps"])
    assert figure(html, "full_collaborator_share") == f"{s['full_collaborator_share'] * 100:.1f} %"
    assert figure(html, "tfa_coverage") == f"{s['tfa_coverage'] * 100:.1f} %"
    assert figure(html, "tfa_unknown") == str(s["tfa_unknown"])
    findings = open_audit("demo").findings
    for sev in ("high", "medium", "low", "info"):
        live = findings[(findings["severity"] == sev) & ~findings["muted"].astype(bool)]
        assert figure(html, f"findings_{sev}") == str(len(live))
    assert figure(html, "findings_muted") == str(int(findings["muted"].astype(bool).sum()))
    assert "Expired policy exceptions" in html  # the demo policy has one


def table_rows(html: str) -> list[list[str]]:
    """The cell texts of every table row of ``html`` (markup stripped, entities decoded)."""
    from .test_htmltable import parse

    return parse(html).rows


def assert_every_finding_shown(html: str, findings: list[dict]) -> None:
    """Each finding of ``check --format json`` is a table row naming its app, person, token
    and message; no cell is cut with "...", shows <NA> or is an index."""
    rows = table_rows(html)
    by_message: dict[str, list[list[str]]] = {}
    for row in rows:
        for text in row:
            by_message.setdefault(text, []).append(row)
    for f in findings:
        candidates = by_message.get(" ".join(f["message"].split()), [])
        assert candidates, f"finding not in the report: {f['check_id']}: {f['message']}"
        want = [f[k] for k in ("app", "email", "token_name") if f[k]]
        assert any(all(w in row for w in want) for row in candidates), (f, candidates)
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c.endswith(("...", "…"))], "a cell is cut"
    assert "<NA>" not in html and "&lt;NA&gt;" not in html
    assert "<th></th>" not in html  # pandas' index header
    assert 'class="dataframe"' not in html  # every table goes through htmltable


@pytest.mark.slow
def test_demo_report_shows_every_finding_and_its_data_files(demo_report: Path) -> None:
    import json

    out = demo_report.parent
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    from scalingo_audit import output

    assert [dict(f, source=None) for f in findings] == [
        dict(f, source=None) for f in output.records(open_audit("demo").findings)
    ]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert_every_finding_shown(report, findings)
    assert "data-sa-kept" not in report  # the page the kernel's line stood for is in
    header = (out / "findings.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("check_id,severity,")
    sheet = (out / "review.csv").read_text(encoding="utf-8-sig").splitlines()
    assert sheet[0].startswith("person,") and len(sheet) > len(open_audit("demo").data.memberships)


@pytest.mark.slow
def test_per_notebook_pages_show_the_findings_page_kept_apart(tmp_path: Path) -> None:
    """With per-notebook pages, the findings notebook's page holds the findings page the
    report rendered beside the kernel (the kernel's output only stood for it)."""
    import json

    index = build_report("demo", out_dir=tmp_path / "r", progress=False, per_notebook=True)
    findings = json.loads((index.parent / "findings.json").read_text(encoding="utf-8"))
    page = (index.parent / "04_findings.html").read_text(encoding="utf-8")
    assert_every_finding_shown(page, findings)
    for html in index.parent.glob("*.html"):
        assert "data-sa-kept" not in html.read_text(encoding="utf-8"), html.name


@pytest.mark.slow  # the large organisation (5,000 apps, 50,000 memberships) through the report
def test_large_report_shows_every_finding(tmp_path_factory: pytest.TempPathFactory) -> None:
    import json

    import yaml

    from scalingo_audit import output
    from scalingo_audit.demo.large import generate_large, large_policy

    tmp = tmp_path_factory.mktemp("large")
    snap = snapshot.write(generate_large(seed=7), tmp / "large")
    policy = large_policy()
    policy_file = tmp / "policy.yaml"
    policy_file.write_text(
        yaml.safe_dump(
            {
                "internal_domains": list(policy.internal_domains),
                "service_accounts": list(policy.service_accounts),
                "api_token_accounts": list(policy.api_token_accounts),
            }
        ),
        encoding="utf-8",
    )
    index = build_report(str(snap), policy=str(policy_file), out_dir=tmp / "r", progress=False)
    findings = json.loads((index.parent / "findings.json").read_text(encoding="utf-8"))
    expected = output.records(open_audit(str(snap), str(policy_file)).findings)
    assert len(findings) == len(expected) > 10_000
    assert_every_finding_shown((index.parent / "report.html").read_text(encoding="utf-8"), findings)


def test_top_reaches_the_notebooks_and_must_be_positive(tmp_path: Path) -> None:
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    write_notebook(nbs / "01_top.ipynb", "print(f'charts capped at {top}')", title="Top")
    index = build_report("demo", out_dir=tmp_path / "out", notebooks_dir=nbs, progress=False, top=7)
    assert "charts capped at 7" in (index.parent / "report.html").read_text(encoding="utf-8")
    with pytest.raises(InputError, match="--top"):
        build_report("demo", out_dir=tmp_path / "bad", notebooks_dir=nbs, top=0)
    assert not (tmp_path / "bad").exists()


# --- kernels started while the report loads -------------------------------------------------


def _kernel_children() -> list[int]:
    """Pids of this process's children running a report kernel (``scalingo_audit.kernel``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"scalingo_audit.kernel" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_notebooks_sharing_a_kernel_each_start_as_in_a_kernel_of_their_own(
    tmp_path: Path,
) -> None:
    """One kernel runs every notebook, one after another (default_workers: one below
    PARALLEL_FROM memberships); each starts with no name of the one before, at execution
    count 1. plotly.js comes with the kernel's first chart only (setup_display in
    a report's kernel); report.html has it once, and a per-notebook page without it gets
    it from the report (export_html's bundle)."""
    from scalingo_audit.notebook import CACHE_ENV
    from scalingo_audit.report import _environ, plotly_bundle

    chart = (
        "from scalingo_audit.notebook import setup_display\nsetup_display()\n"
        "import plotly.express as px\npx.bar(x=['a', 'b'], y=[1, 2])"
    )
    # a chart of an app named like plotly.js's first line is a chart, not plotly.js
    named = "* plotly.js v9 named so"
    named_chart = f"px.bar(x=[{named!r}], y=[1])"
    nbs = [
        write_notebook(
            tmp_path / "01_a.ipynb",
            "import os\nleft_by_the_first = os.getpid()\nprint(left_by_the_first)",
            chart,
            named_chart,
        ),
        write_notebook(
            tmp_path / "02_b.ipynb",
            "import os\nprint(os.getpid(), 'left_by_the_first' in dir())",
            chart,
            named_chart,
        ),
    ]
    staging = tmp_path / "staging"
    staging.mkdir()
    assert default_workers(len(nbs)) == 1
    assert default_workers(5, PARALLEL_FROM) == max(1, min(5, (os.cpu_count() or 1) - 1))
    with _environ(CACHE_ENV, str(tmp_path)):  # as in a report's kernel
        first, second = run_notebooks(nbs, staging, {}, out=tmp_path / "out", progress=False)
    assert _kernel_children() == []  # shut down once the last notebook has run
    one, two = (nbformat.read(done, as_version=4) for done in (first, second))
    code_one, code_two = ([c for c in nb.cells if c.cell_type == "code"] for nb in (one, two))

    def printed(cell: nbformat.NotebookNode) -> str:  # a print may reach the page in pieces
        return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream")

    pid = printed(code_one[1]).strip()
    assert printed(code_two[1]).split() == [pid, "False"]  # same kernel, no names
    assert [c.execution_count for c in code_two] == [1, 2, 3, 4]  # the parameters cell is 1
    bundle = plotly_bundle(one)
    assert bundle is not None and plotly_bundle(two) is None  # once per kernel
    assert export_html(first, "page").count(_PLOTLY_BUNDLE) == 1
    assert _PLOTLY_BUNDLE not in export_html(second, "page")
    page = export_html(second, "page", bundle=bundle)
    assert page.count(_PLOTLY_BUNDLE) == 1
    assert page.index(_PLOTLY_BUNDLE) < page.index("Plotly.newPlot(")  # loaded before use
    merged, _ = merge_notebooks([first, second])
    assert json.dumps(merged).count(_PLOTLY_BUNDLE) == 1
    charts = [
        o["data"]["text/html"]
        for c in merged.cells
        for o in c.get("outputs", [])
        if "Plotly.newPlot(" in o.get("data", {}).get("text/html", "")
    ]
    assert sum(named in h for h in charts) == 2  # both charts of that app are kept


def test_prestarted_kernels_run_the_notebooks_and_keep_only_the_html_of_frames(
    tmp_path: Path,
) -> None:
    from scalingo_audit.notebook import CACHE_ENV
    from scalingo_audit.report import _environ, _kernels

    nb = write_notebook(
        tmp_path / "01_frame.ipynb",
        "import sys\nprint(sorted(m for m in sys.modules if m.startswith('scalingo_audit.t')))",
        "import pandas as pd\nfrom scalingo_audit.notebook import setup_display\n"
        "setup_display()\npd.DataFrame({'email': ['a@acme.example', 'b@acme.example']})",
        "from scalingo_audit.htmltable import HTML\nHTML('<p>' + 'x' * 5000 + '</p>')",
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with _environ(CACHE_ENV, str(tmp_path)), _kernels([nb]) as kernels:
        assert len(_kernel_children()) == 1  # started before any notebook runs
        (done,) = run_notebooks([nb], staging, {}, out=tmp_path / "out", kernels=kernels)
        assert _kernel_children() == []  # shut down once its notebook has run
    cells = [c for c in nbformat.read(done, as_version=4).cells if c.cell_type == "code"]
    assert "scalingo_audit.tables" in cells[1].outputs[0]["text"]  # imported at kernel start
    data = cells[2].outputs[0]["data"]
    assert "b@acme.example" in data["text/html"] and "sa-table" in data["text/html"]
    assert data["text/plain"] == "<table: 2 rows x 1 columns>"  # not 50,000 rows as text
    drawn = cells[3].outputs[0]["data"]  # HTML tables: their HTML once, not again as text
    assert drawn["text/html"] == "<p>" + "x" * 5000 + "</p>"
    assert drawn["text/plain"] == "<HTML: 5,007 characters>"


def test_a_bad_source_stops_the_kernels_started_for_it(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        build_report(str(tmp_path / "missing"), out_dir=tmp_path / "out", progress=False)
    assert _kernel_children() == []
    assert not (tmp_path / "out").exists()


def test_data_files_are_written_here_when_the_forked_copy_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forked copy that never finishes (e.g. a lock held by another thread at the fork)
    is stopped after DATA_FILES_WAIT and the files are written by this process."""
    import time

    from scalingo_audit import report

    parent = os.getpid()
    written = report.write_data_files

    def hang_in_the_copy(audit, folder):
        if os.getpid() != parent:
            time.sleep(3600)
        return written(audit, folder)

    monkeypatch.setattr(report, "write_data_files", hang_in_the_copy)
    monkeypatch.setattr(report, "DATA_FILES_WAIT", 1.0)
    audit = open_audit("demo")
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    page = (lambda p: report.atomic.write_text(p, "<p>report</p>"), tmp_path / "r.html")
    with report._aside(audit, "k", str(cache_dir), tmp_path, page) as aside:
        aside.handed_over()  # the copy saved the audit before it hung
        assert (cache_dir / "k.pickle").is_file()
        started = time.monotonic()
        paths = aside.data_files()  # waits DATA_FILES_WAIT for the copy, then writes them here
        waited = time.monotonic() - started
        started = time.monotonic()
        assert aside.report().read_text() == "<p>report</p>"  # by the other copy
        assert time.monotonic() - started < 30
    assert 1.0 <= waited < 60
    assert sorted(p.name for p in paths) == sorted(name for name, _ in report.DATA_FILES)
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    expected = tmp_path / "expected"
    expected.mkdir()
    written(audit, expected)
    for p in paths:
        assert p.read_bytes() == (expected / p.name).read_bytes()


def test_the_audit_is_saved_here_when_the_forked_copy_fails_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy that dies before it has saved the audit for the kernels: this process saves
    it (at once: the pipe closes, nothing waits HANDOVER_WAIT), and writes the data files."""
    import time

    from scalingo_audit import cache, notebook, report
    from scalingo_audit.notebook import Audit

    parent = os.getpid()
    saved = notebook.save_cached

    def fail_in_the_copy(audit, key, directory):
        if os.getpid() != parent:
            os._exit(3)
        return saved(audit, key, directory)

    monkeypatch.setattr(notebook, "save_cached", fail_in_the_copy)
    audit = open_audit("demo")
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    made: list[int] = []

    def make(path: Path) -> Path:
        made.append(os.getpid())
        return report.atomic.write_text(path, "<p>report</p>")

    with report._aside(audit, "k", str(cache_dir), tmp_path, (make, tmp_path / "r.html")) as aside:
        started = time.monotonic()
        aside.handed_over()
        assert time.monotonic() - started < 30
        kept = cache.read("k", cache_dir, Audit)
        assert kept is not None and kept.findings.equals(audit.findings)
        assert not (cache_dir / f"{notebook.FINDINGS_PAGE}.pickle").exists()  # never rendered
        paths = aside.data_files()
        assert aside.report().read_text() == "<p>report</p>"
    assert made == [parent]  # made here, by this process
    assert sorted(p.name for p in paths) == sorted(name for name, _ in report.DATA_FILES)
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)


def test_a_copy_that_fails_prints_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A forked copy whose work raises ends quietly: this process writes what the copy did
    not (the data files here) and would report an error itself; no traceback of the copy
    reaches the terminal."""
    from scalingo_audit import report

    parent = os.getpid()
    written = report.write_data_files

    def fail_in_the_copy(audit, folder):
        if os.getpid() != parent:
            raise RuntimeError("the copy failed")
        return written(audit, folder)

    monkeypatch.setattr(report, "write_data_files", fail_in_the_copy)
    audit = open_audit("demo")
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    page = (lambda p: report.atomic.write_text(p, "<p>report</p>"), tmp_path / "r.html")
    with report._aside(audit, "k", str(cache_dir), tmp_path, page) as aside:
        aside.handed_over()
        paths = aside.data_files()
        aside.report()
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "the copy failed" not in err, err


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_the_forked_copies_end_when_the_report_process_is_killed(tmp_path: Path) -> None:
    """A report process killed (SIGKILL: no cleanup of its own) while its copies wait to
    be told the notebooks have run leaves no process behind: the exporting copy reads the
    end of its pipe, since no copy keeps the killed process's end of it open."""
    import subprocess
    import sys
    import time

    script = (
        "import multiprocessing, os, signal, sys\n"
        "from scalingo_audit import report\n"
        "from scalingo_audit.notebook import open_audit\n"
        "from pathlib import Path\n"
        "tmp = Path(sys.argv[1])\n"
        "audit = open_audit('demo')\n"
        "make = (lambda p: report.atomic.write_text(p, 'x'), tmp / 'r.html')\n"
        "with report._aside(audit, 'k', str(tmp), tmp, make) as aside:\n"
        "    aside.handed_over()\n"
        "    aside.data_files()\n"
        "    print(' '.join(str(c.pid) for c in multiprocessing.active_children()), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:  # files: a copy left may hold them
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)], stdout=stdout, stderr=stderr,
            timeout=120,
        )  # fmt: skip
    assert done.returncode == -9, err.read_text()
    pids = [int(p) for p in out.read_text().split()]
    assert 1 <= len(pids) <= 2  # the exporting copy (still waiting); the other may have ended
    deadline = time.monotonic() + 60
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if _running(p)]
    for p in left:
        os.kill(p, 9)
    assert left == []
    assert not (tmp_path / "r.html").exists()  # never told the notebooks had run


def test_the_forked_copy_makes_the_report_once_told_the_notebooks_ran(tmp_path: Path) -> None:
    """The copy saves the audit, renders the findings page, writes the data files, and makes
    report.html only when told the notebooks have run; a block that fails before stops it
    without a report."""
    from scalingo_audit import notebook, report

    audit = open_audit("demo")
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    made = tmp_path / "made-by"

    def make(path: Path) -> Path:
        made.write_text(str(os.getpid()))
        return report.atomic.write_text(path, "<p>report</p>")

    target = tmp_path / "r.html"
    with report._aside(audit, "k", str(cache_dir), tmp_path, (make, target)) as aside:
        aside.handed_over()
        assert (cache_dir / "k.pickle").is_file()
        files = aside.data_files()
        assert not target.exists()  # not before the notebooks have run
        assert aside.report() == target and target.read_text() == "<p>report</p>"
    assert int(made.read_text()) != os.getpid()  # made by the copy
    assert (cache_dir / f"{notebook.FINDINGS_PAGE}.pickle").is_file()
    assert all(f.is_file() for f in files)
    made.unlink()
    target.unlink()
    with (
        pytest.raises(RuntimeError, match="a notebook failed"),
        report._aside(audit, "k2", str(cache_dir), tmp_path, (make, target)) as aside,
    ):
        aside.handed_over()
        raise RuntimeError("a notebook failed")
    assert not made.exists() and not target.exists()
