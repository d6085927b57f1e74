"""`diff`, `review`, `verify` and `--pseudonymise` as a user runs them: the command (in this
process, tests/clirun.py; once a real process each), exit codes, files."""

from __future__ import annotations

import csv
import json

from scalingo_audit.demo.history import demo_history

from .clirun import process, run


def test_diff_between_two_demo_snapshots(tmp_path):
    old, _middle, new = demo_history(tmp_path / "history")[-3:]
    r = process("diff", str(old), str(new), "--format", "json")  # one real process per command
    assert r.returncode == 0, r.stderr
    changes = json.loads(r.stdout)
    kinds = {c["change"] for c in changes}
    assert {"access_granted", "access_revoked", "finding_new", "finding_fixed"} <= kinds
    table = run("diff", str(old), str(new))
    assert table.returncode == 0 and "ACCESS GRANTED" in table.stdout.upper()
    bad = run("diff", str(old), str(tmp_path / "missing"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_review_sheet_then_decisions_print_commands_and_change_nothing(tmp_path):
    r = process("review", "demo", "--out", str(tmp_path / "review.csv"))  # a real one, once
    assert r.returncode == 0, r.stderr
    with (tmp_path / "review.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    target = next(x for x in rows if x["role"] == "collaborator" and x["status"] == "accepted")
    target.update(decision="downgrade", reviewer="auditor@acme.example", date="2026-11-27")
    with (tmp_path / "filled.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    applied = run("review", "demo", "--apply-decisions", str(tmp_path / "filled.csv"))
    assert applied.returncode == 0, applied.stderr
    (line,) = applied.stdout.splitlines()
    assert "collaborators-update --limited=true" in line and target["person"] in line
    assert "Nothing was changed on Scalingo" in applied.stderr
    assert list((tmp_path / "filled.csv.decisions").glob("*.json"))
    no_source = run("review", "--apply-decisions", str(tmp_path / "filled.csv"))
    assert no_source.returncode == 2 and "name the SOURCE" in no_source.stderr
    neither = run("review", "demo")
    assert (
        neither.returncode == 2 and "one of the arguments --out --apply-decisions" in neither.stderr
    )


def test_verify_exit_codes(tmp_path):
    snap = tmp_path / "snap"
    assert run("demo", "--out", str(snap)).returncode == 0
    ok = run("verify", str(snap))
    assert ok.returncode == 0 and "OK" in ok.stdout
    apps = snap / "raw" / "osc-fr1" / "apps.json"
    data = bytearray(apps.read_bytes())
    data[20] ^= 1
    apps.write_bytes(bytes(data))
    bad = run("verify", str(snap))
    assert bad.returncode == 1 and "raw/osc-fr1/apps.json: altered" in bad.stdout
    assert run("verify", str(tmp_path)).returncode == 2


def test_pseudonymised_check_leaves_no_demo_email(tmp_path):
    import os

    from scalingo_audit import load

    env = {**os.environ, "SCALINGO_AUDIT_PSEUDONYM_KEY": str(tmp_path / "key")}
    r = run("check", "demo", "--format", "json", "--pseudonymise", env=env)
    assert r.returncode == 0, r.stderr
    people = load("demo").people
    leaked = [e for e in people["email"] if e in r.stdout + r.stderr]
    assert leaked == []
    assert "@external.invalid" in r.stdout and "@internal.invalid" in r.stdout
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
