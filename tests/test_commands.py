"""commands: one renderer for every Scalingo CLI command — findings (JSON ``command``,
remediation, CSV, terminal table), review sheets, report tables and ``--apply-decisions``.

Pasted lines are run in a real shell (``sh``) against a ``scalingo`` shell function that
prints the words it receives: what the shell hands the CLI must be exactly the argv."""

from __future__ import annotations

import csv
import io
import json
import shlex
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from scalingo_audit import commands, output, review, tables
from scalingo_audit.checks import CHECKS, run_checks
from scalingo_audit.policy import Policy, Thresholds
from scalingo_audit.snapshot import write
from scalingo_audit.sources import from_snapshot

from . import clirun
from .orgs import app, collab, org, snapshot, token

SECNUM = "osc-secnum-fr1"
SHELL_APP = 'it\'s $(touch pwned) `touch pwned2` "x" & y; z'
NEAR_MISSES = [  # odd but harmless once shell-quoted: a command is given
    "a-b@agency.example",  # '-' inside
    "o'brien@agency.example",  # a quote
    "$(touch pwned)@agency.example",
    "`touch pwned`@agency.example",
    "two words@agency.example",
    "élodie.müller@agency.example",  # non-ASCII, printable
    "nb\u00a0sp@agency.example",  # a no-break space is not a control character
    "x-@agency.example",
]
HOSTILE = [  # no command at all
    "-rf@agency.example",
    "--app=bank@agency.example",  # would act on another app
    "-@agency.example",
    "new\nline@agency.example",
    "cr\rret@agency.example",
    "tab\there@agency.example",
    "esc\x1b[2J@agency.example",
    "nul\x00@agency.example",
    "del\x7f@agency.example",
    "c1\x85@agency.example",
    "rlo\u202egnp.exe@agency.example",  # right-to-left override
    "zw\u200bsp@agency.example",  # zero-width space
    "ls\u2028sep@agency.example",  # line separator
]
POLICY = Policy(internal_domains=("acme.example",))


# --- the renderer --------------------------------------------------------------------------


