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

A request that fails for good (403, 404, repeated 5xx or timeouts, the deadline), or
whose body the loader could not read (``{"apps": null}``, a bad ``meta``, a record
without its id), becomes a *coverage gap* in the manifest and collection carries on,
so reports show what was not audited instead of silently auditing less.

Nothing collected is lost: a lock on ``<out>`` (``.<out>.lock`` beside it) makes a
second run on the same ``--out`` fail at once; raw files are written as they arrive
into a hidden temporary directory (with room set aside for the manifest), renamed to
``<out>`` at the end. Any failure after that starts — an exception, SIGTERM, SIGHUP,
SIGINT, a write error, a full disk — leaves ``<out>.incomplete`` (marked incomplete,
with its gaps) and raises one :class:`CollectionStopped` naming what happened and
where the data is. Names from the API are data: file names are encoded
(:func:`scalingo_audit.snapshot.name_segment`), URL paths quoted
(:func:`scalingo_audit.api.api_path`).

Progress goes to the ``scalingo_audit.collect`` logger: the plan of each region and the
closing summary at INFO, each coverage gap at WARNING (the first ``MAX_GAP_LINES``, then a
count; the manifest lists them all). The progress bar (``progress=True``) is drawn on
stderr when it is a terminal.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from tqdm import tqdm

from . import snapshot as snap
from .api import MAX_PAGES, Client, Settings, api_path
from .errors import ApiError, AuditError, AuthError, InputError, PageLimitError, escape, excerpt
from .redact import redact_events
from .sources import records

MAX_GAP_LINES = 20  # coverage gaps logged one per line; the rest are counted

log = logging.getLogger(__name__)


class CollectionStopped(AuditError):
    """A collection stopped before its end; ``kept`` is where what it collected is (or
    None if even that could not be written)."""

    def __init__(self, message: str, kept: Path | None) -> None:
        super().__init__(message)
        self.kept = kept


