"""Each check: true positives and true negatives on small organisations, then on the demo."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from scalingo_audit import load
from scalingo_audit.checks import CHECKS, catalogue, run_checks
from scalingo_audit.checks.registry import check
from scalingo_audit.frames import CHECK_IDS, SEVERITIES
from scalingo_audit.policy import parse_policy

from .orgs import app, collab, org, token

CONTRACT = {
    "collaborator_without_2fa": "high",
    "limited_collaborator_without_2fa": "medium",
    "tfa_status_unknown": "low",
    "external_full_collaborator": "high",
    "pending_invitation": "low",
    "deleted_account_collaborator": "low",
    "owner_not_service_account": "medium",
    "full_collaborator_on_many_apps": "low",
    "token_account_on_many_apps": "medium",
    "token_never_used": "low",
    "token_unused": "medium",
    "token_too_old": "low",
    "inactive_collaborator": "medium",
    "unused_full_privileges": "medium",
    "pending_invitation_stale": "medium",
    "owner_without_2fa": "high",
}


def hits(findings: pd.DataFrame, check_id: str) -> list[tuple]:
    f = findings[findings["check_id"] == check_id]
    return sorted(
        tuple("" if pd.isna(v) else v for v in row)
        for row in f[["app", "email", "token_name"]].itertuples(index=False)
    )


def assert_not_evaluated(findings: pd.DataFrame, check_id: str) -> None:
    """Without its policy key, a check yields one info finding saying so, and nothing else."""
    f = findings[findings["check_id"] == check_id]
    key = CHECKS[check_id].needs
    assert key
    assert f[["severity", "message"]].values.tolist() == [
        ["info", f"not evaluated: set `{key}` in the policy."]
    ]
    assert f[["app", "email", "token_name"]].isna().all().all()
    assert "init-policy" in f["remediation"].iloc[0]


def test_policy_checks_without_their_key_say_not_evaluated():
    data = org([app("a", owner="alice@acme.example")], [collab("a", "x@agency.example")])
    f = run_checks(data)
    needing = sorted(c.id for c in CHECKS.values() if c.needs)
    assert needing == [
        "external_full_collaborator",
        "owner_not_service_account",
        "token_account_on_many_apps",
    ]
    for check_id in needing:
        assert_not_evaluated(f, check_id)


def test_catalogue_is_the_contract():
    assert {c.id: c.severity for c in CHECKS.values()} == CONTRACT
    # the ids the policy accepts (frames.CHECK_IDS) are exactly the registered checks
    assert sorted(CHECK_IDS) == sorted(CHECKS) and len(set(CHECK_IDS)) == len(CHECK_IDS)


def test_a_check_registers_only_under_a_listed_id():
    with pytest.raises(ValueError, match=r"'no_such_check' is not in frames\.CHECK_IDS"):
        check("no_such_check", severity="low", title="T", risk="R.", remediation="F.")
    assert "no_such_check" not in CHECKS


@pytest.mark.parametrize("check_id", sorted(CONTRACT))
def test_check_metadata(check_id):
    c = CHECKS[check_id]
    assert re.fullmatch(r"[a-z0-9_]+", c.id)
    assert c.severity in SEVERITIES
    assert c.title and c.title[0].isupper() and not c.title.endswith(".")
    assert 20 < len(c.risk) < 400 and c.risk.endswith(".")
    assert c.remediation.endswith(".")
    assert c.theme in {"mfa", "roles", "invitations", "owners", "tokens", "activity"}


def test_catalogue_table_lists_every_check_most_severe_first():
    table = catalogue()
    assert sorted(table["check_id"]) == sorted(CONTRACT)
    ranks = [SEVERITIES.index(s) for s in table["severity"]]
    assert ranks == sorted(ranks)


def test_2fa_checks_by_role_and_unknown_is_not_false():
    data = org(
        [app("a"), app("b")],
        [
            collab("a", "full-off@acme.example", tfa=False),
            collab("a", "full-on@acme.example", tfa=True),
            collab("a", "lim-off@acme.example", limited=True, tfa=False),
            collab("a", "lim-str@acme.example", limited="true", tfa=False),
            collab("b", "unknown@acme.example", omit_tfa=True),
            collab("b", "null@acme.example", limited=True, tfa=None),
            collab("b", "pending@acme.example", status="pending"),
            collab("b", "gone@acme.example", status="user account deleted", tfa=False),
        ],
    )
    f = run_checks(data)
    assert hits(f, "collaborator_without_2fa") == [("a", "full-off@acme.example", "")]
    assert hits(f, "limited_collaborator_without_2fa") == [
        ("a", "lim-off@acme.example", ""),
        ("a", "lim-str@acme.example", ""),
    ]
    assert hits(f, "tfa_status_unknown") == [
        ("b", "null@acme.example", ""),
        ("b", "unknown@acme.example", ""),
    ]
    # The owner (ops) never gets a 2FA finding: the API does not expose it.
    assert "ops@acme.example" not in set(f["email"].dropna())


def test_external_full_collaborator_needs_internal_domains():
    apps = [app("shop-api")]
    collabs = [
        collab("shop-api", "dev@agency.example"),
        collab("shop-api", "inv@agency.example", status="pending"),
        collab("shop-api", "lim@agency.example", limited=True),
        collab("shop-api", "Staff@Acme.Example"),
        collab("shop-api", "sub@eu.acme.example"),
        collab("shop-api", "gone@agency.example", status="user account deleted"),
    ]
    assert_not_evaluated(run_checks(org(apps, collabs)), "external_full_collaborator")
    policy = parse_policy({"internal_domains": ["acme.example"]})
    f = run_checks(org(apps, collabs, policy=policy))
    assert hits(f, "external_full_collaborator") == [
        ("shop-api", "dev@agency.example", ""),
        ("shop-api", "inv@agency.example", ""),
    ]


def test_pending_and_deleted():
    f = run_checks(
        org(
            [app("a")],
            [
                collab("a", "p1@x.example", status="pending", limited=True),
                collab("a", "p2@x.example", status="pending"),
                collab("a", "d@x.example", status="user account deleted"),
                collab("a", "ok@x.example"),
            ],
        )
    )
    assert hits(f, "pending_invitation") == [("a", "p1@x.example", ""), ("a", "p2@x.example", "")]
    assert hits(f, "deleted_account_collaborator") == [("a", "d@x.example", "")]
    remediation = f[f["check_id"] == "deleted_account_collaborator"]["remediation"].iloc[0]
    assert remediation == (
        "Remove the membership: scalingo --region osc-fr1 --app a collaborators-remove d@x.example"
    )


def test_owner_not_service_account_one_per_app_only_when_configured():
    apps = [app("a"), app("b", owner="Alice@Acme.example"), app("c", owner="alice@acme.example")]
    assert_not_evaluated(run_checks(org(apps)), "owner_not_service_account")
    policy = parse_policy({"service_accounts": ["OPS@acme.example"]})
    f = run_checks(org(apps, policy=policy))
    assert hits(f, "owner_not_service_account") == [
        ("b", "Alice@Acme.example", ""),
        ("c", "alice@acme.example", ""),
    ]


def test_full_collaborator_on_many_apps_is_strict_and_ignores_owner_and_limited():
    apps = [app(f"a{i}") for i in range(12)] + [app("own", owner="busy@acme.example")]
    collabs = [collab(f"a{i}", "busy@acme.example") for i in range(11)]
    collabs += [collab(f"a{i}", "ten@acme.example") for i in range(10)]
    collabs += [collab("a10", "TEN@acme.example", limited=True)]  # same person, other case
    collabs += [collab(f"a{i}", "lim@acme.example", limited=True) for i in range(12)]
    collabs += [collab("a11", "busy@acme.example", status="pending")]
    f = run_checks(org(apps, collabs))
    assert hits(f, "full_collaborator_on_many_apps") == [("", "busy@acme.example", "")]
    f5 = run_checks(org(apps, collabs, policy=parse_policy({"thresholds": {"max_full_apps": 10}})))
    assert len(hits(f5, "full_collaborator_on_many_apps")) == 1
    f9 = run_checks(org(apps, collabs, policy=parse_policy({"thresholds": {"max_full_apps": 9}})))
    assert [h[1] for h in hits(f9, "full_collaborator_on_many_apps")] == [
        "busy@acme.example",
        "ten@acme.example",
    ]


def test_token_account_on_many_apps_counts_ownership_and_any_accepted_role():
    apps = [app("a"), app("b"), app("c", owner="ci-own@acme.example"), app("d")]
    collabs = [
        collab("a", "ci-one@acme.example"),
        collab("a", "ci-two@acme.example"),
        collab("b", "ci-two@acme.example", limited=True),
        collab("a", "ci-own@acme.example", limited=True),
        collab("a", "ci-pending@acme.example"),
        collab("b", "ci-pending@acme.example", status="pending"),
    ]
    policy = parse_policy(
        {
            "api_token_accounts": [
                "ci-one@acme.example",
                "ci-two@acme.example",
                "ci-own@acme.example",
                "ci-pending@acme.example",
            ]
        }
    )
    f = run_checks(org(apps, collabs, policy=policy))
    assert hits(f, "token_account_on_many_apps") == [
        ("", "ci-own@acme.example", ""),
        ("", "ci-two@acme.example", ""),
    ]


def test_token_checks_and_thresholds():
    tokens = [
        token("fresh", 10, 1),
        token("never", 5, None),
        token("idle", 100, 91),
        token("idle-edge", 100, 89),
        token("old", 366, 1),
        token("old-edge", 364, 1),
    ]
    f = run_checks(org([app("a")], tokens=tokens))
    assert [h[2] for h in hits(f, "token_never_used")] == ["never"]
    assert [h[2] for h in hits(f, "token_unused")] == ["idle"]
    assert [h[2] for h in hits(f, "token_too_old")] == ["old"]
    tok = f[f["check_id"].str.startswith("token_") & (f["severity"] != "info")]
    assert set(tok["email"]) == {"ops@acme.example"}
    # as_of moves ages: a year later everything is old and idle.
    later = run_checks(org([app("a")], tokens=tokens), as_of="2027-10-02")
    assert len(hits(later, "token_too_old")) == 6
    assert len(hits(later, "token_unused")) == 5


def test_exceptions_mute_until_expiry_inclusive_and_match_all_named_fields():
    apps = [app("shop-api"), app("other")]
    collabs = [collab("shop-api", "dev@agency.example"), collab("other", "dev@agency.example")]
    policy = parse_policy(
        {
            "internal_domains": ["acme.example"],
            "exceptions": [
                {
                    "check_id": "external_full_collaborator",
                    "email": "DEV@agency.example",
                    "app": "shop-api",
                    "reason": "contract",
                    "expires": "2026-10-31",
                }
            ],
        }
    )
    data = org(apps, collabs, policy=policy)
    f = run_checks(data, as_of="2026-10-31")
    ext = f[f["check_id"] == "external_full_collaborator"].set_index("app")
    assert bool(ext.loc["shop-api", "muted"]) is True
    assert ext.loc["shop-api", "exception_reason"] == "contract"
    assert bool(ext.loc["other", "muted"]) is False
    after = run_checks(data, as_of="2026-11-01")
    assert not after["muted"].any()


def test_run_checks_only_and_policy_override():
    data = org([app("a")], [collab("a", "x@agency.example", tfa=False)])
    f = run_checks(data, only=["collaborator_without_2fa"])
    assert set(f["check_id"]) == {"collaborator_without_2fa"}
    f2 = run_checks(data, policy=parse_policy({"internal_domains": ["acme.example"]}))
    assert "external_full_collaborator" in set(f2["check_id"])


# --- the demo organisation: true findings for every check, and none that are false ---


@pytest.fixture(scope="module")
def demo_findings():
    return run_checks(load("demo"))


def test_demo_has_true_positives_for_every_check(demo_findings):
    assert set(demo_findings["check_id"]) == set(CONTRACT)
    # every check could be evaluated: no "could not be evaluated" info finding
    assert not (demo_findings["severity"] == "info").any()


def test_demo_findings_are_true(demo_findings):
    data = load("demo")
    m = data.memberships
    f = demo_findings
    # every 2FA finding points at an accepted membership with that role and tfa False
    for check_id, role in (
        ("collaborator_without_2fa", "collaborator"),
        ("limited_collaborator_without_2fa", "limited_collaborator"),
    ):
        for _app, email, _ in hits(f, check_id):
            row = m[(m["app_name"] == _app) & (m["email"] == email)].iloc[0]
            assert (row["role"], row["status"], row["tfa"]) == (role, "accepted", False)
    assert hits(f, "full_collaborator_on_many_apps") == [("", "hugo.lefebvre@acme.example", "")]
    assert hits(f, "token_account_on_many_apps") == [("", "ci-data@acme.example", "")]
    assert {h[0] for h in hits(f, "owner_not_service_account")} == {
        "marketing-blog",
        "marketing-landing",
        "internal-wiki",
        "mobile-sandbox",
        "hr-portal-staging",
    }
    assert {h[1] for h in hits(f, "external_full_collaborator")} == {
        "lea.martin@webagency.example",
        "nina.costa@freelance.example",
        "sam.taylor@studio-nord.example",
    }
    assert [h[2] for h in hits(f, "token_never_used")] == ["grafana-export"]
    assert sorted(h[2] for h in hits(f, "token_unused")) == ["backup-script", "laptop-cli"]
    assert sorted(h[2] for h in hits(f, "token_too_old")) == ["ci-legacy", "laptop-cli"]
    assert len(hits(f, "deleted_account_collaborator")) == 3


def test_demo_true_negatives(demo_findings):
    f = demo_findings
    emails = set(f["email"].dropna())
    # exactly 10 full apps is not "more than 10"; the one-app token account is fine
    assert "julie.moreau@acme.example" not in set(
        f[f["check_id"] == "full_collaborator_on_many_apps"]["email"]
    )
    assert "ci-shop@acme.example" not in emails
    # an external Limited Collaborator is not an external full collaborator
    ext = f[f["check_id"] == "external_full_collaborator"]
    assert "jonas.weber@devshop.example" not in set(ext["email"])
    assert "terraform-prod" not in set(f["token_name"].dropna())
    # one exception is active (muted finding), the other expired (mutes nothing)
    muted = f[f["muted"].astype(bool)]
    assert list(zip(muted["check_id"], muted["app"], strict=True)) == [
        ("external_full_collaborator", "shop-api")
    ]
    blog = f[(f["check_id"] == "owner_not_service_account") & (f["app"] == "marketing-blog")]
    assert not bool(blog["muted"].iloc[0])


def test_a_membership_finding_carries_its_command_and_ends_its_remediation_with_it():
    from scalingo_audit.checks.registry import membership_finding
    from scalingo_audit.commands import MANUAL, argv

    r = {"region": "osc-fr1", "app_name": "shop", "email": "a@acme.example"}
    f = membership_finding(r, "downgrade", "msg", "Downgrade: ")
    assert f["command"] == argv("downgrade", "osc-fr1", "shop", "a@acme.example")
    assert f["remediation"].startswith("Downgrade: scalingo --region osc-fr1 --app shop")
    assert (f["region"], f["app"], f["email"], f["message"]) == (
        "osc-fr1",
        "shop",
        "a@acme.example",
        "msg",
    )
    unsafe = membership_finding({**r, "app_name": "--help"}, "revoke", "m", "Revoke: ")
    assert unsafe["command"] is None and MANUAL in unsafe["remediation"]
