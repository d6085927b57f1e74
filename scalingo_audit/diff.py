"""The diff: what changed between two audits.

:func:`diff` compares two audits and returns one row per change (columns:
``frames.SCHEMAS["changes"]``); :func:`compare` loads two sources and diffs them. Trends
over a directory of snapshots are :mod:`scalingo_audit.history`'s.

How :func:`diff` counts, so that every change is listed exactly once:

- Memberships are matched by (region, app id, lower-cased email). A new accepted
  membership is ``access_granted``, a new pending one ``invitation_sent``; pending →
  accepted is ``invitation_accepted`` (not a grant); a membership that disappears, or
  whose account was deleted, is ``access_revoked`` (``before`` says whether it was a
  pending invitation). Full ↔ limited is ``role_changed``, also on a pending invitation.
- On an app present in both audits, a new Owner is one ``owner_changed`` row; the
  former and new owners' own rows (e.g. the former owner staying on as a Collaborator)
  are part of it and not repeated as grants or revocations. An app that appears or
  disappears has its owner listed as ``access_granted`` / ``access_revoked``.
- 2FA belongs to an account: ``tfa_enabled`` / ``tfa_disabled`` once per person, only
  between two known values (unknown → on is not a change, just better data).
- Tokens are matched by id: ``token_created`` / ``token_revoked``.
- Findings (only when both ``old_findings`` and ``new_findings`` are given) are matched
  by (check id, region, app, email, token name): ``finding_new``, ``finding_fixed``
  and ``finding_open`` (in both; muted ones say so in ``detail``). Without findings,
  an unchanged organisation gives an empty frame.
- What a coverage gap in either snapshot hid is left out of the membership and finding
  comparison (collaborators that were not read were not revoked): a gap naming an app
  leaves out that app, a gap naming only a region (its app list could not be read) the
  whole region, a gap naming neither (an interrupted collection) the whole snapshot.
  A failed *events* call hides no membership: it is ignored here. A failed token list
  leaves out token changes. :func:`left_out` says what was left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import frames, output
from .frames import ROLE_PROSE, SEVERITIES, text
from .model import AuditData

CHANGES = (
    "owner_changed",
    "access_granted",
    "access_revoked",
    "role_changed",
    "invitation_sent",
    "invitation_accepted",
    "tfa_enabled",
    "tfa_disabled",
    "token_created",
    "token_revoked",
    "finding_new",
    "finding_fixed",
    "finding_open",
)
"""Kinds of change, in the order they are listed."""

_FINDING_KEY = ("check_id", "region", "app", "email", "token_name")
_RANK = {c: i for i, c in enumerate(CHANGES)}


# --- diff --------------------------------------------------------------------------------


def diff(
    old: AuditData,
    new: AuditData,
    *,
    old_findings: pd.DataFrame | None = None,
    new_findings: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every change from ``old`` to ``new``, one row each (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    owners_changed = _owner_changes(old, new, rows)
    _membership_changes(old, new, owners_changed, rows)
    _tfa_changes(old, new, rows)
    unseen = _unseen(old, new)
    if not unseen.tokens:
        _token_changes(old, new, rows)
    if old_findings is not None and new_findings is not None:
        _finding_changes(old_findings, new_findings, rows, unseen)
    out = frames.build("changes", rows)
    order = out["change"].map(_RANK)
    keys = ["region", "app", "email", "token_name", "check_id"]
    return (
        out.assign(_o=order)
        .sort_values(["_o", *keys], na_position="first", kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def compare(
    old_source: str | Path,
    new_source: str | Path,
    *,
    policy: str | Path = "",
    findings: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load two sources (snapshot directories, exports or ``demo``) with the same policy and
    :func:`diff` them; findings are computed as of each one's collection time. Snapshots are
    checked against their manifests unless ``verify`` is false."""
    from .checks import run_checks
    from .policy import load_policy
    from .sources import load

    pol = load_policy(policy) if policy else None
    old = load(old_source, policy=pol, verify=verify)
    new = load(new_source, policy=pol, verify=verify)
    if not findings:
        out = diff(old, new)
    else:
        out = diff(old, new, old_findings=run_checks(old), new_findings=run_checks(new))
    out.attrs["left_out"] = left_out(old, new)
    return out


def _row(change: str, **fields: Any) -> dict[str, Any]:
    return {"change": change, **fields}


def _owner_changes(old: AuditData, new: AuditData, rows: list[dict[str, Any]]) -> set[Any]:
    """``owner_changed`` rows; returns the (region, app_id) of the apps concerned."""
    cols = ["region", "app_id", "app_name", "owner_email"]
    unseen = _unseen(old, new)
    a = _keyed(old.apps[cols]).assign(_k=old.apps["owner_email"].str.lower())
    b = _keyed(new.apps[cols]).assign(_k=new.apps["owner_email"].str.lower())
    both = a.merge(b, on=["region", "app_id"], suffixes=("_old", "_new"))
    changed = both[both["_k_old"].fillna("") != both["_k_new"].fillna("")]
    for r in changed.to_dict("records"):
        if unseen.hides(r["region"], r["app_name_old"], r["app_name_new"], r["app_id"]):
            continue
        rows.append(
            _row(
                "owner_changed",
                region=r["region"],
                app=r["app_name_new"],
                email=r["_k_new"],
                before=r["_k_old"],
                after=r["_k_new"],
                detail=f"{r['app_name_new']}: owner {r['_k_old']} → {r['_k_new']}.",
            )
        )
    return set(zip(changed["region"], changed["app_id"], strict=True))


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    """``app_id`` made a usable key: a dashboard export may name apps without their id."""
    return df.assign(app_id=df["app_id"].fillna("name:" + df["app_name"].fillna("")))


@dataclass(frozen=True)
class _Unseen:
    """What the coverage gaps of two audits hid from a membership comparison."""

    everything: bool
    regions: frozenset[str]
    apps: frozenset[tuple[str, str]]  # (region, app name or id)
    tokens: bool

    def hides(self, region: Any, *apps: Any) -> bool:
        if self.everything or str(region or "") in self.regions:
            return True
        return any((str(region or ""), str(a)) in self.apps for a in apps if text(a, None))


def _unseen(*audits: AuditData) -> _Unseen:
    everything, tokens = False, False
    regions: set[str] = set()
    apps: set[tuple[str, str]] = set()
    for data in audits:
        for g in data.info.gaps:
            request = str(g.get("request") or "")
            if "/events" in request:
                continue  # activity, not membership: changes stay visible
            if "/v1/tokens" in request:
                tokens = True
            elif g.get("app"):
                apps.add((str(g.get("region") or ""), str(g["app"])))
            elif g.get("region"):
                regions.add(str(g["region"]))
            else:
                everything = True
    return _Unseen(everything, frozenset(regions), frozenset(apps), tokens)


def left_out(old: AuditData, new: AuditData) -> list[str]:
    """What :func:`diff` could not compare because of coverage gaps, one phrase each."""
    u = _unseen(old, new)
    out = ["every membership (a collection was interrupted or failed)"] if u.everything else []
    out += [f"region {r}: its app list could not be read" for r in sorted(u.regions)]
    out += [f"app {a} ({r}): its collaborators could not be read" for r, a in sorted(u.apps)]
    out += ["API tokens: the token list could not be read"] if u.tokens else []
    return out


