import msgspec
import numpy as np
import pytest

from ml.card import Metrics
from ml.evaluation import beats, binary_metrics, check_against_oracle, expected_calibration_error, lift_at


def test_calibration_error_is_zero_when_predictions_match_rates() -> None:
    labels = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    probabilities = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    assert expected_calibration_error(labels, probabilities) == pytest.approx(0.0)
    assert expected_calibration_error(labels, np.full(8, 0.9)) == pytest.approx(0.4)


def test_lift_of_the_top_decile() -> None:
    labels = np.array([1] + [0] * 9 + [1] + [0] * 9)
    probabilities = np.array([0.9, 0.8] + [0.1] * 18)
    # top 2 of 20 hold 1 of the 2 churners: rate 0.5 over a base rate of 0.1
    assert lift_at(labels, probabilities) == pytest.approx(5.0)


def test_metrics_need_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        binary_metrics([False, False], [0.1, 0.2])


def test_perfect_ranking() -> None:
    metrics = binary_metrics([False, False, True, True], [0.1, 0.2, 0.8, 0.9])
    assert metrics.roc_auc == 1.0
    assert metrics.pr_auc == 1.0
    assert metrics.positives == 2
    assert metrics.brier == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)


def _metrics(brier: float, auc: float) -> Metrics:
    return Metrics(
        rows=100, positives=10, base_rate=0.1, roc_auc=auc, pr_auc=0.3, brier=brier,
        expected_calibration_error=0.01, lift_top_decile=3.0,
    )  # fmt: skip


def test_a_candidate_must_beat_the_active_model() -> None:
    assert beats(_metrics(0.080, 0.80), _metrics(0.081, 0.80))[0]
    assert not beats(_metrics(0.082, 0.85), _metrics(0.081, 0.80))[0]
    wins, reason = beats(_metrics(0.079, 0.70), _metrics(0.081, 0.80))
    assert not wins
    assert "ROC AUC drops" in reason
    with pytest.raises(ValueError, match="same holdout"):
        beats(_metrics(0.08, 0.8), msgspec.structs.replace(_metrics(0.08, 0.8), rows=99))


def test_oracle_check_compares_on_common_customers() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.01, 0.6, 2000)
    churned = rng.random(2000) < truth
    ids = list(range(2000))
    check = check_against_oracle(
        churned=dict(zip(ids, churned, strict=True)),
        predicted=dict(zip(ids, np.clip(truth + rng.normal(0, 0.02, 2000), 0.001, 0.999), strict=True)),
        truth=dict(zip(ids, truth, strict=True)),
    )
    assert check.passed
    assert check.auc_ratio > 0.95
    noise = check_against_oracle(
        churned=dict(zip(ids, churned, strict=True)),
        predicted=dict(zip(ids, rng.uniform(0, 1, 2000), strict=True)),
        truth=dict(zip(ids, truth, strict=True)),
    )
    assert not noise.passed
    assert "FAILED" in noise.describe()
