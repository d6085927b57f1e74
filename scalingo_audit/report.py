"""``build_report``: run the report notebooks with papermill and export them as offline HTML.

A linear pipeline, each step a function you can call alone::

    open_audit (validate) → report_notebooks → execute → export_html → render_index

Inputs are checked in-process first, so a bad source or policy raises its
``InputError``/``PolicyError`` before any notebook runs (the kernels, started while the
source loads, are shut down). A notebook that fails
raises :class:`~scalingo_audit.errors.ReportError` naming the notebook and the
error line; its executed copy is kept in ``<out_dir>/_failed/`` for inspection.
The HTML holds no code (inputs and prompts are excluded); a cell tagged
``remove-cell`` is left out entirely, one tagged ``remove-output`` shows nothing.
Nothing is written to ``out_dir`` until every notebook has run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from . import __version__, atomic, plotlyjs, resources
from .cache import CACHE_ENV
from .errors import InputError, ReportError
from .frames import SEVERITIES
from .frames import text as _text

if TYPE_CHECKING:
    from .notebook import Audit

# Nothing imported here imports pandas: ``report`` starts its first kernel before pandas,
# the checks and the source are loaded (build_report), so the kernel's start (~1.3 s of CPU)
# runs beside them on another core. tests/test_layers.py keeps it so.

KERNEL_ARGS = (
    "--InteractiveShell.colors=nocolor",
    "--IPKernelApp.log_level=ERROR",
    "--IPKernelApp.exec_lines=import scalingo_audit.notebook; "
    "scalingo_audit.notebook.warm_up_kernel()",
)
"""Plain (uncoloured) tracebacks, no kernel start-up chatter on stderr, and what every
report notebook imports first (pandas and plotly with them) imported, and plotly's first
figure made, while the kernel starts (:func:`scalingo_audit.notebook.warm_up_kernel`):
kernels start while the report still loads and checks its source (:func:`build_report`), so
their first cell does not wait for these."""

CELL_TIMEOUT = 600  # seconds; a cell running longer is stuck, not slow
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One report page: the notebook it comes from and the HTML file next to ``index.html``."""

    notebook: Path
    title: str
    summary: str
    html: str


def report_notebooks(notebooks_dir: str | Path | None = None) -> list[Path]:
    """The report notebooks, in order: ``NN_*.ipynb`` except those whose notebook metadata
    says ``"scalingo_audit": {"report": false}`` (the interactive explorer, notebooks that
    take other parameters). ``notebooks_dir`` is a user's own copies (``report --notebooks
    DIR``, e.g. edited from ``scalingo-audit notebooks --copy DIR``); by default, the
    notebooks bundled with the package (:func:`scalingo_audit.resources.notebooks_dir`)."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else resources.notebooks_dir()
    if not folder.is_dir():
        raise ReportError(f"{folder}: notebooks directory not found")
    found = sorted(p for p in folder.glob(resources.NOTEBOOK_GLOB) if _in_report(p))
    if not found:
        raise ReportError(f"{folder}: no report notebooks (NN_*.ipynb) in this directory")
    return found


def _in_report(path: Path) -> bool:
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return True  # let execution report what is wrong with it
    return bool(meta.get("scalingo_audit", {}).get("report", True))


def default_out_dir(source: str) -> Path:
    """``reports/<slug>``: ``demo``, or the source's file or directory name."""
    if source == "demo":
        return Path("reports") / "demo"
    path = Path(source).resolve()
    name = path.stem if path.is_file() else path.name
    return Path("reports") / (re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "report")


def notebook_parameters(
    source: str,
    policy: str,
    as_of: str,
    *,
    pseudonymise: bool = False,
    top: int | None = None,
    pseudonym_key: str = "",
    verify: bool = True,
) -> dict[str, str | bool | int]:
    """Papermill parameters: paths made absolute (kernels run elsewhere), nothing secret.
    ``pseudonymise`` is passed only when set, with the key file's absolute path resolved
    once (the key never leaves its file, and every notebook uses the same one); ``top``
    (how many bars a chart shows at most) only when given; ``verify`` only when false
    (``--no-verify``)."""
    params: dict[str, str | bool | int] = {
        "source": source if source == "demo" else str(Path(source).resolve()),
        "policy": str(Path(policy).resolve()) if policy else "",
        "as_of": as_of,
    }
    if pseudonymise:
        from .pseudonymise import key_path

        params["pseudonymise"] = True
        params["pseudonym_key"] = str(key_path(pseudonym_key or None))
    if top is not None:
        params["top"] = top
    if not verify:
        params["verify"] = False
    return params


def execute(
    notebook: Path,
    output: Path,
    parameters: dict[str, str | bool | int],
    *,
    cwd: Path,
    km: Any = None,
) -> None:
    """Run ``notebook`` with papermill into ``output``; a failure raises ``ReportError``.
    ``km``: a kernel already started (:func:`scalingo_audit.kernel.start`, in ``cwd``), which
    the caller shuts down; by default papermill starts one and shuts it down."""
    import papermill as pm

    from .kernel import manager_class

    try:
        pm.execute_notebook(
            str(Path(notebook).resolve()),
            str(Path(output).resolve()),
            parameters=parameters,
            kernel_name="python3",
            # The kernel starts in ``cwd`` (nbclient's resources path). papermill's own
            # ``cwd=`` would chdir this whole process, which races when notebooks run in
            # threads at once and leaves the process in another notebook's directory.
            resources={"metadata": {"path": str(Path(cwd).resolve())}},
            progress_bar=False,
            execution_timeout=CELL_TIMEOUT,
            extra_arguments=list(KERNEL_ARGS),
            # written once at the end, not rewritten (5 MB) before and after every cell
            request_save_on_cell_execute=False,
            shutdown_kernel="immediate",  # nothing to flush: the notebook is already saved
            kernel_manager_class=manager_class(),  # no rfc3987_syntax import (kernel.py)
            km=km,
        )
    except pm.PapermillExecutionError as e:
        raise ReportError(
            f"notebook {notebook.name} failed at cell {e.exec_count}: "
            f"{_plain(e.ename)}: {_plain(e.evalue)}",
            notebook=notebook.name,
            cell_index=e.cell_index,
            ename=e.ename,
            evalue=e.evalue,
        ) from None
    except Exception as e:  # kernel died, timed out, could not start...
        raise ReportError(
            f"notebook {notebook.name} could not run: {type(e).__name__}: {_plain(e)}".rstrip(": ")
        ) from e


