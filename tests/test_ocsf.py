"""ocsf: OCSF Detection Findings (validated with py-ocsf-models), through the CLI, on the
demo, a baseline and a hostile org."""

from __future__ import annotations

import json

from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from scalingo_audit.compliance import controls_for
from scalingo_audit.snapshot import write

from .hostile import APPS, write_hostile
from .orgs import app, collab, snapshot
from .test_cli import run


def _check(*args: str) -> str:
    r = run("check", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_ocsf_validates_and_maps_every_field(demo_findings):
    events = json.loads(_check("demo", "--format", "ocsf"))
    assert len(events) == len(demo_findings)
    apps_ids = {}
    for ev, f in zip(events, demo_findings, strict=True):
        model = DetectionFinding.model_validate(ev)  # raises on any invalid field
        assert model.class_uid == 2004 and ev["category_uid"] == 2
        assert ev["finding_info"]["uid"] == f["finding_id"] == ev["metadata"]["uid"]
        assert ev["metadata"]["event_code"] == f["check_id"]
        assert ev["finding_info"]["title"] == f["title"]
        assert ev["message"] == f["message"]
        assert ev["remediation"]["desc"] == f["remediation"]
        assert ev["severity_id"] == {"high": 4, "medium": 3, "low": 2, "info": 1}[f["severity"]]
        assert ev["status_id"] == (3 if f["muted"] else 1)
        assert ev["type_uid"] == 200401
        assert ev["unmapped"]["compliance"] == controls_for(f["check_id"]) == f["compliance"]
        res = ev["resources"]
        assert len(res) == 1
        if f["app"]:
            assert res[0]["type"] == "scalingo_app" and res[0]["name"] == f["app"]
            assert res[0]["uid"].startswith("ap-") and res[0]["region"] == f["region"]
            apps_ids[f["app"]] = res[0]["uid"]
        elif f["token_name"]:
            assert res[0]["type"] == "scalingo_api_token" and res[0]["name"] == f["token_name"]
        else:
            assert res[0]["type"] == "scalingo_account"
    muted = [e for e in events if e["status_id"] == 3]
    assert len(muted) == 1 and "agency contract" in muted[0]["status_detail"]
    assert len(apps_ids) > 10


def test_ocsf_marks_fixed_findings_resolved(tmp_path):
    pending = collab("a", "p@acme.example", status="pending", limited=True)
    before = write(
        snapshot([app("a")], [collab("a", "x@acme.example", tfa=False), pending]), tmp_path / "b"
    )
    after = write(
        snapshot(
            [app("a")],
            [collab("a", "x@acme.example", tfa=True), pending, collab("a", "y@acme.example",
                                                                      tfa=False)],
        ),
        tmp_path / "a",
    )  # fmt: skip
    events = json.loads(_check(str(after), "--baseline", str(before), "--format", "ocsf"))
    by_status = {
        e["unmapped"]["baseline_status"]: (e["status_id"], e["activity_id"], e["type_uid"])
        for e in events
        if e["severity_id"] != 1  # "could not be evaluated" (no events) findings
    }
    assert by_status == {
        "fixed": (4, 3, 200403),
        "new": (1, 1, 200401),
        "existing": (1, 2, 200402),
    }
    for e in events:
        DetectionFinding.model_validate(e)


def test_hostile_names_stay_text_in_ocsf(tmp_path):
    snap, policy = write_hostile(tmp_path / "h")
    events = json.loads(_check(str(snap), "--policy", str(policy), "--format", "ocsf"))
    resources = [r["name"] for e in events for r in e["resources"]]
    for e in events:
        DetectionFinding.model_validate(e)
    for name in APPS.values():  # kept as data, exactly
        assert name in resources, name


def test_ocsf_severity_ids_follow_the_one_severity_order() -> None:
    from scalingo_audit import ocsf

    # OCSF: 1 Informational, 2 Low, 3 Medium, 4 High
    assert ocsf._SEVERITY == {"high": 4, "medium": 3, "low": 2, "info": 1}
