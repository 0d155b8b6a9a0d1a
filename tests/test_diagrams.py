"""The chapters' diagrams are what tools/diagrams.py draws from the chapters' own sizes, and are usable images."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from tools import diagrams as dg

ROOT = Path(__file__).resolve().parents[1]
NS = {"s": "http://www.w3.org/2000/svg"}
DRAWN = dg.diagrams()


def test_the_committed_diagrams_are_what_the_code_draws():
    stale = [name for name, (_, svg) in DRAWN.items()
             if not (dg.OUT / name).is_file() or (dg.OUT / name).read_text() != svg]
    assert not stale, f"stale diagrams {stale}: a chapter's sizes or the drawing code changed; run python -m tools.diagrams"
    assert dg.main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(DRAWN))
def test_each_diagram_is_a_well_formed_accessible_svg(name):
    alt, svg = DRAWN[name]
    root = ET.fromstring(svg)
    assert root.get("viewBox") and root.get("width") and root.get("height")
    assert root.find("s:title", NS).text.strip() and root.find("s:desc", NS).text == alt and len(alt) > 80
    first = root.find("s:rect", NS)
    assert (first.get("width"), first.get("height")) == (root.get("width"), root.get("height")), "no own background"
    assert first.get("fill").lower() in ("#fcfcfc", "#ffffff"), "the panel must be light, for dark mode too"
    assert all(float(t.get("font-size")) >= 12 for t in root.iter("{http://www.w3.org/2000/svg}text"))


def test_the_sizes_drawn_are_the_chapters_and_the_models():
    import quinelib as q
    from quinelib.index_quine import IndexQuine

    p1 = dg.parameters(1)
    P1 = q.QuineMLP(in_features=p1["in_features"], hidden=tuple(p1["hidden"]), seed=0).P
    assert f"{P1:,} outputs" in DRAWN["ch1_probe_quine.svg"][1]
    assert f"{p1['in_features']} numbers" in DRAWN["ch1_probe_quine.svg"][1]
    p3 = dg.parameters(3)
    P3 = IndexQuine(d=p3["d"], hidden=(p3["width"], p3["width"])).P
    assert P3 == p3["d"] * p3["width"] + p3["width"] ** 2 + p3["width"]  # no biases: the paper's 20,100 at 100
    assert f"{P3:,} × {p3['d']}" in DRAWN["ch3_index_lookup.svg"][1]
    p5 = dg.parameters(5)
    U = p5["n_hidden"] * (p5["n_in"] + p5["n_out"])
    assert f"{U} weights" in DRAWN["ch5_set_pooling.svg"][1]
    lo, hi = p5["pairs_range"]
    assert f"{lo} to {hi} of them" in DRAWN["ch5_set_pooling.svg"][1]


def test_a_changed_parameter_changes_the_drawing(monkeypatch):
    real = dg.parameters
    monkeypatch.setattr(dg, "parameters", lambda n: {**real(n), "in_features": 5} if n == 1 else real(n))
    _, _, svg = dg.ch1()
    assert "5 numbers" in svg and svg != DRAWN["ch1_probe_quine.svg"][1]


@pytest.mark.parametrize("chapter", range(1, 7))
def test_every_chapter_shows_its_diagram_with_alt_text(chapter):
    path = next((ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb"))
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    figures = re.findall(r":::\{figure\} \.\./book/figures/(ch\d_\w+\.svg)\n((?::\w+:.*\n)+)", text)
    assert len(figures) == 1, f"{path.name}: {len(figures)} diagrams"
    name, options = figures[0]
    assert name.startswith(f"ch{chapter}_") and name in DRAWN
    alt = re.search(r":alt: (.+)", options).group(1)
    assert alt == DRAWN[name][0], "the figure's alt text is the diagram's description"
    assert re.search(r":name: fig-ch\d-architecture", options)
