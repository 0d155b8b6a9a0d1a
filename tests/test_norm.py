"""quinelib.norm: parameter-free normalisation, its closed-form Jacobian, and the normalised quine (chapter 2)."""

import pytest
import torch
from torch.func import jacrev

import quinelib as q

F64 = torch.float64


@pytest.mark.parametrize("n", [2, 3, 7, 20, 64])
@pytest.mark.parametrize("eps", [1e-5, 1e-3, 1.0])
def test_norm_jacobian_matches_autograd(n, eps):
    g = torch.Generator().manual_seed(n)
    for h in (torch.randn(n, generator=g, dtype=F64), 5 * torch.randn(n, generator=g, dtype=F64),
              torch.zeros(n, dtype=F64), torch.full((n,), 0.3, dtype=F64)):
        auto = jacrev(lambda x: q.normalise(x, eps))(h)
        assert (auto - q.norm_jacobian(h, eps)).abs().max() <= 1e-10


def test_norm_jacobian_at_zero_is_the_scaled_centring_projection():
    n, eps = 20, 1e-5
    J = q.norm_jacobian(torch.zeros(n, dtype=F64), eps)
    expected = (torch.eye(n, dtype=F64) - 1.0 / n) / eps ** 0.5
    assert torch.allclose(J, expected, rtol=1e-14, atol=0) and J.abs().max() > 300


def test_param_free_norms_match_pytorch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 20, generator=g, dtype=F64)
    inst = torch.nn.InstanceNorm1d(1, affine=False, track_running_stats=False).double()  # one channel of length 20
    assert torch.allclose(q.ParamFreeNorm("instance")(x), inst(x.unsqueeze(1)).squeeze(1), atol=1e-12)
    bn = torch.nn.BatchNorm1d(20, affine=False, track_running_stats=False).double()
    assert torch.allclose(q.ParamFreeNorm("batch")(x), bn(x), atol=1e-12)
    assert sum(p.numel() for p in q.ParamFreeNorm("batch").parameters()) == 0


def test_normalised_model_has_the_same_parameters_and_a_large_jacobian_at_zero():
    plain, model = q.QuineMLP(seed=0), q.QuineMLP(seed=0, norm="instance")
    assert plain.P == model.P == 1020 and torch.equal(q.flatten(plain), q.flatten(model))
    z = q.probe_input(seed=0)
    zero = torch.zeros(model.P, dtype=F64)
    F = q.as_function(model, z)
    assert torch.equal(F(zero), zero), "zero is still a fixed point"
    J0 = q.jacobian(F, zero)
    # only the last bias acts at theta = 0, through the normalisation's Jacobian at h = 0
    Jn0 = q.norm_jacobian(torch.zeros(20, dtype=F64), model.eps)
    expected = torch.zeros_like(J0)
    expected[:, -20:] = model.alpha * model.proj.T @ Jn0
    assert torch.allclose(J0, expected, rtol=1e-10, atol=1e-10)
    rho_norm = q.spectrum(F, zero).abs().max()
    rho_plain = q.spectrum(q.as_function(plain, z), zero).abs().max()
    assert rho_plain < 1 < rho_norm, "normalisation must make zero repelling"
    # the seed loop's step direction F(theta) - theta does not vanish near zero relative to theta
    tiny = 1e-3 * q.flatten(model)
    assert (F(tiny) - tiny).norm() > 10 * tiny.norm()


@pytest.mark.parametrize("kwargs, match", [(dict(norm="layer"), "norm"), (dict(norm="instance", eps=0), "eps"),
                                           (dict(norm="instance", eps=-1e-5), "eps")])
def test_bad_norm_arguments(kwargs, match):
    with pytest.raises(q.QuineInputError, match=match):
        q.QuineMLP(**kwargs)


def test_batch_norm_needs_several_probes():
    model = q.QuineMLP(norm="batch")
    with pytest.raises(q.QuineInputError, match="at least 2"):
        model(q.probe_input(batch=1))
    assert model(q.probe_input(batch=4)).shape == (1, model.P)