def shell_words(line: str, cwd: Path) -> list[str]:
    """The words a POSIX shell passes to ``scalingo`` when ``line`` is pasted."""
    script = 'scalingo() { for w in "$@"; do printf "%s\\0" "$w"; done; }\n' + line + "\n"
    r = subprocess.run(["sh", "-c", script], capture_output=True, cwd=cwd, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().split("\0")[:-1]


def test_argv_always_names_region_and_app():
    assert commands.argv("downgrade", SECNUM, "shop-api", "dev@agency.example") == (
        "scalingo", "--region", SECNUM, "--app", "shop-api",
        "collaborators-update", "--limited=true", "dev@agency.example",
    )  # fmt: skip
    assert commands.argv("revoke", "osc-fr1", "shop", "d@x.example") == (
        "scalingo", "--region", "osc-fr1", "--app", "shop", "collaborators-remove", "d@x.example",
    )  # fmt: skip
    assert commands.line("revoke", SECNUM, "shop", "d@x.example") == (
        f"scalingo --region {SECNUM} --app shop collaborators-remove d@x.example"
    )
    with pytest.raises(KeyError):
        commands.argv("delete", "osc-fr1", "shop", "d@x.example")


@pytest.mark.parametrize("email", NEAR_MISSES)
def test_odd_values_are_quoted_so_the_shell_passes_them_as_they_are(email, tmp_path):
    cmd = commands.argv("revoke", SECNUM, SHELL_APP, email)
    assert cmd is not None and cmd[-1] == email
    line = commands.render(cmd)
    assert line == shlex.join(cmd) and "\n" not in line
    assert shell_words(line, tmp_path) == list(cmd[1:])
    assert not list(tmp_path.iterdir())  # no $(...) or `...` ran


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("where", ["region", "app", "email"])
def test_a_leading_dash_or_a_control_character_gets_no_command(value, where):
    words = {"region": SECNUM, "app": "shop", "email": "ok@acme.example", where: value}
    assert commands.unsafe(value)
    assert commands.argv("downgrade", words["region"], words["app"], words["email"]) is None
    assert commands.render(None) is None
    assert commands.phrase(None) == commands.MANUAL


@pytest.mark.parametrize("value", [None, "", float("nan"), 3])
def test_missing_values_get_no_command(value):
    assert commands.argv("revoke", "osc-fr1", value, "ok@acme.example") is None
    assert commands.argv("revoke", value, "shop", "ok@acme.example") is None


def test_action_of_reads_back_the_action():
    for action in commands.ACTIONS:
        assert commands.action_of(commands.argv(action, "osc-fr1", "a", "b@x.example")) == action
    assert commands.action_of(None) is None
    assert commands.action_of(("scalingo", "apps")) is None


# --- findings ------------------------------------------------------------------------------


def two_region_org():
    """``shop`` in both regions with different people; hostile and odd emails; an app name
    full of shell syntax."""
    people = [
        collab("shop", "dev@agency.example"),  # external full, osc-fr1
        collab("shop", "dev@agency.example", region=SECNUM),  # the same person, SecNumCloud
        collab("shop", "lim@acme.example", region=SECNUM, limited=True, tfa=False),
        collab(SHELL_APP, "ann@agency.example"),
        *(collab("shop", e, region=SECNUM) for e in HOSTILE),
        *(collab("shop", e, region=SECNUM, status="pending") for e in NEAR_MISSES),
    ]
    return snapshot(
        [app("shop"), app("shop", region=SECNUM), app(SHELL_APP)],
        people,
        [token("ci", 400, 100)],
    )


@pytest.fixture(scope="module")
def data():
    return from_snapshot(two_region_org(), policy=POLICY)


@pytest.fixture(scope="module")
def found(data):
    return run_checks(data)


def test_every_finding_of_a_cli_check_carries_its_command(found):
    assert len(found) > len(HOSTILE) + len(NEAR_MISSES)
    with_command = 0
    for r in found.to_dict("records"):
        action = CHECKS[r["check_id"]].action
        cmd = r["command"]
        if action is None or pd.isna(r["app"]):
            assert cmd is None, r  # nothing to run (dashboard, tokens, several apps)
            continue
        hostile = r["email"] in HOSTILE
        if hostile:
            assert cmd is None, r
            assert commands.MANUAL in r["remediation"]
            assert "scalingo --" not in r["remediation"]
            continue
        with_command += 1
        assert cmd == commands.argv(action, r["region"], r["app"], r["email"])
        assert cmd[1:5] == ("--region", r["region"], "--app", r["app"])
        assert r["remediation"].endswith(commands.render(cmd))
    assert with_command >= len(NEAR_MISSES) + 3


def test_the_same_app_name_in_two_regions_gets_two_commands(found):
    dev = found[(found["email"] == "dev@agency.example") & found["app"].notna()]
    assert sorted(dev["region"]) == ["osc-fr1", SECNUM]
    assert sorted(c[2] for c in dev["command"]) == ["osc-fr1", SECNUM]
    lim = found[found["email"] == "lim@acme.example"]
    assert lim["check_id"].tolist() == ["limited_collaborator_without_2fa"]
    assert lim["command"].iloc[0][:5] == ("scalingo", "--region", SECNUM, "--app", "shop")


def test_findings_about_several_apps_show_an_example_with_its_region():
    people = [collab("shop", "dev@agency.example", region=r) for r in (SECNUM, "osc-fr1")]
    policy = Policy(
        api_token_accounts=("dev@agency.example",), thresholds=Thresholds(max_full_apps=1)
    )
    f = run_checks(org([app("shop", region=SECNUM), app("shop")], people, policy=policy))
    for check_id, example in [
        ("full_collaborator_on_many_apps", "e.g. scalingo --region osc-fr1 --app shop "
         "collaborators-update --limited=true dev@agency.example"),
        ("token_account_on_many_apps", f"e.g. scalingo --region {SECNUM} --app shop "
         "collaborators-remove dev@agency.example"),
    ]:  # fmt: skip
        (r,) = f[f["check_id"] == check_id].to_dict("records")
        assert pd.isna(r["app"]) and r["command"] is None
        assert r["region"] == f"osc-fr1, {SECNUM}"
        assert r["remediation"].endswith(example)  # the line ends the text: reports show it apart
    hostile = run_checks(
        org([app("a"), app("b")], [collab(x, "-x@agency.example") for x in "ab"], policy=policy)
    )
    (r,) = hostile[hostile["check_id"] == "full_collaborator_on_many_apps"].to_dict("records")
    assert commands.MANUAL in r["remediation"] and "scalingo" not in r["remediation"]


def test_dashboard_menus_are_the_real_ones(found):
    text = " ".join(found["remediation"].dropna())
    assert "User settings → Authentication" in text
    assert "User settings → API Tokens" in text
    assert "Profile" not in text
    catalogue = " ".join(c.remediation + c.risk for c in CHECKS.values())
    assert "Profile →" not in catalogue


# --- outputs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmd")
    path = write(two_region_org(), root / "snap")
    policy = root / "policy.yaml"
    policy.write_text("internal_domains: [acme.example]\n")
    return path, policy


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return clirun.run(*args, cwd=cwd)


def test_check_json_csv_and_table_render_the_same_command(snap, tmp_path):
    path, policy = snap
    r = cli("check", str(path), "--policy", str(policy), "--format", "json")
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)
    assert all("command" in f for f in items)
    assert [list(output.JSON_FIELDS)] == [[k for k in f if k != "source"] for f in items[:1]]
    with_app = [f for f in items if f["app"] and f["command"]]
    assert len(with_app) >= len(NEAR_MISSES) + 3
    for f in with_app:
        assert f["command"][1:5] == ["--region", f["region"], "--app", f["app"]]
        assert f["remediation"].endswith(shlex.join(f["command"]))
    for f in items:
        if f["email"] in HOSTILE:
            assert f["command"] is None and commands.MANUAL in f["remediation"]
        if f["token_name"] or f["check_id"] == "full_collaborator_on_many_apps":
            assert f["command"] is None

    rows = list(csv.DictReader(io.StringIO(cli("check", str(path), "--policy", str(policy),
                                               "--format", "csv").stdout)))  # fmt: skip
    assert len(rows) == len(items)
    for row, f in zip(rows, items, strict=True):
        assert row["command"] == (shlex.join(f["command"]) if f["command"] else "")

    table = cli("check", str(path), "--policy", str(policy)).stdout
    run_lines = [
        line.strip()[5:] for line in table.splitlines() if line.strip().startswith("run: ")
    ]
    assert sorted(run_lines) == sorted(shlex.join(f["command"]) for f in items if f["command"])
    for line in run_lines:  # pasted into a shell, each gives the CLI exactly its argv
        assert shell_words(line, tmp_path) == shlex.split(line)[1:]
    assert not list(tmp_path.iterdir())


