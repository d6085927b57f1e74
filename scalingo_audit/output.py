"""The one writer of rows as text: JSON records, CSV (formula-safe) and a terminal table.

:func:`plain_records`, :func:`json_text`, :func:`csv_text` and :func:`listing` (with
:func:`sections`) write any rows: findings here (:func:`to_json`, :func:`to_csv`,
:func:`to_table`) and the diff's changes (:mod:`scalingo_audit.diff`)."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from . import contracts, frames
from .baseline import NEW, fixed_findings, open_findings
from .commands import render
from .compliance import controls_for, controls_text
from .frames import SEVERITIES, is_missing

JSON_FIELDS = (
    "check_id", "severity", "title", "region", "app", "email", "token_name",
    "message", "remediation", "command", "muted", "exception_reason", "exception_expires", "risk",
    "finding_id", "baseline_status", "compliance",
)  # fmt: skip
"""Fields of each object in ``check --format json`` (a contract: CI jobs parse them).
``command`` is the Scalingo CLI command of the remediation as a list of words
(:mod:`scalingo_audit.commands`), or ``null``; CSV has it as one shell-quoted line.
``finding_id`` is stable across runs (:func:`scalingo_audit.identity.finding_id`);
``baseline_status`` is ``new``, ``existing`` or ``fixed`` with ``--baseline``, else ``null``;
``compliance`` maps each framework to the check's control ids
(:func:`scalingo_audit.compliance.controls_for`; one line of text in CSV)."""

SOURCE_FIELD = "source"
"""With a provenance (:func:`scalingo_audit.evidence.provenance`), each JSON object also has
``"source": {...}``, the same object for every finding: the output stays an array of findings
and each finding names the data it was computed from (snapshot hash, collection time and
account, tool version)."""

CSV_SOURCE_FIELDS = ("sha256", "collected_at", "collected_by", "tool_version", "verified")
"""Provenance columns appended to every CSV row (prefixed ``source_``) with a provenance."""

_FORMULA = re.compile(
    r"^[\s\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]*"
    r"[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r]"
)
"""A text a spreadsheet may read as a formula: ``= + - @`` (or their full-width forms),
possibly after whitespace, control or invisible format characters, which some
spreadsheets skip; or a text starting with a tab or a carriage return."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# --- any rows ---------------------------------------------------------------------------


