"""The benchmark runner reads what a notebook glued, so the goals stated inside a chapter can be checked."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_notebook_returns_the_glued_values(run, tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"},
                                            "language_info": {"name": "python"}})
    params = nbformat.v4.new_code_cell("workshop = False\nsmoke = False\nseed = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from myst_nb import glue\nglue('answer', 41.5 + (1 if smoke else 0) + (10 if workshop else 0), display=False)\n"
        "glue('label', 'seen', display=False)")]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    seconds, glued, cells = run.time_notebook(path, "smoke")
    assert seconds > 0
    # one profile row per code cell (papermill adds one with the injected parameters), slowest first
    assert len(cells) == 3 and all(d >= 0 for d, _, _ in cells) and cells == sorted(cells, reverse=True)
    assert {first for _, _, first in cells} >= {"workshop = False", "from myst_nb import glue"}
    assert float(glued["answer"]) == 42.5  # the smoke switch reached the notebook, the workshop one stayed off
    assert glued["label"] == "'seen'"
    assert float(run.time_notebook(path, "workshop")[1]["answer"]) == 51.5
    assert float(run.time_notebook(path, "default")[1]["answer"]) == 41.5
    with pytest.raises(ValueError, match="preset must be one of"):
        run.time_notebook(path, "tiny")


def test_every_glued_goal_names_a_value_its_notebook_glues(run):
    for stem, goals in run.GLUED_GOALS.items():
        for name, limit, _ in goals:
            assert limit > 0
            source = (ROOT / "notebooks" / f"{stem}.ipynb").read_text()
            assert f'glue(\\"{name}\\"' in source, f"{stem} does not glue {name}"
            assert int(stem[:2]) in run.budgets.BUDGETS
