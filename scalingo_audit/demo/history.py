"""A demo history: the demo organisation as it was two and four months before.

:func:`demo_snapshots` returns three snapshots, oldest first: 2026-07-01, 2026-09-01 and
the demo itself (2026-11-01). Each earlier one is derived from the next by undoing a few
changes, so that between the last two there is one change of every kind ``diff.diff``
knows (grants, a revocation, downgrades, an invitation sent and one accepted, 2FA turned
on and off, an owner change, tokens created and revoked), and the figures move the
way a recurring review hopes: more 2FA, fewer full Collaborators.

People are picked by rule (sorted by app, then email), so the history follows the demo.
:func:`demo_history` writes them as a directory of snapshots (a history), by default once
into the user's cache directory.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import platformdirs

from .._version import __version__
from ..snapshot import RawFile, Snapshot, is_snapshot, write
from . import demo_snapshot

FORMER_OWNER = "julien.roux@acme.example"
FORMER_CONTRACTOR = "freelance.dev@studio-nord.example"
OLD_TOKEN = {
    "id": "tk-0d1dde1e70c0ffee",
    "name": "old-deploy-key",
    "created_at": "2025-03-10T08:00:00.000+00:00",
    "last_used_at": "2026-05-02T08:00:00.000+00:00",
}


def demo_snapshots() -> list[Snapshot]:
    """Three snapshots of the demo organisation, oldest first."""
    latest = demo_snapshot()
    middle = _earlier(latest, "2026-09-01T08:00:00+00:00", _undo_recent)
    oldest = _earlier(middle, "2026-07-01T08:00:00+00:00", _undo_summer)
    return [oldest, middle, latest]


def demo_history(directory: str | Path | None = None) -> list[Path]:
    """Write the three :func:`demo_snapshots` into ``directory`` (one snapshot directory
    each, named after its collection date) and return them, oldest first.

    Without ``directory``: a cache in the user's cache directory
    (``platformdirs.user_cache_dir("scalingo-audit")``, e.g. ``~/.cache/scalingo-audit``),
    named after the package version and the content of the demo, written once and reused
    (notebook kernels are killed, not exited, so a per-run temporary directory would never be
    removed). It appears whole or not at all: written beside it, then renamed into place, so
    two processes building it at once each get a complete one."""
    shots = demo_snapshots()
    if directory is not None:
        root = Path(directory)
        return [write(s, root / s.collected_at[:10]) for s in shots]
    names = [s.collected_at[:10] for s in shots]
    digest = hashlib.sha256(
        json.dumps([s.manifest()["files"] for s in shots], sort_keys=True).encode()
    ).hexdigest()[:16]
    cache = Path(platformdirs.user_cache_dir("scalingo-audit")) / (
        f"demo-history-{__version__}-{digest}"
    )
    if not _complete(cache, names):
        try:
            _build(cache, shots, names)
        except OSError:  # no writable cache directory: a temporary one for this run
            return demo_history(tempfile.mkdtemp(prefix="scalingo-audit-demo-history-"))
    return [cache / n for n in names]


def _complete(cache: Path, names: list[str]) -> bool:
    return all(is_snapshot(cache / n) for n in names)


def _build(cache: Path, shots: list[Snapshot], names: list[str]) -> None:
    """Write the history beside ``cache``, then rename it into place (atomic)."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        for s, n in zip(shots, names, strict=True):
            write(s, tmp / n)
        try:
            os.rename(tmp, cache)
        except OSError:  # it exists: another process got there first, or it is damaged
            if _complete(cache, names):
                return
            stale = cache.with_name(f".{cache.name}.stale-{uuid.uuid4().hex}")
            with contextlib.suppress(FileNotFoundError):
                os.rename(cache, stale)
            shutil.rmtree(stale, ignore_errors=True)
            try:
                os.rename(tmp, cache)
            except OSError:
                if not _complete(cache, names):  # pragma: no cover (a third writer raced)
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _earlier(s: Snapshot, when: str, undo: Callable[[Snapshot], None]) -> Snapshot:
    files = [
        RawFile(f.path, f.kind, f.region, f.request, copy.deepcopy(f.body), f.app) for f in s.files
    ]
    out = Snapshot(
        collected_at=when,
        collected_by=dict(s.collected_by),
        regions=list(s.regions),
        files=files,
        origin=s.origin,
        requests=s.requests,
        events_days=s.events_days,
        gaps=copy.deepcopy(s.gaps),
    )
    # The same rhythm of activity, earlier: every event and token use moves back in time.
    shift = dt.datetime.fromisoformat(s.collected_at) - dt.datetime.fromisoformat(when)
    for f in out.of_kind("app_events"):
        for e in f.body["events"]:
            e["created_at"] = _minus(e["created_at"], shift)
    for f in out.of_kind("tokens"):
        f.body["tokens"] = [t for t in f.body["tokens"] if _before(t["created_at"], when)]
        for t in f.body["tokens"]:
            used = t.get("last_used_at")
            if used:
                used = _minus(used, shift)
                t["last_used_at"] = used if _before(t["created_at"], used) else None
    undo(out)
    return out


