"""quinelib.arccos: the closed-form functional loss of bias-free ReLU networks under Gaussian inputs."""

import math

import pytest
import torch

from quinelib import arccos
from quinelib.checks import QuineInputError
from quinelib.metrics import r2_against_mean, r2_per_network
from quinelib.weightpred import MLPSpec, flatten_mlps, functional_loss, mlp_forward, random_mlps, unflatten_mlps


def test_kernel_on_known_angles():
    u = torch.tensor([[[2.0, 0.0]]], dtype=torch.float64)
    same, orth, opp = (torch.tensor([[[a, b]]], dtype=torch.float64) for a, b in ((3.0, 0.0), (0.0, 3.0), (-3.0, 0.0)))
    assert float(arccos.relu_kernel(u, same)) == pytest.approx(6 * math.pi / (2 * math.pi), rel=1e-6)  # |u||v|/2
    assert float(arccos.relu_kernel(u, orth)) == pytest.approx(6 / (2 * math.pi))
    assert float(arccos.relu_kernel(u, opp)) == pytest.approx(0.0, abs=1e-6)
    assert float(arccos.relu_kernel(u, orth, scale=2.0)) == pytest.approx(4 * 6 / (2 * math.pi))
    assert float(arccos.relu_mean(u)) == pytest.approx(2 / math.sqrt(2 * math.pi))


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_expected_squared_difference_matches_monte_carlo(scale):
    spec = MLPSpec(3, 4, 2)
    g = torch.Generator().manual_seed(1)
    a = random_mlps(spec, 4, generator=g, dtype=torch.float64)
    b = random_mlps(spec, 4, generator=g, dtype=torch.float64)
    x = scale * torch.randn(4, 400_000, 3, generator=g, dtype=torch.float64)
    mc = ((mlp_forward(a, x) - mlp_forward(b, x)) ** 2).mean(dim=(1, 2))
    assert torch.allclose(arccos.expected_squared_difference(a, b, scale), mc, rtol=0.02)
    assert float(arccos.expected_squared_difference(a, a, scale).abs().max()) < 1e-12


def test_exact_r2_matches_sampled_r2():
    spec = MLPSpec(2, 5, 1)
    g = torch.Generator().manual_seed(2)
    true = random_mlps(spec, 64, generator=g, dtype=torch.float64)
    pred = {k: v + 0.2 * torch.randn(v.shape, generator=g, dtype=torch.float64) for k, v in true.items()}
    x = torch.randn(64, 50_000, 2, generator=g, dtype=torch.float64)
    exact = arccos.exact_r2(pred, true)
    assert exact["r2"] == pytest.approx(r2_against_mean(mlp_forward(pred, x), mlp_forward(true, x)), abs=0.01)
    sampled = r2_per_network(mlp_forward(pred, x), mlp_forward(true, x))
    assert float((exact["r2_networks"] - sampled).abs().median()) < 0.02


def test_exact_loss_has_finite_gradients_also_for_dead_and_parallel_units():
    spec = MLPSpec(2, 5, 1)
    true = random_mlps(spec, 3, generator=torch.Generator().manual_seed(3))
    pred = {k: v.clone() for k, v in true.items()}
    pred["W1"][:, :, 3:] = 0  # dead units
    pred["W2"][:, 3:] = 0
    flat = flatten_mlps(pred).requires_grad_()  # units 0-2 exactly parallel to the true ones
    arccos.expected_squared_difference(unflatten_mlps(spec, flat), true).sum().backward()
    assert torch.isfinite(flat.grad).all()
    # and it is the sampled functional loss's limit
    x = torch.randn(3, 200_000, 2, generator=torch.Generator().manual_seed(4))
    sampled = functional_loss(spec, flat.detach(), true, x)
    assert float(arccos.expected_squared_difference(pred, true).mean()) == pytest.approx(float(sampled), rel=0.03)


def test_closed_forms_reject_networks_with_biases():
    w = random_mlps(MLPSpec(2, 3, 1, bias=True), 2)
    with pytest.raises(QuineInputError, match="bias-free"):
        arccos.expected_squared_difference(w, w)
