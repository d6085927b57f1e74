"""snapshot: the on-disk format (manifest, raw files, atomic write, read) and what a
damaged snapshot directory gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scalingo_audit import InputError, load
from scalingo_audit import snapshot as snap
from scalingo_audit.demo import demo_snapshot
from scalingo_audit.snapshot import RawFile, Writer, write

from .orgs import app, collab, edit_json, snapshot


@pytest.fixture
def snap_dir(tmp_path) -> Path:
    s = snapshot([app("a"), app("b", owner="x@acme.example")], [collab("a", "d@acme.example")])
    return write(s, tmp_path / "snap")


def test_malformed_json_names_the_file_and_line(snap_dir):
    (snap_dir / "raw/osc-fr1/apps.json").write_text('{"apps": [\n  {"id": }\n]}')
    with pytest.raises(InputError, match=r"apps.json: altered since collection"):
        load(snap_dir)
    with pytest.raises(InputError, match=r"apps.json: malformed JSON at line 2"):
        load(snap_dir, verify=False)


def test_missing_raw_file_and_unknown_paths(snap_dir, tmp_path):
    (snap_dir / "raw/osc-fr1/apps/b/collaborators.json").unlink()
    with pytest.raises(InputError, match=r"b/collaborators.json: file not found"):
        load(snap_dir)
    with pytest.raises(InputError, match="no such file or directory"):
        load(tmp_path / "nowhere")
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    with pytest.raises(InputError, match="not a snapshot directory"):
        load(empty)


def test_path_traversal_in_manifest_is_refused(snap_dir):
    edit_json(snap_dir / "manifest.json", lambda b: b["files"][0].update(path="../../etc/passwd"))
    with pytest.raises(InputError, match="must stay inside the snapshot"):
        load(snap_dir)


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path):
    s = demo_snapshot()
    target = write(s, tmp_path / "snap")
    with pytest.raises(InputError, match="already exists"):
        write(s, target)
    broken = snapshot([app("a")])
    broken.files[0] = broken.files[0].__class__(
        "raw/auth/tokens.json", "tokens", None, "GET /v1/tokens", {"bad": object()}
    )
    with pytest.raises(TypeError):
        write(broken, tmp_path / "half")
    assert not (tmp_path / "half").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["format"] == "scalingo-audit/snapshot"
    assert manifest["collected_by"]["email"] == "ops@acme.example"
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    shutil.rmtree(target)


def test_read_gives_back_what_write_wrote(tmp_path):
    s = snapshot([app("shop"), app("shop", region="osc-secnum-fr1")])
    back = snap.read(write(s, tmp_path / "snap"))
    assert back.verified and back.location == str(tmp_path / "snap")
    assert [(f.path, f.kind, f.region, f.body) for f in back.files] == [
        (f.path, f.kind, f.region, f.body) for f in s.files
    ]
    assert back.regions == ["osc-fr1", "osc-secnum-fr1"]
    assert back.digest() == s.digest()  # the hash of the manifest's bytes, either way
    assert snap.is_snapshot(tmp_path / "snap") and not snap.is_snapshot(tmp_path)


def test_region_and_app_files_encode_both_names():
    assert snap.region_file("osc-fr1", "apps.json") == "raw/osc-fr1/apps.json"
    assert snap.app_file("osc-fr1", "a/b", "events.json") == "raw/osc-fr1/apps/a%2Fb/events.json"
    assert snap.app_file("..", "..", "x.json") == "raw/%2E%2E/apps/%2E%2E/x.json"


def test_writer_gives_colliding_paths_unique_names_case_insensitively(tmp_path):
    writer = Writer(tmp_path / "snap")
    first = writer.add(RawFile("raw/r/apps/Shop/c.json", "app_collaborators", "r", "GET", []))
    second = writer.add(RawFile("raw/r/apps/shop/c.json", "app_collaborators", "r", "GET", [1]))
    assert first.path == "raw/r/apps/Shop/c.json"
    assert second.path == "raw/r/apps/shop/c~2.json"  # two files even on a case-folding disk
    with pytest.raises(ValueError, match="outside the snapshot"):
        writer.add(RawFile("raw/../../escape.json", "apps", "r", "GET", []))
    writer.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"tfa": {"enabled": True, "provider": "totp"}}, True),
        ({"tfa": {"enabled": False}}, False),
        ({"tfa": {"enabled": "true"}}, None),  # only a JSON boolean says
        ({"tfa": None}, None),
        ([], None),
        (None, None),
    ],
)
def test_tfa_enabled_reads_only_a_boolean(body, expected):
    assert snap.tfa_enabled(body) is expected


def test_a_manifest_that_is_not_an_object_names_the_file(snap_dir):
    (snap_dir / "manifest.json").write_text(json.dumps(["not", "an", "object"]))
    with pytest.raises(InputError, match=r"manifest\.json: the manifest must be a JSON object"):
        load(snap_dir)


# --- one file hash, one manifest entry validator -------------------------------------------


def test_sha256_file_is_what_sha256sum_prints(tmp_path: Path) -> None:
    import hashlib
    import subprocess

    path = tmp_path / "big.bin"
    path.write_bytes(bytes(range(256)) * 20_000)  # 5 MB, more than one read's chunk
    printed = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    assert snap.sha256_file(path) == printed.stdout.split()[0]
    assert snap.sha256_file(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(OSError):
        snap.sha256_file(tmp_path / "absent")


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ([], None),
        ({"kind": "apps"}, "path"),
        ({"path": "raw/a.json"}, "kind"),
        ({"path": 3, "kind": "apps"}, "path"),
        ({"path": "raw/a.json", "kind": "apps", "app": 3}, "app"),
        ({"path": "raw/a.json", "kind": "nope"}, "kind"),
        ({"path": "../a.json", "kind": "apps"}, "path"),
        ({"path": "/etc/passwd", "kind": "apps"}, "path"),
        ({"path": "raw\\a.json", "kind": "apps"}, "path"),
        ({"path": "raw/a\0.json", "kind": "apps"}, "path"),
    ],
)
def test_a_bad_manifest_entry_is_refused_by_read_and_reported_by_verify(
    snap_dir: Path, entry: object, field: str | None
) -> None:
    from scalingo_audit.evidence import verify

    problem = snap.entry_problem(entry)
    assert problem is not None and problem[0] == field
    manifest = json.loads((snap_dir / "manifest.json").read_text())
    manifest["files"].append(entry)
    (snap_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError) as exc:
        snap.read(snap_dir)
    assert exc.value.field == field and exc.value.record == f"files[{len(manifest['files']) - 1}]"
    bad = [p for p in verify(snap_dir).problems if p.kind == "bad-entry"]
    assert [p.path for p in bad] == [f"manifest.json files[{len(manifest['files']) - 1}]"]
    assert problem[1] in bad[0].detail


def test_every_entry_a_snapshot_writes_passes_the_validator() -> None:
    assert all(snap.entry_problem(e) is None for e in demo_snapshot().manifest()["files"])
