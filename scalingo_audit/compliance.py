"""Compliance mapping: which framework controls each check gives evidence on.

The mapping lives in the package data file ``compliance.yaml``: for each framework
(:data:`FRAMEWORKS`: ISO/IEC 27001:2022 Annex A, SOC 2 Trust Services Criteria, CIS
Controls v8) its control list as published, and for each check id the controls it bears
on, each with its source and a one-line reason.

- :func:`controls_for` — a check's control ids per framework (the ``compliance`` field of
  ``check --format json``, CSV and OCSF);
- :func:`mapping` — the mapping as a table (``checks --framework``);
- :func:`control_status` — per mapped control, the checks evaluating it, open and muted
  findings and the checks that could not be evaluated (the report's Compliance page).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: the CLI reads FRAMEWORKS without loading pandas
    import pandas as pd

FRAMEWORKS = ("iso27001", "soc2", "cis")
"""Framework keys, as ``checks --framework`` and the ``compliance`` field name them."""

NOT_EVALUATED = r"(?i)(could )?not (be )?evaluated:"
"""How a check says, in an ``info`` finding with no app, that it could not run: "Could not
be evaluated: ..." (activity checks without events) or "not evaluated: set `KEY` in the
policy" (checks needing a policy key)."""

STATUSES = ("open findings", "muted findings only", "no finding", "not evaluated")


@functools.cache
def _data() -> dict[str, Any]:
    import yaml

    text = resources.files("scalingo_audit").joinpath("compliance.yaml").read_text("utf-8")
    # The mapping ships with the package (never a user's file): read by libyaml's safe
    # loader where PyYAML has it (~35 ms -> ~4 ms), by the pure-Python one otherwise.
    data: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return data


def framework_name(framework: str) -> str:
    return str(_data()["frameworks"][framework]["name"])


def framework_controls(framework: str) -> dict[str, str]:
    """The framework's control list shipped with the mapping: id -> title."""
    return {str(k): str(v) for k, v in _data()["frameworks"][framework]["controls"].items()}


def mapping(framework: str | None = None) -> pd.DataFrame:
    """One row per (check, control): ``check_id``, ``framework``, ``control``, ``title``
    (the control's), ``source``, ``reason``; only ``framework``'s rows when given."""
    import pandas as pd

    rows = []
    for check_id, entries in _data()["mapping"].items():
        for e in entries:
            fw, control = str(e["framework"]), str(e["control"])
            if framework and fw != framework:
                continue
            rows.append(
                {
                    "check_id": check_id,
                    "framework": fw,
                    "control": control,
                    "title": framework_controls(fw).get(control, ""),
                    "source": e["source"],
                    "reason": e["reason"],
                }
            )
    return pd.DataFrame(rows, columns=["check_id", "framework", "control", "title", "source",
                                       "reason"])  # fmt: skip


