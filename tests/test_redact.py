"""No secret on disk: variable values carried by app events are redacted at collection,
before anything is written, and in memory when an older snapshot still holds them."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scalingo_audit import load, snapshot
from scalingo_audit.errors import DataWarning
from scalingo_audit.evidence import verify
from scalingo_audit.redact import MARKER, redact_event, redact_events

from . import clirun
from .fakeapi import FakeScalingo, make_world, plant_variable_events
from .orgs import COLLECTED_AT, app, collab
from .orgs import snapshot as org_snapshot

SECRET = "CANARY-VAR-5b8e1f0c3a9d"


def _hits(root: Path, needles: list[str]) -> list[str]:
    """Files under ``root`` holding any needle, looking inside zip containers (.xlsx)."""
    found = []
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        blobs = [p.read_bytes()]
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                blobs += [z.read(n) for n in z.namelist()]
        if any(n.encode() in b for b in blobs for n in needles):
            found.append(str(p))
    return found


def _values(event: dict) -> list[str]:
    """Every value/old_value of a variable event, at any depth."""
    if "variable" not in event["type"]:
        return []
    found: list[str] = []

    def walk(obj: object) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in ("value", "old_value") and isinstance(v, str):
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk(event["type_data"])
    return found


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return clirun.run(*args, env=env, cwd=cwd)


# --- the rule itself ---------------------------------------------------------------------


def test_every_value_of_a_variable_event_is_redacted_and_names_are_kept():
    event: dict[str, Any] = {
        "id": "ev-1",
        "type": "edit_variables",
        "type_data": {
            "new_vars": [{"name": "A", "value": "s1"}],
            "updated_vars": [{"name": "B", "value": "s2", "old_value": "s3"}],
            "deleted_vars": [{"name": "C", "value": "s4"}],
            "deeper": {"list": [{"value": 42}], "value": None},
        },
    }
    out, n = redact_event(event)
    assert n == 5
    text = json.dumps(out)
    assert not any(s in text for s in ("s1", "s2", "s3", "s4", "42"))
    assert [v["name"] for k in ("new_vars", "updated_vars", "deleted_vars")
            for v in out["type_data"][k]] == ["A", "B", "C"]  # fmt: skip
    assert out["type_data"]["updated_vars"][0] == {
        "name": "B",
        "value": MARKER,
        "old_value": MARKER,
    }
    assert out["type_data"]["deeper"]["value"] is None  # nothing to hide
    assert event["type_data"]["new_vars"][0]["value"] == "s1"  # the input is not changed
    assert redact_event(out) == (out, 0)  # redacting twice changes nothing
    # near misses: a "value" outside a variable event is not a variable's value
    other = {"id": "ev-2", "type": "new_domain", "type_data": {"value": "shop.example"}}
    assert redact_event(other) == (other, 0)
    for kind in ("new_variable", "edit_variable", "delete_variable"):
        e = {"type": kind, "type_data": {"name": "X", "value": "v", "old_value": "o"}}
        assert redact_event(e)[0]["type_data"] == {
            "name": "X",
            "value": MARKER,
            "old_value": MARKER,
        }
    assert redact_events({"events": [event, "junk"]})[1] == 5
    assert redact_events("not a body") == ("not a body", 0)


# --- collect -----------------------------------------------------------------------------


def test_collect_writes_no_value_and_the_manifest_counts_them(tmp_path):
    world = make_world(owned=3, collaborated=2, events_per_app=4)
    planted = plant_variable_events(world, SECRET)
    fake_values = [v for evs in world.events.values() for e in evs for v in _values(e)]
    assert set(planted) <= set(fake_values)
    with FakeScalingo(world, per_page=3) as fake:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")},
               **fake.env()}  # fmt: skip
        r = _run("collect", "--out", str(tmp_path / "snap"), "--events-days", "7",
                 env=env, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    snap = tmp_path / "snap"
    manifest = json.loads((snap / "manifest.json").read_text())
    assert manifest["redacted"] == {"marker": MARKER, "variable_values": len(fake_values)}
    assert verify(snap).ok  # the hashes are those of the redacted files
    assert _hits(tmp_path, fake_values) == []
    assert SECRET not in r.stdout + r.stderr
    assert f"{len(fake_values)} variable value(s) redacted" in r.stderr
    data = load(snap)
    variables = data.events[data.events["type"].str.contains("variable")]
    n_variable = sum(1 for evs in world.events.values() for e in evs if "variable" in e["type"])
    assert len(variables) == n_variable
    assert variables["type_data"].str.contains(MARKER, regex=False).all()
    assert variables["type_data"].str.contains("API_KEY", regex=False).any()  # names kept


def test_no_planted_value_in_any_file_or_output(tmp_path):
    """The canary-token test's model, for variable values: collect, check, report, review
    and diff never write or print one."""
    world = make_world(owned=4, collaborated=2, events_per_app=3)
    planted = plant_variable_events(world, SECRET)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    out: list[str] = []
    with FakeScalingo(world, per_page=4) as fake:
        env.update(fake.env())
        for name in ("w1", "w2"):
            r = _run("collect", "--out", str(tmp_path / name), "--events-days", "7",
                     env=env, cwd=tmp_path)  # fmt: skip
            out.append(r.stdout + r.stderr)
            assert r.returncode == 0, r.stderr
            plant_variable_events(world, SECRET + "-later")  # the second one sees more
    snap = str(tmp_path / "w1")
    commands = [
        ("check", snap),
        ("check", snap, "--format", "json"),
        ("check", snap, "--format", "csv"),
        ("report", snap, "--out", str(tmp_path / "report")),
        ("review", snap, "--out", str(tmp_path / "review.xlsx")),
        ("review", snap, "--out", str(tmp_path / "review.csv")),
        ("diff", snap, str(tmp_path / "w2")),
        ("diff", snap, str(tmp_path / "w2"), "--format", "json"),
    ]
    for args in commands:
        r = _run(*args, env=env, cwd=tmp_path)
        assert r.returncode in (0, 1), (args, r.stderr)
        out.append(r.stdout + r.stderr)
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "review.xlsx").is_file()
    assert len(planted) > 20
    assert _hits(tmp_path, [SECRET]) == []
    assert all(SECRET not in text for text in out)


# --- older snapshots ---------------------------------------------------------------------


def _old_snapshot(tmp_path: Path) -> tuple[Path, list[str]]:
    """A snapshot as written before redaction existed: values in its event pages."""
    s = org_snapshot([app("shop-api")], [collab("shop-api", "dev@agency.example")])
    values = [f"{SECRET}-old-{i}" for i in range(3)]
    pages = [{"events": [
        {"id": "ev-a", "created_at": COLLECTED_AT, "type": "edit_variable", "app_id": "ap-shop-api",
         "app_name": "shop-api", "user": {"email": "ops@acme.example"},
         "type_data": {"name": "DATABASE_URL", "value": values[0], "old_value": values[1]}},
        {"id": "ev-b", "created_at": COLLECTED_AT, "type": "new_variable", "app_id": "ap-shop-api",
         "app_name": "shop-api", "user": {"email": "ops@acme.example"},
         "type_data": {"name": "API_KEY", "value": values[2]}},
    ]}]  # fmt: skip
    s.files.append(snapshot.RawFile("raw/osc-fr1/apps/shop-api/events.page-1.json", "app_events",
                                    "osc-fr1", "GET /v1/apps/shop-api/events?page=1", pages[0],
                                    app="shop-api"))  # fmt: skip
    s.events_days = 30
    path = snapshot.write(s, tmp_path / "old")
    assert "redacted" not in json.loads((path / "manifest.json").read_text())
    return path, values


def test_loading_an_older_snapshot_redacts_in_memory_and_warns_once(tmp_path):
    path, values = _old_snapshot(tmp_path)
    with pytest.warns(DataWarning) as caught:
        data = load(path)
    mine = [w for w in caught if issubclass(w.category, DataWarning)]
    assert len(mine) == 1
    assert "3 environment variable value(s)" in str(mine[0].message)
    assert not any(v in str(mine[0].message) for v in values)
    text = data.events["type_data"].str.cat()
    assert not any(v in text for v in values) and MARKER in text
    # the CLI prints the warning once, on one line, and no value anywhere
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    r = _run("check", str(path), "--format", "json", env=env, cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    assert r.stderr.count("redacted in memory") == 1
    assert not any(v in r.stdout + r.stderr for v in values)
    with pytest.raises(DataWarning), warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load(path)
    # near miss: a snapshot without values loads without the warning
    clean = snapshot.write(org_snapshot([app("shop-api")]), tmp_path / "clean")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load(clean)
