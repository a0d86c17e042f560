from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from ml import persistence
from ml.bundle import ModelBundle
from ml.scorer import Scorer


class NotAModel:
    pass


def test_round_trip_keeps_every_prediction(bundle: ModelBundle, rows: list[dict]) -> None:
    loaded = persistence.loads(persistence.dumps(bundle))
    assert loaded.card == bundle.card
    np.testing.assert_array_equal(
        Scorer(loaded).churn_probability(rows), Scorer(bundle).churn_probability(rows)
    )
    np.testing.assert_array_equal(loaded.predict_loyalty(rows), bundle.predict_loyalty(rows))


def test_the_same_model_gives_the_same_bytes(bundle: ModelBundle) -> None:
    assert persistence.dumps(bundle) == persistence.dumps(bundle)


def test_unknown_types_are_refused_by_name() -> None:
    data = sio.dumps({"format": 1, "payload": NotAModel()})
    with pytest.raises(persistence.UntrustedArtifactError, match=r"unknown types: .*NotAModel"):
        persistence.loads(data)


def test_a_pickle_or_garbage_is_not_an_artifact() -> None:
    with pytest.raises(persistence.UntrustedArtifactError, match="not a skops model artifact"):
        persistence.loads(b"\x80\x04\x95not a zip at all")


def test_a_skops_file_that_is_not_a_bundle_is_refused() -> None:
    with pytest.raises(persistence.UntrustedArtifactError, match="not a model bundle"):
        persistence.loads(sio.dumps({"format": 99}))


OLD_BASELINE = Path(__file__).with_name("data") / "baseline-20261123-3fd4477e.skops"


def test_a_bundle_saved_before_purchase_history_still_loads_and_scores(rows: list[dict]) -> None:
    """A registry keeps models from earlier versions: the shipped baseline of 2026-11-23 had
    26 fixed features, no lifetime value and a loyalty part; it must keep serving."""
    old = persistence.loads(OLD_BASELINE.read_bytes())
    assert old.purchases is None
    assert old.churn_evaluated is None
    assert old.evaluated().churn is old.churn
    scorer = Scorer(old)
    scores = scorer.score(rows)
    np.testing.assert_allclose([s.churn_probability for s in scores], old.predict_churn(rows), atol=1e-9)
    assert all(s.loyalty_probability is not None for s in scores)
    assert all(s.expected_purchases is None for s in scores)
    assert scores[0].lifetime_value_unavailable is not None
    assert "no lifetime-value part" in scores[0].lifetime_value_unavailable
    # its card's band edges were rounded to 6 decimals; it bands by them as stored
    edges = old.card.band_edges()
    assert [scorer.risk_band(edge) for edge in edges] == ["medium", "high", "critical"]


def test_round_trip_keeps_the_lifetime_value_models_and_the_evaluated_ones(
    bundle: ModelBundle, rows: list[dict]
) -> None:
    loaded = persistence.loads(persistence.dumps(bundle))
    assert loaded.purchases is not None
    assert loaded.purchases.parameters() == bundle.purchases.parameters()
    assert loaded.churn_evaluated is not None
    np.testing.assert_array_equal(
        Scorer(loaded.evaluated()).churn_probability(rows), Scorer(bundle.evaluated()).churn_probability(rows)
    )
    assert [s.expected_value for s in Scorer(loaded).score(rows)] == [
        s.expected_value for s in Scorer(bundle).score(rows)
    ]
