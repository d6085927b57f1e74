"""kernel: the report's Jupyter kernel, ipykernel without the one slow import nobody in it
needs, started by the kernel manager the report uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scalingo_audit import kernel

from .conftest import without_blocked

# much of its time spent waiting (sockets, timeouts, child processes): run beside a slow
# module (conftest)
pytestmark = pytest.mark.waits

BLOCKED = kernel.SKIPPED_IMPORTS[0]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a new interpreter that can import the real module (tests/blocked off)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env=without_blocked(dict(os.environ)),
    )  # fmt: skip


def test_skip_slow_imports_blocks_the_module_and_jsonschema_still_checks_formats():
    r = _python(
        "from scalingo_audit import kernel\n"
        "kernel.skip_slow_imports()\n"
        "import jsonschema\n"
        "try:\n"
        f"    import {BLOCKED}\n"
        "    print('imported')\n"
        "except ImportError:\n"
        "    print('blocked')\n"
        "checker = jsonschema.FormatChecker()\n"
        "print(checker.conforms('2026-10-01', 'date'), checker.conforms('2026-13-01', 'date'))\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["blocked", "True", "False"]


def test_a_module_already_imported_is_left_alone():
    r = _python(
        f"import {BLOCKED}, sys\n"
        "from scalingo_audit import kernel\n"
        "kernel.skip_slow_imports()\n"
        f"print(sys.modules[{BLOCKED!r}] is not None)\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


def _manager(spec_dir: Path, argv: list[str]):
    (spec_dir / "k").mkdir(parents=True)
    (spec_dir / "k" / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "k", "language": "python"})
    )
    km = kernel.manager_class()(kernel_name="k")
    # jupyter_client's KernelSpecManager, reading only this directory
    km.kernel_spec_manager = type(km.kernel_spec_manager)(kernel_dirs=[str(spec_dir)])
    return km


def test_the_manager_starts_this_module_where_the_spec_says_ipykernel_launcher(tmp_path):
    assert kernel.manager_class() is kernel.manager_class()  # defined once
    conn = str(tmp_path / "conn.json")
    km = _manager(tmp_path / "a", [sys.executable, "-m", "ipykernel_launcher", "-f",
                                   "{connection_file}"])  # fmt: skip
    km.connection_file = conn
    assert km.format_kernel_cmd() == [sys.executable, "-m", "scalingo_audit.kernel", "-f",
                                      conn]  # fmt: skip
    other = [sys.executable, "-m", "other_launcher", "-f", "{connection_file}"]
    km = _manager(tmp_path / "b", other)
    km.connection_file = conn
    assert km.format_kernel_cmd() == [*other[:-1], conn]  # any other command: as is


def test_a_kernel_it_starts_runs_code_without_the_slow_import():
    km = kernel.manager_class()(kernel_name="python3")
    km.start_kernel()
    try:
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            out: list[str] = []

            def hook(msg: dict) -> None:
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])

            reply = kc.execute_interactive(
                f"import sys; print(sys.modules.get({BLOCKED!r}, 'absent'), 6 * 7)",
                output_hook=hook, timeout=120,
            )  # fmt: skip
        finally:
            kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
        km.cleanup_resources()
    assert reply["content"]["status"] == "ok"
    assert "".join(out).split() == ["None", "42"]


def _run(kc, code: str) -> tuple[dict, str]:
    out: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    return kc.execute_interactive(code, output_hook=hook, timeout=120), "".join(out)


def test_reset_gives_the_next_notebook_a_new_kernels_namespace_and_folder(tmp_path):
    """Between two notebooks in one kernel (report.run_notebooks): no name of the first is
    left, the working directory is the next notebook's folder, the count starts at 1; what
    was imported stays imported (that is what the shared kernel saves)."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    km = kernel.start(cwd=first, extra_arguments=[])
    try:
        kernel.reset(km, cwd=first)  # may be sent while the kernel still starts
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            _run(kc, "import json\nsecret_of_the_first = 1\n6 * 7")
            _, before = _run(kc, "import os, sys; print(os.getcwd(), 'json' in sys.modules)")
            kernel.reset(km, cwd=second)
            reply, after = _run(
                kc,
                "import os, sys\n"
                "print(os.getcwd(), 'json' in sys.modules, 'secret_of_the_first' in dir(),"
                " len(Out), repr(globals().get('_', '')))",
            )
        finally:
            kc.stop_channels()
    finally:
        kernel.stop(km)
    assert before.split() == [str(first.resolve()), "True"]
    assert after.split() == [str(second.resolve()), "True", "False", "0", "''"]
    assert reply["content"]["execution_count"] == 1


def test_reset_of_a_kernel_that_is_gone_is_an_error_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel, "RESET_TIMEOUT", 2.0)
    km = kernel.start(cwd=tmp_path, extra_arguments=[])
    km.shutdown_kernel(now=True)
    try:
        with pytest.raises(RuntimeError, match="kernel"):
            kernel.reset(km, cwd=tmp_path)
    finally:
        kernel.stop(km)


def test_the_clients_readiness_check_fails_on_a_dead_kernel_within_its_timeout(tmp_path):
    """ReportKernelClient.wait_for_ready (nbclient calls it for every notebook): on a live
    kernel, output sent right after it returns reaches the client (the test above); on a
    kernel that is gone, an error once the timeout has passed, never a hang."""
    km = kernel.start(cwd=tmp_path, extra_arguments=[])
    kc = km.client()
    assert type(kc).__name__ == "ReportKernelClient"
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        km.shutdown_kernel(now=True)
        with pytest.raises(RuntimeError, match="Kernel"):
            kc.wait_for_ready(timeout=2)
    finally:
        kc.stop_channels()
        kernel.stop(km)
