"""The ``scalingo-audit`` command: thin argument parsing over the package.

Exit status: 0 success; 1 ``check`` found an unmuted finding at or above
``--fail-on`` (``verify``: the evidence failed verification); 2 anything else —
usage, bad input, I/O, API, and unexpected errors too — as one line on stderr,
never a traceback unless ``--debug`` is given.

Output: a command's result goes to stdout through :func:`_out` (the only function here
that writes results); errors go to stderr through :func:`_fail`. Everything else the
package says (progress, notices, warnings) is logged to the ``scalingo_audit`` logger;
:func:`main` installs the one stderr handler for it, as plain lines (no timestamps):
INFO as the message, WARNING as ``scalingo-audit: warning: ...``, DEBUG (``-v``) as
``scalingo-audit: debug: MODULE: ...``. Every command takes ``--quiet`` (errors only, no
progress bar; the result on stdout is unchanged) and ``-v``/``--verbose`` (debug lines).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import typing
import warnings
from collections.abc import Iterator, Sequence

from ._version import __version__
from .compliance import FRAMEWORKS
from .errors import AuditError, DataWarning, OutputWarning, one_line
from .frames import SEVERITIES

SOURCE_HELP = (
    "what to audit: 'demo' (the built-in demo organisation, the default), a snapshot "
    "directory written by 'collect' or 'demo --out', or a dashboard Collaborators export "
    "(.csv or .json)"
)
PSEUDONYMISE_HELP = (
    "replace emails, usernames and user ids with stable keyed pseudonyms (internal/external "
    "stays visible); the key is kept in ~/.config/scalingo-audit/pseudonym.key or the file "
    "named by $SCALINGO_AUDIT_PSEUDONYM_KEY, created on first use"
)
EPILOG = """examples:
  scalingo-audit check demo                       findings of the demo organisation
  scalingo-audit check SNAPSHOT --policy policy.yaml --fail-on high
  scalingo-audit report demo                      HTML report in reports/demo/
  scalingo-audit demo --out snapshots/acme        the demo as a snapshot directory
  scalingo-audit checks                           the check catalogue
  scalingo-audit init-policy SNAPSHOT --out policy.yaml  a starter policy from the data
  scalingo-audit diff snapshots/old snapshots/new  what changed since the last review
  scalingo-audit review SNAPSHOT --out review.xlsx an access review sheet to fill
  scalingo-audit verify SNAPSHOT                  is the evidence intact?
  scalingo-audit schema findings                  the JSON Schema of check --format json
  scalingo-audit notebooks --copy my-notebooks    editable copies of the notebooks
  SCALINGO_API_TOKEN=... scalingo-audit collect --out snapshots/today