class _Signalled(BaseException):
    """SIGTERM, SIGHUP or SIGINT arrived during a collection."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.name = signal.Signals(signum).name


@dataclass
class _Run:
    writer: snap.Writer
    gaps: list[dict[str, Any]] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    user: dict[str, Any] = field(default_factory=dict)
    apis: dict[str, str] = field(default_factory=dict)  # region name -> its API, as used
    auth: str = ""  # the auth API used
    tfa: bool | None = None  # the collecting account's own 2FA; None: unknown
    redacted: int = 0  # variable values replaced by redact.MARKER before writing

    @property
    def files(self) -> list[snap.RawFile]:
        return self.writer.files

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
        self.writer.add(
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

    def readable(
        self, kind: str, region: str | None, request: str, body: Any, app: str | None = None
    ) -> None:
        """Raise :class:`ApiError` (a gap) if the loader could not read ``body``."""
        f = snap.RawFile("", kind, region, request, body, app)
        try:
            records(f, request, account=self.user.get("email"))
        except InputError as exc:
            raise ApiError(
                f"unreadable response, not kept ({exc.reason[:200]})", request=request
            ) from None
        except RecursionError:
            raise ApiError("unreadable response, nested too deeply", request=request) from None


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


def parse_deadline(text: str) -> float:
    """``--deadline``: seconds from now, as a number of seconds or with a unit (``90s``,
    ``45m``, ``2h``), or a date and time with its UTC offset (``2026-12-01T06:00+01:00``)."""
    value = text.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh]?)", value)
    if m:
        seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    else:
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InputError(
                f"--deadline must be a duration (90s, 45m, 2h) or a date and time with its "
                f"UTC offset, not {escape(value)[:40]!r}"
            ) from None
        if when.tzinfo is None:
            raise InputError("--deadline needs a UTC offset (e.g. 2026-12-01T06:00+01:00)")
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if not seconds > 0:
        raise InputError(f"--deadline {escape(value)[:40]!r} is already past")
    return seconds


def collect(
    out: str | Path,
    *,
    region: str | None = None,
    events_days: int | None = None,
    rate_limit: int = 60,
    env: Mapping[str, str] | None = None,
    progress: bool = True,
    period: float = 60.0,
    backoff: float = 2.0,
    timeout: float = 30.0,
    max_event_pages: int = 5,
    per_page: int = 100,
    since: str | Path | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    write_file: Callable[[Path, bytes], None] | None = None,
    max_pages: int = MAX_PAGES,
) -> Path:
    """Collect the account's access data into the snapshot directory ``out``.

    With ``since`` (a previous snapshot collected with events), only events newer than
    those it holds are fetched — usually one page per app — and the older ones are
    carried forward, so a weekly run stays cheap. ``deadline`` (seconds from now, on
    ``clock``): calls not made by then become coverage gaps. ``clock`` and ``sleep`` (the
    client's waits: rate limit, Retry-After, backoff) are injectable, so tests run without
    real waiting. ``write_file`` replaces the function that writes each file (e.g. to
    simulate a full disk).

    Raises :class:`AuthError` for a missing or rejected token, :class:`InputError` if
    ``out`` exists or is in use by another collection, and :class:`CollectionStopped`
    when a collection that had started could not finish (see the module docstring).
    """
    target = Path(out)
    if events_days is not None and not 1 <= events_days <= 365:
        raise InputError(f"--events-days must be between 1 and 365, not {events_days}")
    if deadline is not None and not deadline > 0:
        raise InputError("--deadline must be in the future")
    settings = Settings.from_env(env)
    started = dt.datetime.now(dt.UTC)
    known: dict[tuple[str, str], list[dict[str, Any]]] = {}
    prev = None
    if since is not None:
        prev = verified_previous(since)
        known, events_days = previous_events(since, events_days, started, prev=prev)
    opts = _Options(region, events_days, max_event_pages, per_page, rate_limit, period, known,
                    str(since or ""), max_pages, prev)  # fmt: skip
    _check_name(target)
    with _locked(target):
        if os.path.lexists(target):
            raise InputError("already exists; choose a new snapshot directory", file=target)
        try:
            writer = snap.Writer(target, reserve=snap.RESERVE, write_file=write_file)
        except OSError as exc:
            raise InputError(f"cannot write here ({exc.strerror or exc})", file=target) from None
        run = _Run(writer)
        # disable=None: drawn only when stderr is a terminal
        bar = tqdm(total=5, unit="req", disable=None if progress else True, dynamic_ncols=True)

        def on_request(label: str, status: int | None) -> None:
            bar.update(1)

        client = Client(
            settings,
            rate_limit=rate_limit,
            period=period,
            backoff=backoff,
            timeout=timeout,
            on_request=on_request,
            clock=clock,
            sleep=sleep,
            deadline=None if deadline is None else clock() + deadline,
        )
        with _signals() as guard:
            try:
                with client:
                    _collect(client, settings, run, opts, bar)
                bar.close()
                guard.defer()  # everything is collected: a signal now must not lose it
                path = writer.finish(_snapshot(run, started, client, events_days))
            except BaseException as exc:
                guard.defer()  # a second signal must not interrupt saving what we have
                bar.close()
                raise _stopped(exc, run, target, started, client, events_days) from exc
    n_apps = sum(1 for f in run.files if f.kind == "apps")
    log.info(
        "Collected %d region(s), %d requests, %d coverage gap(s), %d variable value(s) "
        "redacted → %s",
        n_apps, client.requests, len(run.gaps), run.redacted, path,
    )  # fmt: skip
    for g in run.gaps[:MAX_GAP_LINES]:
        log.warning(
            "not audited: %s (%s)", escape(str(g["request"]))[:300], escape(str(g["error"]))[:300]
        )
    if len(run.gaps) > MAX_GAP_LINES:
        log.warning(
            "and %d more coverage gaps (listed in the manifest)", len(run.gaps) - MAX_GAP_LINES
        )
    return path


def _stopped(
    exc: BaseException,
    run: _Run,
    target: Path,
    started: dt.datetime,
    client: Client,
    events_days: int | None,
) -> BaseException:
    """Keep what was collected in ``<out>.incomplete``; the one error to raise."""
    if isinstance(exc, _Signalled):
        reason = f"stopped by {exc.name}"
    elif isinstance(exc, KeyboardInterrupt):
        reason = "interrupted (SIGINT)"
    elif isinstance(exc, OSError):
        reason = f"write error: {exc.strerror or exc}"
    elif isinstance(exc, AuditError):
        reason = str(exc)
    else:
        reason = f"internal error: {type(exc).__name__}: {exc} (please report)"
    if isinstance(exc, SinceRefused) or all(f.kind == "regions" for f in run.files):
        # a refused --since (another account or API) or only the region list: nothing to keep
        run.writer.discard()
        if isinstance(exc, (_Signalled, KeyboardInterrupt, OSError)):
            return CollectionStopped(f"collection {reason} before anything was collected", None)
        return exc  # e.g. the token was rejected at the first request: nothing to keep
    kept = target.with_name(target.name + ".incomplete")
    counts = f"{len(run.files)} file(s), {len(run.gaps)} coverage gap(s)"
    try:
        run.writer.keep(_snapshot(run, started, client, events_days, stopped=reason), kept)
    except OSError as write_exc:
        where = f" (raw files only, in {kept})" if kept.exists() else ""
        return CollectionStopped(
            f"collection {reason}; what was collected ({counts}) could not be saved either: "
            f"{write_exc.strerror or write_exc}{where}",
            kept if kept.exists() else None,
        )
    return CollectionStopped(
        f"collection {reason}; what was collected ({counts}) is in {kept} (incomplete)", kept
    )


def _snapshot(
    run: _Run,
    started: dt.datetime,
    client: Client,
    events_days: int | None,
    *,
    stopped: str | None = None,
) -> snap.Snapshot:
    gaps = list(run.gaps)
    if stopped is not None:
        gaps.append({"region": None, "app": None, "request": None, "status": None,
                     "error": f"collection was interrupted ({stopped[:300]}): "
                              "this snapshot is incomplete"})  # fmt: skip
    return snap.Snapshot(
        collected_at=started.isoformat(timespec="seconds"),
        collected_by={
            "email": run.user.get("email"),
            "user_id": run.user.get("id"),
            "tfa": run.tfa,
        },
        regions=run.regions,
        origin="api" if stopped is None else "api-incomplete",
        requests=client.requests,
        events_days=events_days,
        gaps=gaps,
        redacted=run.redacted,
        endpoints={
            "auth": run.auth.rstrip("/"),
            "regions": {name: api.rstrip("/") for name, api in run.apis.items()},
        },
    )


def _check_name(target: Path) -> None:
    """Refuse at once an ``--out`` whose name (or ``<out>.incomplete``) the file system
    cannot hold, rather than after collecting."""
    parent = target.parent if str(target.parent) else Path(".")
    try:
        limit = os.pathconf(parent if parent.is_dir() else ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    size = len(os.fsencode(target.name + ".incomplete"))
    if size > limit:
        raise InputError(
            f"cannot write here (the name is too long: {size} bytes with '.incomplete', "
            f"at most {limit})",
            file=str(target)[:200],
        )


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold ``.<out>.lock`` beside ``target`` for the whole run, or fail at once."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = target.with_name(f".{target.name[:200]}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InputError(f"cannot write here ({exc.strerror or exc})", file=target) from None
    busy = InputError(
        "another collect is writing this snapshot (its lock is held); wait for it to finish "
        "or choose another --out",
        file=target,
    )
    try:
        if not _try_lock(fd):
            raise busy
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if not same:  # the previous holder removed the file as we opened it
            raise busy
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock)  # while still holding it: a waiting run then sees a new file
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _SignalGuard:
    """SIGTERM, SIGHUP and SIGINT raise :class:`_Signalled` while collecting, and are only
    remembered while saving (:meth:`defer`)."""

    def __init__(self) -> None:
        self.deferred = False
        self.pending: int | None = None

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.deferred:
            self.pending = signum
            return
        self.deferred = True  # one signal is enough
        raise _Signalled(signum)

    def defer(self) -> None:
        self.deferred = True


@contextlib.contextmanager
def _signals() -> Iterator[_SignalGuard]:
    guard = _SignalGuard()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP", "SIGINT"):
            signum = getattr(signal, name, None)
            if signum is None or signal.getsignal(signum) is signal.SIG_IGN:
                continue  # e.g. nohup: an ignored SIGHUP stays ignored
            previous[signum] = signal.signal(signum, guard.handler)
    try:
        yield guard
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _collect(client: Client, settings: Settings, run: _Run, opts: _Options, bar: tqdm[Any]) -> None:
    auth = settings.auth_url
    rate_limit, period = opts.rate_limit, opts.period
    regions = _regions(client, settings, run, opts.region or settings.region)
    try:
        tokens = _paged(client, run, opts, auth, "/v1/tokens", "tokens", "tokens", None)
        run.add("raw/auth/tokens.json", "tokens", None, "GET /v1/tokens", tokens)
    except ApiError as exc:
        run.gap(None, None, exc)
    if not regions:
        return
    _whoami(client, auth, regions[0], run)
    run.apis, run.auth = dict(regions), auth
    if opts.since is not None:
        check_same_origin(opts.since, run.user, auth, run.apis)
    for name, api in regions:
        run.regions.append(name)
        shown = escape(name)[:60]
        try:
            apps_body = _paged(client, run, opts, api, "/v1/apps", "apps", "apps", name)
        except ApiError as exc:
            run.gap(name, None, exc)
            continue
        run.add(snap.region_file(name, "apps.json"), "apps", name, "GET /v1/apps", apps_body)
        apps = _unique([a for a in apps_body["apps"] if isinstance(a, dict)])
        owned = [a for a in apps if _owned_by(a, run.user)]
        others = [a for a in apps if not _owned_by(a, run.user)]
        n_events = len(apps) if opts.events_days else 0
        planned = 1 + len(others) + n_events
        bar.total = (bar.total or 0) + 1 + planned
        bar.refresh()
        minutes = (bar.total or 0) * period / 60 / rate_limit
        with tqdm.external_write_mode(file=sys.stderr):  # the bar steps aside for the line
            log.info(
                "%s: %d apps (%d owned, %d shared) → about %d more requests%s; whole run "
                "≈ %.1f min at %d requests/min",
                shown, len(apps), len(owned), len(others), planned,
                " + event pages" if opts.events_days else "", minutes, rate_limit,
            )  # fmt: skip
        try:
            body = _paged(client, run, opts, api, "/v1/collaborators", "collaborators",
                          "collaborators", name)  # fmt: skip
            run.add(snap.region_file(name, "collaborators.json"), "collaborators", name,
                    "GET /v1/collaborators", body)  # fmt: skip
        except ApiError as exc:
            run.gap(name, None, exc)
            others = others + owned  # fall back to one request per owned app
        for done, a in enumerate(others, 1):
            app = _app_name(a)
            try:
                path = api_path("v1", "apps", app, "collaborators")
                body = _paged(client, run, opts, api, path, "collaborators", "app_collaborators",
                              name, app)  # fmt: skip
                run.add(snap.app_file(name, app, "collaborators.json"), "app_collaborators",
                        name, f"GET {path}", body, app=app)  # fmt: skip
            except ApiError as exc:
                run.gap(name, app, exc)
            bar.set_postfix_str(f"{shown}: {done}/{len(others)} shared apps", refresh=False)
        if opts.events_days:
            _events(client, api, name, apps, opts, run, bar)


def _regions(
    client: Client, settings: Settings, run: _Run, wanted: str | None
) -> list[tuple[str, str]]:
    """The (name, API URL) of each region to audit. With ``SCALINGO_API_URL`` only that
    API, named by ``SCALINGO_REGION`` (or ``--region``), else by the region whose ``api``
    it is in ``GET {auth}/v1/regions``: CLI commands need the name. A listing that fails
    or cannot be read is a coverage gap for the whole snapshot (nothing to audit)."""
    listed: list[tuple[str, str]] = []
    if not (settings.api_url and wanted):
        try:
            body = client.get(settings.auth_url, "/v1/regions")
            listed = _listed_regions(body)
        except ApiError as exc:
            run.gap(None, None, exc)
            return []
        run.add("raw/auth/regions.json", "regions", None, "GET /v1/regions", body)
    if settings.api_url:
        if wanted:
            return [(wanted, settings.api_url)]
        named = [n for n, api in listed if api == settings.api_url]
        if not named:
            raise InputError(
                f"SCALINGO_API_URL ({escape(settings.api_url)[:200]}) is not the API of any "
                f"region listed by {settings.auth_url}/v1/regions: set SCALINGO_REGION to its "
                "region name (e.g. osc-fr1), which the CLI commands in findings need"
            )
        return [(named[0], settings.api_url)]
    regions = [r for r in listed if wanted is None or r[0] == wanted]
    if not regions:
        names = ", ".join(escape(n)[:40] for n, _ in listed) or "none"
        raise InputError(
            f"region {escape(wanted or '')[:40]!r} is not available to this account "
            f"(available: {names})"
        )
    return regions


def _listed_regions(body: Any) -> list[tuple[str, str]]:
    """(name, API URL) of every well-formed entry of ``GET /v1/regions``."""
    entries = body.get("regions") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise ApiError(
            "unreadable response, not kept (expected a list under 'regions')",
            request="GET /v1/regions",
        )
    return [
        (r["name"], r["api"].rstrip("/"))
        for r in entries
        if isinstance(r, dict)
        and isinstance(r.get("name"), str)
        and r["name"]
        and isinstance(r.get("api"), str)
        and r["api"]
    ]


def _whoami(client: Client, auth: str, first: tuple[str, str], run: _Run) -> None:
    """The collecting account (``GET /v1/users/self`` on the auth API, as all of Scalingo's
    clients do; on the regional API when auth answers 404, as the API reference shows) and
    its own 2FA (``GET {auth}/v1/client/tfa``; unreadable: a coverage gap). Without the
    account the snapshot would not say whose it is: that failure stops the collection
    (what was collected is kept as incomplete)."""
    label = "GET /v1/users/self"
    try:
        me = client.get(auth, "/v1/users/self")
        path, region = "raw/auth/users_self.json", None
    except ApiError as exc:
        if exc.status != 404:
            raise
        me = client.get(first[1], "/v1/users/self")
        path, region = snap.region_file(first[0], "users_self.json"), first[0]
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


def _app_name(app: Mapping[str, Any]) -> str:
    return str(app.get("name") or app.get("id"))


def _unique(apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per app name (the API names an app by it in URLs): a name listed twice is
    requested once."""
    seen: set[str] = set()
    out = []
    for a in apps:
        if _app_name(a) not in seen:
            seen.add(_app_name(a))
            out.append(a)
    return out


def _paged(
    client: Client,
    run: _Run,
    opts: _Options,
    api: str,
    path: str,
    key: str,
    kind: str,
    region: str | None,
    app: str | None = None,
) -> dict[str, Any]:
    """Every page of a list (:meth:`Client.get_all`), merged under ``key``: Scalingo documents
    no pagination for apps, collaborators or tokens, but wherever ``meta.pagination``
    appears every page is read. The merged body keeps the first page's other root keys,
    not its ``meta`` (which described one page). A page the loader could not read is an
    :class:`ApiError` (a gap for the whole list)."""
    items: list[Any] = []
    first: dict[str, Any] = {}
    for page, body in client.get_all(api, path, key, max_pages=opts.max_pages):
        run.readable(kind, region, f"GET {path}?page={page}", body, app)
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
    shown = escape(region)[:60]
    for done, a in enumerate(apps, 1):
        app = _app_name(a)
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
                label = f"GET {path}?page={page}"
                run.readable("app_events", region, label, body, app)
                run.add(snap.app_file(region, app, f"events.page-{int(page)}.json"),
                        "app_events", region, label, body, app=app)  # fmt: skip
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
            run.add(snap.app_file(region, app, "events.carried.json"), "app_events", region,
                    f"carried forward from {opts.since_label}", {"events": older}, app=app)  # fmt: skip
        bar.set_postfix_str(f"{shown}: events {done}/{len(apps)} apps", refresh=False)


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
