"""Small helpers for the chapters' notebooks."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

__all__ = ["env_flag", "timer", "bench_file"]


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
