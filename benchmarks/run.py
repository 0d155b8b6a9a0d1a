"""`make bench`: time every chapter notebook at each of its sizes (default parameters, the workshop
preset and smoke: ``budgets.PRESETS``), through papermill in a fresh kernel each, and compare with the
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
import threading
import time
from pathlib import Path

import papermill as pm
import torch

from quinelib import budgets

ROOT = Path(__file__).resolve().parents[1]

#: Budgets of the chapters' result tables in minutes (training and evaluation, the whole table).
TABLE_BUDGETS = {"chapter5": 30.0, "chapter5-ablation": 20.0, "chapter5-seed004": 15.0}


def first_time(res, threshold):
    """Wall time at which a SolveResult's relative residual first reached the threshold (None: never)."""
    for t, r in zip(res.times, res.relative_residuals):
        if r <= threshold:
            return t
    return None


def bench_chapter1(seeds=(0, 1, 2), starts: int = 64) -> list[str]:
    """Chapter 1: the census of exact non-zero quines over alpha (no normalisation), and the contraction thresholds."""
    import numpy as np

    import quinelib as q

    alphas = [float(a) for a in np.geomspace(0.25, 8.0, 12)]
    rows = q.existence.census(alphas, seeds, starts=starts, max_iter=150, samples=512, progress=True)
    lines = ["### The census of exact non-zero quines (chapter 1)", "",
             f"`q.existence.census`: {starts} starts per (seed, α), uniform in the cube [−1, 1]^r; a quine counts when its "
             "relative residual ρ ≤ 1e-12 and ‖θ‖ ≥ 1e-3 ‖αΠ‖₂; two are the same when they differ by ≤ 1e-6 ‖θ‖.", "",
             "| α | " + " | ".join(f"seed {s}: distinct quines" for s in seeds) + " | largest ‖θ*‖ |",
             "|---" * (len(seeds) + 2) + "|"]
    for a in alphas:
        here = [row for row in rows if row["alpha"] == a]
        biggest = max((n for row in here for n in row["norms"]), default=None)
        lines.append(f"| {a:.3g} | " + " | ".join(str(row["quines"]) for row in here) + " | "
                     + ("—" if biggest is None else f"{biggest:.3g}") + " |")
    lines += ["", "| seed | α_B (Banach, proven) | α̂ (sampled Lipschitz = 1) | smallest α with a quine |",
              "|---|---|---|---|"]
    for s in seeds:
        first = min((row["alpha"] for row in rows if row["seed"] == s and row["quines"]), default=float("nan"))
        lines.append(f"| {s} | {q.existence.critical_alpha('bound', seed=s):.3f} | "
                     f"{q.existence.critical_alpha('estimate', seed=s, samples=512):.3f} | {first:.3g} |")
    return lines


def bench_chapter2(reliability_seeds: int = 20) -> list[str]:
    """Chapter 2: the blog's loop (200k steps) against the exact solver, and the reliability table."""
    import quinelib as q

    lines = ["", "**Time to a relative residual** (seed 0, the blog's set-up with instance norm)", "",
             "| method | to 1e-2 (s) | to 1e-6 (s) | to 1e-12 (s) | final relative residual | wall time (s) |",
             "|---|---|---|---|---|---|"]
    model, z = q.QuineMLP(seed=0, norm="instance"), q.probe_input(seed=0)
    floor = q.nontrivial_floor(model)
    # Warm both up first (first calls pay for allocations and torch.func set-up), on another seed.
    warm_model, warm_z = q.QuineMLP(seed=1, norm="instance"), q.probe_input(seed=1)
    q.train(warm_model, inputs=warm_z, steps=200, lr=1e-3)
    q.solve_exact(warm_model, inputs=warm_z, min_norm=floor)
    loop = q.train(model, inputs=z, steps=200_000, lr=1e-3, record_every=10)
    exact = q.solve_exact(model, inputs=z, min_norm=floor)
    fmt = lambda t: "never" if t is None else f"{t:.3f}"  # noqa: E731
    for name, r in (("the blog's loop, RMSprop 200k steps", loop), ("exact solver, cold start", exact)):
        lines.append(f"| {name} | {fmt(first_time(r, 1e-2))} | {fmt(first_time(r, 1e-6))} | "
                     f"{fmt(first_time(r, 1e-12))} | {r.relative_residual:.1e} | {r.wall_time:.2f} |")
    ratios = []
    for thr in (1e-2, 1e-6, 1e-12):
        a, b = first_time(loop, thr), first_time(exact, thr)
        ratios.append(f"{thr:g}: " + ("loop never gets there" if a is None else f"{a / b:.0f}x sooner"))
    lines += ["", "Exact solver vs the blog's loop: " + "; ".join(ratios) + ".", "",
              f"**Reliability over {reliability_seeds} seeds** (cold start; exact = relative residual"
              " <= 1e-12 and ||theta|| >= alpha sqrt(P/n) / 4)", "",
              "| architecture | exact and non-trivial | median time (s) | slowest (s) | median starts |",
              "|---|---|---|---|---|"]
    archs = {"instance 20-20-20 (the blog's)": ("instance", (20, 20, 20)), "batch 20-20-20": ("batch", (20, 20, 20)),
             "instance 40-40-40 (wider)": ("instance", (40, 40, 40)),
             "instance 20-20-20-20 (deeper)": ("instance", (20, 20, 20, 20))}
    for name, (norm, hidden) in archs.items():
        def build(s, norm=norm, hidden=hidden):
            return q.QuineMLP(seed=s, norm=norm, hidden=hidden), q.probe_input(seed=s, batch=8 if norm == "batch" else 1)

        rel = q.exact.reliability(build, range(reliability_seeds))
        times, starts = sorted(rel["times"]), sorted(rel["starts"])
        lines.append(f"| {name} | {rel['successes']} of {reliability_seeds} | {times[len(times) // 2]:.2f} | "
                     f"{times[-1]:.2f} | {starts[len(starts) // 2]} |")
        print(lines[-1], flush=True)
    return lines


