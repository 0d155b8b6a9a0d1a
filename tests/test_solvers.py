"""quinelib.solvers: Newton, regeneration, the training loops and Levenberg-Marquardt: answers, records and failures."""

import math

import pytest
import torch

import quinelib as q


def test_newton_solves_a_linear_fixed_point_problem():
    g = torch.Generator().manual_seed(0)
    n = 30
    A = torch.randn(n, n, generator=g, dtype=torch.float64) / n ** 0.5 * 1.5  # spectral radius > 1
    b = torch.randn(n, generator=g, dtype=torch.float64)
    theta_star = torch.linalg.solve(torch.eye(n, dtype=torch.float64) - A, b)
    res = q.newton(lambda t: A @ t + b, torch.zeros(n, dtype=torch.float64), atol=1e-13)
    assert res.converged and res.stop_reason == "converged"
    assert res.iterations <= 2  # one exact step for a linear map
    assert (res.theta - theta_star).norm() <= 1e-12 * theta_star.norm()
    assert res.residual <= 1e-12


def test_newton_reaches_the_zero_quine_on_the_seed_setup():
    model = q.QuineMLP(seed=0)
    res = q.newton(model, inputs=q.probe_input(seed=0))
    assert res.converged and res.iterations <= 10
    assert res.residual < 1e-12
    assert res.theta_norms[-1] < 1e-8 * res.theta_norms[0]
    # the record: one entry per iterate, starting with theta_0, times increasing
    assert len(res.residuals) == len(res.theta_norms) == len(res.times) == res.iterations + 1
    assert torch.equal(res.theta0, q.flatten(model))
    assert all(t1 >= t0 for t0, t1 in zip(res.times, res.times[1:]))
    assert res.wall_time >= res.times[-1]
    # the zero quine scores a relative residual of about 1
    assert 0.5 < res.relative_residual < 2


def test_jacobian_modes_agree_and_J0_has_the_closed_form():
    model = q.QuineMLP(seed=1)
    F = q.as_function(model, q.probe_input(seed=1))
    theta = q.flatten(model)
    Jf, Jr, Ja = (q.jacobian(F, theta, m) for m in ("forward", "reverse", "autograd"))
    assert torch.allclose(Jf, Jr, atol=1e-12) and torch.allclose(Jf, Ja, atol=1e-12)
    eig = q.spectrum(F, torch.zeros(model.P, dtype=torch.float64))
    assert int((eig.abs() > 1e-12).sum()) <= 20
    block = model.alpha * model.proj[:, -20:].T  # the last bias is the last 20 entries of theta
    assert math.isclose(float(eig.abs().max()), float(torch.linalg.eigvals(block).abs().max()), rel_tol=1e-9)


def test_regeneration_converges_when_contractive():
    res = q.regenerate(lambda t: 0.5 * t + 1.0, torch.zeros(3, dtype=torch.float64), steps=80)
    assert torch.allclose(res.theta, torch.full((3,), 2.0, dtype=torch.float64), atol=1e-12)
    assert len(res.residuals) == res.iterations + 1 and res.residual < 1e-12
    # the error halves each step: the residual history shows the linear rate 0.5
    assert math.isclose(res.residuals[11] / res.residuals[10], 0.5, rel_tol=1e-9)


def test_a_nan_producing_newton_step_stops_with_the_reason():
    # F(theta) = sqrt(theta) is finite at 0.01, but the Newton step overshoots below zero.
    res = q.newton(torch.sqrt, torch.tensor([0.01], dtype=torch.float64))
    assert not res.converged
    assert res.stop_reason.startswith("diverged") and "not finite" in res.stop_reason
    assert torch.isfinite(res.theta).all() and torch.equal(res.theta, res.theta0)
    assert all(math.isfinite(r) for r in res.residuals)


def test_a_diverging_regeneration_stops_with_the_reason():
    res = q.regenerate(lambda t: t * t, torch.tensor([10.0], dtype=torch.float64), steps=50)
    assert res.diverged and "iteration" in res.stop_reason
    assert res.iterations < 50
    assert torch.isfinite(res.theta).all() and all(math.isfinite(r) for r in res.residuals)


def test_a_singular_system_stops_with_the_reason():
    res = q.newton(lambda t: t + 1.0, torch.zeros(4, dtype=torch.float64))
    assert not res.converged and res.stop_reason.startswith("singular")


def test_max_iter_is_reported():
    res = q.newton(lambda t: torch.cos(t) * 3, torch.tensor([0.3], dtype=torch.float64), max_iter=1)
    assert res.iterations == 1 and res.stop_reason == "reached max_iter = 1" and not res.converged


