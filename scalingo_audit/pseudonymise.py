"""Pseudonymised audits: reports and findings that can be shared without personal data.

:func:`pseudonymise` replaces every email, username and user id in an
:class:`~scalingo_audit.model.AuditData` with a stable pseudonym derived from a
keyed hash (HMAC-SHA256 with a secret key)::

    hugo.lefebvre@acme.example    → person-3f9a1c2e07b4@internal.invalid
    lea.martin@webagency.example  → person-81d0c6aa93e2@external.invalid
    hugo-lefebvre                 → user-5be01f3c9a7d
    Hugo Lefebvre (a fullname)    → name-0d4c7b1e92fa
    us-0123456789abcdef           → us-c41a7e0b2d95

- The email domain's *class* stays visible: ``internal.invalid`` or
  ``external.invalid`` by the policy's ``internal_domains``, ``unclassified.invalid``
  when the policy names none. The domain itself is hidden.
- The same identifier gives the same pseudonym across runs with the same key;
  emails and usernames compare case-insensitively, as Scalingo does.
- A holder of the key re-identifies a pseudonym with :func:`reidentify`, given
  candidate identifiers, or builds the whole table with :func:`mapping` (and turns
  pseudonymised text such as CLI commands back with :func:`reidentify_text`).

Replaced: the owner columns of ``apps`` (and ``last_deployed_by``), ``memberships``
and ``people``, ``tokens.account_email``, the user columns of ``events`` and any
email, user id, username or person's name (``fullname``, ``full_name``, ``display_name``,
``first_name``, ``last_name``) inside ``type_data``; the collecting account; emails, user
ids, known usernames and known names in coverage gaps, notes and exception reasons.
Emails in free text are found whatever their script: non-ASCII local parts and domains
(``jörg.müller@bücher.example``, ``用户@例子.example``) and quoted local parts
(``"john doe"@acme.example``).
The policy is pseudonymised the same way (service accounts, token accounts,
exception emails), so checks run on pseudonymised data find exactly what they
would find on the original, with pseudonyms in messages and remediations.
Not replaced: app, project and token names (chosen by people, but not
identifiers of people) and dates.

The key is 32 random bytes in a file the user controls: by default
``~/.config/scalingo-audit/pseudonym.key``, or the path in the environment
variable ``SCALINGO_AUDIT_PSEUDONYM_KEY``; :func:`load_or_create_key` creates it
(mode 0600) on first use. It is never printed, logged or passed to a notebook.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import AuditError, InputError
from .model import AuditData, assemble
from .policy import Policy

KEY_ENV = "SCALINGO_AUDIT_PSEUDONYM_KEY"
"""Environment variable naming the key *file* (a path, never the key itself)."""
DEFAULT_KEY_PATH = Path("~/.config/scalingo-audit/pseudonym.key")
KEY_BYTES = 32
MIN_KEY_BYTES = 16
HEX = 12  # hex digits of the HMAC kept in a pseudonym (48 bits)

INTERNAL, EXTERNAL, UNCLASSIFIED = "internal.invalid", "external.invalid", "unclassified.invalid"
_PREFIX = {"email": "person-", "username": "user-", "user_id": "us-", "fullname": "name-"}

# Email addresses in any script. A local part is a dot-atom of any characters but spaces,
# ``@``, brackets and the like (apostrophes and dots inside only, so quotes around an
# address stay outside it), or a quoted string; a domain is two or more such labels.
_ATOM = r"[^\s@<>()\[\]\\,;:\"'`./?&#=]+"
_LABEL = r"[^\s@<>()\[\]\\,;:\"'`.=/?#&!|{}*^~$%+]+"
_EMAIL = re.compile(
    rf"(?:\"(?:[^\"\\\r\n]|\\.)+\"|{_ATOM}(?:[.']{_ATOM})*)@{_LABEL}(?:\.{_LABEL})+"
)
_USER_ID = re.compile(r"\bus-[0-9A-Fa-f][0-9A-Fa-f-]{7,}\b")
_PSEUDONYM = re.compile(
    rf"^(?:person-(?P<email>[0-9a-f]{{{HEX}}})@[a-z]+\.invalid"
    rf"|user-(?P<username>[0-9a-f]{{{HEX}}})|us-(?P<user_id>[0-9a-f]{{{HEX}}})"
    rf"|name-(?P<fullname>[0-9a-f]{{{HEX}}}))$"
)


# --- the key ------------------------------------------------------------------------------


def key_path(path: str | Path | None = None) -> Path:
    """Where the key lives, as an absolute path: ``path``, else
    ``$SCALINGO_AUDIT_PSEUDONYM_KEY``, else ``~/.config/scalingo-audit/pseudonym.key``; a
    relative path is taken from the current directory *now*, so a caller resolves it once
    and hands the result on (report notebooks run in another directory)."""
    if path is None or str(path) == "":
        path = os.environ.get(KEY_ENV) or DEFAULT_KEY_PATH
    return Path(os.path.abspath(Path(path).expanduser()))


def load_or_create_key(path: str | Path | None = None) -> bytes:
    """The pseudonymisation key from its file (see :func:`key_path`); on first use, a new
    file with 32 random bytes, readable by its owner only (0600). Losing the file means
    new pseudonyms for everyone; anyone holding it can re-identify people."""
    p = key_path(path)
    if not p.exists():
        _create_key(p)
    try:
        key = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the pseudonymisation key ({exc.strerror})", file=p) from None
    if len(key) < MIN_KEY_BYTES:
        raise InputError(
            f"the pseudonymisation key is too short ({len(key)} bytes, at least "
            f"{MIN_KEY_BYTES}); remove the file to have a new one created",
            file=p,
        )
    return key


def _create_key(p: Path) -> None:
    """Write a new key atomically: a 0600 temporary file linked into place, so two runs
    starting together end with the same key and nobody reads a half-written one."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another run made it first: use it
                os.link(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the pseudonymisation key ({exc.strerror})", file=p
        ) from None


