"""quinelib.budgets: the reference workload, budgets in reference units, and the busy-process check;
and the places that must quote the same budgets (notebooks, the book's substitutions)."""

import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quinelib import budgets

ROOT = Path(__file__).resolve().parents[1]


def test_reference_workload_is_deterministic_and_finite():
    a, b = budgets.reference_workload(), budgets.reference_workload()
    assert math.isfinite(a) and a == b


def test_reference_time_is_positive_and_checks_repeats():
    assert budgets.reference_time(repeats=1) > 0
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="repeats"):
            budgets.reference_time(repeats=bad)


def test_reference_time_runs_a_fresh_interpreter_and_says_when_it_fails(monkeypatch):
    # t_ref includes a fresh interpreter's start-up and imports, as every chapter's kernel pays them
    assert "import torch, plotly.graph_objects, quinelib" in budgets.STARTUP_AND_WORKLOAD
    monkeypatch.setattr(budgets, "STARTUP_AND_WORKLOAD", "raise SystemExit('no workload here')")
    with pytest.raises(RuntimeError, match="no workload here"):
        budgets.reference_time(repeats=1)


def test_cost_in_units_and_budget_seconds():
    assert budgets.cost_in_units(30.0, 0.5) == 60.0
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="t_ref"):
            budgets.cost_in_units(1.0, bad)
    b = budgets.BUDGETS[3]
    assert budgets.budget_seconds(3) == pytest.approx(b.default * budgets.REFERENCE["seconds"])
    assert budgets.budget_seconds(3, smoke=True, t_ref=2.0) == pytest.approx(2 * b.smoke)
    with pytest.raises(ValueError, match="no budget for chapter 9"):
        budgets.budget_seconds(9)


def test_every_chapter_has_a_budget_and_smoke_is_smaller():
    chapters = sorted(int(p.name[:2]) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(budgets.BUDGETS) == chapters
    for b in budgets.BUDGETS.values():
        assert 0 < b.smoke <= b.workshop < b.default


def test_the_two_switches_name_one_preset_and_smoke_wins():
    assert budgets.PRESETS == ("default", "workshop", "smoke")
    assert [budgets.preset(s, w) for s, w in ((False, False), (False, True), (True, False), (True, True))] == \
        ["default", "workshop", "smoke", "smoke"]
    b = budgets.BUDGETS[5]
    assert (b.units(), b.units(workshop=True), b.units(smoke=True, workshop=True)) == (b.default, b.workshop, b.smoke)
    assert budgets.budget_seconds(5, workshop=True, t_ref=2.0) == pytest.approx(2 * b.workshop)
    report = budgets.budget_report(5, elapsed=0.5 * b.workshop * 0.1, t_ref=0.1, workshop=True)
    assert report["within"] and report["preset"] == "workshop" and report["budget_units"] == b.workshop
    assert f"budget {b.workshop:g} units at the workshop preset: within it" in report["text"]
    assert budgets.budget_report(5, elapsed=1.0, t_ref=0.1, smoke=True, workshop=True)["preset"] == "smoke"


def test_budget_report_within_and_over():
    limit = budgets.BUDGETS[1].default
    fine = budgets.budget_report(1, elapsed=0.5 * limit * 0.1, t_ref=0.1)
    assert fine["within"] and fine["units"] == pytest.approx(0.5 * limit)
    assert "within it" in fine["text"] and fine["budget_seconds_here"] == pytest.approx(0.1 * limit)
    over = budgets.budget_report(1, elapsed=2 * limit * 0.1, t_ref=0.1)
    assert not over["within"] and "OVER BUDGET" in over["text"]
    # a machine twice as slow (t_ref doubled) is allowed twice the seconds
    slow = budgets.budget_report(1, elapsed=2 * 0.5 * limit * 0.1, t_ref=0.2)
    assert slow["within"] and slow["speed"] == pytest.approx(budgets.REFERENCE["seconds"] / 0.2)


def test_busy_processes_sees_another_busy_process():
    # A busy loop that is not our child (its parent shell exits at once), as another user's job would be.
    script = "import time\nt = time.time()\nwhile time.time() - t < 8: pass"
    out = subprocess.run(["sh", "-c", f'{sys.executable} -c "{script}" >/dev/null 2>&1 & echo $!'],
                         capture_output=True, text=True, check=True)
    pid = int(out.stdout.strip())
    try:
        time.sleep(0.3)
        # make test's other worker (Chromium, a kernel) can keep both cores busy, leaving the loop only a few
        # per cent of a core: the threshold asks for CPU use at all (an idle process shows 0 %)
        busy = budgets.busy_processes(interval=1.0, threshold=2.0)
        assert pid in [p for p, _, _ in busy], busy
    finally:
        subprocess.run(["kill", str(pid)], check=False)


def test_notebooks_read_their_budget_from_the_one_table():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        n = int(path.name[:2])
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells)
        box = next("".join(c["source"]) for c in cells if "**Compute budget:**" in "".join(c["source"]))
        assert f"{{glue:text}}`ch{n}_budget_units`" in box and f"{{glue:text}}`ch{n}_budget_s:.0f`" in box, path.name
        assert f'glue("ch{n}_budget_units", q.budgets.BUDGETS[{n}].default' in text, path.name
        assert f"q.budgets.budget_report({n}, elapsed, smoke=smoke, workshop=workshop)" in text, path.name
        assert f'glue("ch{n}_workshop_s", q.budgets.budget_seconds({n}, workshop=True)' in text, path.name
        assert f"{{glue:text}}`ch{n}_workshop_s:.0f` seconds with `workshop = True`" in box, path.name
        assert "seconds on a two-core" not in text and "(budget: " not in text, f"{path.name} still types a budget"


def test_book_substitutions_quote_the_table():
    spec = importlib.util.spec_from_file_location("quinebook_budgets", ROOT / "book" / "_ext" / "quinebook_budgets.py")
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    subs = ext.budget_substitutions()
    for n, b in budgets.BUDGETS.items():
        assert subs[f"budget_ch{n}_s"] == f"{budgets.budget_seconds(n):.0f}"
        assert subs[f"budget_ch{n}"].startswith(f"{b.default:g} reference units")
        assert subs[f"budget_ch{n}_workshop"].startswith(f"{b.workshop:g} reference units")
        assert subs[f"budget_ch{n}_workshop_s"] == f"{budgets.budget_seconds(n, workshop=True):.0f}"
    workshop = (ROOT / "book" / "workshop.md").read_text()
    for n in budgets.BUDGETS:
        assert f"{{{{ budget_ch{n}_s }}}}" in workshop, f"the workshop plan does not quote chapter {n}'s budget"
