"""Exact quines everywhere: chapter 6's architectures, and each experiment on them written once.

Chapter 6 and ``make bench`` call the same functions:

* :data:`ARCHITECTURES` and :func:`build`: the five networks, each with the solver settings that suit it;
* :func:`homotopy`: the fixed-point homotopy from a few seeded starts (for bounded F, the coordinate-query quine);
* :func:`solve` and :func:`train_baseline`: one architecture and one seed, the exact solver and the best
  training-only method (full-batch L-BFGS on rho^2, chapter 3) given a multiple of the solver's wall time;
* :func:`loop_factor` and :func:`perturbation_growth`: what the spectrum predicts for regeneration and
  the damped loop at a quine, and what the loops do;
* :func:`index_existence`: the index quine of Chang & Lipson at small sizes, per activation, with the
  smallest singular values of J - I where the solver stalls.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .checks import QuineInputError
from .exact import solve_exact
from .homotopy import fixed_point_homotopy
from .index_quine import IndexQuine, train_lbfgs
from .models import CoordinateQuine, QuineMLP, RecurrentQuine, probe_input
from .params import as_function, num_params
from .solvers import jacobian

__all__ = ["ARCHITECTURES", "Architecture", "build", "solve", "homotopy", "train_baseline", "loop_factor", "perturbation_growth",
           "index_existence", "nontrivial"]


@dataclass(frozen=True)
class Architecture:
    """One network of the gallery: its label in tables, and the exact solver's settings for it."""

    label: str
    solver: dict


ARCHITECTURES = {
    # 8 -> 20 -> 20 -> 20 tanh, fixed projection, alpha = 4 (chapter 1); the same normalised, alpha = 0.25 (chapter 2)
    "blog": Architecture("the blog's network, no normalisation (α = 4)", {}),
    "blog-norm": Architecture("the blog's network with normalisation", {}),
    # (row, col) -> fixed 2 -> 16 -> ReLU -> W -> batch norm over the queries -> ReLU -> fixed 16 -> 1 (Fletcher)
    "coordinate": Architecture("coordinate-query quine (16 × 16)",
                               {"warm": "alternating", "warm_iters": 3000, "restarts": 0, "max_iter": 60}),
    # index c -> fixed embedding row (d = 8) -> 8 -> 8 -> 1, tanh, no biases (chapter 3, small).  A start
    # succeeds on some draws only one time in several: 16 starts found a quine on 19 of draws 0-19, 4 on 13.
    "index": Architecture("index quine, tanh (P = 136)", {"restarts": 15, "warm_iters": 100}),
    # clock x_t -> h_t = tanh(W h_{t-1} + U x_t) -> v . h_t, one weight per step (16 starts: 19 of draws
    # 0-19, 5 starts: 14).  The coordinate-query quine gains little from a few more starts (5 starts: 12 of
    # 20, 1 start: 11); its misses are no proof that a draw has no quine: 31 starts with a 1,000-epoch warm
    # start found quines of draws 3, 7 and 10 (draws 7 and 10 at starts 29 and 24, 30-46 s a call), none
    # of draws 0, 8, 12, 13 and 16.  The fixed-point homotopy (``homotopy`` below, up to three 40 s paths)
    # found draw 0's; every path of the other four ran out of its 40 s, at tau = 0.82-0.98.
    "recurrent": Architecture("recurrent quine (8 hidden units)", {"restarts": 15}),
}


