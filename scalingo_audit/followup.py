"""Review follow-through: were the decisions of an access review carried out?

``review --apply-decisions`` records the decisions as evidence
(``SNAPSHOT.decisions/<UTC time>.json``, see :func:`scalingo_audit.review.record_decisions`)
and changes nothing on Scalingo: a person runs the commands. :func:`follow_up` compares
each *downgrade* and *revoke* decision with a newer snapshot of the same account:

==============  ===========================================================================
``applied``     revoke: the person is no longer on the app; downgrade: they are a Limited
                Collaborator there now
``pending``     the access is unchanged: the decision's command is given again
``moot``        the app is gone, or the person is (their account was deleted, or — for a
                downgrade — their access to the app was removed altogether)
``unverified``  the newer snapshot could not read that app (a coverage gap)
==============  ===========================================================================

``review --follow-up DECISIONS SNAPSHOT`` prints them and exits 1 while any is pending or
unverified. :func:`latest_review` finds, for a snapshot, the latest review recorded next
to an older snapshot of the same account in the same directory (the report's index shows
its follow-through).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .frames import ROLE_PROSE
from .model import AuditData

APPLIED, PENDING, MOOT, UNVERIFIED = "applied", "pending", "moot", "unverified"
STATUSES = (PENDING, UNVERIFIED, APPLIED, MOOT)
RECORD_FORMAT = "scalingo-audit/review-decisions"


@dataclass(frozen=True)
class FollowUp:
    """One downgrade or revoke decision and what became of it."""

    person: str
    app: str
    region: str
    decision: str  # downgrade | revoke
    status: str  # one of STATUSES
    detail: str
    command: str  # the command again while pending or unverified, else ''
    reviewer: str = ""
    date: str = ""


@dataclass(frozen=True)
class Review:
    """A recorded review: its file, when it was recorded, its source and decisions."""

    path: Path
    recorded_at: str
    source: dict[str, Any]
    decisions: list[dict[str, Any]]


def read_review(path: str | Path) -> Review:
    """A decisions record; ``path`` may also be a ``*.decisions`` directory (its latest
    record is read). Raises :class:`InputError` naming the file and the field at fault."""
    p = Path(path)
    if p.is_dir():
        records = sorted(x for x in p.glob("*.json") if x.is_file())
        if not records:
            raise InputError("no recorded decisions (*.json) in this directory", file=p)
        p = records[-1]
    try:
        body = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file or directory", file=p) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a decisions record ({type(exc).__name__})", file=p) from None
    if not isinstance(body, dict) or body.get("format") != RECORD_FORMAT:
        raise InputError(
            f"not a decisions record (format {RECORD_FORMAT!r}, written by "
            "`review --apply-decisions`)",
            file=p,
        )
    decisions = body.get("decisions")
    if not isinstance(decisions, list):
        raise InputError("missing or not a list", file=p, field="decisions")
    for n, d in enumerate(decisions):
        for key in ("person", "app", "region", "decision"):
            if not isinstance(d, dict) or not isinstance(d.get(key), str):
                raise InputError("missing or not a text", file=p, record=f"decision {n}", field=key)
    raw = body.get("source")
    source: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Review(p, str(body.get("recorded_at", "")), source, decisions)


def follow_up(review: Review, data: AuditData) -> list[FollowUp]:
    """What became of every downgrade and revoke decision of ``review`` in ``data``
    (a newer snapshot of the same account), in the review's order."""
    from .review import DOWNGRADE, REVOKE, command

    _check_same_account(review, data)
    apps = {(str(r), str(n)) for r, n in zip(data.apps["region"], data.apps["app_name"],
                                               strict=True)}  # fmt: skip
    m = data.memberships
    members = {
        (str(r), str(a), str(e).lower()): (str(role), str(status))
        for r, a, e, role, status in zip(
            m["region"], m["app_name"], m["email"], m["role"], m["status"], strict=True
        )
    }
    gaps = [(g.get("region"), g.get("app")) for g in data.info.gaps]
    out = []
    for d in review.decisions:
        kind = d["decision"]
        if kind not in ("downgrade", "revoke"):
            continue
        region, app, person = d["region"], d["app"], d["person"]
        again = command(DOWNGRADE if kind == "downgrade" else REVOKE, region, app, person)
        now = members.get((region, app, person.lower()))
        unread = any((gr in (None, region)) and (ga in (None, app)) for gr, ga in gaps)
        if unread:
            status, detail = UNVERIFIED, f"{app} could not be read in the newer snapshot"
        elif (region, app) not in apps:
            status, detail = MOOT, f"the app {app} ({region}) is gone"
        elif now is not None and now[1] == "user account deleted":
            status, detail = MOOT, f"the account of {person} was deleted"
        elif kind == "revoke":
            if now is None:
                status, detail = APPLIED, f"{person} is no longer on {app}"
            else:
                status, detail = PENDING, f"{person} is still on {app} ({_role(now[0])})"
        elif now is None:
            status, detail = MOOT, f"{person} is no longer on {app} at all"
        elif now[0] == "limited_collaborator":
            status, detail = APPLIED, f"{person} is a Limited Collaborator on {app} now"
        else:
            status, detail = PENDING, f"{person} is still {_role(now[0])} on {app}"
        out.append(
            FollowUp(
                person=person,
                app=app,
                region=region,
                decision=kind,
                status=status,
                detail=detail,
                command=again if status in (PENDING, UNVERIFIED) else "",
                reviewer=str(d.get("reviewer") or ""),
                date=str(d.get("date") or ""),
            )
        )
    return out