exit status: 0 ok, 1 findings at or above --fail-on, 2 anything else (bad usage, bad input,
I/O or API errors, internal errors): one line on stderr, a traceback only with --debug."""

COLLECT_EPILOG = """environment:
  SCALINGO_API_TOKEN   the API token (required; read only from the environment, never a flag)
  SCALINGO_AUTH_URL    auth API (default https://auth.scalingo.com)
  SCALINGO_API_URL     one regional API to use instead of discovering regions
  SCALINGO_REGION      one region name, e.g. osc-fr1

Scalingo API tokens carry every right of their account: create one on a dedicated
read-only service account if you can."""


def _pseudonymise(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pseudonymise", action="store_true", help=PSEUDONYMISE_HELP)
    _no_verify(p)


NO_VERIFY_HELP = (
    "load a snapshot even if its raw files do not match the manifest's sizes and SHA-256 "
    "hashes; every output then says UNVERIFIED"
)


def _no_verify(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-verify", dest="verify", action="store_false", default=True, help=NO_VERIFY_HELP
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", nargs="?", default="demo", metavar="SOURCE", help=SOURCE_HELP)
    p.add_argument(
        "--policy",
        metavar="FILE",
        default="",
        help="policy YAML file (internal domains, service accounts, thresholds, exceptions); "
        "default: none, or the demo's own policy for 'demo'",
    )
    p.add_argument(
        "--as-of",
        metavar="DATE",
        default="",
        help="date (YYYY-MM-DD) ages are counted from; default: when the data was collected",
    )


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, like every other error (exit status 2)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see --help)\n")


DEBUG_HELP = "on an error, also print the traceback (for bug reports)"
QUIET_HELP = "print only errors: no progress, notices or warnings (the result is unchanged)"
VERBOSE_HELP = "also print debug messages (requests, timings)"


def _output_options(p: argparse.ArgumentParser, *, command: bool) -> None:
    """``--debug``, ``-q``/``--quiet`` and ``-v``, on the main parser and on every command's
    (there with no default, so that one not given after the command keeps the value
    given before it)."""
    none: dict[str, typing.Any] = {"default": argparse.SUPPRESS} if command else {}
    p.add_argument("--debug", action="store_true", help=DEBUG_HELP, **none)
    p.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP, **none)
    p.add_argument("-v", "--verbose", action="count", help=VERBOSE_HELP,
                   **(none or {"default": 0}))  # fmt: skip


def _command(
    sub: argparse._SubParsersAction[_Parser], name: str, **kwargs: typing.Any
) -> argparse.ArgumentParser:
    """A command's parser (:func:`build_parser` gives each one the output options)."""
    return sub.add_parser(name, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scalingo-audit",
        description="Audit who can do what on Scalingo: roles, 2FA, invitations, API tokens.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _output_options(parser, command=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(sub, "check", help="run the checks and print findings")
    _common(p)
    p.add_argument(
        "--format",
        choices=("table", "json", "csv", "ocsf", "junit"),
        default="table",
        help="output format: table, json, csv, ocsf (OCSF Detection Findings, JSON) or junit "
        "(JUnit XML test report)",
    )
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        metavar="SEVERITY",
        help="exit 1 when an unmuted finding has this severity or a higher one "
        f"({' | '.join(SEVERITIES)})",
    )
    p.add_argument(
        "--baseline",
        metavar="PREVIOUS",
        help="an earlier run (a snapshot directory, or a findings JSON written by "
        "'check --format json'): mark each finding new or existing and list the fixed ones",
    )
    p.add_argument(
        "--fail-on-new",
        choices=SEVERITIES,
        metavar="SEVERITY",
        help="with --baseline: exit 1 only when a NEW unmuted finding has this severity or a "
        "higher one",
    )
    p.add_argument(
        "--output-file",
        metavar="FILE",
        help="write the output to FILE (atomically) instead of standard output",
    )
    p.add_argument(
        "--metrics",
        metavar="FILE",
        help="also write Prometheus text-format gauges (open findings by severity and check, "
        "muted, coverage gaps, collection and success times) to FILE, atomically "
        "(for node_exporter's textfile collector: name it *.prom)",
    )
    _pseudonymise(p)

    p = _command(sub, "report", help="build the HTML report (runs the notebooks)")
    _common(p)
    p.add_argument("--out", metavar="DIR", help="output directory (default: reports/<source name>)")
    p.add_argument("--pdf", action="store_true", help="also write report.pdf (needs Chromium)")
    p.add_argument(
        "--pages",
        action="store_true",
        help="also write one HTML page per notebook (report.html always has them all)",
    )
    p.add_argument(
        "--top",
        metavar="N",
        type=int,
        help="longest list a chart shows (default: 25); tables always list every row",
    )
    p.add_argument(
        "--notebooks",
        metavar="DIR",
        help="run your own notebooks from DIR (NN_*.ipynb, e.g. edited copies written by "
        "'scalingo-audit notebooks --copy DIR') instead of the bundled ones",
    )
    _pseudonymise(p)

    p = _command(
        sub,
        "collect",
        help="collect access data from the Scalingo API into a snapshot directory",
        description="Collect apps, collaborators, tokens (and optionally events) from the "
        "Scalingo API into a new snapshot directory, within the account's request budget.",
        epilog=COLLECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", metavar="SNAPSHOT_DIR", required=True, help="snapshot directory to create"
    )
    p.add_argument("--region", metavar="R", help="only this region (e.g. osc-fr1); default: all")
    p.add_argument(
        "--events-days",
        metavar="N",
        type=int,
        help="also collect app events of the last N days (off by default; costs requests)",
    )
    p.add_argument(
        "--rate-limit",
        metavar="N",
        type=int,
        default=60,
        help="requests per minute to stay under, retries included (default: 60, Scalingo's limit)",
    )
    p.add_argument(
        "--since",
        metavar="SNAPSHOT",
        help="a previous snapshot with events: fetch only newer events, carry older ones forward",
    )
    p.add_argument(
        "--deadline",
        metavar="WHEN",
        help="stop requesting after this long (90s, 45m, 2h) or at this time "
        "(2026-12-01T06:00+01:00): calls left become coverage gaps",
    )

    p = _command(sub, "demo", help="write the demo organisation as a snapshot directory")
    p.add_argument("--out", metavar="DIR", required=True, help="snapshot directory to create")

    p = _command(
        sub,
        "init-policy",
        help="write a commented starter policy from the data (never overwrites a file)",
        description="Write a starter policy file from SOURCE: email domains ranked by how many "
        "people use them (the collecting account's domain marked internal), owners that look "
        "like service accounts, accounts holding API tokens, the default thresholds and an "
        "example exception. Review it, then pass it with --policy.",
    )
    p.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    p.add_argument(
        "--out", metavar="FILE", default="policy.yaml", help="file to create (default: policy.yaml)"
    )

    p = _command(
        sub,
        "diff",
        help="what changed between two snapshots (access, roles, owners, 2FA, tokens, findings)",
    )
    p.add_argument("old", metavar="OLD", help="the earlier snapshot (or export, or 'demo')")
    p.add_argument("new", metavar="NEW", help="the later snapshot")
    p.add_argument("--policy", metavar="FILE", default="", help="policy YAML file for both")
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )
    _no_verify(p)

    p = _command(
        sub,
        "review",
        help="write an access review sheet (.xlsx/.csv), or turn a filled one into commands",
        description="Write one row per membership with a suggested action and empty "
        "decision/reviewer/date columns; with --apply-decisions, read the filled sheet back, "
        "print the Scalingo CLI commands for the decisions and record them as evidence. "
        "Nothing is ever changed on Scalingo by this command.",
    )
    p.add_argument(
        "source", nargs="?", default=None, metavar="SOURCE", help=SOURCE_HELP.replace(
            "the default", "the default; for --apply-decisions, the source the .xlsx names"
        ),
    )  # fmt: skip
    p.add_argument("--policy", metavar="FILE", default="", help="policy YAML file")
    p.add_argument("--as-of", metavar="DATE", default="", help="date ages are counted from")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", metavar="FILE", help="the sheet to write (.xlsx or .csv)")
    mode.add_argument(
        "--apply-decisions", metavar="FILE", help="a filled sheet: print the commands to run"
    )
    mode.add_argument(
        "--follow-up",
        metavar="DECISIONS",
        help="decisions recorded by --apply-decisions (a SNAPSHOT.decisions/*.json file or the "
        "directory): with a newer SOURCE snapshot, list each downgrade and revocation as "
        "applied, pending (with its command), moot or unverified; exit 1 while any is pending",
    )
    _pseudonymise(p)

    p = _command(
        sub,
        "verify",
        help="recompute a snapshot's SHA-256 hashes; fail on any altered, missing or extra file",
        description="Exit 0 when every raw file matches the manifest (and the snapshot has "
        "the expected hash), 1 when a file was altered, is missing, was added or is not a "
        "regular file, or the snapshot's hash is not the one expected, 2 when the directory "
        "is not a snapshot.",
    )
    p.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot directory")
    p.add_argument(
        "--expect-sha256",
        metavar="HASH",
        help="the snapshot hash (SHA-256 of manifest.json) a ticket or an earlier report "
        "recorded: fail unless the snapshot has exactly this hash",
    )

    p = _command(
        sub,
        "notify",
        help="post the findings new since a baseline (and the fixed ones) to a webhook",
        description="Run the checks on SOURCE, compare with PREVIOUS and post a summary of "
        "the new unmuted findings and of the fixed ones to the webhook named by "
        "$SCALINGO_AUDIT_WEBHOOK_URL. Nothing is posted when nothing is new, unless --always.",
        epilog="environment:\n  SCALINGO_AUDIT_WEBHOOK_URL  the incoming-webhook URL (required; "
        "a secret: read only from the environment, never printed)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p)
    p.add_argument(
        "--baseline",
        metavar="PREVIOUS",
        required=True,
        help="the earlier run: a snapshot directory or a findings JSON from 'check --format json'",
    )
    p.add_argument(
        "--webhook-format",
        choices=("slack", "json"),
        default="slack",
        help="slack: Slack-compatible incoming-webhook JSON (default); json: a plain JSON "
        "document with the new and fixed findings",
    )
    p.add_argument("--always", action="store_true", help="post even when nothing is new")
    p.add_argument(
        "--timeout", metavar="SECONDS", type=float, default=10.0, help="per attempt (default 10)"
    )
    p.add_argument(
        "--retries",
        metavar="N",
        type=int,
        default=3,
        help="retries on 429, 5xx, timeouts and connection errors, with backoff (default 3)",
    )
    _pseudonymise(p)

    p = _command(sub, "checks", help="list the check catalogue")
    p.add_argument(
        "--framework",
        choices=FRAMEWORKS,
        help="list each check with the controls of this framework it bears on "
        "(iso27001: ISO/IEC 27001:2022 Annex A, soc2: SOC 2 TSC, cis: CIS Controls v8)",
    )

    p = _command(
        sub,
        "notebooks",
        help="list the bundled notebooks, or copy them to edit (--copy DIR)",
        description="Without options, print where the bundled notebooks are and list them. "
        "With --copy DIR, write editable copies into DIR (never replacing a file there); "
        "run them with 'scalingo-audit report SOURCE --notebooks DIR' or open them in "
        "JupyterLab (pip install 'scalingo-audit[lab]').",
    )
    p.add_argument("--copy", metavar="DIR", help="write editable copies of the notebooks here")

    from .contracts import NAMES

    p = _command(
        sub,
        "schema",
        help="print the JSON Schema of an output or input (findings, diff, manifest, policy)",
        description="Print a published JSON Schema (draft 2020-12): 'findings' for check "
        "--format json, 'diff' for diff --format json, 'manifest' for a snapshot's "
        "manifest.json, 'policy' for the policy file. Each $id ends with its version.",
    )
    p.add_argument("name", metavar="NAME", choices=NAMES, help=" | ".join(NAMES))

    for p in {id(p): p for p in sub.choices.values()}.values():  # every command, once
        _output_options(p, command=True)
    return parser


def console() -> None:
    """The ``scalingo-audit`` command and ``python -m scalingo_audit``: :func:`main` on the
    process's arguments, then exit with its status.

    What is left is frozen out of the garbage collector first (:func:`gc.freeze`): the
    interpreter's last collection would walk every object of pandas, plotly and the audit
    once more, about 0.3 s at the end of each report. Exit handlers and finalizers run as
    usual."""
    import gc

    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the one place that turns errors into exit status 2 and one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet and args.verbose:
        parser.error("--quiet and -v/--verbose cannot be used together")
    debug = bool(args.debug)
    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    try:
        with _logging(level), warnings.catch_warnings():
            warnings.simplefilter("always", OutputWarning)
            warnings.simplefilter("always", DataWarning)
            warnings.showwarning = _show_warning
            return _run(args)
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        _fail("interrupted", debug)
        return 130
    except AuditError as exc:
        _fail(f"error: {exc}", debug)
    except OSError as exc:  # a write error, a directory where a file is expected...
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"error: {where}{exc.strerror or exc}", debug)
    except RecursionError:
        _fail("error: the input is nested too deeply to be read", debug)
    except MemoryError:
        _fail("error: out of memory (is an input file unreasonably large?)", debug)
    except Exception as exc:
        _fail(
            f"internal error: {type(exc).__name__}: {exc} "
            "(please report; --debug shows the traceback)",
            debug,
        )
    return 2


