"""history: a directory of snapshots in collection order, the snapshot before one, trends;
the demo history and its cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scalingo_audit import __version__, diff, frames, history
from scalingo_audit.demo.history import demo_history
from scalingo_audit.errors import InputError
from scalingo_audit.snapshot import write

from .test_diff import new_snapshot, old_snapshot


def test_snapshots_sorted_by_collection_time_not_name(tmp_path):
    new = write(new_snapshot(), tmp_path / "a-newer")
    old = write(old_snapshot(), tmp_path / "b-older")
    (tmp_path / "not-a-snapshot").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert history.snapshots(tmp_path) == [old, new]
    assert history.previous(new) == old.resolve()
    with pytest.raises(InputError, match="no earlier snapshot"):
        history.previous(old)
    with pytest.raises(InputError, match="single snapshot"):
        history.snapshots(new)
    with pytest.raises(InputError, match="no snapshot directories"):
        history.snapshots(tmp_path / "not-a-snapshot")
    assert history.pair("", str(new)) == (str(old.resolve()), str(new))


def test_demo_history_has_every_membership_change_and_improving_trends(tmp_path):
    paths = demo_history(tmp_path)
    assert history.snapshots(tmp_path) == paths
    changes = diff.compare(paths[-2], paths[-1])
    kinds = set(changes["change"])
    assert kinds == set(diff.CHANGES)  # every kind happens in the demo history
    assert (changes["change"] != "finding_open").sum() < 40  # a readable handful
    t = history.trends(tmp_path)
    assert list(t.columns) == frames.columns("trends")
    assert t["collected_at"].is_monotonic_increasing and len(t) == 3
    assert t["tfa_coverage"].is_monotonic_increasing
    assert t["full_collaborator_share"].is_monotonic_decreasing
    assert t["findings_high"].iloc[-1] < t["findings_high"].iloc[0]


def test_pair_without_arguments_uses_the_demo_history():
    old, new = history.pair()
    assert Path(old).parent == Path(new).parent
    assert history.snapshots(Path(new).parent)[-2:] == [Path(old), Path(new)]
    with pytest.raises(InputError, match="newer snapshot"):
        history.pair(old, "")
    # a subprocess (a CLI command, a notebook kernel) finds the same cache
    code = "from scalingo_audit import history; print('|'.join(history.pair()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{old}|{new}"


def test_a_test_run_leaves_the_real_user_cache_alone(tmp_path):
    """tests/conftest.py points the user cache directory of the test process and its
    subprocesses at a temporary one: a run building the demo history (in the process and in
    a subprocess) with a fresh HOME writes nothing under HOME."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTEST_"))}
    env["HOME"] = str(home)
    test = "tests/test_history.py::test_pair_without_arguments_uses_the_demo_history"
    r = subprocess.run(  # one process (-n 0): xdist's workers would only add start-up time
        [sys.executable, "-m", "pytest", "-q", "-n", "0", test],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout
    assert not (home / ".cache" / "scalingo-audit").exists()
    assert not os.environ["XDG_CACHE_HOME"].startswith(os.path.expanduser("~"))


def test_demo_history_is_cached_once_in_the_user_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    paths = demo_history()
    root = paths[0].parent
    assert root.parent == tmp_path / "cache" / "scalingo-audit"
    assert root.name.startswith(f"demo-history-{__version__}-")
    assert history.snapshots(root) == paths
    stamp = (paths[0] / "manifest.json").stat().st_mtime_ns
    assert demo_history() == paths  # reused, not written again
    assert (paths[0] / "manifest.json").stat().st_mtime_ns == stamp
    assert os.listdir(root.parent) == [root.name]  # no temporary directory left beside it
    # a damaged cache (a snapshot lost its manifest) is replaced by a whole one
    (paths[1] / "manifest.json").unlink()
    assert demo_history() == paths
    assert history.snapshots(root) == paths
    assert os.listdir(root.parent) == [root.name]


def test_demo_history_two_processes_at_once(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = (
        "from scalingo_audit.demo.history import demo_history\n"
        "print('|'.join(str(p) for p in demo_history()))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1]
    paths = [Path(p) for p in outs[0].split("|")]
    assert history.snapshots(paths[0].parent) == paths
    assert os.listdir(tmp_path / "cache" / "scalingo-audit") == [paths[0].parent.name]


def test_demo_history_without_a_writable_cache_dir(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    paths = demo_history()
    assert history.snapshots(paths[0].parent) == paths
    assert not str(paths[0]).startswith(str(tmp_path))
    shutil.rmtree(paths[0].parent)


def test_history_notebooks_stay_out_of_the_report():
    from scalingo_audit.report import report_notebooks

    names = [p.name for p in report_notebooks()]
    assert "06_changes.ipynb" not in names and "07_trends.ipynb" not in names
