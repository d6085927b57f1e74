"""Access review sheets: one row per membership for a reviewer to decide on, and back.

:func:`review_sheet` builds the sheet (columns: ``frames.SCHEMAS["review"]``) with a
suggested action per membership — ``keep``, ``downgrade to Limited`` or ``revoke`` — and
the exact Scalingo CLI command carrying it out. :func:`write_review` writes it as
``.xlsx`` or ``.csv`` with empty ``decision``, ``reviewer`` and ``date`` columns.

:func:`apply_decisions` reads a filled sheet back, validates every decision against
the audited data, records the decisions as evidence and returns the CLI commands to
run. **It never calls the Scalingo API**: a person runs the commands.

Spreadsheet safety: every text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return gets a leading ``'`` (:func:`scalingo_audit.output.safe_cell`);
in ``.xlsx`` it is moreover written as a string cell, so it stays inert text in Excel
and LibreOffice. Reading a sheet back removes that quote again.

Commands come from :mod:`scalingo_audit.commands`, the one renderer the findings and the
report tables use too: they name the region (``scalingo --region R --app APP ...``; an app
name is unique only within a region), every word is quoted with :func:`shlex.join`, and a
membership whose email, app or region begins with ``-`` or holds a control character gets no
command: the sheet says it needs manual action and ``--apply-decisions`` lists it apart,
never as a line to paste.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import atomic, frames
from . import commands as cli
from .errors import InputError, OutputWarning, excerpt
from .model import AuditData
from .output import is_formula_like, safe_cell, safe_cells, verified_word, write_csv_rows
from .snapshot import sha256_file

KEEP, DOWNGRADE, REVOKE = "keep", "downgrade to Limited", "revoke"
DECISIONS = {
    "keep": "keep",
    "downgrade": "downgrade",
    "downgrade to limited": "downgrade",
    "limited": "downgrade",
    "revoke": "revoke",
    "remove": "revoke",
}
"""Accepted spellings of a decision (case and surrounding spaces ignored) → the decision."""

COLUMNS = tuple(frames.columns("review"))
REQUIRED = ("person", "app", "region", "decision")
"""Columns a filled sheet must still have."""

_WIDTHS = {"person": 32, "app": 22, "findings": 40, "reason": 48, "command": 70}
_REVOKE_CHECKS = ("inactive_collaborator", "pending_invitation_stale")
_DOWNGRADE_CHECKS = (
    "unused_full_privileges",
    "external_full_collaborator",
    "collaborator_without_2fa",
)


# --- the sheet -----------------------------------------------------------------------------


def review_sheet(data: AuditData, findings: pd.DataFrame) -> pd.DataFrame:
    """One row per membership (owners included), sorted by person, region and app."""
    m = data.memberships
    open_ = findings[~findings["muted"].fillna(False).astype(bool)]
    on_app: dict[tuple[str, str, str], list[str]] = {}
    on_person: dict[str, list[str]] = {}
    for r in frames.rows(open_, ["check_id", "region", "app", "email"]):
        email = frames.text(r["email"]).lower()
        if not email:
            continue
        if frames.text(r["app"]):
            on_app.setdefault((frames.text(r["region"]), frames.text(r["app"]), email), []).append(
                r["check_id"]
            )
        else:
            on_person.setdefault(email, []).append(r["check_id"])
    evidence = verified_word(data.info.verified)  # UNVERIFIED on every row after --no-verify
    has_activity = "last_activity_at" in m.columns
    has_full = "last_full_action_at" in m.columns
    # column by column: a row dict per membership costs seconds on a large organisation
    emails, regions, apps = (frames.texts(m[c]) for c in ("email", "region", "app_name"))
    roles, statuses = frames.values(m["role"]), frames.values(m["status"])
    found, actions, reasons, commands = [], [], [], []
    # a suggestion depends on the role, the status and the check ids only: each combination
    # is decided once (a large organisation has 50,000 memberships and a few dozen of them)
    suggested: dict[tuple[Any, Any, tuple[str, ...]], tuple[str, str]] = {}
    for email, region, app, role, status in zip(
        emails, regions, apps, roles, statuses, strict=True
    ):
        key = email.lower()
        of_app, of_person = on_app.get((region, app, key)), on_person.get(key)
        ids = tuple(sorted(set((of_app or []) + (of_person or [])))) if of_app or of_person else ()
        combo = (role, status, ids)
        if combo not in suggested:
            suggested[combo] = suggest({"role": role, "status": status}, ids)
        action, reason = suggested[combo]
        found.append(", ".join(ids))
        actions.append(action)
        reasons.append(reason)
        commands.append(command(action, region, app, email))
    missing = frames.is_missing
    rows = pd.DataFrame(
        {
            "person": emails,
            "username": m["username"].tolist(),
            "app": m["app_name"].tolist(),
            "region": m["region"].tolist(),
            "project": m["project_name"].tolist(),
            "role": roles,
            "status": statuses,
            "tfa": [
                ("not exposed" if role == "owner" else "unknown")
                if missing(t)
                else ("on" if t else "off")
                for t, role in zip(m["tfa"].tolist(), roles, strict=True)
            ],
            "internal": [
                None if missing(v) else ("internal" if v else "external")
                for v in m["internal"].tolist()
            ],
            "last_activity_at": _days(m["last_activity_at"]) if has_activity else None,
            "last_full_action_at": _days(m["last_full_action_at"]) if has_full else None,
            "findings": found,
            "suggested_action": actions,
            "reason": reasons,
            "command": commands,
            "source_verified": evidence,
        }
    )
    sheet = frames.build("review", rows)
    sheet = sheet.sort_values(["person", "region", "app"], key=lambda s: s.str.lower())
    drop = [c for c, ok in (("last_activity_at", has_activity), ("last_full_action_at", has_full))
            if not ok]  # fmt: skip
    return sheet.drop(columns=drop).reset_index(drop=True)


def suggest(membership: dict[str, Any], check_ids: Iterable[str]) -> tuple[str, str]:
    """The suggested action for one membership and why, from its status, role and open
    findings (check ids)."""
    ids = set(check_ids)
    role, status = membership["role"], membership["status"]
    if status == "user account deleted":
        return REVOKE, "the account was deleted: remove the leftover membership"
    if role == "owner":
        if "owner_not_service_account" in ids:
            return KEEP, "Owner: transfer the app to a service account (dashboard), not here"
        return KEEP, "Owner: changed only by transferring the app"
    if "inactive_collaborator" in ids:
        return REVOKE, "no activity on this app within the inactivity period"
    if "pending_invitation_stale" in ids:
        return REVOKE, "invitation pending for too long"
    if role == "collaborator":
        why = {
            "unused_full_privileges": "no action needing the full role within the period",
            "external_full_collaborator": "external person with the full role",
            "collaborator_without_2fa": "full role without 2FA",
        }
        reasons = [why[c] for c in _DOWNGRADE_CHECKS if c in ids]
        if reasons:
            return DOWNGRADE, "; ".join(reasons)
    return KEEP, "no finding calls for a change" if not ids else "see the findings"


_ACTIONS = {DOWNGRADE: "downgrade", "downgrade": "downgrade", REVOKE: "revoke"}
"""Suggested actions and decisions → :data:`scalingo_audit.commands.ACTIONS` keys."""


def command(action: str, region: str, app: str, email: str) -> str:
    """The sheet's ``command`` cell for ``action``: the CLI line carrying it out, ``''`` for
    keep, or :data:`scalingo_audit.commands.MANUAL` when a value is unsafe in a shell."""
    act = _ACTIONS.get(action)
    return "" if act is None else cli.phrase(cli.argv(act, region, app, email))


def _days(times: pd.Series) -> list[str | None]:
    """The dates (YYYY-MM-DD) of a time column; ``None`` where it is missing."""
    days = pd.to_datetime(times, utc=True).dt.strftime("%Y-%m-%d")
    return [
        None if gone else d for d, gone in zip(days.tolist(), days.isna().tolist(), strict=True)
    ]


# --- writing -----------------------------------------------------------------------------


def write_review(
    df: pd.DataFrame, path: str | Path, *, about: dict[str, Any] | None = None
) -> Path:
    """Write the sheet to ``path`` (``.xlsx`` or ``.csv``), every text cell formula-safe.

    ``about`` (e.g. ``{"source": ..., "collected_at": ...}``) goes to an ``About`` sheet
    in ``.xlsx`` files, with how to fill the sheet."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError("the review sheet must be a .xlsx or .csv file", file=out)
    if out.is_dir():
        raise InputError("is a directory; name the sheet file to write", file=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # column by column: itertuples boxes every string value on its own
    missing = "" if suffix == ".csv" else None
    columns = [safe_cells(df[c], missing) for c in df.columns]
    with atomic.replacing(out) as tmp:  # a full disk leaves no half sheet under its name
        if suffix == ".csv":
            with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(list(df.columns))
                write_csv_rows(w, fh, zip(*columns, strict=True))
        else:
            cells = [list(row) for row in zip(*columns, strict=True)]
            _write_xlsx(tmp, list(df.columns), cells, about or {}, filename=out.name)
    return out


def _write_xlsx(
    out: Path, header: list[str], cells: list[list[Any]], about: dict[str, Any], *, filename: str
) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Review"
    for j, name in enumerate(header, 1):
        c = ws.cell(row=1, column=j, value=name)
        c.font = Font(bold=True)
        ws.column_dimensions[get_column_letter(j)].width = _WIDTHS.get(name, 16)
    for i, row in enumerate(cells, 2):
        for j, v in enumerate(row, 1):
            _put(ws.cell(row=i, column=j), v, filename)
    ws.freeze_panes = "B2"
    last = get_column_letter(len(header))
    ws.auto_filter.ref = f"A1:{last}{len(cells) + 1}"
    if "decision" in header and cells:
        col = get_column_letter(header.index("decision") + 1)
        dv = DataValidation(type="list", formula1='"keep,downgrade,revoke"', allow_blank=True)
        dv.error = "keep, downgrade or revoke"
        ws.add_data_validation(dv)
        dv.add(f"{col}2:{col}{len(cells) + 1}")
    info = wb.create_sheet("About")
    lines = [
        ("scalingo-audit access review", ""),
        ("", ""),
        *((k, frames.text(v)) for k, v in about.items()),
        ("", ""),
        ("decision", "keep | downgrade | revoke (empty: not decided yet)"),
        ("reviewer", "who decided"),
        ("date", "when (YYYY-MM-DD)"),
        ("then", "scalingo-audit review SOURCE --apply-decisions THIS_FILE"),
        ("", "prints the Scalingo CLI commands and records the decisions; changes nothing"),
    ]
    for i, (k, v) in enumerate(lines, 1):
        _put(info.cell(row=i, column=1), safe_cell(k), filename)
        _put(info.cell(row=i, column=2), safe_cell(v), filename)
    info.column_dimensions["A"].width = 18
    info.column_dimensions["B"].width = 80
    wb.save(out)


def _put(cell: Any, value: Any, filename: str) -> None:
    if isinstance(value, str) and _XLSX_ILLEGAL.search(value):
        # XML 1.0 cannot hold these (NUL, ESC...): write them as visible \xNN escapes
        value = _XLSX_ILLEGAL.sub(lambda m: f"\\x{ord(m[0]):02x}", value)
        warnings.warn(
            OutputWarning(
                f"{filename}: sheet {cell.parent.title} cell {cell.coordinate}: control characters "
                "a spreadsheet cannot store were written as \\xNN escapes"
            ),
            stacklevel=2,
        )
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text


_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# --- reading back --------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One decided row of a filled sheet."""

    row: int  # row number in the sheet (the header is row 1)
    person: str
    app: str
    region: str
    role: str
    decision: str  # keep | downgrade | revoke
    reviewer: str
    date: str
    command: str  # the CLI line; '' for keep, and when there is no safe command (manual)
    manual: bool = False  # a change with no safe command: do it in the dashboard


def read_sheet(path: str | Path) -> list[dict[str, str]]:
    """The rows of a review sheet as text dicts (header → value), formula quotes removed."""
    src = Path(path)
    if not src.is_file():
        raise InputError("file not found", file=src)
    suffix = src.suffix.lower()
    if suffix == ".csv":
        try:
            with src.open(encoding="utf-8-sig", newline="") as fh:
                table = list(csv.reader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"cannot read the CSV ({exc})", file=src) from None
    elif suffix == ".xlsx":
        table = _xlsx_rows(src)
    else:
        raise InputError("a review sheet is a .xlsx or .csv file", file=src)
    if not table:
        raise InputError("empty sheet (no header row)", file=src)
    header = [_unquote(_text(h)).strip().lower() for h in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"not a review sheet: missing column(s) {', '.join(missing)}", file=src, record="row 1"
        )
    out = []
    for values in table[1:]:
        padded = list(values) + [None] * (len(header) - len(values))
        out.append({h: _unquote(_text(v)).strip() for h, v in zip(header, padded, strict=False)})
    return out


def _xlsx_rows(src: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(src, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a broken file
        raise InputError(f"cannot read the workbook ({type(exc).__name__})", file=src) from None
    try:
        ws = wb["Review"] if "Review" in wb.sheetnames else wb.worksheets[0]
        return [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _text(v: Any) -> str:
    """A sheet's cell as text (:func:`frames.text`), a date the spreadsheet typed as a date
    as the ``YYYY-MM-DD`` the sheet was written with."""
    if isinstance(v, dt.datetime | dt.date):
        return v.strftime("%Y-%m-%d")
    return frames.text(v)


def _unquote(v: str) -> str:
    """Undo :func:`safe_cell`: a leading ``'`` before a text that looks like a formula."""
    if v.startswith("'") and is_formula_like(v[1:]):
        return v[1:]
    return v


def read_decisions(path: str | Path, data: AuditData) -> list[Decision]:
    """The decided rows of a filled sheet, each checked against ``data``: the membership
    must exist, the decision must be one of :data:`DECISIONS` and possible for its role.
    Raises :class:`InputError` naming the sheet, the row and the field at fault."""
    src = Path(path)
    m = data.memberships
    index = {
        (frames.text(r), frames.text(a).lower(), frames.text(e).lower()): (
            frames.text(role),
            frames.text(a),
            frames.text(e),
        )
        for r, a, e, role in zip(m["region"], m["app_name"], m["email"], m["role"], strict=True)
    }
    out: list[Decision] = []
    for n, row in enumerate(read_sheet(src), start=2):
        raw = row.get("decision", "")
        if not raw:
            continue
        record = f"row {n}"
        decision = DECISIONS.get(" ".join(raw.lower().split()))
        if decision is None:
            raise InputError(
                f"unknown decision {excerpt(raw)} (expected keep, downgrade or revoke)",
                file=src,
                record=record,
                field="decision",
            )
        key = (row["region"], row["app"].lower(), row["person"].lower())
        if key not in index:
            raise InputError(
                f"no membership of {excerpt(row['person'])} on {excerpt(row['app'])} ({row['region']}) "
                f"in {data.info.location}: was the sheet made from this source?",
                file=src,
                record=record,
            )
        role, app, email = index[key]
        if decision != "keep" and role == "owner":
            raise InputError(
                f"{email} owns {app}: an Owner can be neither downgraded nor removed "
                "(transfer the app first)",
                file=src,
                record=record,
                field="decision",
            )
        if decision == "downgrade" and role != "collaborator":
            raise InputError(
                f"{email} is already a Limited Collaborator on {app}: decide keep or revoke",
                file=src,
                record=record,
                field="decision",
            )
        line = cli.line(decision, row["region"], app, email) if decision != "keep" else ""
        out.append(
            Decision(
                row=n,
                person=email,
                app=app,
                region=row["region"],
                role=role,
                decision=decision,
                reviewer=row.get("reviewer", ""),
                date=row.get("date", ""),
                command=line or "",
                manual=line is None,
            )
        )
    return out


def commands(decisions: Iterable[Decision]) -> list[str]:
    """The CLI commands of the decisions, in sheet order (``keep`` and manual ones have
    none)."""
    return [d.command for d in decisions if d.command]


def manual(decisions: Iterable[Decision]) -> list[Decision]:
    """The decided changes that have no safe command (see :mod:`scalingo_audit.commands`):
    a person makes them on the dashboard."""
    return [d for d in decisions if d.manual]


def evidence_dir(path: str | Path, data: AuditData) -> Path:
    """Where decisions are recorded: beside the snapshot (``SNAPSHOT.decisions/``) when
    the data comes from a snapshot directory — not inside it, which would break its
    manifest's file list — else beside the sheet (``SHEET.decisions/``)."""
    if data.info.kind == "snapshot" and Path(data.info.location).is_dir():
        snap = Path(data.info.location)
        return snap.with_name(snap.name + ".decisions")
    sheet = Path(path)
    return sheet.with_name(sheet.name + ".decisions")


def record_decisions(
    decisions: list[Decision], path: str | Path, data: AuditData, *, now: dt.datetime | None = None
) -> Path:
    """Record the decisions as evidence: ``<evidence_dir>/<UTC time>.json`` (what was
    decided, by whom, the commands, the source and the hashes of the snapshot manifest
    and of the sheet) plus a copy of the filled sheet. Returns the JSON file."""
    sheet = Path(path)
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    folder = evidence_dir(sheet, data)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = Path(data.info.location) / "manifest.json"
    copy_name = f"{stamp}{sheet.suffix.lower()}"
    record = {
        "format": "scalingo-audit/review-decisions",
        "format_version": 1,
        "recorded_at": when.isoformat(),
        "sheet": str(sheet),
        "sheet_sha256": sha256_file(sheet),
        "sheet_copy": copy_name,
        "source": data.info.as_dict(),
        "snapshot_sha256": sha256_file(manifest) if manifest.is_file() else None,
        "decisions": [asdict(d) for d in decisions],
        "commands": commands(decisions),
        "manual": [d.row for d in manual(decisions)],
        "note": "scalingo-audit changed nothing on Scalingo: a person runs the commands.",
    }
    with atomic.replacing(folder / copy_name) as tmp:
        shutil.copyfile(sheet, tmp)
    target = folder / f"{stamp}.json"
    atomic.write_text(target, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return target


@dataclass(frozen=True)
class Applied:
    """What :func:`apply_decisions` did: the decisions read, the CLI commands to run (sheet
    order), the changes to make by hand (no safe command) and the evidence file written."""

    decisions: list[Decision]
    commands: list[str]
    manual: list[Decision]
    record: Path | None


def apply_decisions(
    path: str | Path, data: AuditData, *, record: bool = True, now: dt.datetime | None = None
) -> Applied:
    """Read a filled sheet, validate it against ``data``, record the decisions as evidence
    (unless ``record`` is false) and give the Scalingo CLI commands carrying them out, and
    the changes that need manual action. Never calls the API."""
    decisions = read_decisions(path, data)
    where = record_decisions(decisions, path, data, now=now) if record else None
    return Applied(decisions, commands(decisions), manual(decisions), where)


def sheet_about(data: AuditData) -> dict[str, Any]:
    """What the ``About`` sheet says about the source."""
    return {
        "source": data.info.location,
        "kind": data.info.kind,
        "collected_at": data.info.collected_at.isoformat(),
        "collected_by": data.info.collected_by,
        "evidence": verified_word(data.info.verified),
    }


def sheet_source(path: str | Path) -> str | None:
    """The source recorded in an ``.xlsx`` sheet's ``About`` sheet (``None`` for CSV or
    when absent): lets ``review --apply-decisions FILE`` find the data without SOURCE."""
    src = Path(path)
    if src.suffix.lower() != ".xlsx" or not src.is_file():
        return None
    from openpyxl import load_workbook

    try:
        wb = load_workbook(src, read_only=True, data_only=True)
    except Exception:
        return None
    try:
        if "About" not in wb.sheetnames:
            return None
        for k, v in wb["About"].iter_rows(min_col=1, max_col=2, values_only=True):
            if k == "source" and v:
                return _unquote(str(v))
        return None
    finally:
        wb.close()