def build(name: str, seed: int = 0):
    """(model, inputs, min_norm) for architecture ``name`` drawn with ``seed`` (float64)."""
    if name not in ARCHITECTURES:
        raise QuineInputError(f"architecture must be one of {sorted(ARCHITECTURES)}, got {name!r}")
    if name in ("blog", "blog-norm"):
        norm, alpha = (None, 4.0) if name == "blog" else ("instance", 0.25)
        model = QuineMLP(alpha=alpha, seed=seed, norm=norm)
        # the readout's scale, as chapters 1 and 2 define non-trivial
        return model, probe_input(8, seed=seed), 1e-3 * float(torch.linalg.matrix_norm(alpha * model.proj, ord=2))
    if name == "coordinate":
        model = CoordinateQuine(k=16, seed=seed)
    elif name == "index":
        model = IndexQuine(d=8, hidden=(8, 8), activation="tanh", seed=seed)
    else:
        model = RecurrentQuine(n=8, seed=seed)
    inputs = model.coordinates()
    return model, inputs, nontrivial(model)


def nontrivial(model) -> float:
    """The default non-triviality floor off the reduction path: a tenth of ||theta|| at the module's own
    initialisation (``solve_exact``'s default, written out so that the chapter can state it)."""
    with torch.no_grad():
        return 0.1 * float(torch.cat([p.reshape(-1) for p in model.parameters()]).norm())


def solve(name: str, seed: int = 0, **settings) -> dict:
    """One ``solve_exact`` call on architecture ``name`` drawn with ``seed``, with its settings (any of
    ``settings`` replaces the architecture's own, e.g. ``restarts=30``).

    Returns a row: P, whether the solver converged, rho and ||F(theta) - theta|| recomputed at the theta
    returned, ||theta*||, the floor, the wall time, the starts, the stability summary, the path and theta.
    """
    model, inputs, floor = build(name, seed)
    res = solve_exact(model, inputs=inputs, seed=seed, min_norm=floor, **{**ARCHITECTURES[name].solver, **settings})
    theta, residual = res.theta, res.residual  # the history ends at the theta returned
    norm = float(theta.norm())
    stab = res.extra.get("stability", {})
    return {"architecture": name, "seed": seed, "P": theta.numel(), "converged": res.converged,
            "rho": residual / norm if norm > 0 else math.inf, "residual": residual, "norm": norm,
            "floor": floor, "time": res.wall_time, "starts": res.extra["starts"],
            "max_abs": stab.get("max_abs", math.nan), "max_real": stab.get("max_real", math.nan),
            "path": res.extra["path"][-1], "theta": theta}


def homotopy(name: str, seed: int = 0, *, starts: int = 3, scale: float = 0.5, time_budget: float = 40.0,
             **settings) -> dict:
    """``fixed_point_homotopy`` on architecture ``name`` drawn with ``seed``, from up to ``starts`` points
    theta0 with independent N(0, ``scale``^2) entries (seeded by ``seed``), each path given ``time_budget``
    seconds; stops at the first exact non-trivial quine.  Returns a row like :func:`solve`'s, with the
    start that succeeded (``start``, None if none did), the path's steps and every start's stop reason."""
    model, inputs, floor = build(name, seed)
    P = num_params(model)
    gen = torch.Generator().manual_seed(int(seed))
    reasons, total, res, found_at = [], 0.0, None, None
    for k in range(1, starts + 1):
        a = scale * torch.randn(P, generator=gen, dtype=torch.float64)
        res = fixed_point_homotopy(model, a, inputs=inputs, min_norm=floor, time_budget=time_budget, **settings)
        total += res.wall_time
        reasons.append(res.stop_reason)
        if res.converged:
            found_at = k
            break
    norm = float(res.theta.norm())
    return {"architecture": name, "seed": seed, "P": P, "converged": res.converged,
            "start": found_at, "rho": res.relative_residual, "norm": norm,
            "floor": floor, "time": total, "steps": res.iterations, "reasons": reasons, "theta": res.theta}


def train_baseline(name: str, seed: int, seconds: float, cap: float | None = None) -> dict:
    """The best training-only method of the book on architecture ``name``: full-batch L-BFGS on rho^2
    (chapter 3) from the module's own start for ``seconds`` (at most ``cap``).  Returns the best
    non-trivial rho seen (inf if every iterate fell below the floor) and the time used."""
    model, inputs, floor = build(name, seed)
    budget = seconds if cap is None else min(seconds, cap)
    trained = train_lbfgs(model, inputs=inputs, max_iter=10**6, time_budget=max(budget, 1e-3))
    rhos = [r for r, n in zip(trained.relative_residuals, trained.theta_norms) if n >= floor]
    return {"train_rho": min(rhos) if rhos else math.inf, "train_time": trained.times[-1]}


