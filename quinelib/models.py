"""Quine models: networks whose output has as many entries as they have weights.

``QuineMLP`` is the network of the two-part blog (seed 000): fully connected
tanh layers (8 -> 20 -> 20 -> 20 by default), then a *fixed* random
projection from the last hidden layer to P outputs, times a scale alpha.
The projection is a buffer, not a parameter: the network must learn to print
its weights, not learn the printer.

``CoordinateQuine`` is Evan Fletcher's coordinate-query quine: it is asked
for the weight at (row, column) of its one trainable square matrix.

``RecurrentQuine`` prints its weights one per time step, as a program prints
its source one character at a time (chapter 6).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .checks import QuineInputError, check_float_dtype, check_positive, check_sizes
from .norm import NORMS, ParamFreeNorm

__all__ = ["QuineMLP", "probe_input", "CoordinateQuine", "RecurrentQuine"]


class QuineMLP(nn.Module):
    """z -> norm(tanh(W1 z + b1)) -> ... -> norm(tanh(WL h + bL)) -> alpha * h @ proj.

    Parameters
    ----------
    in_features: size of the probe input z (8 in the seed).
    hidden: sizes of the tanh layers ((20, 20, 20) in the seed).
    alpha: the scale of the output (0.25 in the seed), > 0.
    seed: seeds the weights and the projection; the global RNG is left alone.
    dtype: float64 by default, so that residuals can reach 1e-15.
    norm: None (chapter 1), "instance" or "batch" (chapter 2): a parameter-free
        normalisation after every tanh layer.  With "batch" the probe is a
        batch of inputs whose statistics are shared; the quine's output is the
        first probe's row, so F(theta) still has length P.
    eps: the normalisation's epsilon.
    """

    def __init__(self, in_features: int = 8, hidden=(20, 20, 20), alpha: float = 0.25,
                 seed: int = 0, dtype: torch.dtype = torch.float64, norm: str | None = None,
                 eps: float = 1e-5):
        super().__init__()
        (in_features,) = check_sizes(in_features, "in_features")
        hidden = check_sizes(hidden, "hidden")
        self.alpha = check_positive(alpha, "alpha")
        check_float_dtype(dtype)
        if norm is not None and norm not in NORMS:
            raise QuineInputError(f"norm must be None or one of {NORMS}, got {norm!r}")
        self.in_features, self.hidden, self.seed = in_features, hidden, int(seed)
        self.norm, self.eps = norm, check_positive(eps, "eps")
        self.norms = nn.ModuleList(ParamFreeNorm(norm, eps) for _ in hidden) if norm else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            sizes = (in_features, *hidden)
            self.layers = nn.ModuleList(
                nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])
            )
            self.P = sum(p.numel() for p in self.parameters())
            self.register_buffer("proj", torch.randn(hidden[-1], self.P, dtype=dtype) / hidden[-1])

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """The last hidden layer h_L (what the projection reads)."""
        h = z
        for i, layer in enumerate(self.layers):
            h = torch.tanh(layer(h))
            if self.norms is not None:
                h = self.norms[i](h)
        return h

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] != self.in_features:
            raise QuineInputError(
                f"the probe input must end in {self.in_features} features, got shape {tuple(z.shape)}"
            )
        out = self.alpha * self.features(z) @ self.proj
        # With batch statistics the other probes only shape the normalisation.
        return out[:1] if self.norm == "batch" else out

    def architecture(self) -> dict:
        """Everything needed to rebuild this network (see ``quinelib.io``)."""
        return dict(cls="QuineMLP", in_features=self.in_features, hidden=list(self.hidden), alpha=self.alpha,
                    seed=self.seed, dtype=str(self.proj.dtype).removeprefix("torch."), norm=self.norm, eps=self.eps)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, P={self.P}, seed={self.seed}, norm={self.norm}"


def probe_input(in_features: int = 8, seed: int = 0, dtype: torch.dtype = torch.float64,
                batch: int = 1) -> torch.Tensor:
    """The fixed input z (shape batch x in_features) the quine is evaluated at.

    One probe for the seed's set-up; batch normalisation needs several.
    """
    (in_features,) = check_sizes(in_features, "in_features")
    (batch,) = check_sizes(batch, "batch")
    g = torch.Generator().manual_seed(int(seed) + 10_007)
    return torch.randn(batch, in_features, generator=g, dtype=dtype)


class CoordinateQuine(nn.Module):
    """(row, col) -> fixed Linear(2, k) -> ReLU -> W (k x k, the only weights) -> batch normalisation
    over all k^2 queries (no parameters, batch statistics) -> ReLU -> fixed Linear(k, 1).

    The query for weight c = row * k + col is its coordinates scaled to [-1, 1]^2; F(theta) is the
    output for all k^2 queries at once, so P = k^2 (256 for Fletcher's k = 16).  The batch statistics
    couple the queries: every output depends on every query.  ``seed`` fixes the two fixed layers
    (PyTorch's default initialisation) and W's start.
    """

    def __init__(self, k: int = 16, seed: int = 0, dtype: torch.dtype = torch.float64, eps: float = 1e-5):
        super().__init__()
        (k,) = check_sizes(k, "k")
        check_float_dtype(dtype)
        self.k, self.seed, self.eps = k, int(seed), check_positive(eps, "eps")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            embed = nn.Linear(2, k, bias=False, dtype=dtype)
            self.W = nn.Parameter(nn.Linear(k, k, bias=False, dtype=dtype).weight.detach().clone())
            readout = nn.Linear(k, 1, bias=False, dtype=dtype)
        self.register_buffer("embed", embed.weight.detach().clone())  # k x 2
        self.register_buffer("readout", readout.weight.detach().clone().reshape(-1))  # k
        self.P = k * k

    def coordinates(self) -> torch.Tensor:
        """The k^2 queries (row, col) scaled to [-1, 1], in the order of W.flatten()."""
        grid = torch.linspace(-1, 1, self.k, dtype=self.embed.dtype) if self.k > 1 else self.embed.new_zeros(1)
        rows, cols = torch.meshgrid(grid, grid, indexing="ij")
        return torch.stack([rows.reshape(-1), cols.reshape(-1)], dim=1)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        if coords.dim() != 2 or coords.shape[1] != 2:
            raise QuineInputError(f"coordinates must have shape (n, 2), got {tuple(coords.shape)}")
        h = torch.relu(coords @ self.embed.T) @ self.W.T
        h = (h - h.mean(0)) / (h.var(0, unbiased=False) + self.eps).sqrt()
        return torch.relu(h) @ self.readout

    def output_bound(self) -> float:
        """beta with ||F(theta)|| < beta for every theta: sqrt(P) ||readout||_1 (P = k^2 queries).  Each
        batch-normalised column has mean 0 and mean square var / (var + eps) < 1 over the P queries (the
        biased variance), so its norm is below sqrt(P), its ReLU's too, and the output is a combination of
        k such columns with the readout's weights."""
        return math.sqrt(self.P) * float(self.readout.abs().sum())

    def extra_repr(self) -> str:
        return f"k={self.k}, P={self.P}, seed={self.seed}"


class RecurrentQuine(nn.Module):
    """An Elman network that prints one weight per time step: h_t = tanh(W h_{t-1} + U x_t), output v . h_t.

    The input x_t = (cos 2 pi t / P, sin 2 pi t / P) is a clock that tells step t from the others, and
    h_0 = 0.  The trainable weights are W (n x n), U (n x 2) and v (n): P = n^2 + 3n (88 for n = 8),
    and F(theta) is the P outputs of one run of P steps, in the order of the weights.  ``seed`` fixes
    the start: W and v Gaussian with variance 1/n, U standard Gaussian.
    """

    def __init__(self, n: int = 8, seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        (n,) = check_sizes(n, "n")
        check_float_dtype(dtype)
        self.n, self.seed = n, int(seed)
        gen = torch.Generator().manual_seed(self.seed)
        self.W = nn.Parameter(torch.randn(n, n, generator=gen, dtype=dtype) / math.sqrt(n))
        self.U = nn.Parameter(torch.randn(n, 2, generator=gen, dtype=dtype))
        self.v = nn.Parameter(torch.randn(n, generator=gen, dtype=dtype) / math.sqrt(n))
        self.P = n * n + 3 * n

    def coordinates(self) -> torch.Tensor:
        """The clock x_t for t = 0..P-1, shape (P, 2)."""
        t = torch.arange(self.P, dtype=self.W.dtype, device=self.W.device) * (2 * math.pi / self.P)
        return torch.stack([torch.cos(t), torch.sin(t)], dim=1)

    def forward(self, clock: torch.Tensor) -> torch.Tensor:
        if clock.dim() != 2 or clock.shape[1] != 2:
            raise QuineInputError(f"the clock must have shape (steps, 2), got {tuple(clock.shape)}")
        drive = clock @ self.U.T  # U x_t for every step at once
        h, out = drive.new_zeros(self.n), []
        for t in range(clock.shape[0]):
            h = torch.tanh(self.W @ h + drive[t])
            out.append(h)
        return torch.stack(out) @ self.v

    def extra_repr(self) -> str:
        return f"n={self.n}, P={self.P}, seed={self.seed}"
