"""Layers without cycles: the import graph of the package (module-level imports, read with
ast from the package files, ``if TYPE_CHECKING:`` blocks left out) has no cycle, and the
API client loads without pandas or the loader."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "scalingo_audit"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = f
    return mods


def _module_level_imports(tree: ast.Module):
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):  # module-level conditionals, not TYPE_CHECKING
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                todo += node.body
            todo += node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody
            todo += [s for h in node.handlers for s in h.body]


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports at module level."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from . import frames` imports the module frames; `from .x import y`, x
            deps |= {
                f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names
            }
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def test_graph_reads_the_imports():
    graph = import_graph()
    assert "scalingo_audit.frames" in graph["scalingo_audit.model"]
    assert "scalingo_audit.events" in graph["scalingo_audit.checks.activity"]
    assert "scalingo_audit.checks.registry" in graph["scalingo_audit.checks"]
    # annotations only (TYPE_CHECKING): not an edge
    assert "scalingo_audit.policy" not in graph["scalingo_audit.events"]


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


def test_api_client_loads_alone():
    code = (
        "import sys, scalingo_audit.api\n"
        "bad = sorted(m for m in sys.modules if m == 'pandas' or m.startswith('pandas.')"
        " or m in ('scalingo_audit.sources', 'scalingo_audit.export', 'scalingo_audit.model'))\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "", f"import scalingo_audit.api loaded {r.stdout.strip()}"
