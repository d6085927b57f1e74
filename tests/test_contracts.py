"""The published JSON Schemas (scalingo_audit/schemas/, ``scalingo-audit schema NAME``).

Every output the test suite produces is validated as it is produced (conftest.py sets
``SCALINGO_AUDIT_CHECK_CONTRACTS``); these tests pin the schemas themselves: valid draft
2020-12, in step with the code's own field lists, strict about undeclared fields in tests
but open to additions for consumers, compatible with what version 1 published, and, for
the policy file, accepting exactly what scalingo-audit accepts.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scalingo_audit import contracts, diff, frames, output, policy, snapshot
from scalingo_audit.demo import demo_snapshot
from scalingo_audit.errors import PolicyError
from scalingo_audit.evidence import provenance
from scalingo_audit.notebook import open_audit

ROOT = Path(__file__).resolve().parent.parent

# What version 1 of each output published: the fields always present and their JSON types.
# A later release may add fields; removing one or changing its type needs a new version.
V1: dict[str, dict[str, list[str]]] = {
    "findings": {
        "check_id": ["string"], "severity": ["string"], "title": ["string"],
        "region": ["string", "null"], "app": ["string", "null"], "email": ["string", "null"],
        "token_name": ["string", "null"], "message": ["string"], "remediation": ["string"],
        "command": ["array", "null"], "muted": ["boolean"], "exception_reason": ["string", "null"],
        "exception_expires": ["string", "null"], "risk": ["string", "null"],
        "finding_id": ["string"], "baseline_status": ["string", "null"],
        "compliance": ["object"],
    },
    "diff": {
        "change": ["string"], "region": ["string", "null"], "app": ["string", "null"],
        "email": ["string", "null"], "token_name": ["string", "null"],
        "check_id": ["string", "null"], "severity": ["string", "null"],
        "before": ["string", "null"], "after": ["string", "null"], "detail": ["string"],
    },
    "manifest": {
        "format": ["string"], "format_version": ["integer"], "tool_version": ["string"],
        "origin": ["string"], "collected_at": ["string"], "collected_by": ["object"],
        "regions": ["array"], "requests": ["integer"], "events_days": ["integer", "null"],
        "gaps": ["array"], "files": ["array"],
    },
}  # fmt: skip


def _object(name: str) -> dict[str, Any]:
    """The schema of the main object: the array's items, or the schema itself."""
    schema = contracts.load(name)
    if schema.get("type") == "array":
        ref = schema["items"]["$ref"].rsplit("/", 1)[1]
        return dict(schema["$defs"][ref])
    return schema


def _types(name: str, prop: dict[str, Any]) -> list[str]:
    """The JSON types a property schema allows (following one local $ref)."""
    if "$ref" in prop:
        prop = contracts.load(name)["$defs"][prop["$ref"].rsplit("/", 1)[1]]
    if "const" in prop:
        return [{str: "string", int: "integer"}[type(prop["const"])]]
    if "enum" in prop:
        return sorted({"null" if v is None else "string" for v in prop["enum"]}, reverse=True)
    t = prop["type"]
    return [t] if isinstance(t, str) else list(t)


@pytest.mark.parametrize("name", contracts.NAMES)
def test_each_schema_is_valid_draft_2020_12_with_a_version(name: str) -> None:
    schema = contracts.load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert re.fullmatch(rf"urn:scalingo-audit:schema:{name}:\d+", schema["$id"])
    assert contracts.version(name) >= 1 and "version" in schema["description"].lower()


@pytest.mark.parametrize("name", sorted(V1))
def test_version_1_fields_are_still_there_with_their_types(name: str) -> None:
    obj = _object(name)
    if contracts.version(name) != 1:
        pytest.fail(f"{name} is at version {contracts.version(name)}: record it in V1's place")
    for field, types in V1[name].items():
        assert field in obj["required"], f"{name}.{field} removed: bump the schema's version"
        assert _types(name, obj["properties"][field]) == types, f"{name}.{field} changed type"


def test_schemas_follow_the_codes_field_lists() -> None:
    assert _object("findings")["required"] == list(output.JSON_FIELDS)
    assert _object("diff")["required"] == list(diff.FIELDS)
    assert _object("diff")["properties"]["change"]["enum"] == list(diff.CHANGES)
    assert _object("findings")["properties"]["severity"]["enum"] == list(frames.SEVERITIES)
    manifest = contracts.load("manifest")
    assert manifest["properties"]["format"]["const"] == snapshot.FORMAT
    assert manifest["properties"]["format_version"]["const"] == snapshot.FORMAT_VERSION
    assert contracts.version("manifest") == snapshot.FORMAT_VERSION
    files = manifest["properties"]["files"]["items"]["properties"]
    assert files["kind"]["enum"] == list(snapshot.KINDS)
    assert set(manifest["required"]) == set(demo_snapshot().manifest())


