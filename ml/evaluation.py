"""How good a probability is: discrimination, calibration, and who wins a comparison.

A candidate model becomes active only if it `beats` the active one on the same
holdout rows: a lower Brier score (a proper scoring rule: rewards both ranking
and calibration) by more than `min_brier_gain`, without losing more than
`max_auc_loss` of ROC AUC.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import msgspec
import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from ml.bundle import ModelBundle
from ml.card import Metrics
from ml.scorer import Scorer

__all__ = [
    "Comparison",
    "Metrics",
    "OracleCheck",
    "beats",
    "binary_metrics",
    "check_against_oracle",
    "compare_models",
]


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    candidate: Metrics
    active: Metrics
    candidate_wins: bool
    reason: str


class OracleCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The learned model against the simulator's true probabilities on one holdout."""

    model: Metrics
    oracle: Metrics
    auc_ratio: float
    brier_gap: float
    passed: bool

    def describe(self) -> str:
        return (
            f"ROC AUC model {self.model.roc_auc:.4f} vs oracle {self.oracle.roc_auc:.4f} "
            f"(ratio {self.auc_ratio:.3f}); Brier model {self.model.brier:.4f} vs oracle "
            f"{self.oracle.brier:.4f} (gap {self.brier_gap:+.4f}); "
            f"{self.oracle.rows} customers, {self.oracle.positives} churned: "
            f"{'passed' if self.passed else 'FAILED'}"
        )


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, *, bins: int = 10) -> float:
    """Mean |observed rate - mean prediction| over equal-width bins, weighted by bin size."""
    labels, probabilities = np.asarray(labels, dtype=float), np.asarray(probabilities, dtype=float)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        inside = which == b
        total += inside.sum() * abs(labels[inside].mean() - probabilities[inside].mean())
    return float(total / len(labels))


def lift_at(labels: np.ndarray, probabilities: np.ndarray, *, fraction: float = 0.1) -> float:
    """Churn rate among the `fraction` riskiest customers, over the overall rate."""
    labels = np.asarray(labels, dtype=float)
    top = max(1, math.ceil(len(labels) * fraction))
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:top]
    base = labels.mean()
    return float(labels[order].mean() / base) if base > 0 else math.nan


def binary_metrics(
    labels: Sequence[bool] | np.ndarray, probabilities: Sequence[float] | np.ndarray
) -> Metrics:
    """All the figures a model card and a comparison need; both classes must be present."""
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(probabilities, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"labels and probabilities must be 1-d of equal length, got {y.shape} and {p.shape}")
    positives = int(y.sum())
    if positives in (0, len(y)):
        raise ValueError(f"metrics need both classes; got {positives} positive of {len(y)}")
    return Metrics(
        rows=len(y),
        positives=positives,
        base_rate=float(y.mean()),
        roc_auc=float(roc_auc_score(y, p)),
        pr_auc=float(average_precision_score(y, p)),
        brier=float(brier_score_loss(y, p)),
        expected_calibration_error=expected_calibration_error(y, p),
        lift_top_decile=lift_at(y, p),
    )


def beats(
    candidate: Metrics, incumbent: Metrics, *, min_brier_gain: float = 0.0, max_auc_loss: float = 0.005
) -> tuple[bool, str]:
    """(wins, why) for two models scored on the same rows."""
    if (candidate.rows, candidate.positives) != (incumbent.rows, incumbent.positives):
        raise ValueError("compare models on the same holdout rows")
    gain = incumbent.brier - candidate.brier
    auc_change = candidate.roc_auc - incumbent.roc_auc
    if gain <= min_brier_gain:
        return False, f"Brier {candidate.brier:.4f} is not better than {incumbent.brier:.4f}"
    if auc_change < -max_auc_loss:
        return False, f"ROC AUC drops by {-auc_change:.4f} (allowed {max_auc_loss})"
    return True, f"Brier {candidate.brier:.4f} < {incumbent.brier:.4f}, ROC AUC change {auc_change:+.4f}"


def compare_models(
    candidate: ModelBundle, active: ModelBundle, rows: Sequence[Mapping[str, Any]], churned: Sequence[bool]
) -> Comparison:
    """Score the same holdout rows with both bundles: should the candidate become active?

    Both are judged as evaluated (`ModelBundle.evaluated`: their models fitted without their
    own holdout windows): the candidate's served models learnt from these very labels, and
    an active model trained before the candidate saw none of them that way, so neither is
    judged on what it was taught."""
    labels = np.asarray(churned, dtype=bool)
    ours = binary_metrics(labels, Scorer(candidate.evaluated()).churn_probability(rows))
    theirs = binary_metrics(labels, Scorer(active.evaluated()).churn_probability(rows))
    wins, reason = beats(ours, theirs)
    return Comparison(candidate=ours, active=theirs, candidate_wins=wins, reason=reason)


def check_against_oracle(
    *,
    churned: Mapping[UUID, bool],
    predicted: Mapping[UUID, float],
    truth: Mapping[UUID, float],
    auc_ratio: float = 0.95,
    brier_margin: float = 0.01,
) -> OracleCheck:
    """Does the model reach `auc_ratio` of the oracle's ROC AUC and a Brier score
    within `brier_margin` of it, on the customers all three know about?"""
    ids = sorted(set(churned) & set(predicted) & set(truth))
    if not ids:
        raise ValueError("no customer is in the labels, the predictions and the truth")
    y = np.array([churned[i] for i in ids])
    model = binary_metrics(y, np.array([predicted[i] for i in ids]))
    oracle = binary_metrics(y, np.array([truth[i] for i in ids]))
    ratio = model.roc_auc / oracle.roc_auc
    gap = model.brier - oracle.brier
    return OracleCheck(
        model=model,
        oracle=oracle,
        auc_ratio=ratio,
        brier_gap=gap,
        passed=ratio >= auc_ratio and gap <= brier_margin,
    )
