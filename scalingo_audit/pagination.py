"""Scalingo's pagination rule: does a stored or received list page announce another one?

One rule, shared by the HTTP client (:mod:`scalingo_audit.api`, which follows the pages)
and the loader (:mod:`scalingo_audit.sources`, which tells whether the events collected for
an app stop at a page limit). It lives apart from the client so that loading a snapshot
imports no HTTP library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ApiError


def next_page(body: Mapping[str, Any], asked: int | None = None, *, label: str = "") -> int | None:
    """The page to ask for after ``body`` (the answer to page ``asked``), or None when the
    list is complete.

    Scalingo's reference says ``next_page`` is null on the last page; its Go pagination
    helper repeats the last page number instead. So the list ends when ``next_page`` is
    null or missing, is not greater than ``current_page`` (or than the page asked for),
    or when ``current_page >= total_pages``. A malformed ``meta`` (not an object, a page
    number that is not a whole number) is an :class:`ApiError`."""
    meta = body.get("meta")
    if meta is None:
        return None
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    if pagination is None and isinstance(meta, dict):
        return None
    if not isinstance(pagination, dict):
        raise ApiError("malformed 'meta.pagination' in the response", request=label)
    nxt = _page_number(pagination.get("next_page"), "next_page", label)
    if nxt is None:
        return None
    current = _page_number(pagination.get("current_page"), "current_page", label)
    total = _page_number(pagination.get("total_pages"), "total_pages", label)
    done = max(current or 0, asked or 0)
    if nxt <= done or (current is not None and total is not None and current >= total):
        return None
    return nxt


def _page_number(value: Any, name: str, label: str) -> int | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError(f"malformed 'meta.pagination.{name}': {value!r}"[:120], request=label)
    return value
