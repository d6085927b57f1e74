"""init-policy: a starter policy from the data, which makes the policy checks evaluate;
"not evaluated" where a policy key is missing; never overwriting a file."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import yaml

from scalingo_audit.checks import CHECKS, run_checks
from scalingo_audit.notebook import open_audit
from scalingo_audit.policy import Policy, load_policy, parse_policy
from scalingo_audit.report import render_index
from scalingo_audit.sources import load
from scalingo_audit.starter_policy import starter_policy, write_starter_policy

from . import clirun
from .orgs import COLLECTOR, app, collab, org

POLICY_CHECKS = sorted(c.id for c in CHECKS.values() if c.needs)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return clirun.run(*args, cwd=cwd)


def by_check(findings: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in findings:
        out.setdefault(f["check_id"], []).append(f)
    return out


def test_demo_without_a_policy_then_with_init_policy(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n", encoding="utf-8")
    r = cli("check", "demo", "--policy", str(empty), "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before = by_check(json.loads(r.stdout))
    for check_id in POLICY_CHECKS:
        key = CHECKS[check_id].needs
        assert [(f["severity"], f["message"]) for f in before[check_id]] == [
            ("info", f"not evaluated: set `{key}` in the policy.")
        ]

    r = clirun.process("init-policy", "demo", "--out", "policy.yaml", cwd=tmp_path)  # real, once
    assert r.returncode == 0, r.stderr
    written = (tmp_path / "policy.yaml").read_text(encoding="utf-8")
    assert written.startswith("# Starter policy")
    r = cli("check", "demo", "--policy", "policy.yaml", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    after = by_check(json.loads(r.stdout))
    for check_id in POLICY_CHECKS:
        assert after.get(check_id), f"{check_id} found nothing with the starter policy"
        assert all(not f["message"].startswith("not evaluated") for f in after[check_id])
        assert all(f["severity"] == CHECKS[check_id].severity for f in after[check_id])


def test_init_policy_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "policy.yaml"
    target.write_text("mine: true\n", encoding="utf-8")
    r = cli("init-policy", "demo", "--out", str(target), cwd=tmp_path)
    assert r.returncode == 2
    assert "already exists" in r.stderr and "Traceback" not in r.stderr
    assert target.read_text(encoding="utf-8") == "mine: true\n"
    link = tmp_path / "link.yaml"
    link.symlink_to(tmp_path / "nowhere.yaml")  # a dangling link is a file too
    assert cli("init-policy", "demo", "--out", str(link), cwd=tmp_path).returncode == 2
    assert not (tmp_path / "nowhere.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.yaml", "policy.yaml"]


def test_starter_policy_content_ranks_domains_and_finds_accounts() -> None:
    data = load("demo", policy=Policy())
    text = starter_policy(data)
    policy = parse_policy(yaml.safe_load(text))
    collector = (data.info.collected_by or "").lower()
    assert collector
    home = collector.split("@")[1]
    assert policy.internal_domains == (home,)  # the collecting account's domain, first
    domains = [
        line.split('"')[1] for line in text.splitlines() if line.lstrip("# ").startswith('- "')
    ]
    assert domains[0] == home
    counts = data.people["domain"].value_counts()
    others = [d for d in domains if "." in d and "@" not in d and d != home]
    assert others == sorted(others, key=lambda d: (-counts[d], d))  # most people first
    assert set(others) == set(counts.index) - {home}
    assert collector in policy.service_accounts
    personal = set(data.apps["owner_email"].str.lower()) - set(policy.service_accounts)
    assert personal and all(f'# - "{e}"' in text for e in personal)  # listed, commented out
    holders = set(data.tokens["account_email"].str.lower())
    assert holders <= set(policy.api_token_accounts)
    assert policy.thresholds == Policy().thresholds
    assert policy.exceptions == ()
    assert "#   - check_id: external_full_collaborator" in text  # an example, commented out


def test_hostile_names_stay_values() -> None:
    evil_domain = 'x.example"\ninternal_domains: [evil]\n# '
    evil = f"ops@{evil_domain}"
    data = org(
        [app("a", owner=evil), app("b", owner="bob@b.example")],
        [collab("a", "ci-bot@ünï.example"), collab("b", "dev@b.example")],
    )
    data = dataclasses.replace(data, info=dataclasses.replace(data.info, collected_by=evil))
    text = starter_policy(data)
    raw = yaml.safe_load(text)
    policy = parse_policy(raw)
    assert policy.internal_domains == (evil_domain.strip().lower(),)  # one value, as typed
    assert evil.strip().lower() in policy.service_accounts
    assert "ci-bot@ünï.example" in policy.api_token_accounts
    assert all(line.isascii() for line in text.splitlines())
    assert text.count("\ninternal_domains:") == 1


def test_write_creates_parent_and_loads(tmp_path: Path) -> None:
    data = org([app("a")], [collab("a", f"x@{COLLECTOR.split('@')[1]}")])
    path = write_starter_policy(data, tmp_path / "new" / "policy.yaml")
    assert load_policy(path).service_accounts == (COLLECTOR.lower(),)
    assert [p.name for p in path.parent.iterdir()] == ["policy.yaml"]  # no temporary left


def test_index_says_not_evaluated_without_internal_domains() -> None:
    audit = open_audit("demo")
    bare = dataclasses.replace(
        audit,
        data=audit.data.with_policy(Policy()),
        findings=run_checks(audit.data, policy=Policy()),
    )
    html = render_index(bare, [])
    assert "external: not evaluated (set internal_domains in the policy)" in html
    assert "0 external" not in html
    assert "not evaluated" not in render_index(audit, [])
