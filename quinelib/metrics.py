"""Honest error measures for a quine's prediction of its own weights.

The raw self-replication loss L_SR = sum_c (f(c) - theta_c)^2 also falls
when the weights merely shrink: a network that outputs zero scores
L_SR = sum theta^2.  So always report it beside the relative error
L_SR / sum theta^2 (1 for the zero prediction, 0 for a perfect quine) and
R^2 = 1 - relative error.
"""

from __future__ import annotations

import torch

from .checks import QuineInputError

__all__ = ["self_replication_loss", "relative_error", "r_squared", "weight_rms", "report"]


def _check(pred: torch.Tensor, theta: torch.Tensor):
    if pred.shape != theta.shape:
        raise QuineInputError(f"prediction shape {tuple(pred.shape)} differs from theta's {tuple(theta.shape)}")
    if not (torch.isfinite(pred).all() and torch.isfinite(theta).all()):
        raise QuineInputError("prediction or theta contains NaN or inf")


def self_replication_loss(pred: torch.Tensor, theta: torch.Tensor) -> float:
    """L_SR = sum_c (f(c) - theta_c)^2."""
    _check(pred, theta)
    return float(((pred - theta) ** 2).sum())


def relative_error(pred: torch.Tensor, theta: torch.Tensor) -> float:
    """L_SR / sum theta^2: 1 for predicting zero, 0 for an exact quine (inf if theta = 0)."""
    _check(pred, theta)
    total = float((theta**2).sum())
    return float("inf") if total == 0 else float(((pred - theta) ** 2).sum()) / total


def r_squared(pred: torch.Tensor, theta: torch.Tensor) -> float:
    """1 - relative error (the fraction of sum theta^2 explained; the zero prediction scores 0)."""
    return 1.0 - relative_error(pred, theta)


def weight_rms(theta: torch.Tensor) -> float:
    return float(theta.pow(2).mean().sqrt())


def report(pred: torch.Tensor, theta: torch.Tensor) -> dict:
    """All four numbers at once."""
    return {"L_SR": self_replication_loss(pred, theta), "sum_theta2": float((theta**2).sum()),
            "relative_error": relative_error(pred, theta), "R2": r_squared(pred, theta),
            "weight_rms": weight_rms(theta)}