def time_notebook(path: Path, preset: str, seed: int | None = None) -> tuple[float, dict, list]:
    """Run a notebook with papermill at one of ``budgets.PRESETS``; return its wall time, the values it glued
    (name -> text/plain) and its per-cell profile [(seconds, cell index, first line)], slowest first."""
    parameters = budgets.switches(preset)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if seed is not None:
            parameters["seed"] = seed
        # Saved once at the end, not after every cell: a reader's Jupyter does not write the notebook (megabytes
        # of figures) after each cell either, and those writes would compete with the kernel for the cores.
        nb = pm.execute_notebook(str(path), os.path.join(tmp, path.name), parameters=parameters,
                                 kernel_name="python3", progress_bar=False, cwd=str(path.parent),
                                 request_save_on_cell_execute=False, autosave_cell_every=0)
        seconds = time.perf_counter() - t0
    glued, cells = {}, []
    for index, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            record = out.get("metadata", {}).get("scrapbook", {})  # myst_nb.glue's display_data
            if "name" in record:
                glued[record["name"]] = out["data"][record.get("mime_prefix", "") + "text/plain"]
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell.get("cell_type") == "code" and duration is not None:
            first = next((line for line in cell["source"].splitlines() if line.strip()), "")
            cells.append((float(duration), index, first))
    return seconds, glued, sorted(cells, reverse=True)


#: Goals stated inside a chapter, checked on its default run: notebook -> [(glued name, limit, what)].
GLUED_GOALS = {"05_weight_prediction": [("ch5_at_time", 90.0, "attention pooling's live training time (s)")]}


def bench_chapter3(budget: float = 120.0) -> list[str]:
    """Chapter 3 at the paper's size: paper-style training against full-batch L-BFGS."""
    import quinelib as q
    from quinelib.index_quine import IndexQuine, train_lbfgs, train_paper
    from quinelib.metrics import report

    lines = ["", "**Paper-style training against our method at P = 20,100** (seed 0, float32, 2 CPU cores)", "",
             "| method | L_SR | Σθ² | relative residual ρ | relative SR loss ρ² | R²₀ (against zero) | wall time (s) |",
             "|---|---|---|---|---|---|---|"]
    for name, run in (
        ("paper-style: Adamax, minibatches of 64, 30 epochs",
         lambda m: train_paper(m, epochs=30, optimizer="adamax", lr=1e-3, batch_size=64)),
        ("paper-style: Adamax + regeneration after every epoch, 30 epochs",
         lambda m: train_paper(m, epochs=30, optimizer="adamax", lr=1e-3, batch_size=64, regenerate_every=1)),
        (f"ours: full-batch L-BFGS on the relative SR loss ρ², {budget:.0f} s",
         lambda m: train_lbfgs(m, max_iter=100_000, time_budget=budget)),
    ):
        model = IndexQuine(seed=0, dtype=torch.float32)
        r = run(model)
        F = q.as_function(model, (model.coordinates(),))
        rep = report(F(r.theta).detach().double(), r.theta.double())
        lines.append(f"| {name} | {rep['L_SR']:.3g} | {rep['sum_theta2']:.3g} | {rep['relative_residual']:.4f} | "
                     f"{rep['relative_sr_loss']:.4f} | {rep['r2_against_zero']:.4f} | {r.wall_time:.1f} |")
        print(lines[-1], flush=True)
    return lines


