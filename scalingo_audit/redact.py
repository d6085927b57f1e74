"""No secret on disk: the values of environment variables carried by app events.

Scalingo's variable events (``new_variable``, ``edit_variable``, ``delete_variable``,
``edit_variables``, and any other type naming variables) carry the variables' **values**
(``value``, ``old_value``, and the values inside ``new_vars``, ``updated_vars`` and
``deleted_vars``): database URLs, API keys. An audit needs who changed which variable and
when, never the value. :func:`redact_events` replaces every value, anywhere in such an
event's ``type_data``, with :data:`MARKER` and keeps the names. ``collect`` applies it
before anything is written (the manifest's ``redacted`` field says how many values, and
the hashes are of the redacted files); ``snapshot.read`` applies it in memory to a
snapshot written before redaction existed, with one warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MARKER = "[redacted]"
"""What stands in place of every variable value, in every file and output."""

VALUE_KEYS = frozenset({"value", "old_value"})
"""Keys whose value is a variable's value, at any depth of a variable event's type_data."""


def is_variable_event(event: Mapping[str, Any]) -> bool:
    """A variable event: its type names variables (``new_variable``, ``edit_variables``...)."""
    kind = event.get("type")
    return isinstance(kind, str) and "variable" in kind.lower()


def redact_event(event: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """``event`` with every variable value replaced by :data:`MARKER`, and how many were.
    Events of other types are returned unchanged (as a copy)."""
    out = dict(event)
    if not is_variable_event(event) or "type_data" not in event:
        return out, 0
    data, n = _redact(event["type_data"])
    out["type_data"] = data
    return out, n


def redact_events(body: Any) -> tuple[Any, int]:
    """An events response body (``{"events": [...], ...}``) with every variable value
    redacted, and how many values were. Anything else is returned as it is."""
    if not isinstance(body, Mapping) or not isinstance(body.get("events"), list):
        return body, 0
    total = 0
    events: list[Any] = []
    for e in body["events"]:
        if isinstance(e, Mapping):
            e, n = redact_event(e)
            total += n
        events.append(e)
    return {**body, "events": events}, total


def _redact(obj: Any) -> tuple[Any, int]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        total = 0
        for k, v in obj.items():
            if k in VALUE_KEYS and v is not None and v != MARKER:
                out[k] = MARKER
                total += 1
            else:
                out[k], n = _redact(v)
                total += n
        return out, total
    if isinstance(obj, list):
        items = [_redact(v) for v in obj]
        return [v for v, _ in items], sum(n for _, n in items)
    return obj, 0
