"""Logging: the package logs to ``scalingo_audit`` (a NullHandler, nothing on stderr for a
library user), the CLI installs the one stderr handler; every command takes ``--quiet``
(errors only, the result on stdout unchanged) and ``-v`` (debug lines); no ``print`` or
direct stdout/stderr write outside the CLI's output functions."""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import scalingo_audit
from scalingo_audit import cli, snapshot

from . import clirun
from .fakeapi import FakeScalingo
from .orgs import app, collab
from .orgs import snapshot as org_snapshot

PACKAGE = Path(scalingo_audit.__file__).parent

OUTPUT_FUNCTIONS = {("cli.py", "_out"), ("cli.py", "_fail")}
"""The functions allowed to write on stdout/stderr themselves: the command's result, and
its error line (printed whatever the log level)."""

HANDLER_MODULES = {"__init__.py", "cli.py"}
"""The NullHandler on the package logger, and the CLI's stderr handler."""


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    return clirun.run(*args, cwd=cwd, env={**base, **(env or {})})


def commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def minimal_args(p: argparse.ArgumentParser) -> list[str]:
    """The shortest command line ``p`` accepts: each required positional and option once."""
    args: list[str] = []
    done: set[int] = set()
    for group in p._mutually_exclusive_groups:
        if group.required:
            first = group._group_actions[0]
            args += [first.option_strings[0], "X"]
            done.update(id(a) for a in group._group_actions)
    for a in p._actions:
        value = str((a.choices and next(iter(a.choices))) or "X")
        if id(a) in done or isinstance(a, argparse._HelpAction):
            continue
        if not a.option_strings and a.nargs is None:
            args.append(value)
        elif a.option_strings and a.required:
            args += [a.option_strings[0], value]
    return args


# --- every command ---------------------------------------------------------------------------


def test_there_are_commands_to_check() -> None:
    assert {"check", "report", "collect", "demo", "checks", "diff", "verify", "review"} <= set(
        commands()
    )


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_accepts_quiet_and_verbose(name: str) -> None:
    p = commands()[name]
    for option in ("-q", "--quiet", "-v", "--verbose", "--debug"):
        assert option in p._option_string_actions, (name, option)
    parser = cli.build_parser()
    base = [name, *minimal_args(p)]
    plain = parser.parse_args(base)
    assert (plain.quiet, plain.verbose, plain.debug) == (False, 0, False)
    assert parser.parse_args([*base, "--quiet"]).quiet is True
    assert parser.parse_args([*base, "-q"]).quiet is True
    assert parser.parse_args([*base, "-v"]).verbose == 1
    assert parser.parse_args([*base, "-vv"]).verbose == 2
    assert parser.parse_args(["--quiet", *base]).quiet is True  # before the command too
    assert parser.parse_args(["-v", *base]).verbose == 1


def test_quiet_and_verbose_together_is_a_usage_error() -> None:
    r = run("checks", "--quiet", "-v")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "--quiet and -v" in r.stderr


# --- --quiet and -v on real commands ----------------------------------------------------------


@pytest.fixture
def odd_snapshot(tmp_path: Path) -> Path:
    """A snapshot whose loading warns: a collaborator status this version does not know."""
    s = org_snapshot(
        [app("shop"), app("blog", owner="alice@acme.example")],
        [collab("shop", "carol@acme.example", status="frozen"),
         collab("blog", "dave@agency.example", tfa=False)],
    )  # fmt: skip
    return snapshot.write(s, tmp_path / "snap")


def test_quiet_removes_the_warnings_of_check_not_its_output(odd_snapshot: Path) -> None:
    loud = run("check", str(odd_snapshot))
    quiet = run("check", str(odd_snapshot), "--quiet")
    assert loud.returncode == quiet.returncode == 0, loud.stderr
    assert "scalingo-audit: warning: " in loud.stderr and "does not know" in loud.stderr
    assert quiet.stderr == ""
    assert quiet.stdout == loud.stdout and "dave@agency.example" in quiet.stdout
    short = run("check", str(odd_snapshot), "-q")
    assert (short.returncode, short.stdout, short.stderr) == (0, quiet.stdout, "")
    as_json = run("check", str(odd_snapshot), "--format", "json")
    assert run("check", str(odd_snapshot), "--format", "json", "--quiet").stdout == as_json.stdout


