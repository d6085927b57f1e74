"""Small organisations in raw Scalingo API shapes, built per test."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from scalingo_audit.model import AuditData
from scalingo_audit.policy import Policy
from scalingo_audit.snapshot import RawFile, Snapshot, api_files, app_file
from scalingo_audit.sources import from_snapshot

COLLECTED_AT = "2026-10-01T12:00:00+00:00"
COLLECTOR = "ops@acme.example"
_ids = itertools.count(1)


def app_id(name: str, region: str = "osc-fr1") -> str:
    """The id the builders give app ``name`` in ``region`` (one name may be in two regions)."""
    return f"ap-{name}" if region == "osc-fr1" else f"ap-{region}-{name}"


app_id_of = app_id  # for builders whose ``app_id`` keyword hides the function


def app(
    name: str, owner: str = COLLECTOR, *, region: str = "osc-fr1", project: str = "shop"
) -> dict[str, Any]:
    return {
        "id": app_id(name, region),
        "name": name,
        "region": region,
        "created_at": "2024-01-01T00:00:00Z",
        "owner": {"id": f"us-{owner}", "username": owner.split("@")[0], "email": owner},
        "project": {"id": f"pr-{project}", "name": project},
        "last_deployed_at": None,
    }


def collab(
    app_or_name: str | dict[str, Any],
    email: str,
    *,
    limited: Any = False,
    status: str = "accepted",
    tfa: Any = True,
    omit_tfa: bool = False,
    region: str | None = None,
) -> dict[str, Any]:
    """A collaborator of an app, keyed by (region, app name): ``app_or_name`` is a record of
    :func:`app` (its region and id), or a name in ``region`` (default osc-fr1)."""
    if isinstance(app_or_name, dict):
        if region is not None and region != app_or_name["region"]:
            raise ValueError(f"app {app_or_name['name']!r} is in {app_or_name['region']}")
        app_name, the_id = app_or_name["name"], app_or_name["id"]
    else:
        app_name, the_id = app_or_name, app_id(app_or_name, region or "osc-fr1")
    rec: dict[str, Any] = {
        "id": f"co-{next(_ids)}",
        "email": email,
        "status": status,
        "is_limited": limited,
        "app_id": the_id,
        "app_name": app_name,
        "user_id": None if status == "pending" else f"us-{email}",
        "username": "n/a" if status == "pending" else email.split("@")[0],
        "invitation_link": "https://dashboard.scalingo.com/x" if status == "pending" else "",
    }
    if not omit_tfa:
        rec["tfa_status"] = None if status == "pending" else tfa
    return rec


def token(name: str, created_days_ago: float, used_days_ago: float | None) -> dict[str, Any]:
    at = dt.datetime.fromisoformat(COLLECTED_AT)

    def ago(d: float) -> str:
        return (at - dt.timedelta(days=d)).isoformat()

    return {
        "id": f"tk-{next(_ids)}",
        "name": name,
        "created_at": ago(created_days_ago),
        "last_used_at": None if used_days_ago is None else ago(used_days_ago),
    }


def snapshot(
    apps: list[dict[str, Any]],
    collaborators: list[dict[str, Any]] = (),  # type: ignore[assignment]
    tokens: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> Snapshot:
    """Apps owned by the collector go through GET /v1/collaborators, others per app. Apps
    are keyed by (region, name): one name may be in several regions. A collaborator belongs
    to the app whose id it names (``collab(app_record)`` or ``collab(name, region=R)``),
    else to the one app of its name; a collaborator of no app, or of a name in several
    regions without one of their ids, is a mistake in the test."""
    regions = sorted({a["region"] for a in apps})
    keys = [(a["region"], a["name"]) for a in apps]
    if len(set(keys)) < len(keys):
        raise ValueError(f"two apps with the same (region, name): {sorted(keys)}")
    region_of = {a["id"]: a["region"] for a in apps}
    collaborators = [{**c, "app_id": app_of(c, apps)["id"]} for c in collaborators]
    files = []
    for i, region in enumerate(regions or [""]):  # per region: a name may be in several
        by_app: dict[str, list[dict[str, Any]]] = {}
        for c in collaborators:
            if region_of[c["app_id"]] == region:
                by_app.setdefault(c["app_name"], []).append(c)
        here = [
            {k: v for k, v in a.items() if k != "region"} for a in apps if a["region"] == region
        ]
        files += [
            f
            for f in api_files(
                user={"id": "us-ops", "email": COLLECTOR, "username": "ops"},
                tokens=list(tokens),
                apps={region: here} if region else {},
                collaborators=by_app,
            )
            if i == 0 or f.region is not None  # the auth API's tokens file once
        ]
    return Snapshot(
        collected_at=COLLECTED_AT,
        collected_by={"email": COLLECTOR, "user_id": "us-ops"},
        regions=regions,
        files=files,
    )


def app_of(rec: dict[str, Any], apps: list[dict[str, Any]]) -> dict[str, Any]:
    """The app of ``apps`` a collaborator or event record belongs to: the one whose id it
    names, else the one app of its ``app_name``. None or several is a mistake in the test."""
    for a in apps:
        if a["id"] == rec.get("app_id"):
            return a
    named = [a for a in apps if a["name"] == rec.get("app_name")]
    if len(named) != 1:
        where = sorted(a["region"] for a in named) or "no region"
        raise ValueError(f"{rec.get('id')} of app {rec.get('app_name')!r}: in {where}")
    return named[0]


def org(*args: Any, policy: Policy | None = None, **kwargs: Any) -> AuditData:
    return from_snapshot(snapshot(*args, **kwargs), policy=policy or Policy())


def reseal(root: Path) -> Path:
    """Record the current size and SHA-256 of every raw file in the snapshot's manifest, as
    if the API had returned these bodies: for tests of hostile *content*, not of tampering."""
    manifest = root / "manifest.json"
    body = json.loads(manifest.read_text(encoding="utf-8"))
    for entry in body["files"]:
        data = (root / entry["path"]).read_bytes()
        entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    manifest.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return root


def edit_json(path: Path, fn: Any) -> None:
    """Edit a JSON file of a snapshot in place with ``fn(body)``; a raw file is then resealed
    (:func:`reseal`) as if the API had returned it so, a manifest is left as edited."""
    body = json.loads(path.read_text(encoding="utf-8"))
    fn(body)
    path.write_text(json.dumps(body), encoding="utf-8")
    if path.name != "manifest.json":
        reseal(next(p for p in path.parents if (p / "manifest.json").is_file()))


def event(
    app_or_name: str | dict[str, Any],
    kind: str,
    days_ago: float,
    *,
    region: str | None = None,
    email: str | None = None,
    uid: str | None = None,
    username: str | None = None,
    data: dict[str, Any] | None = None,
    app_id: str | None = "default",
) -> dict[str, Any]:
    """An app event in API shape, ``days_ago`` before :data:`COLLECTED_AT`, keyed like
    :func:`collab` by (region, app name): an :func:`app` record, or a name in ``region``
    (default osc-fr1). ``user`` only carries the fields given; ``app_id=None`` leaves the
    id out (the event then goes to the one app of its name)."""
    if isinstance(app_or_name, dict):
        name, the_id = app_or_name["name"], app_or_name["id"]
    else:
        name, the_id = app_or_name, app_id_of(app_or_name, region or "osc-fr1")
    user = {k: v for k, v in (("id", uid), ("email", email), ("username", username)) if v}
    return {
        "id": f"ev-{next(_ids)}",
        "created_at": (
            dt.datetime.fromisoformat(COLLECTED_AT) - dt.timedelta(days=days_ago)
        ).isoformat(),
        "user": user or None,
        "type": kind,
        "app_id": the_id if app_id == "default" else app_id,
        "app_name": name,
        "type_data": data or {},
    }


def member(email: str) -> dict[str, Any]:
    """The identity :func:`collab` gives a member, as :func:`event`'s keywords: user id,
    email and username."""
    return {"uid": f"us-{email}", "email": email, "username": email.split("@")[0]}


def org_with_events(
    apps: list[dict[str, Any]],
    collabs: list[dict[str, Any]],
    events: list[dict[str, Any]] | None,
    *,
    events_days: int | None = 120,
    policy: Policy | None = None,
    gaps: list[dict[str, Any]] = (),  # type: ignore[assignment]
    next_page: set[str] = frozenset(),  # type: ignore[assignment]
) -> AuditData:
    """:func:`org` plus one events page per app (``events=None``: events not collected);
    each event goes to its app (:func:`app_of`); ``next_page``: names of apps whose events
    page says another one follows."""
    s = snapshot(apps, collabs)
    if events is not None:
        placed = [(app_of(e, apps)["id"], e) for e in events]
        for a in apps:
            mine = sorted((e for i, e in placed if i == a["id"]), key=lambda e: e["created_at"],
                          reverse=True)  # fmt: skip
            more = 2 if a["name"] in next_page else None
            body = {"events": mine, "meta": {"pagination": {"current_page": 1, "next_page": more}}}
            path = app_file(a["region"], a["name"], "events.page-1.json")
            request = f"GET /v1/apps/{a['name']}/events"
            s.files.append(RawFile(path, "app_events", a["region"], request, body, app=a["name"]))
        s.events_days = events_days
    s.gaps = list(gaps)
    return from_snapshot(s, policy=policy or Policy())
