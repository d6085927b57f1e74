"""Benchmark: how long loading, checking and reporting take on a large organisation.

Prints figures, asserts nothing (tests assert behaviour, not timings), and
writes them to ``BENCHMARKS.md`` at the repository root::

    .venv/bin/python scripts/benchmark.py               # everything (report takes minutes)
    .venv/bin/python scripts/benchmark.py --skip-report # load + checks only
    .venv/bin/python scripts/benchmark.py --apps 500 --people 300 --memberships 5000 --no-write

The large organisation comes from :func:`scalingo_audit.demo.large.generate_large`
(memberships include one owner row per app). The speed goals (:func:`ratios`) are measured
in fresh processes, alternating, medians; the load + checks goal too, timed inside its
process after the imports: in this process, the generated organisation's millions of
objects slow every garbage collection of the steps after it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scalingo_audit as sa  # noqa: E402
from scalingo_audit import snapshot  # noqa: E402
from scalingo_audit.checks import run_checks  # noqa: E402
from scalingo_audit.demo.large import generate_large, large_policy  # noqa: E402
from scalingo_audit.pdf import HEADLESS_FLAGS  # noqa: E402
from scalingo_audit.sources import from_snapshot  # noqa: E402

T = TypeVar("T")
Row = tuple[str, str, str]  # step, organisation, figure


def timed(label: str, fn: Callable[[], T]) -> tuple[T, float]:
    print(f"  {label} …", end="", flush=True)
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(f" {seconds:.2f} s", flush=True)
    return value, seconds


def peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory so far of this process, or of its largest finished child
    (``RUSAGE_CHILDREN``: the notebook kernels); Linux reports KiB."""
    return resource.getrusage(who).ru_maxrss / 1024


def human(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def counts(data: sa.AuditData, findings: pd.DataFrame) -> str:
    return (
        f"{len(data.apps):,} apps, {len(data.memberships):,} memberships, "
        f"{len(data.people):,} people, {len(findings):,} findings"
    )


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}){mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, pandas {pd.__version__}"
    )


def html_sizes(result: Path) -> str:
    folder = result if result.is_dir() else result.parent
    files = sorted(folder.glob("*.html"))
    total = sum(f.stat().st_size for f in files)
    each = ", ".join(f"{f.name} {human(f.stat().st_size)}" for f in files)
    return f"{len(files)} HTML files, {human(total)} in all ({each})"


def charts_drawn(report: Path) -> str:
    """Open every page of a report in the system Chromium (network blocked) and count the
    plotly charts that drew; the time to load each page."""
    import shutil

    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "not measured (playwright is not installed)"
    exe = shutil.which("chromium")
    if exe is None:
        return "not measured (no chromium)"
    parts = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=list(HEADLESS_FLAGS))
        for page_file in sorted(report.glob("*.html")):
            page = browser.new_page()
            page.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
            )
            start = time.perf_counter()
            page.goto(page_file.as_uri(), wait_until="load")
            expected = page_file.read_text(encoding="utf-8").count("Plotly.newPlot(")
            drawn_js = (
                "[...document.querySelectorAll('.js-plotly-plot')]"
                ".filter(p => p.querySelector('.main-svg')).length"
            )
            with contextlib.suppress(PlaywrightTimeout):
                page.wait_for_function(f"{drawn_js} >= {expected}", timeout=60_000)
            drawn = page.evaluate(drawn_js)
            took = time.perf_counter() - start
            parts.append(f"{page_file.name}: {drawn}/{expected} charts drawn in {took:.1f} s")
            page.close()
        browser.close()
    return "; ".join(parts)


