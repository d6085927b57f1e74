"""model: AuditData, the people derived from memberships, the policy's flags, the summary."""

from __future__ import annotations

import pandas as pd

from scalingo_audit.policy import Policy

from .orgs import app, collab, org

SEC = "osc-secnum-fr1"


def test_people_are_one_row_per_email_case_insensitive():
    data = org(
        [app("a"), app("b", region="osc-secnum-fr1")],
        [
            collab("a", "Dev@Acme.example", tfa=False),
            collab("b", "dev@acme.example", limited=True, tfa=False),
            collab("b", "new@acme.example", status="pending"),
        ],
    )
    p = data.people.set_index("email_key")
    assert list(p.index) == ["dev@acme.example", "new@acme.example", "ops@acme.example"]
    dev = p.loc["dev@acme.example"]
    assert (dev["full_apps"], dev["limited_apps"], dev["apps"]) == (1, 1, 2)
    assert dev["regions"] == "osc-fr1, osc-secnum-fr1"
    assert dev["tfa"] == False  # noqa: E712
    assert dev["highest_role"] == "collaborator"
    assert p.loc["new@acme.example", "highest_role"] == "pending"
    assert pd.isna(p.loc["new@acme.example", "tfa"])
    assert p.loc["ops@acme.example", "owner_apps"] == 2


def test_the_same_app_name_in_two_regions_counts_as_two_apps_for_a_person():
    shops = [app("shop"), app("shop", region=SEC)]
    data = org(shops, [collab(s, "dev@agency.example") for s in shops])
    dev = data.people.set_index("email_key").loc["dev@agency.example"]
    assert (dev["full_apps"], dev["apps"], dev["regions"]) == (2, 2, f"osc-fr1, {SEC}")
    assert data.summary()["apps"] == 2 and data.summary()["regions"] == 2


def test_with_policy_recomputes_the_flags_the_policy_decides():
    data = org(
        [app("shop")], [collab("shop", "dev@agency.example"), collab("shop", "x@acme.example")]
    )
    assert data.people["internal"].isna().all()  # no internal domain named: unknown
    seen = data.with_policy(
        Policy(internal_domains=("acme.example",), service_accounts=("ops@acme.example",))
    )
    people = seen.people.set_index("email_key")
    assert people["internal"].tolist() == [False, True, True]
    assert people["service_account"].tolist() == [False, True, False]
    assert seen.memberships.set_index("email")["internal"].to_dict() == {
        "ops@acme.example": True, "dev@agency.example": False, "x@acme.example": True
    }  # fmt: skip
    assert data.people["internal"].isna().all()  # the original is left as it was


def test_summary_figures():
    data = org(
        [app("a"), app("b")],
        [
            collab("a", "f@acme.example", tfa=True),
            collab("a", "l@acme.example", limited=True, tfa=False),
            collab("b", "u@acme.example", omit_tfa=True),
            collab("b", "p@acme.example", status="pending"),
        ],
        policy=Policy(internal_domains=("acme.example",)),
    )
    assert data.summary() == {
        "apps": 2, "people": 5, "regions": 1, "memberships": 6,
        "accepted_collaborators": 3, "full_collaborator_share": round(2 / 3, 4),
        "tfa_coverage": 0.5, "tfa_unknown": 1, "pending_invitations": 1, "external_people": 0,
    }  # fmt: skip
    assert pd.isna(org([app("a")]).summary()["full_collaborator_share"])  # nothing to divide
