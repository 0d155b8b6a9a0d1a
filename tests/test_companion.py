"""The reader's companion in every chapter: its diagram, a discussion with next steps and open questions,
predict-then-run prompts with their explanation, and links into the related-work page."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RELATED = (ROOT / "book" / "related_work.md").read_text()


def _markdown(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_ends_with_a_discussion_and_next_steps(path):
    cells = _markdown(path)
    text = "\n".join(cells)
    headings = [ln for ln in text.splitlines() if ln.startswith("## ")]
    assert "## Discussion and next steps" in headings, f"{path.name} has no discussion"
    assert headings.index("## Discussion and next steps") == headings.index("## Summary") - 1, \
        "the discussion comes just before the summary"
    section = text.split("## Discussion and next steps", 1)[1].split("## Summary", 1)[0]
    for part in ("**What the method is good at, and what not.**", "**Try next.**", "**Open questions.**"):
        assert part in section, f"{path.name}: the discussion lacks {part}"
    tries = section.split("**Try next.**", 1)[1].split("**Open questions.**", 1)[0]
    params = next(c.source for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    knobs = set(re.findall(r"^(\w+)\s*=", params, re.M)) | {n for line in re.findall(r"^([\w, ]+)=", params, re.M)
                                                           for n in re.findall(r"\w+", line)}
    named = set(re.findall(r"`(\w+)`", tries)) & knobs
    assert len(named) >= 2, f"{path.name}: the suggested experiments should name the parameters to change: {named}"
    questions = section.split("**Open questions.**", 1)[1]
    items = re.split(r"^- ", questions, flags=re.M)[1:]
    assert sum("?" in item for item in items) >= 2, f"{path.name}: fewer than two open questions"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_asks_the_reader_to_predict_before_running(path):
    cells = nbformat.read(path, as_version=4).cells
    prompts = [k for k, c in enumerate(cells) if c.cell_type == "markdown" and "Think: predict, then run" in c.source]
    assert 1 <= len(prompts) <= 3, f"{path.name}: {len(prompts)} predict-then-run prompts"
    for k in prompts:
        assert ":::{dropdown} What happens, and why" in cells[k].source, "the explanation sits in a dropdown"
        assert cells[k + 1].cell_type == "code", "a prompt stands just before the cell that answers it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_links_into_the_related_work_page(path):
    text = "\n".join(_markdown(path))
    labels = set(re.findall(r"\{ref\}`[^`<]*<(rw-[\w-]+)>`", text))
    assert labels, f"{path.name} links to no thread of the related-work page"
    for label in labels:
        assert f"({label})=" in RELATED, f"{path.name} links to {label}, which related_work.md does not define"


def test_the_introduction_says_why():
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "## Why networks that print themselves?" in intro
    why = intro.split("## Why networks that print themselves?", 1)[1].split("\n## ", 1)[0]
    assert "{cite}`" in why and "weights" in why and "evolution" in why


def test_chapter_6_runs_a_quine_relay():
    text = "\n".join(c.source for c in nbformat.read(NOTEBOOKS[5], as_version=4).cells)
    assert "### A quine relay" in text and "def relay(theta_A):" in text and "F_B(F_A(theta_A))" in text
    assert "assert relay_run.converged" in text
