"""Live explorers for a kernel, with a static stand-in for the book's pages.

A widget needs a running Python kernel; in the static HTML of the book it
would be a dead control.  ``explorer`` shows ipywidgets when a kernel is
live (Jupyter, Binder, Colab) and, when the book is being built (the book's
Sphinx extension sets ``QUINEBOOK_STATIC=1`` for the kernels it starts),
shows a figure in its place: usually a plotly figure with a slider over the
same knob, precomputed, which still works without a kernel.
"""

from __future__ import annotations

import base64
import html
import io

from .notebook import is_static_build

__all__ = ["explorer", "standin_html"]


def standin_html(figure, caption: str) -> str:
    """HTML for a figure standing in for an explorer (plotly or matplotlib)."""
    if hasattr(figure, "savefig"):  # a matplotlib figure
        buf = io.BytesIO()
        figure.savefig(buf, format="png", bbox_inches="tight")
        src = base64.b64encode(buf.getvalue()).decode()
        body = f'<img src="data:image/png;base64,{src}" alt="{html.escape(caption)}" style="max-width:100%">'
    else:  # a plotly figure: render it through the book's renderer
        body = figure._repr_mimebundle_()["text/html"] if hasattr(figure, "_repr_mimebundle_") else str(figure)
    note = ("<p class=\"widget-standin-note\"><strong>Interactive explorer.</strong> "
            f"{html.escape(caption)} This static page shows a precomputed figure in its place; "
            "run the notebook (locally, on Binder or on Colab) for the live controls.</p>")
    return f'<div class="widget-standin">{note}{body}</div>'


def explorer(fn, controls, *, standin, caption: str, run_label: str = "Run"):
    """Show live controls for ``fn`` in a kernel, or ``standin()`` in the book.

    ``controls`` is a zero-argument callable returning a dict of widgets (so
    that no widget is even created for the static build, where its saved
    state would pull widget JavaScript into the page); ``standin`` is a
    zero-argument callable returning a figure, called only for the static
    build.

    Live, ``fn`` runs once with the controls' default values, as plain cell
    output, and then the controls appear with a Run button (each run trains
    or solves something).  The first run is deliberately *not* made inside
    the widget's output area: a notebook executed without a browser (nbval,
    papermill, the book build) can wait forever for output routed through an
    Output widget (jupyter/nbclient#312).
    """
    from IPython.display import HTML, display

    if is_static_build():
        display(HTML(standin_html(standin(), caption)))
        return None
    import ipywidgets as widgets

    made = controls()
    display(widgets.HTML(f"<b>{html.escape(caption)}</b> Below: a run with the default values; "
                         f"change the controls and press {html.escape(run_label)}."))
    fn(**{name: w.value for name, w in made.items()})
    ui = widgets.interactive(fn, {"manual": True, "manual_name": run_label}, **made)
    display(ui)
    return ui