def plain_records(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of ``fields`` holding plain Python values (numpy
    scalars unwrapped); missing values are ``None``."""
    plain = _PLAIN  # str, bool, int and None pass as they are, without a call each
    return [
        {
            k: (v if type(v) in plain else None if is_missing(v) else _plain(v))
            for k, v in row.items()
        }
        for row in frames.rows(frame, fields)
    ]


def json_text(schema: str, items: list[dict[str, Any]], *, one_per_line: bool = False) -> str:
    """A JSON array of ``items``, checked against the published schema ``schema``
    (:mod:`scalingo_audit.contracts`) first; indented, or with ``one_per_line`` one item per
    line (the same JSON value, written by the json module's C encoder: ten times faster
    than indenting, for the files of a large organisation)."""
    checked = contracts.checked(schema, items)
    if one_per_line:
        encode = _ONE_LINE.encode  # json.dumps(item, ensure_ascii=False), one encoder for all
        lines = ",\n".join(encode(item) for item in checked)
        return f"[\n{lines}\n]" if lines else "[]"
    return json.dumps(checked, indent=2, ensure_ascii=False)


_ONE_LINE = json.JSONEncoder(ensure_ascii=False)


def csv_text(fields: Sequence[str], items: Iterable[Mapping[str, Any]]) -> str:
    """CSV with a header of ``fields`` and one line per item: ``None`` is an empty cell and
    every text cell is formula-safe (:func:`safe_cell`, :func:`write_csv_rows`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    rows = ([_csv_cell(rec[k]) for k in fields] for rec in items)
    write_csv_rows(writer, buf, rows)
    return buf.getvalue()


def sections(
    frame: pd.DataFrame,
    column: str,
    order: Iterable[str],
    lines: Callable[[str, pd.DataFrame], list[str]],
) -> list[list[str]]:
    """One block per value of ``column``, in ``order``, that has rows: a heading such as
    ``ACCESS GRANTED (3)`` for ``access_granted``, then ``lines(value, its rows)``."""
    out = []
    for key in order:
        group = frame[frame[column] == key]
        if not group.empty:
            out.append([f"{key.upper().replace('_', ' ')} ({len(group)})", *lines(key, group)])
    return out


def listing(blocks: Iterable[list[str]], *, empty: str = "") -> str:
    """Blocks of lines (a heading, then its indented lines) as one terminal text, a blank
    line between two blocks (:func:`terminal_text`); ``empty`` when there is none."""
    text = "\n\n".join("\n".join(b) for b in blocks if b)
    return terminal_text(text or empty)


def wrapped(text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` as the indented lines of a :func:`listing` block."""
    return textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="      ")


# --- findings ----------------------------------------------------------------------------


def records(
    findings: pd.DataFrame, provenance: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Findings as plain dicts with :data:`JSON_FIELDS`; missing values are ``None``. With
    ``provenance``, each dict also has :data:`SOURCE_FIELD` set to it."""
    out = []
    cmds = findings["command"].tolist()
    fields = [f for f in JSON_FIELDS if f not in ("command", "compliance")]
    for rec, cmd in zip(plain_records(findings, fields), cmds, strict=True):
        rec["command"] = list(cmd) if isinstance(cmd, tuple | list) else None
        rec["compliance"] = controls_for(str(rec["check_id"]))
        rec = {k: rec[k] for k in JSON_FIELDS}
        if provenance is not None:
            rec[SOURCE_FIELD] = provenance
        out.append(rec)
    return out


def to_json(
    findings: pd.DataFrame,
    provenance: dict[str, Any] | None = None,
    *,
    one_per_line: bool = False,
) -> str:
    """A JSON array of finding objects (see :func:`records`), indented or one per line
    (:func:`json_text`); its published schema is ``scalingo-audit schema findings``
    (:mod:`scalingo_audit.contracts`)."""
    return json_text("findings", records(findings, provenance), one_per_line=one_per_line)


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas: a text that starts with = + - @ (also after leading
    whitespace or control characters), a tab or a carriage return gets a leading quote."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def safe_cells(column: pd.Series, missing: Any = None) -> list[Any]:
    """The cells of a spreadsheet column: :func:`safe_cell` of every value of ``column``,
    a missing value (:func:`is_missing`) ``missing`` and a numpy scalar a Python one;
    computed for the whole column at once (a sheet of 50,000 rows has a million cells)."""
    return [
        missing
        if gone
        else (v if v[:1].isalnum() else safe_cell(v))  # a letter or digit first: no formula
        if type(v) is str
        else safe_cell(v.item() if hasattr(v, "item") else v)
        for v, gone in zip(column.tolist(), column.isna().tolist(), strict=True)
    ]


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula (see :func:`safe_cell`)."""
    if text[:1].isalnum():  # a letter or digit first: no formula (the usual cell, no regex)
        return False
    return _FORMULA.match(text) is not None


def write_csv_rows(writer: Any, buf: Any, rows: Any) -> None:
    """Write ``rows`` (lists of cells) with ``writer`` (a ``csv.writer`` on ``buf``). A row
    with a carriage return in a cell is written with every cell quoted: Python's csv module
    quotes a bare ``\\r`` only when it is part of the line terminator (then it quotes that
    cell, and the rows are written as they are), and an unquoted one splits the row in
    spreadsheets (the rest of the cell becoming a cell of its own)."""
    if "\r" in writer.dialect.lineterminator:  # the csv module quotes every such cell itself
        writer.writerows(rows)
        return
    quoted = None
    for row in rows:
        if any(isinstance(v, str) and "\r" in v for v in row):
            if quoted is None:
                quoted = csv.writer(buf, dialect=writer.dialect, quoting=csv.QUOTE_ALL)
            quoted.writerow(row)
        else:
            writer.writerow(row)


def terminal_text(text: str) -> str:
    """``text`` for a terminal: control characters (escape sequences, carriage returns,
    NUL...) and bidirectional overrides removed; newlines and tabs kept."""
    return _CONTROL.sub("", text)


def to_csv(findings: pd.DataFrame, provenance: dict[str, Any] | None = None) -> str:
    """CSV of :data:`JSON_FIELDS`; with ``provenance``, plus ``source_sha256``,
    ``source_collected_at``, ``source_collected_by`` and ``source_tool_version`` columns."""
    return _csv_of(records(findings), provenance)


def to_json_and_csv(findings: pd.DataFrame, provenance: dict[str, Any]) -> tuple[str, str]:
    """``to_json(findings, provenance, one_per_line=True)`` and ``to_csv(findings,
    provenance)``, the findings turned into records once for both (the report's data
    files: a large organisation's 11,000 findings took 0.2 s per conversion)."""
    recs = records(findings)
    json_out = json_text(
        "findings", [{**rec, SOURCE_FIELD: provenance} for rec in recs], one_per_line=True
    )
    return json_out, _csv_of(recs, provenance)  # the records are the CSV's rows now


def _csv_of(recs: list[dict[str, Any]], provenance: dict[str, Any] | None) -> str:
    """:func:`to_csv` of :func:`records` (which become its rows)."""
    extra = {f"source_{k}": (provenance or {}).get(k) for k in CSV_SOURCE_FIELDS}
    if provenance is not None:
        extra["source_verified"] = verified_word(provenance.get("verified"))
    fields = list(JSON_FIELDS) + (list(extra) if provenance is not None else [])
    for rec in recs:
        rec["command"] = render(rec["command"])
        rec["compliance"] = controls_text(str(rec["check_id"]))
        if provenance is not None:
            rec.update(extra)
    return csv_text(fields, recs)


UNVERIFIED = "UNVERIFIED"


def verified_word(verified: bool | None) -> str:
    """How outputs name the evidence state: ``verified``, ``UNVERIFIED`` (``--no-verify``:
    the raw files were not checked against the manifest) or ``n/a`` (no manifest)."""
    return "n/a" if verified is None else "verified" if verified else UNVERIFIED


def provenance_line(provenance: dict[str, Any]) -> str:
    """One line naming the data the findings come from, for the end of ``check``'s table."""
    by = f" by {provenance['collected_by']}" if provenance.get("collected_by") else ""
    sha = provenance.get("sha256")
    return (
        f"Source: {provenance['source']} {provenance['location']}, collected "
        f"{provenance['collected_at']}{by}; sha256 {sha or 'unknown'}; "
        f"scalingo-audit {provenance['tool_version']}"
        + ("; pseudonymised" if provenance.get("pseudonymised") else "")
        + (
            "; UNVERIFIED: raw files not checked against the manifest (--no-verify)"
            if provenance.get("verified") is False
            else ""
        )
    )


def to_table(findings: pd.DataFrame, *, width: int = 100) -> str:
    """A plain-text listing grouped by severity, muted findings last; a finding about an app
    starts with its region and ends with its ``finding_id`` in parentheses."""
    fixed = fixed_findings(findings)
    findings = open_findings(findings)
    active = findings[~findings["muted"].astype(bool)]
    muted = findings[findings["muted"].astype(bool)]

    def lines(_severity: str, group: pd.DataFrame) -> list[str]:
        out = []
        for r in frames.rows(group):
            new = " NEW" if r["baseline_status"] == NEW else ""
            out.append(f"  [{r['check_id']}]{new} {_where(r)}{r['message']}{_id(r)}")
            # the command goes on a line of its own, never wrapped, so it can be pasted
            run = render(r["command"]) if isinstance(r.get("command"), tuple) else None
            fix = str(r["remediation"])
            if run:
                fix = fix.replace(run, "the command below")
            out.extend(textwrap.wrap(f"fix: {fix}", width, initial_indent="      ",
                                     subsequent_indent="      "))  # fmt: skip
            if run:
                out.append(f"      run: {run}")
        return out

    blocks = [["No findings."]] if findings.empty else []
    blocks += sections(active, "severity", SEVERITIES, lines)
    if not muted.empty:
        blocks.append(
            [f"MUTED BY POLICY EXCEPTIONS ({len(muted)})"]
            + [
                f"  [{r['check_id']}] {_where(r)}{r['message']} — accepted until "
                f"{r['exception_expires']}: {r['exception_reason']}{_id(r)}"
                for r in frames.rows(muted)
            ]
        )
    if not fixed.empty:
        blocks.append(
            [f"FIXED SINCE THE BASELINE ({len(fixed)})"]
            + [f"  [{r['check_id']}] {_where(r)}{r['message']}{_id(r)}" for r in frames.rows(fixed)]
        )
    return listing(blocks)


def _where(r: dict[str, Any]) -> str:
    """``REGION: `` before a finding about an app (an app name exists once per region);
    nothing for an account-level finding."""
    region = frames.text(r.get("region"))
    return f"{region}: " if region else ""


def _id(r: dict[str, Any]) -> str:
    return f" (id {r['finding_id']})" if isinstance(r.get("finding_id"), str) else ""


def summary_line(findings: pd.DataFrame, audit: Any) -> str:
    """``check``'s last table line: open findings per severity, muted, new and fixed ones
    (with a baseline), the source and the ``as_of`` date."""
    counts = severity_counts(findings)
    current = open_findings(findings)
    text = ", ".join(f"{n} {s}" for s, n in counts.items())
    text += f"; {int(current['muted'].astype(bool).sum())} muted"
    if findings["baseline_status"].notna().any():
        new = int((current["baseline_status"] == NEW).sum())
        text += f"; {new} new, {len(fixed_findings(findings))} fixed since the baseline"
    info = audit.data.info
    return text + f" — {info.kind} {info.location}, as of {audit.as_of:%Y-%m-%d}"


def severity_counts(findings: pd.DataFrame) -> dict[str, int]:
    """Open (unmuted, not fixed) findings per severity."""
    findings = open_findings(findings)
    active = findings[~findings["muted"].astype(bool)]
    return {s: int((active["severity"] == s).sum()) for s in SEVERITIES}


_PLAIN = frozenset({str, bool, int, type(None)})


def _csv_cell(v: Any) -> Any:
    """A CSV cell: ``None`` empty, a text formula-safe (:func:`safe_cell`)."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v if v[:1].isalnum() else safe_cell(v)  # a letter or digit first: no formula
    return v


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return v
