"""Every page read, and never forever: the one pagination routine (api.Client.get_all),
over a socket against the fake, for every list collect reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from scalingo_audit import load
from scalingo_audit.api import Client, Settings, next_page
from scalingo_audit.collect import collect
from scalingo_audit.errors import ApiError, PageLimitError

from .fakeapi import FakeScalingo, make_world

# much of its time spent waiting (sockets, timeouts, child processes): run beside a slow
# module (conftest)
pytestmark = pytest.mark.waits

FAST: dict[str, Any] = {"period": 1.0, "backoff": 0.02, "timeout": 2.0, "progress": False}


def _collect(fake: FakeScalingo, out: Path, **kwargs: Any) -> Path:
    return collect(out, env=fake.env(), **{**FAST, **kwargs})


def _meta(**p: Any) -> dict[str, Any]:
    return {"items": [], "meta": {"pagination": p}}


def test_the_stop_rule():
    assert next_page({"items": []}) is None  # no meta: one page
    assert next_page({"items": [], "meta": {}}) is None
    assert next_page(_meta(current_page=1, next_page=2, total_pages=3)) == 2
    assert next_page(_meta(current_page=3, next_page=None, total_pages=3)) is None  # reference
    assert next_page(_meta(current_page=3, next_page=3, total_pages=3)) is None  # Go helper
    assert next_page(_meta(current_page=3, total_pages=3)) is None  # next_page missing
    assert next_page(_meta(current_page=4, next_page=2, total_pages=9)) is None  # backwards
    assert next_page(_meta(current_page=3, next_page=4, total_pages=3)) is None  # past the end
    assert next_page(_meta(current_page=1, next_page="2")) == 2
    # the page asked for counts too: a server that always says "page 1, next 2"
    assert next_page(_meta(current_page=1, next_page=2), asked=2) is None
    for bad in ("two", -1, 1.5, True, [2]):
        with pytest.raises(ApiError, match="malformed"):
            next_page(_meta(current_page=1, next_page=bad))
    with pytest.raises(ApiError, match="malformed"):
        next_page({"items": [], "meta": {"pagination": "yes"}})


def _pages_requested(fake: FakeScalingo, pattern: str) -> list[tuple[str, str]]:
    import re

    return [
        (r.path, r.query.get("page", "1"))
        for r in fake.log
        if re.search(pattern, r.path) and r.status == 200
    ]


@pytest.mark.parametrize("style", ["null", "repeat"])
def test_paged_lists_are_read_whole_and_each_page_once(tmp_path, style):
    world = make_world(owned=7, collaborated=4, collaborators_per_app=5)
    with FakeScalingo(world) as plain:
        reference = load(_collect(plain, tmp_path / "plain"))
    with FakeScalingo(
        world,
        paginate_apps=2,
        paginate_collaborators=2,
        paginate_tokens=1,
        next_page_style=style,
    ) as fake:
        path = _collect(fake, tmp_path / "paged")
        for pattern in (r"/v1/apps$", r"/v1/collaborators$", r"/collaborators$", r"/tokens$"):
            seen = _pages_requested(fake, pattern)
            assert len(seen) == len(set(seen)), seen  # no page twice, no loop
        # 11 apps over 2 regions, 2 per page: 3 pages each; 3 tokens, 1 per page
        assert fake.count(r"/v1/apps$") == 3 + 3
        assert fake.count(r"/auth/v1/tokens$") == 3
        assert fake.count(r"/v1/apps/[^/]+/collaborators$") >= 4 * 3  # 5 rows, 2 per page
    assert json.loads((path / "manifest.json").read_text())["gaps"] == []
    data = load(path)
    cols = ["region", "app_name", "email", "role", "status"]
    pd.testing.assert_frame_equal(
        data.memberships[cols].sort_values(cols).reset_index(drop=True),
        reference.memberships[cols].sort_values(cols).reset_index(drop=True),
    )
    assert (
        sorted(data.tokens["name"])
        == sorted(reference.tokens["name"])
        == sorted(t["name"] for t in world.tokens)
    )
    assert len(data.apps) == 11


def test_a_server_that_never_advances_is_stopped(fake_scalingo, tmp_path):
    fake = fake_scalingo
    world = fake.world
    # every page says "page 1 of many, next 2", whatever was asked
    stuck = {"apps": world.apps["osc-fr1"],
             "meta": {"pagination": {"current_page": 1, "next_page": 2, "total_pages": 10**6}}}  # fmt: skip
    fake.fail(r"^/osc-fr1/v1/apps$", 200, times=None, body=stuck)
    path = _collect(fake, tmp_path / "snap")
    assert fake.count(r"^/osc-fr1/v1/apps$") == 2  # page 1, page 2 (same answer): stop
    assert json.loads((path / "manifest.json").read_text())["gaps"] == []
    assert len(load(path).apps) == len(world.all_apps())  # duplicates dropped


def test_more_pages_than_the_bound_is_a_coverage_gap(tmp_path):
    world = make_world(owned=4, collaborated=2, collaborators_per_app=4)
    with FakeScalingo(world, paginate_apps=1, paginate_collaborators=1) as fake:
        client = Client(Settings.from_env(fake.env()), period=1.0)
        api = fake.api_url("osc-fr1")
        pages = []
        with pytest.raises(PageLimitError, match="more than 2 page"):
            for page, _body in client.get_all(api, "/v1/apps", "apps", max_pages=2):
                pages.append(page)
        assert pages == [1, 2]
        path = _collect(fake, tmp_path / "apps", max_pages=2)
    gaps = json.loads((path / "manifest.json").read_text())["gaps"]
    assert [g["request"] for g in gaps] == ["GET /v1/apps"] * 2  # 3 apps per region
    assert all("more than 2 page" in g["error"] for g in gaps)
    with FakeScalingo(world, paginate_collaborators=1) as fake:
        path = _collect(fake, tmp_path / "collaborators", max_pages=2)
    gaps = json.loads((path / "manifest.json").read_text())["gaps"]
    assert all("more than 2 page" in g["error"] for g in gaps)
    # the owned list (8 rows) and then each app (4 rows) alone: all incomplete, all named
    assert {g["request"] for g in gaps} >= {"GET /v1/collaborators"}
    assert {g["app"] for g in gaps} == {None} | {a["name"] for _, a in world.all_apps()}


# --- events: the order is not documented -------------------------------------------------


def _window_ids(world: Any, days: int) -> set[str]:
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    return {
        e["id"]
        for evs in world.events.values()
        for e in evs
        if dt.datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")) >= cutoff
    }


@pytest.mark.parametrize("order", ["newest", "oldest", "shuffled"])
def test_events_window_is_covered_whatever_the_order(tmp_path, order):
    world = make_world(owned=2, collaborated=1, events_per_app=30)  # 7 hours apart
    with FakeScalingo(world, per_page=4, events_order=order) as fake:
        path = _collect(fake, tmp_path / "snap", events_days=2, per_page=4, max_event_pages=10)
        event_requests = fake.count(r"/events$")
    assert json.loads((path / "manifest.json").read_text())["gaps"] == []
    data = load(path)
    assert _window_ids(world, 2) <= set(data.events["event_id"])
    assert data.apps["events_since"].notna().all()
    if order == "newest":
        assert event_requests == 3 * 2  # 2 days = 7 events: two pages of 4 per app
    else:
        assert event_requests == 3 * 8  # out of order: every page (30 events, 4 per page)


def test_out_of_order_events_beyond_the_cap_are_a_gap_in_order_ones_are_cut_short(tmp_path):
    world = make_world(owned=1, collaborated=1, events_per_app=30)
    with FakeScalingo(world, per_page=4, events_order="oldest") as fake:
        path = _collect(fake, tmp_path / "oldest", events_days=30, per_page=4, max_event_pages=3)
    gaps = json.loads((path / "manifest.json").read_text())["gaps"]
    assert len(gaps) == 2 and all("not in date order" in g["error"] for g in gaps)
    assert load(path).apps["events_since"].isna().all()  # not evaluated, never guessed
    with FakeScalingo(world, per_page=4) as fake:
        path = _collect(fake, tmp_path / "newest", events_days=30, per_page=4, max_event_pages=3)
    assert json.loads((path / "manifest.json").read_text())["gaps"] == []
    data = load(path)
    start = data.info.collected_at - dt.timedelta(days=30)
    # cut short: the period starts at the oldest event read, later than the window's start
    assert (data.apps["events_since"] > pd.Timestamp(start)).all()


@pytest.mark.parametrize("style", ["null", "repeat"])
def test_done_when_paged_lists_values_in_events_and_2fa_off(tmp_path, style):
    """Issue 8's first "done when": users/self only on auth, collaborator lists paged,
    variable values in events: a complete snapshot, no value on disk, the same findings as
    before plus owner_without_2fa."""
    from scalingo_audit.checks import run_checks

    from .fakeapi import plant_variable_events

    world = make_world(owned=6, collaborated=0, collaborators_per_app=5, events_per_app=6)
    with FakeScalingo(world, per_page=4) as fake:  # before: one page each, 2FA on
        before = run_checks(load(_collect(fake, tmp_path / "before", events_days=30, per_page=4)))
    planted = plant_variable_events(world, "DONE-WHEN-VALUE")
    world.tfa["enabled"] = False
    with FakeScalingo(world, per_page=4, paginate_collaborators=2, paginate_apps=2,
                      next_page_style=style) as fake:  # fmt: skip
        path = _collect(fake, tmp_path / "after", events_days=30, per_page=4)
        assert fake.count(r"/v1/users/self$", status=200) == fake.count(r"^/auth/v1/users/self$")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["gaps"] == [] and manifest["origin"] == "api"
    from scalingo_audit.redact import redact_events

    values = sum(redact_events({"events": evs})[1] for evs in world.events.values())
    assert manifest["redacted"]["variable_values"] == values > len(planted)
    for p in path.rglob("*"):
        if p.is_file():
            assert b"DONE-WHEN-VALUE" not in p.read_bytes(), p
    after = run_checks(load(path))
    key = ["check_id", "region", "app", "email", "token_name", "severity"]

    def rows(f: pd.DataFrame) -> list[tuple[Any, ...]]:
        return sorted(
            tuple("" if pd.isna(v) else v for v in r) for r in f[key].itertuples(index=False)
        )

    new = after[after["check_id"] == "owner_without_2fa"]
    assert list(new["email"]) == ["ops@acme.example"]
    assert rows(after[after["check_id"] != "owner_without_2fa"]) == rows(before)
