"""Live collection: the request plan, progress, coverage gaps and the snapshot.

The plan is request-minimal (the API allows 60 requests per minute):

    1 token exchange + GET /v1/regions + GET /v1/tokens + GET /v1/users/self (on auth,
    regional on a 404) + GET /v1/client/tfa (auth: the collecting account's own 2FA)
    per region: GET /v1/apps, then GET /v1/collaborators once for every app the
    account owns, and GET /v1/apps/{app}/collaborators only for apps it does not own
    events (optional, --events-days N): GET /v1/apps/{app}/events per app, paged,
    stopping at the window or after ``max_event_pages`` pages (order never assumed)

Every list is read through one pagination routine (:meth:`Client.get_all`): all its
pages, whatever the endpoint documents, never more than ``max_pages`` (then a gap).

A request that fails for good (403, 404, repeated 5xx or timeouts) becomes a
*coverage gap* in the manifest and collection carries on, so reports show what
was not audited instead of silently auditing less. The snapshot is written to a
temporary directory and renamed at the end; an interrupted run leaves what it
had collected in ``<out>.incomplete`` (marked incomplete), never in ``<out>``.
"""

from __future__ import annotations

import datetime as dt
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from . import snapshot as snap
from .api import MAX_PAGES, Client, Settings, api_path
from .errors import ApiError, AuditError, AuthError, InputError, PageLimitError, excerpt
from .redact import redact_events


@dataclass
class _Run:
    files: list[snap.RawFile] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    user: dict[str, Any] = field(default_factory=dict)
    apis: dict[str, str] = field(default_factory=dict)  # region name -> its API, as used
    auth: str = ""  # the auth API used
    tfa: bool | None = None  # the collecting account's own 2FA; None: unknown
    redacted: int = 0  # variable values replaced by redact.MARKER before writing

    def add(
        self,
        path: str,
        kind: str,
        region: str | None,
        request: str,
        body: Any,
        app: str | None = None,
    ) -> None:
        if kind == "app_events":  # no variable value ever reaches the disk
            body, n = redact_events(body)
            self.redacted += n
        self.files.append(
            snap.RawFile(path=path, kind=kind, region=region, request=request, body=body, app=app)
        )

    def gap(self, region: str | None, app: str | None, exc: ApiError) -> None:
        if isinstance(exc, AuthError):
            raise exc  # a rejected token is fatal, not a gap
        self.gaps.append(
            {
                "region": region,
                "app": app,
                "request": exc.request,
                "status": exc.status,
                "error": str(exc),
            }
        )


@dataclass(frozen=True)
class _Options:
    region: str | None
    events_days: int | None
    max_event_pages: int
    per_page: int
    rate_limit: int
    period: float
    known: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    since_label: str = ""
    max_pages: int = MAX_PAGES  # pages of a list (apps, collaborators, tokens) before a gap
    since: snap.Snapshot | None = None  # the --since snapshot, verified


def verified_previous(path: str | Path) -> snap.Snapshot:
    """The ``--since`` snapshot, only if it verifies in full (every raw file matches the
    manifest, nothing added): events carried forward from it become evidence again."""
    from .evidence import verify

    result = verify(path)
    if not result.ok:
        first = result.problems[0]
        raise InputError(
            f"--since: this snapshot fails verification ({len(result.problems)} problem(s), "
            f"first: {first}); its events cannot be carried into a new snapshot",
            file=path,
        )
    return snap.read(path)


class SinceRefused(InputError):
    """The ``--since`` snapshot is of another account or other API endpoints: nothing of this
    run is kept (it has only asked who the account is)."""


