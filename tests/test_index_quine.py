"""The queryable-index quine's model and the honest error measures (groundwork for chapter 3)."""

import pytest
import torch

import quinelib as q
from quinelib.index_quine import IndexQuine
from quinelib.metrics import (
    r2_against_zero,
    relative_residual,
    relative_sr_loss,
    report,
    self_replication_loss,
    weight_rms,
)


def test_paper_sizes_give_20100_parameters_and_no_square_one_hot():
    m = IndexQuine()
    assert m.P == 20_100 == q.num_params(m)
    assert m.embed.shape == (20_100, 100), "the embedding is stored as P x d rows, never P x P"
    assert all(b.numel() <= 20_100 * 100 for b in m.buffers())
    assert all(layer.bias is None for layer in m.layers)


def test_F_over_all_coordinates_equals_the_per_coordinate_forward():
    m = IndexQuine(d=8, hidden=(6, 5), seed=1)
    F = q.as_function(m, (m.coordinates(),))
    theta = q.flatten(m)
    all_at_once = F(theta)
    one_by_one = torch.stack([m(torch.tensor([c]))[0] for c in range(m.P)])
    assert all_at_once.shape == (m.P,)
    assert torch.allclose(all_at_once, one_by_one, atol=1e-12)


def test_metrics_on_hand_made_cases():
    theta = torch.tensor([3.0, -4.0], dtype=torch.float64)
    zero = torch.zeros(2, dtype=torch.float64)
    assert self_replication_loss(zero, theta) == 25.0
    assert relative_sr_loss(zero, theta) == 1.0 and r2_against_zero(zero, theta) == 0.0, "predicting zero scores 1"
    assert relative_sr_loss(theta, theta) == 0.0 and r2_against_zero(theta, theta) == 1.0
    assert relative_sr_loss(theta / 2, theta) == pytest.approx(0.25)
    assert relative_residual(theta / 2, theta) == pytest.approx(0.5), "rho is the square root of rho^2"
    assert relative_residual(zero, theta) == 1.0
    assert weight_rms(theta) == pytest.approx((12.5) ** 0.5)
    # shrinking the weights lowers L_SR but not the relative SR loss of the zero prediction
    assert self_replication_loss(zero, theta / 10) < self_replication_loss(zero, theta)
    assert relative_sr_loss(zero, theta / 10) == 1.0
    assert set(report(zero, theta)) == {"L_SR", "sum_theta2", "relative_residual", "relative_sr_loss", "r2_against_zero", "weight_rms"}


def test_zero_network_scores_relative_sr_loss_one():
    m = IndexQuine(d=8, hidden=(6, 5))
    F = q.as_function(m, (m.coordinates(),))
    theta = q.flatten(m)
    with torch.no_grad():
        for p in m.layers[-1].parameters():
            p.zero_()
    theta = q.flatten(m)
    assert relative_sr_loss(F(theta), theta) == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, match", [(dict(d=0), "d"), (dict(hidden=(100, -1)), "hidden"),
                                           (dict(activation="sigmoidish"), "activation"),
                                           (dict(dtype=torch.int32), "dtype")])
def test_bad_sizes_get_clear_errors(kwargs, match):
    with pytest.raises(q.QuineInputError, match=match):
        IndexQuine(**kwargs)


def test_bad_coordinates_and_values_get_clear_errors():
    m = IndexQuine(d=4, hidden=(3,))
    with pytest.raises(q.QuineInputError, match="integer"):
        m(torch.tensor([0.5]))
    with pytest.raises(q.QuineInputError, match="0.."):
        m(torch.tensor([m.P]))
    with pytest.raises(q.QuineInputError, match="NaN or inf"):
        relative_sr_loss(torch.tensor([float("nan")]), torch.tensor([1.0]))
    with pytest.raises(q.QuineInputError, match="shape"):
        relative_sr_loss(torch.zeros(2), torch.zeros(3))


def test_regeneration_is_exactly_theta_gets_F_theta():
    m = IndexQuine(d=6, hidden=(5, 4), seed=2)
    F = q.as_function(m, (m.coordinates(),))
    theta = 0.3 * q.flatten(m)
    res = q.regenerate(F, theta, steps=1)
    assert torch.equal(res.theta, F(theta))


def test_paper_training_uses_detached_targets_and_records_epochs():
    from quinelib.index_quine import train_paper

    m = IndexQuine(d=8, hidden=(6, 6), seed=0)
    res = train_paper(m, epochs=3, optimizer="sgd", lr=1e-2, batch_size=m.P)  # one full batch per epoch
    assert res.steps == [0, 1, 2, 3] and len(res.extra["relative_sr_loss"]) == 4
    # one full-batch step by hand: the target theta is a constant, so only f's dependence is differentiated
    theta = q.flatten(m).requires_grad_(True)
    F = q.as_function(m, (m.coordinates(),))
    loss = ((F(theta) - theta.detach()) ** 2).sum()
    (grad,) = torch.autograd.grad(loss, theta)
    step1 = train_paper(m, epochs=1, optimizer="sgd", lr=1e-2, batch_size=m.P)
    assert torch.allclose(step1.theta, q.flatten(m) - 1e-2 * grad, atol=1e-12)


