"""environment.yml (the conda route) stays in sync with pyproject.toml: its conda packages
are the runtime dependencies plus the [lab] extra, and pip installs the package with [dev]."""

from __future__ import annotations

import re
import tomllib
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
