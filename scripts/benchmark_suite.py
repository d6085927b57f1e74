"""Benchmark the test suite: the README's test command before and after, in one sitting.

Prints figures (asserts nothing) and writes the "Test suite" section of BENCHMARKS.md::

    .venv/bin/python scripts/benchmark_suite.py [--before 231f6c2] [--after HEAD]
        [--rounds 1] [--python .venv/bin/python] [--logs DIR] [--no-write]

Each revision is cloned from this repository into a temporary directory (a fresh checkout:
no bytecode, no caches, nothing of this work tree), and the test command its own README
gives (``.venv/bin/python -m pytest``) runs there, with ``--python`` (default: this
interpreter, the dev venv) in place of ``.venv/bin/python``, ``PYTHONPATH`` set to the clone
(its package shadows the installed one, in subprocesses and notebook kernels too), ``CI=1``
(a test that needs a missing tool fails instead of skipping) and ``SCALINGO_AUDIT_DIST``
unset (a suite that checks the release builds it itself, as the README's command does).

The default ``--before`` is 231f6c2, main when issue 13 asked for a suite "at most half of
today's time"; it runs with today's dependencies (its suite passed with them on
2026-12-01). Both commands run in the same sitting, alternating with ``--rounds`` above 1;
the load average is recorded before and after each run, since other jobs on the machine
slow a suite down (a parallel one more than a serial one, as it needs every core). A failing
suite is reported with its failures, never hidden: its time then measures a broken suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.sections import write_section  # noqa: E402

BEGIN, END = "<!-- suite-benchmark:begin -->", "<!-- suite-benchmark:end -->"
BEFORE = "231f6c2"
GOAL = 0.5  # issue 13: after <= half of before


@dataclass
class Run:
    """One run of one revision's test command."""

    wall: float
    cpu: float  # user + system of the command and every process it waited for
    returncode: int
    summary: str  # pytest's last line, e.g. "941 passed in 210.12s"
    failures: list[str]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


@dataclass
class Side:
    label: str
    rev: str
    commit: str = ""
    command: str = ""
    runs: list[Run] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)


def git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def checkout(rev: str, where: Path) -> str:
    """Clone this repository at ``rev`` into ``where``; the full commit id."""
    git("clone", "--quiet", "--no-checkout", str(ROOT), str(where))
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")  # resolved here: HEAD, a branch
    git("-c", "advice.detachedHead=false", "checkout", "--quiet", commit, cwd=where)
    return commit


def test_command(checkout_dir: Path) -> str:
    """The README's test command: its one-line ``bash`` block that runs pytest."""
    readme = (checkout_dir / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        if len(lines) == 1 and "-m pytest" in lines[0]:
            return lines[0].strip()
    raise SystemExit(f"no test command found in {checkout_dir / 'README.md'}")


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def run_suite(side: Side, where: Path, python: str, log: Path) -> Run:
    argv = side.command.split()
    if argv[0] != ".venv/bin/python":
        raise SystemExit(f"{side.label}: unexpected test command {side.command!r}")
    argv[0] = python
    env = {k: v for k, v in os.environ.items() if k != "SCALINGO_AUDIT_DIST"}
    env.update(CI="1", PYTHONPATH=str(where))
    print(f"{side.label} ({side.commit[:7]}): {' '.join(argv)}  [log: {log}]", flush=True)
    load_before = load_average()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(argv, cwd=where, env=env, stdout=out, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = log.read_text(encoding="utf-8", errors="replace")
    lines = [line.strip("= ") for line in text.splitlines() if line.strip()]
    summary = next(
        (line for line in reversed(lines) if re.search(r"\d+ (passed|failed|error)", line)),
        lines[-1] if lines else "(no output)",
    )
    failures = re.findall(r"^(?:FAILED|ERROR) (\S+)", text, flags=re.M)
    run = Run(wall, cpu, done.returncode, summary, failures, load_before, load_average())
    print(
        f"  {wall:.1f} s wall, {cpu:.1f} s CPU, exit {done.returncode}: {summary}; "
        f"load {'/'.join(map(str, load_before))} -> {'/'.join(map(str, run.load_after))}",
        flush=True,
    )
    for name in failures[:20]:
        print(f"  failed: {name}")
    return run


def machine() -> str:
    cores = os.cpu_count() or 0
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), flags=re.M)
        model = found.group(1).strip() if found else ""
    return (
        f"{cores} cores{f' ({model})' if model else ''}; {platform.system()} {platform.release()}"
    )


