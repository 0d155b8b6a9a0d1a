"""quinelib.exact: exact quines of any network in one call."""

import pytest
import torch

import quinelib as q
from quinelib import exact

F64 = torch.float64


def linear_problem(P=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = 0.5 * torch.randn(P, P, dtype=F64, generator=g) / P**0.5  # spectral radius about 0.5: well conditioned
    b = torch.randn(P, dtype=F64, generator=g)
    return (lambda t: A @ t + b), torch.linalg.solve(torch.eye(P, dtype=F64) - A, b)


@pytest.mark.parametrize("method", ["dense", "matrix-free"])
def test_each_path_solves_a_linear_map(method):
    F, solution = linear_problem()
    res = q.solve_exact(F, torch.ones(30, dtype=F64), method=method, restarts=0, warm_iters=0)
    assert res.converged, res.stop_reason
    assert float((res.theta - solution).norm()) <= 1e-11 * float(solution.norm())
    assert method in res.extra["path"][0]
    assert res.extra["stability"]["max_abs"] < 1


def test_a_contraction_with_a_warm_start():
    F = lambda t: 0.5 * torch.cos(t) + 1.0  # noqa: E731  unique fixed point, componentwise
    res = q.solve_exact(F, torch.full((5,), 3.0, dtype=F64), restarts=0)
    assert res.converged and res.relative_residual <= 1e-12
    assert "L-BFGS warm start" in res.extra["path"][0]


def test_the_matrix_free_path_never_builds_a_P_by_P_matrix(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("jacfwd called on the matrix-free path")

    monkeypatch.setattr(exact, "jacfwd", forbidden)
    F, solution = linear_problem(P=400, seed=1)
    res = q.solve_exact(F, torch.zeros(400, dtype=F64) + 0.1, method="matrix-free", restarts=0, warm_iters=0,
                        dense_max=100)
    assert res.converged and float((res.theta - solution).norm()) <= 1e-10 * float(solution.norm())
    assert res.extra["stability"]["method"] == "Arnoldi on jvp"


def test_deflation_finds_distinct_fixed_points():
    F = lambda t: t**3 - t**2 + t  # noqa: E731  fixed points t = 0 and t = 1 per coordinate (t^3 - t^2 = 0)
    first = q.solve_exact(F, torch.tensor([0.8, 1.3], dtype=F64), restarts=5, min_norm=0.5, warm_iters=0)
    assert first.converged
    second = q.solve_exact(F, torch.tensor([0.8, 1.3], dtype=F64), restarts=10, min_norm=0.5, warm_iters=0,
                           known=[first.theta])
    assert second.converged, second.stop_reason
    assert float((second.theta - first.theta).norm()) > 0.5
    for th in (first.theta, second.theta):
        assert torch.allclose(F(th), th, atol=1e-12)


def test_the_coordinate_query_quine_is_solved_exactly():
    m = q.CoordinateQuine(k=4, seed=0)
    res = q.solve_exact(m, inputs=m.coordinates(), restarts=10)
    assert res.converged, res.stop_reason
    assert res.relative_residual <= 1e-12 and float(res.theta.norm()) >= 0.1 * float(q.flatten(m).norm())
    assert m(m.coordinates()).shape == (16,)


def test_float32_stops_at_its_floor_and_says_so():
    F, _ = linear_problem()
    res = q.solve_exact(lambda t: F(t.double()).float(), torch.ones(30), restarts=0, warm_iters=0)
    assert res.converged and "float32 floor" in res.stop_reason
    assert res.relative_residual <= exact.float_floor(torch.float32)


def test_bad_inputs_give_clear_errors():
    F, _ = linear_problem()
    with pytest.raises(q.QuineInputError, match="method must be one of"):
        q.solve_exact(F, torch.ones(30, dtype=F64), method="magic")
    with pytest.raises(q.QuineInputError, match="theta's shape"):
        q.solve_exact(lambda t: torch.ones(3, dtype=F64), torch.ones(30, dtype=F64))
    with pytest.raises(q.QuineInputError, match="non-finite"):
        q.solve_exact(F, torch.full((30,), float("nan"), dtype=F64))
    with pytest.raises(q.QuineInputError, match="known quine"):
        q.solve_exact(F, torch.ones(30, dtype=F64), known=[torch.ones(3, dtype=F64)])
    with pytest.raises(q.QuineInputError, match="reduction"):
        q.solve_exact(F, torch.ones(30, dtype=F64), method="reduction")


def test_the_readout_path_reports_its_path_and_stability():
    m, z = q.QuineMLP(seed=0, norm="instance"), q.probe_input(seed=0)
    res = q.solve_exact(m, inputs=z, min_norm=q.nontrivial_floor(m))
    assert res.converged and "readout reduction" in res.extra["path"][0]
    assert set(res.extra["stability"]) == {"max_abs", "max_real", "method"}


def test_reduced_stability_equals_the_dense_spectrum():
    m, z = q.QuineMLP(seed=1, norm="instance"), q.probe_input(seed=1)
    res = q.solve_exact(m, inputs=z, min_norm=q.nontrivial_floor(m))
    dense = exact.stability(q.as_function(m, z), res.theta)
    assert res.extra["stability"]["method"].startswith("reduced Jacobian")
    assert res.extra["stability"]["max_abs"] == pytest.approx(dense["max_abs"], rel=1e-8)
    assert res.extra["stability"]["max_real"] == pytest.approx(dense["max_real"], rel=1e-8, abs=1e-10)


def test_the_alternating_warm_start_is_a_phase_of_the_solver():
    m = q.CoordinateQuine(k=4, seed=0)
    res = q.solve_exact(m, inputs=m.coordinates(), restarts=10, warm="alternating", warm_iters=400)
    assert res.converged and res.relative_residual <= 1e-12, res.stop_reason
    assert "alternating regeneration / RMSprop warm start" in res.extra["path"][0]
    with pytest.raises(q.QuineInputError, match="warm must be one of"):
        q.solve_exact(m, inputs=m.coordinates(), warm="adam")


# The readout reduction on chapter 2's normalised network.


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


def test_reliability_counts_exact_non_trivial_quines_seed_by_seed():
    rel = q.exact.reliability(lambda s: (q.QuineMLP(seed=s, norm="instance"), q.probe_input(seed=s)), [0, 1])
    assert rel["seeds"] == 2 and rel["successes"] == 2
    assert len(rel["times"]) == len(rel["starts"]) == len(rel["results"]) == 2
    assert all(r.relative_residual <= 1e-12 for r in rel["results"])
    # a floor no quine reaches: the same solves, no successes
    none = q.exact.reliability(lambda s: (q.QuineMLP(seed=s, norm="instance"), q.probe_input(seed=s)), [0],
                               min_norm=lambda m: 1e6, restarts=0)
    assert none["successes"] == 0
