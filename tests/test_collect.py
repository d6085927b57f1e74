"""Live collection against the local fake Scalingo API, over a real socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from scalingo_audit import AuditError, InputError, load
from scalingo_audit.api import Client, Settings
from scalingo_audit.checks import run_checks
from scalingo_audit.collect import CollectionStopped, collect
from scalingo_audit.errors import ApiError, AuthError
from scalingo_audit.policy import Policy
from scalingo_audit.snapshot import Snapshot, api_files
from scalingo_audit.sources import from_snapshot

from . import clirun
from .fakeapi import FakeClock, FakeScalingo, World, make_world
from .logcapture import logged

# much of its time spent waiting (sockets, timeouts, child processes): run beside a slow
# module (conftest)
pytestmark = pytest.mark.waits

FAST: dict[str, Any] = {"period": 1.0, "backoff": 0.02, "timeout": 2.0, "progress": False}


def run_collect(fake: FakeScalingo, out: Path, **kwargs: Any) -> tuple[Path, str]:
    with logged() as log:
        path = collect(out, env=fake.env(), **{**FAST, **kwargs})
    return path, log.getvalue()


def world_snapshot(world: World, collected_at: str) -> Snapshot:
    """The same organisation written straight from the fake's data, as files would hold it."""
    names = {a["id"]: a["name"] for _, a in world.all_apps()}
    files = api_files(
        user=world.user,
        tokens=world.tokens,
        apps={r: world.apps.get(r, []) for r in world.regions},
        collaborators={names[i]: recs for i, recs in world.collaborators.items() if i in names},
    )
    return Snapshot(
        collected_at=collected_at,
        collected_by={"email": world.user["email"], "user_id": world.user["id"]},
        regions=list(world.regions),
        files=files,
    )


def test_collect_writes_a_snapshot_that_loads(fake_scalingo, tmp_path):
    path, log = run_collect(fake_scalingo, tmp_path / "snap")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["collected_by"]["email"] == "ops@acme.example"
    assert manifest["regions"] == ["osc-fr1", "osc-secnum-fr1"]
    assert manifest["gaps"] == []
    assert manifest["requests"] == fake_scalingo.count()
    data = load(path)
    world = fake_scalingo.world
    assert len(data.apps) == len(world.all_apps())
    owners = data.memberships[data.memberships["role"] == "owner"]
    assert len(owners) == len(world.all_apps())
    expected = sum(len(world.collaborators.get(a["id"], [])) for _, a in world.all_apps())
    assert len(data.memberships) - len(owners) == expected
    assert len(data.tokens) == len(world.tokens)
    assert "apps" in log and "0 coverage gap(s)" in log
    assert not list(tmp_path.glob(".snap*"))  # no temporary directory left behind


def test_request_plan_is_minimal_at_scale(tmp_path):
    world = make_world(owned=300, collaborated=40)
    with FakeScalingo(world) as fake:
        path, log = run_collect(fake, tmp_path / "snap")
        assert fake.count() <= 2 * 2 + 40 + 5  # + exchange, regions, tokens, users/self, tfa
        assert fake.count(r"/v1/apps/[^/]+/collaborators$") == 40
        assert fake.count(r"/v1/collaborators$") == 2
    assert json.loads((path / "manifest.json").read_text())["requests"] <= 49
    assert len(load(path).apps) == 340
    assert "osc-fr1: 170 apps (150 owned, 20 shared)" in log
    assert "requests/min" in log


def test_rate_limit_is_respected_without_any_429(tmp_path):
    world = make_world(owned=20, collaborated=150, collaborators_per_app=2)
    with FakeScalingo(world) as fake:
        # real time (the client's window starts when a response arrives, whatever the
        # latency): 60 requests per quarter second on both sides, over 150 requests
        fake.rate_limit(per_window=60, window_seconds=0.25, retry_after=True)
        path, _ = run_collect(fake, tmp_path / "snap", rate_limit=60, period=0.25)
        assert fake.rate_limited == 0
        assert fake.count(status=429) == 0
        assert fake.count() > 150
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["gaps"] == []
    assert len(load(path).apps) == 170


