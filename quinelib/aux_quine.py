"""The auxiliary quine of Chang & Lipson (2018): replicate yourself *and* classify digits.

The network answers two kinds of question with one set of weights theta:

* a weight query: coordinate c -> E[c] (fixed index embedding, as in the
  index quine of chapter 3) -> f(c), its guess for its own theta_c;
* an image query: a digit image x -> ten class logits.

As in the paper, the first layer is split: ``coord_in`` (d -> coord_units)
reads the coordinate embedding and ``image_in`` (pixels -> image_units)
reads the image.  A weight query leaves the image units silent (zero) and an
image query leaves the coordinate units silent; everything after the first
layer is shared, and the output layer has 1 + n_classes units (the weight
and the logits).  The image path's parameters are part of theta like all the
others, so the network must predict them too.

Training minimises L = L_SR + lambda * L_task, with L_task the mean
cross-entropy on the training images.  ``relative=True`` (our default)
replaces L_SR by the relative SR loss rho^2 = L_SR / sum theta^2, which does not
reward shrinking the weights (chapter 3).
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn
from torch.nn import functional as fn

from .checks import QuineInputError, check_sizes, check_theta
from .index_quine import ACTIVATIONS, IndexQueries, record_replication
from .metrics import accuracy
from .params import assign_, flatten, functional
from .record import SolveResult, lbfgs_loop, make_optimiser, optimiser_step, progress_bar

__all__ = ["AuxQuine", "aux_objective", "auxiliary_loss", "train_aux", "train_aux_paper", "choose_lambda"]


class AuxQuine(IndexQueries):
    """An index quine with a second input (an image) and ten more outputs (class logits).

    ``forward(c)`` answers weight queries (so ``as_function(model, (coords,))``
    is F(theta) as in chapter 3); ``classify(x)`` answers image queries.
    """

    def __init__(self, d: int = 32, coord_units: int = 32, image_units: int = 32, hidden=(64,),
                 n_pixels: int = 64, n_classes: int = 10, activation: str = "selu", bias: bool = False,
                 seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        d, coord_units, image_units, n_pixels, n_classes = check_sizes(
            (d, coord_units, image_units, n_pixels, n_classes), "d, coord_units, image_units, n_pixels, n_classes")
        hidden = check_sizes(hidden, "hidden")
        self.check_activation_and_dtype(activation, dtype)
        self.d, self.coord_units, self.image_units = d, coord_units, image_units
        self.hidden, self.n_pixels, self.n_classes = hidden, n_pixels, n_classes
        self.activation_name, self.bias, self.seed = activation, bool(bias), int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.coord_in = nn.Linear(d, coord_units, bias=self.bias, dtype=dtype)
            self.image_in = nn.Linear(n_pixels, image_units, bias=self.bias, dtype=dtype)
            sizes = (coord_units + image_units, *hidden)
            self.body = nn.ModuleList(nn.Linear(a, b, bias=self.bias, dtype=dtype)
                                      for a, b in zip(sizes[:-1], sizes[1:]))
            self.head = nn.Linear(sizes[-1], 1 + n_classes, bias=self.bias, dtype=dtype)
            self.act = ACTIVATIONS[activation]()
            self.embed_indices(d, dtype)

    def _shared(self, h: torch.Tensor, path: int) -> torch.Tensor:
        """The layers after the split one.  ``h`` holds only the active path's units (0: coordinate,
        1: image); the silent path's units are zero, so only the matching columns of the next
        weight matrix are used: the same result as concatenating the zeros, at half the cost."""
        first = self.body[0] if self.body else self.head
        cols = slice(0, self.coord_units) if path == 0 else slice(self.coord_units, None)
        h = fn.linear(h, first.weight[:, cols], first.bias)
        if not self.body:
            return h
        h = self.act(h)
        for layer in self.body[1:]:
            h = self.act(layer(h))
        return self.head(h)

    def forward(self, c: torch.Tensor | None = None, *, images: torch.Tensor | None = None) -> torch.Tensor:
        """Weight queries: f(c) for each coordinate in ``c`` (the image units silent); with ``images=x``
        instead, the image queries of ``classify`` (so ``params.functional`` reaches both)."""
        if (c is None) == (images is None):
            raise QuineInputError("give either coordinates c or images=, not both or neither")
        if images is not None:
            return self.classify(images)
        self.check_coordinates(c)
        h = self.act(self.coord_in(self.embed[c]))
        return self._shared(h, 0)[:, 0]

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Image queries: class logits for images of shape (n, n_pixels) or (n, rows, cols)."""
        x = x.reshape(x.shape[0], -1).to(self.embed.dtype)
        if x.shape[1] != self.n_pixels:
            raise QuineInputError(f"images must have {self.n_pixels} pixels, got {x.shape[1]}")
        h = self.act(self.image_in(x))
        return self._shared(h, 1)[:, 1:]

    def extra_repr(self) -> str:
        return (f"P={self.P}, d={self.d}, coord_units={self.coord_units}, image_units={self.image_units}, "
                f"activation={self.activation_name}, bias={self.bias}, seed={self.seed}")


