"""Figures for the book: one plotly renderer, one colour-blind-safe palette.

Importing quinelib sets both up once, so notebooks never configure plotly
themselves:

* plotly 6 and later embed figures in ways that show nothing in a Jupyter
  Book 1 page (the "notebook" renderer inlines 4 MB of plotly.js per page and
  pulls MathJax 3 from a CDN into the page, fighting the book's own MathJax;
  "notebook_connected" needs the network; the JSON mimetype is not rendered
  at all).  The ``quinebook`` renderer emits both the plotly JSON mimetype
  (JupyterLab, VS Code and nbviewer draw that; left out while the book is
  built, where MyST-NB cannot use it) and a small ``text/html`` div
  that calls ``Plotly.newPlot`` on the plotly.js that the book's Sphinx
  extension serves from ``_static`` (so the static site works offline).
* The palette is Okabe & Ito's, safe for the common colour-vision
  deficiencies; sequential maps are viridis, diverging ones RdBu.
"""

from __future__ import annotations

import html
import math
import sys

import matplotlib as mpl

# plotly.io imports nbformat, whose validator imports jsonschema, which loads ``rfc3987_syntax`` (when
# installed, as Jupyter's jsonschema[format-nongpl] extra brings it) only to check the "iri" string
# formats.  Building that package's grammar costs about 3 s at every import, a third of a chapter's
# start-up, and neither nbformat's schema nor plotly uses those formats: unless something has loaded it
# already, this process does without it (jsonschema then leaves those two formats unchecked).
sys.modules.setdefault("rfc3987_syntax", None)

import plotly.graph_objects as go  # noqa: E402
import plotly.io as pio  # noqa: E402
from plotly.io.base_renderers import MimetypeRenderer, PlotlyRenderer  # noqa: E402

__all__ = ["OKABE_ITO", "SEQUENTIAL", "DIVERGING", "setup", "house_style", "log_history",
           "unit_circle_figure", "slider_figure", "layer_heatmaps", "reference_line"]

#: Okabe & Ito (2008) colour-blind-safe qualitative palette (black last).
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
SEQUENTIAL = "viridis"
DIVERGING = "RdBu_r"
DASHES = ["solid", "dash", "dot", "dashdot"]
SYMBOLS = ["circle", "x", "diamond", "square", "triangle-up", "cross"]


class BookRenderer(MimetypeRenderer):
    """Plotly JSON for live frontends plus a self-contained div for the book."""

    def to_mimebundle(self, fig_dict):
        from .notebook import is_static_build

        fig_dict = house_style(fig_dict)

        # The static book renders only the div; MyST-NB would warn about the JSON type.
        bundle = {} if is_static_build() else PlotlyRenderer(config={"displaylogo": False}).to_mimebundle(fig_dict)
        meta = (fig_dict.get("layout") or {}).get("meta") or {}
        alt = meta.get("alt", "") if isinstance(meta, dict) else ""
        height = (fig_dict.get("layout") or {}).get("height") or 450
        div = pio.to_html(fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False,
                          config={"displaylogo": False, "responsive": True}, validate=False,
                          default_height=f"{int(height)}px")
        label = f' role="img" aria-label="{html.escape(alt)}"' if alt else ""
        bundle["text/html"] = f'<div class="quinebook-plotly"{label}>{div}</div>'
        return bundle


def house_style(fig_dict: dict) -> dict:
    """The book's layout rules, applied to every figure as it is shown (so no chapter has to remember them).

    * A log axis is labelled at whole decades only (1e-3, 1e-2, ...; every k-th decade when it spans more
      than 8), written as powers: the minor ticks' labels overlapped.
    * No fixed width: a figure fills the column on a desktop and shrinks on a phone.
    * A long title gets a smaller font and two lines instead of running off a phone's screen.
    * A legend (two entries or more) sits below the plot in rows, unless the figure places its own.
    """
    layout = dict(fig_dict.get("layout") or {})
    for key, axis in list(layout.items()):
        if (key.startswith("xaxis") or key.startswith("yaxis")) and isinstance(axis, dict) and axis.get("type") == "log":
            axis = dict(axis)
            decades = _decades(fig_dict, key)
            if decades >= 2:  # over a narrower range plotly's own ticks say more
                # every decade up to 8 of them; beyond, every 2nd, 3rd, ... (21 labels overlapped on a phone)
                axis.setdefault("dtick", max(1, math.ceil(decades / 8)))
            axis.setdefault("exponentformat", "power")
            layout[key] = axis
    layout.pop("width", None)
    layout["autosize"] = True
    if "legend" not in layout and _legend_entries(fig_dict) >= 2:
        # Below the plot, in rows: a legend on the right took up to 40 % of a desktop page's width and most of a
        # phone's.  Anchored to the figure's bottom edge (yref "container"), so plotly makes room for it
        # instead of drawing it over the x-axis title.
        layout["legend"] = {"orientation": "h", "x": 0, "xanchor": "left", "yref": "container", "y": 0,
                            "yanchor": "bottom"}
    title = layout.get("title")
    text = title.get("text", "") if isinstance(title, dict) else (title or "")
    if len(text) > 36:  # plotly's 17-px title font fits about 40 characters on a phone held upright
        title = dict(title) if isinstance(title, dict) else {"text": text}
        title.setdefault("font", {"size": 14})
        if len(text) > 44:
            title["text"] = _two_lines(text)
            # hung from the figure's top edge (plotly anchors a two-line title at its first line's baseline,
            # which drew that line above the figure, cut off), with the plot pushed down to make room
            for key, value in (("yref", "container"), ("y", 1), ("yanchor", "top"), ("pad", {"t": 20}),
                               ("automargin", True)):
                title.setdefault(key, value)
        layout["title"] = title
    return {**fig_dict, "layout": layout}