@functools.cache
def _by_check() -> dict[str, dict[str, tuple[str, ...]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for r in mapping().to_dict("records"):
        fw = out.setdefault(r["check_id"], {f: [] for f in FRAMEWORKS})
        if r["control"] not in fw[r["framework"]]:
            fw[r["framework"]].append(r["control"])
    return {c: {f: tuple(v) for f, v in fws.items()} for c, fws in out.items()}


def controls_for(check_id: str) -> dict[str, list[str]]:
    """``{"iso27001": [...], "soc2": [...], "cis": [...]}`` for a check (empty lists for an
    unmapped one)."""
    got = _by_check().get(check_id, {})
    return {f: list(got.get(f, ())) for f in FRAMEWORKS}


def controls_text(check_id: str) -> str:
    """The control ids as one line, e.g. ``iso27001: 8.5, 5.17; soc2: CC6.1; cis: 6.5``."""
    got = controls_for(check_id)
    return "; ".join(f"{f}: {', '.join(got[f])}" for f in FRAMEWORKS if got[f])


def not_evaluated_mask(findings: pd.DataFrame, *, partly: bool = False) -> pd.Series:
    """True for the findings that only say their check could not be evaluated at all (with
    ``partly``, also "Could not be evaluated on N app(s)..." notices)."""
    import numpy as np
    import pandas as pd

    f = findings
    pattern = NOT_EVALUATED.removesuffix(":") + r"\b" if partly else NOT_EVALUATED
    notice = ((f["severity"] == "info") & f["app"].isna()).fillna(False).to_numpy(bool)
    said = np.zeros(len(f), dtype=bool)
    if notice.any():  # only the few info findings naming no app are read (of 11,000...)
        text = f["message"][notice].fillna("").astype(str)
        said[notice] = text.str.match(pattern).to_numpy(bool)
    return pd.Series(said, index=f.index)


def not_evaluated_checks(findings: pd.DataFrame) -> set[str]:
    """Checks that said, for the whole audit, that they could not be evaluated."""
    return set(findings.loc[not_evaluated_mask(findings), "check_id"])


def control_status(
    findings: pd.DataFrame, framework: str | None = None, *, checks: list[str] | None = None
) -> pd.DataFrame:
    """Per mapped control (of ``framework``, else of all): ``framework``, ``control``,
    ``title``, ``checks`` (the check ids evaluating it), ``open`` (unmuted findings),
    ``muted``, ``not_evaluated`` (its checks that could not run, or were not run: not in
    ``checks``, the ids that ran, default the whole catalogue) and ``status`` (one of
    :data:`STATUSES`). Findings a baseline marks ``fixed`` are not counted."""
    import pandas as pd

    from .baseline import open_findings
    from .checks import CHECKS

    # the columns read, then the rows: filtering every column of 11,000 findings costs more
    f = open_findings(findings[["check_id", "severity", "app", "message", "muted",
                                "baseline_status"]])  # fmt: skip
    skipped = not_evaluated_checks(f)
    ran = set(CHECKS) if checks is None else set(checks)
    real = f[~not_evaluated_mask(f, partly=True)]
    muted = real["muted"].fillna(False).astype(bool)
    n_open = real[~muted].groupby("check_id").size().to_dict()
    n_muted = real[muted].groupby("check_id").size().to_dict()
    m = mapping(framework)
    rows = []
    for (fw, control), group in m.groupby(["framework", "control"], sort=False):
        ids = [c for c in dict.fromkeys(group["check_id"]) if c in CHECKS]
        if not ids:
            continue  # mapped ahead of a check this version does not have
        missing = [c for c in ids if c in skipped or c not in ran]
        opened = sum(int(n_open.get(c, 0)) for c in ids)
        mute = sum(int(n_muted.get(c, 0)) for c in ids)
        if opened:
            status = "open findings"
        elif mute:
            status = "muted findings only"
        elif len(missing) == len(ids):
            status = "not evaluated"
        else:
            status = "no finding"
        rows.append(
            {
                "framework": fw,
                "control": control,
                "title": group["title"].iloc[0],
                "checks": ", ".join(ids),
                "open": opened,
                "muted": mute,
                "not_evaluated": ", ".join(missing),
                "status": status,
            }
        )
    out = pd.DataFrame(rows, columns=["framework", "control", "title", "checks", "open", "muted",
                                      "not_evaluated", "status"])  # fmt: skip
    order = {fw: i for i, fw in enumerate(FRAMEWORKS)}
    out["_f"] = out["framework"].map(order)
    out["_c"] = out["control"].map(_control_key)
    return out.sort_values(["_f", "_c"]).drop(columns=["_f", "_c"]).reset_index(drop=True)


def _control_key(control: str) -> tuple[Any, ...]:
    """Sort 5.2 before 5.15 and CC6.1 before CC9.2."""
    head = control.rstrip("0123456789.")
    nums = control[len(head) :].split(".")
    return (head, *(int(n) if n.isdigit() else 0 for n in nums))


def controls_print(framework: str) -> str:
    """``checks --framework``: each check of the catalogue with its controls of
    ``framework`` (id and title, source and reason), then the controls evaluated."""
    from .checks import catalogue

    m = mapping(framework)
    lines = [f"{framework_name(framework)} — controls each check bears on", ""]
    for c in catalogue().to_dict("records"):
        rows = m[m["check_id"] == c["check_id"]]
        ids = ", ".join(rows["control"]) or "(none)"
        lines.append(f"{c['check_id']:34} {c['severity']:7} {ids}")
        for r in rows.to_dict("records"):
            lines.append(f"    {r['control']} {r['title']}: {r['reason']} [{r['source']}]")
    return "\n".join(lines) + "\n"


def report_table(findings: pd.DataFrame, framework: str) -> pd.DataFrame:
    """The report's Compliance table for one framework: one row per mapped control with
    its status, open and muted findings, the checks evaluating it and those not evaluated,
    with readable column names."""
    t = control_status(findings, framework)
    return t.drop(columns="framework").rename(
        columns={
            "control": "Control",
            "title": "Title",
            "status": "Status",
            "open": "Open findings",
            "muted": "Muted",
            "checks": "Checks evaluating it",
            "not_evaluated": "Not evaluated",
        }
    )[["Control", "Title", "Status", "Open findings", "Muted", "Checks evaluating it",
       "Not evaluated"]]  # fmt: skip


def summary(findings: pd.DataFrame) -> pd.DataFrame:
    """Controls per framework and status (rows: framework names; columns: statuses)."""
    import pandas as pd

    t = control_status(findings)
    counts = pd.crosstab(t["framework"], t["status"]).reindex(
        index=list(FRAMEWORKS), columns=list(STATUSES), fill_value=0
    )
    counts.index = [framework_name(f) for f in counts.index]
    counts.index.name = "framework"
    counts.columns.name = None
    return counts