# --- outputs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_findings() -> list[dict[str, Any]]:
    audit = open_audit("demo")
    items = json.loads(output.to_json(audit.findings, provenance(audit.data, as_of=audit.as_of)))
    assert len(items) > 50
    return items


def test_demo_findings_validate_strictly(demo_findings: list[dict[str, Any]]) -> None:
    assert contracts.errors("findings", demo_findings, strict=True) == []
    assert {f["severity"] for f in demo_findings} >= {"high", "medium", "low"}


def test_an_undeclared_field_fails_in_tests_but_not_for_consumers(
    demo_findings: list[dict[str, Any]],
) -> None:
    added = copy.deepcopy(demo_findings)
    added[3]["brand_new"] = 1
    added[0]["source"]["brand_new"] = 1
    problems = contracts.errors("findings", added, strict=True)
    assert len(problems) == 2 and all("'brand_new' was unexpected" in p for p in problems)
    assert problems[0].startswith(("0/source:", "3:"))
    assert contracts.errors("findings", added) == []  # the published schema is open to additions
    with pytest.raises(contracts.ContractError, match="does not match schema 'findings'"):
        contracts.validate("findings", added, strict=True)


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda f: f.update(severity="critical"), "'critical' is not one of"),
        (lambda f: f.pop("check_id"), "'check_id' is a required property"),
        (lambda f: f.update(muted="no"), "'no' is not of type 'boolean'"),
        (lambda f: f.update(exception_expires="31/12/2027"), "does not match"),
        (lambda f: f["source"].update(sha256="xyz"), "does not match"),
    ],
)
def test_a_wrong_finding_is_named(demo_findings: list[dict[str, Any]], edit, error) -> None:
    bad = copy.deepcopy(demo_findings[:2])
    edit(bad[1])
    (problem,) = contracts.errors("findings", bad)
    assert problem.startswith("1") and error in problem


def test_checked_validates_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = [{"check_id": "x"}]
    monkeypatch.setenv(contracts.CHECK_ENV, "1")
    with pytest.raises(contracts.ContractError):
        contracts.checked("findings", bad)
    monkeypatch.delenv(contracts.CHECK_ENV)
    assert contracts.checked("findings", bad) is bad


def test_recorded_outputs_are_validated_later(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, demo_findings: list[dict[str, Any]]
) -> None:
    # how the test suite checks every output: producers record, conftest validates
    monkeypatch.setenv(contracts.CHECK_ENV, str(tmp_path))
    contracts.checked("findings", demo_findings)
    contracts.checked("findings", [{**demo_findings[0], "severity": "critical"}])
    contracts.checked("policy", {"exceptions": [{**GOOD_EXCEPTION, "expires": _date(2027)}]})
    assert len(list(tmp_path.glob("*.json"))) == 3
    (problem,) = contracts.validate_recorded(tmp_path)
    assert problem.startswith("findings: 0/severity:") and "'critical'" in problem
    assert list(tmp_path.iterdir()) == []


_WRONG = [
    lambda f: f.update(severity="critical"),
    lambda f: f.pop("check_id"),
    lambda f: f.update(muted="no"),
    lambda f: f.update(exception_expires="31/12/2027"),
    # Python's $ lets jsonschema pass this newline: the fast check's no sends it there
    lambda f: f.update(finding_id="0123456789abcdef\n"),
    lambda f: f["source"].update(sha256="xyz"),
    lambda f: f.update(brand_new=1),
    lambda f: f.update(command=[]),
]


