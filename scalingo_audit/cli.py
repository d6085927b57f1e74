"""The ``scalingo-audit`` command: thin argument parsing over the package.

Exit status: 0 success; 1 ``check`` found an unmuted finding at or above
``--fail-on``; 2 usage or input error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._version import __version__
from .errors import AuditError
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
  scalingo-audit diff snapshots/old snapshots/new  what changed since the last review
  scalingo-audit review SNAPSHOT --out review.xlsx an access review sheet to fill
  scalingo-audit verify SNAPSHOT                  is the evidence intact?
  scalingo-audit schema findings                  the JSON Schema of check --format json
  scalingo-audit notebooks --copy my-notebooks    editable copies of the notebooks
  SCALINGO_API_TOKEN=... scalingo-audit collect --out snapshots/today

exit status: 0 ok, 1 findings at or above --fail-on, 2 bad usage or bad input."""

COLLECT_EPILOG = """environment:
  SCALINGO_API_TOKEN   the API token (required; read only from the environment, never a flag)
  SCALINGO_AUTH_URL    auth API (default https://auth.scalingo.com)
  SCALINGO_API_URL     one regional API to use instead of discovering regions
  SCALINGO_REGION      one region name, e.g. osc-fr1

Scalingo API tokens carry every right of their account: create one on a dedicated
read-only service account if you can."""


