"""review --follow-up: decisions recorded by --apply-decisions against newer snapshots."""

from __future__ import annotations

import json
from pathlib import Path

from scalingo_audit.snapshot import write

from .orgs import app, collab, snapshot
from .test_cli import _one_line_error, run
from .test_review import fill_csv

KEEP, DOWN, REV = "keep@acme.example", "down@acme.example", "rev@acme.example"


def _snap(folder: Path, day: str, members: list[dict], *, apps=None, gaps=(), by=None) -> Path:
    s = snapshot(apps or [app("shop"), app("blog")], members)
    s.collected_at = f"{day}T12:00:00+00:00"
    s.gaps = list(gaps)
    if by:
        s.collected_by = {"email": by, "user_id": "us-x"}
    return write(s, folder / day)


def _reviewed(tmp_path: Path) -> tuple[Path, Path]:
    """A snapshot, its review sheet with keep / downgrade / revoke, and the recorded
    decisions (returned: the snapshot and the decisions record)."""
    snaps = tmp_path / "snapshots"
    first = _snap(
        snaps,
        "2026-10-01",
        [collab("shop", KEEP), collab("shop", DOWN), collab("shop", REV), collab("blog", REV)],
    )
    sheet = tmp_path / "review.csv"
    assert run("review", str(first), "--out", str(sheet)).returncode == 0
    fill_csv(sheet, {(KEEP, "shop"): "keep", (DOWN, "shop"): "downgrade", (REV, "shop"): "revoke"})
    r = run("review", str(first), "--apply-decisions", str(sheet))
    assert r.returncode == 0, r.stderr
    (record,) = (snaps / "2026-10-01.decisions").glob("*.json")
    return first, record


def test_only_the_revocation_happened_then_the_downgrade_too(tmp_path):
    first, record = _reviewed(tmp_path)
    snaps = first.parent
    later = _snap(snaps, "2026-10-15", [collab("shop", KEEP), collab("shop", DOWN),
                                         collab("blog", REV)])  # fmt: skip
    r = run("review", "--follow-up", str(record), str(later))
    assert r.returncode == 1, r.stderr
    assert "0 pending" not in r.stdout and "1 pending, 0 unverified, 1 applied, 0 moot" in r.stdout
    assert f"revoke {REV} on shop (osc-fr1): {REV} is no longer on shop" in r.stdout
    pending = r.stdout.split("PENDING (1)")[1].split("APPLIED")[0]
    assert f"downgrade {DOWN} on shop" in pending and "still a full Collaborator" in pending
    assert (
        f"scalingo --region osc-fr1 --app shop collaborators-update --limited=true {DOWN}"
        in pending
    )
    assert KEEP not in r.stdout  # keep decisions are not followed up
    # the decisions directory works too (its latest record)
    assert run("review", "--follow-up", str(record.parent), str(later)).returncode == 1
    done = _snap(snaps, "2026-10-20", [collab("shop", KEEP), collab("shop", DOWN, limited=True)])
    r = run("review", "--follow-up", str(record), str(done))
    assert r.returncode == 0, r.stdout
    assert "0 pending, 0 unverified, 2 applied, 0 moot" in r.stdout
    assert "is a Limited Collaborator on shop now" in r.stdout


def test_moot_and_unverified(tmp_path):
    first, record = _reviewed(tmp_path)
    gone_app = _snap(first.parent, "2026-10-15", [collab("blog", REV)], apps=[app("blog")])
    r = run("review", "--follow-up", str(record), str(gone_app))
    assert r.returncode == 0, r.stdout
    assert "0 pending, 0 unverified, 0 applied, 2 moot" in r.stdout
    assert "the app shop (osc-fr1) is gone" in r.stdout
    deleted = collab("shop", DOWN, status="user account deleted")
    gone_person = _snap(first.parent, "2026-10-16", [deleted])
    r = run("review", "--follow-up", str(record), str(gone_person))
    assert f"the account of {DOWN} was deleted" in r.stdout
    assert f"{REV} is no longer on shop" in r.stdout and r.returncode == 0
    gap = {"region": "osc-fr1", "app": "shop", "request": "GET /x", "status": 403, "error": "no"}
    unread = _snap(first.parent, "2026-10-17", [collab("shop", REV)], gaps=[gap])
    r = run("review", "--follow-up", str(record), str(unread))
    assert r.returncode == 1
    assert "0 pending, 2 unverified" in r.stdout and "could not be read" in r.stdout


def test_bad_follow_ups_exit_2(tmp_path):
    first, record = _reviewed(tmp_path)
    other = _snap(first.parent, "2026-10-15", [collab("shop", KEEP)], by="else@acme.example")
    assert "same account" in _one_line_error(run("review", "--follow-up", str(record), str(other)))
    older = _snap(tmp_path / "old", "2026-09-01", [collab("shop", KEEP)])
    assert "newer snapshot" in _one_line_error(
        run("review", "--follow-up", str(record), str(older))
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something"}))
    assert "not a decisions record" in _one_line_error(
        run("review", "--follow-up", str(bad), str(first))
    )
    bad.write_text("{nope")
    assert "bad.json: not a decisions record" in _one_line_error(
        run("review", "--follow-up", str(bad), str(first))
    )
    body = json.loads(record.read_text())
    body["decisions"][0]["person"] = 7
    bad.write_text(json.dumps(body))
    assert "field 'person'" in _one_line_error(run("review", "--follow-up", str(bad), str(first)))
    assert "needs the newer SNAPSHOT" in _one_line_error(run("review", "--follow-up", str(record)))


def test_report_index_shows_the_latest_reviews_follow_through(tmp_path):
    from scalingo_audit.notebook import open_audit
    from scalingo_audit.report import render_index

    first, _ = _reviewed(tmp_path)
    later = _snap(first.parent, "2026-10-15", [collab("shop", KEEP), collab("shop", DOWN)])
    page = render_index(open_audit(str(later)), [])
    assert "<h2>Access review follow-through</h2>" in page
    assert '<span data-follow="pending">1 pending</span>' in page
    assert '<span data-follow="applied">1 applied</span>' in page
    assert (
        f"<code>scalingo --region osc-fr1 --app shop collaborators-update --limited=true {DOWN}"
        "</code>" in page
    )
    # the reviewed snapshot itself, another account's snapshot, or no review: no section
    assert "follow-through" not in render_index(open_audit(str(first)), [])
    other = _snap(tmp_path / "elsewhere", "2026-10-15", [collab("shop", KEEP)])
    assert "follow-through" not in render_index(open_audit(str(other)), [])
    stranger = _snap(first.parent, "2026-10-16", [collab("shop", KEEP)], by="else@acme.example")
    assert "follow-through" not in render_index(open_audit(str(stranger)), [])
    # all carried out
    done = _snap(
        first.parent, "2026-10-20", [collab("shop", KEEP), collab("shop", DOWN, limited=True)]
    )
    page = render_index(open_audit(str(done)), [])
    assert '<span data-follow="pending">0 pending</span>' in page
    assert "Every downgrade and revocation of that review is carried out" in page