# --- pseudonyms ---------------------------------------------------------------------------


def _digest(key: bytes, kind: str, value: str) -> str:
    msg = f"scalingo-audit/{kind}\0{value.strip().lower()}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:HEX]


def email_class(domain: str, policy: Policy) -> str:
    """``internal.invalid``, ``external.invalid`` or ``unclassified.invalid`` for a domain."""
    internal = policy.is_internal(domain.strip().lower())
    return UNCLASSIFIED if internal is None else INTERNAL if internal else EXTERNAL


class Pseudonymiser:
    """Pseudonyms for one key and one policy, remembered as they are made (:attr:`made`)."""

    def __init__(self, key: bytes, policy: Policy) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise AuditError(f"the pseudonymisation key must have at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._policy = policy
        self.made: dict[tuple[str, str], str] = {}  # (kind, normalised original) -> pseudonym
        self._origin: dict[str, tuple[str, str]] = {}
        self._usernames: re.Pattern[str] | None = None
        self.known_usernames: set[str] = set()
        self.known_names: set[str] = set()  # people's full names, found in free text too

    def _make(self, kind: str, value: str, suffix: str = "") -> str:
        norm = value.strip().lower()
        hit = self.made.get((kind, norm))
        if hit is not None:
            return hit
        out = f"{_PREFIX[kind]}{_digest(self._key, kind, norm)}{suffix}"
        other = self._origin.setdefault(out, (kind, norm))
        if other != (kind, norm):  # 48 bits: not expected before millions of people
            raise AuditError(f"pseudonym collision between two {kind}s; use another key")
        self.made[(kind, norm)] = out
        return out

    def email(self, value: str) -> str:
        if not value.strip():
            return value
        domain = value.strip().rpartition("@")[2]
        return self._make("email", value, "@" + email_class(domain, self._policy))

    def username(self, value: str) -> str:
        return self._make("username", value) if value.strip() else value

    def user_id(self, value: str) -> str:
        return self._make("user_id", value) if value.strip() else value

    def fullname(self, value: str) -> str:
        return self._make("fullname", value) if value.strip() else value

    def learn_names(self, names: Iterable[Any]) -> None:
        """People's full names to look for in free text."""
        self.known_names.update(
            n.strip().lower() for n in names if isinstance(n, str) and len(n.strip()) > 2
        )
        self._usernames = None

    def learn_usernames(self, names: Iterable[Any]) -> None:
        """Usernames to look for (as whole words) in free text."""
        self.known_usernames.update(
            n.strip().lower() for n in names if isinstance(n, str) and n.strip()
        )
        self._usernames = None

    def text(self, value: str) -> str:
        """Free text with every email, user id and known username replaced."""
        pseudonyms = self._origin
        value = _EMAIL.sub(
            lambda m: m[0] if m[0].lower() in pseudonyms else self.email(m[0]), value
        )
        value = _USER_ID.sub(lambda m: m[0] if m[0] in pseudonyms else self.user_id(m[0]), value)
        if self.known_usernames or self.known_names:
            if self._usernames is None:
                names = sorted(self.known_usernames | self.known_names, key=len, reverse=True)
                alternatives = "|".join(re.escape(n) for n in names)
                self._usernames = re.compile(
                    rf"(?<![\w.@+-])(?:{alternatives})(?![\w@-])", re.IGNORECASE
                )
            value = self._usernames.sub(self._known_word, value)
        return value

    def _known_word(self, m: re.Match[str]) -> str:
        word = m[0].lower()
        if word in self.known_usernames:
            return self.username(m[0])
        return self.fullname(m[0])

    def json_text(self, value: str) -> str:
        """JSON text (``events.type_data``): identifiers replaced by key name and by shape;
        re-serialised as the loader writes it. Text that is not JSON goes through :meth:`text`."""
        try:
            obj = json.loads(value)
        except ValueError:
            return self.text(value)
        return json.dumps(self._walk(obj, ""), sort_keys=True)

    def _walk(self, obj: Any, key: str) -> Any:
        if isinstance(obj, dict):
            return {self.text(str(k)): self._walk(v, str(k)) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._walk(v, key) for v in obj]
        if isinstance(obj, str):
            return self._by_name(key, obj)
        return obj

    def _by_name(self, name: str, value: str) -> str:
        kind = column_kind(name)
        if kind is None and name.lower() == "id" and value.startswith("us-"):
            kind = "user_id"
        if kind == "username" and _EMAIL.fullmatch(value.strip()):
            kind = "email"  # e.g. a deployment's pusher: a username or an email
        if kind == "email":
            return self.email(value)
        if kind == "username":
            return self.username(value)
        if kind == "user_id":
            return self.user_id(value)
        if kind == "fullname":
            return self.fullname(value)
        return self.text(value)


def column_kind(name: str) -> str | None:
    """Which identifier a column or JSON key holds, by its name: ``email``, ``username``,
    ``user_id``, ``fullname``, or ``None``. (``email_key`` and ``domain`` are derived.)"""
    n = name.lower()
    if n in _NAME_KEYS or n.endswith(("_fullname", "_full_name")):
        return "fullname"
    if n == "email" or n.endswith("_email"):
        return "email"
    if n == "username" or n.endswith("_username") or n in _USERNAME_COLUMNS:
        return "username"
    if n == "user_id" or n.endswith("_user_id") or n == "owner_id":
        return "user_id"
    return None


_USERNAME_COLUMNS = {"last_deployed_by", "deployed_by", "pusher", "user"}
_NAME_KEYS = {"fullname", "full_name", "display_name", "first_name", "last_name", "firstname",
              "lastname", "given_name", "family_name"}  # fmt: skip
_JSON_COLUMNS = {"type_data"}


# --- whole audits -------------------------------------------------------------------------


def pseudonymise(data: AuditData, key: bytes) -> AuditData:
    """``data`` with every email, username and user id replaced by its keyed pseudonym
    (see the module docstring); ``people`` is derived again, ``info.pseudonymised`` is set."""
    return _pseudonymise(data, Pseudonymiser(key, data.policy))


def _pseudonymise(data: AuditData, p: Pseudonymiser) -> AuditData:
    frames = {"apps": data.apps, "memberships": data.memberships, "tokens": data.tokens,
              "events": data.events}  # fmt: skip
    for df in frames.values():
        for col in df.columns:
            if column_kind(col) == "username":
                p.learn_usernames(df[col].dropna().unique())
    if "type_data" in data.events.columns:
        for text in data.events["type_data"].dropna().unique():
            _learn_json_usernames(p, text)
    out = {name: _frame(df, p) for name, df in frames.items()}
    info = data.info
    info = replace(
        info,
        location=p.text(info.location),
        collected_by=p.email(info.collected_by) if info.collected_by else info.collected_by,
        gaps=tuple(
            {k: p.text(v) if isinstance(v, str) else v for k, v in g.items()} for g in info.gaps
        ),
        notes=tuple(p.text(n) for n in info.notes),
        pseudonymised=True,
    )
    return assemble(
        out["apps"], out["memberships"], out["tokens"], out["events"], info,
        _policy(data.policy, p),
    )  # fmt: skip


def _frame(df: pd.DataFrame, p: Pseudonymiser) -> pd.DataFrame:
    df = df.copy()
    for col in df.columns:
        fn: Callable[[str], str] | None
        kind = column_kind(col)
        fn = (
            p.json_text
            if col in _JSON_COLUMNS
            else {"email": p.email, "username": p.username, "user_id": p.user_id,
                  "fullname": p.fullname}.get(kind or "")
        )  # fmt: skip
        if fn is not None:
            df[col] = df[col].map(lambda v, f=fn: f(v) if isinstance(v, str) else v)
    return df


def _learn_json_usernames(p: Pseudonymiser, text: str) -> None:
    try:
        obj = json.loads(text)
    except ValueError:
        return
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if isinstance(v, str) and column_kind(str(k)) == "username":
                    p.learn_usernames([v])
                elif isinstance(v, str) and column_kind(str(k)) == "fullname":
                    p.learn_names([v])
                elif isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)