@pytest.mark.parametrize("retry_after", [True, False])
def test_429s_from_a_stricter_server_are_retried(tmp_path, retry_after):
    world = make_world(owned=10, collaborated=70, collaborators_per_app=1)
    clock = FakeClock()  # the server's window moves as the client waits: no real sleep
    with FakeScalingo(world, clock=clock) as fake:
        fake.rate_limit(per_window=30, window_seconds=1.0, retry_after=retry_after)
        path, _ = run_collect(
            fake, tmp_path / "snap", rate_limit=1000, period=1.0, backoff=0.3,
            clock=clock.monotonic, sleep=clock.sleep,
        )  # fmt: skip
        assert fake.rate_limited > 0  # the server did push back ...
        assert clock.sleeps and len(clock.sleeps) <= fake.rate_limited
        if retry_after:  # "Retry-After: 1" (whole seconds) is what the client waited
            assert set(clock.sleeps) == {1.0}
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["gaps"] == []  # ... and nothing was lost
    assert len(load(path).apps) == 80


def test_transient_faults_end_as_retried_successes(fake_scalingo, tmp_path):
    fake = fake_scalingo
    fake.fail(r"/osc-fr1/v1/apps$", 500, times=2)
    fake.fail(r"/auth/v1/tokens$", 429, times=2)
    fake.fail(r"/osc-secnum-fr1/v1/collaborators$", 429, times=1, retry_after=1)
    fake.fail(r"/auth/v1/tokens/exchange$", 503, times=1)
    fake.delay(r"/osc-secnum-fr1/v1/apps$", 1.5, times=1)
    fake.malformed(r"/v1/users/self$", times=1)
    clock = FakeClock()  # the waits between attempts (the timeout is a real socket's)
    path, _ = run_collect(
        fake, tmp_path / "snap", timeout=0.5, clock=clock.monotonic, sleep=clock.sleep
    )
    assert 1.0 in clock.sleeps  # the collaborators list's Retry-After: 1
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["gaps"] == []
    assert len(load(path).apps) == len(fake.world.all_apps())


def test_bearer_expiring_mid_run_is_exchanged_again(tmp_path):
    world = make_world(owned=4, collaborated=6)
    with FakeScalingo(world, bearer_ttl=0.5, claimed_bearer_ttl=3600) as fake:
        fake.delay(r"/v1/apps/[^/]+/collaborators$", 0.6, times=1)
        path, _ = run_collect(fake, tmp_path / "snap")
        assert fake.exchanges >= 2
        assert fake.count(status=401) >= 1
    assert json.loads((path / "manifest.json").read_text())["gaps"] == []


def test_unreadable_apps_become_coverage_gaps_and_collection_carries_on(fake_scalingo, tmp_path):
    fake = fake_scalingo
    shared = [a["name"] for _, a in fake.world.all_apps() if not fake.world.owns(a)]
    assert len(shared) >= 2
    fake.fail(rf"/v1/apps/{shared[0]}/collaborators$", 403, times=None)
    fake.fail(rf"/v1/apps/{shared[1]}/collaborators$", 500, times=None)
    path, log = run_collect(fake, tmp_path / "snap")
    gaps = json.loads((path / "manifest.json").read_text())["gaps"]
    assert sorted(g["app"] for g in gaps) == sorted(shared[:2])
    # a 5xx that still fails after its retries keeps its status (ApiStatusError)
    assert {g["status"] for g in gaps} == {403, 500}
    assert "not audited" in log
    data = load(path)
    assert len(data.info.gaps) == 2
    # the CLI's check shows the gaps prominently
    r = clirun.run("check", str(path))
    assert r.returncode == 0
    assert r.stderr.count("not audited") == 2