def run_seconds(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Wall-clock seconds of one subprocess (a fresh interpreter: imports included)."""
    import subprocess

    env = env if env is not None else {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=cwd, env=env, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall


CPU: list[float] = []
"""CPU seconds (user + system) of each :func:`run_seconds` process and of the processes it
waited for (the notebook kernels), in order: less sensitive than wall time to other jobs
sharing the cores, though not immune (they share caches and cores too)."""


def installed_env(cache_home: Path) -> dict[str, str]:
    """The environment of the goal measurements: this checkout first on the path, bytecode
    written and read as in an installed package (pip compiles it; PYTHONDONTWRITEBYTECODE
    would make every run compile the package again), and the user cache directory (the
    demo's frames, :mod:`scalingo_audit.cache`) in ``cache_home``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(cache_home)}


def floor_seconds(tmpdir: Path, env: dict[str, str] | None = None) -> float:
    """The floor: one papermill run (a fresh process, the default kernel) of a one-cell
    notebook importing pandas and plotly."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import pandas, plotly.graph_objects")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmpdir / "floor.ipynb"
    nbformat.write(nb, path)
    code = (
        "import papermill as pm, sys; "
        "pm.execute_notebook(sys.argv[1], sys.argv[2], kernel_name='python3', progress_bar=False)"
    )
    return run_seconds(
        sys.executable, "-c", code, str(path), str(tmpdir / "floor-out.ipynb"), env=env
    )


def load_checks_seconds(snap_dir: Path, policy_file: Path, env: dict[str, str]) -> float:
    """Seconds of ``load`` + ``run_checks`` of a snapshot directory with a policy file, as
    ``scalingo-audit check DIR --policy FILE`` does them: timed inside a fresh process, after
    its imports (``check demo`` measures those), so no object left by this process's earlier
    steps (the generated organisation: millions of them) slows its garbage collector."""
    import subprocess

    code = (
        "import sys, time\n"
        "from scalingo_audit import load, load_policy\n"
        "from scalingo_audit.checks import run_checks\n"
        "policy = load_policy(sys.argv[2])\n"
        "start = time.perf_counter()\n"
        "run_checks(load(sys.argv[1], policy=policy))\n"
        "print(time.perf_counter() - start)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(snap_dir), str(policy_file)],
        check=True, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def ratios(
    rows: list[Row],
    tmpdir: Path,
    snap_dir: Path,
    policy_file: Path,
    *,
    rounds: int = 3,
) -> None:
    """The speed goals of issue 10, each measured in fresh processes in this same run:
    ``rounds`` alternating rounds of the floor, ``report demo`` and the large report, then
    ``3 * rounds + 1`` of ``import pandas``, ``check demo`` and load + checks of the large
    organisation (:func:`load_checks_seconds`); medians."""
    import statistics
    import subprocess

    cli = [sys.executable, "-m", "scalingo_audit.cli"]
    env = installed_env(tmpdir / "cache-home")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "scalingo_audit")],
                   check=True, env=env)  # fmt: skip
    print("speed goals (fresh processes)")
    print(f"  load average: {load_average()}")
    rows.append(("load average at start of the goals", "—", load_average()))
    cold, _ = timed(
        "scalingo-audit check demo, first run (no cache)",
        lambda: run_seconds(*cli, "check", "demo", env=env),
    )
    commands: dict[str, Callable[[], float]] = {
        "floor": lambda: floor_seconds(tmpdir, env),
        "demo": lambda: run_seconds(
            *cli, "report", "demo", "--out", str(tmpdir / "r-demo"), env=env
        ),
        "large": lambda: run_seconds(
            *cli,
            "report",
            str(snap_dir),
            "--policy",
            str(policy_file),
            "--out",
            str(tmpdir / "r-large"),
            env=env,
        ),
        "pandas": lambda: run_seconds(sys.executable, "-c", "import pandas", env=env),
        "check": lambda: run_seconds(*cli, "check", "demo", env=env),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    loads: list[float] = []
    for n in range(rounds):
        for name in ("floor", "demo", "large"):
            times[name].append(timed(f"{name} (round {n + 1})", commands[name])[0])
            cpu[name].append(CPU[-1])
    for _ in range(3 * rounds + 1):
        for name in ("pandas", "check"):
            times[name].append(commands[name]())
            cpu[name].append(CPU[-1])
        loads.append(load_checks_seconds(snap_dir, policy_file, env))
    print(f"  load average at the end: {load_average()}")
    rows.append(("load average at the end of the goals", "—", load_average()))
    med = {name: statistics.median(ts) for name, ts in times.items()}

    cpu_med = {name: statistics.median(ts) for name, ts in cpu.items()}

    def spread(name: str) -> str:
        ts = times[name]
        return (
            f"{med[name]:.2f} s (median of {len(ts)}, {min(ts):.2f} to {max(ts):.2f}; "
            f"CPU {cpu_med[name]:.2f} s)"
        )

    floor, demo, large, pandas_s, check = (med[k] for k in commands)
    goals = [
        ("floor: papermill run of a one-cell notebook (pandas + plotly)", spread("floor"), ""),
        ("`report demo`", spread("demo"), f"**{demo / floor:.2f} x the floor** (goal ≤ 2)"),
        (
            "`report` on the large organisation",
            spread("large"),
            f"**{large / demo:.2f} x `report demo`** (goal ≤ 1.5)",
        ),
        (
            "load + all checks, 50,000 memberships (a fresh process, imports not counted)",
            f"{statistics.median(loads):.2f} s (median of {len(loads)}, {min(loads):.2f} to "
            f"{max(loads):.2f})",
            "goal < 1 s",
        ),
        ("`python -c 'import pandas'`", spread("pandas"), ""),
        (
            "`check demo`",
            spread("check"),
            f"**{check / pandas_s:.2f} x `import pandas`** (goal ≤ 1.3)",
        ),
        (
            "`check demo`, first run (the demo's frames not yet in the user cache)",
            f"{cold:.2f} s",
            f"{cold / pandas_s:.2f} x `import pandas`",
        ),
    ]
    goals.append(
        (
            "the same ratios in CPU seconds (kernels included)",
            f"report demo {cpu_med['demo'] / cpu_med['floor']:.2f} x the floor; large "
            f"{cpu_med['large'] / cpu_med['demo']:.2f} x report demo; check demo "
            f"{cpu_med['check'] / cpu_med['pandas']:.2f} x import pandas",
            "",
        )
    )
    for what, secs, ratio in goals:
        rows.append((what, "goal" if "goal" in ratio else "—", f"{secs} {ratio}".strip()))
        print(f"  {what}: {secs} {ratio}")


def find_build_report() -> Callable[..., Path] | None:
    try:
        from scalingo_audit import report
    except ImportError:
        return None
    fn = getattr(report, "build_report", None)
    return fn if callable(fn) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-report", action="store_true", help="do not time build_report")
    parser.add_argument("--apps", type=int, default=5000)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--memberships", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only; no BENCHMARKS.md")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the goal measurements")
    args = parser.parse_args(argv)
    size = {"apps": args.apps, "people": args.people, "memberships": args.memberships}
    rows: list[Row] = []
    large = f"large ({args.apps:,} apps)"

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="scalingo-audit-bench-") as tmp:
        tmpdir = Path(tmp)
        print(f"large organisation: {size}, seed {args.seed}")
        snap, s = timed("generate_large", lambda: generate_large(**size, seed=args.seed))
        rows.append(("generate (in memory)", large, f"{s:.2f} s"))
        policy = large_policy()
        data, s = timed(
            "load: from_snapshot (in memory)", lambda: from_snapshot(snap, policy=policy)
        )
        rows.append(("load: from_snapshot (in memory)", large, f"{s:.2f} s"))
        snap_dir, s = timed("snapshot.write", lambda: snapshot.write(snap, tmpdir / "large"))
        disk = sum(f.stat().st_size for f in snap_dir.rglob("*") if f.is_file())
        rows.append(("snapshot.write", large, f"{s:.2f} s ({human(disk)} on disk)"))
        data, s = timed("load(dir)", lambda: sa.load(snap_dir, policy=policy))
        load_s = s
        rows.append(("load(snapshot dir)", large, f"{s:.2f} s"))
        findings, s = timed("run_checks", lambda: run_checks(data))
        rows.append(("run_checks", large, f"{s:.2f} s"))
        rows.append(("load(dir) + run_checks (in this process)", large, f"{load_s + s:.2f} s"))
        rows.append(("counts", large, counts(data, findings)))
        print(f"  {counts(data, findings)}")

        print("demo organisation")
        demo, s = timed("load('demo')", lambda: sa.load("demo"))
        rows.append(
            ("load('demo') (its frames from the user cache once kept)", "demo", f"{s:.2f} s")
        )
        demo_findings, s2 = timed("run_checks", lambda: run_checks(demo))
        rows.append(("run_checks", "demo", f"{s2:.2f} s"))
        rows.append(("counts", "demo", counts(demo, demo_findings)))
        print(f"  {counts(demo, demo_findings)}")
        rows.append(("peak memory (load + checks)", "both", f"{peak_mib():.0f} MiB"))

        build_report = find_build_report()
        if args.skip_report:
            print("build_report: skipped (--skip-report)")
            rows.append(("build_report", "—", "skipped (--skip-report)"))
        elif build_report is None:
            print("build_report: skipped (scalingo_audit.report.build_report does not exist yet)")
            rows.append(("build_report", "—", "skipped (not available yet)"))
        else:
            policy_file = tmpdir / "large-policy.yaml"
            policy_file.write_text(
                yaml.safe_dump(
                    {
                        "internal_domains": list(policy.internal_domains),
                        "service_accounts": list(policy.service_accounts),
                        "api_token_accounts": list(policy.api_token_accounts),
                    }
                )
            )
            runs: list[tuple[str, str, str]] = [
                ("demo", "demo", ""),
                (large, str(snap_dir), str(policy_file)),
            ]
            for org, source, pol in runs:
                out = tmpdir / f"report-{'demo' if source == 'demo' else 'large'}"
                kwargs: dict[str, Any] = {"policy": pol, "out_dir": out, "progress": False}

                def run(src: str = source, kw: dict[str, Any] = kwargs) -> Path:
                    assert build_report is not None
                    return build_report(src, **kw)

                phases: dict[str, float] = {}
                kwargs["timings"] = phases
                result, s = timed(f"build_report({org})", run)
                rows.append(("build_report", org, f"{s:.1f} s"))
                where = ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
                rows.append(("… where the time goes", org, where))
                print(f"  {where}")
                rows.append(("report size", org, html_sizes(Path(result))))
                print(f"  {html_sizes(Path(result))}")
                drawn = charts_drawn(Path(result).parent)
                rows.append(("opened in headless Chromium", org, drawn))
                print(f"  {drawn}")
            rows.append(("peak memory (this process)", "both", f"{peak_mib():.0f} MiB"))
            kernel = peak_mib(resource.RUSAGE_CHILDREN)
            rows.append(("peak memory (largest notebook kernel)", "both", f"{kernel:.0f} MiB"))
            ratios(rows, tmpdir, snap_dir, policy_file, rounds=args.rounds)

    command = "python scripts/benchmark.py" + (" --skip-report" if args.skip_report else "")
    if size != {"apps": 5000, "people": 2000, "memberships": 50000}:
        command += f" --apps {args.apps} --people {args.people} --memberships {args.memberships}"
    text = render(rows, command=command, seed=args.seed)
    if args.no_write:
        print(text)
    else:
        # keep the sections other benchmark scripts wrote (between their markers)
        old = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        kept = old[old.index("<!-- ") :] if "<!-- " in old else ""
        args.output.write_text(text + ("\n" + kept if kept else ""), encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def render(rows: list[Row], *, command: str, seed: int) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Figures printed by `scripts/benchmark.py` (a benchmark, not a timed test: "
        "numbers vary from run to run and machine to machine).",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        f"- Command: `.venv/bin/{command}`",
        f"- Large organisation: `generate_large(seed={seed})`, two regions, the collecting "
        "service account owns ~99% of the apps; memberships include one owner row per app. "
        "Kernel start-up and HTML export are included in `build_report` times.",
        f"- Load average at the end of the run: {load_average()}. Other jobs sharing the cores "
        "inflate every absolute time; the ratios of the speed goals (each side measured in "
        "fresh processes in the same run) suffer less.",
        "",
        "| step | organisation | figure |",
        "|---|---|---|",
        *(f"| {step} | {org} | {figure} |" for step, org, figure in rows),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
