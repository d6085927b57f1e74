"""Benchmark the explorer's responsiveness on the large generated organisation.

Builds :class:`scalingo_audit.explorer.Explorer` on ``generate_large()`` (5,000 apps,
2,000 people, 50,000 memberships), then changes filter widgets as an analyst would
(each recomputes what it affects: table, summary and chart, or the person panel) and times each
change. Prints figures (asserts nothing) and writes the "Explorer" section of
BENCHMARKS.md::

    .venv/bin/python scripts/benchmark_explorer.py [--no-write] [--repeat N] [--browser]

With ``--browser`` it also runs the explorer notebook on that organisation in a real
JupyterLab with headless Chromium (the set-up of ``tests/test_jupyterlab.py``) and times
each filter change from picking an option to the table and the chart redrawn in the page.

Outside a kernel the explorer does not draw its chart (nowhere to draw); here each
redraw still builds the plotly mimetype bundle a kernel would send, so only the comm
round trip and the browser's drawing are left out (``tests/test_jupyterlab.py`` drives
the real thing in JupyterLab).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import plotly.io as pio  # noqa: E402

from scalingo_audit import snapshot  # noqa: E402
from scalingo_audit.checks import expired_exceptions, resolve_as_of, run_checks  # noqa: E402
from scalingo_audit.demo.large import generate_large, large_policy  # noqa: E402
from scalingo_audit.explorer import ANY, Explorer  # noqa: E402
from scalingo_audit.notebook import Audit  # noqa: E402
from scalingo_audit.sources import from_snapshot  # noqa: E402
from scalingo_audit.tables import ROLE_LABELS  # noqa: E402
from scripts.sections import write_section  # noqa: E402

BEGIN, END = "<!-- explorer-benchmark:begin -->", "<!-- explorer-benchmark:end -->"


def large_audit(**size: int) -> Audit:
    """The large organisation loaded and checked, as ``open_audit`` would return it."""
    data = from_snapshot(generate_large(**size), policy=large_policy())
    when = resolve_as_of(None, data)
    return Audit(
        data=data,
        findings=run_checks(data, as_of=when),
        as_of=when,
        expired=expired_exceptions(data.policy, when),
    )


def changes(explorer: Explorer) -> list[tuple[str, Any]]:
    """A session's worth of filter changes: (widget, value), each applied in turn."""
    m = explorer.audit.data.memberships
    region = str(m["region"].iloc[0])
    project = str(m.loc[m["region"] == region, "project_name"].dropna().iloc[0])
    app = str(m["app_name"].iloc[len(m) // 2])
    counts = m["email_key"].value_counts()
    busiest = str(counts.index[0])  # the collecting account: owner of (nearly) every app
    typical = str(counts.index[len(counts) // 2])
    return [
        ("role", "limited_collaborator"),
        ("role", "collaborator"),
        ("tfa", "off"),
        ("status", "pending"),
        ("status", ANY),
        ("internal", "external"),
        ("tfa", ANY),
        ("role", ANY),
        ("internal", ANY),
        ("region", region),
        ("project", project),
        ("project", ANY),
        ("region", ANY),
        ("app", app[:3]),  # a fragment: every app containing it
        ("app", app),
        ("app", ANY),
        ("person", typical),
        ("person", busiest),
        ("role", "collaborator"),  # filters with the largest person panel shown
        ("role", ANY),
        ("person", ANY),
    ]


def browser_changes(audit: Audit, rounds: int) -> list[tuple[str, str, int]]:
    """Filter changes made in the page: (widget class, option, memberships then shown)."""
    m = audit.data.memberships
    steps = [
        *[("sa-role", ROLE_LABELS[r], int((m["role"] == r).sum())) for r in ROLE_LABELS],
        ("sa-role", "Any", len(m)),
        ("sa-internal", "external", int((m["internal"] == False).sum())),  # noqa: E712
        ("sa-internal", "internal", int((m["internal"] == True).sum())),  # noqa: E712
        ("sa-internal", "Any", len(m)),
    ]
    return steps * rounds


def browser_timings(audit: Audit, size: dict[str, int], rounds: int) -> list[tuple[str, str]]:
    """Filter changes in a real JupyterLab page, on the large organisation read from disk."""
    from tests.test_jupyterlab import (
        NOTEBOOK,
        jupyter_lab,
        lab_browser,
        open_explorer,
        read_explorer,
        wait_for_total,
    )

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("--browser: chromium not found, skipped")
        return [("in JupyterLab + Chromium", "skipped (no chromium)")]
    policy = audit.data.policy
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        snap_dir = snapshot.write(generate_large(**size), base / "large")
        policy_file = base / "large-policy.yaml"
        policy_file.write_text(
            yaml.safe_dump(
                {
                    "internal_domains": list(policy.internal_domains),
                    "service_accounts": list(policy.service_accounts),
                    "api_token_accounts": list(policy.api_token_accounts),
                }
            ),
            encoding="utf-8",
        )
        nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
        params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        params["source"] = f"source = {str(snap_dir)!r}\npolicy = {str(policy_file)!r}\nas_of = ''"
        notebook = base / "explorer-large.ipynb"
        notebook.write_text(json.dumps(nb), encoding="utf-8")
        with (
            jupyter_lab(base / "lab", {notebook.name: notebook}) as lab,
            lab_browser(lab, chromium) as (page, seen),
        ):
            start = time.perf_counter()
            open_explorer(page, lab, notebook.name, timeout=180_000)
            opened = time.perf_counter() - start
            shown = read_explorer(page)["header"]
            print(f"notebook run and explorer drawn in {opened:.1f} s ({shown})")
            times: list[float] = []
            for widget, option, expected in browser_changes(audit, rounds):
                start = time.perf_counter()
                page.locator(f".sa-explorer .{widget} select").select_option(value=option)
                wait_for_total(page, expected, timeout=30_000)
                times.append(time.perf_counter() - start)
                print(f"  {widget} = {option}: {times[-1]:.2f} s ({expected} memberships)")
            if seen.errors:
                print(f"console errors: {seen.errors}")
    return [
        ("in JupyterLab + Chromium: notebook run to explorer drawn", f"{opened:.1f} s"),
        ("in JupyterLab + Chromium: role or domain picked to table and chart redrawn",
         f"**median {statistics.median(times):.2f} s, max {max(times):.2f} s "
         f"(n={len(times)})**"),
    ]  # fmt: skip


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of filter changes")
    parser.add_argument(
        "--browser", action="store_true", help="also time it in JupyterLab + headless Chromium"
    )
    parser.add_argument("--apps", type=int, default=5000)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--memberships", type=int, default=50000)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    audit = large_audit(apps=args.apps, people=args.people, memberships=args.memberships)
    load_s = time.perf_counter() - start
    m = audit.data.memberships
    print(f"loaded {len(audit.data.apps)} apps, {len(m)} memberships in {load_s:.1f} s")

    holder: dict[str, Explorer] = {}
    build_s = timed(lambda: holder.setdefault("x", Explorer(audit)))
    explorer = holder["x"]
    renderer = pio.renderers["plotly_mimetype"]
    explorer._draw = lambda fig: renderer.to_mimebundle(fig.to_dict())  # type: ignore[method-assign]
    print(f"Explorer(audit): {build_s:.2f} s")

    per_widget: dict[str, list[float]] = {}
    every: list[float] = []
    for _ in range(args.repeat):
        for name, value in changes(explorer):
            widget = explorer.widgets[name]
            s = timed(partial(setattr, widget, "value", value))
            per_widget.setdefault(name, []).append(s)
            every.append(s)
    counts = m["email_key"].value_counts()
    explorer.widgets["person"].value = str(counts.index[0])
    panel = (f"{counts.index[0]}: {int(counts.iloc[0]):,} memberships, "
             f"{len(explorer.person_findings())} findings, "
             f"{len(explorer.person.value) / 1024:,.0f} KiB of HTML")  # fmt: skip
    explorer.widgets["person"].value = ANY
    reset_s = []
    for _ in range(args.repeat):
        for name, value in changes(explorer)[:4]:  # role, tfa and status set
            explorer.widgets[name].value = value
        reset_s.append(timed(explorer.reset))

    def fig(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.3f} s, max {max(xs):.3f} s (n={len(xs)})"

    rows = [
        ("organisation", f"{len(audit.data.apps):,} apps, {len(m):,} memberships, "
                         f"{len(audit.data.people):,} people"),
        ("Explorer(audit) (widgets, first table and chart)", f"{build_s:.2f} s"),
        ("every change (filters and person picker)", f"**{fig(every)}**"),
        *[(f"change of `{name}`", fig(xs)) for name, xs in per_widget.items()],
        ("… `person`: picking someone typical, then the largest", fig(per_widget["person"][::3])
         + "; " + fig(per_widget["person"][1::3])),
        ("reset (role, 2FA and status set, then cleared)", fig(reset_s)),
        ("largest person panel (no row cap)", panel),
        ("changes over 1 s", f"{sum(s > 1 for s in every)} of {len(every)}"),
    ]  # fmt: skip
    if args.browser:
        size = {"apps": args.apps, "people": args.people, "memberships": args.memberships}
        rows += browser_timings(audit, size, args.repeat)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if not args.no_write:
        table = "\n".join(
            ["## Explorer responsiveness (large organisation)", "",
             f"`.venv/bin/python scripts/benchmark_explorer.py{' --browser' if args.browser else ''}`"
             f" ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)."
             " In the kernel: time from setting a widget's value to what it affects "
             "recomputed (a filter: table, summary and chart with its plotly bundle; the "
             "person picker: the person panel). In JupyterLab + Chromium: from picking an "
             "option in the page to the table and the chart redrawn there. "
             "Goal: under 1 s per change.", "",
             "| measure | figure |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]]
        )  # fmt: skip
        write_section(ROOT / "BENCHMARKS.md", table, begin=BEGIN, end=END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
