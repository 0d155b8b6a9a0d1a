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
from .index_quine import ACTIVATIONS
from .params import assign_, flatten, layout
from .solvers import SolveResult, make_optimiser, progress_bar

__all__ = ["AuxQuine", "accuracy", "aux_objective", "auxiliary_loss", "train_aux", "train_aux_paper", "confusion_matrix"]


class AuxQuine(nn.Module):
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
        if activation not in ACTIVATIONS:
            raise QuineInputError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if dtype not in (torch.float32, torch.float64):
            raise QuineInputError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
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
            self.P = sum(p.numel() for p in self.parameters())
            self.register_buffer("embed", torch.randn(self.P, d, dtype=dtype))

    def coordinates(self) -> torch.Tensor:
        return torch.arange(self.P)

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

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        """Weight queries: f(c) for each coordinate in ``c`` (the image units silent)."""
        if c.dtype not in (torch.int64, torch.int32):
            raise QuineInputError(f"coordinates must be an integer tensor, got {c.dtype}")
        if c.numel() and (int(c.min()) < 0 or int(c.max()) >= self.P):
            raise QuineInputError(f"coordinates must lie in 0..{self.P - 1}")
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


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is at the true label."""
    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
        raise QuineInputError(f"expected logits (n, k) and labels (n,), got {tuple(logits.shape)} and "
                              f"{tuple(labels.shape)}")
    if len(labels) == 0:
        raise QuineInputError("accuracy of an empty set is undefined")
    return float((logits.argmax(dim=1) == labels).double().mean())


def confusion_matrix(logits: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """counts[i, j] = number of images of class i predicted as class j."""
    k = n_classes or logits.shape[1]
    idx = labels * k + logits.argmax(dim=1)
    return torch.bincount(idx, minlength=k * k).reshape(k, k)


def _functional(model: AuxQuine):
    """call(theta, kind, arg): the model's weight queries (kind None) or image queries (kind "classify")
    evaluated at the flat parameter vector theta, through torch.func.functional_call."""
    slots = layout(model)
    buffers = dict(model.named_buffers())
    classifier = _Classifier(model)
    cbuffers = {f"model.{k}": v for k, v in buffers.items()}

    def call(th, kind, arg):
        params = {s.name: th[s.start:s.stop].view(s.shape) for s in slots}
        if kind is None:
            return torch.func.functional_call(model, (params, buffers), (arg,), strict=True)
        params = {f"model.{k}": v for k, v in params.items()}
        return torch.func.functional_call(classifier, (params, cbuffers), (arg,), strict=True)

    return call


def auxiliary_loss(call, coords, th, x, y, lam, replicate, relative):
    """The auxiliary quine's loss at the flat weights ``th``: the replication part (L_SR, or L_SR / sum th^2
    when ``relative``) plus ``lam`` times the mean cross-entropy on the images ``x`` with labels ``y``.
    ``call(th, kind, arg)`` evaluates the network at ``th`` on weight queries (kind None) or images."""
    d = call(th, None, coords) - th
    l_sr = (d * d).sum()
    loss = lam * fn.cross_entropy(call(th, "classify", x), y) if lam else th.new_zeros(())
    if replicate:
        loss = loss + (l_sr / (th * th).sum() if relative else l_sr)
    return loss


def aux_objective(model: AuxQuine, theta: torch.Tensor, images: torch.Tensor, labels: torch.Tensor, lam: float,
                  *, replicate: bool = True, relative: bool = True) -> torch.Tensor:
    """The training loss at theta: [L_SR or L_SR / sum theta^2] + lam * mean cross-entropy on (images, labels).

    With lam = 0 it is exactly the pure replication loss (the task term is not even evaluated).
    """
    return auxiliary_loss(_functional(model), model.coordinates(), theta, _rows(images, model), labels, float(lam),
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
    call = _functional(model)
    theta.requires_grad_(True)

    def objective(th):
        return auxiliary_loss(call, coords, th, xtr, ytr, lam, replicate, relative)

    opt = torch.optim.LBFGS([theta], lr=1, max_iter=20, history_size=history, line_search_fn="strong_wolfe",
                            tolerance_grad=0, tolerance_change=0)

    def closure():
        opt.zero_grad()
        loss = objective(theta)
        loss.backward()
        return loss

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
    res.stop_reason = f"reached max_iter = {max_iter}"
    for k in progress_bar(range(1, max_iter + 1), progress, what):
        before = theta.detach().clone()
        loss = opt.step(closure)
        if not (torch.isfinite(theta).all() and torch.isfinite(loss)):
            res.stop_reason = f"diverged: theta or the loss is not finite at iteration {k}"
            break
        res.iterations = k
        res.theta = theta.detach().clone()
        if torch.equal(before, theta.detach()):
            record(k)
            res.converged = True
            res.stop_reason = f"stalled at iteration {k}: L-BFGS can lower the loss no further"
            break
        out_of_time = time_budget is not None and time.perf_counter() - t0 >= time_budget
        if k % record_every == 0 or k == max_iter or out_of_time:
            record(k)
        if out_of_time:
            res.stop_reason = f"reached the time budget of {time_budget:g} s"
            break
    res.extra["lam"] = lam
    res.extra["replicate"] = replicate
    res.wall_time = time.perf_counter() - t0
    return res


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
            opt.zero_grad()
            loss.backward()
            opt.step()
        theta = flatten(probe)
        if not torch.isfinite(theta).all():
            res.stop_reason = f"diverged: theta is not finite after epoch {epoch}"
            break
        res.iterations = epoch
        recorder(epoch, theta)
        res.theta = theta
    res.extra["lam"] = lam
    res.extra["replicate"] = True
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
        l_sr = float(((m(m.coordinates()) - theta) ** 2).sum())
        total = float((theta * theta).sum())
        logits = m.classify(self.xtr)
        res = self.res
        res._record(theta, l_sr**0.5, self.t0)
        ex = res.extra
        ex.setdefault("iteration", []).append(k)
        ex.setdefault("L_SR", []).append(l_sr)
        ex.setdefault("sum_theta2", []).append(total)
        ex.setdefault("relative_sr_loss", []).append(l_sr / total if total > 0 else float("inf"))
        ex.setdefault("relative_residual", []).append(ex["relative_sr_loss"][-1] ** 0.5)
        ex.setdefault("L_task", []).append(float(fn.cross_entropy(logits, self.ytr)))
        ex.setdefault("train_accuracy", []).append(accuracy(logits, self.ytr))
        ex.setdefault("test_accuracy", []).append(accuracy(m.classify(self.xte), self.yte))
        res.wall_time = time.perf_counter() - self.t0


class _Classifier(nn.Module):
    """A view of an AuxQuine whose forward is ``classify`` (so functional_call can reach it)."""

    def __init__(self, model: AuxQuine):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.classify(x)