def test_the_suites_fast_check_vouches_only_for_what_jsonschema_accepts(
    demo_findings: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/conftest.py lets jsonschema-rs vouch for recorded outputs; it must never say
    yes where the strict jsonschema validation finds a mismatch."""
    from .conftest import _matches_strictly

    assert _matches_strictly("findings", demo_findings)
    for edit in _WRONG:
        bad = copy.deepcopy(demo_findings[:2])
        edit(bad[1])
        assert not _matches_strictly("findings", bad), bad[1]  # no yes for a wrong finding
    good = {"exceptions": [{**GOOD_EXCEPTION, "expires": "2027-01-01"}]}
    assert _matches_strictly("policy", good)
    assert not _matches_strictly(
        "policy", {"exceptions": [{**GOOD_EXCEPTION, "expires": "2027-13-01"}]}
    )
    # what it does not vouch for is reported with jsonschema's messages
    monkeypatch.setenv(contracts.CHECK_ENV, str(tmp_path))
    contracts.checked("findings", demo_findings)
    contracts.checked("findings", [{**demo_findings[0], "severity": "critical"}])
    (problem,) = contracts.validate_recorded(tmp_path, known_good=_matches_strictly)
    assert problem.startswith("findings: 0/severity:") and "'critical'" in problem
    assert list(tmp_path.iterdir()) == []


def _date(year: int) -> Any:
    import datetime as dt

    return dt.date(year, 1, 1)  # as YAML reads `expires: 2027-01-01`


def test_diff_of_two_snapshots_validates(tmp_path: Path) -> None:
    old = snapshot.write(demo_snapshot(), tmp_path / "old")
    changes = diff.compare(old, "demo")
    items = json.loads(diff.to_json(changes))
    assert contracts.errors("diff", items, strict=True) == []
    items[0]["change"] = "access_stolen"
    assert "'access_stolen' is not one of" in contracts.errors("diff", items)[0]


def test_manifests_validate_and_a_future_format_does_not(tmp_path: Path) -> None:
    path = snapshot.write(demo_snapshot(), tmp_path / "snap")
    manifest = json.loads((path / "manifest.json").read_text())
    assert contracts.errors("manifest", manifest, strict=True) == []
    manifest["format_version"] = 2
    manifest["files"][0]["path"] = "/etc/passwd"
    problems = contracts.errors("manifest", manifest)
    assert any(p.startswith("format_version:") for p in problems)
    assert any(p.startswith("files/0/path:") for p in problems)


# --- the policy file: the schema accepts what the tool accepts -----------------------------


def _readme_policy() -> Any:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## The policy file.*?```yaml\n(.*?)```", readme, flags=re.S)
    assert block, "README: no policy example"
    return yaml.safe_load(block.group(1))


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"internal_domains": "acme.example", "thresholds": None, "exceptions": None},
        "demo",
        "readme",
    ],
)
def test_policies_the_tool_accepts_validate(data: Any) -> None:
    if data == "demo":
        data = yaml.safe_load((ROOT / "scalingo_audit" / "demo" / "policy.yaml").read_text())
    elif data == "readme":
        data = _readme_policy()
    policy.parse_policy(data)
    assert contracts.errors("policy", data, strict=True) == []


GOOD_EXCEPTION = {"check_id": "pending_invitation", "reason": "onboarding", "expires": "2027-01-01"}


@pytest.mark.parametrize(
    "data",
    [
        {"internal_domain": ["a.example"]},
        {"thresholds": {"max_full_app": 3}},
        {"thresholds": {"max_full_apps": "ten"}},
        {"thresholds": {"max_full_apps": -1}},
        {"thresholds": {"max_full_apps": True}},
        {"service_accounts": [3]},
        {"service_accounts": ["  "]},
        {"thresholds": [1]},
        {"exceptions": {"check_id": "pending_invitation"}},
        {"exceptions": [{**GOOD_EXCEPTION, "expires": "31/12/2027"}]},
        {"exceptions": [{k: v for k, v in GOOD_EXCEPTION.items() if k != "expires"}]},
        {"exceptions": [{k: v for k, v in GOOD_EXCEPTION.items() if k != "reason"}]},
        {"exceptions": [{**GOOD_EXCEPTION, "reason": "   "}]},
        {"exceptions": [{**GOOD_EXCEPTION, "user": "x"}]},
        {"exceptions": [{**GOOD_EXCEPTION, "app": 3}]},
        [1, 2],
    ],
)
def test_policies_the_tool_rejects_the_schema_rejects(data: Any) -> None:
    with pytest.raises(PolicyError):
        policy.parse_policy(data)
    assert contracts.errors("policy", data) != []


def test_policy_schema_names_every_key_the_tool_knows() -> None:
    schema = contracts.load("policy")
    props = schema["properties"]
    assert set(props) == policy._TOP_KEYS
    assert set(props["thresholds"]["properties"]) == {f.name for f in fields(policy.Thresholds)}
    assert set(props["exceptions"]["items"]["properties"]) == policy._EXCEPTION_KEYS
    assert schema["additionalProperties"] is False  # an unknown key is an error, as in the tool
