"""scalingo-audit built and installed as users install it: the sdist and wheel, checked by
twine, the wheel installed without extras into a fresh virtual environment outside the
repository, and run from a directory with no ``notebooks/`` in it.

``.ci/run`` builds the distributions (``python -m build``) and names their directory in
``SCALINGO_AUDIT_DIST``; without it, this module builds them itself (``uv build``, the same
build). Installing the wheel's dependencies needs the package index (a minute the first time, then uv's cache): ``uv``
makes the venv and installs the wheel into it, as ``python -m venv`` and pip would, in a
few seconds instead of half a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from uv import find_uv_bin

from scalingo_audit import __version__, contracts

from .fakeapi import FakeScalingo, make_world
from .test_browser import visit

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # builds, installs into a new venv, runs the demo report


def _run(
    cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=cwd, env=env)


def _build(srcdir: Path, outdir: Path, *flags: str) -> None:
    """``uv build``: the PEP 517 build of ``python -m build`` (the sdist, then the wheel from
    it; the same files), whose isolated build environment uv makes in a third of the time."""
    cmd = [find_uv_bin(), "build", "--no-config", "--quiet", *flags, "--out-dir", str(outdir)]
    r = _run([*cmd, str(srcdir)])
    assert r.returncode == 0, f"uv build failed (pip install -e '.[dev]'?):\n{r.stderr}"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the sdist and the wheel (built from that sdist)."""
    given = os.environ.get("SCALINGO_AUDIT_DIST")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("dist")
    _build(ROOT, out)  # sdist, then the wheel from the sdist, as `python -m build` does
    return out


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {found}"
    return found[0]