PACKAGE_LOGGER = "scalingo_audit"
log = logging.getLogger(f"{PACKAGE_LOGGER}.cli")  # not __name__: that is __main__ with -m


class _Stderr(logging.StreamHandler[typing.TextIO]):
    """A handler writing to ``sys.stderr`` as it is when a record is emitted (a caller,
    or a test, may have replaced it since)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> typing.TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: typing.Any) -> None:
        pass


class _Lines(logging.Formatter):
    """One escaped line per record, no timestamp: progress as is, the rest prefixed."""

    def format(self, record: logging.LogRecord) -> str:
        text = one_line(record.getMessage())
        if record.levelno >= logging.ERROR:
            return f"scalingo-audit: error: {text}"
        if record.levelno >= logging.WARNING:
            return f"scalingo-audit: warning: {text}"
        if record.levelno >= logging.INFO:
            return text
        where = record.name.removeprefix(f"{PACKAGE_LOGGER}.")
        return f"scalingo-audit: debug: {where}: {text}"


@contextlib.contextmanager
def _logging(level: int) -> Iterator[None]:
    """The package logger on stderr at ``level`` for one command, then as it was."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    handler = _Stderr()
    handler.setFormatter(_Lines())
    before = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # this handler is the one place the command's messages go
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.level, logger.propagate = before