@pytest.mark.parametrize("fault", ["404", "malformed"])
def test_a_missing_app_or_garbage_answer_is_a_gap(fake_scalingo, tmp_path, fault):
    fake = fake_scalingo
    app = next(a["name"] for _, a in fake.world.all_apps() if not fake.world.owns(a))
    if fault == "404":
        fake.fail(rf"/v1/apps/{app}/collaborators$", 404, times=None)
    else:
        fake.malformed(rf"/v1/apps/{app}/collaborators$", times=None)
    path, _ = run_collect(fake, tmp_path / "snap")
    (gap,) = json.loads((path / "manifest.json").read_text())["gaps"]
    assert gap["app"] == app
    assert ("404" in gap["error"]) if fault == "404" else ("malformed JSON" in gap["error"])
    assert len(load(path).apps) == len(fake.world.all_apps())


def test_a_failing_owned_collaborators_list_falls_back_to_per_app_requests(fake_scalingo, tmp_path):
    fake = fake_scalingo
    fake.fail(r"/osc-fr1/v1/collaborators$", 500, times=None)
    path, _ = run_collect(fake, tmp_path / "snap")
    gaps = json.loads((path / "manifest.json").read_text())["gaps"]
    assert [g["request"] for g in gaps] == ["GET /v1/collaborators"]
    data = load(path)
    world = fake.world
    expected = sum(len(world.collaborators.get(a["id"], [])) for _, a in world.all_apps())
    assert (data.memberships["role"] != "owner").sum() == expected


def test_pagination_is_followed(tmp_path):
    world = make_world(owned=9, collaborated=4, events_per_app=7)
    with FakeScalingo(world, per_page=3, paginate_apps=2) as fake:
        path, _ = run_collect(fake, tmp_path / "snap", events_days=30, per_page=3)
        assert fake.count(r"/v1/apps$") > 2
    data = load(path)
    assert len(data.apps) == 13
    assert len(data.events) == sum(len(v) for v in world.events.values())


def test_events_stop_at_the_window_and_the_page_cap(tmp_path):
    world = make_world(owned=2, collaborated=0, events_per_app=40)  # events 7 hours apart
    with FakeScalingo(world, per_page=5) as fake:
        path, _ = run_collect(fake, tmp_path / "a", events_days=1, per_page=5)
        one_day = fake.count(r"/events$")
        fake.reset_log()
        run_collect(fake, tmp_path / "b", events_days=30, per_page=5, max_event_pages=3)
        capped = fake.count(r"/events$")
    assert one_day == 2  # 5 events cover 28 hours: one page per app reaches the window
    assert capped == 2 * 3
    assert json.loads((path / "manifest.json").read_text())["events_days"] == 1


def test_invalid_token_and_missing_token(fake_scalingo, tmp_path):
    env = {**fake_scalingo.env(), "SCALINGO_API_TOKEN": "tk-us-wrong"}
    with pytest.raises(AuthError, match="API token was rejected") as exc:
        collect(tmp_path / "snap", env=env, **FAST)
    assert "tk-us-wrong" not in str(exc.value)
    with pytest.raises(AuthError, match="SCALINGO_API_TOKEN is not set"):
        collect(tmp_path / "snap", env={}, **FAST)
    assert not (tmp_path / "snap").exists()


def test_token_revoked_mid_run_keeps_what_was_collected(fake_scalingo, tmp_path):
    fake = fake_scalingo
    calls = {"n": 0}

    def revoke_after_three(label: str, status: int | None) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            fake.revoke_api_token()
            fake.expire_bearers()

    settings = Settings.from_env(fake.env())
    client = Client(settings, period=1.0, backoff=0.01, on_request=revoke_after_three)
    client.get(fake.auth_url, "/v1/regions")
    client.get(fake.auth_url, "/v1/tokens")
    client.get(fake.api_url("osc-fr1"), "/v1/apps")
    with pytest.raises(AuthError, match="rejected"):
        client.get(fake.api_url("osc-fr1"), "/v1/collaborators")
    # through collect: an incomplete snapshot beside the target, never the target itself
    fake.revoke_api_token(fake.api_token)  # valid again
    fake.fail(r"/osc-secnum-fr1/v1/apps$", 401, times=None)
    with pytest.raises(CollectionStopped, match=r"rejected the bearer twice.*incomplete") as exc:
        run_collect(fake, tmp_path / "snap")
    assert isinstance(exc.value.__cause__, AuthError)
    assert not (tmp_path / "snap").exists()
    kept = tmp_path / "snap.incomplete"
    manifest = json.loads((kept / "manifest.json").read_text())
    assert manifest["origin"] == "api-incomplete"
    assert "incomplete" in manifest["gaps"][-1]["error"]
    assert len(load(kept).apps) == len(fake.world.apps["osc-fr1"])


