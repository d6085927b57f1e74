"""The fake, checked by Scalingo's own client: the official JavaScript client (npm package
``scalingo``) reads every call the project makes from tests/fakeapi.py, and sees the same
rows the project loads. This is what keeps the fake honest: it was written from the same
notes as our client, so only a third party can catch a mistake both share.

Facts taken from the client's source (node_modules/scalingo/src): every call is
``{authApiUrl or apiUrl}/v1/<path>`` through axios with ``Authorization: Bearer``;
``Tokens.exchange`` POSTs ``{authApiUrl}/v1/tokens/exchange`` with basic auth (empty user,
the token as password); ``Regions.all``, ``Users.self``, ``TwoFactorAuth.status`` and
``Tokens.all`` use the auth API; ``Apps.all``, ``Collaborators.all``, ``Collaborators.for``
and ``Events.for`` the regional one; each unpacks the response's root key. Node and npm
come from the system (``.ci/run`` installs Debian's when missing); the package goes into a
temporary directory, never into the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scalingo_audit import load
from scalingo_audit.collect import collect

from .fakeapi import FakeScalingo, make_world, plant_variable_events

PACKAGE = "scalingo@0.14.6"  # the official client, pinned so the contract is reproducible

SCRIPT = r"""
// Drives the fake with Scalingo's official client; prints what it read as JSON on stdout.
const { clientFromToken, Client } = require("scalingo");
const authApiUrl = process.env.AUTH_URL;

async function allEvents(client, app) {
  const ids = [];
  let page = 1;
  for (let n = 0; n < 100; n++) {
    const res = await client.Events.for(app, { page, per_page: 3 });
    for (const e of res.events) ids.push(e.id);
    const p = (res.meta || {}).pagination || {};
    if (!p.next_page || p.next_page <= p.current_page) break;
    page = p.next_page;
  }
  return ids;
}

async function main() {
  const client = await clientFromToken(process.env.SCALINGO_API_TOKEN, { authApiUrl });
  const out = { regions: [], apps: {}, collaborators: {}, app_collaborators: {}, events: {} };
  const regions = await client.Regions.all();
  out.regions = regions.map((r) => r.name);
  out.user = (await client.Users.self()).email;
  out.tfa = (await client.TwoFactorAuth.status()).enabled;
  out.tokens = (await client.Tokens.all()).map((t) => [t.id, t.name, t.issued_at]);
  for (const region of regions) {
    const regional = new Client(client._token, { apiUrl: region.api, authApiUrl });
    const apps = await regional.Apps.all();
    out.apps[region.name] = apps.map((a) => [a.id, a.name, a.owner.email]);
    const owned = await regional.Collaborators.all({});
    out.collaborators[region.name] = owned.collaborators.map((c) => [c.id, c.email, c.app_name]);
    for (const app of apps) {
      const key = `${region.name}/${app.name}`;
      const rows = await regional.Collaborators.for(app.name);
      out.app_collaborators[key] = rows.map((c) => [c.id, c.email, c.app_name]);
      out.events[key] = await allEvents(regional, app.name);
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  console.error(`official client failed: ${err && (err.status || "")} ${err && err.message}`);
  process.exit(1);
});
"""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is needed for the official-client contract test (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing tool fails, never skips
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def official_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``(node, directory)``: the npm package ``scalingo`` installed in a temporary
    directory, with the contract script beside it."""
    node, npm = _tool("node"), _tool("npm")
    where = tmp_path_factory.mktemp("scalingo-js")
    r = subprocess.run(
        [npm, "install", "--prefix", str(where), "--no-audit", "--no-fund", "--ignore-scripts",
         "--no-save", "--loglevel=error", PACKAGE],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if r.returncode != 0:
        pytest.fail(f"npm install {PACKAGE} failed: {r.stderr[-2000:]}")
    assert (where / "node_modules" / "scalingo" / "package.json").is_file()
    (where / "contract.js").write_text(SCRIPT)
    yield node, where


def _read_with_official_client(fake: FakeScalingo, node: str, where: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    env.update(
        SCALINGO_API_TOKEN=fake.api_token,  # in the environment, never on a command line
        AUTH_URL=fake.auth_url,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    r = subprocess.run(
        [node, str(where / "contract.js")], capture_output=True, text=True, env=env,
        cwd=where, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert fake.api_token not in r.stdout + r.stderr
    result: dict[str, Any] = json.loads(r.stdout)
    return result


def test_the_official_client_reads_what_the_project_loads(official_client, tmp_path):
    node, where = official_client
    world = make_world(owned=4, collaborated=3, events_per_app=7, tfa_enabled=False)
    plant_variable_events(world, "contract")
    with FakeScalingo(world, per_page=3) as fake:
        seen = _read_with_official_client(fake, node, where)
        # every call the project makes was made by the official client, and answered
        for pattern in (r"^/auth/v1/tokens/exchange$", r"^/auth/v1/regions$",
                        r"^/auth/v1/users/self$", r"^/auth/v1/client/tfa$", r"^/auth/v1/tokens$",
                        r"^/osc-fr1/v1/apps$", r"^/osc-fr1/v1/collaborators$",
                        r"^/osc-fr1/v1/apps/[^/]+/collaborators$",
                        r"^/osc-fr1/v1/apps/[^/]+/events$"):  # fmt: skip
            assert fake.count(pattern, status=200) >= 1, pattern
        assert fake.count(status=404) == 0 and fake.count(status=401) == 0
        path = collect(tmp_path / "snap", env=fake.env(), progress=False,
                       period=1.0, events_days=30, per_page=3)  # fmt: skip
    data = load(path)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["gaps"] == []

    assert seen["regions"] == list(data.info.regions)
    assert seen["user"] == data.info.collected_by
    assert seen["tfa"] is manifest["collected_by"]["tfa"] is False
    tokens = data.tokens.set_index("token_id")
    assert sorted(t[0] for t in seen["tokens"]) == sorted(tokens.index)
    for token_id, name, issued_at in seen["tokens"]:
        assert tokens.loc[token_id, "name"] == name and issued_at  # renewals are visible
    for region in data.info.regions:
        apps = data.apps[data.apps["region"] == region]
        assert sorted(seen["apps"][region]) == sorted(
            [i, n, o] for i, n, o in zip(apps["app_id"], apps["app_name"], apps["owner_email"],
                                         strict=True)
        )  # fmt: skip
    # collaborators: the owned apps' list plus the other apps' own lists, as collect reads
    m = data.memberships[data.memberships["role"] != "owner"]
    theirs = {tuple(c) for rows in seen["collaborators"].values() for c in rows}
    for key, rows in seen["app_collaborators"].items():
        region, name = key.split("/", 1)
        owner = data.apps[(data.apps["region"] == region) & (data.apps["app_name"] == name)]
        if owner["owner_email"].iloc[0] == data.info.collected_by:
            assert {tuple(c) for c in rows} <= theirs  # the same rows either way
        else:
            theirs |= {tuple(c) for c in rows}
    assert sorted(theirs) == sorted(
        zip(m["collaboration_id"], m["email"], m["app_name"], strict=True)
    )
    # events: every page, the same events
    for key, ids in seen["events"].items():
        region, name = key.split("/", 1)
        ours = data.events[(data.events["region"] == region) & (data.events["app_name"] == name)]
        assert sorted(ids) == sorted(ours["event_id"]), key
    assert sum(len(v) for v in seen["events"].values()) == len(data.events) > 0


def test_a_missing_node_fails_in_ci_and_only_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="node is needed"):
        _tool("node")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _tool("node")
