"""The plotly.js that report pages embed: plotly's basic bundle where it fits, else the full one.

The charts of the report are bars and lines (``go.Bar``, ``go.Scatter``), which plotly's
*basic* partial bundle draws (scatter, bar and pie traces, with every layout component: axes,
legends, hover labels). It is 1.2 MB where the full bundle plotly ships is 4.8 MB, and a page
embedding it opens about a second sooner in Chromium. It is vendored in ``vendor/``, as
published on npm (``plotly.js-basic-dist-min``, MIT licence, ``vendor/LICENSE.plotly.js``),
at :data:`BASIC_VERSION`, and used only when the installed plotly embeds that same version of
plotly.js: with any other plotly, the figures plotly makes are drawn by the full bundle
plotly ships, as plotly would.

:func:`renderer` is plotly's notebook renderer (charts as HTML with an inline script, which
works offline and survives the export to HTML) with that bundle: it embeds it once, when it
is made the default renderer (:func:`scalingo_audit.notebook.setup_display`).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from .resources import PACKAGE

BASIC_VERSION = "4.1.1"
"""The version of plotly.js of the vendored basic bundle (``vendor/plotly-basic.min.js``)."""

BASIC_FILE = "plotly-basic.min.js"
"""The vendored basic bundle, in ``vendor/``."""

BASIC_SHA256 = "99784e3abfb07b142a15e521a439e6d9addceadb3f79553fd24c72774f0649ba"
"""The SHA-256 of :data:`BASIC_FILE` as published in ``plotly.js-basic-dist-min`` 4.1.1."""

BASIC_TRACES = frozenset({"scatter", "bar", "pie"})
"""The trace types the basic bundle draws."""

MARKER = "<script data-sa-plotly-js>"
"""Begins the script that embeds plotly.js, and nothing else: escaped text never holds a
``<``, so no table or label can be taken for it."""

RENDERER = "scalingo_audit"
"""The name of :func:`renderer` in ``plotly.io.renderers``."""


def installed_plotlyjs_version() -> str:
    """The version of plotly.js the installed plotly embeds."""
    from plotly.offline import get_plotlyjs_version

    return str(get_plotlyjs_version())


@functools.cache
def bundle(plotlyjs_version: str | None = None) -> str:
    """The JavaScript of plotly.js to embed beside charts made by a plotly embedding
    ``plotlyjs_version`` of plotly.js (default: the installed plotly's): the basic bundle at
    that version, else plotly's full bundle."""
    if (plotlyjs_version or installed_plotlyjs_version()) == BASIC_VERSION:
        basic = resources.files(PACKAGE) / "vendor" / BASIC_FILE
        # a first line naming the version, as plotly's own bundle does
        return (
            f"/* plotly.js v{BASIC_VERSION}, basic bundle (scatter, bar, pie): "
            f"npm plotly.js-basic-dist-min, MIT licence */\n" + basic.read_text(encoding="utf-8")
        )
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def bundle_html() -> str:
    """The HTML that embeds plotly.js (:func:`bundle`), beginning with :data:`MARKER`."""
    # the global configuration plotly's own renderers set before loading plotly.js
    config = "window.PlotlyConfig = {MathJaxConfig: 'local'};"
    return f"{MARKER}{config}\n{bundle()}</script>"


def renderer() -> Any:
    """A new :class:`OfflineRenderer`: plotly's ``notebook`` renderer embedding
    :func:`bundle_html` when activated (plotly is imported here, not with this module)."""
    from plotly.io._base_renderers import NotebookRenderer

    class OfflineRenderer(NotebookRenderer):
        def activate(self) -> None:
            from IPython.display import display_html

            display_html(bundle_html(), raw=True)

    return OfflineRenderer()
