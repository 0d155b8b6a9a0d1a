"""Small helpers for the chapters' notebooks."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

__all__ = ["env_flag", "timer", "bench_file", "bench_results"]


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


def bench_file(chapter: int) -> Path:
    """``benchmarks/results/chapterN.md``, the table ``make bench`` writes for chapter N."""
    return Path(__file__).resolve().parents[1] / "benchmarks" / "results" / f"chapter{int(chapter)}.md"


def bench_results(chapter: int, *, collapsed: str | None = None):
    """What ``make bench`` measured for chapter N, to ``display``: its table as Markdown, or a note saying how
    to produce it.  With ``collapsed`` (a title), the book's static page shows the table behind a dropdown
    of that title (a long table); a running notebook shows it plainly (Jupyter does not read MyST)."""
    from IPython.display import Markdown

    from .widgets import is_static_build

    path = bench_file(chapter)
    if not path.is_file():
        return Markdown(f"`{path.name}` not found: run `make bench` to produce it.")
    text = path.read_text()
    if collapsed and is_static_build():
        fence = "`" * 4  # the table's own text may hold three backticks
        text = f"{fence}{{dropdown}} {collapsed}\n{text}\n{fence}"
    return Markdown(text)
