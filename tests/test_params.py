"""Parameters <-> flat vector, and F(theta) for any module."""

import pytest
import torch
from torch import nn
from torch.func import jacfwd

import quinelib as q


@pytest.fixture
def model():
    return q.QuineMLP(seed=0)


def test_seed_network_has_1020_parameters(model):
    assert model.P == 1020 == q.num_params(model)
    assert [s.name for s in q.layout(model)] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias"]
    assert model.proj.shape == (20, 1020)
    assert "proj" not in dict(model.named_parameters()), "the projection must be a buffer"


def test_flat_round_trip_is_exact(model):
    theta = q.flatten(model)
    other = q.QuineMLP(seed=1)
    assert not torch.equal(q.flatten(other), theta)
    q.assign_(other, theta)
    assert torch.equal(q.flatten(other), theta)
    for name, view in q.unflatten(model, theta).items():
        assert torch.equal(view, dict(model.named_parameters())[name])


def test_flatten_is_a_copy(model):
    theta = q.flatten(model)
    theta.zero_()
    assert q.flatten(model).abs().sum() > 0


def test_as_function_matches_forward(model):
    z = q.probe_input(seed=0)
    F = q.as_function(model, z)
    theta = q.flatten(model)
    assert torch.equal(F(theta), model(z).reshape(-1))
    # another theta: F must use the argument, not the module's state
    theta2 = 0.5 * theta
    q.assign_(model, theta2)
    expected = model(z).reshape(-1)
    q.assign_(model, theta)
    assert torch.equal(F(theta2), expected)


def test_as_function_any_module_and_jacfwd():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    F = q.as_function(net, x)
    theta = q.flatten(net)
    assert torch.allclose(F(theta), net(x).reshape(-1))
    J = jacfwd(F)(theta)
    assert J.shape == (10, theta.numel())


def test_model_construction_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a, b = q.QuineMLP(seed=7), q.QuineMLP(seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(q.flatten(a), q.flatten(b)) and torch.equal(a.proj, b.proj)
    assert not torch.equal(q.flatten(a), q.flatten(q.QuineMLP(seed=8)))
    assert torch.equal(q.probe_input(seed=3), q.probe_input(seed=3))


def test_sizes_are_configurable():
    m = q.QuineMLP(in_features=4, hidden=(6, 5), alpha=0.5)
    assert m.P == 4 * 6 + 6 + 6 * 5 + 5
    assert m(q.probe_input(4)).shape == (1, m.P)


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=0), "alpha"), (dict(alpha=-1.0), "alpha"), (dict(alpha=float("nan")), "alpha"),
    (dict(alpha=float("inf")), "alpha"), (dict(hidden=(20, 0, 20)), "hidden"), (dict(hidden=()), "hidden"),
    (dict(hidden=(20, -3)), "hidden"), (dict(in_features=0), "in_features"), (dict(hidden=(2.5,)), "hidden"),
    (dict(dtype=torch.int64), "dtype"),
])
def test_bad_model_arguments_get_clear_errors(kwargs, match):
    with pytest.raises(q.QuineInputError, match=match):
        q.QuineMLP(**kwargs)


def test_bad_theta_gets_clear_errors(model):
    P = model.P
    with pytest.raises(q.QuineInputError, match="length 1019"):
        q.unflatten(model, torch.zeros(P - 1, dtype=torch.float64))
    with pytest.raises(q.QuineInputError, match="dtype"):
        q.assign_(model, torch.zeros(P, dtype=torch.float32))
    with pytest.raises(q.QuineInputError, match="floating-point"):
        q.assign_(model, torch.zeros(P, dtype=torch.int64))
    with pytest.raises(q.QuineInputError, match="1-D"):
        q.assign_(model, torch.zeros(2, P // 2, dtype=torch.float64))
    bad = torch.zeros(P, dtype=torch.float64)
    bad[5] = float("nan")
    with pytest.raises(q.QuineInputError, match="non-finite"):
        q.assign_(model, bad)
    with pytest.raises(q.QuineInputError, match="torch.Tensor"):
        q.assign_(model, [0.0] * P)


def test_bad_probe_gets_clear_error(model):
    with pytest.raises(q.QuineInputError, match="NaN or inf"):
        q.as_function(model, torch.full((1, 8), float("inf"), dtype=torch.float64))
    with pytest.raises(q.QuineInputError, match="8 features"):
        model(torch.zeros(1, 7, dtype=torch.float64))
    with pytest.raises(q.QuineInputError, match="nn.Module"):
        q.as_function(lambda t: t, torch.zeros(1))


class _TwoWays(nn.Module):
    """A module with a keyword-selected second forward, like the auxiliary quine's image queries."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2, dtype=torch.float64)
        self.register_buffer("shift", torch.ones(2, dtype=torch.float64))

    def forward(self, x, *, twice=False):
        y = self.lin(x) + self.shift
        return 2 * y if twice else y


def test_functional_calls_the_module_at_theta_with_args_and_keywords():
    m = _TwoWays()
    call = q.functional(m)
    theta = torch.arange(8, dtype=torch.float64) / 10
    x = torch.randn(4, 3, dtype=torch.float64)
    W, b = theta[:6].view(2, 3), theta[6:]
    assert torch.allclose(call(theta, x), x @ W.T + b + 1, atol=1e-15)
    assert torch.allclose(call(theta, x, twice=True), 2 * (x @ W.T + b + 1), atol=1e-15)
    # the module's own parameters are untouched, and the gradient reaches theta
    assert not torch.equal(m.lin.weight, W)
    t = theta.clone().requires_grad_(True)
    call(t, x).sum().backward()
    assert torch.allclose(t.grad[6:], torch.full((2,), 4.0, dtype=torch.float64))
    # as_function is functional with the inputs fixed
    assert torch.equal(q.as_function(m, x)(theta), call(theta, x).reshape(-1))
    with pytest.raises(q.QuineInputError, match="length 8"):
        call(theta[:7], x)
    with pytest.raises(q.QuineInputError, match="nn.Module"):
        q.functional(lambda t: t)
