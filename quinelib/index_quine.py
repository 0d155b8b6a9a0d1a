"""The queryable-index quine of Chang & Lipson (2018): ask for weight c, get weight c.

The input names an index c in 0..P-1 (Chang & Lipson write N for P).  Its
one-hot vector of length P is projected by a fixed random matrix to d
dimensions; since a one-hot vector times a matrix is just a row of it, the
projection is stored as the P x d index embedding E (``embed``) and row c
is *looked up*: no P x P one-hot matrix is ever built.  Hidden layers
follow, and one output: the network's guess f(c) for its own weight
theta_c.  Evaluating all P indices at once is one batched forward pass on
E, which is F(theta).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from .checks import QuineInputError, check_float_dtype, check_sizes
from .params import as_function, flatten, functional
from .record import SolveResult, lbfgs_loop, make_optimiser, optimiser_step, progress_bar
from .solvers import resolve

__all__ = ["IndexQueries", "IndexQuine", "ACTIVATIONS", "OBJECTIVES", "train_paper", "train_lbfgs",
           "record_replication"]

ACTIVATIONS = {"selu": nn.SELU, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class IndexQueries(nn.Module):
    """What every queryable-index quine shares (this chapter's and the auxiliary quine of chapter 4): the
    checks of its activation and dtype, a fixed random embedding E of its P indices (a buffer, not a weight:
    row c is the projection of the one-hot vector e_c, unit-variance features), its inputs
    ``coordinates()`` = 0..P-1, and the check of a batch of coordinates."""

    @staticmethod
    def check_activation_and_dtype(activation: str, dtype: torch.dtype) -> None:
        if activation not in ACTIVATIONS:
            raise QuineInputError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        check_float_dtype(dtype)

    def embed_indices(self, d: int, dtype: torch.dtype) -> None:
        """Count the weights (P) and draw E (P x d) from the current random state: call once the layers exist."""
        self.P = sum(p.numel() for p in self.parameters())
        self.register_buffer("embed", torch.randn(self.P, d, dtype=dtype))

    def coordinates(self) -> torch.Tensor:
        """All indices 0..P-1, the input of F."""
        return torch.arange(self.P, device=self.embed.device)

    def check_coordinates(self, c: torch.Tensor) -> None:
        if c.dtype not in (torch.int64, torch.int32):
            raise QuineInputError(f"coordinates must be an integer tensor, got {c.dtype}")
        if c.numel() and (int(c.min()) < 0 or int(c.max()) >= self.P):
            raise QuineInputError(f"coordinates must lie in 0..{self.P - 1}")


class IndexQuine(IndexQueries):
    """c -> E[c] (fixed, d features) -> [Linear -> activation] * len(hidden) -> Linear -> f(c).

    Defaults follow the paper: d = 100, two learnable 100 x 100 layers and a
    100 -> 1 layer, SELU, no biases: P = 20,100 parameters.
    """

    def __init__(self, d: int = 100, hidden=(100, 100), activation: str = "selu", bias: bool = False,
                 seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        (d,) = check_sizes(d, "d")
        hidden = check_sizes(hidden, "hidden")
        self.check_activation_and_dtype(activation, dtype)
        self.d, self.hidden, self.activation_name, self.bias, self.seed = d, hidden, activation, bool(bias), int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            sizes = (d, *hidden, 1)
            self.layers = nn.ModuleList(nn.Linear(a, b, bias=self.bias, dtype=dtype)
                                        for a, b in zip(sizes[:-1], sizes[1:]))
            self.act = ACTIVATIONS[activation]()
            self.embed_indices(d, dtype)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        self.check_coordinates(c)
        h = self.embed[c]
        for layer in self.layers[:-1]:
            h = self.act(layer(h))
        return self.layers[-1](h).squeeze(-1)

    def extra_repr(self) -> str:
        return f"P={self.P}, d={self.d}, activation={self.activation_name}, bias={self.bias}, seed={self.seed}"


def record_replication(res: SolveResult, pred: torch.Tensor, theta: torch.Tensor, t0: float, step: int) -> float:
    """Append one point of a quine trainer's history (this chapter's and chapter 4's): sqrt(L_SR) as the
    residual, and in ``extra`` L_SR, sum theta^2, the relative SR loss rho^2 and the relative residual rho,
    under the names of ``metrics`` (computed here without its input checks: a trainer records finite
    iterates).  Returns L_SR."""
    l_sr = float(((pred - theta) ** 2).sum())
    total = float((theta**2).sum())
    res.record(theta, l_sr**0.5, t0, step=step)
    ex = res.extra
    ex.setdefault("L_SR", []).append(l_sr)
    ex.setdefault("sum_theta2", []).append(total)
    ex.setdefault("relative_sr_loss", []).append(l_sr / total if total > 0 else float("inf"))
    ex.setdefault("relative_residual", []).append(ex["relative_sr_loss"][-1] ** 0.5)
    res.wall_time = time.perf_counter() - t0
    return l_sr


def _record_epoch(res, F, theta, t0, epoch):
    with torch.no_grad():
        pred = F(theta)
    return record_replication(res, pred, theta, t0, epoch)


def train_paper(model: IndexQuine, *, epochs: int = 30, optimizer: str = "adamax", lr: float = 1e-3,
                batch_size: int = 64, regenerate_every: int | None = None, seed: int = 0, theta0=None,
                optimizer_kwargs: dict | None = None, progress: bool = False):
    """The paper's training: minibatches of coordinates, targets theta_c detached.

    ``optimizer``: a name ("sgd", "adam", "adagrad", "adamax", "rmsprop") or
    any ``torch.optim.Optimizer`` class, with ``optimizer_kwargs``.

    Each step predicts f(c) for a batch of coordinates and pulls it towards the
    *current* value of theta_c, which is treated as a constant (no gradient
    flows into the target).  With ``regenerate_every=k``, every k-th epoch
    ends with regeneration theta <- F(theta).  The history is recorded once
    per epoch (epoch 0 = the start): ``extra`` holds L_SR, sum theta^2 and
    the relative SR loss rho^2, the relative residual rho, and ``residuals`` sqrt(L_SR).
    """
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise QuineInputError(f"{name} must be a whole number >= 1, got {v!r}")
    if regenerate_every is not None and (not isinstance(regenerate_every, int) or regenerate_every < 1):
        raise QuineInputError(f"regenerate_every must be None or a whole number >= 1, got {regenerate_every!r}")
    F = as_function(model, (model.coordinates(),))
    theta = (flatten(model) if theta0 is None else theta0.detach().clone()).requires_grad_(True)
    f = functional(model)  # f(theta, c): the network's answers to the coordinates c

    opt, opt_name = make_optimiser(optimizer, [theta], lr, optimizer_kwargs)
    gen = torch.Generator().manual_seed(int(seed))
    label = opt_name + (f" + regeneration every {regenerate_every}" if regenerate_every else "")
    res = SolveResult(method=f"paper-style {label}", theta=theta.detach(), theta0=theta.detach().clone())
    t0 = time.perf_counter()
    _record_epoch(res, F, theta.detach(), t0, 0)
    res.stop_reason = f"reached epochs = {epochs}"
    for epoch in progress_bar(range(1, epochs + 1), progress, label):
        for c in torch.randperm(model.P, generator=gen).split(batch_size):
            optimiser_step(opt, ((f(theta, c) - theta.detach()[c]) ** 2).sum())
        if regenerate_every and epoch % regenerate_every == 0:
            with torch.no_grad():
                theta.copy_(F(theta))
        if res.stops_on_non_finite(theta, f"after epoch {epoch}"):
            break
        res.iterations = epoch
        _record_epoch(res, F, theta.detach(), t0, epoch)
    res.theta = res.theta if res.diverged else theta.detach().clone()
    return res


OBJECTIVES = ("relative_sr_loss", "self_replication_loss")


def train_lbfgs(model, *, max_iter: int = 200, time_budget: float | None = None, history: int = 50,
                theta0=None, objective: str = "relative_sr_loss", inputs=None, progress: bool = False):
    """Our method: full-batch L-BFGS on the relative SR loss rho^2 = ||F(theta) - theta||^2 / ||theta||^2.

    Three changes from the paper: the true gradient (through the targets too),
    all P indices at once (a deterministic objective, so a quasi-Newton
    method with a line search applies), and the relative SR loss rho^2 as the loss:
    shrinking the weights no longer lowers it, so the zero quine is not a
    minimum to slide into.  Stops after ``max_iter`` L-BFGS iterations (each
    up to 20 function evaluations) or ``time_budget`` seconds.

    ``objective="self_replication_loss"`` keeps the first two changes and
    minimises the raw L_SR = ||F(theta) - theta||^2 instead (the ablation of
    chapter 3): that objective is lowered by shrinking theta, and for a
    bias-free network L-BFGS slides into the zero quine.

    ``model`` is an ``IndexQuine`` or any module with a ``coordinates()`` method (its inputs), or
    any module with ``inputs`` given; chapter 6 uses it as the best training-only method everywhere.
    """
    if objective not in OBJECTIVES:
        raise QuineInputError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    relative = objective == "relative_sr_loss"
    if inputs is None:
        if not hasattr(model, "coordinates"):
            raise QuineInputError(f"{type(model).__name__} has no coordinates(): pass its inputs=")
        inputs = model.coordinates()
    F, theta = resolve(model, theta0, inputs)
    theta = theta.requires_grad_(True)

    def objective(th):
        d = F(th) - th
        return (d * d).sum() / (th * th).sum() if relative else (d * d).sum()

    label = "the relative SR loss" if relative else "the raw L_SR"
    res = SolveResult(method=f"full-batch L-BFGS on {label}", theta=theta.detach(),
                      theta0=theta.detach().clone())
    t0 = time.perf_counter()
    _record_epoch(res, F, theta.detach(), t0, 0)
    res.iterations, res.stop_reason, res.theta = lbfgs_loop(
        objective, theta, max_iter=max_iter, history=history, t0=t0, time_budget=time_budget, progress=progress,
        record=lambda k: _record_epoch(res, F, theta.detach(), t0, k))
    return res
