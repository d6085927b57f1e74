"""The README's promises that code can keep: its commands and the check catalogue."""

from __future__ import annotations

import re
from pathlib import Path

from scalingo_audit.checks import CHECKS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_two_setup_commands_and_ci_runs_the_same_test_command():
    blocks = _bash_blocks()
    setup, tests = blocks[0].strip(), blocks[1].strip()
    assert setup.startswith("python3 -m venv .venv") and "scalingo-audit report demo" in setup
    assert tests == ".venv/bin/python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == tests
    assert "pip install -q -e '.[dev]'" in (ROOT / ".ci" / "run").read_text()


def test_catalogue_in_readme_lists_every_check():
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (high|medium|low|info) \|", README, flags=re.M)
    assert dict(rows) == {c.id: c.severity for c in CHECKS.values()}
