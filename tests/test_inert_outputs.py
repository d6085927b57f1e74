"""Outputs stay inert and whole: CSV rows cannot be split into live formulas, XLSX stores
what it can and says what it escaped, the terminal gets no control characters, and every
output file is written under a temporary name then renamed."""

from __future__ import annotations

import csv
import errno
import io
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from scalingo_audit import output, review
from scalingo_audit.checks import run_checks
from scalingo_audit.errors import AuditError, OutputWarning
from scalingo_audit.snapshot import write
from scalingo_audit.sources import load

from . import clirun
from .orgs import app, collab, snapshot
from .tools import libreoffice_convert

# A carriage return alone splits a CSV row in spreadsheets when the cell is not quoted: the
# text after it becomes the first cell of a new row, here a live formula.
CR_APP = 'shop\r=HYPERLINK("http://evil.example","x")'
CR_EMAIL = "mallory\r=1+1@acme.example"
ESC_APP = "blog\x1b[31mred\x1b[0m\x00nul"


def hostile_snapshot():
    return snapshot(
        [app(CR_APP), app(ESC_APP), app("plain")],
        [
            collab(CR_APP, CR_EMAIL, tfa=False),
            collab(ESC_APP, "erin@acme.example", tfa=False),
            collab("plain", "x@agency.example", tfa=False),
        ],
    )


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    return write(hostile_snapshot(), tmp_path / "snap")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return clirun.run(*args, cwd=cwd)


def test_csv_quotes_every_field_with_a_carriage_return(snap: Path) -> None:
    data = load(snap)
    text = output.to_csv(run_checks(data))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    width = len(rows[0])
    assert all(len(r) == width for r in rows)
    apps = [r[rows[0].index("app")] for r in rows[1:]]
    assert CR_APP in apps
    # every field holding a carriage return is quoted
    for value in (CR_APP, CR_EMAIL):
        assert '"' + value.replace('"', '""') + '"' in text


def _libreoffice_formula_cells(path: Path, tmp: Path) -> tuple[list[list[object]], list[str]]:
    """Open a CSV in LibreOffice with formula evaluation on (the risky setting), save it as
    XLSX and list the cells LibreOffice stored as formulas."""
    # CSV filter: comma, double quote, UTF-8, line 1, ..., token 13 = evaluate formulas
    infilter = "CSV:44,34,76,1,,0,false,true,false,false,false,-1,true"
    xlsx = libreoffice_convert(path, "xlsx", tmp / "lo", infilter=infilter)
    wb = load_workbook(xlsx)
    ws = wb.worksheets[0]
    formulas = [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]
    return [[c.value for c in row] for row in ws.iter_rows()], formulas


def test_check_csv_with_a_carriage_return_opens_in_libreoffice_with_no_formula(
    snap: Path, tmp_path: Path
) -> None:
    r = run("check", str(snap), "--format", "csv")
    assert r.returncode == 0, r.stderr
    path = tmp_path / "findings.csv"
    path.write_bytes(r.stdout.encode("utf-8"))
    expected = list(csv.reader(io.StringIO(r.stdout, newline="")))
    rows, formulas = _libreoffice_formula_cells(path, tmp_path)
    assert formulas == []
    assert len(rows) == len(expected)  # no row was split in two
    apps = [row[expected[0].index("app")] for row in rows[1:]]
    assert any(isinstance(a, str) and "HYPERLINK" in a and a.startswith("shop") for a in apps)


def test_review_csv_with_a_carriage_return_opens_in_libreoffice_with_no_formula(
    snap: Path, tmp_path: Path
) -> None:
    data = load(snap)
    sheet = review.review_sheet(data, run_checks(data))
    path = review.write_review(sheet, tmp_path / "review.csv")
    rows, formulas = _libreoffice_formula_cells(path, tmp_path)
    assert formulas == []
    assert len(rows) == len(sheet) + 1


def test_xlsx_with_nul_and_esc_is_written_and_the_cells_named(snap: Path, tmp_path: Path) -> None:
    data = load(snap)
    sheet = review.review_sheet(data, run_checks(data))
    with pytest.warns(UserWarning) as caught:
        path = review.write_review(sheet, tmp_path / "review.xlsx")
    ws = load_workbook(path)["Review"]
    values = [c.value for row in ws.iter_rows() for c in row]
    assert "blog\\x1b[31mred\\x1b[0m\\x00nul" in values
    messages = [str(w.message) for w in caught]
    col = ws.cell(row=1, column=list(sheet.columns).index("app") + 1).column_letter
    row = 2 + list(sheet["app"]).index(ESC_APP)
    assert any(f"review.xlsx: sheet Review cell {col}{row}:" in m for m in messages), messages


def test_review_cli_warns_on_one_line_per_escaped_cell(snap: Path, tmp_path: Path) -> None:
    r = run("review", str(snap), "--out", str(tmp_path / "r.xlsx"))
    assert r.returncode == 0, r.stderr
    warned = [line for line in r.stderr.splitlines() if "cannot store" in line]
    assert warned and all(line.startswith("scalingo-audit: warning: ") for line in warned)
    assert "\x1b" not in r.stderr


def test_terminal_table_strips_control_characters(snap: Path) -> None:
    r = run("check", str(snap))
    assert r.returncode == 0, r.stderr
    assert "blog[31mred[0mnul" in r.stdout
    assert not any(c in r.stdout for c in "\x1b\x00\r\x01")


# --- whole files or none ----------------------------------------------------------------------


def test_review_sheet_is_not_left_half_written(
    snap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpyxl import Workbook

    def full(self: object, filename: str) -> None:
        Path(filename).write_bytes(b"PK\x03\x04 half")
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    monkeypatch.setattr(Workbook, "save", full)
    data = load(snap)
    sheet = review.review_sheet(data, run_checks(data))
    # ESC_APP's control characters are escaped (and said so) before the disk fills up
    with pytest.warns(OutputWarning, match="cell"), pytest.raises(AuditError, match="No space"):
        review.write_review(sheet, tmp_path / "r.xlsx")
    assert list(tmp_path.glob("*r.xlsx*")) == []


def test_an_output_path_that_is_a_directory_is_one_error_line(snap: Path, tmp_path: Path) -> None:
    (tmp_path / "out.xlsx").mkdir()
    r = run("review", str(snap), "--out", str(tmp_path / "out.xlsx"))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "is a directory" in r.stderr, r.stderr
