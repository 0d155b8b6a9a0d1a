"""The queryable-index quine of Chang & Lipson (2018): ask for weight c, get weight c.

The input names a coordinate c in 0..N-1.  Its one-hot vector of length N
is projected by a fixed random matrix to d dimensions; since a one-hot
vector times a matrix is just a row of it, the projection is stored as the
N x d matrix R and row c is *looked up*: no N x N one-hot matrix is ever
built.  Hidden layers follow, and one output: the network's guess f(c) for
its own weight theta_c.  Evaluating all N coordinates at once is one batched
forward pass on R, which is F(theta).
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import QuineInputError, check_sizes

__all__ = ["IndexQuine", "ACTIVATIONS"]

ACTIVATIONS = {"selu": nn.SELU, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class IndexQuine(nn.Module):
    """c -> R[c] (fixed, d features) -> [Linear -> activation] * len(hidden) -> Linear -> f(c).

    Defaults follow the paper: d = 100, two learnable 100 x 100 layers and a
    100 -> 1 layer, SELU, no biases: N = 20,100 parameters.
    """

    def __init__(self, d: int = 100, hidden=(100, 100), activation: str = "selu", bias: bool = False,
                 seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        (d,) = check_sizes(d, "d")
        hidden = check_sizes(hidden, "hidden")
        if activation not in ACTIVATIONS:
            raise QuineInputError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if dtype not in (torch.float32, torch.float64):
            raise QuineInputError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.d, self.hidden, self.activation_name, self.bias, self.seed = d, hidden, activation, bool(bias), int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            sizes = (d, *hidden, 1)
            self.layers = nn.ModuleList(nn.Linear(a, b, bias=self.bias, dtype=dtype)
                                        for a, b in zip(sizes[:-1], sizes[1:]))
            self.act = ACTIVATIONS[activation]()
            self.N = sum(p.numel() for p in self.parameters())
            # Row c is the projection of the one-hot vector e_c: unit-variance features.
            self.register_buffer("R", torch.randn(self.N, d, dtype=dtype))

    def coordinates(self) -> torch.Tensor:
        """All coordinates 0..N-1, the input of F."""
        return torch.arange(self.N)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        if c.dtype not in (torch.int64, torch.int32):
            raise QuineInputError(f"coordinates must be an integer tensor, got {c.dtype}")
        if c.numel() and (int(c.min()) < 0 or int(c.max()) >= self.N):
            raise QuineInputError(f"coordinates must lie in 0..{self.N - 1}")
        h = self.R[c]
        for layer in self.layers[:-1]:
            h = self.act(layer(h))
        return self.layers[-1](h).squeeze(-1)

    def extra_repr(self) -> str:
        return f"N={self.N}, d={self.d}, activation={self.activation_name}, bias={self.bias}, seed={self.seed}"
