"""Customer lifetime value from purchase history: the "buy till you die" models.

- `BetaGeometricNBD`: how many repeat purchases a customer makes and whether they are
  still a customer ("alive"). Fader, Hardie & Lee (2005), "Counting Your Customers the
  Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.
  While alive, a customer buys at rate λ ~ Gamma(r, α); after each repeat purchase they
  leave for good with probability p ~ Beta(a, b).
- `GammaGammaSpend`: the mean value of a customer's repeat orders. Fader, Hardie & Lee
  (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", JMR 42(4);
  Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (note 025). Assumes
  spend per order is independent of how often a customer buys.
- `CustomerLifetimeValue`: both, for one horizon: P(alive), P(no purchase within the
  horizon) (the churn probability of a business without contracts), expected purchases,
  expected order value and expected value.

Both models are fitted by maximum likelihood (L-BFGS on the log-parameters, analytic
gradients; `ml._btyd` holds the formulas). Their input is one row per customer, built
by `summarize_purchases`: frequency x (repeat purchases: purchase days after the first),
recency t_x (days from the first to the last purchase), age T (days from the first
purchase to the cut-off) and monetary value (mean value of the repeat purchase days).
The BG/NBD part works in any time unit (α is in that unit); `CustomerLifetimeValue` is
in days, so that its horizon and discount rate mean what they say.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from ml import _btyd
from ml._summaries import SUMMARY_COLUMNS, PurchaseSummary, count_purchase_days, summarize_purchases

__all__ = [
    "SUMMARY_COLUMNS",
    "BetaGeometricNBD",
    "CustomerLifetimeValue",
    "Forecast",
    "GammaGammaSpend",
    "PurchaseSummary",
    "count_purchase_days",
    "summarize_purchases",
]

# log-parameters are kept within ±this (in rescaled units): e^30 is past any real data,
# and a bound keeps a degenerate likelihood from walking to overflow
_LOG_BOUND = 30.0
_DAYS_PER_YEAR = 365.25
_DISCOUNT_STEP_DAYS = 30.0


def _summary_columns(customers: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """The columns of `customers` as float arrays, after the checks every model needs."""
    matrix = np.asarray(customers, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] != len(names):
        raise ValueError(
            f"expected one row per customer with columns {', '.join(names)}; got shape {matrix.shape}"
        )
    if not np.isfinite(matrix).all():
        raise ValueError("customer summaries must be finite numbers (no NaN or infinity)")
    columns = tuple(matrix[:, j] for j in range(len(names)))
    frequency = columns[0]
    if (frequency < 0).any() or (frequency != np.round(frequency)).any():
        raise ValueError("frequency counts repeat purchases: a whole number, 0 or more")
    if "recency" in names:
        recency, age = columns[1], columns[2]
        if (recency < 0).any() or (recency > age).any():
            raise ValueError("recency must lie between 0 and age (time since the first purchase)")
        if (recency[frequency == 0] != 0).any():
            raise ValueError(
                "a customer with no repeat purchase has recency 0 (their only purchase starts the clock)"
            )
    if "monetary_value" in names and (columns[-1] < 0).any():
        raise ValueError("monetary_value (mean repeat-purchase value) must not be negative")
    return columns


def _maximize(
    log_likelihood: Callable[[np.ndarray], tuple[float, np.ndarray]],
    start: np.ndarray,
    *,
    weight_total: float,
    max_iter: int,
    tol: float,
    model: str,
) -> tuple[np.ndarray, float, int]:
    """Maximise a log-likelihood over bounded log-parameters; warn if the optimiser stopped early."""

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ll, gradient = log_likelihood(theta)
        return (
            -ll / weight_total,
            -gradient / weight_total,
        )  # per customer: tolerances mean the same at any size

    result = minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(start),
        options={"maxiter": max_iter, "ftol": tol, "gtol": tol},
    )
    if not np.isfinite(result.fun) or not np.isfinite(result.x).all():
        raise ValueError(f"{model}: the likelihood could not be evaluated at the optimum ({result.message})")
    if not result.success:
        warnings.warn(
            f"{model}: the optimiser stopped early: {result.message}", ConvergenceWarning, stacklevel=3
        )
    if (np.abs(result.x) > _LOG_BOUND - 1e-6).any():
        warnings.warn(
            f"{model}: a parameter went to the edge of its range (e^±{_LOG_BOUND:.0f}): the data fit a "
            "limiting case of the model (e.g. nobody leaves); forecasts are that limit's",
            ConvergenceWarning,
            stacklevel=3,
        )
    return result.x, -result.fun * weight_total, result.nit


class BetaGeometricNBD(BaseEstimator):
    """BG/NBD: repeat purchases and P(alive) from frequency, recency and age (any time unit).

    Fitted parameters `r_`, `alpha_` (in the data's time unit), `a_`, `b_`, and the
    log-likelihood `log_likelihood_` (the paper's, comparable with its tables).
    """

    def __init__(self, *, max_iter: int = 1000, tol: float = 1e-12) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, customers: np.ndarray, y: None = None) -> Self:
        """Maximum likelihood over the rows [frequency, recency, age]."""
        x, t_x, age = _summary_columns(customers, SUMMARY_COLUMNS[:3])
        if not (x > 0).any():
            raise ValueError(
                "BG/NBD needs customers with repeat purchases: with none, how often customers buy "
                "and how soon they leave cannot be told apart (every one is a one-time buyer so far)"
            )
        # identical rows count once with a weight; times in units of the mean age, so the
        # start point and the tolerances suit days, weeks or years alike
        if not age.mean() > 0:
            raise ValueError("every customer's age is 0: nobody has been a customer for any time yet")
        rows, weight = np.unique(np.column_stack([x, t_x, age]), axis=0, return_counts=True)
        scale = float(age.mean())
        x, t_x, age = rows[:, 0], rows[:, 1] / scale, rows[:, 2] / scale
        weight = weight.astype(float)
        rate = (weight @ x) / (weight @ age)  # repeat purchases per unit of time: sets α's start
        theta, ll, self.n_iter_ = _maximize(
            lambda theta: _btyd.bgnbd_log_likelihood(theta, x, t_x, age, weight),
            np.array([0.0, -np.log(rate), 0.0, 0.0]),
            weight_total=float(weight.sum()),
            max_iter=self.max_iter,
            tol=self.tol,
            model="BG/NBD",
        )
        r, alpha, a, b = np.exp(theta)
        self.r_, self.alpha_, self.a_, self.b_ = float(r), float(alpha * scale), float(a), float(b)
        # each repeat purchase's density is per unit of time: back to the caller's unit
        self.log_likelihood_ = float(ll - (weight @ x) * np.log(scale))
        self.n_customers_ = int(weight.sum())
        return self

    def _params(self) -> tuple[float, float, float, float]:
        check_is_fitted(self, "r_")
        return self.r_, self.alpha_, self.a_, self.b_

    def probability_alive(self, customers: np.ndarray) -> np.ndarray:
        """P(still a customer at the cut-off | history); 1 for customers with no repeat purchase."""
        x, t_x, age = _summary_columns(customers, SUMMARY_COLUMNS[:3])
        return _btyd.bgnbd_alive(self._params(), x=x, t_x=t_x, age=age)

    def probability_no_purchase(self, customers: np.ndarray, *, horizon: float) -> np.ndarray:
        """P(no purchase in the `horizon` after the cut-off | history): churn without contracts."""
        x, t_x, age = _summary_columns(customers, SUMMARY_COLUMNS[:3])
        return _btyd.bgnbd_no_purchase(self._params(), x=x, t_x=t_x, age=age, horizon=horizon)

    def expected_purchases(self, customers: np.ndarray, *, horizon: float) -> np.ndarray:
        """E[purchases in the `horizon` after the cut-off | history] (eq. 10)."""
        x, t_x, age = _summary_columns(customers, SUMMARY_COLUMNS[:3])
        return _btyd.bgnbd_expected_purchases(self._params(), x=x, t_x=t_x, age=age, horizon=horizon)

    def expected_purchases_new_customer(self, horizon: float) -> float:
        """E[repeat purchases in (0, t]] for a customer just acquired (eq. 7)."""
        zero = np.zeros(1)
        return float(
            _btyd.bgnbd_expected_purchases(self._params(), x=zero, t_x=zero, age=zero, horizon=horizon)[0]
        )

    def score(self, customers: np.ndarray, y: None = None) -> float:
        """Mean log-likelihood per customer (higher is better, as scikit-learn's `score`)."""
        x, t_x, age = _summary_columns(customers, SUMMARY_COLUMNS[:3])
        r, alpha, a, b = self._params()
        ll, _ = _btyd.bgnbd_log_likelihood(np.log([r, alpha, a, b]), x, t_x, age, np.ones(len(x)))
        return ll / len(x)


class GammaGammaSpend(BaseEstimator):
    """Gamma-Gamma: expected mean order value from [frequency, monetary_value].

    Fitted on repeat buyers with a positive mean value (the first purchase is not
    used, as in the literature); `p_`, `q_`, `gamma_` (in the money unit), and
    `mean_order_value_` = pγ/(q−1), the forecast for a customer with no repeat yet.
    """

    def __init__(self, *, max_iter: int = 1000, tol: float = 1e-12) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, customers: np.ndarray, y: None = None) -> Self:
        x, value = _summary_columns(customers, (SUMMARY_COLUMNS[0], SUMMARY_COLUMNS[3]))
        used = (x > 0) & (value > 0)
        if used.sum() < 2:
            raise ValueError(
                "Gamma-Gamma needs at least two customers with a repeat purchase of positive value "
                f"to tell spend per order from its spread; there are {int(used.sum())}"
            )
        x, value = x[used], value[used]
        if np.ptp(value) == 0:
            raise ValueError("every repeat buyer's mean order value is the same: spend has no spread to fit")
        scale = float(value.mean())
        theta, ll, self.n_iter_ = _maximize(
            lambda theta: _btyd.gamma_gamma_log_likelihood(theta, x, value / scale),
            np.array([0.0, np.log(2.0), 0.0]),  # p = 1, q = 2, γ = 1: a population mean of one scale
            weight_total=float(len(x)),
            max_iter=self.max_iter,
            tol=self.tol,
            model="Gamma-Gamma",
        )
        p, q, gamma = np.exp(theta)
        if q <= 1:
            raise ValueError(
                f"Gamma-Gamma fitted q = {q:.3f} <= 1: mean order values are so heavy-tailed that the "
                "population's mean is infinite; cap or exclude extreme orders, or use another spend model"
            )
        self.p_, self.q_, self.gamma_ = float(p), float(q), float(gamma * scale)
        self.mean_order_value_ = self.p_ * self.gamma_ / (self.q_ - 1)
        self.log_likelihood_ = float(ll - len(x) * np.log(scale))  # the density of z̄ is per money unit
        self.n_customers_ = len(x)
        return self

    def expected_order_value(self, customers: np.ndarray) -> np.ndarray:
        """E[mean value of future orders | x, mean repeat value]; the population mean for x = 0."""
        check_is_fitted(self, "p_")
        x, value = _summary_columns(customers, (SUMMARY_COLUMNS[0], SUMMARY_COLUMNS[3]))
        return _btyd.gamma_gamma_expected_value((self.p_, self.q_, self.gamma_), x=x, mean_value=value)


@dataclass(frozen=True, kw_only=True)
class Forecast:
    """Per customer, over the model's horizon after the cut-off."""

    alive: np.ndarray  # P(still a customer at the cut-off)
    churn: np.ndarray  # P(no purchase within the horizon)
    purchases: np.ndarray  # expected purchase days within the horizon
    order_value: np.ndarray  # expected mean order value
    value: np.ndarray  # expected value within the horizon, discounted if the model says so


class CustomerLifetimeValue(BaseEstimator):
    """BG/NBD and Gamma-Gamma over [frequency, recency, age, monetary_value] in days.

    `horizon` (days) is the window every forecast is about. Expected value is expected
    purchases times expected order value (the two models are independent by
    assumption). With `annual_discount_rate` d > 0, the purchases expected in each
    30-day step are discounted to the step's end by (1+d)^−(days/365.25); with 0, money
    later counts as money now.
    """

    def __init__(self, *, horizon: float = 90.0, annual_discount_rate: float = 0.0) -> None:
        self.horizon = horizon
        self.annual_discount_rate = annual_discount_rate

    def fit(self, customers: np.ndarray, y: None = None) -> Self:
        if not self.horizon > 0:
            raise ValueError(f"horizon must be a positive number of days, not {self.horizon}")
        if not self.annual_discount_rate >= 0:
            raise ValueError(f"annual_discount_rate must be 0 or more, not {self.annual_discount_rate}")
        frequency, recency, age, value = _summary_columns(customers, SUMMARY_COLUMNS)
        self.transactions_ = BetaGeometricNBD().fit(np.column_stack([frequency, recency, age]))
        self.spend_ = GammaGammaSpend().fit(np.column_stack([frequency, value]))
        return self

    def forecast(self, customers: np.ndarray) -> Forecast:
        check_is_fitted(self, "spend_")
        frequency, recency, age, value = _summary_columns(customers, SUMMARY_COLUMNS)
        history = np.column_stack([frequency, recency, age])
        transactions = self.transactions_
        order_value = self.spend_.expected_order_value(np.column_stack([frequency, value]))
        purchases = transactions.expected_purchases(history, horizon=self.horizon)
        return Forecast(
            alive=transactions.probability_alive(history),
            churn=transactions.probability_no_purchase(history, horizon=self.horizon),
            purchases=purchases,
            order_value=order_value,
            value=order_value * self._discounted_purchases(history, purchases),
        )

    def churn_probability(self, customers: np.ndarray) -> np.ndarray:
        """P(no purchase within the horizon | history), the BG/NBD churn baseline."""
        check_is_fitted(self, "transactions_")
        history = np.column_stack(_summary_columns(customers, SUMMARY_COLUMNS)[:3])
        return self.transactions_.probability_no_purchase(history, horizon=self.horizon)

    def expected_value(self, customers: np.ndarray) -> np.ndarray:
        return self.forecast(customers).value

    def _discounted_purchases(self, history: np.ndarray, purchases: np.ndarray) -> np.ndarray:
        if self.annual_discount_rate == 0:
            return purchases
        ends = np.append(np.arange(_DISCOUNT_STEP_DAYS, self.horizon, _DISCOUNT_STEP_DAYS), self.horizon)
        so_far = [self.transactions_.expected_purchases(history, horizon=end) for end in ends[:-1]]
        cumulative = np.vstack([np.zeros(len(history)), *so_far, purchases])
        factors = (1 + self.annual_discount_rate) ** (-ends / _DAYS_PER_YEAR)
        return factors @ np.diff(cumulative, axis=0)
