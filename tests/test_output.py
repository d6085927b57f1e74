"""output: the one writer of rows as text (JSON records, formula-safe CSV, the terminal
listing) and the findings written through it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from types import SimpleNamespace

import pandas as pd
import pytest

from scalingo_audit import output, review
from scalingo_audit.checks import run_checks
from scalingo_audit.commands import render
from scalingo_audit.compliance import controls_for
from scalingo_audit.policy import Policy, PolicyException

from .orgs import app, collab, org

SPACED = "  =1+1"
CONTROL = "\x01@SUM(1)"
SEC = "osc-secnum-fr1"


@pytest.fixture(scope="module")
def findings() -> pd.DataFrame:
    """``shop`` in two regions: a muted and an open high finding in osc-fr1, a medium one in
    SecNumCloud, and the checks that could not be evaluated (info)."""
    shops = [app("shop"), app("shop", region=SEC)]
    muted = PolicyException(
        check_id="collaborator_without_2fa", reason="key on order", expires=dt.date(2027, 1, 1),
        email="dev@agency.example",
    )  # fmt: skip
    policy = Policy(internal_domains=("acme.example",), exceptions=(muted,))
    people = [
        collab(shops[0], "dev@agency.example", tfa=False),
        collab(shops[1], "lim@acme.example", limited=True, tfa=False),
    ]
    return run_checks(org(shops, people, policy=policy))


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1", "@SUM(1)", " =1+1", SPACED, "\t=1", "\r=1", CONTROL, "\u200b=1",
     "\ufeff@x", "\u00a0=1", "\uff1d1+1", "\n-2"],
)  # fmt: skip
def test_formula_prefixes_are_neutralised_after_leading_whitespace_or_controls(text: str) -> None:
    assert output.safe_cell(text) == "'" + text
    assert review._unquote(output.safe_cell(text)) == text  # read back as typed


@pytest.mark.parametrize("text", ["shop", "a=b", "dev@acme.example", "1-2", ""])
def test_plain_text_is_left_alone(text: str) -> None:
    assert output.safe_cell(text) == text


def test_the_letter_or_digit_shortcut_agrees_with_the_formula_pattern() -> None:
    """is_formula_like skips its pattern when a text starts with a letter or digit: no such
    character, anywhere in Unicode, can start a match of the pattern."""
    starts = [chr(c) for c in range(0x110000) if chr(c).isalnum()]
    assert not [c for c in starts if output._FORMULA.match(c + "=1")]
    assert not output.is_formula_like("a=1") and output.is_formula_like("\u3000=1")


def test_output_writers_for_any_rows():
    frame = pd.DataFrame({"kind": ["b_x", "a", "b_x"], "n": [1, 2, pd.NA]}).astype({"n": "Int64"})
    assert output.plain_records(frame, ["n"]) == [{"n": 1}, {"n": 2}, {"n": None}]
    assert type(output.plain_records(frame, ["n"])[0]["n"]) is int  # not a numpy scalar
    blocks = output.sections(frame, "kind", ["a", "c", "b_x"], lambda k, g: [f"  {len(g)} {k}"])
    assert blocks == [["A (1)", "  1 a"], ["B X (2)", "  2 b_x"]]
    assert output.listing(blocks) == "A (1)\n  1 a\n\nB X (2)\n  2 b_x"
    assert output.listing([], empty="Nothing.") == "Nothing."
    assert output.csv_text(["a", "b"], [{"a": None, "b": "+1"}]) == "a,b\n,'+1\n"


def test_records_are_the_json_fields_with_plain_values(findings):
    recs = output.records(findings)
    assert len(recs) == len(findings)
    for rec, row in zip(recs, findings.to_dict("records"), strict=True):
        assert list(rec) == list(output.JSON_FIELDS)
        assert rec["command"] == (list(row["command"]) if row["command"] else None)
        assert rec["compliance"] == controls_for(rec["check_id"])
        assert type(rec["muted"]) is bool
    lim = next(r for r in recs if r["email"] == "lim@acme.example")
    assert (lim["region"], lim["app"]) == (SEC, "shop")
    prov = {"source": "snapshot", "sha256": "ab" * 32}
    assert all(r[output.SOURCE_FIELD] is prov for r in output.records(findings, prov))
    assert json.loads(output.to_json(findings)) == recs


def test_csv_has_one_line_per_finding_with_the_command_as_one_shell_line(findings):
    rows = list(csv.DictReader(io.StringIO(output.to_csv(findings))))
    assert list(rows[0]) == list(output.JSON_FIELDS) and len(rows) == len(findings)
    for row, cmd in zip(rows, findings["command"], strict=True):
        assert row["command"] == (render(cmd) if cmd else "")
    prov = {"sha256": "ab" * 32, "collected_at": "2026-10-01", "collected_by": "ops@acme.example",
            "tool_version": "1", "verified": False}  # fmt: skip
    with_source = list(csv.DictReader(io.StringIO(output.to_csv(findings, prov))))
    assert {r["source_verified"] for r in with_source} == {output.UNVERIFIED}
    assert {r["source_sha256"] for r in with_source} == {"ab" * 32}


def test_table_lists_by_severity_with_commands_apart_and_muted_last(findings):
    text = output.to_table(findings)
    headings = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert headings == ["HIGH (1)", "MEDIUM (1)", f"INFO ({(findings['severity'] == 'info').sum()})",
                        "MUTED BY POLICY EXCEPTIONS (1)"]  # fmt: skip
    assert (
        f"      run: scalingo --region {SEC} --app shop collaborators-remove lim@acme.example"
        in (text.splitlines())
    )
    muted = text.split("MUTED BY POLICY EXCEPTIONS (1)\n")[1]
    assert muted.startswith("  [collaborator_without_2fa] osc-fr1: dev@agency.example ")
    # each finding about an app names its region first (``shop`` is in two regions);
    # account-level findings (no region) have none
    for r in findings[findings["severity"] != "info"].itertuples():
        assert f"[{r.check_id}] {r.region}: {r.message}" in text
    for r in findings[findings["region"].isna()].itertuples():
        assert f"[{r.check_id}] {r.message}" in text
    assert "accepted until 2027-01-01: key on order (id " in muted
    for fid in findings["finding_id"]:
        assert text.count(f"(id {fid})") == 1
    assert output.to_table(findings.iloc[0:0]) == "No findings."


def test_severity_counts_and_summary_line_count_open_findings_only(findings):
    counts = output.severity_counts(findings)
    assert counts == {"high": 1, "medium": 1, "low": 0,
                      "info": int((findings["severity"] == "info").sum())}  # fmt: skip
    info = SimpleNamespace(kind="snapshot", location="snaps/2026-10-01")
    audit = SimpleNamespace(data=SimpleNamespace(info=info), as_of=dt.date(2026, 10, 1))
    line = output.summary_line(findings, audit)
    assert line.startswith(f"1 high, 1 medium, 0 low, {counts['info']} info; 1 muted")
    assert line.endswith(" — snapshot snaps/2026-10-01, as of 2026-10-01")
    assert "baseline" not in line


def test_provenance_line_names_the_data_and_says_unverified():
    prov = {"source": "snapshot", "location": "s", "collected_at": "2026-10-01T12:00:00+00:00",
            "collected_by": "ops@acme.example", "sha256": None, "tool_version": "9.9"}  # fmt: skip
    assert output.provenance_line(prov) == (
        "Source: snapshot s, collected 2026-10-01T12:00:00+00:00 by ops@acme.example; "
        "sha256 unknown; scalingo-audit 9.9"
    )
    assert output.provenance_line({**prov, "verified": False}).endswith(
        "; UNVERIFIED: raw files not checked against the manifest (--no-verify)"
    )
    assert [output.verified_word(v) for v in (True, False, None)] == [
        "verified", output.UNVERIFIED, "n/a"
    ]  # fmt: skip


def test_terminal_text_drops_controls_and_bidi_overrides_but_keeps_layout():
    assert output.terminal_text("a\x1b[31mb\x00c\rd\u202ee\tf\ng") == "a[31mbcde\tf\ng"


def test_a_carriage_return_quotes_its_whole_row():
    buf = io.StringIO()
    output.write_csv_rows(csv.writer(buf, lineterminator="\n"), buf, [["a", "b\rc"], ["d", "e"]])
    assert buf.getvalue() == '"a","b\rc"\nd,e\n'
