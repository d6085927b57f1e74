"""junit: JUnit XML (parsed with junitparser), through the CLI, on the demo, a baseline, a
hostile org and control characters."""

from __future__ import annotations

import json

from junitparser import Failure as JFailure
from junitparser import JUnitXml, Skipped

from scalingo_audit.checks import CHECKS
from scalingo_audit.snapshot import write

from .hostile import APPS, TOKENS, write_hostile
from .orgs import app, collab, snapshot, token
from .test_cli import run


def _check(*args: str) -> str:
    r = run("check", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_junit_parses_and_counts_one_failure_per_unmuted_finding(demo_findings, tmp_path):
    out = tmp_path / "junit.xml"
    assert _check("demo", "--format", "junit", "--output-file", str(out)) == ""
    xml = JUnitXml.fromfile(str(out))
    failures = skipped = passed = 0
    suites = {}
    for suite in xml:
        suites[suite.name] = suite
        for case in suite:
            kinds = {type(r) for r in case.result}
            failures += JFailure in kinds
            skipped += Skipped in kinds
            passed += not kinds
    assert not any("evaluated" in f["message"] for f in demo_findings if f["severity"] == "info")
    assert failures == sum(not f["muted"] for f in demo_findings)
    assert skipped == sum(f["muted"] for f in demo_findings) == 1
    assert set(suites) == set(CHECKS)
    assert xml.failures == failures and xml.tests == failures + skipped + passed


def test_junit_passing_cases_for_clean_checks_and_fixed_findings(tmp_path):
    clean = write(
        snapshot([app("a")], [collab("a", "x@acme.example", tfa=True)]), tmp_path / "clean"
    )
    xml = JUnitXml.fromstring(_check(str(clean), "--format", "junit").encode())
    by_name = {s.name: s for s in xml}
    case = next(iter(by_name["collaborator_without_2fa"]))
    assert case.name == "all audited scopes" and case.is_passed
    # a baseline's fixed finding is a passing case named after its scope
    before = write(snapshot([app("a")], [collab("a", "x@acme.example", tfa=False)]), tmp_path / "b")
    xml = JUnitXml.fromstring(
        _check(str(clean), "--baseline", str(before), "--format", "junit").encode()
    )
    cases = list({s.name: s for s in xml}["collaborator_without_2fa"])
    assert [(c.name, c.is_passed) for c in cases] == [
        ("all audited scopes", True),
        ("osc-fr1/a: x@acme.example", True),
    ]


def test_hostile_names_stay_text_in_junit(tmp_path):
    snap, policy = write_hostile(tmp_path / "h")
    text = _check(str(snap), "--policy", str(policy), "--format", "junit")
    xml = JUnitXml.fromstring(text.encode())
    names = [c.name for s in xml for c in s]
    assert "<script" not in text  # escaped in the XML text
    for name in APPS.values():  # parsed back exactly
        assert any(n.startswith(f"osc-fr1/{name}: ") for n in names), name
    for name in TOKENS.values():
        assert any(n.startswith(f"token {name} (") for n in names), name


def test_junit_skips_checks_that_could_not_be_evaluated(tmp_path):
    # no events, no policy: activity and policy-dependent checks could not be evaluated
    snap = write(snapshot([app("a")], [collab("a", "x@acme.example", tfa=False)]), tmp_path / "s")
    findings = json.loads(_check(str(snap), "--format", "json"))
    notices = [f for f in findings if f["severity"] == "info"]
    assert len(notices) >= 4 and all("evaluated" in f["message"] for f in notices)
    xml = JUnitXml.fromstring(_check(str(snap), "--format", "junit").encode())
    skipped = {s.name: [c for c in s if not c.is_passed and c.is_skipped] for s in xml}
    assert {f["check_id"] for f in notices} == {k for k, v in skipped.items() if v}
    failed = [(s.name, c.name) for s in xml for c in s if not c.is_passed and not c.is_skipped]
    assert failed == [("collaborator_without_2fa", "osc-fr1/a: x@acme.example")]


def test_control_characters_do_not_break_the_xml(tmp_path):
    name = "ctl-\x1b[31m-\x00-\x07"
    s = snapshot(
        [app(name)],
        [collab(name, "x@acme.example", tfa=False)],
        [token("tok\x0bname", 800, None)],
    )
    snap = write(s, tmp_path / "ctl")
    xml = JUnitXml.fromstring(_check(str(snap), "--format", "junit").encode())
    names = [c.name for s in xml for c in s]
    assert "osc-fr1/ctl-\ufffd[31m-\ufffd-\ufffd: x@acme.example" in names
    assert any(n.startswith("token tok\ufffdname") for n in names)
