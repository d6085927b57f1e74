"""``load(source)``: the demo organisation, a snapshot directory or a dashboard export → frames.

Every source ends in the same frames (:mod:`scalingo_audit.frames`), so checks
and notebooks never know where the data came from. Raw API responses are read
as Scalingo documents them (../shared/scalingo-api.md): ``is_limited`` as a
boolean or the string ``"true"``/``"false"``, ``tfa_status`` missing or null
(unknown, never false), owners absent from collaborator lists.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import snapshot as snap
from .errors import DataWarning, InputError, excerpt, short
from .frames import STATUSES
from .model import AuditData, SourceInfo, assemble
from .policy import Policy
from .redact import redact_event

DEMO = "demo"


def load(
    source: str | Path = DEMO, *, policy: Policy | None = None, verify: bool = True
) -> AuditData:
    """Load access data into frames.

    ``source`` is ``"demo"`` (the built-in demo organisation), a snapshot
    directory (see :mod:`scalingo_audit.snapshot`) or a dashboard Collaborators
    export (``.csv`` or ``.json``). ``policy`` decides internal domains and
    service accounts; for the demo it defaults to the demo's own policy.
    A snapshot's raw files are checked against its manifest (size, SHA-256) and a
    mismatch raises :class:`InputError` naming the file; ``verify=False`` loads them
    anyway and marks the data unverified (``info.verified``), which every output shows.
    """
    if str(source) == DEMO:
        from .demo import demo_policy, demo_snapshot

        return from_snapshot(demo_snapshot(), policy=policy or demo_policy(), kind="demo")
    path = Path(source)
    if path.is_dir():
        if not snap.is_snapshot(path):
            raise InputError("not a snapshot directory (no manifest.json)", file=path)
        with _cyclic_gc_paused():
            return from_snapshot(
                snap.read(path, verify=verify), policy=policy or Policy(), kind="snapshot"
            )
    if path.is_file():
        from .export import load_export
        from .model import with_info

        data = load_export(path, policy=policy or Policy())
        return with_info(data, source_sha256=snap.sha256_file(path), verified=None)
    raise InputError(
        "no such file or directory (expected 'demo', a snapshot directory or a dashboard export)",
        file=path,
    )


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a snapshot becomes frames: the JSON bodies and
    rows are hundreds of thousands of acyclic dicts that only make it scan again and again
    (0.1-0.3 s of the 50,000-membership load). Reference counting still frees everything."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def from_snapshot(s: snap.Snapshot, *, policy: Policy, kind: str = "snapshot") -> AuditData:
    """Turn the raw API responses of a snapshot into frames."""
    apps: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    more_pages: set[tuple[str, str]] = set()  # apps whose last events page says there are more
    own_tfa: bool | None = None  # the collecting account's own 2FA (GET /v1/client/tfa)
    where_root = Path(s.location) if s.location != "<memory>" else Path("<demo>")

    buckets = {"apps": apps, "collaborators": memberships, "app_collaborators": memberships,
               "tokens": tokens, "app_events": events}  # fmt: skip
    account = s.collected_by.get("email")
    for f in s.files:
        rows = records(f, str(where_root / f.path), account=account)
        if f.kind in buckets:
            buckets[f.kind].extend(rows)
        if f.kind == "app_events" and f.app:
            if _next_page(f.body):
                more_pages.add((f.region or "", f.app))
            else:
                more_pages.discard((f.region or "", f.app))
        if f.kind == "tfa":
            own_tfa = snap.tfa_enabled(f.body)

    _warn_assumptions(memberships, where_root)
    apps_df = pd.DataFrame.from_records(apps, columns=_APP_COLUMNS)
    apps_df = apps_df.drop_duplicates(["region", "app_id"]).reset_index(drop=True)
    mine = _collector(s.collected_by)
    owner_columns = ["region", "app_id", "app_name", "owner_email", "owner_username", "owner_id"]
    owners = [
        {
            "region": region,
            "app_id": app_id,
            "app_name": app_name,
            "role": "owner",
            "status": "accepted",
            "email": email,
            "username": username,
            "user_id": user_id,
            # the API exposes no owner's 2FA, except the collecting account's own
            "tfa": own_tfa if mine(user_id, email) else None,
        }
        for region, app_id, app_name, email, username, user_id in apps_df[owner_columns].itertuples(
            index=False, name=None
        )
    ]
    if own_tfa is not None:  # the collecting account's memberships whose 2FA was not reported
        for rec in memberships:
            if (
                rec["tfa"] is None
                and rec["status"] == "accepted"
                and mine(rec["user_id"], rec["email"])
            ):
                rec["tfa"] = own_tfa
    m = pd.DataFrame.from_records(owners + memberships, columns=_MEMBERSHIP_COLUMNS)
    if not m.empty:
        # An app's id is authoritative; fill app names and projects from the apps list.
        known = {
            (r, i): (n, p)
            for r, i, n, p in zip(
                *(apps_df[c].tolist() for c in ("region", "app_id", "app_name", "project_name")),
                strict=True,
            )
        }  # fmt: skip
        # .tolist(): pandas boxes string-array values one by one when iterated
        hits = [known.get(k) for k in zip(m["region"].tolist(), m["app_id"].tolist(), strict=True)]
        m["project_name"] = [h[1] if h else None for h in hits]
        m["app_name"] = [
            h[0] if h else n for h, n in zip(hits, m["app_name"].tolist(), strict=True)
        ]
        m["_key"] = m["email"].str.lower()
        m = m.drop_duplicates(["region", "app_id", "_key"]).drop(columns="_key")
    collected_at = _parse_time(
        s.collected_at, str(where_root / "manifest.json"), "manifest", "collected_at"
    )
    events_days = _events_days(s.events_days, str(where_root / "manifest.json"))
    apps_df["events_since"] = _events_since(
        apps_df, events, events_days, collected_at, s.gaps, more_pages
    )
    info = SourceInfo(
        kind=kind,
        location="demo" if kind == "demo" else s.location,
        collected_at=_parse_time(
            s.collected_at, str(where_root / "manifest.json"), "manifest", "collected_at"
        ),
        collected_by=s.collected_by.get("email"),
        regions=tuple(s.regions),
        gaps=tuple(s.gaps),
        source_sha256=s.digest(),
        collector_version=s.tool_version or None,
        events_days=events_days,
        verified=s.verified,
    )
    return assemble(apps_df, m, pd.DataFrame(tokens), pd.DataFrame(events), info, policy)


def _warn_assumptions(memberships: list[dict[str, Any]], where: Path) -> None:
    """One warning per kind of assumption made on collaborator rows: a status this tool does
    not know (kept as given; no check fires on it) and rows without ``is_limited`` (the
    full role, as before the Limited role existed)."""
    unknown = sorted({r["status"] for r in memberships if r["status"] not in STATUSES})
    if unknown:
        n = sum(1 for r in memberships if r["status"] not in STATUSES)
        shown = ", ".join(excerpt(v) for v in unknown[:5])
        warnings.warn(
            DataWarning(
                f"{where}: {n} collaborator row(s) with a status this version does not know "
                f"({shown}{', ...' if len(unknown) > 5 else ''}): kept as given, no check "
                f"looks at them (known: {', '.join(STATUSES)})"
            ),
            stacklevel=4,
        )
    missing = sum(1 for r in memberships if r.pop("_missing_limited", False))
    if missing:
        warnings.warn(
            DataWarning(
                f"{where}: {missing} collaborator row(s) without is_limited (data from before the "
                "Limited Collaborator role existed) were read as the full Collaborator role"
            ),
            stacklevel=4,
        )


def records(f: snap.RawFile, where: str, *, account: str | None = None) -> list[dict[str, Any]]:
    """The frame rows of one raw file; :class:`InputError` naming the file, record and
    field if ``load`` cannot read it. ``collect`` calls it on every response before it
    keeps it, so a body the loader would refuse is a coverage gap, never a snapshot that
    does not load."""
    region = f.region or ""
    if f.kind == "apps":
        return [_app(rec, region, where, f"apps[{i}]") for i, rec in _items(f.body, "apps", where)]
    if f.kind in ("collaborators", "app_collaborators"):
        return [
            _collaborator(rec, region, where, f"collaborators[{i}]", app_name=f.app)
            for i, rec in _items(f.body, "collaborators", where)
        ]
    if f.kind == "tokens":
        return [
            _token(rec, account, where, f"tokens[{i}]")
            for i, rec in _items(f.body, "tokens", where)
        ]
    if f.kind == "app_events":
        # never a variable value in a frame, whatever the source
        rows = [
            _event(redact_event(rec)[0], region, where, f"events[{i}]")
            for i, rec in _items(f.body, "events", where)
        ]
        return rows
    if f.kind == "user" and not isinstance(f.body, Mapping):
        raise InputError("expected a JSON object with root key 'user'", file=where)
    if f.kind == "tfa" and snap.tfa_enabled(f.body) is None:
        raise InputError(
            "expected a JSON object 'tfa' with a boolean 'enabled'", file=where, field="tfa"
        )
    return []


def _collector(collected_by: Mapping[str, Any]) -> Any:
    """A test ``(user_id, email) -> bool``: is this the collecting account?"""
    uid = collected_by.get("user_id")
    email = str(collected_by.get("email") or "").strip().lower()

    def mine(user_id: Any, mail: Any) -> bool:
        if uid and isinstance(user_id, str) and user_id:
            return user_id == uid
        return bool(email) and isinstance(mail, str) and mail.strip().lower() == email

    return mine


def _events_days(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(
            f"expected a number of days or null, got {excerpt(value)}",
            file=where,
            field="events_days",
        )
    return value


def _next_page(body: Any) -> bool:
    """Does this stored page announce another one (the client's pagination rule)?"""
    from .api import next_page  # the one rule, shared with the client
    from .errors import ApiError

    if not isinstance(body, Mapping):
        return False
    try:
        return next_page(body) is not None
    except ApiError:
        return False


def _events_since(
    apps: pd.DataFrame,
    events: list[dict[str, Any]],
    events_days: int | None,
    collected_at: dt.datetime,
    gaps: list[dict[str, Any]],
    more_pages: set[tuple[str, str]],
) -> list[str | None]:
    """Per app, when the period its collected events cover starts: the events window, later
    when collection stopped at its page limit, none when the events request failed."""
    if not events_days:
        return [None] * len(apps)
    start = collected_at - dt.timedelta(days=events_days)
    failed = {
        (g.get("region") or "", g.get("app"))
        for g in gaps
        if g.get("app") and "/events" in str(g.get("request") or "")
    }
    oldest: dict[tuple[str, str], dt.datetime] = {}
    for e in events:
        when = dt.datetime.fromisoformat(e["created_at"])
        for name in (e["app_id"], e["app_name"]):
            if name:
                k = (e["region"], name)
                oldest[k] = min(oldest.get(k, when), when)
    out: list[str | None] = []
    for region, app_id, name in zip(apps["region"], apps["app_id"], apps["app_name"], strict=True):
        keys = {(region, app_id), (region, name)}
        if keys & failed:
            out.append(None)
        elif keys & more_pages:
            # cut short: the events seen go back to the oldest one collected for this app
            seen = [oldest[k] for k in keys if k in oldest]
            out.append(max(start, min(seen)).isoformat() if seen else start.isoformat())
        else:
            out.append(start.isoformat())
    return out


_APP_COLUMNS = [
    "region",
    "app_id",
    "app_name",
    "project_id",
    "project_name",
    "owner_id",
    "owner_email",
    "owner_username",
    "created_at",
    "last_deployed_at",
    "last_deployed_by",
    "hds_resource",
    "url",
]


_MEMBERSHIP_COLUMNS = [
    "region", "app_id", "app_name", "role", "status", "email", "username", "user_id", "tfa",
    "collaboration_id",
]  # fmt: skip


def _items(body: Any, key: str, where: str) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(body, Mapping) or key not in body:
        raise InputError(f"expected a JSON object with root key '{key}'", file=where)
    items = body[key]
    if not isinstance(items, list):
        raise InputError("must be a list", file=where, field=key)
    if all(type(rec) is dict for rec in items):  # the usual body: no record to name
        return list(enumerate(items))
    out = []
    for i, rec in enumerate(items):
        if type(rec) is not dict and not isinstance(rec, Mapping):  # dict: the quick test
            raise InputError("must be a JSON object", file=where, record=f"{key}[{i}]")
        out.append((i, rec))
    return out


def _req(rec: Mapping[str, Any], name: str, where: str, record: str) -> Any:
    value = rec.get(name)
    if value is None or value == "":
        raise InputError("missing required field", file=where, record=record, field=name)
    return value


def _label(record: str, rec: Mapping[str, Any], *keys: str) -> str:
    for k in keys:
        v = rec.get(k)
        if isinstance(v, str) and v:
            return f"{record} ({short(v)})"  # a name can be 10,000 characters
    return record


def _app(rec: Mapping[str, Any], region: str, where: str, record: str) -> dict[str, Any]:
    record = _label(record, rec, "name", "id")
    owner = _req(rec, "owner", where, record)
    if not isinstance(owner, Mapping):
        raise InputError(
            "must be an object with id, username and email",
            file=where,
            record=record,
            field="owner",
        )
    project = rec.get("project") if isinstance(rec.get("project"), Mapping) else {}
    assert isinstance(project, Mapping)
    return {
        "region": region,
        "app_id": str(_req(rec, "id", where, record)),
        "app_name": str(_req(rec, "name", where, record)),
        "project_id": project.get("id"),
        "project_name": project.get("name"),
        "owner_id": owner.get("id"),
        "owner_email": str(_req(owner, "email", where, record + " owner")),
        "owner_username": owner.get("username"),
        "created_at": _time(rec, "created_at", where, record),
        "last_deployed_at": _time(rec, "last_deployed_at", where, record),
        "last_deployed_by": rec.get("last_deployed_by"),
        "hds_resource": _bool(rec, "hds_resource", where, record, required=False),
        "url": rec.get("url"),
    }


def _collaborator(
    rec: Mapping[str, Any], region: str, where: str, record: str, *, app_name: str | None
) -> dict[str, Any]:
    email, status = rec.get("email"), rec.get("status")
    # true/false, or the API's "true"/"false" (other spellings: the checked path)
    limited, tfa = rec.get("is_limited"), rec.get("tfa_status")
    if type(limited) is str and limited in ("true", "false"):
        limited = limited == "true"
    if type(tfa) is str and tfa in ("true", "false"):
        tfa = tfa == "true"
    app_id, name = rec.get("app_id"), rec.get("app_name") or app_name
    if (
        type(email) is str
        and email
        and type(status) is str
        and status
        and (limited is None or type(limited) is bool)
        and (tfa is None or type(tfa) is bool)
        and (app_id or name)
    ):  # the usual row, without the field-by-field checks: same result, half the time
        return _collaborator_row(
            rec, region, app_id, name, email=email, status=status, limited=bool(limited),
            tfa=tfa, missing_limited=limited is None,
        )  # fmt: skip
    return _collaborator_checked(rec, region, where, record, app_name=app_name)


def _collaborator_checked(
    rec: Mapping[str, Any], region: str, where: str, record: str, *, app_name: str | None
) -> dict[str, Any]:
    """A collaborator row read field by field: one error naming the record and field."""
    record = _label(record, rec, "email", "id")
    email = str(_req(rec, "email", where, record))
    status = _req(rec, "status", where, record)
    if not isinstance(status, str):
        raise InputError(
            f"expected a text, got {excerpt(status)}", file=where, record=record, field="status"
        )
    # no is_limited: data from before the Limited role existed, when everyone had the full role
    missing_limited = rec.get("is_limited") is None
    limited = _bool(rec, "is_limited", where, record, required=False) or False
    app_id = rec.get("app_id")
    name = rec.get("app_name") or app_name
    if not app_id and not name:
        raise InputError("missing required field", file=where, record=record, field="app_id")
    tfa = _bool(rec, "tfa_status", where, record, required=False)
    return _collaborator_row(
        rec, region, app_id, name, email=email, status=status, limited=limited, tfa=tfa,
        missing_limited=missing_limited,
    )  # fmt: skip


def _collaborator_row(
    rec: Mapping[str, Any],
    region: str,
    app_id: Any,
    app_name: Any,
    *,
    email: str,
    status: str,
    limited: bool,
    tfa: bool | None,
    missing_limited: bool,
) -> dict[str, Any]:
    """A collaborator row from its checked values and the record's free fields."""
    username = rec.get("username")
    return {
        "region": region,
        "app_id": app_id,
        "app_name": app_name,
        "role": "limited_collaborator" if limited else "collaborator",
        "status": status,
        "email": email,
        "username": None if username in (None, "", "n/a") else username,
        "user_id": rec.get("user_id") or None,
        "tfa": tfa,
        "collaboration_id": rec.get("id"),
        "_missing_limited": missing_limited,
    }


def _token(rec: Mapping[str, Any], account: str | None, where: str, record: str) -> dict[str, Any]:
    record = _label(record, rec, "name", "id")
    return {
        "token_id": str(_req(rec, "id", where, record)),
        "name": str(_req(rec, "name", where, record)),
        "account_email": account,
        "created_at": _time(rec, "created_at", where, record, required=True),
        "last_used_at": _time(rec, "last_used_at", where, record),
        "issued_at": _time(rec, "issued_at", where, record),
    }


def _event(rec: Mapping[str, Any], region: str, where: str, record: str) -> dict[str, Any]:
    record = _label(record, rec, "id")
    user = rec.get("user") if isinstance(rec.get("user"), Mapping) else {}
    assert isinstance(user, Mapping)
    return {
        "region": region,
        "event_id": str(_req(rec, "id", where, record)),
        "created_at": _time(rec, "created_at", where, record, required=True),
        "type": str(_req(rec, "type", where, record)),
        "app_id": rec.get("app_id"),
        "app_name": rec.get("app_name"),
        "user_id": user.get("id"),
        "user_email": user.get("email"),
        "user_username": user.get("username"),
        "type_data": json.dumps(rec.get("type_data"), sort_keys=True)
        if rec.get("type_data") is not None
        else None,
    }


def _bool(
    rec: Mapping[str, Any], name: str, where: str, record: str, *, required: bool
) -> bool | None:
    """A boolean that Scalingo may send as true/false or "true"/"false"; None when absent."""
    value = rec.get(name)
    if value is None:
        if required:
            raise InputError("missing required field", file=where, record=record, field=name)
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InputError(
        f"expected true or false, got {excerpt(value)}", file=where, record=record, field=name
    )


def _time(
    rec: Mapping[str, Any], name: str, where: str, record: str, *, required: bool = False
) -> str | None:
    value = rec.get(name)
    if value is None or value == "":
        if required:
            raise InputError("missing required field", file=where, record=record, field=name)
        return None
    return _parse_time(value, where, record, name).isoformat()


def _parse_time(value: Any, where: str, record: str, name: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise InputError(
            f"not an ISO 8601 date: {excerpt(value)}", file=where, record=record, field=name
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
