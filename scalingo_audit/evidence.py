"""The evidence link: which data a report was built from, and whether that data is intact.

A snapshot's ``manifest.json`` records the SHA-256 of every raw file it lists
(see :mod:`scalingo_audit.snapshot`). **The snapshot's hash** is the SHA-256 of
the bytes of ``manifest.json`` itself: it covers every raw file (through their
recorded hashes) and every manifest field (when, by whom, which regions, gaps),
and anyone can recompute it with ``sha256sum SNAPSHOT/manifest.json``. For the
demo, built in memory, it is the hash of the manifest ``scalingo-audit demo
--out`` would write; for a dashboard export, the SHA-256 of the export file.

- :func:`verify` recomputes every hash from the bytes on disk and reports any
  altered, missing or extra file (``scalingo-audit verify SNAPSHOT``).
- :func:`provenance` is what every report and ``check --format json`` names:
  the source, its hash, when and by whom it was collected, the tool version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, excerpt
from .model import AuditData
from .snapshot import entry_problem, inside, parse_json, regular_file_bytes, validate_manifest

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Problem:
    """One reason a snapshot fails verification."""

    path: str  # relative to the snapshot directory, with forward slashes
    kind: str  # altered | missing | extra | not-regular | bad-entry | unexpected-hash
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify`. ``ok`` when every listed file matches its recorded
    SHA-256 and nothing else is in the directory."""

    snapshot: Path
    sha256: str  # the snapshot's hash: SHA-256 of manifest.json's bytes
    files: int  # raw files listed in the manifest
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        """Human-readable lines: one per problem, then a verdict naming the snapshot's hash."""
        lines = [str(p) for p in self.problems]
        if self.ok:
            lines.append(
                f"{self.snapshot}: OK, {self.files} raw file(s) match their recorded SHA-256; "
                f"snapshot hash (sha256 of manifest.json) {self.sha256}"
            )
        else:
            lines.append(
                f"{self.snapshot}: FAILED, {len(self.problems)} problem(s) in {self.files} listed "
                f"raw file(s); manifest.json sha256 {self.sha256}"
            )
        return "\n".join(lines)


def verify(snapshot_dir: str | Path, *, expect_sha256: str | None = None) -> VerifyResult:
    """Recompute the size and SHA-256 of every raw file the manifest lists, from the bytes on
    disk.

    A file whose bytes differ from its recorded size or hash is *altered*; a listed file that
    is absent is *missing*; a file under the directory that the manifest does not list
    (``manifest.json`` aside) is *extra*; a symlink, FIFO, device or socket anywhere in the
    snapshot is *not-regular*; an entry without a usable ``path`` or ``sha256`` is a
    *bad-entry*. With ``expect_sha256`` (the snapshot hash a ticket or an earlier report
    recorded), a snapshot whose ``manifest.json`` has another SHA-256 has an
    *unexpected-hash* problem. Raises :class:`InputError` when ``snapshot_dir`` is not a
    snapshot at all (no directory, no or unreadable ``manifest.json``, wrong format) or
    ``expect_sha256`` is not a SHA-256.
    """
    root = Path(snapshot_dir)
    if expect_sha256 is not None and not _SHA256.fullmatch(expect_sha256.strip()):
        raise InputError(
            f"--expect-sha256: not a SHA-256 (64 hexadecimal digits): {excerpt(expect_sha256)}"
        )
    if not root.is_dir():
        raise InputError("not a directory", file=root)
    manifest_path = root / MANIFEST
    if manifest_path.is_symlink() or not manifest_path.is_file():
        raise InputError(
            "not a snapshot directory (no manifest.json, or not a regular file)", file=root
        )
    raw_manifest = regular_file_bytes(root, MANIFEST)
    digest = hashlib.sha256(raw_manifest).hexdigest()
    manifest = parse_json(raw_manifest, manifest_path)
    validate_manifest(manifest, manifest_path)  # not a snapshot at all: InputError
    entries = manifest["files"]

    problems: list[Problem] = []
    if expect_sha256 is not None and digest != expect_sha256.strip().lower():
        problems.append(
            Problem(MANIFEST, "unexpected-hash", f"sha256 is {digest}, expected {expect_sha256}")
        )
    listed: set[str] = {MANIFEST}
    for i, entry in enumerate(entries):
        record = f"manifest.json files[{i}]"
        rel = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(rel, str) and rel and inside(rel):
            listed.add(rel)  # a bad entry's file is not an extra one too
        bad = entry_problem(entry)  # what read() refuses, the one manifest validator
        if bad is not None:
            key, reason = bad
            problems.append(Problem(record, "bad-entry", f"{key}: {reason}" if key else reason))
            continue
        rel = entry["path"]  # a string inside the snapshot: entry_problem() said so
        expected = entry.get("sha256")
        size = entry.get("size")
        path = root / rel
        if not os.path.lexists(path):
            problems.append(Problem(rel, "missing", "listed in the manifest, not on disk"))
            continue
        try:
            data = regular_file_bytes(root, rel)
        except InputError as exc:
            problems.append(Problem(rel, "not-regular", exc.reason))
            continue
        if not isinstance(expected, str) or not expected:
            problems.append(Problem(rel, "bad-entry", "the manifest records no sha256 for it"))
        elif isinstance(size, int) and not isinstance(size, bool) and size != len(data):
            problems.append(
                Problem(rel, "altered", f"{len(data)} bytes, the manifest records {size}")
            )
        else:
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected.lower():
                problems.append(
                    Problem(rel, "altered", f"sha256 is {actual}, the manifest records {expected}")
                )
    for dirpath, dirnames, filenames in os.walk(root):  # never follows symlinks
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                if rel not in listed:  # listed ones are reported above
                    problems.append(
                        Problem(rel, "not-regular", "a snapshot holds regular files only")
                    )
            elif rel not in listed:
                problems.append(Problem(rel, "extra", "not listed in the manifest"))
    return VerifyResult(snapshot=root, sha256=digest, files=len(entries), problems=tuple(problems))


def provenance(data: AuditData, *, as_of: dt.datetime | None = None) -> dict[str, Any]:
    """What the findings were computed from, as plain JSON-ready values.

    Keys: ``source`` (demo | snapshot | export), ``location``, ``sha256`` (the snapshot's
    hash, see the module docstring; ``None`` if unknown), ``collected_at`` (ISO 8601),
    ``collected_by`` (the collecting account's email), ``regions``, ``events_days`` (the
    events window, ``None`` without events), ``collector_version`` (the scalingo-audit
    version that wrote the snapshot, when recorded), ``tool_version`` (this one),
    ``as_of``, ``pseudonymised`` and ``verified`` (``false``: loaded with ``--no-verify``,
    the raw files were not checked against the manifest — UNVERIFIED; ``null`` for a
    dashboard export, which has no manifest).
    """
    from . import __version__

    info = data.info
    return {
        "source": info.kind,
        "location": info.location,
        "sha256": info.source_sha256,
        "collected_at": info.collected_at.isoformat(),
        "collected_by": info.collected_by,
        "regions": list(info.regions),
        "events_days": info.events_days,
        "collector_version": info.collector_version,
        "tool_version": __version__,
        "as_of": as_of.isoformat() if as_of is not None else None,
        "pseudonymised": info.pseudonymised,
        "verified": info.verified,
    }
