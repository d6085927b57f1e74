"""HTTP client for the Scalingo API: token exchange, pagination, rate limit, retries.

Follows Scalingo's public API (see the project's API notes):

- credentials come only from the environment (:class:`Settings.from_env`):
  ``SCALINGO_API_TOKEN``, and optionally ``SCALINGO_AUTH_URL``, ``SCALINGO_API_URL``
  and ``SCALINGO_REGION`` — the names Scalingo's CLI and Terraform provider use;
- the long-lived API token is exchanged for a bearer (``POST /v1/tokens/exchange``,
  basic auth with an empty user name); the bearer is reused until less than five
  minutes remain before its ``exp``, and exchanged again after a 401 (once: a
  second 401 means the token was revoked);
- a client-side :class:`RateLimiter` keeps every request, retries included, under
  the account's budget (60 requests per minute by default);
- 429 (honouring ``Retry-After``), 5xx, malformed JSON, connection errors and
  timeouts are retried with exponential backoff; every request has a timeout.

The token is held in one attribute and sent in one header; it is never part of a
URL, a log line, a progress message or an exception.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from . import __version__
from .errors import ApiError, AuthError

DEFAULT_AUTH_URL = "https://auth.scalingo.com"
REFRESH_MARGIN = 300.0  # exchange again when less than 5 minutes remain, as Scalingo's Go client


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
    requests in a window, whatever the network latency.
    """

    def __init__(self, limit: int = 60, period: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("rate limit must be at least 1 request per period")
        self.limit = limit
        self.period = period
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.period:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return waited
                pause = self.period - (now - self._sent[0]) + 0.001
                time.sleep(pause)
                waited += pause

    def done(self) -> None:
        """Mark the last acquired request as answered (its time becomes now)."""
        with self._lock:
            if self._sent:
                self._sent[-1] = time.monotonic()

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 429)."""
        with self._lock:
            time.sleep(seconds)


def _jwt_exp(bearer: str) -> float | None:
    """The ``exp`` claim of a JWT, without verifying it (the server does)."""
    try:
        payload = bearer.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class Client:
    """A Scalingo API client over one ``requests.Session``.

    ``period`` and ``backoff`` are in seconds and exist so tests can scale time
    down; ``on_request`` is called after every HTTP request with its label
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
        on_request: Callable[[str, int | None], None] | None = None,
    ) -> None:
        self._settings = settings
        self.limiter = RateLimiter(rate_limit, period)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
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
        r = self._send(
            "POST", self.auth_url + "/v1/tokens/exchange", label, auth=("", self._settings.token)
        )
        if r.status_code in (401, 403):
            raise AuthError(
                "the API token was rejected (is SCALINGO_API_TOKEN valid and not revoked?)",
                status=r.status_code,
                request=label,
            )
        if r.status_code != 200:
            raise ApiError(
                f"token exchange failed with HTTP {r.status_code}",
                status=r.status_code,
                request=label,
            )
        body = _json(r, label)
        bearer = body.get("token") if isinstance(body, dict) else None
        if not isinstance(bearer, str) or not bearer:
            raise ApiError("token exchange returned no token", status=r.status_code, request=label)
        self._bearer = bearer
        exp = _jwt_exp(bearer)
        self._bearer_exp = exp if exp is not None else time.time() + 3300

    def _auth_header(self) -> dict[str, str]:
        if self._bearer is None or self._bearer_exp - time.time() < REFRESH_MARGIN:
            self._exchange()
        return {"Authorization": f"Bearer {self._bearer}"}

    # --- requests ---------------------------------------------------------------------
    def _send(self, method: str, url: str, label: str, **kwargs: Any) -> requests.Response:
        """One HTTP request under the rate limit, retried on 429/5xx/network errors."""
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            self.limiter.acquire()
            self.requests += 1
            try:
                r = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.limiter.done()
                kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                last = f"{kind} after {attempt} attempt(s)"
                self._notify(label, None)
                self._sleep_backoff(attempt)
                continue
            self.limiter.done()
            self._notify(label, r.status_code)
            if r.status_code == 429:
                last = f"rate limited (HTTP 429) after {attempt} attempt(s)"
                self.limiter.pause(self._retry_after(r, attempt))
                continue
            if r.status_code >= 500:
                last = f"HTTP {r.status_code} after {attempt} attempt(s)"
                self._sleep_backoff(attempt)
                continue
            return r
        raise ApiError(last, request=label)

    def _notify(self, label: str, status: int | None) -> None:
        if self.on_request is not None:
            self.on_request(label, status)

    def _sleep_backoff(self, attempt: int) -> None:
        time.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    def _retry_after(self, r: requests.Response, attempt: int) -> float:
        value = r.headers.get("Retry-After", "")
        try:
            seconds = float(value)
        except ValueError:
            # No (usable) Retry-After: wait for the limiter's window to drain a little.
            return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return max(0.0, min(seconds, self.max_backoff * 5))

    def get(self, base: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``base + path`` as JSON, with a bearer; retries once after a 401."""
        label = f"GET {path}"
        for renewed in (False, True):
            headers = self._auth_header()
            for attempt in range(1, self.max_attempts + 1):
                r = self._send("GET", base + path, label, params=params, headers=headers)
                if r.status_code == 401:
                    break
                if r.status_code >= 400:
                    raise ApiError(_error_text(r), status=r.status_code, request=label)
                try:
                    return r.json()
                except ValueError:
                    if attempt == self.max_attempts:
                        raise ApiError(
                            f"malformed JSON in the response after {attempt} attempt(s)",
                            status=r.status_code,
                            request=label,
                        ) from None
                    self._sleep_backoff(attempt)
            if renewed:
                raise AuthError(
                    "the API token was rejected twice (is SCALINGO_API_TOKEN revoked?)",
                    status=401,
                    request=label,
                )
            self._bearer = None  # expired or revoked bearer: exchange again, once
        raise AssertionError("unreachable")

    def get_all(
        self,
        base: str,
        path: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_pages: int | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(page, body)`` for every page, following ``meta.pagination.next_page``."""
        page: int | None = 1
        query = dict(params or {})
        seen = 0
        while page is not None:
            if page > 1 or "page" in query:
                query["page"] = page
            body = self.get(base, path, query)
            if not isinstance(body, dict) or key not in body:
                raise ApiError(
                    f"expected a JSON object with root key '{key}'", request=f"GET {path}"
                )
            yield page, body
            seen += 1
            pagination = (body.get("meta") or {}).get("pagination") or {}
            nxt = pagination.get("next_page")
            page = (
                int(nxt)
                if nxt not in (None, "", 0) and (max_pages is None or seen < max_pages)
                else None
            )


def _json(r: requests.Response, label: str) -> Any:
    try:
        return r.json()
    except ValueError:
        raise ApiError(
            "malformed JSON in the response", status=r.status_code, request=label
        ) from None


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
