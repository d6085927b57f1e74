"""Findings as text: JSON records, CSV (formula-safe) and a terminal table."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from typing import Any

import pandas as pd

from .frames import SEVERITIES

JSON_FIELDS = (
    "check_id", "severity", "title", "region", "app", "email", "token_name",
    "message", "remediation", "muted", "exception_reason", "exception_expires", "risk",
)  # fmt: skip
"""Fields of each object in ``check --format json`` (a contract: CI jobs parse them)."""

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def records(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Findings as plain dicts with :data:`JSON_FIELDS`; missing values are ``None``."""
    out = []
    for row in findings[list(JSON_FIELDS)].to_dict("records"):
        out.append({k: (None if _missing(v) else _plain(v)) for k, v in row.items()})
    return out


def to_json(findings: pd.DataFrame) -> str:
    return json.dumps(records(findings), indent=2, ensure_ascii=False)


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas: a text starting with = + - @ gets a leading quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(findings: pd.DataFrame) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(JSON_FIELDS), lineterminator="\n")
    writer.writeheader()
    for rec in records(findings):
        writer.writerow({k: safe_cell("" if v is None else v) for k, v in rec.items()})
    return buf.getvalue()


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
