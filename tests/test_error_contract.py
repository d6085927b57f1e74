"""One error contract: every bad input class, fed to every command that reads it, exits 2 with
one line on stderr and no traceback; unexpected errors too ("internal error", --debug for the
traceback); messages quote at most a short escaped excerpt; an account with no apps is a
valid audit."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from scalingo_audit import cli, snapshot
from scalingo_audit.errors import EXCERPT_CHARS, excerpt
from scalingo_audit.policy import load_policy

from . import clirun
from .orgs import app, collab, reseal
from .orgs import snapshot as org_snapshot

# much of its time spent waiting (sockets, timeouts, child processes): run beside a slow
# module (conftest)
pytestmark = pytest.mark.waits

MANIFEST = "manifest.json"
APPS = "raw/osc-fr1/apps.json"
COLLABS = "raw/osc-fr1/collaborators.json"

# A 473-byte-class YAML alias bomb: 9^9 strings if anything walked or printed it whole.
ALIAS_BOMB = (
    "thresholds:\n  max_full_apps: ["
    + '&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"], '
    + ", ".join(
        f"&{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    + "]\n"
)


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    return clirun.run(*args, cwd=cwd, env={**os.environ, **(env or {})})


def assert_one_line(r: subprocess.CompletedProcess[str], *, contains: str = "") -> str:
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr[-3000:]
    line = lines[0]
    assert line.startswith("scalingo-audit"), line
    assert len(line) < 1500, len(line)
    assert not any(c in line for c in "\x1b\x00\r"), line
    assert contains in line, line
    return line


def base(tmp: Path) -> Path:
    s = org_snapshot(
        [app("shop"), app("blog", owner="alice@acme.example")],
        [collab("shop", "carol@acme.example"), collab("blog", "dave@agency.example")],
    )
    return snapshot.write(s, tmp / "snap")


def edit_json(rel: str, fn: Callable[[dict], object], *, seal: bool = True):
    """A snapshot whose ``rel`` the API (seal=True) or an attacker (seal=False) changed."""

    def make(root: Path) -> None:
        path = root / rel
        body = json.loads(path.read_text())
        fn(body)
        path.write_text(json.dumps(body))
        if seal and rel != MANIFEST:
            reseal(root)

    return make


def write_raw(rel: str, data: bytes):
    def make(root: Path) -> None:
        (root / rel).write_bytes(data)
        reseal(root)

    return make


def _fifo(root: Path) -> None:
    (root / COLLABS).unlink()
    os.mkfifo(root / COLLABS)


def _symlink(root: Path) -> None:
    outside = root.parent / "outside.json"
    (root / COLLABS).rename(outside)
    (root / COLLABS).symlink_to(outside)


def _tamper(root: Path) -> None:
    path = root / COLLABS
    path.write_bytes(path.read_bytes().replace(b"carol", b"karol"))


DEEP = b'{"apps": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"

# Bad snapshots: (id, how to spoil it, what the one line must contain)
SNAPSHOTS: list[tuple[str, Callable[[Path], object], str]] = [
    ("files-not-a-list", edit_json(MANIFEST, lambda b: b.update(files="raw")), "field 'files'"),
    ("regions-a-number", edit_json(MANIFEST, lambda b: b.update(regions=5)), "field 'regions'"),
    ("gaps-an-object", edit_json(MANIFEST, lambda b: b.update(gaps={"a": 1})), "field 'gaps'"),
    ("path-a-number", edit_json(MANIFEST, lambda b: b["files"][0].update(path=5)), "field 'path'"),
    ("kind-a-list", edit_json(MANIFEST, lambda b: b["files"][0].update(kind=["apps"])), "kind"),
    ("events-days-text", edit_json(MANIFEST, lambda b: b.update(events_days="7")), "events_days"),
    ("collected-at-int", edit_json(MANIFEST, lambda b: b.update(collected_at=12)), "collected_at"),
    ("collected-by-list", edit_json(MANIFEST, lambda b: b.update(collected_by=[1])), MANIFEST),
    ("format-version-huge", edit_json(MANIFEST, lambda b: b.update(format_version="9" * 5000)),
     "format version"),
    ("apps-null", edit_json(APPS, lambda b: b.update(apps=None)), "field 'apps'"),
    ("app-a-string", edit_json(APPS, lambda b: b.update(apps=["shop"])), "apps[0]"),
    ("owner-a-list", edit_json(APPS, lambda b: b["apps"][0].update(owner=["x"])), "owner"),
    ("name-10k-newlines", edit_json(APPS, lambda b: b["apps"][0].update(
        name="\n\x1b[31m" * 5000, created_at="soon")), "created_at"),
    ("status-a-dict", edit_json(COLLABS, lambda b: b["collaborators"][0].update(
        status={"x": [1] * 10000})), "field 'status'"),
    ("is-limited-a-number", edit_json(COLLABS, lambda b: b["collaborators"][0].update(
        is_limited=7)), "is_limited"),
    ("deeply-nested-json", write_raw(APPS, DEEP), "nested too deeply"),
    ("not-utf8", write_raw(APPS, b'{"apps": ["\xff\xfe"]}'), "not UTF-8"),
    ("malformed-json", write_raw(APPS, b'{"apps": [}'), "malformed JSON"),
    ("manifest-deep", lambda r: (r / MANIFEST).write_bytes(DEEP), "nested too deeply"),
    ("fifo", _fifo, "not a regular file"),
    ("symlink", _symlink, "symbolic link"),
    ("tampered", _tamper, "altered since collection"),
]  # fmt: skip

# Bad policies (for the commands taking --policy)
POLICIES: list[tuple[str, str, str]] = [
    ("check-id-a-list", "exceptions:\n  - {check_id: [token_unused], reason: r, "
     "expires: 2027-01-01}\n", "'check_id' must be a string"),
    ("check-id-a-number", "exceptions:\n  - {check_id: 7, reason: r, expires: 2027-01-01}\n",
     "'check_id' must be a string"),
    ("invalid-date", "exceptions:\n  - {check_id: token_unused, reason: r, "
     "expires: 2027-02-30}\n", "'expires' is not a date"),
    ("duplicate-key", "internal_domains: [a.example]\ninternal_domains: [b.example]\n",
     "duplicate key 'internal_domains'"),
    ("duplicate-nested-key", "thresholds:\n  max_full_apps: 3\n  max_full_apps: 4\n",
     "duplicate key 'max_full_apps' at line 3"),
    ("alias-bomb", ALIAS_BOMB, "thresholds.max_full_apps"),
    ("deep-yaml", "a: " + "[" * 50_000 + "]" * 50_000 + "\n", "policy"),
    ("not-a-mapping", "- just\n- a list\n", "must be a mapping"),
    ("reason-a-list", "exceptions:\n  - {check_id: token_unused, reason: [a], "
     "expires: 2027-01-01}\n", "'reason' is required"),
    ("app-a-mapping", "exceptions:\n  - {check_id: token_unused, reason: r, app: {a: 1}, "
     "expires: 2027-01-01}\n", "'app' must be a string"),
]  # fmt: skip


def snapshot_commands(snap: Path, good: Path, tmp: Path) -> dict[str, list[str]]:
    return {
        "check": ["check", str(snap)],
        "check-json": ["check", str(snap), "--format", "json"],
        "report": ["report", str(snap), "--out", str(tmp / "report")],
        "review": ["review", str(snap), "--out", str(tmp / "review.xlsx")],
        "diff-old": ["diff", str(snap), str(good)],
        "diff-new": ["diff", str(good), str(snap), "--format", "json"],
        "verify": ["verify", str(snap)],
        "collect-since": ["collect", "--out", str(tmp / "new"), "--since", str(snap), "--quiet"],
        "init-policy": ["init-policy", str(snap), "--out", str(tmp / "policy.yaml")],
        "notify": ["notify", str(snap), "--baseline", str(good)],
        "check-baseline": ["check", str(good), "--baseline", str(snap)],
    }


# `verify` checks the evidence, not its content: raw bodies the manifest vouches for verify
# (0); a file that is not what the manifest records, or a manifest entry that loading
# refuses (snapshot.entry_problem, the one validator), fails verification (1); a manifest
# that cannot be read as one is bad input (2, like every other command).
VERIFY_EXIT = {
    "fifo": 1, "symlink": 1, "tampered": 1, "path-a-number": 1,
    "kind-a-list": 1, "apps-null": 0, "app-a-string": 0,
    "owner-a-list": 0, "name-10k-newlines": 0, "status-a-dict": 0, "is-limited-a-number": 0,
    "deeply-nested-json": 0, "not-utf8": 0, "malformed-json": 0,
}  # fmt: skip


@pytest.mark.parametrize(("name", "spoil", "expected"), SNAPSHOTS, ids=[s[0] for s in SNAPSHOTS])
def test_every_bad_snapshot_is_one_line_and_exit_2_for_every_command(
    tmp_path: Path,
    name: str,
    spoil: Callable[[Path], object],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snap = base(tmp_path)
    good = snapshot.write(org_snapshot([app("shop")]), tmp_path / "good")
    spoil(snap)
    monkeypatch.setenv("SCALINGO_API_TOKEN", "tk-us-not-used")
    monkeypatch.setenv("SCALINGO_AUTH_URL", "http://127.0.0.1:9")  # never reached
    monkeypatch.setenv("SCALINGO_AUDIT_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # nor this
    for label, args in snapshot_commands(snap, good, tmp_path).items():
        r = run(*args)
        if label == "verify" and name in VERIFY_EXIT:
            assert r.returncode == VERIFY_EXIT[name], (label, r.stdout, r.stderr)
            assert "Traceback" not in r.stderr
            continue
        line = assert_one_line(r, contains="" if label in ("verify", "collect-since") else expected)
        assert "internal error" not in line, (label, line)
        assert not (tmp_path / "report").exists() and not (tmp_path / "review.xlsx").exists()
        assert not (tmp_path / "new").exists() and not (tmp_path / "policy.yaml").exists()


@pytest.mark.parametrize(("name", "text", "expected"), POLICIES, ids=[p[0] for p in POLICIES])
def test_every_bad_policy_is_one_line_and_exit_2_for_every_command(
    tmp_path: Path,
    name: str,
    text: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCALINGO_AUDIT_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # never reached
    snap = base(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    commands = {
        "check": ["check", str(snap)],
        "report": ["report", str(snap), "--out", str(tmp_path / "report")],
        "review": ["review", str(snap), "--out", str(tmp_path / "review.xlsx")],
        "diff": ["diff", str(snap), str(snap)],
        "check-baseline": ["check", str(snap), "--baseline", str(snap)],
        "notify": ["notify", str(snap), "--baseline", str(snap)],
    }
    for args in commands.values():
        line = assert_one_line(run(*args, "--policy", str(policy)), contains=expected)
        assert "lol" not in line or line.count("lol") < 10
        assert "internal error" not in line
    assert not (tmp_path / "report").exists()


def test_the_alias_bomb_is_quoted_as_a_short_excerpt() -> None:
    import yaml

    value = yaml.safe_load(ALIAS_BOMB)["thresholds"]["max_full_apps"]
    assert len(excerpt(value)) <= EXCERPT_CHARS
    assert len(ALIAS_BOMB) < 600


def test_an_invalid_date_elsewhere_names_its_key(tmp_path: Path) -> None:
    assert "--as-of: not a date" in assert_one_line(run("check", "demo", "--as-of", "2027-02-30"))
    ok = tmp_path / "ok.yaml"
    ok.write_text("exceptions:\n  - {check_id: token_unused, reason: r, expires: 2027-02-28}\n")
    assert load_policy(ok).exceptions[0].expires.isoformat() == "2027-02-28"


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(
        "exceptions:\n"
        "  - &e {check_id: token_unused, reason: r, expires: 2027-01-01, token_name: a}\n"
        "  - {<<: *e, token_name: b}\n"
    )
    assert [e.token_name for e in load_policy(p).exceptions] == ["a", "b"]


@pytest.mark.parametrize(
    "args",
    [
        ["report", "SNAP", "--out", "FILE"],
        ["review", "SNAP", "--out", "DIR.xlsx"],
        ["demo", "--out", "FILE"],
        ["check", "SNAP", "--output-file", "DIR.xlsx"],
    ],
)
def test_an_output_path_of_the_wrong_kind_is_one_line(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "file").write_text("a file")
    (tmp_path / "dir.xlsx").mkdir()
    base(tmp_path)
    r = run(*[str(tmp_path / a.lower()) if a in ("FILE", "DIR.xlsx", "SNAP") else a for a in args])
    assert_one_line(r)
    assert (tmp_path / "file").read_text() == "a file"


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    for args in (["check", "demo", "--format", "xml"], ["nope"], ["collect", "--events-days", "x"]):
        line = assert_one_line(run(*args))
        assert "(see --help)" in line


# --- unexpected errors ------------------------------------------------------------------------


def test_an_unexpected_error_is_an_internal_error_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("something \x1b[2Jbroke\nhere")

    monkeypatch.setattr("scalingo_audit.notebook.open_audit", boom)
    assert cli.main(["check", "demo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("scalingo-audit: internal error: ZeroDivisionError: something ")
    assert "(please report; --debug shows the traceback)" in err
    assert "\x1b" not in err
    for args in (["--debug", "check", "demo"], ["check", "demo", "--debug"]):
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and "ZeroDivisionError" in err
        assert err.strip().splitlines()[-1].startswith("scalingo-audit: internal error:")


def test_an_io_error_is_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", "/reports/x.html")

    monkeypatch.setattr("scalingo_audit.notebook.open_audit", full)
    assert cli.main(["check", "demo"]) == 2
    assert capsys.readouterr().err == (
        "scalingo-audit: error: /reports/x.html: No space left on device\n"
    )


# --- an account with no apps -------------------------------------------------------------------


@pytest.fixture
def empty_account(tmp_path: Path) -> Path:
    s = org_snapshot([])
    s.regions = ["osc-fr1"]
    s.gaps = [{"region": "osc-fr1", "app": None, "request": "GET /v1/apps", "status": 503,
               "error": "service unavailable"}]  # fmt: skip
    return snapshot.write(s, tmp_path / "empty")


def test_an_account_with_no_apps_is_a_valid_audit(empty_account: Path, tmp_path: Path) -> None:
    r = run("check", str(empty_account), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert all(f["severity"] == "info" for f in json.loads(r.stdout))
    assert "not audited" in r.stderr and "GET /v1/apps" in r.stderr
    r = run("review", str(empty_account), "--out", str(tmp_path / "r.xlsx"))
    assert r.returncode == 0, r.stderr
    assert run("diff", str(empty_account), str(empty_account)).returncode == 0


def test_an_account_with_no_apps_gets_a_report_showing_its_gaps(
    empty_account: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    r = clirun.run("report", str(empty_account), "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    index = (out / "index.html").read_text()
    assert "Coverage gaps" in index and "service unavailable" in index


EXPORTS: list[tuple[str, str, bytes, str]] = [
    ("deep-json", "export.json", b'{"collaborators": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
     "nested too deeply"),
    ("deep-record", "export.json", b'{"collaborators": [' + b'{"a":' * 5000 + b"1" + b"}" * 5000
     + b"]}", "nested too deeply"),
    ("many-keys", "export.json", json.dumps({f"k{i}": 1 for i in range(100_000)}).encode(),
     "found keys"),
    ("bad-role", "export.csv", b"App,Email,Role\nshop,a@acme.example," + b"\x1b[2J" * 3000 + b"\n",
     "unknown role"),
    ("not-utf8", "export.csv", b"App,Email,Role\nshop,\xff@acme.example,owner\n", "export.csv"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "filename", "data", "expected"), EXPORTS, ids=[e[0] for e in EXPORTS]
)
def test_every_bad_export_is_one_line_and_exit_2_for_every_command(
    tmp_path: Path,
    name: str,
    filename: str,
    data: bytes,
    expected: str,
) -> None:
    export = tmp_path / filename
    export.write_bytes(data)
    for args in (
        ["check", str(export)],
        ["report", str(export), "--out", str(tmp_path / "report")],
        ["review", str(export), "--out", str(tmp_path / "r.xlsx")],
        ["diff", str(export), "demo"],
    ):
        line = assert_one_line(run(*args), contains=expected)
        assert "internal error" not in line
