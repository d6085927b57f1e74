"""The development environment and the suite's shape: environment.yml (the conda route)
stays in sync with pyproject.toml (its conda packages are the runtime dependencies plus the
[lab] extra, and pip installs the package with [dev]); what tests/ and scripts/ import is
declared; every package module has a test module named after it."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _norm(req: str) -> tuple[str, str]:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject_dependencies_and_lab_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    extras = PROJECT["optional-dependencies"]
    wanted = dict(_norm(r) for r in [*PROJECT["dependencies"], *extras["lab"]])
    listed = [_norm(d) for d in conda if not d.startswith(("python", "pip"))]
    assert len(listed) == len(dict(listed)), "a package is listed twice"
    assert dict(listed) == wanted
    python = next(d for d in conda if d.startswith("python"))
    assert python.replace("python", "") == PROJECT["requires-python"]
    assert pip == ['-e ".[dev]"']
    assert "conda-forge" in env["channels"]


def test_jupyterlab_is_an_extra_not_a_runtime_dependency():
    runtime = {_norm(r)[0] for r in PROJECT["dependencies"]}
    extras = PROJECT["optional-dependencies"]
    assert not runtime & {"jupyterlab", "ipywidgets", "notebook", "pytest", "nbval"}
    assert {"jupyterlab", "ipywidgets"} <= {_norm(r)[0] for r in extras["lab"]}
    assert "scalingo-audit[lab]" in extras["dev"]  # the test suite opens JupyterLab
    assert {"build", "twine", "pytest"} <= {_norm(r)[0] for r in extras["dev"]}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    """importlib.metadata.packages_distributions(), read once for this module's tests (it
    reads the file list of every installed distribution)."""
    return importlib.metadata.packages_distributions()


@functools.cache
def _imported_top_modules(path: Path) -> frozenset[str]:
    """Top-level names of every absolute import in ``path``, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return frozenset(found)


def test_every_third_party_module_the_tests_and_scripts_import_is_declared():
    """What tests/ and scripts/ import comes from a distribution pyproject declares (the
    runtime dependencies, [lab] or [dev]), never from one that happens to be installed as
    another package's dependency."""
    extras = PROJECT["optional-dependencies"]
    declared = {
        _canonical(_norm(r)[0].partition("[")[0])
        for r in [*PROJECT["dependencies"], *extras["lab"], *extras["dev"]]
    }
    local = {"scalingo_audit", "tests", "scripts"}
    dists = _distributions()
    undeclared: dict[str, list[str]] = {}
    for path in sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")]):
        for module in _imported_top_modules(path) - set(sys.stdlib_module_names) - local:
            assert module in dists, (
                f"{path.name} imports {module}, which nothing installed provides"
            )
            if not {_canonical(d) for d in dists[module]} & declared:
                undeclared.setdefault(module, []).append(path.relative_to(ROOT).as_posix())
    assert undeclared == {}, f"imported but not declared in pyproject's [dev] extra: {undeclared}"


def test_every_third_party_module_the_package_imports_is_a_dependency():
    """The package imports only what its runtime dependencies declare, and [lab]'s
    ipywidgets in the explorer alone."""
    extras = PROJECT["optional-dependencies"]
    runtime = {_canonical(_norm(r)[0]) for r in PROJECT["dependencies"]}
    lab = {_canonical(_norm(r)[0]) for r in extras["lab"]}
    dists = _distributions()
    undeclared: dict[str, list[str]] = {}
    for path in sorted((ROOT / "scalingo_audit").rglob("*.py")):
        for module in _imported_top_modules(path) - set(sys.stdlib_module_names):
            if module == "scalingo_audit":
                continue
            found = {_canonical(d) for d in dists.get(module, [])}
            allowed = runtime | (lab if path.name == "explorer.py" else set())
            if not found & allowed:
                undeclared.setdefault(module, []).append(path.name)
    assert undeclared == {}, f"imported by the package but not a dependency: {undeclared}"


def test_every_declared_dev_tool_is_used():
    """Each [dev] requirement is imported by tests/ or scripts/, or run by .ci/run (build,
    twine, ruff, mypy), or is a type stub for mypy: nothing declared for nothing."""
    used = set().union(
        *(_imported_top_modules(p) for p in [*(ROOT / "tests").rglob("*.py"),
                                             *(ROOT / "scripts").rglob("*.py")])
    )  # fmt: skip
    dists = _distributions()
    imported = {_canonical(d) for m in used for d in dists.get(m, [])}
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    unused = []
    for req in PROJECT["optional-dependencies"]["dev"]:
        name = _canonical(_norm(req)[0].partition("[")[0])
        if name == "scalingo-audit" or name.startswith("types-") or name in imported:
            continue
        if re.search(rf"(\.venv/bin/|-m ){re.escape(name)}\b", ci):
            continue  # a tool .ci/run runs
        if name == "nbval" and "--nbval" in addopts["ini_options"]["addopts"]:
            continue  # a pytest plugin the README's test command loads
        if name == "pytest-xdist" and "-n " in addopts["ini_options"]["addopts"]:
            continue  # the plugin that runs the README's test command on every core
        unused.append(name)
    assert unused == []


TESTED_UNDER_ANOTHER_NAME = {
    "__init__": "test_public_api.py",  # the exported names
    "__main__": "test_packaging.py",  # python -m scalingo_audit
    "_version": "test_packaging.py",  # the one version source, read by the build
    "resources": "test_packaging.py",  # where the bundled notebooks are found, copies
    "demo/__init__": "test_sources.py",  # load("demo")
    "demo/generate": "test_sources.py",  # the demo organisation, typed and deterministic
    "demo/records": "test_large.py",  # the record builders of the demo and the large org
}
"""Package modules whose tests live in a module of another name, and where."""


def test_every_package_module_has_a_test_module_named_after_it():
    """``scalingo_audit/x.py`` is tested in ``tests/test_x.py``; a module of a subpackage
    (``checks/``, ``demo/``) in ``tests/test_<module>.py`` or ``tests/test_<subpackage>.py``;
    the few exceptions are listed with the module that tests them."""
    package = ROOT / "scalingo_audit"
    tests = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    missing, stale = [], []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).with_suffix("").as_posix()
        names = {f"test_{path.stem}.py"}
        if "/" in rel:
            names.add(f"test_{rel.split('/')[0]}.py")
        if names & tests:
            if rel in TESTED_UNDER_ANOTHER_NAME:
                stale.append(rel)  # it has its own test module now
        elif TESTED_UNDER_ANOTHER_NAME.get(rel) not in tests:
            missing.append(rel)
    assert missing == [], f"package modules without a test module: {missing}"
    assert stale == [], f"listed as tested elsewhere but have their own module: {stale}"
    assert set(TESTED_UNDER_ANOTHER_NAME) <= {
        p.relative_to(package).with_suffix("").as_posix() for p in package.rglob("*.py")
    }