def _show_warning(
    message: Warning | str, category: type[Warning], *args: typing.Any, **kw: typing.Any
) -> None:
    """Python warnings (e.g. a sheet cell that had to be escaped) as log warnings."""
    log.warning("%s", message)


def _out(text: str, end: str = "\n") -> None:
    """The command's result on stdout: the only function here that writes results."""
    sys.stdout.write(text + end)


def _fail(message: str, debug: bool) -> None:
    """The error, on one line on stderr (after the traceback with ``--debug``): printed
    whatever the log level, so ``--quiet`` never hides it."""
    if debug:
        import traceback

        traceback.print_exc(file=sys.stderr)
    sys.stderr.write(f"scalingo-audit: {one_line(message)}\n")


def _run(args: argparse.Namespace) -> int:
    if args.command == "check":
        return _check(args)
    if args.command == "report":
        from .kernel import skip_slow_imports
        from .report import build_report

        skip_slow_imports()  # this process is ours: no rfc3987_syntax parsers (kernel.py)

        index = build_report(
            args.source,
            policy=args.policy,
            as_of=args.as_of,
            out_dir=args.out,
            notebooks_dir=args.notebooks,
            pdf=args.pdf,
            pseudonymise=args.pseudonymise,
            top=args.top,
            per_notebook=args.pages,
            verify=args.verify,
        )
        _out(f"Report written to {index}")
        return 0
    if args.command == "collect":
        from .collect import collect, parse_deadline

        if args.rate_limit < 1:
            raise AuditError("--rate-limit must be at least 1 request per minute")
        path = collect(
            args.out,
            region=args.region,
            events_days=args.events_days,
            rate_limit=args.rate_limit,
            progress=not args.quiet,
            since=args.since,
            deadline=None if args.deadline is None else parse_deadline(args.deadline),
        )
        _out(f"Snapshot written to {path}")
        return 0
    if args.command == "demo":
        from .demo import demo_snapshot
        from .snapshot import write

        path = write(demo_snapshot(), args.out)
        _out(f"Demo snapshot written to {path}")
        return 0
    if args.command == "diff":
        from . import diff

        if not args.verify:
            log.warning("--no-verify: these changes may come from altered evidence (UNVERIFIED)")
        changes = diff.compare(args.old, args.new, policy=args.policy, verify=args.verify)
        for what in changes.attrs.get("left_out", []):
            log.warning("not compared (coverage gap): %s", what)
        render = {"table": diff.to_table, "json": diff.to_json, "csv": diff.to_csv}
        text = render[args.format](changes)
        _out(text, end="" if text.endswith("\n") else "\n")
        return 0
    if args.command == "review":
        return _review(args)
    if args.command == "init-policy":
        from .policy import Policy
        from .sources import load
        from .starter_policy import write_starter_policy

        path = write_starter_policy(load(args.source, policy=Policy()), args.out)
        _out(f"Starter policy written to {path}: review it, then pass --policy {path}")
        return 0
    if args.command == "verify":
        from .evidence import verify

        result = verify(args.snapshot, expect_sha256=args.expect_sha256)
        _out(result.report())
        return 0 if result.ok else 1
    if args.command == "notify":
        return _notify(args)
    if args.command == "checks":
        from .checks import catalogue

        if args.framework:
            from .compliance import controls_print

            _out(controls_print(args.framework), end="")
            return 0
        for c in catalogue().to_dict("records"):
            _out(f"{c['check_id']:34} {c['severity']:7} {c['title']}")
        return 0
    if args.command == "notebooks":
        from . import resources

        if args.copy:
            copies = resources.copy_notebooks(args.copy)
            _out(f"{len(copies)} notebooks copied to {args.copy}")
            return 0
        _out(f"Bundled notebooks in {resources.notebooks_dir()}:")
        for nb in resources.bundled_notebooks():
            _out(f"  {nb.name}")
        return 0
    if args.command == "schema":
        from . import contracts

        _out(contracts.text(args.name), end="")
        return 0
    raise AssertionError(args.command)  # argparse only accepts the commands above


