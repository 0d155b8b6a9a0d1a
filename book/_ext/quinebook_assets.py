"""Sphinx extension of the book: serve MathJax and plotly.js locally.

* MathJax 3.2.2 comes from the ``django-static-mathjax`` package (a plain
  copy of MathJax's es5 build); ``mathjax_path`` in ``_config.yml`` points at
  it.  plotly.js comes from the ``plotly`` package itself, so it always
  matches the Python side.  Neither is fetched from a CDN: the site works
  offline, in a workshop room with bad Wi-Fi as on a laptop.
* ``QUINEBOOK_STATIC=1`` is set for the kernels that execute the notebooks
  during the build, so ``quinelib.widgets.explorer`` puts a figure where a
  live widget would be a dead control.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mathjax  # the django-static-mathjax package
import plotly

MATHJAX_ES5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


STATIC = Path(__file__).parent / "static"


def _add_static_path(app, config):
    if str(STATIC) not in map(str, config.html_static_path):
        config.html_static_path = [*config.html_static_path, str(STATIC)]


def _copy_assets(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    shutil.copytree(MATHJAX_ES5, static / "mathjax", dirs_exist_ok=True)
    shutil.copy2(PLOTLY_JS, static / "plotly.min.js")


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    """sphinx-thebe 0.3.1 registers its inline config script twice under
    Jupyter Book 1, which throws "THEBE_JS_URL has already been declared"."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    if not (MATHJAX_ES5 / "tex-mml-chtml.js").is_file():
        raise RuntimeError(f"MathJax not found at {MATHJAX_ES5}: pip install django-static-mathjax")
    if not PLOTLY_JS.is_file():
        raise RuntimeError(f"plotly.js not found at {PLOTLY_JS}")
    os.environ["QUINEBOOK_STATIC"] = "1"
    app.add_js_file("plotly.min.js", priority=200)
    app.connect("config-inited", _add_static_path)
    app.add_css_file("quinebook_layout.css")  # code and outputs wrap at the column; room around display maths
    app.add_js_file("quinebook_thebe.js", priority=900)  # after sphinx-thebe: a clear message when offline
    app.add_js_file("quinebook_plotly_theme.js", priority=900)  # the figures follow the light/dark switch
    app.connect("build-finished", _copy_assets)
    app.connect("html-page-context", _dedupe_scripts, priority=900)  # after the other extensions
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
