"""Parameters <-> one flat vector theta, and F(theta) for any nn.Module.

A quine is a fixed point of a map theta -> F(theta) on the flat parameter
vector, so every chapter needs the same two conversions: a module's
parameters as one vector, and the module's forward pass as a *function* of
such a vector.  Both are built on PyTorch's own tools
(``parameters_to_vector`` and ``torch.func.functional_call``): nothing is
copied into the module while a solver runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from .checks import QuineInputError, check_theta

__all__ = ["Slot", "layout", "flatten", "unflatten", "assign_", "functional", "as_function", "num_params"]


@dataclass(frozen=True)
class Slot:
    """Where one named parameter lives inside theta."""

    name: str
    shape: tuple[int, ...]
    start: int
    stop: int

    @property
    def numel(self) -> int:
        return self.stop - self.start


def layout(module: nn.Module) -> list[Slot]:
    """The slots of every trainable parameter, in ``named_parameters`` order."""
    if not isinstance(module, nn.Module):
        raise QuineInputError(f"expected an nn.Module, got {type(module).__name__}")
    slots, start = [], 0
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        slots.append(Slot(name, tuple(p.shape), start, start + p.numel()))
        start += p.numel()
    return slots


def num_params(module: nn.Module) -> int:
    """P, the length of theta."""
    slots = layout(module)
    return slots[-1].stop if slots else 0


def flatten(module: nn.Module) -> torch.Tensor:
    """theta: a detached copy of the module's trainable parameters as one vector."""
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise QuineInputError(f"{type(module).__name__} has no trainable parameters")
    return parameters_to_vector(params).detach().clone()


def unflatten(module: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split theta into views shaped like the module's parameters (no copies)."""
    slots = layout(module)
    P = slots[-1].stop if slots else 0
    check_theta(theta, P, dtype=_dtype_of(module))
    return {s.name: theta[s.start : s.stop].view(s.shape) for s in slots}


def assign_(module: nn.Module, theta: torch.Tensor) -> nn.Module:
    """Write theta into the module's parameters in place (outside solver loops)."""
    params = [p for p in module.parameters() if p.requires_grad]
    check_theta(theta, sum(p.numel() for p in params), dtype=_dtype_of(module))
    with torch.no_grad():
        vector_to_parameters(theta.detach().clone(), params)
    return module


def functional(module: nn.Module) -> Callable[..., torch.Tensor]:
    """Return call with call(theta, *args, **kwargs) = module(*args, **kwargs) at parameters theta.

    The one way the package evaluates a module at a flat parameter vector:
    ``torch.func.functional_call`` with theta cut into the module's parameter
    shapes (``layout``), the module's buffers taken as they are.  Nothing is
    copied into the module, and ``call`` works under ``torch.func``
    transforms and autograd (the gradient flows into theta).
    """
    if not isinstance(module, nn.Module):
        raise QuineInputError(f"expected an nn.Module, got {type(module).__name__}")
    slots = layout(module)
    if not slots:
        raise QuineInputError(f"{type(module).__name__} has no trainable parameters")
    buffers = dict(module.named_buffers())
    # functional_call looks for tied weights (one tensor under two names) on every call unless told there are none
    tied = len(list(module.named_parameters(remove_duplicate=False))) != len(slots)
    P = slots[-1].stop

    def call(theta: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if theta.ndim != 1 or theta.shape[0] != P:
            raise QuineInputError(f"theta must be a vector of length {P}, got shape {tuple(theta.shape)}")
        params = {s.name: theta[s.start : s.stop].view(s.shape) for s in slots}
        return functional_call(module, (params, buffers), args, kwargs, tie_weights=tied)

    call.P = P  # type: ignore[attr-defined]
    return call


def as_function(module: nn.Module, inputs, *, flat: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return F with F(theta) = module(*inputs) evaluated at parameters theta.

    ``inputs`` is a tensor or a tuple of tensors (the fixed probe).  Buffers
    (such as a fixed random projection) are taken from the module as they are.
    With ``flat=True`` (the default) the output is reshaped to one vector, as
    the fixed-point equation F(theta) = theta needs.  F works under
    ``torch.func`` transforms (``jacfwd``, ``vmap``); it is ``functional``
    with the inputs fixed.
    """
    if not isinstance(module, nn.Module):
        raise QuineInputError(f"as_function expects an nn.Module, got {type(module).__name__}")
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    for x in inputs:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and not torch.isfinite(x).all():
            raise QuineInputError("the probe input contains NaN or inf")
    call = functional(module)

    def F(theta: torch.Tensor) -> torch.Tensor:
        out = call(theta, *inputs)
        return out.reshape(-1) if flat else out

    F.P = call.P  # type: ignore[attr-defined]
    F.module = module  # type: ignore[attr-defined]
    return F


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); the CPU for a module that has neither.  Trainers
    draw their seeded data on the CPU (so a seed gives the same numbers on every device) and move it here."""
    t = next(iter(module.parameters()), None)
    t = next(iter(module.buffers()), None) if t is None else t
    return torch.device("cpu") if t is None else t.device


def _dtype_of(module: nn.Module):
    p = next((p for p in module.parameters()), None)
    return None if p is None else p.dtype
