"""atomic: an output file is the old one or the new one, never half of either."""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

import pytest

from scalingo_audit import atomic
from scalingo_audit.errors import AuditError


def test_atomic_write_keeps_the_old_file_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "page.html"
    target.write_text("old, complete")

    real_open = open

    class FullDisk(io.BufferedWriter):
        def write(self, data: object) -> int:
            super().write(bytes(data)[:100])  # type: ignore[call-overload]
            self.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_open(file: object, mode: str = "r", *args: object, **kw: object) -> object:
        if "w" in mode:
            return FullDisk(real_open(file, "wb", buffering=0))  # type: ignore[call-overload]
        return real_open(file, mode, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(atomic, "open", full_open, raising=False)
    with pytest.raises(AuditError, match="No space"):
        atomic.write_text(target, "new " * 1000)
    monkeypatch.undo()
    assert target.read_text() == "old, complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_a_writer_writes_beside_the_target_then_it_is_renamed_into_place(tmp_path: Path) -> None:
    target = tmp_path / "sheet.xlsx"
    target.write_bytes(b"old")
    with atomic.replacing(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".sheet.xlsx.")
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # readers still see the old file
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.xlsx"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask  # as open() would make it


def test_an_error_in_the_writer_leaves_the_target_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="renderer crashed"), atomic.replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("renderer crashed")  # not an OSError: raised as it is
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_unwritable_paths_are_one_error_naming_them(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(AuditError, match="out: is a directory, not a file to write"):
        atomic.write_text(tmp_path / "out", "x")
    with pytest.raises(AuditError, match=r"nowhere/x\.txt: cannot write here"):
        atomic.write_bytes(tmp_path / "nowhere" / "x.txt", b"x")
    assert atomic.write_text(tmp_path / "ok.txt", "é") == tmp_path / "ok.txt"
    assert (tmp_path / "ok.txt").read_bytes() == "é".encode()


def test_move_renames_on_one_file_system_and_copies_across_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "findings.csv"
    target.parent.mkdir()
    target.write_text("old")
    src = atomic.write_text(tmp_path / "staging.csv", "new, complete")
    inode = src.stat().st_ino
    assert atomic.move(src, target) == target
    assert target.read_text() == "new, complete" and not src.exists()
    assert target.stat().st_ino == inode  # renamed, not copied

    real_replace = os.replace
    calls: list[object] = []

    def across(a: object, b: object) -> None:  # the first rename is across file systems
        calls.append(a)
        if len(calls) == 1:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(a, b)  # type: ignore[arg-type]

    src = atomic.write_text(tmp_path / "staging.csv", "copied")
    monkeypatch.setattr(os, "replace", across)
    atomic.move(src, target)
    monkeypatch.undo()
    assert target.read_text() == "copied" and not src.exists()
    assert [p.name for p in target.parent.iterdir()] == ["findings.csv"]  # no temporary left
    with pytest.raises(AuditError, match="is a directory"):
        atomic.move(atomic.write_text(tmp_path / "x", "x"), target.parent)
    with pytest.raises(AuditError, match=r"missing.*cannot write"):
        atomic.move(tmp_path / "missing", tmp_path / "missing-target")
