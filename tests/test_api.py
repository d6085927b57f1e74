"""The HTTP client's retry policy, over a socket against the fake API, on an injected clock.

Nothing here really sleeps: the client's ``sleep`` advances a :class:`FakeClock` (and may
change the server between attempts), so every wait is asserted exactly.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from typing import Any

import pytest

from scalingo_audit.api import Client, RateLimiter, Settings, api_path
from scalingo_audit.errors import (
    ApiError,
    ApiStatusError,
    ApiTransportError,
    AuthError,
    DeadlineError,
)

from .fakeapi import FakeClock, FakeScalingo, decode_jwt_payload, make_world

# much of its time spent waiting (sockets, timeouts, child processes): run beside a slow
# module (conftest)
pytestmark = pytest.mark.waits


@pytest.fixture
def fake() -> Iterator[FakeScalingo]:
    with FakeScalingo(make_world(owned=2, collaborated=1)) as f:
        yield f


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client(fake: FakeScalingo, clock: FakeClock, **kwargs: Any) -> Client:
    opts: dict[str, Any] = {
        "clock": clock.monotonic,
        "sleep": clock.sleep,
        "wall_clock": clock.wall,
        "jitter": lambda: 0.0,
        "timeout": 5.0,
        "backoff": 2.0,
        "max_backoff": 60.0,
        **kwargs,
    }
    return Client(Settings.from_env(fake.env()), **opts)


def apps_url(fake: FakeScalingo) -> str:
    return fake.api_url("osc-fr1")


def test_no_sleep_after_the_last_attempt(fake, clock):
    fake.fail(r"/osc-fr1/v1/apps$", 503, times=None)
    c = client(fake, clock, max_attempts=4)
    with pytest.raises(ApiError, match=r"HTTP 503 after 4 attempt\(s\)") as exc:
        c.get(apps_url(fake), "/v1/apps")
    assert exc.value.request == "GET /v1/apps"
    assert fake.count(r"/osc-fr1/v1/apps$") == 4
    # jitter 0: half of 2, 4, 8 seconds; nothing after the 4th attempt
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_backoff_is_exponential_jittered_and_capped(fake, clock):
    fake.fail(r"/osc-fr1/v1/apps$", 500, times=None)
    draws = iter([0.0, 0.5, 0.999, 0.25, 0.0, 0.999, 0.5])
    c = client(
        fake, clock, max_attempts=7, backoff=4.0, max_backoff=20.0, jitter=lambda: next(draws)
    )
    with pytest.raises(ApiError):
        c.get(apps_url(fake), "/v1/apps")
    # base 4, 8, 16, 20 (cap), 20, 20, times 0.5 + jitter/2
    expected = [4 * 0.5, 8 * 0.75, 16 * 0.9995, 20 * 0.625, 20 * 0.5, 20 * 0.9995]
    assert clock.sleeps == pytest.approx(expected)


def test_one_attempt_budget_across_5xx_timeouts_and_bad_json(fake, clock):
    """500, then a timeout, then a body that is not JSON: three attempts of one budget."""
    path = r"/osc-fr1/v1/apps$"

    def next_fault(n: int) -> None:
        if n == 1:
            fake.delay(path, 1.0, times=1)  # the client's timeout is 0.2 s
        elif n == 2:
            fake.malformed(path, times=1)

    fake.fail(path, 500, times=1)
    clock.on_sleep = next_fault
    with pytest.raises(ApiError, match=r"malformed JSON in the response after 3 attempt\(s\)"):
        client(fake, clock, max_attempts=3, timeout=0.2).get(apps_url(fake), "/v1/apps")
    assert len(clock.sleeps) == 2

    # the same faults with one attempt more: the fourth succeeds
    fake.clear_faults()
    clock.sleeps.clear()
    fake.fail(path, 500, times=1)
    body = client(fake, clock, max_attempts=4, timeout=0.2).get(apps_url(fake), "/v1/apps")
    assert len(body["apps"]) == len(fake.world.apps["osc-fr1"])
    assert len(clock.sleeps) == 3


def test_client_errors_are_not_retried(fake, clock):
    fake.fail(r"/osc-fr1/v1/apps/x/collaborators$", 404, times=None)
    with pytest.raises(ApiError) as exc:
        client(fake, clock).get(apps_url(fake), "/v1/apps/x/collaborators")
    assert exc.value.status == 404
    assert fake.count(r"/apps/x/collaborators$") == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("kind", ["seconds", "http-date", "past-date", "garbage", "huge"])
def test_retry_after_as_seconds_or_http_date(fake, clock, kind):
    t0 = clock.wall()
    value = {
        "seconds": "7",
        "http-date": email.utils.formatdate(t0 + 30, usegmt=True),
        "past-date": email.utils.formatdate(t0 - 3600, usegmt=True),
        "garbage": "soon",
        "huge": "86400",
    }[kind]
    fake.fail(r"/osc-fr1/v1/apps$", 429, times=1, headers={"Retry-After": value})
    body = client(fake, clock, max_retry_after=300.0).get(apps_url(fake), "/v1/apps")
    assert "apps" in body
    expected = {"seconds": 7.0, "http-date": 30.0, "past-date": 0.0, "garbage": 1.0, "huge": 300.0}
    assert clock.sleeps == ([pytest.approx(expected[kind], abs=1.0)] if expected[kind] else [])


def test_deadline_turns_waits_and_later_calls_into_deadline_errors(fake, clock):
    fake.fail(r"/osc-fr1/v1/apps$", 503, times=None)
    c = client(fake, clock, max_attempts=10, deadline=10.0)
    with pytest.raises(DeadlineError, match="deadline passes before the next retry"):
        c.get(apps_url(fake), "/v1/apps")
    assert clock.sleeps == [1.0, 2.0, 4.0]  # the next (8 s) would end after the deadline
    assert clock.now <= 10.0
    sent = fake.count()
    clock.now = 10.0
    with pytest.raises(DeadlineError, match="not requested"):
        c.get(apps_url(fake), "/v1/collaborators")
    assert fake.count() == sent  # nothing sent after the deadline
    assert isinstance(DeadlineError("x"), ApiError)  # collection records it as a gap


def test_deadline_also_bounds_a_retry_after(fake, clock):
    fake.fail(r"/osc-fr1/v1/apps$", 429, times=None, retry_after=120)
    with pytest.raises(DeadlineError):
        client(fake, clock, deadline=60.0).get(apps_url(fake), "/v1/apps")
    assert clock.sleeps == []


def test_the_bearer_is_refreshed_before_every_retry(fake, clock):
    """Backoffs long enough for the bearer's exp to pass: every retry exchanges first."""
    fake.fail(r"/osc-fr1/v1/apps$", 503, times=3)

    def expire(n: int) -> None:
        clock.now += 3600  # an hour per wait: past the bearer's exp each time

    clock.on_sleep = expire
    c = client(fake, clock, max_attempts=4)
    c.get(fake.auth_url, "/v1/tokens")
    assert decode_jwt_payload(c._bearer or "")["exp"] < clock.wall() + 3600 + 5
    exchanges = fake.exchanges
    c.get(apps_url(fake), "/v1/apps")
    assert fake.exchanges == exchanges + 3  # one before each of the three retries
    bearers = [
        h.value
        for h in fake.headers_seen
        if h.name.lower() == "authorization" and h.path.endswith("/v1/apps")
    ]
    assert len(bearers) == len(set(bearers)) == 4


