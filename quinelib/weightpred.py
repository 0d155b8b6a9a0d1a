"""Weight prediction (chapter 5): networks that read other networks.

* ``random_mlps`` / ``mlp_forward``: a batch of small random MLPs (LeCun
  initialisation, fresh every call) and their batched forward pass,
  y = relu(x W1 + b1) W2 + b2, with ``torch.bmm`` over the batch.
* Forward predictors, (x, flat weights) -> y: ``PlainMLP``, ``XLinear``
  (the raw input re-concatenated at every layer) and ``ResLinear``
  (residual blocks).
* Inverse predictors, a set of (x, y) pairs -> flat weights: ``FlatMLP``
  (the pairs concatenated in order: the seed's failing baseline),
  ``DeepSets`` (pair encoder, mean pooling, decoder) and ``AttentionPool``
  (pooling by multi-head attention from learned seeds, optionally after
  self-attention between the pairs).
* ``functional_loss``: MSE between the true and the predicted weights'
  outputs on fresh inputs; ``r2_against_mean``: 1 - MSE / variance of the true
  outputs.
* What else a predictor may read (seed 004): ``ArchitectureOnly`` (the
  architecture alone, no pairs) and ``ProbePredictor`` (the outputs, or their
  mean and spread, on one fixed probe batch of inputs).
* ``align_hidden``: match the predicted network's hidden units to the true
  one's (``scipy.optimize.linear_sum_assignment``), so weights can be
  compared after the permutation that leaves the function unchanged.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from .arccos import expected_squared_difference
from .checks import QuineInputError, check_sizes
from .metrics import FAIL_BELOW, r2_summary
from .params import module_device
from .record import TrainRecord
from .solvers import batched_levenberg_marquardt

__all__ = ["MLPSpec", "random_mlps", "mlp_forward", "flatten_mlps", "unflatten_mlps", "PlainMLP", "XLinear",
           "ResLinear", "FlatMLP", "DeepSets", "AttentionPool", "functional_loss", "align_hidden",
           "permute_hidden", "make_pairs", "TrainRecord", "smooth", "train_inverse", "train_forward",
           "refine_lm", "evaluate_inverse", "POOLINGS", "least_squares_weights", "canonicalise", "lm_from_random",
           "compare_starts", "ABLATION", "pooling_ablation", "RESCALE_TAU", "weight_space_optimum", "unit_spread",
           "hidden_units", "random_symmetry", "ArchitectureOnly", "ProbePredictor", "PROBE_FEATURES", "probe_inputs", "fit_adam",
           "relative_weight_error", "aligned_weight_error", "mask_hidden", "PROBE_COMPARISON", "width_generalisation", "best_fit",
           "pair_residual", "basin_hopping", "hops_label", "mlp_jacobian"]


@dataclass(frozen=True)
class MLPSpec:
    """The architecture of the small networks being predicted: in -> hidden (ReLU) -> out."""

    n_in: int = 2
    n_hidden: int = 5
    n_out: int = 1
    bias: bool = False

    def __post_init__(self):
        check_sizes((self.n_in, self.n_out), "n_in, n_out")
        if self.n_hidden != 0:
            check_sizes(self.n_hidden, "n_hidden (0 for a linear network)")

    @property
    def linear(self) -> bool:
        """n_hidden = 0: the linear network y = x W (+ b), the seed's sanity check."""
        return self.n_hidden == 0

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        if self.linear:
            return {"W": (self.n_in, self.n_out), **({"b": (self.n_out,)} if self.bias else {})}
        s = {"W1": (self.n_in, self.n_hidden), "W2": (self.n_hidden, self.n_out)}
        if self.bias:
            s = {"W1": s["W1"], "b1": (self.n_hidden,), "W2": s["W2"], "b2": (self.n_out,)}
        return s

    @property
    def unknowns(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes.values())


def random_mlps(spec: MLPSpec, batch: int, *, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32, device=None) -> dict[str, torch.Tensor]:
    """``batch`` fresh MLPs with LeCun initialisation: every weight ~ N(0, 1 / fan_in); biases likewise.  Drawn
    on the CPU (``generator`` is a CPU generator, so a seed gives the same networks everywhere), then moved to
    ``device``."""
    (batch,) = check_sizes(batch, "batch")
    out = {}
    for name, shape in spec.shapes.items():
        fan_in = shape[0] if name.startswith("W") else (spec.n_hidden if name == "b2" else spec.n_in)
        out[name] = (torch.randn(batch, *shape, generator=generator, dtype=dtype) / fan_in**0.5).to(device)
    return out


def mlp_forward(weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Batched forward: x (B, n, n_in) -> y (B, n, n_out), one network per batch entry."""
    first = weights["W"] if "W" in weights else weights["W1"]
    if x.ndim != 3 or x.shape[0] != first.shape[0] or x.shape[2] != first.shape[1]:
        raise QuineInputError(f"x must have shape (batch={first.shape[0]}, n, {first.shape[1]}), got {tuple(x.shape)}")
    if "W" in weights:  # the linear network
        y = torch.bmm(x, weights["W"])
        return y + weights["b"].unsqueeze(1) if "b" in weights else y
    W1, W2 = weights["W1"], weights["W2"]
    h = torch.bmm(x, W1)
    if "b1" in weights:
        h = h + weights["b1"].unsqueeze(1)
    y = torch.bmm(torch.relu(h), W2)
    if "b2" in weights:
        y = y + weights["b2"].unsqueeze(1)
    return y


def flatten_mlps(weights: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, unknowns): the weights of each network as one vector, in the spec's order."""
    return torch.cat([w.reshape(w.shape[0], -1) for w in weights.values()], dim=1)


def unflatten_mlps(spec: MLPSpec, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    if flat.ndim != 2 or flat.shape[1] != spec.unknowns:
        raise QuineInputError(f"expected flat weights of shape (batch, {spec.unknowns}), got {tuple(flat.shape)}")
    out, start = {}, 0
    for name, shape in spec.shapes.items():
        n = math.prod(shape)
        out[name] = flat[:, start:start + n].reshape(flat.shape[0], *shape)
        start += n
    return out


def _mlp(sizes, act=nn.ReLU):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers[:-1])


# ----------------------------------------------------------------------------------------- forward predictors
class PlainMLP(nn.Module):
    """(x, w) -> y with a plain MLP on their concatenation."""

    def __init__(self, n_in: int, unknowns: int, n_out: int, width: int = 128, depth: int = 4):
        super().__init__()
        self.net = _mlp([n_in + unknowns] + [width] * depth + [n_out])

    def forward(self, x, w):
        return self.net(torch.cat([x, w], dim=-1))


class XLinear(nn.Module):
    """Every layer sees the previous layer's output *and* the raw input (x, w) again."""

    def __init__(self, n_in: int, unknowns: int, n_out: int, width: int = 128, depth: int = 4):
        super().__init__()
        d = n_in + unknowns
        self.layers = nn.ModuleList([nn.Linear(d, width)] + [nn.Linear(width + d, width) for _ in range(depth - 1)])
        self.out = nn.Linear(width + d, n_out)

    def forward(self, x, w):
        z = torch.cat([x, w], dim=-1)
        h = torch.relu(self.layers[0](z))
        for layer in self.layers[1:]:
            h = torch.relu(layer(torch.cat([h, z], dim=-1)))
        return self.out(torch.cat([h, z], dim=-1))


class ResLinear(nn.Module):
    """Residual blocks h <- h + W2 relu(W1 h), after a linear embedding of (x, w)."""

    def __init__(self, n_in: int, unknowns: int, n_out: int, width: int = 128, depth: int = 4):
        super().__init__()
        self.embed = nn.Linear(n_in + unknowns, width)
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                                  nn.Linear(width, width)) for _ in range(depth // 2))
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(width, n_out))

    def forward(self, x, w):
        h = self.embed(torch.cat([x, w], dim=-1))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