def _members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as z:
        return {n: z.read(n) for n in z.namelist()}


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the wheel installed (no extras), and where to run it from."""

    prefix: Path
    workdir: Path  # empty, outside the repository: no notebooks/ next to it
    env: dict[str, str]

    def bin(self, name: str) -> str:
        return str(self.prefix / "bin" / name)

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return _run([self.bin("scalingo-audit"), *args], cwd=self.workdir, env=env or self.env)


@pytest.fixture(scope="module")
def installed(dist: Path) -> Iterator[Installed]:
    base = Path(tempfile.mkdtemp(prefix="scalingo-audit-wheel-"))
    assert not base.resolve().is_relative_to(ROOT), "the venv must be outside the repository"
    try:
        prefix = base / "venv"
        uv = find_uv_bin()
        r = _run([uv, "venv", "--no-config", "--quiet", "--python", sys.executable, str(prefix)])
        assert r.returncode == 0, r.stderr
        wheel = _one(dist, "scalingo_audit-*.whl")
        python = str(prefix / "bin" / "python")
        r = _run([uv, "pip", "install", "--no-config", "--quiet", "--python", python, str(wheel)])
        assert r.returncode == 0, r.stderr
        workdir = base / "work"
        (workdir / "home").mkdir(parents=True)
        # nothing of this checkout: no PYTHONPATH, a home of its own (no kernelspecs); Python
        # writes bytecode as on a user's machine (uv installs without compiling, pip compiles
        # everything at install: either way each module is compiled once, not on every run)
        drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(HOME=str(workdir / "home"), PATH=f"{prefix / 'bin'}{os.pathsep}{env['PATH']}")
        yield Installed(prefix=prefix, workdir=workdir, env=env)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- the distributions --------------------------------------------------------------------


def test_twine_check_passes(dist: Path) -> None:
    files = [str(_one(dist, "*.tar.gz")), str(_one(dist, "*.whl"))]
    r = _run([sys.executable, "-m", "twine", "check", "--strict", *files])
    assert r.returncode == 0, r.stdout + r.stderr


def test_wheel_ships_the_notebooks_and_schemas_once(dist: Path) -> None:
    names = set(_members(_one(dist, "*.whl")))
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"scalingo_audit/notebooks/{nb.name}" in names
    for name in contracts.NAMES:
        assert f"scalingo_audit/schemas/{name}.schema.json" in names
    assert not [n for n in names if n.startswith("notebooks/") or "checkpoint" in n]
    assert not [n for n in names if n.startswith("tests/")]


def test_version_comes_from_the_one_source(dist: Path) -> None:
    assert _one(dist, "*.whl").name == f"scalingo_audit-{__version__}-py3-none-any.whl"
    assert _one(dist, "*.tar.gz").name == f"scalingo_audit-{__version__}.tar.gz"


def test_lab_is_an_extra_of_the_wheel(dist: Path) -> None:
    meta = _members(_one(dist, "*.whl"))[f"scalingo_audit-{__version__}.dist-info/METADATA"]
    requires = [
        line.split(":", 1)[1].strip()
        for line in meta.decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    plain = [r for r in requires if "extra ==" not in r]
    assert not [r for r in plain if r.lower().startswith(("jupyterlab", "ipywidgets"))]
    assert any(r.startswith("jupyterlab") and "extra == 'lab'" in r for r in requires)
    assert any(r.startswith("ipywidgets") and "extra == 'lab'" in r for r in requires)


def test_the_sdist_rebuilds_the_same_wheel(dist: Path, tmp_path: Path) -> None:
    """The wheel in ``dist`` was built from the sdist (``python -m build`` in .ci/run, or
    ``uv build`` in the ``dist`` fixture): it holds the same files as a wheel built from the
    tree."""
    with tarfile.open(_one(dist, "*.tar.gz")) as sdist:
        sdist.extractall(tmp_path / "src", filter="data")  # a plain, safe archive
    (srcdir,) = (tmp_path / "src").iterdir()
    assert (srcdir / "pyproject.toml").is_file()
    _build(ROOT, tmp_path / "from-tree", "--wheel")
    from_sdist = _members(_one(dist, "*.whl"))
    assert from_sdist == _members(_one(tmp_path / "from-tree", "*.whl"))


# --- the installed wheel, run from elsewhere ----------------------------------------------


_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; print(json.dumps([d.name for d in m.distributions()]))"
)


def test_installed_without_jupyterlab(installed: Installed) -> None:
    r = _run(
        [installed.bin("python"), "-c", _DISTRIBUTIONS], cwd=installed.workdir, env=installed.env
    )
    assert r.returncode == 0, r.stderr
    names = {n.lower() for n in json.loads(r.stdout)}
    assert "scalingo-audit" in names
    assert not names & {"jupyterlab", "ipywidgets", "jupyter-server", "notebook", "pytest"}


def test_installed_version_and_module_entry_point(installed: Installed) -> None:
    r = installed.run("--version")
    assert (r.returncode, r.stdout.strip()) == (0, f"scalingo-audit {__version__}")
    where = _run(
        [installed.bin("python"), "-c", "import scalingo_audit; print(scalingo_audit.__file__)"],
        cwd=installed.workdir,
        env=installed.env,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed.prefix), where.stdout
    m = _run(
        [installed.bin("python"), "-m", "scalingo_audit", "--version"],
        cwd=installed.workdir,
        env=installed.env,
    )
    assert m.stdout.strip() == f"scalingo-audit {__version__}"


def test_installed_check_demo_fails_on_high(installed: Installed) -> None:
    assert not (installed.workdir / "notebooks").exists()
    r = installed.run("check", "demo", "--fail-on", "high")
    assert r.returncode == 1, r.stderr
    assert "HIGH (" in r.stdout
    j = installed.run("check", "demo", "--format", "json")
    contracts.validate("findings", json.loads(j.stdout), strict=True)


def test_installed_report_demo_draws_its_charts(installed: Installed, browser: Browser) -> None:
    out = installed.workdir / "report"
    r = installed.run("report", "demo", "--out", str(out))
    assert r.returncode == 0, r.stderr
    pages = sorted(out.glob("*.html"))
    assert out / "index.html" in pages and len(pages) >= 2, pages
    total = 0
    for page in pages:
        seen = visit(browser, page)
        assert seen.blocked == [] and seen.errors == [], (page.name, seen.blocked, seen.errors)
        assert seen.drawn == seen.plots, f"{page.name}: {seen.drawn} of {seen.plots} charts drew"
        total += seen.plots
    assert total > 0, "no chart in the installed report"


def test_installed_collect_against_the_fake_api(installed: Installed) -> None:
    out = installed.workdir / "snapshot"
    with FakeScalingo(make_world(owned=3, collaborated=1)) as fake:
        r = installed.run(
            "collect", "--out", str(out), "--quiet", env={**installed.env, **fake.env()}
        )
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    contracts.validate("manifest", manifest, strict=True)
    assert manifest["origin"] == "api" and manifest["gaps"] == []
    assert installed.run("verify", str(out)).returncode == 0
    check = installed.run("check", str(out), "--format", "json")
    assert check.returncode == 0, check.stderr
    contracts.validate("findings", json.loads(check.stdout), strict=True)


def test_installed_schema_and_notebook_copies(installed: Installed) -> None:
    r = installed.run("schema", "findings")
    assert r.returncode == 0 and json.loads(r.stdout) == contracts.load("findings")
    copies = installed.workdir / "my-notebooks"
    assert installed.run("notebooks", "--copy", str(copies)).returncode == 0
    assert sorted(p.name for p in copies.glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )
