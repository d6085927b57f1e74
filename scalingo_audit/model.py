"""AuditData: the frames of one audit, and how ``people`` is derived from memberships.

Loaders (``sources``) produce apps, memberships, tokens and events in the
schemas of :mod:`scalingo_audit.frames`; :func:`assemble` adds what depends on
the policy (internal/external, service accounts) and derives ``people``.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import frames
from .errors import DataWarning, excerpt
from .events import activity_note
from .events import derive as derive_activity
from .policy import Policy


@dataclass(frozen=True)
class SourceInfo:
    """Where the data came from: shown on every report and in ``check --format json``."""

    kind: str  # demo | snapshot | export
    location: str
    collected_at: dt.datetime
    collected_by: str | None = None
    regions: tuple[str, ...] = ()
    gaps: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    # Evidence (scalingo_audit.evidence.provenance): SHA-256 of the snapshot's manifest.json
    # (the snapshot's hash) or of the export file; the version of the tool that collected it.
    source_sha256: str | None = None
    collector_version: str | None = None
    pseudonymised: bool = False  # people are replaced by keyed pseudonyms (pseudonymise.py)
    events_days: int | None = None  # days of app events collected; None: not collected
    activity_note: str | None = None  # set by assemble when activity checks cannot run
    # False when a snapshot was loaded with --no-verify: its raw files were not checked
    # against the manifest, and every output says UNVERIFIED. None: nothing to verify
    # (a dashboard export has no manifest).
    verified: bool | None = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "collected_at": self.collected_at.isoformat(),
            "collected_by": self.collected_by,
            "regions": list(self.regions),
            "gaps": list(self.gaps),
            "notes": list(self.notes),
            "events_days": self.events_days,
            "activity_note": self.activity_note,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class AuditData:
    """The frames of one audit. Columns are documented in :mod:`scalingo_audit.frames`."""

    apps: pd.DataFrame
    memberships: pd.DataFrame
    people: pd.DataFrame
    tokens: pd.DataFrame
    events: pd.DataFrame
    info: SourceInfo
    policy: Policy = field(default_factory=Policy)

    def with_policy(self, policy: Policy) -> AuditData:
        """The same data seen through another policy (recomputes internal/service flags)."""
        return assemble(self.apps, self.memberships, self.tokens, self.events, self.info, policy)

    def summary(self) -> dict[str, Any]:
        """Headline figures: people, apps, share of full Collaborators, 2FA coverage."""
        m = self.memberships
        status, role = m["status"], m["role"]
        # masks of the columns read, not frames filtered (that copies every column)
        collab = ((status == "accepted") & (role != "owner")).fillna(False).to_numpy(bool)
        tfa = m["tfa"].to_numpy(object, na_value=None)[collab]
        known = [t for t in tfa if t is not None]
        people = self.people
        n_collab = int(collab.sum())
        return {
            "apps": len(self.apps),
            "people": len(people),
            "regions": len(self.apps["region"].unique()),
            "memberships": len(m),
            "accepted_collaborators": n_collab,
            "full_collaborator_share": _ratio(
                int((role == "collaborator").fillna(False).to_numpy(bool)[collab].sum()),
                n_collab,
            ),
            "tfa_coverage": _ratio(sum(bool(t) for t in known), len(known)),
            "tfa_unknown": len(tfa) - len(known),
            "pending_invitations": int((m["status"] == "pending").sum()),
            "external_people": int((people["internal"] == False).sum()),  # noqa: E712
        }


def _ratio(num: Any, den: int) -> float | None:
    return round(float(num) / den, 4) if den else None


def assemble(
    apps: pd.DataFrame,
    memberships: pd.DataFrame,
    tokens: pd.DataFrame,
    events: pd.DataFrame,
    info: SourceInfo,
    policy: Policy,
) -> AuditData:
    """Complete the frames for ``policy``, derive ``people`` and the activity columns."""
    m = memberships.copy()
    # one domain split per person and one classification per domain, not per membership
    codes, keys = pd.factorize(m["email"].str.strip().str.lower())
    # each person's key one string object (a smaller pickle for a report's kernels)
    m["email_key"] = pd.array(pd.Index(keys, dtype="string").take(codes, allow_fill=True))
    domains = pd.Series(keys, dtype="string").str.rpartition("@")[2] if len(keys) else None
    m["domain"] = (
        pd.array(domains.to_numpy()[codes], dtype="string")
        if domains is not None
        else m["email_key"]
    )
    if domains is not None and (codes < 0).any():
        m.loc[codes < 0, "domain"] = pd.NA
    # one classification per distinct domain, spread back through the domain codes
    dcodes, dkeys = pd.factorize(m["domain"])
    flags = pd.array([policy.is_internal(d) for d in dkeys] + [None], dtype="boolean")
    m["internal"] = flags[dcodes]  # code -1 (no domain) picks the trailing None
    m = frames.build("memberships", m)
    events = frames.build("events", events)
    m = frames.build("memberships", derive_activity(m, events))
    note = activity_note(info.events_days, policy.thresholds)
    return AuditData(
        apps=frames.build("apps", apps),
        memberships=m,
        people=derive_people(m, policy),
        tokens=frames.build("tokens", tokens),
        events=events,
        info=replace(info, activity_note=note) if note != info.activity_note else info,
        policy=policy,
    )


def warn_unknown_statuses(statuses: Iterable[Any], where: object, *, stacklevel: int = 1) -> None:
    """One :class:`DataWarning` for the collaborator rows (of a snapshot or an export, named by
    ``where``) whose status this version does not know: they are kept as given and no check
    looks at them. Names up to five of the values, each as a bounded excerpt. ``stacklevel``
    as for :func:`warnings.warn`, counted from the caller."""
    unknown = Counter(s for s in statuses if s not in frames.STATUSES)
    if not unknown:
        return
    values = sorted(unknown, key=str)
    shown = ", ".join(excerpt(v) for v in values[:5])
    warnings.warn(
        DataWarning(
            f"{where}: {sum(unknown.values())} collaborator row(s) with a status this version "
            f"does not know ({shown}{', ...' if len(values) > 5 else ''}): kept as given, no "
            f"check looks at them (known: {', '.join(frames.STATUSES)})"
        ),
        stacklevel=stacklevel + 1,
    )


def derive_people(memberships: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """One row per person (lower-cased email) across all apps and regions."""
    m = memberships
    if m.empty:
        return frames.empty("people")
    # per-person counts: one factorisation of the key, one bincount per flag
    status = m["status"].to_numpy(dtype=object, na_value=None)
    role = m["role"].to_numpy(dtype=object, na_value=None)
    accepted = status == "accepted"
    codes, keys = pd.factorize(m["email_key"], sort=True)
    known = codes >= 0  # no email key: no person (as groupby drops it)
    flags = {
        "owner_apps": accepted & (role == "owner"),
        "full_apps": accepted & (role == "collaborator"),
        "limited_apps": accepted & (role == "limited_collaborator"),
        "pending_invitations": status == "pending",
        "deleted_memberships": status == "user account deleted",
        "apps": accepted,
    }
    counts = pd.DataFrame(
        {
            name: np.bincount(codes[known], weights=f[known], minlength=len(keys)).astype(int)
            for name, f in flags.items()
        },
        index=pd.Index(keys, name="email_key"),
    )
    g = m.groupby("email_key", sort=True)
    firsts = g[["email", "username", "user_id", "domain", "internal"]].first()
    # 2FA is a property of the account: any known value wins (False if any says False).
    tfa_col = m["tfa"]
    has = known & tfa_col.notna().to_numpy()
    told = np.bincount(codes[has], minlength=len(keys))
    off = np.bincount(
        codes[has], weights=(tfa_col == False).to_numpy(dtype=bool, na_value=False)[has],  # noqa: E712
        minlength=len(keys),
    )  # fmt: skip
    per_key = pd.Series(pd.array(off == 0, dtype="boolean"), index=pd.Index(keys))
    per_key[told == 0] = pd.NA
    tfa = per_key.reindex(firsts.index)
    pairs = m[["email_key", "region"]].dropna().drop_duplicates()
    joined: dict[str, list[str]] = {}
    for key, region in sorted(zip(pairs["email_key"], pairs["region"], strict=True)):
        joined.setdefault(key, []).append(region)
    regions = pd.Series({k: ", ".join(v) for k, v in joined.items()}, dtype=object)
    people = firsts.join(counts).assign(tfa=tfa, regions=regions).reset_index()
    people["service_account"] = people["email_key"].map(policy.is_service_account)
    people["token_account"] = people["email_key"].map(policy.is_token_account)
    people["highest_role"] = [
        "owner"
        if o
        else "collaborator"
        if f
        else "limited_collaborator"
        if lim
        else "pending"
        if p
        else "user account deleted"
        if d
        else "other"  # only memberships whose status this version does not know
        for o, f, lim, p, d in zip(
            people["owner_apps"],
            people["full_apps"],
            people["limited_apps"],
            people["pending_invitations"],
            people["deleted_memberships"],
            strict=True,
        )
    ]
    return frames.build("people", people)


def with_info(data: AuditData, **changes: Any) -> AuditData:
    return replace(data, info=replace(data.info, **changes))
