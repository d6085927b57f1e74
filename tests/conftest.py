"""Shared fixtures."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import platformdirs
import pytest

from scalingo_audit.contracts import CHECK_ENV, validate_recorded

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
# XDG_CACHE_HOME. pip keeps its real cache (the wheel test installs dependencies).
os.environ.setdefault("PIP_CACHE_DIR", platformdirs.user_cache_dir("pip"))
CACHE_HOME = tempfile.mkdtemp(prefix="scalingo-audit-cache-home-")
os.environ["XDG_CACHE_HOME"] = CACHE_HOME
atexit.register(shutil.rmtree, CACHE_HOME, True)


@pytest.fixture(autouse=True)
def _outputs_match_their_published_schemas() -> Iterator[None]:
    yield
    problems = validate_recorded(CONTRACTS_DIR)
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
    """``scalingo-audit check demo --format json``, run once as a user runs it, parsed."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "scalingo_audit.cli", "check", "demo", "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    found: list[dict[str, Any]] = json.loads(r.stdout)
    return found
