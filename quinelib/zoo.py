"""A zoo of trained networks (chapter 5): many small MLPs trained by gradient descent from different random
initialisations on one task, all in one batched run, and what a predictor can learn from their weights.

* ``train_zoo``: the students, each a bias-free ``MLPSpec`` network using its first ``width`` hidden units,
  trained with full-batch Adam on the same inputs and outputs of one teacher network (``torch.bmm`` over the
  zoo: every student is one entry of the batch, with its own optimiser state, so they do not interact).
* ``fit_architecture_only``: the seed's first predictor (the architecture in, the weights out) trained on the
  zoo, against its weights (weight-space MSE) or against its functions (the functional loss).

Why it matters: the students compute (nearly) the same function, but each writes it down with its own
ordering and scaling of hidden units, decided by its initialisation.  Their weights are a set of equivalent
answers, and a weight-space regression averages the set into a network that is none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .checks import QuineInputError, check_sizes
from .metrics import r2_per_network
from .weightpred import (
    MLPSpec,
    TrainRecord,
    canonicalise,
    fit_adam,
    flatten_mlps,
    mlp_forward,
    random_mlps,
    unflatten_mlps,
)

__all__ = ["Zoo", "train_zoo", "fit_architecture_only", "zoo_r2", "balanced_teacher"]


@dataclass
class Zoo:
    """The trained students and how they were made.

    ``weights``: the students (batch = zoo size), unused hidden units zero; ``widths``: each student's number of
    hidden units; ``teacher``: the task (a batch of one network); ``train_x``: the inputs every student was
    trained on (1, n, n_in); ``r2``: each student's R^2_mu against the teacher on fresh inputs; ``record``: the
    training history (the loss is the zoo's total, the sum of the students' mean squared errors).
    """

    spec: MLPSpec
    weights: dict
    widths: torch.Tensor
    teacher: dict
    train_x: torch.Tensor
    r2: torch.Tensor
    record: TrainRecord

    @property
    def size(self) -> int:
        return int(self.widths.shape[0])

    def width_one_hot(self) -> torch.Tensor:
        """The students' architectures as ``ArchitectureOnly`` reads them: width, one-hot (size, n_hidden)."""
        return nn.functional.one_hot(self.widths - 1, self.spec.n_hidden).to(self.weights["W1"].dtype)


class _Students(nn.Module):
    """The zoo as one module: every student's weights, masked to its width."""

    def __init__(self, spec: MLPSpec, init: dict, widths: torch.Tensor):
        super().__init__()
        keep = (torch.arange(spec.n_hidden, device=widths.device)[None, :] < widths[:, None]).to(init["W1"].dtype)
        self.register_buffer("keep", keep)
        self.W1 = nn.Parameter(init["W1"] * keep[:, None, :])
        self.W2 = nn.Parameter(init["W2"] * keep[:, :, None])

    def weights(self) -> dict:
        return {"W1": self.W1 * self.keep[:, None, :], "W2": self.W2 * self.keep[:, :, None]}


def balanced_teacher(spec: MLPSpec, *, generator: torch.Generator | None = None) -> dict:
    """A teacher network whose hidden units matter equally: random directions (unit-norm incoming weights) and
    outgoing weights of +1 or -1 (a batch of one network).  A random LeCun network often has a unit with a tiny
    outgoing weight, which students may ignore at almost no cost."""
    w = canonicalise(random_mlps(spec, 1, generator=generator))
    w["W2"] = torch.where(w["W2"] >= 0, 1.0, -1.0).to(w["W2"].dtype)
    return w


def zoo_r2(spec: MLPSpec, weights: dict, teacher: dict, *, inputs: int = 4096, seed: int = 999) -> torch.Tensor:
    """Each network's own R^2_mu,W (``metrics.r2_per_network``) with the teacher's outputs on ``inputs`` fresh inputs
    as the truth."""
    x = torch.randn(1, inputs, spec.n_in, generator=torch.Generator().manual_seed(int(seed)),
                    dtype=weights["W1"].dtype).to(weights["W1"].device)
    batch = weights["W1"].shape[0]
    y_true = mlp_forward(teacher, x).expand(batch, -1, -1)
    return r2_per_network(mlp_forward(weights, x.expand(batch, -1, -1)), y_true)


