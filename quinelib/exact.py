"""Exact quines of any network, in one call.

``solve_exact(F, theta0=None, *, inputs=None, ...)`` takes an ``nn.Module`` (with its inputs) or any
function theta -> F(theta) and returns a quine to machine precision, choosing its path:

* **reduction**: a module with a fixed linear readout (``.proj`` and ``.alpha``, like ``QuineMLP``)
  has every quine in the readout's row space, so Levenberg-Marquardt runs on r unknowns
  (:func:`readout_reduction`, chapters 1 and 2);
* **dense**: otherwise, while P <= ``dense_max``, a warm start (L-BFGS on the relative SR loss
  rho^2, the true gradient) and then Levenberg-Marquardt with the dense Jacobian from
  ``torch.func.jacfwd``;
* **matrix-free**: for larger P the same Levenberg-Marquardt step, min ||A d + g||^2 + mu ||d||^2
  with A = J - I, is solved by scipy's LSQR (its ``damp`` argument *is* the damping) from
  Jacobian-vector products (``torch.func.jvp``) and vector-Jacobian products (``torch.func.vjp``)
  alone: no P x P matrix is ever built.

Multi-start with a seeded generator; the zero quine and every quine passed in ``known`` are
*deflated* (Farrell, Birkisson & Funke 2015): the solver works on m(theta) g(theta) with
m = prod_k (s_k^2 / ||theta - theta_k||^2 + 1), which cannot vanish at theta_k, so repeated calls find
distinct quines.  ``find_quines`` is the many-start census for networks with a fixed readout.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.func import jacfwd, jvp, vjp

from .checks import QuineInputError, check_positive
from .params import as_function
from .record import SolveResult, progress_bar
from .solvers import batched_levenberg_marquardt, damped_search, levenberg_marquardt, nontrivial_floor, resolve

__all__ = ["readout_reduction", "solve_exact", "damped_step_dense", "damped_step_matrix_free", "stability", "reduced_stability", "QuineCensus", "find_quines", "float_floor", "reliability"]

METHODS = ("auto", "reduction", "dense", "matrix-free")
WARM_STARTS = ("lbfgs", "alternating")


def float_floor(dtype: torch.dtype) -> float:
    """The smallest relative residual worth asking for in this dtype: 30 rounding units
    (about 4e-6 in float32, 7e-15 in float64)."""
    return 30 * torch.finfo(dtype).eps


def _reduced_problem(who: str, model, theta0, inputs, min_norm):
    """(F, theta0, readout, readout_reduction(F, readout), min_norm) for a model with a fixed readout
    alpha * proj; min_norm defaults to 1e-3 * ||readout||_2."""
    if not (hasattr(model, "proj") and hasattr(model, "alpha")):
        raise QuineInputError(f"{who} needs a model with a fixed linear readout (.proj and .alpha); "
                              "for any other F use levenberg_marquardt or train")
    F, theta_start = resolve(model, theta0, inputs)
    readout = model.alpha * model.proj
    if min_norm is None:
        min_norm = 1e-3 * float(torch.linalg.matrix_norm(readout, ord=2))
    return F, theta_start, readout, readout_reduction(F, readout), min_norm


def readout_reduction(F: Callable, readout: torch.Tensor):
    """Shrink F(theta) = theta to r unknowns when F's output is u @ readout.

    If every output of F is a combination of the r rows of a fixed matrix R
    (for ``QuineMLP``: R = alpha * proj, u = the last hidden layer), every
    fixed point has the form theta = u R, and u solves the r-dimensional
    fixed-point problem u = G(u) with G(u) = F(u R) R^+ (R^+ the
    pseudo-inverse; exact, because F(u R) lies in R's row space).  Returns
    (G, lift, project) with lift(u) = u R and project(theta) = theta R^+.
    """
    if readout.dim() != 2 or readout.shape[0] > readout.shape[1]:
        raise QuineInputError(f"readout must be an r x P matrix with r <= P, got shape {tuple(readout.shape)}")
    pinv = torch.linalg.pinv(readout)  # P x r

    def lift(u):
        return u @ readout

    def project(theta):
        return theta @ pinv

    def G(u):
        return project(F(lift(u)))

    return G, lift, project



def _solve_reduced(model, inputs, *, theta0=None, rtol: float = 1e-12, max_iter: int = 100, restarts: int = 30,
                   min_norm: float | None = None, seed: int = 0, patience: int = 20,
                   progress: bool = False) -> SolveResult:
    """An exact, non-trivial quine of a network with a fixed linear readout.

    Globalised Newton (Levenberg-Marquardt) on the reduced problem
    u = G(u) of :func:`readout_reduction` (20 unknowns for the seed's
    network instead of P = 1020), started from the features of theta0 and,
    if LM stalls in a local minimum of ||G(u) - u|| or finds the zero quine,
    restarted from the features of fresh random initialisations (seeded).
    The answer is lifted back to theta and checked on the full equation; the
    history records the full relative residual ||F(theta) - theta|| / ||theta||.
    A start is given up as soon as ||theta|| falls below ``min_norm`` (it is heading
    for the zero quine, which Levenberg-Marquardt approaches only linearly in
    relative terms: some twenty wasted iterations on the blog's network) or when
    rho has not halved in ``patience`` iterations (0: never).
    ``min_norm``: the smallest ||theta|| that counts as non-trivial
    (default: 1e-3 * ||readout||_2).  ``theta`` of the result is the best
    non-trivial iterate found (the converged one when ``converged``).
    """
    rtol = check_positive(rtol, "rtol")
    F, theta_start, readout, (G, lift, project), min_norm = _reduced_problem("solve_exact", model, theta0, inputs,
                                                                              min_norm)
    res = SolveResult(method="exact (reduced Levenberg-Marquardt)", theta=theta_start, theta0=theta_start.clone())
    t0 = time.perf_counter()
    with torch.no_grad():
        r0 = float((F(theta_start) - theta_start).norm())
    res.record(theta_start, r0, t0)
    gen = torch.Generator().manual_seed(int(seed))
    scale = float(theta_start.std()) or 0.1
    best = (float("inf"), theta_start)
    res.stop_reason = f"no exact non-trivial fixed point after {restarts + 1} starts"
    res.extra["starts"] = 0
    for attempt in progress_bar(range(restarts + 1), progress, "exact solver"):
        start = theta_start if attempt == 0 else scale * torch.randn(
            theta_start.shape, generator=gen, dtype=theta_start.dtype).to(theta_start.device)
        with torch.no_grad():
            u0 = project(F(start))

        rhos = []

        def record(k, u, r, rhos=rhos):
            th = lift(u)
            with torch.no_grad():
                res.record(th, float((F(th) - th).norm()), t0)
            # give up on a start early: one heading for the zero quine, or one stuck in a local minimum
            n = res.theta_norms[-1]
            rhos.append(res.residuals[-1] / max(n, 1e-300))
            if n < min_norm:
                return "||theta|| fell below the non-triviality floor (heading for the zero quine)"
            if _stagnated(rhos, patience):
                return f"rho fell by less than half in {patience} iterations"
            return None

        sub = levenberg_marquardt(G, u0, max_iter=max_iter, rtol=min(rtol, 1e-13), callback=record)
        res.extra["starts"] += 1
        res.iterations += sub.iterations
        theta = lift(sub.theta)
        with torch.no_grad():
            r = float((F(theta) - theta).norm())
        n = float(theta.norm())
        if n >= min_norm and r / n < best[0]:
            best = (r / n, theta)
        if n >= min_norm and r <= rtol * n:
            res.converged = True
            res.stop_reason = f"converged (start {attempt + 1})"
            break
    res.theta, res.wall_time = best[1], time.perf_counter() - t0
    return res




def stability(F: Callable, theta: torch.Tensor, *, dense_max: int = 3000) -> dict:
    """What decides whether loops converge to the fixed point theta: max |lambda| (regeneration needs
    it below 1) and max Re lambda (a damped loop with a small step needs it below 1) of J(theta).
    Dense eigenvalues while P <= ``dense_max``, else Arnoldi (``scipy.sparse.linalg.eigs``) on jvp."""
    P = theta.numel()
    if P <= dense_max:
        ev = torch.linalg.eigvals(jacfwd(F)(theta).reshape(P, P))
        return {"max_abs": float(ev.abs().max()), "max_real": float(ev.real.max()), "method": "dense eigenvalues"}
    from scipy.sparse.linalg import LinearOperator, eigs

    def matvec(v):
        t = torch.as_tensor(np.real(v).reshape(-1), dtype=theta.dtype, device=theta.device)
        return jvp(F, (theta,), (t,))[1].detach().cpu().numpy()

    op = LinearOperator((P, P), matvec=matvec, dtype=np.float64)
    big = eigs(op, k=4, which="LM", return_eigenvectors=False, maxiter=2000, tol=1e-8)
    right = eigs(op, k=4, which="LR", return_eigenvectors=False, maxiter=2000, tol=1e-8)
    return {"max_abs": float(np.abs(big).max()), "max_real": float(np.real(right).max()), "method": "Arnoldi on jvp"}


def reduced_stability(model, inputs, theta: torch.Tensor) -> dict:
    """:func:`stability` for a network with a fixed readout, from r x r instead of P x P.

    J = alpha Pi^T dh_L/dtheta has rank <= r and its range lies in the readout's row space, so its
    non-zero eigenvalues are those of J restricted to that space: the Jacobian of the reduced map
    G at u = project(theta), an r x r matrix.  The other P - r eigenvalues are 0.
    """
    G, _, project = readout_reduction(as_function(model, inputs), model.alpha * model.proj)
    ev = torch.linalg.eigvals(jacfwd(G)(project(theta)))
    zeros = theta.numel() > ev.numel()
    return {"max_abs": float(ev.abs().max()), "max_real": max(float(ev.real.max()), 0.0 if zeros else -math.inf),
            "method": f"reduced Jacobian ({ev.numel()} x {ev.numel()})"}


def _stagnated(rhos: list, patience: int) -> bool:
    """Whether rho (the history ``rhos``) has fallen by less than half in the last ``patience`` iterations
    (never, for ``patience`` = 0): the rule by which both paths of :func:`solve_exact` give up a start."""
    return bool(patience) and len(rhos) > patience and rhos[-1] > 0.5 * rhos[-1 - patience]


def _is_known(theta: torch.Tensor, known, same: float) -> int | None:
    """The index of the first quine in ``known`` within ``same`` * its norm of theta, else None."""
    for i, k in enumerate(known):
        if float((theta - k).norm()) <= same * float(k.norm()):
            return i
    return None


def _deflation(known: list, zero_scale: float):
    """m(theta) = prod_k (s_k^2 / ||theta - theta_k||^2 + 1) over the zero quine (s = zero_scale)
    and the known quines (s_k = ||theta_k||)."""
    points = [(None, zero_scale)] + [(k, float(k.norm())) for k in known]

    def m(theta):
        out = theta.new_ones(())
        for point, s in points:
            d2 = (theta * theta).sum() if point is None else ((theta - point) ** 2).sum()
            out = out * (s * s / d2 + 1)
        return out

    return m


def _warm_start(F, theta, iters: int):
    """L-BFGS (strong Wolfe) on the relative SR loss rho^2 = ||F(theta) - theta||^2 / ||theta||^2,
    true gradient: scale-free, and it cannot win by shrinking theta."""
    param = theta.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([param], lr=1, max_iter=iters, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-14, tolerance_change=1e-16)

    def closure():
        opt.zero_grad()
        g = F(param) - param
        loss = (g * g).sum() / (param * param).sum()
        if torch.isfinite(loss):
            loss.backward()
        return loss

    opt.step(closure)
    out = param.detach()
    return out if torch.isfinite(out).all() else theta


def _alternating_start(F, theta, epochs: int, lr: float = 1e-3):
    """Fletcher's loop as a warm start: regeneration theta <- F(theta) on even epochs, one RMSprop
    step on ||F(theta) - theta||^2 with the target detached on odd ones; returns the iterate with
    the smallest relative residual seen."""
    param = theta.detach().clone().requires_grad_(True)
    opt = torch.optim.RMSprop([param], lr=lr)
    best, best_rho = theta, math.inf
    for epoch in range(epochs):
        if epoch % 2 == 0:
            with torch.no_grad():
                param.copy_(F(param))
        else:
            opt.zero_grad()
            loss = ((F(param) - param.detach()) ** 2).sum()
            if not torch.isfinite(loss):
                break
            loss.backward()
            opt.step()
        with torch.no_grad():
            n = float(param.norm())
            rho = float((F(param) - param).norm()) / n if n > 0 else math.inf
        if math.isfinite(rho) and rho < best_rho:
            best, best_rho = param.detach().clone(), rho
    return best


def damped_step_dense(residual, theta, r):
    """One Levenberg-Marquardt linearisation at theta, dense: A = d residual / d theta from ``jacfwd``
    (P x P), and a function step(mu) solving (A^T A + mu a I) delta = -A^T r, a the mean diagonal of
    A^T A (None if that system is singular).  ``solve_exact`` tries damping values on it."""
    A = jacfwd(residual)(theta)
    AtA = A.T @ A
    scale = float(AtA.diagonal().mean()) or 1.0
    eye = torch.eye(theta.numel(), dtype=theta.dtype, device=theta.device)

    def step(mu_):
        d, info = torch.linalg.solve_ex(AtA + mu_ * scale * eye, -(A.T @ r))
        return d if int(info) == 0 else None

    return step


def damped_step_matrix_free(residual, theta, r, *, iter_lim: int, gen):
    """The same step as ``damped_step_dense`` without forming A: LSQR (scipy) on products A v from
    ``torch.func.jvp`` and A^T w from ``vjp``, damping sqrt(mu a) with a estimated from four random
    probes (``gen``), at most ``iter_lim`` LSQR iterations.  Memory is a few P-vectors, not P x P."""
    from scipy.sparse.linalg import LinearOperator, lsqr

    P = theta.numel()
    _, vjp_fn = vjp(residual, theta)

    def to_t(v):
        return torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(-1), dtype=theta.dtype, device=theta.device)

    def matvec(v):
        return jvp(residual, (theta,), (to_t(v),))[1].detach().cpu().double().numpy()

    def rmatvec(w):
        return vjp_fn(to_t(w))[0].detach().cpu().double().numpy()

    op = LinearOperator((P, P), matvec=matvec, rmatvec=rmatvec, dtype=np.float64)
    # mean diagonal of A^T A (Hutchinson's estimate of trace / P), so mu means the same as in the dense path
    probes = torch.randn(4, P, generator=gen, dtype=torch.float64).to(theta.dtype)  # numpy vectors: CPU
    scale = float(np.mean([np.sum(matvec(v.numpy()) ** 2) for v in probes])) / P or 1.0
    rhs = -r.detach().cpu().double().numpy()

    def step(mu_):
        d = lsqr(op, rhs, damp=math.sqrt(mu_ * scale), atol=1e-14, btol=1e-14, iter_lim=iter_lim)[0]
        return to_t(d) if np.isfinite(d).all() else None

    return step


def solve_exact(F, theta0=None, *, inputs=None, rtol: float = 1e-12, max_iter: int = 100, restarts: int = 30,
                min_norm: float | None = None, seed: int = 0, known=(), method: str = "auto",
                dense_max: int = 3000, warm: str = "lbfgs", warm_iters: int = 50, krylov_iters: int = 200,
                same: float = 1e-6, patience: int = 20, progress: bool = False) -> SolveResult:
    """An exact, non-trivial quine of any network: one call, machine precision.

    ``F``: an ``nn.Module`` (pass its ``inputs``) or a function theta -> F(theta) (pass ``theta0``).
    ``method``: "auto" (reduction for a fixed linear readout, else dense while P <= ``dense_max``,
    else matrix-free), or one of "reduction", "dense", "matrix-free".  Start 0 is ``theta0`` (a
    module's own weights by default); the ``restarts`` further starts are Gaussian with theta0's
    spread (seeded by ``seed``).  Each start first runs a warm start of ``warm_iters`` steps: ``warm="lbfgs"``
    (L-BFGS on rho^2) or ``"alternating"`` (regeneration alternated with RMSprop steps, Fletcher's loop,
    which suits networks whose residual has kinks).  A start succeeds when rho = ||F(theta) - theta|| / ||theta|| <= rtol
    (raised to the dtype's floor, see :func:`float_floor`, which float32 reaches first), ||theta|| >=
    ``min_norm`` (default: a tenth of ||theta0||, or the readout's scale on the reduction path) and
    theta differs from every quine in ``known`` by more than ``same`` * its norm.  A start is abandoned
    when rho has not halved in ``patience`` Levenberg-Marquardt iterations (0: never), or on the reduction
    path when ||theta|| falls below ``min_norm``, so a start stuck
    at a kink or a local minimum of ||F(theta) - theta|| costs little.  The result's
    ``extra`` holds the path taken (``path``), the starts used, and for a found quine its
    ``stability`` (max |lambda| and max Re lambda of J(theta*)).
    """
    if method not in METHODS:
        raise QuineInputError(f"method must be one of {METHODS}, got {method!r}")
    if warm not in WARM_STARTS:
        raise QuineInputError(f"warm must be one of {WARM_STARTS}, got {warm!r}")
    for name, v in (("max_iter", max_iter), ("restarts", restarts), ("warm_iters", warm_iters),
                    ("krylov_iters", krylov_iters), ("patience", patience)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise QuineInputError(f"{name} must be a whole number >= 0, got {v!r}")
    has_readout = isinstance(F, nn.Module) and hasattr(F, "proj") and hasattr(F, "alpha")
    if method == "reduction" and not has_readout:
        raise QuineInputError("method='reduction' needs a module with a fixed linear readout (.proj and .alpha)")
    if method in ("auto", "reduction") and has_readout and not known:
        res = _solve_reduced(F, inputs, theta0=theta0, rtol=rtol, max_iter=max_iter, restarts=restarts,
                             min_norm=min_norm, seed=seed, patience=patience, progress=progress)
        res.extra["path"] = [f"readout reduction to {F.proj.shape[0]} unknowns, Levenberg-Marquardt, "
                             f"{res.extra['starts']} start(s)"]
        if res.converged:
            res.extra["stability"] = reduced_stability(F, inputs, res.theta)
        return res
    Fn, theta_start = resolve(F, theta0, inputs)
    rtol = check_positive(rtol, "rtol")
    same = check_positive(same, "same")
    known = [torch.as_tensor(k, dtype=theta_start.dtype, device=theta_start.device).reshape(-1) for k in known]
    if any(k.shape != theta_start.shape for k in known):
        raise QuineInputError(f"every known quine must have theta's shape {tuple(theta_start.shape)}")
    P = theta_start.numel()
    path_kind = method if method in ("dense", "matrix-free") else ("dense" if P <= dense_max else "matrix-free")
    floor = float_floor(theta_start.dtype)
    target = max(rtol, floor)
    if min_norm is None:
        min_norm = 0.1 * float(theta_start.norm()) or 1e-3
    deflate = _deflation(known, zero_scale=float(min_norm))

    def g(theta):
        return Fn(theta) - theta

    def residual(theta):
        return deflate(theta) * g(theta)

    res = SolveResult(method=f"exact ({path_kind} Levenberg-Marquardt with deflation)", theta=theta_start,
                      theta0=theta_start.clone())
    res.extra.update(path=[], starts=0, target=target)
    t0 = time.perf_counter()
    res.record(theta_start, float(g(theta_start).detach().norm()), t0)
    gen = torch.Generator().manual_seed(int(seed))
    spread = (float(theta_start.std()) if P > 1 else 0.0) or 0.1  # the std of one number is undefined
    best = (float("inf"), theta_start)
    res.stop_reason = f"no exact non-trivial fixed point after {restarts + 1} starts"

    def is_new(theta):
        return _is_known(theta, known, same) is None

    for attempt in progress_bar(range(restarts + 1), progress, "exact solver"):
        if attempt == 0:
            theta = theta_start
        else:
            factor = math.exp(float(torch.empty(()).uniform_(-1, 1, generator=gen)))
            theta = spread * factor * torch.randn(P, generator=gen, dtype=theta_start.dtype).to(theta_start.device)
        res.extra["starts"] += 1
        steps = []
        if warm_iters and warm == "lbfgs":
            theta = _warm_start(Fn, theta, warm_iters)
            steps.append(f"L-BFGS warm start ({warm_iters} it.)")
        elif warm_iters:
            theta = _alternating_start(Fn, theta, warm_iters)
            steps.append(f"alternating regeneration / RMSprop warm start ({warm_iters} epochs)")
        with torch.no_grad():
            r, gk = residual(theta), g(theta)
        if steps:
            res.record(theta, float(gk.norm()), t0)
        rn, mu, used = float(r.norm()), 1e-3, 0
        reason, rhos = f"max_iter = {max_iter}", []
        for it in range(1, max_iter + 1):
            used = it
            n, gn = float(theta.norm()), float(gk.norm())
            if not math.isfinite(gn):
                reason = "diverged: F(theta) is not finite"
                break
            if n >= min_norm and gn <= target * n:
                reason = "converged"
                break
            rhos.append(gn / max(n, 1e-300))
            if _stagnated(rhos, patience):
                reason = f"stagnated: rho fell by less than half in {patience} iterations"
                break
            if path_kind == "dense":
                step_fn = damped_step_dense(residual, theta, r)
            else:
                step_fn = damped_step_matrix_free(residual, theta, r, iter_lim=krylov_iters, gen=gen)
            theta, r, rn, mu, accepted = damped_search(step_fn, residual, theta, r, rn, mu, tries=30)
            if not accepted:
                reason = "stalled: no damping lowered the deflated residual"
                break
            res.iterations += 1
            with torch.no_grad():
                gk = g(theta)
            res.record(theta, float(gk.norm()), t0)
        steps.append(f"{path_kind} Levenberg-Marquardt ({used} it., {reason})")
        res.extra["path"].append(f"start {attempt + 1}: " + " -> ".join(steps))
        rho = float(gk.norm()) / max(float(theta.norm()), 1e-300)
        if float(theta.norm()) >= min_norm and is_new(theta) and rho < best[0]:
            best = (rho, theta)
        if reason == "converged" and is_new(theta):
            res.converged = True
            floor_note = f" (the {str(theta.dtype).removeprefix('torch.')} floor)" if target > rtol else ""
            res.stop_reason = f"converged (start {attempt + 1}, rho <= {target:.1e}{floor_note})"
            break
    res.theta, res.wall_time = best[1], time.perf_counter() - t0
    with torch.no_grad():  # the history ends at the theta returned (the best start's, not the last start's)
        res.record(res.theta, float(g(res.theta).norm()), t0)
    if res.converged:
        res.extra["stability"] = stability(Fn, res.theta, dense_max=dense_max)
    return res



@dataclass
class QuineCensus:
    """The distinct exact quines that :func:`find_quines` found, and what every start did.

    ``quines`` holds one theta per distinct non-trivial quine (largest ||theta|| first),
    ``relative_residuals`` their rho = ||F(theta) - theta|| / ||theta|| on the full equation,
    ``hits`` how many starts converged to each.  Of the ``starts`` starts, ``zero`` converged to
    the zero quine (||theta|| below ``min_norm``) and ``stalled`` did not converge.
    """

    quines: list = field(default_factory=list)
    relative_residuals: list = field(default_factory=list)
    hits: list = field(default_factory=list)
    starts: int = 0
    zero: int = 0
    stalled: int = 0
    min_norm: float = 0.0
    wall_time: float = 0.0

    @property
    def norms(self) -> list[float]:
        return [float(t.norm()) for t in self.quines]

    def summary(self) -> str:
        return (f"{len(self.quines)} distinct non-trivial quine(s) from {self.starts} starts "
                f"({self.zero} reached zero, {self.stalled} stalled), {self.wall_time:.2g} s")


def find_quines(model, inputs, *, starts: int = 20, box: float = 1.0, seed: int = 0, rtol: float = 1e-12,
                max_iter: int = 100, min_norm: float | None = None, same: float = 1e-6,
                progress: bool = False) -> QuineCensus:
    """Every exact quine the reduced Levenberg-Marquardt solver finds from many starts.

    For a network with a fixed readout (``model.alpha * model.proj``, r rows) every
    quine is theta = u R with u = G(u) (:func:`readout_reduction`).  The starts
    u0 are drawn uniformly from the box [-box, box]^r (seeded): for tanh features
    without normalisation every quine has u = h_L in (-1, 1)^r, so box = 1 covers
    all of them.  A start counts as a quine when its relative residual on the
    full equation is <= ``rtol``; as the zero quine when ||theta|| < ``min_norm``
    (default 1e-3 ||R||_2, i.e. ||u|| of about 1e-3); two quines are the same
    when ||theta_1 - theta_2|| <= ``same`` * ||theta_1||.
    """
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
        raise QuineInputError(f"starts must be a whole number >= 1, got {starts!r}")
    box, rtol, same = check_positive(box, "box"), check_positive(rtol, "rtol"), check_positive(same, "same")
    F, theta_start, readout, (G, lift, _), min_norm = _reduced_problem("find_quines", model, None, inputs, min_norm)
    census = QuineCensus(starts=starts, min_norm=float(min_norm))
    gen = torch.Generator().manual_seed(int(seed))
    t0 = time.perf_counter()
    u0 = box * (2 * torch.rand(starts, readout.shape[0], generator=gen, dtype=readout.dtype) - 1).to(readout.device)
    u = batched_levenberg_marquardt(lambda v: G(v) - v, u0, iterations=max_iter, damping=1e-3, rtol=min(rtol, 1e-13))
    for theta in progress_bar(lift(u), progress, "census"):
        with torch.no_grad():
            r = float((F(theta) - theta).norm())
        n = float(theta.norm())
        if n < min_norm:
            census.zero += 1
        elif not r <= rtol * n:
            census.stalled += 1
        elif (i := _is_known(theta, census.quines, same)) is not None:
            census.hits[i] += 1
        else:
            census.quines.append(theta)
            census.relative_residuals.append(r / n)
            census.hits.append(1)
    order = sorted(range(len(census.quines)), key=lambda i: -float(census.quines[i].norm()))
    census.quines = [census.quines[i] for i in order]
    census.relative_residuals = [census.relative_residuals[i] for i in order]
    census.hits = [census.hits[i] for i in order]
    census.wall_time = time.perf_counter() - t0
    return census


def reliability(build: Callable, seeds, *, min_norm: Callable | None = None, **solver_kwargs) -> dict:
    """How reliably ``solve_exact`` finds an exact non-trivial quine from a cold start, seed by seed.

    ``build(seed)`` returns (model, inputs); each is solved with ``solve_exact(model, inputs=inputs,
    seed=seed, min_norm=floor)``, the floor ``min_norm(model)`` (default ``solvers.nontrivial_floor``).  A
    seed counts as a success when the solver converged (relative residual <= its rtol, 1e-12 by
    default) to ||theta*|| >= floor.  Returns ``successes``, ``seeds``, ``times`` (s, per seed),
    ``starts`` (per seed) and ``results`` (the SolveResults).
    """
    floor_of = nontrivial_floor if min_norm is None else min_norm
    seeds = list(seeds)
    out = {"successes": 0, "seeds": len(seeds), "times": [], "starts": [], "results": []}
    for s in seeds:
        model, inputs = build(s)
        floor = floor_of(model)
        r = solve_exact(model, inputs=inputs, seed=s, min_norm=floor, **solver_kwargs)
        out["successes"] += bool(r.converged and float(r.theta.norm()) >= floor)
        out["times"].append(r.wall_time)
        out["starts"].append(r.extra["starts"])
        out["results"].append(r)
    return out
