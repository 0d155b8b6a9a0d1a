"""The fixed-point homotopy: a path from a start theta0 to a fixed point of F, for networks whose output is bounded.

Deform the easy problem theta = theta0 into the quine equation theta = F(theta):

    H(theta, tau) = theta - (1 - tau) theta0 - tau F(theta),   tau from 0 to 1.

At tau = 0 the only root is theta = theta0.  If ||F(theta)|| <= beta for every theta (batch normalisation over the
queries, then ReLU, then a fixed linear readout, as in chapter 6's coordinate-query quine), every root at
any tau in [0, 1] has ||theta|| <= max(||theta0||, beta), so the curve of roots that leaves (theta0, 0) cannot run off to
infinity, and it cannot come back to tau = 0 (theta0 is the only root there, and a regular one).  For a
smooth F and almost every theta0 it is a smooth curve and must reach tau = 1, at a fixed point of F
(Chow, Mallet-Paret & Yorke 1978), which may be the zero quine: the constructive side of Brouwer's theorem.  The curve may turn back
in tau on the way, so it is followed by arclength, not by tau.

:func:`fixed_point_homotopy` follows it by a predictor-corrector method (Allgower & Georg 1990, ch. 2):
a step of length h along the tangent, then a chord-Newton corrector back onto the curve on the hyperplane normal
to that tangent; the tangent's orientation is kept by the sign of det [DH; tangent], which also carries
the path through a kink of a ReLU network, where the curve may bend sharply.  Where the path reaches
tau = 1, ``solve_exact``'s Levenberg-Marquardt finishes the root to machine precision.

A ReLU network is only piecewise smooth, so the theorem's guarantee does not carry over as it stands, and
in practice the path can be lost where DH is nearly singular; the result says where (``stop_reason``).
Dense Jacobians (``torch.func.jacfwd``): for P up to a few thousand.
"""

from __future__ import annotations

import math
import time

import torch
from torch.func import jacfwd

from .checks import QuineInputError, check_positive
from .exact import solve_exact
from .record import SolveResult, progress_bar
from .solvers import resolve

__all__ = ["fixed_point_homotopy"]


def _tangent(D: torch.Tensor, previous: torch.Tensor, sign: float | None):
    """The unit tangent of the curve where its Jacobian is D (P x (P+1)): the null vector of D, from
    [D; previous] x = e_(P+1); oriented so that det [D; x] has the sign ``sign`` (any, if None).
    Returns (tangent, the sign of that determinant), or (None, 0) where D has no one-dimensional null space."""
    A = torch.cat([D, previous[None, :]], 0)
    rhs = torch.zeros(A.shape[0], dtype=D.dtype, device=D.device)
    rhs[-1] = 1
    x, info = torch.linalg.solve_ex(A, rhs)
    if int(info) != 0 or not torch.isfinite(x).all():
        return None, 0.0
    x = x / x.norm()
    s = float(torch.linalg.slogdet(torch.cat([D, x[None, :]], 0))[0])
    if sign is not None and s != sign:
        x, s = -x, -s
    return x, s