def loop_factor(eigenvalues, eta: float) -> float:
    """max |1 - eta + eta lambda| over the spectrum: the factor by which the damped loop
    theta <- theta + eta (F(theta) - theta) multiplies a small error per step near the fixed point
    (eta = 1 is regeneration).  Below 1 the loop converges to the quine; above 1 it leaves it."""
    ev = np.asarray(eigenvalues)
    return float(np.abs(1 - eta + eta * ev).max())


def perturbation_growth(F, theta, *, eta: float, steps: int, size: float = 1e-6, seed: int = 0) -> float:
    """Run the damped loop (``eta`` = 1: regeneration) for ``steps`` steps from theta* plus a random
    perturbation of relative size ``size``; return the error's average growth per step,
    (||error after|| / ||error before||) ** (1 / steps done).  Stops early once the error grows to
    1e-2 ||theta*|| (the linearisation no longer holds) or shrinks to 1e-4 of its start (below that,
    rounding and the residual left at theta* take over)."""
    gen = torch.Generator().manual_seed(int(seed))
    e0 = torch.randn(theta.shape, generator=gen, dtype=theta.dtype).to(theta.device)
    e0 = e0 * (size * float(theta.norm()) / float(e0.norm()))
    x = theta + e0
    done = 0
    with torch.no_grad():
        for _ in range(steps):
            x, done = x + eta * (F(x) - x), done + 1
            err = float((x - theta).norm())
            if not math.isfinite(err) or err > 1e-2 * float(theta.norm()) or err < 1e-4 * float(e0.norm()):
                break
    err = float((x - theta).norm())
    growth = err / float(e0.norm()) if math.isfinite(err) else math.inf
    return growth ** (1 / done) if growth > 0 else 0.0


def index_existence(activations=("tanh", "selu", "relu"), widths=(4, 8), seeds=(0, 1, 2), *,
                    restarts: int = 3, warm_iters: int = 100, progress=None) -> list[dict]:
    """Chang & Lipson's index quine at small sizes (d = width, two hidden layers of that width, no
    biases): one ``solve_exact`` call per (activation, width, seed).  Each row holds rho at the theta
    returned, ||theta||, the time, and the three smallest singular values of J - I there relative to
    the largest (near 0 where the solver stalled at a stationary point of ||F(theta) - theta||)."""
    rows = []
    combos = [(a, w, s) for a in activations for w in widths for s in seeds]
    for act, width, seed in (combos if progress is None else progress(combos)):
        model = IndexQuine(d=width, hidden=(width, width), activation=act, seed=seed)
        inputs = model.coordinates()
        F = as_function(model, inputs)
        t0 = time.perf_counter()
        res = solve_exact(model, inputs=inputs, seed=seed, restarts=restarts, warm_iters=warm_iters,
                          min_norm=nontrivial(model))
        seconds = time.perf_counter() - t0
        theta = res.theta
        J = jacobian(F, theta)  # once: its singular values (of J - I) and, at a quine, its eigenvalues
        sv = torch.linalg.svdvals(J - torch.eye(theta.numel(), dtype=theta.dtype, device=theta.device))
        rows.append({"activation": act, "width": width, "P": theta.numel(), "seed": seed,
                     "converged": res.converged, "rho": res.relative_residual, "norm": float(theta.norm()),
                     "time": seconds, "starts": res.extra["starts"], "sigma_min": float(sv[-1] / sv[0]),
                     "max_abs": float(torch.linalg.eigvals(J).abs().max()) if res.converged else math.nan})
    return rows
