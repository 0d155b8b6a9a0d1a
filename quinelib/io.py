"""Save a quine and load it back, exactly.

A quine is only a quine together with its probe input and its architecture
(the fixed projection included), so all of them are saved in one file of
plain tensors and primitives, which ``torch.load(..., weights_only=True)``
reads without unpickling any code.  Loading rebuilds the model, writes theta
into it and checks that the file is consistent; a truncated file, a file of
another kind, or a file for another architecture gets a clear error.
"""

from __future__ import annotations

import os
import pickle
import zipfile

import torch

from .checks import QuineInputError
from .models import QuineMLP
from .params import assign_, flatten, num_params

__all__ = ["QuineFileError", "save_quine", "load_quine", "FORMAT"]

FORMAT = "quinelib.quine/1"


class QuineFileError(QuineInputError):
    """A quine file that cannot be used: unreadable, of another kind, or inconsistent."""


def save_quine(path, model: QuineMLP, probe: torch.Tensor, theta: torch.Tensor | None = None) -> None:
    """Write the architecture, theta (default: the model's own), the projection and the probe."""
    if not isinstance(model, QuineMLP):
        raise QuineInputError(f"save_quine saves a QuineMLP, got {type(model).__name__}")
    theta = flatten(model) if theta is None else theta.detach().clone()
    if theta.shape != (model.P,):
        raise QuineInputError(f"theta has shape {tuple(theta.shape)}, the model has P = {model.P}")
    payload = {"format": FORMAT, "architecture": model.architecture(), "theta": theta,
               "proj": model.proj.detach().clone(), "probe": probe.detach().clone()}
    tmp = f"{os.fspath(path)}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)  # never leave a half-written file under the real name


def load_quine(path, *, expect: dict | None = None) -> tuple[QuineMLP, torch.Tensor]:
    """Return (model, probe) with the saved theta written into the model.

    ``expect``: an architecture dict (``model.architecture()``) the file must
    match, for code that needs one particular network.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise QuineFileError(f"{path}: not a readable quine file (truncated or corrupted?): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise QuineFileError(f"{path}: not a {FORMAT} file")
    arch = dict(payload["architecture"])
    if expect is not None and dict(expect) != arch:
        diff = {k: (arch.get(k), expect.get(k)) for k in set(arch) | set(expect) if arch.get(k) != expect.get(k)}
        raise QuineFileError(f"{path}: saved for another architecture; (file, expected) differ in {diff}")
    if arch.pop("cls", None) != "QuineMLP":
        raise QuineFileError(f"{path}: unknown model class")
    arch["dtype"] = getattr(torch, arch["dtype"])
    model = QuineMLP(**arch)
    theta, proj = payload["theta"], payload["proj"]
    if theta.shape != (num_params(model),) or proj.shape != model.proj.shape:
        raise QuineFileError(f"{path}: theta or projection do not fit the saved architecture")
    model.proj.copy_(proj)
    assign_(model, theta)
    return model, payload["probe"]
