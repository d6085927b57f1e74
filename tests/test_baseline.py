"""Baselines: new / existing / fixed findings, --fail-on-new, stable finding ids, outputs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from scalingo_audit.baseline import compare, load_baseline
from scalingo_audit.checks import run_checks
from scalingo_audit.snapshot import write
from scalingo_audit.sources import load

from .orgs import app, collab, snapshot
from .test_cli import _one_line_error, run


def _before_after(tmp_path: Path, *, new_high: bool = True) -> tuple[Path, Path]:
    """Before: x without 2FA (high, fixed later), p pending (low, stays).
    After: x turned 2FA on; a new app b with a pending invitation (low) and, with
    ``new_high``, z full Collaborator without 2FA (high)."""
    before = snapshot(
        [app("a")],
        [
            collab("a", "X@acme.example", tfa=False),
            collab("a", "p@acme.example", status="pending", limited=True),
        ],
    )
    after_collabs = [
        collab("a", "x@acme.example", tfa=True),
        collab("a", "p@acme.example", status="pending", limited=True),
        collab("b", "q@acme.example", status="pending", limited=True),
    ]
    if new_high:
        after_collabs.append(collab("b", "z@acme.example", tfa=False))
    after = snapshot([app("a"), app("b")], after_collabs)
    return write(before, tmp_path / "before"), write(after, tmp_path / "after")


def _json(*args: str) -> list[dict]:
    r = run("check", *args, "--format", "json")
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def test_baseline_marks_exactly_the_new_findings_and_lists_the_fixed(tmp_path):
    before, after = _before_after(tmp_path)
    old = _json(str(before))
    assert {f["baseline_status"] for f in old} == {None}
    assert all(len(f["finding_id"]) == 16 for f in old)
    for previous in (str(before), _save(tmp_path / "before.json", old)):
        got = _json(str(after), "--baseline", previous)
        status = {
            (f["check_id"], f["app"], f["email"]): f["baseline_status"]
            for f in got
            if f["severity"] != "info"  # "could not be evaluated" (no events): existing
        }
        assert status == {
            ("collaborator_without_2fa", "b", "z@acme.example"): "new",
            ("pending_invitation", "b", "q@acme.example"): "new",
            ("pending_invitation", "a", "p@acme.example"): "existing",
            ("collaborator_without_2fa", "a", "X@acme.example"): "fixed",
        }
        assert got[-1]["baseline_status"] == "fixed"  # fixed ones come after the open ones
    # the same finding has the same id across runs (and through the JSON file)
    ids_old = {f["email"]: f["finding_id"] for f in old}
    ids_new = {f["email"]: f["finding_id"] for f in _json(str(after))}
    assert ids_old["p@acme.example"] == ids_new["p@acme.example"]
    assert len(set(ids_new.values())) == len(ids_new)


def _save(path: Path, body: list[dict]) -> str:
    path.write_text(json.dumps(body))
    return str(path)


def test_fail_on_new_fails_only_on_a_new_finding_at_or_above_it(tmp_path):
    before, after = _before_after(tmp_path)
    r = run("check", str(after), "--baseline", str(before), "--fail-on-new", "high")
    assert r.returncode == 1, r.stderr
    assert "1 new" not in r.stdout and "2 new, 1 fixed since the baseline" in r.stdout
    assert "FIXED SINCE THE BASELINE (1)" in r.stdout
    assert "[collaborator_without_2fa] NEW osc-fr1: z@acme.example" in r.stdout
    # the high finding existed already: not new, so --fail-on-new high passes
    same = run("check", str(after), "--baseline", str(after), "--fail-on-new", "high")
    assert same.returncode == 0, same.stdout
    # only a new low: high passes, low fails
    calm = write(snapshot(*_calm()), tmp_path / "calm")
    assert (
        run("check", str(calm), "--baseline", str(before), "--fail-on-new", "high").returncode == 0
    )
    assert (
        run("check", str(calm), "--baseline", str(before), "--fail-on-new", "low").returncode == 1
    )
    # a muted new finding does not fail
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "exceptions:\n  - {check_id: collaborator_without_2fa, email: z@acme.example, "
        "reason: onboarding, expires: 2027-12-31}\n"
    )
    muted = run(
        "check", str(after), "--baseline", str(before), "--policy", str(policy),
        "--fail-on-new", "high",
    )  # fmt: skip
    assert muted.returncode == 0, muted.stdout


def _calm() -> tuple[list, list]:
    return [app("a")], [
        collab("a", "x@acme.example", tfa=True),
        collab("a", "p@acme.example", status="pending", limited=True),
        collab("a", "n@acme.example", status="pending", limited=True),
    ]


def test_finding_id_and_baseline_status_in_csv_and_table(tmp_path):
    before, after = _before_after(tmp_path)
    r = run("check", str(after), "--baseline", str(before), "--format", "csv")
    rows = [row for row in csv.DictReader(io.StringIO(r.stdout)) if row["severity"] != "info"]
    assert all(len(row["finding_id"]) == 16 for row in rows)
    assert sorted(row["baseline_status"] for row in rows) == ["existing", "fixed", "new", "new"]
    table = run("check", str(after), "--baseline", str(before)).stdout
    for row in rows:  # every finding's id in the table too, fixed ones included
        assert f"(id {row['finding_id']})" in table
    plain = run("check", str(after), "--format", "csv")
    assert {row["baseline_status"] for row in csv.DictReader(io.StringIO(plain.stdout))} == {""}


def test_output_file_is_written_atomically_for_every_format(tmp_path):
    before, _ = _before_after(tmp_path)
    for fmt in ("table", "json", "csv"):
        out = tmp_path / f"out.{fmt}"
        out.write_text("old content")
        r = run("check", str(before), "--format", fmt, "--output-file", str(out))
        assert r.returncode == 0, r.stderr
        assert r.stdout == ""
        assert out.read_text() != "old content" and "collaborator_without_2fa" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    line = _one_line_error(
        run("check", str(before), "--output-file", str(tmp_path / "missing" / "x.json"))
    )
    assert "missing" in line


def test_bad_baselines_exit_2_with_one_line(tmp_path):
    _, after = _before_after(tmp_path)
    assert "--fail-on-new needs --baseline" in _one_line_error(
        run("check", str(after), "--fail-on-new", "high")
    )
    bad = tmp_path / "bad.json"
    bad.write_text("[{not json")
    assert "bad.json: not valid JSON" in _one_line_error(
        run("check", str(after), "--baseline", str(bad))
    )
    bad.write_text(json.dumps([{"check_id": "x", "severity": "high"}]))
    assert "field 'finding_id'" in _one_line_error(run("check", str(after), "--baseline", str(bad)))
    bad.write_text(json.dumps([{"check_id": "x", "finding_id": "1", "severity": "<b>"}]))
    assert "unknown severity" in _one_line_error(run("check", str(after), "--baseline", str(bad)))
    assert _one_line_error(run("check", str(after), "--baseline", str(tmp_path / "nope")))


@pytest.mark.parametrize("empty", [True, False])
def test_compare_in_python(tmp_path, empty):
    before, after = _before_after(tmp_path)
    base = (
        load_baseline(str(before)) if not empty else load_baseline(_save(tmp_path / "e.json", []))
    )
    f = compare(run_checks(load(str(after))), base)
    new = f[(f["baseline_status"] == "new") & (f["severity"] != "info")]
    assert len(new) == (3 if empty else 2)


def test_unknown_format_and_missing_baseline_are_usage_errors():
    assert "invalid choice" in run("check", "demo", "--format", "sarif").stderr
    line = _one_line_error(run("check", "demo", "--baseline", "/nonexistent/x"))
    assert "/nonexistent/x" in line
