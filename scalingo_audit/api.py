"""HTTP client for the Scalingo API: token exchange, pagination, rate limit, retries.

Follows Scalingo's public API (see the project's API notes):

- credentials come only from the environment (:class:`Settings.from_env`):
  ``SCALINGO_API_TOKEN``, and optionally ``SCALINGO_AUTH_URL``, ``SCALINGO_API_URL``
  and ``SCALINGO_REGION`` — the names Scalingo's CLI and Terraform provider use;
- the long-lived API token is exchanged for a bearer (``POST /v1/tokens/exchange``,
  basic auth with an empty user name); the bearer is reused until less than five
  minutes remain before its ``exp`` (checked before every attempt), and exchanged
  again after a 401; only a rejected exchange means the token was revoked;
- a client-side :class:`RateLimiter` keeps every request, retries included, under
  the account's budget (60 requests per minute by default);
- 429 (honouring ``Retry-After``, seconds or HTTP date), 5xx, malformed JSON,
  connection errors, timeouts and an expired bearer share one attempt budget per
  call, with jittered exponential backoff and no wait after the last attempt; every
  request has a timeout, and an optional deadline turns the calls left into
  :class:`DeadlineError` (see :class:`Client`);
- URL paths are built with :func:`api_path`, which keeps every API name one segment
  (``..`` is an app name, never "the parent").

The token is held in one attribute and sent in one header; it is never part of a
URL, a log line, a progress message or an exception.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import email.utils
import json
import logging
import math
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from . import __version__
from .errors import (
    ApiError,
    ApiStatusError,
    ApiTransportError,
    AuthError,
    DeadlineError,
    PageLimitError,
)
from .pagination import next_page

DEFAULT_AUTH_URL = "https://auth.scalingo.com"
MAX_PAGES = 1000  # pages of one list before it is a coverage gap (over 16 minutes at 60/min)
REFRESH_MARGIN = 300.0  # exchange again when less than 5 minutes remain, as Scalingo's Go client

log = logging.getLogger(__name__)  # each attempt at DEBUG (method, path, query, status)


@dataclass(frozen=True, repr=False)
class Settings:
    """Where and how to connect. ``repr`` hides the token."""

    token: str
    auth_url: str = DEFAULT_AUTH_URL
    api_url: str | None = None
    region: str | None = None

    def __repr__(self) -> str:
        return f"Settings(auth_url={self.auth_url!r}, api_url={self.api_url!r}, region={self.region!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        token = env.get("SCALINGO_API_TOKEN", "").strip()
        if not token:
            raise AuthError(
                "SCALINGO_API_TOKEN is not set: create an API token in the Scalingo dashboard "
                "(ideally on a dedicated read-only service account) and export it"
            )
        return cls(
            token=token,
            auth_url=(env.get("SCALINGO_AUTH_URL") or DEFAULT_AUTH_URL).rstrip("/"),
            api_url=(env.get("SCALINGO_API_URL") or "").rstrip("/") or None,
            region=env.get("SCALINGO_REGION") or None,
        )


class RateLimiter:
    """At most ``limit`` requests in any sliding window of ``period`` seconds.

    A request's time is taken when its response arrives (:meth:`done`), which is
    after the server counted it: so the server never sees more than ``limit``
    requests in a window, whatever the network latency. ``clock`` and ``sleep``
    are injectable (tests run without real waiting).
    """

    def __init__(
        self,
        limit: int = 60,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("rate limit must be at least 1 request per period")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self, *, deadline: float | None = None) -> float:
        """Wait for a slot; returns the seconds waited. Raises :class:`DeadlineError`
        instead of waiting past ``deadline`` (on the limiter's clock)."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.period:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return waited
                pause = self.period - (now - self._sent[0]) + 0.001
                if deadline is not None and now + pause > deadline:
                    raise DeadlineError("the --deadline passes before the rate limit allows it")
                self._sleep(pause)
                waited += pause

    def done(self) -> None:
        """Mark the last acquired request as answered (its time becomes now)."""
        with self._lock:
            if self._sent:
                self._sent[-1] = self._clock()

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 429)."""
        with self._lock:
            self._sleep(seconds)


def _jwt_exp(bearer: str) -> float | None:
    """The ``exp`` claim of a JWT, without verifying it (the server does)."""
    try:
        payload = bearer.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    return exp if math.isfinite(exp) else None


def api_path(*segments: object) -> str:
    """A URL path from API names: ``api_path("v1", "apps", "..", "events")`` is
    ``/v1/apps/%2E%2E/events``. Every segment is percent-encoded whole (``/``, ``?``,
    ``#``, NUL, newline, any non-ASCII), dots included, so that ``.`` and ``..`` stay
    names and never become dot segments; text that is not valid UTF-8 (lone
    surrogates) is encoded byte for byte."""
    out = []
    for s in segments:
        raw = str(s).encode("utf-8", "surrogatepass")
        out.append(urllib.parse.quote_from_bytes(raw, safe="").replace(".", "%2E"))
    return "/" + "/".join(out)


class Client:
    """A Scalingo API client over one ``requests.Session``.

    Retry policy, per call (one GET, or one token exchange): at most ``max_attempts``
    HTTP requests, whatever went wrong (5xx, 429, timeout, connection error, a body
    that is not JSON, a bearer that expired); between attempts a jittered exponential
    backoff (``backoff * 2**(n-1)`` capped at ``max_backoff``, times a random factor
    in [0.5, 1)), or the server's ``Retry-After`` (seconds or an HTTP date) after a
    429; no wait after the last attempt. The bearer is checked (and exchanged again
    when it expires within five minutes) before every attempt. A 401 on a bearer
    that was not just exchanged means it expired: it is exchanged again and the
    request retried; only a rejected exchange, or a 401 on a bearer exchanged for
    that very attempt, is an :class:`AuthError`.

    ``deadline`` is a time on ``clock`` (default :func:`time.monotonic`) after which
    no request is sent and no wait begins: the call raises :class:`DeadlineError`
    (an :class:`ApiError`, so collection records a coverage gap and carries on).

    ``clock``, ``sleep``, ``wall_clock`` (for JWT ``exp`` and HTTP dates) and ``jitter``
    (a number in [0, 1)) are injectable, so the policy is tested without real waiting.
    ``on_request`` is called after every HTTP request with its label
    (``"GET /v1/apps"``) and status (``None`` for a network error).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        rate_limit: int = 60,
        period: float = 60.0,
        timeout: float = 30.0,
        max_attempts: int = 6,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        deadline: float | None = None,
        on_request: Callable[[str, int | None], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._jitter = jitter
        self.limiter = RateLimiter(rate_limit, period, clock=clock, sleep=sleep)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.deadline = deadline
        self.on_request = on_request
        self.requests = 0
        self.session = requests.Session()
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": f"scalingo-audit/{__version__}"}
        )
        self._bearer: str | None = None
        self._bearer_exp = 0.0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def auth_url(self) -> str:
        return self._settings.auth_url

    # --- authentication ---------------------------------------------------------------
    def _exchange(self) -> None:
        label = "POST /v1/tokens/exchange"
        r, body = self._attempts(
            "POST", self.auth_url, "/v1/tokens/exchange", label, auth=("", self._settings.token)
        )
        if r.status_code in (401, 403):
            raise AuthError(
                "the API token was rejected (is SCALINGO_API_TOKEN valid and not revoked?)",
                status=r.status_code,
                request=label,
            )
        if r.status_code != 200:
            raise ApiStatusError(
                f"token exchange failed with HTTP {r.status_code}",
                status=r.status_code,
                request=label,
            )
        bearer = body.get("token") if isinstance(body, dict) else None
        if not isinstance(bearer, str) or not bearer:
            raise ApiError("token exchange returned no token", status=r.status_code, request=label)
        self._bearer = bearer
        exp = _jwt_exp(bearer)
        self._bearer_exp = exp if exp is not None else self._wall_clock() + 3300

    def _auth_header(self) -> tuple[dict[str, str], bool]:
        """The bearer header, exchanging first if needed; and whether it was just exchanged."""
        fresh = self._bearer is None or self._bearer_exp - self._wall_clock() < REFRESH_MARGIN
        if fresh:
            self._exchange()
        return {"Authorization": f"Bearer {self._bearer}"}, fresh

    # --- requests ---------------------------------------------------------------------
    def _attempts(
        self,
        method: str,
        base: str,
        url_path: str,
        label: str,
        *,
        params: Mapping[str, Any] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> tuple[requests.Response, Any]:
        """One call: send until a final answer, within the attempt budget and the deadline.

        Returns the response and its JSON body (``None`` for an HTTP error status).
        Without ``auth`` the request carries the bearer (checked before every attempt).
        """
        last = ""
        failed: int | None = None  # the status of the last failed attempt; 0: no answer
        for attempt in range(1, self.max_attempts + 1):
            self._before(label, last)
            headers: dict[str, str] = {}
            fresh = False
            if auth is None:
                headers, fresh = self._auth_header()
            self._before(label, last)
            self.limiter.acquire(deadline=self.deadline)
            self.requests += 1
            wait: float | None = None  # None: the backoff
            try:
                r = self._request(method, base, url_path, params, headers, auth)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.limiter.done()
                self._notify(label, None)
                last = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                log.debug("%s%s: %s (attempt %d)", label, _query(params), last, attempt)
                failed = 0
            else:
                self.limiter.done()
                self._notify(label, r.status_code)
                log.debug(
                    "%s%s: HTTP %d (attempt %d)", label, _query(params), r.status_code, attempt
                )
                status = failed = r.status_code
                if status == 401 and auth is None:
                    if fresh:
                        what = (
                            "rejected the bearer twice, the second one just exchanged"
                            if last.startswith("HTTP 401")
                            else "rejected a bearer it had just issued"
                        )
                        raise AuthError(
                            f"the API {what} (is SCALINGO_API_TOKEN revoked, or without access?)",
                            status=401,
                            request=label,
                        )
                    self._bearer = None  # expired (the server's clock says so): exchange again
                    last, wait = "HTTP 401 (bearer expired)", 0.0
                elif status == 429:
                    last, wait = "rate limited (HTTP 429)", self._retry_after(r, attempt)
                elif status >= 500:
                    last = f"HTTP {status}"
                elif status >= 400:
                    return r, None
                else:
                    try:
                        return r, r.json()
                    except ValueError:
                        last = "malformed JSON in the response"
            if attempt == self.max_attempts:
                break
            if wait is None:
                wait = self._backoff_delay(attempt)
            if self.deadline is not None and self._clock() + wait > self.deadline:
                raise DeadlineError(
                    f"{last} after {attempt} attempt(s); the --deadline passes before the "
                    "next retry",
                    request=label,
                )
            log.debug("%s: %s; next attempt in %.1f s", label, last, wait)
            if wait > 0 and last.startswith("rate limited"):
                self.limiter.pause(wait)  # holds every request, not only this one
            elif wait > 0:
                self._sleep(wait)
        message = f"{last} after {self.max_attempts} attempt(s)"
        if failed == 0:
            raise ApiTransportError(message, request=label)
        if failed is not None and failed >= 400:
            raise ApiStatusError(message, status=failed, request=label)
        raise ApiError(message, request=label)  # answers, but malformed

    def _before(self, label: str, last: str) -> None:
        if self.deadline is not None and self._clock() >= self.deadline:
            why = f" ({last})" if last else ""
            raise DeadlineError(f"not requested: the --deadline had passed{why}", request=label)

    def _request(
        self,
        method: str,
        base: str,
        url_path: str,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
    ) -> requests.Response:
        """Send one request with ``url_path`` kept exactly as encoded (requests would turn
        ``%2E%2E`` back into ``..``, which servers then resolve as a dot segment)."""
        prep = self.session.prepare_request(
            requests.Request(method, base + url_path, params=params, headers=headers, auth=auth)
        )
        parts = urllib.parse.urlsplit(prep.url or "")
        base_path = urllib.parse.urlsplit(base).path.rstrip("/")
        prep.url = urllib.parse.urlunsplit(
            (parts.scheme, parts.netloc, base_path + url_path, parts.query, "")
        )
        timeout = self.timeout
        if self.deadline is not None:
            timeout = max(0.001, min(timeout, self.deadline - self._clock()))
        env = self.session.merge_environment_settings(prep.url, {}, None, None, None)
        return self.session.send(prep, timeout=timeout, **env)

    def _notify(self, label: str, status: int | None) -> None:
        if self.on_request is not None:
            self.on_request(label, status)

    def _backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: in [0.5, 1) of ``backoff * 2**(attempt-1)``."""
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * (0.5 + 0.5 * min(max(self._jitter(), 0.0), 1.0))

    def _retry_after(self, r: requests.Response, attempt: int) -> float:
        """Seconds to wait after a 429: ``Retry-After`` as delay-seconds or an HTTP date,
        capped at ``max_retry_after``; without a usable one, the backoff."""
        value = r.headers.get("Retry-After", "").strip()
        seconds: float | None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                seconds = None
            else:
                if when.tzinfo is None:  # "-0000": UTC, per RFC 5322
                    when = when.replace(tzinfo=dt.UTC)
                seconds = when.timestamp() - self._wall_clock()
        if seconds is None or not math.isfinite(seconds):
            return self._backoff_delay(attempt)
        return max(0.0, min(seconds, self.max_retry_after))

    def get(self, base: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``base + path`` as JSON with a bearer (see the class for the retry policy).

        ``path`` is sent as given: build it with :func:`api_path` from API names."""
        label = f"GET {path}"
        r, body = self._attempts("GET", base, path, label, params=params)
        if r.status_code >= 400:
            raise ApiStatusError(_error_text(r), status=r.status_code, request=label)
        return body

    def get_all(
        self,
        base: str,
        path: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_pages: int = MAX_PAGES,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(page, body)`` for every page of a list: the one pagination routine.

        Every list call goes through here (apps, both collaborator lists, events,
        tokens), documented as paginated or not: ``meta.pagination`` is followed wherever
        it appears, and the list ends as :func:`next_page` says (``next_page`` null or
        missing, not after the current page, or the current page the last). After
        ``max_pages`` pages with more announced, :class:`PageLimitError` is raised (the
        caller makes it a coverage gap), so a server that never stops cannot loop us.
        """
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        label = f"GET {path}"
        page = 1
        query = dict(params or {})
        for seen in range(1, max_pages + 1):
            if page > 1 or "page" in query:
                query["page"] = page
            body = self.get(base, path, query)
            if not isinstance(body, dict) or not isinstance(body.get(key), list):
                raise ApiError(f"expected a JSON object with a list under '{key}'", request=label)
            yield page, body
            nxt = next_page(body, page, label=label)
            if nxt is None:
                return
            if seen == max_pages:
                raise PageLimitError(
                    f"more than {max_pages} page(s) announced (next page {nxt}): stopped; "
                    "not every row was read",
                    request=label,
                )
            page = nxt
        raise AssertionError("unreachable")


def _query(params: Mapping[str, Any] | None) -> str:
    """The query string of a request, for a debug line (it never holds a credential)."""
    return "?" + urllib.parse.urlencode(params) if params else ""


def _error_text(r: requests.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        body = None
    detail = ""
    if isinstance(body, dict):
        err = body.get("error") or body.get("errors")
        if err:
            detail = f": {json.dumps(err) if not isinstance(err, str) else err}"
    return f"HTTP {r.status_code}{detail}"[:300]