def check_same_origin(
    prev: snap.Snapshot, user: Mapping[str, Any], auth_url: str, apis: Mapping[str, str]
) -> None:
    """Refuse to carry events from a snapshot of another account or other API endpoints."""
    where = prev.location
    by = prev.collected_by
    if by.get("user_id") and user.get("id"):
        same = by.get("user_id") == user.get("id")
    else:
        same = str(by.get("email") or "").lower() == str(user.get("email") or "-").lower()
    if not same:
        raise SinceRefused(
            "--since: this snapshot was collected by another account "
            f"({excerpt(by.get('email'))} {excerpt(by.get('user_id'))}, not "
            f"{excerpt(user.get('email'))} {excerpt(user.get('id'))}); its events cannot be "
            "carried into this account's snapshot",
            file=where,
        )
    ends = prev.endpoints
    if not isinstance(ends, Mapping) or not isinstance(ends.get("regions"), Mapping):
        raise SinceRefused(
            "--since: this snapshot does not record the API endpoints it was collected from "
            "(written by an older scalingo-audit or not by 'collect'); collect once without "
            "--since",
            file=where,
        )
    if str(ends.get("auth") or "").rstrip("/") != auth_url.rstrip("/"):
        raise SinceRefused(
            f"--since: this snapshot comes from another auth API ({excerpt(ends.get('auth'))}, "
            f"not {excerpt(auth_url)})",
            file=where,
        )
    for region, api in apis.items():
        before = ends["regions"].get(region)
        if before is not None and str(before).rstrip("/") != api.rstrip("/"):
            raise SinceRefused(
                f"--since: region {excerpt(region)} was collected from another API "
                f"({excerpt(before)}, not {excerpt(api)})",
                file=where,
            )


def previous_events(
    path: str | Path,
    events_days: int | None,
    now: dt.datetime,
    *,
    prev: snap.Snapshot | None = None,
) -> tuple[dict[tuple[str, str], list[dict[str, Any]]], int]:
    """Events already in the snapshot at ``path``, per (region, app name), and the events
    window (days) a new collection carrying them forward covers."""
    prev = prev or snap.read(path)
    if prev.events_days is None:
        raise InputError(
            "--since needs a snapshot collected with --events-days (it has no events)", file=path
        )
    start = dt.datetime.fromisoformat(prev.collected_at) - dt.timedelta(days=prev.events_days)
    window = events_days or max(1, min(365, (now - start).days))
    cutoff = now - dt.timedelta(days=window)
    known: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for f in prev.of_kind("app_events"):
        for e in f.body.get("events", []) if isinstance(f.body, dict) else []:
            if isinstance(e, dict) and e.get("id") and not _older(str(e.get("created_at")), cutoff):
                known.setdefault((f.region or "", f.app or ""), {})[str(e["id"])] = e
    return {k: list(v.values()) for k, v in known.items()}, window


def _safe(name: str) -> str:
    return urllib.parse.quote(name, safe="-_.") or "_"


def collect(
    out: str | Path,
    *,
    region: str | None = None,
    events_days: int | None = None,
    rate_limit: int = 60,
    env: Mapping[str, str] | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
    period: float = 60.0,
    backoff: float = 2.0,
    timeout: float = 30.0,
    max_event_pages: int = 5,
    per_page: int = 100,
    since: str | Path | None = None,
    max_pages: int = MAX_PAGES,
) -> Path:
    """Collect the account's access data into the snapshot directory ``out``.

    With ``since`` (a previous snapshot collected with events), only events newer than
    those it holds are fetched — usually one page per app — and the older ones are
    carried forward, so a weekly run stays cheap. Raises :class:`AuthError` for a
    missing or rejected token and :class:`InputError` if ``out`` already exists.
    """
    target = Path(out)
    if target.exists():
        raise InputError("already exists; choose a new snapshot directory", file=target)
    if events_days is not None and not 1 <= events_days <= 365:
        raise InputError(f"--events-days must be between 1 and 365, not {events_days}")
    settings = Settings.from_env(env)
    err = stream or sys.stderr
    started = dt.datetime.now(dt.UTC)
    known: dict[tuple[str, str], list[dict[str, Any]]] = {}
    prev = None
    if since is not None:
        prev = verified_previous(since)
        known, events_days = previous_events(since, events_days, started, prev=prev)
    opts = _Options(region, events_days, max_event_pages, per_page, rate_limit, period, known,
                    str(since or ""), max_pages, prev)  # fmt: skip
    run = _Run()
    bar = tqdm(total=5, unit="req", disable=not progress, file=err, dynamic_ncols=True, leave=True)

    def on_request(label: str, status: int | None) -> None:
        bar.update(1)

    client = Client(
        settings,
        rate_limit=rate_limit,
        period=period,
        backoff=backoff,
        timeout=timeout,
        on_request=on_request,
    )
    try:
        with client:
            _collect(client, settings, run, opts, bar, err)
    except (KeyboardInterrupt, AuditError) as exc:
        bar.close()
        if run.files and not isinstance(exc, SinceRefused):
            kept = _write(
                run,
                target.with_name(target.name + ".incomplete"),
                started,
                client,
                events_days,
                complete=False,
            )
            print(
                f"scalingo-audit: collection stopped; what was collected is in {kept} (incomplete)",
                file=err,
            )
        raise
    bar.close()
    path = _write(run, target, started, client, events_days, complete=True)
    print(
        f"Collected {sum(1 for f in run.files if f.kind == 'apps')} region(s), "
        f"{client.requests} requests, {len(run.gaps)} coverage gap(s), "
        f"{run.redacted} variable value(s) redacted → {path}",
        file=err,
    )
    for g in run.gaps:
        print(f"scalingo-audit: warning: not audited: {g['request']} ({g['error']})", file=err)
    return path