def _review(args: argparse.Namespace) -> int:
    from . import review
    from .notebook import open_audit

    if args.follow_up:
        return _follow_up(args)
    if args.apply_decisions:
        from . import commands
        from .errors import InputError
        from .policy import load_policy
        from .sources import load

        source = args.source or review.sheet_source(args.apply_decisions)
        if not source:
            raise InputError(
                "name the SOURCE this sheet was made from (a .csv sheet does not record it)",
                file=args.apply_decisions,
            )
        data = load(
            source, policy=load_policy(args.policy) if args.policy else None, verify=args.verify
        )
        if args.pseudonymise:
            from .pseudonymise import load_or_create_key, pseudonymise

            data = pseudonymise(data, load_or_create_key())
        if not args.verify:
            log.warning("--no-verify: the decisions are recorded against UNVERIFIED evidence")
        applied = review.apply_decisions(args.apply_decisions, data)
        for line in applied.commands:
            _out(line)
        for d in applied.manual:
            log.warning(
                "row %s: %s %r on %r (%r) %s.", d.row, d.decision, d.person, d.app, d.region,
                commands.MANUAL,
            )  # fmt: skip
        log.info(
            "Decisions recorded in %s. Nothing was changed on Scalingo: run the commands above "
            "yourself.",
            applied.record,
        )
        return 0
    from .evidence import provenance

    audit = open_audit(
        args.source or "demo",
        args.policy,
        args.as_of,
        pseudonymise=args.pseudonymise,
        verify=args.verify,
    )
    sheet = review.review_sheet(audit.data, audit.findings)
    about = {**review.sheet_about(audit.data), **provenance(audit.data, as_of=audit.as_of)}
    path = review.write_review(sheet, args.out, about=about)
    _out(f"Review sheet with {len(sheet)} rows written to {path}")
    return 0