def test_report_tables_take_the_command_of_the_finding(found):
    down = tables.downgrade_commands(found)
    shop = down[down["app"] == "shop"]
    dev = shop[shop["email"] == "dev@agency.example"]
    assert sorted(dev["region"]) == ["osc-fr1", SECNUM]  # one row per region
    for r in dev.itertuples():
        assert r.command == commands.line("downgrade", r.region, "shop", "dev@agency.example")
    hostile = shop[shop["email"].isin(HOSTILE)]
    assert len(hostile) == len(HOSTILE)
    assert set(hostile["command"]) == {tables.MANUAL_CELL}
    shell = down[down["app"] == SHELL_APP]
    assert shell["command"].tolist() == [
        commands.line("downgrade", "osc-fr1", SHELL_APP, "ann@agency.example")
    ]


# --- review ------------------------------------------------------------------------------


def test_review_sheet_and_decisions_use_the_same_commands(snap, tmp_path):
    path, policy = snap
    sheet_path = tmp_path / "review.csv"
    r = cli("review", str(path), "--policy", str(policy), "--out", str(sheet_path))
    assert r.returncode == 0, r.stderr
    with sheet_path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by = {(x["region"], x["app"], review._unquote(x["person"])): x for x in rows}
    dev2 = by[(SECNUM, "shop", "dev@agency.example")]
    assert dev2["suggested_action"] == "downgrade to Limited"
    assert dev2["command"] == commands.line("downgrade", SECNUM, "shop", "dev@agency.example")
    bad = by[(SECNUM, "shop", "-rf@agency.example")]
    assert bad["suggested_action"] == "downgrade to Limited"
    assert bad["command"] == commands.MANUAL

    decide = {
        (SECNUM, "shop", "dev@agency.example"): "downgrade",
        ("osc-fr1", "shop", "dev@agency.example"): "revoke",
        (SECNUM, "shop", "-rf@agency.example"): "revoke",
        (SECNUM, "shop", "--app=bank@agency.example"): "downgrade",
        ("osc-fr1", SHELL_APP, "ann@agency.example"): "revoke",
    }
    for key, d in decide.items():
        by[key].update(decision=d, reviewer="rita", date="2026-10-02")
    with sheet_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    applied = cli("review", str(path), "--policy", str(policy), "--apply-decisions",
                  str(sheet_path))  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert sorted(applied.stdout.splitlines()) == sorted(
        [
            f"scalingo --region {SECNUM} --app shop collaborators-update --limited=true "
            "dev@agency.example",
            "scalingo --region osc-fr1 --app shop collaborators-remove dev@agency.example",
            "scalingo --region osc-fr1 --app 'it'\"'\"'s $(touch pwned) `touch pwned2` \"x\" "
            "& y; z' collaborators-remove ann@agency.example",
        ]
    )
    assert "-rf@" not in applied.stdout and "bank@" not in applied.stdout
    assert applied.stderr.count(commands.MANUAL) == 2
    assert "'-rf@agency.example'" in applied.stderr
    record = json.loads(next((path.parent / "snap.decisions").glob("*.json")).read_text())
    assert sorted(record["commands"]) == sorted(applied.stdout.splitlines())
    manual = [d for d in record["decisions"] if d["manual"]]
    assert sorted(d["person"] for d in manual) == [
        "--app=bank@agency.example",
        "-rf@agency.example",
    ]
    assert all(d["command"] == "" for d in manual)
    assert record["manual"] == sorted(d["row"] for d in manual)


