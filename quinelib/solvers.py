"""Solvers for the fixed-point equation F(theta) = theta.

Every solver takes either a function theta -> F(theta) or an ``nn.Module``
with its probe input, checks its inputs, stops with a stated reason when an
iterate stops being finite, and returns a :class:`SolveResult` with the whole
history, so that a notebook plots the record rather than parsing prints.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch
from torch import nn
from torch.func import jacfwd, jacrev

from .checks import QuineInputError, check_positive, check_theta
from .params import as_function, flatten
from .record import SolveResult, make_optimiser, progress_bar

__all__ = ["SolveResult", "resolve", "jacobian", "spectrum", "newton", "regenerate", "train", "levenberg_marquardt",
           "make_optimiser", "nontrivial_floor", "batched_levenberg_marquardt", "progress_bar", "damped_search"]


def resolve(F, theta0=None, inputs=None) -> tuple[Callable, torch.Tensor]:
    """Turn (module, probe) or a plain function into (F, theta0), with checks.

    A module's own parameters are the default start; a plain function needs
    ``theta0``.  F is evaluated once at theta0 to check that it returns a
    vector of the same length and dtype.
    """
    if isinstance(F, nn.Module):
        if inputs is None:
            raise QuineInputError("a module needs its probe input: pass inputs=z")
        module = F
        F = as_function(module, inputs)
        if theta0 is None:
            theta0 = flatten(module)
        P = F.P
        dtype = next(module.parameters()).dtype
    elif callable(F):
        if inputs is not None:
            raise QuineInputError("inputs= is only used with an nn.Module; a function F takes theta alone")
        if theta0 is None:
            raise QuineInputError("a function F needs a starting point theta0")
        P, dtype = None, None
    else:
        raise QuineInputError(f"F must be an nn.Module or a function theta -> F(theta), got {type(F).__name__}")
    theta0 = check_theta(theta0, P, dtype=dtype, name="theta0").detach().clone()
    with torch.no_grad():
        out = F(theta0)
    if not isinstance(out, torch.Tensor) or out.shape != theta0.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise QuineInputError(f"F(theta) must have theta's shape {tuple(theta0.shape)}, got {shape}")
    if out.dtype != theta0.dtype:
        raise QuineInputError(f"F(theta) has dtype {out.dtype} but theta0 has {theta0.dtype}")
    if not torch.isfinite(out).all():
        raise QuineInputError("F(theta0) is not finite: check the model, its probe input and theta0")
    return F, theta0


_JACOBIANS = {
    "forward": lambda F, theta: jacfwd(F)(theta),
    "reverse": lambda F, theta: jacrev(F)(theta),
    # The seed's way: torch.autograd.functional.jacobian, one backward pass per output.
    "autograd": lambda F, theta: torch.autograd.functional.jacobian(F, theta),
}


def jacobian(F: Callable, theta: torch.Tensor, mode: str = "forward") -> torch.Tensor:
    """The P x P Jacobian dF/dtheta.  mode: 'forward' (jacfwd, the default),
    'reverse' (jacrev) or 'autograd' (the seed's torch.autograd.functional)."""
    if mode not in _JACOBIANS:
        raise QuineInputError(f"mode must be one of {sorted(_JACOBIANS)}, got {mode!r}")
    return _JACOBIANS[mode](F, theta).reshape(theta.numel(), theta.numel())


def spectrum(F: Callable, theta: torch.Tensor) -> torch.Tensor:
    """The (complex) eigenvalues of dF/dtheta at theta."""
    return torch.linalg.eigvals(jacobian(F, theta))


def _start_newton_like(method: str, F: Callable, theta: torch.Tensor):
    """What Newton and Levenberg-Marquardt do first: the record, the identity for J - I, the clock, the
    residual g = F(theta) - theta at the start (recorded)."""
    res = SolveResult(method=method, theta=theta, theta0=theta.clone())
    eye = torch.eye(theta.numel(), dtype=theta.dtype, device=theta.device)
    t0 = time.perf_counter()
    with torch.no_grad():
        g = F(theta) - theta
    res.record(theta, float(g.norm()), t0)
    return res, eye, t0, g


def newton(F, theta0=None, *, inputs=None, max_iter: int = 50, atol: float = 1e-14,
           rtol: float = 1e-14, jacobian_mode: str = "forward", progress: bool = False,
           callback: Callable | None = None) -> SolveResult:
    """Newton's method for g(theta) = F(theta) - theta = 0.

    theta <- theta - (J - I)^{-1} (F(theta) - theta), J = dF/dtheta, with the
    full Jacobian from ``torch.func.jacfwd`` and a dense solve.  Stops when
    ||g|| <= atol or ||g|| <= rtol * ||theta|| (converged), after max_iter
    steps, when J - I is singular, or when an iterate is not finite.
    ``callback(k, theta, residual)`` is called after every recorded iterate.
    """
    F, theta = resolve(F, theta0, inputs)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise QuineInputError(f"max_iter must be a whole number >= 0, got {max_iter!r}")
    atol, rtol = check_positive(atol, "atol"), check_positive(rtol, "rtol")
    if jacobian_mode not in _JACOBIANS:
        raise QuineInputError(f"jacobian_mode must be one of {sorted(_JACOBIANS)}, got {jacobian_mode!r}")
    res, eye, t0, g = _start_newton_like(f"newton ({jacobian_mode} Jacobian)", F, theta)
    res.stop_reason = f"reached max_iter = {max_iter}"
    for k in progress_bar(range(1, max_iter + 1), progress, "Newton"):
        r = res.residuals[-1]
        if r <= atol or r <= rtol * res.theta_norms[-1]:
            res.converged, res.stop_reason = True, "converged"
            break
        J = jacobian(F, theta, jacobian_mode)
        if not torch.isfinite(J).all():
            res.stop_reason = f"diverged: the Jacobian is not finite at iteration {k - 1}"
            break
        try:
            step = torch.linalg.solve(J - eye, g)
        except RuntimeError as err:  # torch raises for an exactly singular matrix
            res.stop_reason = f"singular: J - I could not be solved at iteration {k - 1} ({err})"
            break
        new = theta - step
        if not torch.isfinite(new).all():
            res.stop_reason = f"diverged: the Newton step gave non-finite values at iteration {k}"
            break
        with torch.no_grad():
            g_new = F(new) - new
        if not torch.isfinite(g_new).all():
            res.stop_reason = f"diverged: F(theta) is not finite at iteration {k}"
            break
        theta, g = new, g_new
        res.iterations = k
        res.record(theta, float(g.norm()), t0)
        if callback is not None:
            callback(k, theta, res.residuals[-1])
    else:
        r = res.residuals[-1]
        if r <= atol or r <= rtol * res.theta_norms[-1]:
            res.converged, res.stop_reason = True, "converged"
    res.theta, res.wall_time = theta, time.perf_counter() - t0
    return res


def regenerate(F, theta0=None, *, inputs=None, steps: int = 100, atol: float = 0.0,
               progress: bool = False) -> SolveResult:
    """Regeneration (plain fixed-point iteration): theta <- F(theta), repeated.

    It converges to a fixed point theta* only when every eigenvalue of
    dF/dtheta at theta* lies inside the unit circle.
    """
    F, theta = resolve(F, theta0, inputs)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise QuineInputError(f"steps must be a whole number >= 0, got {steps!r}")
    res = SolveResult(method="regeneration", theta=theta, theta0=theta.clone())
    t0 = time.perf_counter()
    with torch.no_grad():
        out = F(theta)
        res.record(theta, float((out - theta).norm()), t0)
        res.stop_reason = f"reached steps = {steps}"
        for k in progress_bar(range(1, steps + 1), progress, "regeneration"):
            if res.residuals[-1] <= atol:
                res.converged, res.stop_reason = True, "converged"
                break
            new = out
            out = F(new)
            if not (torch.isfinite(new).all() and torch.isfinite(out).all()):
                res.stop_reason = f"diverged: F(theta) is not finite at iteration {k}"
                break
            theta = new
            res.iterations = k
            res.record(theta, float((out - theta).norm()), t0)
    res.theta, res.wall_time = theta, time.perf_counter() - t0
    return res


DETACH = ("prediction", "target", "nothing")

def nontrivial_floor(model) -> float:
    """A quarter of alpha * sqrt(P / n), the typical size of what a fixed readout
    ``alpha * proj`` (n rows, P columns) produces from unit-variance features:
    the smallest ||theta|| the book counts as a non-trivial quine."""
    return 0.25 * model.alpha * (model.P / model.proj.shape[0]) ** 0.5


def train(F, theta0=None, *, inputs=None, steps: int = 20_000, optimizer: str = "rmsprop", lr: float = 1e-3,
          detach: str = "prediction", rtol: float = 0.0, record_every: int = 10, progress: bool = False,
          optimizer_kwargs: dict | None = None) -> SolveResult:
    """Gradient training on the loss ||F(theta) - theta||^2, with a chosen side detached.

    ``detach`` names what is treated as a constant when the loss is differentiated:

    * ``"prediction"`` (the blog's loop as it really runs): F(theta) comes from
      a *copy* of theta, so the gradient is 2 (theta - F(theta)) and each step
      is a damped regeneration towards F(theta) (computed here without
      autograd; the optimiser sees the same gradient);
    * ``"target"`` (the paper's loop, chapter 3): theta as the target is a
      constant, the prediction is differentiated: 2 J^T (F(theta) - theta);
    * ``"nothing"``: the true gradient 2 (J - I)^T (F(theta) - theta).

    Stops after ``steps``, when the relative residual reaches ``rtol``, or
    when an iterate is not finite.  The history is recorded every
    ``record_every`` steps (and at the last one).
    """
    F, theta = resolve(F, theta0, inputs)
    if detach not in DETACH:
        raise QuineInputError(f"detach must be one of {DETACH}, got {detach!r}")
    for name, v in (("steps", steps), ("record_every", record_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "steps" else 1):
            raise QuineInputError(f"{name} must be a whole number (>= 1 for record_every), got {v!r}")
    param = theta.clone().requires_grad_(True)
    opt, opt_name = make_optimiser(optimizer, [param], lr, optimizer_kwargs)
    res = SolveResult(method=f"{opt_name} (detached: {detach})", theta=theta, theta0=theta.clone())
    t0 = time.perf_counter()
    res.stop_reason = f"reached steps = {steps}"
    last = theta.clone()
    for k in progress_bar(range(steps + 1), progress, res.method):
        if detach == "prediction":
            with torch.no_grad():
                diff = F(param) - param
            grad = -2.0 * diff
        else:
            target = param.detach() if detach == "target" else param
            diff = F(param) - target
            (grad,) = torch.autograd.grad((diff * diff).sum(), param)
            diff = diff.detach()
        r = float(diff.norm())
        if not math.isfinite(r):
            res.stop_reason = f"diverged: the residual is not finite at step {k}"
            break
        last = param.detach().clone()
        n = float(last.norm())
        done = rtol > 0 and r <= rtol * n
        if k % record_every == 0 or k == steps or done:
            res.record(last, r, t0, step=k)
        res.iterations = k
        if done:
            res.converged, res.stop_reason = True, f"converged (relative residual <= {rtol:g})"
            break
        if k == steps:
            break
        param.grad = grad
        opt.step()
    res.theta, res.wall_time = last, time.perf_counter() - t0
    return res


def damped_search(step_at: Callable, residual: Callable, theta: torch.Tensor, r: torch.Tensor, rn: float,
                  mu: float, *, tries: int) -> tuple[torch.Tensor, torch.Tensor, float, float, bool]:
    """The damping rule of every Levenberg-Marquardt in the package (this module's and ``exact``'s).

    Try the step d = ``step_at(mu)`` (None when it could not be computed): accept theta + d when its
    residual's norm is finite and below ``rn``, then shrink the damping mu by 3 (not below 1e-12);
    otherwise grow mu by 4 and try again, at most ``tries`` times.  Returns (theta, residual vector,
    its norm, mu, accepted); when no try is accepted, theta and the residual are the ones given.
    """
    for _ in range(tries):
        d = step_at(mu)
        if d is not None:
            new = theta + d
            with torch.no_grad():
                r_new = residual(new)
            rn_new = float(r_new.norm())
            if math.isfinite(rn_new) and rn_new < rn:
                return new.detach(), r_new, rn_new, max(mu / 3, 1e-12), True
        mu *= 4
    return theta, r, rn, mu, False


def levenberg_marquardt(F, theta0=None, *, inputs=None, max_iter: int = 100, rtol: float = 1e-12,
                        damping: float = 1e-3, progress: bool = False, callback: Callable | None = None) -> SolveResult:
    """Levenberg-Marquardt for g(theta) = F(theta) - theta = 0: Newton, globalised.

    Each step solves (A^T A + mu I) delta = -A^T g with A = J - I.  A step is
    accepted only if it lowers ||g||; then the damping mu shrinks (towards a full Newton
    step, and quadratic convergence); otherwise mu grows (towards a short
    gradient step) and the step is retried.  Stops at relative residual
    ``rtol``, after ``max_iter`` Jacobians, when no damping lowers ||g||, or when
    ``callback(k, theta, r)``, called after every accepted step, returns a reason
    to give up (a string, which becomes the stop reason).
    """
    F, theta = resolve(F, theta0, inputs)
    rtol, mu = check_positive(rtol, "rtol"), check_positive(damping, "damping")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise QuineInputError(f"max_iter must be a whole number >= 0, got {max_iter!r}")
    res, eye, t0, g = _start_newton_like("Levenberg-Marquardt", F, theta)
    r = res.residuals[0]
    res.extra["damping"] = [mu]
    res.stop_reason = f"reached max_iter = {max_iter}"
    for k in progress_bar(range(1, max_iter + 1), progress, "Levenberg-Marquardt"):
        if r <= rtol * res.theta_norms[-1]:
            res.converged, res.stop_reason = True, "converged"
            break
        A = jacobian(F, theta) - eye
        if not torch.isfinite(A).all():
            res.stop_reason = f"diverged: the Jacobian is not finite at iteration {k - 1}"
            break
        AtA, Atg = A.T @ A, A.T @ g
        scale = float(AtA.diagonal().mean())
        def step_at(m, AtA=AtA, Atg=Atg, scale=scale):
            return torch.linalg.solve(AtA + m * scale * eye, -Atg)

        theta, g, r, mu, accepted = damped_search(step_at, lambda t: F(t) - t, theta, g, r, mu, tries=40)
        if not accepted:
            res.stop_reason = f"stalled: no damping lowered the residual at iteration {k}"
            break
        res.iterations = k
        res.record(theta, r, t0)
        res.extra["damping"].append(mu)
        verdict = callback(k, theta, r) if callback is not None else None
        if verdict:
            res.stop_reason = f"stopped at iteration {k}: {verdict}"
            break
    else:
        if r <= rtol * res.theta_norms[-1]:
            res.converged, res.stop_reason = True, "converged"
    res.theta, res.wall_time = theta, time.perf_counter() - t0
    return res


def batched_levenberg_marquardt(residual: Callable, x0: torch.Tensor, data: torch.Tensor | None = None, *,
                                iterations: int = 30, damping: float = 1e-2, rtol: float = 0.0,
                                jacobian: Callable | None = None) -> torch.Tensor:
    """Levenberg-Marquardt on B independent least-squares problems at once.

    ``residual(x)`` (or ``residual(x, d)`` with ``d = data[b]``) returns the residual vector of one
    problem; it is batched with ``vmap`` and its Jacobians come from ``vmap(jacfwd)``, unless
    ``jacobian(X)`` (or ``jacobian(X, data)``), the *batched* Jacobian (B, m, n) of all problems at
    once, is given: a closed form can be much faster than jacfwd under vmap.  Each problem
    keeps its own damping mu: a step that lowers its ||residual|| is taken and mu shrinks (/3),
    otherwise mu grows (x4), clamped to [1e-9, 1e6].  A singular system (e.g. a dead hidden unit's
    zero columns) rejects that problem's step only.  Stops after ``iterations`` or when every
    problem has ||residual|| <= rtol * ||x||.  Returns the final x, shape (B, n).
    """
    if x0.dim() != 2:
        raise QuineInputError(f"x0 must have shape (B, n), got {tuple(x0.shape)}")
    if data is not None and data.shape[0] != x0.shape[0]:
        raise QuineInputError(f"data has {data.shape[0]} problems but x0 has {x0.shape[0]}")
    args = () if data is None else (data,)
    res_fn = torch.vmap(residual)
    jac_fn = torch.vmap(jacfwd(residual)) if jacobian is None else jacobian
    x = x0.detach().clone()
    if isinstance(damping, bool) or not isinstance(damping, (int, float)) or not math.isfinite(damping) or damping < 0:
        raise QuineInputError(f"damping must be a finite number >= 0, got {damping!r}")
    mu = torch.full((len(x),), float(damping), dtype=x.dtype, device=x.device)
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for _ in range(iterations):
            r, J = res_fn(x, *args), jac_fn(x, *args)
            if rtol > 0 and bool((r.norm(dim=1) <= rtol * x.norm(dim=1)).all()):
                break
            Jt = J.transpose(1, 2)
            step, info = torch.linalg.solve_ex(Jt @ J + mu[:, None, None] * eye, -(Jt @ r.unsqueeze(-1)))
            solved = (info == 0) & torch.isfinite(step).all(dim=(1, 2))
            new = x + torch.where(solved[:, None], step.squeeze(-1), 0.0)
            r_new = res_fn(new, *args)
            better = (r_new**2).sum(1) < (r**2).sum(1)
            better &= solved & torch.isfinite(new).all(1) & torch.isfinite(r_new).all(1)
            x = torch.where(better[:, None], new, x)
            mu = torch.where(better, mu / 3, mu * 4).clamp(1e-9, 1e6)
    return x
