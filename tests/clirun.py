"""The scalingo-audit command run in the test process: ``cli.main(argv)``, the function that
the console script and ``python -m scalingo_audit`` call (through ``cli.console``), without
starting an interpreter and importing pandas again (about half a second of CPU a call, a few
hundred calls a run).

:func:`run` gives what ``subprocess.run([sys.executable, "-m", "scalingo_audit", *args],
capture_output=True, text=True, cwd=cwd, env=env, input=input)`` gives, as a fresh process
would see it: the working directory and the environment are the call's, then as they were;
stdin is ``input`` (or empty); stdout and stderr are encoded as the process's own streams
would encode them and decoded as ``subprocess`` decodes them (newlines translated); an exit
(argparse) is its status, an exception escaping ``main`` a traceback and status 1; warnings
follow Python's default filters plus ``PYTHONWARNINGS`` (tests/conftest.py: errors for
deprecations raised from our own modules), not pytest's ``filterwarnings = error``; the root
logger has no handler, as in a fresh process (what a library logs at WARNING goes to stderr).

``cli.main`` installs its logging handler for the command and removes it after, restores its
warning filters and collect's signal handlers; ``report``'s blocked imports (kernel.py) are
unblocked after the call: one call leaves nothing behind. What still needs a real process is
run as one by the tests (:func:`process`): signals, the entry points themselves, two
processes at once, resource limits, a terminal, the imports of a fresh interpreter, a cache
read back by a second process, and once each command.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import locale
import logging
import os
import re
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from scalingo_audit import cli
from scalingo_audit.kernel import SKIPPED_IMPORTS

PROG = "scalingo-audit"


def run(
    *args: str | Path,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``scalingo-audit ARGS`` in ``cwd`` with the environment ``env`` (the whole of it, as
    ``subprocess.run``'s ``env``; ``None``: this process's), ``input`` on stdin."""
    argv = [os.fspath(a) for a in args]
    out, err = _stream(sys.__stdout__, "strict"), _stream(sys.__stderr__, "backslashreplace")
    with (
        _environment(env),
        _directory(cwd),
        _fresh_process_warnings(),
        _fresh_process_logging(),
        _streams(io.StringIO(input or ""), out, err),
        _imports_as_they_were(report="report" in argv),
    ):
        try:
            code: object = cli.main(argv)
        except SystemExit as exc:
            code = exc.code
        except Exception:  # what the interpreter would print before exiting with 1
            traceback.print_exc()
            code = 1
        if code is not None and not isinstance(code, int):  # sys.exit("message")
            print(code, file=sys.stderr)
            code = 1
    return subprocess.CompletedProcess([PROG, *argv], code or 0, _text(out), _text(err))


def process(
    *args: str | Path,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """The same, in a real ``python -m scalingo_audit`` process: for what :func:`run` cannot
    show (the tests using it say why)."""
    return subprocess.run(
        [sys.executable, "-m", "scalingo_audit", *(os.fspath(a) for a in args)],
        capture_output=True, text=True, cwd=cwd, env=env, input=input, timeout=timeout,
    )  # fmt: skip


def _stream(like: TextIO | None, errors: str) -> io.TextIOWrapper:
    """A stream encoding as the process's own ``like`` does (a child inherits the locale)."""
    encoding = getattr(like, "encoding", None) or locale.getpreferredencoding(False)
    return io.TextIOWrapper(
        io.BytesIO(), encoding=encoding, errors=getattr(like, "errors", None) or errors
    )


def _text(stream: io.TextIOWrapper) -> str:
    """What ``subprocess.run(..., text=True)`` reads from a pipe the stream wrote to."""
    stream.flush()
    data = stream.buffer.getvalue()  # type: ignore[attr-defined]
    text: str = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


@contextlib.contextmanager
def _streams(
    stdin: io.StringIO, stdout: io.TextIOWrapper, stderr: io.TextIOWrapper
) -> Iterator[None]:
    before = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = before


@contextlib.contextmanager
def _environment(env: Mapping[str, str] | None) -> Iterator[None]:
    if env is None:
        yield
        return
    before = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


@contextlib.contextmanager
def _directory(cwd: str | Path | None) -> Iterator[None]:
    if cwd is None:
        yield
        return
    before = os.getcwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _fresh_process_warnings() -> Iterator[None]:
    """The warning filters of a new interpreter started with this environment: CPython's
    defaults (the warnings module's documentation), then each ``PYTHONWARNINGS`` entry in
    front, the last one first, as ``-W`` options are applied."""
    options = [o for o in os.environ.get("PYTHONWARNINGS", "").split(",") if o.strip()]
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning):
            warnings.simplefilter("ignore", category)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
        for option in options:
            _apply(option)
        yield


_ACTIONS = {"error", "ignore", "always", "default", "module", "once"}


def _apply(option: str) -> None:
    """One ``action:message:category:module:lineno`` entry, as the interpreter reads it
    (message and module matched literally, the module whole)."""
    action, message, category, module, lineno, *_ = [*option.split(":"), "", "", "", "", ""]
    action = next((a for a in _ACTIONS if a.startswith(action.strip())), "")
    if not action:
        raise ValueError(f"PYTHONWARNINGS entry not understood: {option!r}")
    kind = _category(category.strip()) if category.strip() else Warning
    if not (isinstance(kind, type) and issubclass(kind, Warning)):
        raise ValueError(f"PYTHONWARNINGS category not understood: {option!r}")
    module = module.strip()
    warnings.filterwarnings(
        action,  # type: ignore[arg-type]
        re.escape(message.strip()),
        kind,
        re.escape(module) + r"\Z" if module else "",
        int(lineno) if lineno.strip() else 0,
    )


def _category(name: str) -> object:
    """A warning class named as ``-W`` names it: a builtin, or ``module.Class``."""
    module, _, attr = name.rpartition(".")
    if not module:
        return getattr(builtins, name, None)
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


@contextlib.contextmanager
def _fresh_process_logging() -> Iterator[None]:
    """The root logger as in a new interpreter (no handler, WARNING), not with pytest's
    capturing handlers."""
    root = logging.getLogger()
    before = root.handlers[:], root.level
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.handlers[:], root.level = before[0], before[1]


@contextlib.contextmanager
def _imports_as_they_were(report: bool) -> Iterator[None]:
    """``report`` blocks a few imports in ``sys.modules`` for its own process (kernel.py's
    ``skip_slow_imports``): unblocked after the call, this process is not the command's.
    jsonschema, the one importer of a blocked module, is imported first (the suite's
    contract checks import it anyway): it keeps every format checker for the rest of the run."""
    if report:
        import jsonschema  # noqa: F401

    absent = [name for name in SKIPPED_IMPORTS if name not in sys.modules]
    try:
        yield
    finally:
        for name in absent:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