# ----------------------------------------------------------------------------------------- inverse predictors
def _check_pairs(pairs: torch.Tensor, d_pair: int):
    if pairs.ndim != 3 or pairs.shape[2] != d_pair:
        raise QuineInputError(f"pairs must have shape (batch, n_pairs, {d_pair}), got {tuple(pairs.shape)}")


class FlatMLP(nn.Module):
    """The seed's first attempt: all pairs concatenated into one long vector (order matters to it)."""

    def __init__(self, d_pair: int, n_pairs: int, unknowns: int, width: int = 256, depth: int = 3):
        super().__init__()
        self.d_pair, self.n_pairs = d_pair, n_pairs
        self.net = _mlp([d_pair * n_pairs] + [width] * depth + [unknowns])

    def forward(self, pairs):
        _check_pairs(pairs, self.d_pair)
        if pairs.shape[1] != self.n_pairs:
            raise QuineInputError(f"FlatMLP was built for {self.n_pairs} pairs, got {pairs.shape[1]}")
        return self.net(pairs.flatten(1))


#: Deep Sets' order-invariant poolings of the codes phi(pair), and how many numbers each gives per code width.
POOLINGS = {"mean": 1, "max": 1, "mean+std": 2}


class DeepSets(nn.Module):
    """phi on each pair, a pooling over the set, rho on the pooled vector (Zaheer et al., 2017).

    ``pooling``: ``"mean"`` (Deep Sets' own), ``"max"`` (elementwise), or ``"mean+std"`` (the mean and the
    standard deviation of every code entry: 2 x ``width`` pooled numbers).  ``width`` is the code's size.
    """

    def __init__(self, d_pair: int, unknowns: int, width: int = 128, hidden: int = 256, cond: int = 0,
                 pooling: str = "mean"):
        super().__init__()
        if pooling not in POOLINGS:
            raise QuineInputError(f"pooling must be one of {sorted(POOLINGS)}, got {pooling!r}")
        self.d_pair, self.cond, self.pooling = d_pair, cond, pooling
        self.pooled_width = POOLINGS[pooling] * width
        self.phi = _mlp([d_pair, width, hidden, width])
        self.rho = _mlp([self.pooled_width + cond, hidden, width, unknowns])

    def pool(self, h):
        """(batch, n_pairs, width) codes -> (batch, pooled_width), the same for every order of the pairs."""
        if self.pooling == "mean":
            return h.mean(dim=1)
        if self.pooling == "max":
            return h.amax(dim=1)
        return torch.cat([h.mean(dim=1), h.std(dim=1, unbiased=False)], dim=1)

    def forward(self, pairs, cond=None):
        _check_pairs(pairs, self.d_pair)
        return self.rho(_with_cond(self.pool(self.phi(pairs)), cond, self.cond))


class AttentionPool(nn.Module):
    """phi on each pair, optional self-attention between pairs, then pooling by multi-head attention from
    ``seeds`` learned query vectors (the Set Transformer's PMA), and a decoder on the pooled vectors."""

    def __init__(self, d_pair: int, unknowns: int, width: int = 128, hidden: int = 256, seeds: int = 4,
                 heads: int = 4, self_attention: int = 0, cond: int = 0):
        super().__init__()
        self.d_pair, self.cond = d_pair, cond
        self.pooled_width = seeds * width
        self.phi = _mlp([d_pair, width, hidden, width])
        self.sab = nn.ModuleList(nn.TransformerEncoderLayer(width, heads, hidden, dropout=0.0, batch_first=True)
                                 for _ in range(self_attention))
        self.seeds = nn.Parameter(torch.randn(seeds, width) / width**0.5)
        self.pma = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.rho = _mlp([seeds * width + cond, hidden, width, unknowns])

    def forward(self, pairs, cond=None):
        _check_pairs(pairs, self.d_pair)
        h = self.phi(pairs)
        for layer in self.sab:
            h = layer(h)
        q = self.seeds.unsqueeze(0).expand(h.shape[0], -1, -1)
        pooled, _ = self.pma(q, h, h, need_weights=False)
        pooled = self.norm(pooled + q)
        return self.rho(_with_cond(pooled.flatten(1), cond, self.cond))


class ArchitectureOnly(nn.Module):
    """The seed's first predictor: the architecture in (here the number of hidden units used, one-hot), the
    weights out, and nothing about the function: an MLP on ``cond`` alone.  It takes the set encoders'
    arguments, (pairs, cond), so that the same trainers and evaluations apply, and never reads ``pairs``."""

    def __init__(self, widths: int, unknowns: int, hidden: int = 64):
        super().__init__()
        self.cond = widths
        self.net = _mlp([widths, hidden, hidden, unknowns])

    def forward(self, pairs, cond):
        if cond is None or cond.ndim != 2 or cond.shape[1] != self.cond:
            raise QuineInputError(f"cond must have shape (batch, {self.cond}): the architecture, one-hot")
        weight = self.net[0].weight
        return self.net(cond.to(device=weight.device, dtype=weight.dtype))


#: What ``ProbePredictor`` reads from a network's outputs on the probe batch: ``"outputs"``, all of them in the
#: probe's order; ``"moments"``, only their mean and standard deviation (the seed's activation statistics).
PROBE_FEATURES = ("outputs", "moments")


