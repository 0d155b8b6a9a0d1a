"""The auxiliary quine (chapter 4): its parameters, its two kinds of query, its losses and its trainers."""

import pytest
import torch
from torch.nn import functional as fn

import quinelib as q
from quinelib.aux_quine import AuxQuine, aux_objective, train_aux, train_aux_paper
from quinelib.metrics import relative_sr_loss, self_replication_loss


def tiny_data(n_train=40, n_test=20, side=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"train_images": torch.rand(n_train, side, side, generator=g),
            "train_labels": torch.arange(n_train) % 10,
            "test_images": torch.rand(n_test, side, side, generator=g),
            "test_labels": torch.arange(n_test) % 10}


def small(**kw):
    return AuxQuine(**{"d": 5, "coord_units": 4, "image_units": 3, "hidden": (6,), "n_pixels": 16, "seed": 2, **kw})


def test_theta_covers_every_parameter_exactly_once():
    m = small()
    slots = q.layout(m)
    names = [s.name for s in slots]
    assert names == [n for n, _ in m.named_parameters()]
    assert len(set(names)) == len(names)
    # the slices tile 0..P-1 with no gap and no overlap
    assert slots[0].start == 0 and slots[-1].stop == m.P
    assert all(a.stop == b.start for a, b in zip(slots[:-1], slots[1:]))
    expected = 5 * 4 + 16 * 3 + (4 + 3) * 6 + 6 * 11
    assert m.P == expected == q.num_params(m) == sum(p.numel() for p in m.parameters())
    assert "image_in.weight" in names and "coord_in.weight" in names, "both halves of the split layer are in theta"
    # the index embedding E (model.embed) is a buffer, not a weight
    assert "embed" not in names and m.embed.shape == (m.P, 5)
    # writing theta and reading it back is the identity, and every entry reaches a distinct parameter
    theta = torch.arange(m.P, dtype=torch.float64)
    q.assign_(m, theta)
    assert torch.equal(q.flatten(m), theta)


def test_split_first_layer_silences_the_other_path():
    """A weight query must not depend on the image weights' first layer, nor an image query on coord_in."""
    m = small()
    c = torch.arange(7)
    x = torch.rand(3, 16, dtype=torch.float64)
    w_before = m(c)
    with torch.no_grad():
        m.image_in.weight.add_(1.0)
    assert torch.equal(m(c), w_before)
    logits_before = m.classify(x)
    with torch.no_grad():
        m.coord_in.weight.add_(1.0)
    assert torch.equal(m.classify(x), logits_before)
    # and it equals the explicit computation: concatenate zeros for the silent units
    h = torch.cat([m.act(m.coord_in(m.embed[c])), torch.zeros(7, 3, dtype=torch.float64)], 1)
    explicit = m.head(m.act(m.body[0](h)))[:, 0]
    assert torch.allclose(m(c), explicit, atol=1e-14)
    hx = torch.cat([torch.zeros(3, 4, dtype=torch.float64), m.act(m.image_in(x))], 1)
    assert torch.allclose(m.classify(x), m.head(m.act(m.body[0](hx)))[:, 1:], atol=1e-14)
    assert m.classify(x.view(3, 4, 4)).shape == (3, 10)


def test_lambda_zero_is_exactly_the_pure_replication_loss():
    m = small()
    data = tiny_data()
    theta = q.flatten(m)
    pred = q.as_function(m, (m.coordinates(),))(theta)
    raw = aux_objective(m, theta, data["train_images"], data["train_labels"], 0.0, relative=False).detach()
    rel = aux_objective(m, theta, data["train_images"], data["train_labels"], 0.0, relative=True).detach()
    assert float(raw) == self_replication_loss(pred, theta)
    assert float(rel) == pytest.approx(relative_sr_loss(pred, theta), rel=1e-14)
    # and with lam > 0 the task term is the mean cross-entropy, weighted by lam
    lam = 0.7
    both = aux_objective(m, theta, data["train_images"], data["train_labels"], lam, relative=False)
    ce = fn.cross_entropy(m.classify(data["train_images"]), data["train_labels"])
    assert float(both.detach()) == pytest.approx(float(raw.detach()) + lam * float(ce.detach()), rel=1e-13)