def _collect(
    client: Client, settings: Settings, run: _Run, opts: _Options, bar: tqdm[Any], err: TextIO
) -> None:
    auth = settings.auth_url
    events_days, rate_limit, period = opts.events_days, opts.rate_limit, opts.period
    regions = _regions(client, settings, run, opts.region or settings.region)
    try:
        tokens = _paged(client, auth, "/v1/tokens", "tokens", max_pages=opts.max_pages)
        run.add("raw/auth/tokens.json", "tokens", None, "GET /v1/tokens", tokens)
    except ApiError as exc:
        run.gap(None, None, exc)
    _whoami(client, auth, regions[0], run)
    run.apis, run.auth = dict(regions), auth
    if opts.since is not None:
        check_same_origin(opts.since, run.user, auth, run.apis)
    for name, api in regions:
        run.regions.append(name)
        try:
            apps_body = _paged(client, api, "/v1/apps", "apps", max_pages=opts.max_pages)
        except ApiError as exc:
            run.gap(name, None, exc)
            continue
        run.add(f"raw/{name}/apps.json", "apps", name, "GET /v1/apps", apps_body)
        apps = [a for a in apps_body["apps"] if isinstance(a, dict)]
        owned = [a for a in apps if _owned_by(a, run.user)]
        others = [a for a in apps if not _owned_by(a, run.user)]
        n_events = len(apps) if events_days else 0
        planned = 1 + len(others) + n_events
        bar.total = (bar.total or 0) + 1 + planned
        bar.refresh()
        minutes = (bar.total or 0) * period / 60 / rate_limit
        print(
            f"{name}: {len(apps)} apps ({len(owned)} owned, {len(others)} shared) → about {planned} more "
            f"requests{' + event pages' if events_days else ''}; whole run ≈ {minutes:.1f} min at "
            f"{rate_limit} requests/min",
            file=err,
        )
        try:
            body = _paged(
                client, api, "/v1/collaborators", "collaborators", max_pages=opts.max_pages
            )
            run.add(
                f"raw/{name}/collaborators.json",
                "collaborators",
                name,
                "GET /v1/collaborators",
                body,
            )
        except ApiError as exc:
            run.gap(name, None, exc)
            others = others + owned  # fall back to one request per owned app
        for done, a in enumerate(others, 1):
            app = str(a.get("name") or a.get("id"))
            path = api_path("v1", "apps", app, "collaborators")
            try:
                body = _paged(client, api, path, "collaborators", max_pages=opts.max_pages)
                run.add(
                    f"raw/{name}/apps/{_safe(app)}/collaborators.json",
                    "app_collaborators",
                    name,
                    f"GET {path}",
                    body,
                    app=app,
                )
            except ApiError as exc:
                run.gap(name, app, exc)
            bar.set_postfix_str(f"{name}: {done}/{len(others)} shared apps", refresh=False)
        if events_days:
            _events(client, api, name, apps, opts, run, bar)


