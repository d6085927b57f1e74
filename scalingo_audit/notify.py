"""``scalingo-audit notify``: post what is new since a baseline to a chat or SIEM webhook.

The webhook URL comes only from the environment variable :data:`ENV` and is a secret
(an incoming-webhook URL is its own credential): it is never printed, never written to a
file, never part of an error message or of a ``repr``. Errors name the failure (HTTP
status, exception type, number of attempts), never the URL; exceptions of ``requests``,
which embed the URL, are replaced rather than chained (``raise ... from None``).

Payloads:

- ``slack`` (default): a Slack incoming-webhook message (``text`` plus ``mrkdwn`` section
  ``blocks``), which Mattermost, Rocket.Chat and most chat tools accept too. Text from the
  API is escaped (``&``, ``<``, ``>``), so a name cannot become a link or a mention.
- ``json``: one JSON document (``format`` ``scalingo-audit/notification``, version 1)
  with ``summary``, the ``new`` and ``fixed`` findings as ``check --format json`` writes
  them, and the ``source`` provenance.

Only *new unmuted* findings count as new (not a check's notice that it could not be
evaluated); nothing is posted when there is none, unless
``always``. :func:`post` retries 429 and 5xx answers, timeouts and connection failures with
exponential backoff (honouring ``Retry-After``), and never follows redirects.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from .baseline import NEW, fixed_findings, open_findings
from .errors import AuditError
from .frames import SEVERITIES

ENV = "SCALINGO_AUDIT_WEBHOOK_URL"
FORMATS = ("slack", "json")
MAX_RETRY_AFTER = 60.0
"""Longest ``Retry-After`` honoured, in seconds."""


class WebhookError(AuditError):
    """The webhook is missing, malformed or did not accept the message. Never holds the URL."""


@dataclass(frozen=True)
class Webhook:
    """A webhook endpoint; its URL never shows in ``repr`` or ``str``."""

    url: str = field(repr=False)

    def __str__(self) -> str:
        return f"${ENV}"


def webhook_from_env(environ: Mapping[str, str] | None = None) -> Webhook:
    """The webhook named by :data:`ENV`; a :class:`WebhookError` (without the value) when
    it is unset or not an http(s) URL."""
    url = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not url:
        raise WebhookError(f"{ENV} is not set: export the webhook URL (kept secret) first")
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise WebhookError(f"{ENV} is not an http:// or https:// URL (its value is not shown)")
    return Webhook(url)


# --- what to say ---------------------------------------------------------------------------


def new_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """New (since the baseline) unmuted findings; a check's notice that it could not be
    evaluated is not news."""
    from .compliance import not_evaluated_mask

    f = open_findings(findings)
    f = f[~not_evaluated_mask(f, partly=True)]
    return f[(f["baseline_status"] == NEW) & ~f["muted"].fillna(False).astype(bool)]


def summary(findings: pd.DataFrame) -> dict[str, Any]:
    """Counts: ``new`` and ``fixed``, new per severity, open (unmuted) per severity."""
    from .output import severity_counts

    new = new_findings(findings)
    return {
        "new": len(new),
        "new_by_severity": {s: int((new["severity"] == s).sum()) for s in SEVERITIES},
        "fixed": len(fixed_findings(findings)),
        "open_by_severity": severity_counts(findings),
    }


def _headline(s: dict[str, Any]) -> str:
    sev = ", ".join(f"{n} {k}" for k, n in s["new_by_severity"].items() if n)
    return (
        f"{s['new']} new finding{'s' if s['new'] != 1 else ''}"
        + (f" ({sev})" if sev else "")
        + f", {s['fixed']} fixed since the baseline"
    )


def slack_escape(text: Any) -> str:
    """Slack's escaping for message text: ``&``, ``<`` and ``>`` (no links, no mentions)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(
    findings: pd.DataFrame, provenance: Mapping[str, Any], *, top: int = 20
) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the fallback line) and ``blocks``."""
    s = summary(findings)
    where = (
        f"{provenance.get('source', '')} {provenance.get('location', '')}, collected "
        f"{provenance.get('collected_at', '')}"
    )
    head = f"scalingo-audit: {_headline(s)} — {where}"
    lines = [f"*{slack_escape(head)}*"]
    for title, rows in (("New", new_findings(findings)), ("Fixed", fixed_findings(findings))):
        if rows.empty:
            continue
        lines.append(f"*{title}:*")
        for r in rows.head(top).to_dict("records"):
            lines.append(
                f"• [{slack_escape(r['severity'])}] `{slack_escape(r['check_id'])}` "
                f"{slack_escape(r['message'])}"
            )
        if len(rows) > top:
            lines.append(f"…and {len(rows) - top} more")
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in _chunks(lines, 2900)
    ][:50]
    return {"text": slack_escape(head), "blocks": blocks}


def _chunks(lines: list[str], limit: int) -> list[str]:
    """Lines joined into texts of at most ``limit`` characters (Slack's section limit)."""
    out: list[str] = []
    cur = ""
    for line in lines:
        line = line if len(line) <= limit else line[: limit - 1] + "…"
        if cur and len(cur) + 1 + len(line) > limit:
            out.append(cur)
            cur = line
        else:
            cur = f"{cur}\n{line}" if cur else line
    if cur:
        out.append(cur)
    return out


def json_payload(
    findings: pd.DataFrame, provenance: Mapping[str, Any], *, baseline: str
) -> dict[str, Any]:
    """The plain JSON document (``--webhook-format json``)."""
    from .output import records

    return {
        "format": "scalingo-audit/notification",
        "format_version": 1,
        "summary": summary(findings),
        "new": records(new_findings(findings)),
        "fixed": records(fixed_findings(findings)),
        "source": dict(provenance),
        "baseline": baseline,
    }


# --- sending -------------------------------------------------------------------------------


def post(
    webhook: Webhook,
    payload: dict[str, Any],
    *,
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload`` as JSON; returns the number of attempts. Retries 429/5xx answers,
    timeouts and connection errors up to ``retries`` times (waits ``backoff * 2**n``, or
    ``Retry-After`` up to :data:`MAX_RETRY_AFTER`); raises :class:`WebhookError` when it
    finally fails or on any other answer than 2xx."""
    import requests

    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        wait = backoff * 2 ** (attempt - 1)
        try:
            r = requests.post(
                webhook.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except requests.Timeout:
            problem = f"no answer within {timeout:g} s"
        except requests.RequestException as exc:
            problem = f"could not connect ({type(exc).__name__})"
        except Exception as exc:  # anything else a transport may raise: never its text
            raise WebhookError(f"the webhook could not be called ({type(exc).__name__})") from None
        else:
            status = r.status_code
            r.close()
            if 200 <= status < 300:
                return attempt
            if status != 429 and status < 500:
                hint = " (redirects are not followed)" if 300 <= status < 400 else ""
                raise WebhookError(f"the webhook refused the message: HTTP {status}{hint}")
            problem = f"HTTP {status}"
            wait = _retry_after(r.headers.get("Retry-After"), wait)
        if attempt == attempts:
            raise WebhookError(
                f"the webhook did not accept the message after {attempts} attempt"
                f"{'s' if attempts != 1 else ''}: {problem}"
            )
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        return default  # an HTTP date: keep to our own backoff
    if not math.isfinite(seconds):
        return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