def _two_lines(text: str) -> str:
    """A long title broken at the space nearest its middle (plotly does not wrap titles; on a phone the end
    ran off the screen).  Titles with a line break of their own are kept."""
    if "<br" in text:
        return text
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return text[:cut] + "<br>" + text[cut + 1:]


def _legend_entries(fig_dict: dict) -> int:
    """How many traces the legend of a figure lists (plotly's default hides it for a single trace)."""
    traces = fig_dict.get("data") or []
    if (fig_dict.get("layout") or {}).get("showlegend") is False:
        return 0
    shown = [t for t in traces if t.get("showlegend", True) is not False and t.get("type", "scatter") != "heatmap"]
    groups = {t.get("legendgroup") or id(t) for t in shown}
    return len(groups)


def _decades(fig_dict: dict, axis_key: str) -> float:
    """How many decades the positive data drawn on one axis (``xaxis``, ``yaxis2``, ...) spans."""
    import numpy as np

    letter, suffix = axis_key[0], axis_key[5:]
    values = []
    for trace in fig_dict.get("data") or []:
        if (trace.get(f"{letter}axis") or letter) != letter + suffix:
            continue
        data = trace.get(letter)
        if data is None:
            continue
        if isinstance(data, dict) and "bdata" in data:  # plotly 6 stores numpy arrays as base64 typed arrays
            import base64

            data = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data.get("dtype", "f8")))
        try:
            arr = np.asarray(data, dtype=float).ravel()
        except (TypeError, ValueError):
            continue
        values.append(arr[np.isfinite(arr) & (arr > 0)])
    values = np.concatenate(values) if values else np.array([])
    # differences of logarithms: max / min overflows to inf when min is subnormal (a residual of 1e-320, say)
    return float(np.log10(values.max()) - np.log10(values.min())) if values.size else 0.0


def setup() -> None:
    """Register the renderer and palettes (done once, on ``import quinelib``)."""
    pio.renderers["quinebook"] = BookRenderer()
    # Colab draws neither the JSON mimetype nor our div; its own renderer works there.
    pio.renderers.default = "colab" if "google.colab" in sys.modules else "quinebook"
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.colorway = OKABE_ITO
    template.layout.colorscale.sequential = "Viridis"
    template.layout.colorscale.diverging = "RdBu"
    pio.templates["quinebook"] = template
    pio.templates.default = "quinebook"
    mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=OKABE_ITO)
    mpl.rcParams["image.cmap"] = SEQUENTIAL
    mpl.rcParams["figure.dpi"] = 100


def _alt(fig: go.Figure, alt: str) -> go.Figure:
    fig.update_layout(meta={"alt": alt})
    return fig


