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