def bench_chapter4(seeds=(0, 1, 2), iters: int = 200) -> list[str]:
    """Chapter 4's sweep at full size: nine values of lambda from 1e-3 to 10, more iterations, three seeds.

    Each run is reported by its relative residual rho = ||F(theta) - theta|| / ||theta|| and its relative SR loss
    rho^2 = L_SR / sum theta^2. The goal is the chapter's: within 2 points of the classify-only accuracy, and
    rho <= sqrt(0.1) ~ 0.316 (an R^2 against zero of at least 0.9).
    """
    import numpy as np

    from quinelib.aux_quine import AuxQuine, choose_lambda, train_aux, train_aux_paper
    from quinelib.data import load_digits_split

    goal_gap, goal_rho = 0.02, (1 - 0.9) ** 0.5
    lambdas = [float(v) for v in np.logspace(-3, 1, 9)]
    sizes = load_digits_split(0.25, seeds[0])
    P = AuxQuine(dtype=torch.float32).P
    lines = ["", f"**The λ sweep at full budget** ({iters} L-BFGS iterations per run; default sizes, P = {P:,}; "
             f"scikit-learn digits, {len(sizes['train_labels']):,} train / {len(sizes['test_labels']):,} test; "
             "float32, 2 CPU cores)", "",
             "| seed | run | test accuracy | relative residual ρ | relative SR loss ρ² | wall time (s) |",
             "|---|---|---|---|---|---|"]
    summary = ["", f"**Best point per seed** (among the runs within {100 * goal_gap:g} points of the classify-only "
               "accuracy, the one with the smallest relative residual ρ)", "",
               "| seed | classify-only accuracy | λ | accuracy | relative residual ρ | relative SR loss ρ² | "
               f"goal (≤ {100 * goal_gap:g} points, ρ ≤ √0.1 ≈ {goal_rho:.3f}) |", "|---|---|---|---|---|---|---|"]
    for seed in seeds:
        data = load_digits_split(0.25, seed)
        model = AuxQuine(seed=seed, dtype=torch.float32)
        runs = {"paper-style, λ = 0.01, 10 epochs": train_aux_paper(model, data, 0.01, epochs=10, seed=seed),
                "classify only": train_aux(model, data, 1.0, replicate=False, max_iter=iters, record_every=iters),
                "replicate only": train_aux(model, data, 0.0, max_iter=iters, record_every=iters)}
        swept = {lam: train_aux(model, data, lam, max_iter=iters, record_every=iters) for lam in lambdas}
        runs.update({f"λ = {lam:.3g}": r for lam, r in swept.items()})
        for name, r in runs.items():
            e = r.extra
            lines.append(f"| {seed} | {name} | {100 * e['test_accuracy'][-1]:.1f} % | {e['relative_residual'][-1]:.4f} | "
                         f"{e['relative_sr_loss'][-1]:.4f} | {r.wall_time:.1f} |")
            print(lines[-1], flush=True)
        base = runs["classify only"].extra["test_accuracy"][-1]
        lam = choose_lambda(swept, base, goal_gap)
        if lam is not None:
            r = swept[lam]
            acc, rho, rho2 = (r.extra[k][-1] for k in ("test_accuracy", "relative_residual", "relative_sr_loss"))
            summary.append(f"| {seed} | {100 * base:.1f} % | {lam:.3g} | {100 * acc:.1f} % | {rho:.4f} | {rho2:.4f} | "
                           f"{'met' if rho <= goal_rho else 'not met'} |")
        else:
            summary.append(f"| {seed} | {100 * base:.1f} % | — | — | — | — | not met (no λ within "
                           f"{100 * goal_gap:g} points) |")
    return lines + summary


def bench_chapter5(seed: int = 0, hops: int = 64, temperature: float = 0.5, polish_functions: int = 512) -> list[str]:
    """Chapter 5: the seed's R² table, one attention-pooling model per column of unknowns.

    Each model trains on fresh random networks with a random number of pairs per step (1.33x to 3x the
    unknowns), so one model answers all three rows of its column. The network's R² is measured on 4,096
    held-out networks x 256 fresh inputs.  On another ``polish_functions`` held-out networks,
    ``wp.compare_starts`` scores what the predictor buys once a solver polishes: the solver alone (LM from
    one random start, best of four), LM from the prediction (30 iterations), and ``hops`` rounds of basin
    hopping (``wp.basin_hopping``, Metropolis rule at ``temperature``) from the polished prediction and from
    the random start's fit.
    """
    from quinelib import weightpred as wp

    seed_table = {(15, 1.33): 0.983, (15, 2.0): 0.986, (15, 3.0): 0.990,
                  (50, 1.33): 0.917, (50, 2.0): 0.936, (50, 3.0): 0.938}
    seed_functions = 50_000 * 1024
    columns = {15: (wp.MLPSpec(2, 5, 1), 8_000), 50: (wp.MLPSpec(4, 10, 1), 4_500)}
    hopped = f"predictor + LM, {wp.hops_label(hops)}"
    table, solver, trained = [], [], []
    for unknowns, (spec, steps) in columns.items():
        assert spec.unknowns == unknowns
        pairs = {ratio: round(ratio * unknowns / spec.n_out) for ratio in (1.33, 2.0, 3.0)}
        torch.manual_seed(seed)
        model = wp.AttentionPool(spec.n_in + spec.n_out, unknowns, seeds=4, heads=4)
        rec = wp.train_inverse(model, spec, (pairs[1.33], pairs[3.0]), steps=steps, batch=256, seed=seed)
        assert rec.functions <= seed_functions // 10, "at most a tenth of the seed's training networks"
        for ratio, n in pairs.items():
            net = wp.evaluate_inverse(model, spec, n, functions=4096, seed=10_000 + n)["summary"]
            rows = wp.compare_starts(model, spec, n, functions=polish_functions, starts=4, iterations=30,
                                     hops=hops, temperature=temperature, seed=20_000 + n)
            ref = seed_table[(unknowns, ratio)]
            table.append([unknowns, n, f"{100 * ref:.1f} %", f"{100 * net['r2']:.2f} %",
                          f"{100 * net['r2_median']:.2f} %", f"{100 * rows['predictor + LM']['r2']:.2f} %",
                          f"{100 * rows[hopped]['r2']:.2f} %", f"{100 * rows[hopped]['r2_median']:.3f} %",
                          "yes" if net["r2"] > ref else "with polish" if rows[hopped]["r2"] > ref else "no"])
            print("| " + " | ".join(map(str, table[-1])) + " |", flush=True)
            for label, r in rows.items():
                solver.append([unknowns, n, label, f"{r['r2']:.4f}", f"{r['r2_median']:.4f}", f"{r['r2_p5']:.3f}",
                               f"{100 * r['fail_share']:.1f} %", f"{1000 * r['seconds_per_network']:.1f}"])
        trained.append(f"the {unknowns}-unknown model saw {rec.functions:,} networks ({steps:,} steps) in "
                       f"{rec.wall_time:.0f} s of training")
    lines = ["", "**The seed's R² table against our R²_μ (against the mean)** (attention pooling, batch 256, "
             f"Adam 1e-3 with a cosine schedule, seed {seed}; the network's R²_μ pooled over 4,096 held-out networks × "
             f"256 fresh inputs and its per-network median; the polished R²_μ on another {polish_functions:,}: 30 "
             f"Levenberg-Marquardt iterations on the pairs, then {hops} rounds of basin hopping at temperature "
             f"{temperature:g}; the seed trained on "
             f"{seed_functions:,} networks; {' and '.join(trained)}; the pairs are 1.33, 2 and 3 times the unknowns)",
             ""]
    lines += _table(["unknowns", "pairs", "seed's R²", "ours: R²_μ, network", "network: median",
                     "+ LM polish", f"+ LM, {wp.hops_label(hops)}", "hops: median", "beaten"], table)
    lines += ["", f"**What the predictor buys at the seed's sizes** (`wp.compare_starts` on {polish_functions:,} "
              "held-out networks per row: the solver alone from random LeCun starts, and from the prediction; 30 "
              f"Levenberg-Marquardt iterations, best of 4 starts chosen by the residual on the pairs; {hops} hops of "
              f"`wp.basin_hopping`, 20 iterations each, temperature {temperature:g}; failure: R²_μ,W < 0.9; time per network includes the "
              "predictor's forward pass where it is used)", ""]
    lines += _table(["unknowns", "pairs", "start of the fit", "R²_μ, pooled", "R²_μ,W: median",
                     "R²_μ,W: 5th percentile", "failure share", "ms per network"], solver)
    return lines


