"""notebook: what every notebook does first (open_audit), and the key under which a
report's kernels read back the audit it computed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scalingo_audit import InputError, notebook
from scalingo_audit.snapshot import write

from .orgs import app, collab, snapshot


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    return write(snapshot([app("a")], [collab("a", "x@acme.example", tfa=False)]), tmp_path / "s")


def test_open_audit_loads_checks_and_dates_the_audit(snap: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "exceptions:\n"
        "  - {check_id: collaborator_without_2fa, email: x@acme.example, reason: r,"
        " expires: 2026-10-15}\n"
    )
    audit = notebook.open_audit(str(snap), str(policy))
    assert audit.as_of == audit.data.info.collected_at  # empty as_of: the collection time
    no_2fa = audit.findings[audit.findings["check_id"] == "collaborator_without_2fa"]
    assert no_2fa["muted"].tolist() == [True] and audit.expired == []
    later = notebook.open_audit(str(snap), str(policy), "2026-11-01")
    assert later.as_of.date() == dt.date(2026, 11, 1)
    assert [e.check_id for e in later.expired] == ["collaborator_without_2fa"]
    assert not later.findings[later.findings["check_id"] == "collaborator_without_2fa"][
        "muted"
    ].any()  # an expired exception mutes nothing


def test_cache_key_follows_what_the_audit_is_computed_from(
    snap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("internal_domains: [acme.example]\n")
    key = notebook.cache_key(str(snap), str(policy), "")
    assert key == notebook.cache_key(str(snap), str(policy), "")
    monkeypatch.chdir(snap.parent)
    assert notebook.cache_key("s", str(policy), "") == key  # a path, made absolute
    others = {
        notebook.cache_key(str(snap), "", ""),
        notebook.cache_key(str(snap), str(policy), "2026-11-01"),
        notebook.cache_key(str(snap), str(policy), "", pseudonymise=True),
        notebook.cache_key(str(snap), str(policy), "", verify=False),
        notebook.cache_key("demo", str(policy), ""),
    }
    assert key not in others and len(others) == 5
    policy.write_text("internal_domains: [other.example]\n")
    assert notebook.cache_key(str(snap), str(policy), "") != key  # an edited policy misses
    policy.write_text("internal_domains: [acme.example]\n")
    (snap / "manifest.json").write_text((snap / "manifest.json").read_text() + " ")
    assert notebook.cache_key(str(snap), str(policy), "") != key  # an edited snapshot too


def test_open_audit_reads_back_what_the_report_saved(
    snap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = notebook.open_audit(str(snap))
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    notebook.save_cached(audit, notebook.cache_key(str(snap), "", ""), str(cache))
    monkeypatch.setenv(notebook.CACHE_ENV, str(cache))
    (snap / "raw" / "osc-fr1" / "apps.json").unlink()  # loading again would now fail
    again = notebook.open_audit(str(snap))
    assert again.findings.equals(audit.findings) and again.as_of == audit.as_of
    with pytest.raises(InputError, match=r"apps\.json: file not found"):
        notebook.open_audit(str(snap), as_of="2026-11-01")  # another key: computed, fails


def test_each_notebook_of_a_kernel_gets_its_own_copy_of_the_audit_read_once(
    snap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report kernel runs notebook after notebook: the kept audit is read from its file
    once, and a notebook that changes its frames in place changes nothing for the next."""
    audit = notebook.open_audit(str(snap))
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    key = notebook.cache_key(str(snap), "", "")
    notebook.save_cached(audit, key, str(cache))
    monkeypatch.setenv(notebook.CACHE_ENV, str(cache))
    first = notebook.open_audit(str(snap))
    (cache / f"{key}.pickle").unlink()  # read once: the next notebook needs neither the file
    (snap / "raw" / "osc-fr1" / "apps.json").unlink()  # nor the source
    first.findings["message"] = "changed"
    first.data.memberships.loc[:, "email"] = "changed@x.example"
    first.data.apps.loc[:, "app_name"] = "changed"
    first.data.people.iloc[0, 0] = "changed"
    first.data.memberships.iloc[::2, 1] = "changed"
    first.findings.loc[0, "severity"] = "changed"
    second = notebook.open_audit(str(snap))
    assert second.findings.equals(audit.findings)
    assert second.data.memberships.equals(audit.data.memberships)
    assert second.data.apps.equals(audit.data.apps)
    assert second.data.people.equals(audit.data.people)
    assert second is not first and second.data.people is not first.data.people
    other = tmp_path / "other-report"
    other.mkdir(mode=0o700)
    monkeypatch.setenv(notebook.CACHE_ENV, str(other))  # another report's directory: nothing
    with pytest.raises(InputError, match=r"apps\.json: file not found"):
        notebook.open_audit(str(snap))


