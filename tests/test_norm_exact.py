"""Chapter 2: parameter-free normalisation, its Jacobian, the training loops, the exact solver, save/load."""

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
    assert res.extra["steps"] == list(range(0, 401, 50))


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


def test_readout_reduction_is_exact():
    model, z = q.QuineMLP(seed=0, norm="instance"), q.probe_input(seed=0)
    F = q.as_function(model, z)
    G, lift, project = q.readout_reduction(F, model.alpha * model.proj)
    u = torch.randn(20, dtype=F64)
    assert torch.allclose(lift(G(u)), F(lift(u)), atol=1e-12)
    assert torch.allclose(project(lift(u)), u, atol=1e-12)


@pytest.mark.parametrize("norm, hidden, batch", [("instance", (20, 20, 20), 1), ("batch", (20, 20, 20), 8),
                                                 ("instance", (16, 24, 20, 20), 1)])
def test_exact_solver_reaches_machine_precision(norm, hidden, batch):
    model = q.QuineMLP(seed=0, norm=norm, hidden=hidden)
    z = q.probe_input(seed=0, batch=batch)
    floor = q.nontrivial_floor(model)
    res = q.solve_exact(model, inputs=z, min_norm=floor)
    F = q.as_function(model, z)
    theta = res.theta
    assert res.converged
    assert (F(theta) - theta).norm() <= 1e-12 * theta.norm()
    assert theta.norm() >= floor
    assert res.relative_residuals[-1] <= 1e-12 and len(res.times) == len(res.residuals)


def test_exact_solver_needs_a_readout():
    with pytest.raises(q.QuineInputError, match="readout"):
        q.solve_exact(torch.nn.Linear(2, 2), inputs=torch.zeros(1, 2), method="reduction")


@pytest.fixture
def saved(tmp_path):
    model, z = q.QuineMLP(seed=0, norm="instance"), q.probe_input(seed=0)
    res = q.solve_exact(model, inputs=z)
    q.assign_(model, res.theta)
    path = tmp_path / "quine.pt"
    q.save_quine(path, model, z)
    return path, model, z


def test_save_load_round_trip_is_exact(saved):
    path, model, z = saved
    payload = torch.load(path, weights_only=True)  # plain tensors and primitives only
    assert payload["format"] == "quinelib.quine/1"
    loaded, z2 = q.load_quine(path)
    theta = q.flatten(loaded)
    assert torch.equal(theta, q.flatten(model)) and torch.equal(z2, z) and torch.equal(loaded.proj, model.proj)
    F = q.as_function(loaded, z2)
    assert (F(theta) - theta).norm() <= 1e-12 * theta.norm()
    assert loaded.architecture() == model.architecture()


def test_truncated_file_gets_a_clear_error(saved, tmp_path):
    path = saved[0]
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(q.QuineFileError, match="truncated or corrupted"):
        q.load_quine(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(q.QuineFileError):
        q.load_quine(junk)


def test_file_for_another_architecture_gets_a_clear_error(saved, tmp_path):
    path, model, _ = saved
    other = q.QuineMLP(seed=0, norm="batch", hidden=(20, 20, 20))
    with pytest.raises(q.QuineFileError, match="another architecture"):
        q.load_quine(path, expect=other.architecture())
    q.load_quine(path, expect=model.architecture())  # the right one loads
    not_quine = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, not_quine)
    with pytest.raises(q.QuineFileError, match="not a quinelib"):
        q.load_quine(not_quine)
    tampered = tmp_path / "tampered.pt"
    payload = torch.load(path, weights_only=True)
    payload["theta"] = payload["theta"][:-5]
    torch.save(payload, tampered)
    with pytest.raises(q.QuineFileError, match="do not fit"):
        q.load_quine(tampered)


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