class ProbePredictor(nn.Module):
    """The seed's third predictor: weights from statistics of the network's activations on one *fixed* probe
    batch of inputs (``probe_inputs``), the same batch for every network, so the inputs need not be read.

    It takes pairs made on that probe (``make_pairs(..., probe=...)``) and keeps only their outputs:
    ``features="outputs"`` reads all ``n_probe x n_out`` of them in the probe's order (a flat MLP, which a fixed
    order makes legitimate), ``"moments"`` their mean and standard deviation over the batch (2 x n_out numbers).
    """

    def __init__(self, n_in: int, n_out: int, n_probe: int, unknowns: int, features: str = "outputs",
                 hidden: int = 256, depth: int = 3):
        super().__init__()
        if features not in PROBE_FEATURES:
            raise QuineInputError(f"features must be one of {PROBE_FEATURES}, got {features!r}")
        self.n_in, self.n_out, self.n_probe, self.features = n_in, n_out, n_probe, features
        self.d_pair = n_in + n_out
        width = n_probe * n_out if features == "outputs" else 2 * n_out
        self.net = _mlp([width] + [hidden] * depth + [unknowns])

    def featurise(self, pairs: torch.Tensor) -> torch.Tensor:
        _check_pairs(pairs, self.d_pair)
        if pairs.shape[1] != self.n_probe:
            raise QuineInputError(f"this predictor reads a probe batch of {self.n_probe} inputs, got {pairs.shape[1]}")
        y = pairs[..., self.n_in:]
        if self.features == "outputs":
            return y.flatten(1)
        return torch.cat([y.mean(1), y.std(1, unbiased=False)], dim=1)

    def forward(self, pairs, cond=None):
        if cond is not None:
            raise QuineInputError("ProbePredictor takes no conditioning input")
        return self.net(self.featurise(pairs))


def probe_inputs(spec: "MLPSpec", n_probe: int, *, seed: int = 777, dtype: torch.dtype = torch.float32):
    """The fixed probe batch: ``n_probe`` inputs ~ N(0, I) from their own seed, shape (n_probe, n_in)."""
    (n_probe,) = check_sizes(n_probe, "n_probe")
    return torch.randn(n_probe, spec.n_in, generator=torch.Generator().manual_seed(int(seed)), dtype=dtype)


def _with_cond(z, cond, size):
    """Append the conditioning vector (an architecture description) to the pooled code."""
    if size == 0:
        if cond is not None:
            raise QuineInputError("this predictor was built without a conditioning input (cond=0)")
        return z
    if cond is None or cond.shape != (z.shape[0], size):
        raise QuineInputError(f"cond must have shape ({z.shape[0]}, {size})")
    return torch.cat([z, cond.to(z.dtype)], dim=1)


