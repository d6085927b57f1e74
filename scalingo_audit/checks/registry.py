"""The check catalogue: each check is a pure function registered with its metadata.

A check takes a :class:`Context` (the frames, the policy and the ``as_of``
time) and yields findings as dicts with any of ``region``, ``app``, ``email``,
``token_name``, ``message`` and ``remediation``. Ids are a contract: CI
configurations and exception files name them.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..frames import SEVERITIES
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
    id: str, *, severity: str, title: str, risk: str, remediation: str
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under ``id``."""
    if severity not in SEVERITIES:
        raise ValueError(f"check {id}: unknown severity {severity!r}")

    def register(fn: CheckFn) -> CheckFn:
        if id in CHECKS:
            raise ValueError(f"check id {id!r} registered twice")
        theme = fn.__module__.rsplit(".", 1)[-1]
        CHECKS[id] = Check(id, severity, title, risk, remediation, fn, theme)
        return fn

    return register


def cli(*words: str) -> str:
    """A Scalingo CLI command line, each user-controlled word shell-quoted."""
    return "scalingo " + " ".join(shlex.quote(w) if i else w for i, w in enumerate(words))


def app_cli(app: str, *words: str) -> str:
    return (
        "scalingo --app "
        + shlex.quote(app)
        + " "
        + " ".join(
            w if w.startswith("-") or i == 0 else shlex.quote(w) for i, w in enumerate(words)
        )
    )
