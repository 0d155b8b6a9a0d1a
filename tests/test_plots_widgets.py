"""The book's plotly renderer, the static stand-in for widgets, notebook helpers."""

import plotly.graph_objects as go
import plotly.io as pio
import pytest

import quinelib as q
from quinelib.notebook import env_flag, timer


def _fig():
    return q.plots.log_history({"a": [1.0, 0.1, 0.0]}, title="t", yaxis_title="y", alt="falls to zero")


def test_renderer_is_set_once_on_import():
    assert pio.renderers.default == "quinebook"
    assert pio.templates.default == "quinebook"
    assert list(pio.templates["quinebook"].layout.colorway) == q.plots.OKABE_ITO


def test_live_bundle_has_plotly_json_and_a_div(monkeypatch):
    monkeypatch.delenv("QUINEBOOK_STATIC", raising=False)
    bundle = pio.renderers["quinebook"].to_mimebundle(_fig().to_dict())
    assert "application/vnd.plotly.v1+json" in bundle
    html = bundle["text/html"]
    assert 'class="quinebook-plotly"' in html and 'aria-label="falls to zero"' in html
    assert "Plotly.newPlot" in html
    assert "<script src=" not in html, "no CDN script (plotly.js or MathJax) may be pulled in"


def test_static_bundle_is_only_the_div(monkeypatch):
    monkeypatch.setenv("QUINEBOOK_STATIC", "1")
    bundle = pio.renderers["quinebook"].to_mimebundle(_fig().to_dict())
    assert list(bundle) == ["text/html"]


def test_log_history_keeps_zeros_plottable():
    fig = _fig()
    assert min(fig.data[0].y) > 0 and fig.layout.yaxis.type == "log"


def test_slider_figure_toggles_trace_groups():
    frames = {1: [go.Scatter(y=[1, 2]), go.Scatter(y=[2, 3])], 2: [go.Scatter(y=[3, 4]), go.Scatter(y=[1, 1])]}
    fig = q.plots.slider_figure(frames, title="t", slider_label="α", xaxis_title="x", yaxis_title="y")
    steps = fig.layout.sliders[0].steps
    assert [s.args[0]["visible"] for s in steps] == [[True, True, False, False], [False, False, True, True]]
    assert [tr.visible for tr in fig.data] == [True, True, False, False]


def test_standin_html_wraps_a_figure():
    html = q.widgets.standin_html(_fig(), "Explore α.")
    assert html.startswith('<div class="widget-standin">') and "quinebook-plotly" in html
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    html = q.widgets.standin_html(fig, "A caption")
    assert '<img src="data:image/png;base64,' in html and 'alt="A caption"' in html
    plt.close(fig)


def test_explorer_shows_the_standin_in_the_static_build(monkeypatch, capsys):
    monkeypatch.setenv("QUINEBOOK_STATIC", "1")
    made = []

    def controls():
        made.append(1)
        return {}

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    assert q.widgets.explorer(lambda: None, controls, standin=_fig, caption="c") is None
    assert made == [], "no widget may be created for the static build"
    assert len(shown) == 1 and 'class="widget-standin"' in shown[0].data


def test_explorer_is_live_in_a_kernel(monkeypatch):
    monkeypatch.delenv("QUINEBOOK_STATIC", raising=False)
    import ipywidgets as widgets

    calls = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: None)
    ui = q.widgets.explorer(lambda x: calls.append(x), lambda: {"x": widgets.IntSlider(value=3)},
                            standin=_fig, caption="c")
    assert isinstance(ui, widgets.interactive) and calls == [3]


def test_env_flag(monkeypatch):
    monkeypatch.setenv("QB_FLAG", "1")
    assert env_flag("QB_FLAG")
    monkeypatch.setenv("QB_FLAG", "no")
    assert not env_flag("QB_FLAG")
    monkeypatch.delenv("QB_FLAG")
    assert env_flag("QB_FLAG", default=True)


def test_timer():
    assert timer(lambda: sum(range(1000)), repeats=3) >= 0
    with pytest.raises(ValueError):
        timer(lambda: None, repeats=0)


