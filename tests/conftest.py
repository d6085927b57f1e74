"""Shared fixtures."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import platformdirs
import pytest
from filelock import FileLock

from scalingo_audit.contracts import CHECK_ENV, NAMES, closed, load, validate_recorded

from .early import BLOCKED
from .fakeapi import FakeScalingo, make_world

# Every findings array, diff, snapshot manifest and accepted policy produced while the
# tests run (in this process, in CLI subprocesses, in notebook kernels) is recorded in
# this directory and validated strictly against its published JSON Schema after each test
# (scalingo_audit.contracts).
CONTRACTS_DIR = tempfile.mkdtemp(prefix="scalingo-audit-contracts-")
os.environ[CHECK_ENV] = CONTRACTS_DIR
atexit.register(shutil.rmtree, CONTRACTS_DIR, True)

# The user's cache directory (platformdirs.user_cache_dir, where the demo history is cached)
# is a private temporary one for this test process, its CLI subprocesses and notebook
# kernels: a test run never writes into the real ~/.cache. On Linux platformdirs honours
# XDG_CACHE_HOME. pip and uv keep their real caches (the wheel test installs dependencies).
os.environ.setdefault("PIP_CACHE_DIR", platformdirs.user_cache_dir("pip"))
os.environ.setdefault("UV_CACHE_DIR", platformdirs.user_cache_dir("uv"))  # so does uv's
CACHE_HOME = tempfile.mkdtemp(prefix="scalingo-audit-cache-home-")
os.environ["XDG_CACHE_HOME"] = CACHE_HOME
atexit.register(shutil.rmtree, CACHE_HOME, True)

# pyproject's filterwarnings makes every warning an error in this process. The CLI
# subprocesses and notebook kernels the tests start (and the CLI runs tests/clirun.py makes
# in this process, with a new process's filters) get the same for the deprecations
# raised from our own modules (pandas' FutureWarning and Pandas4Warning name the caller):
# the command then exits with a traceback and its test fails. Scoped to scalingo_audit's
# modules (a PYTHONWARNINGS module is matched exactly): the pip and JupyterLab processes the
# tests start warn about their own dependencies (pip's vendored pkg_resources), not ours.
PACKAGE_DIR = Path(__file__).resolve().parent.parent / "scalingo_audit"
_OURS = sorted(
    ".".join(("scalingo_audit", *p.relative_to(PACKAGE_DIR).with_suffix("").parts)).removesuffix(
        ".__init__"
    )
    for p in PACKAGE_DIR.rglob("*.py")
)
os.environ.setdefault(
    "PYTHONWARNINGS",
    ",".join(f"error::{w}:{m}" for w in ("DeprecationWarning", "FutureWarning") for m in _OURS),
)


# The processes the tests start (xdist's workers, CLI subprocesses, nbval's and JupyterLab's
# kernels) import no rfc3987_syntax: tests/blocked stands in for it (its docstring says why;
# about 1.7 s of CPU saved in each). A test that needs the real module (tests/test_kernel.py)
# runs its subprocess with the environment of :func:`without_blocked`.
BLOCKED_DIR = BLOCKED  # tests/early.py, which puts it on this process's own path
os.environ["PYTHONPATH"] = os.pathsep.join(
    [BLOCKED_DIR, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
)


def without_blocked(env: dict[str, str]) -> dict[str, str]:
    """``env`` with tests/blocked off its ``PYTHONPATH``."""
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != BLOCKED_DIR]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}


# Bytecode is written and reused, even where the environment sets PYTHONDONTWRITEBYTECODE (a
# container's default): each of the run's CLI subprocesses and notebook kernels
# imports scalingo_audit, and compiling it again in each costs about 0.3 s of CPU.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


# --- pytest-xdist ---------------------------------------------------------------------------
# The suite runs on every core (pyproject: ``-n auto --dist loadscope``): each test module (and
# each notebook, whose cells nbval runs in one kernel, in order) goes whole to one worker, so
# a module-scoped fixture is built once. The modules with slow tests (and the notebooks) are
# handed out first (``--no-loadscope-reorder`` keeps this order), so that the last modules
# a worker picks are short ones and no worker waits long for the other at the end. The
# modules marked ``waits`` (much of their time spent waiting on sockets, timeouts and child
# processes, not computing) are handed out between the slow ones, one after every slow
# module but the first two: each then runs beside a slow module, which uses the core it
# leaves idle, rather than beside another module that waits (cores idle 25-45 % of the time
# when they met, BENCHMARKS.md).


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # one process: the usual order
    slow = {i.path for i in items if i.path.suffix == ".ipynb" or i.get_closest_marker("slow")}
    waits = {i.path for i in items if i.get_closest_marker("waits")} - slow
    order = list(dict.fromkeys(i.path for i in items))  # modules, in collection order
    first = [p for p in order if p in slow]
    spread = [p for p in order if p in waits]
    handed: list[Path] = first[:2]
    for path in first[2:]:
        handed += [*spread[:1], path]
        spread = spread[1:]
    rank = {p: n for n, p in enumerate([*handed, *spread])}
    # stable: a module's tests stay in order, and the other modules after these, as collected
    items.sort(key=lambda i: rank.get(i.path, len(rank)))


def shared(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """The directory ``name``, filled once by ``build(directory)`` for the whole run: by the
    first worker that asks, under a file lock, the others waiting for it and reusing it
    (pytest-xdist's recipe). Tests only read it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's directory, shared by its workers
    target = root / f"shared-{name}"
    done = target / ".built"
    with FileLock(f"{target}.lock"):
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)  # what a failed build left
            target.mkdir()
            build(target)
            done.touch()
    return target


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo report (``build_report("demo", pdf=True)``: with its report.pdf, which
    tests/test_pdf.py reads, wherever a Chromium can print it), built once for every test
    that reads it; its index.html."""
    from scalingo_audit.report import build_report

    from .tools import demo_report_has_pdf

    def build(where: Path) -> None:
        build_report("demo", out_dir=where / "demo", progress=False, pdf=demo_report_has_pdf())

    return shared(tmp_path_factory, "demo-report", build) / "demo" / "index.html"


@functools.cache
def _strict_validator(name: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(closed(load(name)), validate_formats=True)


def _matches_strictly(name: str, instance: Any) -> bool:
    """jsonschema-rs's word that ``instance`` matches the strict schema ``name``: a fast
    yes (formats checked, so it is no looser than jsonschema); on a no, validate_recorded
    asks jsonschema, whose verdict and messages count."""
    return bool(name in NAMES and _strict_validator(name).is_valid(instance))


@pytest.fixture(autouse=True)
def _outputs_match_their_published_schemas() -> Iterator[None]:
    yield
    problems = validate_recorded(CONTRACTS_DIR, known_good=_matches_strictly)
    if problems:
        pytest.fail("outputs that do not match their schema:\n" + "\n".join(problems[:20]))


@pytest.fixture
def fake_scalingo() -> Iterator[FakeScalingo]:
    """A running fake Scalingo API (auth + osc-fr1 + osc-secnum-fr1) on 127.0.0.1.

    Small world: 4 owned apps, 2 collaborated, 3 collaborators per app, 5 events per app,
    events paginated 2 per page. Tests needing another world build
    ``FakeScalingo(make_world(...))`` themselves (it is a context manager).
    """
    with FakeScalingo(make_world(owned=4, collaborated=2, events_per_app=5), per_page=2) as fake:
        yield fake


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    from .tools import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def demo_findings() -> list[dict[str, Any]]:
    """``scalingo-audit check demo --format json``, run once as a user runs it (in this
    process, tests/clirun.py), parsed."""
    from .clirun import run

    r = run("check", "demo", "--format", "json")
    assert r.returncode == 0, r.stderr
    found: list[dict[str, Any]] = json.loads(r.stdout)
    return found