@functools.cache
def _exporter() -> Any:
    """nbconvert's HTML exporter: outputs only (no code, no prompts), tagged cells removed,
    nothing loaded from the internet (no require.js, MathJax or mermaid from a CDN), the
    table style embedded once in the ``<head>``. Made once per process (~0.45 s: template
    discovery and loading) and used under :data:`_EXPORT_LOCK`."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    # the notebook validated once, after its preprocessors, not after each of them
    config.HTMLExporter.optimistic_validation = True
    return HTMLExporter(
        config=config,
        extra_loaders=[jinja2.DictLoader({"offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def _outputs_only(nb: Any, kept: Path | None = None) -> Any:
    """``nb`` without code cells that show nothing (blank space once their input is hidden)
    and without plotly's request for MathJax from a CDN; with ``kept`` (the report's private
    directory), each output standing for a page kept there replaced by the page
    (:func:`scalingo_audit.notebook.inline_kept`)."""
    from .notebook import inline_kept

    nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.get("outputs")]
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html")
            if isinstance(html, str):
                if kept is not None:
                    html = inline_kept(html, kept)
                output["data"]["text/html"] = _EXTERNAL_SCRIPT.sub("", html)
    return nb


def _export(nb: Any, title: str, *, css: str = "") -> str:
    """``nb`` as one HTML page. Every HTML output (tables, charts, plotly.js) is set aside
    before nbconvert runs and put back after: nbconvert re-parses its whole result with
    BeautifulSoup (to add ``alt`` and ``tabindex`` attributes), which takes minutes on the
    tables of a 50,000-membership organisation and changes nothing in these outputs."""
    import secrets

    nb.metadata["title"] = f"{title} · scalingo-audit"
    from .htmltable import assets

    resources = {"metadata": {"name": title}, "table_assets": assets() + css}
    nonce = secrets.token_hex(8)
    kept: list[str] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html")
            if isinstance(html, str) and html:
                output["data"]["text/html"] = f"<!--sa-{nonce}-{len(kept)}-->"
                kept.append(html)
    with _EXPORT_LOCK:
        body, _ = _exporter().from_notebook_node(nb, resources=resources)
    return re.sub(rf"<!--sa-{nonce}-(\d+)-->", lambda m: kept[int(m.group(1))], str(body))


_EXPORT_LOCK = threading.Lock()  # one export at a time through the one exporter


def warm_up_export() -> None:
    """Make the exporter and export a small page with it (its templates compiled, the
    Markdown renderer and syntax highlighter imported: ~0.8 s of the first export), so that
    the report's own export, later, does only its own work. :func:`build_report` runs it
    beside the kernel while it runs the notebooks (in the forked copy of :func:`_aside`,
    which then exports the report; in a thread where the platform does not fork)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<p>.</p>"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Warm-up\n\n*A* `page`."), cell]
    _export(nb, "warm-up")


def export_html(executed: Path, title: str, *, bundle: str = "", kept: Path | None = None) -> str:
    """One executed notebook → one self-contained HTML page (the per-notebook pages).
    ``bundle``: the output embedding plotly.js (:func:`plotly_bundle`), put in front of a
    page that has charts but not plotly.js (a notebook that ran after another in the same
    report kernel: see :func:`scalingo_audit.notebook.setup_display`). ``kept``: the
    report's private directory, with the pages it kept apart (:func:`_outputs_only`)."""
    import nbformat

    nb = _outputs_only(nbformat.read(executed, as_version=4), kept)
    if bundle and plotly_bundle(nb) is None and _has_charts(nb):
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": bundle})]
        nb.cells.insert(0, cell)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("[← Report index](index.html)"))
    return _export(nb, title)


def _html_outputs(nb: Any) -> Iterator[str]:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html")
            if isinstance(html, str):
                yield html


def plotly_bundle(nb: Any) -> str | None:
    """The HTML output of ``nb`` that embeds plotly.js, if any."""
    return next((h for h in _html_outputs(nb) if _PLOTLY_BUNDLE in h), None)


def _first_bundle(executed: list[Path]) -> str:
    """The output embedding plotly.js of the first of the ``executed`` notebooks that has one
    (the report kernel's first chart), as :func:`merge_notebooks` keeps it; empty if none."""
    import nbformat

    for path in executed:  # read one by one: the first notebook draws the first chart
        found = plotly_bundle(_outputs_only(nbformat.read(path, as_version=4)))
        if found is not None:
            return found
    return ""


def _has_charts(nb: Any) -> bool:
    return any("Plotly.newPlot(" in h for h in _html_outputs(nb))


@dataclass(frozen=True)
class Section:
    """One notebook's part of ``report.html``: its anchor, title and ``##`` headings."""

    anchor: str
    title: str
    headings: list[tuple[str, str]]


def merge_notebooks(executed: list[Path], kept: Path | None = None) -> tuple[Any, list[Section]]:
    """The executed notebooks as one notebook, in order, each a section with an anchor (and
    each of its ``##`` headings one, for the table of contents). plotly.js, which every
    kernel embeds with its first chart, is kept once: the first copy serves all charts.
    ``kept``: the report's private directory, with the pages it kept apart
    (:func:`_outputs_only`). The title page goes in front with :func:`with_front`."""
    import nbformat

    merged = nbformat.v4.new_notebook()
    sections: list[Section] = []
    bundle_kept = False
    for n, path in enumerate(executed, 1):
        nb = nbformat.read(path, as_version=4)  # each read once: tens of MB on a large org
        if n == 1:
            merged.metadata = nb.metadata
        title, _ = describe_notebook(path, nb)
        nb = _outputs_only(nb, kept)
        anchor = f"section-{n}"
        headings: list[tuple[str, str]] = []
        start = nbformat.v4.new_markdown_cell(f'<div id="{anchor}" class="sa-section"></div>')
        merged.cells.append(start)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                lines = []
                for line in cell.source.split("\n"):
                    if line.startswith("## "):
                        hid = f"{anchor}-{len(headings) + 1}"
                        headings.append((hid, _heading_text(line[3:])))
                        lines += [f'<div id="{hid}"></div>', ""]
                    lines.append(line)
                cell.source = "\n".join(lines)
            else:
                outputs = []
                for output in cell.get("outputs", []):
                    html = output.get("data", {}).get("text/html")
                    if isinstance(html, str) and _PLOTLY_BUNDLE in html:
                        if bundle_kept:
                            continue
                        bundle_kept = True
                    outputs.append(output)
                cell.outputs = outputs
            merged.cells.append(cell)
        sections.append(Section(anchor=anchor, title=title, headings=headings))
    return merged, sections