def train_zoo(spec: MLPSpec, *, students_per_width: int, widths=None, train_inputs: int = 256, steps: int = 2000,
              lr: float = 1e-2, seed: int = 0, teacher: dict | None = None, progress: bool = False) -> Zoo:
    """Train ``students_per_width`` students of each width in ``widths`` (default: the spec's full width) from
    independent LeCun initialisations, all on the same ``train_inputs`` inputs ~ N(0, I) and the outputs of one
    ``teacher`` (default: ``balanced_teacher`` of the full width, from ``seed``).  Full-batch Adam with a
    cosine schedule for ``steps`` steps; stops with the reason if the loss stops being finite."""
    if spec.bias or spec.linear:
        raise QuineInputError("the zoo is made of bias-free networks with a hidden layer")
    (students_per_width, train_inputs) = check_sizes((students_per_width, train_inputs),
                                                     "students_per_width, train_inputs")
    widths = (spec.n_hidden,) if widths is None else tuple(int(h) for h in widths)
    if not widths or not all(1 <= h <= spec.n_hidden for h in widths):
        raise QuineInputError(f"widths must lie in 1..{spec.n_hidden}, got {widths}")
    gen = torch.Generator().manual_seed(int(seed))
    if teacher is None:
        teacher = balanced_teacher(spec, generator=gen)
    elif set(teacher) != set(spec.shapes) or teacher["W1"].shape[0] != 1:
        raise QuineInputError(f"teacher must be one network of the spec: keys {sorted(spec.shapes)}, batch 1")
    width_of = torch.tensor(widths).repeat_interleave(students_per_width)
    size = int(width_of.shape[0])
    dtype, device = teacher["W1"].dtype, teacher["W1"].device
    x = torch.randn(1, train_inputs, spec.n_in, generator=gen, dtype=dtype).to(device)
    y = mlp_forward(teacher, x)
    init = {k: v.to(device) for k, v in random_mlps(spec, size, generator=gen, dtype=dtype).items()}
    model = _Students(spec, init, width_of.to(device))
    xs, ys = x.expand(size, -1, -1), y.expand(size, -1, -1)

    def step_loss():
        return ((mlp_forward(model.weights(), xs) - ys) ** 2).mean((1, 2)).sum()

    record = fit_adam(model, f"a zoo of {size} students, full-batch Adam", step_loss, steps=steps, batch=size,
                      lr=lr, progress=progress)
    with torch.no_grad():
        weights = {k: v.detach().clone() for k, v in model.weights().items()}
    return Zoo(spec=spec, weights=weights, widths=width_of, teacher=teacher, train_x=x,
               r2=zoo_r2(spec, weights, teacher), record=record)


def fit_architecture_only(model: nn.Module, zoo: Zoo, *, loss: str, steps: int = 500, lr: float = 1e-2,
                          n_eval: int = 64, seed: int = 0, progress: bool = False) -> TrainRecord:
    """Train an architecture-only predictor (``weightpred.ArchitectureOnly``: width one-hot -> weights) on the
    zoo, every step on every student.  ``loss="weights"``: MSE against the students' weights, the seed's
    target; ``loss="functional"``: MSE between the predicted network's and each student's outputs on
    ``n_eval`` fresh inputs ~ N(0, I) per student."""
    if loss not in ("weights", "functional"):
        raise QuineInputError(f"loss must be 'weights' or 'functional', got {loss!r}")
    spec, cond, target = zoo.spec, zoo.width_one_hot(), flatten_mlps(zoo.weights)
    gen = torch.Generator().manual_seed(int(seed))

    def step_loss():
        pred = model(None, cond)
        if loss == "weights":
            return ((pred - target) ** 2).mean()
        x = torch.randn(zoo.size, n_eval, spec.n_in, generator=gen, dtype=target.dtype).to(target.device)
        return ((mlp_forward(unflatten_mlps(spec, pred), x) - mlp_forward(zoo.weights, x)) ** 2).mean()

    model.train()
    record = fit_adam(model, f"{type(model).__name__} on the zoo, {loss} loss", step_loss, steps=steps,
                      batch=zoo.size, lr=lr, progress=progress)
    model.eval()
    return record
