"""Published contracts: JSON Schemas (draft 2020-12) of what scalingo-audit writes and reads.

=============  =====================================================  ==================
name           describes                                               file in the package
=============  =====================================================  ==================
``findings``   ``check --format json`` (an array of findings)          findings.schema.json
``diff``       ``diff --format json`` (an array of changes)            diff.schema.json
``manifest``   a snapshot's ``manifest.json``                          manifest.schema.json
``policy``     the ``--policy`` YAML file                              policy.schema.json
=============  =====================================================  ==================

``scalingo-audit schema NAME`` prints one. Each schema's ``$id`` ends with its version
(``urn:scalingo-audit:schema:findings:1``): a later release may **add** a field to an
output without changing it; removing or renaming a field, or changing its type or
meaning, bumps it. So the published output schemas leave objects open to new fields,
while the policy schema, like the tool, rejects unknown keys.

The schemas are a single source with a test behind them. With
``SCALINGO_AUDIT_CHECK_CONTRACTS=1`` in the environment, every output is validated
against its schema as it is produced, *strictly* (an undeclared field is an error, so a
new field cannot ship undocumented). With ``SCALINGO_AUDIT_CHECK_CONTRACTS=DIR``, each
output is instead recorded in ``DIR`` and :func:`validate_recorded` checks them later:
the test suite does that (tests/conftest.py), so every findings array, diff, manifest and
accepted policy any test produces — in-process, from a CLI subprocess or inside a
notebook kernel — is checked after each test, and the processes under test never pay
for importing jsonschema. Adding a field to an output means adding it to the schema's
``properties`` (and ``required`` when always present).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import os
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from .errors import AuditError

NAMES = ("findings", "diff", "manifest", "policy")
CHECK_ENV = "SCALINGO_AUDIT_CHECK_CONTRACTS"
"""``1``: validate every output against its schema as it is produced; a directory: record
every output there for :func:`validate_recorded` (the test suite)."""


class ContractError(AssertionError):
    """An output does not match its published schema: a bug in scalingo-audit."""


def text(name: str) -> str:
    """The schema ``name`` as published (JSON text)."""
    if name not in NAMES:
        raise AuditError(f"unknown schema '{name}' (known: {', '.join(NAMES)})")
    return (resources.files(__package__) / "schemas" / f"{name}.schema.json").read_text("utf-8")


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The schema ``name`` as a dict (do not modify it)."""
    schema: dict[str, Any] = json.loads(text(name))
    return schema


def version(name: str) -> int:
    """The schema's version: the number that ends its ``$id``."""
    return int(str(load(name)["$id"]).rsplit(":", 1)[1])


def closed(schema: Any) -> Any:
    """A copy of ``schema`` in which every object that lists ``properties`` accepts no
    other: what tests validate against, so that no output field goes undeclared."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@functools.cache
def _validator(name: str, strict: bool) -> Any:
    import jsonschema

    schema = closed(load(name)) if strict else copy.deepcopy(load(name))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def errors(name: str, instance: Any, *, strict: bool = False) -> list[str]:
    """Why ``instance`` does not match schema ``name``, one line each (empty: it matches).
    ``strict`` also rejects fields the schema does not declare."""
    found = sorted(_validator(name, strict).iter_errors(json_data(instance)), key=str)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def validate(name: str, instance: Any, *, strict: bool = False) -> None:
    """Raise :class:`ContractError` naming the first few mismatches, if any."""
    problems = errors(name, instance, strict=strict)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ContractError(
            f"output does not match schema '{name}': {'; '.join(problems[:5])}{more}"
        )


def checked(name: str, instance: Any) -> Any:
    """``instance`` unchanged. When :data:`CHECK_ENV` is ``1``, validated strictly first;
    when it names a directory, recorded there for :func:`validate_recorded`."""
    target = os.environ.get(CHECK_ENV)
    if target == "1":
        validate(name, instance, strict=True)
    elif target:
        import tempfile

        with tempfile.NamedTemporaryFile(
            "w", dir=target, prefix=f"{name}.", suffix=".json", delete=False, encoding="utf-8"
        ) as f:
            json.dump(json_data(instance), f, default=str)
    return instance


def validate_recorded(
    directory: str | os.PathLike[str],
    *,
    known_good: Callable[[str, Any], bool] | None = None,
) -> list[str]:
    """Validate strictly, then remove, every output :func:`checked` recorded in
    ``directory``; one line per mismatch, naming the schema and the place.

    ``known_good(name, instance)``, when given, may vouch that ``instance`` matches the
    strict schema ``name`` (a faster validator: the test suite's is jsonschema-rs, which
    checks a 50,000-membership report's findings in 0.1 s where jsonschema takes 5 s);
    what it does not vouch for is validated here, and only this module's messages are
    reported."""
    from pathlib import Path

    problems = []
    for path in sorted(Path(directory).glob("*.json")):
        name = path.name.split(".", 1)[0]
        try:
            instance = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue  # still being written by a process that outlived its test
        if known_good is None or not known_good(name, instance):
            problems += [f"{name}: {p}" for p in errors(name, instance, strict=True)]
        path.unlink()
    return problems


def json_data(value: Any) -> Any:
    """``value`` as JSON would carry it: dates as ISO strings, tuples as lists (a policy
    read from YAML holds dates)."""
    if isinstance(value, Mapping):
        return {str(k): json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_data(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
