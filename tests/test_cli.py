"""The scalingo-audit command, as a user runs it: ``cli.main`` in this process (tests/clirun.py),
a few tests in a real ``python -m scalingo_audit`` process (test_packaging.py and test_wheel.py
run the installed command too)."""

from __future__ import annotations

import json
import subprocess

import pytest

from scalingo_audit.output import JSON_FIELDS

from .clirun import process, run
from .orgs import app, collab, reseal, snapshot
from .test_checks import CONTRACT


def test_check_demo_json_lists_findings_with_contract_fields():
    r = run("check", "demo", "--format", "json")
    assert r.returncode == 0, r.stderr
    findings = json.loads(r.stdout)
    assert len(findings) > 50
    for f in findings:
        assert set(JSON_FIELDS) <= set(f)
        assert f["severity"] in ("high", "medium", "low", "info")
    muted = [f for f in findings if f["muted"]]
    assert [(f["check_id"], f["app"], f["exception_reason"] is not None) for f in muted] == [
        ("external_full_collaborator", "shop-api", True)
    ]
    tokens = [f for f in findings if f["token_name"]]
    assert all(f["app"] is None for f in tokens)
    assert "expired on 2026-06-30 and mutes nothing" in r.stderr


def test_fail_on_thresholds(tmp_path):
    assert run("check", "demo", "--fail-on", "high").returncode == 1
    # an organisation whose only finding is low: --fail-on medium passes, low fails
    s = snapshot([app("a")], [collab("a", "p@acme.example", status="pending", limited=True)])
    from scalingo_audit.snapshot import write

    snap = write(s, tmp_path / "snap")
    assert run("check", str(snap), "--fail-on", "medium").returncode == 0
    r = run("check", str(snap), "--fail-on", "low")
    assert r.returncode == 1
    assert "pending_invitation" in r.stdout


def test_muted_findings_do_not_fail(tmp_path):
    s = snapshot([app("a")], [collab("a", "p@acme.example", status="pending", limited=True)])
    from scalingo_audit.snapshot import write

    snap = write(s, tmp_path / "snap")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "exceptions:\n  - {check_id: pending_invitation, email: P@acme.example, "
        "reason: onboarding, expires: 2026-12-31}\n"
    )
    r = run("check", str(snap), "--policy", str(policy), "--fail-on", "low")
    assert r.returncode == 0, r.stdout
    assert "MUTED BY POLICY EXCEPTIONS (1)" in r.stdout
    later = run(
        "check", str(snap), "--policy", str(policy), "--as-of", "2027-01-01", "--fail-on", "low"
    )
    assert later.returncode == 1
    assert "expired on 2026-12-31" in later.stderr


def test_csv_output_is_formula_safe(tmp_path):
    s = snapshot([app("=cmd")], [collab("=cmd", "+evil@x.example", status="pending")])
    from scalingo_audit.snapshot import write

    snap = write(s, tmp_path / "snap")
    r = run("check", str(snap), "--format", "csv")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("check_id,severity,title,region,app,email")
    assert ",'=cmd,'+evil@x.example," in lines[1]


def test_demo_command_writes_a_loadable_snapshot(tmp_path):
    r = process("demo", "--out", str(tmp_path / "acme"))  # one real process per command
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "acme" / "manifest.json").is_file()
    r2 = run("check", str(tmp_path / "acme"), "--format", "json")
    assert r2.returncode == 0
    assert len(json.loads(r2.stdout)) > 20
    again = process("demo", "--out", str(tmp_path / "acme"))  # status 2 through cli.console
    assert again.returncode == 2
    assert "already exists" in again.stderr and "Traceback" not in again.stderr


def _one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("scalingo-audit: error: ")
    return lines[0]


@pytest.mark.parametrize("command", ["check", "report"])
def test_bad_input_exits_2_with_one_clear_line(tmp_path, command):
    s = snapshot([app("a")], [collab("a", "d@acme.example")])
    from scalingo_audit.snapshot import write

    snap = write(s, tmp_path / "snap")
    collabs = snap / "raw/osc-fr1/collaborators.json"
    body = json.loads(collabs.read_text())
    body["collaborators"][0]["is_limited"] = "invited"  # not a boolean (a new status would be kept)
    collabs.write_text(json.dumps(body))
    reseal(snap)  # as if the API had returned it
    line = _one_line_error(
        run(command, str(snap), "--out", str(tmp_path / "r"))
        if command == "report"
        else run(command, str(snap))
    )
    assert "collaborators.json" in line and "field 'is_limited'" in line and "'invited'" in line
    assert not (tmp_path / "r").exists()

    malformed = tmp_path / "broken"
    malformed.mkdir()
    (malformed / "manifest.json").write_text("{not json")
    assert "manifest.json: malformed JSON" in _one_line_error(run(command, str(malformed)))

    policy = tmp_path / "policy.yaml"
    policy.write_text("exceptions:\n  - {check_id: nope, reason: r, expires: 2027-01-01}\n")
    assert "unknown check id 'nope'" in _one_line_error(
        run(command, "demo", "--policy", str(policy))
    )
    policy.write_text("colour: blue\n")
    assert "unknown key 'colour'" in _one_line_error(run(command, "demo", "--policy", str(policy)))
    assert "not a date" in _one_line_error(run(command, "demo", "--as-of", "tomorrow"))
    assert "no such file or directory" in _one_line_error(run(command, str(tmp_path / "missing")))


def test_usage_errors_and_help():
    r = run("check", "demo", "--format", "xml")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    h = run("--help")
    assert h.returncode == 0
    for word in ("check", "report", "demo", "checks", "exit status"):
        assert word in h.stdout
    hc = run("check", "--help")
    assert "--fail-on" in hc.stdout and "--policy" in hc.stdout and "SOURCE" in hc.stdout


def test_checks_lists_the_catalogue():
    r = process("checks")  # one real process per command
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) == len(CONTRACT)  # the catalogue
    assert r.stdout.splitlines()[0].startswith("collaborator_without_2fa")


def test_bad_export_exits_2_naming_the_missing_column(tmp_path):
    export = tmp_path / "collaborators.csv"
    export.write_text("App,Role,2FA\nshop-api,collaborator,yes\n")
    line = _one_line_error(run("check", str(export)))
    assert "collaborators.csv" in line and "email" in line
