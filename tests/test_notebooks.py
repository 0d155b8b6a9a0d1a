"""The notebooks as files: clean, parameterised, and runnable through papermill.

(The book build in ``test_site.py`` runs every chapter with its smoke
parameters, and fails on any failing cell; nbval runs ``notebooks/setup.ipynb``,
which the book does not contain: see pyproject.toml's ``testpaths``.  ``make
test-notebooks`` runs the chapters under nbval, cell by cell.)
"""

import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapter notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "stored with outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell must be tagged 'parameters'"
    assert code.index(params[0]) == 2, "the parameters cell is the third code cell (after Colab's and the imports)"
    # plumbing is out of the reader's way in the book (the notebook keeps it): Colab's cell is not shown,
    # the imports are collapsed, the parameters stay visible
    assert "remove-cell" in code[0].metadata.get("tags", []), "the Colab cell should be tagged remove-cell"
    assert "hide-input" in code[1].metadata.get("tags", []), "the imports cell should be tagged hide-input"
    assert not {"remove-cell", "hide-input", "hide-cell", "remove-input"} & set(params[0].metadata.get("tags", []))
    src = params[0].source
    assert "\nseed = " in "\n" + src and "\nsmoke = " in "\n" + src
    # papermill must understand every assignment (it names them in --help-notebook)
    from papermill.translators import PythonTranslator

    names = [p.name for p in PythonTranslator.inspect(params[0])]
    assigned = re.findall(r"^([A-Za-z_]\w*) = ", src, flags=re.M)
    assert names == assigned, f"papermill could not parse some parameters: {set(assigned) - set(names)}"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for needed in ("**The question.**", "You will learn to", "Estimated time", "Prerequisites", "Your turn",
                   "## Summary", "## Further reading"):
        assert needed in text, f"{path.name} lacks '{needed}'"
    assert text.index("Estimated time") < text.index("Your turn") < text.index("## Summary") < \
        text.index("## Further reading"), "opening, exercises, summary and further reading come in that order"
    exercises = text.count("Your turn")
    solutions = [c for c in code if "solution" in c.metadata.get("tags", [])]
    assert exercises >= 2, f"{path.name} has {exercises} 'Your turn' exercise(s); every chapter needs two"
    assert len(solutions) >= exercises, "every exercise needs a solution cell"
    assert all("hide-cell" in c.metadata["tags"] and c.metadata.get("hint") for c in solutions), \
        "solutions are hidden in the book (hide-cell) and carry a hint for the student copies"
    # every solution is followed by its check cell, and carries the stub the student copy gets
    for i, c in enumerate(code):
        if "solution" in c.metadata.get("tags", []):
            assert i + 1 < len(code) and "check" in code[i + 1].metadata.get("tags", []), \
                f"{path.name}: the solution '{c.source.splitlines()[0]}' has no check cell after it"
            assert "..." in c.metadata.get("stub", ""), "a solution carries a stub with the placeholder '...'"
            assert "answered(" in code[i + 1].source and "check(" in code[i + 1].source
            assert "assert " not in code[i + 1].source, "a check cell says what is wrong with check(), not assert"


