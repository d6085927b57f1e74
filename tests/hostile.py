"""A hostile organisation: every name another person can choose carries a payload.

App, project, owner and collaborator emails, usernames, token names, the collecting
account, coverage gaps and policy exception reasons hold HTML/script payloads that set
``window.__pwned`` if they ever run, ``javascript:`` URLs, Markdown links, spreadsheet
formulas, a right-to-left override and a 500-character name. Emails stay emails (a payload
in the local part, a ``.example`` domain): the loader only asks for a non-empty string.

:func:`write_hostile` writes it as a snapshot directory plus a policy file, ready for
``build_report`` or the CLI.
"""

from __future__ import annotations

from pathlib import Path

from scalingo_audit.snapshot import RawFile, Snapshot, write

from . import orgs

SENTINEL = "__pwned"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
SVG = '"><svg onload="window.__pwned=1">'
JS_URL = "javascript:window.__pwned=1"
A_LINK = '<a href="javascript:window.__pwned=1">click me</a>'  # plotly renders <a> in labels
MD_LINK = "[click me](javascript:window.__pwned=1)"  # Markdown renders links
FORMULA = '=HYPERLINK("http://evil.example","x")'
RLO = "invoice-\u202egnp.exe"  # displays as "invoice-exe.png"
LONG = "long-" + "x" * 480 + SCRIPT[:15]  # 500 characters
assert len(LONG) == 500

PAYLOADS = (SCRIPT, IMG, SVG, JS_URL, A_LINK, MD_LINK, FORMULA, RLO, LONG)
"""Every payload, as it must appear (as text) wherever its field is shown."""

# Apps owned by the collector go through GET /v1/collaborators (no per-app file, so names
# need not be valid path components); HOSTED_APP is owned by someone else (per-app file).
APPS = {
    "script": SCRIPT,
    "img": IMG,
    "js": JS_URL,
    "link": A_LINK,
    "md": MD_LINK,
    "formula": FORMULA,
    "rlo": RLO,
    "long": LONG,
}
HOSTED_APP = 'svg-"><svg onload="window.__pwned=1">'
PROJECT = IMG  # every collector-owned app is in this project
HOSTED_PROJECT = SCRIPT

EMAILS = {
    "script": f"{SCRIPT}@evil.example",
    "img": f"{IMG}@evil.example",
    "svg": f"{SVG}@evil.example",
    "formula": f"{FORMULA}@evil.example",
    "plus": "+1+1@evil.example",
    "minus": "-1+1@evil.example",
    "at": "@SUM(1+1)@evil.example",
    "link": f"{A_LINK}@evil.example",
    "md": f"{MD_LINK}@evil.example",
    "rlo": f"{RLO}@acme.example",
    "long": f"{LONG[:480]}@acme.example",
}
HOSTED_OWNER = f"{SVG}@evil.example"
COLLECTOR = f"{IMG}@acme.example"
TOKENS = {"script": SCRIPT, "formula": FORMULA, "svg": SVG, "rlo": RLO, "md": MD_LINK}
GAP_ERROR = f"{IMG} {MD_LINK}"


def hostile_snapshot() -> Snapshot:
    apps = [orgs.app(name, project=PROJECT) for name in APPS.values()]
    hosted = orgs.app(HOSTED_APP, HOSTED_OWNER, project=HOSTED_PROJECT)
    hosted["url"] = JS_URL
    hosted["id"] = "ap-hosted"
    apps.append(hosted)
    people = list(EMAILS.values())
    collaborators = []
    for i, app_name in enumerate(APPS.values()):
        # Everyone on every app: full role and 2FA off for some, so every table lists them.
        for j, email in enumerate(people):
            rec = orgs.collab(app_name, email, limited=(i + j) % 3 == 2, tfa=(i + j) % 4 == 0)
            rec["username"] = SCRIPT if j % 2 else SVG
            collaborators.append(rec)
    for email in people[:4]:
        rec = orgs.collab(HOSTED_APP, email, tfa=False)
        rec["app_id"] = "ap-hosted"
        collaborators.append(rec)
    collaborators.append(orgs.collab(APPS["script"], f"{JS_URL}@evil.example", status="pending"))
    tokens = [
        orgs.token(name, 800, None if i % 2 else 400) for i, name in enumerate(TOKENS.values())
    ]
    snap = orgs.snapshot(apps, collaborators, tokens)
    snap.files = [_safe_path(f) for f in snap.files]
    snap.collected_by = {"email": COLLECTOR, "user_id": "us-ops"}
    snap.gaps = [
        {
            "region": "osc-fr1",
            "app": SCRIPT,
            "request": f"GET /v1/apps/{MD_LINK}/events",
            "status": 403,
            "error": GAP_ERROR,
        }
    ]
    return snap


def _safe_path(f: RawFile) -> RawFile:
    """The hosted app's raw file under a plain path (its name holds '/' and quotes)."""
    if f.app != HOSTED_APP:
        return f
    return RawFile(
        "raw/osc-fr1/apps/hosted/collaborators.json", f.kind, f.region, f.request, f.body, app=f.app
    )


POLICY = f"""\
internal_domains: [acme.example]
service_accounts: ["{orgs.COLLECTOR}"]
exceptions:
  - check_id: external_full_collaborator
    email: '{EMAILS["svg"]}'
    reason: '{SCRIPT} {MD_LINK}'
    expires: 2099-01-01
  - check_id: token_unused
    token_name: '{SVG}'
    reason: '{SVG} expired'
    expires: 2020-01-01
"""


def write_hostile(directory: Path) -> tuple[Path, Path]:
    """The hostile snapshot at ``directory/snapshot`` and its policy at
    ``directory/policy.yaml``."""
    directory.mkdir(parents=True, exist_ok=True)
    snap = write(hostile_snapshot(), directory / "snapshot")
    policy = directory / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return snap, policy
