"""The one way the benchmark scripts write their figures into BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path


def write_section(bench: Path, table: str, *, begin: str, end: str) -> None:
    """Replace the section of ``bench`` between the markers ``begin`` and ``end`` with
    ``table``, or append it (with its markers) when the file has no such section."""
    text = bench.read_text(encoding="utf-8") if bench.exists() else "# Benchmarks\n"
    section = f"{begin}\n{table}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + f"\n\n{section}\n"
    bench.write_text(text, encoding="utf-8")
