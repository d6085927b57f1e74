"""Writing an output file atomically: readers see the old file or the new one, never half.

Every file scalingo-audit writes for a person (report pages, the index, PDFs, CSV and XLSX
sheets, decision records, ``--output-file``) goes through :func:`replacing` (or
:func:`write_text` and :func:`write_bytes`, built on it): the content is written to a
temporary sibling (same directory, so the final :func:`os.replace` is a rename on one file
system), flushed to disk, then renamed over the target. On any failure (a full disk, a
signal, a crash) the temporary file is removed and the target is left as it was; an
unwritable path is an :class:`~scalingo_audit.errors.AuditError` naming it (exit status 2
from the CLI).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import AuditError


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer (openpyxl, Chromium, ...) to
    write; when the block ends without an error, that file replaces ``path`` atomically."""
    target = Path(path)
    if target.is_dir():
        raise AuditError(f"{target}: is a directory, not a file to write")
    try:
        fd, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name[:200]}.", suffix=".tmp"
        )
    except OSError as exc:
        raise AuditError(f"{target}: cannot write here ({exc.strerror})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AuditError(f"{target}: cannot write ({exc.strerror or exc})") from None
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with replacing(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return Path(path)


def move(source: str | Path, path: str | Path) -> Path:
    """Move the file ``source`` (written whole and flushed to disk, e.g. by
    :func:`write_text`) to ``path`` atomically: renamed when both are on one file system,
    else copied (:func:`write_bytes`) and removed; returns the path."""
    src, target = Path(source), Path(path)
    if target.is_dir():
        raise AuditError(f"{target}: is a directory, not a file to write")
    try:
        os.replace(src, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # not another file system: the copy would fail too
            raise AuditError(f"{target}: cannot write ({exc.strerror or exc})") from None
        write_bytes(target, src.read_bytes())
        src.unlink()
    return target


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