def table(before: Side, after: Side, python: str) -> str:
    ratio = after.wall / before.wall
    verdict = (
        "goal met"
        if ratio <= GOAL and all(r.returncode == 0 for r in after.runs)
        else "goal NOT met"
    )
    if verdict == "goal met" and any(r.returncode != 0 for r in before.runs):
        # An old revision may fail a test with today's dependencies (listed below): a failed
        # test ends at its failure, so before's time is, if anything, shorter for it.
        verdict += "; the before suite fails with today's dependencies, below"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rounds = len(after.runs)
    lines = [
        "## Test suite (before and after issue 13)",
        "",
        f"`.venv/bin/python scripts/benchmark_suite.py --before {before.rev}` ({now}, "
        f"{machine()}; Python {platform.python_version()}, `{python}`). Each revision runs "
        "in a fresh clone, its README's test command with `CI=1`, in the same sitting"
        + (f", alternating, {rounds} rounds (medians)" if rounds > 1 else "")
        + ". Goal (issue 13): after at most half of before.",
        "",
        "| revision | test command | result | wall | CPU (all processes) | load average "
        "before → after (1/5/15 min) |",
        "|---|---|---|---|---|---|",
    ]
    for side in (before, after):
        for r in side.runs:
            status = r.summary if r.returncode == 0 else f"**exit {r.returncode}**: {r.summary}"
            lines.append(
                f"| {side.label} `{side.commit[:7]}` | `{side.command}` | {status} | "
                f"{r.wall:.1f} s | {r.cpu:.1f} s | {'/'.join(map(str, r.load_before))} → "
                f"{'/'.join(map(str, r.load_after))} |"
            )
    lines += [
        "",
        f"**after / before = {after.wall:.1f} s / {before.wall:.1f} s = {ratio:.2f}** "
        f"({verdict}: ≤ {GOAL}).",
    ]
    for side in (before, after):
        failed = sorted({name for r in side.runs for name in r.failures})
        if failed:
            lines.append("")
            lines.append(f"Failed in {side.label}: " + ", ".join(f"`{n}`" for n in failed[:30]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help=f"revision before (default {BEFORE})")
    parser.add_argument("--after", default="HEAD", help="revision after (default HEAD)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each, alternating")
    parser.add_argument("--python", default=sys.executable, help="replaces .venv/bin/python")
    parser.add_argument("--logs", type=Path, help="keep each run's output in this directory")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="scalingo-audit-suite-bench-"))
    logs = args.logs or work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sides = [Side("before", args.before), Side("after", args.after)]
    try:
        for side in sides:
            where = work / side.label
            side.commit = checkout(side.rev, where)
            side.command = test_command(where)
        print(f"machine: {machine()}; load average {'/'.join(map(str, load_average()))}")
        for n in range(args.rounds):
            for side in sides:
                where = work / side.label
                if n:  # a fresh tree for every run: nothing cached by the one before
                    shutil.rmtree(where)
                    checkout(side.commit, where)
                log = logs / f"{side.label}-{n + 1}.log"
                side.runs.append(run_suite(side, where, args.python, log))
    finally:
        shutil.rmtree(work / "before", ignore_errors=True)
        shutil.rmtree(work / "after", ignore_errors=True)
    before, after = sides
    text = table(before, after, args.python)
    print()
    print(text)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", text, begin=BEGIN, end=END)
        print(f"\nwrote the section to {ROOT / 'BENCHMARKS.md'}; logs in {logs}")
    return 0 if all(r.returncode == 0 for s in sides for r in s.runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
