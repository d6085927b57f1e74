"""``build_report``: run the report notebooks with papermill and export them as offline HTML.

A linear pipeline, each step a function you can call alone::

    open_audit (validate) → report_notebooks → execute → export_html → render_index

Inputs are checked in-process first, so a bad source or policy raises its
``InputError``/``PolicyError`` before any kernel starts. A notebook that fails
raises :class:`~scalingo_audit.errors.ReportError` naming the notebook and the
error line; its executed copy is kept in ``<out_dir>/_failed/`` for inspection.
The HTML holds no code (inputs and prompts are excluded); a cell tagged
``remove-cell`` is left out entirely, one tagged ``remove-output`` shows nothing.
Nothing is written to ``out_dir`` until every notebook has run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from . import __version__, atomic
from .errors import InputError, ReportError
from .frames import SEVERITIES
from .htmltable import assets
from .notebook import Audit, open_audit

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
"""The repository's notebooks, next to the package."""

KERNEL_ARGS = ("--InteractiveShell.colors=nocolor", "--IPKernelApp.log_level=ERROR")
"""Plain (uncoloured) tracebacks, and no kernel start-up chatter on stderr."""

CELL_TIMEOUT = 600  # seconds; a cell running longer is stuck, not slow
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


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
    take other parameters)."""
    folder = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    if not folder.is_dir():
        raise ReportError(f"{folder}: notebooks directory not found (pass notebooks_dir)")
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if _in_report(p))
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
    notebook: Path, output: Path, parameters: dict[str, str | bool | int], *, cwd: Path
) -> None:
    """Run ``notebook`` with papermill into ``output``; a failure raises ``ReportError``."""
    import papermill as pm

    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(cwd),
            progress_bar=False,
            execution_timeout=CELL_TIMEOUT,
            extra_arguments=list(KERNEL_ARGS),
        )
    except pm.PapermillExecutionError as e:
        raise ReportError(
            f"notebook {notebook.name} failed at cell {e.exec_count}: "
            f"{_plain(e.ename)}: {_plain(e.evalue)}"
        ) from None
    except Exception as e:  # kernel died, timed out, could not start...
        raise ReportError(
            f"notebook {notebook.name} could not run: {type(e).__name__}: {_plain(e)}".rstrip(": ")
        ) from e


def export_html(executed: Path, title: str) -> str:
    """Executed notebook → self-contained HTML with outputs only (no code, no prompts),
    loading nothing from the internet (no require.js, MathJax or mermaid from a CDN)."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    exporter = HTMLExporter(
        config=config,
        extra_loaders=[jinja2.DictLoader({"offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    nb = nbformat.read(executed, as_version=4)
    # Code cells without output would only leave blank space once their input is hidden.
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.get("outputs")]
    for cell in nb.cells:  # plotly's HTML output asks for MathJax from a CDN: drop it
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html")
            if isinstance(html, str):
                output["data"]["text/html"] = _EXTERNAL_SCRIPT.sub("", html)
    nb.metadata["title"] = f"{title} · scalingo-audit"
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("[← Report index](index.html)"))
    resources = {"metadata": {"name": title}, "table_assets": assets()}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return str(body)


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


def describe_notebook(path: Path) -> tuple[str, str]:
    """Title (the first ``# heading``) and summary (first sentence after it) of a notebook."""
    import nbformat

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
    verify: bool = True,
) -> Path:
    """Execute the report notebooks on ``source`` and write the HTML report.

    With ``pseudonymise``, every page shows keyed pseudonyms instead of emails, usernames
    and user ids (see :mod:`scalingo_audit.pseudonymise`; the key file is created before
    any notebook runs, and the notebooks read it themselves).
    With ``verify=False`` (``--no-verify``), a snapshot whose raw files do not match its
    manifest is reported anyway, and every page says UNVERIFIED.
    With ``pdf``, every page (``index.html`` included) also gets a PDF beside it, printed by
    the system Chromium (:mod:`scalingo_audit.pdf`; missing Chromium fails before any run).
    ``top`` caps the bars of each chart (the notebooks' default: 25); tables are never capped.
    The report directory also holds the complete data: ``findings.csv``, ``findings.json``
    and the access review sheet ``review.xlsx`` (see :data:`DATA_FILES`).
    Returns the path of ``index.html``. Raises ``InputError``/``PolicyError`` for
    bad input (before any notebook runs) and ``ReportError`` if a notebook fails.
    """
    source = str(source)
    if top is not None and top < 1:
        raise InputError("--top must be at least 1")
    if pdf:
        from .pdf import find_chromium

        find_chromium()
    key = ""
    if pseudonymise:  # one key file for this process and every notebook: decided here, once
        from .pseudonymise import key_path

        key = str(key_path())
    audit = open_audit(
        source, policy, as_of, pseudonymise=pseudonymise, pseudonym_key=key, verify=verify
    )
    notebooks = report_notebooks(notebooks_dir)
    out = Path(out_dir) if out_dir is not None else default_out_dir(source)
    if out.exists() and not out.is_dir():  # fail now, not after every notebook has run
        raise ReportError(f"{out}: exists and is not a directory; --out names the report directory")
    params = notebook_parameters(
        source, policy, as_of, pseudonymise=pseudonymise, top=top, pseudonym_key=key, verify=verify
    )
    pages: list[Page] = []
    with tempfile.TemporaryDirectory(prefix="scalingo-audit-report-") as tmp:
        staging = Path(tmp)
        for i, nb in enumerate(notebooks, 1):
            _say(progress, f"[{i}/{len(notebooks)}] {nb.stem} … ")
            start = time.perf_counter()
            executed = staging / nb.name
            try:
                execute(nb, executed, params, cwd=nb.parent)
            except ReportError:
                _say(progress, "failed\n")
                if executed.exists():
                    (out / "_failed").mkdir(parents=True, exist_ok=True)
                    shutil.copy(executed, out / "_failed" / nb.name)
                raise
            title, summary = describe_notebook(nb)
            page = Page(notebook=nb, title=title, summary=summary, html=f"{nb.stem}.html")
            (staging / page.html).write_text(export_html(executed, title), encoding="utf-8")
            pages.append(page)
            _say(progress, f"done in {time.perf_counter() - start:.1f} s\n")
        out.mkdir(parents=True, exist_ok=True)
        for page in pages:  # each page whole or not at all (a full disk leaves no half page)
            atomic.write_bytes(out / page.html, (staging / page.html).read_bytes())
    shutil.rmtree(out / "_failed", ignore_errors=True)
    write_data_files(audit, out)
    index = out / "index.html"
    atomic.write_text(index, render_index(audit, pages, policy=policy))
    if pdf:
        from .pdf import html_to_pdf, pdf_path

        for html in [index, *(out / p.html for p in pages)]:
            _say(progress, f"PDF {pdf_path(html).name} … ")
            html_to_pdf(html, pdf_path(html))
            _say(progress, "done\n")
    return index