def test_region_override_and_single_api_url(fake_scalingo, tmp_path):
    fake = fake_scalingo
    path, _ = run_collect(fake, tmp_path / "one", region="osc-secnum-fr1")
    assert load(path).info.regions == ("osc-secnum-fr1",)
    fake.reset_log()
    path2 = collect(tmp_path / "two", env=fake.env("osc-fr1"), **FAST)
    assert set(load(path2).apps["region"]) == {"osc-fr1"}
    assert fake.count(r"/auth/v1/regions$") == 0  # SCALINGO_API_URL: no region discovery
    with pytest.raises(AuditError, match="region 'nowhere' is not available"):
        run_collect(fake, tmp_path / "three", region="nowhere")


def test_check_on_collected_snapshot_equals_check_on_the_same_org_from_files(tmp_path):
    world = make_world(owned=25, collaborated=8, collaborators_per_app=4)
    with FakeScalingo(world) as fake:
        path, _ = run_collect(fake, tmp_path / "snap")
    collected = load(path)
    policy = Policy(internal_domains=("acme.example",), service_accounts=("ops@acme.example",))
    as_of = collected.info.collected_at
    from_files = from_snapshot(world_snapshot(world, as_of.isoformat()), policy=policy)
    a = run_checks(collected, policy=policy, as_of=as_of)
    b = run_checks(from_files, policy=policy, as_of=as_of)
    assert len(a) > 10
    pd.testing.assert_frame_equal(a, b)


def test_api_errors_carry_status_and_request_without_secrets(fake_scalingo):
    fake = fake_scalingo
    fake.fail(r"/osc-fr1/v1/apps/nope/collaborators$", 404, times=1)
    client = Client(Settings.from_env(fake.env()), period=1.0, backoff=0.01)
    with pytest.raises(ApiError) as exc:
        client.get(fake.api_url("osc-fr1"), "/v1/apps/nope/collaborators")
    assert exc.value.status == 404
    assert exc.value.request == "GET /v1/apps/nope/collaborators"
    assert fake.api_token not in repr(client.__dict__) + repr(Settings.from_env(fake.env()))


CANARY = "tk-us-CANARY-6f1d2c9a8b7e4d3c2b1a0f9e8d7c6b5a"


def _files_containing(root: Path, needle: str) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and needle.encode() in p.read_bytes():
            hits.append(str(p))
    return hits