def _regions(
    client: Client, settings: Settings, run: _Run, wanted: str | None
) -> list[tuple[str, str]]:
    """The (name, API URL) of each region to audit. With ``SCALINGO_API_URL`` only that
    API, named by ``SCALINGO_REGION`` (or ``--region``), else by the region whose ``api``
    it is in ``GET {auth}/v1/regions``: CLI commands need the name."""
    body: Any = None
    listed: list[tuple[str, str]] = []
    if not (settings.api_url and wanted):
        body = client.get(settings.auth_url, "/v1/regions")
        run.add("raw/auth/regions.json", "regions", None, "GET /v1/regions", body)
        rows = body.get("regions") if isinstance(body, dict) else None
        listed = [
            (str(r["name"]), str(r["api"]).rstrip("/"))
            for r in (rows if isinstance(rows, list) else [])
            if isinstance(r, dict) and r.get("name") and r.get("api")
        ]
    if settings.api_url:
        if wanted:
            return [(wanted, settings.api_url)]
        named = [n for n, api in listed if api == settings.api_url]
        if not named:
            raise InputError(
                f"SCALINGO_API_URL ({settings.api_url}) is not the API of any region listed by "
                f"{settings.auth_url}/v1/regions: set SCALINGO_REGION to its region name "
                "(e.g. osc-fr1), which the CLI commands in findings need"
            )
        return [(named[0], settings.api_url)]
    regions = [r for r in listed if wanted is None or r[0] == wanted]
    if not regions:
        names = ", ".join(n for n, _ in listed) or "none"
        raise InputError(f"region {wanted!r} is not available to this account (available: {names})")
    return regions


def _whoami(client: Client, auth: str, first: tuple[str, str], run: _Run) -> None:
    """The collecting account (``GET /v1/users/self`` on the auth API, as all of Scalingo's
    clients do; on the regional API when auth answers 404, as the API reference shows) and
    its own 2FA (``GET {auth}/v1/client/tfa``; unreadable: a coverage gap)."""
    label = "GET /v1/users/self"
    try:
        me = client.get(auth, "/v1/users/self")
        path, region = "raw/auth/users_self.json", None
    except ApiError as exc:
        if exc.status != 404:
            raise
        me = client.get(first[1], "/v1/users/self")
        path, region = f"raw/{first[0]}/users_self.json", first[0]
    user = me.get("user") if isinstance(me, dict) else None
    if not isinstance(user, dict):
        raise ApiError("expected a JSON object with root key 'user'", request=label)
    run.user = user
    run.add(path, "user", region, label, me)
    try:
        tfa = client.get(auth, "/v1/client/tfa")
        enabled = snap.tfa_enabled(tfa)
        if enabled is None:
            raise ApiError("expected a JSON object 'tfa' with a boolean 'enabled'",
                           request="GET /v1/client/tfa")  # fmt: skip
    except ApiError as exc:
        run.gap(None, None, exc)
        return
    run.tfa = enabled
    run.add("raw/auth/tfa.json", "tfa", None, "GET /v1/client/tfa", tfa)


def _paged(client: Client, api: str, path: str, key: str, *, max_pages: int) -> dict[str, Any]:
    """Every page of a list (:meth:`Client.get_all`), merged under ``key``: Scalingo documents
    no pagination for apps, collaborators or tokens, but wherever ``meta.pagination``
    appears every page is read. The merged body keeps the first page's other root keys,
    not its ``meta`` (which described one page)."""
    items: list[Any] = []
    first: dict[str, Any] = {}
    for page, body in client.get_all(api, path, key, max_pages=max_pages):
        if page == 1:
            first = {k: v for k, v in body.items() if k != "meta"}
        items.extend(body[key])
    return {**first, key: items}


