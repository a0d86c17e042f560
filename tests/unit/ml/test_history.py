"""The purchase-history models in a bundle: summaries from feature rows, and forecasts that are
the ml/clv.py estimators' own."""

import math

import numpy as np
import pytest

from ml.clv import summarize_purchases
from ml.history import NO_PURCHASE_COLUMN, PurchaseModel, add_purchase_rhythm, purchase_rhythm, summaries


def _rows(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        days = int(rng.poisson(2.5))
        first = float(rng.integers(10, 600))
        last = first if days <= 1 else float(rng.integers(0, int(first)))
        rows.append(
            {
                "purchase_days": days,
                "days_since_first_purchase": first if days else None,
                "days_since_last_purchase": last if days else None,
                "repeat_purchase_value": float(rng.lognormal(3, 0.5)) if days > 1 else None,
            }
        )
    return rows


def test_summaries_are_what_ml_clv_makes_of_the_same_purchases() -> None:
    """One customer bought on days 0, 0, 30 and 100 (of 200): the feature row says 3 purchase
    days, first 200 and last 100 days ago, repeat days worth 20 and 40."""
    row = {
        "purchase_days": 3,
        "days_since_first_purchase": 200,
        "days_since_last_purchase": 100,
        "repeat_purchase_value": 30.0,
    }
    bought, matrix = summaries([row, {"purchase_days": 0}, {"purchase_days": "x"}])
    days = np.array(["2026-01-01", "2026-01-01", "2026-01-31", "2026-04-11"], dtype="datetime64[D]")
    reference = summarize_purchases(np.zeros(4), days, np.array([5.0, 5.0, 20.0, 40.0]), cutoff="2026-07-20")
    assert bought.tolist() == [True, False, False]
    np.testing.assert_array_equal(matrix[0], reference.matrix()[0])
    np.testing.assert_array_equal(matrix[1:], 0.0)


def test_forecasts_are_the_estimators_own() -> None:
    rows = _rows(3000, 1)
    bought, matrix = summaries(rows)
    model = PurchaseModel(horizon_days=90).fit(matrix[bought])
    forecast = model.forecast(bought, matrix)
    history = matrix[bought, :3]
    t = model.transactions_
    np.testing.assert_allclose(forecast.alive[bought], t.probability_alive(history), rtol=1e-12)
    np.testing.assert_allclose(
        forecast.no_purchase[bought], t.probability_no_purchase(history, horizon=90), rtol=1e-12
    )
    np.testing.assert_allclose(
        forecast.purchases[bought], t.expected_purchases(history, horizon=90), rtol=1e-12
    )
    order_value = model.spend_.expected_order_value(matrix[bought][:, [0, 3]])
    np.testing.assert_allclose(forecast.value[bought], forecast.purchases[bought] * order_value, rtol=1e-12)
    assert np.isnan(forecast.alive[~bought]).all()


def test_without_amounts_purchases_are_still_forecast_and_value_is_not() -> None:
    rows = [{**row, "repeat_purchase_value": None} for row in _rows(2000, 2)]
    bought, matrix = summaries(rows)
    model = PurchaseModel(horizon_days=30).fit(matrix[bought])
    assert model.spend_ is None
    assert "Gamma-Gamma needs" in model.spend_unavailable_
    forecast = model.forecast(bought, matrix)
    assert np.isfinite(forecast.purchases[bought]).all()
    assert np.isnan(forecast.value).all()


def test_too_few_repeat_buyers_is_said_not_raised_later() -> None:
    with pytest.raises(ValueError, match="at least 20 customers with a repeat purchase"):
        PurchaseModel().fit(np.array([[0.0, 0.0, 30.0, 0.0]] * 100))


def test_rows_carry_the_rhythm_of_their_own_moment_and_keep_it() -> None:
    rows = _rows(1500, 3)
    model = add_purchase_rhythm(rows, horizon_days=90)
    assert model is not None
    own = [row[NO_PURCHASE_COLUMN] for row in rows]
    assert all(math.isnan(value) for row, value in zip(rows, own, strict=True) if not row["purchase_days"])
    other = PurchaseModel(horizon_days=30).fit(summaries(rows)[1][summaries(rows)[0]])
    # a row that carries its rhythm keeps it; one that does not gets the model's
    buyers = [i for i, row in enumerate(rows) if row["purchase_days"] >= 2][:5]
    carried = [rows[i] for i in buyers]
    assert purchase_rhythm(carried, other) == [own[i] for i in buyers]
    fresh = [{k: v for k, v in row.items() if k != NO_PURCHASE_COLUMN} for row in carried]
    np.testing.assert_allclose(
        purchase_rhythm(fresh, other), other.no_purchase_logit(*summaries(fresh)), rtol=0, atol=0
    )
    assert all(a != b for a, b in zip(purchase_rhythm(fresh, other), [own[i] for i in buyers], strict=True))