class TinyQuine(torch.nn.Module):
    """A user's own architecture: 2 -> 2 linear, tanh, fixed projection to P = 6."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.lin = torch.nn.Linear(2, 2, dtype=torch.float64)
        self.register_buffer("proj", torch.randn(2, 6, generator=g, dtype=torch.float64))

    def forward(self, z):
        return torch.tanh(self.lin(z)) @ self.proj


def test_newton_takes_any_module_with_inputs():
    net = TinyQuine()
    z = torch.ones(1, 2, dtype=torch.float64)
    res = q.newton(net, inputs=z, max_iter=40)
    assert res.theta.shape == (6,)
    assert res.converged and res.residual < 1e-12
    F = q.as_function(net, z)
    assert (F(res.theta) - res.theta).norm() < 1e-12


@pytest.mark.parametrize("call, match", [
    (lambda m, z, P: q.newton(m), "probe input"),
    (lambda m, z, P: q.newton(m, torch.zeros(P - 3, dtype=torch.float64), inputs=z), "length"),
    (lambda m, z, P: q.newton(m, torch.zeros(P, dtype=torch.float32), inputs=z), "dtype"),
    (lambda m, z, P: q.newton(m, torch.full((P,), float("nan"), dtype=torch.float64), inputs=z), "non-finite"),
    (lambda m, z, P: q.newton(lambda t: t[:-1], torch.zeros(P, dtype=torch.float64)), "shape"),
    (lambda m, z, P: q.newton(lambda t: t), "theta0"),
    (lambda m, z, P: q.newton(42, torch.zeros(3)), "nn.Module or a function"),
    (lambda m, z, P: q.newton(m, inputs=z, max_iter=-1), "max_iter"),
    (lambda m, z, P: q.newton(m, inputs=z, atol=0), "atol"),
    (lambda m, z, P: q.newton(m, inputs=z, jacobian_mode="sideways"), "jacobian_mode"),
    (lambda m, z, P: q.newton(lambda t: t / 0.0, torch.ones(3, dtype=torch.float64)), "not finite"),
    (lambda m, z, P: q.regenerate(m, inputs=z, steps=2.5), "steps"),
])
def test_bad_solver_inputs_get_clear_errors(call, match):
    m = q.QuineMLP(seed=0)
    with pytest.raises(q.QuineInputError, match=match):
        call(m, q.probe_input(seed=0), m.P)


# The training loops and Levenberg-Marquardt on chapter 2's normalised network.
F64 = torch.float64


def seed_blog_loop(model, probe, steps, lr):
    """The blog's loop, literally: copy theta into the module, predict, loss, backward, RMSprop."""
    theta = q.flatten(model).requires_grad_(True)
    opt = torch.optim.RMSprop([theta], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        q.assign_(model, theta.detach())
        pred = model(probe).view(-1)
        loss = torch.norm(pred - theta) ** 2
        loss.backward()
        opt.step()
    return theta.detach()


def test_train_detached_is_the_blogs_loop():
    model, z = q.QuineMLP(seed=3, norm="instance"), q.probe_input(seed=3)
    ours = q.train(model, inputs=z, steps=25, lr=1e-3, detach="prediction")
    theirs = seed_blog_loop(q.QuineMLP(seed=3, norm="instance"), z, 25, 1e-3)
    assert torch.allclose(ours.theta, theirs, atol=1e-12, rtol=0)


def test_true_gradient_lowers_the_loss_and_records_history():
    model, z = q.QuineMLP(seed=1, norm="instance"), q.probe_input(seed=1)
    res = q.train(model, inputs=z, steps=400, lr=1e-3, detach="nothing", record_every=50)
    assert res.residuals[-1] < res.residuals[0]
    assert res.steps == list(range(0, 401, 50))


@pytest.mark.parametrize("detach", ["prediction", "target", "nothing"])
def test_each_detach_takes_its_stated_gradient(detach):
    # One SGD step of size lr moves theta by -lr * gradient; compare with the formula of each choice.
    A = torch.tensor([[0.5, 0.2], [-0.3, 0.1]], dtype=F64)
    F = lambda t: torch.tanh(A @ t) + 0.1  # noqa: E731
    theta = torch.tensor([0.7, -0.4], dtype=F64)
    g = F(theta) - theta
    J = torch.func.jacfwd(F)(theta)
    expected = {"prediction": -2 * g, "target": 2 * J.T @ g, "nothing": 2 * (J - torch.eye(2, dtype=F64)).T @ g}
    res = q.train(F, theta, steps=1, lr=1e-3, optimizer="sgd", detach=detach)
    assert torch.allclose((theta - res.theta) / 1e-3, expected[detach], atol=1e-10)


def test_train_rejects_an_unknown_detach():
    with pytest.raises(q.QuineInputError, match="detach must be one of"):
        q.train(torch.cos, torch.ones(2, dtype=F64), steps=1, detach="detached")


def test_train_detects_divergence():
    res = q.train(lambda t: torch.exp(50 * t), torch.ones(3, dtype=F64), steps=100, lr=0.5)
    assert res.diverged and torch.isfinite(res.theta).all()


def test_levenberg_marquardt_on_a_plain_function():
    # x = cos(x) componentwise, solution ~ 0.739085
    res = q.levenberg_marquardt(torch.cos, torch.full((4,), 3.0, dtype=F64), rtol=1e-14)
    assert res.converged and torch.allclose(res.theta, torch.full((4,), 0.7390851332151607, dtype=F64), atol=1e-12)


def test_levenberg_marquardt_stops_when_its_callback_gives_a_reason():
    seen = []

    def give_up_at_two(k, theta, r):
        seen.append(k)
        return "enough" if k == 2 else None

    res = q.levenberg_marquardt(torch.cos, torch.full((4,), 3.0, dtype=F64), rtol=1e-14, callback=give_up_at_two)
    assert seen == [1, 2] and res.iterations == 2 and not res.converged
    assert res.stop_reason == "stopped at iteration 2: enough"


def test_the_reduced_solver_gives_up_on_starts_heading_for_zero(monkeypatch):
    """The blog's network, seed 0: its first start heads for the zero quine (||theta|| below the floor by
    iteration 6) and is given up there instead of being followed to zero; the second start is a quine."""
    import quinelib.exact as ex
    from quinelib import gallery

    model, inputs, floor = gallery.build("blog", 0)
    reasons = []
    original = ex.levenberg_marquardt

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        reasons.append(out.stop_reason)
        return out

    monkeypatch.setattr(ex, "levenberg_marquardt", spy)
    res = q.solve_exact(model, inputs=inputs, seed=0, min_norm=floor)
    assert res.converged and res.extra["starts"] == 2 and float(res.theta.norm()) >= floor
    assert "fell below the non-triviality floor" in reasons[0] and reasons[1] == "converged", reasons
