import math
from dataclasses import replace

import msgspec
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from ml import persistence
from ml.bundle import ModelBundle
from ml.card import band_index, card_from_json, card_to_json
from ml.features import FIXED_FEATURES
from ml.history import NO_PURCHASE_COLUMN
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


def test_scores_are_the_same_whatever_the_number_of_blas_threads(
    bundle: ModelBundle, rows: list[dict]
) -> None:
    """The serving process gives BLAS one thread (feedback_svc/scoring/blas.py): no score may
    change for it, down to the last bit of every contribution."""
    scorer, many = Scorer(bundle), rows * 4  # large enough for OpenBLAS to split the product
    with threadpool_limits(limits=2, user_api="blas"):
        threaded = msgspec.to_builtins(scorer.score(many))
    with threadpool_limits(limits=1, user_api="blas"):
        alone = msgspec.to_builtins(scorer.score(many))
    assert alone == threaded


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


def test_the_served_band_is_the_cards_band_at_its_exact_edges(bundle: ModelBundle) -> None:
    """A probability equal to a band's edge is in that band, as the card says, after the card
    went through JSON and the model through skops; the float just below is in the band below."""
    stored = persistence.loads(persistence.dumps(bundle))
    card = card_from_json(card_to_json(bundle.card))
    assert card.band_edges() == bundle.card.band_edges()
    edges = card.band_edges()
    assert any(round(edge, 6) != edge for edge in edges), "edges are kept unrounded"
    scorer = Scorer(stored)
    for band, edge in zip(card.risk_bands[1:], edges, strict=True):
        assert scorer.risk_band(edge) == band.name
        below = np.nextafter(edge, 0.0)
        assert scorer.risk_band(below) == BANDS[BANDS.index(band.name) - 1]
    # and the card's own holdout shares were counted with the same rule
    assert sum(band.holdout_share for band in card.risk_bands) == pytest.approx(1.0)


def test_bands_that_share_an_edge_serve_the_highest(bundle: ModelBundle) -> None:
    """Few distinct probabilities can make quantiles coincide: a probability on the shared edge
    is in the highest band starting there, on the card and in the score alike."""
    same = 0.8903977123456789
    bands = [
        msgspec.structs.replace(band, min_probability=0.0 if band.name == "low" else same)
        for band in bundle.card.risk_bands
    ]
    tied = replace(bundle, card=msgspec.structs.replace(bundle.card, risk_bands=bands))
    scorer = Scorer(tied)
    assert scorer.risk_band(same) == "critical"
    assert scorer.risk_band(np.nextafter(same, 0.0)) == "low"
    assert list(band_index(tied.card.band_edges(), np.array([same]))) == [3]


def test_lifetime_value_for_buyers_and_value_at_risk_without_a_crm_value(
    bundle: ModelBundle, rows: list[dict]
) -> None:
    scorer = Scorer(bundle)
    buyer = next(row for row in rows if row.get("purchase_days", 0) >= 2)
    never = next(row for row in rows if row.get("purchase_days", 0) == 0)
    sent, unsent = scorer.score([buyer, {**buyer, "value": 0.0}])
    assert (sent.expected_purchases or 0) > 0
    assert (sent.expected_value or 0) > 0
    assert 0 < sent.probability_alive <= 1
    assert sent.lifetime_value_unavailable is None
    assert sent.value_basis == "crm"
    assert sent.value_at_risk == pytest.approx(buyer["value"] * sent.churn_probability)
    # the CRM sent no value: what the customer is expected to spend within the horizon
    assert unsent.value_basis == "lifetime_value"
    assert unsent.value_at_risk == pytest.approx(unsent.expected_value * unsent.churn_probability)
    [nothing] = scorer.score([{**never, "value": 0.0}])
    assert nothing.expected_purchases is None
    assert nothing.lifetime_value_unavailable.startswith("no purchase yet")
    assert (nothing.value_basis, nothing.value_at_risk) == ("none", 0.0)


def test_a_row_that_carries_its_purchase_rhythm_is_scored_with_it(
    bundle: ModelBundle, rows: list[dict]
) -> None:
    """Training and the registry's comparisons give rows the rhythm known at their cut-off;
    the scorer uses it instead of its own model's."""
    scorer = Scorer(bundle)
    buyer = next(row for row in rows if row.get("purchase_days", 0) >= 2)
    own = scorer.churn_probability([buyer])[0]
    told = scorer.churn_probability([{**buyer, NO_PURCHASE_COLUMN: 6.0}])[0]
    assert told != own
    np.testing.assert_allclose(
        scorer.churn_probability([{**buyer, NO_PURCHASE_COLUMN: 6.0}]),
        bundle.predict_churn([{**buyer, NO_PURCHASE_COLUMN: 6.0}]),
        atol=1e-9,
    )
