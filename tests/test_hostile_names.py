"""Names are data, never paths: a world whose app and region names are path syntax,
control characters, 10,000 characters or text that is not valid Unicode collects, loads,
reports and diffs, with nothing written outside the output directory."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scalingo_audit import load
from scalingo_audit.collect import collect
from scalingo_audit.snapshot import MAX_SEGMENT, name_segment

from . import clirun
from .fakeapi import FakeScalingo, World, make_world

LONG = "x" * 9_990 + "-long-name"
HOSTILE = [
    "../",
    "..",
    ".",
    "/",
    "../../../../tmp/escaped",
    "a/../../b",
    "nul\0byte",
    "new\nline\r",
    LONG,
    "rtl-\u202egnp.exe",
    "e\u0301-combining-é",
    "Shop",  # and "shop": one directory each on a case-insensitive disk
    "shop",
    "con",
    "lone-\udc80-surrogate",
    "emoji-\U0001f600",
    "~",
    "%2E%2E",
]
FAST: dict[str, Any] = {"period": 1.0, "backoff": 0.01, "timeout": 5.0, "progress": False}


def hostile_world() -> World:
    """Every shared app (one request per app, one directory per app) gets a hostile name."""
    world = make_world(owned=2, collaborated=len(HOSTILE), events_per_app=3)
    shared = [a for _, a in world.all_apps() if not world.owns(a)]
    for app, name in zip(shared, HOSTILE, strict=True):
        app["name"] = name
        for c in world.collaborators.get(app["id"], []):
            c["app_name"] = name
        for e in world.events.get(app["id"], []):
            e["app_name"] = name
    return world


def everything_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_name_segments_are_plain_bounded_and_distinct():
    segments = [name_segment(n) for n in HOSTILE]
    assert len(set(segments)) == len(HOSTILE)
    assert len({s.casefold() for s in segments}) == len(HOSTILE)
    for s in segments:
        assert s not in ("", ".", "..") and "/" not in s and "\0" not in s
        assert s.isascii() and s.isprintable() and len(s) <= MAX_SEGMENT
        assert s.casefold() not in ("con", "nul", "aux", "prn")
    assert name_segment("osc-fr1") == "osc-fr1"  # plain names stay readable
    assert name_segment("..") == "%2E%2E"


def _run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    return clirun.run(*args, cwd=cwd, env={**base, **(env or {})})


@pytest.mark.slow
def test_hostile_names_collect_load_report_and_diff_inside_the_output_dir(tmp_path):
    work = tmp_path / "work"  # every output goes under here; tmp_path must stay otherwise empty
    work.mkdir()
    world = hostile_world()
    with FakeScalingo(world, per_page=2) as fake:
        first = collect(work / "w1", env=fake.env(), events_days=30, **FAST)
        # one collaborator leaves the app named "..": the diff must say so
        dotdot = next(a for _, a in world.all_apps() if a["name"] == "..")
        gone = world.collaborators[dotdot["id"]].pop()
        second = collect(work / "w2", env=fake.env(), events_days=30, **FAST)
        # a hostile region name (SCALINGO_REGION with SCALINGO_API_URL) is data too
        env = {**fake.env("osc-fr1"), "SCALINGO_REGION": "../../../escaped-region"}
        third = collect(work / "w3", env=env, **FAST)
        requested = fake.paths()
    assert set(tmp_path.iterdir()) == {work}
    assert {p.name for p in work.iterdir()} == {"w1", "w2", "w3"}

    for snap in (first, second, third):
        manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["origin"] == "api"
        listed = {snap / f["path"] for f in manifest["files"]}
        on_disk = {p for p in everything_under(snap) if p.is_file()} - {snap / "manifest.json"}
        assert listed == on_disk  # every file is a listed raw file, nothing else
        for p in everything_under(snap):
            assert p.resolve().is_relative_to(snap.resolve())
            assert not p.is_symlink()
            assert len(p.name.encode()) <= 255

    # every app was asked for under its own name: ".." never became the parent
    m1 = json.loads((first / "manifest.json").read_text(encoding="utf-8"))
    kept = {f["app"] for f in m1["files"] if f["kind"] == "app_collaborators"}
    assert kept == set(HOSTILE), {repr(n)[:40] for n in set(HOSTILE) - kept}
    assert not any(p.endswith("/v1/collaborators") and "/apps/" in p for p in requested)
    assert m1["gaps"] == []

    data = load(first)
    # as read back, a lone surrogate (no character) is U+FFFD; the raw file keeps it exactly
    shown = {n.replace("\udc80", "\ufffd") for n in HOSTILE}
    assert shown <= set(data.apps["app_name"])
    assert shown <= set(data.memberships["app_name"])
    raw = next(first.rglob("*surrogate*")) / "collaborators.json"
    assert b"\\udc80" in raw.read_bytes()
    assert len(data.events) == sum(len(v) for v in world.events.values())
    assert load(third).info.regions == ("../../../escaped-region",)

    # diff (CLI, JSON): the removal on ".." and nothing else about access
    r = _run_cli("diff", str(first), str(second), "--format", "json", cwd=work)
    assert r.returncode == 0, r.stderr[-2000:]
    changes = json.loads(r.stdout)
    access = [c for c in changes if not str(c["change"]).startswith("finding")]
    assert [(c["app"], c["email"]) for c in access if c["email"] == gone["email"]] == [
        ("..", gone["email"])
    ], access
    assert {c["app"] for c in access} <= {".."}, access

    # report (CLI): every page under --out, nothing elsewhere
    report = work / "report"
    r = _run_cli("report", str(first), "--out", str(report), cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (report / "index.html").is_file()
    for p in everything_under(report):
        assert p.resolve().is_relative_to(report.resolve())
    assert set(tmp_path.iterdir()) == {work}
    assert {p.name for p in work.iterdir()} == {"w1", "w2", "w3", "report"}
