"""Every chapter at its workshop preset, with every check at its full threshold.

A chapter's parameters cell has two switches: ``smoke`` (the tests' small
budget, where a few checks are relaxed or skipped) and ``workshop`` (the size
a room runs, where none is).  Every relaxation in the notebooks is written
``if not smoke`` or ``... if smoke else ...``, so a run with ``workshop=True,
smoke=False`` runs every ``assert`` the default parameters do; papermill fails
the test on the first one that does not hold.  ``make bench`` times the same
runs against ``quinelib.budgets.BUDGETS[n].workshop``.

One class per chapter: ``make test`` distributes with ``--dist loadscope``,
which sends each class to a worker of its own, so the six runs share both
workers instead of queueing on one.
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


class TestChapter1:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "seed 0:" in run_at_the_workshop_preset(1, tmp_path)


class TestChapter2:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "after loading, relative residual" in run_at_the_workshop_preset(2, tmp_path)


class TestChapter3:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "full-batch L-BFGS on the relative SR loss" in run_at_the_workshop_preset(3, tmp_path)


class TestChapter4:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "goal met: True" in run_at_the_workshop_preset(4, tmp_path)


class TestChapter5:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "attention pooling trained for" in run_at_the_workshop_preset(5, tmp_path)


class TestChapter6:
    def test_runs_at_the_workshop_preset(self, tmp_path):
        assert "architectures=['blog', 'blog-norm', 'coordinate', 'index', 'recurrent']" in run_at_the_workshop_preset(6, tmp_path)
