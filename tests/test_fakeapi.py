"""The fake Scalingo API itself, exercised with plain ``requests`` (not the client)."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from .fakeapi import FakeClock, FakeScalingo, decode_jwt_payload, iter_pages, make_world

# much of its time spent waiting (sockets, timeouts, child processes): run beside a slow
# module (conftest)
pytestmark = pytest.mark.waits

TIMEOUT = 5
_NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def _exchange(fake: FakeScalingo, token: str | None = None) -> requests.Response:
    return requests.post(
        f"{fake.auth_url}/v1/tokens/exchange",
        auth=("", token if token is not None else fake.api_token),
        timeout=TIMEOUT,
    )


def _session(fake: FakeScalingo) -> requests.Session:
    s = requests.Session()
    bearer = _exchange(fake).json()["token"]
    s.headers.update({"Authorization": f"Bearer {bearer}", "Accept": "application/json"})
    return s


def _get(s: requests.Session, url: str, **params: Any) -> requests.Response:
    return s.get(url, params=params, timeout=TIMEOUT)


# ------------------------------------------------------------------ world


def test_make_world_is_deterministic_and_shaped():
    a = make_world(owned=10, collaborated=4, events_per_app=3, now=_NOW)
    b = make_world(owned=10, collaborated=4, events_per_app=3, now=_NOW)
    assert a == b
    assert make_world(owned=10, collaborated=4, seed=2).user != a.user
    apps = a.all_apps()
    assert len(apps) == 14
    assert {r for r, _ in apps} == {"osc-fr1", "osc-secnum-fr1"}
    assert sum(len(a.owned_apps(r)) for r in a.regions) == 10
    assert len({app["name"] for _, app in apps}) == 14
    rows = [c for rows in a.collaborators.values() for c in rows]
    assert {c["status"] for c in rows} >= {"accepted", "pending"}
    assert {type(c["is_limited"]) for c in rows} == {bool, str}
    assert any("tfa_status" not in c for c in rows)
    assert any(c.get("tfa_status", 0) is None for c in rows)
    for c in rows:
        if c["status"] == "pending":
            assert c["user_id"] is None and c["username"] == "n/a" and c["invitation_link"]
        assert c["email"].endswith(".example")
    for region, app in apps:
        owner = app["owner"]["id"]
        assert all(c["user_id"] != owner for c in a.collaborators[app["id"]])
        if not a.owns(app):  # the collecting user is a collaborator there
            assert a.user["id"] in {c["user_id"] for c in a.collaborators[app["id"]]}
        evs = a.events[app["id"]]
        assert [e["created_at"] for e in evs] == sorted(
            (e["created_at"] for e in evs), reverse=True
        )
        assert region in a.regions


# ------------------------------------------------------------------ auth


def test_exchange_returns_jwt_with_exp(fake_scalingo: FakeScalingo):
    r = _exchange(fake_scalingo)
    assert r.status_code == 200
    token = r.json()["token"]
    assert token.count(".") == 2
    claims = decode_jwt_payload(token)
    assert claims["sub"] == fake_scalingo.world.user["id"]
    assert 3590 <= claims["exp"] - time.time() <= 3600
    assert fake_scalingo.exchanges == 1
    assert fake_scalingo.log[-1].auth == "basic"


@pytest.mark.parametrize("token", ["tk-us-wrong", ""])
def test_exchange_rejects_wrong_token(fake_scalingo: FakeScalingo, token: str):
    r = _exchange(fake_scalingo, token)
    assert r.status_code == 401
    assert "error" in r.json()
    r = requests.post(f"{fake_scalingo.auth_url}/v1/tokens/exchange", timeout=TIMEOUT)
    assert r.status_code == 401


def test_bearer_is_required(fake_scalingo: FakeScalingo):
    url = f"{fake_scalingo.api_url('osc-fr1')}/v1/apps"
    assert requests.get(url, timeout=TIMEOUT).status_code == 401
    bad = {"Authorization": "Bearer a.b.c"}
    assert requests.get(url, headers=bad, timeout=TIMEOUT).status_code == 401
    basic = requests.get(url, auth=("", fake_scalingo.api_token), timeout=TIMEOUT)
    assert basic.status_code == 401
    assert _get(_session(fake_scalingo), url).status_code == 200
    assert fake_scalingo.count(r"/v1/apps$", status=401) == 3


def test_expire_bearers_and_short_ttl():
    clock = FakeClock()
    with FakeScalingo(make_world(owned=1, collaborated=0), bearer_ttl=0.3, clock=clock) as fake:
        s = _session(fake)
        url = f"{fake.auth_url}/v1/users/self"
        assert _get(s, url).status_code == 200
        clock.advance(0.29)
        assert _get(s, url).status_code == 200
        clock.advance(0.02)
        assert _get(s, url).status_code == 401
        s = _session(fake)
        assert _get(s, url).status_code == 200
        fake.expire_bearers()
        assert _get(s, url).status_code == 401


def test_claimed_ttl_can_lie():
    clock = FakeClock()
    with FakeScalingo(bearer_ttl=0.2, claimed_bearer_ttl=3600, clock=clock) as fake:
        bearer = _exchange(fake).json()["token"]
        assert decode_jwt_payload(bearer)["exp"] - time.time() > 3500
        clock.advance(0.25)
        r = requests.get(
            f"{fake.region_urls['osc-fr1']}/v1/apps",
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=TIMEOUT,
        )
        assert r.status_code == 401


def test_revoked_api_token(fake_scalingo: FakeScalingo):
    old = fake_scalingo.api_token
    fake_scalingo.revoke_api_token()
    assert _exchange(fake_scalingo, old).status_code == 401
    assert _exchange(fake_scalingo).status_code == 200  # the new one


def test_token_only_sent_in_exchange_basic_auth(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    _get(s, f"{fake_scalingo.auth_url}/v1/tokens")
    _get(s, f"{fake_scalingo.api_url('osc-fr1')}/v1/apps")
    sightings = fake_scalingo.sightings()
    assert [(x.path, x.where) for x in sightings] == [
        ("/auth/v1/tokens/exchange", "basic-auth-password")
    ]
    # a leaky request is caught wherever it puts the token
    requests.get(
        f"{fake_scalingo.api_url('osc-fr1')}/v1/apps",
        params={"t": fake_scalingo.api_token},
        headers={"X-Debug": fake_scalingo.api_token},
        timeout=TIMEOUT,
    )
    wheres = {x.where for x in fake_scalingo.sightings()}
    assert {"query", "header:X-Debug"} <= wheres
    raw = base64.b64encode(f":{fake_scalingo.api_token}".encode()).decode()
    assert any(h.value == f"Basic {raw}" for h in fake_scalingo.headers_seen)


# ------------------------------------------------------------------ endpoints


def test_regions_and_tokens(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    regions = _get(s, f"{fake_scalingo.auth_url}/v1/regions").json()["regions"]
    assert [r["name"] for r in regions] == ["osc-fr1", "osc-secnum-fr1"]
    for r in regions:
        assert set(r) >= {"name", "display_name", "api", "dashboard", "database_api", "ssh"}
        assert r["api"] == fake_scalingo.region_urls[r["name"]]
        assert r["api"].startswith("http://127.0.0.1:")
    me = _get(s, f"{fake_scalingo.auth_url}/v1/users/self").json()["user"]
    assert me["email"] == "ops@acme.example"
    tfa = _get(s, f"{fake_scalingo.auth_url}/v1/client/tfa").json()["tfa"]
    assert tfa["enabled"] is True and tfa["provider"] == "totp" and tfa["uuid"]
    tokens = _get(s, f"{fake_scalingo.auth_url}/v1/tokens").json()["tokens"]
    keys = {"id", "name", "created_at", "last_used_at", "issued_at"}
    assert tokens and all(set(t) == keys for t in tokens)
    assert any(t["issued_at"] > t["created_at"] for t in tokens)  # one was renewed
    assert any(t["last_used_at"] is None for t in tokens)


def test_regional_endpoints(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    w = fake_scalingo.world
    for region, api in fake_scalingo.region_urls.items():
        # users/self is served by the auth API, as in all of Scalingo's clients
        assert _get(s, f"{api}/v1/users/self").status_code == 404
        apps = _get(s, f"{api}/v1/apps").json()
        assert set(apps) == {"apps"}  # no pagination unless paginate_apps
        assert [a["id"] for a in apps["apps"]] == [a["id"] for a in w.apps[region]]
        first = apps["apps"][0]
        by_id = _get(s, f"{api}/v1/apps/{first['id']}/collaborators").json()["collaborators"]
        assert by_id == w.collaborators[first["id"]]  # an app is reached by name or id
        # routes nothing calls are not served (the fake's docstring lists what is)
        for dropped in ("projects", "events", f"apps/{first['name']}"):
            assert _get(s, f"{api}/v1/{dropped}").status_code == 404
    other = w.apps["osc-secnum-fr1"][0]["name"]
    r = _get(s, f"{fake_scalingo.region_urls['osc-fr1']}/v1/apps/{other}/collaborators")
    assert r.status_code == 404
    assert r.json() == {"resource": "app", "error": "not found"}


def test_app_collaborators_exclude_owner(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    w = fake_scalingo.world
    for region, app in w.all_apps():
        url = f"{fake_scalingo.region_urls[region]}/v1/apps/{app['name']}/collaborators"
        rows = _get(s, url).json()["collaborators"]
        assert rows == w.collaborators[app["id"]]
        assert app["owner"]["id"] not in {c["user_id"] for c in rows}
        assert app["owner"]["email"] not in {c["email"] for c in rows}
        assert {c["app_id"] for c in rows} == {app["id"]}
    r = _get(s, f"{fake_scalingo.region_urls['osc-fr1']}/v1/apps/nope/collaborators")
    assert (r.status_code, r.json()) == (404, {"resource": "app", "error": "not found"})


def test_account_collaborators_cover_only_owned_apps(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    w = fake_scalingo.world
    for region, api in fake_scalingo.region_urls.items():
        rows = _get(s, f"{api}/v1/collaborators").json()["collaborators"]
        owned = {a["id"] for a in w.owned_apps(region)}
        assert {c["app_id"] for c in rows} == owned
        assert len(rows) == sum(len(w.collaborators[i]) for i in owned)
        assert all(c["app_name"] for c in rows)
        assert w.collaborated_apps(region)  # the fixture has both kinds in each region


def test_event_pagination_meta(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    app = fake_scalingo.world.apps["osc-fr1"][0]
    url = f"{fake_scalingo.region_urls['osc-fr1']}/v1/apps/{app['name']}/events"
    metas, seen = [], []
    for page in (1, 2, 3):
        data = _get(s, url, page=page).json()
        metas.append(data["meta"]["pagination"])
        seen += data["events"]
    assert metas == [
        {"current_page": 1, "prev_page": None, "next_page": 2, "total_pages": 3, "total_count": 5},
        {"current_page": 2, "prev_page": 1, "next_page": 3, "total_pages": 3, "total_count": 5},
        {"current_page": 3, "prev_page": 2, "next_page": None, "total_pages": 3, "total_count": 5},
    ]
    assert seen == fake_scalingo.world.events[app["id"]]
    assert [e["created_at"] for e in seen] == sorted((e["created_at"] for e in seen), reverse=True)
    big = _get(s, url, per_page=1000).json()
    assert len(big["events"]) == 5 and big["meta"]["pagination"]["next_page"] is None
    assert _get(s, url, page=0).status_code == 422
    beyond = _get(s, url, page=9).json()
    assert beyond["events"] == [] and beyond["meta"]["pagination"]["next_page"] is None


def test_events_from_hours_overrides_pagination(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    app = fake_scalingo.world.apps["osc-fr1"][0]
    url = f"{fake_scalingo.region_urls['osc-fr1']}/v1/apps/{app['name']}/events"
    # events are 7 h apart starting 1 h ago: 3 fall in the last 16 hours
    data = _get(s, url, **{"from": 16, "page": 2}).json()
    assert len(data["events"]) == 3
    assert data["meta"]["pagination"]["next_page"] is None
    assert _get(s, url, **{"from": 73}).status_code == 422


def test_paginate_apps_and_collaborators():
    world = make_world(owned=9, collaborated=2, regions=("osc-fr1",))
    with FakeScalingo(world, paginate_apps=4, paginate_collaborators=5) as fake:
        s = _session(fake)
        api = fake.region_urls["osc-fr1"]
        assert [a["id"] for a in iter_pages(s.get, f"{api}/v1/apps", "apps")] == [
            a["id"] for a in world.apps["osc-fr1"]
        ]
        assert fake.count(r"/v1/apps$") == 3
        rows = list(iter_pages(s.get, f"{api}/v1/collaborators", "collaborators"))
        assert len(rows) == 27
        assert fake.count(r"/v1/collaborators$") == 6


# ------------------------------------------------------------------ faults


def test_fail_fires_exactly_times(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    api = fake_scalingo.region_urls["osc-fr1"]
    rule = fake_scalingo.fail(r"/osc-fr1/v1/apps$", 500, times=2)
    statuses = [_get(s, f"{api}/v1/apps").status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert rule.fired == 2 and rule.remaining == 0
    assert fake_scalingo.count(r"/v1/apps$", status=500) == 2
    assert fake_scalingo.log[0].fault is None
    assert [r.fault for r in fake_scalingo.log if r.status == 500] == ["fail", "fail"]


def test_rules_are_exact_under_concurrency(fake_scalingo: FakeScalingo):
    bearer = _exchange(fake_scalingo).json()["token"]
    url = f"{fake_scalingo.region_urls['osc-fr1']}/v1/apps"

    def call(_: int) -> int:
        headers = {"Authorization": f"Bearer {bearer}"}
        return requests.get(url, headers=headers, timeout=TIMEOUT).status_code

    fake_scalingo.fail(r"/v1/apps$", 502, times=7)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, range(40)))
    assert statuses.count(502) == 7 and statuses.count(200) == 33


def test_large_world_builds_and_serves():
    world = make_world(owned=300, collaborated=40, events_per_app=10)
    with FakeScalingo(world) as fake:
        s = _session(fake)
        for api in fake.region_urls.values():
            rows = _get(s, f"{api}/v1/collaborators").json()["collaborators"]
            assert len(rows) == 150 * 3
            assert len(_get(s, f"{api}/v1/apps").json()["apps"]) == 170


def test_fail_on_one_app_and_method_filter(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    api = fake_scalingo.region_urls["osc-fr1"]
    a, b = (x["name"] for x in fake_scalingo.world.apps["osc-fr1"][:2])
    fake_scalingo.fail(rf"/apps/{a}/collaborators$", 403, times=None)
    fake_scalingo.fail(r"/v1/apps$", 503, method="POST")
    for _ in range(3):
        r = _get(s, f"{api}/v1/apps/{a}/collaborators")
        assert r.status_code == 403 and r.json() == {"error": "forbidden"}
    assert _get(s, f"{api}/v1/apps/{b}/collaborators").status_code == 200
    assert _get(s, f"{api}/v1/apps").status_code == 200


def test_429_with_and_without_retry_after(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    url = f"{fake_scalingo.region_urls['osc-fr1']}/v1/apps"
    fake_scalingo.fail(r"/v1/apps$", 429, retry_after=2)
    fake_scalingo.fail(r"/v1/apps$", 429)
    r1, r2, r3 = (_get(s, url) for _ in range(3))
    assert (r1.status_code, r1.text, r1.headers.get("Retry-After")) == (429, "Retry later", "2")
    assert r1.headers["Content-Type"].startswith("text/plain")
    assert (r2.status_code, r2.headers.get("Retry-After")) == (429, None)
    assert r3.status_code == 200
    assert fake_scalingo.rate_limited == 0  # fail() 429s are not the limiter's


def test_delay_past_timeout(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    url = f"{fake_scalingo.auth_url}/v1/users/self"
    rule = fake_scalingo.delay(r"/users/self$", 0.5)
    with pytest.raises(requests.Timeout):
        s.get(url, timeout=0.1)
    assert s.get(url, timeout=2).status_code == 200  # the rule fired once: not delayed again
    assert rule.fired == 1


def test_malformed_json(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    url = f"{fake_scalingo.region_urls['osc-secnum-fr1']}/v1/collaborators"
    fake_scalingo.malformed(r"/v1/collaborators$", times=1)
    r = _get(s, url)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        r.json()
    assert "collaborators" in _get(s, url).json()


def test_rate_limiter_429s_then_recovers():
    clock = FakeClock()
    with FakeScalingo(make_world(owned=2, collaborated=1), clock=clock) as fake:
        s = _session(fake)  # the exchange is admitted before the limit exists
        fake.rate_limit(per_window=5, window_seconds=0.5, retry_after=True)
        url = f"{fake.region_urls['osc-fr1']}/v1/apps"
        rs = [_get(s, url) for _ in range(8)]
        assert [r.status_code for r in rs] == [200] * 5 + [429] * 3
        assert rs[5].text == "Retry later"
        assert rs[5].headers["Retry-After"] == "1"  # integer, at least 1
        assert fake.rate_limited == 3
        clock.advance(0.49)
        assert _get(s, url).status_code == 429  # the window has not passed yet
        clock.advance(0.01)
        assert [_get(s, url).status_code for _ in range(5)] == [200] * 5
        assert _get(s, url).status_code == 429
        fake.rate_limit(per_window=1, window_seconds=0.3, retry_after=False)
        assert _get(s, url).status_code == 200
        r = _get(s, url)
        assert r.status_code == 429 and "Retry-After" not in r.headers
        assert fake.count(status=429) == fake.rate_limited == 6
        fake.clear_faults()
        assert _get(s, url).status_code == 200


def test_log_helpers(fake_scalingo: FakeScalingo):
    s = _session(fake_scalingo)
    _get(s, f"{fake_scalingo.region_urls['osc-fr1']}/v1/apps", page=1)
    rec = fake_scalingo.log[-1]
    assert (rec.method, rec.path, rec.query, rec.status, rec.auth) == (
        "GET",
        "/osc-fr1/v1/apps",
        {"page": "1"},
        200,
        "bearer",
    )
    assert fake_scalingo.count() == 2
    assert fake_scalingo.count(method="post") == 1
    fake_scalingo.reset_log()
    assert fake_scalingo.count() == 0 and fake_scalingo.headers_seen == []