def test_a_report_kernel_reads_the_handed_over_audit_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """read_ahead waits for the audit a report hands over and reads it before any notebook
    asks for it; other pickles are not it; nothing is read once a notebook has read one."""
    import time

    from scalingo_audit import cache

    audit = notebook.open_audit("demo")
    handed = tmp_path / "handed"
    handed.mkdir(mode=0o700)
    monkeypatch.setenv(notebook.CACHE_ENV, str(handed))
    monkeypatch.setattr(notebook, "_READ", {})
    key = "ab" * 32
    thread = notebook.read_ahead(timeout=30, poll=0.01)
    assert thread is not None
    cache.save(audit, notebook.FINDINGS_PAGE, handed)  # an audit, not named by a SHA-256
    cache.save(["not an audit"], "cd" * 32, handed)  # named so, not an audit
    time.sleep(0.2)  # polled 20 times: neither is taken for the hand-over
    assert thread.is_alive() and notebook._READ == {}
    cache.save(audit, key, handed)
    thread.join(30)
    assert not thread.is_alive() and list(notebook._READ) == [(str(handed), key)]
    (handed / f"{key}.pickle").unlink()  # read already: the notebook does not read it again
    got = notebook._cached(key)
    assert got is not None and got.findings.equals(audit.findings)
    again = notebook.read_ahead(timeout=30)  # a notebook has read one: nothing more
    assert again is not None
    again.join(5)
    assert not again.is_alive()
    monkeypatch.delenv(notebook.CACHE_ENV)
    assert notebook.read_ahead() is None  # not a report's kernel


def test_findings_page_is_kept_apart_only_for_the_findings_it_was_rendered_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a report's kernel the findings page the report rendered beside it stands in for
    the page of the findings open_report gives: a line naming it, which inline_kept turns
    back into the page (the very one rendered here); other findings (a subset, a changed
    message) are rendered, as they are outside a report."""
    import hashlib

    from scalingo_audit import htmltable, tables

    audit = notebook.open_audit("demo")
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv(notebook.CACHE_ENV, str(cache))
    findings = tables.scope_findings(audit.findings, audit.data)
    rendered = htmltable.findings_by_check(findings)
    assert notebook.findings_page(findings) == rendered  # nothing kept: rendered here
    notebook.save_findings_page(audit, str(cache))
    line = notebook.findings_page(findings.copy())  # equal findings: the line
    sha256 = hashlib.sha256(str(rendered).encode()).hexdigest()
    assert notebook.KEPT_OUTPUT.fullmatch(line)
    assert line._repr_html_() == line and sha256 in line and len(line) < 200
    assert notebook.inline_kept(line, cache) == rendered  # the same page
    assert notebook.inline_kept(str(rendered), cache) == rendered  # any other output: as is
    assert notebook.inline_kept(line, tmp_path) == line  # not kept there: as is
    high = findings[findings["severity"] == "high"].reset_index(drop=True)
    assert notebook.findings_page(high) == htmltable.findings_by_check(high)
    changed = findings.copy()
    changed.loc[0, "message"] = "<b>changed</b>"
    page = notebook.findings_page(changed)
    assert not notebook.KEPT_OUTPUT.fullmatch(page) and "&lt;b&gt;changed&lt;/b&gt;" in page
    (cache / f"{sha256}.html").unlink()  # the page gone: rendered here, never a dangling line
    assert notebook.findings_page(findings) == rendered
    notebook.save_findings_page(audit, str(cache))
    monkeypatch.delenv(notebook.CACHE_ENV)
    assert notebook.findings_page(findings) == rendered  # outside a report: rendered


def test_open_report_is_the_report_notebooks_setup(
    snap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd
    from IPython.display import Markdown

    from scalingo_audit import tables

    shown: list[object] = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    report = notebook.open_report(str(snap), region="nowhere")
    audit, data, findings = report
    assert audit.findings.equals(notebook.open_audit(str(snap)).findings)  # the whole audit
    assert data.apps.empty  # scoped to a region with no app: no finding about an app left
    assert findings["app"].isna().all() and audit.findings["app"].notna().any()
    assert len(shown) == 1 and isinstance(shown[0], Markdown)
    assert shown[0].data == tables.source_markdown(audit.data.info, audit.as_of)
    assert pd.get_option("display.max_rows") is None  # setup_display() ran
    whole = notebook.open_report(str(snap))
    assert whole.findings.equals(tables.scope_findings(whole.audit.findings, whole.data))
    assert len(whole.data.apps) == len(whole.audit.data.apps)
