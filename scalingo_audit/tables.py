"""Small, readable tables for the notebooks, the explorer and the charts.

Pure functions of the frames (:mod:`scalingo_audit.frames`) and the findings:
no display, no I/O. Lists are complete unless ``top`` asks for the first N rows (the
report's tables are never capped: :mod:`scalingo_audit.htmltable` makes them sortable and
filterable; only charts are capped, and say so).

2FA has four states here, never collapsed: ``on``, ``off``, ``unknown`` (the
API did not say; unknown is not off) and ``not exposed`` (owners: the API
reports no owner's 2FA, except the collecting account's own, which is ``on``/``off``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from .checks import CHECKS
from .commands import render
from .frames import ROLE_LABELS, ROLES, SEVERITIES, SEVERITY_RANK, STATUSES, values
from .model import AuditData, SourceInfo, derive_people
from .policy import Policy

if TYPE_CHECKING:
    from pandas.core.groupby import DataFrameGroupBy

TFA_STATES = ("on", "off", "unknown", "not exposed")
"""2FA states, in display order. ``not exposed`` is for owners only (but the collector)."""

MANUAL_CELL = "none: a name is unsafe in a shell, make the change on the dashboard"
"""A table's ``command`` cell for a finding whose command is withheld (see
:mod:`scalingo_audit.commands`)."""

# --- scope -------------------------------------------------------------------------------


def scope(data: AuditData, *, region: str = "", project: str = "") -> AuditData:
    """``data`` restricted to one region and/or project (empty: no restriction).

    ``people`` is derived again from the remaining memberships, so counts such as
    ``full_apps`` describe the scope, not the whole organisation.
    """
    if not region and not project:
        return data
    apps, m = data.apps, data.memberships
    if region:
        apps, m = apps[apps["region"] == region], m[m["region"] == region]
    if project:
        apps, m = apps[apps["project_name"] == project], m[m["project_name"] == project]
    m = m.reset_index(drop=True)
    return replace(
        data, apps=apps.reset_index(drop=True), memberships=m, people=derive_people(m, data.policy)
    )


def scope_findings(findings: pd.DataFrame, data: AuditData) -> pd.DataFrame:
    """Findings about the apps of ``data`` (after :func:`scope`), plus those that name no app
    (tokens, people across apps) when their region overlaps the scope's regions."""
    apps = set(data.apps["app_name"].dropna())
    regions = set(data.apps["region"].dropna())
    on_app = findings["app"].isin(apps).fillna(False)
    no_app = findings["app"].isna()
    region = findings["region"].fillna("")
    overlaps = {  # a few distinct values ("osc-fr1, osc-secnum-fr1"...): each decided once
        r: not r or bool(regions & {x.strip() for x in r.split(",")}) for r in set(region)
    }
    in_regions = region.map(overlaps)
    return findings[on_app | (no_app & in_regions.astype(bool))].reset_index(drop=True)


# --- source ------------------------------------------------------------------------------


def source_line(info: SourceInfo, as_of: dt.datetime | None = None) -> str:
    """One line for the top of every report: where the data comes from and when."""
    when = info.collected_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    by = f" by {info.collected_by}" if info.collected_by else ""
    regions = f"; regions: {', '.join(info.regions)}" if info.regions else ""
    line = f"Data: {info.kind} {info.location!r}, collected at {when}{by}{regions}"
    if as_of is not None:
        line += f"; findings as of {as_of.astimezone(dt.UTC).strftime('%Y-%m-%d')}"
    if info.verified is False:
        line += "; UNVERIFIED: loaded with --no-verify, raw files not checked against the manifest"
    return line + "."