def _membership_changes(
    old: AuditData, new: AuditData, owners_changed: set[Any], rows: list[dict[str, Any]]
) -> None:
    cols = ["region", "app_id", "app_name", "email_key", "role", "status"]
    unseen = _unseen(old, new)
    a, b = _keyed(old.memberships[cols]), _keyed(new.memberships[cols])
    m = a.merge(b, on=["region", "app_id", "email_key"], how="outer", suffixes=("_o", "_n"))
    apps_old = set(zip(old.apps["region"], _keyed(old.apps)["app_id"], strict=True))
    apps_new = set(zip(new.apps["region"], _keyed(new.apps)["app_id"], strict=True))
    for r in m.to_dict("records"):
        region, app_id, email = r["region"], r["app_id"], r["email_key"]
        app = r["app_name_n"] if isinstance(r["app_name_n"], str) else r["app_name_o"]
        if unseen.hides(region, r["app_name_o"], r["app_name_n"], app_id):
            continue
        role_o = text(r["role_o"], None)
        role_n = text(r["role_n"], None)
        if (region, app_id) in owners_changed and "owner" in (role_o, role_n):
            continue  # part of the app's owner_changed row
        st_o = _state(text(r["status_o"], None))
        st_n = _state(text(r["status_n"], None))
        base = {"region": region, "app": app, "email": email}
        gone_app = (region, app_id) not in apps_new
        new_app = (region, app_id) not in apps_old
        if st_o is None and st_n is None:
            continue
        if st_o is None:
            if st_n == "pending":
                rows.append(
                    _row(
                        "invitation_sent",
                        **base,
                        after=role_n,
                        detail=f"{email} invited to {app} as {ROLE_PROSE[str(role_n)]}.",
                    )
                )
            else:
                where = " (new app)" if new_app else ""
                rows.append(
                    _row(
                        "access_granted",
                        **base,
                        after=role_n,
                        detail=f"{email} became {ROLE_PROSE[str(role_n)]} of {app}{where}.",
                    )
                )
            continue
        if st_n is None:
            pending = st_o == "pending"
            why = (
                " (app no longer listed)"
                if gone_app
                else " (account deleted)"
                if text(r["status_n"], None) == "user account deleted"
                else ""
            )
            what = "invitation to" if pending else "access to"
            rows.append(
                _row(
                    "access_revoked",
                    **base,
                    before=f"{role_o} (pending)" if pending else role_o,
                    detail=f"{email} lost their {what} {app} as {ROLE_PROSE[str(role_o)]}{why}.",
                )
            )
            continue
        if st_o == "pending" and st_n == "accepted":
            rows.append(
                _row(
                    "invitation_accepted",
                    **base,
                    before="pending",
                    after="accepted",
                    detail=f"{email} accepted the invitation to {app}.",
                )
            )
        elif st_o == "accepted" and st_n == "pending":
            rows.append(
                _row(
                    "access_revoked",
                    **base,
                    before=role_o,
                    detail=f"{email} lost their access to {app} (invited again since).",
                )
            )
            rows.append(
                _row(
                    "invitation_sent",
                    **base,
                    after=role_n,
                    detail=f"{email} invited again to {app} as {ROLE_PROSE[str(role_n)]}.",
                )
            )
            continue
        if role_o != role_n:
            rows.append(
                _row(
                    "role_changed",
                    **base,
                    before=role_o,
                    after=role_n,
                    detail=f"{email} on {app}: {ROLE_PROSE[str(role_o)]} → "
                    f"{ROLE_PROSE[str(role_n)]}.",
                )
            )


def _state(status: str | None) -> str | None:
    """None (no access), ``pending`` or ``accepted``; a deleted account is no access."""
    return None if status in (None, "user account deleted") else status


def _tfa_changes(old: AuditData, new: AuditData, rows: list[dict[str, Any]]) -> None:
    a = old.people[["email_key", "tfa"]].dropna()
    b = new.people[["email_key", "tfa"]].dropna()
    both = a.merge(b, on="email_key", suffixes=("_o", "_n"))
    for r in both[both["tfa_o"] != both["tfa_n"]].to_dict("records"):
        on = bool(r["tfa_n"])
        rows.append(
            _row(
                "tfa_enabled" if on else "tfa_disabled",
                email=r["email_key"],
                before="on" if r["tfa_o"] else "off",
                after="on" if on else "off",
                detail=f"{r['email_key']} turned 2FA {'on' if on else 'off'}.",
            )
        )


