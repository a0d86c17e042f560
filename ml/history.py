"""Purchase history in a bundle: the lifetime-value models fitted on the feature rows.

The feature query returns each customer's purchase history summarised as the BTYD models
read it (purchase days, days since the first and the last, mean value of the repeat
days), so the same rows train the churn models and feed `PurchaseModel`, a BG/NBD for
purchases and P(alive) and, when purchases carry amounts, a Gamma-Gamma for their value
(ml/clv.py). It gives every score its lifetime value over the horizon, and one feature:
the BG/NBD's chance of no purchase within the horizon, in log-odds (`clv:no_purchase`),
which the churn candidates may learn from (and the `bgnbd` candidate is made of alone).

That feature is point-in-time: a row carries it from a model fitted on what was known at
the row's moment. Training fits one per cut-off (`add_purchase_rhythm`), so no training
row learns from later purchases; the bundle keeps the one fitted as of the training run's
moment, and the scorer fills the feature in from it for rows that do not carry it.
"""

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Self

import numpy as np
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from ml import _btyd
from ml.clv import BetaGeometricNBD, GammaGammaSpend

# the feature column the BG/NBD gives (its group and name in the matrix)
NO_PURCHASE_COLUMN = "clv:no_purchase"
# fewer than this many customers with a repeat purchase cannot tell rate from drop-out
MIN_REPEAT_BUYERS = 20
# probabilities are kept this far from 0 and 1 before taking log-odds
_EPSILON = 1e-6
_SUMMARY_NAMES = (
    "purchase_days",
    "days_since_first_purchase",
    "days_since_last_purchase",
    "repeat_purchase_value",
)
_SUMMARY_KEYS = itemgetter(*_SUMMARY_NAMES)


def no_purchase_label(horizon_days: int) -> str:
    return f"Chance of no purchase in the next {horizon_days} days, from the purchase rhythm (BG/NBD)"


