"""Build the demo report and take the README's screenshot of its roles page.

    .venv/bin/python scripts/screenshot.py [--report DIR] [--out docs/report-screenshot.png]

Uses the system chromium (``apt install chromium``) with the network cut off,
as the browser tests do. ``--report`` reuses an already built report directory.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Route, sync_playwright

from scalingo_audit.pdf import HEADLESS_FLAGS
from scalingo_audit.report import build_report

ROOT = Path(__file__).resolve().parent.parent
ARGS = list(HEADLESS_FLAGS)
MAX_BYTES = 300_000


def shoot(page_file: Path, out: Path, *, width: int = 1200, height: int = 800) -> int:
    """Screenshot the top of ``page_file`` (offline) into ``out``; return its size in bytes."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found (apt install chromium)")

    def offline(route: Route) -> None:
        local = route.request.url.startswith(("file:", "data:", "about:", "blob:"))
        if local:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.route("**/*", offline)
        page.goto(page_file.as_uri(), wait_until="load")
        expected = page_file.read_text(encoding="utf-8").count("Plotly.newPlot(")
        if expected:
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {expected}",
                timeout=20_000,
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    return out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--report", type=Path, help="an already built report directory")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report-screenshot.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = (args.report or build_report("demo", out_dir=Path(tmp) / "demo").parent).resolve()
        pages = sorted(report.glob("[0-9][0-9]_*roles*.html")) or sorted(report.glob("[0-9]*.html"))
        if not pages:
            raise SystemExit(f"{report}: no report page to shoot")
        size = shoot(pages[0], args.out)
    print(f"wrote {args.out} ({size / 1000:.0f} KB) from {pages[0].name}")
    if size > MAX_BYTES:
        print(f"warning: larger than {MAX_BYTES / 1000:.0f} KB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
