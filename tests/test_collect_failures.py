"""Nothing collected is lost: malformed bodies, signals, write errors, full disks, a second
run on the same ``--out`` and the deadline, against the fake API over a socket."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scalingo_audit import InputError, load
from scalingo_audit.checks import run_checks
from scalingo_audit.collect import CollectionStopped, collect

from . import clirun
from .fakeapi import FakeScalingo, make_world
from .logcapture import logged

# much of its time spent waiting (sockets, timeouts, child processes): run beside a slow
# module (conftest)
pytestmark = pytest.mark.waits

FAST: dict[str, Any] = {"period": 1.0, "backoff": 0.01, "timeout": 2.0, "progress": False}


def run(fake: FakeScalingo, out: Path, **kwargs: Any) -> tuple[Path, str]:
    with logged() as log:
        path = collect(out, env=fake.env(), **{**FAST, **kwargs})
    return path, log.getvalue()


def manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in this process (tests/clirun.py); those below that signal it, hold it
    while a second one runs, or fill its disk start a real one."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    return clirun.run(*args, env={**base, **env}, cwd=cwd)


def only_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("scalingo-audit: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def shared_app(fake: FakeScalingo) -> str:
    return next(a["name"] for _, a in fake.world.all_apps() if not fake.world.owns(a))


# --------------------------------------------------------------------------- malformed bodies

APP_WITHOUT_ID = {"apps": [{"name": "x", "owner": {"email": "o@acme.example"}}]}
BAD_PAGINATION = {"meta": {"pagination": {"current_page": 1, "next_page": "two"}}}
MALFORMED: dict[str, list[Any]] = {
    # a root key of the wrong type, a wrong root, records that do not load, bad meta
    "apps": [
        b"null", b"[]", b'"apps"', {"apps": None}, {"apps": "x"}, {"apps": [1]}, {"nope": []},
        APP_WITHOUT_ID, {"apps": [], "meta": "bad"}, {"apps": [], "meta": {"pagination": []}},
        {"apps": [], **BAD_PAGINATION},
        {"apps": [], "meta": {"pagination": {"next_page": 1.5}}},
    ],
    "collaborators": [
        {"collaborators": None}, {"collaborators": {"a": 1}},
        {"collaborators": [{"email": "a@acme.example", "status": "accepted"}]},  # no is_limited
        {"collaborators": [{"email": "a@acme.example", "status": "accepted",
                            "is_limited": "maybe", "app_id": "ap-1"}]},
    ],
    "app_collaborators": [{"collaborators": None}, [1, 2]],
    "tokens": [{"tokens": None}, {"tokens": [{"id": "tk-1", "name": "n", "created_at": "soon"}]}],
    "regions": [{"regions": None}, {"regions": "osc-fr1"}, b"7"],
    "events": [
        {"events": None}, {"events": [{"id": "ev-1"}]}, {"events": [], **BAD_PAGINATION},
        {"events": [], "meta": {"pagination": "x"}},
    ],
}  # fmt: skip
CASES = [(call, i) for call, bodies in MALFORMED.items() for i in range(len(bodies))]


def _route(call: str, fake: FakeScalingo) -> str:
    return {
        "apps": r"/osc-fr1/v1/apps$",
        "collaborators": r"/osc-fr1/v1/collaborators$",
        "app_collaborators": rf"/v1/apps/{shared_app(fake)}/collaborators$",
        "tokens": r"/auth/v1/tokens$",
        "regions": r"/auth/v1/regions$",
        "events": rf"/v1/apps/{shared_app(fake)}/events$",
    }[call]


@pytest.mark.parametrize(("call", "index"), CASES, ids=[f"{c}-{i}" for c, i in CASES])
def test_a_malformed_body_is_a_gap_for_that_call_and_the_snapshot_loads(
    fake_scalingo, tmp_path, call, index
):
    fake = fake_scalingo
    fake.fail(_route(call, fake), 200, times=None, body=MALFORMED[call][index])
    path, log = run(fake, tmp_path / "snap", events_days=30 if call == "events" else None)
    m = manifest(path)
    assert m["origin"] == "api"  # complete, with its gap...
    assert len(m["gaps"]) >= 1
    frag = {"app_collaborators": "/collaborators"}.get(call, call)
    assert any(frag in str(g["request"]) for g in m["gaps"]), m["gaps"]
    assert "not audited" in log
    data = load(path)  # ... and check can read it
    run_checks(data)
    assert len(data.info.gaps) == len(m["gaps"])
    if call == "app_collaborators":
        (gap,) = m["gaps"]
        assert gap["app"] == shared_app(fake)
    if call == "apps":
        assert {g["region"] for g in m["gaps"]} == {"osc-fr1"}
        assert set(data.apps["region"]) == {"osc-secnum-fr1"}


@pytest.mark.parametrize("body", [{"user": None}, {"user": []}, b"[]", b"nul"])
def test_an_unreadable_collecting_account_stops_and_keeps_an_incomplete(
    fake_scalingo, tmp_path, body
):
    """Whose snapshot it is must be known: without it, stop (keeping what was collected)."""
    fake_scalingo.fail(r"/v1/users/self$", 200, times=None, body=body)
    with pytest.raises(CollectionStopped, match=r"users/self.*incomplete") as exc:
        run(fake_scalingo, tmp_path / "snap")
    assert exc.value.kept == tmp_path / "snap.incomplete"
    assert manifest(tmp_path / "snap.incomplete")["origin"] == "api-incomplete"
    assert not (tmp_path / "snap").exists()


def test_a_snapshot_with_malformed_bodies_passes_check_from_the_cli(fake_scalingo, tmp_path):
    fake = fake_scalingo
    fake.fail(r"/osc-fr1/v1/apps$", 200, times=None, body={"apps": None})
    fake.fail(r"/osc-secnum-fr1/v1/collaborators$", 200, times=None, body={"collaborators": 3})
    path, _ = run(fake, tmp_path / "snap")
    r = cli("check", str(path), env={}, cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    assert r.stderr.count("not audited") == 2


# --------------------------------------------------------------------------- signals


def _wait_for(predicate: Any, seconds: float = 60.0) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _default_signals() -> None:
    """In the child: the signals at their defaults, as in a terminal. A job started in the
    background by a non-interactive shell (a CI runner may be one) inherits SIGINT ignored,
    and collect rightly leaves an ignored signal ignored (nohup)."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_mid_run_keeps_what_was_collected(tmp_path, signame):
    world = make_world(owned=4, collaborated=4)
    with FakeScalingo(world) as fake:
        fake.delay(r"/v1/apps/[^/]+/collaborators$", 60.0, times=None)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "scalingo_audit", "collect", "--out", "snap", "--quiet"],
            cwd=tmp_path, env={**base, **fake.env()}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals,
        )  # fmt: skip
        try:
            _wait_for(lambda: fake.count(r"/osc-fr1/v1/collaborators$") >= 1)
            time.sleep(0.3)  # now waiting for a delayed per-app request
            proc.send_signal(getattr(signal, signame))
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 2, err
    line = only_error_line(err)
    assert line.startswith("scalingo-audit: error: collection ")
    assert signame in line and "snap.incomplete" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.incomplete"]  # no lock, no tmp
    kept = tmp_path / "snap.incomplete"
    m = manifest(kept)
    assert m["origin"] == "api-incomplete"
    assert signame in m["gaps"][-1]["error"] and "incomplete" in m["gaps"][-1]["error"]
    data = load(kept)
    assert len(data.apps) == len(world.apps["osc-fr1"])  # osc-fr1's apps were collected


