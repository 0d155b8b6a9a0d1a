"""`make bench`: time every chapter notebook with its default and its smoke
parameters (through papermill, in a fresh kernel each) and compare with the
budgets the chapters state.  Later chapters add their own benchmarks here.

Usage: python benchmarks/run.py [--only 01] [--out benchmarks/results.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import papermill as pm
import torch

ROOT = Path(__file__).resolve().parents[1]

#: Each chapter's stated budget in seconds: (default parameters, smoke).
BUDGETS = {
    "01_zero_quine": (60, 15),
}


def time_notebook(path: Path, smoke: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        pm.execute_notebook(str(path), os.path.join(tmp, path.name), parameters={"smoke": smoke},
                            kernel_name="python3", progress_bar=False, cwd=str(path.parent))
        return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run only notebooks whose name starts with this")
    ap.add_argument("--out", default=str(ROOT / "_build" / "bench" / "results.md"))
    args = ap.parse_args(argv)
    env = os.environ.copy()
    os.environ.pop("QUINEBOOK_SMOKE", None)  # the parameter decides, not the environment
    rows, over = [], []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if not path.name.startswith(args.only):
            continue
        budget = BUDGETS.get(path.stem)
        for smoke in (False, True):
            seconds = time_notebook(path, smoke)
            limit = None if budget is None else budget[1 if smoke else 0]
            ok = limit is None or seconds <= limit
            if not ok:
                over.append(f"{path.stem} ({'smoke' if smoke else 'default'})")
            rows.append(f"| {path.stem} | {'smoke' if smoke else 'default'} | {seconds:.1f} | "
                        f"{'—' if limit is None else limit} | {'ok' if ok else 'OVER BUDGET'} |")
            print(rows[-1], flush=True)
    os.environ.clear()
    os.environ.update(env)
    header = [
        f"Benchmarks of {dt.datetime.now().isoformat(timespec='seconds')} on {platform.node()} "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads), command: {' '.join([Path(sys.argv[0]).name] + (argv or sys.argv[1:]))}",
        "", "| notebook | parameters | wall time (s) | budget (s) | |", "|---|---|---|---|---|"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header + rows) + "\n")
    print("\n".join(header + rows))
    print(f"\nwritten to {out}")
    if over:
        print("over budget:", ", ".join(over))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
