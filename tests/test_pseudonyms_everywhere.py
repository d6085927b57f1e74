"""Pseudonyms everywhere: emails in any script and with quoted local parts, people's names in
event type_data, and one key file, resolved once, used by the CLI and every report notebook."""

from __future__ import annotations

import html
import json
import os
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from scalingo_audit.pseudonymise import Pseudonymiser, key_path, pseudonymise
from scalingo_audit.resources import notebooks_dir
from scalingo_audit.snapshot import Snapshot, api_files, write
from scalingo_audit.sources import load

from . import clirun
from .orgs import COLLECTED_AT, COLLECTOR, app, collab

KEY = bytes(range(32))
EMAILS = [
    "jörg.müller@bücher.example",
    "用户@例子.example",
    '"john doe"@acme.example',
    "zoë+ops@acme.example",
    "δοκιμή@παράδειγμα.example",
    "o'brien@acme.example",
]
NAMES = ["Jörg Müller", "李 用户", "Zoë Ops-Dupont"]
# what must not survive anywhere: the addresses, their local parts, their domains, the names
NEEDLES = [
    *EMAILS, "jörg.müller", "john doe", "zoë+ops", "δοκιμή", "o'brien",
    "bücher.example", "例子.example", "παράδειγμα.example", *NAMES,
]  # fmt: skip


def world() -> Snapshot:
    apps = [app("shop"), app("blog", owner=EMAILS[0])]
    collaborators = [collab("shop", e, tfa=i % 2 == 0) for i, e in enumerate(EMAILS)]
    collaborators.append(collab("blog", EMAILS[1], limited=True))
    by_app: dict[str, list[dict]] = {}
    for c in collaborators:
        by_app.setdefault(c["app_name"], []).append(c)
    event = {
        "id": "ev-1",
        "created_at": "2026-09-20T10:00:00Z",
        "type": "new_collaborator",
        "app_id": "ap-shop",
        "app_name": "shop",
        "user": {"id": "us-ops", "username": "ops", "email": COLLECTOR},
        "type_data": {
            "collaborator": {
                "email": EMAILS[0],
                "fullname": NAMES[0],
                "username": "jmueller",
                "inviter": {"email": EMAILS[1], "fullname": NAMES[1]},
            },
            "note": f"invited after a call with {EMAILS[2]} and {NAMES[2]} ({EMAILS[3]})",
        },
    }
    deploy = {
        "id": "ev-2",
        "created_at": "2026-09-25T10:00:00Z",
        "type": "deployment",
        "app_id": "ap-shop",
        "app_name": "shop",
        "user": {"id": "us-x", "username": "zops", "email": EMAILS[3], "fullname": NAMES[2]},
        "type_data": {"pusher": EMAILS[4], "git_ref": "0" * 40},
    }
    files = api_files(
        user={"id": "us-ops", "email": COLLECTOR, "username": "ops"},
        tokens=[],
        apps={"osc-fr1": [{k: v for k, v in a.items() if k != "region"} for a in apps]},
        collaborators=by_app,
        event_pages={"shop": [{"events": [deploy, event]}], "blog": [{"events": []}]},
    )
    return Snapshot(
        collected_at=COLLECTED_AT,
        collected_by={"email": COLLECTOR, "user_id": "us-ops"},
        regions=["osc-fr1"],
        files=files,
        events_days=30,
        gaps=[{"region": "osc-fr1", "app": None, "request": "GET /v1/apps/x/events",
               "status": 500, "error": f"failed while {EMAILS[5]} watched"}],
    )  # fmt: skip


def leaks(text: str) -> list[str]:
    """Needles in ``text`` as written, HTML-unescaped or JSON-unescaped."""
    forms = {
        text,
        html.unescape(text),
        text.replace('\\"', '"'),
        html.unescape(html.unescape(text)),
    }
    low = [f.lower() for f in forms]
    return sorted({n for n in NEEDLES for f in low if n.lower() in f})


