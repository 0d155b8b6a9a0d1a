"""Parameter-free normalisation, and its Jacobian in closed form.

Chapter 2's fix for the zero quine: after every tanh layer, subtract the mean
and divide by the standard deviation, with *no* learned scale or shift and no
running statistics, so the layer adds nothing to theta.  Two variants:

* ``instance``: statistics over the features of each sample (the seed's
  ``InstanceNorm1d(affine=False)`` on a single probe);
* ``batch``: statistics over a batch of probe inputs, per feature
  (``BatchNorm1d(affine=False, track_running_stats=False)``).

For one vector h in R^n, with mu = mean(h), sigma^2 = mean((h - mu)^2) and
s = sqrt(sigma^2 + eps), the map h -> (h - mu) / s has the Jacobian

    J = (1/s) (I - 1 1^T / n) - (h - mu)(h - mu)^T / (n s^3),

which at h = 0 is (1/sqrt(eps)) (I - 1 1^T / n): not zero.
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import QuineInputError, check_positive

__all__ = ["ParamFreeNorm", "normalise", "norm_jacobian", "NORMS"]

NORMS = ("instance", "batch")


def normalise(h: torch.Tensor, eps: float = 1e-5, dim: int = -1) -> torch.Tensor:
    """(h - mean) / sqrt(var + eps) along ``dim`` (biased variance, as PyTorch's norms)."""
    mu = h.mean(dim=dim, keepdim=True)
    var = ((h - mu) ** 2).mean(dim=dim, keepdim=True)
    return (h - mu) / torch.sqrt(var + eps)


def norm_jacobian(h: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """The n x n Jacobian of ``normalise`` at a vector h, from the closed form."""
    if not isinstance(h, torch.Tensor) or h.dim() != 1 or not h.is_floating_point():
        raise QuineInputError("h must be a 1-D floating-point tensor")
    eps = check_positive(eps, "eps")
    n = h.numel()
    d = h - h.mean()
    s = torch.sqrt((d * d).mean() + eps)
    eye = torch.eye(n, dtype=h.dtype, device=h.device)
    return (eye - torch.ones(n, n, dtype=h.dtype, device=h.device) / n) / s - torch.outer(d, d) / (n * s**3)


class ParamFreeNorm(nn.Module):
    """Normalisation with no parameters and no running statistics.

    Input shape (batch, features).  ``kind="instance"`` normalises each row
    over its features; ``kind="batch"`` normalises each feature over the rows.
    """

    def __init__(self, kind: str = "instance", eps: float = 1e-5):
        super().__init__()
        if kind not in NORMS:
            raise QuineInputError(f"kind must be one of {NORMS}, got {kind!r}")
        self.kind, self.eps = kind, check_positive(eps, "eps")

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.kind == "batch" and h.shape[0] < 2:
            raise QuineInputError("batch normalisation needs a batch of at least 2 probe inputs")
        return normalise(h, self.eps, dim=-1 if self.kind == "instance" else 0)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, eps={self.eps}"
