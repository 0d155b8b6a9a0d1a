"""Keep each notebook's Colab cell pointing at the repository named in ``_config.yml``.

    python -m tools.publish [ROOT]        (or: make publish)

``repository.url`` in ``_config.yml`` is the one setting to change when the
book moves: the book's launch buttons read it at build time, and this
command writes it into the first code cell of every notebook, the cell that
runs only on Google Colab and fetches the book there.  The tests fail while
the two disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

__all__ = ["COLAB_MARK", "colab_cell_source", "repository_url", "sync"]

COLAB_MARK = "# On Google Colab only"


def colab_cell_source(url: str) -> str:
    """The first code cell of every notebook: on Colab, clone the book and install what its notebooks need."""
    return f'''{COLAB_MARK}: fetch the book and install what its notebooks need
# (about two minutes). Colab brings its own PyTorch and Jupyter, so the helper
# package is installed with its notebook extras instead of the pinned
# requirements.txt (which also pins the book's build tools).
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    if not os.path.isdir("/content/book"):
        subprocess.run(
            [
                "git", "clone", "--depth", "1",
                "{url}", "/content/book",
            ],
            check=True,
        )
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet",
            "/content/book[notebooks]",
        ],
        check=True,
    )
    sys.path.insert(0, "/content/book")'''


def repository_url(root) -> str:
    import yaml

    config = yaml.safe_load((Path(root) / "_config.yml").read_text())
    try:
        return str(config["repository"]["url"]).rstrip("/")
    except (KeyError, TypeError):
        raise ValueError(f"{root}/_config.yml has no repository.url") from None


def sync(root) -> list[Path]:
    """Write the Colab cell into every notebook (the chapters and the set-up check); return those that changed."""
    root = Path(root)
    source = colab_cell_source(repository_url(root))
    changed = []
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if code and code[0].source.startswith(COLAB_MARK):
            if code[0].source == source:
                continue
            code[0].source = source
        else:
            cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell"]})  # not shown in the book
            cell.id = "colab"
            nb.cells.insert(nb.cells.index(code[0]) if code else len(nb.cells), cell)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        changed.append(path)
    return changed


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else ".")
    changed = sync(root)
    print(f"repository {repository_url(root)}: " + (", ".join(p.name for p in changed) + " updated" if changed
                                                    else "every notebook already points there"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
