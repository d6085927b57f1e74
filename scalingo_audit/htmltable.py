"""The one table style of every report page and of the explorer.

:func:`table` turns a frame into an HTML table people read: labelled headers, no
index column, ``unknown`` instead of a missing value, ``yes``/``no``, severities as
coloured badges, dates as dates, commands in full in monospace blocks that wrap
(never truncated). Every value is escaped: names from the API are never markup.

Tables are sortable (click a header) and filterable (type in the box above), and say
"showing N of M rows" while filtered, by :data:`SCRIPT`, a small self-written script
that needs no network. :func:`assets` is the CSS and the script, embedded once per page
(the report's HTML template and :mod:`scalingo_audit.report`'s index put it in the
``<head>``); the explorer embeds :data:`STYLE` only (widgets run no script).

A table capped with ``limit`` says so ("showing 25 of 44 rows") and where the rest is.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .frames import SEVERITIES, is_missing

LABELS: dict[str, str] = {
    "email": "Email",
    "email_key": "Email",
    "app": "App",
    "app_name": "App",
    "app_id": "App id",
    "region": "Region",
    "regions": "Regions",
    "project_name": "Project",
    "project": "Project",
    "role": "Role",
    "status": "Status",
    "tfa": "2FA",
    "2FA": "2FA",
    "internal": "Internal",
    "check_id": "Check",
    "checks": "Checks",
    "severity": "Severity",
    "title": "Title",
    "message": "Finding",
    "remediation": "Remediation",
    "command": "Command",
    "token_name": "Token",
    "muted": "Muted",
    "exception_reason": "Exception reason",
    "exception_expires": "Exception expires",
    "full_apps": "Apps with the full role",
    "limited_apps": "Apps as Limited Collaborator",
    "owner_apps": "Apps owned",
    "owner": "Owner",
    "kind": "Kind",
    "apps": "Apps",
    "example apps": "Example apps",
    "open": "Open",
    "owner_email": "Owner",
    "username": "Username",
    "user_id": "User id",
    "created_at": "Created",
    "last_used_at": "Last used",
    "limited_collaborator": "Limited Collaborator",
    "collaborator": "Collaborator (full)",
}
"""Header labels of the frame columns; any other column gets its name in sentence case."""

WIDE_COLUMNS = 5
"""A table with this many columns or more is wide: the PDF prints it on landscape pages."""

COMMAND_COLUMNS = frozenset({"command", "remediation"})
"""Columns whose value is, or ends with, a command: shown in full in a monospace block."""

_COMMAND = re.compile(r"(?<![\w-])(scalingo(?: --(?:app|region) \S+)? [^\n]*)$")


def label(column: Any) -> str:
    """The header shown for ``column``: :data:`LABELS`, else its name in sentence case."""
    name = str(column)
    if name in LABELS:
        return LABELS[name]
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else ""


def cell(value: Any, column: Any = "") -> str:
    """One cell's HTML: escaped text, ``unknown``, ``yes``/``no``, a badge, a date or a
    command block (see the module docstring)."""
    name = str(column)
    if type(value) is str:  # most cells, and never missing: straight to the text
        return _text_cell(value, name)
    if is_missing(value):
        return '<span class="sa-unknown">unknown</span>'
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC")
        return f"<time>{stamp.strftime('%Y-%m-%d')}</time>"
    if isinstance(value, dt.date):
        return f"<time>{value.isoformat()}</time>"
    return _text_cell(str(value), name)


def _text_cell(plain: str, name: str) -> str:
    """:func:`cell` of a text: a badge, a command block or escaped text."""
    if name == "severity" and plain in SEVERITIES:
        return badge(plain)
    if name in COMMAND_COLUMNS:
        return command_cell(plain)
    return text(plain)


def badge(severity: str) -> str:
    """A severity as a coloured badge."""
    sev = severity if severity in SEVERITIES else "info"
    return f'<span class="sa-badge sa-{sev}">{html.escape(severity)}</span>'


_IDENTIFIER = re.compile(r"(?<![^\s<>])[^-@._/\s<>]*[-@._/][^\s<>]*")
"""A whole token (a run of characters other than spaces, ``<`` and ``>``) holding ``-``,
``@``, ``.``, ``_`` or ``/``: tried at the start of tokens only, and without backtracking
over the characters before the first of those (linear in the text)."""


def _unbroken(escaped: str) -> str:
    """Identifiers (a token with ``-``, ``@``, ``.``, ``_`` or ``/``: emails, app names,
    flags) of an escaped text, each in a span that never breaks across lines, on screen as
    on paper: a line breaks between words, never inside ``data-dashboards``.

    The span is the custom element ``<sa-id>`` (styled by :data:`STYLE`), not a ``<span>``
    with a class: a large organisation's findings hold some 200,000 identifiers, and the
    shorter tag keeps 3 MB out of its report."""
    return _IDENTIFIER.sub(lambda m: f"<sa-id>{m.group(0)}</sa-id>", escaped)


def text(value: str) -> str:
    """Plain text as HTML: escaped, identifiers kept whole (:func:`_unbroken`)."""
    return _unbroken(html.escape(value))


def command_block(command: str) -> str:
    """A command in full, in a monospace block that wraps (between words) and can be copied."""
    return f'<pre class="sa-cmd"><code>{text(command)}</code></pre>'


def command_cell(remediation: str) -> str:
    """A remediation: its words, then the command it ends with (if any) in a block."""
    found = _COMMAND.search(remediation)
    if not found:
        return text(remediation)
    words = remediation[: found.start()].strip()
    return (text(words) if words else "") + command_block(found.group(1))


def table(
    frame: pd.DataFrame,
    *,
    limit: int | None = None,
    total: int | None = None,
    rest: str = "",
    caption: str = "",
    empty: str = "None.",
    sortable: bool = True,
    labels: Mapping[str, str] | None = None,
    missing: Mapping[str, str] | None = None,
) -> HTML:
    """``frame`` as a readable, sortable, filterable HTML table (no index column).

    ``limit`` shows the first N rows only; then (or when ``total``, the number of rows the
    frame was cut from, is larger than its length) the table says "showing N of M rows"
    and ``rest`` (where the other rows are). An empty frame shows ``empty``. ``missing`` maps
    a column to what a missing value means there (default ``unknown``; e.g. ``—`` for a
    finding's app when the finding is about a person across apps)."""
    # a named index (counts per app...) is a column; any other index is not shown
    frame = frame.reset_index(drop=not any(frame.index.names))
    rows = frame if limit is None else frame.head(limit)
    total = len(frame) if total is None else total
    note = ""
    if total > len(rows):
        note = f"showing {len(rows)} of {total} rows" + (f"; {rest}" if rest else "")
    if frame.empty:
        return HTML(f'<p class="sa-empty">{html.escape(empty)}</p>')
    names = {**LABELS, **(labels or {})}
    columns = [str(c) for c in frame.columns]
    head = "".join(
        f'<th scope="col" data-col="{html.escape(c)}">{html.escape(names.get(c) or label(c))}</th>'
        for c in columns
    )
    cells = [
        _column_cells(
            rows.iloc[:, j].tolist(), c, _blank(missing[c]) if missing and c in missing else None
        )
        for j, c in enumerate(columns)
    ]
    body = "".join(f"<tr><td>{'</td><td>'.join(row)}</td></tr>" for row in zip(*cells, strict=True))
    attrs = ' class="sa-table"' + (' data-sortable="1"' if sortable else "")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    foot = f'<p class="sa-note">{html.escape(note)}</p>' if note else ""
    wide = " sa-wide" if len(columns) >= WIDE_COLUMNS else ""  # printed on landscape pages
    return HTML(
        f'<div class="sa-wrap{wide}"><table{attrs} data-total="{total}">{cap}<thead><tr>{head}'
        f"</tr></thead><tbody>{body}</tbody></table>{foot}</div>"
    )


def _column_cells(values: list[Any], column: str, blank: str | None) -> list[str]:
    """:func:`cell` of each of a column's values (``blank`` for a missing one, when given),
    each distinct value rendered once: a column repeats its regions, roles and apps."""
    done: dict[tuple[type, Any], str] = {}
    out: list[str] = []
    for v in values:
        try:
            out.append(done[(type(v), v)])
            continue
        except KeyError:
            pass
        except TypeError:  # unhashable (a list): rendered each time
            out.append(blank if blank is not None and is_missing(v) else cell(v, column))
            continue
        html_ = blank if blank is not None and is_missing(v) else cell(v, column)
        done[(type(v), v)] = html_
        out.append(html_)
    return out


def key_values(pairs: Iterable[tuple[str, Any]]) -> HTML:
    """A two-column table of labelled values (provenance, settings)."""
    rows = "".join(
        f'<tr><th scope="row">{html.escape(k)}</th><td>{cell(v, k)}</td></tr>' for k, v in pairs
    )
    return HTML(f'<div class="sa-wrap"><table class="sa-table sa-kv">{rows}</table></div>')


FINDING_MISSING = {"region": "—", "app": "—", "email": "—", "token_name": "—"}
"""A finding's missing subject is not unknown: the finding is not about one app (a person
across apps, a token), one person or one token."""


def findings_by_check(findings: pd.DataFrame) -> HTML:
    """Every open finding, grouped by check: a heading with the severity badge, the title and
    the count, then the risk, the guide's recommendation and the remediation template, then
    every finding of the check in a table (never capped). Muted findings are not here: see
    :func:`table` of :func:`scalingo_audit.tables.findings_list` with ``muted=True``."""
    from .tables import check_groups

    groups = check_groups(findings)
    if not groups:
        return HTML('<p class="sa-empty">No open finding.</p>')
    parts = []
    for g in groups:
        n = len(g.rows)
        parts.append(
            f'<section class="sa-check sa-wide" id="check-{html.escape(g.check_id)}">'
            f"<h3>{badge(g.severity)} {html.escape(g.title)} "
            f"<code>{html.escape(g.check_id)}</code> · {n} finding{'s' if n != 1 else ''}</h3>"
            + (f"<p><b>Risk.</b> {html.escape(g.risk)}</p>" if g.risk else "")
            + (
                f"<p><b>Scalingo's guide.</b> {html.escape(_after_guide(g.guide))}</p>"
                if g.guide
                else ""
            )
            + (f"<p><b>Remediation.</b> {html.escape(g.remediation)}</p>" if g.remediation else "")
            + table(g.rows, missing=FINDING_MISSING)
            + "</section>"
        )
    return HTML("".join(parts))


def _after_guide(sentence: str) -> str:
    """\"Scalingo's best-practices guide recommends X.\" → \"Recommends X.\" (the label says
    whose recommendation it is)."""
    rest = sentence.replace("Scalingo's best-practices guide", "", 1).strip()
    return rest[:1].upper() + rest[1:] if rest and rest != sentence else sentence


def _blank(text: str) -> str:
    return f'<span class="sa-unknown">{html.escape(text)}</span>'


class HTML(str):
    """HTML that notebooks display as HTML (``_repr_html_``) and that is a plain ``str``."""

    def _repr_html_(self) -> str:
        return str(self)


STYLE = """
.sa-wrap{margin:.4rem 0 1rem;max-width:100%;overflow-x:auto}
table.sa-table{border-collapse:collapse;width:100%;font-size:13px;line-height:1.4;
 table-layout:auto}
table.sa-table th,table.sa-table td{text-align:left;vertical-align:top;padding:.3rem .5rem;
 border-bottom:1px solid #e4e7eb;overflow-wrap:break-word;word-break:normal;max-width:40rem}
table.sa-table thead th{background:#f5f7fa;font-weight:600;position:sticky;top:0;
 white-space:nowrap}
table.sa-table[data-sortable] thead th{cursor:pointer;user-select:none}
table.sa-table thead th[aria-sort=ascending]::after{content:" \\25B2";font-size:.7em}
table.sa-table thead th[aria-sort=descending]::after{content:" \\25BC";font-size:.7em}
table.sa-kv th{width:14rem;background:#f5f7fa}
.sa-unknown{color:#7b8794;font-style:italic}
sa-id{white-space:nowrap}
.sa-badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:12px;
 font-weight:600;color:#fff;white-space:nowrap}
.sa-high{background:#b42318}.sa-medium{background:#b54708}.sa-low{background:#175cd3}
.sa-info{background:#52606d}
pre.sa-cmd{margin:.2rem 0 0;padding:.25rem .4rem;background:#f5f7fa;border:1px solid #e4e7eb;
 border-radius:4px;white-space:pre-wrap;overflow-wrap:break-word;font-size:12px}
.sa-tools{display:flex;gap:.8rem;align-items:center;margin:.3rem 0}
.sa-tools input{font:inherit;padding:.15rem .4rem;min-width:16rem}
.sa-note,.sa-count{color:#52606d;font-size:12px;margin:.2rem 0}
.sa-empty{color:#52606d;font-style:italic}
"""
"""The table style (CSS), the same on every page and in the explorer."""

SCRIPT = """
(function(){
function text(td){return (td.innerText||td.textContent||'').trim();}
function num(s){var t=s.replace(/[\\s,%]/g,'');return /^-?\\d+(\\.\\d+)?$/.test(t)?parseFloat(t):null;}
function setup(t){
 if(t.dataset.saReady)return;t.dataset.saReady='1';
 var body=t.tBodies[0];if(!body)return;var rows=[].slice.call(body.rows);
 var total=parseInt(t.dataset.total||rows.length,10);
 var bar=document.createElement('div');bar.className='sa-tools';
 var box=document.createElement('input');box.type='search';box.className='sa-filter';
 box.placeholder='Filter rows\\u2026';box.setAttribute('aria-label','Filter rows');
 var count=document.createElement('span');count.className='sa-count';
 bar.appendChild(box);bar.appendChild(count);t.parentNode.insertBefore(bar,t);
 function show(){var q=box.value.toLowerCase(),n=0;rows.forEach(function(r){
  var hit=!q||text(r).toLowerCase().indexOf(q)>=0;r.style.display=hit?'':'none';if(hit)n++;});
  count.textContent=(q||n<total)?'showing '+n+' of '+total+' rows':total+' rows';}
 box.addEventListener('input',show);show();
 if(!t.dataset.sortable)return;
 [].forEach.call(t.tHead.rows[0].cells,function(th,i){th.addEventListener('click',function(){
  var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
  [].forEach.call(t.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',dir>0?'ascending':'descending');
  var keyed=rows.map(function(r,j){var s=text(r.cells[i]||r);return [num(s),s,j,r];});
  var numeric=keyed.every(function(k){return k[0]!==null||k[1]==='unknown'||k[1]==='';});
  keyed.sort(function(a,b){var c=numeric?((a[0]===null?-Infinity:a[0])-(b[0]===null?-Infinity:b[0]))
   :a[1].localeCompare(b[1],undefined,{numeric:true,sensitivity:'base'});return c*dir||a[2]-b[2];});
  keyed.forEach(function(k){body.appendChild(k[3]);});rows=keyed.map(function(k){return k[3];});});});
}
function all(){[].forEach.call(document.querySelectorAll('table.sa-table:not(.sa-kv)'),setup);}
if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',all);else all();
})();
"""
"""Sort (click a header) and filter (type in the box) every ``sa-table`` of the page."""


def assets() -> str:
    """The table CSS and script, to embed once in a page's ``<head>``."""
    return f"<style>{STYLE}</style>\n<script>{SCRIPT}</script>"


__all__ = [
    "COMMAND_COLUMNS",
    "FINDING_MISSING",
    "HTML",
    "LABELS",
    "SCRIPT",
    "STYLE",
    "assets",
    "badge",
    "cell",
    "command_block",
    "command_cell",
    "findings_by_check",
    "is_missing",
    "key_values",
    "label",
    "table",
    "text",
]
