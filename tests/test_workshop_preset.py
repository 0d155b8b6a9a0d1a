"""Every chapter at its workshop preset, with every check at its full threshold.

A chapter's parameters cell has two switches: ``smoke`` (the tests' small
budget, where a few checks are relaxed or skipped) and ``workshop`` (the size
a room runs, where none is).  Every relaxation in the notebooks is written
``if not smoke`` or ``... if smoke else ...``, so a run with ``workshop=True,
smoke=False`` runs every ``assert`` the default parameters do; papermill fails
the test on the first one that does not hold.  Chapters 1 and 3 run at their
preset exactly what their smoke run (the book build's) runs, which a test here
shows from their code.  ``make bench`` times all six runs against
``quinelib.budgets.BUDGETS[n].workshop``.

One class per chapter run: ``make test`` distributes with ``--dist loadscope``,
which sends each class to a worker of its own, so the runs share both workers
instead of queueing on one (``conftest.py`` starts the two longest first).
"""

import json
import re
from pathlib import Path

import nbformat
import papermill as pm

from quinelib import budgets

ROOT = Path(__file__).resolve().parents[1]


def run_at_the_workshop_preset(chapter: int, tmp_path: Path) -> str:
    """Run chapter ``chapter`` with workshop=True, smoke=False; return its printed text."""
    (path,) = (ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb")
    out = tmp_path / path.name
    pm.execute_notebook(str(path), str(out), parameters=dict(workshop=True, smoke=False), kernel_name="python3",
                        progress_bar=False, cwd=str(path.parent))
    texts = "\n".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells
                      if c.cell_type == "code" for o in c.outputs)
    # the switch reached the chapter's last cell, which names the preset its budget is for
    limit = budgets.BUDGETS[chapter].workshop
    assert f"(budget {limit:g} units at the workshop preset:" in texts, texts[-2000:]
    return texts


def test_every_relaxed_check_is_keyed_to_smoke_alone():
    """The workshop switch sets sizes and names the budget; it never loosens a check."""
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        uses = [(i, line) for i, src in enumerate(code) for line in src.splitlines()
                if re.search(r"\bworkshop\b", line) and not line.lstrip().startswith("#")]
        # the imports cell (the budget box's number), the parameters cell, the sizes cell, the budget line
        assert {i for i, _ in uses} == {1, 2, 3, len(code) - 1}, (path.name, uses)
        assert all("budget_seconds" in line for i, line in uses if i == 1), (path.name, uses)
        assert all("budget_report" in line for i, line in uses if i == len(code) - 1), (path.name, uses)


def test_chapters_1_and_3_run_at_the_workshop_preset_what_their_smoke_run_runs():
    """Chapters 1 and 3 need no papermill run of their own: their preset *is* their smoke sizes.

    Outside the parameters cell, ``smoke`` and ``workshop`` appear in them only in one sizes line,
    ``if smoke or workshop:``, in the line that prints the parameters, and in the budget lines; so a run
    with workshop=True, smoke=False executes every statement, with the same values, that the smoke run
    executes, and that run is the one the book build makes (``test_site.py``: ``QUINEBOOK_SMOKE=1``,
    ``allow_errors: false`` and ``-W``, so any failing check fails the build).  Only the budget report's
    preset differs, which ``test_budgets`` covers.
    """
    for chapter in (1, 3):
        (path,) = (ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb")
        code = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        uses = [(i, line.strip()) for i, src in enumerate(code) for line in src.splitlines()
                if re.search(r"\b(smoke|workshop)\b", line) and not line.lstrip().startswith("#") and i != 2]
        sizes = [(i, line) for i, line in uses if line.startswith("if ")]
        assert len(sizes) == 1 and sizes[0][0] == 3 and sizes[0][1].startswith("if smoke or workshop:"), \
            (path.name, sizes)
        rest = [line for i, line in uses if not line.startswith("if ")]
        assert rest and all(line.startswith('print(f"smoke={smoke}') or "budget_seconds(" in line
                            or "budget_report(" in line for line in rest), (path.name, rest)


class TestChapter2:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "after loading, relative residual" in run_at_the_workshop_preset(2, tmp_path)


class TestChapter4:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "goal met: True" in run_at_the_workshop_preset(4, tmp_path)


class TestChapter5:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "attention pooling trained for" in run_at_the_workshop_preset(5, tmp_path)


class TestChapter6:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "architectures=['blog', 'blog-norm', 'coordinate', 'index', 'recurrent']" in run_at_the_workshop_preset(6, tmp_path)