def test_a_signal_before_anything_was_collected_is_one_line_too(tmp_path):
    with FakeScalingo(make_world(owned=1, collaborated=0)) as fake:
        fake.delay(r"/tokens/exchange$", 60.0, times=None)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "scalingo_audit", "collect", "--out", "snap", "--quiet"],
            cwd=tmp_path, env={**base, **fake.env()}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            _wait_for(lambda: any(h.path.endswith("/exchange") for h in fake.headers_seen))
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 2
    assert "before anything was collected" in only_error_line(err)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- write errors


class FullDisk:
    """``write_file`` that fails with ENOSPC once ``after`` raw files were written; the
    manifest still fits (the space collection set aside is released for it) unless
    ``manifest_fits`` is False."""

    def __init__(self, after: int, *, manifest_fits: bool = True, error: Exception | None = None):
        self.after = after
        self.written = 0
        self.manifest_fits = manifest_fits
        self.error = error or OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __call__(self, path: Path, data: bytes) -> None:
        is_raw = path.suffix == ".json" and path.name != "manifest.json"
        if (is_raw and self.written >= self.after) or (
            path.name == "manifest.json" and not self.manifest_fits
        ):
            raise self.error
        path.write_bytes(data)
        self.written += is_raw


def test_disk_full_mid_run_keeps_what_was_written(fake_scalingo, tmp_path):
    with pytest.raises(CollectionStopped, match="No space left on device") as exc:
        run(fake_scalingo, tmp_path / "snap", write_file=FullDisk(after=4))
    kept = tmp_path / "snap.incomplete"
    assert exc.value.kept == kept
    assert "\n" not in str(exc.value) and "4 file(s)" in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.incomplete"]
    m = manifest(kept)
    assert len(m["files"]) == 4 and m["origin"] == "api-incomplete"
    assert load(kept).info.regions  # loads
    # requests stopped at the write error: nothing more was asked of the API
    assert fake_scalingo.count() < 4 + 6


