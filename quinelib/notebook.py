"""Small helpers for the chapters' notebooks."""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
import time
from pathlib import Path
from typing import Callable

__all__ = ["env_flag", "STATIC_ENV", "is_static_build", "timer", "markdown_table", "bench_file", "bench_table", "bench_results", "source_lines", "show_source"]

ROOT = Path(__file__).resolve().parents[1]


#: Set to "1" while the book's static pages are being built (no kernel-side widgets or progress bars there).
STATIC_ENV = "QUINEBOOK_STATIC"


def is_static_build() -> bool:
    """True while the book's static pages are being built."""
    return os.environ.get(STATIC_ENV, "") == "1"


def env_flag(name: str, default: bool = False) -> bool:
    """Read a yes/no switch from the environment ('1', 'true', 'yes' are yes).

    The notebooks' ``smoke`` parameter defaults to ``env_flag("QUINEBOOK_SMOKE")``
    so that the tests (nbval) can ask for the small budget without editing
    the notebook; papermill can still set ``smoke`` directly.
    """
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def timer(fn: Callable[[], object], repeats: int = 5, warmup: bool = True) -> float:
    """Best wall-clock time of ``repeats`` calls of ``fn`` (after one warm-up call, unless ``warmup`` is false)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup:
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def markdown_table(header, rows):
    """A Markdown table to ``display``: ``header`` a sequence of column titles, ``rows`` sequences of cells
    (already formatted as text).  A row of the wrong length is an error, not a ragged table."""
    from IPython.display import Markdown

    header = [str(h) for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        row = [str(c) for c in row]
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells, the header {len(header)}: {row}")
        lines.append("| " + " | ".join(row) + " |")
    return Markdown("\n".join(lines))


def bench_file(chapter: int, part: str | None = None) -> Path:
    """``benchmarks/results/chapterN.md`` (or ``chapterN-part.md``), a table ``make bench`` writes for chapter N."""
    return ROOT / "benchmarks" / "results" / (f"chapter{int(chapter)}" + (f"-{part}" if part else "") + ".md")


def bench_table(chapter: int, part: str | None = None, index: int = 0) -> list[dict]:
    """The ``index``-th Markdown table of a ``make bench`` results file, one dict per row (column title -> cell
    text), so that a chapter can glue the bench's numbers instead of typing them.  A missing file or table is an
    error that says how to produce it."""
    path = bench_file(chapter, part)
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} not found: run `make bench` to produce it")
    tables, current = [], None
    for line in path.read_text().splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if current is None:
                current = {"header": cells, "rows": []}
                tables.append(current)
            elif not set("".join(cells)) <= set("-:"):
                current["rows"].append(dict(zip(current["header"], cells)))
        else:
            current = None
    if index >= len(tables):
        raise IndexError(f"{path.name} has {len(tables)} tables, asked for table {index}")
    return tables[index]["rows"]


def bench_results(chapter: int, *, part: str | None = None, collapsed: str | None = None):
    """What ``make bench`` measured for chapter N, to ``display``: its table as Markdown, or a note saying how
    to produce it.  With ``collapsed`` (a title), the book's static page shows the table behind a dropdown
    of that title (a long table); a running notebook shows it plainly (Jupyter does not read MyST)."""
    from IPython.display import Markdown

    path = bench_file(chapter, part)
    if not path.is_file():
        return Markdown(f"`{path.name}` not found: run `make bench` to produce it.")
    text = path.read_text()
    if collapsed and is_static_build():
        fence = "`" * 4  # the table's own text may hold three backticks
        text = f"{fence}{{dropdown}} {collapsed}\n{text}\n{fence}"
    return Markdown(text)


def source_lines(obj, part: str | None = None) -> tuple[str, int, int, str]:
    """The source of a function or class from its file, as the reader should see it.

    Returns ``(code, first, last, path)``: the code (docstring left out, dedented), the first and last
    line numbers in the file and the file's path relative to the repository.  With ``part="loop"``
    only the function's longest top-level ``for`` or ``while`` statement (with its ``else``) is kept: the
    iteration that is the method; with the name of a function defined inside it (e.g. ``"closure"``),
    that function.  The parts are found in the syntax tree, not by searching the text,
    so reformatting the file cannot shift them; a part that is not there raises ``ValueError``.
    """
    target = inspect.unwrap(obj)
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        raise TypeError(f"show_source needs a function or a class, got {type(obj).__name__}")
    file = Path(inspect.getsourcefile(target)).resolve()
    lines, start = inspect.getsourcelines(target)
    node = ast.parse(textwrap.dedent("".join(lines))).body[0]
    body = node.body
    if part is None:
        header = lines[: body[0].lineno - 1]  # decorators and the def / class line(s)
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and len(body) > 1:
            body = body[1:]  # the docstring: the page's prose says it
        chosen = header + lines[body[0].lineno - 1 : node.end_lineno]
        a, b = start, start + node.end_lineno - 1
    else:
        if part == "loop":
            found = [n for n in body if isinstance(n, (ast.For, ast.While))]
        else:
            found = [n for n in ast.walk(node) if isinstance(n, ast.FunctionDef) and n.name == part and n is not node]
        if not found:
            what = "top-level for or while loop" if part == "loop" else f"nested function {part!r}"
            raise ValueError(f"{target.__qualname__} has no {what} to show")
        piece = max(found, key=lambda n: n.end_lineno - n.lineno)  # the longest loop: the iteration itself
        chosen = lines[piece.lineno - 1 : piece.end_lineno]
        a, b = start + piece.lineno - 1, start + piece.end_lineno - 1
    try:
        path = str(file.relative_to(ROOT))
    except ValueError:
        path = file.name
    return textwrap.dedent("".join(chosen)).rstrip() + "\n", a, b, path


def show_source(obj, part: str | None = None):
    """Display the real source of ``obj`` (see ``source_lines``) with where it comes from: the chapters
    show the core of each method from ``quinelib`` itself, so the page cannot drift from the code."""
    from IPython.display import Markdown

    code, a, b, path = source_lines(obj, part)
    name = inspect.unwrap(obj).__qualname__
    what = {None: f"`{name}`", "loop": f"the loop of `{name}`"}.get(part, f"`{part}` inside `{name}`")
    return Markdown(f"{what}, from `{path}`, lines {a}–{b}:\n\n```python\n{code}```")