def test_a_bearer_expiring_during_retries_is_not_a_revoked_token(fake, clock):
    """The server expires bearers while the client waits (its clock says they are valid)."""
    fake.fail(r"/osc-fr1/v1/apps$", 502, times=2)
    clock.on_sleep = lambda n: fake.expire_bearers()
    c = client(fake, clock, max_attempts=6)
    c.get(fake.auth_url, "/v1/regions")
    body = c.get(apps_url(fake), "/v1/apps")
    assert "apps" in body
    assert fake.count(status=401) >= 1
    assert fake.exchanges >= 2


def test_a_token_revoked_during_retries_is_reported_as_rejected(fake, clock):
    fake.fail(r"/osc-fr1/v1/apps$", 502, times=2)
    clock.on_sleep = lambda n: fake.revoke_api_token()
    c = client(fake, clock, max_attempts=6)
    c.get(fake.auth_url, "/v1/regions")
    with pytest.raises(AuthError, match="API token was rejected"):
        c.get(apps_url(fake), "/v1/apps")


def test_a_fresh_bearer_rejected_is_an_auth_error_not_a_loop(fake, clock):
    fake.fail(r"/osc-fr1/v1/apps$", 401, times=None)
    c = client(fake, clock, max_attempts=6)
    with pytest.raises(AuthError, match="rejected a bearer it had just issued"):
        c.get(apps_url(fake), "/v1/apps")
    assert fake.count(r"/osc-fr1/v1/apps$") == 1  # the bearer was just exchanged for it
    c.get(fake.auth_url, "/v1/tokens")
    with pytest.raises(AuthError, match="rejected the bearer twice"):
        c.get(apps_url(fake), "/v1/apps")
    assert fake.count(r"/osc-fr1/v1/apps$") == 1 + 2  # an older bearer, then a fresh one


