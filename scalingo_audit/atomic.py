"""Writing an output file atomically: readers see the old file or the new one, never half.

:func:`write_text` and :func:`write_bytes` write a temporary sibling (same directory, so
the final :func:`os.replace` is a rename on one file system), flush it to disk, then
rename it over the target. On any failure the temporary file is removed and the target
is left as it was; an unwritable path is an :class:`~scalingo_audit.errors.AuditError`
naming it (exit status 2 from the CLI).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import AuditError


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    target = Path(path)
    if target.is_dir():
        raise AuditError(f"{target}: is a directory, not a file to write")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise AuditError(f"{target}: cannot write here ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AuditError(f"{target}: cannot write ({exc.strerror})") from None
        raise
    return target


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