def _pseudonymise(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pseudonymise", action="store_true", help=PSEUDONYMISE_HELP)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scalingo-audit",
        description="Audit who can do what on Scalingo: roles, 2FA, invitations, API tokens.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("check", help="run the checks and print findings")
    _common(p)
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        metavar="SEVERITY",
        help="exit 1 when an unmuted finding has this severity or a higher one "
        f"({' | '.join(SEVERITIES)})",
    )
    _pseudonymise(p)

    p = sub.add_parser("report", help="build the HTML report (runs the notebooks)")
    _common(p)
    p.add_argument("--out", metavar="DIR", help="output directory (default: reports/<source name>)")
    p.add_argument(
        "--pdf", action="store_true", help="also write a PDF of each page (needs Chromium)"
    )
    p.add_argument(
        "--notebooks",
        metavar="DIR",
        help="run your own notebooks from DIR (NN_*.ipynb, e.g. edited copies written by "
        "'scalingo-audit notebooks --copy DIR') instead of the bundled ones",
    )
    _pseudonymise(p)

    p = sub.add_parser(
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("demo", help="write the demo organisation as a snapshot directory")
    p.add_argument("--out", metavar="DIR", required=True, help="snapshot directory to create")

    p = sub.add_parser(
        "diff",
        help="what changed between two snapshots (access, roles, owners, 2FA, tokens, findings)",
    )
    p.add_argument("old", metavar="OLD", help="the earlier snapshot (or export, or 'demo')")
    p.add_argument("new", metavar="NEW", help="the later snapshot")
    p.add_argument("--policy", metavar="FILE", default="", help="policy YAML file for both")
    p.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )

    p = sub.add_parser(
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
    _pseudonymise(p)

    p = sub.add_parser(
        "verify",
        help="recompute a snapshot's SHA-256 hashes; fail on any altered, missing or extra file",
        description="Exit 0 when every raw file matches the manifest, 1 when a file was "
        "altered, is missing or was added, 2 when the directory is not a snapshot.",
    )
    p.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot directory")

    sub.add_parser("checks", help="list the check catalogue")

    p = sub.add_parser(
        "notebooks",
        help="list the bundled notebooks, or copy them to edit (--copy DIR)",
        description="Without options, print where the bundled notebooks are and list them. "
        "With --copy DIR, write editable copies into DIR (never replacing a file there); "
        "run them with 'scalingo-audit report SOURCE --notebooks DIR' or open them in "
        "JupyterLab (pip install 'scalingo-audit[lab]').",
    )
    p.add_argument("--copy", metavar="DIR", help="write editable copies of the notebooks here")

    from .contracts import NAMES

    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of an output or input (findings, diff, manifest, policy)",
        description="Print a published JSON Schema (draft 2020-12): 'findings' for check "
        "--format json, 'diff' for diff --format json, 'manifest' for a snapshot's "
        "manifest.json, 'policy' for the policy file. Each $id ends with its version.",
    )
    p.add_argument("name", metavar="NAME", choices=NAMES, help=" | ".join(NAMES))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except AuditError as exc:
        print(f"scalingo-audit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scalingo-audit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "check":
        return _check(args)
    if args.command == "report":
        from .report import build_report

        index = build_report(
            args.source,
            policy=args.policy,
            as_of=args.as_of,
            out_dir=args.out,
            notebooks_dir=args.notebooks,
            pdf=args.pdf,
            pseudonymise=args.pseudonymise,
        )
        print(f"Report written to {index}")
        return 0
    if args.command == "collect":
        from .collect import collect

        if args.rate_limit < 1:
            raise AuditError("--rate-limit must be at least 1 request per minute")
        path = collect(
            args.out,
            region=args.region,
            events_days=args.events_days,
            rate_limit=args.rate_limit,
            progress=not args.quiet,
            since=args.since,
        )
        print(f"Snapshot written to {path}")
        return 0
    if args.command == "demo":
        from .demo import demo_snapshot
        from .snapshot import write

        path = write(demo_snapshot(), args.out)
        print(f"Demo snapshot written to {path}")
        return 0
    if args.command == "diff":
        from . import history

        changes = history.compare(args.old, args.new, policy=args.policy)
        render = {"table": history.to_table, "json": history.to_json, "csv": history.to_csv}
        text = render[args.format](changes)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    if args.command == "review":
        return _review(args)
    if args.command == "verify":
        from .evidence import verify

        result = verify(args.snapshot)
        print(result.report())
        return 0 if result.ok else 1
    if args.command == "checks":
        from .checks import catalogue

        for c in catalogue().to_dict("records"):
            print(f"{c['check_id']:34} {c['severity']:7} {c['title']}")
        return 0
    if args.command == "notebooks":
        from . import resources

        if args.copy:
            copies = resources.copy_notebooks(args.copy)
            print(f"{len(copies)} notebooks copied to {args.copy}")
            return 0
        print(f"Bundled notebooks in {resources.notebooks_dir()}:")
        for nb in resources.bundled_notebooks():
            print(f"  {nb.name}")
        return 0
    if args.command == "schema":
        from . import contracts

        sys.stdout.write(contracts.text(args.name))
        return 0
    raise AssertionError(args.command)  # argparse only accepts the commands above


def _review(args: argparse.Namespace) -> int:
    from . import review
    from .notebook import open_audit

    if args.apply_decisions:
        from .errors import InputError
        from .policy import load_policy
        from .sources import load

        source = args.source or review.sheet_source(args.apply_decisions)
        if not source:
            raise InputError(
                "name the SOURCE this sheet was made from (a .csv sheet does not record it)",
                file=args.apply_decisions,
            )
        data = load(source, policy=load_policy(args.policy) if args.policy else None)
        if args.pseudonymise:
            from .pseudonymise import load_or_create_key, pseudonymise

            data = pseudonymise(data, load_or_create_key())
        decisions = review.read_decisions(args.apply_decisions, data)
        where = review.record_decisions(decisions, args.apply_decisions, data)
        for line in review.commands(decisions):
            print(line)
        print(
            f"Decisions recorded in {where}. Nothing was changed on Scalingo: run the commands "
            "above yourself.",
            file=sys.stderr,
        )
        return 0
    from .evidence import provenance

    audit = open_audit(
        args.source or "demo", args.policy, args.as_of, pseudonymise=args.pseudonymise
    )
    sheet = review.review_sheet(audit.data, audit.findings)
    about = {**review.sheet_about(audit.data), **provenance(audit.data, as_of=audit.as_of)}
    path = review.write_review(sheet, args.out, about=about)
    print(f"Review sheet with {len(sheet)} rows written to {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from . import output
    from .evidence import provenance
    from .notebook import open_audit

    audit = open_audit(args.source, args.policy, args.as_of, pseudonymise=args.pseudonymise)
    prov = provenance(audit.data, as_of=audit.as_of)
    f = audit.findings
    for gap in audit.data.info.gaps:
        print(f"scalingo-audit: warning: not audited: {gap}", file=sys.stderr)
    for e in audit.expired:
        print(
            f"scalingo-audit: warning: policy exception {e.describe()} expired on "
            f"{e.expires.isoformat()} and mutes nothing",
            file=sys.stderr,
        )
    if args.format == "json":
        print(output.to_json(f, prov))
    elif args.format == "csv":
        sys.stdout.write(output.to_csv(f, prov))
    else:
        print(output.to_table(f))
        counts = output.severity_counts(f)
        print(
            "\n"
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + f"; {int(f['muted'].astype(bool).sum())} muted"
            + f" — {audit.data.info.kind} {audit.data.info.location}, as of {audit.as_of:%Y-%m-%d}"
        )
        print(output.provenance_line(prov))
    if args.fail_on:
        limit = SEVERITIES.index(args.fail_on)
        counts = output.severity_counts(f)
        if any(counts[s] for s in SEVERITIES[: limit + 1]):
            return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