def _role(role: str) -> str:
    """``a full Collaborator``, ``a Limited Collaborator``, ``the owner``."""
    if role not in ROLE_PROSE:
        return role
    return f"{'the' if role == 'owner' else 'a'} {ROLE_PROSE[role]}"


def _check_same_account(review: Review, data: AuditData) -> None:
    """The snapshot must be of the reviewed account and not older than the review's data."""
    import datetime as dt

    who = review.source.get("collected_by")
    if who and data.info.collected_by and str(who).lower() != data.info.collected_by.lower():
        raise InputError(
            f"the review was made on data collected by {who}, this snapshot by "
            f"{data.info.collected_by}: follow a review up with a snapshot of the same account",
            file=data.info.location,
        )
    when = review.source.get("collected_at")
    try:
        reviewed = dt.datetime.fromisoformat(str(when)) if when else None
    except ValueError:
        reviewed = None
    if reviewed is not None and data.info.collected_at < reviewed:
        raise InputError(
            f"collected {data.info.collected_at.isoformat()}, before the reviewed data "
            f"({reviewed.isoformat()}): follow a review up with a newer snapshot",
            file=data.info.location,
        )


def pending(items: list[FollowUp]) -> list[FollowUp]:
    """The decisions not (yet) shown to be carried out: pending and unverified ones."""
    return [i for i in items if i.status in (PENDING, UNVERIFIED)]


def counts(items: list[FollowUp]) -> dict[str, int]:
    return {s: sum(i.status == s for i in items) for s in STATUSES}


def to_text(items: list[FollowUp], review: Review, data: AuditData) -> str:
    """The ``review --follow-up`` listing: pending first (with the commands), then the rest."""
    c = counts(items)
    lines = [
        f"Follow-up of the review recorded {review.recorded_at} ({review.path.name}) in "
        f"{data.info.location}, collected {data.info.collected_at.isoformat()}:",
        ", ".join(f"{n} {s}" for s, n in c.items()),
    ]
    for status in STATUSES:
        group = [i for i in items if i.status == status]
        if not group:
            continue
        lines += ["", f"{status.upper()} ({len(group)})"]
        for i in group:
            lines.append(f"  {i.decision} {i.person} on {i.app} ({i.region}): {i.detail}")
            if i.command:
                lines.append(f"      {i.command}")
    if not items:
        lines += ["", "The review decided no downgrade and no revocation."]
    return "\n".join(lines) + "\n"


def latest_review(snapshot_dir: str | Path, data: AuditData) -> Review | None:
    """The latest review recorded next to an older snapshot of the same account as
    ``data``, in the directory holding ``snapshot_dir``; ``None`` when there is none (or
    it cannot be read: the report stays buildable)."""
    from .snapshot import is_snapshot

    snap = Path(snapshot_dir).resolve()
    best: Review | None = None
    for folder in sorted(snap.parent.glob("*.decisions")):
        sibling = folder.with_name(folder.name[: -len(".decisions")])
        if not folder.is_dir() or sibling == snap or not is_snapshot(sibling):
            continue
        try:
            review = read_review(folder)
            _check_same_account(review, data)
        except InputError:
            continue
        if best is None or review.recorded_at > best.recorded_at:
            best = review
    return best


def index_summary(data: AuditData) -> dict[str, Any] | None:
    """For the report's index: the follow-through of the latest review recorded next to an
    older snapshot of the same account (see :func:`latest_review`), or ``None``."""
    if data.info.kind != "snapshot" or not Path(data.info.location).is_dir():
        return None
    review = latest_review(data.info.location, data)
    if review is None:
        return None
    items = follow_up(review, data)
    return {
        "recorded_at": review.recorded_at,
        "reviewed": str(review.source.get("location") or review.path.parent.name),
        "record": review.path.name,
        "counts": counts(items),
        "open": [i for i in items if i.status in (PENDING, UNVERIFIED)],
    }
