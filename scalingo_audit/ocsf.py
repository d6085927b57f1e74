"""Findings as OCSF Detection Finding objects (``check --format ocsf``), for SIEMs.

Each finding becomes one OCSF 1.5 *Detection Finding* (class 2004), built and validated
with the ``py-ocsf-models`` package; the output is a JSON array of them. Field mapping
(also in ``docs/ocsf.md``):

=================================  ========================================================
scalingo-audit                     OCSF
=================================  ========================================================
``finding_id``                     ``finding_info.uid`` (and ``metadata.uid``)
``check_id``                       ``metadata.event_code``, ``finding_info.types[0]``,
                                   ``finding_info.analytic.uid`` (analytic type Rule)
``title`` / ``risk``               ``finding_info.title`` / ``finding_info.desc``
``message``                        ``message``
``severity`` high|medium|low|info  ``severity_id`` 4|3|2|1, ``severity`` its caption
``muted`` (policy exception)       ``status_id`` 3 Suppressed, ``status_detail`` the reason
                                   and expiry
``baseline_status`` fixed          ``status_id`` 4 Resolved, ``activity_id`` 3 Close
``baseline_status`` existing       ``activity_id`` 2 Update (reported by an earlier run)
otherwise                          ``status_id`` 1 New, ``activity_id`` 1 Create
``remediation``                    ``remediation.desc``
app (with region)                  ``resources[0]``: type ``scalingo_app``, ``uid`` the app
                                   id (else its name), ``name``, ``region``; the person in
                                   ``data.email``
token                              ``resources[0]``: type ``scalingo_api_token``, ``name``,
                                   the account in ``data.email``
account (no app, no token)         ``resources[0]``: type ``scalingo_account``, ``name`` the
                                   email (the collecting account when none)
as of (audit time)                 ``time`` (ms since the epoch), ``time_dt``
collected by / regions             ``cloud.provider`` ``Scalingo``, ``cloud.account``,
                                   ``cloud.region`` (single-region findings)
tool                               ``metadata.product`` (``scalingo-audit``, version)
everything else                    ``unmapped``: ``check_id``, ``baseline_status``,
                                   ``exception_reason``, ``exception_expires``,
                                   ``compliance`` (control ids per framework), ``source``
=================================  ========================================================
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from .baseline import EXISTING, FIXED
from .frames import SEVERITIES, SEVERITY_RANK
from .frames import text as _text

_SEVERITY = {s: len(SEVERITIES) - SEVERITY_RANK[s] for s in SEVERITIES}
"""OCSF ``severity_id`` per severity: 4 High, 3 Medium, 2 Low, 1 Informational, the same order
counted from the least severe (``info`` is OCSF's Informational)."""
PROVIDER = "Scalingo"
PRODUCT = "scalingo-audit"


def detection_findings(
    findings: pd.DataFrame,
    *,
    apps: pd.DataFrame,
    as_of: dt.datetime,
    provenance: dict[str, Any] | None = None,
) -> list[Any]:
    """One validated ``py_ocsf_models`` ``DetectionFinding`` per finding."""
    from py_ocsf_models.events.findings.detection_finding import DetectionFinding

    app_ids = {
        (_text(r), _text(n)): _text(i)
        for r, n, i in zip(apps["region"], apps["app_name"], apps["app_id"], strict=True)
    }
    prov = provenance or {}
    when = as_of.astimezone(dt.UTC)
    out = []
    for r in findings.to_dict("records"):
        out.append(DetectionFinding.model_validate(_event(r, app_ids, when, prov)))
    return out


def to_ocsf(
    findings: pd.DataFrame,
    *,
    apps: pd.DataFrame,
    as_of: dt.datetime,
    provenance: dict[str, Any] | None = None,
) -> str:
    """A JSON array of OCSF Detection Finding objects (absent attributes left out), one
    object per line (greppable, and encoded by the C JSON encoder: fast on large orgs)."""
    events = detection_findings(findings, apps=apps, as_of=as_of, provenance=provenance)
    lines = [
        json.dumps(e.model_dump(mode="json", exclude_none=True), ensure_ascii=False) for e in events
    ]
    return "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"


def _event(
    r: dict[str, Any], app_ids: dict[tuple[str, str], str], when: dt.datetime, prov: dict[str, Any]
) -> dict[str, Any]:
    from . import __version__
    from .compliance import controls_for

    check_id, severity = _text(r["check_id"]), _text(r["severity"])
    region, app, email, token = (_text(r[k]) for k in ("region", "app", "email", "token_name"))
    fixed = r.get("baseline_status") == FIXED
    muted = r.get("muted") is True
    status: tuple[int, str, str | None]
    if fixed:
        status = (4, "Resolved", "fixed since the baseline")
    elif muted:
        status = (
            3,
            "Suppressed",
            f"muted by a policy exception until {_text(r['exception_expires'])}: "
            f"{_text(r['exception_reason'])}",
        )
    else:
        status = (1, "New", None)
    activity = 3 if fixed else 2 if r.get("baseline_status") == EXISTING else 1
    verb = {1: "Create", 2: "Update", 3: "Close"}[activity]
    collector = _text(prov.get("collected_by"))
    event: dict[str, Any] = {
        "activity_id": activity,
        "activity_name": verb,
        "type_uid": 200400 + activity,
        "type_name": f"Detection Finding: {verb}",
        "severity_id": _SEVERITY.get(severity, 0),
        "severity": {4: "High", 3: "Medium", 2: "Low", 1: "Informational"}.get(
            _SEVERITY.get(severity, 0), "Unknown"
        ),
        "status_id": status[0],
        "status": status[1],
        "status_detail": status[2],
        "message": _text(r["message"]),
        "time": int(when.timestamp() * 1000),
        "time_dt": when,
        "metadata": {
            "uid": _text(r["finding_id"]),
            "event_code": check_id,
            "product": {
                "name": PRODUCT,
                "vendor_name": PRODUCT,
                "version": __version__,
            },
            "profiles": ["cloud"],
        },
        "finding_info": {
            "uid": _text(r["finding_id"]),
            "title": _text(r["title"]) or check_id,
            "desc": _text(r["risk"]) or None,
            "types": [check_id],
            "analytic": {"uid": check_id, "name": check_id, "type_id": 1, "type": "Rule"},
        },
        "remediation": {"desc": _text(r["remediation"]) or "See the check's documentation."},
        "resources": [_resource(region, app, email, token, app_ids, collector)],
        "cloud": {
            "provider": PROVIDER,
            "region": region if region and "," not in region else None,
            "account": _account(collector),
        },
        "unmapped": {
            "check_id": check_id,
            "baseline_status": r.get("baseline_status") or None,
            "muted": muted,
            "exception_reason": _text(r["exception_reason"]) or None,
            "exception_expires": _text(r["exception_expires"]) or None,
            "compliance": controls_for(check_id),
            "source": {k: prov.get(k) for k in ("source", "sha256", "collected_at")} or None,
        },
    }
    return event


def _account(collector: str) -> dict[str, Any] | None:
    if not collector:
        return None
    return {"name": collector, "uid": collector, "type_id": 99, "type": "Scalingo account"}


def _resource(
    region: str,
    app: str,
    email: str,
    token: str,
    app_ids: dict[tuple[str, str], str],
    collector: str,
) -> dict[str, Any]:
    regions = [x.strip() for x in region.split(",") if x.strip()]
    one_region = regions[0] if len(regions) == 1 else None
    if app:
        data = {"email": email} if email else None
        uid = app_ids.get((region, app)) or app
        return {"type": "scalingo_app", "uid": uid, "name": app, "region": one_region,
                "data": data}  # fmt: skip
    if token:
        return {"type": "scalingo_api_token", "uid": f"{email}/{token}", "name": token,
                "data": {"email": email} if email else None}  # fmt: skip
    who = email or collector
    return {"type": "scalingo_account", "uid": who or None, "name": who or None,
            "region": one_region, "data": {"regions": regions} if len(regions) > 1 else None}  # fmt: skip
