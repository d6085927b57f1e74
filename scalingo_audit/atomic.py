"""Whole output files or none: every file scalingo-audit writes for a person (report pages,
the index, PDFs, CSV and XLSX sheets, decision records) goes through :func:`replacing`.

The content is written to a temporary name beside the target (same directory, so the
rename stays on one file system), flushed to disk, then renamed over the target in one
step. A full disk, a signal or a crash leaves the previous file (or none) under the
final name, never a half-written one; the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block ends without an error,
    the file written there replaces ``target`` atomically. On any error (or if nothing
    was written) ``target`` is left as it was."""
    out = Path(target)
    tmp = out.with_name(f".{out.name[:200]}.{secrets.token_hex(4)}.partial")
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(2, "nothing was written", str(out))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see :func:`replacing`)."""
    with replacing(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically (see :func:`replacing`)."""
    return write_bytes(target, text.encode(encoding))