def auxiliary_loss(call, coords, th, x, y, lam, replicate, relative):
    """The auxiliary quine's loss at the flat weights ``th``: the replication part (L_SR, or L_SR / sum th^2
    when ``relative``) plus ``lam`` times the mean cross-entropy on the images ``x`` with labels ``y``.
    ``call = params.functional(model)`` evaluates the network at ``th``: ``call(th, coords)`` on its
    weight queries, ``call(th, images=x)`` on images."""
    d = call(th, coords) - th
    l_sr = (d * d).sum()
    loss = lam * fn.cross_entropy(call(th, images=x), y) if lam else th.new_zeros(())
    if replicate:
        loss = loss + (l_sr / (th * th).sum() if relative else l_sr)
    return loss


def aux_objective(model: AuxQuine, theta: torch.Tensor, images: torch.Tensor, labels: torch.Tensor, lam: float,
                  *, replicate: bool = True, relative: bool = True) -> torch.Tensor:
    """The training loss at theta: [L_SR or L_SR / sum theta^2] + lam * mean cross-entropy on (images, labels).

    With lam = 0 it is exactly the pure replication loss (the task term is not even evaluated).
    """
    return auxiliary_loss(functional(model), model.coordinates(), theta, _rows(images, model), labels, float(lam),
                      replicate, relative)


def _rows(images: torch.Tensor, model: AuxQuine) -> torch.Tensor:
    """Images as rows of pixels in the model's dtype."""
    return images.reshape(len(images), -1).to(model.embed.dtype)


def _prepare(model, data: dict, lam, theta0, who: str):
    """Check a trainer's model, task weight, data and start; return (lam, training images as rows, labels,
    theta0 as a fresh vector in the model's dtype: the model's own parameters when theta0 is None)."""
    if not isinstance(model, AuxQuine):
        raise QuineInputError(f"{who} needs an AuxQuine, got {type(model).__name__}")
    lam = float(lam)
    if not (lam >= 0 and lam < float("inf")):
        raise QuineInputError(f"lam must be a finite number >= 0, got {lam}")
    _check_data(data, model)
    theta = flatten(model) if theta0 is None else check_theta(theta0.detach().clone().to(model.embed.dtype), model.P,
                                                              name="theta0")
    return lam, _rows(data["train_images"], model), data["train_labels"], theta


def _check_data(data: dict, model: AuxQuine):
    for key in ("train_images", "train_labels", "test_images", "test_labels"):
        if key not in data:
            raise QuineInputError(f"data must hold {key!r} (see quinelib.data.load_digits_split)")
    for split in ("train", "test"):
        x, y = data[f"{split}_images"], data[f"{split}_labels"]
        if len(x) != len(y):
            raise QuineInputError(f"{split}: {len(x)} images but {len(y)} labels")
        if not torch.isfinite(x).all():
            raise QuineInputError(f"{split} images contain NaN or inf")
        if y.dtype != torch.int64 or (len(y) and (int(y.min()) < 0 or int(y.max()) >= model.n_classes)):
            raise QuineInputError(f"{split} labels must be int64 in 0..{model.n_classes - 1}")


def train_aux(model: AuxQuine, data: dict, lam: float, *, replicate: bool = True, relative: bool = True,
              max_iter: int = 100, time_budget: float | None = None, history: int = 50, theta0=None,
              record_every: int = 1, progress: bool = False) -> SolveResult:
    """Full-batch L-BFGS on L = L_SR + lam * L_task; returns a SolveResult.

    * ``relative=True`` uses L_SR / sum theta^2 (the relative SR loss rho^2) as the
      replication term, ``relative=False`` the paper's raw L_SR.
    * ``lam = 0`` trains replication only (the replicate-only baseline);
      ``replicate=False`` drops the replication term (the classify-only
      baseline, which uses lam as given, typically 1).
    * L_task is the mean cross-entropy over all training images.

    ``extra`` holds, per recorded iteration: ``L_SR``, ``sum_theta2``,
    ``relative_sr_loss``, ``L_task`` (training cross-entropy), ``train_accuracy``,
    ``test_accuracy`` and ``iteration``.  ``residuals`` is sqrt(L_SR).
    """
    lam, xtr, ytr, theta = _prepare(model, data, lam, theta0, "train_aux")
    if not replicate and lam == 0:
        raise QuineInputError("with replicate=False and lam = 0 there is nothing to train")
    check_sizes(max_iter, "max_iter")
    check_sizes(record_every, "record_every")

    coords = model.coordinates()
    call = functional(model)
    theta.requires_grad_(True)

    def objective(th):
        return auxiliary_loss(call, coords, th, xtr, ytr, lam, replicate, relative)

    what = ("classify only" if not replicate else "replicate only" if lam == 0 else f"lambda = {lam:g}")
    res = SolveResult(method=f"auxiliary quine, L-BFGS, {what}", theta=theta.detach().clone(),
                      theta0=theta.detach().clone())
    t0 = time.perf_counter()

    probe = copy.deepcopy(model)
    recorder = _Recorder(probe, data, res, t0)

    def record(k):
        th = theta.detach()
        assign_(probe, th)
        recorder(k, th)

    record(0)
    res.iterations, res.stop_reason, res.theta = lbfgs_loop(
        objective, theta, max_iter=max_iter, history=history, record=record, t0=t0, time_budget=time_budget,
        record_every=record_every, progress=progress, desc=what)
    res.converged = res.stop_reason.startswith("stalled")
    return _finish(res, lam, replicate, t0)


