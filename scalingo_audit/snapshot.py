"""The snapshot format: raw Scalingo API responses kept as evidence, plus a manifest.

A snapshot is a directory::

    SNAPSHOT/
      manifest.json                      what, when, by whom, and the file list
      raw/auth/regions.json              GET {auth}/v1/regions
      raw/auth/tokens.json               GET {auth}/v1/tokens
      raw/auth/users_self.json           GET {auth}/v1/users/self (raw/<region>/users_self.json
                                         when the auth API answered 404 and the region did)
      raw/auth/tfa.json                  GET {auth}/v1/client/tfa (the collecting account's 2FA)
      raw/<region>/apps.json             GET /v1/apps
      raw/<region>/collaborators.json    GET /v1/collaborators (apps the account owns)
      raw/<region>/apps/<app>/collaborators.json   GET /v1/apps/<app>/collaborators
      raw/<region>/apps/<app>/events.page-<n>.json GET /v1/apps/<app>/events (optional)

<region> and <app> are the names encoded by :func:`name_segment` (``..`` is ``%2E%2E``).

Each raw file is the response body exactly as Scalingo returned it (one root
key, e.g. ``{"apps": [...]}``). ``manifest.json`` (format version 1)::

    {"format": "scalingo-audit/snapshot", "format_version": 1,
     "tool_version": "0.1.0", "origin": "api" | "demo",
     "collected_at": "2026-11-01T08:00:00+00:00",
     "collected_by": {"email": "...", "user_id": "us-...", "tfa": true | false | null},
     "regions": ["osc-fr1", ...], "requests": 12, "events_days": null,
     "gaps": [{"region": ..., "app": ..., "request": ..., "status": 403, "error": ...}],
     "redacted": {"marker": "[redacted]", "variable_values": 12},
     "files": [{"path": "raw/osc-fr1/apps.json", "kind": "apps", "region": "osc-fr1",
                "app": null, "request": "GET /v1/apps", "size": 1234, "sha256": "..."}],
     "endpoints": {"auth": "https://auth.scalingo.com",
                   "regions": {"osc-fr1": "https://api.osc-fr1.scalingo.com"}}}

``redacted`` (written by ``collect``) says that the values of environment variables in
variable events were replaced by the marker before anything was written, and how many
(:mod:`scalingo_audit.redact`); a snapshot without it, from before redaction existed, is
redacted in memory by :func:`read`, with a warning. ``kind`` is one of :data:`KINDS`.
``size`` and ``sha256`` are the byte count and the SHA-256 of the raw file's bytes as
written on disk (``size`` is absent from snapshots written before it was recorded);
``endpoints`` (absent for the demo) names the API hosts the data came from, which
``collect --since`` compares; **the snapshot's hash** is the SHA-256 of the bytes of
``manifest.json`` (``sha256sum SNAPSHOT/manifest.json``), which therefore covers
every raw file and every manifest field. :func:`read` checks every raw file it
loads against the manifest — a regular file inside the snapshot (no symlink, FIFO or
device), its size, then its SHA-256 — and refuses a mismatch naming the file, unless
``verify=False`` (the CLI's ``--no-verify``), in which case the snapshot is marked
unverified and every output says so. :func:`scalingo_audit.evidence.verify` recomputes
all of them and also reports files the manifest does not list. A snapshot is written to a temporary sibling
directory and renamed into place at the end, so an interrupted run never
leaves a half snapshot where a finished one is expected.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from . import contracts
from .errors import DataWarning, InputError, excerpt
from .redact import MARKER, redact_events

FORMAT = "scalingo-audit/snapshot"
FORMAT_VERSION = 1
KINDS = (
    "regions", "tokens", "user", "tfa", "apps", "collaborators", "app_collaborators", "app_events"
)  # fmt: skip


def tfa_enabled(body: Any) -> bool | None:
    """``enabled`` of a ``GET /v1/client/tfa`` body (``{"tfa": {"enabled": true, ...}}``);
    None when the body does not say."""
    tfa = body.get("tfa") if isinstance(body, Mapping) else None
    enabled = tfa.get("enabled") if isinstance(tfa, Mapping) else None
    return enabled if isinstance(enabled, bool) else None


@dataclass(frozen=True)
class RawFile:
    """One raw API response in a snapshot."""

    path: str
    kind: str
    region: str | None
    request: str
    body: Any
    app: str | None = None


@dataclass
class Snapshot:
    """A snapshot in memory: its manifest fields and raw responses."""

    collected_at: str
    collected_by: dict[str, Any]
    regions: list[str]
    files: list[RawFile] = field(default_factory=list)
    origin: str = "api"
    requests: int = 0
    events_days: int | None = None
    gaps: list[dict[str, Any]] = field(default_factory=list)
    location: str = "<memory>"
    tool_version: str = ""
    manifest_sha256: str = ""  # set by read(): SHA-256 of manifest.json as found on disk
    endpoints: dict[str, Any] | None = None  # {"auth": url, "regions": {name: url}}
    verified: bool = True  # read() with verify=False: raw files not checked against the manifest
    redacted: int | None = None  # variable values redacted at collection; None: not recorded

    def of_kind(self, kind: str) -> Iterator[RawFile]:
        return (f for f in self.files if f.kind == kind)

    def manifest(self) -> dict[str, Any]:
        dumped = [_dump(f.body) for f in self.files]  # what write() writes
        extra = {"endpoints": self.endpoints} if self.endpoints is not None else {}
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool_version": self.tool_version or _tool_version(),
            "origin": self.origin,
            "collected_at": self.collected_at,
            "collected_by": self.collected_by,
            "regions": self.regions,
            "requests": self.requests,
            "events_days": self.events_days,
            "gaps": self.gaps,
            **(
                {"redacted": {"marker": MARKER, "variable_values": self.redacted}}
                if self.redacted is not None
                else {}
            ),
            "files": [
                {
                    "path": f.path,
                    "kind": f.kind,
                    "region": f.region,
                    "app": f.app,
                    "request": f.request,
                    "size": len(raw),
                    "sha256": hashlib.sha256(raw).hexdigest(),
                }
                for f, raw in zip(self.files, dumped, strict=True)
            ],
            **extra,
        }

    def manifest_bytes(self) -> bytes:
        """``manifest.json`` exactly as :func:`write` writes it."""
        # validated against `scalingo-audit schema manifest` when contracts are checked
        return _dump(contracts.checked("manifest", self.manifest()))

    def digest(self) -> str:
        """The snapshot's hash: SHA-256 of ``manifest.json``'s bytes (as read from disk, or
        as :func:`write` would write them for a snapshot built in memory, e.g. the demo)."""
        return self.manifest_sha256 or hashlib.sha256(self.manifest_bytes()).hexdigest()


def api_files(
    *,
    user: Mapping[str, Any],
    tokens: list[dict[str, Any]],
    apps: Mapping[str, list[dict[str, Any]]],
    collaborators: Mapping[str, list[dict[str, Any]]],
    event_pages: Mapping[str, list[Any]] | None = None,
    tfa: Mapping[str, Any] | None = None,
) -> list[RawFile]:
    """The raw files a collection of this organisation stores, in the layout above.

    ``user`` is the collecting account (``GET /v1/users/self``'s ``user``), ``apps`` maps
    a region to its apps in API shape, ``collaborators`` an app name to its collaborator
    records (the owner never among them), ``event_pages`` an app name to its events
    response bodies, page by page, and ``tfa`` the collecting account's own 2FA
    (``GET /v1/client/tfa``'s ``tfa``; None: not collected). Apps the account owns are listed together, as
    ``GET /v1/collaborators`` returns them; the others one file per app. Used by the
    generated organisations (demo, benchmarks, tests) so they look exactly like a
    collected snapshot.
    """
    me = str(user.get("email", "")).lower()
    files = [
        RawFile("raw/auth/tokens.json", "tokens", None, "GET /v1/tokens", {"tokens": tokens}),
        RawFile("raw/auth/users_self.json", "user", None, "GET /v1/users/self",
                {"user": dict(user)}),
    ]  # fmt: skip
    if tfa is not None:
        files.append(RawFile("raw/auth/tfa.json", "tfa", None, "GET /v1/client/tfa",
                             {"tfa": dict(tfa)}))  # fmt: skip
    for region, region_apps in apps.items():
        files.append(RawFile(region_file(region, "apps.json"), "apps", region, "GET /v1/apps",
                             {"apps": region_apps}))  # fmt: skip
        owned = {a["name"] for a in region_apps if str(a["owner"].get("email", "")).lower() == me}
        files.append(RawFile(
            region_file(region, "collaborators.json"), "collaborators", region,
            "GET /v1/collaborators",
            {"collaborators": [c for a in region_apps if a["name"] in owned
                               for c in collaborators.get(a["name"], [])]},
        ))  # fmt: skip
        for a in region_apps:
            if a["name"] in owned:
                continue
            name = a["name"]
            files.append(RawFile(
                app_file(region, name, "collaborators.json"), "app_collaborators", region,
                f"GET /v1/apps/{name}/collaborators",
                {"collaborators": collaborators.get(name, [])}, app=name,
            ))  # fmt: skip
        for a in region_apps:
            name = a["name"]
            for page, body in enumerate((event_pages or {}).get(name, []), 1):
                files.append(RawFile(
                    app_file(region, name, f"events.page-{page}.json"), "app_events", region,
                    f"GET /v1/apps/{name}/events?page={page}", body, app=name,
                ))  # fmt: skip
    return files


def _tool_version() -> str:
    from . import __version__

    return __version__


def _dump(body: Any) -> bytes:
    """JSON as written to disk. Text that is not valid Unicode (a lone surrogate, which
    JSON allows as ``\\udc80``) is written as that same escape, never a crash."""
    return (json.dumps(body, indent=1, ensure_ascii=False) + "\n").encode(
        "utf-8", "backslashreplace"
    )


_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")
_RESERVED = {"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(10))}
MAX_SEGMENT = 100  # characters of an encoded name before it is cut and hashed


def name_segment(name: object) -> str:
    """The file or directory name that stands for an API name (a region or an app).

    Lowercase ASCII letters, digits, ``-`` and ``_`` are kept; every other byte of the
    name's UTF-8 becomes ``%XX``. So ``.``, ``..``, ``/``, NUL, newlines and control
    characters are never path syntax, two names that differ only in case stay two files
    on a case-insensitive disk, and Windows device names (``con``, ``nul``) are escaped.
    An encoding longer than :data:`MAX_SEGMENT` is cut and ends with ``~`` and a hash of
    the whole name (``~`` appears in no other encoding), so it stays under every file
    system's name limit. The name itself is kept in the manifest (``app``, ``region``).
    """
    raw = str(name).encode("utf-8", "surrogatepass")
    text = "".join(chr(b) if b in _KEEP else f"%{b:02X}" for b in raw)
    if text in _RESERVED:
        text = f"%{ord(text[0]):02X}{text[1:]}"
    if len(text) > MAX_SEGMENT or not text:
        cut = text[: MAX_SEGMENT - 18]
        cut = cut[: cut.rfind("%")] if "%" in cut[-2:] else cut  # never half an escape
        text = f"{cut}~{hashlib.sha256(raw).hexdigest()[:16]}"
    return text


def region_file(region: str, leaf: str) -> str:
    """``raw/<region>/<leaf>``, the region's name encoded by :func:`name_segment`."""
    return f"raw/{name_segment(region)}/{leaf}"


def app_file(region: str, app: str, leaf: str) -> str:
    """``raw/<region>/apps/<app>/<leaf>``, both names encoded by :func:`name_segment`."""
    return f"raw/{name_segment(region)}/apps/{name_segment(app)}/{leaf}"


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(data)


RESERVE = 1 << 20  # bytes a live collection sets aside to be able to write its manifest


class Writer:
    """Writes a snapshot file by file into a hidden temporary sibling of ``target``.

    Raw files are written as they arrive (a collection that stops keeps them); the
    manifest comes last, then :meth:`finish` renames the directory to ``target``, or
    :meth:`keep` to another name (``SNAPSHOT.incomplete``). Paths are made unique (two
    apps of one name get ``collaborators.json`` and ``collaborators~2.json``) and must
    stay inside the directory. ``reserve`` bytes are set aside in a placeholder file at
    the start and released just before the manifest is written, so a disk that fills up
    during a collection still has room for the manifest of what was collected.
    ``write_file(path, data)`` is the one place bytes reach the disk (injectable, e.g. to
    simulate a full disk).
    """

    def __init__(
        self,
        target: str | Path,
        *,
        reserve: int = 0,
        write_file: Callable[[Path, bytes], None] | None = None,
    ) -> None:
        self.target = Path(target)
        self.files: list[RawFile] = []
        self._write = write_file or _write_file
        self._used: set[str] = set()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(
            tempfile.mkdtemp(prefix=f".{self.target.name[:100]}.partial-", dir=self.target.parent)
        )
        self._reserve: Path | None = None
        try:
            if reserve:
                self._reserve = self.tmp / ".reserve"
                self._write(self._reserve, bytes(reserve))
        except BaseException:
            self.discard()
            raise

    def add(self, f: RawFile) -> RawFile:
        """Write one raw file now; returns it with the (unique) path it was given."""
        path = f.path
        stem, dot, ext = path.rpartition(".")
        n = 1
        while path.casefold() in self._used:
            n += 1
            path = f"{stem}~{n}{dot}{ext}"
        dest = self.tmp / path
        if ".." in Path(path).parts or not dest.resolve().is_relative_to(self.tmp.resolve()):
            raise ValueError(f"raw file path outside the snapshot: {path!r}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._write(dest, _dump(f.body))
        kept = f if path == f.path else dataclasses.replace(f, path=path)
        self._used.add(path.casefold())
        self.files.append(kept)
        return kept

    def _manifest(self, snapshot: Snapshot) -> None:
        if self._reserve is not None:
            self._reserve.unlink(missing_ok=True)
            self._reserve = None
        manifest = self.tmp / "manifest.json"
        manifest.unlink(missing_ok=True)
        self._write(manifest, dataclasses.replace(snapshot, files=self.files).manifest_bytes())

    def finish(self, snapshot: Snapshot) -> Path:
        """Write the manifest (of ``snapshot``'s fields and the files added) and rename the
        directory to ``target``, which must not exist."""
        if self.target.exists():
            raise InputError("already exists; choose another directory", file=self.target)
        self._manifest(snapshot)
        self.tmp.rename(self.target)
        return self.target

    def keep(self, snapshot: Snapshot, dest: Path) -> Path:
        """Write the manifest and rename the directory to ``dest``, replacing an older one
        there. If the manifest cannot be written, the raw files still move to ``dest``
        and the error is raised."""
        try:
            self._manifest(snapshot)
        finally:
            if dest.exists():
                old = dest.with_name(f".{dest.name[:100]}.old-{os.getpid()}")
                dest.rename(old)
                self.tmp.rename(dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                self.tmp.rename(dest)
        return dest

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def write(snapshot: Snapshot, directory: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``snapshot`` to ``directory`` atomically (temporary sibling, then rename)."""
    target = Path(directory)
    if target.exists() and not overwrite:
        raise InputError("already exists; choose another directory or remove it", file=target)
    writer = Writer(target)
    try:
        for f in snapshot.files:
            writer.add(f)
        if overwrite and target.exists():
            return writer.keep(snapshot, target)
        return writer.finish(snapshot)
    except BaseException:
        writer.discard()
        raise


def is_snapshot(path: str | Path) -> bool:
    return (Path(path) / "manifest.json").is_file()


def validate_manifest(manifest: Any, manifest_path: Path) -> None:
    """Check a parsed ``manifest.json``'s format, version, required fields and their types
    (its ``files`` entries are checked one by one by :func:`read`)."""
    if not isinstance(manifest, dict):
        raise InputError("the manifest must be a JSON object", file=manifest_path)
    if manifest.get("format") != FORMAT:
        raise InputError(
            f"not a scalingo-audit snapshot (expected '{FORMAT}')",
            file=manifest_path,
            field="format",
        )
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise InputError(
            f"unsupported snapshot format version {excerpt(version)} (this scalingo-audit reads "
            f"{FORMAT_VERSION})",
            file=manifest_path,
            field="format_version",
        )
    for key in ("collected_at", "collected_by", "regions", "files"):
        if key not in manifest:
            raise InputError("missing required field", file=manifest_path, field=key)
    for key, kind in (("files", list), ("regions", list), ("gaps", (list, type(None)))):
        if not isinstance(manifest.get(key), kind):
            raise InputError(
                f"must be a list, not {excerpt(manifest.get(key))}", file=manifest_path, field=key
            )
    if not all(isinstance(r, str) for r in manifest["regions"]):
        raise InputError("must be a list of region names", file=manifest_path, field="regions")
    if not all(isinstance(g, dict) for g in manifest.get("gaps") or []):
        raise InputError("must be a list of objects", file=manifest_path, field="gaps")
    if not isinstance(manifest["collected_at"], str):
        raise InputError(
            f"must be an ISO 8601 date, not {excerpt(manifest['collected_at'])}",
            file=manifest_path,
            field="collected_at",
        )
    days = manifest.get("events_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise InputError(
            f"expected a number of days or null, got {excerpt(days)}",
            file=manifest_path,
            field="events_days",
        )
    if not isinstance(manifest["collected_by"], dict | str):
        raise InputError(
            "must be an object with the collecting account's email and user_id",
            file=manifest_path,
            field="collected_by",
        )


def entry_problem(entry: Any) -> tuple[str | None, str] | None:
    """What is wrong with one entry of a manifest's ``files``, as ``(field, reason)`` (field
    ``None`` when the entry is not an object), or ``None`` when :func:`read` can use it."""
    if not isinstance(entry, dict):
        return None, "must be an object"
    for key in ("path", "kind"):
        if not entry.get(key):
            return key, "missing required field"
        if not isinstance(entry[key], str):
            return key, f"must be a string, not {excerpt(entry[key])}"
    for key in ("region", "app", "request", "sha256"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            return key, f"must be a string or null, not {excerpt(entry[key])}"
    if entry["kind"] not in KINDS:
        return "kind", f"unknown kind {excerpt(entry['kind'])} (expected one of {', '.join(KINDS)})"
    if not inside(entry["path"]):
        return "path", "path must stay inside the snapshot"
    return None


def inside(rel: str) -> bool:
    """Whether a manifest's relative ``path`` names a file inside the snapshot: relative,
    no ``..``, no backslash, no NUL."""
    p = PurePosixPath(rel)
    return not p.is_absolute() and ".." not in p.parts and "\\" not in rel and "\0" not in rel


def read(directory: str | Path, *, verify: bool = True) -> Snapshot:
    """Read a snapshot directory; raises :class:`InputError` naming the file and field at fault.

    Every raw file must be a regular file inside the snapshot and, with ``verify`` (the
    default), match the size and SHA-256 the manifest records; ``verify=False`` loads
    altered files anyway and returns a snapshot marked ``verified=False``."""
    root = Path(directory)
    manifest_path = root / "manifest.json"
    manifest_bytes = regular_file_bytes(root, "manifest.json")
    manifest = parse_json(manifest_bytes, manifest_path)
    validate_manifest(manifest, manifest_path)
    files = []
    for i, entry in enumerate(manifest["files"]):
        problem = entry_problem(entry)
        if problem is not None:
            key, reason = problem
            raise InputError(reason, file=manifest_path, record=f"files[{i}]", field=key)
        raw = regular_file_bytes(root, entry["path"])
        if verify:
            _check_recorded(raw, entry, root / entry["path"])
        files.append(
            RawFile(
                path=entry["path"],
                kind=entry["kind"],
                region=entry.get("region"),
                app=entry.get("app"),
                request=entry.get("request") or "",
                body=parse_json(raw, root / entry["path"]),
            )
        )
    files = _redact_on_load(files, root)
    redacted = manifest.get("redacted")
    by = manifest["collected_by"]
    endpoints = manifest.get("endpoints")
    requests = manifest.get("requests")
    return Snapshot(
        collected_at=str(manifest["collected_at"]),
        collected_by=by if isinstance(by, dict) else {"email": str(by)},
        regions=list(manifest["regions"]),
        files=files,
        origin=str(manifest.get("origin", "api")),
        requests=requests if isinstance(requests, int) and not isinstance(requests, bool) else 0,
        events_days=manifest.get("events_days"),
        gaps=list(manifest.get("gaps") or []),
        location=str(root),
        tool_version=str(manifest.get("tool_version", "")),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        endpoints=endpoints if isinstance(endpoints, dict) else None,
        verified=verify,
        redacted=_count(redacted.get("variable_values")) if isinstance(redacted, dict) else None,
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _redact_on_load(files: list[RawFile], root: Path) -> list[RawFile]:
    """Event files as they should have been written: a snapshot from before redaction (or
    edited since) may hold variable values; they are redacted in memory, with one warning."""
    out: list[RawFile] = []
    total = 0
    for f in files:
        if f.kind == "app_events":
            body, n = redact_events(f.body)
            if n:
                total += n
                f = dataclasses.replace(f, body=body)
        out.append(f)
    if total:
        warnings.warn(
            DataWarning(
                f"{root}: {total} environment variable value(s) found in app events were "
                f"redacted in memory (the snapshot predates redaction); the files on disk "
                f"still hold them: collect again to get a snapshot without them"
            ),
            stacklevel=3,
        )
    return out


NO_VERIFY_HINT = (
    "the evidence does not match its manifest (scalingo-audit verify SNAPSHOT lists every "
    "difference; --no-verify loads it anyway, marked UNVERIFIED)"
)


def _check_recorded(raw: bytes, entry: Mapping[str, Any], path: Path) -> None:
    """Refuse a raw file whose size or SHA-256 differs from what the manifest records."""
    size, sha = entry.get("size"), entry.get("sha256")
    if isinstance(size, int) and not isinstance(size, bool) and size != len(raw):
        raise InputError(
            f"altered since collection: {len(raw)} bytes, the manifest records {size}; "
            + NO_VERIFY_HINT,
            file=path,
        )
    if not isinstance(sha, str) or not sha:
        raise InputError(
            f"the manifest records no sha256 for this file; {NO_VERIFY_HINT}", file=path
        )
    if hashlib.sha256(raw).hexdigest() != sha.lower():
        raise InputError(
            f"altered since collection: its SHA-256 differs from the manifest's; {NO_VERIFY_HINT}",
            file=path,
        )


def regular_file_bytes(root: Path, rel: str) -> bytes:
    """The bytes of ``root/rel``, which must be a regular file reached without following any
    symlink (no FIFO, device, socket or directory either): evidence must be what it seems."""
    path = root
    parts = PurePosixPath(rel).parts
    for i, part in enumerate(parts):
        path = path / part
        try:
            st = path.lstat()
        except FileNotFoundError:
            raise InputError("file not found", file=path) from None
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror})", file=path) from None
        if stat.S_ISLNK(st.st_mode):
            raise InputError("is a symbolic link; a snapshot holds regular files only", file=path)
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            raise InputError("not a directory", file=path)
        if last and not stat.S_ISREG(st.st_mode):
            raise InputError(
                "not a regular file (a FIFO, device or directory?); a snapshot holds regular "
                "files only",
                file=path,
            )
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # swapped since lstat()
            raise InputError("not a regular file", file=path)
        return fh.read()


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes as hexadecimal, what ``sha256sum`` prints; read in
    chunks (:func:`hashlib.file_digest`), never whole into memory. Raises :class:`OSError`."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def parse_json(raw: bytes, path: Path) -> Any:
    """Parse JSON bytes read from ``path``; every failure is an :class:`InputError` naming it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", file=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=path
        ) from None
    except RecursionError:
        raise InputError("JSON nested too deeply to be read", file=path) from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            data = _valid_unicode(data)
        except RecursionError:
            raise InputError("JSON nested too deeply to be read", file=path) from None
    return data


def read_json(path: Path) -> Any:
    """Parse a JSON file, turning every failure into an :class:`InputError` naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path) from None
    return parse_json(raw, path)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _valid_unicode(value: Any) -> Any:
    """``value`` with every lone surrogate (JSON allows ``"\\udc80"``, which is no
    character) replaced by U+FFFD, so that names read from a raw file can be written to
    any output as UTF-8. The raw file itself keeps the exact original."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_valid_unicode(v) for v in value]
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    return value
