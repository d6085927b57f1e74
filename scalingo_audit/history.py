"""A history: a directory of snapshot directories, and how the figures move across them.

:func:`snapshots` orders a history by each manifest's ``collected_at``; :func:`previous`
finds the snapshot before one; :func:`trends` gives one row per snapshot with the headline
figures (columns: ``frames.SCHEMAS["trends"]``). What changed between two audits is
:mod:`scalingo_audit.diff`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from . import frames
from . import snapshot as snap
from .errors import InputError, excerpt


def snapshots(directory: str | Path) -> list[Path]:
    """The snapshot directories directly inside ``directory``, oldest first (by each
    manifest's ``collected_at``)."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError("not a directory (expected a directory of snapshots)", file=root)
    if snap.is_snapshot(root):
        raise InputError(
            "is a single snapshot; a history is the directory that holds several", file=root
        )
    found: list[tuple[dt.datetime, Path]] = []
    for p in sorted(root.iterdir()):
        if p.is_dir() and not p.name.startswith(".") and snap.is_snapshot(p):
            manifest = snap.read_json(p / "manifest.json")
            when = manifest.get("collected_at") if isinstance(manifest, dict) else None
            try:
                t = dt.datetime.fromisoformat(str(when))
            except ValueError:
                raise InputError(
                    f"not an ISO 8601 date: {excerpt(when)}",
                    file=p / "manifest.json",
                    field="collected_at",
                ) from None
            found.append((t if t.tzinfo else t.replace(tzinfo=dt.UTC), p))
    if not found:
        raise InputError("no snapshot directories (with a manifest.json) in it", file=root)
    return [p for _, p in sorted(found)]


def previous(snapshot_dir: str | Path) -> Path:
    """The snapshot collected just before ``snapshot_dir`` in the same history."""
    target = Path(snapshot_dir).resolve()
    history = [p.resolve() for p in snapshots(target.parent)]
    if target not in history:
        raise InputError("not a snapshot directory (no manifest.json)", file=snapshot_dir)
    i = history.index(target)
    if i == 0:
        raise InputError("no earlier snapshot beside it to compare with", file=snapshot_dir)
    return history[i - 1]


def trends(directory: str | Path, *, policy: str | Path = "") -> pd.DataFrame:
    """One row per snapshot of the history ``directory``: 2FA coverage, share of full
    Collaborators, open findings by severity (each as of its own collection time)."""
    return trends_of(snapshots(directory), policy=policy)


def trends_of(paths: Iterable[str | Path], *, policy: str | Path = "") -> pd.DataFrame:
    from .checks import run_checks
    from .output import severity_counts
    from .policy import load_policy
    from .sources import load

    pol = load_policy(policy) if policy else None
    rows = []
    for path in paths:
        data = load(path, policy=pol)
        s = data.summary()
        sev = severity_counts(run_checks(data))
        rows.append(
            {
                "collected_at": data.info.collected_at,
                "snapshot": str(path),
                **{k: s[k] for k in ("apps", "people", "accepted_collaborators")},
                "tfa_coverage": s["tfa_coverage"],
                "full_collaborator_share": s["full_collaborator_share"],
                "pending_invitations": s["pending_invitations"],
                **{f"findings_{k}": v for k, v in sev.items()},
            }
        )
    return frames.build("trends", rows)


def pair(old: str = "", new: str = "") -> tuple[str, str]:
    """The two snapshots a changes notebook compares: both given; only ``new`` (the
    snapshot before it in its directory); or neither (the last two of the demo history)."""
    if old and new:
        return old, new
    if new:
        return str(previous(new)), new
    if old:
        raise InputError("give the newer snapshot too (new), or neither for the demo")
    from .demo.history import demo_history

    paths = demo_history()
    return str(paths[-2]), str(paths[-1])