def _table(header, rows) -> list[str]:
    """A results table's lines (``q.notebook.markdown_table``'s text), each row printed as it is written."""
    from quinelib.notebook import markdown_table

    lines = markdown_table(header, [[str(cell) for cell in row] for row in rows]).data.splitlines()
    for line in lines[2:]:
        print(line, flush=True)
    return lines


def _encoder_rows(rows, extra: str, extra_format: str) -> list[list[str]]:
    """``wp.pooling_ablation``'s rows as table cells: label, pooled width, parameters, pooled and median R²_μ,
    the column ``extra`` (in ``extra_format``) and the training time."""
    return [[r["label"], r["pooled_width"], f"{r['parameters']:,}", f"{r['r2']:.4f}", f"{r['r2_median']:.4f}",
             format(r[extra], extra_format), f"{r['seconds']:.0f}"] for r in rows]


def bench_chapter5_ablation(seed: int = 0, steps: int = 2400) -> list[str]:
    """Chapter 5's pooling ablation at eight times the chapter's live steps (``wp.pooling_ablation``), with the
    exact (arc-cosine) training loss as a seventh row, then the four starts of ``wp.compare_starts`` for the
    four-seed attention model and the max-pooling Deep Sets model, at 20 pairs and at 10."""
    from quinelib import weightpred as wp

    spec = wp.MLPSpec(2, 5, 1)
    variants = wp.ABLATION + (("attention, 4 seeds, exact loss", "AttentionPool",
                               {"width": 128, "seeds": 4, "heads": 4, "loss": "exact"}),)
    rows = wp.pooling_ablation(spec, steps=steps, n_pairs=(10, 45), batch=256, lr=2e-3, hidden=128, functions=4096,
                               seed=seed, variants=variants)
    lines = ["", f"**The pooling ablation at equal budget** ({steps:,} steps of 256 fresh 2-5-1 networks each, 10-45 "
             f"pairs per step, Adam 2e-3 with a cosine schedule, seed {seed}; scored with 20 pairs on 4,096 held-out "
             "networks × 256 fresh inputs; per-network R²_μ,W: median and 5th percentile)", ""]
    lines += _table(["encoder", "pooled width d", "parameters", "R²_μ, pooled", "R²_μ,W: median",
                     "R²_μ,W: 5th percentile", "training time (s)"],
                    _encoder_rows(rows, "r2_p5", ".3f"))
    lines += ["", "**What the predictor buys: the solver alone** (`wp.compare_starts`, 30 Levenberg-Marquardt "
              "iterations, best of 4 random starts chosen by the residual on the pairs; 2,048 held-out networks; "
              "failure: R²_μ,W < 0.9)", "",
              "| predictor | pairs | start of the fit | R²_μ, pooled | R²_μ,W: median | R²_μ,W: 5th percentile | "
              "failure share | ms per network |", "|---|---|---|---|---|---|---|---|"]
    by_label = {r["label"]: r["model"] for r in rows}
    for name in ("attention, 4 seeds", "Deep Sets, max"):
        for n_pairs in (20, 10):
            for label, r in wp.compare_starts(by_label[name], spec, n_pairs, functions=2048, starts=4,
                                              iterations=30).items():
                lines.append(f"| {name} | {n_pairs} | {label} | {r['r2']:.4f} | {r['r2_median']:.4f} | "
                             f"{r['r2_p5']:.3f} | {100 * r['fail_share']:.1f} % | "
                             f"{1000 * r['seconds_per_network']:.2f} |")
                print(lines[-1], flush=True)
    return lines


