"""quinelib.metrics: the per-network R² and its summary (chapter 5), accuracy and the confusion matrix (chapter 4)."""

import pytest
import torch

from quinelib.checks import QuineInputError
from quinelib.metrics import FAIL_BELOW, accuracy, confusion_matrix, r2_against_mean, r2_per_network, r2_summary


def test_per_network_r2_scores_each_network_against_its_own_mean():
    y = torch.tensor([[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 12.0, 12.0]]).unsqueeze(-1)
    pred = y.clone()
    pred[0] = 2.5  # the first network predicted by its own mean: R² 0
    per = r2_per_network(pred, y)
    assert per.tolist() == pytest.approx([0.0, 1.0])
    # pooled, the second network's large offset from the first makes the same errors look small
    assert r2_against_mean(pred, y) > 0.9


def test_per_network_r2_of_constant_networks_and_bad_shapes():
    y = torch.ones(2, 5, 1)
    pred = y.clone()
    pred[1] += 1
    assert r2_per_network(pred, y).tolist() == [1.0, float("-inf")]
    with pytest.raises(QuineInputError):
        r2_per_network(torch.ones(3), torch.ones(3))
    with pytest.raises(QuineInputError):
        r2_per_network(torch.ones(2, 3), torch.ones(2, 4))


def test_summary_reports_median_low_percentile_and_failure_share():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(100, 50, 1, generator=g)
    noise = torch.linspace(0, 1.5, 100)[:, None, None] * torch.randn(100, 50, 1, generator=g)
    s = r2_summary(y + noise, y)
    per = r2_per_network(y + noise, y)
    assert s["r2_median"] == pytest.approx(float(per.double().median()), abs=0.02)
    assert s["r2_p5"] < s["r2_median"] <= 1
    assert s["fail_share"] == pytest.approx(float((per < FAIL_BELOW).double().mean()))
    assert 0 < s["fail_share"] < 1
    assert s["r2"] == pytest.approx(r2_against_mean(y + noise, y))


def test_accuracy_and_confusion_matrix_on_hand_made_cases():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [5.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    labels = torch.tensor([0, 1, 1, 2])
    assert accuracy(logits, labels) == 0.75
    cm = confusion_matrix(logits, labels)
    assert cm.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert int(cm.trace()) == 3 and int(cm.sum()) == 4
    with pytest.raises(QuineInputError):
        accuracy(logits, labels[:3])
    with pytest.raises(QuineInputError):
        accuracy(logits[:0], labels[:0])
