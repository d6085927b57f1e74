"""Finding identity: a finding's stable id across runs.

A finding's identity is its :func:`finding_id`, a hash of what it is about — the check id,
the region, the app (its id when the data has one, else its name), the person's lower-case
email and the token name — and of nothing that changes from run to run (messages count
days, remediation wording evolves). The same finding in two snapshots has the same id, so
a baseline (:mod:`scalingo_audit.baseline`) tells new findings from existing and fixed ones.
:func:`scalingo_audit.checks.run_checks` gives every finding its id (:func:`assign_ids`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from . import frames
from .frames import text, texts

ID_LENGTH = 16
"""Hex digits kept of the SHA-256 (64 bits)."""


def finding_id(
    check_id: Any, region: Any, app: Any, email: Any, token_name: Any
) -> str:  # fmt: skip
    """The stable id of a finding: ``app`` is the app id where known, else its name."""
    return _digest((text(check_id), text(region), text(app), text(email).lower(), text(token_name)))


def _digest(parts: tuple[str, ...]) -> str:
    # Each part length-prefixed: no two different tuples encode to the same text.
    key = "".join(f"{len(p)}:{p}" for p in parts)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_LENGTH]


def assign_ids(findings: pd.DataFrame, apps: pd.DataFrame) -> pd.Series:
    """The ``finding_id`` of every row of a findings frame; app names are resolved to app
    ids through ``apps`` (by region and name)."""
    ids = {
        (r, n): i
        for r, n, i in zip(
            texts(apps["region"]), texts(apps["app_name"]), texts(apps["app_id"]), strict=True
        )
        if i
    }
    regions, names = texts(findings["region"]), texts(findings["app"])
    out = [
        _digest((c, r, ids.get((r, a), a), e.lower(), t))
        for c, r, a, e, t in zip(
            texts(findings["check_id"]),
            regions,
            names,
            texts(findings["email"]),
            texts(findings["token_name"]),
            strict=True,
        )
    ]
    return pd.Series(out, index=findings.index, dtype=frames.TEXT)
