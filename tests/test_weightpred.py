"""Weight prediction groundwork (chapter 5): the generator, the predictors, the functional loss, alignment."""

import pytest
import torch

from quinelib.checks import QuineInputError
from quinelib.metrics import r2_against_mean
from quinelib.weightpred import (
    AttentionPool,
    DeepSets,
    FlatMLP,
    MLPSpec,
    PlainMLP,
    ResLinear,
    XLinear,
    align_hidden,
    flatten_mlps,
    functional_loss,
    mlp_forward,
    permute_hidden,
    random_mlps,
    unflatten_mlps,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("spec, unknowns", [(MLPSpec(2, 5, 1), 15), (MLPSpec(4, 10, 1), 50),
                                            (MLPSpec(3, 4, 2, bias=True), 12 + 4 + 8 + 2)])
def test_generator_shapes_and_unknowns(spec, unknowns):
    w = random_mlps(spec, 7, generator=gen())
    assert spec.unknowns == unknowns
    assert list(w) == list(spec.shapes)
    for name, shape in spec.shapes.items():
        assert w[name].shape == (7, *shape)
    flat = flatten_mlps(w)
    assert flat.shape == (7, unknowns)
    back = unflatten_mlps(spec, flat)
    assert all(torch.equal(back[k], w[k]) for k in w)


def test_lecun_initialisation_statistics():
    spec = MLPSpec(4, 10, 1)
    w = random_mlps(spec, 20_000, generator=gen(1))
    assert float(w["W1"].var()) == pytest.approx(1 / 4, rel=0.02)
    assert float(w["W2"].var()) == pytest.approx(1 / 10, rel=0.03)
    assert abs(float(w["W1"].mean())) < 0.01
    # fresh samples every call
    assert not torch.equal(random_mlps(spec, 3)["W1"], random_mlps(spec, 3)["W1"])


def test_batched_forward_matches_a_loop():
    spec = MLPSpec(3, 4, 2, bias=True)
    w = random_mlps(spec, 5, generator=gen(2), dtype=torch.float64)
    x = torch.randn(5, 6, 3, generator=gen(3), dtype=torch.float64)
    y = mlp_forward(w, x)
    for b in range(5):
        ref = torch.relu(x[b] @ w["W1"][b] + w["b1"][b]) @ w["W2"][b] + w["b2"][b]
        assert torch.allclose(y[b], ref, atol=1e-12)


def test_permuted_networks_compute_the_same_function():
    spec = MLPSpec(2, 5, 1, bias=True)
    w = random_mlps(spec, 4, generator=gen(4), dtype=torch.float64)
    x = torch.randn(4, 100, 2, generator=gen(5), dtype=torch.float64)
    perm = torch.tensor([3, 0, 4, 1, 2])
    w2 = permute_hidden(w, perm)
    assert not torch.equal(flatten_mlps(w2), flatten_mlps(w)), "the weights differ"
    assert torch.allclose(mlp_forward(w2, x), mlp_forward(w, x), atol=1e-13), "the function does not"
    assert functional_loss(spec, flatten_mlps(w2), w, x) < 1e-26
    perms = torch.stack([torch.randperm(5, generator=gen(30 + b)) for b in range(4)])  # one per network
    batched = permute_hidden(w, perms)
    for b in range(4):
        one = permute_hidden({k: v[b:b + 1] for k, v in w.items()}, perms[b])
        assert all(torch.equal(batched[k][b], one[k][0]) for k in w)
        assert torch.equal(batched["W1"][b], w["W1"][b][:, perms[b]])
    with pytest.raises(QuineInputError, match="perm"):
        permute_hidden(w, perms[:3])


def test_functional_loss_is_zero_for_the_true_weights_and_positive_otherwise():
    spec = MLPSpec(2, 5, 1)
    w = random_mlps(spec, 8, generator=gen(6))
    x = torch.randn(8, 50, 2, generator=gen(7))
    assert float(functional_loss(spec, flatten_mlps(w), w, x)) == 0.0
    assert float(functional_loss(spec, flatten_mlps(w) + 0.1, w, x)) > 0


def test_r_squared_on_hand_made_cases():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert r2_against_mean(y, y) == 1.0
    assert r2_against_mean(torch.full_like(y, 2.5), y) == pytest.approx(0.0)
    assert r2_against_mean(y + 1, y) == pytest.approx(1 - 1 / 1.25)
    with pytest.raises(QuineInputError):
        r2_against_mean(torch.ones(3), torch.ones(3))
    with pytest.raises(QuineInputError):
        r2_against_mean(torch.ones(3), torch.ones(4))


def test_alignment_recovers_a_known_permutation_exactly():
    spec = MLPSpec(3, 6, 2, bias=True)
    true = random_mlps(spec, 5, generator=gen(8), dtype=torch.float64)
    perms = torch.stack([torch.randperm(6, generator=gen(10 + b)) for b in range(5)])
    shuffled = permute_hidden(true, perms)  # one permutation per network
    noisy = {k: v + 0.01 * torch.randn(v.shape, generator=gen(20), dtype=v.dtype) for k, v in shuffled.items()}
    realigned = permute_hidden(shuffled, align_hidden(noisy, true))
    for b in range(5):
        assert all(torch.equal(realigned[k][b], true[k][b]) for k in true), f"network {b} not realigned"


@pytest.mark.parametrize("make", [
    lambda d, u: DeepSets(d, u, width=16, hidden=32),
    lambda d, u: AttentionPool(d, u, width=16, hidden=32, seeds=2, heads=2),
    lambda d, u: AttentionPool(d, u, width=16, hidden=32, seeds=2, heads=2, self_attention=1),
], ids=["deepsets", "attention", "attention+self-attention"])
def test_set_encoders_ignore_the_order_of_the_pairs(make):
    torch.manual_seed(0)
    model = make(3, 15).eval()
    pairs = torch.randn(4, 20, 3, generator=gen(11))
    shuffled = pairs[:, torch.randperm(20, generator=gen(12))]
    with torch.no_grad():
        a, b = model(pairs), model(shuffled)
    assert a.shape == (4, 15)
    assert torch.allclose(a, b, atol=1e-6), float((a - b).abs().max())
    # and they accept another number of pairs
    assert model(torch.randn(2, 33, 3)).shape == (2, 15)


def test_the_flat_mlp_is_not_order_invariant_and_checks_its_input():
    torch.manual_seed(0)
    model = FlatMLP(3, 20, 15, width=32)
    pairs = torch.randn(4, 20, 3, generator=gen(13))
    shuffled = pairs[:, torch.randperm(20, generator=gen(14))]
    with torch.no_grad():
        assert not torch.allclose(model(pairs), model(shuffled), atol=1e-6)
    with pytest.raises(QuineInputError, match="20 pairs"):
        model(torch.randn(4, 21, 3))
    with pytest.raises(QuineInputError, match="pairs must have shape"):
        DeepSets(3, 15)(torch.randn(4, 20, 2))


@pytest.mark.parametrize("cls", [PlainMLP, XLinear, ResLinear])
def test_forward_predictors_map_inputs_and_weights_to_outputs(cls):
    model = cls(2, 15, 1, width=16, depth=4)
    assert model(torch.randn(7, 2), torch.randn(7, 15)).shape == (7, 1)


def test_bad_shapes_get_clear_errors():
    spec = MLPSpec(2, 5, 1)
    w = random_mlps(spec, 3)
    with pytest.raises(QuineInputError, match="x must have shape"):
        mlp_forward(w, torch.randn(3, 10, 4))
    with pytest.raises(QuineInputError, match="flat weights"):
        unflatten_mlps(spec, torch.randn(3, 14))
    with pytest.raises(QuineInputError):
        MLPSpec(0, 5, 1)


def test_train_inverse_records_history_and_learns():
    from quinelib.weightpred import evaluate_inverse, train_inverse

    spec = MLPSpec(2, 3, 1)
    torch.manual_seed(0)
    model = DeepSets(3, spec.unknowns, width=32, hidden=64)
    before = evaluate_inverse(model, spec, 12, functions=256)["r2"]
    rec = train_inverse(model, spec, (8, 16), steps=150, batch=64, seed=1)
    assert rec.iterations == 150 and len(rec.losses) == 150 and rec.functions == 150 * 64 and not rec.diverged
    after = evaluate_inverse(model, spec, 12, functions=256)["r2"]
    assert after > before + 0.2, (before, after)
    # the same seed gives the same numbers
    torch.manual_seed(0)
    again = train_inverse(DeepSets(3, spec.unknowns, width=32, hidden=64), spec, (8, 16), steps=150, batch=64, seed=1)
    assert again.losses == rec.losses


def test_train_inverse_rejects_bad_arguments_and_stops_on_divergence():
    from quinelib.weightpred import train_inverse

    spec = MLPSpec(2, 3, 1)
    model = DeepSets(3, spec.unknowns, width=8, hidden=8)
    with pytest.raises(QuineInputError, match="loss"):
        train_inverse(model, spec, 5, steps=1, loss="l1")
    with pytest.raises(QuineInputError, match="steps"):
        train_inverse(model, spec, 5, steps=0)
    with pytest.raises(QuineInputError, match="lo <= hi"):
        train_inverse(model, spec, (9, 4), steps=1)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    rec = train_inverse(model, spec, 5, steps=3)
    assert rec.diverged and "diverged" in rec.stop_reason and rec.iterations == 0


def test_random_symmetries_keep_the_function_and_masks_remove_units():
    from quinelib.weightpred import mask_hidden, random_symmetry

    spec = MLPSpec(3, 6, 2, bias=True)
    w = random_mlps(spec, 8, generator=gen(30), dtype=torch.float64)
    x = torch.randn(8, 40, 3, generator=gen(31), dtype=torch.float64)
    sym = random_symmetry(spec, w, gen(32))
    assert not torch.allclose(flatten_mlps(sym), flatten_mlps(w))
    assert torch.allclose(mlp_forward(sym, x), mlp_forward(w, x), atol=1e-12)
    masked, onehot = mask_hidden(spec, w, (2, 4), gen(33))
    used = onehot.argmax(1) + 1
    for b in range(8):
        assert torch.all(masked["W1"][b, :, used[b]:] == 0) and torch.all(masked["W2"][b, used[b]:] == 0)
        assert 2 <= int(used[b]) <= 4


def test_lm_polish_fits_the_pairs_from_a_nearby_start():
    from quinelib.weightpred import make_pairs, refine_lm

    spec = MLPSpec(2, 4, 1)
    w, pairs = make_pairs(spec, 16, 30, generator=gen(40))
    start = flatten_mlps(w) + 0.05 * torch.randn(16, spec.unknowns, generator=gen(41))
    polished = refine_lm(spec, start, pairs, iterations=20)

    def fit(flat):
        return float(((mlp_forward(unflatten_mlps(spec, flat), pairs[:, :, :2]) - pairs[:, :, 2:]) ** 2).mean())

    assert fit(polished) < 1e-3 * fit(start)
    with pytest.raises(QuineInputError):
        refine_lm(spec, start[:, :-1], pairs)


def test_conditioning_input_is_checked():
    model = AttentionPool(3, 15, width=16, hidden=16, seeds=2, heads=2, cond=5)
    assert model(torch.randn(2, 7, 3), torch.zeros(2, 5)).shape == (2, 15)
    with pytest.raises(QuineInputError, match="cond"):
        model(torch.randn(2, 7, 3))
    with pytest.raises(QuineInputError, match="without a conditioning"):
        DeepSets(3, 15, width=8, hidden=8)(torch.randn(2, 7, 3), torch.zeros(2, 5))


def test_lm_polish_survives_a_singular_system():
    """A dead hidden unit (its incoming weights zero) gives zero columns in the Jacobian; with no damping the
    normal equations are singular. The polish must reject that step for that network only and go on."""
    from quinelib.weightpred import make_pairs, refine_lm

    spec = MLPSpec(2, 4, 1)
    w, pairs = make_pairs(spec, 6, 30, generator=gen(42))
    start = flatten_mlps(w) + 0.05 * torch.randn(6, spec.unknowns, generator=gen(43))
    dead = unflatten_mlps(spec, start)
    dead["W1"][0, :, 1] = 0.0  # network 0: hidden unit 1 never fires
    start = flatten_mlps(dead)
    with pytest.raises(torch.linalg.LinAlgError):  # the plain solve fails on this system
        from torch.func import jacfwd

        def residual(flat):
            return (mlp_forward(unflatten_mlps(spec, flat[None]), pairs[:1, :, :2]) - pairs[:1, :, 2:]).reshape(-1)

        J = jacfwd(residual)(start[0])
        torch.linalg.solve(J.T @ J, J.T @ residual(start[0]))
    polished = refine_lm(spec, start, pairs, iterations=20, damping=0.0)

    def fit(flat):
        return ((mlp_forward(unflatten_mlps(spec, flat), pairs[:, :, :2]) - pairs[:, :, 2:]) ** 2).mean(dim=(1, 2))

    assert torch.isfinite(polished).all()
    assert torch.all(fit(polished) <= fit(start))
    assert torch.all(fit(polished)[1:] < 1e-3 * fit(start)[1:])  # the healthy networks are polished as before


# ----------------------------------------------------------------------------------------- issue 20's additions
from quinelib import weightpred as wp  # noqa: E402


@pytest.mark.parametrize("pooling", sorted(wp.POOLINGS))
def test_deep_sets_poolings_are_order_invariant_and_sized(pooling):
    torch.manual_seed(0)
    m = DeepSets(3, 15, width=16, hidden=32, pooling=pooling)
    pairs = torch.randn(4, 9, 3)
    shuffled = pairs[:, torch.randperm(9)]
    assert torch.allclose(m(pairs), m(shuffled), atol=1e-5)
    assert m.pooled_width == 16 * wp.POOLINGS[pooling]
    with pytest.raises(QuineInputError, match="pooling"):
        DeepSets(3, 15, pooling="median")


def test_linear_spec_and_least_squares_recover_the_weights():
    spec = MLPSpec(6, 0, 1)
    assert spec.linear and spec.unknowns == 6 and spec.shapes == {"W": (6, 1)}
    w, pairs = wp.make_pairs(spec, 16, 10, generator=gen(5))
    W = wp.least_squares_weights(spec, pairs)
    assert torch.allclose(W, flatten_mlps(w), atol=1e-5)
    _, few = wp.make_pairs(spec, 16, 3, generator=gen(6), weights=w)
    W_few = wp.least_squares_weights(spec, few)
    x, y = few[..., :6], few[..., 6:]
    assert torch.allclose(mlp_forward(unflatten_mlps(spec, W_few), x), y, atol=1e-5)  # fits the pairs exactly
    with pytest.raises(QuineInputError):
        wp.least_squares_weights(MLPSpec(2, 5, 1), pairs)


def test_canonicalise_keeps_the_function_and_removes_rescaling():
    spec = MLPSpec(2, 5, 1)
    w = random_mlps(spec, 4, generator=gen(7), dtype=torch.float64)
    s = torch.exp(torch.randn(4, 5, generator=gen(8), dtype=torch.float64))
    scaled = {"W1": w["W1"] * s[:, None, :], "W2": w["W2"] / s[:, :, None]}
    c1, c2 = wp.canonicalise(w), wp.canonicalise(scaled)
    x = torch.randn(4, 30, 2, generator=gen(9), dtype=torch.float64)
    assert torch.allclose(mlp_forward(c1, x), mlp_forward(w, x))
    assert torch.allclose(flatten_mlps(c1), flatten_mlps(c2))
    assert torch.allclose(c1["W1"].norm(dim=1), torch.ones(4, 5, dtype=torch.float64))


def test_solver_alone_keeps_the_best_of_its_starts_on_the_pairs():
    spec = MLPSpec(2, 3, 1)
    w, pairs = wp.make_pairs(spec, 32, 20, generator=gen(10))
    x, y = pairs[..., :2], pairs[..., 2:]

    def residual(flat):
        return ((mlp_forward(unflatten_mlps(spec, flat), x) - y) ** 2).sum((1, 2))

    one = wp.lm_from_random(spec, pairs, starts=1, iterations=20, generator=gen(11))
    four = wp.lm_from_random(spec, pairs, starts=4, iterations=20, generator=gen(11))
    assert one.shape == four.shape == (32, spec.unknowns)
    # the same four starts by hand: the chosen fit is each network's smallest residual among them
    starts = flatten_mlps(random_mlps(spec, 32 * 4, generator=gen(11)))
    reps = pairs.repeat_interleave(4, dim=0)
    fitted = wp.refine_lm(spec, starts, reps, iterations=20)
    by_hand = ((mlp_forward(unflatten_mlps(spec, fitted), reps[..., :2]) - reps[..., 2:]) ** 2).sum((1, 2))
    assert torch.allclose(residual(four), by_hand.reshape(32, 4).min(dim=1).values, rtol=1e-4, atol=1e-9)
    assert float(residual(four).median()) <= float(residual(one).median())
    assert float(residual(four).median()) < 1e-3


def test_compare_starts_reports_every_start_with_its_summary():
    spec = MLPSpec(2, 3, 1)
    torch.manual_seed(0)
    model = DeepSets(3, spec.unknowns, width=16, hidden=32)
    rows = wp.compare_starts(model, spec, 12, functions=16, inputs=32, starts=2, iterations=5)
    assert list(rows) == ["predictor alone", "LM from a random start", "LM, best of 2 random starts", "predictor + LM"]
    for r in rows.values():
        assert {"r2", "r2_median", "r2_p5", "fail_share", "seconds_per_network"} <= set(r)
        assert r["seconds_per_network"] > 0
    assert rows["predictor + LM"]["r2"] > rows["predictor alone"]["r2"]
    hopped = wp.compare_starts(model, spec, 12, functions=16, inputs=32, starts=2, iterations=5, hops=1)
    assert list(hopped)[4:] == ["predictor + LM, 1 hop", "LM from a random start, 1 hop"]
    assert hopped["predictor + LM, 1 hop"]["seconds_per_network"] > hopped["predictor + LM"]["seconds_per_network"]


def test_pooling_ablation_trains_every_variant_at_one_budget():
    spec = MLPSpec(2, 3, 1)
    variants = wp.ABLATION[:1] + wp.ABLATION[2:3]
    rows = wp.pooling_ablation(spec, steps=3, batch=8, hidden=16, functions=16, variants=variants)
    assert [r["label"] for r in rows] == [v[0] for v in variants]
    assert all(r["record"].iterations == 3 for r in rows)
    assert rows[0]["parameters"] == rows[1]["parameters"]  # mean and max pooling: the same network


def test_weight_space_optimum_is_the_mean_unit_and_exact_training_loss_runs():
    spec = MLPSpec(2, 5, 1)
    w = random_mlps(spec, 3, generator=gen(12))
    opt = wp.weight_space_optimum(w)
    assert wp.unit_spread(opt) < 1e-10 < wp.unit_spread(w)
    inflate = torch.exp(torch.tensor(wp.RESCALE_TAU**2 / 2))
    assert torch.allclose(opt["W1"][:, :, 0], w["W1"].mean(2) * inflate)
    torch.manual_seed(0)
    m = DeepSets(3, 15, width=16, hidden=32)
    rec = wp.train_inverse(m, spec, 10, steps=3, batch=8, loss="exact")
    assert rec.iterations == 3 and all(torch.isfinite(torch.tensor(rec.losses)))
    with pytest.raises(QuineInputError, match="bias-free"):
        wp.train_inverse(m, MLPSpec(2, 5, 1, bias=True), 10, steps=1, loss="exact")


def test_architecture_only_reads_the_architecture_and_never_the_pairs():
    from quinelib.weightpred import ArchitectureOnly

    model = ArchitectureOnly(5, 15)
    cond = torch.eye(5)[[0, 3]]
    a = model(torch.randn(2, 20, 3, generator=gen(1)), cond)
    b = model(None, cond)
    assert a.shape == (2, 15) and torch.equal(a, b)
    with pytest.raises(QuineInputError, match="cond must have shape"):
        model(None, torch.eye(4))


def test_probe_pairs_share_their_inputs_and_the_probe_predictor_reads_only_outputs():
    from quinelib.weightpred import ProbePredictor, make_pairs, probe_inputs

    spec = MLPSpec(2, 5, 1)
    probe = probe_inputs(spec, 20)
    assert torch.equal(probe, probe_inputs(spec, 20)), "the probe batch is fixed by its seed"
    w, pairs = make_pairs(spec, 4, 20, generator=gen(2), probe=probe)
    assert all(torch.equal(pairs[j, :, :2], probe) for j in range(4))
    torch.testing.assert_close(pairs[..., 2:], mlp_forward(w, probe.expand(4, -1, -1)))
    with pytest.raises(QuineInputError, match="probe must have shape"):
        make_pairs(spec, 4, 10, generator=gen(2), probe=probe)
    moments = ProbePredictor(2, 1, 20, 15, features="moments")
    f = moments.featurise(pairs)
    torch.testing.assert_close(f, torch.stack([pairs[..., 2].mean(1), pairs[..., 2].std(1, unbiased=False)], 1))
    outputs = ProbePredictor(2, 1, 20, 15, features="outputs")
    assert outputs(pairs).shape == (4, 15) and outputs.featurise(pairs).shape == (4, 20)
    changed = pairs.clone()
    changed[..., :2] += 1.0  # the inputs are not read: the probe is known
    assert torch.equal(outputs(changed), outputs(pairs))
    with pytest.raises(QuineInputError, match="probe batch of 20"):
        outputs(pairs[:, :10])
    with pytest.raises(QuineInputError, match="features must be one of"):
        ProbePredictor(2, 1, 20, 15, features="median")
    with pytest.raises(QuineInputError, match="fixed number of pairs"):
        from quinelib.weightpred import train_inverse

        train_inverse(outputs, spec, (10, 20), steps=1, probe=probe)


def test_relative_and_aligned_weight_errors():
    from quinelib.weightpred import aligned_weight_error, canonicalise, relative_weight_error

    spec = MLPSpec(2, 5, 1)
    w = random_mlps(spec, 6, generator=gen(3))
    zero = {k: torch.zeros_like(v) for k, v in w.items()}
    assert relative_weight_error(w, w) == 0.0
    assert relative_weight_error(zero, w) == pytest.approx(1.0)
    perm = torch.stack([torch.randperm(5, generator=gen(j)) for j in range(6)])
    copy = permute_hidden(w, perm)
    scale = torch.exp(torch.randn(6, 5, generator=gen(4)))
    copy["W1"], copy["W2"] = copy["W1"] * scale[:, None, :], copy["W2"] / scale[:, :, None]
    assert relative_weight_error(copy, w) > 0.1
    assert aligned_weight_error(copy, w) < 1e-10
    per = aligned_weight_error(copy, w, per_network=True)
    assert per.shape == (6,) and float(per.max()) < 1e-10
    assert aligned_weight_error(copy, w, canonical=False) > 1e-3, "without canonicalising, the scales remain"
    assert aligned_weight_error(canonicalise(copy), canonicalise(w), canonical=False) < 1e-10
    with pytest.raises(QuineInputError, match="differ in shape"):
        relative_weight_error(random_mlps(MLPSpec(2, 4, 1), 6), w)


def test_width_generalisation_scores_every_width_for_both_models():
    from quinelib.weightpred import width_generalisation

    spec = MLPSpec(2, 4, 1)
    out = width_generalisation(spec, train_range=(1, 2), steps=3, batch=16, hidden=16, functions=32, refine=2)
    assert out["widths"] == [1, 2, 3, 4]
    for name in ("trained", "control"):
        assert len(out[name]) == 4 and all("r2" in r and "r2_refined" in r for r in out[name])
        assert out["records"][name].iterations == 3
    with pytest.raises(QuineInputError, match="train_range"):
        width_generalisation(spec, train_range=(0, 2), steps=1)


def test_the_probe_comparison_runs_every_predictor_with_its_polish():
    from quinelib.weightpred import PROBE_COMPARISON, pooling_ablation

    spec = MLPSpec(2, 3, 1)
    rows = pooling_ablation(spec, steps=2, n_pairs=12, eval_pairs=12, batch=8, hidden=16, functions=16,
                            variants=PROBE_COMPARISON, refine=2)
    assert [r["label"] for r in rows] == [v[0] for v in PROBE_COMPARISON]
    assert [r["pooled_width"] for r in rows] == [128, 128, 12, 2]
    assert all(r["r2_refined"] <= 1 and r["record"].iterations == 2 for r in rows)


def test_pair_residual_is_zero_for_the_true_network_and_one_for_zero_weights():
    spec = MLPSpec(2, 4, 1)
    w, pairs = wp.make_pairs(spec, 8, 20, generator=gen(60))
    assert float(wp.pair_residual(spec, flatten_mlps(w), pairs).max()) < 1e-6
    zero = torch.zeros(8, spec.unknowns)
    assert torch.allclose(wp.pair_residual(spec, zero, pairs), torch.ones(8))
    nan = zero.clone()
    nan[0, 0] = float("nan")
    assert wp.pair_residual(spec, nan, pairs)[0] == float("inf")  # never chosen as the best fit


def test_basin_hopping_never_worsens_a_fit_and_escapes_where_plain_lm_stops():
    """The hops keep a refit only when it is better on the pairs, so every network's residual is at most plain
    LM's (same start, same iterations); from far starts, where plain LM stops in the wrong piece of the ReLU
    landscape, hopping fits more networks exactly."""
    spec = MLPSpec(2, 5, 1)
    w, pairs = wp.make_pairs(spec, 64, 20, generator=gen(61))
    start = flatten_mlps(wp.random_mlps(spec, 64, generator=gen(62)))
    plain = wp.pair_residual(spec, wp.refine_lm(spec, start, pairs, iterations=20), pairs)
    out = wp.basin_hopping(spec, start, pairs, rounds=6, iterations=20, generator=gen(63))
    assert out["weights"].shape == (64, spec.unknowns) and len(out["history"]) == 7 and len(out["accepted"]) == 6
    assert torch.all(out["residual"] <= plain + 1e-7)
    assert torch.allclose(out["residual"], wp.pair_residual(spec, out["weights"], pairs))
    assert all(a >= b for a, b in zip(out["history"], out["history"][1:])), "the median residual cannot rise"
    solved_plain, solved_hop = float((plain < 1e-4).double().mean()), float((out["residual"] < 1e-4).double().mean())
    assert solved_hop > solved_plain, (solved_plain, solved_hop)
    again = wp.basin_hopping(spec, start, pairs, rounds=6, iterations=20, generator=gen(63))
    assert torch.equal(again["weights"], out["weights"]), "seeded hops are deterministic"
    for bad in ({"rounds": -1}, {"rounds": 1.5}, {"jitter": 0.0}, {"jitter": float("nan")},
                {"temperature": -0.1}, {"temperature": float("inf")}, {"temperature": True}):
        with pytest.raises(QuineInputError):
            wp.basin_hopping(spec, start, pairs, **bad)


def test_basin_hopping_metropolis_rule_moves_the_chain_but_returns_the_best_fit():
    """Greedy hops (temperature 0) move a chain only to a better fit; at a huge temperature every finite refit is
    accepted, and the returned fit is still the best one seen (never worse than the start's polish).
    refine=False takes the start as already fitted: no LM before the first hop."""
    spec = MLPSpec(2, 5, 1)
    w, pairs = wp.make_pairs(spec, 64, 20, generator=gen(61))
    start = wp.refine_lm(spec, flatten_mlps(wp.random_mlps(spec, 64, generator=gen(62))), pairs, iterations=20)
    polished = wp.pair_residual(spec, start, pairs)
    greedy = wp.basin_hopping(spec, start, pairs, rounds=4, temperature=0.0, refine=False, generator=gen(63))
    hot = wp.basin_hopping(spec, start, pairs, rounds=4, temperature=1e6, refine=False, generator=gen(63))
    assert all(a < 1 for a in greedy["accepted"]) and all(a == 1.0 for a in hot["accepted"]), (
        greedy["accepted"], hot["accepted"])
    for out in (greedy, hot):
        assert torch.all(out["residual"] <= polished + 1e-7)
        assert torch.allclose(out["residual"], wp.pair_residual(spec, out["weights"], pairs))
    none = wp.basin_hopping(spec, start, pairs, rounds=0, refine=False)
    assert torch.equal(none["weights"], start), "refine=False and no hops: the start comes back unchanged"
    assert not torch.equal(wp.basin_hopping(spec, start, pairs, rounds=0)["weights"], start)


@pytest.mark.parametrize("spec", [MLPSpec(4, 10, 1), MLPSpec(3, 5, 2, bias=True), MLPSpec(3, 0, 2),
                                  MLPSpec(3, 0, 2, bias=True)], ids=str)
def test_mlp_jacobian_is_jacfwd_in_closed_form(spec):
    """The polish's closed-form Jacobian equals torch.func's jacfwd of the outputs, for hidden and linear networks,
    with and without biases, one and several outputs (rows in mlp_forward's order)."""
    from torch.func import jacfwd

    g = gen(5)
    flat = flatten_mlps(wp.random_mlps(spec, 6, generator=g, dtype=torch.float64))
    x = torch.randn(6, 7, spec.n_in, generator=g, dtype=torch.float64)

    def outputs(f, xx):
        return wp.mlp_forward(wp.unflatten_mlps(spec, f.unsqueeze(0)), xx.unsqueeze(0)).reshape(-1)

    expected = torch.vmap(jacfwd(outputs))(flat, x)
    got = wp.mlp_jacobian(spec, flat, x)
    assert got.shape == (6, 7 * spec.n_out, spec.unknowns) and got.dtype == torch.float64
    assert torch.allclose(got, expected, atol=1e-12, rtol=0)
