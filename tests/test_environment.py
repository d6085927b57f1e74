"""environment.yml (the conda route) stays in sync with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _norm(req: str) -> tuple[str, str]:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    wanted = dict(_norm(r) for r in project["dependencies"])
    listed = dict(_norm(d) for d in conda if not d.startswith(("python", "pip")))
    assert listed == wanted
    python = next(d for d in conda if d.startswith("python"))
    assert python.replace("python", "") == project["requires-python"]
    assert pip == ['-e ".[dev]"']
    assert "conda-forge" in env["channels"]
