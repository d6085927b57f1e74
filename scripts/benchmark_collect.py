"""Benchmark live collection against the local fake Scalingo API: requests and time.

Prints figures (asserts nothing) and writes the "Collection" section of BENCHMARKS.md::

    .venv/bin/python scripts/benchmark_collect.py [--no-write]

1. Request count of ``collect`` for 2 regions, 300 owned apps and 40 apps the account
   only collaborates on, versus a naive collector that reads every app and its
   collaborators one by one (two requests per app, as Scalingo's CLI does per app).
2. Events for 500 apps (460 owned, 40 shared), 30-day window: a first collection, then
   an incremental one (``--since`` the first) when nothing new happened.
3. A collection of 150 shared apps with the fake enforcing 60 requests per window,
   the window scaled down to 1 s (real API: 60 s): failed requests and 429s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalingo_audit.api import Client, Settings  # noqa: E402
from scalingo_audit.collect import collect  # noqa: E402
from scripts.sections import write_section  # noqa: E402
from tests.fakeapi import FakeScalingo, make_world  # noqa: E402

BEGIN, END = "<!-- collect-benchmark:begin -->", "<!-- collect-benchmark:end -->"


def naive_collect(fake: FakeScalingo) -> int:
    """Two requests per app (the app, then its collaborators), as a per-app script would."""
    client = Client(Settings.from_env(fake.env()), rate_limit=100_000, period=1.0)
    regions = client.get(fake.auth_url, "/v1/regions")["regions"]
    client.get(fake.auth_url, "/v1/tokens")
    client.get(fake.auth_url, "/v1/users/self")
    for r in regions:
        for app in client.get(r["api"], "/v1/apps")["apps"]:
            client.get(r["api"], f"/v1/apps/{app['name']}")
            client.get(r["api"], f"/v1/apps/{app['name']}/collaborators")
    return client.requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(owned=300, collaborated=40)
        with FakeScalingo(world) as fake:
            collect(Path(tmp) / "a", env=fake.env(), progress=False,
                    rate_limit=100_000, period=1.0)  # fmt: skip
            planned = fake.count()
            fake.reset_log()
            naive = naive_collect(fake)
        bound = 2 * 2 + 40 + 5
        rows += [
            ("requests, collect (2 regions, 300 owned + 40 shared apps)", f"{planned} (bound {bound})"),
            ("requests, naive per-app collector", str(naive)),
            ("ratio naive / collect", f"{naive / planned:.1f}x"),
            ("time at 60 requests/min, collect vs naive",
             f"{planned / 60:.1f} min vs {naive / 60:.1f} min"),
        ]  # fmt: skip

        world = make_world(owned=460, collaborated=40, collaborators_per_app=2, events_per_app=150)
        with FakeScalingo(world) as fake:
            first = collect(Path(tmp) / "e1", env=fake.env(), progress=False,
                            rate_limit=100_000, period=1.0, events_days=30)  # fmt: skip
            n_first = fake.count()
            fake.reset_log()
            collect(Path(tmp) / "e2", env=fake.env(), progress=False,
                    rate_limit=100_000, period=1.0, since=first)  # fmt: skip
            n_second = fake.count()
        rows += [
            ("events, first collection (500 apps, 30 days, 150 events/app)", str(n_first)),
            ("events, incremental collection, nothing new (bound 2x2 + 40 + 5 + 500)",
             f"{n_second} (bound {2 * 2 + 40 + 5 + 500})"),
            ("… at 60 requests/min, first vs incremental",
             f"{n_first / 60:.1f} min vs {n_second / 60:.1f} min"),
        ]  # fmt: skip

        world = make_world(owned=10, collaborated=150, collaborators_per_app=2)
        with FakeScalingo(world) as fake:
            fake.rate_limit(per_window=60, window_seconds=1.0, retry_after=True)
            start = time.perf_counter()
            collect(Path(tmp) / "b", env=fake.env(), progress=False,
                           rate_limit=60, period=1.0)  # fmt: skip
            seconds = time.perf_counter() - start
            sent = fake.count()
            throttled = fake.count(status=429)
            failed = fake.count(status=500)
        rows += [
            ("160 apps under a 60/window limit (window scaled to 1 s)",
             f"{sent} requests in {seconds:.1f} s ({sent / seconds:.0f}/s), "
             f"{throttled} x 429, {failed} x 500"),
            ("… the same at the real 60 requests/min", f"≈ {sent / 60:.1f} min"),
        ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if not args.no_write:
        table = "\n".join(
            ["## Collection (fake Scalingo API on 127.0.0.1)", "",
             "`.venv/bin/python scripts/benchmark_collect.py`", "",
             "| measure | figure |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]]
        )  # fmt: skip
        write_section(ROOT / "BENCHMARKS.md", table, begin=BEGIN, end=END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
