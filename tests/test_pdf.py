"""PDF for archives: the system Chromium prints report.html as one report.pdf, charts included.

The check that charts made it onto paper rasterises the PDF with poppler's ``pdftoppm``
(plain PPM: no image library needed) and counts pixels of the role chart's bar colours.
Skips on a laptop without chromium or pdftoppm; fails in CI (``CI`` set).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from scalingo_audit import pdf as pdfmod
from scalingo_audit.errors import MissingToolError, ReportError
from scalingo_audit.notebook import open_audit
from scalingo_audit.plots import ROLE_COLORS
from scalingo_audit.report import build_report

from .tools import system_tool


def need(tool: str) -> str:
    return system_tool(tool, package="poppler-utils" if tool == "pdftoppm" else tool)


def rasterise(pdf: Path, out: Path, *, first: int = 1, last: int = 1) -> list[bytes]:
    """Pages ``first``..``last`` of ``pdf`` at 50 dpi, each as raw RGB bytes."""
    prefix = out / pdf.stem
    subprocess.run(
        [need("pdftoppm"), "-r", "50", "-f", str(first), "-l", str(last), str(pdf), str(prefix)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return [read_ppm(p) for p in sorted(out.glob(f"{pdf.stem}-*.ppm"))]


def read_ppm(path: Path) -> bytes:
    """The RGB bytes of a binary PPM (P6, maxval 255), as pdftoppm writes it."""
    data = path.read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' comments never appear here
        while data[pos : pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P6" and fields[3] == b"255", fields
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1 :]
    assert len(pixels) == width * height * 3
    return pixels


def colour_pixels(rgb: bytes, colour: str, tolerance: int = 40) -> int:
    """How many pixels are within ``tolerance`` (per channel) of the ``#rrggbb`` colour."""
    want = bytes.fromhex(colour.lstrip("#"))
    return sum(
        1
        for i in range(0, len(rgb), 3)
        if abs(rgb[i] - want[0]) <= tolerance
        and abs(rgb[i + 1] - want[1]) <= tolerance
        and abs(rgb[i + 2] - want[2]) <= tolerance
    )


def test_a_small_page_prints_with_its_drawing(tmp_path: Path) -> None:
    need("chromium")
    page = tmp_path / "page.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>t</title></head><body><h1>Hello</h1>"
        '<div id="box" style="width:300px;height:200px"></div><script>'
        "setTimeout(() => { document.getElementById('box').style.background = '#3b3b98' }, 500)"
        "</script></body></html>",
        encoding="utf-8",
    )
    out = pdfmod.html_to_pdf(page, tmp_path / "out" / "page.pdf")
    assert out == tmp_path / "out" / "page.pdf"
    assert out.read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "page.html"], "copy left"
    (first,) = rasterise(out, tmp_path)
    # Drawn by a script after load: the PDF waits for scripts (virtual time budget).
    assert colour_pixels(first, "#3b3b98") > 1000


def test_missing_chromium_is_a_clear_report_error(tmp_path: Path, monkeypatch) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>", encoding="utf-8")
    with pytest.raises(MissingToolError, match="install Debian's chromium") as missing:
        pdfmod.html_to_pdf(page, tmp_path / "page.pdf", chromium="no-such-chromium-here")
    assert missing.value.tool == "no-such-chromium-here"
    assert not isinstance(missing.value, ReportError)
    monkeypatch.setattr(pdfmod, "CHROMIUM_NAMES", ("no-such-chromium-here",))
    with pytest.raises(MissingToolError, match="apt-get install chromium"):
        build_report("demo", out_dir=tmp_path / "report", pdf=True, progress=False)
    assert not (tmp_path / "report").exists(), "notebooks ran although no PDF could be made"
    with pytest.raises(ReportError, match="no such HTML file"):
        pdfmod.html_to_pdf(tmp_path / "missing.html", tmp_path / "x.pdf")


def pdf_text(pdf: Path, page: int | None = None) -> str:
    args = ["-f", str(page), "-l", str(page)] if page else []
    done = subprocess.run(
        [need("pdftotext"), *args, str(pdf), "-"], check=True, capture_output=True, timeout=60
    )
    return done.stdout.decode("utf-8")


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    done = subprocess.run(
        [need("pdfinfo"), "-f", "1", "-l", "9999", str(pdf)], check=True, capture_output=True
    )
    return [
        (float(w), float(h))
        for w, h in re.findall(r"Page +\d+ size: +([\d.]+) x ([\d.]+)", done.stdout.decode())
    ]


