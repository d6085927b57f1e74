"""What every notebook does first: load the source, run the checks, set up offline charts.

Notebooks stay thin glue: their ``parameters`` cell names ``source``,
``policy`` and ``as_of``; :func:`open_audit` turns those into an :class:`Audit`, and
:func:`open_report` is the whole setup cell of the report notebooks 01-04.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from .cache import CACHE_ENV
from .checks import expired_exceptions, resolve_as_of, run_checks
from .model import AuditData
from .policy import PolicyException, load_policy
from .sources import load

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Audit:
    data: AuditData
    findings: pd.DataFrame
    as_of: dt.datetime
    expired: list[PolicyException]


def cache_key(
    source: str,
    policy: str,
    as_of: str,
    *,
    pseudonymise: bool = False,
    pseudonym_key: str = "",
    verify: bool = True,
) -> str:
    """What an audit is computed from, hashed: the tool version, the source (a path made
    absolute, with the SHA-256 of its manifest or file, so an edited source misses), the
    policy file's path and content, ``as_of``, ``pseudonymise`` with the key file's path,
    and ``verify``. Never a secret."""
    import json

    from . import __version__
    from .snapshot import sha256_file

    def digest(path: Path) -> str:
        target = path / "manifest.json" if path.is_dir() else path
        try:
            return sha256_file(target)
        except OSError:
            return "unreadable"

    parts: list[str | bool] = [__version__, as_of, pseudonymise, pseudonym_key, verify]
    if source == "demo":
        parts += ["demo"]
    else:
        path = Path(source).resolve()
        parts += [str(path), digest(path)]
    if policy:
        path = Path(policy).resolve()
        parts += [str(path), digest(path)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def save_cached(audit: Audit, key: str, directory: str) -> None:
    """Keep ``audit`` under ``key`` in ``directory`` (see :data:`CACHE_ENV`)."""
    from . import cache

    cache.save(audit, key, directory)


FINDINGS_PAGE = "findings-page"
"""The name under which a report keeps its findings page (:func:`save_findings_page`)."""


@dataclass(frozen=True)
class RenderedPage:
    """A page of HTML kept in a report's private directory as ``<sha256>.html``, by the
    SHA-256 of its text, and the findings it was rendered from."""

    findings: pd.DataFrame
    sha256: str


KEPT_OUTPUT = re.compile(r'<div class="sa-kept" data-sa-kept="([0-9a-f]{64})">[^<]*</div>')
"""What a report's kernel shows for a page the report rendered already (:func:`findings_page`):
a line that names the page by its hash, replaced by the page itself when the report is
exported (:func:`inline_kept`)."""


def save_findings_page(audit: Audit, directory: str) -> None:
    """Render the findings page of a whole-organisation report (``findings_by_check`` of
    the findings as :func:`open_report` gives them to the notebooks) and keep it, with those
    findings, in ``directory`` (see :data:`CACHE_ENV`), for :func:`findings_page`. A report
    does this in the process it forks beside its kernel (:mod:`scalingo_audit.report`), on
    the core the kernel leaves free, while the kernel runs the notebooks before the findings
    one: 0.3 s of the kernel's time on 11,000 findings."""
    from . import cache, htmltable, tables

    findings = tables.scope_findings(audit.findings, audit.data)
    data = str(htmltable.findings_by_check(findings)).encode("utf-8")
    sha256 = hashlib.sha256(data).hexdigest()
    # not flushed to disk (atomic.write_text would): the directory lasts as long as the
    # build, and the page ends up in report.html, which is
    with cache.written_beside(Path(directory) / f"{sha256}.html") as out:
        out.write(data)
    cache.save(RenderedPage(findings, sha256), FINDINGS_PAGE, directory)


