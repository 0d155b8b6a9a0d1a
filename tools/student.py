"""Student copies of the notebooks: every solution replaced by a stub and a hint.

    python -m tools.student OUT_DIR [NOTEBOOK ...]      (or: make student STUDENT_DIR=OUT_DIR)

A solution is a code cell tagged ``solution``.  Its copy keeps the cell's
position and tags other than ``solution``/``hide-cell`` (so the exercise
still reads in order), and holds a comment with the hint from the cell's
``metadata["hint"]`` (or a generic one), then the stub from
``metadata["stub"]``: the answers' names set to ``...``, for the
participant to fill in (or a bare ``...``).

The check cell after it (tagged ``check``, see ``quinelib.exercise``) stays
as it is, so the participant learns whether the answer is right; in the
copy it is also tagged ``raises-exception``, so that a notebook whose
exercises are not done yet still runs from top to bottom (Jupyter, nbclient
and papermill go on past a cell with that tag).  The copies are validated
with nbformat.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

__all__ = ["student_copy", "main"]

GENERIC_HINT = "use the functions the chapter introduced just above; the text before this cell says what to show"


def student_copy(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """Return (copy of nb with solutions stubbed, number of solutions replaced)."""
    nb = nbformat.from_dict(nb)
    replaced = 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "check" in tags and "raises-exception" not in tags:
            cell.metadata["tags"] = tags + ["raises-exception"]
            cell.outputs, cell.execution_count = [], None
        if cell.cell_type != "code" or "solution" not in tags:
            continue
        hint = cell.metadata.get("hint", GENERIC_HINT)
        stub = cell.metadata.get("stub", "...")
        cell.source = f"# Your turn: write your solution here.\n# Hint: {hint}\n{stub}"
        cell.metadata["tags"] = [t for t in tags if t not in ("solution", "hide-cell", "hide-input")] + ["exercise"]
        cell.metadata.pop("hint", None)
        cell.metadata.pop("stub", None)
        cell.outputs, cell.execution_count = [], None
        replaced += 1
    nbformat.validate(nb)
    return nb, replaced


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write student copies of the notebooks (solutions stubbed).")
    ap.add_argument("out_dir")
    ap.add_argument("notebooks", nargs="*", help="default: notebooks/[0-9][0-9]_*.ipynb")
    args = ap.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    paths = [Path(p) for p in args.notebooks] or sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        copy, n = student_copy(nbformat.read(path, as_version=4))
        nbformat.write(copy, out / path.name)
        print(f"{out / path.name}: {n} solution(s) replaced by a stub and a hint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
