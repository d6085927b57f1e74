"""What the package logs, captured as text: the records of the ``scalingo_audit`` logger
at ``level`` and above, one message per line, while the block runs."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def logged(level: int = logging.INFO) -> Iterator[io.StringIO]:
    logger = logging.getLogger("scalingo_audit")
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield text
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)