def _before(t: str, when: str) -> bool:
    return dt.datetime.fromisoformat(t) <= dt.datetime.fromisoformat(when)


def _minus(t: str, delta: dt.timedelta) -> str:
    return (dt.datetime.fromisoformat(t) - delta).isoformat()


def _collaborators(s: Snapshot) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """(list, record) for every collaborator record, sorted by app then email."""
    pairs = [
        (f.body["collaborators"], rec)
        for f in s.files
        if f.kind in ("collaborators", "app_collaborators")
        for rec in f.body["collaborators"]
        if rec["email"] != s.collected_by.get("email")
    ]
    return iter(sorted(pairs, key=lambda p: (p[1]["app_name"], p[1]["email"])))


def _limited(rec: dict[str, Any]) -> bool:
    return str(rec["is_limited"]).lower() == "true"


def _people_with_tfa(s: Snapshot, value: bool) -> list[str]:
    """People whose every record says 2FA is ``value``, sorted."""
    seen: dict[str, set[Any]] = {}
    for _, rec in _collaborators(s):
        if rec["status"] == "accepted":
            seen.setdefault(rec["email"], set()).add(rec.get("tfa_status", "missing"))
    return sorted(e for e, values in seen.items() if values == {value})


def _set_tfa(s: Snapshot, email: str, value: bool) -> None:
    for _, rec in _collaborators(s):
        if rec["email"] == email and rec["status"] == "accepted":
            rec["tfa_status"] = value


def _undo_recent(s: Snapshot) -> None:
    """From 2026-11-01 back to 2026-09-01: one change of every kind."""
    used: set[str] = set()
    recs = list(_collaborators(s))
    accepted = [(lst, r) for lst, r in recs if r["status"] == "accepted"]
    pending = next((lst, r) for lst, r in recs if r["status"] == "pending")
    used.add(pending[1]["email"])

    def pick(cond: Callable[[dict[str, Any]], bool]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        for lst, r in accepted:
            if r["email"] not in used and cond(r):
                used.add(r["email"])
                return lst, r
        raise AssertionError("the demo has no such collaborator")  # pragma: no cover

    # granted since: two accepted memberships did not exist yet
    for _ in range(2):
        lst, r = pick(lambda r: True)
        lst.remove(r)
    # downgraded since: two limited collaborators were full
    for _ in range(2):
        _, r = pick(_limited)
        r["is_limited"] = False
    # invitation accepted since: it was pending
    _, r = pick(lambda r: True)
    r.update(status="pending", user_id=None, username="n/a", tfa_status=None)
    r["invitation_link"] = "https://dashboard.scalingo.com/apps/invitation?token=demo"
    # invitation sent since: the pending one did not exist
    pending[0].remove(pending[1])
    # 2FA: one person turned it on since, one turned it off
    on = next(e for e in _people_with_tfa(s, True) if e not in used)
    used.add(on)
    _set_tfa(s, on, False)
    off = next(e for e in _people_with_tfa(s, False) if e not in used)
    _set_tfa(s, off, True)
    # revoked since: a contractor had the full role on shop-payments
    for f in s.of_kind("collaborators"):
        if f.region == "osc-fr1":
            payments = next(a for a in _apps(s, "osc-fr1") if a["name"] == "shop-payments")
            f.body["collaborators"].append(
                {
                    "id": "co-0d1dde1e70c00001",
                    "email": FORMER_CONTRACTOR,
                    "status": "accepted",
                    "app_id": payments["id"],
                    "app_name": "shop-payments",
                    "is_limited": False,
                    "user_id": "us-0d1dde1e70c00002",
                    "username": "freelance-dev",
                    "invitation_link": "",
                    "tfa_status": False,
                }
            )
    # owner changed since: marketing-landing belonged to a former employee
    for a in _apps(s, "osc-fr1"):
        if a["name"] == "marketing-landing":
            a["owner"] = {"id": "us-0d1dde1e70c00003", "username": "julien-roux",
                          "email": FORMER_OWNER}  # fmt: skip
    # token revoked since
    for f in s.of_kind("tokens"):
        f.body["tokens"].append(dict(OLD_TOKEN))


def _undo_summer(s: Snapshot) -> None:
    """From 2026-09-01 back to 2026-07-01: less 2FA, more full Collaborators."""
    for email in _people_with_tfa(s, True)[-4:]:
        _set_tfa(s, email, False)
    full = [r for _, r in _collaborators(s) if r["status"] == "accepted" and _limited(r)]
    for r in full[-6:]:
        r["is_limited"] = False


def _apps(s: Snapshot, region: str) -> list[dict[str, Any]]:
    return next(f.body["apps"] for f in s.of_kind("apps") if f.region == region)