def with_front(nb: Any, front: str) -> Any:
    """``nb`` with the HTML ``front`` (the title page) as its first output."""
    import nbformat

    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": front})]
    nb.cells.insert(0, cell)
    return nb


def _heading_text(text: str) -> str:
    """A Markdown heading as plain text for the table of contents."""
    return re.sub(r"[*_`]", "", text).strip()


_PLOTLY_BUNDLE = plotlyjs.MARKER


_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_css -%}{{ super() }}<style>
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon :is(td, th) { text-align: left; vertical-align: top; }
.jp-RenderedHTMLCommon table.sa-table { table-layout: auto; }
</style>
{{ resources.table_assets }}
{%- endblock html_head_css -%}
"""
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\ssrc=[\"'](https?:)?//[^>]*>\s*</script>", re.I)


def describe_notebook(path: Path, nb: Any = None) -> tuple[str, str]:
    """Title (the first ``# heading``) and summary (first sentence after it) of a notebook
    (``nb``, when it is already read)."""
    import nbformat

    if nb is None:
        nb = nbformat.read(path, as_version=4)
    title = re.sub(r"^\d+_", "", path.stem).replace("_", " ").capitalize()
    cell = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    paragraphs = re.split(r"\n\s*\n", cell.source.strip()) if cell else []
    if paragraphs and paragraphs[0].startswith("# "):
        heading, _, rest = paragraphs.pop(0).partition("\n")
        title = heading[2:].strip()
        paragraphs[:0] = [rest] if rest.strip() else []
    text = re.sub(r"[*_`]", "", " ".join(paragraphs[0].split())) if paragraphs else ""
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return title, sentence if len(sentence) <= 200 else sentence[:200].rsplit(" ", 1)[0] + " …"


def build_report(
    source: str = "demo",
    *,
    policy: str = "",
    as_of: str = "",
    out_dir: str | Path | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    pseudonymise: bool = False,
    pdf: bool = False,
    top: int | None = None,
    per_notebook: bool = False,
    timings: dict[str, float] | None = None,
    verify: bool = True,
) -> Path:
    """Execute the report notebooks on ``source`` and write the HTML report.

    With ``pseudonymise``, every page shows keyed pseudonyms instead of emails, usernames
    and user ids (see :mod:`scalingo_audit.pseudonymise`; the key file is created before
    any notebook runs, and the notebooks read it themselves).
    The report is one self-contained ``report.html`` (title page, table of contents, every
    notebook's section in order, plotly.js once), built by merging the executed notebooks and
    exporting them once; ``index.html`` links it and the data files. With ``per_notebook``,
    each notebook also gets its own page. With ``pdf``, ``report.pdf`` is printed from
    ``report.html`` by the system Chromium (:mod:`scalingo_audit.pdf`; missing Chromium fails
    before any run). With ``verify=False`` (``--no-verify``), a snapshot whose raw files do
    not match its manifest is reported anyway, and every page says UNVERIFIED.
    ``top`` caps the bars of each chart (the notebooks' default: 25); tables are never capped.
    The report directory also holds the complete data: ``findings.csv``, ``findings.json``
    and the access review sheet ``review.csv`` (see :data:`DATA_FILES`).
    ``timings``, when given, receives the seconds each phase took (``load + checks``,
    ``notebooks``, ``merge + export``, ``data files``, ``pdf``), for the benchmark; the
    ``scalingo_audit.report`` logger gets them at DEBUG, and with ``progress`` one INFO line
    per notebook and per file written.
    Returns the path of ``index.html``. Raises ``InputError``/``PolicyError`` for
    bad input (before any notebook runs) and ``ReportError`` if a notebook fails.
    """
    source = str(source)
    if top is not None and top < 1:
        raise InputError("--top must be at least 1")
    if pdf:
        from .pdf import find_chromium

        find_chromium()
    clock = _Clock(timings)
    key_file = ""
    if pseudonymise:  # one key file for this process and every notebook: decided here, once
        from .pseudonymise import key_path

        key_file = str(key_path())
    notebooks = report_notebooks(notebooks_dir)
    out = Path(out_dir) if out_dir is not None else default_out_dir(source)
    if out.exists() and not out.is_dir():  # fail now, not after every notebook has run
        raise ReportError(f"{out}: exists and is not a directory; --out names the report directory")
    params = notebook_parameters(
        source, policy, as_of, pseudonymise=pseudonymise, top=top, pseudonym_key=key_file,
        verify=verify,
    )  # fmt: skip
    pages: list[Page] = []
    with (
        tempfile.TemporaryDirectory(prefix="scalingo-audit-report-") as tmp,
        _environ(CACHE_ENV, tmp),  # kernels inherit it: where the audit computed here will be
        _kernels(notebooks) as kernels,  # one starts up while this process loads and checks
    ):
        from .notebook import cache_key, open_audit  # pandas, once it starts

        staging = Path(tmp)
        audit = open_audit(
            source, policy, as_of, pseudonymise=pseudonymise, pseudonym_key=key_file,
            verify=verify,
        )  # fmt: skip
        clock.lap("load + checks")
        # more kernels for a large organisation, starting while the first runs its notebook
        _start_kernels(
            kernels, default_workers(len(notebooks), len(audit.data.memberships)), notebooks
        )
        # the audit computed above, handed to every kernel (notebook.CACHE_ENV), never a secret
        key = cache_key(
            source, policy, as_of, pseudonymise=pseudonymise,
            pseudonym_key=str(params.get("pseudonym_key", "")), verify=verify,
        )  # fmt: skip
        data_dir = staging / "data"
        data_dir.mkdir()
        # the executed notebooks' report.html, made once they have all run
        executed = [staging / nb.name for nb in notebooks]

        def make_report(target: Path) -> Path:
            return export_report(audit, executed, target, policy=policy, kept=staging)

        # the hand-over, the data files and report.html are made beside the kernel (_Aside)
        with _aside(audit, key, tmp, data_dir, (make_report, staging / REPORT_HTML)) as aside:
            import papermill  # noqa: F401  (while the forked copy saves the audit)

            aside.handed_over()
            run_notebooks(notebooks, staging, params, out=out, progress=progress, kernels=kernels)
            clock.lap("notebooks")
            written = aside.data_files()
            clock.lap("data files (the rest, after the notebooks)")
            report_html = aside.report()
        htmls = {}
        if per_notebook:
            bundle = _first_bundle(executed)
            for nb_path, done in zip(notebooks, executed, strict=True):
                title, summary = describe_notebook(nb_path)
                page = Page(
                    notebook=nb_path, title=title, summary=summary, html=f"{nb_path.stem}.html"
                )
                htmls[page.html] = export_html(done, title, bundle=bundle, kept=staging)
                pages.append(page)
        # every notebook has run: the files go into the report directory, each whole or not
        # at all (the data files, written whole in the staging directory, moved there)
        out.mkdir(parents=True, exist_ok=True)
        atomic.move(report_html, out / REPORT_HTML)
        _say(progress, f"{REPORT_HTML} … done")
        for name, text in htmls.items():
            atomic.write_text(out / name, text)
        for path in written:
            atomic.move(path, out / path.name)
    clock.lap("merge + export")
    shutil.rmtree(out / "_failed", ignore_errors=True)
    report_pdf = ""
    if pdf:
        from .pdf import html_to_pdf, pdf_path

        report_pdf = pdf_path(out / REPORT_HTML).name
        html_to_pdf(out / REPORT_HTML, out / report_pdf, css=report_print_css(audit))
        _say(progress, f"PDF {report_pdf} … done")
        clock.lap("pdf")
    index = out / "index.html"
    atomic.write_text(
        index,
        render_index(audit, pages, policy=policy, report=REPORT_HTML, report_pdf=report_pdf),
    )
    return index


REPORT_HTML = "report.html"
"""The whole report in one self-contained file, next to ``index.html``."""

REPORT_CSS = """<style>
.sa-section { border-top: 3px solid #d9e2ec; margin-top: 2.5rem; }
</style>"""
"""What ``report.html`` adds to the pages' style: a rule between sections."""


def export_report(
    audit: Audit, executed: list[Path], target: Path, *, policy: str = "", kept: Path | None = None
) -> Path:
    """``report.html`` of the ``executed`` notebooks into ``target``: merged in order
    (:func:`merge_notebooks`, with the pages kept apart in ``kept``) behind the title page
    (:func:`render_index`, with the table of contents) and exported once (plotly.js kept
    once)."""
    nb, sections = merge_notebooks(executed, kept)
    front = render_index(audit, [], policy=policy, toc=sections, fragment=True)
    html = _export(with_front(nb, front), "Scalingo access audit", css=REPORT_CSS)
    return atomic.write_text(target, html)


def report_print_css(audit: Audit) -> str:
    """The print style of ``report.pdf``: A4, landscape pages for wide tables (the findings),
    identifiers never broken across lines, page numbers, the audit date and the snapshot
    hash in every footer; and a script leaving only internal links (``#...``): a relative
    link would become an absolute local path in the PDF."""
    when = audit.as_of.astimezone(dt.UTC).strftime("%Y-%m-%d")
    digest = re.sub(r"[^0-9a-f]", "", (audit.data.info.source_sha256 or "").lower())
    footer = f"Scalingo access audit as of {when}" + (
        f" · snapshot SHA-256 {digest}" if digest else " · snapshot hash unknown"
    )
    return (
        '<style media="print">\n'
        "@page { size: A4 portrait; margin: 12mm 12mm 16mm;"
        f' @bottom-left {{ content: "{footer}"; width: 82%; white-space: nowrap;'
        " font: 6.5pt sans-serif; color: #52606d; }"
        ' @bottom-right { content: "page " counter(page) " of " counter(pages); width: 18%;'
        " white-space: nowrap; font: 7pt sans-serif; color: #52606d; } }\n"
        "@page wide { size: A4 landscape; }\n"
        ".sa-wide { page: wide; }\n"
        ".sa-section { break-before: page; border: 0; margin: 0; }\n"
        ".jp-RenderedHTMLCommon table.sa-table :is(td, th) {"
        " overflow-wrap: normal !important; word-break: normal !important; }\n"
        "sa-id { white-space: nowrap; }\n"
        "pre.sa-cmd { font-size: 6.5pt; }\n"
        ".sa-tools { display: none; }\n"
        "table.sa-table thead th { position: static; }\n"
        "</style>\n<script>\n"
        "function saInternalLinks(){document.querySelectorAll('a[href]').forEach(function(a){"
        "if(a.getAttribute('href').charAt(0)!=='#'){a.removeAttribute('href');}});}\n"
        "document.addEventListener('DOMContentLoaded',saInternalLinks);"
        "window.addEventListener('load',saInternalLinks);\n</script>"
    )


HANDOVER_WAIT = 60.0
"""How long the exporting copy (:func:`_aside`) may take to save the audit for the kernels
before it is saved here."""

DATA_FILES_WAIT = 300.0
"""How long a forked copy may take to write the data files, or ``report.html`` once told the
notebooks have run, before they are written here."""

_HANDED, _DATA_FILES, _REPORT = b"1", b"2", b"3"  # what a forked copy says it has done


class _Aside:
    """What :func:`_aside` yields: waits for the work done beside the kernel, each part
    done here instead when the copy doing it failed or hangs (``said`` waits until the copy
    says it has done a part, or it cannot say it any more; ``go`` tells it the notebooks
    have run)."""

    def __init__(
        self,
        audit: Audit,
        key: str,
        cache_dir: str,
        folder: Path,
        report: tuple[Callable[[Path], Path], Path],
        said: Callable[[bytes, float], bool],
        go: Callable[[], None],
    ) -> None:
        self.audit, self.key, self.cache_dir, self.folder = audit, key, cache_dir, folder
        (self.make_report, self.report_path), self._said, self._go = report, said, go

    def handed_over(self) -> None:
        """Wait until the audit is saved for the kernels (:data:`CACHE_ENV`)."""
        if not self._said(_HANDED, HANDOVER_WAIT):
            from .notebook import save_cached

            save_cached(self.audit, self.key, self.cache_dir)

    def data_files(self) -> list[Path]:
        """Wait for the data files (:func:`write_data_files`); returns them."""
        files = [self.folder / name for name, _ in DATA_FILES]
        if self._said(_DATA_FILES, DATA_FILES_WAIT) and all(f.is_file() for f in files):
            return files
        return write_data_files(self.audit, self.folder)

    def report(self) -> Path:
        """Once every notebook has run: ``report.html`` (``make_report``); returns it."""
        self._go()
        if self._said(_REPORT, DATA_FILES_WAIT) and self.report_path.is_file():
            return self.report_path
        return self.make_report(self.report_path)


@contextlib.contextmanager
def _aside(
    audit: Audit,
    key: str,
    cache_dir: str,
    folder: Path,
    report: tuple[Callable[[Path], Path], Path],
) -> Iterator[_Aside]:
    """Beside the block, in order: the audit saved under ``key`` in ``cache_dir`` for the
    kernels (:func:`scalingo_audit.notebook.save_cached`), the findings page rendered there
    (:func:`scalingo_audit.notebook.save_findings_page`), the data files written into
    ``folder`` (:func:`write_data_files`), and, once :meth:`_Aside.report` says the notebooks
    have run, ``report.html`` (``report``: the function making it and its path; the
    exporter is made and warmed up before, :func:`warm_up_export`); the :class:`_Aside`
    yielded waits for each.

    Where the platform forks, all of this is done in two forked copies of this process
    (:class:`_Copy`): one saves the audit, renders the findings page, warms up the exporter
    and exports; the other writes the data files. They have the audit already, and the CPU
    they take (2.5 s on a 50,000-membership organisation) is taken beside the kernel, never
    from this process, which only feeds the kernel (the exporter's warm-up here shared its
    GIL and slowed the first notebook by about 0.15 s); once the kernel is done, each copy has a
    core to finish on. The audit is saved (0.1 s) while this process imports papermill, and
    the findings page is ready long before the kernel reaches its notebook. If a copy
    fails, what it did not do is done here, so that an error is raised as usual. Elsewhere
    the audit is saved here, the data files are written and the exporter warmed up in
    threads."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        from .notebook import save_cached

        save_cached(audit, key, cache_dir)
        with ThreadPoolExecutor(max_workers=2) as side:
            future = side.submit(write_data_files, audit, folder)
            warm = side.submit(warm_up_export)

            def said_here(what: bytes, timeout: float) -> bool:
                if what == _DATA_FILES:
                    future.result()
                elif what == _REPORT:  # made by the caller, with the warmed-up exporter
                    warm.result()
                    return False
                return True

            yield _Aside(audit, key, cache_dir, folder, report, said_here, lambda: None)
        return
    import gc
    import sys

    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # a copy would write out what is still buffered a second time
    go_r, go_w = os.pipe()  # this process says the notebooks have run
    # What this process holds (the audit, pandas, plotly...) is frozen out of the garbage
    # collector until the copies end: a collection in any of them would write to the
    # header of every object it walks, copying the memory pages they share, and walk
    # the audit's objects each time.
    gc.freeze()
    copies: list[_Copy] = []
    try:
        # one copy saves the audit, renders the findings page, warms up the exporter and
        # exports; another writes the data files: once the kernel is done, each has a core
        # (neither keeps this process's end of ``go``: the exporting copy reads it to its
        # end, which comes when this process closes it, or dies)
        copies.append(_Copy(_aside_work, (audit, key, cache_dir, report, go_r), close=(go_w,)))
        copies.append(_Copy(_data_files_work, (audit, folder), close=(go_w, go_r)))
    except BaseException:
        for c in copies:
            c.end(kill=True)
        gc.unfreeze()
        os.close(go_r)
        os.close(go_w)
        raise
    os.close(go_r)
    tell = os.fdopen(go_w, "wb", buffering=0)
    exporter, files = copies

    def said(what: bytes, timeout: float) -> bool:
        return (files if what == _DATA_FILES else exporter).said(what, timeout)

    def go() -> None:
        with contextlib.suppress(OSError):  # a copy that ended: report() makes it here
            tell.write(b"g")

    try:
        yield _Aside(audit, key, cache_dir, folder, report, said, go)
    finally:
        tell.close()
        exporter.end(kill=_REPORT not in exporter.seen)  # the block failed: not needed
        files.end(kill=_DATA_FILES not in files.seen)
        gc.unfreeze()


class _Copy:
    """A forked copy of this process running ``work(*args, status)``, which writes one byte
    on the pipe ``status`` for each part of its work done (:func:`_aside`); the file
    descriptors ``close`` are closed in the copy first (:func:`_in_copy`)."""

    def __init__(
        self, work: Callable[..., None], args: tuple[Any, ...], *, close: tuple[int, ...] = ()
    ) -> None:
        import multiprocessing

        self.status, status_w = os.pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_in_copy, args=(close, work, *args, status_w), daemon=True
        )
        try:
            self.process.start()
        except BaseException:
            os.close(self.status)
            raise
        finally:
            os.close(status_w)  # the copy's end: closed when it ends (or is stopped)
        self.seen: list[bytes] = []

    def said(self, what: bytes, timeout: float) -> bool:
        """Whether the copy says it has done ``what`` within ``timeout`` seconds. A copy
        forked beside the kernel's client threads could in principle wait for a lock one of
        them held: then it is stopped, and what it has not done is done here, so a report
        never hangs on it."""
        import select

        deadline = time.monotonic() + timeout
        while what not in self.seen:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.status], [], [], left)
            if not ready:
                self.process.kill()
                return False
            got = os.read(self.status, 16)
            if not got:  # the copy ended (or was stopped) before it said so
                return False
            self.seen.extend(got[i : i + 1] for i in range(len(got)))
        return True

    def end(self, *, kill: bool) -> None:
        """Wait for the copy to end (stopped first with ``kill``)."""
        if kill and self.process.is_alive():
            self.process.kill()
        self.process.join()
        os.close(self.status)


def _in_copy(close: tuple[int, ...], work: Callable[..., None], *args: Any) -> None:
    """In a forked copy (:class:`_Copy`): the file descriptors ``close`` closed (a copy
    inherits every one this process has open), then ``work(*args)``. A failure ends the
    copy with status 1 and no traceback: this process does what the copy did not, and
    reports its error as usual."""
    for fd in close:
        os.close(fd)
    try:
        work(*args)
    except (Exception, KeyboardInterrupt):
        raise SystemExit(1) from None


def _aside_work(
    audit: Audit,
    key: str,
    cache_dir: str,
    report: tuple[Callable[[Path], Path], Path],
    go: int,
    status: int,
) -> None:
    """The exporting copy's work (:func:`_aside`), saying each part done on ``status``. The
    audit is saved first, at this process's priority: the kernel waits for it. Then, at a
    lower priority (``nice`` 10), the findings page (a failure here is not one: the kernel
    renders the page itself and reports any error in its notebook) and the exporter's
    warm-up, while the kernel and the process feeding it get the cores first; then, once
    ``go`` says the notebooks have run, ``report.html``."""
    from .notebook import save_cached, save_findings_page

    with os.fdopen(status, "wb", buffering=0) as said, os.fdopen(go, "rb", buffering=0) as told:
        save_cached(audit, key, cache_dir)
        said.write(_HANDED)
        with contextlib.suppress(OSError):
            os.nice(10)
        with contextlib.suppress(Exception):
            save_findings_page(audit, cache_dir)
        warm_up_export()
        if told.read(1) == b"g":  # the notebooks have run
            make_report, path = report
            make_report(path)
            said.write(_REPORT)


def _data_files_work(audit: Audit, folder: Path, status: int) -> None:
    """The other copy's work (:func:`_aside`): the data files, at a lower priority
    (``nice`` 10); they are needed only once the notebooks have run."""
    with os.fdopen(status, "wb", buffering=0) as said:
        with contextlib.suppress(OSError):
            os.nice(10)
        write_data_files(audit, folder)
        said.write(_DATA_FILES)


@contextlib.contextmanager
def _kernels(notebooks: list[Path], count: int = 1) -> Iterator[list[Any]]:
    """``count`` report kernels, started now (:func:`_start_kernels`), in a list to which
    more may be added (:func:`_start_kernels` again); every kernel in it is shut down when
    the block ends, whatever happened (a bad source found while they start stops them all)."""
    from .kernel import stop

    kms: list[Any] = []
    try:
        _start_kernels(kms, count, notebooks)
        yield kms
    finally:
        for km in kms:
            stop(km)


def _start_kernels(kms: list[Any], total: int, notebooks: list[Path]) -> None:
    """Start report kernels (:func:`scalingo_audit.kernel.start`, in the first notebook's
    folder) until ``kms`` holds ``total``."""
    from .kernel import start

    while len(kms) < total:
        kms.append(start(cwd=notebooks[0].parent.resolve(), extra_arguments=list(KERNEL_ARGS)))


def run_notebooks(
    notebooks: list[Path],
    staging: Path,
    params: dict[str, str | bool | int],
    *,
    out: Path,
    progress: bool = True,
    workers: int | None = None,
    kernels: list[Any] | None = None,
) -> list[Path]:
    """Execute ``notebooks`` into ``staging``; returns the executed copies, in order.

    The notebooks share a few kernels (``kernels``, already started, else ``workers`` started
    here, default :func:`default_workers`): each kernel takes the next notebook not yet
    taken, in order, until none is left, and is shut down then. Before each notebook its
    kernel is reset (:func:`scalingo_audit.kernel.reset`: no name left from the notebook
    before, the notebook's folder as working directory, execution count 1), so a notebook
    runs as in a kernel of its own, without paying a kernel start (~1.3 s of CPU with pandas
    and plotly). A failure stops the taking of notebooks, keeps the failed copy in
    ``out/_failed/`` and raises its ``ReportError`` (the first one, in notebook order)."""
    from .kernel import reset, stop

    targets = [staging / nb.name for nb in notebooks]
    todo = iter(range(len(notebooks)))
    lock = threading.Lock()
    failed = threading.Event()

    def take() -> int | None:
        with lock:
            return None if failed.is_set() else next(todo, None)

    def run(i: int, km: Any) -> None:
        nb, target = notebooks[i], targets[i]
        start = time.perf_counter()
        try:
            try:
                reset(km, cwd=nb.parent)
            except RuntimeError as e:
                raise ReportError(f"notebook {nb.name} could not run: {_plain(e)}") from e
            execute(nb, target, params, cwd=nb.parent, km=km)
        except ReportError:
            failed.set()
            _say(progress, f"[{i + 1}/{len(notebooks)}] {nb.stem} … failed")
            if target.exists():
                (out / "_failed").mkdir(parents=True, exist_ok=True)
                shutil.copy(target, out / "_failed" / nb.name)
            raise
        took = time.perf_counter() - start
        _say(progress, f"[{i + 1}/{len(notebooks)}] {nb.stem} … done in {took:.1f} s")

    def serve(km: Any) -> dict[int, ReportError]:
        errors: dict[int, ReportError] = {}
        try:
            while (i := take()) is not None:
                try:
                    run(i, km)
                except ReportError as e:
                    errors[i] = e
                    break  # this kernel may be in any state: it takes nothing more
        finally:
            stop(km)  # its memory back now, not when the last notebook ends
        return errors

    # Kernels get their folder from nbclient and reset (see execute), so nothing here changes
    # the working directory; paths are absolute and it is restored all the same, in case a
    # library called from a thread changes it.
    here = os.getcwd()
    out = out.absolute()
    try:
        with contextlib.ExitStack() as stack:
            kms = (
                kernels
                if kernels is not None
                else stack.enter_context(
                    _kernels(notebooks, workers or default_workers(len(notebooks)))
                )
            )
            with ThreadPoolExecutor(max_workers=len(kms)) as pool:
                errors: dict[int, ReportError] = {}
                for future in [pool.submit(serve, km) for km in kms]:
                    errors.update(future.result())
            if errors:
                raise errors[min(errors)]  # the first failure, in notebook order
    finally:
        os.chdir(here)
    return targets


PARALLEL_FROM = 10_000
"""Memberships from which a report may run its notebooks on more than one kernel (see
:func:`default_workers`). Below, one kernel runs them all, one after another: a further
kernel costs its own start (~1.3 s of CPU with pandas and plotly), more than it saves on
notebooks that take about a second each (see BENCHMARKS.md)."""


def default_workers(notebooks: int, memberships: int = 0) -> int:
    """Kernels a report's notebooks share: one; from :data:`PARALLEL_FROM` memberships, one
    per core but one (that core is this process's: it receives the kernels' outputs, writes
    the data files beside them and exports), at most one per notebook. On 2 cores that is
    still one: a large organisation's report took 7.9-9.9 s on one kernel and 8.8-9.8 s on
    two, with 1.2 s more CPU (BENCHMARKS.md)."""
    if memberships < PARALLEL_FROM:
        return 1
    return max(1, min(notebooks, (os.cpu_count() or 1) - 1))


class _Clock:
    """Seconds per phase of a build, into ``timings`` (nothing when it is ``None``)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        log.debug("%s: %.2f s", phase, now - self.last)
        if self.timings is not None:
            self.timings[phase] = now - self.last
        self.last = now


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the block (kernels inherit it), then as before."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


DATA_FILES = (
    ("findings.csv", "every finding, muted ones included (CSV, formula-safe)"),
    (
        "findings.json",
        "every finding as JSON, one per line, the same objects as `check --format json`",
    ),
    (
        "review.csv",
        "the access review sheet: one row per membership, to fill and apply with "
        "`review --apply-decisions` (`review SOURCE --out review.xlsx` writes it as a workbook)",
    ),
)
"""The report's machine-readable files, next to ``index.html`` and linked from it."""


def write_data_files(audit: Audit, out: Path) -> list[Path]:
    """Write :data:`DATA_FILES` into ``out``, each with the data's provenance."""
    from . import output, review
    from .evidence import provenance

    prov = provenance(audit.data, as_of=audit.as_of)
    csv_file, json_file, sheet_file = (out / name for name, _ in DATA_FILES)
    json_text, csv_text = output.to_json_and_csv(audit.findings, prov)
    atomic.write_text(csv_file, csv_text)
    atomic.write_text(json_file, json_text + "\n")
    sheet = review.review_sheet(audit.data, audit.findings)
    review.write_review(sheet, sheet_file, about={**review.sheet_about(audit.data), **prov})
    return [csv_file, json_file, sheet_file]


def render_index(
    audit: Audit,
    pages: list[Page],
    *,
    policy: str = "",
    report: str = "",
    report_pdf: str = "",
    toc: list[Section] | None = None,
    fragment: bool = False,
) -> str:
    """The report's front page: headline figures, provenance, gaps, expired exceptions, links
    to ``report`` (``report.html``), its PDF and the per-notebook ``pages``. With
    ``fragment``, the same as the title page of ``report.html``: no ``<html>`` around it,
    no links to pages, the table of contents ``toc`` instead."""
    from . import htmltable

    s = audit.data.summary()
    info = audit.data.info
    source = "built-in demo organisation" if info.kind == "demo" else f"{info.kind} {info.location}"
    f = audit.findings
    live = f[~f["muted"].astype(bool)]
    figures = [
        (
            "people",
            "people",
            s["people"],
            f"{s['external_people']} external"
            if audit.data.policy.internal_domains
            else "external: not evaluated (set internal_domains in the policy)",
        ),
        ("apps", "apps", s["apps"], f"in {s['regions']} region(s)"),
        (
            "full_collaborator_share",
            "full Collaborators",
            _pct(s["full_collaborator_share"]),
            f"of {s['accepted_collaborators']} accepted collaborator memberships",
        ),
        ("tfa_coverage", "2FA coverage", _pct(s["tfa_coverage"]), "where the status is known"),
        ("tfa_unknown", "2FA unknown", s["tfa_unknown"], "collaborator memberships"),
    ]
    severities = [(sev, int((live["severity"] == sev).sum())) for sev in SEVERITIES]
    events_days = info.events_days
    provenance = [
        ("Source", source),
        (
            "Snapshot hash" if info.kind != "export" else "Export file hash",
            f"SHA-256 {info.source_sha256}"
            + (" (of manifest.json)" if info.kind != "export" else "")
            if info.source_sha256
            else "unknown",
        ),
        *([("Evidence", UNVERIFIED_NOTE)] if info.verified is False else []),
        ("Collected at", _when(info.collected_at)),
        ("Collected by", info.collected_by or "unknown"),
        ("Regions", ", ".join(info.regions) or "unknown"),
        *([("Events", f"last {events_days} days")] if events_days else []),
        ("As of", _when(audit.as_of)),
        ("Policy", policy or ("built-in demo policy" if info.kind == "demo" else "defaults")),
        *(
            [("Collected with", f"scalingo-audit {info.collector_version}")]
            if info.collector_version
            else []
        ),
        ("Tool", f"scalingo-audit {__version__}"),
        *(
            [("People", "pseudonymised: emails, usernames and user ids are keyed pseudonyms")]
            if info.pseudonymised
            else []
        ),
        ("Report generated", _when(dt.datetime.now(dt.UTC))),
    ]
    gap_keys = sorted({k for g in info.gaps for k in g})
    return _TEMPLATE.render(
        source=source,
        collected=_when(info.collected_at),
        as_of=_when(audit.as_of),
        figures=figures,
        severities=severities,
        muted=int(f["muted"].astype(bool).sum()),
        provenance=provenance,
        gap_keys=gap_keys,
        gaps=[[_text(g.get(k)) for k in gap_keys] for g in info.gaps],
        expired=audit.expired,
        pages=pages,
        notes=info.notes,
        data_files=[(name, re.sub(r"`([^`]*)`", r"\1", what)) for name, what in DATA_FILES],
        follow=_follow_through(audit),
        assets=Markup(htmltable.assets()),
        fragment=fragment,
        toc=toc or [],
        report=report,
        report_pdf=report_pdf,
        unverified=UNVERIFIED_NOTE if info.verified is False else "",
    )


UNVERIFIED_NOTE = (
    "UNVERIFIED: loaded with --no-verify; the raw files were not checked against the "
    "manifest and may have been altered since collection"
)


def _follow_through(audit: Audit) -> dict[str, Any] | None:
    """The latest access review's follow-through, when one sits next to an older snapshot."""
    from .followup import index_summary

    return index_summary(audit.data)


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.1f} %"


def _when(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _plain(text: Any) -> str:
    """One line, no terminal colours: how a ReportError message must read."""
    return " ".join(_ANSI.sub("", str(text)).split())


def _say(enabled: bool, text: str) -> None:
    """A progress line (``progress=True``) for the ``scalingo_audit.report`` logger."""
    if enabled:
        log.info("%s", text)


_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """{% if not fragment %}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Scalingo access audit · scalingo-audit</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
 max-width:64rem;margin:2rem auto;padding:0 1rem}
a{color:#175cd3}
</style>
{{ assets }}
</head><body>{% endif %}
<div class="sa-front">
<style>
.sa-front h1{margin-bottom:.2rem}.sa-front h2{margin-top:2rem;border-bottom:1px solid #d9e2ec}
.sub{color:#52606d;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{border:1px solid #d9e2ec;border-radius:8px;padding:.7rem 1rem;min-width:9rem;flex:1}
.card .value{font-size:1.8rem;font-weight:600}.card .label{font-weight:600}
.card .note{color:#52606d;font-size:.85rem}
.sev-high .value{color:#b42318}.sev-medium .value{color:#b54708}
.sev-low .value{color:#175cd3}.sev-info .value{color:#52606d}
.warn{background:#fffaeb;border:1px solid #fedf89;border-radius:8px;padding:.6rem 1rem}
.sa-front li{margin:.4rem 0}.sa-toc li li{margin:.1rem 0}
</style>
<h1>Scalingo access audit</h1>
<p class="sub">Who can do what on these apps, and what should be fixed.
 Data: {{ source }}, collected {{ collected }}; findings as of {{ as_of }}.</p>
{% if unverified %}<p class="warn" data-evidence="unverified"><strong>{{ unverified }}</strong></p>{% endif %}
<h2>Headline figures</h2>
<div class="cards">{% for key, label, value, note in figures %}
<div class="card" data-figure="{{ key }}"><div class="value">{{ value }}</div>
<div class="label">{{ label }}</div><div class="note">{{ note }}</div></div>{% endfor %}
</div>
<h2>Findings by severity</h2>
<div class="cards">{% for sev, n in severities %}
<div class="card sev-{{ sev }}" data-figure="findings_{{ sev }}"><div class="value">{{ n }}</div>
<div class="label">{{ sev }}</div></div>{% endfor %}
<div class="card" data-figure="findings_muted"><div class="value">{{ muted }}</div>
<div class="label">muted</div><div class="note">accepted risks (policy exceptions), not counted above</div></div>
</div>
{% if toc %}<h2>Contents</h2>
<ol class="sa-toc">{% for s in toc %}
<li><a href="#{{ s.anchor }}">{{ s.title }}</a>{% if s.headings %}<ul>{% for hid, text in s.headings %}
<li><a href="#{{ hid }}">{{ text }}</a></li>{% endfor %}</ul>{% endif %}</li>{% endfor %}
</ol>{% endif %}
{% if not fragment %}<h2>The report</h2>
<ul>{% if report %}<li><a href="{{ report }}" data-file="{{ report }}">{{ report }}</a>: the whole report in one file
(every section, every finding; works offline){% if report_pdf %}, and its PDF
<a href="{{ report_pdf }}" data-file="{{ report_pdf }}">{{ report_pdf }}</a>{% endif %}</li>{% endif %}
{% for p in pages %}
<li><a href="{{ p.html }}">{{ p.title }}</a>{% if p.summary %}: {{ p.summary }}{% endif %}</li>{% endfor %}
</ul>{% endif %}
<h2>Data files</h2>
<p>The complete data of this report, for spreadsheets and scripts:</p>
<ul>{% for name, what in data_files %}
<li><a href="{{ name }}" data-file="{{ name }}">{{ name }}</a>: {{ what }}</li>{% endfor %}
</ul>
{% if follow %}<h2>Access review follow-through</h2>
<div class="follow-through"><p>The review recorded {{ follow.recorded_at }} on {{ follow.reviewed }}
 ({{ follow.record }}), checked against this snapshot:
{% for s, n in follow.counts.items() %}<span data-follow="{{ s }}">{{ n }} {{ s }}</span>{% if not loop.last %}, {% endif %}{% endfor %}.</p>
{% if follow.open %}<table class="sa-table"><thead><tr><th>Decision</th><th>Person</th><th>App</th><th>Region</th><th>Status</th><th>Command</th></tr></thead><tbody>{% for i in follow.open %}
<tr><td>{{ i.decision }}</td><td>{{ i.person }}</td><td>{{ i.app }}</td><td>{{ i.region }}</td><td>{{ i.status }}: {{ i.detail }}</td><td><code>{{ i.command }}</code></td></tr>{% endfor %}</tbody></table>
{% else %}<p>Every downgrade and revocation of that review is carried out (or moot).</p>{% endif %}</div>{% endif %}
{% if gaps %}<h2>Coverage gaps</h2>
<div class="warn"><p>Some data could not be collected: findings may be missing for these.</p>
<table class="sa-table"><thead><tr>{% for k in gap_keys %}<th>{{ k|capitalize }}</th>{% endfor %}</tr></thead><tbody>{% for row in gaps %}
<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</tbody></table></div>{% endif %}
{% if expired %}<h2>Expired policy exceptions</h2>
<div class="warn"><p>These accepted risks have expired: they mute nothing any more.</p>
<table class="sa-table"><thead><tr><th>Exception</th><th>Reason</th><th>Expired</th></tr></thead><tbody>{% for e in expired %}
<tr><td>{{ e.describe() }}</td><td>{{ e.reason }}</td><td><time>{{ e.expires.isoformat() }}</time></td></tr>{% endfor %}
</tbody></table></div>{% endif %}
<h2>Provenance</h2>
<table class="sa-table sa-kv">{% for k, v in provenance %}<tr><th scope="row">{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
{% for n in notes %}<p class="sub">{{ n }}</p>{% endfor %}
</div>
{% if not fragment %}</body></html>{% endif %}
"""
)