@pytest.mark.slow
def test_demo_report_pdf(demo_report: Path, tmp_path: Path) -> None:
    """One report.pdf: charts drawn, landscape pages for the wide findings tables, no
    identifier split across lines, page numbers and the snapshot hash in every footer, and
    no link but internal ones. The report is the run's demo report, built once with
    ``pdf=True`` (tests/conftest.py)."""
    need("chromium")
    need("pdftoppm")
    out = demo_report.parent
    assert 'href="report.pdf"' in demo_report.read_text(encoding="utf-8")  # the index links it
    assert sorted(p.name for p in out.glob("*.pdf")) == ["report.pdf"]
    pdf = out / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert not list(out.glob(".*")), "temporary files left in the report"
    assert b"/URI" not in pdf.read_bytes(), "a link leaves the PDF (only internal links)"
    sizes = page_sizes(pdf)
    assert sizes and any(w > h for w, h in sizes) and any(w < h for w, h in sizes)
    audit = open_audit("demo")
    digest = audit.data.info.source_sha256
    assert digest
    for n in range(1, len(sizes) + 1):
        text = pdf_text(pdf, n)
        assert f"page {n} of {len(sizes)}" in " ".join(text.split()), f"no page number on {n}"
        assert digest in text and "as of 2026-11-01" in text, f"no hash/date on page {n}"
    # the findings pages (landscape) hold the findings tables
    text = pdf_text(pdf)
    f = audit.findings
    names = {*f["app"].dropna(), *f["email"].dropna(), *f["token_name"].dropna()}
    split = []
    for name in sorted(names):
        for m in re.finditer(r"[-@._]", name):
            head, tail = name[: m.end()], name[m.end() :]
            if tail and re.search(re.escape(head) + r"\n+\s*" + re.escape(tail), text):
                split.append(name)
        head_only = re.escape(name[: len(name) // 2]) + r"\n"
        if (
            len(name) > 6
            and " " not in name
            and re.search(head_only + re.escape(name[len(name) // 2 :]), text)
        ):
            split.append(name)
    assert split == [], f"identifiers broken across lines: {split[:10]}"
    for message in f[~f["muted"].astype(bool)]["email"].dropna().unique()[:20]:
        assert message in text
    # the roles chart is drawn on one of the first pages, after the title page
    rendered = rasterise(pdf, tmp_path, first=2, last=5)
    for role, colour in ROLE_COLORS.items():
        found = max(colour_pixels(rgb, colour) for rgb in rendered)
        assert found > 500, f"the {role} bars are missing from the PDF ({found} px)"


def test_links_between_pages_are_relative_and_the_pdf_stays_valid(tmp_path: Path) -> None:
    need("chromium")
    report = tmp_path / "report (final)"
    report.mkdir()
    (report / "index.html").write_text("<html><body>index</body></html>", encoding="utf-8")
    page = report / "01_roles.html"
    page.write_text(
        '<html><body><a href="index.html">Report index</a> '
        '<a href="02 two (b).html#top">next</a> <a href="https://example.org/doc">doc</a>'
        "</body></html>",
        encoding="utf-8",
    )
    out = pdfmod.html_to_pdf(page, pdfmod.pdf_path(page))
    data = out.read_bytes()
    assert b"file:" not in data and str(tmp_path).encode() not in data
    assert b"/URI (index.html)" in data
    assert b"/URI (02%20two%20%28b%29.html#top)" in data
    assert b"/URI (https://example.org/doc)" in data
    info = subprocess.run(
        [need("pdfinfo"), str(out)], capture_output=True, text=True, check=True, timeout=60
    )
    assert "Pages:" in info.stdout and info.stderr == ""  # the xref offsets still hold
    assert rasterise(out, tmp_path)


def test_relative_links_keep_every_byte_offset() -> None:
    pdf = b"%PDF-1.4\n1 0 obj\n<</S /URI\n/URI (file:///r/a\\(1\\).html#x)>>\nendobj\nxref\n"
    out = pdfmod.relative_links(pdf, Path("/r"))
    assert len(out) == len(pdf)
    assert b"/URI (a%281%29.html#x)" in out
    outside = pdfmod.relative_links(b"/URI (file:///home/me/secret/x.html)", Path("/r"))
    assert outside.rstrip() == b"/URI (x.html)"