def _token_changes(old: AuditData, new: AuditData, rows: list[dict[str, Any]]) -> None:
    a = old.tokens.set_index("token_id")
    b = new.tokens.set_index("token_id")
    for tid in b.index.difference(a.index):
        t = b.loc[tid]
        rows.append(
            _row(
                "token_created",
                email=_lower(t["account_email"]),
                token_name=t["name"],
                after=_date(t["created_at"]),
                detail=f"API token {t['name']!r} created on {_date(t['created_at'])}.",
            )
        )
    for tid in a.index.difference(b.index):
        t = a.loc[tid]
        rows.append(
            _row(
                "token_revoked",
                email=_lower(t["account_email"]),
                token_name=t["name"],
                before=_date(t["created_at"]),
                detail=f"API token {t['name']!r} (created {_date(t['created_at'])}) is gone.",
            )
        )


def _finding_changes(
    old: pd.DataFrame, new: pd.DataFrame, rows: list[dict[str, Any]], unseen: _Unseen
) -> None:
    def keyed(f: pd.DataFrame) -> dict[tuple[Any, ...], dict[str, Any]]:
        out: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in f.to_dict("records"):
            out.setdefault(tuple(text(r[k], None) for k in _FINDING_KEY), r)
        return out

    a, b = keyed(old), keyed(new)
    for change, keys, src in (
        ("finding_new", b.keys() - a.keys(), b),
        ("finding_fixed", a.keys() - b.keys(), a),
        ("finding_open", a.keys() & b.keys(), b),
    ):
        for k in keys:
            r = src[k]
            if change != "finding_open" and _hidden_finding(r, unseen):
                continue  # new or fixed only because a gap hid the data on one side
            muted = " (muted by a policy exception)" if r.get("muted") is True else ""
            rows.append(
                _row(
                    change,
                    **dict(zip(_FINDING_KEY, k, strict=True)),
                    severity=r["severity"],
                    before=None if change == "finding_new" else "open",
                    after="fixed" if change == "finding_fixed" else "open",
                    detail=f"{r['message']}{muted}",
                )
            )


def _hidden_finding(r: dict[str, Any], unseen: _Unseen) -> bool:
    if unseen.everything:
        return True
    if text(r.get("token_name"), None):
        return unseen.tokens
    regions = [x.strip() for x in (text(r.get("region"), None) or "").split(",") if x.strip()]
    if not regions:
        return False
    return any(unseen.hides(region, r.get("app")) for region in regions)


def _lower(v: Any) -> str | None:
    t = text(v, None)
    return t.lower() if t else None


def _date(v: Any) -> str | None:
    return None if pd.isna(v) else pd.Timestamp(v).date().isoformat()


# --- output ------------------------------------------------------------------------------

FIELDS = tuple(frames.columns("changes"))
"""Fields of each object in ``diff --format json`` and columns of ``--format csv``."""


def records(changes: pd.DataFrame) -> list[dict[str, Any]]:
    """Changes as plain dicts with :data:`FIELDS`; missing values are ``None``."""
    return output.plain_records(changes, FIELDS)


def to_json(changes: pd.DataFrame) -> str:
    """A JSON array of changes; its published schema is ``scalingo-audit schema diff``."""
    return output.json_text("diff", records(changes))


def to_csv(changes: pd.DataFrame) -> str:
    """CSV of :data:`FIELDS`, every cell formula-safe (:func:`scalingo_audit.output.csv_text`)."""
    return output.csv_text(FIELDS, records(changes))


def to_table(changes: pd.DataFrame, *, width: int = 100) -> str:
    """A plain-text listing grouped by kind of change (``finding_open`` summarised)."""

    def lines(change: str, group: pd.DataFrame) -> list[str]:
        if change == "finding_open":
            n = group["severity"].value_counts()
            return ["  still open: " + ", ".join(f"{n[s]} {s}" for s in SEVERITIES if s in n)]
        return [line for d in group["detail"] for line in output.wrapped(str(d), width)]

    return output.listing(output.sections(changes, "change", CHANGES, lines), empty="No changes.")


def counts(changes: pd.DataFrame) -> pd.DataFrame:
    """How many changes of each kind, in :data:`CHANGES` order (zero rows left out)."""
    n = changes["change"].value_counts()
    return pd.DataFrame(
        {"change": [c for c in CHANGES if c in n], "count": [int(n[c]) for c in CHANGES if c in n]}
    )