def fixed_point_homotopy(F, theta0=None, *, inputs=None, h0: float = 0.1, h_max: float = 2.0, h_min: float = 1e-6,
                         max_steps: int = 3000, corrector_tol: float = 1e-6, bend: float = 0.8,
                         min_norm: float | None = None, rtol: float = 1e-12, dense_max: int = 3000,
                         time_budget: float | None = None, progress: bool = False) -> SolveResult:
    """Follow the roots of H(theta, tau) = theta - (1 - tau) theta0 - tau F(theta) from (theta0, 0) to
    tau = 1, then finish the quine there with Levenberg-Marquardt.

    ``F``: an ``nn.Module`` (with its ``inputs``) or a function theta -> F(theta); ``theta0``: the start (a
    module's own weights by default; a function needs it).  Steps of arclength h start at ``h0``, grow by
    half after an easy step (at most ``h_max``) and halve when Newton's corrector does not bring ||H|| below
    ``corrector_tol`` (1 + ||theta||) within 8 iterations, or when the tangent turns by more than
    arccos(``bend``) in one step (allowed once h < 1e-3: a kink).  The path is given up when h falls below
    ``h_min``, after ``max_steps`` steps, or once ``time_budget`` seconds (if given) have passed.  A quine
    counts when rho <= ``rtol`` (raised to the dtype's floor) and ||theta|| >= ``min_norm`` (default: a
    tenth of ||theta0||).

    ``max_steps`` counts attempted steps; ``iterations`` the accepted ones.  Returns a ``SolveResult``
    whose history holds every point accepted on the path (``extra["tau"]`` its tau, ``extra["length"]`` the arclength followed, ``extra["jacobians"]`` the Jacobians computed,
    ``extra["finish"]`` the Levenberg-Marquardt result).
    """
    Fn, a = resolve(F, theta0, inputs)  # a: the start theta0, checked
    P = a.numel()
    if P > dense_max:
        raise QuineInputError(f"the homotopy builds dense P x P Jacobians: P = {P} is above dense_max = {dense_max}")
    for name, v in (("h0", h0), ("h_max", h_max), ("h_min", h_min), ("corrector_tol", corrector_tol), ("rtol", rtol)):
        check_positive(v, name)
    if not h_min <= h0 <= h_max:
        raise QuineInputError(f"need h_min <= h0 <= h_max, got {h_min}, {h0}, {h_max}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise QuineInputError(f"max_steps must be a whole number >= 1, got {max_steps!r}")
    if not -1 <= bend < 1:
        raise QuineInputError(f"bend is a cosine in [-1, 1), got {bend!r}")
    if time_budget is not None:
        check_positive(time_budget, "time_budget")
    if min_norm is None:
        min_norm = 0.1 * float(a.norm()) or 1e-3
    eye = torch.eye(P, dtype=a.dtype, device=a.device)
    jacobians = 0

    def H(y):
        return y[:P] - (1 - y[P]) * a - y[P] * Fn(y[:P])

    def DH(y):
        nonlocal jacobians
        jacobians += 1
        return torch.cat([eye - y[P] * jacfwd(Fn)(y[:P]), (a - Fn(y[:P]))[:, None]], 1)

    res = SolveResult(method="fixed-point homotopy (arclength predictor-corrector), Levenberg-Marquardt finish",
                      theta=a.clone(), theta0=a.clone())
    t0 = time.perf_counter()

    def record(y, step):
        with torch.no_grad():
            res.record(y[:P].clone(), float((Fn(y[:P]) - y[:P]).norm()), t0, step=step)
        res.extra["tau"].append(float(y[P]))

    res.extra.update(tau=[], length=0.0)
    y = torch.cat([a, a.new_zeros(1)])
    y_prev = y
    record(y, 0)
    e_tau = torch.zeros(P + 1, dtype=a.dtype, device=a.device)
    e_tau[-1] = 1
    D = DH(y)
    tangent_, sign = _tangent(D, e_tau, None)
    if tangent_[-1] < 0:  # leave tau = 0 upwards; this fixes the orientation for the whole path
        tangent_, sign = -tangent_, -sign
    h, turned, reason, accepted = h0, False, f"max_steps = {max_steps} reached", 0
    with torch.no_grad():
        for step in progress_bar(range(1, max_steps + 1), progress, "homotopy path"):
            res.extra["attempts"] = step
            if time_budget is not None and time.perf_counter() - t0 > time_budget:
                reason = f"time budget of {time_budget:g} s used up at tau = {float(y[P]):.4f}"
                break
            z = y + h * tangent_
            near = h < 1e-2  # near trouble: Newton's own Jacobian at every iterate; else the chord, y's
            lu = None if near else torch.linalg.lu_factor(torch.cat([D, tangent_[None, :]], 0))
            ok, previous, used = False, math.inf, 0
            for iteration in range(8):
                used = iteration
                Hz = H(z)
                hn = float(Hz.norm())
                if not math.isfinite(hn):
                    break
                if hn <= corrector_tol * (1 + float(z[:P].norm())):
                    ok = True
                    break
                if hn > 0.5 * previous:
                    break
                previous = hn
                if near:
                    lu = torch.linalg.lu_factor(torch.cat([DH(z), tangent_[None, :]], 0))
                z = z + torch.linalg.lu_solve(*lu, torch.cat([-Hz, Hz.new_zeros(1)])[:, None])[:, 0]
            if ok:
                Dz = DH(z)
                tz, _ = _tangent(Dz, tangent_, sign)
                if tz is None:
                    reason = f"lost the path at tau = {float(z[P]):.4f}: DH has no one-dimensional null space"
                    break
                if float(tz @ tangent_) < bend and h > 1e-3:
                    h /= 2
                    continue
                res.extra["length"] += float((z - y).norm())
                y_prev, y, tangent_, D, turned = y, z, tz, Dz, False
                accepted += 1
                res.iterations = accepted
                record(y, accepted)
                if used <= 2:
                    h = min(1.5 * h, h_max)
                if float(y[P]) >= 1:
                    reason = "reached tau = 1"
                    break
                if float(y[P]) < 0:  # impossible on the path (theta0 is its only root at tau = 0): lost
                    reason = "lost the path: it came back below tau = 0"
                    break
                continue
            if not math.isfinite(hn):
                reason = f"diverged: F is not finite near tau = {float(y[P]):.4f}"
                break
            if h < 1e-4 and not turned:  # at a kink the curve may bend: take the tangent beyond it
                Db = DH(y + h * tangent_)
                tb, _ = _tangent(Db, tangent_, sign)
                turned = True
                if tb is not None and float(tb @ tangent_) < 0.999:
                    tangent_, D, h = tb, Db, 1e-3
                    continue
            h /= 2
            if h < h_min:
                reason = f"lost the path at tau = {float(y[P]):.4f}: the step fell below h_min = {h_min:g}"
                break
    res.extra["jacobians"] = jacobians
    tau_end = float(y[P])
    if reason == "reached tau = 1":
        # back to tau = 1 along the chord of the last step, then Levenberg-Marquardt on F(theta) = theta
        theta1 = y[:P]
        if float(y_prev[P]) < 1 < tau_end:
            w = (1 - float(y_prev[P])) / (tau_end - float(y_prev[P]))
            theta1 = y_prev[:P] + w * (y[:P] - y_prev[:P])
        fin = solve_exact(Fn, theta1.clone(), restarts=0, warm_iters=0, method="dense", min_norm=min_norm,
                          rtol=rtol, dense_max=dense_max)
        res.extra["finish"] = fin
        res.theta, res.converged = fin.theta, fin.converged
        with torch.no_grad():
            res.record(res.theta, float((Fn(res.theta) - res.theta).norm()), t0, step=res.iterations)
        res.extra["tau"].append(1.0)
        res.stop_reason = (f"converged: the path reached tau = 1 after {res.iterations} accepted steps (arclength "
                           f"{res.extra['length']:.3g}), then {fin.stop_reason}" if fin.converged else
                           f"the path reached tau = 1 after {res.iterations} accepted steps, but {fin.stop_reason}")
    else:
        res.theta = y[:P].clone()
        res.stop_reason = reason
    res.wall_time = time.perf_counter() - t0
    return res