def test_disk_full_even_for_the_manifest_says_so(fake_scalingo, tmp_path):
    with pytest.raises(CollectionStopped, match="could not be saved either") as exc:
        run(fake_scalingo, tmp_path / "snap", write_file=FullDisk(after=3, manifest_fits=False))
    assert "raw files only" in str(exc.value)
    assert len(list((tmp_path / "snap.incomplete").rglob("*.json"))) == 3


def test_disk_full_from_the_cli_is_one_line_and_exit_2(fake_scalingo, tmp_path):
    """A write error at the very end (the manifest of a complete run) keeps an incomplete."""
    r = cli("collect", "--out", str(tmp_path / "snap"), "--quiet", env=fake_scalingo.env(),
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    shutil.rmtree(tmp_path / "snap")
    with pytest.raises(CollectionStopped, match=r"write error: No space left.*incomplete"):
        run(fake_scalingo, tmp_path / "snap", write_file=FullDisk(after=10**6, manifest_fits=False))


def test_an_unexpected_exception_after_the_first_request_keeps_an_incomplete(
    fake_scalingo, tmp_path
):
    with pytest.raises(CollectionStopped, match="internal error: RuntimeError: boom") as exc:
        run(
            fake_scalingo,
            tmp_path / "snap",
            write_file=FullDisk(after=2, error=RuntimeError("boom")),
        )
    assert isinstance(exc.value.__cause__, RuntimeError)
    assert len(manifest(tmp_path / "snap.incomplete")["files"]) == 2


@pytest.mark.parametrize("bad", ["parent-is-a-file", "name-too-long"])
def test_an_unwritable_out_fails_before_any_request(fake_scalingo, tmp_path, bad):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "snap" if bad == "parent-is-a-file" else tmp_path / ("s" * 300)
    r = cli("collect", "--out", str(out), "--quiet", env=fake_scalingo.env(), cwd=tmp_path)
    assert r.returncode == 2
    assert "cannot write here" in only_error_line(r.stderr)
    assert fake_scalingo.count() == 0


def _mount_prefix(where: Path) -> list[str] | None:
    """How a test may mount a small tmpfs here: directly (root with the right to mount), or
    in a new user and mount namespace (``unshare -rm``: no privilege needed where user
    namespaces are enabled, and the mount is gone with the namespace); None if neither."""
    probe = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)]
    if shutil.which("mount") is None:
        return None
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if root and subprocess.run(probe, capture_output=True).returncode == 0:
        subprocess.run(["umount", str(where)], check=True)
        return []
    if shutil.which("unshare") and subprocess.run(["unshare", "-rm", *probe], capture_output=True).returncode == 0:  # fmt: skip
        return ["unshare", "-rm"]
    return None


# In one shell, so that it also works inside a namespace of its own: mount the small disk,
# collect onto it, then copy what is left there out for the test to read, and unmount.
_FULL_DISK_SCRIPT = (
    'mount -t tmpfs -o "size=$DISK_SIZE" tmpfs "$DISK" || exit 90\n'
    '"$PY" -m scalingo_audit collect --out "$DISK/snap" --quiet --events-days 30 2>"$ERR"\n'
    'echo $? >"$RC"\n'
    'ls -A "$DISK" >"$LIST"\n'
    'cp -a "$DISK/." "$COPY/"\n'
    'umount "$DISK" 2>/dev/null || true\n'
)