# ----------------------------------------------------------------------------------------- losses and measures
def functional_loss(spec: MLPSpec, predicted_flat: torch.Tensor, true: dict[str, torch.Tensor],
                    x_eval: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the predicted and the true networks' outputs on ``x_eval``."""
    return ((mlp_forward(unflatten_mlps(spec, predicted_flat), x_eval) - mlp_forward(true, x_eval)) ** 2).mean()


def permute_hidden(weights: dict[str, torch.Tensor], perm: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same networks with their hidden units reordered: new unit k is old unit ``perm[k]`` (columns of
    W1 and entries of b1, rows of W2).  ``perm`` is one permutation for every network, shape (hidden,), or
    one per network, shape (B, hidden).  The function is unchanged: a sum does not depend on its order."""
    batch, n_in, hidden = weights["W1"].shape
    perm = perm.expand(batch, hidden) if perm.ndim == 1 else perm
    if perm.shape != (batch, hidden):
        raise QuineInputError(f"perm must have shape ({hidden},) or ({batch}, {hidden}), got {tuple(perm.shape)}")
    out = dict(weights)
    out["W1"] = torch.gather(weights["W1"], 2, perm[:, None, :].expand(-1, n_in, -1))
    out["W2"] = torch.gather(weights["W2"], 1, perm[:, :, None].expand(-1, -1, weights["W2"].shape[2]))
    if "b1" in weights:
        out["b1"] = torch.gather(weights["b1"], 1, perm)
    return out


def hidden_units(weights: dict[str, torch.Tensor]) -> torch.Tensor:
    """Each hidden unit as one row, (B, hidden, features): its incoming weights, its bias (if any), its outgoing
    weights.  Alignment matches these rows; ``unit_spread`` measures how different they are."""
    parts = [weights["W1"].transpose(1, 2), weights["W2"]]
    if "b1" in weights:
        parts.insert(1, weights["b1"].unsqueeze(2))
    return torch.cat(parts, dim=2)


def align_hidden(pred: dict[str, torch.Tensor], true: dict[str, torch.Tensor]) -> torch.Tensor:
    """For each network in the batch, the permutation of pred's hidden units that best matches true's.

    Each hidden unit is described by its incoming weights (and bias) and its outgoing weights; the cost of
    matching predicted unit i to true unit j is the squared distance of those descriptions, and
    ``scipy.optimize.linear_sum_assignment`` finds the cheapest one-to-one matching.  Returns (B, hidden)
    indices ``perm`` such that ``permute_hidden(pred, perm)`` lines up with ``true``, network by network.
    """
    from scipy.optimize import linear_sum_assignment

    up, ut = hidden_units(pred).detach().double(), hidden_units(true).detach().double()
    cost = torch.cdist(ut, up) ** 2  # (B, true unit, predicted unit)
    perms = []
    for c in cost:
        rows, cols = linear_sum_assignment(c.cpu().numpy())
        perms.append(torch.as_tensor(cols[rows.argsort()]))
    return torch.stack(perms).to(up.device)


# ----------------------------------------------------------------------------------------- data and training
def make_pairs(spec: MLPSpec, batch: int, n_pairs: int, *, generator: torch.Generator | None = None,
               scale: float = 1.0, shift: float = 0.0, weights: dict | None = None,
               probe: torch.Tensor | None = None):
    """Fresh networks (unless ``weights`` is given) and ``n_pairs`` input/output pairs of each.

    Inputs are ``scale * N(0, I) + shift``, fresh for every network, or with ``probe`` (n_pairs, n_in) the same
    inputs for every network (then ``scale * probe + shift``).  Returns (weights, pairs) with pairs of shape
    (batch, n_pairs, n_in + n_out): each row is x followed by y.
    """
    w = random_mlps(spec, batch, generator=generator) if weights is None else weights
    like = w[next(iter(w))]
    if probe is None:
        x = (scale * torch.randn(batch, n_pairs, spec.n_in, generator=generator) + shift).to(like)
    else:
        if probe.shape != (n_pairs, spec.n_in):
            raise QuineInputError(f"probe must have shape ({n_pairs}, {spec.n_in}), got {tuple(probe.shape)}")
        x = (scale * probe + shift).to(like).expand(batch, -1, -1)
    return w, torch.cat([x, mlp_forward(w, x)], dim=-1)


def smooth(values, beta: float = 0.98) -> list:
    """Exponential moving average with bias correction (as in the seed's plots)."""
    out, m = [], 0.0
    for k, v in enumerate(values, start=1):
        m = beta * m + (1 - beta) * v
        out.append(m / (1 - beta**k))
    return out


def _schedule(opt, lr, step, steps):
    for group in opt.param_groups:
        group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))


def train_inverse(model: nn.Module, spec: MLPSpec, n_pairs, *, steps: int = 1000, batch: int = 256,
                  n_eval: int = 64, lr: float = 1e-3, seed: int = 0, loss: str = "functional",
                  hidden_range: tuple[int, int] | None = None, tell_width: bool = True,
                  probe: torch.Tensor | None = None, progress: bool = False) -> TrainRecord:
    """Train an inverse predictor (pairs -> weights) on fresh random networks every step.

    ``loss="functional"``: MSE between the true and the predicted networks' outputs on ``n_eval`` fresh
    inputs per network (the seed's choice).  ``loss="exact"``: the same loss with infinitely many inputs, in
    closed form (``arccos.expected_squared_difference``; bias-free networks only), so without sampling noise.  ``loss="weights"``: MSE between the predicted and the target
    weights, where the target is the true network with its hidden units randomly permuted and rescaled
    (relu(c z) = c relu(z) for c > 0): the same function, written down the way an independently trained
    network might write it.  ``hidden_range=(lo, hi)``: each network uses a random number of hidden units
    in lo..hi (the rest are zero) and the model receives that number, one-hot, as its ``cond`` input (unless
    ``tell_width=False``: then it sees the pairs alone).  ``probe`` (n_pairs, n_in): the pairs' inputs are this
    fixed batch for every network (``probe_inputs``), as ``ProbePredictor`` needs.
    ``n_pairs`` may be a range (lo, hi): each step then draws its number of pairs from lo..hi, so that one
    set encoder learns to use however many pairs it is given.
    Adam with a cosine learning-rate schedule; data from a generator seeded with ``seed``.
    """
    if loss not in ("functional", "exact", "weights"):
        raise QuineInputError(f"loss must be 'functional', 'exact' or 'weights', got {loss!r}")
    if loss == "exact" and (spec.bias or spec.linear):
        raise QuineInputError("loss='exact' (the arc-cosine closed form) needs bias-free ReLU networks")
    lo, hi = (n_pairs, n_pairs) if isinstance(n_pairs, int) else tuple(n_pairs)
    check_sizes((lo, hi), "n_pairs")
    for name, v in (("steps", steps), ("batch", batch), ("n_eval", n_eval)):
        check_sizes(v, name)
    if hi < lo:
        raise QuineInputError(f"n_pairs range must have lo <= hi, got {n_pairs}")
    gen = torch.Generator().manual_seed(int(seed))

    if probe is not None and lo != hi:
        raise QuineInputError("a fixed probe batch needs a fixed number of pairs")

    device = module_device(model)

    def step_loss():
        w = random_mlps(spec, batch, generator=gen, device=device)
        cond = None
        if hidden_range is not None:
            w, cond = mask_hidden(spec, w, hidden_range, gen)
            cond = cond if tell_width else None
        count = lo if lo == hi else int(torch.randint(lo, hi + 1, (1,), generator=gen))
        w, pairs = make_pairs(spec, batch, count, generator=gen, weights=w, probe=probe)
        pred = model(pairs) if cond is None else model(pairs, cond)
        if loss == "functional":
            return functional_loss(spec, pred, w, torch.randn(batch, n_eval, spec.n_in, generator=gen).to(device))
        if loss == "exact":
            return expected_squared_difference(unflatten_mlps(spec, pred), w).mean()
        return ((pred - flatten_mlps(random_symmetry(spec, w, gen))) ** 2).mean()

    model.train()
    rec = fit_adam(model, f"{type(model).__name__}, {loss} loss, {n_pairs} pairs", step_loss, steps=steps, batch=batch,
               lr=lr, progress=progress)
    model.eval()
    return rec


def fit_adam(model: nn.Module, method: str, step_loss, *, steps: int, batch: int, lr: float,
             progress: bool = False) -> TrainRecord:
    """Adam with a cosine learning-rate schedule from ``lr`` to 0 over ``steps`` steps of ``step_loss()`` (a
    function returning the loss on fresh data each call; ``batch`` is only counted, as functions seen); stops
    on a non-finite loss with the reason.  Every predictor of chapter 5 is trained by it."""
    from .record import progress_bar

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rec = TrainRecord(method=method)
    t0 = time.perf_counter()
    rec.stop_reason = f"reached steps = {steps}"
    for step in progress_bar(range(steps), progress, method):
        _schedule(opt, lr, step, steps)
        value = step_loss()
        if not torch.isfinite(value):
            rec.stop_reason = f"diverged: the loss is {value.item()} at step {step}"
            break
        opt.zero_grad()
        value.backward()
        opt.step()
        rec.losses.append(value.item())
        rec.iterations, rec.functions = step + 1, (step + 1) * batch
    rec.wall_time = time.perf_counter() - t0
    return rec


def mask_hidden(spec: MLPSpec, w: dict[str, torch.Tensor], hidden_range: tuple[int, int],
                gen: torch.Generator | None = None):
    """Each network keeps a random number of its first hidden units, uniform in lo..hi (``hidden_range``), the
    others zeroed.  Returns (weights, that number one-hot: shape (batch, n_hidden))."""
    lo, hi = hidden_range
    if not 1 <= lo <= hi <= spec.n_hidden:
        raise QuineInputError(f"hidden_range must satisfy 1 <= lo <= hi <= {spec.n_hidden}, got {hidden_range}")
    batch, device = w["W1"].shape[0], w["W1"].device
    h = torch.randint(lo, hi + 1, (batch,), generator=gen).to(device)
    keep = (torch.arange(spec.n_hidden, device=device)[None, :] < h[:, None]).to(w["W1"].dtype)
    w = dict(w)
    w["W1"] = w["W1"] * keep[:, None, :]
    w["W2"] = w["W2"] * keep[:, :, None]
    if "b1" in w:
        w["b1"] = w["b1"] * keep
    return w, nn.functional.one_hot(h - 1, spec.n_hidden).to(w["W1"].dtype)


#: The weight-space targets' rescalings: unit j becomes (s_j w_j, v_j / s_j) with log s_j ~ N(0, RESCALE_TAU^2).
RESCALE_TAU = 0.5


def weight_space_optimum(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The best a weight-space MSE predictor can output for these networks when its targets are their randomly
    permuted and rescaled copies (``loss="weights"``), in the case where the pairs fix each network up to those
    symmetries: E[target], every hidden unit the mean unit times E[s] = exp(RESCALE_TAU^2 / 2).  It computes a
    single ReLU ridge (the chapter's pen-and-paper exercise derives it)."""
    if "b1" in weights:
        raise QuineInputError("the optimum is derived for bias-free networks")
    k = weights["W1"].shape[2]
    inflate = math.exp(RESCALE_TAU**2 / 2)
    return {"W1": weights["W1"].mean(2, keepdim=True).expand(-1, -1, k) * inflate,
            "W2": weights["W2"].mean(1, keepdim=True).expand(-1, k, -1) * inflate}


def unit_spread(weights: dict[str, torch.Tensor]) -> float:
    """How different a network's hidden units are: sum_j ||xi_j - mean unit||^2 / sum_j ||xi_j||^2 pooled over the
    batch, with xi_j = unit j's row of ``hidden_units``.  0 when all units are equal."""
    units = hidden_units(weights)
    return float(((units - units.mean(1, keepdim=True)) ** 2).sum() / (units**2).sum())


def relative_weight_error(pred: dict[str, torch.Tensor], true: dict[str, torch.Tensor]) -> float:
    """sum_W ||w_hat - w||^2 / sum_W ||w||^2, pooled over the batch of networks: predicting zero weights
    scores 1, an exact copy 0 (the weight-space analogue of a quine's rho^2)."""
    a, b = flatten_mlps(pred), flatten_mlps(true)
    if a.shape != b.shape:
        raise QuineInputError(f"the two batches of networks differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
    return float(((a - b) ** 2).sum() / (b**2).sum())


def aligned_weight_error(pred: dict[str, torch.Tensor], true: dict[str, torch.Tensor], *,
                         canonical: bool = True, per_network: bool = False):
    """The relative weight error after removing the symmetries that leave each function unchanged: both batches
    canonicalised (``canonicalise``: unit-norm incoming weights; skipped with ``canonical=False``), then each
    predicted network's hidden units matched to the true one's (``align_hidden``).  ``per_network=True`` returns
    one value per network (a tensor) instead of the pooled ratio."""
    if canonical:
        pred, true = canonicalise(pred), canonicalise(true)
    aligned = permute_hidden(pred, align_hidden(pred, true))
    if not per_network:
        return relative_weight_error(aligned, true)
    a, b = flatten_mlps(aligned), flatten_mlps(true)
    return ((a - b) ** 2).sum(1) / (b**2).sum(1)


def random_symmetry(spec, w, gen):
    """The same functions with hidden units randomly permuted and positively rescaled, network by network."""
    batch, like = w["W1"].shape[0], w["W1"]
    perms = torch.argsort(torch.rand(batch, spec.n_hidden, generator=gen), dim=1).to(like.device)
    scale = torch.exp(RESCALE_TAU * torch.randn(batch, spec.n_hidden, generator=gen)).to(like)
    out = permute_hidden(w, perms)
    out["W1"] = out["W1"] * scale[:, None, :]
    out["W2"] = out["W2"] / scale[:, :, None]
    if "b1" in out:
        out["b1"] = out["b1"] * scale
    return out


def refine_lm(spec: MLPSpec, flat0: torch.Tensor, pairs: torch.Tensor, iterations: int = 30,
              damping: float = 1e-2) -> torch.Tensor:
    """Polish predicted weights on the observed pairs: batched Levenberg-Marquardt, one small least-squares
    problem per network (Jacobians by ``torch.func.jacfwd`` under ``vmap``).  Returns the refined weights."""
    n_in, U = spec.n_in, spec.unknowns
    if flat0.shape != (pairs.shape[0], U):
        raise QuineInputError(f"flat0 must have shape ({pairs.shape[0]}, {U}), got {tuple(flat0.shape)}")

    def residual(flat, pr):
        w = unflatten_mlps(spec, flat.unsqueeze(0))
        return (mlp_forward(w, pr[None, :, :n_in]) - pr[None, :, n_in:]).reshape(-1)

    return batched_levenberg_marquardt(residual, flat0, pairs, iterations=iterations, damping=damping,
                                       jacobian=lambda flat, pr: mlp_jacobian(spec, flat, pr[..., :n_in]))


def mlp_jacobian(spec: MLPSpec, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The Jacobian of every network's outputs on its inputs with respect to its flat weights, in closed form:
    d y_nk / d W1_ij = W2_jk 1[h_nj > 0] x_ni, d y_nk / d b1_j = W2_jk 1[h_nj > 0], d y_nk / d W2_jk' =
    relu(h_nj) [k = k'], d y_nk / d b2_k' = [k = k'] (h = x W1 + b1; the ReLU's derivative at 0 taken as 0,
    as autograd does).  x (B, n, n_in) -> (B, n * n_out, unknowns), rows in ``mlp_forward``'s output order.
    The same numbers as ``vmap(jacfwd)`` of the residual, and ~50x faster on a CPU (the polish's cost)."""
    w = unflatten_mlps(spec, flat)
    B, n = x.shape[:2]
    eye_out = torch.eye(spec.n_out, dtype=x.dtype, device=x.device)
    if spec.linear:
        blocks = {"W": torch.einsum("bni,kl->bnkil", x, eye_out)}
        if spec.bias:
            blocks["b"] = eye_out.expand(B, n, -1, -1)
    else:
        h = torch.bmm(x, w["W1"]) + (w["b1"].unsqueeze(1) if spec.bias else 0)
        gate = (h > 0).to(x.dtype).unsqueeze(2) * w["W2"].transpose(1, 2).unsqueeze(1)  # (B, n, out, H)
        blocks = {"W1": torch.einsum("bni,bnkj->bnkij", x, gate)}
        if spec.bias:
            blocks["b1"] = gate
        blocks["W2"] = torch.einsum("bnj,kl->bnkjl", torch.relu(h), eye_out)
        if spec.bias:
            blocks["b2"] = eye_out.expand(B, n, -1, -1)
    return torch.cat([blocks[name].reshape(B, n * spec.n_out, -1) for name in spec.shapes], dim=2)


def evaluate_inverse(model: nn.Module, spec: MLPSpec, n_pairs: int, *, functions: int = 2048, inputs: int = 256,
                     seed: int = 12345, scale: float = 1.0, shift: float = 0.0, refine: int = 0,
                     hidden_range: tuple[int, int] | None = None, tell_width: bool = True,
                     probe: torch.Tensor | None = None, random_starts: int = 0) -> dict:
    """R² of the predicted networks on held-out networks and fresh inputs (both from ``seed``).

    The pairs the model sees and the evaluation inputs share ``scale`` and ``shift``; ``refine`` > 0 also
    reports R² after that many Levenberg-Marquardt iterations on the observed pairs (``"r2_refined"``), and
    with ``random_starts`` > 0 the solver alone on the same pairs: the same iterations from that many random
    LeCun starts, best on the pairs (``lm_from_random``; ``"r2_random"``, ``"summary_random"``).
    ``hidden_range``, ``tell_width`` and ``probe`` as in ``train_inverse``.
    """
    if isinstance(random_starts, bool) or not isinstance(random_starts, int) or random_starts < 0:
        raise QuineInputError(f"random_starts must be a whole number >= 0, got {random_starts!r}")
    if random_starts and not refine:
        raise QuineInputError("random_starts needs refine > 0: the solver alone runs `refine` iterations")
    gen = torch.Generator().manual_seed(int(seed))
    w = random_mlps(spec, functions, generator=gen, device=module_device(model))
    cond = None
    if hidden_range is not None:
        w, cond = mask_hidden(spec, w, hidden_range, gen)
        cond = cond if tell_width else None
    w, pairs = make_pairs(spec, functions, n_pairs, generator=gen, weights=w, scale=scale, shift=shift,
                          probe=probe)
    x = (scale * torch.randn(functions, inputs, spec.n_in, generator=gen) + shift).to(pairs)
    y = mlp_forward(w, x)
    with torch.no_grad():
        pred = model(pairs) if cond is None else model(pairs, cond)
    summary = r2_summary(mlp_forward(unflatten_mlps(spec, pred), x), y)
    out = {"r2": summary["r2"], "summary": summary, "pred": pred, "true": w, "pairs": pairs}
    if refine:
        polished = refine_lm(spec, pred, pairs, iterations=refine)
        out["summary_refined"] = r2_summary(mlp_forward(unflatten_mlps(spec, polished), x), y)
        out["r2_refined"] = out["summary_refined"]["r2"]
        out["refined"] = polished
    if random_starts:
        alone = lm_from_random(spec, pairs, starts=random_starts, iterations=refine, generator=gen)
        out["summary_random"] = r2_summary(mlp_forward(unflatten_mlps(spec, alone), x), y)
        out["r2_random"] = out["summary_random"]["r2"]
    return out


def least_squares_weights(spec: MLPSpec, pairs: torch.Tensor) -> torch.Tensor:
    """The linear network's weights from its pairs by least squares (``torch.linalg.lstsq``), network by network:
    exact once there are as many pairs as inputs, the minimum-norm solution before.  Returns (B, unknowns)."""
    if not spec.linear or spec.bias:
        raise QuineInputError("least squares recovers the weights of the bias-free linear network (n_hidden = 0)")
    _check_pairs(pairs, spec.n_in + spec.n_out)
    x, y = pairs[..., :spec.n_in], pairs[..., spec.n_in:]
    return torch.linalg.lstsq(x.double(), y.double(), driver="gelsd").solution.to(pairs.dtype).flatten(1)


def canonicalise(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same networks with every hidden unit's incoming weights (and bias) scaled to unit norm and the scale
    moved into its outgoing weights: relu(c z) = c relu(z) for c > 0 leaves each function unchanged, and the
    rescaling symmetry is gone (dead units, with zero incoming weights, are left as they are)."""
    norm = weights["W1"].pow(2).sum(1)  # (B, hidden)
    if "b1" in weights:
        norm = norm + weights["b1"].pow(2)
    norm = norm.sqrt()
    c = torch.where(norm > 0, norm, torch.ones_like(norm))
    out = dict(weights)
    out["W1"] = weights["W1"] / c[:, None, :]
    out["W2"] = weights["W2"] * c[:, :, None]
    if "b1" in weights:
        out["b1"] = weights["b1"] / c
    return out


def best_fit(spec: MLPSpec, starts: torch.Tensor, pairs: torch.Tensor, *, iterations: int = 30) -> torch.Tensor:
    """Levenberg-Marquardt on the pairs (``refine_lm``) from every start in ``starts`` (B, S, unknowns), keeping
    for each network the fit with the smallest residual *on its pairs* (the only data a solver may look at).
    Returns (B, unknowns)."""
    if starts.ndim != 3 or starts.shape[0] != pairs.shape[0] or starts.shape[2] != spec.unknowns:
        raise QuineInputError(f"starts must have shape ({pairs.shape[0]}, S, {spec.unknowns}), got {tuple(starts.shape)}")
    B, S = starts.shape[:2]
    reps = pairs.repeat_interleave(S, dim=0)
    fitted = refine_lm(spec, starts.reshape(B * S, -1), reps, iterations=iterations)
    best = pair_residual(spec, fitted, reps).reshape(B, S).argmin(dim=1)
    return fitted.reshape(B, S, -1)[torch.arange(B), best]


def pair_residual(spec: MLPSpec, flat: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Each network's relative residual on its own pairs, ||f_W(x_i) - y_i|| / ||y||: the only measure of a fit
    a solver may look at (the fresh inputs are for scoring).  Returns (B,)."""
    x, y = pairs[..., :spec.n_in], pairs[..., spec.n_in:]
    error = (mlp_forward(unflatten_mlps(spec, flat), x) - y).flatten(1).norm(dim=1)
    return torch.nan_to_num(error / y.flatten(1).norm(dim=1).clamp_min(torch.finfo(y.dtype).tiny), nan=torch.inf)


def hops_label(hops: int) -> str:
    """How ``compare_starts`` names ``hops`` rounds of ``basin_hopping`` in its rows: "1 hop", "8 hops"."""
    return f"{hops} hop{'s' if hops != 1 else ''}"


def basin_hopping(spec: MLPSpec, flat0: torch.Tensor, pairs: torch.Tensor, *, rounds: int = 10,
                  jitter: float = 0.3, iterations: int = 20, temperature: float = 0.5, refine: bool = True,
                  generator: torch.Generator | None = None) -> dict:
    """Levenberg-Marquardt from ``flat0`` (``refine_lm``; with ``refine=False`` ``flat0`` is taken as already
    fitted), then ``rounds`` hops.  A ReLU network's least-squares landscape is cut into pieces by which pairs
    each hidden unit is active on, and plain LM stops in the piece it starts in; a hop lets it try another.
    Each hop perturbs every network's current fit (Gaussian noise of ``jitter`` times its mean absolute weight)
    and refits it; the refit becomes the current fit by the Metropolis rule on the log residual: always when
    its residual on the pairs (``pair_residual``) r' is smaller than the current r, otherwise with probability
    (r / r')^(1 / ``temperature``).  ``temperature=0`` accepts only improvements (greedy).  Accepting some
    worse fits lets a chain leave a basin it cannot improve on; the best fit seen is what is returned.
    Returns ``{"weights": (B, unknowns), "residual": (B,), "history": [median best residual after the start and
    after each hop], "accepted": [share of networks whose current fit moved at each hop]}``."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise QuineInputError(f"rounds must be a whole number >= 0, got {rounds!r}")
    if not (isinstance(jitter, (int, float)) and math.isfinite(jitter) and jitter > 0):
        raise QuineInputError(f"jitter must be a finite number > 0, got {jitter!r}")
    if isinstance(temperature, bool) or not (isinstance(temperature, (int, float)) and math.isfinite(temperature)
                                             and temperature >= 0):
        raise QuineInputError(f"temperature must be a finite number >= 0, got {temperature!r}")
    current = refine_lm(spec, flat0, pairs, iterations=iterations) if refine else flat0.detach().clone()
    r_current = pair_residual(spec, current, pairs)
    best, residual = current, r_current
    history, accepted = [float(residual.median())], []
    tiny = torch.finfo(r_current.dtype).tiny
    for _ in range(rounds):
        size = jitter * current.abs().mean(1, keepdim=True)
        noise = torch.randn(current.shape, generator=generator, dtype=current.dtype).to(current.device)
        candidate = refine_lm(spec, current + size * noise, pairs, iterations=iterations)
        r = pair_residual(spec, candidate, pairs)
        move = r < r_current
        if temperature > 0:
            u = torch.rand(r.shape, generator=generator, dtype=r.dtype).to(r.device)
            ratio = (r_current.clamp_min(tiny).log() - r.clamp_min(tiny).log()) / temperature
            move |= torch.isfinite(r) & (u.log() < ratio)
        current = torch.where(move[:, None], candidate, current)
        r_current = torch.where(move, r, r_current)
        better = r_current < residual
        best = torch.where(better[:, None], current, best)
        residual = torch.where(better, r_current, residual)
        history.append(float(residual.median()))
        accepted.append(float(move.double().mean()))
    return {"weights": best, "residual": residual, "history": history, "accepted": accepted}


def lm_from_random(spec: MLPSpec, pairs: torch.Tensor, *, starts: int = 1, iterations: int = 30,
                   generator: torch.Generator | None = None, predicted: torch.Tensor | None = None) -> torch.Tensor:
    """The solver alone, no predictor: Levenberg-Marquardt on the pairs from ``starts`` fresh LeCun networks per
    problem, the best fit on the pairs kept (``best_fit``).  With ``predicted`` (B, unknowns), the prediction is
    one more start: the predictor's start with random restarts beside it.  Returns (B, unknowns)."""
    (starts,) = check_sizes(starts, "starts")
    B = pairs.shape[0]
    flat0 = flatten_mlps(random_mlps(spec, B * starts, generator=generator, dtype=pairs.dtype,
                                     device=pairs.device)).reshape(B, starts, -1)
    if predicted is not None:
        if predicted.shape != (B, spec.unknowns):
            raise QuineInputError(f"predicted must have shape ({B}, {spec.unknowns}), got {tuple(predicted.shape)}")
        flat0 = torch.cat([predicted.to(flat0.dtype).unsqueeze(1), flat0], dim=1)
    return best_fit(spec, flat0, pairs, iterations=iterations)


def compare_starts(model: nn.Module, spec: MLPSpec, n_pairs: int, *, functions: int = 1024, inputs: int = 256,
                   starts: int = 4, iterations: int = 30, seed: int = 54321, fail_below: float = FAIL_BELOW,
                   hops: int = 0, jitter: float = 0.3, temperature: float = 0.5) -> dict:
    """What does the predictor contribute once the solver polishes?  On the same held-out networks and pairs:

    * ``"predictor alone"``: the set encoder's prediction;
    * ``"LM from a random start"`` and ``f"LM, best of {starts} random starts"``: the solver alone
      (``lm_from_random``), no training at all;
    * ``"predictor + LM"``: the solver started from the prediction;
    * with ``hops`` > 0, also ``"predictor + LM, 8 hops"`` and ``"LM from a random start, 8 hops"`` (for 8):
      ``basin_hopping`` (20 iterations a hop, ``jitter``, ``temperature``) from the polished prediction and from the random
      start's fit, so the two starts are compared at equal solver effort.

    Each entry holds ``r2_summary``'s pooled R^2_mu, per-network median, 5th percentile and failure share
    (per-network R^2_mu below ``fail_below``) on fresh inputs, ``seconds_per_network`` (wall time over
    ``functions``; the predictor's forward pass is counted in "predictor + LM") and ``pairs`` (``n_pairs``).
    """
    gen = torch.Generator().manual_seed(int(seed))
    w = random_mlps(spec, functions, generator=gen, device=module_device(model))
    w, pairs = make_pairs(spec, functions, n_pairs, generator=gen, weights=w)
    x = torch.randn(functions, inputs, spec.n_in, generator=gen).to(pairs)
    y = mlp_forward(w, x)

    def score(flat, seconds):
        out = r2_summary(mlp_forward(unflatten_mlps(spec, flat), x), y, fail_below=fail_below)
        out["seconds_per_network"], out["pairs"] = seconds / functions, n_pairs
        return out

    refine_lm(spec, flatten_mlps(w)[:2], pairs[:2], iterations=1)  # vmap's one-off set-up, not timed
    rows = {}
    t0 = time.perf_counter()
    with torch.no_grad():
        pred = model(pairs)
    t_pred = time.perf_counter() - t0
    rows["predictor alone"] = score(pred, t_pred)
    fits, seconds = {}, {}
    for k, label in ((1, "LM from a random start"), (starts, f"LM, best of {starts} random starts")):
        t0 = time.perf_counter()
        fits[label] = lm_from_random(spec, pairs, starts=k, iterations=iterations, generator=gen)
        seconds[label] = time.perf_counter() - t0
        rows[label] = score(fits[label], seconds[label])
    t0 = time.perf_counter()
    fits["predictor + LM"] = refine_lm(spec, pred, pairs, iterations=iterations)
    seconds["predictor + LM"] = t_pred + time.perf_counter() - t0
    rows["predictor + LM"] = score(fits["predictor + LM"], seconds["predictor + LM"])
    if hops:
        for start, label in (("predictor + LM", f"predictor + LM, {hops_label(hops)}"),
                             ("LM from a random start", f"LM from a random start, {hops_label(hops)}")):
            t0 = time.perf_counter()
            hopped = basin_hopping(spec, fits[start], pairs, rounds=hops, jitter=jitter, temperature=temperature,
                                   refine=False, generator=gen)["weights"]
            rows[label] = score(hopped, seconds[start] + time.perf_counter() - t0)
    return rows


#: The pooling ablation's variants: (label, the encoder's class, its keyword arguments).  Deep Sets with a
#: code of 128 and of 512 (the width attention pooling's four seeds reach), each statistic at width 128, and
#: attention pooling with one seed (128 pooled numbers) and four (512).
ABLATION = (
    ("Deep Sets, mean", "DeepSets", {"width": 128, "pooling": "mean"}),
    ("Deep Sets, mean, code 512", "DeepSets", {"width": 512, "pooling": "mean"}),
    ("Deep Sets, max", "DeepSets", {"width": 128, "pooling": "max"}),
    ("Deep Sets, mean+std", "DeepSets", {"width": 128, "pooling": "mean+std"}),
    ("attention, 1 seed", "AttentionPool", {"width": 128, "seeds": 1, "heads": 4}),
    ("attention, 4 seeds", "AttentionPool", {"width": 128, "seeds": 4, "heads": 4}),
)


#: Seed 004's activation-statistics predictor against the pairs-based set encoder, all reading 20 numbers of
#: outputs: Deep Sets (max) on pairs at fresh random inputs and on pairs at one fixed probe batch, an MLP on the
#: outputs at the probe, and an MLP on only their mean and standard deviation (the seed's features).
PROBE_COMPARISON = (
    ("Deep Sets (max), random pairs", "DeepSets", {"width": 128, "pooling": "max"}),
    ("Deep Sets (max), pairs at the probe", "DeepSets", {"width": 128, "pooling": "max", "probe": True}),
    ("MLP on the outputs at the probe", "ProbePredictor", {"features": "outputs", "probe": True}),
    ("MLP on their mean and std (the seed's)", "ProbePredictor", {"features": "moments", "probe": True}),
)


def pooling_ablation(spec: MLPSpec, *, steps: int, n_pairs=(10, 45), eval_pairs: int = 20, batch: int = 256,
                     lr: float = 2e-3, hidden: int = 128, functions: int = 2048, seed: int = 0,
                     variants=ABLATION, refine: int = 0, progress: bool = False) -> list[dict]:
    """Every predictor in ``variants`` trained at the same budget (same steps, batch, schedule, data seed and
    initialisation seed) and scored on the same held-out networks with ``eval_pairs`` pairs.  A variant's keyword
    arguments may name the training ``loss`` (default ``"functional"``) and ``probe=True`` (the predictor reads
    pairs at the fixed probe batch ``probe_inputs(spec, eval_pairs)``, and trains on ``eval_pairs`` pairs there);
    the rest go to the predictor.  One row per variant: label, pooled width (the numbers the decoder reads),
    trainable parameters, ``r2_summary``'s numbers (and ``r2_refined``, ``r2_median_refined`` after ``refine``
    Levenberg-Marquardt iterations on the pairs), training time and loss."""
    classes = {"DeepSets": DeepSets, "AttentionPool": AttentionPool}
    rows = []
    for label, cls, kwargs in variants:
        kwargs = dict(kwargs)
        loss = kwargs.pop("loss", "functional")
        probe = probe_inputs(spec, eval_pairs) if kwargs.pop("probe", False) else None
        torch.manual_seed(seed)
        if cls == "ProbePredictor":
            model = ProbePredictor(spec.n_in, spec.n_out, eval_pairs, spec.unknowns, hidden=hidden, **kwargs)
        else:
            model = classes[cls](spec.n_in + spec.n_out, spec.unknowns, hidden=hidden, **kwargs)
        rec = train_inverse(model, spec, n_pairs if probe is None else eval_pairs, steps=steps, batch=batch,
                            lr=lr, seed=seed, loss=loss, probe=probe, progress=progress)
        ev = evaluate_inverse(model, spec, eval_pairs, functions=functions, probe=probe, refine=refine)
        width = getattr(model, "pooled_width", model.net[0].in_features if cls == "ProbePredictor" else None)
        row = {"label": label, "pooled_width": width, "parameters": sum(p.numel() for p in model.parameters()),
               **ev["summary"], "seconds": rec.wall_time, "record": rec, "model": model}
        if refine:
            row["r2_refined"] = ev["r2_refined"]
            row["r2_median_refined"] = ev["summary_refined"]["r2_median"]
        rows.append(row)
    return rows


def width_generalisation(spec: MLPSpec, *, train_range: tuple[int, int], steps: int, n_pairs=(10, 45),
                         eval_pairs: int = 30, batch: int = 256, lr: float = 2e-3, hidden: int = 128,
                         functions: int = 1024, refine: int = 0, seed: int = 0, progress: bool = False) -> dict:
    """Does a predictor generalise to a width it never saw?  Deep Sets (max pooling), reading the pairs alone
    (``tell_width=False``), trained on networks of ``spec`` that use ``train_range`` of its hidden units, and a
    control trained on every width 1..n_hidden at the same budget; both scored at every width on the same
    held-out networks.  Returns {"widths", "trained" / "control": one ``r2_summary`` per width (with
    ``r2_refined`` after ``refine`` polish iterations), "records"}."""
    lo, hi = train_range
    if not 1 <= lo <= hi <= spec.n_hidden:
        raise QuineInputError(f"train_range must satisfy 1 <= lo <= hi <= {spec.n_hidden}, got {train_range}")
    out = {"widths": list(range(1, spec.n_hidden + 1)), "train_range": (lo, hi), "records": {}}
    for name, rng in (("trained", (lo, hi)), ("control", (1, spec.n_hidden))):
        torch.manual_seed(seed)
        model = DeepSets(spec.n_in + spec.n_out, spec.unknowns, hidden=hidden, pooling="max")
        out["records"][name] = train_inverse(model, spec, n_pairs, steps=steps, batch=batch, lr=lr, seed=seed,
                                             hidden_range=rng, tell_width=False, progress=progress)
        rows = []
        for h in out["widths"]:
            ev = evaluate_inverse(model, spec, eval_pairs, functions=functions, hidden_range=(h, h),
                                  tell_width=False, refine=refine)
            rows.append({**ev["summary"], **({"r2_refined": ev["r2_refined"]} if refine else {})})
        out[name] = rows
    return out


def train_forward(model: nn.Module, spec: MLPSpec, *, steps: int = 1000, batch: int = 1024, lr: float = 1e-3,
                  seed: int = 0, progress: bool = False) -> TrainRecord:
    """Train a forward predictor (x, flat weights) -> y on fresh networks and inputs every step (MSE)."""
    gen = torch.Generator().manual_seed(int(seed))
    device = module_device(model)

    def step_loss():
        w = random_mlps(spec, batch, generator=gen, device=device)
        x = torch.randn(batch, 1, spec.n_in, generator=gen).to(device)
        return ((model(x[:, 0], flatten_mlps(w)) - mlp_forward(w, x)[:, 0]) ** 2).mean()

    return fit_adam(model, f"{type(model).__name__}, forward", step_loss, steps=steps, batch=batch, lr=lr,
                progress=progress)