def bench_chapter5_seed004(seed: int = 0, steps: int = 2400) -> list[str]:
    """Chapter 5's seed-004 comparisons at the ablation's full budget: the activation-statistics predictors against
    the set encoder (``wp.PROBE_COMPARISON``), the unseen width (``wp.width_generalisation``), and the zoo of
    trained networks with the architecture-only predictor trained on it (``q.zoo``)."""
    import torch

    from quinelib import weightpred as wp
    from quinelib import zoo as zm

    spec = wp.MLPSpec(2, 5, 1)
    rows = wp.pooling_ablation(spec, steps=steps, n_pairs=20, eval_pairs=20, batch=256, lr=2e-3, hidden=128,
                               functions=4096, seed=seed, variants=wp.PROBE_COMPARISON, refine=30)
    lines = ["", f"**What else a predictor can read** ({steps:,} steps of 256 fresh 2-5-1 networks each, 20 pairs, "
             f"Adam 2e-3 with a cosine schedule, seed {seed}; scored on 4,096 held-out networks × 256 fresh inputs; "
             "polish: 30 Levenberg-Marquardt iterations on the 20 pairs)", ""]
    lines += _table(["predictor (20 outputs)", "numbers read", "parameters", "R²_μ, pooled", "R²_μ,W: median",
                     "after LM polish", "training time (s)"],
                    _encoder_rows(rows, "r2_refined", ".4f"))
    g = wp.width_generalisation(wp.MLPSpec(2, 8, 1), train_range=(1, 4), steps=steps, n_pairs=(10, 45),
                                eval_pairs=30, batch=256, lr=2e-3, hidden=128, functions=2048, refine=30,
                                seed=seed)
    lines += ["", f"**A width it never saw** (2-8-1 networks using k of their 8 hidden units; Deep Sets, max "
              f"pooling, pairs alone, {steps:,} steps, 10-45 pairs per step; scored with 30 pairs on 2,048 held-out "
              "networks per width)", "",
              "| hidden units k | trained on 1-4: R²_μ | trained on 1-8 (control): R²_μ | trained on 1-4, after LM "
              "polish |", "|---|---|---|---|"]
    for h, a, b in zip(g["widths"], g["trained"], g["control"]):
        lines.append(f"| {h} | {a['r2']:.4f} | {b['r2']:.4f} | {a['r2_refined']:.4f} |")
        print(lines[-1], flush=True)
    zspec = wp.MLPSpec(4, 3, 1)
    zoo = zm.train_zoo(zspec, students_per_width=512, widths=(1, 2, 3), steps=6000, lr=0.02, seed=seed)
    full = zoo.widths == 3
    students = {k: v[full] for k, v in zoo.weights.items()}
    teacher = {k: v.expand(int(full.sum()), *v.shape[1:]) for k, v in zoo.teacher.items()}
    reproduces = zoo.r2[full] > 1 - 1e-6
    aligned = wp.aligned_weight_error(students, teacher, per_network=True)
    mean_r2 = float(zm.zoo_r2(zspec, {k: v.mean(0, keepdim=True) for k, v in students.items()}, zoo.teacher)[0])
    arch = {}
    for loss in ("weights", "functional"):
        torch.manual_seed(seed)
        model = wp.ArchitectureOnly(3, zspec.unknowns)
        zm.fit_architecture_only(model, zoo, loss=loss, steps=2000, lr=1e-2, seed=seed)
        with torch.no_grad():
            arch[loss] = zm.zoo_r2(zspec, wp.unflatten_mlps(zspec, model(None, torch.eye(3))), zoo.teacher)
    lines += ["", f"**A zoo of trained networks** ({zoo.size} students of a balanced 4-3-1 teacher, 512 per width, "
              f"full-batch Adam for 6,000 steps on 256 inputs, {zoo.record.wall_time:.0f} s; the architecture-only "
              "predictor trained 2,000 steps on the zoo)", "",
              "| hidden units | students: median R²_μ | reproduce the teacher (1 − R²_μ < 1e-6) | architecture only, "
              "weight-space MSE: R²_μ | architecture only, functional loss: R²_μ |", "|---|---|---|---|---|"]
    for j, h in enumerate((1, 2, 3)):
        r2 = zoo.r2[zoo.widths == h]
        lines.append(f"| {h} | {float(r2.median()):.4f} | {float((r2 > 1 - 1e-6).double().mean()):.1%} | "
                     f"{float(arch['weights'][j]):.4f} | {float(arch['functional'][j]):.4f} |")
        print(lines[-1], flush=True)
    lines += ["", f"Three-unit students that reproduce the teacher: {int(reproduces.sum())} of {int(full.sum())}; "
              f"their largest relative weight error after canonicalising and aligning: "
              f"{float(aligned[reproduces].max()):.1e}; the zoo's mean three-unit weights as one network: "
              f"R²_μ {mean_r2:.4f}."]
    return lines