def source_markdown(info: SourceInfo, as_of: dt.datetime | None = None, *, top: int = 10) -> str:
    """:func:`source_line`, and when the collection has gaps, a warning listing the first
    ``top`` of them, and a line when activity checks could not be evaluated (no events, or
    too short a window): the report says what it could not see. Every value from the data is
    escaped (:func:`markdown_escape`): Markdown would render HTML and links in it."""
    text = markdown_escape(source_line(info, as_of))
    if info.activity_note:  # our own words, no data: when activity checks could not run
        text += f"\n\n**{info.activity_note}**"
    if not info.gaps:
        return text
    lines = [
        text,
        "",
        f"**Coverage gaps: {len(info.gaps)} request(s) failed during collection; what they "
        "would have returned is missing from this report.**",
        "",
    ]
    for gap in info.gaps[:top]:
        where = " / ".join(str(gap[k]) for k in ("region", "app") if gap.get(k))
        status = f" → {gap['status']}" if gap.get("status") else ""
        error = f" ({gap['error']})" if gap.get("error") else ""
        request = markdown_escape(str(gap.get("request", "?")))
        lines.append(
            f"- {markdown_escape(where or 'all regions')}: <code>{request}</code>"
            + markdown_escape(f"{status}{error}")
        )
    if len(info.gaps) > top:
        lines.append(f"- … and {len(info.gaps) - top} more")
    return "\n".join(lines)


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown: HTML special characters as entities and every other
    ASCII punctuation backslash-escaped, so no tag, link, emphasis or heading can come from
    data (an app named ``[x](javascript:…)`` or ``<img onerror=…>`` shows as typed)."""
    return "".join(_MD_ESCAPES.get(ch, ch) for ch in text)


_MD_ESCAPES = {ch: "\\" + ch for ch in "\\`*_{}[]()#+-.!|~\"'$:;=?@^/"} | {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
}


def coverage_gaps(info: SourceInfo) -> pd.DataFrame:
    """What the collection could not read (one row per gap); empty when complete."""
    cols = ["region", "app", "request", "status", "error"]
    gaps = pd.DataFrame(list(info.gaps))
    return gaps.reindex(columns=[*cols, *[c for c in gaps.columns if c not in cols]])


# --- roles -------------------------------------------------------------------------------


def tfa_state(memberships: pd.DataFrame) -> pd.Series:
    """Each membership's 2FA state: ``on``, ``off``, ``unknown`` or ``not exposed`` (owners,
    except the collecting account, whose own 2FA the API gives)."""
    tfa = memberships["tfa"]
    state = pd.Series("unknown", index=memberships.index, dtype="string")
    # .loc: a plain ``state[mask] =`` first tries the mask as a label, and pandas formats
    # the whole mask as text for the error it then catches (seconds on 50,000 rows)
    state.loc[(tfa == True).fillna(False)] = "on"  # noqa: E712
    state.loc[(tfa == False).fillna(False)] = "off"  # noqa: E712
    state.loc[(memberships["role"] == "owner") & tfa.isna()] = "not exposed"
    return state


def crosstab(index: pd.Series, columns: pd.Series) -> pd.DataFrame:
    """What ``pd.crosstab(index, columns)`` gives (rows counted per pair of values, a row per
    ``index`` value and a column per ``columns`` value, both sorted, missing values left
    out), counted by one ``groupby(...).size()``: ``pd.crosstab`` counts each group with a
    Python ``len``: 0.26 s against 0.065 s for the per-app tables of 50,000 memberships."""
    pairs = pd.DataFrame({"index": index.array, "columns": columns.array})
    pairs = pairs[pairs["index"].notna() & pairs["columns"].notna()]
    if pairs.empty:
        return pd.crosstab(index, columns)
    out = pairs.groupby(["index", "columns"], sort=True).size().unstack("columns", fill_value=0)
    # pd.crosstab's names: the series' own, else row_0 / col_0
    out.index.name = "row_0" if index.name is None else index.name
    out.columns.name = "col_0" if columns.name is None else columns.name
    return out


def role_counts(
    memberships: pd.DataFrame,
    by: str | None = None,
    *,
    statuses: tuple[str, ...] = ("accepted",),
    top: int | None = None,
) -> pd.DataFrame:
    """Memberships counted per role (columns, most privileged first), one row per value of
    ``by`` (a memberships column such as ``region``, ``project_name`` or ``app_name``), or a
    single ``all`` row. Rows are sorted by total, largest first; ``top`` keeps the first N."""
    # the columns counted, then the rows: filtering the whole frame copies all its columns
    cols = list(dict.fromkeys(["role", by] if by else ["role"]))
    m = memberships[cols][memberships["status"].isin(statuses)]
    keys = m[by].fillna("(none)") if by else pd.Series("all", index=m.index)
    out = crosstab(keys, m["role"]).reindex(columns=list(ROLES), fill_value=0)
    if by is None and out.empty:
        out = pd.DataFrame(0, index=["all"], columns=list(ROLES))
    out = out.astype(int)
    out.index.name = by or ""
    out.columns.name = "role"
    out = out.assign(_t=out.sum(axis=1)).sort_values("_t", ascending=False, kind="stable")
    out = out.drop(columns="_t")
    return out.head(top) if top else out


def owner_counts(data: AuditData) -> pd.DataFrame:
    """Apps per owner kind (``service account`` or ``personal``), one row per region."""
    apps = data.apps
    kind = owner_kind(apps["owner_email"].fillna(""), data.policy)
    out = crosstab(apps["region"], kind).reindex(
        columns=["service account", "personal"], fill_value=0
    )
    out.columns.name = "owner"
    return out.astype(int)


def owner_kind(emails: pd.Series, policy: Policy) -> pd.Series:
    """``service account`` when the policy lists the email, else ``personal``."""
    return emails.map(lambda e: "service account" if policy.is_service_account(e) else "personal")


def owners(data: AuditData, *, top: int | None = None) -> pd.DataFrame:
    """Owners with how many apps each owns, service accounts first, then by app count."""
    apps = data.apps
    g = apps.groupby(apps["owner_email"].fillna("(unknown)"))
    out = pd.DataFrame(
        {
            "apps": g.size(),
            "regions": _per_group(g, "region", lambda vs: ", ".join(sorted(set(vs)))),
            "example apps": _per_group(g, "app_name", lambda vs: _some(sorted(vs), 3)),
        }
    )
    out.index.name = "owner"
    out.insert(0, "kind", owner_kind(pd.Series(out.index, index=out.index), data.policy))
    out = out.sort_values(["kind", "apps"], ascending=[False, False], kind="stable")
    return out.head(top) if top else out


# --- 2FA ---------------------------------------------------------------------------------


def tfa_counts(
    memberships: pd.DataFrame, by: str = "role", *, top: int | None = None
) -> pd.DataFrame:
    """Accepted collaborator memberships (owners excluded: the API reports no owner's 2FA but
    the collecting account's) counted by 2FA state (columns ``on``, ``off``, ``unknown``),
    one row per value of ``by``. Rows with the most gaps (off, then unknown) come first;
    ``top`` keeps the first N."""
    m = memberships[list(dict.fromkeys(["role", "tfa", by]))]  # the columns counted, then
    m = m[(memberships["status"] == "accepted") & (memberships["role"] != "owner")]  # rows
    state = tfa_state(m)
    out = crosstab(m[by].fillna("(none)"), state).reindex(
        columns=list(TFA_STATES[:3]), fill_value=0
    )
    if by == "role":
        out = out.reindex([r for r in ROLES if r != "owner"], fill_value=0)
    else:
        out = out.sort_values(["off", "unknown", "on"], ascending=False, kind="stable")
    out = out.astype(int)
    out.columns.name = "2FA"
    out.index.name = by
    return out.head(top) if top else out


def tfa_chase_list(data: AuditData, *, top: int | None = None) -> pd.DataFrame:
    """Who to chase first for 2FA: people with an accepted collaborator membership whose 2FA
    is off or unknown. Full-role people first, then 2FA off before unknown, then the widest
    access first."""
    m = data.memberships
    keep = (m["status"] == "accepted") & (m["role"] != "owner")
    m = m[["email_key", "email", "role", "tfa", "app_name"]][keep]
    state = tfa_state(m)
    gaps = m[state.isin(["off", "unknown"])]
    if gaps.empty:
        return pd.DataFrame(
            columns=["email", "2FA", "full_apps", "limited_apps", "internal", "apps"]
        )
    p = data.people.set_index("email_key")
    g = gaps.groupby("email_key", sort=True)
    out = pd.DataFrame(
        {
            "email": g["email"].first(),
            "2FA": (gaps["tfa"] == False)  # noqa: E712
            .fillna(False)
            .groupby(gaps["email_key"], sort=True)
            .any()
            .map({True: "off", False: "unknown"}),
            "full_apps": p["full_apps"].reindex(g.size().index).astype(int),
            "limited_apps": p["limited_apps"].reindex(g.size().index).astype(int),
            "internal": p["internal"].reindex(g.size().index),
            "apps": _per_group(g, "app_name", lambda vs: _some(sorted(vs), 5)),
        }
    )
    out = out.assign(_full=out["full_apps"] > 0, _off=out["2FA"] == "off").sort_values(
        ["_full", "_off", "full_apps", "limited_apps", "email"],
        ascending=[False, False, False, False, True],
        kind="stable",
    )
    out = out.drop(columns=["_full", "_off"]).reset_index(drop=True)
    return out.head(top) if top else out


# --- privilege ---------------------------------------------------------------------------


def full_role_ranking(data: AuditData, *, top: int | None = None) -> pd.DataFrame:
    """People holding the full Collaborator role (accepted), ranked by how many apps they hold
    it on; with their 2FA state and whether they are internal."""
    p = data.people
    p = p[p["full_apps"] > 0].copy()
    p["2FA"] = tfa_state(p.assign(role="collaborator"))
    out = p.sort_values(["full_apps", "email_key"], ascending=[False, True], kind="stable")
    cols = ["email", "full_apps", "limited_apps", "owner_apps", "2FA", "internal", "regions"]
    out = out[cols].reset_index(drop=True)
    return out.head(top) if top else out


def external_full_role(data: AuditData, *, top: int | None = None) -> pd.DataFrame:
    """Memberships giving an external person the full Collaborator role (accepted or pending)."""
    m = data.memberships
    sel = m[
        (m["role"] == "collaborator")
        & m["status"].isin(["accepted", "pending"])
        & (m["internal"] == False).fillna(False)  # noqa: E712
    ]
    return _membership_list(sel, top)


def full_role_without_tfa(data: AuditData, *, top: int | None = None) -> pd.DataFrame:
    """Accepted full Collaborator memberships whose 2FA is known to be off."""
    m = data.memberships
    sel = m[
        (m["role"] == "collaborator")
        & (m["status"] == "accepted")
        & (m["tfa"] == False).fillna(False)  # noqa: E712
    ]
    return _membership_list(sel, top)


def downgrade_commands(findings: pd.DataFrame, *, top: int | None = None) -> pd.DataFrame:
    """What to downgrade: one row per (region, app, person) that an unmuted finding of a
    check whose remediation is a downgrade to Limited Collaborator names, with the CLI
    command of the finding (:func:`command_cells`) and the checks that ask for it. Most
    severe first. (Findings about a person across apps, such as
    ``full_collaborator_on_many_apps``, name no single app: see :func:`full_role_ranking`.)"""
    cols = ["severity", "region", "app", "email", "checks", "command"]
    f = findings[~findings["muted"].fillna(False).astype(bool)]
    downgrade = {c.id for c in CHECKS.values() if c.action == "downgrade"}
    f = f[f["app"].notna() & f["check_id"].isin(downgrade)]
    if f.empty:
        return pd.DataFrame(columns=cols)
    f = f.assign(command=command_cells(f["command"]), _rank=f["severity"].map(SEVERITY_RANK))
    g = f.groupby(["region", "app", "email"], sort=False, dropna=False)
    out = pd.DataFrame(
        {
            "_rank": g["_rank"].min(),
            "severity": g["_rank"].min().map(dict(enumerate(SEVERITIES))),
            "checks": _per_group(g, "check_id", lambda vs: ", ".join(sorted(set(vs)))),
            "command": g["command"].first(),
        }
    ).reset_index()
    out = out.sort_values(["_rank", "app", "region", "email"], kind="stable")
    out = out[cols].reset_index(drop=True)
    return out.head(top) if top else out


def command_cells(commands: pd.Series) -> pd.Series:
    """A findings ``command`` column as table cells: each command as one line to paste
    (:func:`scalingo_audit.commands.render`), :data:`MANUAL_CELL` where there is none."""
    return commands.map(lambda c: MANUAL_CELL if c is None else render(c)).astype("string")


def unused_full_role(
    data: AuditData, findings: pd.DataFrame, *, top: int | None = None
) -> pd.DataFrame:
    """Full Collaborators who hold the role but did not use it (open
    ``unused_full_privileges`` findings): their last full-role action and their last
    activity of any kind on the app (restarts, review apps...), with the downgrade command.
    Empty when events were not collected (see :func:`activity_summary`)."""
    cols = ["email", "app", "last full-role action", "last activity", "command"]
    f = findings[
        (findings["check_id"] == "unused_full_privileges")
        & (findings["severity"] != "info")
        & ~findings["muted"].fillna(False).astype(bool)
    ]
    if f.empty:
        return pd.DataFrame(columns=cols)
    m = data.memberships.drop_duplicates(["region", "app_name", "email"])
    rows = f.merge(
        m, left_on=["region", "app", "email"], right_on=["region", "app_name", "email"], how="left"
    )

    def day(s: pd.Series) -> pd.Series:
        return s.dt.strftime("%Y-%m-%d").fillna("none in the window")

    out = pd.DataFrame(
        {
            "email": rows["email"],
            "app": rows["app"],
            "last full-role action": day(rows["last_full_action_at"]),
            "last activity": day(rows["last_activity_at"]),
            "command": command_cells(rows["command"]),
        }
    )
    out = out.sort_values(["email", "app"]).reset_index(drop=True)
    return out.head(top) if top else out


def activity_summary(data: AuditData, findings: pd.DataFrame) -> str:
    """One Markdown line: what the activity checks found, or why they could not run."""
    if data.info.activity_note:
        return f"**{data.info.activity_note}**"
    open_ = findings[~findings["muted"].fillna(False).astype(bool)]
    n = int(((open_["check_id"] == "unused_full_privileges") & (open_["severity"] != "info")).sum())
    idle = int(
        ((open_["check_id"] == "inactive_collaborator") & (open_["severity"] != "info")).sum()
    )
    days = data.policy.thresholds.inactive_days
    return (
        f"From the app events of the last {data.info.events_days} days: {n} full Collaborator "
        f"membership(s) with no action needing the full role in {days} days; {idle} "
        f"collaborator membership(s) with no activity of any kind in {days} days."
    )


# --- findings ----------------------------------------------------------------------------


def findings_overview(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings counted per check: severity, title, open (unmuted) and muted counts,
    most severe first."""
    cols = ["check_id", "severity", "title", "open", "muted"]
    if findings.empty:
        return pd.DataFrame(columns=cols)
    muted = findings["muted"].fillna(False).astype(bool)
    g = findings.assign(open=(~muted).astype(int), muted=muted.astype(int)).groupby(
        ["check_id", "severity", "title"], as_index=False
    )
    out = g[["open", "muted"]].sum()
    out["_rank"] = out["severity"].map(SEVERITY_RANK)
    out = out.sort_values(["_rank", "open", "check_id"], ascending=[True, False, True])
    return out[cols].reset_index(drop=True)


FINDING_COLUMNS = ("region", "app", "email", "token_name", "message", "remediation")
"""What a finding says, in the order the findings page shows it (check and severity are the
heading of its group)."""


@dataclass(frozen=True)
class CheckGroup:
    """The findings of one check, with what the check is about (the findings page's unit)."""

    check_id: str
    severity: str
    title: str
    risk: str
    guide: str
    remediation: str
    rows: pd.DataFrame


def check_groups(findings: pd.DataFrame) -> list[CheckGroup]:
    """Open (unmuted) findings grouped by check, most severe check first, every finding in
    its group (nothing capped). Each group's rows keep :data:`FINDING_COLUMNS`, less the
    subject columns no finding of the check fills (a token check names no app)."""
    from .checks import CHECKS

    f = findings[~findings["muted"].fillna(False).astype(bool)]
    f = f.assign(_rank=f["severity"].map(SEVERITY_RANK))
    groups = []
    for (_rank, check_id), rows in f.groupby(["_rank", "check_id"], sort=True):
        check = CHECKS.get(str(check_id))
        subject = [c for c in FINDING_COLUMNS[:4] if rows[c].notna().any()]
        first = rows.iloc[0]
        groups.append(
            CheckGroup(
                check_id=str(check_id),
                severity=str(first["severity"]),
                title=str(first["title"]),
                risk=check.risk_alone if check else str(first["risk"]),
                guide=check.guide if check else "",
                remediation=check.remediation if check else "",
                rows=rows[[*subject, "message", "remediation"]].reset_index(drop=True),
            )
        )
    return groups


def severity_counts(findings: pd.DataFrame) -> pd.Series:
    """Unmuted findings per severity, every severity present (zero when none)."""
    f = findings[~findings["muted"].fillna(False).astype(bool)]
    return f["severity"].value_counts().reindex(list(SEVERITIES), fill_value=0).astype(int)


def findings_list(
    findings: pd.DataFrame,
    *,
    muted: bool = False,
    severity: str | None = None,
    top: int | None = None,
) -> pd.DataFrame:
    """Findings to read, most severe first: the unmuted ones (or, with ``muted=True``, those a
    policy exception mutes, with its reason and expiry). ``severity`` keeps one severity."""
    f = findings[findings["muted"].fillna(False).astype(bool) == muted]
    if severity:
        f = f[f["severity"] == severity]
    cols = ["severity", "check_id", "region", "app", "email", "token_name", "message"]
    cols += ["exception_reason", "exception_expires"] if muted else ["remediation"]
    out = f[cols].reset_index(drop=True)
    return out.head(top) if top else out


def exceptions_status(policy: Policy, findings: pd.DataFrame, as_of: dt.datetime) -> pd.DataFrame:
    """The policy's exceptions (accepted risks): what each covers, until when, whether it is
    still active, and how many findings it mutes. An expired one says so and mutes nothing."""
    day = as_of.date()
    rows = []
    for e in policy.exceptions:
        active = e.active_on(day)
        muted = findings[
            findings["muted"].fillna(False).astype(bool)
            & (findings["exception_reason"] == e.reason).fillna(False)
            & (findings["check_id"] == e.check_id)
        ]
        rows.append(
            {
                "exception": e.describe(),
                "reason": e.reason,
                "expires": e.expires.isoformat(),
                "state": "active"
                if active
                else f"expired on {e.expires.isoformat()}, mutes nothing",
                "findings muted": len(muted) if active else 0,
            }
        )
    return pd.DataFrame(rows, columns=["exception", "reason", "expires", "state", "findings muted"])


# --- people ------------------------------------------------------------------------------


def person_access(memberships: pd.DataFrame, email: str) -> pd.DataFrame:
    """Every membership of one person (email compared case-insensitively)."""
    m = memberships[memberships["email_key"] == email.strip().lower()]
    cols = ["region", "project_name", "app_name", "role", "status"]
    return m[cols].assign(**{"2FA": tfa_state(m)}).reset_index(drop=True)


def person_findings(findings: pd.DataFrame, email: str) -> pd.DataFrame:
    """Every finding about one person (email compared case-insensitively); ``region`` tells
    apart two apps of one name in two regions."""
    f = findings[findings["email"].str.lower() == email.strip().lower()]
    cols = [
        "severity", "check_id", "region", "app", "token_name", "message", "remediation", "muted"
    ]  # fmt: skip
    return f[cols].reset_index(drop=True)


# --- helpers -----------------------------------------------------------------------------


def _membership_list(sel: pd.DataFrame, top: int | None) -> pd.DataFrame:
    cols = ["email", "region", "project_name", "app_name", "status"]
    out = sel.assign(**{"2FA": tfa_state(sel)}).sort_values(["email_key", "app_name"])
    out = out[[*cols, "2FA"]].reset_index(drop=True)
    return out.head(top) if top else out


def _per_group(g: DataFrameGroupBy, column: str, fn: Callable[[list[Any]], str]) -> pd.Series:
    """The text ``fn`` makes of each group's values of ``column`` (a list, missing values left
    out), in the groups' order: what ``g[column].agg(...)`` gives, without the Series pandas
    makes for every group (a tenth of a second for 3,000 groups)."""
    ids = g.ngroup().fillna(-1).astype(int).tolist()  # NaN: a row in no group (missing key)
    groups: list[list[Any]] = [[] for _ in range(g.ngroups)]
    for i, v in zip(ids, values(g.obj[column]), strict=True):
        if i >= 0 and v is not None:
            groups[i].append(v)
    return pd.Series([fn(vs) for vs in groups], index=g.size().index, dtype="string")


def _some(items: list[str], n: int) -> str:
    """The first ``n`` items, comma-separated, and how many more."""
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


__all__ = [
    "FINDING_COLUMNS",
    "MANUAL_CELL",
    "ROLE_LABELS",
    "STATUSES",
    "TFA_STATES",
    "CheckGroup",
    "activity_summary",
    "check_groups",
    "command_cells",
    "coverage_gaps",
    "downgrade_commands",
    "exceptions_status",
    "external_full_role",
    "findings_list",
    "findings_overview",
    "full_role_ranking",
    "full_role_without_tfa",
    "markdown_escape",
    "owner_counts",
    "owner_kind",
    "owners",
    "person_access",
    "person_findings",
    "role_counts",
    "scope",
    "scope_findings",
    "severity_counts",
    "source_line",
    "source_markdown",
    "tfa_chase_list",
    "tfa_counts",
    "tfa_state",
    "unused_full_role",
]
