"""Baselines: what is new since the last run, and what was fixed.

Findings are matched by their ``finding_id`` (:mod:`scalingo_audit.identity`): the same
finding in two snapshots has the same id.

:func:`load_baseline` reads an earlier run: a findings JSON written by
``check --format json`` (an array of objects with ``finding_id``), or any source
(snapshot directory, dashboard export, ``demo``), whose checks are then run as of its own
collection time. :func:`compare` marks each current finding ``new`` or ``existing`` in
``baseline_status`` and appends the baseline's findings that are gone as ``fixed`` (they
are not open: counts, ``--fail-on`` and metrics leave them out).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from . import frames
from .errors import InputError

NEW, EXISTING, FIXED = "new", "existing", "fixed"
STATUSES = (NEW, EXISTING, FIXED)
"""Values of the ``baseline_status`` field (``None`` without a baseline)."""


def load_baseline(path: str, *, policy: str = "", pseudonymise: bool = False) -> pd.DataFrame:
    """The findings of an earlier run (see the module docstring), as a findings frame.
    With ``pseudonymise``, a source's people get the same keyed pseudonyms as the current
    run's, so their findings keep their ids (a findings JSON is taken as written)."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".json":
        body = _read_json(p)
        if _is_findings(body):
            return _from_records(body, p)
    from .checks import run_checks
    from .policy import load_policy
    from .sources import load

    data = load(path, policy=load_policy(policy) if policy else None)
    if pseudonymise:
        from .pseudonymise import load_or_create_key
        from .pseudonymise import pseudonymise as pseudonymise_data

        data = pseudonymise_data(data, load_or_create_key())
    return run_checks(data)


def compare(current: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """``current`` with ``baseline_status`` set to ``new`` or ``existing``, followed by the
    baseline's findings absent from ``current``, marked ``fixed``."""
    known = set(baseline["finding_id"].dropna())
    out = current.copy()
    out["baseline_status"] = [
        EXISTING if i in known else NEW for i in out["finding_id"]
    ]  # fmt: skip
    gone = baseline[~baseline["finding_id"].isin(set(current["finding_id"]))].copy()
    gone = gone.drop_duplicates("finding_id")
    gone["baseline_status"] = FIXED
    merged = pd.concat([out, gone], ignore_index=True) if len(gone) else out
    return frames.build("findings", merged)


def open_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings still open: all of them but those a baseline marks ``fixed``."""
    return findings[findings["baseline_status"].fillna("") != FIXED]


def fixed_findings(findings: pd.DataFrame) -> pd.DataFrame:
    return findings[findings["baseline_status"].fillna("") == FIXED]


def new_unmuted(findings: pd.DataFrame, *, at_least: str) -> pd.DataFrame:
    """New, unmuted findings with severity ``at_least`` or a higher one."""
    worse = frames.SEVERITIES[: frames.SEVERITIES.index(at_least) + 1]
    sel = (
        (findings["baseline_status"].fillna("") == NEW)
        & ~findings["muted"].fillna(False).astype(bool)
        & findings["severity"].isin(worse)
    )
    return findings[sel]


# --- reading a findings JSON ---------------------------------------------------------------


def _read_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=p) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}, line {exc.lineno})", file=p) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=p) from None


def _is_findings(body: Any) -> bool:
    """A findings JSON is an array of objects with a ``check_id`` (an empty array too)."""
    return isinstance(body, list) and all(
        isinstance(r, dict) and "check_id" in r for r in body
    )  # fmt: skip


_REQUIRED = ("finding_id", "check_id", "severity")


def _from_records(body: list[dict[str, Any]], p: Path) -> pd.DataFrame:
    rows = []
    for n, r in enumerate(body):
        if r.get("baseline_status") == FIXED:
            continue  # fixed in that run: not a finding of it
        for key in _REQUIRED:
            if not isinstance(r.get(key), str) or not r[key]:
                raise InputError(
                    "missing or not a text (was this file written by `check --format json`?)",
                    file=p,
                    record=f"finding {n}",
                    field=key,
                )
        if r["severity"] not in frames.SEVERITIES:
            raise InputError(
                f"unknown severity {r['severity']!r}",
                file=p,
                record=f"finding {n}",
                field="severity",
            )
        row: dict[str, Any] = {}
        for col in frames.columns("findings"):
            v = r.get(col)
            if col == "muted":
                row[col] = v is True
            elif col != "baseline_status":
                row[col] = v if isinstance(v, str) else None
        rows.append(row)
    return frames.build("findings", rows)