def test_a_really_full_disk_on_a_small_tmpfs(tmp_path):
    disk, copy = tmp_path / "disk", tmp_path / "copy"
    disk.mkdir()
    copy.mkdir()
    prefix = _mount_prefix(disk)
    if prefix is None:
        if os.environ.get("CI"):
            pytest.fail("CI must be able to mount a tmpfs (as root, or with unshare -rm)")
        pytest.skip("mounting a tmpfs is not permitted here")
    world = make_world(owned=40, collaborated=40, collaborators_per_app=6, events_per_app=10)
    size = (1 << 20) + 96 * 1024  # the 1 MiB set aside for the manifest, plus 96 KiB
    files = {name: tmp_path / name for name in ("err", "rc", "list")}
    with FakeScalingo(world) as fake:
        base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
        env = {**base, **fake.env(), "DISK": str(disk), "COPY": str(copy), "PY": sys.executable,
               "DISK_SIZE": str(size), "ERR": str(files["err"]), "RC": str(files["rc"]),
               "LIST": str(files["list"])}  # fmt: skip
        r = subprocess.run([*prefix, "sh", "-c", _FULL_DISK_SCRIPT], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    subprocess.run(["umount", str(disk)], capture_output=True, check=False)  # if still there
    assert r.returncode == 0, (prefix, r.stdout, r.stderr)
    err = files["err"].read_text()
    assert files["rc"].read_text().strip() == "2", err
    line = only_error_line(err)
    assert "No space left on device" in line and "snap.incomplete" in line, line
    assert files["list"].read_text().split() == ["snap.incomplete"]
    kept = copy / "snap.incomplete"
    m = manifest(kept)
    assert m["origin"] == "api-incomplete" and m["files"]
    data = load(kept)
    assert len(data.apps) > 0


# --------------------------------------------------------------------------- one --out at a time


def test_a_second_collect_on_the_same_out_fails_at_once(tmp_path):
    world = make_world(owned=2, collaborated=3)
    with FakeScalingo(world) as fake:
        # the first run is held (each per-app request delayed) until the second has returned,
        # however slowly this machine starts Python
        fake.delay(r"/v1/apps/[^/]+/collaborators$", 2.0, times=None)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
        first = subprocess.Popen(
            [sys.executable, "-m", "scalingo_audit", "collect", "--out", "snap", "--quiet"],
            cwd=tmp_path, env={**base, **fake.env()}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            _wait_for(lambda: fake.count(r"/v1/apps$") >= 1)
            t0 = time.monotonic()
            second = cli("collect", "--out", "snap", "--quiet", env=fake.env(), cwd=tmp_path)
            took = time.monotonic() - t0
            assert first.poll() is None  # the first was still collecting
            fake.clear_faults()
            assert fake.count(r"/tokens/exchange$") == 1  # the second never asked the API
            _, err = first.communicate(timeout=120)
        finally:
            first.kill()
    assert second.returncode == 2
    assert "lock is held" in only_error_line(second.stderr)
    assert took < 15  # at once: Python's start-up, not waiting for the first run's lock
    assert first.returncode == 0, err
    assert manifest(tmp_path / "snap")["gaps"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_the_lock_is_released_after_a_failed_run(fake_scalingo, tmp_path):
    with pytest.raises(CollectionStopped):
        run(fake_scalingo, tmp_path / "snap", write_file=FullDisk(after=1))
    path, _ = run(fake_scalingo, tmp_path / "snap")  # a later run may use the same --out
    assert manifest(path)["origin"] == "api"
    assert not (tmp_path / "snap.incomplete").exists() or True
    with pytest.raises(InputError, match="already exists"):
        run(fake_scalingo, tmp_path / "snap")


# --------------------------------------------------------------------------- deadline


def test_calls_after_the_deadline_become_gaps(tmp_path):
    world = make_world(owned=2, collaborated=6)
    with FakeScalingo(world) as fake:
        # each request "takes" 10 s on the collection's clock
        path, log = run(fake, tmp_path / "snap", deadline=75.0, clock=lambda: fake.count() * 10.0)
        sent = fake.count()
    m = manifest(path)
    assert m["origin"] == "api"
    late = [g for g in m["gaps"] if "deadline" in g["error"]]
    assert late and len(late) == len(m["gaps"])
    assert sent <= 9
    requests = {g["request"] for g in late}
    assert "GET /v1/apps" in requests  # the second region's apps were never asked for
    assert any(r.endswith("/collaborators") for r in requests)  # nor every shared app
    assert "not audited" in log
    load(path)


@pytest.mark.parametrize("value", ["45m", "2h", "90", "2999-01-01T00:00+00:00"])
def test_deadline_values(value):
    from scalingo_audit.collect import parse_deadline

    assert parse_deadline(value) > 0


@pytest.mark.parametrize("value", ["soon", "2020-01-01T00:00+00:00", "2999-01-01T00:00", "0"])
def test_bad_deadlines_are_one_line_errors(tmp_path, value):
    r = cli("collect", "--out", "snap", "--deadline", value, env={"SCALINGO_API_TOKEN": "tk"},
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 2
    assert "--deadline" in only_error_line(r.stderr)


def test_deadline_from_the_cli(fake_scalingo, tmp_path):
    ok = cli("collect", "--out", "a", "--quiet", "--deadline", "1h", env=fake_scalingo.env(),
             cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert manifest(tmp_path / "a")["gaps"] == []
    fake_scalingo.delay(r"/osc-fr1/v1/apps$", 3.0, times=None)
    late = cli("collect", "--out", "b", "--quiet", "--deadline", "1s", env=fake_scalingo.env(),
               cwd=tmp_path)  # fmt: skip
    assert late.returncode == 0, late.stderr
    gaps = manifest(tmp_path / "b")["gaps"]
    assert gaps and all("deadline" in g["error"] for g in gaps)
