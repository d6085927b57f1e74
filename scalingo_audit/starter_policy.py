"""``init-policy``: a commented starter policy written from the data, to review and edit.

Three checks need policy keys (``internal_domains``, ``service_accounts``,
``api_token_accounts``) and say "not evaluated" without them. :func:`starter_policy` fills
them from what the data shows:

- email domains ranked by how many people use them; the collecting account's domain
  first, marked internal (the others are listed commented out, to uncomment);
- app owners that look like service accounts (the collecting account, or a name such as
  ``ops@`` or ``deploy@``), personal owners listed commented out;
- accounts holding API tokens, and accounts whose name looks like a CI or bot account;
- the default thresholds, and an example exception (commented out: it mutes nothing).

Every value from the data is written as a double-quoted YAML scalar with every
non-ASCII or control character escaped, and never inside a comment: a hostile email or
domain stays one value. :func:`write_starter_policy` never replaces an existing file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import fields
from pathlib import Path

import pandas as pd

from .errors import AuditError
from .model import AuditData
from .policy import Thresholds

SERVICE_NAME = re.compile(
    r"^(ops|devops|admin|administrator|root|sysadmin|deploy|deployer|deployment|bot|robot|"
    r"automation|ci|cd|build|builder|service|services|svc|platform|infra|infrastructure|"
    r"tech|it|noreply|no-reply|scalingo|prod|production)([._+-].*)?$"
)
"""Local parts (before the ``@``) that look like a shared or machine account."""

TOKEN_NAME = re.compile(
    r"^(ci|cd|bot|robot|deploy|deployer|automation|build|svc|token)([._+-].*)?$"
)
"""Local parts that look like an account made to hold an API token (CI, bots)."""

THRESHOLD_NOTES = {
    "max_full_apps": "full Collaborator on more apps than this is flagged",
    "token_idle_days": "a token unused for longer is flagged",
    "token_max_age_days": "a token older than this is flagged",
    "inactive_days": "no activity for longer is flagged (needs collect --events-days)",
    "pending_invitation_days": "an invitation pending for longer is flagged",
}


def _q(value: str) -> str:
    """``value`` as a double-quoted YAML scalar (JSON is YAML): one line, all escaped."""
    return json.dumps(value, ensure_ascii=True)


def _local(email: str) -> str:
    return email.split("@", 1)[0]


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1] if "@" in email else ""


def domains_by_people(data: AuditData) -> pd.Series:
    """People per email domain, most first (ties by name)."""
    people = data.people
    d = people["domain"].dropna().astype(str).str.lower()
    d = d[d != ""]
    counts = d.value_counts()
    return counts.sort_index().sort_values(ascending=False, kind="stable")


def starter_policy(data: AuditData) -> str:
    """The starter policy for ``data``, as commented YAML text (see the module docstring)."""
    info = data.info
    collector = (info.collected_by or "").strip().lower()
    counts = domains_by_people(data)
    home = _domain(collector) if collector else ""
    lines = [
        "# Starter policy for scalingo-audit, written by `scalingo-audit init-policy` from",
        f"# the {info.kind} data collected {info.collected_at:%Y-%m-%d}.",
        "# Review every entry: each is a guess from the data, not a decision. Then run",
        "#   scalingo-audit check SOURCE --policy THIS_FILE",
        "",
        "# Email domains of your organisation; everyone else is external. Ranked by how many",
        "# people use them. Uncomment those that are yours.",
        "internal_domains:",
    ]
    order = list(counts.index)
    if home:
        order = [home, *[d for d in order if d != home]]
    internal = home or (order[0] if order else "")
    for domain in order:
        n = int(counts.get(domain, 0))
        why = (
            "the collecting account's domain"
            if domain == home
            else "the most used domain (no collecting account recorded)"
            if domain == internal
            else ""
        )
        note = f"  # {n} {'person' if n == 1 else 'people'}" + (f"; {why}" if why else "")
        lines.append(("  - " if domain == internal else "  # - ") + _q(domain) + note)
    if not order:
        lines.append("  []  # no email domain in the data")

    apps = data.apps
    owners = apps["owner_email"].dropna().astype(str).str.lower()
    owned = owners.value_counts().sort_index().sort_values(ascending=False, kind="stable")
    lines += [
        "",
        "# Accounts meant to own apps (Scalingo recommends a dedicated service account as the",
        "# Owner of production apps). Owners that look like service accounts are listed;",
        "# personal owners are commented out.",
        "service_accounts:",
    ]
    service = [e for e in owned.index if e == collector or SERVICE_NAME.match(_local(e))]
    if not service:
        lines.append("  # none looks like a service account: name yours")
    for email in owned.index:
        n = int(owned[email])
        why = "the collecting account" if email == collector else ""
        note = f"  # owns {n} app{'s' if n != 1 else ''}" + (f"; {why}" if why else "")
        lines.append(("  - " if email in service else "  # - ") + _q(email) + note)
    if not service:
        lines.append("  []")

    tokens = data.tokens
    holders = tokens["account_email"].dropna().astype(str).str.lower().value_counts()
    people = data.people["email_key"].dropna().astype(str)
    bots = sorted(e for e in people if TOKEN_NAME.match(_local(e)) and e not in holders.index)
    lines += [
        "",
        "# Dedicated accounts holding API tokens (each should reach one app only): the",
        "# accounts whose tokens were collected, and accounts named like CI or bot accounts.",
        "api_token_accounts:",
    ]
    for email in holders.sort_index().index:
        n = int(holders[email])
        lines.append(f"  - {_q(email)}  # holds {n} API token{'s' if n != 1 else ''}")
    for email in bots:
        lines.append(f"  - {_q(email)}  # named like a CI or bot account")
    if holders.empty and not bots:
        lines.append("  []  # no token holder found: name the accounts your tokens belong to")

    lines += ["", "# Thresholds (the defaults).", "thresholds:"]
    defaults = Thresholds()
    for f in fields(Thresholds):
        note = THRESHOLD_NOTES.get(f.name, "")
        lines.append(f"  {f.name}: {getattr(defaults, f.name)}" + (f"  # {note}" if note else ""))
    lines += [
        "",
        "# Accepted risks: each mutes the findings of one check that match every field it",
        "# names (region, app, email, token_name; an app without a region: in every region)",
        "# until its expiry date. An example, commented out:",
        "exceptions: []",
        "# exceptions:",
        "#   - check_id: external_full_collaborator",
        "#     email: dev@partner.example",
        "#     region: osc-fr1",
        "#     app: shop-api",
        "#     reason: contract until March, approved by the CTO",
        "#     expires: 2027-03-31",
        "",
    ]
    return "\n".join(lines)


def write_starter_policy(data: AuditData, path: str | Path) -> Path:
    """Write :func:`starter_policy` to ``path``, whole, and only if no file is there: an
    existing file is never replaced (an :class:`~scalingo_audit.errors.AuditError`)."""
    target = Path(path)
    if target.exists() or target.is_symlink():
        raise AuditError(f"{target}: already exists, not overwritten (choose another --out)")
    text = starter_policy(data)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:200]}.")
    except OSError as exc:
        raise AuditError(f"{target}: cannot write here ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            os.link(tmp, target)  # fails if the target appeared meanwhile: never replaced
        except FileExistsError:
            raise AuditError(
                f"{target}: already exists, not overwritten (choose another --out)"
            ) from None
        except OSError as exc:
            raise AuditError(f"{target}: cannot write here ({exc.strerror})") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["domains_by_people", "starter_policy", "write_starter_policy"]
