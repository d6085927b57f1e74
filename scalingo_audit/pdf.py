"""PDF copies of the HTML report for archives, printed by the system Chromium.

:func:`html_to_pdf` runs ``chromium --headless --print-to-pdf`` on one page, offline
(every host name resolves to nothing) and with a throw-away profile. Before printing, a
copy of the page gets a print style sheet: A4 with narrow margins, plotly's toolbar
hidden, a chart never split across two pages, wide tables wrapped to the page width (the
browser scrolls them; paper cannot). Chromium lays the page out at the width of
the printed page, so plotly draws each chart to fit it.

Chromium is not a Python package: on Debian/Ubuntu ``apt-get install chromium``. Without
it, :func:`html_to_pdf` raises :class:`~scalingo_audit.errors.ReportError` saying so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

from . import atomic
from .errors import MissingToolError, ReportError

CHROMIUM_NAMES = ("chromium", "chromium-browser")
"""Executables looked up on ``PATH`` when no ``chromium`` path is given."""

PAGE_WIDTH_PX = 703
"""Printable width of an A4 page with 12 mm margins, in CSS pixels (186 mm at 96 dpi)."""

PRINT_CSS = """<style media="print">
@page { size: A4; margin: 12mm; }
.modebar-container, .modebar { display: none !important; }
.jp-OutputArea-output, .js-plotly-plot, tr, img { break-inside: avoid; }
body { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.jp-OutputArea-output { overflow: visible !important; }
.jp-RenderedHTMLCommon table { width: 100% !important; font-size: 7.5pt; }
.jp-RenderedHTMLCommon :is(td, th) { overflow-wrap: anywhere; white-space: normal !important; }
</style>"""
"""Added to the page's ``<head>`` before printing."""

HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""How every headless Chromium here starts (PDFs, tests, screenshots, benchmarks): as root
on a closed network, without the sandbox and without calls home."""

FLAGS = (
    *HEADLESS_FLAGS,
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: the report needs nothing remote
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=10000",  # let scripts (plotly) finish before printing
    f"--window-size={PAGE_WIDTH_PX},1000",
)


def find_chromium(chromium: str | None = None) -> str:
    """The Chromium executable: ``chromium`` if given (a path or a name on ``PATH``), else
    the first of :data:`CHROMIUM_NAMES` on ``PATH``; ``MissingToolError`` when there is none."""
    names = (chromium,) if chromium else CHROMIUM_NAMES
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    wanted = chromium or " or ".join(CHROMIUM_NAMES)
    raise MissingToolError(
        f"PDF output needs Chromium, and {wanted} was not found: install Debian's chromium "
        "(apt-get install chromium) or leave out --pdf",
        tool=chromium or "chromium",
    )


def html_to_pdf(
    html: str | Path,
    pdf: str | Path,
    *,
    chromium: str | None = None,
    timeout: float = 120,
    css: str = "",
) -> Path:
    """Print the HTML file ``html`` to ``pdf`` with headless Chromium; returns ``pdf``.
    ``css`` (a ``<style>`` or ``<script>`` element) is added after :data:`PRINT_CSS`.

    Raises :class:`ReportError` if Chromium is missing, fails, times out or writes no PDF.
    """
    source, target = Path(html).resolve(), Path(pdf).resolve()
    if not source.is_file():
        raise ReportError(f"{source}: no such HTML file to print")
    executable = find_chromium(chromium)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The print copy sits next to the page, so its relative links keep pointing to the report.
    fd, name = tempfile.mkstemp(prefix=f".{source.stem}.", suffix=".print.html", dir=source.parent)
    copy = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_with_print_css(source.read_text(encoding="utf-8"), css))
        with (
            tempfile.TemporaryDirectory(prefix="scalingo-audit-chromium-") as profile,
            atomic.replacing(target) as partial,
        ):
            command = [
                executable,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--print-to-pdf={partial}",
                copy.as_uri(),
            ]
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired:
                raise ReportError(
                    f"{source.name}: Chromium did not print the PDF within {timeout:g} s"
                ) from None
            except OSError as e:
                raise ReportError(f"{source.name}: could not run {executable}: {e}") from None
            if done.returncode != 0 or not _is_pdf(partial):
                detail = _last_error(done.stderr) or f"exit status {done.returncode}"
                raise ReportError(f"{source.name}: Chromium wrote no PDF ({detail})")
            partial.write_bytes(relative_links(partial.read_bytes(), target.parent))
    finally:
        copy.unlink(missing_ok=True)
    return target


_FILE_URI = re.compile(rb"/URI\s*\((file:(?:[^()\\]|\\.)*)\)")


def relative_links(pdf: bytes, base: Path) -> bytes:
    """``pdf`` with every link to a local file (Chromium writes them as absolute
    ``file:///...`` URIs) made relative to ``base``, the PDF's directory, so the report
    still links its pages once moved or archived, and names no local path. Each URI is
    rewritten in place and padded with spaces (insignificant between PDF tokens), so the
    cross-reference table's byte offsets stay right. A link outside ``base`` keeps only
    its file name."""

    def rewrite(m: re.Match[bytes]) -> bytes:
        raw = m[1]
        uri = re.sub(rb"\\(.)", rb"\1", raw).decode("latin-1")
        parsed = urllib.parse.urlsplit(uri)
        path = Path(urllib.parse.unquote(parsed.path))
        try:
            rel = path.relative_to(base.resolve()).as_posix()
        except ValueError:
            rel = path.name
        new = urllib.parse.quote(rel) + (f"#{parsed.fragment}" if parsed.fragment else "")
        text = re.sub(rb"([()\\])", rb"\\\1", new.encode("latin-1"))
        out = b"/URI (" + text + b")"
        pad = len(m[0]) - len(out)
        return out + b" " * pad if pad >= 0 else m[0]

    return _FILE_URI.sub(rewrite, pdf)


def pdf_path(html: str | Path) -> Path:
    """Where the PDF of an HTML page goes: beside it, ``page.html`` → ``page.pdf``."""
    return Path(html).with_suffix(".pdf")


def _with_print_css(text: str, css: str = "") -> str:
    at = text.lower().find("</head>")
    extra = PRINT_CSS + css
    return text[:at] + extra + text[at:] if at >= 0 else extra + text


def _is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError:
        return False


def _last_error(stderr: str) -> str:
    """Chromium's last error line that is not D-Bus noise (headless has no session bus)."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and "dbus" not in line.lower() and "unexpected operator" not in line
    ]
    return lines[-1][:300] if lines else ""


__all__ = [
    "FLAGS",
    "HEADLESS_FLAGS",
    "PRINT_CSS",
    "find_chromium",
    "html_to_pdf",
    "pdf_path",
    "relative_links",
]