def _notify(args: argparse.Namespace) -> int:
    from . import baseline, notify
    from .evidence import provenance
    from .notebook import open_audit

    webhook = notify.webhook_from_env()  # before any work: a missing URL fails fast
    if args.timeout <= 0 or args.retries < 0:
        raise AuditError("--timeout must be positive and --retries at least 0")
    audit = open_audit(args.source, args.policy, args.as_of, pseudonymise=args.pseudonymise)
    prov = provenance(audit.data, as_of=audit.as_of)
    previous = baseline.load_baseline(
        args.baseline, policy=args.policy, pseudonymise=args.pseudonymise
    )
    f = baseline.compare(audit.findings, previous)
    counts = notify.summary(f)
    if not counts["new"] and not args.always:
        _out(f"Nothing new since the baseline ({counts['fixed']} fixed): nothing posted.")
        return 0
    payload = (
        notify.json_payload(f, prov, baseline=args.baseline)
        if args.webhook_format == "json"
        else notify.slack_payload(f, prov)
    )
    attempts = notify.post(webhook, payload, timeout=args.timeout, retries=args.retries)
    _out(
        f"Posted to the webhook: {counts['new']} new, {counts['fixed']} fixed"
        + (f" ({attempts} attempts)" if attempts > 1 else "")
        + "."
    )
    return 0


