"""The policy file: what the organisation considers internal, which accounts are
service accounts, thresholds, and accepted risks (exceptions) with an expiry.

Every key is optional::

    internal_domains: [acme.example]           # emails outside these are external
    service_accounts: [ops@acme.example]       # accounts meant to own apps
    api_token_accounts: [ci-shop@acme.example] # dedicated accounts holding app-scoped tokens
    thresholds:
      max_full_apps: 10            # full Collaborator on more apps than this is flagged
      token_idle_days: 90          # a token unused for longer is flagged
      token_max_age_days: 365      # a token older than this is flagged
      inactive_days: 90            # (activity checks)
      pending_invitation_days: 14  # (activity checks)
    exceptions:                    # accepted risks
      - check_id: external_full_collaborator
        email: dev@agency.example  # any of region / app / email / token_name; all named match
        app: shop-api              # an app name: without `region`, in every region
        reason: contract until March
        expires: 2027-03-31        # mutes up to and including this date

An unknown key, a duplicate key, a wrong type (a ``check_id`` that is not a string...),
a bad date or an unknown check id raises :class:`~scalingo_audit.errors.PolicyError`
naming it; a bad value is quoted as a short escaped excerpt (a YAML alias bomb is never
rendered). Dates are read as text and parsed here (``YYYY-MM-DD``), so an impossible
date such as ``2027-02-30`` is an error naming its key, not a YAML crash.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import contracts
from .errors import PolicyError, excerpt
from .frames import CHECK_IDS
from .frames import text as _text


@dataclass(frozen=True)
class Thresholds:
    max_full_apps: int = 10
    token_idle_days: int = 90
    token_max_age_days: int = 365
    inactive_days: int = 90
    pending_invitation_days: int = 14


@dataclass(frozen=True)
class PolicyException:
    """An accepted risk: mutes the findings of ``check_id`` that match every field it names."""

    check_id: str
    reason: str
    expires: dt.date
    app: str | None = None
    email: str | None = None
    token_name: str | None = None
    region: str | None = None

    def matches(
        self, check_id: str, app: Any, email: Any, token_name: Any, region: Any = None
    ) -> bool:
        if check_id != self.check_id:
            return False
        if self.region is not None and _text(region) != self.region:
            return False
        if self.app is not None and _text(app) != self.app:
            return False
        if self.email is not None and _text(email).lower() != self.email.lower():
            return False
        return not (self.token_name is not None and _text(token_name) != self.token_name)

    def active_on(self, day: dt.date) -> bool:
        return day <= self.expires

    def describe(self) -> str:
        scope = ", ".join(
            f"{k}={v}"
            for k, v in (
                ("region", self.region),
                ("app", self.app),
                ("email", self.email),
                ("token_name", self.token_name),
            )
            if v is not None
        )
        return f"{self.check_id} ({scope})" if scope else self.check_id


@dataclass(frozen=True)
class Policy:
    internal_domains: tuple[str, ...] = ()
    service_accounts: tuple[str, ...] = ()
    api_token_accounts: tuple[str, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    exceptions: tuple[PolicyException, ...] = ()
    source: str = "defaults"

    def is_internal(self, domain: str) -> bool | None:
        """Whether an email domain is internal; None when no internal domain is set."""
        if not self.internal_domains:
            return None
        d = domain.lower()
        return any(d == i or d.endswith("." + i) for i in self.internal_domains)

    def is_service_account(self, email: str) -> bool:
        return email.lower() in self.service_accounts

    def is_token_account(self, email: str) -> bool:
        return email.lower() in self.api_token_accounts


_TOP_KEYS = {
    "internal_domains",
    "service_accounts",
    "api_token_accounts",
    "thresholds",
    "exceptions",
}
_EXCEPTION_KEYS = {"check_id", "region", "app", "email", "token_name", "reason", "expires"}


def parse_policy(data: Any, *, source: str = "<policy>") -> Policy:
    """Validate a policy mapping (as read from YAML) and return a :class:`Policy`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: the policy must be a mapping of keys, not {_kind(data)}")
    unknown = sorted(set(map(str, data)) - _TOP_KEYS)
    if unknown:
        raise PolicyError(
            f"{source}: unknown key {excerpt(unknown[0])} (known keys: "
            f"{', '.join(sorted(_TOP_KEYS))})"
        )

    def str_list(key: str, *, lower: bool = True) -> tuple[str, ...]:
        value = data.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise PolicyError(f"{source}: '{key}' must be a list of non-empty strings")
        return tuple(v.strip().lower() if lower else v.strip() for v in value)

    domains = tuple(d.lstrip("@") for d in str_list("internal_domains"))

    raw_thresholds = data.get("thresholds") or {}
    if not isinstance(raw_thresholds, Mapping):
        raise PolicyError(f"{source}: 'thresholds' must be a mapping")
    known_thresholds = {f.name for f in fields(Thresholds)}
    values: dict[str, int] = {}
    for key, value in raw_thresholds.items():
        if key not in known_thresholds:
            raise PolicyError(
                f"{source}: unknown key 'thresholds.{excerpt(key)[1:-1]}' "
                f"(known: {', '.join(sorted(known_thresholds))})"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PolicyError(
                f"{source}: 'thresholds.{key}' must be a whole number >= 0, not {excerpt(value)}"
            )
        values[key] = value

    raw_exceptions = data.get("exceptions") or []
    if not isinstance(raw_exceptions, list):
        raise PolicyError(f"{source}: 'exceptions' must be a list")
    exceptions = []
    for i, item in enumerate(raw_exceptions, start=1):
        where = f"{source}: exceptions[{i}]"
        if not isinstance(item, Mapping):
            raise PolicyError(f"{where} must be a mapping")
        bad = sorted(set(map(str, item)) - _EXCEPTION_KEYS)
        if bad:
            raise PolicyError(
                f"{where}: unknown key {excerpt(bad[0])} (known: "
                f"{', '.join(sorted(_EXCEPTION_KEYS))})"
            )
        check_id = item.get("check_id")
        if check_id is None or check_id == "":
            raise PolicyError(f"{where}: 'check_id' is required")
        if not isinstance(check_id, str):
            raise PolicyError(
                f"{where}: 'check_id' must be a string (one check id), not {excerpt(check_id)}"
            )
        if check_id not in CHECK_IDS:
            raise PolicyError(f"{where}: unknown check id {excerpt(check_id)}")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise PolicyError(f"{where}: 'reason' is required (why is this risk accepted?)")
        expires = _date(item.get("expires"), f"{where}: 'expires'")
        scope = {}
        for key in ("region", "app", "email", "token_name"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise PolicyError(f"{where}: '{key}' must be a string, not {excerpt(value)}")
            scope[key] = value
        exceptions.append(
            PolicyException(check_id=check_id, reason=reason.strip(), expires=expires, **scope)
        )

    policy = Policy(
        internal_domains=domains,
        service_accounts=str_list("service_accounts"),
        api_token_accounts=str_list("api_token_accounts"),
        thresholds=Thresholds(**values),
        exceptions=tuple(exceptions),
        source=source,
    )
    contracts.checked("policy", data)  # what the tool accepts, its published schema accepts
    return policy


def load_policy(path: str | Path | None) -> Policy:
    """Read a policy YAML file; ``None`` or ``""`` gives the defaults."""
    if path is None or str(path) == "":
        return Policy()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{p}: policy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{p}: cannot read the policy file ({exc})") from None
    import yaml  # here, not at the top: loading data with the default policy needs no YAML

    try:
        data = yaml.load(text, Loader=_policy_loader())  # a SafeLoader
    except _DuplicateKey as exc:
        raise PolicyError(f"{p}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise PolicyError(
            f"{p}: not valid YAML{line}" + (f" ({problem})" if problem else "")
        ) from None
    except (RecursionError, _TooDeep):
        raise PolicyError(f"{p}: nested too deeply to be a policy file") from None
    return parse_policy(data, source=str(p))


class _DuplicateKey(Exception):
    pass


class _TooDeep(Exception):
    pass


MAX_FLOW_DEPTH = 100
"""How deep ``[`` and ``{`` may nest in a policy file (a real one nests three or four):
PyYAML's scanner takes time quadratic in that depth, seconds for a few thousand."""


@functools.cache
def _policy_loader() -> Any:
    """The YAML loader of policy files (defined on first use: yaml is imported then)."""
    import yaml

    class PolicyLoader(yaml.SafeLoader):
        """YAML's safe loader, stricter: a key given twice in one mapping is an error (YAML
        would silently keep the last one), and dates stay text for :func:`_date` to parse."""

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *defaults` may be overridden: that is what it is for
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise _DuplicateKey(
                            f"duplicate key {excerpt(key)} at line {line} (first at line "
                            f"{seen[key]}); each key may appear once"
                        )
                    seen[key] = line
                except TypeError:
                    continue  # an unhashable key: the base class reports it
            return super().construct_mapping(node, deep=deep)

        def fetch_flow_collection_start(self, TokenClass: Any) -> None:
            if self.flow_level >= MAX_FLOW_DEPTH:
                raise _TooDeep
            super().fetch_flow_collection_start(TokenClass)

    # Dates as text: YAML's timestamp resolver turns 2027-02-30 into a crash, not an error.
    PolicyLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return PolicyLoader


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    if value is None:
        raise PolicyError(f"{where} is required (YYYY-MM-DD): accepted risks must expire")
    raise PolicyError(f"{where} is not a date (YYYY-MM-DD): {excerpt(value)}")


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"
