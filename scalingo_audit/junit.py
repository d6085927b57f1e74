"""Findings as JUnit XML (``check --format junit``), so CI systems show them as test reports.

One ``<testsuite>`` per check (``name`` = the check id) and in it one ``<testcase>`` per
(check, scope): the scope is what a finding is about — ``REGION/APP: EMAIL`` for a
membership, ``REGION/APP`` for an app, ``token NAME (EMAIL)`` for an API token, ``account
EMAIL`` for an account, ``organisation`` for the whole audit. Each unmuted open finding is
a ``<failure>`` (type = its severity, message = the finding, text = the remediation); a
muted one is ``<skipped>`` with the exception's reason and expiry, and so is a check's
notice that it could not be evaluated (no events, a policy key not set: a test that did
not run); a finding a baseline marks fixed is a passing case. A check without any finding
has one passing case, ``all audited scopes``. So the number of failures is the number of
unmuted findings the checks could evaluate.

Text from the API (names, emails) is written through :mod:`xml.etree.ElementTree`, which
escapes markup; characters XML 1.0 cannot carry (control characters) become U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pandas as pd

from .baseline import FIXED
from .compliance import not_evaluated_mask
from .frames import text as _text

_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
ALL_CLEAR = "all audited scopes"


def scope(r: dict[str, Any]) -> str:
    """What a finding is about, as one line (the test case's name)."""
    region, app, email, token = (_text(r.get(k)) for k in ("region", "app", "email", "token_name"))
    if app:
        where = f"{region}/{app}" if region else app
        return f"{where}: {email}" if email else where
    if token:
        return f"token {token} ({email})" if email else f"token {token}"
    if email:
        return f"account {email}" + (f" ({region})" if region else "")
    return "organisation"


def to_junit(findings: pd.DataFrame, *, checks: list[str], name: str = "scalingo-audit") -> str:
    """The JUnit XML document: a suite per id of ``checks`` (the checks that ran, in
    order), each with its cases."""
    root = ET.Element("testsuites", name=_clean(name))
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    marked = findings.assign(_not_evaluated=not_evaluated_mask(findings, partly=True))
    by_check = {c: g for c, g in marked.groupby("check_id", sort=False)}
    for check_id in checks:
        group = by_check.get(check_id)
        suite = ET.SubElement(root, "testsuite", name=_clean(check_id))
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        records = [] if group is None else group.to_dict("records")
        open_ones = [r for r in records if r.get("baseline_status") != FIXED]
        if not open_ones:
            _case(suite, check_id, ALL_CLEAR)
            counts["tests"] += 1
        for r in records:
            case = _case(suite, check_id, scope(r))
            counts["tests"] += 1
            if r.get("baseline_status") == FIXED:
                ET.SubElement(case, "system-out").text = _clean(
                    "Fixed since the baseline: " + _text(r["message"])
                )
            elif r["_not_evaluated"] is True:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=_clean(_text(r["message"])))
            elif r.get("muted") is True:
                counts["skipped"] += 1
                ET.SubElement(
                    case,
                    "skipped",
                    message=_clean(
                        f"muted by a policy exception until {_text(r['exception_expires'])}: "
                        f"{_text(r['exception_reason'])}"
                    ),
                )
            else:
                counts["failures"] += 1
                failure = ET.SubElement(
                    case, "failure", message=_clean(_text(r["message"])), type=_text(r["severity"])
                )
                failure.text = _clean(
                    f"[{_text(r['severity'])}] {_text(r['message'])}\n"
                    f"fix: {_text(r['remediation'])}\nfinding_id: {_text(r['finding_id'])}"
                )
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("errors", "0")
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(suite: ET.Element, check_id: str, name: str) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", classname=f"scalingo_audit.{_clean(check_id)}", name=_clean(name)
    )


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)
