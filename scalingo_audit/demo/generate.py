"""Generate the demo organisation as raw Scalingo API responses.

The organisation ("Acme") is seen from its service account ``ops@acme.example``,
which owns most apps and collaborates on the few that staff own personally,
exactly as a live ``collect`` run by that account would see it. A fixed seed
makes it identical on every run. A cast of named people gives every check
true positives and true negatives; the rest of the staff is filler drawn from
synthetic name lists.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from ..snapshot import Snapshot, api_files
from . import records

SEED = 20261101
COLLECTED_AT = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
COLLECTOR = "ops@acme.example"
REGION_FR, REGION_SECNUM = "osc-fr1", "osc-secnum-fr1"

PROJECTS: list[tuple[str, str, list[str]]] = [
    (
        REGION_FR,
        "shop",
        [
            "shop-api",
            "shop-front",
            "shop-worker",
            "shop-admin",
            "shop-search",
            "shop-payments",
            "shop-emails",
            "shop-api-staging",
            "shop-front-staging",
        ],
    ),
    (
        REGION_FR,
        "data",
        [
            "data-api",
            "data-etl",
            "data-warehouse",
            "data-dashboards",
            "data-ml-scoring",
            "data-staging",
        ],
    ),
    (
        REGION_FR,
        "billing",
        [
            "billing-api",
            "billing-invoices",
            "billing-webhooks",
            "billing-reports",
            "billing-staging",
        ],
    ),
    (
        REGION_FR,
        "marketing",
        [
            "marketing-site",
            "marketing-blog",
            "marketing-landing",
            "marketing-newsletter",
            "marketing-staging",
        ],
    ),
    (
        REGION_FR,
        "internal-tools",
        [
            "internal-wiki",
            "internal-status",
            "internal-chatops",
            "internal-metrics",
            "internal-sso",
            "internal-backoffice",
        ],
    ),
    (
        REGION_FR,
        "mobile",
        [
            "mobile-api",
            "mobile-push",
            "mobile-sandbox",
            "mobile-api-staging",
            "mobile-feature-flags",
        ],
    ),
    (
        REGION_FR,
        "partners",
        ["partners-api", "partners-portal", "partners-sandbox", "partners-webhooks"],
    ),
    (REGION_FR, "support", ["support-desk", "support-chatbot", "support-kb"]),
    (
        REGION_SECNUM,
        "health",
        [
            "health-api",
            "health-records",
            "health-front",
            "health-worker",
            "health-audit-log",
            "health-staging",
            "health-imports",
            "health-analytics",
        ],
    ),
    (
        REGION_SECNUM,
        "hr",
        ["hr-portal", "hr-payroll", "hr-portal-staging", "hr-documents", "hr-onboarding"],
    ),
    (REGION_SECNUM, "finance", ["finance-ledger", "finance-exports", "finance-staging"]),
]

# Apps owned by a person rather than the service account (owner_not_service_account).
PERSONAL_OWNERS = {
    "marketing-blog": "camille.dubois@acme.example",
    "marketing-landing": "camille.dubois@acme.example",
    "internal-wiki": "thomas.bernard@acme.example",
    "mobile-sandbox": "ines.garcia@acme.example",
    "hr-portal-staging": "thomas.bernard@acme.example",
}

FIRST = [
    "adam",
    "alice",
    "anna",
    "arthur",
    "baptiste",
    "chloe",
    "clara",
    "david",
    "elise",
    "emma",
    "ethan",
    "gabriel",
    "hannah",
    "jade",
    "jules",
    "karim",
    "laura",
    "leo",
    "lina",
    "louis",
    "lucas",
    "manon",
    "marie",
    "mathis",
    "maya",
    "noah",
    "nora",
    "oscar",
    "paul",
    "rose",
    "sacha",
    "sarah",
    "theo",
    "victor",
    "yanis",
    "zoe",
    "amir",
    "eva",
    "hugo",
    "lou",
]
LAST = [
    "roux",
    "fontaine",
    "girard",
    "bonnet",
    "dupont",
    "lambert",
    "rousseau",
    "vincent",
    "muller",
    "blanc",
    "guerin",
    "boyer",
    "chevalier",
    "francois",
    "legrand",
    "gauthier",
    "perrin",
    "robin",
    "clement",
    "morin",
    "nicolas",
    "henry",
    "mathieu",
    "garnier",
    "faure",
    "andre",
    "mercier",
    "marchand",
    "duval",
    "denis",
]


class _Org:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.users: dict[str, dict[str, Any]] = {}
        self.apps: list[dict[str, Any]] = []
        self.collabs: dict[str, list[dict[str, Any]]] = {}
        self.n = 0

    def hexid(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.rng.getrandbits(48):012x}{self.n:04x}"

    def user(self, email: str, *, tfa: bool | None = True) -> dict[str, Any]:
        if email not in self.users:
            self.users[email] = {
                "id": self.hexid("us"),
                "email": email,
                "username": email.split("@")[0].replace(".", "-"),
                "tfa": tfa,
            }
        return self.users[email]

    def days_ago(self, days: float) -> str:
        return (COLLECTED_AT - dt.timedelta(days=days)).isoformat(timespec="milliseconds")

    def add(
        self,
        app: str,
        email: str,
        *,
        limited: bool,
        status: str = "accepted",
        tfa: bool | str | None = "user",
    ) -> None:
        """Add a collaborator record in API shape; ``tfa="missing"`` omits the field."""
        if any(c["email"] == email for c in self.collabs[app]):
            return
        u = self.user(email)
        a = next(a for a in self.apps if a["name"] == app)
        rec_id = self.hexid("co")
        self.collabs[app].append(
            records.collaborator(
                id=rec_id,
                email=email,
                status=status,
                app=a,
                is_limited=records.limited_shape(limited, self.n),
                user=u,
                tfa=u["tfa"] if tfa == "user" else tfa,
                invitation=lambda: self.hexid("inv"),
            )
        )


def generate() -> Snapshot:
    org = _Org()
    rng = org.rng
    ops = org.user(COLLECTOR)
    # --- apps -------------------------------------------------------------------------
    for region, project, names in PROJECTS:
        project_id = org.hexid("pr")
        for name in names:
            owner = org.user(PERSONAL_OWNERS.get(name, COLLECTOR))
            created = org.days_ago(rng.randint(60, 2400))
            deployed = None if name.endswith("sandbox") else org.days_ago(rng.uniform(0.5, 200))
            org.apps.append(
                records.app(
                    id=org.hexid("ap"),
                    name=name,
                    region=region,
                    created_at=created,
                    deployed_at=deployed,
                    owner=owner,
                    project={"id": project_id, "name": project, "default": False},
                    hds_region=REGION_SECNUM,
                )
            )
            org.collabs[name] = []
    by_project = {p: names for _, p, names in PROJECTS}
    all_apps = [a["name"] for a in org.apps]

    # The service account collaborates (full role) on the apps staff own personally. Its
    # 2FA is off (GET /v1/client/tfa): owner_without_2fa, and the full role without 2FA.
    for app in PERSONAL_OWNERS:
        org.add(app, COLLECTOR, limited=False, tfa=False)

    # --- the cast: each line is a true positive or a true negative of some check ------
    org.user("hugo.lefebvre@acme.example")  # lead on 14 apps: full_collaborator_on_many_apps
    for app in by_project["shop"] + by_project["billing"]:
        org.add(app, "hugo.lefebvre@acme.example", limited=False)
    org.user("julie.moreau@acme.example")  # exactly 10 full apps: not "more than 10"
    for app in by_project["data"] + by_project["mobile"][:4]:
        org.add(app, "julie.moreau@acme.example", limited=False)
    org.user("lea.martin@webagency.example")  # external full: one muted, one not
    org.add("shop-api", "lea.martin@webagency.example", limited=False)
    org.add("shop-front", "lea.martin@webagency.example", limited=False)
    org.user("nina.costa@freelance.example", tfa=False)  # external full without 2FA
    org.add("billing-api", "nina.costa@freelance.example", limited=False)
    org.user("jonas.weber@devshop.example")  # external but limited: fine for external check
    for app in by_project["data"][:3]:
        org.add(app, "jonas.weber@devshop.example", limited=True)
    org.user("omar.haddad@devshop.example", tfa=False)  # external limited without 2FA
    org.add("partners-portal", "omar.haddad@devshop.example", limited=True)
    org.add("partners-api", "omar.haddad@devshop.example", limited=True)
    org.add("mobile-api", "sam.taylor@studio-nord.example", limited=False, status="pending")
    org.add("health-front", "kim.nguyen@studio-nord.example", limited=True, status="pending")
    org.user("ci-shop@acme.example")  # token account on one app: as recommended
    org.add("shop-api", "ci-shop@acme.example", limited=False)
    org.user("ci-data@acme.example")  # token account on three apps: too broad
    for app in ("data-api", "data-etl", "data-warehouse"):
        org.add(app, "ci-data@acme.example", limited=False)
    org.user("pierre.durand@acme.example", tfa=False)  # full without 2FA on production
    for app in ("health-api", "health-records", "finance-ledger"):
        org.add(app, "pierre.durand@acme.example", limited=False)
    org.user("sophie.laurent@acme.example")  # 2FA status not reported by the API
    for app in ("hr-portal", "hr-payroll"):
        org.add(app, "sophie.laurent@acme.example", limited=False, tfa="missing")
    for app, email in (
        ("shop-admin", "former.intern@acme.example"),
        ("data-dashboards", "old.contractor@freelance.example"),
        ("health-imports", "left.company@acme.example"),
    ):
        org.user(email)
        org.add(app, email, limited=app != "shop-admin", status="user account deleted")

    # --- the rest of the staff: teams per project ------------------------------------
    names = [f"{f}.{last}" for f in FIRST for last in LAST]
    rng.shuffle(names)
    staff = iter(names)
    for _region, _project, apps in PROJECTS:
        team_size = max(8, len(apps) * 2)
        for i in range(team_size):
            email = f"{next(staff)}@acme.example"
            r = rng.random()
            tfa: bool | None = False if r < 0.12 else (None if r < 0.17 else True)
            org.user(email, tfa=tfa)
            lead = i == 0
            k = len(apps) if lead else rng.randint(1, min(4, len(apps)))
            for app in apps if lead else rng.sample(apps, k):
                # Leads hold the full role; about a quarter of the others too (over-privilege).
                full = lead or rng.random() < 0.25
                status = "pending" if rng.random() < 0.03 else "accepted"
                org.add(
                    app,
                    email,
                    limited=not full,
                    status=status,
                    tfa="missing" if tfa is None else "user",
                )
        # some people also help on another project, with the limited role
    for _ in range(12):
        email = f"{next(staff)}@acme.example"
        org.user(email, tfa=rng.random() > 0.2)
        for app in rng.sample(all_apps, 2):
            org.add(app, email, limited=True)

    return _snapshot(org, ops, _Activity(org).generate())


# --- app events: who did what, over the last EVENTS_DAYS days ----------------------------

EVENTS_DAYS = 120
EVENTS_PER_PAGE = 50
_FULL_ACTIONS = ("deployment", "deployment", "deployment", "edit_variable", "run", "scale")
_LIMITED_ACTIONS = ("restart", "restart", "create_review_app")

# The cast's activity, per app: each is a true positive or a true negative of an activity
# check (inactive_collaborator, unused_full_privileges, pending_invitation_stale).
# profile: "deploys" (full-role actions, recent), "restarts" (only restarts, recent),
# "dormant" (last seen DORMANT_DAYS ago), "silent" (no event at all in the window).
DORMANT_DAYS = 100
CAST_ACTIVITY: dict[str, str | dict[str, str]] = {
    "hugo.lefebvre@acme.example": "deploys",
    "julie.moreau@acme.example": {"data": "deploys", "mobile": "restarts"},
    "lea.martin@webagency.example": "deploys",  # as a pusher only: no user on the event
    "nina.costa@freelance.example": "restarts",  # full role, only restarts: downgrade
    "jonas.weber@devshop.example": "restarts",  # limited and active: fine
    "omar.haddad@devshop.example": "silent",  # limited, nothing for 120 days: inactive
    "ci-shop@acme.example": "deploys",
    "ci-data@acme.example": "deploys",
    "pierre.durand@acme.example": "deploys",
    "sophie.laurent@acme.example": "dormant",  # last deployed 100 days ago: both checks
    COLLECTOR: "deploys",
}
# Pending invitations of the cast, sent this many days ago (more than 14: stale).
CAST_INVITED = {"sam.taylor@studio-nord.example": 30, "kim.nguyen@studio-nord.example": 3}
# Recent joiners: accepted 20 days ago, nothing since; too new to be flagged.
CAST_JOINED = {
    ("hr-payroll", "jade.gauthier@acme.example"): 20,  # Limited Collaborator
    ("hr-payroll", "yanis.henry@acme.example"): 20,  # full Collaborator
}


class _Activity:
    """App events in API shape, from their own random generator so the rest of the demo
    (ids, people, roles) stays exactly as it was before events existed."""

    def __init__(self, org: _Org) -> None:
        self.org = org
        self.rng = random.Random(SEED + 1)
        self.n = 0

    def generate(self) -> dict[str, list[dict[str, Any]]]:
        org, rng = self.org, self.rng
        out: dict[str, list[dict[str, Any]]] = {}
        for a in org.apps:
            events: list[dict[str, Any]] = []
            project = a["project"]["name"]
            owner = org.users[a["owner"]["email"]]
            if owner["email"] != COLLECTOR:  # personal owners deploy their own apps now and then
                self.actions(events, a, owner, "deploys", 2)
            for c in org.collabs[a["name"]]:
                email = c["email"]
                if c["status"] == "pending":
                    days = CAST_INVITED.get(email, round(rng.uniform(1, 40), 1))
                    self.membership(events, a, org.users[email], days, accepted=False)
                    continue
                if c["status"] != "accepted":
                    continue
                u = org.users[email]
                joined = CAST_JOINED.get((a["name"], email))
                if joined is not None:
                    self.membership(events, a, u, joined, accepted=True)
                    continue
                limited = c["is_limited"] in (True, "true")
                profile = CAST_ACTIVITY.get(email) or self.profile(limited)
                if isinstance(profile, dict):
                    profile = profile.get(project, "deploys")
                if rng.random() < 0.08:  # joined within the window: the events say when
                    self.membership(events, a, u, rng.uniform(60, EVENTS_DAYS), accepted=True)
                self.actions(events, a, u, profile, rng.randint(1, 4), limited=limited)
            events.sort(key=lambda e: e["created_at"], reverse=True)
            out[a["name"]] = events
        members = {(app, c["email"]) for app, cs in org.collabs.items() for c in cs}
        assert set(CAST_JOINED) <= members, "CAST_JOINED names a membership the demo lacks"
        return out

    def profile(self, limited: bool) -> str:
        r = self.rng.random()
        if limited:
            return "restarts" if r < 0.9 else ("dormant" if r < 0.95 else "silent")
        return (
            "deploys"
            if r < 0.82
            else "restarts"
            if r < 0.92
            else "dormant"
            if r < 0.96
            else "silent"
        )

    def actions(
        self,
        events: list[dict[str, Any]],
        app: dict[str, Any],
        user: dict[str, Any],
        profile: str,
        n: int,
        *,
        limited: bool = False,
    ) -> None:
        rng = self.rng
        if profile == "silent":
            return
        if profile == "dormant":
            kind = "restart" if limited else "deployment"
            events.append(self.event(app, user, kind, DORMANT_DAYS + rng.uniform(0, 15)))
            return
        kinds = _FULL_ACTIONS if profile == "deploys" and not limited else _LIMITED_ACTIONS
        for k in range(n):
            # the latest action is recent (under 60 days); older ones go back to the window
            days = rng.uniform(0.5, 60) if k == 0 else rng.uniform(0.5, EVENTS_DAYS)
            events.append(self.event(app, user, kinds[rng.randrange(len(kinds))], days))

    def membership(
        self,
        events: list[dict[str, Any]],
        app: dict[str, Any],
        user: dict[str, Any],
        days: float,
        *,
        accepted: bool,
    ) -> None:
        inviter = self.org.users[app["owner"]["email"]]
        limited = next(
            c["is_limited"] for c in self.org.collabs[app["name"]] if c["email"] == user["email"]
        )
        limited = limited in (True, "true")
        invite = self.event(
            app,
            inviter,
            "new_collaborator",
            days + (2 if accepted else 0),
            {"collaborator": {"email": user["email"], "is_limited": limited}},
        )
        events.append(invite)
        if accepted:
            data = {
                "id": user["id"],
                "email": user["email"],
                "username": user["username"],
                "inviter": {"email": inviter["email"], "username": inviter["username"]},
                "is_limited": limited,
            }
            events.append(self.event(app, user, "accept_collaborator", days, data))

    def event(
        self,
        app: dict[str, Any],
        user: dict[str, Any],
        kind: str,
        days: float,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.n += 1
        ev_id = f"ev-{self.rng.getrandbits(48):012x}{self.n:04x}"
        who: dict[str, Any] | None = {k: user[k] for k in ("id", "username", "email")}
        if kind == "deployment":
            data = {
                "deployment_id": f"dp-{self.rng.getrandbits(32):08x}",
                "pusher": user["username"],
                "git_ref": f"{self.rng.getrandbits(40):010x}",
                "status": "success",
                "duration": self.rng.randint(40, 400),
            }
            if user["email"] == "lea.martin@webagency.example":
                who = None  # deployed from the agency's CI: only the pusher names her
        elif kind == "run":
            data = {"command": "bundle exec rake db:migrate", "audit_log_id": ev_id}
        elif kind == "edit_variable":
            data = {"name": "FEATURE_FLAGS"}
        elif kind == "scale":
            data = {"container_types": [{"name": "web", "amount": self.rng.randint(1, 4)}]}
        elif kind == "restart":
            data = {"scope": ["web"]}
        elif kind == "create_review_app":
            data = {"pr_number": self.rng.randint(100, 999)}
        return {
            "id": ev_id,
            "created_at": self.org.days_ago(days),
            "user": who,
            "type": kind,
            "app_id": app["id"],
            "app_name": app["name"],
            "type_data": data or {},
        }


def _event_pages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's pages of one app's events, newest first (at least one page, maybe empty)."""
    chunks = [events[i : i + EVENTS_PER_PAGE] for i in range(0, len(events), EVENTS_PER_PAGE)]
    chunks = chunks or [[]]
    total = len(chunks)
    return [
        {
            "events": chunk,
            "meta": {
                "pagination": {
                    "current_page": page,
                    "prev_page": page - 1 or None,
                    "next_page": page + 1 if page < total else None,
                    "total_pages": total,
                    "total_count": len(events),
                }
            },
        }
        for page, chunk in enumerate(chunks, 1)
    ]


