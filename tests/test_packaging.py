"""Release hygiene in the checkout: one version source, ``python -m scalingo_audit``, the
CHANGELOG, where the bundled notebooks are found, editable copies and ``report --notebooks``,
and what ``check`` / ``--version`` / ``--help`` import. The built and installed wheel is
tested in test_wheel.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import scalingo_audit
from scalingo_audit import _version, contracts
from scalingo_audit.errors import AuditError
from scalingo_audit.report import describe_notebook, report_notebooks
from scalingo_audit.resources import bundled_notebooks, copy_notebooks, notebooks_dir

from . import clirun
from .test_report import write_notebook

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
        timeout=300,
    )


def imported(*args: str) -> set[str]:
    """Top-level names of the modules ``python -X importtime -m scalingo_audit ARGS``
    imports, as a user runs it (without the tests' contract checking)."""
    env = {k: v for k, v in os.environ.items() if k != contracts.CHECK_ENV}
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scalingo_audit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode in (0, 1), r.stderr[-2000:]
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", r.stderr, flags=re.M)
    assert "scalingo_audit" in {n.split(".")[0] for n in names}, "-X importtime printed nothing"
    return {n.split(".")[0] for n in names}


# --- version, entry points, changelog -----------------------------------------------------


def test_one_version_source_read_by_the_build() -> None:
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "scalingo_audit/_version.py"
    assert scalingo_audit.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", _version.__version__)


def test_version_flag_and_python_dash_m() -> None:
    expected = f"scalingo-audit {_version.__version__}"
    r = cli("-m", "scalingo_audit", "--version")
    assert (r.returncode, r.stdout.strip()) == (0, expected)
    r = cli("-m", "scalingo_audit", "check", "demo", "--fail-on", "high")
    assert r.returncode == 1 and "HIGH (" in r.stdout


def test_changelog_keeps_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert "keepachangelog.com" in text and "semver.org" in text
    versions = re.findall(r"^## \[([^\]]+)\](.*)$", text, flags=re.M)
    assert versions and versions[0][0] == "Unreleased"
    for name, rest in versions[1:]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", name) and re.fullmatch(r" - \d{4}-\d{2}-\d{2}", rest)
    released = [name for name, _ in versions[1:]]
    assert not released or released[0] == _version.__version__, "release the version in CHANGELOG"
    sections = set(re.findall(r"^### (\w+)$", text, flags=re.M))
    assert sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


# --- import time ------------------------------------------------------------------------


def test_check_demo_loads_no_report_or_notebook_stack() -> None:
    names = imported("check", "demo", "--fail-on", "high")
    assert "pandas" in names  # it did load and check the data
    assert not names & {"plotly", "papermill", "nbconvert", "ipywidgets", "nbformat", "jupyterlab"}
    # loading a snapshot needs no HTTP client (the pagination rule is in its own module)
    assert not names & {"requests", "urllib3"}


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("check", "--help")])
def test_version_and_help_load_no_pandas(args: tuple[str, ...]) -> None:
    names = imported(*args)
    assert not names & {"pandas", "numpy", "plotly", "yaml", "requests"}


# --- the bundled notebooks ----------------------------------------------------------------


def test_in_a_checkout_the_bundled_notebooks_are_the_repository_ones() -> None:
    # notebooks/ is the only copy in git; the wheel gets it as scalingo_audit/notebooks/
    # (pyproject.toml), which a checkout does not have
    assert notebooks_dir() == ROOT / "notebooks"
    assert not (ROOT / "scalingo_audit" / "notebooks").exists()
    sources = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["sources"]
    assert sources == {"notebooks": "scalingo_audit/notebooks"}
    assert [p.name for p in bundled_notebooks()] == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )


def test_notebooks_copy_writes_editable_copies_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    r = clirun.run("notebooks", "--copy", str(target))
    assert r.returncode == 0, r.stderr
    for nb in bundled_notebooks():
        assert (target / nb.name).read_bytes() == nb.read_bytes()
    edited = target / "02_2fa.ipynb"
    edited.write_text('{"edited": true}')
    again = clirun.run("notebooks", "--copy", str(target))
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "already has 01_roles.ipynb, 02_2fa.ipynb" in again.stderr
    assert edited.read_text() == '{"edited": true}'
    # one file of the same name is enough to copy nothing at all
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "07_trends.ipynb").write_text("mine")
    with pytest.raises(AuditError, match=r"already has 07_trends\.ipynb; nothing copied"):
        copy_notebooks(partial)
    assert [p.name for p in partial.iterdir()] == ["07_trends.ipynb"]
    (tmp_path / "file").write_text("")
    with pytest.raises(AuditError, match="not a directory"):
        copy_notebooks(tmp_path / "file")


def test_notebooks_lists_the_bundled_ones() -> None:
    r = cli("-m", "scalingo_audit", "notebooks")  # a real process, once per command
    assert r.returncode == 0
    assert str(notebooks_dir()) in r.stdout
    for nb in bundled_notebooks():
        assert f"  {nb.name}\n" in r.stdout


def test_report_runs_the_users_own_notebooks(tmp_path: Path) -> None:
    mine = tmp_path / "my notebooks"
    mine.mkdir()
    write_notebook(
        mine / "01_ours.ipynb",
        "from scalingo_audit.notebook import open_audit\n"
        "audit = open_audit(source, policy, as_of)\n"
        "print(f'OUR-COUNT {len(audit.data.apps)} apps')",
        title="Our own page",
    )
    out = tmp_path / "out"
    r = cli("-m", "scalingo_audit", "report", "demo", "--notebooks", str(mine), "--out", str(out))
    assert r.returncode == 0, r.stderr
    html = "".join(p.read_text() for p in out.glob("*.html"))
    assert "OUR-COUNT 59 apps" in html and "Our own page" in html
    for nb in report_notebooks():  # and none of the bundled pages
        assert describe_notebook(nb)[0] not in html
    bad = clirun.run("report", "demo", "--notebooks", str(tmp_path / "none"))
    assert bad.returncode == 2 and "notebooks directory not found" in bad.stderr


# --- schema command -------------------------------------------------------------------------


@pytest.mark.parametrize("name", contracts.NAMES)
def test_schema_command_prints_the_published_schema(name: str) -> None:
    r = clirun.run("schema", name)
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    shipped = ROOT / "scalingo_audit" / "schemas" / f"{name}.schema.json"
    assert schema == json.loads(shipped.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:scalingo-audit:schema:{name}:{contracts.version(name)}"


def test_unknown_schema_is_a_usage_error() -> None:
    r = cli("-m", "scalingo_audit", "schema", "nope")  # a real process, once per command
    assert r.returncode == 2 and "Traceback" not in r.stderr