def findings_page(findings: pd.DataFrame) -> Any:
    """:func:`scalingo_audit.htmltable.findings_by_check` of ``findings``. In a report's
    kernel, when the report rendered the page already (:func:`save_findings_page`) from the
    same findings (equal values, dtypes, columns and index), a line standing for it
    (:data:`KEPT_OUTPUT`), which the report replaces with that page as it exports the
    notebooks (:func:`inline_kept`): a large organisation's page (6.6 MB) is then neither
    read by the kernel, nor sent to the report, nor written in its executed notebook. Any
    other findings (a notebook that filters them) are rendered here."""
    from . import cache, htmltable

    directory = os.environ.get(CACHE_ENV)
    if directory:
        kept = cache.read(FINDINGS_PAGE, directory, RenderedPage)
        if (
            kept is not None
            and kept.findings.equals(findings)
            and (Path(directory) / f"{kept.sha256}.html").is_file()
        ):
            return htmltable.HTML(
                f'<div class="sa-kept" data-sa-kept="{kept.sha256}">'
                "The findings page, added as the report is exported.</div>"
            )
    return htmltable.findings_by_check(findings)


def inline_kept(html: str, directory: str | Path) -> str:
    """``html`` (an output of an executed report notebook), or, when it stands for a page
    kept in ``directory`` (:data:`KEPT_OUTPUT`, :func:`findings_page`), that page."""
    match = KEPT_OUTPUT.fullmatch(html)
    if match is None:
        return html
    try:  # the name: 64 hexadecimal digits, never a path
        return (Path(directory) / f"{match.group(1)}.html").read_text(encoding="utf-8")
    except OSError:
        return html


_READ: dict[tuple[str, str], Audit] = {}
"""The audit last read back in this process (a report kernel), by cache directory and key."""

_READING = threading.Lock()  # held while _READ is looked up or filled (see read_ahead)

_HANDED_OVER = re.compile(r"[0-9a-f]{64}")  # the name of the audit a report hands over


def _cached(key: str) -> Audit | None:
    """The audit a report computed (:data:`CACHE_ENV`), or None. A report kernel runs several
    notebooks: the audit is unpickled once (about 0.1 s on 50,000 memberships; often ahead,
    :func:`read_ahead`) and each notebook gets a copy of its own (:func:`_own_copy`), so a
    notebook that changes a frame in place changes only its copy, as when each read the
    file."""
    from . import cache

    directory = os.environ.get(CACHE_ENV)
    if not directory:
        return None
    with _READING:
        kept = _READ.get((directory, key))
        if kept is None:
            kept = cache.read(key, directory, Audit)
            if kept is None:
                return None
            _READ.clear()  # one report's audit at a time
            _READ[(directory, key)] = kept
    return _own_copy(kept)


def read_ahead(timeout: float = 60.0, poll: float = 0.01) -> threading.Thread | None:
    """In a report's kernel (:data:`CACHE_ENV` set), as it starts: a thread that waits up to
    ``timeout`` seconds for the audit the report hands over (the one pickle named by a
    SHA-256 in that directory) and reads it into :data:`_READ`, for :func:`_cached`. A
    kernel is ready before the report has loaded and checked a large organisation; the
    audit is then read while the kernel would wait, not in its first notebook's setup cell
    (0.06 s on 50,000 memberships). Nothing is read once a notebook has read an audit."""
    from . import cache

    directory = os.environ.get(CACHE_ENV)
    if not directory:
        return None

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with _READING:
                if _READ:
                    return
                for path in Path(directory).glob(f"*{cache.SUFFIX}"):
                    if _HANDED_OVER.fullmatch(path.stem):
                        kept = cache.read(path.stem, directory, Audit)
                        if kept is not None:
                            _READ[(directory, path.stem)] = kept
                            return
            time.sleep(poll)

    thread = threading.Thread(target=wait, name="scalingo-audit-read-ahead", daemon=True)
    thread.start()
    return thread