def test_train_aux_records_both_losses_and_improves_both_terms():
    m = small()
    data = tiny_data()
    r = train_aux(m, data, 0.5, max_iter=15)
    ex = r.extra
    for key in ("L_SR", "sum_theta2", "relative_sr_loss", "L_task", "train_accuracy", "test_accuracy"):
        assert len(ex[key]) == len(r.residuals) >= 2, key
    assert ex["relative_sr_loss"][-1] < ex["relative_sr_loss"][0]
    assert ex["L_task"][-1] < ex["L_task"][0]
    # the recorded numbers are the real ones at the returned theta
    F = q.as_function(m, (m.coordinates(),))
    assert ex["relative_sr_loss"][-1] == pytest.approx(relative_sr_loss(F(r.theta), r.theta), rel=1e-9)
    # the model itself is left as it was
    assert torch.equal(q.flatten(m), r.theta0)


def test_baselines_do_what_their_names_say():
    m = small()
    data = tiny_data()
    rep = train_aux(m, data, 0.0, max_iter=10)
    cls = train_aux(m, data, 1.0, replicate=False, max_iter=10)
    assert rep.extra["relative_sr_loss"][-1] < cls.extra["relative_sr_loss"][-1]
    assert cls.extra["train_accuracy"][-1] > rep.extra["train_accuracy"][-1]


def test_paper_style_training_runs_and_records_per_epoch():
    m = small(dtype=torch.float32)
    r = train_aux_paper(m, tiny_data(), 0.01, epochs=3, batch_size=8)
    assert r.iterations == 3 and r.steps == [0, 1, 2, 3]
    assert r.theta.dtype == torch.float32 and torch.isfinite(r.theta).all()


@pytest.mark.parametrize("bad, match", [
    ({"lam": -1.0}, "lam"), ({"lam": float("nan")}, "lam"), ({"max_iter": 0}, "max_iter"),
    ({"lam": 0.0, "replicate": False}, "nothing to train"),
])
def test_train_aux_rejects_bad_arguments(bad, match):
    kw = {"lam": 0.1, **bad}
    with pytest.raises(q.QuineInputError, match=match):
        train_aux(small(), tiny_data(), **kw)


def test_train_aux_rejects_bad_data():
    data = tiny_data()
    with pytest.raises(q.QuineInputError, match="pixels"):
        train_aux(small(n_pixels=20), data, 0.1, max_iter=1)
    bad = dict(data, train_labels=data["train_labels"] + 10)
    with pytest.raises(q.QuineInputError, match="labels"):
        train_aux(small(), bad, 0.1, max_iter=1)
    bad = dict(data, test_images=data["test_images"] * float("nan"))
    with pytest.raises(q.QuineInputError, match="NaN"):
        train_aux(small(), bad, 0.1, max_iter=1)
    with pytest.raises(q.QuineInputError, match="train_images"):
        train_aux(small(), {"test_images": data["test_images"]}, 0.1, max_iter=1)


def test_divergence_stops_with_a_message():
    m = small()
    theta0 = q.flatten(m) * 1e150  # squares overflow float64
    r = train_aux(m, tiny_data(), 0.1, max_iter=3, theta0=theta0, relative=False)
    assert r.diverged and "diverged" in r.stop_reason
    assert torch.isfinite(r.theta).all()


def test_choose_lambda_takes_the_smallest_rho_within_the_accuracy_gap():
    from quinelib.aux_quine import choose_lambda

    def run(acc, rho):
        return q.SolveResult(method="m", theta=torch.zeros(1), theta0=torch.zeros(1),
                             extra={"test_accuracy": [0.1, acc], "relative_residual": [1.0, rho]})

    sweep = {0.01: run(0.95, 0.5), 0.1: run(0.94, 0.2), 1.0: run(0.80, 0.05)}
    assert choose_lambda(sweep, 0.95, 0.02) == 0.1  # 1.0 fits best but is 15 points below
    assert choose_lambda(sweep, 0.95, 0.2) == 1.0
    assert choose_lambda(sweep, 0.99, 0.02) is None