def test_rate_limiter_waits_on_the_injected_clock(clock):
    limiter = RateLimiter(2, 60.0, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
        limiter.done()
    assert clock.sleeps == [pytest.approx(60.0, abs=0.01)]
    limiter.acquire()  # the window is full again
    with pytest.raises(DeadlineError):
        limiter.acquire(deadline=clock.now + 1.0)


def test_rate_limit_through_the_client_without_real_waiting(fake, clock):
    c = client(fake, clock, rate_limit=3, period=60.0)
    for _ in range(7):
        c.get(fake.auth_url, "/v1/regions")
    # 1 exchange + 7 GETs = 8 requests at 3 per minute: two full waits
    assert sum(clock.sleeps) == pytest.approx(120.0, abs=0.1)
    assert fake.count() == 8


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("a/b", "a%2Fb"),
        ("../../v1/tokens", "%2E%2E%2F%2E%2E%2Fv1%2Ftokens"),
        ("x\0y\nz", "x%00y%0Az"),
        ("q?a=1#f", "q%3Fa%3D1%23f"),
        ("é", "%C3%A9"),
        ("\udc80", "%ED%B2%80"),
    ],
)
def test_api_path_keeps_every_name_one_segment(name, encoded):
    assert api_path("v1", "apps", name, "events") == f"/v1/apps/{encoded}/events"


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../tokens", "x\ny", "q?x#y", "é ü"])
def test_dot_and_slash_names_reach_their_own_endpoint(fake, clock, name):
    app = fake.world.apps["osc-fr1"][0]
    app["name"] = name
    body = client(fake, clock).get(apps_url(fake), api_path("v1", "apps", name, "collaborators"))
    assert {c["app_id"] for c in body["collaborators"]} <= {app["id"]}
    assert fake.log[-1].path.endswith("/collaborators")
    assert fake.log[-1].status == 200


def test_the_token_never_leaves_the_exchange(fake, clock):
    fake.fail(r"/osc-fr1/v1/apps$", 503, times=2)
    c = client(fake, clock)
    c.get(apps_url(fake), "/v1/apps")
    seen = {(s.method, s.path, s.where) for s in fake.sightings()}
    assert seen == {("POST", "/auth/v1/tokens/exchange", "basic-auth-password")}
    assert fake.api_token not in repr(c.__dict__)


def test_failures_carry_their_kind(fake, clock):
    """An HTTP status for good is an ApiStatusError, no answer an ApiTransportError, an
    unusable answer a plain ApiError; all are ApiErrors with the same one-line message."""
    path = r"/osc-fr1/v1/apps$"
    fake.fail(path, 503, times=None)
    with pytest.raises(
        ApiStatusError, match=r"^GET /v1/apps: HTTP 503 after 2 attempt\(s\)$"
    ) as st:
        client(fake, clock, max_attempts=2).get(apps_url(fake), "/v1/apps")
    assert (st.value.status, st.value.request) == (503, "GET /v1/apps")
    fake.clear_faults()
    fake.fail(r"/osc-fr1/v1/apps/x/collaborators$", 404, times=None)
    with pytest.raises(ApiStatusError) as nf:
        client(fake, clock).get(apps_url(fake), "/v1/apps/x/collaborators")
    assert nf.value.status == 404 and isinstance(nf.value, ApiError)
    fake.clear_faults()
    fake.delay(path, 1.0, times=None)
    with pytest.raises(ApiTransportError, match=r"timed out after 2 attempt\(s\)") as tr:
        client(fake, clock, max_attempts=2, timeout=0.2).get(apps_url(fake), "/v1/apps")
    assert tr.value.status is None and tr.value.request == "GET /v1/apps"
    fake.clear_faults()
    fake.malformed(path, times=None)
    with pytest.raises(ApiError, match="malformed JSON") as bad:
        client(fake, clock, max_attempts=2).get(apps_url(fake), "/v1/apps")
    assert type(bad.value) is ApiError
