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
  outputs on fresh inputs; ``r_squared``: 1 - MSE / variance of the true
  outputs.
* ``align_hidden``: match the predicted network's hidden units to the true
  one's (``scipy.optimize.linear_sum_assignment``), so weights can be
  compared after the permutation that leaves the function unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .checks import QuineInputError, check_sizes

__all__ = ["MLPSpec", "random_mlps", "mlp_forward", "flatten_mlps", "unflatten_mlps", "PlainMLP", "XLinear",
           "ResLinear", "FlatMLP", "DeepSets", "AttentionPool", "functional_loss", "r_squared", "align_hidden",
           "permute_hidden"]


@dataclass(frozen=True)
class MLPSpec:
    """The architecture of the small networks being predicted: in -> hidden (ReLU) -> out."""

    n_in: int = 2
    n_hidden: int = 5
    n_out: int = 1
    bias: bool = False

    def __post_init__(self):
        check_sizes((self.n_in, self.n_hidden, self.n_out), "n_in, n_hidden, n_out")

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        s = {"W1": (self.n_in, self.n_hidden), "W2": (self.n_hidden, self.n_out)}
        if self.bias:
            s = {"W1": s["W1"], "b1": (self.n_hidden,), "W2": s["W2"], "b2": (self.n_out,)}
        return s

    @property
    def unknowns(self) -> int:
        return sum(int(torch.tensor(shape).prod()) for shape in self.shapes.values())


def random_mlps(spec: MLPSpec, batch: int, *, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """``batch`` fresh MLPs with LeCun initialisation: every weight ~ N(0, 1 / fan_in); biases likewise."""
    (batch,) = check_sizes(batch, "batch")
    out = {}
    for name, shape in spec.shapes.items():
        fan_in = shape[0] if name.startswith("W") else (spec.n_in if name == "b1" else spec.n_hidden)
        out[name] = torch.randn(batch, *shape, generator=generator, dtype=dtype) / fan_in**0.5
    return out


def mlp_forward(weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Batched forward: x (B, n, n_in) -> y (B, n, n_out), one network per batch entry."""
    W1, W2 = weights["W1"], weights["W2"]
    if x.ndim != 3 or x.shape[0] != W1.shape[0] or x.shape[2] != W1.shape[1]:
        raise QuineInputError(f"x must have shape (batch={W1.shape[0]}, n, {W1.shape[1]}), got {tuple(x.shape)}")
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
        n = int(torch.tensor(shape).prod())
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


class DeepSets(nn.Module):
    """phi on each pair, mean over the set, rho on the pooled vector (Zaheer et al., 2017)."""

    def __init__(self, d_pair: int, unknowns: int, width: int = 128, hidden: int = 256):
        super().__init__()
        self.d_pair = d_pair
        self.phi = _mlp([d_pair, width, hidden, width])
        self.rho = _mlp([width, hidden, width, unknowns])

    def forward(self, pairs):
        _check_pairs(pairs, self.d_pair)
        return self.rho(self.phi(pairs).mean(dim=1))


class AttentionPool(nn.Module):
    """phi on each pair, optional self-attention between pairs, then pooling by multi-head attention from
    ``seeds`` learned query vectors (the Set Transformer's PMA), and a decoder on the pooled vectors."""

    def __init__(self, d_pair: int, unknowns: int, width: int = 128, hidden: int = 256, seeds: int = 4,
                 heads: int = 4, self_attention: int = 0):
        super().__init__()
        self.d_pair = d_pair
        self.phi = _mlp([d_pair, width, hidden, width])
        self.sab = nn.ModuleList(nn.TransformerEncoderLayer(width, heads, hidden, dropout=0.0, batch_first=True)
                                 for _ in range(self_attention))
        self.seeds = nn.Parameter(torch.randn(seeds, width) / width**0.5)
        self.pma = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.rho = _mlp([seeds * width, hidden, width, unknowns])

    def forward(self, pairs):
        _check_pairs(pairs, self.d_pair)
        h = self.phi(pairs)
        for layer in self.sab:
            h = layer(h)
        q = self.seeds.unsqueeze(0).expand(h.shape[0], -1, -1)
        pooled, _ = self.pma(q, h, h, need_weights=False)
        pooled = self.norm(pooled + q)
        return self.rho(pooled.flatten(1))


# ----------------------------------------------------------------------------------------- losses and measures
def functional_loss(spec: MLPSpec, predicted_flat: torch.Tensor, true: dict[str, torch.Tensor],
                    x_eval: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the predicted and the true networks' outputs on ``x_eval``."""
    return ((mlp_forward(unflatten_mlps(spec, predicted_flat), x_eval) - mlp_forward(true, x_eval)) ** 2).mean()


def r_squared(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    """1 - mean squared error / variance of y_true (0 for predicting the mean, 1 for exact)."""
    if y_pred.shape != y_true.shape:
        raise QuineInputError(f"shapes differ: {tuple(y_pred.shape)} and {tuple(y_true.shape)}")
    var = float(y_true.var(unbiased=False))
    if var == 0:
        raise QuineInputError("R² is undefined when the true outputs do not vary")
    return 1.0 - float(((y_pred - y_true) ** 2).mean()) / var


def permute_hidden(weights: dict[str, torch.Tensor], perm: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same networks with their hidden units reordered: new unit k is old unit ``perm[k]`` (columns of
    W1 and entries of b1, rows of W2).  The function is unchanged: a sum does not depend on its order."""
    out = dict(weights)
    out["W1"] = weights["W1"][:, :, perm]
    out["W2"] = weights["W2"][:, perm, :]
    if "b1" in weights:
        out["b1"] = weights["b1"][:, perm]
    return out


def align_hidden(pred: dict[str, torch.Tensor], true: dict[str, torch.Tensor]) -> torch.Tensor:
    """For each network in the batch, the permutation of pred's hidden units that best matches true's.

    Each hidden unit is described by its incoming weights (and bias) and its outgoing weights; the cost of
    matching predicted unit i to true unit j is the squared distance of those descriptions, and
    ``scipy.optimize.linear_sum_assignment`` finds the cheapest one-to-one matching.  Returns (B, hidden)
    indices ``perm`` such that ``permute_hidden(pred, perm[b])`` lines up with ``true`` for network b.
    """
    from scipy.optimize import linear_sum_assignment

    def units(w):
        parts = [w["W1"].transpose(1, 2), w["W2"]]
        if "b1" in w:
            parts.insert(1, w["b1"].unsqueeze(2))
        return torch.cat(parts, dim=2)  # (B, hidden, features)

    up, ut = units(pred).detach().double(), units(true).detach().double()
    cost = torch.cdist(ut, up) ** 2  # (B, true unit, predicted unit)
    perms = []
    for c in cost:
        rows, cols = linear_sum_assignment(c.numpy())
        perms.append(torch.as_tensor(cols[rows.argsort()]))
    return torch.stack(perms)
