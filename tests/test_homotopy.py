"""quinelib.homotopy: the fixed-point homotopy, followed by arclength to a quine."""

import numpy as np
import pytest
import torch

from quinelib.checks import QuineInputError
from quinelib.homotopy import fixed_point_homotopy
from quinelib.models import CoordinateQuine
from quinelib.params import as_function

F64 = torch.float64


def folded(x):
    """F(x) = 1 / (1 - 1.5 x + 0.6 x^2): smooth, positive and bounded (at most 16).  From theta0 = 0 the roots of
    x = tau F(x) lie on tau = g(x) = x - 1.5 x^2 + 0.6 x^3, which rises to 0.20 at x = 0.46, falls to 0.08 at
    x = 1.21 and reaches 1 at the only fixed point, the real root of g(x) = 1 (x = 2.08): a path in tau alone
    stops at the fold; by arclength it goes on."""
    return 1 / (1 - 1.5 * x + 0.6 * x**2)


def test_the_path_passes_a_fold_and_ends_at_the_only_fixed_point():
    root = [r.real for r in np.roots([0.6, -1.5, 1.0, -1.0]) if abs(r.imag) < 1e-12]
    assert len(root) == 1
    res = fixed_point_homotopy(folded, torch.zeros(1, dtype=F64))
    assert res.converged, res.stop_reason
    assert abs(float(res.theta[0]) - root[0]) <= 1e-12
    tau = np.array(res.extra["tau"])
    # tau rose to about 0.2, came back to about 0.08, then went on to 1: the fold was passed, not jumped
    first_peak = int(np.argmax(tau > 0.19))
    assert tau[first_peak:].min() < 0.09 and tau[-1] == 1.0
    assert res.stop_reason.startswith("converged: the path reached tau = 1")


def test_a_contraction_gives_its_unique_fixed_point():
    g = torch.Generator().manual_seed(0)
    M = 0.5 * torch.linalg.qr(torch.randn(12, 12, dtype=F64, generator=g)).Q  # every singular value 0.5
    b = torch.randn(12, dtype=F64, generator=g)

    def F(theta):
        return torch.tanh(M @ theta + b)

    x = torch.zeros(12, dtype=F64)
    for _ in range(200):  # a contraction: regeneration converges to the unique fixed point
        x = F(x)
    res = fixed_point_homotopy(F, torch.randn(12, dtype=F64, generator=g))
    assert res.converged, res.stop_reason
    assert float((res.theta - x).norm()) <= 1e-12 * float(x.norm())
    assert res.extra["tau"][0] == 0.0 and res.extra["tau"][-1] == 1.0
    assert len(res.residuals) == len(res.extra["tau"]) == len(res.times)


def test_the_coordinate_quines_output_is_bounded_as_stated():
    model = CoordinateQuine(k=6, seed=1)
    F = as_function(model, model.coordinates())
    bound = model.output_bound()
    g = torch.Generator().manual_seed(0)
    for scale in (1e-3, 1.0, 1e3):
        for _ in range(20):
            theta = scale * torch.randn(model.P, dtype=F64, generator=g)
            assert float(F(theta).norm()) < bound


def test_the_coordinate_quine_at_a_small_size():
    model = CoordinateQuine(k=4, seed=0)
    res = None
    gen = torch.Generator().manual_seed(0)
    for _ in range(4):
        a = 0.5 * torch.randn(model.P, generator=gen, dtype=F64)
        res = fixed_point_homotopy(model, a, inputs=model.coordinates(), min_norm=0.05, time_budget=20.0)
        if res.converged:
            break
    assert res.converged, res.stop_reason
    assert res.relative_residual <= 1e-12 and float(res.theta.norm()) >= 0.05


def test_it_stops_with_a_reason():
    res = fixed_point_homotopy(folded, torch.zeros(1, dtype=F64), time_budget=1e-9)
    assert not res.converged and res.stop_reason.startswith("time budget")
    res = fixed_point_homotopy(folded, torch.zeros(1, dtype=F64), max_steps=2)
    assert not res.converged and res.stop_reason == "max_steps = 2 reached"


@pytest.mark.parametrize("kwargs, message", [
    ({"h0": 5.0}, "h_min <= h0 <= h_max"),
    ({"max_steps": 0}, "max_steps"),
    ({"bend": 1.0}, "bend"),
    ({"time_budget": -1.0}, "time_budget"),
    ({"dense_max": 0}, "dense_max"),
])
def test_bad_settings_get_clear_errors(kwargs, message):
    with pytest.raises(QuineInputError, match=message):
        fixed_point_homotopy(folded, torch.zeros(1, dtype=F64), **kwargs)


def test_bad_starts_get_clear_errors():
    with pytest.raises(QuineInputError):
        fixed_point_homotopy(folded, torch.tensor([float("nan")], dtype=F64))
    with pytest.raises(QuineInputError, match="shape"):
        fixed_point_homotopy(lambda t: t[:1], torch.zeros(3, dtype=F64))
    with pytest.raises(QuineInputError, match="starting point"):
        fixed_point_homotopy(folded)