def test_canary_token_never_leaks(tmp_path):
    world = make_world(owned=5, collaborated=3, events_per_app=3, api_token=CANARY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    with FakeScalingo(world) as fake:
        env.update(fake.env())
        assert env["SCALINGO_API_TOKEN"] == CANARY
        snap = tmp_path / "snap"
        out = []
        r = subprocess.run(  # a real process: the token's whole way, from its environment
            [sys.executable, "-m", "scalingo_audit", "collect", "--out", str(snap), "--events-days", "3"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
        )  # fmt: skip
        out.append(r.stdout + r.stderr)
        assert r.returncode == 0, r.stderr
        bad = clirun.run(
            "collect", "--out", str(tmp_path / "x"),
            env={**env, "SCALINGO_API_TOKEN": CANARY + "-revoked"}, cwd=tmp_path,
        )  # fmt: skip
        out.append(bad.stdout + bad.stderr)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
        # the token only ever travelled as the exchange's basic-auth password
        seen = {(s.method, s.path, s.where) for s in fake.sightings(CANARY)}
        assert seen == {("POST", "/auth/v1/tokens/exchange", "basic-auth-password")}
    rep = clirun.run("report", str(snap), "--out", str(tmp_path / "report"), env=env, cwd=tmp_path)
    out.append(rep.stdout + rep.stderr)
    assert rep.returncode == 0, rep.stderr
    assert (tmp_path / "report" / "index.html").is_file()
    assert _files_containing(tmp_path, CANARY) == []
    assert all(CANARY not in text for text in out)


def test_incremental_event_collection_fetches_only_new_events(tmp_path):
    world = make_world(owned=6, collaborated=4, events_per_app=12)
    apps = len(world.all_apps())
    with FakeScalingo(world, per_page=5) as fake:
        first, _ = run_collect(fake, tmp_path / "w1", events_days=30, per_page=5)
        first_events = load(first).events
        fake.reset_log()
        second, _ = run_collect(fake, tmp_path / "w2", since=first, per_page=5)
        # no new events: one events page per app, plus the usual plan
        assert fake.count() <= 2 * 2 + 4 + 5 + apps
        assert fake.count(r"/events$") == apps
        assert sorted(load(second).events["event_id"]) == sorted(first_events["event_id"])
        # a new event on one app is picked up; nothing is duplicated or lost
        _region, app = world.all_apps()[0]
        new = {**world.events[app["id"]][0], "id": "ev-new-1", "created_at": "2099-01-01T00:00:00Z"}
        world.events[app["id"]].insert(0, new)
        third, _ = run_collect(fake, tmp_path / "w3", since=second, per_page=5)
    ids = list(load(third).events["event_id"])
    assert len(ids) == len(set(ids)) == len(first_events) + 1
    manifest = json.loads((third / "manifest.json").read_text())
    assert manifest["events_days"] >= 30
    assert any("carried forward" in f["request"] for f in manifest["files"])


def test_since_needs_a_snapshot_with_events(fake_scalingo, tmp_path):
    first, _ = run_collect(fake_scalingo, tmp_path / "a")
    with pytest.raises(InputError, match="--since needs a snapshot collected with --events-days"):
        run_collect(fake_scalingo, tmp_path / "b", since=first)


# --- hosts: users/self and the collecting account's own 2FA on the auth API -------------


def _owner_2fa_findings(path: Path) -> pd.DataFrame:
    f = run_checks(load(path))
    return f[f["check_id"] == "owner_without_2fa"]


@pytest.mark.parametrize("enabled", [False, True])
def test_users_self_and_tfa_come_from_the_auth_api(tmp_path, enabled):
    world = make_world(owned=3, collaborated=2, tfa_enabled=enabled)
    with FakeScalingo(world) as fake:  # users/self answers on auth only
        path, _ = run_collect(fake, tmp_path / "snap")
        assert fake.count(r"^/auth/v1/users/self$", status=200) == 1
        assert fake.count(r"^/auth/v1/client/tfa$", status=200) == 1
        assert fake.count(r"^/osc-[a-z0-9-]+/v1/users/self$") == 0
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["gaps"] == []
    assert manifest["collected_by"]["tfa"] is enabled
    assert {f["path"] for f in manifest["files"]} >= {
        "raw/auth/users_self.json",
        "raw/auth/tfa.json",
    }
    data = load(path)
    m = data.memberships
    owned = m[(m["role"] == "owner") & (m["email"] == "ops@acme.example")]
    assert len(owned) == 3 and (owned["tfa"] == enabled).all()
    others = m[(m["role"] == "owner") & (m["email"] != "ops@acme.example")]
    assert len(others) == 2 and others["tfa"].isna().all()  # other owners: not exposed
    person = data.people.set_index("email_key").loc["ops@acme.example"]
    assert bool(person["tfa"]) is enabled
    found = _owner_2fa_findings(path)
    if enabled:
        assert found.empty
    else:
        (row,) = found.to_dict("records")  # one finding per account, not per app
        assert row["email"] == "ops@acme.example" and row["severity"] == "high"
        assert pd.isna(row["app"]) and pd.isna(row["region"])
        assert "User settings → Authentication" in row["remediation"]


def test_owner_without_2fa_needs_an_owned_app(tmp_path):
    world = make_world(owned=0, collaborated=3, tfa_enabled=False)
    with FakeScalingo(world) as fake:
        path, _ = run_collect(fake, tmp_path / "snap")
    assert _owner_2fa_findings(path).empty  # 2FA off, but owns nothing: near miss
    assert bool(load(path).people.set_index("email_key").loc["ops@acme.example", "tfa"]) is False


def test_users_self_falls_back_to_the_regional_api_on_404(tmp_path):
    world = make_world(owned=2, collaborated=1)
    with FakeScalingo(world, users_self_regional=True) as fake:
        fake.fail(r"^/auth/v1/users/self$", 404, times=None)
        path, _ = run_collect(fake, tmp_path / "snap")
        assert fake.count(r"^/osc-fr1/v1/users/self$", status=200) == 1
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["gaps"] == []
    assert manifest["collected_by"]["email"] == "ops@acme.example"
    assert "raw/osc-fr1/users_self.json" in {f["path"] for f in manifest["files"]}
    # another failure than 404 is not papered over by the fallback
    with FakeScalingo(world, users_self_regional=True) as fake:
        fake.fail(r"^/auth/v1/users/self$", 403, times=None)
        with pytest.raises(CollectionStopped, match="403") as exc:
            run_collect(fake, tmp_path / "other")
        assert isinstance(exc.value.__cause__, ApiError)  # kept as other.incomplete


@pytest.mark.parametrize("fault", [404, 500, "garbage"])
def test_unreadable_tfa_is_a_coverage_gap(tmp_path, fault):
    # collaborates nowhere: no collaborator row tells its 2FA either
    world = make_world(owned=2, collaborated=0, tfa_enabled=False)
    with FakeScalingo(world) as fake:
        if fault == "garbage":
            fake.fail(r"/v1/client/tfa$", 200, times=None, body={"tfa": {"enabled": "maybe"}})
        else:
            fake.fail(r"/v1/client/tfa$", int(fault), times=None)
        path, log = run_collect(fake, tmp_path / "snap")
    manifest = json.loads((path / "manifest.json").read_text())
    (gap,) = manifest["gaps"]
    assert gap["request"] == "GET /v1/client/tfa" and gap["app"] is None
    assert manifest["collected_by"]["tfa"] is None
    assert "not audited: GET /v1/client/tfa" in log
    data = load(path)
    assert data.memberships.loc[data.memberships["role"] == "owner", "tfa"].isna().all()
    assert _owner_2fa_findings(path).empty


def test_api_url_alone_is_named_by_the_region_list(fake_scalingo, tmp_path):
    fake = fake_scalingo
    env = {**fake.env("osc-secnum-fr1")}
    del env["SCALINGO_REGION"]  # only SCALINGO_API_URL: the region list names it
    path = collect(tmp_path / "one", env=env, **FAST)
    assert load(path).info.regions == ("osc-secnum-fr1",)
    assert set(load(path).apps["region"]) == {"osc-secnum-fr1"}
    assert fake.count(r"^/osc-fr1/") == 0  # only that API is used
    manifest_text = (path / "manifest.json").read_text()
    assert "custom" not in manifest_text
    env["SCALINGO_API_URL"] = fake.base_url + "/elsewhere"
    with pytest.raises(InputError, match="set SCALINGO_REGION") as exc:
        collect(tmp_path / "two", env=env, **FAST)
    assert "custom" not in str(exc.value)
    r = clirun.run(
        "collect", "--out", str(tmp_path / "three"),
        env={**{k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}, **env},
    )  # fmt: skip
    assert r.returncode == 2 and "SCALINGO_REGION" in r.stderr and "Traceback" not in r.stderr
