"""Pseudonymised audits: no email, username or user id of the demo is left in any output;
pseudonyms are stable for a key, keep the internal/external class, and can be reversed by
the key holder."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from scalingo_audit import frames, output, tables
from scalingo_audit.checks import run_checks
from scalingo_audit.errors import AuditError, InputError
from scalingo_audit.evidence import provenance
from scalingo_audit.model import AuditData
from scalingo_audit.notebook import open_audit
from scalingo_audit.policy import Policy
from scalingo_audit.pseudonymise import (
    KEY_ENV,
    Pseudonymiser,
    load_or_create_key,
    mapping,
    pseudonymise,
    reidentify,
    reidentify_text,
)
from scalingo_audit.report import build_report, render_index
from scalingo_audit.resources import notebooks_dir
from scalingo_audit.sources import load

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
PSEUDO_EMAIL = re.compile(r"^person-[0-9a-f]{12}@(internal|external|unclassified)\.invalid$")


def identifiers(data: AuditData) -> dict[str, set[str]]:
    """Every email, username and user id of ``data`` (not pseudonymised)."""
    m, a, e = data.memberships, data.apps, data.events
    emails = {*m["email"].dropna(), *a["owner_email"].dropna(), *data.tokens["account_email"]}
    emails |= {*data.policy.service_accounts, *data.policy.api_token_accounts}
    emails |= {x.email for x in data.policy.exceptions if x.email}
    if data.info.collected_by:
        emails.add(data.info.collected_by)
    usernames = {
        *m["username"].dropna(),
        *a["owner_username"].dropna(),
        *e["user_username"].dropna(),
    }
    ids = {*m["user_id"].dropna(), *a["owner_id"].dropna(), *e["user_id"].dropna()}
    return {"email": emails, "username": usernames, "user_id": ids}


def leaks(text: str, ids: dict[str, set[str]]) -> list[str]:
    """Identifiers found in ``text``: emails and ids anywhere (case-insensitive), usernames
    as whole words (``ops`` must not be found inside ``devops`` or plotly.js code)."""
    low = text.lower()
    found = {x for x in ids["email"] | ids["user_id"] if x.lower() in low}
    if ids["username"]:  # one pass over the text for all usernames (pages are ~5 MB)
        names = sorted(ids["username"], key=len, reverse=True)
        words = "|".join(re.escape(n) for n in names)
        pattern = re.compile(rf"(?<![\w.@/-])(?:{words})(?![\w@/-])", re.IGNORECASE)
        by_lower = {n.lower(): n for n in names}
        found |= {by_lower[m.group(0).lower()] for m in pattern.finditer(text)}
    return sorted(found)


@pytest.fixture(scope="module")
def demo() -> AuditData:
    return load("demo")


@pytest.fixture(scope="module")
def demo_ids(demo: AuditData) -> dict[str, set[str]]:
    ids = identifiers(demo)
    assert len(ids["email"]) > 100 and len(ids["username"]) > 100 and len(ids["user_id"]) > 100
    return ids


@pytest.fixture(scope="module")
def pseudo(demo: AuditData) -> AuditData:
    return pseudonymise(demo, KEY)


def frame_text(data: AuditData) -> str:
    parts = [
        df.astype("string").fillna("").to_csv(index=False)
        for df in (data.apps, data.memberships, data.people, data.tokens, data.events)
    ]
    parts.append(json.dumps(data.info.as_dict()))
    parts.append(repr(data.policy))
    return "\n".join(parts)


# --- the key -----------------------------------------------------------------------------


def test_key_is_created_once_with_0600(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config" / "scalingo-audit" / "pseudonym.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key  # reused, not replaced
    out = capsys.readouterr()
    assert key.hex() not in out.out + out.err and out.out == out.err == ""
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]  # no temporary left


def test_key_path_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "env.key"))
    key = load_or_create_key()
    assert (tmp_path / "env.key").read_bytes() == key
    explicit = load_or_create_key(tmp_path / "explicit.key")  # an explicit path wins
    assert explicit != key and (tmp_path / "explicit.key").exists()


def test_default_key_path_is_in_the_users_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    load_or_create_key()
    assert (tmp_path / ".config" / "scalingo-audit" / "pseudonym.key").is_file()


def test_a_short_key_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "short.key"
    path.write_bytes(b"short")
    with pytest.raises(InputError, match=r"short\.key.*too short"):
        load_or_create_key(path)


# --- pseudonyms ----------------------------------------------------------------------------


def test_pseudonyms_are_keyed_stable_and_case_insensitive() -> None:
    policy = Policy(internal_domains=("acme.example",))
    a, b = Pseudonymiser(KEY, policy), Pseudonymiser(KEY, policy)
    assert a.email("Hugo.Lefebvre@ACME.example") == b.email("hugo.lefebvre@acme.example")
    assert a.username("Hugo-Lefebvre") == b.username("hugo-lefebvre")
    assert a.user_id("us-1234567890abcdef") == b.user_id("us-1234567890abcdef")
    assert Pseudonymiser(OTHER_KEY, policy).email("x@acme.example") != a.email("x@acme.example")
    assert re.fullmatch(r"user-[0-9a-f]{12}", a.username("x"))
    assert re.fullmatch(r"us-[0-9a-f]{12}", a.user_id("us-1234567890abcdef"))


def test_email_class_is_kept_and_unclassified_without_internal_domains() -> None:
    p = Pseudonymiser(KEY, Policy(internal_domains=("acme.example",)))
    assert p.email("a@acme.example").endswith("@internal.invalid")
    assert p.email("a@eu.acme.example").endswith("@internal.invalid")
    assert p.email("a@agency.example").endswith("@external.invalid")
    assert Pseudonymiser(KEY, Policy()).email("a@acme.example").endswith("@unclassified.invalid")


def test_free_text_loses_emails_ids_and_known_usernames() -> None:
    p = Pseudonymiser(KEY, Policy())
    p.learn_usernames(["hugo-lefebvre", "ops"])
    text = p.text(
        "Hugo-Lefebvre (us-0123456789abcdef, Hugo.Lefebvre@acme.example) asked ops; devops ok"
    )
    assert "lefebvre" not in text.lower() and "us-0123456789abcdef" not in text
    assert " ops;" not in text and "devops ok" in text
    assert p.text(text) == text  # pseudonyms are left alone


def test_every_identifier_of_the_demo_is_replaced(
    pseudo: AuditData, demo_ids: dict[str, set[str]]
) -> None:
    assert leaks(frame_text(pseudo), demo_ids) == []
    assert all(PSEUDO_EMAIL.match(e) for e in pseudo.memberships["email"])
    assert pseudo.info.pseudonymised and PSEUDO_EMAIL.match(pseudo.info.collected_by or "")


def test_same_pseudonyms_across_runs_with_the_same_key(pseudo: AuditData) -> None:
    again = pseudonymise(load("demo"), KEY)
    pd.testing.assert_frame_equal(again.memberships, pseudo.memberships)
    pd.testing.assert_frame_equal(again.people, pseudo.people)
    other = pseudonymise(load("demo"), OTHER_KEY)
    assert set(other.people["email"]).isdisjoint(pseudo.people["email"])


def test_internal_external_class_is_preserved(demo: AuditData, pseudo: AuditData) -> None:
    assert len(pseudo.people) == len(demo.people)  # no two people merged
    by_class = pseudo.people["email"].str.rpartition("@")[2]
    expected = demo.people["internal"].map({True: "internal.invalid", False: "external.invalid"})
    assert sorted(by_class) == sorted(expected)
    assert pseudo.people["internal"].value_counts().to_dict() == (
        demo.people["internal"].value_counts().to_dict()
    )
    unclassified = pseudonymise(load("demo", policy=Policy()), KEY)
    assert set(unclassified.people["email"].str.rpartition("@")[2]) == {"unclassified.invalid"}


def test_checks_find_the_same_on_pseudonymised_data(demo: AuditData, pseudo: AuditData) -> None:
    table = mapping(demo, KEY)
    to_pseudo = dict(zip(table["original"], table["pseudonym"], strict=True))
    before = run_checks(demo)
    after = run_checks(pseudo)

    def key(f: pd.DataFrame, rename: dict[str, str]) -> list[tuple[object, ...]]:
        email = f["email"].map(lambda e: rename.get(str(e).lower(), e), na_action="ignore")
        rows = zip(f["check_id"], f["app"].fillna(""), email.fillna(""), f["muted"], strict=True)
        return sorted(rows)

    assert key(after, {}) == key(before, to_pseudo)
    assert after["muted"].sum() >= 1  # the demo's exception (by email) still mutes


def test_type_data_and_event_users_are_pseudonymised(demo: AuditData) -> None:
    events = frames.build(
        "events",
        [
            {
                "region": "osc-fr1",
                "event_id": "ev-1",
                "created_at": "2026-10-01T00:00:00+00:00",
                "type": "new_collaborator",
                "app_name": "shop-api",
                "user_id": "us-00aa11bb22cc33dd",
                "user_email": "Inviter.Person@acme.example",
                "user_username": "inviter-person",
                "type_data": json.dumps(
                    {
                        "collaborator": {
                            "email": "guest.person@agency.example",
                            "username": "guest-person",
                            "id": "us-99ff88ee77dd66cc",
                        },
                        "inviter": "inviter-person",
                        "note": "invited by inviter.person@acme.example",
                    },
                    sort_keys=True,
                ),
            }
        ],
    )
    data = dataclasses.replace(demo, events=events)
    out = pseudonymise(data, KEY)
    text = frame_text(out)
    for original in ("inviter.person", "inviter-person", "guest.person", "guest-person",
                     "us-00aa11bb22cc33dd", "us-99ff88ee77dd66cc"):  # fmt: skip
        assert original not in text.lower()
    detail = json.loads(out.events["type_data"][0])
    assert detail["collaborator"]["email"].endswith("@external.invalid")
    assert out.events["user_email"][0] == out.events["user_email"][0].lower()
    assert out.events["user_email"][0].endswith("@internal.invalid")


def test_the_key_holder_can_reidentify(demo: AuditData, pseudo: AuditData) -> None:
    row = demo.people[demo.people["email_key"] == "lea.martin@webagency.example"].iloc[0]
    p = pseudo.people[pseudo.people["user_id"] == Pseudonymiser(KEY, demo.policy).user_id(
        row["user_id"]
    )].iloc[0]  # fmt: skip
    assert p["email"].endswith("@external.invalid")
    assert reidentify(p["email"], demo.people["email"], KEY) == ["lea.martin@webagency.example"]
    assert reidentify(p["username"], demo.people["username"].dropna(), KEY) == ["lea-martin"]
    assert reidentify(p["user_id"], demo.people["user_id"].dropna(), KEY) == [row["user_id"]]
    assert reidentify(p["email"], demo.people["email"], OTHER_KEY) == []
    with pytest.raises(AuditError, match="not a scalingo-audit pseudonym"):
        reidentify("lea.martin@webagency.example", [], KEY)


def test_activity_is_derived_the_same_on_pseudonymised_data(
    demo: AuditData, pseudo: AuditData
) -> None:
    assert len(demo.events) > 0  # the demo has events: who did what is matched by identifiers
    cols = [c for c in ("invited_at", "member_since", "last_activity_at", "last_full_action_at")
            if c in demo.memberships.columns]  # fmt: skip
    to_pseudo = dict(mapping(demo, KEY)[["original", "pseudonym"]].itertuples(index=False))
    before = demo.memberships.assign(email_key=demo.memberships["email_key"].map(to_pseudo))
    key = ["region", "app_id", "email_key"]
    left = before[key + cols].sort_values(key, ignore_index=True)
    right = pseudo.memberships[key + cols].sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False)


def test_a_pusher_email_stays_an_email(demo: AuditData) -> None:
    p = Pseudonymiser(KEY, demo.policy)
    data = json.loads(p.json_text(json.dumps({"pusher": "Rose.Marchand@acme.example"})))
    assert data["pusher"] == p.email("rose.marchand@acme.example")
    data = json.loads(p.json_text(json.dumps({"pusher": "rose-marchand"})))
    assert data["pusher"] == p.username("rose-marchand")


def test_commands_from_a_pseudonymised_sheet_can_be_turned_back(
    demo: AuditData, pseudo: AuditData
) -> None:
    email = Pseudonymiser(KEY, demo.policy).email("lea.martin@webagency.example")
    command = f"scalingo --app shop-api collaborators-remove {email}"
    assert reidentify_text(command, mapping(demo, KEY)) == (
        "scalingo --app shop-api collaborators-remove lea.martin@webagency.example"
    )


# --- every output --------------------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys" / "pseudonym.key"
    monkeypatch.setenv(KEY_ENV, str(path))  # notebook kernels inherit it
    return path


def test_no_identifier_in_check_outputs(key_file: Path, demo_ids: dict[str, set[str]]) -> None:
    audit = open_audit("demo", pseudonymise=True)
    assert key_file.is_file()
    f = audit.findings
    assert len(f) > 20
    prov = provenance(audit.data, as_of=audit.as_of)
    assert prov["pseudonymised"] is True
    texts = {
        "json": output.to_json(f, prov),
        "csv": output.to_csv(f, prov),
        "table": output.to_table(f),
        "provenance": output.provenance_line(prov),
        "index": render_index(audit, []),
        "source": tables.source_markdown(audit.data.info, audit.as_of),
        "expired": "\n".join(f"{e.describe()} {e.reason}" for e in audit.expired),
    }
    for name, text in texts.items():
        assert leaks(text, demo_ids) == [], name
    assert "@external.invalid" in texts["json"] and "@internal.invalid" in texts["json"]
    assert open_audit("demo", pseudonymise=True).findings.equals(f)  # stable across runs
    plain = open_audit("demo")  # the leak detector does find people in the plain outputs
    assert leaks(output.to_json(plain.findings), demo_ids)
    assert leaks(render_index(plain, []), demo_ids) == ["ops@acme.example"]


def report_notebooks_with_pseudonymise(tmp_path: Path) -> Path:
    """The repository's notebooks, given a ``pseudonymise`` parameter passed to open_audit
    if they do not have one yet."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for path in sorted(notebooks_dir().glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if "pseudonymise" not in path.read_text(encoding="utf-8"):
            for cell in nb.cells:
                if "parameters" in cell.metadata.get("tags", []):
                    cell.source += "\npseudonymise: bool = False  # keyed pseudonyms for people"
                cell.source = cell.source.replace(
                    "open_audit(source, policy, as_of)",
                    "open_audit(source, policy, as_of, pseudonymise=pseudonymise)",
                )
        nbformat.write(nb, folder / path.name)
    return folder


@pytest.mark.slow
def _text_of(path: Path) -> str:
    """A report file's text; for the review sheet (.xlsx, a zip), that of its XML parts."""
    if path.suffix != ".xlsx":
        return path.read_text(encoding="utf-8")
    import zipfile

    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8") for n in z.namelist())


def test_no_identifier_in_any_report_file(
    tmp_path: Path, key_file: Path, demo_ids: dict[str, set[str]]
) -> None:
    out = tmp_path / "report"
    index = build_report(
        "demo",
        out_dir=out,
        notebooks_dir=report_notebooks_with_pseudonymise(tmp_path),
        progress=False,
        pseudonymise=True,
    )
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert index in files and len(files) >= 4
    for path in files:
        text = _text_of(path)
        assert leaks(text, demo_ids) == [], path.name
    html = index.read_text(encoding="utf-8")
    assert "pseudonymised" in html and "@internal.invalid" in html
    pages = "".join(_text_of(p) for p in files if p != index)
    assert "@external.invalid" in pages
    assert os.environ[KEY_ENV] == str(key_file)