def _own_copy(audit: Audit) -> Audit:
    """A deep copy of ``audit`` whose frames are new frames sharing the data of its own
    under pandas' copy-on-write (always on from pandas 3): a change made to one, in place or
    not, copies what it changes first. A copy costs nothing where copying the frames took
    0.02 s per notebook on 50,000 memberships. Without copy-on-write (pandas 2 by default),
    the frames are copied too."""
    import copy

    major = int(pd.__version__.split(".", 1)[0])
    if major < 3 and pd.options.mode.copy_on_write is not True:  # (an option pandas 3 drops)
        return copy.deepcopy(audit)
    d = audit.data
    frames = [audit.findings, d.apps, d.memberships, d.people, d.tokens, d.events]
    memo: dict[int, Any] = {id(f): f.copy(deep=False) for f in frames}
    return copy.deepcopy(audit, memo)


def open_audit(
    source: str = "demo",
    policy: str = "",
    as_of: str = "",
    *,
    pseudonymise: bool = False,
    pseudonym_key: str = "",
    verify: bool = True,
) -> Audit:
    """Load ``source`` with the policy file ``policy`` (empty: the source's default) and run
    every check as of ``as_of`` (empty: the collection time). With ``pseudonymise``, people
    are replaced by keyed pseudonyms right after loading, so findings name pseudonyms too
    (the key: :func:`scalingo_audit.pseudonymise.load_or_create_key` of ``pseudonym_key``,
    the key file's path, resolved once by the caller; empty: the default key file). With
    ``verify=False`` a snapshot whose raw files do not match its manifest is loaded anyway,
    marked UNVERIFIED.
    Inside a report's kernels, the audit the report computed is read back instead
    (:data:`CACHE_ENV`, keyed by :func:`cache_key`)."""
    cached = _cached(
        cache_key(
            source, policy, as_of, pseudonymise=pseudonymise, pseudonym_key=pseudonym_key,
            verify=verify,
        )
    )  # fmt: skip
    if cached is not None:
        return cached
    if source == "demo" and not policy and not as_of and not pseudonymise and verify:
        # the demo as it ships (its own policy, as of its collection): computed from the
        # code alone, so its findings are kept with its frames (cache.remembered)
        from .cache import remembered

        return remembered("demo-audit", Audit, lambda: _computed("demo", "", "", False, "", True))
    return _computed(source, policy, as_of, pseudonymise, pseudonym_key, verify)


def _computed(
    source: str, policy: str, as_of: str, pseudonymise: bool, pseudonym_key: str, verify: bool
) -> Audit:
    """:func:`open_audit` (the same arguments), computed."""
    start = time.perf_counter()
    data = load(source, policy=load_policy(policy) if policy else None, verify=verify)
    log.debug("loaded %s: %d apps in %.2f s", source, len(data.apps), time.perf_counter() - start)
    if pseudonymise:
        from .pseudonymise import load_or_create_key
        from .pseudonymise import pseudonymise as pseudonymise_data

        data = pseudonymise_data(data, load_or_create_key(pseudonym_key or None))
    when = resolve_as_of(as_of or None, data)
    start = time.perf_counter()
    findings = run_checks(data, as_of=when)
    log.debug(
        "checks as of %s: %d findings in %.2f s",
        when.date(), len(findings), time.perf_counter() - start,
    )  # fmt: skip
    return Audit(
        data=data, findings=findings, as_of=when, expired=expired_exceptions(data.policy, when)
    )


class Report(NamedTuple):
    """What a report notebook reads: the whole :class:`Audit`, and its data and findings
    within the notebook's ``region`` and ``project`` (:func:`scalingo_audit.tables.scope`)."""

    audit: Audit
    data: AuditData
    findings: pd.DataFrame


def open_report(
    source: str = "demo",
    policy: str = "",
    as_of: str = "",
    *,
    region: str = "",
    project: str = "",
    pseudonymise: bool = False,
    pseudonym_key: str = "",
    verify: bool = True,
) -> Report:
    """The setup of a report notebook, from its ``parameters``: charts and tables set up
    (:func:`setup_display`), the audit opened (:func:`open_audit`), scoped to ``region``
    and ``project`` (empty: all), and the source line shown
    (:func:`scalingo_audit.tables.source_markdown`)."""
    from IPython.display import Markdown, display

    from . import tables

    setup_display()
    audit = open_audit(
        source, policy, as_of, pseudonymise=pseudonymise, pseudonym_key=pseudonym_key,
        verify=verify,
    )  # fmt: skip
    data = tables.scope(audit.data, region=region, project=project)
    findings = tables.scope_findings(audit.findings, data)
    display(Markdown(tables.source_markdown(audit.data.info, audit.as_of)))
    return Report(audit, data, findings)