def _follow_up(args: argparse.Namespace) -> int:
    from . import followup, output
    from .policy import load_policy
    from .sources import load

    if not args.source:
        raise AuditError("--follow-up needs the newer SNAPSHOT to compare the decisions with")
    review = followup.read_review(args.follow_up)
    data = load(
        args.source, policy=load_policy(args.policy) if args.policy else None, verify=args.verify
    )
    if args.pseudonymise:
        from .pseudonymise import load_or_create_key, pseudonymise

        data = pseudonymise(data, load_or_create_key())
    items = followup.follow_up(review, data)
    _out(output.terminal_text(followup.to_text(items, review, data)), end="")
    return 1 if followup.pending(items) else 0


def _check(args: argparse.Namespace) -> int:
    from . import output
    from .evidence import provenance
    from .notebook import open_audit

    if args.fail_on_new and not args.baseline:
        raise AuditError("--fail-on-new needs --baseline PREVIOUS (the run to compare with)")
    audit = open_audit(
        args.source, args.policy, args.as_of, pseudonymise=args.pseudonymise, verify=args.verify
    )
    if audit.data.info.verified is False:
        log.warning(
            "%s: --no-verify, the raw files were not checked against the manifest",
            output.UNVERIFIED,
        )
    prov = provenance(audit.data, as_of=audit.as_of)
    f = audit.findings
    if args.baseline:
        from . import baseline

        previous = baseline.load_baseline(
            args.baseline, policy=args.policy, pseudonymise=args.pseudonymise
        )
        f = baseline.compare(f, previous)
    for gap in audit.data.info.gaps:
        log.warning("not audited: %s", gap)
    for e in audit.expired:
        log.warning(
            "policy exception %s expired on %s and mutes nothing",
            e.describe(), e.expires.isoformat(),
        )  # fmt: skip
    if args.format == "ocsf":
        from .ocsf import to_ocsf

        text = to_ocsf(f, apps=audit.data.apps, as_of=audit.as_of, provenance=prov) + "\n"
    elif args.format == "junit":
        from .checks import CHECKS
        from .junit import to_junit

        text = to_junit(f, checks=list(CHECKS), name=f"scalingo-audit {audit.data.info.location}")
    elif args.format == "json":
        text = output.to_json(f, prov) + "\n"
    elif args.format == "csv":
        text = output.to_csv(f, prov)
    else:
        text = output.to_table(f) + "\n\n" + output.summary_line(f, audit) + "\n"
        text += output.provenance_line(prov) + "\n"
        text = output.terminal_text(text)
    if args.output_file:
        from .atomic import write_text

        write_text(args.output_file, text)
    else:
        _out(text, end="")
    if args.metrics:
        from .atomic import write_text
        from .checks import CHECKS
        from .metrics import render

        write_text(args.metrics, render(f, audit.data, checks=list(CHECKS)))
    if args.fail_on_new:
        from .baseline import new_unmuted

        if len(new_unmuted(f, at_least=args.fail_on_new)):
            return 1
    if args.fail_on:
        limit = SEVERITIES.index(args.fail_on)
        counts = output.severity_counts(f)
        if any(counts[s] for s in SEVERITIES[: limit + 1]):
            return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
