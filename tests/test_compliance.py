"""The compliance mapping: every check mapped, every control real, ids in every output."""

from __future__ import annotations

import csv
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

from scalingo_audit import compliance
from scalingo_audit.checks import CHECKS, run_checks
from scalingo_audit.policy import Policy, PolicyException, load_policy
from scalingo_audit.sources import load

from .orgs import app, collab, org, snapshot
from .test_cli import run

ROOT = Path(__file__).resolve().parent.parent


def test_every_check_maps_to_controls_that_exist_with_source_and_reason():
    m = compliance.mapping()
    for check_id in CHECKS:
        rows = m[m["check_id"] == check_id]
        assert len(rows) >= 1, f"{check_id} maps to no control"
        # ISO 27001 and SOC 2 cover every check; CIS every check but rotation
        assert {"iso27001", "soc2"} <= set(rows["framework"]), check_id
    assert set(m["framework"]) == set(compliance.FRAMEWORKS)
    for r in m.to_dict("records"):
        listed = compliance.framework_controls(r["framework"])
        assert r["control"] in listed, f"{r['check_id']}: {r['framework']} {r['control']}"
        assert r["title"] == listed[r["control"]]
        assert r["source"].strip() and "\n" not in r["source"]
        assert r["reason"].strip() and "\n" not in r["reason"] and len(r["reason"]) < 120
    # the shipped control lists are complete where claimed
    assert len(compliance.framework_controls("iso27001")) == 93
    soc2 = compliance.framework_controls("soc2")
    assert {f"CC6.{i}" for i in range(1, 9)} <= set(soc2)
    cis = compliance.framework_controls("cis")
    assert {f"5.{i}" for i in range(1, 7)} | {f"6.{i}" for i in range(1, 9)} <= set(cis)
    assert {str(i) for i in range(1, 19)} <= set(cis)


def test_checks_framework_lists_the_control_ids():
    r = run("checks", "--framework", "iso27001")
    assert r.returncode == 0, r.stderr
    lines = {ln.split()[0]: ln for ln in r.stdout.splitlines() if ln and not ln.startswith(" ")}
    for check_id in CHECKS:
        ids = compliance.controls_for(check_id)["iso27001"]
        assert lines[check_id].endswith(", ".join(ids)), lines[check_id]
    assert "8.5 Secure authentication:" in r.stdout
    bad = run("checks", "--framework", "nist")
    assert bad.returncode == 2 and "invalid choice: 'nist'" in bad.stderr


def test_json_and_csv_carry_the_control_ids(tmp_path):
    findings = json.loads(run("check", "demo", "--format", "json").stdout)
    for f in findings:
        assert f["compliance"] == compliance.controls_for(f["check_id"])
    assert findings[0]["compliance"]["iso27001"]
    rows = list(csv.DictReader(io.StringIO(run("check", "demo", "--format", "csv").stdout)))
    two_fa = next(r for r in rows if r["check_id"] == "collaborator_without_2fa")
    assert two_fa["compliance"] == "iso27001: 8.5, 5.17; soc2: CC6.1; cis: 6.5"


def test_control_status_open_muted_clean_and_not_evaluated():
    policy = Policy(
        exceptions=(
            PolicyException(
                check_id="pending_invitation",
                reason="onboarding",
                expires=__import__("datetime").date(2099, 1, 1),
                email="p@acme.example",
            ),
        )
    )
    data = org(
        [app("a")],
        [
            collab("a", "x@acme.example", tfa=False),
            collab("a", "p@acme.example", status="pending", limited=True),
        ],
        policy=policy,
    )
    status = compliance.control_status(run_checks(data), "iso27001").set_index("control")
    assert status.loc["8.5", "status"] == "open findings"
    assert status.loc["8.5", "open"] == 1
    assert "collaborator_without_2fa" in status.loc["8.5", "checks"]
    # 5.16: pending_invitation (muted), deleted_account_collaborator and owner checks (clean)
    assert status.loc["5.16", ["status", "open", "muted"]].tolist() == ["muted findings only", 0, 1]
    # 8.2 evaluated by checks with no finding here
    assert status.loc["8.2", "status"] == "no finding"
    # without events the activity checks could not be evaluated: 5.18 still has token and
    # invitation checks, so it is evaluated; a control of activity checks only is not
    assert "inactive_collaborator" in status.loc["5.18", "not_evaluated"]
    only = compliance.control_status(
        run_checks(data, only=["inactive_collaborator"]), "iso27001",
        checks=["inactive_collaborator"],
    )  # fmt: skip
    assert set(only.loc[only["control"] == "5.18", "status"]) == {"not evaluated"}
    assert set(only.loc[only["control"] == "8.5", "status"]) == {"not evaluated"}
    # every mapped control is listed, sorted 5.x before 8.x and 5.2 before 5.15
    every = compliance.control_status(run_checks(data))
    assert (
        set(zip(every["framework"], every["control"], strict=True))
        == set(zip(compliance.mapping()["framework"], compliance.mapping()["control"], strict=True))
        - _unregistered_only()
    )


def _unregistered_only() -> set[tuple[str, str]]:
    """Controls mapped only by checks this version lacks (mapped ahead of them)."""
    m = compliance.mapping()
    known = m[m["check_id"].isin(CHECKS)]
    return set(zip(m["framework"], m["control"], strict=True)) - set(
        zip(known["framework"], known["control"], strict=True)
    )


class _Rows(HTMLParser):
    """Every table row of a page, as a list of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_report_compliance_page_lists_every_mapped_control_with_its_status(tmp_path):
    from scalingo_audit.report import build_report
    from scalingo_audit.snapshot import write

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    shutil.copy(ROOT / "notebooks" / "08_compliance.ipynb", nbs)
    snap = write(
        snapshot(
            [app("a")],
            [
                collab("a", "x@acme.example", tfa=False),
                collab("a", "p@acme.example", status="pending", limited=True),
            ],
        ),
        tmp_path / "snap",
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "exceptions:\n  - {check_id: pending_invitation, email: p@acme.example, "
        "reason: onboarding, expires: 2099-01-01}\n"
    )
    index = build_report(
        str(snap),
        policy=str(policy),
        out_dir=tmp_path / "r",
        notebooks_dir=nbs,
        progress=False,
        per_notebook=True,
    )
    parser = _Rows()
    parser.feed((index.parent / "08_compliance.html").read_text(encoding="utf-8"))
    data = load(str(snap), policy=load_policy(str(policy)))
    expected = compliance.control_status(run_checks(data))
    seen: dict[tuple[str, str], str] = {}
    tables = -1
    for row in parser.rows:  # one table per framework, in FRAMEWORKS order
        if row[:3] == ["Control", "Title", "Status"]:
            tables += 1
        elif tables >= 0 and len(row) == 7:
            seen[(compliance.FRAMEWORKS[tables], row[0])] = row[2]
    assert tables == len(compliance.FRAMEWORKS) - 1
    assert seen == {
        (r["framework"], r["control"]): r["status"] for r in expected.to_dict("records")
    }
    assert {"open findings", "muted findings only", "no finding"} <= set(seen.values())