DATA_FILES = (
    ("findings.csv", "every finding, muted ones included (CSV, formula-safe)"),
    ("findings.json", "every finding as JSON, the same objects as `check --format json`"),
    ("review.xlsx", "the access review sheet: one row per membership, to fill and apply"),
)
"""The report's machine-readable files, next to ``index.html`` and linked from it."""


def write_data_files(audit: Audit, out: Path) -> list[Path]:
    """Write :data:`DATA_FILES` into ``out``, each with the data's provenance."""
    from . import output, review
    from .evidence import provenance

    prov = provenance(audit.data, as_of=audit.as_of)
    csv_file, json_file, sheet_file = (out / name for name, _ in DATA_FILES)
    atomic.write_text(csv_file, output.to_csv(audit.findings, prov))
    atomic.write_text(json_file, output.to_json(audit.findings, prov) + "\n")
    sheet = review.review_sheet(audit.data, audit.findings)
    review.write_review(sheet, sheet_file, about={**review.sheet_about(audit.data), **prov})
    return [csv_file, json_file, sheet_file]


def render_index(audit: Audit, pages: list[Page], *, policy: str = "") -> str:
    """The report's front page: headline figures, provenance, gaps, expired exceptions, links."""
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
        assets=Markup(assets()),
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


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _plain(text: Any) -> str:
    """One line, no terminal colours: how a ReportError message must read."""
    return " ".join(_ANSI.sub("", str(text)).split())


def _say(enabled: bool, text: str) -> None:
    if enabled:
        sys.stderr.write(text)
        sys.stderr.flush()


_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Scalingo access audit · scalingo-audit</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
 max-width:64rem;margin:2rem auto;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d9e2ec}
.sub{color:#52606d;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{border:1px solid #d9e2ec;border-radius:8px;padding:.7rem 1rem;min-width:9rem;flex:1}
.card .value{font-size:1.8rem;font-weight:600}.card .label{font-weight:600}
.card .note{color:#52606d;font-size:.85rem}
.sev-high .value{color:#b42318}.sev-medium .value{color:#b54708}
.sev-low .value{color:#175cd3}.sev-info .value{color:#52606d}
.warn{background:#fffaeb;border:1px solid #fedf89;border-radius:8px;padding:.6rem 1rem}
a{color:#175cd3}li{margin:.4rem 0}
</style>
{{ assets }}
</head><body>
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
<h2>Pages</h2>
<ul>{% for p in pages %}
<li><a href="{{ p.html }}">{{ p.title }}</a>{% if p.summary %}: {{ p.summary }}{% endif %}</li>{% endfor %}
</ul>
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
</body></html>
"""
)
