"""Layers without cycles: the import graph of the package has no cycle, and the API client
loads without pandas or the loader.

The graph counts every import the package can run, read with ast from its files: at module
level and inside functions alike (a function-level import only hides a cycle, it does not
remove it), with ``if TYPE_CHECKING:`` blocks left out (annotations, never run). Importing
``a.b.c`` runs the packages ``a`` and ``a.b`` first, so they are edges too, except the
importer's own packages (already running). A package's lazy exports (PEP 562: a module-level
``_EXPORTS`` dict of name -> module, imported by ``__getattr__``) are edges of the package."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scalingo_audit"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = f
    return mods


def _imports(tree: ast.AST):
    """Every Import / ImportFrom node of ``tree`` but those under ``if TYPE_CHECKING:``."""
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
        else:
            todo += ast.iter_child_nodes(node)


def _lazy_exports(tree: ast.Module) -> list[str]:
    """The modules named by a module-level ``_EXPORTS = {name: "module", ...}`` (relative)."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["_EXPORTS"]
            and isinstance(node.value, ast.Dict)
        ):
            return [str(v.value) for v in node.value.values if isinstance(v, ast.Constant)]
    return []


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def edges(name: str, is_package: bool, source: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that importing ``name`` (its text: ``source``) can import."""
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(source)
    deps: set[str] = {f"{package}.{m}" for m in _lazy_exports(tree)} if is_package else set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            deps |= {a.name for a in node.names}
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        # `from . import frames` imports the module frames; `from .x import y`, x
        deps |= {f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target
                 for a in node.names}  # fmt: skip
    own = {name, *_ancestors(name)}
    deps |= {p for d in deps for p in _ancestors(d)}  # importing a.b.c runs a and a.b
    return {d for d in deps if d in modules and d not in own}


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it can import (see the module docstring)."""
    mods = _modules()
    return {
        name: edges(name, path.name == "__init__.py", path.read_text(encoding="utf-8"), set(mods))
        for name, path in mods.items()
    }


def test_edges_count_every_import_the_module_can_run():
    mods = {"p", "p.a", "p.b", "p.c", "p.d", "p.q", "p.q.r", "p.q.s"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import b\n"
        "if TYPE_CHECKING:\n    from .c import C\nelse:\n    import p.d\n"
        "def f():\n    from .q.r import x\n    return x\n"
    )
    assert edges("p.a", False, source, mods) == {"p.b", "p.d", "p.q", "p.q.r"}
    assert edges("p.q.r", False, "from . import s\nfrom .. import a\n", mods) == {"p.q.s", "p.a"}
    lazy = "_EXPORTS = {'A': 'a', 'R': 'q.r'}\ndef __getattr__(name): ...\n"
    assert edges("p", True, lazy, mods) == {"p.a", "p.q", "p.q.r"}


def test_graph_reads_the_imports():
    graph = import_graph()
    assert "scalingo_audit.frames" in graph["scalingo_audit.model"]
    assert "scalingo_audit.events" in graph["scalingo_audit.checks.activity"]
    assert "scalingo_audit.checks.registry" in graph["scalingo_audit.checks"]
    assert "scalingo_audit.checks" in graph["scalingo_audit.diff"]  # inside compare()
    assert "scalingo_audit.checks" in graph["scalingo_audit"]  # a lazy export (run_checks)
    # annotations only (TYPE_CHECKING): not an edge
    assert "scalingo_audit.policy" not in graph["scalingo_audit.events"]
    registry = graph["scalingo_audit.checks.registry"]
    assert {"scalingo_audit.model", "scalingo_audit.policy"}.isdisjoint(registry)


def test_no_import_cycle():
    try:
        order = list(graphlib.TopologicalSorter(import_graph()).static_order())
    except graphlib.CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None
    assert "scalingo_audit.frames" in order


def test_a_cycle_is_found():
    """The check itself fails on a cycle (so the test above can fail)."""
    graph = import_graph()
    graph["scalingo_audit.frames"].add("scalingo_audit.model")
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        return
    raise AssertionError("a cycle went unnoticed")


def test_nothing_imports_the_package_root():
    """The root's lazy exports reach the loader and the checks: a module importing the root
    (for ``__version__``: that is ``_version``'s) would close a cycle through them."""
    graph = import_graph()
    assert [m for m, deps in graph.items() if "scalingo_audit" in deps] == []


LOADS_ALONE = {
    # the API client: no pandas, no loader (collect runs without them)
    "scalingo_audit.api": (
        "pandas", "scalingo_audit.sources", "scalingo_audit.export", "scalingo_audit.model",
    ),
    # report: its first kernel starts before pandas, the checks and the source are loaded
    # (report.build_report), beside them; importing the module, as the CLI's report command
    # does first, must not load them already
    "scalingo_audit.report": (
        "pandas", "numpy", "plotly", "scalingo_audit.notebook", "scalingo_audit.checks",
        "scalingo_audit.sources",
    ),
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(LOADS_ALONE))
def test_modules_that_load_without_the_heavy_ones(module: str) -> None:
    forbidden = LOADS_ALONE[module]
    code = (
        f"import sys, {module}\n"
        f"bad = sorted(m for m in sys.modules if m.partition('.')[0] in {forbidden!r}"
        f" or m in {forbidden!r})\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "", f"import {module} loaded {r.stdout.strip()}"
