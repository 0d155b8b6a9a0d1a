"""quinelib.record: the run records and the one full-batch L-BFGS loop."""

import math
import time

import pytest
import torch

from quinelib.record import Run, SolveResult, TrainRecord, lbfgs_loop, make_optimiser


def quadratic(target):
    return lambda th: ((th - target) ** 2).sum()


def test_lbfgs_loop_minimises_records_and_stalls_at_the_minimum():
    target = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    theta = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    seen = []
    done, reason, last = lbfgs_loop(quadratic(target), theta, max_iter=50, history=10, record=seen.append,
                                    t0=time.perf_counter(), record_every=5)
    assert torch.allclose(last, target, atol=1e-12) and torch.equal(last, theta.detach())
    # the quadratic is solved in the first iterations; the next one cannot move theta: a stall, recorded
    assert reason.startswith("stalled") and done < 50 and seen[-1] == done
    assert all(k % 5 == 0 for k in seen[:-1])


def test_lbfgs_loop_stops_on_divergence_with_the_last_finite_theta():
    theta = torch.ones(2, dtype=torch.float64, requires_grad=True)
    calls = []

    def objective(th):
        calls.append(1)
        loss = (th**2).sum()
        return loss * math.nan if len(calls) > 3 else loss

    done, reason, last = lbfgs_loop(objective, theta, max_iter=5, history=5, record=lambda k: None,
                                    t0=time.perf_counter())
    assert reason.startswith("diverged") and torch.isfinite(last).all()
    assert done < 5


def test_lbfgs_loop_respects_max_iter_and_the_time_budget():
    target = torch.linspace(-1, 1, 50, dtype=torch.float64)

    def rosenbrock_like(th):  # slow enough that L-BFGS does not finish in one iteration
        return ((th[1:] - th[:-1] ** 2) ** 2).sum() * 100 + ((1 - th) ** 2).sum() + ((th - target) ** 4).sum()

    theta = torch.zeros(50, dtype=torch.float64, requires_grad=True)
    seen = []
    done, reason, _ = lbfgs_loop(rosenbrock_like, theta, max_iter=1, history=5, record=seen.append,
                                 t0=time.perf_counter(), record_every=10)
    assert done == 1 and reason == "reached max_iter = 1" and seen == [1]
    theta = torch.zeros(50, dtype=torch.float64, requires_grad=True)
    done, reason, _ = lbfgs_loop(rosenbrock_like, theta, max_iter=100, history=5, record=seen.append,
                                 t0=time.perf_counter() - 10, time_budget=1.0)
    assert done == 1 and reason.startswith("reached the time budget")


def test_every_record_is_a_run_with_the_same_names():
    res = SolveResult(method="m", theta=torch.zeros(2), theta0=torch.zeros(2))
    rec = TrainRecord(method="t", stop_reason="diverged: the loss is not finite at step 3")
    assert isinstance(res, Run) and isinstance(rec, Run)
    assert not res.diverged and rec.diverged and rec.iterations == 0 and rec.wall_time == 0.0
    t0 = time.perf_counter()
    res.record(torch.ones(2), 0.5, t0)
    res.record(torch.ones(2), 0.25, t0, step=10)
    assert res.steps == [0, 10] and res.residuals == [0.5, 0.25]
    assert res.relative_residual == pytest.approx(0.25 / 2**0.5)


def test_make_optimiser_by_name_or_class_and_a_clear_error():
    p = [torch.zeros(2, requires_grad=True)]
    opt, name = make_optimiser("adam", p, 1e-3)
    assert isinstance(opt, torch.optim.Adam) and name == "adam"
    opt, name = make_optimiser(torch.optim.SGD, p, 1e-2, {"momentum": 0.9})
    assert isinstance(opt, torch.optim.SGD) and name == "SGD"
    from quinelib.checks import QuineInputError

    with pytest.raises(QuineInputError, match="optimizer must be one of"):
        make_optimiser("lion", p, 1e-3)
