"""Honest error measures, one name per quantity (see the book's notation page).

For a quine's prediction F(theta) of its own weights theta:

* ``self_replication_loss``  L_SR = sum_c (F(theta)_c - theta_c)^2 (the paper's loss);
* ``relative_residual``      rho = ||F(theta) - theta|| / ||theta||;
* ``relative_sr_loss``       rho^2 = L_SR / sum theta^2;
* ``r2_against_zero``        R^2_0 = 1 - rho^2.

L_SR also falls when the weights merely shrink: a network that outputs zero
scores L_SR = sum theta^2, rho = rho^2 = 1 and R^2_0 = 0.  So L_SR is always
reported beside rho.

For a prediction y_pred of outputs y_true (chapter 5):

* ``r2_against_mean``        R^2_mu = 1 - sum (y_pred - y_true)^2 / sum (y_true - mean)^2,
  pooled over every entry; predicting the mean scores 0.
"""

from __future__ import annotations

import torch

from .checks import QuineInputError

__all__ = ["self_replication_loss", "relative_residual", "relative_sr_loss", "r2_against_zero", "r2_against_mean",
           "weight_rms", "report"]


def _check(pred: torch.Tensor, theta: torch.Tensor):
    if pred.shape != theta.shape:
        raise QuineInputError(f"prediction shape {tuple(pred.shape)} differs from theta's {tuple(theta.shape)}")
    if not (torch.isfinite(pred).all() and torch.isfinite(theta).all()):
        raise QuineInputError("prediction or theta contains NaN or inf")


def self_replication_loss(pred: torch.Tensor, theta: torch.Tensor) -> float:
    """L_SR = sum_c (F(theta)_c - theta_c)^2."""
    _check(pred, theta)
    return float(((pred - theta) ** 2).sum())


def relative_sr_loss(pred: torch.Tensor, theta: torch.Tensor) -> float:
    """rho^2 = L_SR / sum theta^2: 1 for predicting zero, 0 for an exact quine (inf if theta = 0)."""
    _check(pred, theta)
    total = float((theta**2).sum())
    return float("inf") if total == 0 else float(((pred - theta) ** 2).sum()) / total


def relative_residual(pred: torch.Tensor, theta: torch.Tensor) -> float:
    """rho = ||F(theta) - theta|| / ||theta||: 1 for predicting zero, 0 for an exact quine (inf if theta = 0)."""
    return relative_sr_loss(pred, theta) ** 0.5


def r2_against_zero(pred: torch.Tensor, theta: torch.Tensor) -> float:
    """R^2_0 = 1 - rho^2: the fraction of sum theta^2 explained; predicting zero scores 0."""
    return 1.0 - relative_sr_loss(pred, theta)


def r2_against_mean(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    """R^2_mu = 1 - mean squared error / variance of y_true, pooled over every entry
    (0 for predicting the mean, 1 for exact)."""
    if y_pred.shape != y_true.shape:
        raise QuineInputError(f"shapes differ: {tuple(y_pred.shape)} and {tuple(y_true.shape)}")
    var = float(y_true.var(unbiased=False))
    if var == 0:
        raise QuineInputError("R² against the mean is undefined when the true outputs do not vary")
    return 1.0 - float(((y_pred - y_true) ** 2).mean()) / var


def weight_rms(theta: torch.Tensor) -> float:
    """The root mean square of the weights, sqrt(sum theta^2 / P)."""
    return float(theta.pow(2).mean().sqrt())


def report(pred: torch.Tensor, theta: torch.Tensor) -> dict:
    """Every measure of a quine at once, keyed by its quinelib name."""
    rho2 = relative_sr_loss(pred, theta)
    return {"L_SR": self_replication_loss(pred, theta), "sum_theta2": float((theta**2).sum()),
            "relative_residual": rho2**0.5, "relative_sr_loss": rho2, "r2_against_zero": 1.0 - rho2,
            "weight_rms": weight_rms(theta)}
