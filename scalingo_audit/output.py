"""Findings as text: JSON records, CSV (formula-safe) and a terminal table."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from typing import Any

import pandas as pd

from . import contracts
from .frames import SEVERITIES

JSON_FIELDS = (
    "check_id", "severity", "title", "region", "app", "email", "token_name",
    "message", "remediation", "muted", "exception_reason", "exception_expires", "risk",
)  # fmt: skip
"""Fields of each object in ``check --format json`` (a contract: CI jobs parse them)."""

SOURCE_FIELD = "source"
"""With a provenance (:func:`scalingo_audit.evidence.provenance`), each JSON object also has
``"source": {...}``, the same object for every finding: the output stays an array of findings
and each finding names the data it was computed from (snapshot hash, collection time and
account, tool version)."""

CSV_SOURCE_FIELDS = ("sha256", "collected_at", "collected_by", "tool_version")
"""Provenance columns appended to every CSV row (prefixed ``source_``) with a provenance."""

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def records(
    findings: pd.DataFrame, provenance: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Findings as plain dicts with :data:`JSON_FIELDS`; missing values are ``None``. With
    ``provenance``, each dict also has :data:`SOURCE_FIELD` set to it."""
    out = []
    for row in findings[list(JSON_FIELDS)].to_dict("records"):
        rec = {k: (None if _missing(v) else _plain(v)) for k, v in row.items()}
        if provenance is not None:
            rec[SOURCE_FIELD] = provenance
        out.append(rec)
    return out


def to_json(findings: pd.DataFrame, provenance: dict[str, Any] | None = None) -> str:
    """A JSON array of finding objects (see :func:`records`); its published schema is
    ``scalingo-audit schema findings`` (:mod:`scalingo_audit.contracts`)."""
    items = contracts.checked("findings", records(findings, provenance))
    return json.dumps(items, indent=2, ensure_ascii=False)


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas: a text starting with = + - @ gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(findings: pd.DataFrame, provenance: dict[str, Any] | None = None) -> str:
    """CSV of :data:`JSON_FIELDS`; with ``provenance``, plus ``source_sha256``,
    ``source_collected_at``, ``source_collected_by`` and ``source_tool_version`` columns."""
    extra = {f"source_{k}": (provenance or {}).get(k) for k in CSV_SOURCE_FIELDS}
    fields = list(JSON_FIELDS) + (list(extra) if provenance is not None else [])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for rec in records(findings):
        if provenance is not None:
            rec.update(extra)
        writer.writerow({k: safe_cell("" if v is None else v) for k, v in rec.items()})
    return buf.getvalue()


def provenance_line(provenance: dict[str, Any]) -> str:
    """One line naming the data the findings come from, for the end of ``check``'s table."""
    by = f" by {provenance['collected_by']}" if provenance.get("collected_by") else ""
    sha = provenance.get("sha256")
    return (
        f"Source: {provenance['source']} {provenance['location']}, collected "
        f"{provenance['collected_at']}{by}; sha256 {sha or 'unknown'}; "
        f"scalingo-audit {provenance['tool_version']}"
        + ("; pseudonymised" if provenance.get("pseudonymised") else "")
    )


def to_table(findings: pd.DataFrame, *, width: int = 100) -> str:
    """A plain-text listing grouped by severity, muted findings last."""
    if findings.empty:
        return "No findings."
    lines: list[str] = []
    active = findings[~findings["muted"].astype(bool)]
    muted = findings[findings["muted"].astype(bool)]
    for severity in SEVERITIES:
        group = active[active["severity"] == severity]
        if group.empty:
            continue
        lines.append(f"{severity.upper()} ({len(group)})")
        for r in group.to_dict("records"):
            lines.append(f"  [{r['check_id']}] {r['message']}")
            lines.extend(textwrap.wrap(f"fix: {r['remediation']}", width, initial_indent="      ",
                                       subsequent_indent="      "))  # fmt: skip
        lines.append("")
    if not muted.empty:
        lines.append(f"MUTED BY POLICY EXCEPTIONS ({len(muted)})")
        for r in muted.to_dict("records"):
            lines.append(
                f"  [{r['check_id']}] {r['message']} — accepted until "
                f"{r['exception_expires']}: {r['exception_reason']}"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def severity_counts(findings: pd.DataFrame) -> dict[str, int]:
    active = findings[~findings["muted"].astype(bool)]
    return {s: int((active["severity"] == s).sum()) for s in SEVERITIES}


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return v
