"""The explorer notebook in a real JupyterLab, driven by headless Chromium.

Starts ``jupyter lab`` on 127.0.0.1 with a random port and token, its config, data,
runtime and IPython directories in a temporary directory (the kernel spec and the lab
extensions, ipywidgets' and plotly's, stay found in the virtualenv's ``share/jupyter``),
opens a copy of ``notebooks/05_explorer.ipynb``, runs all cells from the **Run** menu,
checks the explorer's table and chart, picks a role in the **Role** dropdown and checks
that both follow, then that **Reset filters** brings everything back. The browser may
reach nothing but the server. The helpers (``jupyter_lab``, ``lab_browser``,
``open_explorer``...) also serve ``scripts/benchmark_explorer.py --browser``.

Skips on a laptop without chromium; fails in CI (``CI`` set).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from scalingo_audit.notebook import open_audit

from .hostile import SCRIPT, write_hostile
from .tools import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.slow  # starts JupyterLab and a kernel (~20-40 s)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_explorer.ipynb"
START_TIMEOUT = 60.0  # s, JupyterLab answering /api/status
UI_TIMEOUT = 60_000  # ms, notebook open, cells run, explorer drawn
CHANGE_TIMEOUT = 20_000  # ms, table and chart redrawn after a filter change

# What the page shows: the table's "<b>N memberships</b>" header, its rows, the summary
# line and the chart's traces as plotly.js holds them (``gd.data``).
READ_EXPLORER_JS = """() => {
  const table = document.querySelector('.sa-explorer .sa-explorer-table');
  const plot = document.querySelector('.sa-explorer .sa-chart .js-plotly-plot');
  const columns = table ? [...table.querySelectorAll('thead th')].map(th => th.textContent) : [];
  return {
    header: table && table.querySelector('b') ? table.querySelector('b').textContent : null,
    columns: columns,
    rows: table ? [...table.querySelectorAll('tbody tr')].map(
      tr => [...tr.cells].map(td => td.textContent)) : [],
    summary: (document.querySelector('.sa-explorer .sa-summary') || {}).textContent || null,
    drawn: !!(plot && plot.querySelector('.main-svg')),
    title: plot && plot.layout && plot.layout.title ? String(plot.layout.title.text) : null,
    traces: plot && plot.data ? plot.data.map(t => ({
      name: String(t.name), x: Array.from(t.x || [], Number), y: Array.from(t.y || [], String)
    })) : [],
  };
}"""


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token, root directory and log."""

    url: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (JupyterLab then stops its kernels), SIGKILL
    if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def jupyter_lab(base: Path, notebooks: dict[str, Path] | None = None) -> Iterator[Lab]:
    """Run JupyterLab (our interpreter) on 127.0.0.1, its root ``base/root`` holding
    ``notebooks`` (name -> file; default: the explorer notebook), its config, data,
    runtime and IPython directories under ``base``; stop it (kernels, then its process
    group) on exit. Raises ``RuntimeError`` when it does not start."""
    root = base / "root"
    root.mkdir(parents=True)
    for name, file in (notebooks or {NOTEBOOK.name: NOTEBOOK}).items():
        shutil.copy(file, root / name)
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),  # also holds lab user settings and workspaces
        ("JUPYTER_DATA_DIR", "data"),  # the venv's share/jupyter stays on the path
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (base / sub).mkdir(exist_ok=True)
        env[var] = str(base / sub)
    env.pop("JUPYTER_PREFER_ENV_PATH", None)
    settings = base / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)  # no "Jupyter news?" toast, no news fetch
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8"
    )
    port, token = _free_port(), secrets.token_hex(24)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_remote_access=False",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",  # offline: no news feed, no update check, no PyPI
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]  # fmt: skip
    if os.geteuid() == 0:  # CI containers often run as root; JupyterLab refuses unless told
        command.append("--allow-root")
    log = base / "jupyterlab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole
        )
    server = Lab(f"http://127.0.0.1:{port}", token, root, log, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with {process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(OSError, ValueError):
                if "started" in server.api("GET", "/api/status"):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"jupyter lab did not answer in {START_TIMEOUT:.0f} s:\n{server.log_tail()}"
                )
            time.sleep(0.25)
        yield server
    finally:
        with contextlib.suppress(OSError, ValueError):  # stop kernels first, politely
            for kernel in server.api("GET", "/api/kernels") or []:
                server.api("DELETE", f"/api/kernels/{kernel['id']}")
        _stop(process)


@dataclass
class Visit:
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def lab_browser(lab: Lab, executable: str) -> Iterator[tuple[Page, Visit]]:
    """A headless Chromium page that may reach nothing but ``lab``; records blocked
    requests and console errors."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            with lab_context(browser, lab) as page_and_visit:
                yield page_and_visit
        finally:
            browser.close()


@contextlib.contextmanager
def lab_context(browser: Browser, lab: Lab) -> Iterator[tuple[Page, Visit]]:
    """A page of a fresh context of ``browser`` that may reach nothing but ``lab``; records
    blocked requests and console errors."""
    seen = Visit()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    def route(r: Route) -> None:
        url = r.request.url
        if url.startswith((lab.url + "/", "data:", "blob:", "about:")):
            r.continue_()
        else:
            seen.blocked.append(url)
            r.abort()

    context.route("**/*", route)
    p = context.new_page()
    p.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: seen.errors.append(str(e)))
    try:
        yield p, seen
    finally:
        context.close()


HOSTILE_NOTEBOOK = "hostile_explorer.ipynb"


def hostile_explorer(base: Path) -> Path:
    """A copy of the explorer notebook whose parameters point at the injection organisation."""
    import nbformat

    snap, policy = write_hostile(base / "hostile")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params.source = f"source = {str(snap)!r}\npolicy = {str(policy)!r}\nas_of = ''\n"
    path = base / HOSTILE_NOTEBOOK
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    chromium_path()  # skip (or fail in CI) before starting anything
    base = tmp_path_factory.mktemp("jupyterlab")
    notebooks = {NOTEBOOK.name: NOTEBOOK, HOSTILE_NOTEBOOK: hostile_explorer(base)}
    try:
        with jupyter_lab(base, notebooks) as server:
            yield server
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture
def lab_page(lab: Lab, browser: Browser) -> Iterator[tuple[Page, Visit]]:
    """A fresh context of the module's one Chromium (tests/conftest.py)."""
    with lab_context(browser, lab) as page_and_visit:
        yield page_and_visit


RAN_JS = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
  .some(e => /[0-9*]/.test(e.textContent))"""


def run_all_cells(page: Page, timeout: float = UI_TIMEOUT) -> None:
    """Run → Run All Cells, as an analyst would, once the kernel is up.

    A click that lands while the notebook is still connecting its kernel runs nothing
    (the kernel indicator says "idle" before it even starts), so the click is repeated
    until a cell shows an execution count or ``[*]``; running the cells twice is harmless.
    """
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=timeout)
    for attempt in range(4):
        page.keyboard.press("Escape")  # close any menu left open
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(RAN_JS, timeout=5_000 * (attempt + 1))
            return
    raise AssertionError("Run → Run All Cells ran no cell")


def open_explorer(page: Page, lab: Lab, name: str, timeout: float = UI_TIMEOUT) -> None:
    """Open notebook ``name``, run all its cells, wait until the explorer's table and
    chart are drawn."""
    # a workspace of its own, reset: no tab left open by an earlier test hides this one
    workspace = Path(name).stem.replace("_", "-")
    url = f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab.token}"
    page.goto(url, wait_until="load")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=timeout)
    run_all_cells(page, timeout)
    page.locator(".sa-explorer .sa-explorer-table table").wait_for(timeout=timeout)
    page.wait_for_function(
        "document.querySelector('.sa-explorer .sa-chart .js-plotly-plot .main-svg')",
        timeout=timeout,
    )


def read_explorer(page: Page) -> dict[str, Any]:
    """What the explorer shows (see ``READ_EXPLORER_JS``)."""
    result: dict[str, Any] = page.evaluate(READ_EXPLORER_JS)
    return result


def wait_for_total(page: Page, n: int, timeout: float = CHANGE_TIMEOUT) -> None:
    """Wait until the table says ``n memberships`` and the chart, redrawn, counts ``n``
    (table and chart arrive in separate messages)."""
    page.wait_for_function(
        f"(() => {{ const r = ({READ_EXPLORER_JS})();"
        f" return r.header === '{n} memberships' && r.drawn && r.traces.length > 0 &&"
        f" r.traces.reduce((s, t) => s + t.x.reduce((a, b) => a + b, 0), 0) === {n}; }})()",
        timeout=timeout,
    )


def test_explorer_in_jupyterlab(lab: Lab, lab_page: tuple[Page, Visit], tmp_path: Path) -> None:
    p, seen = lab_page
    audit = open_audit("demo")
    m = audit.data.memberships
    limited = int((m["role"] == "limited_collaborator").sum())
    assert 0 < limited < len(m)

    start = time.monotonic()
    try:
        open_explorer(p, lab, NOTEBOOK.name)
    except (PlaywrightTimeout, AssertionError):
        p.screenshot(path=str(tmp_path / "explorer-timeout.png"))
        raise AssertionError(
            f"explorer not drawn (screenshot in {tmp_path}); console errors: {seen.errors}\n"
            f"server log:\n{lab.log_tail()}"
        ) from None
    before = read_explorer(p)
    shown = time.monotonic() - start

    # everything, unfiltered: as many memberships as the demo has, in table and chart
    assert before["header"] == f"{len(m)} memberships", before["header"]
    assert "Role" in before["columns"] and len(before["rows"]) == 50  # the table's cap
    roles_before = {row[before["columns"].index("Role")] for row in before["rows"]}
    assert before["drawn"] and before["traces"], "the chart did not draw"
    assert sum(sum(t["x"]) for t in before["traces"]) == len(m)
    assert f"{len(m)} memberships" in (before["summary"] or "")

    # pick "Limited Collaborator" in the Role dropdown: table and chart follow
    start = time.monotonic()
    p.locator(".sa-explorer .sa-role select").select_option(value="Limited Collaborator")
    wait_for_total(p, limited)
    changed = time.monotonic() - start
    after = read_explorer(p)

    assert after["header"] == f"{limited} memberships"
    assert len(after["rows"]) == min(limited, 50)
    roles_after = {row[after["columns"].index("Role")] for row in after["rows"]}
    assert roles_after == {"limited_collaborator"}, roles_after
    assert roles_before - {"limited_collaborator"}, "the first rows were all limited already"
    assert after["traces"] != before["traces"]
    totals: dict[str, int] = {}  # role label -> memberships drawn for it, all 2FA states
    for trace in after["traces"]:
        for role, count in zip(trace["y"], trace["x"], strict=True):
            totals[role] = totals.get(role, 0) + count
    assert totals.get("Limited Collaborator") == limited, totals
    assert all(n == 0 for role, n in totals.items() if role != "Limited Collaborator"), totals
    assert after["title"] and f"({limited})" in after["title"], after["title"]

    # "Reset filters" brings everything back
    p.locator(".sa-explorer .sa-reset").click()
    wait_for_total(p, len(m))
    assert p.locator(".sa-explorer .sa-role select").input_value() == "Any"
    assert read_explorer(p)["traces"] == before["traces"]

    assert seen.blocked == [], f"the page reached beyond the server: {seen.blocked}"
    assert seen.errors == [], f"console errors: {seen.errors}"
    print(f"explorer drawn {shown:.1f} s after opening; role change redrawn in {changed:.2f} s")


def test_explorer_on_hostile_names_runs_no_payload(lab: Lab, lab_page: tuple[Page, Visit]) -> None:
    """The injection organisation in the live explorer: names show as text, nothing runs."""
    p, seen = lab_page
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    p.on("dialog", on_dialog)
    open_explorer(p, lab, HOSTILE_NOTEBOOK)
    shown = read_explorer(p)["header"]
    p.locator(".sa-explorer .sa-role select").select_option(value="Collaborator (full)")
    p.wait_for_function(  # the filtered table and chart drawn in place of the first ones
        f"(() => {{ const r = ({READ_EXPLORER_JS})();"
        f" return r.header !== {json.dumps(shown)} && r.drawn; }})()",
        timeout=CHANGE_TIMEOUT,
    )
    p.wait_for_timeout(300)  # what a payload would set off (an image's onerror) has fired
    assert p.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    table = p.locator(".sa-explorer .sa-explorer-table").inner_text()
    assert SCRIPT in table, "the payload should be shown as text"
    hrefs = p.evaluate("[...document.querySelectorAll('.sa-explorer a')].map(a => a.href)")
    assert not [h for h in hrefs if h.lower().startswith("javascript:")]
    assert seen.blocked == [], f"a payload tried to load something: {seen.blocked}"
