"""A large synthetic organisation for benchmarks, in the same raw API shapes as the demo.

``generate_large()`` builds a deterministic organisation ("Bigcorp", seen from
its service account ``ops@bigcorp.example``) of any size: two regions, apps
grouped in projects, most apps owned by the collecting account (so one
``collaborators`` file per region holds most memberships), a few apps owned by
staff (one ``app_collaborators`` file each, the service account collaborating
on them), API tokens of various ages. People are mostly internal, some on
external ``*.example`` domains; a few people hold many apps; roles, statuses
and 2FA vary so every check has work to do.

The sizes are exact once loaded: ``len(data.apps) == apps``,
``len(data.people) == people`` and ``len(data.memberships) == memberships``,
where memberships **include one owner row per app** (so the collaborator
records in the raw files number ``memberships - apps``).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from ..policy import Policy, parse_policy
from ..snapshot import Snapshot, api_files
from . import records

COLLECTED_AT = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
COLLECTOR = "ops@bigcorp.example"
REGIONS = ("osc-fr1", "osc-secnum-fr1")
INTERNAL = "bigcorp.example"
EXTERNAL = ("agency-one.example", "freelance.example", "devshop.example", "studio-nord.example")
TOKEN_ACCOUNTS = ("ci-1@bigcorp.example", "ci-2@bigcorp.example")


def large_policy() -> Policy:
    """A policy for the large organisation: internal domain, service and token accounts."""
    return parse_policy(
        {
            "internal_domains": [INTERNAL],
            "service_accounts": [COLLECTOR],
            "api_token_accounts": list(TOKEN_ACCOUNTS),
        },
        source="<large>",
    )


def generate_large(
    *, apps: int = 5000, people: int = 2000, memberships: int = 50000, seed: int = 7
) -> Snapshot:
    """A deterministic synthetic organisation as an in-memory snapshot (raw API responses).

    ``memberships`` counts owner rows too (see the module docstring); it must be
    at least ``apps + people - 1 - personal owners`` so that everyone has access
    somewhere, and at most what distinct (app, person) pairs allow.
    """
    if apps < 1 or people < 2:
        raise ValueError("need at least 1 app and 2 people")
    rng = random.Random(seed)
    counter = iter(range(1, 1 << 40))

    def hexid(prefix: str) -> str:
        return f"{prefix}-{rng.getrandbits(40):010x}{next(counter):06x}"

    def days_ago(days: float) -> str:
        return (COLLECTED_AT - dt.timedelta(days=days)).isoformat(timespec="milliseconds")

    # --- people: index 0 is the collecting service account -----------------------------
    users: list[dict[str, Any]] = []
    for i in range(people):
        if i == 0:
            email = COLLECTOR
        elif i <= len(TOKEN_ACCOUNTS):
            email = TOKEN_ACCOUNTS[i - 1]
        elif rng.random() < 0.12:
            email = f"contractor{i:05d}@{rng.choice(EXTERNAL)}"
        else:
            email = f"person{i:05d}@{INTERNAL}"
        r = rng.random()
        users.append(
            {
                "id": hexid("us"),
                "email": email,
                "username": email.split("@")[0],
                # 2FA: on for most, off for some, not reported by the API for a few.
                "tfa": False if r < 0.1 else ("missing" if r < 0.15 else True),
            }
        )

    # --- apps: ~1% owned by staff (personal owners), the rest by the collector ----------
    first_staff = 1 + len(TOKEN_ACCOUNTS)
    n_personal = max(1, apps // 100) if people > first_staff else 0
    personal_owners = list(range(first_staff, min(people, first_staff + max(1, n_personal // 3))))
    owner_of: list[int] = [0] * apps
    for a in rng.sample(range(apps), n_personal):
        owner_of[a] = rng.choice(personal_owners)
    app_recs: list[dict[str, Any]] = []
    n_projects = max(1, apps // 25)
    for a in range(apps):
        region = REGIONS[0] if rng.random() < 0.8 else REGIONS[1]
        project = a % n_projects
        owner = users[owner_of[a]]
        created = days_ago(rng.uniform(30, 2500))
        deployed = days_ago(rng.uniform(0.1, 400)) if rng.random() < 0.9 else None
        name = f"app-{a:05d}"
        app_recs.append(
            records.app(
                id=hexid("ap"),
                name=name,
                region=region,
                created_at=created,
                deployed_at=deployed,
                owner=owner,
                project={"id": f"pr-{project:06d}", "name": f"project-{project:04d}"},
                hds_region=REGIONS[1],
            )
        )

    # --- collaborator records: distinct (app, person), never the app's owner ------------
    n_collab = memberships - apps
    pairs: set[tuple[int, int]] = {(a, owner_of[a]) for a in range(apps)}
    order: list[tuple[int, int]] = []

    def add(a: int, p: int) -> bool:
        if (a, p) in pairs:
            return False
        pairs.add((a, p))
        order.append((a, p))
        return True

    # The service account collaborates (full role) on every app it does not own.
    for a in range(apps):
        if owner_of[a] != 0:
            add(a, 0)
    # Every other person who owns nothing gets at least one app.
    owners = set(owner_of)
    for p in range(1, people):
        if p not in owners:
            while not add(rng.randrange(apps), p):
                pass
    if len(order) > n_collab:
        raise ValueError(
            f"memberships={memberships} is too small: {apps} owner rows and at least "
            f"{len(order)} collaborator records are needed for everyone to have access"
        )
    if memberships > apps * people:
        raise ValueError(f"memberships={memberships} exceeds apps * people = {apps * people}")
    # The rest: a skewed choice of people (a few hold many apps), apps uniformly.
    cum: list[float] = []
    total = 0.0
    for p in range(people):
        total += 0.0 if p == 0 else 1.0 / (p**0.6)
        cum.append(total)
    while len(order) < n_collab:
        p = rng.choices(range(people), cum_weights=cum)[0]
        add(rng.randrange(apps), p)

    collabs: list[list[dict[str, Any]]] = [[] for _ in range(apps)]
    for n, (a, p) in enumerate(order):
        u = users[p]
        limited = False if p == 0 else rng.random() < 0.7
        r = rng.random()
        status = "pending" if r < 0.03 else ("user account deleted" if r < 0.04 else "accepted")
        if p == 0:
            status = "accepted"
        collabs[a].append(
            records.collaborator(
                id=hexid("co"),
                email=u["email"] if n % 11 else u["email"].upper(),  # case varies in real data
                status=status,
                app=app_recs[a],
                is_limited=records.limited_shape(limited, n),
                user=u,
                tfa=u["tfa"],
                invitation=lambda: hexid("inv"),
            )
        )

    return _snapshot(users[0], app_recs, collabs, rng, days_ago, hexid)


def _snapshot(
    ops: dict[str, Any],
    app_recs: list[dict[str, Any]],
    collabs: list[list[dict[str, Any]]],
    rng: random.Random,
    days_ago: Any,
    hexid: Any,
) -> Snapshot:
    tokens = [
        records.token(
            id=hexid("tk"),
            name=f"token-{i:02d}",
            created_at=days_ago(created),
            last_used_at=None if rng.random() < 0.2 else days_ago(created / 3),
        )
        for i, created in enumerate(rng.uniform(1, 900) for _ in range(25))
    ]
    files = api_files(
        user=records.self_user(ops, "Bigcorp Ops (service account)"),
        tokens=tokens,
        apps=records.by_region(app_recs, REGIONS),
        collaborators={rec["name"]: collabs[a] for a, rec in enumerate(app_recs)},
        tfa={"uuid": "tfa-bigcorp-ops", "enabled": True, "provider": "totp"},
    )
    return Snapshot(
        collected_at=COLLECTED_AT.isoformat(),
        collected_by={"email": ops["email"], "user_id": ops["id"]},
        regions=list(REGIONS),
        files=files,
        origin="demo",
        requests=len(files),
    )
