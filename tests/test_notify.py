"""notify against a local webhook (pytest-httpserver on 127.0.0.1) that records the bodies.

The webhook URL carries a canary; no output, error (even with --debug) or file may show it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from scalingo_audit.notify import (
    Webhook,
    post,
    slack_escape,
    slack_payload,
    summary,
    webhook_from_env,
)
from scalingo_audit.snapshot import write

from . import clirun
from .orgs import app, collab, snapshot

# much of its time spent waiting (sockets, timeouts, child processes): run beside a slow
# module (conftest)
pytestmark = pytest.mark.waits

CANARY = "CANARY-hook-3b9f0c2e71"
PATH = f"/services/T000/{CANARY}"


def notify(
    tmp_path: Path, url: str | None, *args: str, runner: Any = clirun.run
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGO_AUDIT_WEBHOOK_URL"}
    if url is not None:
        env["SCALINGO_AUDIT_WEBHOOK_URL"] = url
    r = runner("notify", *args, env=env, cwd=tmp_path)
    assert CANARY not in r.stdout + r.stderr
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert CANARY.encode() not in f.read_bytes(), f
    return r


def _snaps(tmp_path: Path) -> tuple[Path, Path]:
    before = snapshot(
        [app("a")],
        [
            collab("a", "x@acme.example", tfa=False),
            collab("a", "p@acme.example", status="pending", limited=True),
        ],
    )
    after = snapshot(
        [app("a"), app("b")],
        [
            collab("a", "x@acme.example", tfa=True),
            collab("a", "p@acme.example", status="pending", limited=True),
            collab("b", "<!channel> <http://evil.example|z>@acme.example", tfa=False),
        ],
    )
    return write(before, tmp_path / "before"), write(after, tmp_path / "after")


def _bodies(server: HTTPServer) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in server.log]


def test_one_post_with_the_new_and_fixed_findings(tmp_path, httpserver: HTTPServer):
    before, after = _snaps(tmp_path)
    httpserver.expect_request(PATH, method="POST").respond_with_data("ok")
    r = notify(tmp_path, httpserver.url_for(PATH), str(after), "--baseline", str(before),
               runner=clirun.process)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Posted to the webhook: 1 new, 1 fixed." in r.stdout
    (body,) = _bodies(httpserver)
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("scalingo-audit: 1 new finding (1 high), 1 fixed")
    text = "\n".join(b["text"]["text"] for b in body["blocks"])
    assert "*New:*" in text and "*Fixed:*" in text
    assert "`collaborator_without_2fa` &lt;!channel&gt; &lt;http://evil.example|z&gt;" in text
    assert "x@acme.example is a full Collaborator on a without 2FA" in text  # the fixed one
    assert "p@acme.example" not in text  # existing: neither new nor fixed
    assert "<" not in text and ">" not in text
    (req, _) = httpserver.log[0]
    assert req.headers["Content-Type"].startswith("application/json")


def test_json_format_carries_the_findings(tmp_path, httpserver: HTTPServer):
    before, after = _snaps(tmp_path)
    httpserver.expect_request(PATH, method="POST").respond_with_data("ok")
    r = notify(
        tmp_path, httpserver.url_for(PATH), str(after), "--baseline", str(before),
        "--webhook-format", "json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (body,) = _bodies(httpserver)
    assert body["format"] == "scalingo-audit/notification" and body["format_version"] == 1
    assert body["summary"]["new"] == 1 and body["summary"]["fixed"] == 1
    assert [f["baseline_status"] for f in body["new"]] == ["new"]
    assert [f["email"] for f in body["fixed"]] == ["x@acme.example"]
    assert len(body["new"][0]["finding_id"]) == 16 and body["new"][0]["compliance"]["iso27001"]
    assert body["source"]["sha256"]


def test_429_then_200_is_retried(tmp_path, httpserver: HTTPServer):
    before, after = _snaps(tmp_path)
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "0"}
    )
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_data("ok")
    r = notify(tmp_path, httpserver.url_for(PATH), str(after), "--baseline", str(before))
    assert r.returncode == 0, r.stderr
    assert "(2 attempts)" in r.stdout
    assert len(httpserver.log) == 2
    assert _bodies(httpserver)[0] == _bodies(httpserver)[1]


def test_nothing_posted_when_nothing_is_new_unless_always(tmp_path, httpserver: HTTPServer):
    before, _ = _snaps(tmp_path)
    httpserver.expect_request(PATH, method="POST").respond_with_data("ok")
    r = notify(tmp_path, httpserver.url_for(PATH), str(before), "--baseline", str(before))
    assert r.returncode == 0, r.stderr
    assert "nothing posted" in r.stdout
    assert httpserver.log == []
    r = notify(
        tmp_path, httpserver.url_for(PATH), str(before), "--baseline", str(before), "--always"
    )
    assert r.returncode == 0, r.stderr
    assert _bodies(httpserver)[0]["text"].startswith("scalingo-audit: 0 new findings, 0 fixed")


def test_final_failure_exits_2_with_a_clear_error_and_no_url(tmp_path, httpserver: HTTPServer):
    before, after = _snaps(tmp_path)
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        f"error at {PATH}", status=503, headers={"Retry-After": "0"}
    )
    r = notify(
        tmp_path, httpserver.url_for(PATH), str(after), "--baseline", str(before),
        "--retries", "2", "--debug",
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "scalingo-audit: error: the webhook did not accept the message after 3 attempts: HTTP 503"
    )
    assert len(httpserver.log) == 3
    httpserver.clear()
    httpserver.expect_request(PATH, method="POST").respond_with_data("no", status=404)
    r = notify(tmp_path, httpserver.url_for(PATH), str(after), "--baseline", str(before))
    assert r.returncode == 2 and "refused the message: HTTP 404" in r.stderr
    assert len(httpserver.log) == 1  # a 4xx other than 429 is not retried


def test_connection_errors_and_timeouts_never_show_the_url(tmp_path, httpserver: HTTPServer):
    before, after = _snaps(tmp_path)
    port = httpserver.port
    httpserver.stop()  # nothing listens there any more
    for debug in ((), ("--debug",)):
        r = notify(
            tmp_path, f"http://127.0.0.1:{port}{PATH}?key={CANARY}", str(after),
            "--baseline", str(before), "--retries", "1", *debug,
        )  # fmt: skip
        assert r.returncode == 2
        assert "after 2 attempts: could not connect (ConnectionError)" in r.stderr
        assert "Traceback" in r.stderr if debug else "Traceback" not in r.stderr
    httpserver.start()

    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(slow)
    r = notify(
        tmp_path, httpserver.url_for(PATH), str(after), "--baseline", str(before),
        "--retries", "0", "--timeout", "0.3",
    )  # fmt: skip
    assert r.returncode == 2
    assert "after 1 attempt: no answer within 0.3 s" in r.stderr


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "SCALINGO_AUDIT_WEBHOOK_URL is not set"),
        ("", "SCALINGO_AUDIT_WEBHOOK_URL is not set"),
        (f"ftp://127.0.0.1{PATH}", "is not an http:// or https:// URL"),
        (f"{CANARY}", "is not an http:// or https:// URL"),
        (f"http://[{CANARY}", "is not an http:// or https:// URL"),
    ],
)
def test_missing_or_bad_webhook_url(tmp_path, value, message):
    before, after = _snaps(tmp_path)
    r = notify(tmp_path, value, str(after), "--baseline", str(before))
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_webhook_repr_and_redirects(httpserver: HTTPServer):
    hook = webhook_from_env({"SCALINGO_AUDIT_WEBHOOK_URL": httpserver.url_for(PATH)})
    assert CANARY not in repr(hook) and CANARY not in str(hook) and CANARY not in f"{hook!r}"
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        "", status=307, headers={"Location": "http://127.0.0.1:1/elsewhere"}
    )
    with pytest.raises(Exception) as err:
        post(hook, {"text": "x"}, retries=0)
    assert "HTTP 307 (redirects are not followed)" in str(err.value)
    assert CANARY not in str(err.value) and err.value.__cause__ is None
    slept: list[float] = []
    httpserver.clear()
    httpserver.expect_request(PATH).respond_with_data("", status=500)
    with pytest.raises(Exception, match="after 4 attempts: HTTP 500"):
        post(Webhook(httpserver.url_for(PATH)), {"text": "x"}, backoff=0.5, sleep=slept.append)
    assert slept == [0.5, 1.0, 2.0]  # exponential backoff without Retry-After


def test_slack_payload_escapes_and_bounds(tmp_path):
    from scalingo_audit.baseline import compare, load_baseline
    from scalingo_audit.checks import run_checks
    from scalingo_audit.sources import load

    assert slack_escape("<@U1> & <!here>") == "&lt;@U1&gt; &amp; &lt;!here&gt;"
    apps = [app(f"app-{i}") for i in range(60)]
    many = write(
        snapshot(apps, [collab(f"app-{i}", f"p{i}@acme.example", tfa=False) for i in range(60)]),
        tmp_path / "many",
    )
    empty = write(snapshot([app("app-0")]), tmp_path / "empty")
    f = compare(run_checks(load(str(many))), load_baseline(str(empty)))
    body = slack_payload(f, {"source": "snapshot", "location": "x"}, top=20)
    text = "\n".join(b["text"]["text"] for b in body["blocks"])
    assert "…and 40 more" in text
    assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"])
    # against an empty baseline, "could not be evaluated" notices are not news
    (tmp_path / "none.json").write_text("[]")
    fresh = compare(run_checks(load(str(many))), load_baseline(str(tmp_path / "none.json")))
    assert (fresh["severity"] == "info").sum() >= 4
    assert summary(fresh)["new"] == 60
