"""The evidence link: verify() catches any altered, missing or extra file; every output names
the snapshot, its hash, when and by whom it was collected, and the tool version."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

import scalingo_audit
from scalingo_audit import output, snapshot
from scalingo_audit.demo import demo_snapshot
from scalingo_audit.errors import InputError
from scalingo_audit.evidence import provenance, verify
from scalingo_audit.notebook import open_audit
from scalingo_audit.report import render_index
from scalingo_audit.sources import load

FIXTURES = Path(__file__).parent / "fixtures"

# A spread of raw files: auth-level, per region, per app (collaborators of a personal app).
RAW_FILES = [
    "raw/auth/tokens.json",
    "raw/auth/users_self.json",
    "raw/osc-fr1/apps.json",
    "raw/osc-fr1/collaborators.json",
    "raw/osc-secnum-fr1/collaborators.json",
    "raw/osc-fr1/apps/marketing-blog/collaborators.json",
    "raw/osc-secnum-fr1/apps/hr-portal-staging/collaborators.json",
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot.write(demo_snapshot(), tmp_path_factory.mktemp("demo") / "snap")


@pytest.fixture
def snap(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo snapshot that a test may tamper with."""
    return Path(shutil.copytree(pristine, tmp_path / "snap"))


def listed(root: Path) -> list[str]:
    return [f["path"] for f in json.loads((root / "manifest.json").read_text())["files"]]


def test_raw_files_of_the_demo_are_those_exercised() -> None:
    present = {f.path for f in demo_snapshot().files}
    assert set(RAW_FILES) <= present


def test_a_written_snapshot_verifies(pristine: Path) -> None:
    result = verify(pristine)
    assert result.ok, result.report()
    assert result.files == len(listed(pristine)) > 10
    assert "OK" in result.report()


def test_recorded_hashes_are_those_of_the_bytes_on_disk(pristine: Path) -> None:
    manifest = json.loads((pristine / "manifest.json").read_text())
    for entry in manifest["files"]:
        data = (pristine / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]


def test_the_snapshot_hash_is_the_sha256_of_manifest_json(pristine: Path) -> None:
    expected = hashlib.sha256((pristine / "manifest.json").read_bytes()).hexdigest()
    assert verify(pristine).sha256 == expected
    assert load(pristine).info.source_sha256 == expected
    # The demo, built in memory, has the hash of the manifest `demo --out` writes.
    assert demo_snapshot().digest() == expected
    assert load("demo").info.source_sha256 == expected


