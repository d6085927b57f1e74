"""The result cache (scalingo_audit/cache.py): the demo's frames kept in the user's cache
directory, keyed by the package's code; the report's audit handed to its kernels."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scalingo_audit import cache, sources
from scalingo_audit.checks import run_checks


@pytest.fixture
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache directory, in ``tmp_path`` (platformdirs reads XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "scalingo-audit"


def test_save_and_read_back(tmp_path: Path) -> None:
    frame = pd.DataFrame({"email": ["a@acme.example", None]}, dtype="string")
    path = cache.save({"frame": frame}, "k1", tmp_path)
    assert path == tmp_path / "k1.pickle"
    found = cache.read("k1", tmp_path, dict)
    assert found is not None
    pd.testing.assert_frame_equal(found["frame"], frame)
    assert cache.read("k1", tmp_path, list) is None  # not the kind asked for
    assert cache.read("missing", tmp_path, dict) is None
    assert [p.name for p in tmp_path.iterdir()] == ["k1.pickle"]  # no temporary file left


def test_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    (tmp_path / "k.pickle").write_bytes(b"\x80\x05not a pickle")
    assert cache.read("k", tmp_path, dict) is None


def test_remembered_computes_once_then_reads_back(user_cache: Path) -> None:
    calls: list[int] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    assert cache.remembered("thing", dict, compute) == {"n": 1}
    assert cache.remembered("thing", dict, compute) == {"n": 1}
    assert len(calls) == 1
    assert stat.S_IMODE(user_cache.stat().st_mode) == 0o700
    (entry,) = user_cache.glob("thing-*.pickle")
    entry.write_bytes(b"damaged")
    assert cache.remembered("thing", dict, compute) == {"n": 2}  # recomputed, rewritten
    assert cache.remembered("thing", dict, compute) == {"n": 2}


def test_other_code_is_another_key_and_replaces_the_old_entry(
    user_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cache.remembered("thing", str, lambda: "old code") == "old code"
    monkeypatch.setattr(cache, "code_digest", lambda: "0" * 64)
    assert cache.remembered("thing", str, lambda: "new code") == "new code"
    assert len(list(user_cache.glob("thing-*.pickle"))) == 1  # the old entry is gone


def test_an_unwritable_cache_directory_computes_each_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert [cache.remembered("thing", int, compute) for _ in range(2)] == [1, 2]


def test_code_digest_follows_every_code_and_data_file(tmp_path: Path) -> None:
    digest = cache.code_digest.__wrapped__  # not memoised: the files change below
    package = tmp_path / "pkg"
    shutil.copytree(Path(cache.__file__).parent, package, ignore=shutil.ignore_patterns("*.pyc"))
    first = digest(package)
    assert first == cache.code_digest()  # the content counts, not the location
    policy = package / "demo" / "policy.yaml"
    policy.write_text(policy.read_text() + "\n# edited\n")
    second = digest(package)
    (package / "checks" / "roles.py").write_text("# edited\n", encoding="utf-8")
    third = digest(package)
    assert len({first, second, third}) == 3
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.py").write_text("ignored")
    (package / "notes.txt").write_text("ignored")
    assert digest(package) == third


def test_the_demo_frames_come_from_the_cache_and_equal_a_fresh_load(user_cache: Path) -> None:
    first = sources.load("demo")
    (entry,) = user_cache.glob("demo-frames-*.pickle")
    cached = sources.load("demo")
    fresh = sources._demo()
    for name in ("apps", "memberships", "people", "tokens", "events"):
        pd.testing.assert_frame_equal(getattr(cached, name), getattr(fresh, name))
        pd.testing.assert_frame_equal(getattr(first, name), getattr(fresh, name))
    assert cached.info == fresh.info and cached.policy == fresh.policy
    pd.testing.assert_frame_equal(run_checks(cached), run_checks(fresh))
    entry.write_bytes(b"damaged")
    pd.testing.assert_frame_equal(sources.load("demo").memberships, fresh.memberships)


def test_a_policy_given_for_the_demo_is_not_cached(user_cache: Path) -> None:
    from scalingo_audit.policy import Policy

    data = sources.load("demo", policy=Policy())
    assert data.policy == Policy()
    assert not user_cache.exists()


def test_check_demo_writes_the_cache_then_gives_the_same_output(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    argv = [sys.executable, "-m", "scalingo_audit", "check", "demo", "--format", "json"]
    # two fresh processes, not tests/clirun.py: the second has nothing but the file to read
    runs = [subprocess.run(argv, capture_output=True, text=True, env=env) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr[-2000:]
    assert len(list((tmp_path / "scalingo-audit").glob("demo-frames-*.pickle"))) == 1
    assert len(list((tmp_path / "scalingo-audit").glob("demo-audit-*.pickle"))) == 1
    assert runs[0].stdout == runs[1].stdout and '"finding_id"' in runs[0].stdout


def test_the_demo_audit_comes_from_the_cache_only_as_it_ships(user_cache: Path) -> None:
    """open_audit("demo") keeps the demo's findings with its frames (computed from the code
    alone); a policy, a date or pseudonyms are computed each time, never kept."""
    from scalingo_audit import notebook

    first = notebook.open_audit("demo")
    (entry,) = user_cache.glob("demo-audit-*.pickle")
    kept = notebook.open_audit("demo")
    fresh = notebook._computed("demo", "", "", False, "", True)
    for audit in (first, kept):
        pd.testing.assert_frame_equal(audit.findings, fresh.findings)
        pd.testing.assert_frame_equal(audit.data.memberships, fresh.data.memberships)
        assert audit.as_of == fresh.as_of and audit.expired == fresh.expired
    entry.write_bytes(b"damaged")  # a miss: computed again
    pd.testing.assert_frame_equal(notebook.open_audit("demo").findings, fresh.findings)
    entry.unlink()
    later = notebook.open_audit("demo", as_of="2027-06-01")
    assert later.as_of != fresh.as_of and not list(user_cache.glob("demo-audit-*.pickle"))