def reference_line(fig: go.Figure, value: float, *, axis: str = "x", label: str = "", position: str = "top right",
                   dash: str = "dot", color: str = "#777", log: bool | None = None) -> go.Figure:
    """A vertical (``axis="x"``) or horizontal (``axis="y"``) reference line at ``value``, with its label beside it.

    On a log axis plotly places a line's own ``annotation_text`` at 10**value (an
    annotation's coordinate on a log axis is in log10 units), so a label meant
    for x = 0.1 lands at x = 10**0.1.  Here the line is drawn without one and
    the label is a separate annotation at log10(value) when the axis is
    logarithmic (``log=None``: read from the figure's layout, so set the axis
    type first).  ``position``: "top right", "top left", "bottom right" or
    "bottom left" of the line's end.
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    vertical_side, horizontal_side = position.split() if " " in position else ("top", position)
    if vertical_side not in ("top", "bottom") or horizontal_side not in ("left", "right"):
        raise ValueError(f"position must be 'top|bottom left|right', got {position!r}")
    if log is None:
        log = getattr(fig.layout, f"{axis}axis").type == "log"
    if log and not value > 0:
        raise ValueError(f"a reference line on a log axis needs a value > 0, got {value}")
    line = dict(color=color, dash=dash)
    (fig.add_vline if axis == "x" else fig.add_hline)(**{axis: value}, line=line)
    if label:
        where = math.log10(value) if log else value
        if axis == "x":
            fig.add_annotation(x=where, xref="x", y=1 if vertical_side == "top" else 0, yref="paper",
                               xanchor="left" if horizontal_side == "right" else "right",
                               yanchor="top" if vertical_side == "top" else "bottom", text=label,
                               showarrow=False, xshift=4 if horizontal_side == "right" else -4)
        else:
            fig.add_annotation(y=where, yref="y", x=1 if horizontal_side == "right" else 0, xref="paper",
                               yanchor="bottom" if vertical_side == "top" else "top",
                               xanchor="right" if horizontal_side == "right" else "left", text=label,
                               showarrow=False)
    return fig


def log_history(series: dict, *, title: str, yaxis_title: str, xaxis_title: str = "iteration",
                alt: str = "", x: dict | None = None) -> go.Figure:
    """Lines on a log y-axis, one per entry of ``series`` (label -> values)."""
    fig = go.Figure()
    for i, (label, ys) in enumerate(series.items()):
        xs = x[label] if x is not None else list(range(len(ys)))
        ys = [max(float(v), 1e-300) for v in ys]  # log axes cannot show exact zeros
        # Dash and marker vary too, so overlapping lines stay distinguishable (and not by colour alone).
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=label,
                                 line=dict(color=OKABE_ITO[i % len(OKABE_ITO)], dash=DASHES[i % len(DASHES)]),
                                 marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=8)))
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title,
                      yaxis_type="log", yaxis_exponentformat="power", height=420)
    return _alt(fig, alt or title)


def unit_circle_figure(eigs: dict, *, title: str, alt: str = "") -> go.Figure:
    """Eigenvalues in the complex plane (label -> complex numpy array) with |z| = 1."""
    import numpy as np

    t = np.linspace(0, 2 * np.pi, 361)
    fig = go.Figure(go.Scatter(x=np.cos(t), y=np.sin(t), mode="lines", name="unit circle |λ| = 1",
                               line=dict(color="#777777", dash="dash"), hoverinfo="skip"))
    for i, (label, ev) in enumerate(eigs.items()):
        ev = np.asarray(ev)
        fig.add_trace(go.Scatter(x=ev.real, y=ev.imag, mode="markers", name=label,
                                 marker=dict(color=OKABE_ITO[i % 8], symbol=SYMBOLS[i % len(SYMBOLS)], size=7),
                                 hovertemplate="Re λ = %{x:.3g}<br>Im λ = %{y:.3g}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="Re λ", yaxis_title="Im λ", height=480,
                      yaxis_scaleanchor="x", yaxis_scaleratio=1)
    return _alt(fig, alt or title)


def slider_figure(frames: dict, *, title: str, slider_label: str, xaxis_title: str,
                  yaxis_title: str, log_y: bool = True, alt: str = "") -> go.Figure:
    """A figure whose slider switches between groups of traces.

    ``frames`` maps a slider label to a list of ``go.Scatter`` traces.  The
    slider only toggles visibility, so it works in the static page with no
    kernel.
    """
    fig = go.Figure()
    spans, start = [], 0
    for traces in frames.values():
        for tr in traces:
            fig.add_trace(tr)
        spans.append((start, start + len(traces)))
        start += len(traces)
    n = start
    steps = []
    for (a, b), label in zip(spans, frames):
        visible = [a <= i < b for i in range(n)]
        steps.append(dict(method="update", label=str(label), args=[{"visible": visible}]))
    for i, tr in enumerate(fig.data):
        tr.visible = spans[0][0] <= i < spans[0][1]
    fig.update_layout(
        title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title, height=480,
        yaxis_type="log" if log_y else "linear", yaxis_exponentformat="power",
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=f"{slider_label} = "), pad=dict(t=50))],
    )
    return _alt(fig, alt or title)


def layer_heatmaps(module, thetas: dict, *, vmax: float | None = None, suptitle: str = ""):
    """Matplotlib heatmaps of every weight matrix and bias, one row per theta.

    ``thetas`` maps a row label to a flat parameter vector of ``module``.
    Colours use a symmetric diverging map; the colour range is shared.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from .params import layout

    slots = layout(module)
    mats = [s for s in slots if len(s.shape) == 2]
    rows = len(thetas)
    from matplotlib.ticker import MaxNLocator

    # constrained layout keeps titles, labels and the colour bar from running into each other
    fig, axes = plt.subplots(rows, len(mats), figsize=(3.3 * len(mats), 3.0 * rows), squeeze=False,
                             layout="constrained")
    if vmax is None:
        vmax = max(float(t.abs().max()) for t in thetas.values()) or 1.0
    for r, (label, theta) in enumerate(thetas.items()):
        for c, s in enumerate(mats):
            w = theta[s.start:s.stop].reshape(s.shape).detach().cpu().numpy()
            ax = axes[r, c]
            im = ax.imshow(w, cmap=DIVERGING, vmin=-vmax, vmax=vmax, aspect="auto")
            ax.set_title(f"{label}\n{s.name} ({s.shape[0]}×{s.shape[1]})", fontsize=9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))  # units are whole numbers
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
            ax.tick_params(labelsize=8)
            if r == rows - 1:
                ax.set_xlabel("input unit", fontsize=9)
            if c == 0:
                ax.set_ylabel("output unit", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8, label="weight value")
    if suptitle:
        fig.suptitle(suptitle)
    return fig, np.asarray(axes)


setup()
