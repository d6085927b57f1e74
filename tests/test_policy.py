"""Policy files: defaults, validation errors that name the key, exception semantics."""

from __future__ import annotations

import datetime as dt

import pytest

from scalingo_audit import PolicyError, load_policy
from scalingo_audit.demo import demo_policy
from scalingo_audit.policy import Policy, PolicyException, parse_policy


def test_defaults_when_empty(tmp_path):
    (tmp_path / "p.yaml").write_text("# nothing\n")
    p = load_policy(tmp_path / "p.yaml")
    assert p.internal_domains == () and p.service_accounts == () and p.exceptions == ()
    assert p.thresholds.max_full_apps == 10
    assert p.thresholds.token_idle_days == 90
    assert p.thresholds.token_max_age_days == 365
    assert p.thresholds.inactive_days == 90
    assert p.thresholds.pending_invitation_days == 14
    assert load_policy("") == Policy()


def test_full_example_from_the_issue(tmp_path):
    (tmp_path / "p.yaml").write_text(
        """
internal_domains: [acme.example]
service_accounts: [ops@acme.example]
api_token_accounts: [ci-shop@acme.example]
thresholds: {max_full_apps: 10, token_idle_days: 90, token_max_age_days: 365,
             inactive_days: 90, pending_invitation_days: 14}
exceptions:
  - {check_id: external_full_collaborator, email: dev@agency.example, app: shop-api,
     reason: "contract until March", expires: 2027-03-31}
"""
    )
    p = load_policy(tmp_path / "p.yaml")
    assert p.is_internal("acme.example") and p.is_internal("eu.acme.example")
    assert p.is_internal("agency.example") is False
    assert p.is_service_account("OPS@acme.example")
    (e,) = p.exceptions
    assert e.expires == dt.date(2027, 3, 31)
    assert e.matches("external_full_collaborator", "shop-api", "Dev@Agency.example", None)
    assert not e.matches("external_full_collaborator", "other", "dev@agency.example", None)
    assert not e.matches("pending_invitation", "shop-api", "dev@agency.example", None)
    assert e.active_on(dt.date(2027, 3, 31)) and not e.active_on(dt.date(2027, 4, 1))


def test_demo_policy_is_valid():
    p = demo_policy()
    assert p.internal_domains == ("acme.example",)
    assert len(p.exceptions) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"internal_domain": ["a.example"]}, "unknown key 'internal_domain'"),
        ({"thresholds": {"max_full_app": 3}}, "unknown key 'thresholds.max_full_app'"),
        ({"thresholds": {"max_full_apps": "ten"}}, "'thresholds.max_full_apps' must be a whole"),
        ({"thresholds": {"max_full_apps": -1}}, "'thresholds.max_full_apps' must be a whole"),
        ({"service_accounts": [3]}, "'service_accounts' must be a list of non-empty strings"),
        (
            {"exceptions": [{"check_id": "no_such_check", "reason": "r", "expires": "2027-01-01"}]},
            "exceptions[1]: unknown check id 'no_such_check'",
        ),
        (
            {
                "exceptions": [
                    {"check_id": "pending_invitation", "reason": "r", "expires": "31/12/2027"}
                ]
            },
            "exceptions[1]: 'expires' is not a date",
        ),
        (
            {"exceptions": [{"check_id": "pending_invitation", "reason": "r"}]},
            "exceptions[1]: 'expires' is required",
        ),
        (
            {"exceptions": [{"check_id": "pending_invitation", "expires": "2027-01-01"}]},
            "exceptions[1]: 'reason' is required",
        ),
        (
            {
                "exceptions": [
                    {
                        "check_id": "pending_invitation",
                        "reason": "r",
                        "expires": "2027-01-01",
                        "user": "x",
                    }
                ]
            },
            "exceptions[1]: unknown key 'user'",
        ),
        ([1, 2], "must be a mapping of keys, not a list"),
    ],
)
def test_invalid_policies_name_what_is_wrong(data, message):
    with pytest.raises(PolicyError) as exc:
        parse_policy(data, source="p.yaml")
    assert message in str(exc.value)
    assert str(exc.value).startswith("p.yaml")


def test_unreadable_policy_files(tmp_path):
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("internal_domains: [a\nthresholds: {")
    with pytest.raises(PolicyError, match=r"bad\.yaml: not valid YAML at line"):
        load_policy(bad)


def test_exception_scope_description():
    e = PolicyException("token_unused", "r", dt.date(2027, 1, 1), token_name="ci")
    assert e.describe() == "token_unused (token_name=ci)"


def test_an_exception_with_a_region_mutes_only_that_regions_app(tmp_path):
    """``shop`` in two regions: an exception naming ``region`` mutes the finding there only;
    one naming just the app mutes it in both (documented)."""
    from scalingo_audit.checks import run_checks
    from scalingo_audit.sources import load as load_source

    from .fakeapi import FakeScalingo, make_world
    from .orgs import collab
    from .test_collect import run_collect

    fr1, sec = "osc-fr1", "osc-secnum-fr1"
    world = make_world(owned=2, collaborated=0, regions=(fr1, sec))
    for r in (fr1, sec):
        shop = world.rename_app(r, world.apps[r][0]["name"], "shop")
        world.collaborators[shop["id"]] = [collab(shop, "dev@acme.example", tfa=False)]
    with FakeScalingo(world) as fake:
        snap, _ = run_collect(fake, tmp_path / "snap")
    data = load_source(snap)

    def muted(**scope: str) -> dict[str, bool]:
        policy = parse_policy(
            {
                "exceptions": [
                    {
                        "check_id": "collaborator_without_2fa",
                        "app": "shop",
                        "reason": "r",
                        "expires": "2999-01-01",
                        **scope,
                    }
                ]
            }
        )
        f = run_checks(data, policy=policy)
        f = f[f["check_id"] == "collaborator_without_2fa"]
        return dict(zip(f["region"], f["muted"].astype(bool), strict=True))

    assert muted(region=sec) == {fr1: False, sec: True}
    assert muted() == {fr1: True, sec: True}
    assert muted(region="osc-nowhere") == {fr1: False, sec: False}
    e = parse_policy(
        {"exceptions": [{"check_id": "token_unused", "region": sec, "reason": "r",
                         "expires": "2999-01-01"}]}
    ).exceptions[0]  # fmt: skip
    assert e.region == sec and e.describe() == f"token_unused (region={sec})"
    with pytest.raises(PolicyError, match=r"exceptions\[1\]: 'region' must be a string"):
        parse_policy(
            {"exceptions": [{"check_id": "token_unused", "region": 1, "reason": "r",
                             "expires": "2999-01-01"}]}
        )  # fmt: skip


def test_flow_collections_nested_past_the_limit_are_refused_before_yaml_reads_on(
    tmp_path,
) -> None:
    from scalingo_audit.policy import MAX_FLOW_DEPTH

    path = tmp_path / "policy.yaml"
    n = MAX_FLOW_DEPTH
    path.write_text("internal_domains: " + "[" * n + "]" * n + "\n", encoding="utf-8")
    with pytest.raises(PolicyError) as within:  # read whole, then refused for its content
        load_policy(path)
    assert "nested too deeply" not in str(within.value)
    for text in ("[" * (n + 1) + "]" * (n + 1), "{a: " * (n + 1) + "1" + "}" * (n + 1)):
        path.write_text(f"internal_domains: {text}\n", encoding="utf-8")
        with pytest.raises(PolicyError, match="nested too deeply to be a policy file"):
            load_policy(path)
