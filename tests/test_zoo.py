"""The zoo of trained networks (chapter 5): students trained together, each on its own, and the
architecture-only predictor trained on them."""

import pytest
import torch

from quinelib import zoo as zm
from quinelib.checks import QuineInputError
from quinelib.weightpred import ArchitectureOnly, MLPSpec, aligned_weight_error, mlp_forward, random_mlps

SPEC = MLPSpec(4, 3, 1)


def test_balanced_teacher_has_unit_directions_and_unit_outgoing_weights():
    t = zm.balanced_teacher(SPEC, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(t["W1"].norm(dim=1), torch.ones(1, 3))
    assert set(t["W2"].flatten().tolist()) <= {-1.0, 1.0}
    assert float(zm.zoo_r2(SPEC, t, t)[0]) == 1.0


def test_students_train_together_and_keep_their_widths():
    zoo = zm.train_zoo(SPEC, students_per_width=3, widths=(1, 3), steps=400, lr=0.02, seed=1)
    assert zoo.size == 6 and zoo.widths.tolist() == [1, 1, 1, 3, 3, 3]
    assert zoo.record.stop_reason == "reached steps = 400" and zoo.record.losses[-1] < zoo.record.losses[0]
    # the one-unit students use only their first unit
    assert torch.count_nonzero(zoo.weights["W1"][:3, :, 1:]) == 0 and torch.count_nonzero(zoo.weights["W2"][:3, 1:]) == 0
    assert zoo.width_one_hot().tolist()[0] == [1.0, 0.0, 0.0]
    assert float(zoo.r2.max()) > 0.5
    with torch.no_grad():
        x = zoo.train_x.expand(6, -1, -1)
        fit = ((mlp_forward(zoo.weights, x) - mlp_forward(zoo.teacher, zoo.train_x)) ** 2).mean((1, 2))
    assert float(fit.sum()) == pytest.approx(zoo.record.losses[-1], rel=0.05)


def test_a_student_that_reproduces_the_teacher_is_the_teacher_up_to_symmetry():
    zoo = zm.train_zoo(SPEC, students_per_width=16, steps=2500, lr=0.02, seed=0)
    exact = zoo.r2 > 1 - 1e-6
    assert bool(exact.any())
    teacher = {k: v.expand(zoo.size, *v.shape[1:]) for k, v in zoo.teacher.items()}
    err = aligned_weight_error(zoo.weights, teacher, per_network=True)
    assert float(err[exact].max()) < 1e-4


def test_architecture_only_on_the_zoo_learns_the_mean_weights_with_the_weight_loss():
    zoo = zm.train_zoo(SPEC, students_per_width=4, widths=(1, 2, 3), steps=200, seed=2)
    torch.manual_seed(0)
    model = ArchitectureOnly(3, SPEC.unknowns)
    rec = zm.fit_architecture_only(model, zoo, loss="weights", steps=400, lr=1e-2)
    assert rec.iterations == 400
    with torch.no_grad():
        pred = model(None, torch.eye(3))
    flat = torch.cat([zoo.weights[k].flatten(1) for k in SPEC.shapes], 1)
    mean = torch.stack([flat[zoo.widths == h].mean(0) for h in (1, 2, 3)])
    torch.testing.assert_close(pred, mean, atol=1e-3, rtol=1e-3)
    rec_f = zm.fit_architecture_only(ArchitectureOnly(3, SPEC.unknowns), zoo, loss="functional", steps=5)
    assert len(rec_f.losses) == 5
    with pytest.raises(QuineInputError, match="loss must be"):
        zm.fit_architecture_only(model, zoo, loss="exact")


def test_bad_zoo_arguments_get_clear_errors():
    with pytest.raises(QuineInputError, match="bias-free"):
        zm.train_zoo(MLPSpec(4, 3, 1, bias=True), students_per_width=2)
    with pytest.raises(QuineInputError, match="widths must lie"):
        zm.train_zoo(SPEC, students_per_width=2, widths=(4,))
    with pytest.raises(QuineInputError, match="teacher must be"):
        zm.train_zoo(SPEC, students_per_width=2, teacher=random_mlps(SPEC, 2))


def test_a_float64_zoo_trains_in_float64():
    teacher = {k: v.double() for k, v in zm.balanced_teacher(SPEC, generator=torch.Generator().manual_seed(3)).items()}
    zoo = zm.train_zoo(SPEC, students_per_width=2, steps=20, teacher=teacher)
    assert zoo.weights["W1"].dtype == torch.float64 and zoo.r2.dtype == torch.float64
    rec = zm.fit_architecture_only(ArchitectureOnly(3, SPEC.unknowns).double(), zoo, loss="functional", steps=3)
    assert rec.iterations == 3
