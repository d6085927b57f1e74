"""identity: a finding's stable id across runs."""

from __future__ import annotations

from scalingo_audit.checks import run_checks
from scalingo_audit.identity import finding_id

from .orgs import app, collab, org


def test_finding_id_follows_the_app_id_not_its_name():
    a = [app("a")], [collab("a", "d@acme.example", tfa=False)]
    renamed = app("shop")
    renamed["id"] = "ap-a"
    c = collab("shop", "D@ACME.example", tfa=False)
    c["app_id"] = "ap-a"
    fa, fb = run_checks(org(*a)), run_checks(org([renamed], [c]))
    assert list(fa["finding_id"]) == list(fb["finding_id"])
    assert finding_id("c", "r", "ap-1", "A@X.example", None) == finding_id(
        "c", "r", "ap-1", "a@x.example", ""
    )
    assert finding_id("c", "r", "ap-1", None, None) != finding_id("c", "r", "ap-2", None, None)
    # the frame path and the scalar function agree; fields cannot bleed into each other
    row = fa[fa["check_id"] == "collaborator_without_2fa"].iloc[0]
    assert row["finding_id"] == finding_id(
        "collaborator_without_2fa", "osc-fr1", "ap-a", "d@acme.example", None
    )
    assert finding_id("c", "r", "a", "b", None) != finding_id("c", "r", "a:b", None, None)
    assert finding_id("c", "r", "1:a", "", "") != finding_id("c", "r", "", "1:a", "")


def test_the_same_app_name_in_two_regions_gives_two_ids():
    shops = [app("shop"), app("shop", region="osc-secnum-fr1")]
    f = run_checks(org(shops, [collab(s, "d@acme.example", tfa=False) for s in shops]))
    no_2fa = f[f["check_id"] == "collaborator_without_2fa"].set_index("region")
    assert no_2fa["finding_id"].is_unique and len(no_2fa) == 2
    for region, shop in zip(["osc-fr1", "osc-secnum-fr1"], shops, strict=True):
        assert no_2fa.loc[region, "finding_id"] == finding_id(
            "collaborator_without_2fa", region, shop["id"], "d@acme.example", None
        )
    assert f["finding_id"].is_unique