def _policy(policy: Policy, p: Pseudonymiser) -> Policy:
    return replace(
        policy,
        internal_domains=(INTERNAL,) if policy.internal_domains else (),
        service_accounts=tuple(p.email(e) for e in policy.service_accounts),
        api_token_accounts=tuple(p.email(e) for e in policy.api_token_accounts),
        exceptions=tuple(
            replace(e, email=p.email(e.email) if e.email else e.email, reason=p.text(e.reason))
            for e in policy.exceptions
        ),
    )


# --- for the key holder -------------------------------------------------------------------


def mapping(data: AuditData, key: bytes) -> pd.DataFrame:
    """Every identifier of ``data`` (not pseudonymised) with its pseudonym: columns ``kind``
    (email | username | user_id), ``original`` (lower-cased) and ``pseudonym``. Personal
    data: keep it with the key, never with the shared report."""
    p = Pseudonymiser(key, data.policy)
    _pseudonymise(data, p)
    rows = [{"kind": k, "original": o, "pseudonym": ps} for (k, o), ps in p.made.items()]
    return pd.DataFrame(rows, columns=["kind", "original", "pseudonym"]).sort_values(
        ["kind", "original"], ignore_index=True
    )


def reidentify(pseudonym: str, candidates: Iterable[str], key: bytes) -> list[str]:
    """The candidates (emails, usernames or user ids, e.g. everyone in the original
    snapshot) whose pseudonym under ``key`` is ``pseudonym``; normally one or none."""
    m = _PSEUDONYM.match(pseudonym.strip().lower())
    if m is None:
        raise AuditError(f"not a scalingo-audit pseudonym: {pseudonym!r}")
    kind = next(k for k, v in m.groupdict().items() if v)
    return [c for c in candidates if _digest(key, kind, c) == m[kind]]


def reidentify_text(text: str, table: pd.DataFrame) -> str:
    """``text`` (e.g. a CLI command from a pseudonymised review sheet) with every pseudonym
    of ``table`` (:func:`mapping`) replaced by the original identifier, lower-cased."""
    back = dict(zip(table["pseudonym"], table["original"], strict=True))
    return _ANY_PSEUDONYM.sub(lambda m: back.get(m[0], m[0]), text)


_ANY_PSEUDONYM = re.compile(
    rf"person-[0-9a-f]{{{HEX}}}@[a-z]+\.invalid|\b(?:user|us|name)-[0-9a-f]{{{HEX}}}\b"
)
