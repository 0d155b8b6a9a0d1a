"""Input validation shared by the models and solvers: clear errors early,
instead of a traceback from deep inside torch."""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["QuineInputError", "check_theta", "check_positive", "check_sizes", "check_float_dtype"]


class QuineInputError(ValueError):
    """A bad argument to a quinelib function (wrong shape, dtype, value)."""


def check_theta(theta, P: int | None = None, *, dtype=None, name: str = "theta") -> torch.Tensor:
    """theta must be a finite, floating-point, 1-D tensor of length P."""
    if not isinstance(theta, torch.Tensor):
        raise QuineInputError(f"{name} must be a torch.Tensor, got {type(theta).__name__}")
    if not theta.is_floating_point():
        raise QuineInputError(f"{name} must be a floating-point tensor, got dtype {theta.dtype}")
    if dtype is not None and theta.dtype != dtype:
        raise QuineInputError(
            f"{name} has dtype {theta.dtype} but the model's parameters are {dtype}; "
            f"convert with {name}.to({dtype})"
        )
    if theta.dim() != 1:
        raise QuineInputError(f"{name} must be a 1-D vector, got shape {tuple(theta.shape)}")
    if P is not None and theta.numel() != P:
        raise QuineInputError(f"{name} has length {theta.numel()} but the model has P = {P} parameters")
    if not torch.isfinite(theta).all():
        bad = int((~torch.isfinite(theta)).sum())
        raise QuineInputError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return theta


def check_positive(value, name: str) -> float:
    """A finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise QuineInputError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise QuineInputError(f"{name} must be finite and > 0, got {value!r}")
    return float(value)


def check_sizes(sizes, name: str) -> tuple[int, ...]:
    """A non-empty sequence of whole numbers >= 1."""
    if isinstance(sizes, numbers.Integral):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise QuineInputError(f"{name} must be an int or a sequence of ints, got {sizes!r}") from None
    if not sizes:
        raise QuineInputError(f"{name} must not be empty")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0:
            raise QuineInputError(f"{name} must hold whole numbers >= 1, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def check_float_dtype(dtype) -> torch.dtype:
    """A model's dtype: torch.float32 or torch.float64, or a clear error."""
    if dtype not in (torch.float32, torch.float64):
        raise QuineInputError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return dtype
