import math

import msgspec
import numpy as np
import pytest

from ml.bundle import ModelBundle
from ml.features import FIXED_FEATURES
from ml.scorer import BANDS, Scorer


def test_fast_path_matches_the_sklearn_pipeline(bundle: ModelBundle, rows: list[dict]) -> None:
    scorer = Scorer(bundle)
    np.testing.assert_allclose(scorer.churn_probability(rows), bundle.predict_churn(rows), rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        scorer.loyalty_probability(rows), bundle.predict_loyalty(rows), rtol=0, atol=1e-9
    )


def test_contributions_add_up_to_the_score(bundle: ModelBundle, rows: list[dict]) -> None:
    scorer = Scorer(bundle)
    logit, by_group = scorer.contributions(rows)
    np.testing.assert_allclose(logit, scorer.base_logit + by_group.sum(axis=1), atol=1e-9)
    assert by_group.shape == (len(rows), len(scorer.groups))
    assert np.abs(by_group).max() > 0.1


def test_reasons_are_faithful(bundle: ModelBundle, rows: list[dict]) -> None:
    """Moving the top reason's input to its typical value moves the log-odds by minus
    its contribution, so the probability moves the way the sign says."""
    scorer = Scorer(bundle)
    reference = dict(zip(bundle.vectorizer.get_feature_names_out(), bundle.reference.tolist(), strict=True))
    checked = 0
    # the purchase-rhythm input (BG/NBD) is computed from these: moving one moves it too
    feeds_purchase_rhythm = {"days_since_first_purchase", "days_since_last_purchase"}
    for row, score in zip(rows, scorer.score(rows), strict=True):
        top = score.reasons[0]
        if top.feature not in FIXED_FEATURES or top.feature in feeds_purchase_rhythm:
            continue
        moved = {**row, top.feature: reference[top.feature]}
        before, after = scorer.contributions([row])[0][0], scorer.contributions([moved])[0][0]
        assert after - before == pytest.approx(-top.contribution, abs=1e-9)
        new_probability = scorer.churn_probability([moved])[0]
        assert np.sign(score.churn_probability - new_probability) == np.sign(top.contribution)
        checked += 1
    assert checked >= 20


def test_a_detractor_raises_the_risk_and_says_so(bundle: ModelBundle, rows: list[dict]) -> None:
    scorer = Scorer(bundle)
    calm = {**rows[0], "detractor_answers_90d": 0.0}
    angry = {**rows[0], "detractor_answers_90d": 6.0}
    calm_score, angry_score = scorer.score([calm, angry])
    assert angry_score.churn_probability > calm_score.churn_probability
    reason = next(r for r in angry_score.reasons if r.feature == "detractor_answers_90d")
    assert reason.contribution > 0
    assert "raises" in reason.text
    assert reason.label.startswith("Detractor answers")


def test_score_fields(bundle: ModelBundle, rows: list[dict]) -> None:
    scores = Scorer(bundle).score(rows)
    edges = {band.name: band.min_probability for band in bundle.card.risk_bands}
    for row, score in zip(rows, scores, strict=True):
        assert score.customer_id == row["customer_id"]
        assert score.model_version == bundle.version
        assert len(score.reasons) == 3
        assert score.value_at_risk == pytest.approx(row["value"] * score.churn_probability)
        assert score.loyalty_index == round(
            100 * math.sqrt(score.loyalty_probability * (1 - score.churn_probability))
        )
        band = max((name for name in BANDS if score.churn_probability >= edges[name]), key=BANDS.index)
        assert score.risk_band == band
        assert ("latest_nps" in score.imputed) == (row["latest_nps"] is None)
    assert {score.risk_band for score in scores} >= {"low", "critical"}
    assert msgspec.json.decode(msgspec.json.encode(scores))[0]["reasons"][0]["text"]


def test_customers_who_never_answered_still_get_a_loyalty_score(
    bundle: ModelBundle, rows: list[dict]
) -> None:
    silent = {
        **rows[0],
        "latest_nps": None,
        "nps_trend": None,
        "attributes": {"support_tickets_open": math.nan},
    }
    score = Scorer(bundle).score([silent])[0]
    assert 0 < score.loyalty_probability < 1
    assert {"latest_nps", "attr:support_tickets_open"} <= set(score.imputed)


def test_one_customer_scores_exactly_as_in_a_batch(bundle: ModelBundle, rows: list[dict]) -> None:
    scorer = Scorer(bundle)
    batch = scorer.score(rows)
    alone = [scorer.score([row])[0] for row in rows]
    assert msgspec.to_builtins(alone) == msgspec.to_builtins(batch)


def test_an_imputed_input_says_that_its_absence_moves_the_risk(bundle: ModelBundle, rows: list[dict]) -> None:
    scorer = Scorer(bundle, reasons=1000)  # every input is a reason
    silent = {
        **rows[0],
        "latest_nps": None,
        "attributes": {**rows[0]["attributes"], "support_tickets_open": "?"},
    }
    score = scorer.score([silent])[0]
    reasons = {reason.feature: reason for reason in score.reasons}
    nps, tickets = reasons["latest_nps"], reasons["attr:support_tickets_open"]
    assert nps.value is None
    assert nps.text.startswith(f"{nps.label}: no value, imputed")
    assert tickets.text.startswith(f"{tickets.label}: ?, not a number, imputed")
    for reason in (nps, tickets):
        direction = "raises" if reason.contribution > 0 else "lowers"
        assert reason.text.endswith(f"; having no value {direction} the churn risk")
    answered = reasons["detractor_answers_90d"]
    assert "imputed" not in answered.text
    assert "no value" not in answered.text
