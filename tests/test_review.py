"""review: the sheet, xlsx/csv round trips, formula injection, decisions → CLI commands."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from dataclasses import replace

import pandas as pd
import pytest
from openpyxl import load_workbook

from scalingo_audit import frames, review
from scalingo_audit.checks import run_checks
from scalingo_audit.errors import InputError
from scalingo_audit.policy import Policy
from scalingo_audit.snapshot import write
from scalingo_audit.sources import load

from .orgs import COLLECTOR, app, collab, snapshot
from .tools import libreoffice_convert, system_tool

A = "@acme.example"
EVIL_APP = "=SUM(1,1)"
EVIL_USER = "@cmd|'/C calc'!A0"
NOW = dt.datetime(2026, 10, 2, 9, 30, tzinfo=dt.UTC)


def org_snapshot():
    evil = collab(EVIL_APP, f"mallory{A}", limited=True)
    evil["username"] = EVIL_USER
    return snapshot(
        [app("shop"), app("blog", owner=f"alice{A}"), app(EVIL_APP)],
        [
            collab("shop", f"carol{A}"),  # full, internal, 2FA: keep
            collab("shop", "dave@agency.example"),  # external full: downgrade
            collab("shop", f"erin{A}", limited=True, tfa=False),  # limited without 2FA: keep
            collab("shop", f"gone{A}", limited=True, status="user account deleted"),  # revoke
            collab("shop", f"Frank{A}", status="pending"),
            collab("blog", f"carol{A}", limited=True),
            evil,
        ],
    )


@pytest.fixture
def snap_dir(tmp_path):
    return write(org_snapshot(), tmp_path / "snapshots" / "2026-10-01")


@pytest.fixture
def data(snap_dir):
    return load(snap_dir, policy=Policy(internal_domains=("acme.example",)))


def sheet_of(data):
    return review.review_sheet(data, run_checks(data))


def by_person_app(sheet):
    return {(r["person"], r["app"]): r for r in sheet.to_dict("records")}


def test_one_row_per_membership_with_suggestions(data):
    sheet = sheet_of(data)
    assert len(sheet) == len(data.memberships)
    assert set(sheet.columns) <= set(frames.columns("review"))
    assert list(sheet.columns[-3:]) == ["decision", "reviewer", "date"]
    assert sheet[["decision", "reviewer", "date"]].isna().all().all()
    assert set(sheet["source_verified"]) == {"verified"}  # UNVERIFIED after --no-verify
    rows = by_person_app(sheet)
    dave = rows[("dave@agency.example", "shop")]
    assert dave["suggested_action"] == "downgrade to Limited"
    assert "external_full_collaborator" in dave["findings"]
    assert dave["command"] == (
        "scalingo --region osc-fr1 --app shop collaborators-update --limited=true "
        "dave@agency.example"
    )
    gone = rows[(f"gone{A}", "shop")]
    assert gone["suggested_action"] == "revoke"
    assert gone["command"] == f"scalingo --region osc-fr1 --app shop collaborators-remove gone{A}"
    owner = rows[(f"alice{A}", "blog")]
    assert (owner["role"], owner["suggested_action"], owner["command"]) == ("owner", "keep", "")
    assert owner["tfa"] == "not exposed"
    carol = rows[(f"carol{A}", "shop")]
    assert (carol["suggested_action"], carol["findings"], carol["tfa"]) == ("keep", "", "on")
    assert rows[(f"erin{A}", "shop")]["suggested_action"] == "keep"
    assert rows[(f"Frank{A}", "shop")]["status"] == "pending"
    # evil names are kept as they are in the frame; quoting happens in the command
    assert rows[(f"mallory{A}", EVIL_APP)]["command"] == ""


def test_activity_columns_follow_the_data(data):
    m = data.memberships
    without = m.drop(columns=[c for c in ("last_activity_at", "last_full_action_at") if c in m])
    sheet = review.review_sheet(replace(data, memberships=without), run_checks(data))
    assert "last_activity_at" not in sheet.columns
    assert "last_full_action_at" not in sheet.columns
    when = pd.Timestamp("2026-09-15T10:00:00Z")
    with_activity = m.assign(last_activity_at=when, last_full_action_at=pd.NaT)
    sheet = review.review_sheet(replace(data, memberships=with_activity), run_checks(data))
    assert set(sheet["last_activity_at"]) == {"2026-09-15"}
    assert sheet["last_full_action_at"].isna().all()


def test_activity_findings_drive_the_suggestion():
    m = {"role": "collaborator", "status": "accepted"}
    assert review.suggest(m, ["inactive_collaborator"])[0] == "revoke"
    assert review.suggest(m, ["unused_full_privileges"])[0] == "downgrade to Limited"
    assert (
        review.suggest({**m, "role": "limited_collaborator"}, ["unused_full_privileges"])[0]
        == "keep"
    )
    pending = {"role": "limited_collaborator", "status": "pending"}
    assert review.suggest(pending, ["pending_invitation_stale"])[0] == "revoke"


def test_muted_findings_do_not_count(data):
    findings = run_checks(data).assign(muted=True)
    sheet = review.review_sheet(data, findings)
    assert (sheet["findings"] == "").all()


# --- writing and reading back ---------------------------------------------------------------


def fill_xlsx(path, decisions):
    wb = load_workbook(path)
    ws = wb["Review"]
    header = [c.value for c in ws[1]]
    col = {name: header.index(name) + 1 for name in ("person", "app", "decision", "reviewer")}
    for row in range(2, ws.max_row + 1):
        key = (ws.cell(row, col["person"]).value, ws.cell(row, col["app"]).value)
        if key in decisions:
            ws.cell(row, col["decision"]).value = decisions[key]
            ws.cell(row, col["reviewer"]).value = "rita@acme.example"
            ws.cell(row, header.index("date") + 1).value = dt.datetime(2026, 10, 2)
    wb.save(path)


def fill_csv(path, decisions):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if (r["person"], r["app"]) in decisions:
            r.update(
                decision=decisions[(r["person"], r["app"])], reviewer="rita", date="2026-10-02"
            )
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


DECIDED = {
    ("dave@agency.example", "shop"): "downgrade",
    (f"gone{A}", "shop"): "Revoke ",
    (f"carol{A}", "shop"): "keep",
    (f"mallory{A}", "'" + EVIL_APP): "revoke",  # as the sheet shows it
}
EXPECTED_COMMANDS = [
    "scalingo --region osc-fr1 --app '=SUM(1,1)' collaborators-remove mallory@acme.example",
    "scalingo --region osc-fr1 --app shop collaborators-update --limited=true dave@agency.example",
    "scalingo --region osc-fr1 --app shop collaborators-remove gone@acme.example",
]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_round_trip(data, snap_dir, tmp_path, suffix):
    sheet = sheet_of(data)
    path = review.write_review(sheet, tmp_path / f"review{suffix}", about=review.sheet_about(data))
    back = review.read_sheet(path)
    assert len(back) == len(sheet)
    assert [r["person"] for r in back] == sheet["person"].tolist()
    assert [r["app"] for r in back] == sheet["app"].tolist()  # formula quotes removed
    nothing = review.apply_decisions(path, data, record=False)  # nothing decided yet
    assert (nothing.decisions, nothing.commands, nothing.record) == ([], [], None)

    (fill_xlsx if suffix == ".xlsx" else fill_csv)(path, DECIDED)
    before = sorted(p.relative_to(snap_dir) for p in snap_dir.rglob("*"))
    applied = review.apply_decisions(path, data, now=NOW)
    commands = applied.commands
    assert sorted(commands) == sorted(EXPECTED_COMMANDS)
    assert applied.manual == []
    # evidence beside the snapshot, never inside it (its manifest lists its files)
    assert sorted(p.relative_to(snap_dir) for p in snap_dir.rglob("*")) == before
    folder = snap_dir.with_name("2026-10-01.decisions")
    assert applied.record == folder / "20261002T093000Z.json"
    record = json.loads((folder / "20261002T093000Z.json").read_text())
    assert record["commands"] == commands
    assert record["source"]["location"] == str(snap_dir)
    assert record["snapshot_sha256"] and record["sheet_sha256"]
    assert (folder / record["sheet_copy"]).read_bytes() == path.read_bytes()
    decided = {(d["person"], d["app"]): d for d in record["decisions"]}
    assert decided[(f"carol{A}", "shop")]["decision"] == "keep"
    assert decided[("dave@agency.example", "shop")]["date"] == "2026-10-02"
    assert decided[("dave@agency.example", "shop")]["reviewer"].startswith("rita")


def test_sheet_source_is_recorded_in_xlsx(data, tmp_path):
    path = review.write_review(sheet_of(data), tmp_path / "r.xlsx", about=review.sheet_about(data))
    assert review.sheet_source(path) == data.info.location
    csv_path = review.write_review(sheet_of(data), tmp_path / "r.csv")
    assert review.sheet_source(csv_path) is None


def test_decisions_beside_the_sheet_when_not_from_a_snapshot(tmp_path):
    data = load("demo")
    sheet = review.review_sheet(data, run_checks(data)).head(3)
    path = review.write_review(sheet, tmp_path / "demo.csv")
    fill_csv(path, {(sheet["person"][0], sheet["app"][0]): "keep"})
    assert review.apply_decisions(path, data, now=NOW).commands == []
    assert (tmp_path / "demo.csv.decisions" / "20261002T093000Z.json").is_file()


@pytest.mark.parametrize(
    ("key", "decision", "message"),
    [
        (("dave@agency.example", "shop"), "delete", "unknown decision 'delete'"),
        ((f"alice{A}", "blog"), "revoke", "an Owner can be neither"),
        ((f"erin{A}", "shop"), "downgrade", "already a Limited Collaborator"),
    ],
)
def test_bad_decisions_name_the_row(data, tmp_path, key, decision, message):
    sheet = sheet_of(data)
    path = review.write_review(sheet, tmp_path / "r.csv")
    fill_csv(path, {key: decision})
    row = 2 + sheet.index[(sheet["person"] == key[0]) & (sheet["app"] == key[1])][0]
    with pytest.raises(InputError, match=message) as err:
        review.apply_decisions(path, data)
    assert err.value.record == f"row {row}"
    assert err.value.file == str(path)
    assert not (tmp_path / "snapshots" / "2026-10-01.decisions").exists()


def test_sheet_from_another_source_is_rejected(data, tmp_path):
    demo = load("demo")
    sheet = review.review_sheet(demo, run_checks(demo)).head(2)
    path = review.write_review(sheet, tmp_path / "r.csv")
    fill_csv(path, {(sheet["person"][0], sheet["app"][0]): "revoke"})
    with pytest.raises(InputError, match="was the sheet made from this source"):
        review.apply_decisions(path, data)


def test_not_a_review_sheet(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="missing column"):
        review.read_sheet(bad)
    with pytest.raises(InputError, match=r"\.xlsx or \.csv"):
        review.write_review(pd.DataFrame(), tmp_path / "x.ods")
    (tmp_path / "broken.xlsx").write_text("not a zip")
    with pytest.raises(InputError, match="cannot read the workbook"):
        review.read_sheet(tmp_path / "broken.xlsx")


# --- formula injection ------------------------------------------------------------------------

PREFIXES = ["=1+2", "+1+2", "-1+2", "@SUM(1)", "\t=1", "\r=1"]


def test_formula_prefixes_stay_inert_text_in_xlsx(data, tmp_path):
    sheet = sheet_of(data)
    sheet.loc[0:5, "reason"] = PREFIXES
    path = review.write_review(sheet, tmp_path / "r.xlsx", about={"source": "=HYPERLINK(1)"})
    ws = load_workbook(path)["Review"]
    header = [c.value for c in ws[1]]
    app_col, user_col = header.index("app") + 1, header.index("username") + 1
    person_col = header.index("person") + 1
    evil = [r for r in range(2, ws.max_row + 1) if ws.cell(r, person_col).value == f"mallory{A}"]
    assert len(evil) == 1
    for col, text in ((app_col, EVIL_APP), (user_col, EVIL_USER)):
        cell = ws.cell(evil[0], col)
        assert cell.value == "'" + text and cell.data_type == "s"
    reason = header.index("reason") + 1
    for i, text in enumerate(PREFIXES):
        cell = ws.cell(2 + i, reason)
        # a carriage return is kept (written as &#13;, as openpyxl does with lxml installed)
        # or read back as a line feed (XML's line-end normalisation, without lxml)
        assert cell.value in ("'" + text, "'" + text.replace("\r", "\n"))
        assert cell.data_type == "s"
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f"
    about = load_workbook(path)["About"]
    assert any(c.value == "'=HYPERLINK(1)" for row in about.iter_rows() for c in row)


def test_formula_prefixes_neutralised_in_csv(data, tmp_path):
    path = review.write_review(sheet_of(data), tmp_path / "r.csv")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        cells = [v for row in csv.reader(fh) for v in row]
    assert "'" + EVIL_APP in cells and "'" + EVIL_USER in cells
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in cells)


# --- LibreOffice --------------------------------------------------------------------------------


def test_libreoffice_opens_the_sheet_and_formulas_stay_text(data, tmp_path):
    pdftotext = system_tool("pdftotext", package="poppler-utils")
    sheet = review.write_review(sheet_of(data), tmp_path / "review.xlsx")
    pdf = libreoffice_convert(sheet, "pdf", tmp_path / "pdf")
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "dave@agency.example" in text and "mallory@acme.example" in text
    assert "'" + EVIL_APP in text  # shown as typed, not computed
    # the values LibreOffice computed: the evil cells are still text, not 2 or an error
    csv_out = libreoffice_convert(
        sheet, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path / "csv"
    )
    with csv_out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    mallory = next(r for r in rows if r["person"] == f"mallory{A}")
    assert mallory["app"] == "'" + EVIL_APP
    assert mallory["username"] == "'" + EVIL_USER
    assert len(rows) == len(data.memberships)
    assert COLLECTOR in {r["person"] for r in rows}