FIGURE_CALL = re.compile(r"\.show\(\)|\bexplorer\(|\blayer_heatmaps\(")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_import_is_in_the_imports_cell_in_one_style(path):
    """One import style (README, 'Writing a chapter'): every import in the imports cell, quinelib as ``q`` and
    its names or modules by name; ruff's isort rule (test_lint) keeps the cell sorted."""
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    imports = re.compile(r"^\s*(import |from \S+ import )", re.M)
    elsewhere = [i for i, c in enumerate(code) if i > 1 and imports.search(c.source)]
    assert not elsewhere, f"{path.name}: code cells {elsewhere} import something; move it to the imports cell"
    cell = code[1].source
    assert re.search(r"^import quinelib as q$", cell, re.M), "quinelib is imported as q"
    for line in re.findall(r"^(?:import|from) .*quinelib.*$", cell, re.M):
        assert re.fullmatch(r"import quinelib as q|from quinelib(\.\w+)? import [\w, (]+", line), line
        assert not re.search(r"import .*\b_\w+", line), f"a private name is imported: {line}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_cell_carries_a_caption_and_the_checks_are_folded(path):
    """A cell that shows a figure (outside the solutions) names it and captions it for the book's numbered
    figures; a cell of checks (asserts and glue only) is collapsed behind "Show the checks"."""
    import ast

    nb = nbformat.read(path, as_version=4)
    names = []
    for c in nb.cells:
        if c.cell_type != "code" or {"solution", "check"} & set(c.metadata.get("tags", [])):
            continue
        figure = c.metadata.get("mystnb", {}).get("figure")
        if FIGURE_CALL.search(c.source):
            assert figure and len(figure.get("caption", "")) > 30, f"{c.id}: a figure without a caption"
            assert re.fullmatch(rf"fig-ch{int(path.name[:2])}-[a-z0-9-]+", figure.get("name", "")), figure
            names.append(figure["name"])
        elif figure:
            raise AssertionError(f"{c.id}: a caption on a cell that shows no figure")
        if c.id == "colab" or "parameters" in c.metadata.get("tags", []):
            continue
        body = ast.parse(c.source).body
        only_checks = body and all(
            isinstance(n, ast.Assert) or isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
            and getattr(n.value.func, "id", None) == "glue" for n in body)
        if only_checks and any(isinstance(n, ast.Assert) for n in body):
            assert "hide-cell" in c.metadata.get("tags", []), f"{c.id}: a cell of checks shown in the book"
            assert c.metadata.get("mystnb", {}).get("code_prompt_show") == "Show the checks"
    assert len(names) == len(set(names)), "two figures with one name"


def test_chapter_1_runs_through_papermill_with_other_parameters(tmp_path):
    out = tmp_path / "01_out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "01_zero_quine.ipynb"), str(out),
                        parameters=dict(seed=3, alpha=0.1, smoke=True, check_seeds=[11, 12]),
                        kernel_name="python3", progress_bar=False, cwd=str(ROOT / "notebooks"))
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    texts = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "smoke=True, seed=3, alpha=0.1" in texts
    assert "seed 11:" in texts and "seed 12:" in texts


def test_chapter_2_runs_through_papermill_with_another_seed(tmp_path):
    out = tmp_path / "02_out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "02_normalisation_fix.ipynb"), str(out),
                        parameters=dict(seed=5, smoke=True), kernel_name="python3", progress_bar=False,
                        cwd=str(ROOT / "notebooks"))
    texts = "\n".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells
                      if c.cell_type == "code" for o in c.outputs)
    assert "smoke=True, seed=5" in texts and "after loading, relative residual" in texts


def test_chapter_4_reads_mnist_idx_files_when_pointed_at_them(tmp_path):
    """The chapter's MNIST path, end to end, on small IDX files written here (28 x 28, learnable classes)."""
    import numpy as np

    from quinelib.data import MNIST_FILES, write_idx

    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for split, n in (("train", 300), ("test", 100)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):  # class k lights up a bright 5 x 5 block at its own place
            r, c = 2 + 6 * (k // 4), 2 + 6 * (k % 4)
            images[i, r:r + 5, c:c + 5] = 255
        write_idx(folder / (MNIST_FILES[f"{split}_images"] + ".gz"), images, compress=True)
        write_idx(folder / MNIST_FILES[f"{split}_labels"], labels)
    out = tmp_path / "04_out.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "04_auxiliary_quine.ipynb"), str(out),
                        parameters=dict(smoke=True, mnist_dir=str(folder)), kernel_name="python3",
                        progress_bar=False, cwd=str(ROOT / "notebooks"))
    texts = "\n".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells
                      if c.cell_type == "code" for o in c.outputs)
    assert f"MNIST from {folder}: 300 training and 100 test images of 28 x 28 pixels" in texts
    assert "chapter 4 ran in" in texts