def _snapshot(org: _Org, ops: dict[str, Any], events: dict[str, list[dict[str, Any]]]) -> Snapshot:
    tokens = [
        # name, created days ago, last used days ago (None: never)
        ("terraform-prod", 200, 1),
        ("deploy-dashboard", 30, 2),
        ("ci-legacy", 700, 3),
        ("grafana-export", 40, None),
        ("backup-script", 300, 150),
        ("laptop-cli", 400, 120),
    ]
    files = api_files(
        user=records.self_user(ops, "Acme Ops (service account)"),
        tokens=[
            records.token(
                id=org.hexid("tk"),
                name=name,
                created_at=org.days_ago(created),
                last_used_at=None if used is None else org.days_ago(used),
            )
            for name, created, used in tokens
        ],
        apps=records.by_region(org.apps, (REGION_FR, REGION_SECNUM)),
        collaborators=org.collabs,
        event_pages={a["name"]: list(_event_pages(events[a["name"]])) for a in org.apps},
        tfa={"uuid": org.hexid("tfa"), "enabled": False, "provider": "totp"},
    )
    return Snapshot(
        collected_at=COLLECTED_AT.isoformat(),
        collected_by={"email": ops["email"], "user_id": ops["id"], "tfa": False},
        regions=[REGION_FR, REGION_SECNUM],
        files=files,
        origin="demo",
        requests=len(files),
        events_days=EVENTS_DAYS,
    )
