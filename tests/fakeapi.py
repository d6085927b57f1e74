"""A local fake Scalingo API: a real HTTP server on 127.0.0.1 for the client's tests.

One werkzeug server hosts the auth API under ``/auth`` and every regional API under
``/<region>`` (e.g. ``/osc-fr1``), so a client configured with
``SCALINGO_AUTH_URL=fake.auth_url`` and the regions' ``api`` URLs (listed by
``GET {auth_url}/v1/regions``) talks to it over a socket, exactly as to Scalingo.

Shapes follow ../shared/scalingo-api.md: JSON objects with one root key,
``meta.pagination`` on paginated lists, ``404 {"resource": "app", "error": "not found"}``,
``429`` with a plain-text ``Retry later`` body.

It serves only what scalingo-audit and Scalingo's official client call (see
tests/test_official_client.py): the token exchange, regions, tokens, users/self and
client/tfa on the auth API; apps, collaborators and an app's collaborators and events on
the regional APIs (and users/self there when ``users_self_regional``). Anything else is a
404; the account's projects, user events and single-app routes were dropped because no
code path reached them.

Typical use::

    world = make_world(owned=5, collaborated=2)
    with FakeScalingo(world, per_page=10) as fake:
        fake.fail(r"/apps/own-001/collaborators$", 500, times=2)
        fake.rate_limit(per_window=60, window_seconds=1.0)
        ...  # run the client against fake.auth_url
        assert fake.count(r"/v1/collaborators$") == 2

Every fault rule matches ``re.search(path_regex, request_path)`` on the full request
path (with its ``/auth`` or ``/<region>`` prefix) and an optional HTTP method, and
fires ``times`` times (``None``: forever) before it stops.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import math
import random
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

JSON = dict[str, Any]
AuthKind = Literal["basic", "bearer", "other"] | None

REGION_NAMES = {
    "osc-fr1": "Paris - Outscale",
    "osc-secnum-fr1": "Paris - SecNum",
}
EVENTS_MAX_FROM_HOURS = 72


# --------------------------------------------------------------------------- world


@dataclass
class World:
    """Everything the fake serves, in Scalingo's API shapes.

    ``apps`` are keyed by region; ``collaborators`` and ``events`` by app id
    (collaborators never include the app's owner; events are newest first). Edit freely
    before or during a test.
    """

    user: JSON
    api_token: str
    regions: list[str]
    apps: dict[str, list[JSON]] = field(default_factory=dict)
    collaborators: dict[str, list[JSON]] = field(default_factory=dict)
    tokens: list[JSON] = field(default_factory=list)
    events: dict[str, list[JSON]] = field(default_factory=dict)
    tfa: JSON = field(
        default_factory=lambda: {"uuid": "tfa-0", "enabled": True, "provider": "totp"}
    )
    """The collecting account's own 2FA, as ``GET {auth}/v1/client/tfa`` returns it."""

    def owns(self, app: JSON) -> bool:
        return bool(app.get("owner", {}).get("id") == self.user["id"])

    def owned_apps(self, region: str) -> list[JSON]:
        return [a for a in self.apps.get(region, []) if self.owns(a)]

    def collaborated_apps(self, region: str) -> list[JSON]:
        return [a for a in self.apps.get(region, []) if not self.owns(a)]

    def all_apps(self) -> list[tuple[str, JSON]]:
        """(region, app) for every app in every region."""
        return [(r, a) for r in self.regions for a in self.apps.get(r, [])]

    def find_app(self, region: str, name_or_id: str) -> JSON | None:
        for a in self.apps.get(region, []):
            if name_or_id in (a.get("name"), a.get("id")):
                return a
        return None

    def rename_app(self, region: str, old: str, new: str) -> JSON:
        """Rename app ``old`` of ``region``, its collaborators and events following (apps
        are keyed by (region, name): e.g. the same name in two regions)."""
        app = self.find_app(region, old)
        if app is None:
            raise KeyError(f"no app {old!r} in {region}")
        app["name"] = new
        for rec in [*self.collaborators.get(app["id"], []), *self.events.get(app["id"], [])]:
            rec["app_name"] = new
        return app


def _hex(rng: random.Random, n: int = 24) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_LIMITED_VALUES: tuple[Any, ...] = (False, True, "true", False, "false", True)
_MEMBERSHIP_TYPES = ("new_collaborator", "accept_collaborator", "change_collaborator_role")
_ACTION_TYPES = (
    "deployment",
    "restart",
    "run",
    "edit_variable",
    "scale",
    "new_domain",
    "create_review_app",
    "delete_collaborator",
)


def make_world(
    *,
    owned: int,
    collaborated: int,
    regions: Sequence[str] = ("osc-fr1", "osc-secnum-fr1"),
    collaborators_per_app: int = 3,
    events_per_app: int = 0,
    seed: int = 1,
    now: datetime | None = None,
    api_token: str | None = None,
    tfa_enabled: bool = True,
) -> World:
    """A deterministic organisation seen by the collecting user ``ops@acme.example``.

    The user owns ``owned`` apps and only collaborates on ``collaborated`` apps (owned
    by ``*@partner.example`` users); apps are spread round-robin over ``regions``.
    Owned apps have ``collaborators_per_app`` collaborators drawn from a shared pool of
    people; collaborated apps list the collecting user plus ``collaborators_per_app - 1``
    others. Collaborators mix ``is_limited`` booleans and ``"true"``/``"false"`` strings,
    some lack ``tfa_status`` or have it null, some are pending invitations and a few are
    deleted accounts. Events (``events_per_app`` per app, 7 hours apart, newest first)
    are dated back from ``now`` (default: the current time); everything else depends
    only on the arguments. ``tfa_enabled`` is the collecting account's own 2FA
    (``GET {auth}/v1/client/tfa``); one token was renewed (``issued_at`` after
    ``created_at``).
    """
    if not regions:
        raise ValueError("at least one region is needed")
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    base = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
    user = {
        "id": f"us-{_hex(rng)}",
        "email": "ops@acme.example",
        "username": "ops",
        "fullname": "Acme Ops",
        "flags": {},
    }
    token = api_token or f"tk-us-fake-{_hex(rng, 40)}"
    world = World(user=user, api_token=token, regions=list(regions))
    world.tfa = {"uuid": f"{_hex(rng, 8)}-tfa", "enabled": tfa_enabled, "provider": "totp"}
    for r in regions:
        world.apps[r] = []

    # People: a pool shared by apps, so one person collaborates on several apps.
    pool_size = max(12, collaborators_per_app * 4)
    people = []
    for i in range(pool_size):
        domain = "acme.example" if i % 3 else "freelance.example"
        people.append(
            {"id": f"us-{_hex(rng)}", "email": f"dev{i:02d}@{domain}", "username": f"dev{i:02d}"}
        )
    owners = [
        {"id": f"us-{_hex(rng)}", "email": f"owner{k}@partner.example", "username": f"owner{k}"}
        for k in range(3)
    ]
    me = {k: user[k] for k in ("id", "username", "email")}

    # Projects of the collecting user, per region; partners' projects, shared.
    own_projects: dict[str, list[JSON]] = {}
    for r in regions:
        own_projects[r] = [
            {"id": f"pr-{_hex(rng)}", "name": name, "default": name == "default", "owner": me}
            for name in ("default", "shop", "billing")
        ]
    partner_projects = [{"id": f"pr-{_hex(rng)}", "name": f"client-{k}"} for k in range(3)]

    collab_counter = itertools.count()

    def collaborator(app: JSON, person: JSON) -> JSON:
        n = next(collab_counter)
        if n % 7 == 3:
            status = "pending"
        elif n % 29 == 11:
            status = "user account deleted"
        else:
            status = "accepted"
        rec: JSON = {
            "id": f"co-{_hex(rng)}",
            "email": person["email"],
            "user_id": None if status == "pending" else person["id"],
            "username": "n/a" if status == "pending" else person["username"],
            "status": status,
            "is_limited": _LIMITED_VALUES[n % len(_LIMITED_VALUES)],
            "invitation_link": (
                f"https://dashboard.scalingo.example/apps/invitation?token={_hex(rng, 32)}"
                if status == "pending"
                else ""
            ),
            "app_id": app["id"],
            "app_name": app["name"],
        }
        if status == "pending":
            rec["tfa_status"] = None
        elif n % 5 != 4:  # every fifth accepted row lacks tfa_status (Go client shape)
            rec["tfa_status"] = n % 3 != 0
        return rec

    def new_app(i: int, name: str, owner: JSON, project: JSON) -> JSON:
        created = base + timedelta(days=3 * i, hours=i % 24)
        deployed = None if i % 6 == 5 else created + timedelta(days=30 + i % 40)
        return {
            "id": f"ap-{_hex(rng)}",
            "name": name,
            "created_at": _iso(created),
            "updated_at": _iso(deployed or created),
            "owner": dict(owner),
            "project": {"id": project["id"], "name": project["name"]},
            "last_deployed_at": _iso(deployed) if deployed else None,
            "last_deployed_by": owner["username"] if deployed else None,
            "hds_resource": False,
            "url": f"https://{name}.scalingo.example",
            "status": "running",
        }

    counter = itertools.count()
    for i in range(owned):
        r = regions[i % len(regions)]
        app = new_app(next(counter), f"own-{i:03d}", me, own_projects[r][i % len(own_projects[r])])
        world.apps[r].append(app)
        picked = rng.sample(people, min(collaborators_per_app, len(people)))
        world.collaborators[app["id"]] = [collaborator(app, p) for p in picked]
    for j in range(collaborated):
        r = regions[(owned + j) % len(regions)]
        app = new_app(
            next(counter),
            f"partner-{j:03d}",
            owners[j % len(owners)],
            partner_projects[j % len(partner_projects)],
        )
        world.apps[r].append(app)
        mine = collaborator(app, me)
        mine.update(
            status="accepted",
            user_id=me["id"],
            username=me["username"],
            invitation_link="",
            tfa_status=tfa_enabled,  # the same account as GET /v1/client/tfa
        )
        others = rng.sample(people, min(max(collaborators_per_app - 1, 0), len(people)))
        world.collaborators[app["id"]] = [mine, *(collaborator(app, p) for p in others)]

    world.tokens = [
        {
            "id": f"tk-{_hex(rng)}",
            "name": name,
            "created_at": _iso(base + timedelta(days=40 * k)),
            "last_used_at": None if name == "old-laptop" else _iso(now - timedelta(hours=k + 1)),
            # "ci-deploy" was renewed (dashboard: Renew) a week ago
            "issued_at": _iso(
                now - timedelta(days=7) if name == "ci-deploy" else base + timedelta(days=40 * k)
            ),
        }
        for k, name in enumerate(("audit", "ci-deploy", "old-laptop"))
    ]

    if events_per_app > 0:
        _add_events(world, rng, events_per_app, now)
    return world


def _type_data(kind: str, app: JSON, actor: JSON, other: JSON, limited: Any) -> JSON:
    """``type_data`` as documented: membership events nest the person under
    ``collaborator``; variable events carry the variables' values."""
    if kind == "new_collaborator":
        return {"collaborator": {"email": other["email"], "is_limited": limited}}
    if kind == "accept_collaborator":
        return {
            "collaborator": {
                "id": other.get("user_id") or other.get("id"),
                "email": other["email"],
                "username": other.get("username"),
                "inviter": {"email": actor["email"], "username": actor["username"]},
                "is_limited": limited,
            }
        }
    if kind in ("change_collaborator_role", "delete_collaborator"):
        data = {"id": other.get("user_id"), "email": other["email"], "username": other["username"]}
        if kind == "change_collaborator_role":
            data["is_limited"] = limited
        return {"collaborator": data}
    if kind == "deployment":
        return {
            "deployment_id": f"dep-{app['name']}",
            "pusher": actor["username"],
            "git_ref": "0123abcd",
            "status": "success",
            "duration": 42,
        }
    if kind == "run":
        return {"command": "bash", "audit_log_id": f"al-{app['name']}"}
    if kind == "edit_variable":
        return {
            "name": "DATABASE_URL",
            "value": f"postgres://app:pw-{app['id']}-new@db.example/{app['name']}",
            "old_value": f"postgres://app:pw-{app['id']}-old@db.example/{app['name']}",
        }
    if kind == "scale":
        return {"container_types": [{"name": "web", "amount": 2}]}
    if kind == "new_domain":
        return {"name": f"{app['name']}.acme.example"}
    return {}


VARIABLE_EVENT_TYPES = ("new_variable", "edit_variable", "delete_variable", "edit_variables")


def plant_variable_events(world: World, secret: str, *, now: datetime | None = None) -> list[str]:
    """Add one event of each variable type to every app, each value holding ``secret``
    (documented shapes, plus a nested ``value`` a future shape might carry). Returns
    every value planted, so a test can look for each of them."""
    now = now or datetime.now(UTC)
    planted: list[str] = []

    def v(tag: str) -> str:
        planted.append(f"{secret}-{tag}")
        return planted[-1]

    for _region, app in world.all_apps():
        actor = dict(app["owner"])
        n = len(planted)
        shapes: list[tuple[str, JSON]] = [
            ("new_variable", {"name": "API_KEY", "value": v(f"{n}a")}),
            ("edit_variable", {"name": "API_KEY", "value": v(f"{n}b"), "old_value": v(f"{n}c")}),
            ("delete_variable", {"name": "API_KEY", "value": v(f"{n}d")}),
            (
                "edit_variables",
                {
                    "new_vars": [{"name": "S3_SECRET", "value": v(f"{n}e")}],
                    "updated_vars": [
                        {"name": "DATABASE_URL", "value": v(f"{n}f"), "old_value": v(f"{n}g")}
                    ],
                    "deleted_vars": [{"name": "OLD_TOKEN", "value": v(f"{n}h")}],
                    "extra": {"nested": [{"value": v(f"{n}i")}]},
                },
            ),
        ]
        for k, (kind, data) in enumerate(shapes):
            world.events.setdefault(app["id"], []).append(
                {
                    "id": f"ev-var-{app['id']}-{k}",
                    "created_at": _iso(now - timedelta(minutes=30 + k)),
                    "user": actor,
                    "type": kind,
                    "app_id": app["id"],
                    "app_name": app["name"],
                    "type_data": data,
                }
            )
    return planted


def _add_events(world: World, rng: random.Random, per_app: int, now: datetime) -> None:
    me = {k: world.user[k] for k in ("id", "username", "email")}
    for _region, app in world.all_apps():
        collabs = world.collaborators.get(app["id"], [])
        members = [me if world.owns(app) else dict(app["owner"])]
        members += [
            {"id": c["user_id"], "username": c["username"], "email": c["email"]}
            for c in collabs
            if c.get("user_id")
        ]
        evs = []
        for k in range(per_app):
            kinds = _MEMBERSHIP_TYPES if k % 4 == 0 else _ACTION_TYPES
            kind = kinds[(k // 4 + rng.randrange(len(kinds))) % len(kinds)]
            actor = members[k % len(members)]
            other = collabs[k % len(collabs)] if collabs else actor
            limited = _LIMITED_VALUES[k % len(_LIMITED_VALUES)]
            evs.append(
                {
                    "id": f"ev-{_hex(rng)}",
                    "created_at": _iso(now - timedelta(hours=7 * k + 1, minutes=k % 60)),
                    "user": dict(actor),
                    "type": kind,
                    "app_id": app["id"],
                    "app_name": app["name"],
                    "type_data": _type_data(kind, app, actor, other, limited),
                }
            )
        world.events[app["id"]] = evs


# --------------------------------------------------------------------------- observability


@dataclass(frozen=True)
class LoggedRequest:
    """One request the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    auth: AuthKind
    at: float  # time.time() when the request arrived
    duration: float  # seconds spent answering, delays included
    fault: str | None  # "fail", "delay", "malformed", "rate_limit", or None


@dataclass(frozen=True)
class SeenHeader:
    """A raw request header value, as received."""

    method: str
    path: str
    name: str
    value: str


@dataclass(frozen=True)
class Sighting:
    """Where a secret appeared in a request (see :meth:`FakeScalingo.sightings`)."""

    method: str
    path: str
    where: str  # "basic-auth-password", "header:<Name>", "query", "body"


# --------------------------------------------------------------------------- faults


@dataclass
class Rule:
    """A fault rule; ``remaining`` None means forever; ``fired`` counts applications."""

    kind: Literal["fail", "delay", "malformed"]
    pattern: re.Pattern[str]
    method: str | None
    remaining: int | None
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.pattern.search(path) is not None


@dataclass
class RateLimit:
    per_window: int
    window_seconds: float
    retry_after: bool
    pattern: re.Pattern[str] | None
    admitted: deque[float] = field(default_factory=deque)


def _encode_body(status: int, body: Any) -> tuple[bytes, str]:
    if body is None:
        if status == 429:
            return b"Retry later", "text/plain; charset=utf-8"
        if status == 404:
            body = {"resource": "app", "error": "not found"}
        elif status == 422:
            body = {"errors": {"base": ["invalid"]}}
        else:
            body = {"error": _REASONS.get(status, f"HTTP {status}")}
    if isinstance(body, bytes):
        return body, "application/json"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"


_REASONS = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


# --------------------------------------------------------------------------- server


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: tests read :attr:`FakeScalingo.log` instead."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_jwt_payload(token: str) -> JSON:
    """The (unverified) payload of a JWT, e.g. to read ``exp``."""
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    result: JSON = json.loads(base64.urlsafe_b64decode(payload))
    return result


class _Reply(Exception):
    """Raised inside a handler to answer immediately."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class FakeScalingo:
    """The fake Scalingo API (auth + regional APIs) on ``127.0.0.1:<random port>``.

    Args:
        world: what to serve (default ``make_world(owned=3, collaborated=2)``).
        per_page: default ``per_page`` of paginated lists (events; apps and collaborators
            when their pagination is on). Small values force several pages.
        max_per_page: cap applied to a requested ``per_page``.
        paginate_apps: when set, ``GET /v1/apps`` is paginated with this default page size
            (Scalingo documents no pagination there; this tests the client follows
            ``meta.pagination`` wherever it appears).
        paginate_collaborators: the same for both collaborator lists.
        paginate_tokens: the same for ``GET {auth}/v1/tokens``.
        next_page_style: what ``meta.pagination.next_page`` says on the last page:
            ``"null"`` (the API reference) or ``"repeat"`` (the last page number again, as
            Scalingo's Go pagination helper does).
        events_order: how event lists are sorted across pages: ``"newest"`` first (what
            the fake assumed so far), ``"oldest"`` first, or ``"shuffled"`` (deterministic);
            the order is not documented.
        users_self_regional: also answer ``GET /v1/users/self`` on the regional APIs (the
            API reference's host; Scalingo's clients use the auth API, the default here).
        bearer_ttl: how long (seconds) a bearer is accepted by the server.
        claimed_bearer_ttl: what the bearer's ``exp`` claim says (default: ``bearer_ttl``);
            e.g. ``bearer_ttl=1, claimed_bearer_ttl=3600`` makes a bearer expire mid-run
            while the client still believes it valid.
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        per_page: int = 30,
        max_per_page: int = 100,
        paginate_apps: int | None = None,
        paginate_collaborators: int | None = None,
        paginate_tokens: int | None = None,
        next_page_style: Literal["null", "repeat"] = "null",
        events_order: Literal["newest", "oldest", "shuffled"] = "newest",
        users_self_regional: bool = False,
        bearer_ttl: float = 3600.0,
        claimed_bearer_ttl: float | None = None,
    ) -> None:
        self.world = world if world is not None else make_world(owned=3, collaborated=2)
        self.per_page = per_page
        self.max_per_page = max_per_page
        self.paginate_apps = paginate_apps
        self.paginate_collaborators = paginate_collaborators
        self.paginate_tokens = paginate_tokens
        self.next_page_style = next_page_style
        self.events_order = events_order
        self.users_self_regional = users_self_regional
        self.bearer_ttl = bearer_ttl
        self.claimed_bearer_ttl = claimed_bearer_ttl
        self.host = "127.0.0.1"
        self.port = 0
        self.exchanges = 0  # successful token exchanges
        self.rate_limited = 0  # 429s sent by the rate limiter (not by fail rules)
        self._lock = threading.RLock()
        self._log: list[LoggedRequest] = []
        self._headers: list[SeenHeader] = []
        self._bodies: list[tuple[str, str, str, bytes]] = []  # method, path, raw query, body
        self._rules: list[Rule] = []
        self._limit: RateLimit | None = None
        self._bearers: dict[str, float] = {}  # bearer -> server-side expiry (time.time())
        self._secret = _hex(random.Random(), 32).encode()
        self._jti = itertools.count(1)
        self._stopping = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeScalingo:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = make_server(self.host, 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self._server = server
        self.port = server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-scalingo", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes delayed handlers
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeScalingo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- addresses

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeScalingo is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/auth"

    @property
    def region_urls(self) -> dict[str, str]:
        return {r: f"{self.base_url}/{r}" for r in self.world.regions}

    def api_url(self, region: str) -> str:
        return self.region_urls[region]

    @property
    def api_token(self) -> str:
        return self.world.api_token

    def env(self, region: str | None = None) -> dict[str, str]:
        """Environment variables pointing a client at this server (``SCALINGO_*``)."""
        env = {"SCALINGO_API_TOKEN": self.api_token, "SCALINGO_AUTH_URL": self.auth_url}
        if region is not None:
            env["SCALINGO_REGION"] = region
            env["SCALINGO_API_URL"] = self.api_url(region)
        return env

    # ----------------------------------------------------------------- observability

    @property
    def log(self) -> list[LoggedRequest]:
        """A copy of the request log, in arrival order of completion."""
        with self._lock:
            return list(self._log)

    @property
    def headers_seen(self) -> list[SeenHeader]:
        with self._lock:
            return list(self._headers)

    def count(
        self,
        path_regex: str | None = None,
        status: int | None = None,
        method: str | None = None,
    ) -> int:
        """Requests whose path matches ``path_regex`` (re.search) and status/method."""
        pattern = re.compile(path_regex) if path_regex is not None else None
        return sum(
            1
            for r in self.log
            if (pattern is None or pattern.search(r.path))
            and (status is None or r.status == status)
            and (method is None or r.method == method.upper())
        )

    def paths(self) -> list[str]:
        return [r.path for r in self.log]

    def reset_log(self) -> None:
        """Forget logged requests, seen headers and bodies, and the 429/exchange counters."""
        with self._lock:
            self._log.clear()
            self._headers.clear()
            self._bodies.clear()
            self.rate_limited = 0
            self.exchanges = 0

    def sightings(self, secret: str | None = None) -> list[Sighting]:
        """Every place ``secret`` (default: the API token) appeared in a request.

        Checks raw header values, the decoded password of Basic auth headers, the
        decoded payload of bearer JWTs, query strings and bodies. For a well-behaved
        client the only sightings are ``basic-auth-password`` on the exchange.
        """
        secret = secret or self.api_token
        found: list[Sighting] = []
        with self._lock:
            headers = list(self._headers)
            bodies = list(self._bodies)
        for h in headers:
            if secret in h.value:
                found.append(Sighting(h.method, h.path, f"header:{h.name}"))
            scheme, _, cred = h.value.partition(" ")
            if h.name.lower() == "authorization" and scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(cred.strip(), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    decoded = ""
                user, _, password = decoded.partition(":")
                if secret in password:
                    found.append(Sighting(h.method, h.path, "basic-auth-password"))
                if secret in user:
                    found.append(Sighting(h.method, h.path, "basic-auth-user"))
        for method, path, query, body in bodies:
            if secret in path:
                found.append(Sighting(method, path, "path"))
            if secret in query:
                found.append(Sighting(method, path, "query"))
            if secret.encode() in body:
                found.append(Sighting(method, path, "body"))
        return found

    # ----------------------------------------------------------------- faults

    def _add_rule(self, rule: Rule) -> Rule:
        if rule.remaining is not None and rule.remaining < 1:
            raise ValueError("times must be at least 1 (or None for forever)")
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail(
        self,
        path_regex: str,
        status: int,
        times: int | None = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        method: str | None = None,
        retry_after: float | None = None,
    ) -> Rule:
        """Answer ``status`` instead of the real response, ``times`` times.

        ``body``: None for a default (429: plain ``Retry later``; 404:
        ``{"resource": "app", "error": "not found"}``; others ``{"error": ...}``),
        a str (plain text), bytes (sent as is) or a JSON value.
        ``retry_after`` adds a ``Retry-After`` header (also possible via ``headers``).
        """
        raw, ctype = _encode_body(status, body)
        hdrs = dict(headers or {})
        if retry_after is not None:
            hdrs["Retry-After"] = str(retry_after)
        return self._add_rule(
            Rule(
                "fail",
                re.compile(path_regex),
                method,
                times,
                status=status,
                body=raw,
                content_type=ctype,
                headers=hdrs,
            )
        )

    def delay(
        self, path_regex: str, seconds: float, times: int | None = 1, *, method: str | None = None
    ) -> Rule:
        """Sleep ``seconds`` before answering normally (the client may time out first)."""
        return self._add_rule(Rule("delay", re.compile(path_regex), method, times, seconds=seconds))

    def malformed(
        self,
        path_regex: str,
        times: int | None = 1,
        body: bytes = b'{"truncated": [1, 2',
        *,
        method: str | None = None,
    ) -> Rule:
        """Answer 200 ``application/json`` with a body that is not valid JSON."""
        return self._add_rule(Rule("malformed", re.compile(path_regex), method, times, body=body))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()
            self._limit = None

    def expire_bearers(self) -> None:
        """Every bearer issued so far is rejected with 401 from now on."""
        with self._lock:
            self._bearers.clear()

    def revoke_api_token(self, new_token: str | None = None) -> None:
        """The API token stops working (exchange answers 401); optionally a new one works."""
        with self._lock:
            self.world.api_token = new_token or f"tk-us-revoked-{next(self._jti)}"
            self._bearers.clear()

    def rate_limit(
        self,
        per_window: int = 60,
        window_seconds: float = 60.0,
        retry_after: bool = True,
        *,
        path_regex: str | None = None,
    ) -> None:
        """Enforce ``per_window`` requests per sliding ``window_seconds`` (all paths by default).

        Over the limit: 429 ``Retry later`` (plain text), with ``Retry-After`` (integer
        seconds, ceil of the wait until the oldest counted request leaves the window,
        at least 1) when ``retry_after``. Only admitted requests count in the window.
        Every limiter 429 increments :attr:`rate_limited`.
        """
        with self._lock:
            self._limit = RateLimit(
                per_window,
                window_seconds,
                retry_after,
                re.compile(path_regex) if path_regex is not None else None,
            )

    # ----------------------------------------------------------------- bearers

    def issue_bearer(self) -> str:
        now = time.time()
        claimed = (
            self.claimed_bearer_ttl if self.claimed_bearer_ttl is not None else self.bearer_ttl
        )
        with self._lock:
            jti = next(self._jti)
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "iss": "fake-scalingo",
            "sub": self.world.user["id"],
            "iat": int(now),
            "exp": int(now + claimed),
            "jti": f"jti-{jti}",
            "rn": "",
        }
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}"
        sig = hmac.new(self._secret, signing.encode(), hashlib.sha256).digest()
        bearer = f"{signing}.{_b64url(sig)}"
        with self._lock:
            self._bearers[bearer] = now + self.bearer_ttl
        return bearer

    def _bearer_ok(self, bearer: str) -> bool:
        with self._lock:
            expiry = self._bearers.get(bearer)
        return expiry is not None and time.time() < expiry

    # ----------------------------------------------------------------- WSGI

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        started = time.time()
        t0 = time.monotonic()
        method = request.method.upper()
        path = request.path
        authz = request.headers.get("Authorization", "")
        scheme = authz.partition(" ")[0].lower()
        auth: AuthKind = (
            None
            if not authz
            else "basic"
            if scheme == "basic"
            else "bearer"
            if scheme == "bearer"
            else "other"
        )
        body = request.get_data(cache=True)
        with self._lock:
            for name, value in request.headers.items():
                self._headers.append(SeenHeader(method, path, name, value))
            self._bodies.append((method, path, environ.get("QUERY_STRING", ""), body))
        fault: str | None = None
        try:
            fault, response = self._answer(request, method, path)
        except _Reply as reply:
            response = reply.response
        except Exception as exc:  # a bug in the fake: answer 500 so the test sees it
            response = _json({"error": f"fake API bug: {exc!r}"}, 500)
        record = LoggedRequest(
            method=method,
            path=path,
            query={k: v for k, v in request.args.items()},
            status=response.status_code,
            auth=auth,
            at=started,
            duration=time.monotonic() - t0,
            fault=fault,
        )
        with self._lock:
            self._log.append(record)
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _answer(self, request: Request, method: str, path: str) -> tuple[str | None, Response]:
        limited = self._check_rate_limit(path)
        if limited is not None:
            return "rate_limit", limited
        delay_rule, terminal = self._take_rules(method, path)
        fault = None
        if delay_rule is not None:
            fault = "delay"
            if self._stopping.wait(delay_rule.seconds):
                return fault, _json({"error": "server stopping"}, 503)
        if terminal is not None:
            resp = Response(
                terminal.body, status=terminal.status, content_type=terminal.content_type
            )
            for k, v in terminal.headers.items():
                resp.headers[k] = v
            return terminal.kind, resp
        try:
            return fault, self._route(request, method, path)
        except _Reply as reply:
            return fault, reply.response

    def _check_rate_limit(self, path: str) -> Response | None:
        with self._lock:
            lim = self._limit
            if lim is None or (lim.pattern is not None and not lim.pattern.search(path)):
                return None
            now = time.monotonic()
            while lim.admitted and lim.admitted[0] <= now - lim.window_seconds:
                lim.admitted.popleft()
            if len(lim.admitted) < lim.per_window:
                lim.admitted.append(now)
                return None
            self.rate_limited += 1
            wait = lim.admitted[0] + lim.window_seconds - now
        resp = Response(b"Retry later", status=429, content_type="text/plain; charset=utf-8")
        if lim.retry_after:
            resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return resp

    def _take_rules(self, method: str, path: str) -> tuple[Rule | None, Rule | None]:
        delay_rule: Rule | None = None
        terminal: Rule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.kind == "delay":
                    if delay_rule is not None:
                        continue
                    delay_rule = rule
                elif terminal is None:
                    terminal = rule
                else:
                    continue
                rule.fired += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
        return delay_rule, terminal

    # ----------------------------------------------------------------- routes

    def _route(self, request: Request, method: str, path: str) -> Response:
        # Segments of the raw request path, each decoded alone: an app named "a/b" or ".."
        # (sent as a%2Fb, %2E%2E) is one segment, as a real router sees it.
        raw = str(request.environ.get("RAW_URI") or path).partition("?")[0]
        parts = [urllib.parse.unquote(p, errors="surrogatepass") for p in raw.split("/") if p]
        if len(parts) < 2 or parts[1] != "v1":
            return _json({"error": "not found"}, 404)
        prefix, rest = parts[0], parts[2:]
        if prefix == "auth":
            return self._route_auth(request, method, rest)
        if prefix in self.world.regions:
            return self._route_region(request, method, prefix, rest)
        return _json({"error": "not found"}, 404)

    def _require_bearer(self, request: Request) -> None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _Reply(_json({"error": "You are not authenticated"}, 401))
        if not self._bearer_ok(value.strip()):
            raise _Reply(_json({"error": "token expired or invalid"}, 401))

    def _route_auth(self, request: Request, method: str, rest: list[str]) -> Response:
        if rest == ["tokens", "exchange"]:
            _only(method, "POST")
            auth = request.authorization
            if (
                auth is None
                or auth.type != "basic"
                or not hmac.compare_digest(
                    (auth.password or "").encode(), self.world.api_token.encode()
                )
            ):
                return _json({"error": "invalid credentials"}, 401)
            bearer = self.issue_bearer()
            with self._lock:
                self.exchanges += 1
            return _json({"token": bearer})
        _only(method, "GET")
        self._require_bearer(request)
        if rest == ["regions"]:
            return _json(
                {"regions": [self._region_json(r, i) for i, r in enumerate(self.world.regions)]}
            )
        if rest == ["tokens"]:
            return self._list("tokens", list(self.world.tokens), request, self.paginate_tokens)
        if rest == ["users", "self"]:
            return _json({"user": dict(self.world.user)})
        if rest == ["client", "tfa"]:
            return _json({"tfa": dict(self.world.tfa)})
        return _json({"error": "not found"}, 404)

    def _region_json(self, name: str, index: int) -> JSON:
        return {
            "name": name,
            "display_name": REGION_NAMES.get(name, name),
            "api": self.api_url(name),
            "dashboard": "https://dashboard.scalingo.example",
            "database_api": f"https://db-api.{name}.scalingo.example/api",
            "ssh": f"ssh.{name}.scalingo.example:22",
            "default": index == 0,
        }

    def _route_region(
        self, request: Request, method: str, region: str, rest: list[str]
    ) -> Response:
        _only(method, "GET")
        self._require_bearer(request)
        w = self.world
        if rest == ["users", "self"] and self.users_self_regional:
            return _json({"user": dict(w.user)})
        if rest == ["apps"]:
            return self._list("apps", list(w.apps.get(region, [])), request, self.paginate_apps)
        if rest == ["collaborators"]:
            rows = [c for a in w.owned_apps(region) for c in w.collaborators.get(a["id"], [])]
            return self._collaborators(rows, request)
        if len(rest) >= 2 and rest[0] == "apps":
            app = w.find_app(region, rest[1])
            if app is None:
                return _json({"resource": "app", "error": "not found"}, 404)
            if rest[2:] == ["collaborators"]:
                owner_id = app.get("owner", {}).get("id")
                rows = [
                    c
                    for c in w.collaborators.get(app["id"], [])
                    if not (owner_id and c.get("user_id") == owner_id)
                ]
                return self._collaborators(rows, request)
            if rest[2:] == ["events"]:
                return self._events(w.events.get(app["id"], []), request)
        return _json({"error": "not found"}, 404)

    def _collaborators(self, rows: list[JSON], request: Request) -> Response:
        return self._list("collaborators", rows, request, self.paginate_collaborators)

    def _list(
        self, key: str, items: list[JSON], request: Request, per_page: int | None
    ) -> Response:
        """A list Scalingo documents without pagination: paginated only when asked."""
        if per_page:
            return self._paginated(key, items, request, per_page)
        return _json({key: items})

    def _events(self, events: list[JSON], request: Request) -> Response:
        events = sorted(events, key=lambda e: e["created_at"], reverse=True)
        if self.events_order == "oldest":
            events.reverse()
        elif self.events_order == "shuffled":
            random.Random(len(events)).shuffle(events)
        since = request.args.get("from")
        if since is not None:
            try:
                hours = int(since)
            except ValueError:
                hours = 0
            if not 1 <= hours <= EVENTS_MAX_FROM_HOURS:
                return _json({"errors": {"from": ["must be between 1 and 72"]}}, 422)
            cutoff = datetime.now(UTC) - timedelta(hours=hours)
            recent = [e for e in events if _parse_time(e["created_at"]) >= cutoff]
            meta = _meta(1, 1, len(recent), self.next_page_style)
            return _json({"events": recent, "meta": {"pagination": meta}})
        return self._paginated("events", events, request, self.per_page)

    def _paginated(self, key: str, items: list[JSON], request: Request, default: int) -> Response:
        page = _int_arg(request, "page", 1)
        per_page = min(_int_arg(request, "per_page", default), self.max_per_page)
        start = (page - 1) * per_page
        total_pages = max(1, math.ceil(len(items) / per_page))
        return _json(
            {
                key: items[start : start + per_page],
                "meta": {"pagination": _meta(page, total_pages, len(items), self.next_page_style)},
            }
        )


def _meta(page: int, total_pages: int, total_count: int, style: str = "null") -> JSON:
    last = page if style == "repeat" else None  # Go's helper repeats the last page number
    return {
        "current_page": page,
        "prev_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < total_pages else last,
        "total_pages": total_pages,
        "total_count": total_count,
    }


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise _Reply(_json({"errors": {name: ["must be a positive integer"]}}, 422))
    return value


def _only(method: str, allowed: str) -> None:
    if method != allowed:
        raise _Reply(_json({"error": "method not allowed"}, 405))


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iter_pages(
    get: Any, url: str, key: str, *, params: dict[str, Any] | None = None
) -> Iterator[JSON]:
    """Follow ``meta.pagination`` with a ``requests``-like ``get``: a test helper only."""
    page: int | None = 1
    while page is not None:
        resp = get(url, params={**(params or {}), "page": page})
        resp.raise_for_status()
        data = resp.json()
        yield from data[key]
        page = (data.get("meta") or {}).get("pagination", {}).get("next_page")
