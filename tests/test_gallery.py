"""quinelib.gallery and RecurrentQuine: chapter 6's architectures, the loop prediction, the existence study."""

import math

import numpy as np
import pytest
import torch

import quinelib as q
from quinelib import gallery

F64 = torch.float64


def test_the_recurrent_quine_prints_one_weight_per_step():
    m = q.RecurrentQuine(n=3, seed=0)
    z = m.coordinates()
    assert m.P == 3 * 3 + 3 * 3 == q.num_params(m) and z.shape == (m.P, 2)
    F = q.as_function(m, z)
    theta = q.flatten(m)
    out = F(theta)
    assert out.shape == theta.shape
    # step t's output depends only on the clock up to t: changing the last input leaves the others alone
    z2 = z.clone()
    z2[-1] += 1.0
    out2 = q.as_function(m, z2)(theta)
    assert torch.equal(out[:-1], out2[:-1]) and not torch.equal(out[-1:], out2[-1:])
    with pytest.raises(q.QuineInputError, match="shape"):
        m(torch.zeros(5, 3, dtype=F64))


def test_the_recurrent_quine_is_solved_exactly():
    m = q.RecurrentQuine(n=4, seed=3)
    res = q.solve_exact(m, inputs=m.coordinates(), restarts=6, seed=3)
    assert res.converged, res.stop_reason
    F = q.as_function(m, m.coordinates())
    assert float((F(res.theta) - res.theta).norm() / res.theta.norm()) <= 1e-12
    assert res.relative_residual <= 1e-12, "the history ends at the theta returned"


def test_the_loop_factor_is_the_spectral_radius_of_the_linearised_loop():
    ev = np.array([0.5, -0.9, 1.5 + 0.5j])
    assert gallery.loop_factor(ev, 1.0) == pytest.approx(abs(1.5 + 0.5j))
    eta = 0.1
    assert gallery.loop_factor(ev, eta) == pytest.approx(max(abs(1 - eta + eta * v) for v in ev))


@pytest.mark.parametrize("eta", [1.0, 0.3])
def test_perturbation_growth_measures_the_linear_factor(eta):
    # F(theta) = A (theta - theta*) + theta* with A = diag(0.5, 1.2): far along the loop the error grows
    # like the largest |1 - eta + eta lambda|
    A = torch.diag(torch.tensor([0.5, 1.2], dtype=F64))
    star = torch.tensor([1.0, 1.0], dtype=F64)  # away from 0: the perturbation's size is relative to it

    def F(t):
        return A @ (t - star) + star

    growth = gallery.perturbation_growth(F, star, eta=eta, steps=400, size=1e-10)
    expected = gallery.loop_factor(np.array([0.5, 1.2]), eta)
    assert growth == pytest.approx(expected, rel=0.05)
    stable = gallery.perturbation_growth(lambda t: 0.5 * (t - star) + star, star, eta=eta, steps=50)
    assert stable < 1


def test_build_and_solve_report_what_the_chapter_shows():
    row = gallery.solve("blog-norm", 0)
    assert row["converged"] and row["rho"] <= 1e-12 and row["norm"] >= row["floor"]
    assert row["P"] == 1020 and "readout reduction" in row["path"]
    assert math.isfinite(row["max_abs"]) and math.isfinite(row["max_real"])
    trained = gallery.train_baseline("blog-norm", 0, seconds=0.5)
    assert trained["train_rho"] > row["rho"] and trained["train_time"] >= 0.5
    with pytest.raises(q.QuineInputError, match="architecture must be one of"):
        gallery.build("transformer")


def test_index_existence_reports_singular_values_and_exact_roots():
    rows = gallery.index_existence(["tanh"], [4], [0], restarts=2)
    (row,) = rows
    assert row["P"] == 4 * 4 + 4 * 4 + 4
    assert 0 <= row["sigma_min"] <= 1
    if row["converged"]:
        assert row["rho"] <= 1e-12 and math.isfinite(row["max_abs"])
    else:
        assert row["rho"] > 1e-12


def test_train_lbfgs_takes_any_module_with_its_inputs():
    m, z = q.QuineMLP(seed=0, norm="instance"), q.probe_input(seed=0)
    with pytest.raises(q.QuineInputError, match="coordinates"):
        q.index_quine.train_lbfgs(m, max_iter=1)
    res = q.index_quine.train_lbfgs(m, inputs=z, max_iter=3)
    assert res.relative_residuals[-1] < res.relative_residuals[0]
