"""Do non-zero quines exist?  A census over the output scale alpha, and a contraction bound.

For a ``QuineMLP`` without normalisation every quine is theta = alpha u Pi with
u = G(u) = h_L(alpha u Pi) (chapter 1; ``exact.readout_reduction``).  G maps
everything into the cube C = [-1, 1]^r (tanh), so every quine's u lies in C, a
convex set.  If K = sup_{u in C} ||dG/du||_2 < 1, G is a contraction on C and, by
Banach's theorem, has exactly one fixed point there: u = 0, the zero quine.

* ``lipschitz_bound``    a rigorous upper bound on K (triangle and Cauchy-Schwarz
                         inequalities, layer by layer);
* ``lipschitz_estimate`` max ||dG/du||_2 over sampled u in C: a lower bound on K,
                         close to it in practice (a heuristic threshold);
* ``critical_alpha``     the alpha at which the bound (or the estimate) reaches 1;
* ``census``             ``find_quines`` over a grid of alphas and seeds, one row each.
"""

from __future__ import annotations

import math
import time

import torch
from torch.func import jacfwd

from .checks import QuineInputError
from .exact import find_quines, readout_reduction
from .models import QuineMLP, probe_input
from .params import as_function
from .record import progress_bar

__all__ = ["reduced_map", "lipschitz_bound", "lipschitz_estimate", "critical_alpha", "census"]


def _check_plain(model):
    if not isinstance(model, QuineMLP) or model.norm is not None:
        raise QuineInputError("the contraction argument is for a QuineMLP without normalisation (norm=None)")


def reduced_map(model: QuineMLP, z: torch.Tensor):
    """G(u) = h_L(alpha u Pi), the r-dimensional fixed-point map whose zeros of G(u) - u are the quines."""
    G, _, _ = readout_reduction(as_function(model, z), model.alpha * model.proj)
    return G


def lipschitz_bound(model: QuineMLP, z: torch.Tensor) -> float:
    """A rigorous bound K_bar >= sup_{u in C} ||dG/du||_2.

    With w = alpha ||Pi||_2 sqrt(r) >= ||theta|| >= ||W_l||_2 for every theta = alpha u Pi, u in C,
    and c_l = sqrt(||h_{l-1}||^2 + 1) (||h_0|| = ||z||, ||h_l|| <= sqrt(n_l)), the chain rule gives
    ||dh_L/dtheta||_2 <= sqrt(sum_l c_l^2 w^(2 (L - l))), and dG/du = (dh_L/dtheta) alpha Pi^T.
    """
    _check_plain(model)
    pi_norm = float(torch.linalg.matrix_norm(model.proj, ord=2))
    r = model.proj.shape[0]
    w = model.alpha * pi_norm * math.sqrt(r)
    widths = [None, *model.hidden]
    L = len(model.hidden)
    total = 0.0
    for ell in range(1, L + 1):
        h_prev = float(z.reshape(-1).norm()) ** 2 if ell == 1 else widths[ell - 1]
        total += (h_prev + 1.0) * w ** (2 * (L - ell))
    return model.alpha * pi_norm * math.sqrt(total)


def lipschitz_estimate(model: QuineMLP, z: torch.Tensor, samples: int = 256, seed: int = 0) -> float:
    """max ||dG/du||_2 over ``samples`` points of C (uniform, seeded) and the centre u = 0."""
    _check_plain(model)
    G = reduced_map(model, z)
    r = model.proj.shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    u = (2 * torch.rand(samples, r, generator=gen, dtype=model.proj.dtype) - 1).to(model.proj.device)
    u = torch.cat([u.new_zeros(1, r), u])
    with torch.no_grad():
        J = torch.vmap(jacfwd(G))(u)
    return float(torch.linalg.matrix_norm(J, ord=2).max())


def critical_alpha(which: str = "bound", in_features: int = 8, hidden=(20, 20, 20), seed: int = 0,
                   samples: int = 256, tol: float = 1e-4) -> float:
    """The alpha at which the Lipschitz constant of G reaches 1 (bisection; K grows with alpha).

    ``which="bound"``: from ``lipschitz_bound``, so below it zero is *provably* the only quine
    (Banach); ``which="estimate"``: from ``lipschitz_estimate``, the heuristic threshold.
    """
    if which not in ("bound", "estimate"):
        raise QuineInputError(f"which must be 'bound' or 'estimate', got {which!r}")
    z = probe_input(in_features, seed=seed)

    def K(a):
        m = QuineMLP(in_features, hidden, alpha=a, seed=seed)
        return lipschitz_bound(m, z) if which == "bound" else lipschitz_estimate(m, z, samples, seed=seed)

    lo, hi = 0.0, 1.0
    while K(hi) < 1:
        lo, hi = hi, 2 * hi
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if K(mid) < 1 else (lo, mid)
    return 0.5 * (lo + hi)


def census(alphas, seeds, *, in_features: int = 8, hidden=(20, 20, 20), starts: int = 32, max_iter: int = 100,
           samples: int = 256, progress: bool = False) -> list[dict]:
    """One row per (seed, alpha): the distinct quines ``find_quines`` finds from ``starts`` starts
    (``quines`` their number, ``thetas`` the quines themselves, ``norms`` their sizes), with the sampled
    Lipschitz estimate and the rigorous bound of the reduced map at that alpha."""
    rows = []
    grid = [(s, float(a)) for s in seeds for a in alphas]
    for s, a in progress_bar(grid, progress, "census"):
        t0 = time.perf_counter()
        model, z = QuineMLP(in_features, hidden, alpha=a, seed=s), probe_input(in_features, seed=s)
        found = find_quines(model, z, starts=starts, seed=s, max_iter=max_iter)
        rows.append(dict(seed=s, alpha=a, starts=starts, quines=len(found.quines), thetas=found.quines,
                         norms=found.norms,
                         hits=found.hits, zero=found.zero, stalled=found.stalled,
                         worst_rho=max(found.relative_residuals, default=float("nan")),
                         lipschitz_estimate=lipschitz_estimate(model, z, samples, seed=s),
                         lipschitz_bound=lipschitz_bound(model, z), seconds=time.perf_counter() - t0))
    return rows