def test_verbose_adds_debug_lines(odd_snapshot: Path) -> None:
    loud = run("check", str(odd_snapshot))
    verbose = run("check", str(odd_snapshot), "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout == loud.stdout
    debug = [line for line in verbose.stderr.splitlines() if "debug:" in line]
    assert debug and all(line.startswith("scalingo-audit: debug: ") for line in debug)
    assert any("findings in" in line for line in debug), debug
    assert "debug:" not in loud.stderr
    warned = [line for line in verbose.stderr.splitlines() if line not in debug]
    assert warned == loud.stderr.splitlines()  # -v adds lines, never changes the others


def test_quiet_keeps_errors_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (["check", str(tmp_path / "missing"), "--quiet"],
                 ["check", str(tmp_path / "missing"), "-v"]):  # fmt: skip
        r = run(*args)
        assert r.returncode == 2 and r.stdout == ""
        lines = r.stderr.splitlines()
        assert lines[-1].startswith("scalingo-audit: error: ") and "missing" in lines[-1]
        assert "Traceback" not in r.stderr
    assert len(run("check", str(tmp_path / "missing"), "--quiet").stderr.splitlines()) == 1


def test_collect_progress_quiet_and_verbose(fake_scalingo: FakeScalingo, tmp_path: Path) -> None:
    shared = next(
        a["name"] for _, a in fake_scalingo.world.all_apps() if not fake_scalingo.world.owns(a)
    )
    fake_scalingo.fail(rf"/v1/apps/{shared}/collaborators$", 403, times=None)
    out: dict[str, subprocess.CompletedProcess[str]] = {}
    for mode in ("plain", "quiet", "verbose"):
        (tmp_path / mode).mkdir()
        flag = {"plain": [], "quiet": ["--quiet"], "verbose": ["-v"]}[mode]
        out[mode] = run(
            "collect", "--out", "snap", *flag, cwd=tmp_path / mode, env=fake_scalingo.env()
        )
        assert out[mode].returncode == 0, out[mode].stderr
    plain, quiet, verbose = out["plain"], out["quiet"], out["verbose"]
    assert plain.stdout == quiet.stdout == verbose.stdout == "Snapshot written to snap\n"
    # progress: the plan of each region, the summary, the gap; no bar (stderr is a pipe)
    assert "apps (" in plain.stderr and "requests/min" in plain.stderr
    assert "Collected 2 region(s)" in plain.stderr and "1 coverage gap(s)" in plain.stderr
    assert (
        f"scalingo-audit: warning: not audited: GET /v1/apps/{shared}/collaborators" in plain.stderr
    )
    assert "req/s" not in plain.stderr and "\r" not in plain.stderr
    assert quiet.stderr == ""
    debug = [
        line
        for line in verbose.stderr.splitlines()
        if line.startswith("scalingo-audit: debug: api: ")
    ]
    assert any("GET /v1/apps" in line and "HTTP 200 (attempt 1)" in line for line in debug), debug
    assert any("HTTP 403" in line for line in debug)
    assert fake_scalingo.api_token not in verbose.stderr + plain.stderr
    assert [x for x in verbose.stderr.splitlines() if x not in debug] == plain.stderr.splitlines()


def _on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """What the command writes on stderr when stderr is a terminal (a pseudo-terminal): a
    real process, its stderr the terminal's."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    p = subprocess.Popen(
        [sys.executable, "-m", "scalingo_audit", *args], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=slave, cwd=cwd, env={**base, **env},
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert p.wait(timeout=300) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_the_progress_bar_is_drawn_on_a_terminal_unless_quiet(
    fake_scalingo: FakeScalingo, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    drawn = _on_a_terminal(["collect", "--out", "snap"], tmp_path / "a", fake_scalingo.env())
    assert "req" in drawn and "\r" in drawn and "Collected 2 region(s)" in drawn
    quiet = _on_a_terminal(
        ["collect", "--out", "snap", "--quiet"], tmp_path / "b", fake_scalingo.env()
    )
    assert quiet == ""


@pytest.mark.parametrize(
    "args",
    [["checks"], ["schema", "findings"], ["check", "demo", "--format", "csv"], ["verify", "SNAP"]],
)
def test_quiet_and_verbose_leave_stdout_as_it_is(args: list[str], tmp_path: Path) -> None:
    if "SNAP" in args:
        snapshot.write(org_snapshot([app("shop")]), tmp_path / "snap")
        args = [str(tmp_path / "snap") if a == "SNAP" else a for a in args]
    plain = run(*args)
    assert plain.returncode == 0, plain.stderr
    for flag in ("--quiet", "-v"):
        r = run(*args, flag)
        assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout), flag
    assert run(*args, "--quiet").stderr == ""


def test_the_cli_restores_the_package_logger(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    logger = logging.getLogger("scalingo_audit")
    before = (list(logger.handlers), logger.level, logger.propagate)
    assert cli.main(["checks", "-v"]) == 0
    assert (list(logger.handlers), logger.level, logger.propagate) == before
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)


# --- a library user ---------------------------------------------------------------------------

LIBRARY_USER = """
import sys
if sys.argv[1] == "configured":
    import logging
    logging.basicConfig(level=logging.INFO)
from scalingo_audit.collect import collect
path = collect("snap", period=1.0, backoff=0.02, timeout=5.0)
"""


def test_a_library_user_sees_nothing_unless_they_configure_logging(
    fake_scalingo: FakeScalingo, tmp_path: Path
) -> None:
    shared = next(
        a["name"] for _, a in fake_scalingo.world.all_apps() if not fake_scalingo.world.owns(a)
    )
    fake_scalingo.fail(rf"/v1/apps/{shared}/collaborators$", 403, times=None)
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCALINGO_")}
    seen = {}
    for mode in ("default", "configured"):
        (tmp_path / mode).mkdir()
        r = subprocess.run(
            [sys.executable, "-c", LIBRARY_USER, mode], capture_output=True, text=True,
            cwd=tmp_path / mode, env={**base, **fake_scalingo.env()}, timeout=300,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert (tmp_path / mode / "snap" / "manifest.json").is_file()
        seen[mode] = r
    assert seen["default"].stderr == "" and seen["default"].stdout == ""
    configured = seen["configured"].stderr
    assert "INFO:scalingo_audit.collect:Collected 2 region(s)" in configured
    assert f"WARNING:scalingo_audit.collect:not audited: GET /v1/apps/{shared}" in configured


# --- no print outside the CLI's output functions ---------------------------------------------


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    """Every call with the name of the function it is in ("" at module level)."""
    found: list[tuple[str, ast.Call]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.Call):
                found.append((name, child))
            visit(child, name)

    visit(tree, "")
    return found


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _writes(call: ast.Call) -> bool:
    """A print, a write on a standard stream, a traceback printed, or a standard stream
    handed to a function (``json.dump(x, sys.stdout)``)."""
    name = _dotted(call.func)
    streams = ("sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__")
    return (
        name == "print"
        or (name.startswith(streams) and name.endswith((".write", ".writelines")))
        or name.startswith(("traceback.print", "os.write"))
        or any(_dotted(a) in streams for a in call.args)
    )


def test_no_print_outside_the_cli_output_functions() -> None:
    offenders, allowed_seen = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for where, call in _calls(tree):
            if not _writes(call):
                continue
            if (rel, where) in OUTPUT_FUNCTIONS:
                allowed_seen.add((rel, where))
            else:
                offenders.append(
                    f"{rel}:{call.lineno} in {where or '<module>'}: {_dotted(call.func)}"
                )
    assert offenders == []
    assert allowed_seen == OUTPUT_FUNCTIONS  # the allowlist names functions that exist


def test_the_walker_finds_what_it_forbids() -> None:
    tree = ast.parse(
        "import sys\ndef f():\n    print('x')\n    sys.stderr.write('y')\n"
        "def g():\n    sys.stdout.buffer.write(b'z')\n    json.dump(1, sys.stdout)\n"
        "    sys.stdout.fileno()\n"
    )
    assert [(w, _dotted(c.func)) for w, c in _calls(tree) if _writes(c)] == [
        ("f", "print"), ("f", "sys.stderr.write"), ("g", "sys.stdout.buffer.write"),
        ("g", "json.dump"),
    ]  # fmt: skip


def test_only_data_caveats_are_python_warnings_and_only_the_cli_adds_handlers() -> None:
    """``warnings.warn`` is kept for what a notebook user must see under the cell
    (DataWarning, OutputWarning); the rest is logged. Library modules add no handler."""
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for _, call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            name = _dotted(call.func)
            if name in ("warnings.warn", "warn"):
                first = call.args[0] if call.args else None
                assert isinstance(first, ast.Call), f"{rel}:{call.lineno}"
                assert _dotted(first.func) in ("DataWarning", "OutputWarning"), (
                    f"{rel}:{call.lineno}"
                )
            if name.endswith((".addHandler", "basicConfig", "captureWarnings")):
                assert rel in HANDLER_MODULES, f"{rel}:{call.lineno}: {name}"