@pytest.mark.parametrize("rel", RAW_FILES)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_flipped_byte_fails_naming_the_file(snap: Path, rel: str, where: str) -> None:
    path = snap / rel
    data = bytearray(path.read_bytes())
    i = {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[where]
    data[i] ^= 0x01
    path.write_bytes(bytes(data))
    result = verify(snap)
    assert not result.ok
    assert [(p.path, p.kind) for p in result.problems] == [(rel, "altered")]
    assert rel in result.report() and "FAILED" in result.report()


def test_a_deleted_file_fails_naming_it(snap: Path) -> None:
    rel = "raw/osc-secnum-fr1/apps.json"
    (snap / rel).unlink()
    result = verify(snap)
    assert [(p.path, p.kind) for p in result.problems] == [(rel, "missing")]


@pytest.mark.parametrize("rel", ["raw/osc-fr1/extra.json", ".DS_Store", "raw/auth/tokens.json.bak"])
def test_an_extra_file_fails_naming_it(snap: Path, rel: str) -> None:
    (snap / rel).write_text("{}\n")
    result = verify(snap)
    assert [(p.path, p.kind) for p in result.problems] == [(rel, "extra")]


def test_an_edited_manifest_hash_fails_naming_the_file(snap: Path) -> None:
    before = verify(snap).sha256
    manifest = json.loads((snap / "manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["path"] == "raw/osc-fr1/apps.json")
    entry["sha256"] = "0" * 64
    (snap / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    result = verify(snap)
    assert [(p.path, p.kind) for p in result.problems] == [("raw/osc-fr1/apps.json", "altered")]
    assert result.sha256 != before


def test_an_edited_manifest_field_changes_the_snapshot_hash(snap: Path) -> None:
    before = verify(snap).sha256
    manifest = json.loads((snap / "manifest.json").read_text())
    manifest["collected_by"]["email"] = "someone.else@acme.example"
    (snap / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    result = verify(snap)
    assert result.ok  # every raw file is intact ...
    assert result.sha256 != before  # ... but this is not the snapshot the report named


def test_a_manifest_path_escaping_the_snapshot_is_a_bad_entry(snap: Path) -> None:
    manifest = json.loads((snap / "manifest.json").read_text())
    manifest["files"][0]["path"] = "../outside.json"
    (snap / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    kinds = {p.kind for p in verify(snap).problems}
    assert "bad-entry" in kinds


def test_not_a_snapshot_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no manifest\.json"):
        verify(tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        verify(tmp_path / "missing")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="malformed JSON"):
        verify(tmp_path)


# --- provenance in every output ----------------------------------------------------------


def test_provenance_of_a_snapshot(pristine: Path) -> None:
    audit = open_audit(str(pristine))
    p = provenance(audit.data, as_of=audit.as_of)
    assert p["source"] == "snapshot" and p["location"] == str(pristine)
    assert p["sha256"] == hashlib.sha256((pristine / "manifest.json").read_bytes()).hexdigest()
    assert p["collected_at"] == "2026-11-01T08:00:00+00:00"
    assert p["collected_by"] == "ops@acme.example"
    assert p["regions"] == ["osc-fr1", "osc-secnum-fr1"]
    assert p["tool_version"] == scalingo_audit.__version__
    assert p["collector_version"] == scalingo_audit.__version__
    assert p["as_of"] == "2026-11-01T08:00:00+00:00"
    assert p["pseudonymised"] is False
    json.dumps(p)  # plain JSON values only


def test_provenance_of_an_export_hashes_the_file() -> None:
    path = FIXTURES / "dashboard_export.csv"
    p = provenance(load(path))
    assert p["source"] == "export"
    assert p["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_json_findings_stay_an_array_of_objects_each_naming_its_source() -> None:
    audit = open_audit("demo")
    prov = provenance(audit.data, as_of=audit.as_of)
    items = json.loads(output.to_json(audit.findings, prov))
    assert isinstance(items, list) and len(items) == len(audit.findings) > 0
    for item in items:
        assert list(item) == [*output.JSON_FIELDS, "source"]
        assert item["source"] == prov
    for key in ("sha256", "collected_at", "collected_by", "tool_version"):
        assert items[0]["source"][key]
    # Without a provenance, the contract of the earlier issue holds unchanged.
    plain = json.loads(output.to_json(audit.findings))
    assert all(list(item) == list(output.JSON_FIELDS) for item in plain)


def test_csv_findings_carry_source_columns() -> None:
    audit = open_audit("demo")
    prov = provenance(audit.data, as_of=audit.as_of)
    rows = list(csv.DictReader(io.StringIO(output.to_csv(audit.findings, prov))))
    assert rows and all(r["source_sha256"] == prov["sha256"] for r in rows)
    assert rows[0]["source_collected_by"] == "ops@acme.example"
    assert rows[0]["source_tool_version"] == scalingo_audit.__version__
    header = output.to_csv(audit.findings).splitlines()[0]
    assert header == ",".join(output.JSON_FIELDS)
    line = output.provenance_line(prov)
    assert prov["sha256"] in line and "ops@acme.example" in line


def test_the_report_index_names_the_snapshot_hash(pristine: Path) -> None:
    audit = open_audit(str(pristine))
    html = render_index(audit, [])
    assert audit.data.info.source_sha256
    assert f"SHA-256 {audit.data.info.source_sha256} (of manifest.json)" in html
    assert f"scalingo-audit {scalingo_audit.__version__}" in html
    assert "ops@acme.example" in html and "2026-11-01 08:00 UTC" in html