def summaries(rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(bought, matrix): which rows have a purchase, and their [frequency, recency, age,
    monetary value] in days, as ml/clv.py reads them (rows without a purchase get zeros)."""
    try:  # rows from the feature query: numbers or None (NaN), one conversion
        raw = np.array([_SUMMARY_KEYS(row) for row in rows], dtype=float).reshape(len(rows), 4)
    except (KeyError, TypeError, ValueError):
        raw = np.array(
            [[_number(row.get(key)) for key in _SUMMARY_NAMES] for row in rows], dtype=float
        ).reshape(len(rows), 4)
    raw[~np.isfinite(raw)] = math.nan
    days = raw[:, 0]  # a view: no purchase days means none (np.nan_to_num costs 10 µs a call)
    days[np.isnan(days)] = 0.0
    days, first, last, value = raw.T
    bought = (days >= 1) & np.isfinite(first) & np.isfinite(last) & (first >= last) & (last >= 0)
    frequency = np.where(bought, np.floor(days) - 1, 0.0)
    recency = np.where(bought & (frequency > 0), first - last, 0.0)
    age = np.where(bought, first, 0.0)
    spend = np.where(bought & (frequency > 0) & np.isfinite(value), np.maximum(value, 0.0), 0.0)
    return bought, np.column_stack([frequency, recency, age, spend])


@dataclass(frozen=True, kw_only=True)
class Forecast:
    """Per row over the horizon; NaN where the row has no purchase (or no spend model)."""

    alive: np.ndarray
    no_purchase: np.ndarray
    purchases: np.ndarray
    value: np.ndarray


class PurchaseModel(BaseEstimator):
    """BG/NBD (and Gamma-Gamma when amounts allow) over summary rows in days.

    `transactions_` is the fitted BetaGeometricNBD; `spend_` the GammaGammaSpend, or None
    with `spend_unavailable_` saying why (purchases sent without amounts, say): purchases
    and P(alive) are still forecast, value is not.
    """

    def __init__(self, *, horizon_days: int = 90) -> None:
        self.horizon_days = horizon_days

    def fit(self, matrix: np.ndarray, y: None = None) -> Self:
        repeat_buyers = int((matrix[:, 0] > 0).sum())
        if repeat_buyers < MIN_REPEAT_BUYERS:
            raise ValueError(
                f"the purchase-history model needs at least {MIN_REPEAT_BUYERS} customers with a repeat "
                f"purchase; the training rows have {repeat_buyers}"
            )
        with warnings.catch_warnings():
            # a limiting case (nobody leaves) still forecasts; the card shows the parameters
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.transactions_ = BetaGeometricNBD().fit(matrix[:, :3])
            try:
                self.spend_: GammaGammaSpend | None = GammaGammaSpend().fit(matrix[:, [0, 3]])
                self.spend_unavailable_: str | None = None
            except ValueError as error:
                self.spend_, self.spend_unavailable_ = None, str(error)
        self.customers_ = len(matrix)
        self.repeat_buyers_ = repeat_buyers
        return self

    def no_purchase_logit(self, bought: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """log-odds of no purchase within the horizon; NaN for rows with no purchase yet."""
        check_is_fitted(self, "transactions_")
        out = np.full(len(matrix), math.nan)
        if bought.any():
            p = self.transactions_.probability_no_purchase(matrix[bought, :3], horizon=self.horizon_days)
            out[bought] = to_logit(p)
        return out

    def forecast(self, bought: np.ndarray, matrix: np.ndarray) -> Forecast:
        """The models' closed forms (ml/_btyd.py) on rows `summaries` built and checked: on the
        scoring path the estimators' own checks and P(alive), computed once per call of each,
        cost more than the arithmetic (115 µs for one customer, now 40)."""
        check_is_fitted(self, "transactions_")
        n = len(matrix)
        alive, no_purchase, purchases, value = (np.full(n, math.nan) for _ in range(4))
        if bought.any():
            x, t_x, age, spend = matrix[bought].T
            t, horizon = self.transactions_, float(self.horizon_days)
            params = (t.r_, t.alpha_, t.a_, t.b_)
            p_alive = _btyd.bgnbd_alive(params, x=x, t_x=t_x, age=age)
            buys_if_alive = -np.expm1(-(t.r_ + x) * np.log1p(horizon / (t.alpha_ + age)))
            alive[bought] = p_alive
            no_purchase[bought] = 1.0 - p_alive * buys_if_alive
            purchases[bought] = p_alive * _btyd._purchases_if_alive(params, x=x, age=age, horizon=horizon)
            if self.spend_ is not None:
                g = self.spend_
                order_value = _btyd.gamma_gamma_expected_value((g.p_, g.q_, g.gamma_), x=x, mean_value=spend)
                value[bought] = purchases[bought] * order_value
        return Forecast(alive=alive, no_purchase=no_purchase, purchases=purchases, value=value)

    def parameters(self) -> dict[str, float]:
        check_is_fitted(self, "transactions_")
        t = self.transactions_
        figures = {"r": t.r_, "alpha_days": t.alpha_, "a": t.a_, "b": t.b_}
        if self.spend_ is not None:
            figures |= {"p": self.spend_.p_, "q": self.spend_.q_, "gamma": self.spend_.gamma_}
        return figures


def fit_purchase_model(
    rows: Sequence[Mapping[str, Any]], *, horizon_days: int
) -> tuple[PurchaseModel | None, str | None]:
    """(the model fitted on the rows' purchase histories, None) or (None, why it cannot be)."""
    bought, matrix = summaries(rows)
    try:
        return PurchaseModel(horizon_days=horizon_days).fit(matrix[bought]), None
    except ValueError as error:
        return None, str(error)


def add_purchase_rhythm(rows: Sequence[dict[str, Any]], *, horizon_days: int) -> PurchaseModel | None:
    """Give every row `clv:no_purchase` from a model fitted on these rows alone (one moment's
    population, as a training cut-off or a holdout sees it): NaN where it cannot be told."""
    model, _ = fit_purchase_model(rows, horizon_days=horizon_days)
    values = (
        model.no_purchase_logit(*summaries(rows)) if model is not None else np.full(len(rows), math.nan)
    ).tolist()
    for row, value in zip(rows, values, strict=True):
        row[NO_PURCHASE_COLUMN] = value
    return model


def purchase_rhythm(rows: Sequence[Mapping[str, Any]], model: PurchaseModel | None) -> list[float]:
    """Each row's `clv:no_purchase`: its own where it carries one, else from `model`."""
    values: list[float] = [row.get(NO_PURCHASE_COLUMN, math.nan) for row in rows]
    lacking = [i for i, row in enumerate(rows) if NO_PURCHASE_COLUMN not in row]
    if lacking and model is not None:
        computed = model.no_purchase_logit(*summaries([rows[i] for i in lacking])).tolist()
        for i, value in zip(lacking, computed, strict=True):
            values[i] = value
    return values


def to_logit(probabilities: np.ndarray) -> np.ndarray:
    """log-odds, kept finite (NaN stays NaN)."""
    return logit(np.clip(probabilities, _EPSILON, 1 - _EPSILON))


def no_purchase_probability(logits: np.ndarray) -> np.ndarray:
    return expit(logits)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


class NoPurchaseScore(ClassifierMixin, BaseEstimator):
    """The `bgnbd` churn candidate: the BG/NBD's log-odds column as it is, a decision value
    that CalibratedClassifierCV recalibrates (Platt) on the training windows like the others."""

    def __init__(self, *, column: int = 0) -> None:
        self.column = column

    def fit(self, x: np.ndarray, y: np.ndarray) -> Self:
        self.classes_ = np.unique(y)
        self.n_features_in_ = np.shape(x)[1]
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "classes_")
        return np.asarray(x, dtype=float)[:, self.column]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[(self.decision_function(x) > 0).astype(int)]
