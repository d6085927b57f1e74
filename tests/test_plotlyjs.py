"""scalingo_audit.plotlyjs: which plotly.js the pages embed. That every chart of the report is
drawn by it, in Chromium, is tests/test_browser.py's."""

from __future__ import annotations

import hashlib
from importlib import resources

from plotly.offline import get_plotlyjs

from scalingo_audit import plotlyjs
from scalingo_audit.resources import PACKAGE


def _vendored() -> bytes:
    return (resources.files(PACKAGE) / "vendor" / plotlyjs.BASIC_FILE).read_bytes()


def test_the_vendored_bundle_is_the_published_one_at_its_version() -> None:
    data = _vendored()
    assert hashlib.sha256(data).hexdigest() == plotlyjs.BASIC_SHA256
    head = data[:200].decode("utf-8")
    assert f"plotly.js (basic - minified) v{plotlyjs.BASIC_VERSION}" in head
    licence = resources.files(PACKAGE) / "vendor" / "LICENSE.plotly.js"
    assert "MIT License" in licence.read_text(encoding="utf-8")


def test_the_basic_bundle_only_for_the_plotly_js_it_was_published_as() -> None:
    basic = plotlyjs.bundle(plotlyjs.BASIC_VERSION)
    assert basic.endswith(_vendored().decode("utf-8"))
    assert basic.startswith(f"/* plotly.js v{plotlyjs.BASIC_VERSION}, basic bundle")
    other = plotlyjs.bundle("3.0.1")  # a plotly embedding another plotly.js: plotly's own
    assert other == get_plotlyjs() and other != basic
    assert plotlyjs.bundle() == plotlyjs.bundle(plotlyjs.installed_plotlyjs_version())


def test_the_bundle_html_is_one_script_that_begins_with_the_marker() -> None:
    html = plotlyjs.bundle_html()
    assert html.startswith(plotlyjs.MARKER) and html.count(plotlyjs.MARKER) == 1
    assert html.count("</script") == 1 and html.endswith("</script>")
    # escaped text (tables, labels) and chart data (plotly writes "<" as \u003c) have no
    # "<": no name from the API can be taken for the bundle
    assert plotlyjs.MARKER.startswith("<")