def bench_chapter6(seeds: int = 20, trained_seeds: int = 5, factor: float = 10.0, cap: float = 60.0) -> list[str]:
    """Chapter 6: the exact solver on every architecture of the gallery over ``seeds`` draws (one call
    each), against the best training-only method (full-batch L-BFGS on rho^2) given ``factor`` times the
    solver's time on the first ``trained_seeds`` draws (at most ``cap`` seconds each)."""
    import numpy as np

    from quinelib import gallery

    lines = ["", f"**Exact quines everywhere** ({seeds} draws per architecture, one `solve_exact` call each; "
             "success = ρ ≤ 1e-12 and ‖θ‖ above the non-triviality floor; training only = full-batch L-BFGS on "
             f"ρ² from the same start given {factor:g}× the solver's time, at most {cap:g} s, on the first "
             f"{trained_seeds} draws)", "",
             "| architecture | P | exact and non-trivial | median time (s) | slowest (s) | median ρ of the exact ones "
             "| training only: median best ρ | training only: median time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    gallery.solve("blog-norm", 99)  # warm-up: the first call pays for torch.func's set-up
    for name, arch in gallery.ARCHITECTURES.items():
        rows = [gallery.solve(name, s) for s in range(seeds)]
        trained = [gallery.train_baseline(name, r["seed"], factor * r["time"], cap) for r in rows[:trained_seeds]]
        ok = [r for r in rows if r["converged"]]
        times = [r["time"] for r in rows]
        lines.append(f"| {arch.label} | {rows[0]['P']} | {len(ok)} of {seeds} | {np.median(times):.2f} | "
                     f"{max(times):.2f} | {np.median([r['rho'] for r in ok]) if ok else float('nan'):.1e} | "
                     f"{np.median([t['train_rho'] for t in trained]):.1e} | "
                     f"{np.median([t['train_time'] for t in trained]):.1f} |")
        print(lines[-1], flush=True)
    return lines


def bench_chapter6_coordinate_misses(seeds: int = 20, restarts: int = 30, warm_iters: int = 1000) -> list[str]:
    """The draws of the coordinate-query quine that one call with the gallery's settings misses, each tried
    again with ``restarts`` + 1 starts (Fletcher's alternating warm start of ``warm_iters`` epochs each): a
    miss that many starts turn into a quine is the solver's failure, not the draw's."""
    from quinelib import gallery

    lines = ["", f"**The coordinate-query quine's misses, tried again** (draws 0-{seeds - 1} with the gallery's "
             f"settings, then each miss with {restarts + 1} starts, an alternating warm start of {warm_iters} "
             "epochs each, in one call)", "",
             "| draw | ρ of the one-start call | with more starts: found | at start | ρ | wall time (s) |",
             "|---|---|---|---|---|---|"]
    for seed in range(seeds):
        first = gallery.solve("coordinate", seed)
        if first["converged"]:
            continue
        again = gallery.solve("coordinate", seed, warm="alternating", warm_iters=warm_iters, restarts=restarts,
                              max_iter=60)
        lines.append(f"| {seed} | {first['rho']:.1e} | {'yes' if again['converged'] else 'no'} | "
                     f"{again['starts'] if again['converged'] else '—'} | {again['rho']:.1e} | "
                     f"{again['time']:.1f} |")
        print(lines[-1], flush=True)
    return lines


def path_ending(reason: str) -> str:
    """A homotopy path's stop reason in a few words: "quine", "out of time at τ = 0.83", "lost at τ = 0.91"."""
    import re

    if reason.startswith("converged"):
        return "quine"
    at = re.search(r"tau = (-?[0-9.]+)", reason)
    where = f" at τ = {float(at.group(1)):.2f}" if at else ""
    if reason.startswith("time budget"):
        return "out of time" + where
    if reason.startswith("lost"):
        return "lost" + where
    return reason.split(":")[0]


def bench_chapter6_coordinate_homotopy(starts: int = 3, time_budget: float = 40.0) -> list[str]:
    """The draws of the coordinate-query quine that the many-start call of the table before still missed
    (read from ``chapter6-coordinate-misses.md``), each given the fixed-point homotopy from up to ``starts``
    starts theta0, ``time_budget`` seconds a path."""
    import quinelib as q
    from quinelib import gallery

    still = [r for r in q.notebook.bench_table(6, "coordinate-misses") if r["with more starts: found"] == "no"]
    lines = ["", f"**The fixed-point homotopy on the draws still missed** (the coordinate-query quine; up to "
             f"{starts} paths a draw, from θ₀ with N(0, 0.5²) entries, at most {time_budget:g} s a path)", "",
             "| draw | ρ of the many-start call | homotopy: found | at path | ρ at the last path's end | ‖θ*‖ "
             "| accepted steps of the last path | wall time (s) | how each path ended |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in still:
        h = gallery.homotopy("coordinate", int(r["draw"]), starts=starts, time_budget=time_budget)
        norm_text = f"{h['norm']:.2f}" if h["converged"] else "—"
        lines.append(f"| {r['draw']} | {float(r['ρ']):.1e} | {'yes' if h['converged'] else 'no'} | "
                     f"{h['start'] or '—'} | {h['rho']:.1e} | {norm_text} | {h['steps']} | {h['time']:.1f} | "
                     f"{'; '.join(map(path_ending, h['reasons']))} |")
        print(lines[-1], flush=True)
    return lines


#: What the child process of :func:`bench_chapter6_index_full` runs: one ``solve_exact`` call on Chang & Lipson's
#: network at P = 20,100 (matrix-free path, L-BFGS warm start), or L-BFGS alone for a given time; prints a JSON
#: line with the relative residuals, the times and the child's own peak resident memory.
INDEX_FULL_CHILD = """
import json, resource, sys, time, torch
from quinelib.exact import solve_exact
from quinelib.index_quine import IndexQuine, train_lbfgs
kind, warm_iters, max_iter, krylov_iters, seconds = sys.argv[1], *map(int, sys.argv[2:5]), float(sys.argv[5])
model = IndexQuine(seed=0, dtype=torch.float64)
inputs = (model.coordinates(),)
t0 = time.perf_counter()
if kind == "solver":
    res = solve_exact(model, inputs=inputs, method="matrix-free", restarts=0, warm_iters=warm_iters,
                      max_iter=max_iter, krylov_iters=krylov_iters, patience=0)
    rho = res.relative_residuals
    out = {"rho_start": rho[0], "rho_warm": rho[1], "rho": min(rho), "iterations": res.iterations,
           "warm_time": res.times[1]}
else:
    res = train_lbfgs(model, inputs=inputs, max_iter=10**6, time_budget=seconds)
    out = {"rho": min(res.relative_residuals)}
out.update(time=time.perf_counter() - t0, peak_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
print(json.dumps(out))
"""


def bench_chapter6_index_full(warm_iters: int = 300, max_iter: int = 4, krylov_iters: int = 100) -> list[str]:
    """Chapter 6's open question at the paper's size: one ``solve_exact`` call on Chang & Lipson's SELU index
    network (P = 20,100, float64, seed 0) by the matrix-free path (no P x P matrix: one would take 3.2 GB),
    against full-batch L-BFGS alone given the call's wall time.  Each runs in a child process, which reports
    its own peak resident memory (the goal: under 2 GB; 2 GiB is 2.15 GB)."""
    import json
    import subprocess

    def child(*args):
        out = subprocess.run([sys.executable, "-c", INDEX_FULL_CHILD, *map(str, args)], cwd=ROOT, check=True,
                             capture_output=True, text=True, timeout=1800)
        return json.loads(out.stdout.strip().splitlines()[-1])

    solver = child("solver", warm_iters, max_iter, krylov_iters, 0)
    lbfgs = child("lbfgs", 0, 0, 0, solver["time"])
    lines = ["", "**The index quine at the paper's size** (Chang & Lipson's SELU network, P = 20,100, float64, "
             "seed 0; one call each, in a child process whose peak resident memory is given)", "",
             "| method | ρ at the start | ρ reached | wall time (s) | peak memory (GiB) |", "|---|---|---|---|---|",
             f"| `solve_exact`, matrix-free: L-BFGS warm start ({warm_iters} it., {solver['warm_time']:.0f} s, "
             f"to ρ = {solver['rho_warm']:.3f}), then {solver['iterations']} Levenberg-Marquardt steps "
             f"(LSQR, at most {krylov_iters} iterations each) | {solver['rho_start']:.3f} | {solver['rho']:.3f} | "
             f"{solver['time']:.0f} | {solver['peak_gb']:.2f} |",
             f"| full-batch L-BFGS on ρ² alone, the same time | {solver['rho_start']:.3f} | {lbfgs['rho']:.3f} | "
             f"{lbfgs['time']:.0f} | {lbfgs['peak_gb']:.2f} |"]
    print("\n".join(lines[-2:]), flush=True)
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run only notebooks whose name starts with this")
    ap.add_argument("--out", default=str(ROOT / "_build" / "bench" / "results.md"))
    ap.add_argument("--no-notebooks", action="store_true", help="skip the notebook timings")
    ap.add_argument("--no-tables", action="store_true", help="skip the chapters' result tables")
    ap.add_argument("--table", default="", help="run only this result table (e.g. chapter5-ablation)")
    ap.add_argument("--seed", type=int, default=None,
                    help="run the notebooks with this seed instead of their default (budgets hold for any seed)")
    args = ap.parse_args(argv)
    env = os.environ.copy()
    os.environ.pop("QUINEBOOK_SMOKE", None)  # the parameter decides, not the environment
    busy = budgets.busy_processes()
    # Watch for other busy processes all through the run, not only between notebooks.
    watching = threading.Event()

    def watch():
        while not watching.is_set():
            busy.extend(budgets.busy_processes(interval=2.0))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t_ref_before = budgets.reference_time(repeats=5)
    print(f"reference workload: t_ref = {t_ref_before:.3f} s", flush=True)
    rows, over, goals, profiles, timings = [], [], [], [], []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if args.no_notebooks or not path.name.startswith(args.only):
            continue
        chapter = int(path.stem[:2])
        for preset in budgets.PRESETS:
            try:
                seconds, glued, cells = time_notebook(path, preset, args.seed)
            except pm.PapermillExecutionError as err:  # one failing notebook does not stop the others
                over.append(f"{path.stem} ({preset}) FAILED: {err.ename}: {err.evalue}")
                print(over[-1], flush=True)
                continue
            timings.append((path.stem if args.seed is None else f"{path.stem} (seed {args.seed})", chapter, preset,
                            seconds))
            for name, goal, what in GLUED_GOALS.get(path.stem, []) if preset == "default" else []:
                value = float(glued[name])
                goals.append(f"| {path.stem} | {what} | {value:.1f} | {goal:g} | "
                             f"{'ok' if value <= goal else 'OVER BUDGET'} |")
                if value > goal:
                    over.append(f"{path.stem}: {what} {value:.1f} > {goal:g}")
            if preset != "smoke":
                profiles += ["", f"**{path.stem}**, {preset} parameters: the slowest cells", "",
                             "| cell | wall time (s) | share | first line |", "|---|---|---|---|"]
                profiles += [f"| {index} | {d:.1f} | {100 * d / seconds:.0f} % | `{first[:70].replace('|', '/')}` |"
                             for d, index, first in cells[:6]]
            print(f"{path.stem} ({preset}): {seconds:.1f} s", flush=True)
    t_ref_after = budgets.reference_time(repeats=5) if timings else t_ref_before
    watching.set()
    watcher.join()
    t_ref = (t_ref_before + t_ref_after) / 2
    for stem, chapter, preset, seconds in timings:
        switches = budgets.switches(preset)
        limit = budgets.BUDGETS[chapter].units(**switches)
        units = budgets.cost_in_units(seconds, t_ref)
        ok = units <= limit
        margin = 100 * (1 - units / limit)
        if not ok:
            over.append(f"{stem} ({preset}: {units:.1f} > {limit:g} units)")
        rows.append(f"| {stem} | {preset} | {seconds:.1f} | {units:.1f} | {limit:g} | "
                    f"{budgets.budget_seconds(chapter, **switches):.0f} | {margin:.0f} % | "
                    f"{'ok' if ok else 'OVER BUDGET'} |")
    os.environ.clear()
    os.environ.update(env)
    header = [
        f"Benchmarks of {dt.datetime.now().isoformat(timespec='seconds')} on {platform.node()} "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads), command: `{' '.join(['python benchmarks/run.py'] + (argv or sys.argv[1:]))}`",
        ""]
    if timings:
        header += [
            f"Reference workload (`quinelib.budgets.reference_workload`): t_ref = {t_ref_before:.3f} s before the "
            f"notebooks and {t_ref_after:.3f} s after them (mean {t_ref:.3f} s; {budgets.REFERENCE['seconds']:.2f} s "
            f"on the reference machine, {budgets.REFERENCE['machine']}). A notebook's cost in reference units is "
            "its wall time over t_ref; the budgets (`quinelib.budgets.BUDGETS`) are in those units.", ""]
        if busy:
            names = sorted({f"{name} (pid {pid}, {cpu:.0f} % CPU)" for pid, name, cpu in busy})
            header += ["**Warning: other processes were busy during this run** (two torch jobs at once slow each "
                       "other several-fold; these timings are not quiet): " + ", ".join(names[:8]) + ".", ""]
        else:
            header += ["No other busy process was seen during the run (sampled every 2 s: a quiet machine).", ""]
        header += ["| notebook | parameters | wall time (s) | reference units | budget (units) | "
                   "budget on the reference machine (s) | margin | |", "|---|---|---|---|---|---|---|---|"]
        budgets_file = ROOT / "benchmarks" / "results" / ("budgets.md" if args.seed is None else
                                                          f"budgets-seed{args.seed}.md")
        budgets_file.write_text(
            "\n".join([f"*Measured by `make bench` ({header[0].removeprefix('Benchmarks of ')}).*", ""]
                      + header[2:] + rows + profiles) + "\n")
    extra = []
    for chapter, bench, how, name in (
            ("01", bench_chapter1, "seeds 0-2, 12 values of α, 64 starts each", "chapter1"),
            ("02", bench_chapter2, "seeds 0-19, cold starts", "chapter2"),
            ("03", bench_chapter3, "seed 0, P = 20,100", "chapter3"),
            ("04", bench_chapter4, "seeds 0-2, digits", "chapter4"),
            ("05", bench_chapter5, "seed 0; `python benchmarks/run.py --only 05 --no-notebooks`", "chapter5"),
            ("05", bench_chapter5_ablation,
             "seed 0; `python benchmarks/run.py --only 05 --table chapter5-ablation --no-notebooks`",
             "chapter5-ablation"),
            ("05", bench_chapter5_seed004,
             "seed 0; `python benchmarks/run.py --only 05 --table chapter5-seed004 --no-notebooks`",
             "chapter5-seed004"),
            ("06", bench_chapter6, "draws 0-19 of every architecture", "chapter6"),
            ("06", bench_chapter6_coordinate_misses,
             "draws 0-19; `python benchmarks/run.py --only 06 --table chapter6-coordinate-misses --no-notebooks`",
             "chapter6-coordinate-misses"),
            ("06", bench_chapter6_coordinate_homotopy,
             "`python benchmarks/run.py --only 06 --table chapter6-coordinate-homotopy --no-notebooks`",
             "chapter6-coordinate-homotopy"),
            ("06", bench_chapter6_index_full,
             "seed 0; `python benchmarks/run.py --only 06 --table chapter6-index-full --no-notebooks`",
             "chapter6-index-full")):
        if args.no_tables or (args.only and not chapter.startswith(args.only)
                              and not args.only.startswith(chapter)) or (args.table and name != args.table):
            continue
        t0 = time.perf_counter()
        lines = bench()
        minutes, budget = (time.perf_counter() - t0) / 60, TABLE_BUDGETS.get(name)
        if budget is not None:
            lines += ["", f"Whole table (training and evaluation): {minutes:.1f} min wall; budget {budget:.0f} min: "
                      f"{'ok' if minutes <= budget else 'OVER BUDGET'}."]
            print(lines[-1], flush=True)
            if minutes > budget:
                over.append(f"chapter {int(chapter)} table ({minutes:.1f} min > {budget:.0f} min)")
        extra += lines
        # the chapter shows this table: keep it in the repository, with how it was made
        results = ROOT / "benchmarks" / "results" / f"{name}.md"
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text("\n".join([f"*Measured by `make bench` ({header[0].removeprefix('Benchmarks of ')});"
                                       f" {how}.*"] + lines) + "\n")
        print(f"written to {results}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows += profiles
    if goals:
        rows += ["", "**Goals stated in the chapters** (default parameters)", "",
                 "| notebook | quantity | measured | goal | |", "|---|---|---|---|---|"] + goals
    out.write_text("\n".join(header + rows + extra) + "\n")
    print("\n".join(header + rows + extra))
    print(f"\nwritten to {out}")
    if over:
        print("over budget:", ", ".join(over))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
