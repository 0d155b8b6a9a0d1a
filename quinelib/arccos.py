"""Closed forms for bias-free ReLU networks under Gaussian inputs (chapter 5): the arc-cosine kernel.

For x ~ N(0, s^2 I) and two weight vectors u, v at angle phi (Cho & Saul's arc-cosine kernel of degree 1),

    E[relu(u.x) relu(v.x)] = s^2 |u| |v| (sin phi + (pi - phi) cos phi) / (2 pi),
    E[relu(u.x)]           = s |u| / sqrt(2 pi).

Derivation (the chapter's pen-and-paper section has it in full): only the plane spanned by u and v
matters, so write x in polar coordinates there; relu(u.x) relu(v.x) is non-zero on the wedge where both
projections are positive, of opening pi - phi, and the radial and angular integrals separate.

A network f(x) = sum_j v_j relu(w_j . x) (chapter 5's networks, ``weightpred.MLPSpec`` without biases) is a
weighted sum of such units, so its second moments are finite sums over pairs of units:

* ``expected_squared_difference``: E_x ||f_pred(x) - f_true(x)||^2 / n_out, the functional loss with
  infinitely many fresh inputs, network by network;
* ``exact_r2``: the R^2 against the mean with the expectation over inputs done exactly: per network and
  pooled over networks (the pooled mean and variance of the true outputs are closed forms too).

With these, the functional loss and R^2_mu carry no sampling noise from the inputs; the held-out networks
are still a sample.
"""

from __future__ import annotations

import math

import torch

from .checks import QuineInputError

__all__ = ["relu_kernel", "relu_mean", "expected_squared_difference", "exact_r2"]


def relu_kernel(U: torch.Tensor, V: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """E[relu(u.x) relu(v.x)] for x ~ N(0, scale^2 I), for every pair of rows: U (..., a, d), V (..., b, d)
    give (..., a, b).  Exact; the angle is clamped one float epsilon inside [0, pi] so that gradients stay
    finite for parallel rows (a relative change of about sqrt(eps) in their entry)."""
    if U.shape[:-2] != V.shape[:-2] or U.shape[-1] != V.shape[-1]:
        raise QuineInputError(f"U and V must agree except in their row count, got {tuple(U.shape)} and {tuple(V.shape)}")
    eps = torch.finfo(U.dtype).eps
    nu, nv = U.norm(dim=-1), V.norm(dim=-1)
    dot = U @ V.transpose(-1, -2)
    norms = nu[..., :, None] * nv[..., None, :]
    cos = (dot / norms.clamp_min(torch.finfo(U.dtype).tiny)).clamp(-1 + eps, 1 - eps)
    phi = torch.arccos(cos)
    return scale**2 * norms * (torch.sin(phi) + (math.pi - phi) * cos) / (2 * math.pi)


def relu_mean(U: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """E[relu(u.x)] = scale |u| / sqrt(2 pi) for x ~ N(0, scale^2 I), for every row of U (..., a, d)."""
    return scale * U.norm(dim=-1) / math.sqrt(2 * math.pi)


def _units(weights: dict[str, torch.Tensor]):
    if set(weights) != {"W1", "W2"}:
        raise QuineInputError(f"the closed forms are for bias-free networks (W1, W2 only), got {sorted(weights)}")
    return weights["W1"].transpose(1, 2), weights["W2"]  # (B, hidden, n_in) rows w_j; (B, hidden, n_out) v_j


def _second_moment(units: torch.Tensor, coef: torch.Tensor, scale: float) -> torch.Tensor:
    """sum_ij (c_i . c_j) K(u_i, u_j) per network: E ||sum_j c_j relu(u_j . x)||^2, diagonal exactly |u|^2 s^2/2."""
    K = relu_kernel(units, units, scale)
    eye = torch.eye(units.shape[1], dtype=torch.bool, device=units.device)
    K = torch.where(eye, scale**2 * units.pow(2).sum(-1)[..., :, None] / 2, K)
    return ((coef @ coef.transpose(1, 2)) * K).sum((1, 2))


def expected_squared_difference(pred: dict[str, torch.Tensor], true: dict[str, torch.Tensor],
                                scale: float = 1.0) -> torch.Tensor:
    """E_x ||f_pred(x) - f_true(x)||^2 / n_out for x ~ N(0, scale^2 I), one value per network (shape (B,)):
    the functional loss of ``weightpred.functional_loss`` in the limit of infinitely many inputs."""
    (wp, vp), (wt, vt) = _units(pred), _units(true)
    if wp.shape[0] != wt.shape[0] or wp.shape[2] != wt.shape[2] or vp.shape[2] != vt.shape[2]:
        raise QuineInputError("pred and true must hold the same number of networks with the same inputs and outputs")
    units = torch.cat([wp, wt], dim=1)
    coef = torch.cat([vp, -vt], dim=1)
    return _second_moment(units, coef, scale).clamp_min(0) / vp.shape[2]


def exact_r2(pred: dict[str, torch.Tensor], true: dict[str, torch.Tensor], scale: float = 1.0) -> dict:
    """R^2 against the mean with the expectation over inputs x ~ N(0, scale^2 I) done in closed form.

    Returns ``r2`` (pooled over the networks) and ``r2_networks`` (each network against its own mean).  For one
    output (n_out = 1, the chapter's networks) these are the limits of ``metrics.r2_against_mean`` and
    ``metrics.r2_per_network``; with several outputs each output is centred on its own mean, where those two
    centre all outputs on one.
    """
    mse = expected_squared_difference(pred, true, scale)  # per output, per network
    w, v = _units(true)
    n_out = v.shape[2]
    second = _second_moment(w, v, scale) / n_out  # E ||f||^2 / n_out
    mean = (relu_mean(w, scale)[..., None] * v).sum(1)  # (B, n_out): E f
    var_each = second - mean.pow(2).sum(1) / n_out
    pooled_var = second.mean() - mean.mean(0).pow(2).sum() / n_out
    return {"r2": float(1 - mse.mean() / pooled_var), "r2_networks": 1 - mse / var_each}
