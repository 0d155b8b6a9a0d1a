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
* ``r2_per_network``         the same R^2_mu for each network on its own (its own inputs, its own mean),
  so that a few badly predicted networks are not hidden by many good ones;
* ``r2_summary``             the pooled R^2_mu beside the per-network median, a low percentile and
  the share of networks below a threshold.

For a classifier (chapter 4): ``accuracy`` and ``confusion_matrix`` (scikit-learn's).
"""

from __future__ import annotations

import torch

from .checks import QuineInputError

__all__ = ["self_replication_loss", "relative_residual", "relative_sr_loss", "r2_against_zero", "r2_against_mean",
           "r2_per_network", "r2_summary", "FAIL_BELOW", "weight_rms", "report", "accuracy",
           "confusion_matrix"]


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


def r2_per_network(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """R^2_mu of each network separately: outputs of shape (networks, inputs, ...), one value per network,
    1 - sum (y_pred - y_true)^2 / sum (y_true - mean of that network's y_true)^2 over its own entries.
    A network whose true outputs do not vary gets -inf if it is predicted wrongly, 1 if exactly."""
    if y_pred.shape != y_true.shape:
        raise QuineInputError(f"shapes differ: {tuple(y_pred.shape)} and {tuple(y_true.shape)}")
    if y_true.ndim < 2:
        raise QuineInputError(f"expected outputs of shape (networks, inputs, ...), got {tuple(y_true.shape)}")
    dims = tuple(range(1, y_true.ndim))
    sse = ((y_pred - y_true) ** 2).sum(dims)
    sst = ((y_true - y_true.mean(dims, keepdim=True)) ** 2).sum(dims)
    r2 = 1.0 - sse / sst
    return torch.where(sst > 0, r2, torch.where(sse > 0, -torch.inf, 1.0))


#: A network is "failed" by a prediction whose R^2_mu on it is below this (``r2_summary``'s failure share).
FAIL_BELOW = 0.9


def r2_summary(y_pred: torch.Tensor, y_true: torch.Tensor, *, fail_below: float = FAIL_BELOW) -> dict:
    """The pooled R^2_mu (``r2``) beside the distribution of the per-network R^2_mu: its median
    (``r2_median``), its 5th percentile (``r2_p5``), the share of networks with R^2_mu < ``fail_below``
    (``fail_share``: the networks the prediction fails on) and the values themselves (``r2_networks``)."""
    per = r2_per_network(y_pred, y_true).double()
    return {"r2": r2_against_mean(y_pred, y_true), "r2_median": float(per.quantile(0.5)),
            "r2_p5": float(per.quantile(0.05)), "fail_share": float((per < fail_below).double().mean()),
            "r2_networks": per}


def weight_rms(theta: torch.Tensor) -> float:
    """The root mean square of the weights, sqrt(sum theta^2 / P)."""
    return float(theta.pow(2).mean().sqrt())


def report(pred: torch.Tensor, theta: torch.Tensor) -> dict:
    """Every measure of a quine at once, keyed by its quinelib name."""
    rho2 = relative_sr_loss(pred, theta)
    return {"L_SR": self_replication_loss(pred, theta), "sum_theta2": float((theta**2).sum()),
            "relative_residual": rho2**0.5, "relative_sr_loss": rho2, "r2_against_zero": 1.0 - rho2,
            "weight_rms": weight_rms(theta)}


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is at the true label."""
    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
        raise QuineInputError(f"expected logits (n, k) and labels (n,), got {tuple(logits.shape)} and "
                              f"{tuple(labels.shape)}")
    if len(labels) == 0:
        raise QuineInputError("accuracy of an empty set is undefined")
    return float((logits.argmax(dim=1) == labels).double().mean())


def confusion_matrix(logits: torch.Tensor, labels: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """counts[i, j] = number of images of class i predicted as class j (scikit-learn's confusion_matrix
    on the argmax of the logits, over all ``n_classes`` classes, default the logits' width)."""
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
        raise QuineInputError(f"expected logits (n, k) and labels (n,), got {tuple(logits.shape)} and "
                              f"{tuple(labels.shape)}")
    k = n_classes or logits.shape[1]
    counts = sk_confusion_matrix(labels.cpu().numpy(), logits.argmax(dim=1).cpu().numpy(), labels=list(range(k)))
    return torch.as_tensor(counts, dtype=torch.int64, device=logits.device)
