"""The public API: ``__all__`` of the package resolves, and every name the README's Python
code blocks and the package's docstrings use (``sa.xxx`` for ``import scalingo_audit as
sa``, ``from scalingo_audit... import ...``, ``import scalingo_audit.x``) is importable."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import scalingo_audit

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scalingo_audit"

_FROM = re.compile(
    r"^[ \t]*(?:>>>[ \t]*)?from[ \t]+(scalingo_audit(?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|[\w \t,]+)",
    re.M,
)
_IMPORT = re.compile(
    r"^[ \t]*(?:>>>[ \t]*)?import[ \t]+(scalingo_audit(?:\.\w+)*)(?:[ \t]+as[ \t]+(\w+))?", re.M
)


def _readme_code() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```(?:python|py)\n(.*?)^```", text, re.M | re.S)
    return [(f"README.md code block {i + 1}", b) for i, b in enumerate(blocks)]


def _docstrings() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    found.append((f"{path.relative_to(ROOT)} docstring", doc))
    return found


def uses(text: str) -> set[tuple[str, str | None]]:
    """(module, attribute or None) pairs that ``text`` imports or reads from the package."""
    out: set[tuple[str, str | None]] = set()
    for module, names in _FROM.findall(text):
        out |= {(module, n.strip()) for n in names.strip("()").split(",") if n.strip()}
    aliases = set()
    for module, alias in _IMPORT.findall(text):
        out.add((module, None))
        if alias and module == "scalingo_audit":
            aliases.add(alias)
    for alias in aliases:
        out |= {("scalingo_audit", n) for n in re.findall(rf"\b{alias}\.(\w+)", text)}
    return out


def test_uses_reads_the_three_forms():
    text = "import scalingo_audit as sa\nfrom scalingo_audit.checks import run_checks, CHECKS\nsa.load('x')\n"
    assert uses(text) == {
        ("scalingo_audit", None),
        ("scalingo_audit.checks", "run_checks"),
        ("scalingo_audit.checks", "CHECKS"),
        ("scalingo_audit", "load"),
    }


DOCUMENTED = sorted(
    {(where, *use) for where, text in _readme_code() + _docstrings() for use in uses(text)},
    key=lambda u: (u[0], u[1], u[2] or ""),
)


def test_the_readme_and_the_docstrings_use_the_package():
    assert ("README.md code block 1", "scalingo_audit.checks", "run_checks") in DOCUMENTED
    assert any(u[1:] == ("scalingo_audit", "run_checks") for u in DOCUMENTED)  # sa.run_checks


@pytest.mark.parametrize(("where", "module", "name"), DOCUMENTED, ids=lambda v: str(v))
def test_documented_name_is_importable(where, module, name):
    mod = importlib.import_module(module)
    if name is not None:
        assert hasattr(mod, name), f"{where} uses {module}.{name}, which does not exist"
        if module == "scalingo_audit":
            assert name in scalingo_audit.__all__, f"{where} uses sa.{name}, not in __all__"


def test_all_resolves():
    assert {"run_checks", "load", "load_policy", "AuditData", "__version__"} <= set(
        scalingo_audit.__all__
    )
    for name in scalingo_audit.__all__:
        assert getattr(scalingo_audit, name) is not None, name
    assert sorted(scalingo_audit.__all__) == sorted(set(scalingo_audit.__all__))
