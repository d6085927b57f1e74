"""Benchmark: load(snapshot dir) + run_checks on the large organisation, this checkout
against another (``--before``), in alternating fresh processes of one sitting.

Prints figures, asserts nothing. The snapshot is written once (``generate_large`` with the
sizes and seed of ``scripts/benchmark.py``); each process loads and checks it once warm-up
and then ``--repeat`` times, and reports every timing::

    .venv/bin/python scripts/benchmark_load.py --before /tmp/old-checkout --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, sys, time
from pathlib import Path
import scalingo_audit as sa
from scalingo_audit.checks import run_checks
from scalingo_audit.demo.large import large_policy
path, repeat = Path(sys.argv[1]), int(sys.argv[2])
policy = large_policy()
out = []
for i in range(repeat + 1):
    t0 = time.perf_counter()
    data = sa.load(path, policy=policy)
    t1 = time.perf_counter()
    findings = run_checks(data)
    t2 = time.perf_counter()
    if i:  # the first is the warm-up
        out.append([t1 - t0, t2 - t1, len(data.memberships), len(findings)])
print(json.dumps(out))
"""


def run(tree: Path, snap_dir: Path, repeat: int) -> list[list[float]]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(snap_dir), str(repeat)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from scalingo_audit import snapshot
    from scalingo_audit.demo.large import generate_large

    trees = {"this": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    times: dict[str, list[list[float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="scalingo-audit-bench-load-") as tmp:
        snap = generate_large(apps=5000, people=2000, memberships=50000, seed=args.seed)
        snap_dir = snapshot.write(snap, Path(tmp) / "large")
        print(f"load average at start: {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f}")
        for _ in range(args.rounds):
            for name, tree in trees.items():
                times[name].extend(run(tree, snap_dir, args.repeat))
        print(f"load average at end: {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f}")
    for name, rows in times.items():
        total = [load + checks for load, checks, _, _ in rows]
        print(
            f"{name}: load + checks median {statistics.median(total):.2f} s, "
            f"min {min(total):.2f} s (load median {statistics.median(r[0] for r in rows):.2f} s, "
            f"checks median {statistics.median(r[1] for r in rows):.2f} s; n={len(rows)}; "
            f"{rows[0][2]:,} memberships, {rows[0][3]:,} findings)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
