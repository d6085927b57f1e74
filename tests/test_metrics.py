"""check --metrics: Prometheus text format, parsed with prometheus_client's parser; its counts
are check's own."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from scalingo_audit.checks import CHECKS
from scalingo_audit.snapshot import write

from .orgs import app, collab, snapshot
from .test_cli import _one_line_error, run


def _samples(path: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        assert family.type == "gauge", family.name
        out[family.name] = family.samples
    return out


def _by(samples: list, *keys: str) -> dict:
    return {tuple(s.labels[k] for k in keys): s.value for s in samples}


def test_metrics_parse_and_equal_checks_counts(tmp_path):
    prom = tmp_path / "scalingo.prom"
    r = run("check", "demo", "--format", "json", "--metrics", str(prom), "--fail-on", "high")
    assert r.returncode == 1  # metrics are written even when the run fails on findings
    findings = json.loads(r.stdout)
    m = _samples(prom)
    open_ = Counter(f["severity"] for f in findings if not f["muted"])
    muted = Counter(f["severity"] for f in findings if f["muted"])
    sev = ("high", "medium", "low", "info")
    assert _by(m["scalingo_audit_findings_open"], "severity") == {(s,): open_[s] for s in sev}
    assert _by(m["scalingo_audit_findings_muted"], "severity") == {(s,): muted[s] for s in sev}
    per_check = _by(m["scalingo_audit_check_findings_open"], "check_id", "severity")
    expected = Counter((f["check_id"], f["severity"]) for f in findings if not f["muted"])
    assert {k: v for k, v in per_check.items() if v} == dict(expected)
    assert {c for c, _ in per_check} == set(CHECKS)  # every check has a series
    (gaps,) = m["scalingo_audit_coverage_gaps"]
    assert gaps.value == 0 and gaps.labels == {"account": "ops@acme.example"}
    (collected,) = m["scalingo_audit_collected_timestamp_seconds"]
    assert collected.value == 1793520000  # 2026-11-01T08:00:00Z, the demo's collection time
    (success,) = m["scalingo_audit_last_success_timestamp_seconds"]
    assert success.value > collected.value - 10**9
    assert "scalingo_audit_findings_new" not in m  # no baseline
    assert [p.name for p in tmp_path.iterdir()] == ["scalingo.prom"]  # no temporary left


def test_metrics_with_a_baseline_gaps_and_hostile_labels(tmp_path):
    before = write(snapshot([app("a")], [collab("a", "x@acme.example", tfa=False)]), tmp_path / "b")
    s = snapshot(
        [app("a"), app("c")],
        [collab("a", "x@acme.example", tfa=True), collab("c", "n@acme.example", tfa=False)],
    )
    s.collected_by = {"email": 'ops"\\\n}@acme.example', "user_id": "us-ops"}
    s.gaps = [{"region": "osc-fr1", "app": "c", "request": "GET /x", "status": 403, "error": "no"}]
    after = write(s, tmp_path / "a")
    prom = tmp_path / "m.prom"
    r = run("check", str(after), "--baseline", str(before), "--metrics", str(prom))
    assert r.returncode == 0, r.stderr
    m = _samples(prom)
    assert m["scalingo_audit_findings_new"][0].value == 1
    assert m["scalingo_audit_findings_fixed"][0].value == 1
    assert m["scalingo_audit_coverage_gaps"][0].value == 1
    assert m["scalingo_audit_findings_open"][0].labels["account"] == 'ops"\\\n}@acme.example'


def test_no_metrics_on_a_failed_run(tmp_path):
    prom = tmp_path / "m.prom"
    prom.write_text("# previous run\n")
    _one_line_error(run("check", str(tmp_path / "missing"), "--metrics", str(prom)))
    assert prom.read_text() == "# previous run\n"  # the success timestamp stays the last one