def test_regeneration_every_epoch_is_applied():
    from quinelib.index_quine import train_paper

    m = IndexQuine(d=8, hidden=(6, 6), seed=0)
    res = train_paper(m, epochs=2, optimizer="adam", lr=1e-3, batch_size=16, regenerate_every=1,
                      theta0=0.3 * q.flatten(m))
    F = q.as_function(m, (m.coordinates(),))
    # after a regeneration the recorded L_SR is that of theta = F(previous theta): finite, recorded per epoch
    assert len(res.extra["L_SR"]) == 3 and all(v >= 0 for v in res.extra["L_SR"])
    assert res.theta.shape == (m.P,) and torch.isfinite(F(res.theta)).all()


def test_best_method_beats_the_paper_style_run_on_a_small_network():
    from quinelib.index_quine import train_lbfgs, train_paper

    m = IndexQuine(d=10, hidden=(10, 10), seed=0, dtype=torch.float32)
    paper = train_paper(m, epochs=20, optimizer="adamax", lr=1e-3, batch_size=32)
    ours = train_lbfgs(m, max_iter=60)
    assert ours.extra["relative_sr_loss"][-1] <= paper.extra["relative_sr_loss"][-1] / 10
    assert ours.extra["relative_sr_loss"][-1] < 0.05
    F = q.as_function(m, (m.coordinates(),))
    assert relative_sr_loss(F(ours.theta).detach(), ours.theta) == pytest.approx(ours.extra["relative_sr_loss"][-1],
                                                                               rel=1e-4)


def test_trainers_reject_bad_arguments():
    from quinelib.index_quine import train_paper

    m = IndexQuine(d=4, hidden=(3,))
    with pytest.raises(q.QuineInputError, match="optimizer"):
        train_paper(m, optimizer="newtonish")
    with pytest.raises(q.QuineInputError, match="epochs"):
        train_paper(m, epochs=0)
    with pytest.raises(q.QuineInputError, match="regenerate_every"):
        train_paper(m, regenerate_every=0)


def test_paper_training_takes_any_torch_optimiser():
    from quinelib.index_quine import train_paper

    m = IndexQuine(d=6, hidden=(5, 5), seed=0)
    res = train_paper(m, epochs=2, optimizer=torch.optim.NAdam, lr=1e-3, batch_size=16)
    assert "NAdam" in res.method and res.iterations == 2


def test_lbfgs_on_the_raw_loss_falls_into_the_shrinkage_trap():
    from quinelib.index_quine import train_lbfgs

    m = IndexQuine(d=8, hidden=(8, 8), seed=0)
    raw = train_lbfgs(m, max_iter=30, objective="self_replication_loss")
    ours = train_lbfgs(m, max_iter=30)
    assert "raw L_SR" in raw.method and "relative SR loss" in ours.method
    # the raw objective is lowered by shrinking theta: L-BFGS drives the weights (and L_SR) to zero
    assert raw.extra["sum_theta2"][-1] <= 1e-6 * raw.extra["sum_theta2"][0]
    assert raw.extra["L_SR"][-1] <= 1e-6 * raw.extra["L_SR"][0]
    # the relative objective keeps the weights and lowers rho^2
    assert ours.extra["sum_theta2"][-1] >= 0.1 * ours.extra["sum_theta2"][0]
    assert ours.extra["relative_sr_loss"][-1] < ours.extra["relative_sr_loss"][0]
    with pytest.raises(q.QuineInputError, match="objective"):
        train_lbfgs(m, objective="rho")


@pytest.mark.parametrize("activation, exact", [("relu", True), ("selu", False)])
def test_bias_free_relu_network_is_homogeneous_of_degree_L(activation, exact):
    # F(s theta) = s^L F(theta) and (Euler) J(theta) theta = L F(theta), L = number of weight layers
    m = IndexQuine(d=6, hidden=(5, 4), activation=activation, seed=3)
    F = q.as_function(m, (m.coordinates(),))
    theta, L = q.flatten(m), len(m.layers)
    _, j_theta = torch.func.jvp(F, (theta,), (theta,))
    euler = float((j_theta - L * F(theta)).norm() / (L * F(theta)).norm())
    scaled = float((F(2.5 * theta) - 2.5**L * F(theta)).norm() / (2.5**L * F(theta)).norm())
    if exact:
        assert euler < 1e-12 and scaled < 1e-12
    else:
        assert euler > 1e-3 and scaled > 1e-3, "SELU is not positively homogeneous"
