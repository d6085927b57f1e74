"""The raw API records both synthetic organisations are made of (the demo's Acme in
:mod:`.generate`, the benchmarks' Bigcorp in :mod:`.large`), in the shapes Scalingo's API
returns. The builders draw nothing: each generator makes its random draws in its own
order and passes the results, so a seed always gives the same organisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

INVITATION = "https://dashboard.scalingo.com/apps/invitation?token={token}"


def app(
    *,
    id: str,
    name: str,
    region: str,
    created_at: str,
    deployed_at: str | None,
    owner: Mapping[str, Any],
    project: dict[str, Any],
    hds_region: str,
) -> dict[str, Any]:
    """An app as ``GET /v1/apps`` lists it, plus its ``region`` (see :func:`by_region`);
    deployed by ``deploy-bot`` when ``deployed_at`` is set; HDS in ``hds_region``."""
    return {
        "id": id,
        "name": name,
        "region": region,
        "created_at": created_at,
        "updated_at": deployed_at or created_at,
        "owner": {"id": owner["id"], "username": owner["username"], "email": owner["email"]},
        "project": project,
        "last_deployed_at": deployed_at,
        "last_deployed_by": "deploy-bot" if deployed_at else None,
        "hds_resource": region == hds_region,
        "url": f"https://{name}.{region}.scalingo.io",
    }


def by_region(apps: Iterable[Mapping[str, Any]], regions: Iterable[str]) -> dict[str, list]:
    """The apps of each region as that region's ``GET /v1/apps`` returns them (no
    ``region`` field): what :func:`scalingo_audit.snapshot.api_files` takes."""
    listed = list(apps)
    return {
        region: [
            {k: v for k, v in a.items() if k != "region"} for a in listed if a["region"] == region
        ]
        for region in regions
    }


def collaborator(
    *,
    id: str,
    email: str,
    status: str,
    app: Mapping[str, Any],
    is_limited: bool | str,
    user: Mapping[str, Any],
    tfa: bool | str | None,
    invitation: Callable[[], str],
) -> dict[str, Any]:
    """A collaborator as ``GET /v1/apps/APP/collaborators`` lists it. A pending invitation
    has no user, the username ``n/a``, a null 2FA status and a link holding the token
    ``invitation()`` gives (called only then); an accepted one carries ``user``'s id and
    username and ``tfa`` as ``tfa_status``, omitted when ``tfa`` is ``"missing"``."""
    rec: dict[str, Any] = {
        "id": id,
        "email": email,
        "status": status,
        "app_id": app["id"],
        "app_name": app["name"],
        "is_limited": is_limited,
    }
    if status == "pending":
        rec.update(
            user_id=None,
            username="n/a",
            tfa_status=None,
            invitation_link=INVITATION.format(token=invitation()),
        )
    else:
        rec.update(user_id=user["id"], username=user["username"], invitation_link="")
        if tfa != "missing":
            rec["tfa_status"] = tfa
    return rec


def limited_shape(limited: bool, n: int) -> bool | str:
    """``is_limited`` as the API may send it: Scalingo's docs show it once as a string, so
    every seventh record (``n % 7 == 0``) has ``"true"`` / ``"false"``."""
    return str(limited).lower() if n % 7 == 0 else limited


def token(*, id: str, name: str, created_at: str, last_used_at: str | None) -> dict[str, Any]:
    """An API token as ``GET /v1/account/tokens`` lists it."""
    return {"id": id, "name": name, "created_at": created_at, "last_used_at": last_used_at}


def self_user(user: Mapping[str, Any], fullname: str) -> dict[str, Any]:
    """The collecting account as ``GET /v1/users/self`` returns it."""
    return {
        "id": user["id"],
        "email": user["email"],
        "username": user["username"],
        "fullname": fullname,
        "flags": {},
    }
