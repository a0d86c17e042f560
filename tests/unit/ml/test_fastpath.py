import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier

from ml._fastpath import additive_logit


def test_one_row_reads_the_same_bins_as_a_batch() -> None:
    """One row goes through bisect, a batch through one search over (column, edge) pairs:
    same bins, edges, NaN and infinities included."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    x[:, 3] = rng.integers(0, 5, 600)
    y = (x[:, 0] + 0.5 * x[:, 3] + rng.normal(size=600)) > 1
    model = CalibratedClassifierCV(
        HistGradientBoostingClassifier(interaction_cst="no_interactions", max_iter=30, random_state=0),
        method="sigmoid",
        ensemble=False,
    ).fit(x, y)
    logit = additive_logit(model, np.median(x, axis=0))
    edges = np.concatenate(logit.thresholds)
    probes = np.vstack(
        [
            x[:50],
            np.tile(edges[:, None], (1, 4)),
            np.full((1, 4), np.nan),
            np.full((1, 4), np.inf),
            np.full((1, 4), -np.inf),
            np.where(rng.random((20, 4)) < 0.3, np.nan, x[50:70]),
        ]
    )
    batch = logit.parts(probes)
    alone = np.vstack([logit.parts(row[None, :]) for row in probes])
    np.testing.assert_array_equal(alone, batch)
    assert np.abs(batch).max() > 0
