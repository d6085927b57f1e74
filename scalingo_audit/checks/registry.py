"""The check catalogue: each check is a pure function registered with its metadata.

A check takes a :class:`Context` (the frames, the policy and the ``as_of``
time) and yields findings as dicts with any of ``region``, ``app``, ``email``,
``token_name``, ``message``, ``remediation`` and ``command``. Ids are a contract: CI
configurations and exception files name them.

A check whose remediation is a Scalingo CLI command names its ``action`` (a key of
:data:`scalingo_audit.commands.ACTIONS`); its findings about one app carry that command
(:func:`scalingo_audit.commands.argv`, ``None`` when a value is unsafe in a shell) and
their remediation shows it through :func:`scalingo_audit.commands.phrase`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..commands import ACTIONS, argv, phrase
from ..frames import CHECK_IDS, SEVERITIES

if TYPE_CHECKING:  # annotations only: the registry runs without the model or the policy
    from ..model import AuditData
    from ..policy import Policy

GUIDE = "Scalingo's best-practices guide"


@dataclass(frozen=True)
class Context:
    data: AuditData
    policy: Policy
    as_of: dt.datetime

    def days_before(self, when: Any) -> float:
        """Days between ``when`` and ``as_of``."""
        return (self.as_of - when).total_seconds() / 86400


Finding = dict[str, Any]
CheckFn = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    title: str
    risk: str
    remediation: str
    fn: CheckFn
    theme: str
    needs: str = ""
    """The policy key this check cannot run without (empty: none)."""
    action: str | None = None  # the CLI action of its remediation (commands.ACTIONS)

    @property
    def guide(self) -> str:
        """What Scalingo's best-practices guide recommends: the sentence of ``risk`` naming
        the guide (empty when it names none)."""
        return next((s for s in _sentences(self.risk) if GUIDE in s), "")

    @property
    def risk_alone(self) -> str:
        """``risk`` without the guide's sentence."""
        return " ".join(s for s in _sentences(self.risk) if GUIDE not in s)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


CHECKS: dict[str, Check] = {}


def check(
    id: str,
    *,
    severity: str,
    title: str,
    risk: str,
    remediation: str,
    needs: str = "",
    action: str | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under ``id``. With ``needs`` (a policy key such as
    ``internal_domains``), the check runs only when the policy sets that key; otherwise it
    yields one ``info`` finding saying it was not evaluated (:func:`not_evaluated`)."""
    if id not in CHECK_IDS:
        raise ValueError(f"check id {id!r} is not in frames.CHECK_IDS (the ids' contract)")
    if severity not in SEVERITIES:
        raise ValueError(f"check {id}: unknown severity {severity!r}")
    if action is not None and action not in ACTIONS:
        raise ValueError(f"check {id}: unknown action {action!r}")

    def register(fn: CheckFn) -> CheckFn:
        if id in CHECKS:
            raise ValueError(f"check id {id!r} registered twice")
        theme = fn.__module__.rsplit(".", 1)[-1]
        run = fn
        if needs:

            def run(ctx: Context) -> Iterable[Finding]:
                if not getattr(ctx.policy, needs):
                    return [not_evaluated(needs)]
                return fn(ctx)

        CHECKS[id] = Check(id, severity, title, risk, remediation, run, theme, needs, action)
        return fn

    return register


def membership_finding(r: dict[str, Any], action: str, message: str, remediation: str) -> Finding:
    """A finding about one membership ``r`` (its ``region``, ``app_name`` and ``email``)
    that ``action`` fixes: it carries the command (:func:`~scalingo_audit.commands.argv`)
    and ``remediation`` ends with it (:func:`~scalingo_audit.commands.phrase`)."""
    cmd = argv(action, r["region"], r["app_name"], r["email"])
    return {
        "region": r["region"],
        "app": r["app_name"],
        "email": r["email"],
        "message": message,
        "remediation": remediation + phrase(cmd),
        "command": cmd,
    }


NOT_EVALUATED = "not evaluated: set `{key}` in the policy"
"""The message of a check that needs a policy key the policy does not set."""


def not_evaluated(key: str) -> Finding:
    """The one ``info`` finding of a check whose policy key ``key`` is not set."""
    return {
        "severity": "info",
        "message": NOT_EVALUATED.format(key=key) + ".",
        "remediation": "Write a starter policy from the data with "
        "scalingo-audit init-policy SOURCE --out policy.yaml, review it, then pass "
        "--policy policy.yaml.",
    }