def test_reference_line_places_its_label_in_log10_units_on_a_log_axis():
    import math

    import plotly.graph_objects as go

    from quinelib.plots import reference_line

    fig = go.Figure(go.Scatter(x=[0.01, 10], y=[1, 2]))
    fig.update_layout(xaxis_type="log")
    reference_line(fig, 0.1, axis="x", label="goal", position="top left")  # the axis type read from the layout
    reference_line(fig, 1.5, axis="y", label="level", position="bottom right")
    (vline, hline), (goal, level) = fig.layout.shapes, fig.layout.annotations
    assert vline.x0 == vline.x1 == 0.1  # shapes take data values on a log axis ...
    assert goal.x == math.log10(0.1) and goal.xref == "x" and goal.yref == "paper"  # ... annotations log10 units
    assert goal.xanchor == "right" and goal.yanchor == "top"
    assert hline.y0 == hline.y1 == 1.5 and level.y == 1.5 and level.yref == "y"  # linear y axis: as given
    lin = go.Figure()
    reference_line(lin, 0.1, axis="x", label="goal", log=False)
    assert lin.layout.annotations[0].x == 0.1
    with pytest.raises(ValueError, match="value > 0"):
        reference_line(fig, 0.0, axis="x", label="zero")
    with pytest.raises(ValueError, match="axis"):
        reference_line(fig, 1.0, axis="z")
    with pytest.raises(ValueError, match="position"):
        reference_line(fig, 1.0, axis="y", position="middle")


def test_house_style_labels_decades_on_wide_log_axes_and_drops_fixed_widths():
    import numpy as np
    import plotly.graph_objects as go

    from quinelib.plots import house_style

    fig = go.Figure(go.Scatter(x=np.arange(1, 50), y=np.logspace(-12, 0, 49)))
    fig.add_trace(go.Scatter(x=[1, 2], y=[0.5, 0.9], xaxis="x2", yaxis="y2"))
    fig.update_layout(yaxis_type="log", yaxis2=dict(type="log", anchor="x2"), width=560,
                      title="A long title that would run off the screen of a phone held upright")
    out = house_style(fig.to_dict())["layout"]
    assert out["yaxis"]["dtick"] == 2 and out["yaxis"]["exponentformat"] == "power"  # 12 decades: every 2nd
    six = go.Figure(go.Scatter(y=np.logspace(-6, 0, 7)))
    assert house_style(six.update_layout(yaxis_type="log").to_dict())["layout"]["yaxis"]["dtick"] == 1
    assert "dtick" not in out["yaxis2"]  # less than one decade: plotly's own ticks
    assert "width" not in out and out["autosize"] is True
    assert out["title"]["font"]["size"] == 14
    first, second = out["title"]["text"].split("<br>")  # two lines of about the same length
    assert abs(len(first) - len(second)) < 12 and out["title"]["automargin"] is True
    assert out["title"]["yref"] == "container"  # both lines inside the figure
    subnormal = go.Figure(go.Scatter(y=[1.0, 5e-324]))  # max / min would overflow to inf
    assert house_style(subnormal.update_layout(yaxis_type="log").to_dict())["layout"]["yaxis"]["dtick"] == 41
    kept = go.Figure(go.Scatter(y=[1, 1e6]))
    kept.update_layout(yaxis_type="log", yaxis_dtick=2)
    assert house_style(kept.to_dict())["layout"]["yaxis"]["dtick"] == 2  # a chapter's own choice wins


def test_house_style_puts_legends_below_the_plot():
    import plotly.graph_objects as go

    from quinelib.plots import house_style

    two = go.Figure([go.Scatter(y=[1, 2], name="a"), go.Scatter(y=[2, 1], name="b")])
    legend = house_style(two.to_dict())["layout"]["legend"]
    assert legend["orientation"] == "h" and legend["yref"] == "container" and legend["y"] == 0
    one = go.Figure(go.Scatter(y=[1, 2], name="a"))  # plotly shows no legend for one trace
    assert "legend" not in house_style(one.to_dict())["layout"]
    hidden = go.Figure([go.Scatter(y=[1, 2]), go.Scatter(y=[2, 1], showlegend=False)])
    assert "legend" not in house_style(hidden.to_dict())["layout"]
    own = go.Figure([go.Scatter(y=[1, 2]), go.Scatter(y=[2, 1])], layout={"legend": {"x": 0.5}})
    assert house_style(own.to_dict())["layout"]["legend"] == {"x": 0.5}  # a chapter's own placement wins


def test_layer_heatmaps_use_constrained_layout_and_integer_ticks():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = q.QuineMLP(seed=0)
    fig, axes = q.plots.layer_heatmaps(m, {"start": q.flatten(m), "twice": 2 * q.flatten(m)})
    fig.canvas.draw()
    assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    for ax in axes.flat:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert all(float(t).is_integer() for t in ticks), ticks
    plt.close(fig)
