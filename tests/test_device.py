"""Device-agnostic code: functions compute on the device of their inputs and create no tensor elsewhere.

Each function runs on PyTorch's ``meta`` device (tensors with shapes and dtypes but no data) under a
``TorchFunctionMode`` that sees every tensor each torch call returns.  A tensor created on the CPU inside the
function (``torch.eye(n)`` without ``device=``) shows up there as a CPU tensor, so a pass means the function
would run on a reader's ``device="cuda"`` (Colab) without a device mismatch.  Functions that turn a tensor
into a Python number on the way (the solvers' stopping rules, ``float(loss)``) cannot run on meta; the
solvers' own tensors are checked by ``test_the_solvers_build_their_identity_on_the_inputs_device``.
"""

import pytest
import torch
from torch.overrides import TorchFunctionMode

import quinelib as q
from quinelib import arccos, metrics
from quinelib import weightpred as wp

META = torch.device("meta")


class TensorDevices(TorchFunctionMode):
    """Records (device type, function name) of every tensor a torch function returns inside the block."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.seen.add((t.device.type, getattr(func, "__name__", str(func))))
        return out

    def off_device(self, device_type="meta"):
        return sorted(name for kind, name in self.seen if kind != device_type)


def meta(*shape, dtype=torch.float64):
    return torch.empty(*shape, dtype=dtype, device=META)


SPEC = wp.MLPSpec(4, 10, 1, bias=True)
BIAS_FREE = wp.MLPSpec(2, 5, 1, bias=False)


def mlps(spec=SPEC, batch=3):
    return {name: meta(batch, *shape) for name, shape in spec.shapes.items()}


def a_map():
    A = meta(5, 5)
    return lambda t: torch.tanh(A @ t)


# name -> a function of no arguments that builds the inputs (outside the recording) and returns (f, args)
CASES = {
    "normalise": lambda: (q.normalise, (meta(5, 7),)),
    "norm_jacobian": lambda: (q.norm_jacobian, (meta(7),)),
    "mlp_forward": lambda: (wp.mlp_forward, (mlps(), meta(3, 6, 4))),
    "mlp_jacobian": lambda: (lambda f, x: wp.mlp_jacobian(SPEC, f, x), (meta(3, SPEC.unknowns), meta(3, 6, 4))),
    "mlp_jacobian, bias-free": lambda: (lambda f, x: wp.mlp_jacobian(BIAS_FREE, f, x), (meta(3, 15), meta(3, 6, 2))),
    "functional_loss": lambda: (lambda f, w, x: wp.functional_loss(SPEC, f, w, x),
                                (meta(3, SPEC.unknowns), mlps(), meta(3, 6, 4))),
    "permute_hidden": lambda: (wp.permute_hidden, (mlps(), torch.zeros(3, 10, dtype=torch.int64, device=META))),
    "hidden_units": lambda: (wp.hidden_units, (mlps(),)),
    "canonicalise": lambda: (wp.canonicalise, (mlps(),)),
    "pair_residual": lambda: (lambda f, p: wp.pair_residual(SPEC, f, p), (meta(3, SPEC.unknowns), meta(3, 6, 5))),
    "relu_kernel": lambda: (arccos.relu_kernel, (meta(3, 5, 2), meta(3, 4, 2))),
    "expected_squared_difference": lambda: (arccos.expected_squared_difference, (mlps(BIAS_FREE), mlps(BIAS_FREE))),
    "r2_per_network": lambda: (metrics.r2_per_network, (meta(3, 6, 1), meta(3, 6, 1))),
    "jacobian (jacfwd)": lambda: (q.jacobian, (a_map(), meta(5))),
    "functional: a module at theta": lambda: (
        q.functional(torch.nn.Linear(3, 2, dtype=torch.float64).to(META)), (meta(8), meta(4, 3))),
    "the index quine's coordinates": lambda: (q.IndexQuine(d=4, hidden=(4, 4)).to(META).coordinates, ()),
}


@pytest.mark.parametrize("name", list(CASES))
def test_computes_on_the_inputs_device(name):
    f, args = CASES[name]()
    with TensorDevices() as devices:
        f(*args)
    assert devices.seen, "nothing was recorded: the check would pass vacuously"
    assert not devices.off_device(), f"{name} created tensors off the inputs' device in {devices.off_device()}"


def test_a_cpu_tensor_created_inside_is_caught():
    # the check can fail: a function that builds its own CPU identity is reported, although meta lets it run
    def careless(h):
        return h @ torch.eye(h.shape[-1], dtype=h.dtype)

    with TensorDevices() as devices:
        careless(meta(3, 3))
    assert devices.off_device() == ["eye"]


def test_the_solvers_build_their_identity_on_the_inputs_device(monkeypatch):
    # Newton and Levenberg-Marquardt need float() of their residuals, so they cannot run on meta; instead
    # every torch.eye they call is checked to be asked for the device of theta.
    asked = []
    eye = torch.eye

    def spy(*args, **kwargs):
        asked.append(kwargs.get("device"))
        return eye(*args, **kwargs)

    monkeypatch.setattr(torch, "eye", spy)
    theta = torch.full((3,), 3.0, dtype=torch.float64)
    q.newton(torch.cos, theta, max_iter=3)
    q.levenberg_marquardt(torch.cos, theta, max_iter=3)
    assert len(asked) == 2 and all(d == theta.device for d in asked)


def one_step(monkeypatch):
    """Replace the trainers' Adam loop by one call of their loss, so that a model on meta can be 'trained'."""
    losses = []

    def fake_fit_adam(model, method, step_loss, **kwargs):
        losses.append(step_loss())
        return losses[-1]

    monkeypatch.setattr(wp, "fit_adam", fake_fit_adam)
    return losses


@pytest.mark.parametrize("loss", ["functional", "exact", "weights"])
def test_the_inverse_trainer_draws_its_data_on_the_models_device(monkeypatch, loss):
    # Data are drawn on the CPU from the seeded generator and moved to the model's device; meta parameters
    # meeting a CPU batch would raise "Tensor on device cpu is not on the expected device meta".
    losses = one_step(monkeypatch)
    spec = BIAS_FREE if loss == "exact" else SPEC
    model = wp.DeepSets(spec.n_in + spec.n_out, spec.unknowns, width=8, hidden=8, cond=spec.n_hidden).to(META)
    wp.train_inverse(model, spec, (3, 5), steps=1, batch=4, n_eval=6, loss=loss, hidden_range=(2, 4))
    assert losses[0].device == META


def test_the_forward_trainer_draws_its_data_on_the_models_device(monkeypatch):
    losses = one_step(monkeypatch)
    model = wp.XLinear(SPEC.n_in, SPEC.unknowns, SPEC.n_out, width=8, depth=2).to(META)
    wp.train_forward(model, SPEC, steps=1, batch=4)
    assert losses[0].device == META


def test_evaluate_inverse_scores_on_the_models_device(monkeypatch):
    seen = []

    def fake_r2_summary(pred, true, **kwargs):
        seen.append((pred.device, true.device))
        return {"r2": 0.0}

    monkeypatch.setattr(wp, "r2_summary", fake_r2_summary)
    model = wp.DeepSets(SPEC.n_in + SPEC.n_out, SPEC.unknowns, width=8, hidden=8).to(META)
    out = wp.evaluate_inverse(model, SPEC, 5, functions=4, inputs=6)
    assert seen == [(META, META)] and out["pairs"].device == META and out["true"]["W1"].device == META