def train_aux_paper(model: AuxQuine, data: dict, lam: float = 0.01, *, epochs: int = 10, optimizer: str = "adam",
                    lr: float = 1e-3, batch_size: int = 64, seed: int = 0, theta0=None,
                    progress: bool = False) -> SolveResult:
    """The paper's recipe: minibatches, detached targets, raw L_SR + lam * L_task.

    Each step takes a batch of coordinates (targets theta_c treated as
    constants, as in chapter 3's ``train_paper``) and a batch of training
    images.  One epoch passes over every coordinate once; the image batches
    cycle through the training set.  ``extra`` holds the same per-epoch
    numbers as ``train_aux``.
    """
    lam, xtr, ytr, theta0 = _prepare(model, data, lam, theta0, "train_aux_paper")
    check_sizes(epochs, "epochs")
    check_sizes(batch_size, "batch_size")
    probe = copy.deepcopy(model)
    assign_(probe, theta0)
    params = [p for _, p in probe.named_parameters()]
    opt, opt_name = make_optimiser(optimizer, params, lr, None)
    gen = torch.Generator().manual_seed(int(seed))
    res = SolveResult(method=f"auxiliary quine, paper-style {opt_name}, lambda = {lam:g}", theta=theta0.clone(),
                      theta0=theta0.clone())
    t0 = time.perf_counter()
    recorder = _Recorder(probe, data, res, t0)
    recorder(0, flatten(probe))
    res.stop_reason = f"reached epochs = {epochs}"
    img_order = torch.randperm(len(xtr), generator=gen)
    pos = 0
    for epoch in progress_bar(range(1, epochs + 1), progress, "paper-style"):
        for c in torch.randperm(probe.P, generator=gen).split(batch_size):
            target = flatten(probe)[c]  # detached: a constant, as in the paper
            idx = img_order[pos:pos + batch_size]
            pos += batch_size
            if pos >= len(xtr):
                img_order, pos = torch.randperm(len(xtr), generator=gen), 0
            loss = ((probe(c) - target) ** 2).sum() + lam * fn.cross_entropy(probe.classify(xtr[idx]), ytr[idx])
            optimiser_step(opt, loss)
        theta = flatten(probe)
        if res.stops_on_non_finite(theta, f"after epoch {epoch}"):
            break
        res.iterations = epoch
        recorder(epoch, theta)
        res.theta = theta
    return _finish(res, lam, True, t0)


def choose_lambda(sweep: dict, base_accuracy: float, gap: float) -> float | None:
    """Chapter 4's choice of lambda from a sweep {lambda: ``train_aux`` result}: among the runs whose final
    test accuracy is within ``gap`` of ``base_accuracy`` (the classify-only network's), the lambda whose
    final relative residual rho is smallest; None when no run is that close."""
    close = [lam for lam, r in sweep.items() if r.extra["test_accuracy"][-1] >= base_accuracy - gap]
    return min(close, key=lambda lam: sweep[lam].extra["relative_residual"][-1]) if close else None


def _finish(res: SolveResult, lam: float, replicate: bool, t0: float) -> SolveResult:
    """A trainer's last entries: lambda and whether the network replicated, and the wall time."""
    res.extra["lam"] = lam
    res.extra["replicate"] = replicate
    res.wall_time = time.perf_counter() - t0
    return res


class _Recorder:
    """Appends one row of numbers (L_SR, rho^2, rho, accuracies, ...) to a SolveResult."""

    def __init__(self, model: AuxQuine, data: dict, res: SolveResult, t0: float):
        self.model, self.res, self.t0 = model, res, t0
        self.xtr, self.xte = _rows(data["train_images"], model), _rows(data["test_images"], model)
        self.ytr, self.yte = data["train_labels"], data["test_labels"]

    @torch.no_grad()
    def __call__(self, k: int, theta: torch.Tensor):
        """Record the numbers of ``self.model``, whose parameters must already be ``theta``."""
        m = self.model
        record_replication(self.res, m(m.coordinates()), theta, self.t0, k)
        logits = m.classify(self.xtr)
        ex = self.res.extra
        ex.setdefault("L_task", []).append(float(fn.cross_entropy(logits, self.ytr)))
        ex.setdefault("train_accuracy", []).append(accuracy(logits, self.ytr))
        ex.setdefault("test_accuracy", []).append(accuracy(m.classify(self.xte), self.yte))
        self.res.wall_time = time.perf_counter() - self.t0
