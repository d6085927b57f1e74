"""Benchmark: how long ``scalingo-audit`` takes to start and run ``check demo``, and what it
imports, for this checkout and optionally an older one measured in the same sitting.

Prints figures (asserts nothing) and writes the "Start-up" section of BENCHMARKS.md::

    .venv/bin/python scripts/benchmark_startup.py
    git worktree add /tmp/before <old commit>
    .venv/bin/python scripts/benchmark_startup.py --before /tmp/before   # before and after

Each command runs ``--runs`` times as ``python -m scalingo_audit ...`` with ``PYTHONPATH``
set to the checkout (the same interpreter and installed packages for both); the figure is
the median wall time, runs alternating between the checkouts. "Imports" lists which of the
heavy libraries the command loaded (``-X importtime``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.sections import write_section  # noqa: E402

BEGIN, END = "<!-- startup-benchmark:begin -->", "<!-- startup-benchmark:end -->"
COMMANDS = (("--version",), ("check", "demo"), ("check", "demo", "--format", "json"))
HEAVY = (
    "pandas", "plotly", "papermill", "nbconvert", "nbformat", "ipywidgets", "jupyterlab",
    "requests",
)  # fmt: skip


_CACHE_HOME = tempfile.mkdtemp(prefix="scalingo-audit-bench-cache-")


def _env(checkout: Path) -> dict[str, str]:
    """As a user runs it: no contract checking, bytecode written and read (as in an installed
    package), the user cache directory (the demo's frames) in a temporary directory of this
    run, warmed up by a first run that is not counted."""
    drop = ("SCALINGO_AUDIT_CHECK_CONTRACTS", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = str(checkout)
    env["XDG_CACHE_HOME"] = str(Path(_CACHE_HOME) / checkout.name)
    return env


def _imports(checkout: Path, args: tuple[str, ...]) -> list[str]:
    """The heavy modules ``python -m scalingo_audit ARGS`` loads (``-X importtime``)."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scalingo_audit", *args],
        env=_env(checkout),
        capture_output=True,
        text=True,
        check=False,
        cwd=checkout,
    )
    names = {n.split(".")[0] for n in re.findall(r"\|\s*([\w.]+)$", r.stderr, flags=re.M)}
    return [h for h in HEAVY if h in names]


def measure(
    checkouts: list[Path], args: tuple[str, ...], runs: int
) -> list[tuple[float, list[str]]]:
    """For each checkout, the median wall time of ``python -m scalingo_audit ARGS`` and the
    heavy modules it loads. Runs alternate between checkouts, so that a busy moment of a
    shared machine weighs on both alike."""
    times: list[list[float]] = [[] for _ in checkouts]
    for checkout in checkouts:  # warm-up, not counted: bytecode and the demo cache written
        cmd = [sys.executable, "-m", "scalingo_audit", *args]
        subprocess.run(cmd, env=_env(checkout), capture_output=True, check=False, cwd=checkout)
    for _ in range(runs):
        for i, checkout in enumerate(checkouts):
            cmd = [sys.executable, "-m", "scalingo_audit", *args]
            start = time.perf_counter()
            subprocess.run(cmd, env=_env(checkout), capture_output=True, check=False, cwd=checkout)
            times[i].append(time.perf_counter() - start)
    return [
        (statistics.median(t), _imports(c, args)) for t, c in zip(times, checkouts, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="an older checkout to measure too")
    parser.add_argument("--runs", type=int, default=7, help="runs per command (median)")
    parser.add_argument("--no-write", action="store_true", help="print only; no BENCHMARKS.md")
    args = parser.parse_args(argv)
    checkouts = [("before", args.before.resolve())] if args.before else []
    checkouts.append(("after" if args.before else "this checkout", ROOT))
    rows = []
    for command in COMMANDS:
        results = measure([c for _, c in checkouts], command, args.runs)
        for (label, _), (seconds, heavy) in zip(checkouts, results, strict=True):
            row = (label, f"scalingo-audit {' '.join(command)}", f"{seconds:.2f} s",
                   ", ".join(heavy) or "none of them")  # fmt: skip
            print(" | ".join(row))
            rows.append(row)
    if not args.no_write:
        cores = os.cpu_count()
        table = "\n".join(
            ["## Start-up and `check demo`", "",
             f"`.venv/bin/python scripts/benchmark_startup.py{' --before OLD' if args.before else ''}` "
             f"({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {cores} cores, median of "
             f"{args.runs} runs each, one sitting; the machine was shared, so compare rows "
             f"of one table, not across dates). Imports: which of {', '.join(HEAVY)} the "
             "command loaded.", "",
             "| checkout | command | wall time | imports |", "|---|---|---|---|",
             *[f"| {' | '.join(r)} |" for r in rows]]
        )  # fmt: skip
        write_section(ROOT / "BENCHMARKS.md", table, begin=BEGIN, end=END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
