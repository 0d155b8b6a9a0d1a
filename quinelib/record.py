"""Run plumbing shared by every solver and trainer: the result records, progress bars,
the optimiser factory and the one full-batch L-BFGS loop.

Nothing here knows about quines: a solver (``solvers``, ``exact``), a quine
trainer (``index_quine``, ``aux_quine``) or a predictor's training
(``weightpred``) imports what it needs from this module, so a change to how a
run is recorded or stopped is made in one place.

* ``Run``: what every solver and trainer reports (method, iterations, stop reason, time);
* ``SolveResult``: a ``Run`` of a solver or quine trainer, with its iterate and history;
* ``TrainRecord``: a ``Run`` of a predictor's training, with its loss per step;
* ``progress_bar``: tqdm in a live notebook, nothing in the static book;
* ``make_optimiser``: a first-order optimiser from a name or a ``torch.optim`` class;
* ``lbfgs_loop``: full-batch L-BFGS with a strong Wolfe line search, stopping on
  divergence, a stall, a time budget or ``max_iter``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from .checks import QuineInputError, check_positive

__all__ = ["Run", "SolveResult", "TrainRecord", "progress_bar", "OPTIMISERS", "make_optimiser", "optimiser_step",
           "lbfgs_loop"]


@dataclass(kw_only=True)
class Run:
    """What every solver and trainer reports, under the same names: ``method`` (what ran),
    ``iterations`` (iterations, steps or epochs done), ``stop_reason`` (why it stopped: a
    reason starting "diverged" when an iterate or loss stopped being finite), ``wall_time``
    (seconds).  ``SolveResult`` and ``TrainRecord`` add their histories."""

    method: str
    iterations: int = 0
    stop_reason: str = ""
    wall_time: float = 0.0

    @property
    def diverged(self) -> bool:
        return self.stop_reason.startswith("diverged")


@dataclass(kw_only=True)
class SolveResult(Run):
    """What a solver did: the final iterate and the history that led there.

    ``residuals[k]`` is ||F(theta_k) - theta_k|| for the k-th recorded iterate
    (k = 0 is the start), ``theta_norms[k]`` is ||theta_k|| and ``times[k]``
    the wall-clock seconds since the solver started.  ``steps[k]`` is the
    history's x-axis, under one name for every solver and quine trainer: the
    iteration, step or epoch (as the method counts them) at which point k
    was recorded.  ``theta`` is the last *finite* iterate, also when the
    solver stopped because of divergence.
    """

    theta: torch.Tensor
    theta0: torch.Tensor
    residuals: list[float] = field(default_factory=list)
    theta_norms: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    converged: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def residual(self) -> float:
        """The final absolute residual ||F(theta) - theta||."""
        return self.residuals[-1]

    @property
    def relative_residuals(self) -> list[float]:
        """||F(theta_k) - theta_k|| / ||theta_k|` (inf where theta_k = 0)."""
        return [r / n if n > 0 else float("inf") for r, n in zip(self.residuals, self.theta_norms)]

    @property
    def relative_residual(self) -> float:
        return self.relative_residuals[-1]

    def summary(self) -> str:
        return (
            f"{self.method}: {self.stop_reason} after {self.iterations} iterations, "
            f"{self.wall_time:.3g} s; ||F(theta)-theta|| = {self.residual:.3e}, "
            f"||theta|| = {self.theta_norms[-1]:.3e}, relative = {self.relative_residual:.3e}"
        )

    def stops_on_non_finite(self, theta: torch.Tensor, when: str) -> bool:
        """True, with the stop reason "diverged: theta is not finite ``when``", when theta has a NaN or inf."""
        if torch.isfinite(theta).all():
            return False
        self.stop_reason = f"diverged: theta is not finite {when}"
        return True

    def record(self, theta: torch.Tensor, r: float, t0: float, step: int | None = None) -> None:
        """Append one point of the history: the residual r, ||theta||, the seconds since t0 and the
        step (default: the number of points recorded before this one, for methods that record every
        iteration from 0)."""
        self.steps.append(len(self.residuals) if step is None else int(step))
        self.residuals.append(r)
        self.theta_norms.append(float(theta.norm()))
        self.times.append(time.perf_counter() - t0)


@dataclass(kw_only=True)
class TrainRecord(Run):
    """What a predictor's training did: the loss per step (``losses[k]`` at step k, so the history's
    x-axis is the list index), the functions (networks) seen, and the ``Run`` fields."""

    losses: list = field(default_factory=list)
    functions: int = 0


def progress_bar(iterable, enabled: bool, desc: str):
    """``iterable`` with a tqdm progress bar labelled ``desc`` when ``enabled`` (and not in the static book)."""
    from .notebook import is_static_build

    # No progress bars in the static book: they would be dead widgets there.
    if not enabled or is_static_build():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False)


OPTIMISERS = {
    "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam, "sgd": torch.optim.SGD,
    "adamax": torch.optim.Adamax, "adagrad": torch.optim.Adagrad,
}


def make_optimiser(optimizer, params, lr: float, kwargs: dict | None = None):
    """(optimiser, name) from a name in ``OPTIMISERS`` or any ``torch.optim.Optimizer`` class."""
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        cls, name = optimizer, optimizer.__name__
    elif optimizer in OPTIMISERS:
        cls, name = OPTIMISERS[optimizer], optimizer
    else:
        raise QuineInputError(f"optimizer must be one of {sorted(OPTIMISERS)} or a torch.optim.Optimizer class, "
                              f"got {optimizer!r}")
    return cls(params, lr=check_positive(lr, "lr"), **(kwargs or {})), name


def optimiser_step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One first-order step on ``loss``: clear the gradients, backpropagate, step."""
    opt.zero_grad()
    loss.backward()
    opt.step()


def lbfgs_loop(objective: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, *, max_iter: int,
               history: int, record: Callable[[int], None], t0: float, time_budget: float | None = None,
               record_every: int = 1, progress: bool = False, desc: str = "L-BFGS") -> tuple[int, str, torch.Tensor]:
    """Full-batch L-BFGS on ``objective(theta)``, changing the leaf tensor ``theta`` in place.

    Each iteration is one ``torch.optim.LBFGS`` step (up to 20 evaluations,
    strong Wolfe line search, no tolerance stops).  After iteration k the loop
    stops when theta or the loss is not finite (*diverged*), when the step left
    theta unchanged (*stalled*: the line search can lower the loss no further),
    when ``time_budget`` seconds have passed since ``t0``, or at ``max_iter``.
    ``record(k)`` is called every ``record_every`` iterations and at the last
    one (the caller records iteration 0 itself).  Returns (iterations done,
    stop reason, the last finite theta).
    """
    opt = torch.optim.LBFGS([theta], lr=1, max_iter=20, history_size=history, line_search_fn="strong_wolfe",
                            tolerance_grad=0, tolerance_change=0)

    def closure():
        opt.zero_grad()
        loss = objective(theta)
        loss.backward()
        return loss

    done, reason, last = 0, f"reached max_iter = {max_iter}", theta.detach().clone()
    for k in progress_bar(range(1, max_iter + 1), progress, desc):
        loss = opt.step(closure)
        if not (torch.isfinite(theta).all() and torch.isfinite(loss)):
            reason = f"diverged: theta or the loss is not finite at iteration {k}"
            break
        done, stalled = k, torch.equal(last, theta.detach())
        last = theta.detach().clone()
        out_of_time = time_budget is not None and time.perf_counter() - t0 >= time_budget
        if stalled or out_of_time or k % record_every == 0 or k == max_iter:
            record(k)
        if stalled:
            reason = f"stalled at iteration {k}: L-BFGS can lower the loss no further"
            break
        if out_of_time:
            reason = f"reached the time budget of {time_budget:g} s"
            break
    return done, reason, last