# --- the demo and the README ----------------------------------------------------------------


def test_demo_findings_with_an_app_name_its_region_in_their_command():
    r = cli("check", "demo", "--format", "json")
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)
    assert {f["region"] for f in items if f["command"]} == {"osc-fr1", SECNUM}
    for f in items:
        action = CHECKS[f["check_id"]].action
        if f["app"] and action:  # the demo has no hostile name: every one has its command
            cmd = commands.argv(action, f["region"], f["app"], f["email"])
            assert cmd is not None and f["command"] == list(cmd)
        else:
            assert f["command"] is None


def test_readme_catalogue_shows_each_check_command_with_its_region():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for c in CHECKS.values():
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{c.id}` |")]
        if c.action:
            words = " ".join(commands.ACTIONS[c.action])
            assert f"`scalingo --region R --app APP {words} EMAIL`" in row, row
        else:
            assert "scalingo " not in row, row


def test_collected_from_the_fake_api_every_command_names_its_region_and_app(tmp_path):
    """Through the real client: one app name in both regions, a hostile email."""
    from scalingo_audit.collect import collect

    from .fakeapi import FakeScalingo, make_world

    world = make_world(owned=4, collaborated=0, collaborators_per_app=4)
    fr1, secnum = world.apps["osc-fr1"][0], world.apps[SECNUM][0]
    secnum["name"] = fr1["name"]  # the same name in both regions
    for app_ in (fr1, secnum):
        rows = world.collaborators[app_["id"]]
        for rec in rows:
            rec["app_name"] = app_["name"]
    hostile = world.collaborators[secnum["id"]][0]
    hostile.update(email="-rf@evil.example", status="accepted", is_limited=False)
    with FakeScalingo(world) as fake:
        snap = collect(tmp_path / "snap", env=fake.env(), progress=False)
    policy = tmp_path / "policy.yaml"
    policy.write_text("internal_domains: [acme.example]\n")
    r = cli("check", str(snap), "--policy", str(policy), "--format", "json")
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)
    same = [f for f in items if f["app"] == fr1["name"] and f["command"]]
    assert {f["command"][2] for f in same} == {"osc-fr1", SECNUM}
    with_command = 0
    for f in items:
        action = CHECKS[f["check_id"]].action
        if f["email"] == "-rf@evil.example":
            assert f["command"] is None
            if action and f["app"]:
                assert commands.MANUAL in f["remediation"]
        elif f["app"] and action:
            with_command += 1
            assert f["command"][:5] == ["scalingo", "--region", f["region"], "--app", f["app"]]
            assert f["command"][5:] == [*commands.ACTIONS[action], f["email"]]
        else:
            assert f["command"] is None
    assert with_command > 3
    assert any(f["email"] == "-rf@evil.example" and f["app"] for f in items)