@pytest.mark.parametrize(
    "text",
    [f"write to {e}, please." for e in EMAILS] + [f"<{e}>" for e in EMAILS],
)
def test_emails_in_any_script_are_found_in_free_text(text: str) -> None:
    out = Pseudonymiser(KEY, load("demo").policy).text(text)
    assert leaks(out) == [], out
    assert (
        "@unclassified.invalid" in out or "@internal.invalid" in out or "@external.invalid" in out
    )


def test_the_same_address_gets_the_same_pseudonym_in_columns_and_text() -> None:
    p = Pseudonymiser(KEY, load("demo").policy)
    for e in EMAILS:
        assert p.text(f"({e})") == f"({p.email(e)})"


def test_type_data_people_and_names_are_pseudonymised(tmp_path: Path) -> None:
    data = load(write(world(), tmp_path / "snap"))
    p = pseudonymise(data, KEY)
    for frame in (p.apps, p.memberships, p.people, p.events, p.tokens):
        text = frame.to_json(orient="records", force_ascii=False, date_format="iso")
        assert leaks(text) == [], leaks(text)
    body = json.loads(p.events.set_index("event_id").loc["ev-1", "type_data"])
    assert body["collaborator"]["fullname"].startswith("name-")
    assert body["collaborator"]["inviter"]["fullname"].startswith("name-")
    assert leaks(json.dumps([g for g in p.info.gaps], ensure_ascii=False)) == []


def test_the_key_path_is_absolute_and_decided_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCALINGO_AUDIT_PSEUDONYM_KEY", "keys/pseudo.key")
    resolved = key_path()
    assert resolved.is_absolute() and resolved == tmp_path / "keys" / "pseudo.key"


def test_no_such_email_or_name_in_any_output_and_one_key_file(tmp_path: Path) -> None:
    snap = write(world(), tmp_path / "snap")
    env = {**os.environ, "SCALINGO_AUDIT_PSEUDONYM_KEY": "keys/pseudo.key"}  # relative!
    before = {p for p in notebooks_dir().rglob("*") if p.is_file()}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        r = clirun.run(*args, "--pseudonymise", env=env, cwd=tmp_path)
        assert r.returncode in (0, 1), r.stderr[-3000:]
        return r

    outputs: dict[str, str] = {}
    for fmt in ("table", "json", "csv"):
        r = run("check", str(snap), "--format", fmt)
        outputs[f"check {fmt}"] = r.stdout + r.stderr
    run("review", str(snap), "--out", "review.xlsx")
    run("review", str(snap), "--out", "review.csv")
    r = run("report", str(snap), "--out", "report", "--pages")
    assert (tmp_path / "report" / "index.html").is_file(), (
        r.returncode,
        r.stdout,
        r.stderr[-2000:],
    )
    outputs["report stderr"] = r.stdout + r.stderr
    files = [tmp_path / "review.csv", tmp_path / "review.xlsx"]
    files += sorted(p for p in (tmp_path / "report").rglob("*") if p.is_file())
    assert len(files) >= 9
    for f in files:
        if f.suffix == ".xlsx":
            wb = load_workbook(f)
            outputs[str(f.relative_to(tmp_path))] = "\n".join(
                str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            )
        else:
            outputs[str(f.relative_to(tmp_path))] = f.read_text(encoding="utf-8-sig")
    for name, text in outputs.items():
        assert leaks(text) == [], (name, leaks(text))
    assert (
        "@external.invalid" in outputs["check json"]
        or "@unclassified.invalid" in (outputs["check json"])
    )
    # one key file, where the relative path pointed when the command started
    keys = [p for p in tmp_path.rglob("pseudo.key")]
    assert keys == [tmp_path / "keys" / "pseudo.key"]
    after = {p for p in notebooks_dir().rglob("*") if p.is_file()}
    assert after == before  # no second key beside the notebooks
