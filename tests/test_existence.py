"""Chapter 1's census of non-zero quines and the contraction argument (quinelib.existence)."""

import pytest
import torch

import quinelib as q
from quinelib import existence

F64 = torch.float64


def test_the_bound_is_above_the_sampled_estimate():
    for alpha in (0.1, 0.5, 3.0):
        m, z = q.QuineMLP(alpha=alpha, seed=1), q.probe_input(seed=1)
        assert existence.lipschitz_bound(m, z) >= existence.lipschitz_estimate(m, z, samples=64)


def test_the_estimate_is_the_norm_of_the_reduced_jacobian():
    m, z = q.QuineMLP(alpha=0.7, seed=2), q.probe_input(seed=2)
    G = existence.reduced_map(m, z)
    J0 = torch.func.jacfwd(G)(torch.zeros(20, dtype=F64))
    # at u = 0 only the last bias moves h_L, with tanh'(0) = 1: dG/du(0) = alpha * Pi[:, b3] ... transposed
    b3 = next(s for s in q.layout(m) if s.name == "layers.2.bias")
    assert torch.allclose(J0, m.alpha * m.proj[:, b3.start:b3.stop].T, atol=1e-12)
    assert existence.lipschitz_estimate(m, z, samples=1) >= float(torch.linalg.matrix_norm(J0, ord=2)) - 1e-12


def test_critical_alphas_are_ordered_and_bracket_one():
    a_bound = existence.critical_alpha("bound", seed=0)
    a_est = existence.critical_alpha("estimate", seed=0, samples=64)
    assert 0 < a_bound < a_est
    z = q.probe_input(seed=0)
    assert existence.lipschitz_bound(q.QuineMLP(alpha=0.99 * a_bound, seed=0), z) < 1
    assert existence.lipschitz_bound(q.QuineMLP(alpha=1.01 * a_bound, seed=0), z) > 1
    with pytest.raises(q.QuineInputError, match="which must be"):
        existence.critical_alpha("guess")


def test_the_argument_refuses_a_normalised_network():
    with pytest.raises(q.QuineInputError, match="norm=None"):
        existence.lipschitz_bound(q.QuineMLP(norm="instance"), q.probe_input())


def test_census_rows_agree_with_find_quines():
    rows = existence.census([0.25, 4.26], [0], starts=12, samples=16)
    assert [r["alpha"] for r in rows] == [0.25, 4.26]
    assert rows[0]["quines"] == 0 and rows[0]["zero"] == 12, "at alpha = 0.25 every start should reach zero"
    assert rows[1]["quines"] >= 1 and rows[1]["worst_rho"] <= 1e-12
    assert rows[1]["quines"] + rows[1]["zero"] + rows[1]["stalled"] <= 12
