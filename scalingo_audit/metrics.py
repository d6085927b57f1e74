"""``check --metrics FILE``: gauges in Prometheus' text exposition format.

For node_exporter's textfile collector (``--collector.textfile.directory``): name the
file ``*.prom`` in that directory; it is written atomically (a hidden ``.tmp`` sibling,
which the collector ignores, renamed over it). Every series carries an ``account`` label,
the collecting account, so several audited accounts can share one directory.

========================================================  ===================================
metric                                                    value
========================================================  ===================================
``scalingo_audit_findings_open{severity}``                open unmuted findings per severity
``scalingo_audit_check_findings_open{check_id,severity}`` open unmuted findings per check
                                                          (every check of the catalogue that
                                                          ran, 0 included)
``scalingo_audit_findings_muted{severity}``               open findings muted by the policy
``scalingo_audit_findings_new`` / ``_fixed``              new unmuted / fixed findings against
                                                          ``--baseline`` (only with it)
``scalingo_audit_coverage_gaps``                          apps or endpoints not audited
``scalingo_audit_collected_timestamp_seconds``            when the data was collected
``scalingo_audit_last_success_timestamp_seconds``         when this run succeeded
``scalingo_audit_info{tool_version,source}``              1
========================================================  ===================================

Counts are those of ``check`` itself (:func:`scalingo_audit.output.severity_counts`);
label values are escaped as the format requires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from .baseline import NEW, fixed_findings, open_findings
from .frames import SEVERITIES
from .model import AuditData

PREFIX = "scalingo_audit_"


def render(
    findings: pd.DataFrame,
    data: AuditData,
    *,
    checks: Iterable[str],
    now: dt.datetime | None = None,
) -> str:
    """The metrics text for ``findings`` of ``data``; ``checks``: the ids of the checks that
    ran (each gets a series, zero or not)."""
    from . import __version__
    from .checks import CHECKS

    account = {"account": data.info.collected_by or ""}
    current = open_findings(findings)
    muted = current["muted"].fillna(False).astype(bool)
    active, quiet = current[~muted], current[muted]
    out: list[str] = []

    def gauge(name: str, doc: str, samples: list[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP {PREFIX}{name} {doc}")
        out.append(f"# TYPE {PREFIX}{name} gauge")
        for labels, value in samples:
            out.append(f"{PREFIX}{name}{_labels({**account, **labels})} {_number(value)}")

    gauge(
        "findings_open",
        "Open unmuted findings by severity.",
        [({"severity": s}, int((active["severity"] == s).sum())) for s in SEVERITIES],
    )
    per_check = active.groupby(["check_id", "severity"]).size().to_dict()
    rows: list[tuple[dict[str, str], float]] = []
    for check_id in checks:
        severities = {s for c, s in per_check if c == check_id}
        default = CHECKS[check_id].severity if check_id in CHECKS else "info"
        for s in sorted(severities or {default}, key=SEVERITIES.index):
            rows.append(({"check_id": check_id, "severity": s}, per_check.get((check_id, s), 0)))
    gauge("check_findings_open", "Open unmuted findings by check.", rows)
    gauge(
        "findings_muted",
        "Open findings muted by a policy exception, by severity.",
        [({"severity": s}, int((quiet["severity"] == s).sum())) for s in SEVERITIES],
    )
    if findings["baseline_status"].notna().any():
        gauge(
            "findings_new",
            "New unmuted findings since the baseline.",
            [({}, int((active["baseline_status"] == NEW).sum()))],
        )
        gauge("findings_fixed", "Findings fixed since the baseline.",
              [({}, len(fixed_findings(findings)))])  # fmt: skip
    gauge("coverage_gaps", "Apps or endpoints that could not be audited.",
          [({}, len(data.info.gaps))])  # fmt: skip
    gauge(
        "collected_timestamp_seconds",
        "When the audited data was collected (Unix time).",
        [({}, data.info.collected_at.timestamp())],
    )
    gauge(
        "last_success_timestamp_seconds",
        "When this audit run succeeded (Unix time).",
        [({}, (now or dt.datetime.now(dt.UTC)).timestamp())],
    )
    gauge(
        "info",
        "The scalingo-audit version and the kind of source audited.",
        [({"tool_version": __version__, "source": data.info.kind}, 1)],
    )
    return "\n".join(out) + "\n"


def _labels(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    """Label value escaping of the text format: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