def _events(
    client: Client,
    api: str,
    region: str,
    apps: list[dict[str, Any]],
    opts: _Options,
    run: _Run,
    bar: tqdm[Any],
) -> None:
    """Per app: pages of events until the window is covered, a known event or the cap.

    The order of event pages is not documented, so it is never assumed: paging stops
    early (at the window or at an event already known) only while every page seen is
    newest first and older than the one before. A list found out of order is read to its
    end; when it has more pages than ``max_event_pages``, the window is not known to be
    covered and the app's events are a coverage gap. In order, stopping at the cap only
    cuts the period short (the loader starts it at the oldest event read)."""
    assert opts.events_days is not None
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=opts.events_days)
    for done, a in enumerate(apps, 1):
        app = str(a.get("name") or a.get("id"))
        path = api_path("v1", "apps", app, "events")
        carried = opts.known.get((region, app), [])
        known_ids = {str(e["id"]) for e in carried}
        fetched: set[str] = set()
        in_order = True  # every page so far newest first, each older than the one before
        oldest: dt.datetime | None = None
        try:
            for page, body in client.get_all(
                api, path, "events", {"per_page": opts.per_page}, max_pages=opts.max_event_pages
            ):
                run.add(f"raw/{region}/apps/{_safe(app)}/events.page-{page}.json", "app_events", region,
                        f"GET {path}?page={page}", body, app=app)  # fmt: skip
                if page > 1:
                    bar.total = (bar.total or 0) + 1
                events = [e for e in body["events"] if isinstance(e, dict)]
                ids = {str(e.get("id")) for e in events}
                fetched |= ids
                stamps = [t for t in (_time(e.get("created_at")) for e in events) if t]
                in_order = (
                    in_order
                    and stamps == sorted(stamps, reverse=True)
                    and (oldest is None or not stamps or stamps[0] <= oldest)
                )
                if stamps:
                    oldest = min(stamps) if oldest is None else min(oldest, *stamps)
                if in_order and (ids & known_ids or (stamps and stamps[-1] < since)):
                    break
        except PageLimitError as exc:
            if not in_order:
                run.gap(region, app, PageLimitError(
                    f"events not in date order and more than {opts.max_event_pages} page(s): "
                    "the events window is not known to be covered", request=exc.request))  # fmt: skip
        except ApiError as exc:
            run.gap(region, app, exc)
        older = [e for e in carried if str(e["id"]) not in fetched]
        if older:
            run.add(f"raw/{region}/apps/{_safe(app)}/events.carried.json", "app_events", region,
                    f"carried forward from {opts.since_label}", {"events": older}, app=app)  # fmt: skip
        bar.set_postfix_str(f"{region}: events {done}/{len(apps)} apps", refresh=False)


def _time(value: Any) -> dt.datetime | None:
    """An event's ``created_at`` as an aware datetime; None when it is not a date."""
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _older(stamp: str, since: dt.datetime) -> bool:
    try:
        t = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return False
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)) < since


def _owned_by(app: Mapping[str, Any], user: Mapping[str, Any]) -> bool:
    owner = app.get("owner") or {}
    if not isinstance(owner, Mapping):
        return False
    if owner.get("id") and user.get("id"):
        return bool(owner.get("id") == user.get("id"))
    return str(owner.get("email", "")).lower() == str(user.get("email", "-")).lower()


def _write(
    run: _Run,
    target: Path,
    started: dt.datetime,
    client: Client,
    events_days: int | None,
    *,
    complete: bool,
) -> Path:
    gaps = list(run.gaps)
    endpoints = {
        "auth": run.auth.rstrip("/"),
        "regions": {name: api.rstrip("/") for name, api in run.apis.items()},
    }
    if not complete:
        gaps.append({"region": None, "app": None, "request": None, "status": None,
                     "error": "collection was interrupted: this snapshot is incomplete"})  # fmt: skip
    s = snap.Snapshot(
        collected_at=started.isoformat(timespec="seconds"),
        collected_by={
            "email": run.user.get("email"),
            "user_id": run.user.get("id"),
            "tfa": run.tfa,
        },
        regions=run.regions,
        files=run.files,
        origin="api" if complete else "api-incomplete",
        requests=client.requests,
        events_days=events_days,
        gaps=gaps,
        endpoints=endpoints,
        redacted=run.redacted,
    )
    return snap.write(s, target, overwrite=not complete)