def setup_display() -> None:
    """Charts embedded with plotly.js (works offline, once per file); every frame a cell
    shows is drawn by :func:`scalingo_audit.htmltable.table` (the one table style: labelled
    headers, no index column, nothing truncated), its plain-text form never cut either.

    The renderer (plotly's notebook renderer with the bundle of :mod:`scalingo_audit.plotlyjs`,
    1.2 MB) embeds plotly.js with the first chart shown after it is set. In a report's
    kernel, which runs several notebooks, it is set once: plotly.js comes with the kernel's
    first chart only, and the report adds it to the per-notebook pages that need it
    (:func:`scalingo_audit.report.export_html`); anywhere else, each notebook's setup embeds
    it again, so each notebook works alone."""
    import plotly.io as pio
    from IPython import get_ipython

    from .htmltable import HTML, table
    from .plotlyjs import RENDERER, renderer

    in_report = bool(os.environ.get(CACHE_ENV))  # a report's kernel (report.build_report)
    if RENDERER not in pio.renderers:
        pio.renderers[RENDERER] = renderer()
    if not (in_report and pio.renderers.default == RENDERER):
        pio.renderers.default = RENDERER  # embeds plotly.js (scalingo_audit.plotlyjs)
    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_colwidth", None)
    shell = get_ipython()
    if shell is not None:
        formatters = shell.display_formatter.formatters
        formatters["text/html"].for_type(pd.DataFrame, table)
        if in_report:
            # In a report's kernel only the HTML of a frame reaches the report: its full
            # plain-text form (seconds of pandas formatting for 50,000 rows, as large again
            # in every executed notebook) is replaced by a line saying what the frame is.
            # The same for the tables drawn as HTML (every finding of a large organisation:
            # 8 MB, which would reach the report's notebooks twice).
            formatters["text/plain"].for_type(pd.DataFrame, _frame_line)
            formatters["text/plain"].for_type(HTML, _html_line)


def warm_up_kernel() -> None:
    """What a report's kernel does as it starts (``report.KERNEL_ARGS``), before it is
    handed a notebook: what the report notebooks' first chart and table would do the first
    time only. The imports of their setup (plotly's renderers, about 0.25 s), then a chart
    and a table of one membership as the notebooks draw theirs (plotly's template, with
    every trace type it styles: 0.07 s; its validators; pandas' reshaping). Kernels start
    while the report still loads and checks its source (:func:`report.build_report`): on a
    large organisation, time the kernel would spend waiting for it; so is the audit the
    report hands over read as soon as it is saved (:func:`read_ahead`)."""
    import plotly.io as pio

    from . import frames, htmltable, plotlyjs, plots, tables

    pio.renderers.default  # noqa: B018  (loads the renderers)
    one = frames.build(
        "memberships",
        [{"app_name": "app", "region": "region", "role": "collaborator", "status": "accepted"}],
    )
    plotlyjs.renderer().to_mimebundle(plots.role_distribution(one, "app_name").to_dict())
    htmltable.table(tables.role_counts(one, "app_name"))
    read_ahead()


def _frame_line(frame: pd.DataFrame, printer: Any, cycle: bool) -> None:
    """The plain-text form of a frame in a report's kernel (see :func:`setup_display`)."""
    printer.text(f"<table: {len(frame):,} rows x {len(frame.columns)} columns>")


def _html_line(html: str, printer: Any, cycle: bool) -> None:
    """The plain-text form of drawn HTML in a report's kernel (see :func:`setup_display`)."""
    printer.text(f"<HTML: {len(html):,} characters>")
