"""Verified evidence: every load checks the raw files against the manifest; --no-verify says
UNVERIFIED everywhere; verify --expect-sha256 pins a hash; raw files are regular files;
collect --since carries events only from a verified snapshot of the same account and API."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from scalingo_audit import snapshot
from scalingo_audit.collect import collect
from scalingo_audit.errors import InputError
from scalingo_audit.evidence import verify
from scalingo_audit.sources import load

from . import clirun
from .fakeapi import FakeScalingo, make_world
from .orgs import app, collab

TAMPERED = "raw/osc-fr1/collaborators.json"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return clirun.run(*args, env={**os.environ, **(env or {})})


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def small_snapshot():
    from .orgs import snapshot as org_snapshot

    return org_snapshot(
        [app("shop"), app("blog", owner="alice@acme.example")],
        [
            collab("shop", "carol@acme.example", tfa=True),
            collab("shop", "dave@agency.example", tfa=False),
            collab("blog", "erin@acme.example", limited=True),
        ],
    )


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    return snapshot.write(small_snapshot(), tmp_path / "snap")


def flip_one_byte(path: Path) -> None:
    """The attacker's edit: ``"tfa_status": false`` → ``"tfa_status": fals`` is too crude;
    one letter of a name changes, the size stays the same."""
    data = bytearray(path.read_bytes())
    at = data.index(b"dave")
    data[at] = ord("D")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["check", "--format", "json"],
        ["review", "--out", "REVIEW.xlsx"],
        ["report", "--out", "REPORT"],
        ["diff", "OTHER"],
    ],
)
def test_a_one_byte_edit_is_refused_naming_the_file(
    snap: Path, tmp_path: Path, command: list[str]
) -> None:
    other = snapshot.write(small_snapshot(), tmp_path / "other")
    flip_one_byte(snap / TAMPERED)
    args = [
        a.replace("REVIEW.xlsx", str(tmp_path / "r.xlsx")).replace("REPORT", str(tmp_path / "rep"))
        for a in command
    ]
    if command[0] == "diff":
        args = ["diff", str(other), str(snap)]
    else:
        args.insert(1, str(snap))
    line = one_line_error(run(*args))
    assert line.startswith("scalingo-audit: error: ")
    assert str(snap / TAMPERED) in line and "altered since collection" in line
    assert "--no-verify" in line
    assert not (tmp_path / "r.xlsx").exists() and not (tmp_path / "rep").exists()


def test_loading_refuses_a_changed_size_and_a_missing_hash(snap: Path) -> None:
    (snap / TAMPERED).write_bytes((snap / TAMPERED).read_bytes() + b" ")
    with pytest.raises(
        InputError, match=r"collaborators.json: altered since collection: \d+ bytes"
    ):
        load(snap)
    manifest = json.loads((snap / "manifest.json").read_text())
    for entry in manifest["files"]:
        entry.pop("sha256")
        entry.pop("size")
    (snap / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="records no sha256"):
        load(snap)


def test_with_no_verify_every_output_says_unverified(snap: Path, tmp_path: Path) -> None:
    flip_one_byte(snap / TAMPERED)
    r = run("check", str(snap), "--format", "json", "--no-verify")
    assert r.returncode == 0, r.stderr
    findings = json.loads(r.stdout)
    assert findings and all(f["source"]["verified"] is False for f in findings)
    assert "UNVERIFIED" in r.stderr
    assert any(f["email"] == "Dave@agency.example" for f in findings)  # the edit is used

    r = run("check", str(snap), "--format", "csv", "--no-verify")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and {row["source_verified"] for row in rows} == {"UNVERIFIED"}

    r = run("check", str(snap), "--no-verify")
    assert "UNVERIFIED" in r.stdout.splitlines()[-1]

    sheet = tmp_path / "review.xlsx"
    r = run("review", str(snap), "--out", str(sheet), "--no-verify")
    assert r.returncode == 0, r.stderr
    book = load_workbook(sheet)
    about = {k: v for k, v in book["About"].iter_rows(values_only=True)}
    assert about["evidence"] == "UNVERIFIED"
    cells = list(book["Review"].iter_rows(values_only=True))
    column = cells[0].index("source_verified")
    assert len(cells) > 1 and {r[column] for r in cells[1:]} == {"UNVERIFIED"}  # on the sheet too

    sheet = tmp_path / "review.csv"
    r = run("review", str(snap), "--out", str(sheet), "--no-verify")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
    assert rows and {row["source_verified"] for row in rows} == {"UNVERIFIED"}
    # such a sheet still applies (against the same unverified evidence)
    for row in rows:
        if row["person"] == "Dave@agency.example":  # the edited name
            row["decision"] = "revoke"
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = run("review", str(snap), "--apply-decisions", str(sheet), "--no-verify")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "scalingo --region osc-fr1 --app shop collaborators-remove Dave@agency.example"
    ]
    assert "UNVERIFIED" in r.stderr


def test_verified_outputs_say_so(snap: Path) -> None:
    r = run("check", str(snap), "--format", "json")
    assert {f["source"]["verified"] for f in json.loads(r.stdout)} == {True}
    r = run("check", str(snap), "--format", "csv")
    assert {row["source_verified"] for row in csv.DictReader(io.StringIO(r.stdout))} == {"verified"}
    assert "UNVERIFIED" not in run("check", str(snap)).stdout
    sheet = snap.with_name("review.csv")
    assert run("review", str(snap), "--out", str(sheet)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
    assert rows and {row["source_verified"] for row in rows} == {"verified"}


def test_every_report_page_says_unverified(snap: Path, tmp_path: Path) -> None:
    flip_one_byte(snap / TAMPERED)
    out = tmp_path / "report"
    r = clirun.run("report", str(snap), "--out", str(out), "--no-verify", "--pages")
    assert r.returncode == 0, r.stderr
    pages = sorted(out.glob("*.html"))
    assert len(pages) >= 6 and {out / "index.html", out / "report.html"} <= set(pages)
    for page in pages:
        assert "UNVERIFIED" in page.read_text(encoding="utf-8"), page.name
    assert (out / "review.csv").is_file()
    for data_file in sorted([*out.glob("findings*.csv"), out / "review.csv"]):  # shipped beside
        assert "UNVERIFIED" in data_file.read_text(encoding="utf-8"), data_file.name
    for data_file in sorted(out.glob("findings*.json")):
        body = json.loads(data_file.read_text(encoding="utf-8"))
        assert all(f["source"]["verified"] is False for f in body), data_file.name


# --- verify --expect-sha256 -------------------------------------------------------------------


def test_verify_pins_the_snapshot_hash(snap: Path) -> None:
    digest = hashlib.sha256((snap / "manifest.json").read_bytes()).hexdigest()
    ok = run("verify", str(snap), "--expect-sha256", digest.upper())
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert digest in ok.stdout
    other = "0" * 64
    bad = run("verify", str(snap), "--expect-sha256", other)
    assert bad.returncode == 1
    assert f"manifest.json: unexpected-hash: sha256 is {digest}, expected {other}" in bad.stdout
    line = one_line_error(run("verify", str(snap), "--expect-sha256", "abc\x1b[31m"))
    assert "not a SHA-256" in line and "\x1b" not in line


def test_a_manifest_edit_changes_the_hash_that_verify_pins(snap: Path) -> None:
    digest = verify(snap).sha256
    manifest = json.loads((snap / "manifest.json").read_text())
    manifest["collected_by"]["email"] = "someone.else@acme.example"
    (snap / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    assert verify(snap).ok  # the raw files still match...
    assert not verify(snap, expect_sha256=digest).ok  # ...but it is not the snapshot recorded


# --- raw files are regular files inside the snapshot --------------------------------------------


def test_a_symlinked_raw_file_is_refused_even_with_identical_bytes(
    snap: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.json"
    shutil.copy(snap / TAMPERED, outside)
    (snap / TAMPERED).unlink()
    (snap / TAMPERED).symlink_to(outside)
    for verify_flag in (True, False):
        with pytest.raises(InputError, match=r"collaborators\.json: is a symbolic link"):
            load(snap, verify=verify_flag)
    problems = verify(snap).problems
    assert [(p.path, p.kind) for p in problems] == [(TAMPERED, "not-regular")]
    assert "symbolic link" in one_line_error(run("check", str(snap)))


def test_a_symlinked_directory_is_refused(snap: Path, tmp_path: Path) -> None:
    shutil.move(snap / "raw" / "osc-fr1", tmp_path / "elsewhere")
    (snap / "raw" / "osc-fr1").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(InputError, match="osc-fr1: is a symbolic link"):
        load(snap)
    assert any(p.kind == "not-regular" for p in verify(snap).problems)


def test_a_fifo_is_refused_without_blocking(snap: Path) -> None:
    (snap / TAMPERED).unlink()
    os.mkfifo(snap / TAMPERED)  # opening it for reading would block forever
    with pytest.raises(InputError, match=r"collaborators\.json: not a regular file"):
        load(snap)
    assert [p.kind for p in verify(snap).problems] == ["not-regular"]
    extra = snap / "raw" / "pipe"
    os.mkfifo(extra)
    assert ("raw/pipe", "not-regular") in [(p.path, p.kind) for p in verify(snap).problems]
    assert "not a regular file" in one_line_error(run("check", str(snap)))


def test_a_manifest_that_is_a_symlink_is_refused(snap: Path, tmp_path: Path) -> None:
    real = tmp_path / "manifest.json"
    shutil.move(snap / "manifest.json", real)
    (snap / "manifest.json").symlink_to(real)
    with pytest.raises(InputError):
        load(snap)
    assert "manifest.json" in one_line_error(run("verify", str(snap)))


# --- collect --since ----------------------------------------------------------------------------

FAST = {"period": 0.01, "rate_limit": 100_000, "backoff": 0.0, "progress": False}


def _collect(fake: FakeScalingo, out: Path, **kw: object) -> Path:
    return collect(out, env=fake.env(), **{**FAST, **kw})  # type: ignore[arg-type]


def test_collect_records_the_endpoints_it_used(tmp_path: Path) -> None:
    with FakeScalingo(make_world(owned=2, collaborated=1, events_per_app=3)) as fake:
        snap = _collect(fake, tmp_path / "a", events_days=3)
        endpoints = json.loads((snap / "manifest.json").read_text())["endpoints"]
        assert endpoints["auth"] == fake.auth_url.rstrip("/")
        assert endpoints["regions"] == {
            r: fake.api_url(r).rstrip("/") for r in ("osc-fr1", "osc-secnum-fr1")
        }


def test_since_refuses_a_tampered_snapshot(tmp_path: Path) -> None:
    with FakeScalingo(make_world(owned=2, collaborated=1, events_per_app=3)) as fake:
        first = _collect(fake, tmp_path / "a", events_days=3)
        events = next(first.glob("raw/*/apps/*/events.page-1.json"))
        events.write_bytes(events.read_bytes().replace(b'"type"', b'"typo"', 1))
        with pytest.raises(InputError, match=r"--since: this snapshot fails verification.*altered"):
            _collect(fake, tmp_path / "b", since=first)
        assert not (tmp_path / "b").exists()
        # added files count too: nothing but the collected evidence may be carried forward
        events.write_bytes(events.read_bytes().replace(b'"typo"', b'"type"', 1))
        (first / "raw" / "extra.json").write_text("{}")
        with pytest.raises(InputError, match="extra"):
            _collect(fake, tmp_path / "c", since=first)
        (first / "raw" / "extra.json").unlink()
        assert _collect(fake, tmp_path / "d", since=first).is_dir()


def test_since_refuses_a_snapshot_of_another_account(tmp_path: Path) -> None:
    mine = make_world(owned=2, collaborated=1, events_per_app=3)
    theirs = make_world(owned=2, collaborated=1, events_per_app=3, seed=2)
    assert theirs.user["id"] != mine.user["id"]
    with FakeScalingo(theirs) as other:
        foreign = _collect(other, tmp_path / "theirs", events_days=3)
    with FakeScalingo(mine) as fake:
        with pytest.raises(InputError, match="collected by another account"):
            _collect(fake, tmp_path / "b", since=foreign)
        assert not (tmp_path / "b").exists()
        r = run("collect", "--out", str(tmp_path / "c"), "--since", str(foreign), "--quiet",
                env=fake.env())  # fmt: skip
        assert "another account" in one_line_error(r)


def test_since_refuses_a_snapshot_of_other_api_endpoints(tmp_path: Path) -> None:
    world = make_world(owned=2, collaborated=1, events_per_app=3)
    with FakeScalingo(world) as elsewhere:
        first = _collect(elsewhere, tmp_path / "a", events_days=3)
    with (
        FakeScalingo(world) as fake,  # same account, another server
        pytest.raises(InputError, match="another auth API"),
    ):
        _collect(fake, tmp_path / "b", since=first)


def test_since_refuses_a_snapshot_that_records_no_endpoints(tmp_path: Path) -> None:
    with FakeScalingo(make_world(owned=2, collaborated=1, events_per_app=3)) as fake:
        first = _collect(fake, tmp_path / "a", events_days=3)
        manifest = json.loads((first / "manifest.json").read_text())
        manifest.pop("endpoints")
        (first / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(InputError, match="does not record the API endpoints"):
            _collect(fake, tmp_path / "b", since=first)


def test_every_report_notebook_takes_the_evidence_and_key_parameters() -> None:
    """A report page loads the source itself: it must honour --no-verify and use the one
    key file the command resolved (report.notebook_parameters passes both)."""
    import nbformat

    from scalingo_audit.report import report_notebooks

    for path in report_notebooks():
        nb = nbformat.read(path, as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assert "verify: bool = True" in params.source, path.name
        assert 'pseudonym_key: str = ""' in params.source, path.name
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "pseudonym_key=pseudonym_key" in code and "verify=verify" in code, path.name
