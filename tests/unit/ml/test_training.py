from datetime import timedelta

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV

from ml._fastpath import additive_logit
from ml.bundle import ModelBundle
from ml.card import card_from_json, card_to_json, render_markdown
from ml.training import InsufficientDataError, Snapshot, TrainingConfig, candidates, fit
from tests.unit.ml.conftest import NOW, make_rows, make_snapshot


@pytest.mark.parametrize("name", ["logistic", "boosted_additive"])
def test_fast_path_equals_the_calibrated_sklearn_model(name: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(1500, 6))
    x[:, 5] = rng.random(1500) < 0.3
    y = rng.random(1500) < 1 / (1 + np.exp(-(x[:, 0] - 0.5 * x[:, 1] ** 2 + x[:, 5] - 1)))
    _, estimator = candidates(TrainingConfig())[name]
    model = CalibratedClassifierCV(estimator, method="sigmoid", cv=3, ensemble=False).fit(x, y)
    fast = additive_logit(model, reference=np.median(x, axis=0))
    probe = rng.normal(size=(400, 6)) * 2
    logit = fast.base + fast.parts(probe).sum(axis=1)
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), model.predict_proba(probe)[:, 1], rtol=0, atol=1e-9)


def test_the_bundle_learns_the_planted_causes(bundle: ModelBundle) -> None:
    assert bundle.card.churn.holdout.roc_auc > 0.7
    names = {feature.name for feature in bundle.card.features}
    assert {"attr:support_tickets_open", "attr:plan=basic", "segment=smb", "touchpoint:delivery"} <= names
    assert not any(name.startswith(("attr:tags", "attr:external_ref")) for name in names)


def test_card_serialises_and_renders(bundle: ModelBundle) -> None:
    card = card_from_json(card_to_json(bundle.card))
    assert card == bundle.card
    assert [band.name for band in card.risk_bands] == ["low", "medium", "high", "critical"]
    assert card.metrics()["churn"]["roc_auc"] == card.churn.holdout.roc_auc
    text = render_markdown(card)
    for heading in ("## Data", "## Risk bands", "## Loyalty index", "## Features", "## Limitations"):
        assert heading in text


def _snapshots(churn_rate: float, n: int = 400) -> tuple[list[Snapshot], Snapshot]:
    """Two training windows of n // 2 rows (the latest is the validation) and a holdout."""
    holdout_cutoff = NOW - timedelta(days=90)
    rows, _, promoter = make_rows(n, 5)
    churned = np.random.default_rng(1).random(n) < churn_rate
    half = n // 2
    train = [
        Snapshot(
            cutoff=holdout_cutoff - timedelta(days=90 * (2 - k)),
            rows=rows[k * half : (k + 1) * half],
            churned=churned[k * half : (k + 1) * half],
            promoter=promoter[k * half : (k + 1) * half],
        )
        for k in range(2)
    ]
    return train, make_snapshot(600, 6, holdout_cutoff)


def test_too_few_churned_customers_says_what_is_missing() -> None:
    train, holdout = _snapshots(0.01)
    with pytest.raises(InsufficientDataError) as raised:
        fit(train, holdout, now=NOW)
    message = str(raised.value)
    assert message.startswith("need at least 50 churned and 50 retained customers")
    assert "before 2026-08-25" in message
    assert "found 3 churned and 397 retained" in message


def test_a_single_class_is_named_as_such() -> None:
    train, holdout = _snapshots(0.0)
    with pytest.raises(InsufficientDataError, match=r"found 0 churned and 400 retained \(a single class"):
        fit(train, holdout, now=NOW)


def test_no_training_data_at_all() -> None:
    _, holdout = _snapshots(0.2)
    with pytest.raises(InsufficientDataError, match="found 0 churned and 0 retained"):
        fit([], holdout, now=NOW)


def test_churn_trains_without_a_single_nps_answer_and_says_why_loyalty_is_missing() -> None:
    train, holdout = _snapshots(0.3, n=1200)
    silent = [
        Snapshot(cutoff=s.cutoff, rows=s.rows, churned=s.churned, promoter=np.full(len(s.rows), np.nan))
        for s in train
    ]
    bundle = fit(silent, holdout, now=NOW).bundle
    assert bundle.loyalty is None
    assert bundle.card.loyalty is None
    reason = bundle.card.loyalty_unavailable
    assert reason is not None
    assert reason.startswith("too few NPS answers to learn loyalty from: need at least 30 promoter")
    assert "found 0 promoter and 0 non-promoter" in reason
    assert set(bundle.card.metrics()) == {"churn"}
    assert "Loyalty: not available: too few NPS answers" in render_markdown(bundle.card)
    assert card_from_json(card_to_json(bundle.card)) == bundle.card


def test_progress_is_reported_to_the_end(bundle: ModelBundle) -> None:
    seen: list[tuple[str, float]] = []
    train, holdout = _snapshots(0.3, n=1200)
    fit(train, holdout, now=NOW, progress=lambda message, fraction: seen.append((message, fraction)))
    fractions = [fraction for _, fraction in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(seen) >= 4
