"""BG/NBD and Gamma-Gamma: published CDNOW estimates, the model's own world, its limits."""

import warnings

import numpy as np
import pytest
import skops.io as sio
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import beta as beta_distribution
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ml import _btyd, persistence
from ml.bench_clv import CDNOW_CUTOFF, check_holdout
from ml.clv import (
    BetaGeometricNBD,
    CustomerLifetimeValue,
    GammaGammaSpend,
    PurchaseSummary,
    count_purchase_days,
    summarize_purchases,
)
from ml.datasets import Transactions, load_cdnow_sample_summary, load_cdnow_transactions

# Fader, Hardie & Lee (2005), table 1 / section 5 (times in weeks); Fader & Hardie (2013), note 025
PUBLISHED_BGNBD = {"r_": 0.243, "alpha_": 4.414, "a_": 0.793, "b_": 2.426}
PUBLISHED_LOG_LIKELIHOOD = -9582.4
PUBLISHED_GAMMA_GAMMA = {"p_": 6.25, "q_": 3.74, "gamma_": 15.44}
CDNOW_PARAMS = (0.243, 4.414, 0.793, 2.426)


@pytest.fixture(scope="module")
def sample() -> PurchaseSummary:
    return load_cdnow_sample_summary()


@pytest.fixture(scope="module")
def master() -> Transactions:
    return load_cdnow_transactions()


def bgnbd_columns(summary: PurchaseSummary) -> np.ndarray:
    return summary.matrix()[:, :3]


# -- the published CDNOW figures ---------------------------------------------------------


def test_bgnbd_on_the_cdnow_sample_gives_the_published_estimates(sample: PurchaseSummary) -> None:
    model = BetaGeometricNBD().fit(bgnbd_columns(sample))
    for name, published in PUBLISHED_BGNBD.items():
        assert getattr(model, name) == pytest.approx(published, abs=0.001), name
    assert model.log_likelihood_ == pytest.approx(PUBLISHED_LOG_LIKELIHOOD, abs=0.05)


def test_the_paper_s_conditional_expectation_for_its_example_customer(sample: PurchaseSummary) -> None:
    """x = 2, t_x = 30.43, T = 38.86 weeks: 1.226 purchases expected in the next 39 weeks."""
    model = BetaGeometricNBD().fit(bgnbd_columns(sample))
    expected = model.expected_purchases(np.array([[2, 30.43, 38.86]]), horizon=39)
    assert expected[0] == pytest.approx(1.226, abs=0.0005)


def test_alpha_scales_with_the_time_unit_and_nothing_else_moves(sample: PurchaseSummary) -> None:
    weeks = BetaGeometricNBD().fit(bgnbd_columns(sample))
    days = BetaGeometricNBD().fit(bgnbd_columns(sample) * [1, 7, 7])
    assert days.alpha_ == pytest.approx(7 * weeks.alpha_, rel=1e-4)
    for name in ("r_", "a_", "b_"):
        assert getattr(days, name) == pytest.approx(getattr(weeks, name), rel=1e-4)
    one = np.array([[2, 30.43, 38.86]])
    assert days.expected_purchases(one * [1, 7, 7], horizon=273) == pytest.approx(
        weeks.expected_purchases(one, horizon=39), rel=1e-4
    )


def test_gamma_gamma_on_the_sample_s_repeat_buyers_gives_the_published_estimates(
    sample: PurchaseSummary,
) -> None:
    model = GammaGammaSpend().fit(sample.matrix()[:, [0, 3]])
    assert model.n_customers_ == 946
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert getattr(model, name) == pytest.approx(published, abs=0.01), name  # published to 2 decimals
    # spend shrinks toward the population mean: more toward it the fewer the repeats
    mean = model.mean_order_value_
    one, many = model.expected_order_value(np.array([[1, 100.0], [20, 100.0]]))
    assert mean < one < many < 100
    assert model.expected_order_value(np.array([[0, 0.0]]))[0] == pytest.approx(mean)


def test_summaries_from_the_sample_s_purchases_reproduce_the_published_summary(
    sample: PurchaseSummary,
) -> None:
    """Same-day purchases as one, the first not a repeat, mean repeat value: as the literature."""
    purchases = load_cdnow_transactions(sample=True)
    built = summarize_purchases(purchases.customer_id, purchases.day, purchases.value, cutoff=CDNOW_CUTOFF)
    np.testing.assert_array_equal(built.customer_id, sample.customer_id)
    np.testing.assert_array_equal(built.frequency, sample.frequency)
    # published to two decimals, in weeks
    np.testing.assert_allclose(built.recency / 7, sample.recency, atol=0.005)
    np.testing.assert_allclose(built.age / 7, sample.age, atol=0.005)
    np.testing.assert_allclose(built.monetary_value, sample.monetary_value, atol=0.005)


def test_full_cdnow_time_split_churn_baseline(master: Transactions) -> None:
    """The baseline the service's churn models are compared with (figures in `python -m ml.bench_clv`)."""
    check = check_holdout(master, cutoff=CDNOW_CUTOFF, until="1997-12-29")
    assert check.churn.rows == 23_570
    assert check.churn.base_rate == pytest.approx(0.823, abs=0.001)
    assert check.churn.roc_auc > 0.76
    assert check.churn.brier < 0.12
    assert check.mean_churn_probability == pytest.approx(check.churn.base_rate, abs=0.03)


# -- the model's own world -------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated() -> tuple[np.ndarray, np.ndarray]:
    """200,000 customers drawn from CDNOW's parameters (weeks), with what they did in the next 39 weeks."""
    rng = np.random.default_rng(12)
    age = rng.uniform(27, 39, 200_000)
    x, t_x, future = _btyd.simulate_bgnbd(CDNOW_PARAMS, age=age, horizon=39, rng=rng)
    return np.column_stack([x, t_x, age]), future


def test_the_fit_recovers_the_parameters_it_was_drawn_from(simulated: tuple[np.ndarray, np.ndarray]) -> None:
    history, _ = simulated
    model = BetaGeometricNBD().fit(history)
    fitted = (model.r_, model.alpha_, model.a_, model.b_)
    np.testing.assert_allclose(fitted, CDNOW_PARAMS, rtol=0.1)


def test_forecasts_with_the_true_parameters_match_what_customers_then_did(
    simulated: tuple[np.ndarray, np.ndarray],
) -> None:
    history, future = simulated
    x, t_x, age = history.T
    expected = _btyd.bgnbd_expected_purchases(CDNOW_PARAMS, x=x, t_x=t_x, age=age, horizon=39)
    none = _btyd.bgnbd_no_purchase(CDNOW_PARAMS, x=x, t_x=t_x, age=age, horizon=39)
    # within four standard errors, overall and among customers with the same history length
    for group in (x == 0, x == 1, (x >= 2) & (x < 5), x >= 5):
        error = future[group].std() / np.sqrt(group.sum())
        assert abs(expected[group].mean() - future[group].mean()) < 4 * error
        share = (future[group] == 0).mean()
        assert abs(none[group].mean() - share) < 4 * np.sqrt(share * (1 - share) / group.sum()) + 1e-3


@pytest.mark.parametrize(
    "params",
    [
        CDNOW_PARAMS,
        (2.0, 10.0, 3.0, 5.0),
        (0.5, 1.0, 0.3, 0.5),
        (0.5, 1.0, 0.3, 0.7),
        (0.5, 1.0, 1.00001, 2.0),
    ],
    ids=["cdnow", "a>1", "a+b<1", "a+b=1", "a~1"],
)
def test_expected_purchases_equal_the_integral_they_stand_for(params: tuple[float, ...]) -> None:
    """If alive, E = ∫ (1 − ((α+T)/(α+T+ph))^(r+x)) / p dBeta(p; a, b+x): the closed form's
    ₂F₁, its Euler transformation and the removable singularities at a = 1, a+b = 1."""
    r, alpha, a, b = params
    cases = [(0, 0, 39), (0, 30, 5), (3, 40, 100), (50, 400, 365), (500, 3000, 90)]
    for x, age, horizon in cases:

        def integrand(p: float, x: float = x, age: float = age, horizon: float = horizon) -> float:
            bought = -np.expm1(-(r + x) * np.log1p(p * horizon / (alpha + age)))
            return bought / p * beta_distribution.pdf(p, a, b + x)

        if_alive = integrate.quad(integrand, 0, 1, limit=200, epsrel=1e-10)[0]
        customer = {"x": np.array([float(x)]), "t_x": np.array([0.0]), "age": np.array([float(age)])}
        alive = _btyd.bgnbd_alive(params, **customer)[0]
        closed = _btyd.bgnbd_expected_purchases(params, **customer, horizon=horizon)[0]
        assert closed == pytest.approx(alive * if_alive, rel=1e-6)


def test_the_numerical_fallback_agrees_with_the_closed_form_where_both_work() -> None:
    x, age = np.array([0.0, 1, 3, 10, 200]), np.array([10.0, 50, 100, 200, 3000])
    for params in (CDNOW_PARAMS, (2.0, 10.0, 3.0, 5.0), (20.0, 100.0, 50.0, 200.0), (0.3, 10.0, 0.05, 0.01)):
        numeric = _btyd._purchases_if_alive_numerically(params, x=x, age=age, horizon=90)
        closed = _btyd._purchases_if_alive(params, x=x, age=age, horizon=90)
        np.testing.assert_allclose(numeric, closed, rtol=1e-6)


def test_where_scipy_s_hypergeometric_function_fails_the_forecast_does_not() -> None:
    # r − a a whole number: ₂F₁(4, 4; 104; 14/15) comes back infinite from scipy
    whole = _btyd._purchases_if_alive(
        (1.0, 0.5, 5.0, 1.0), x=np.array([99.0]), age=np.array([0.5]), horizon=14
    )
    assert whole[0] == pytest.approx(25.99940351116553, rel=1e-7)  # mpmath, 40 digits
    # a in the thousands (a fit run to the edge): scipy gives NaN; integrate over the Beta's quantiles
    r, alpha, a, b = params = (0.05, 16.7, 1e4, 50.0)
    for x, age, horizon in ((0, 100, 90), (3, 200, 90), (500, 3000, 365)):

        def integrand(u: float, x: float = x, age: float = age, horizon: float = horizon) -> float:
            p = beta_distribution.ppf(u, a, b + x)
            return -np.expm1(-(r + x) * np.log1p(p * horizon / (alpha + age))) / p

        truth = integrate.quad(integrand, 0, 1, limit=200, epsrel=1e-10)[0]
        got = _btyd._purchases_if_alive(
            params, x=np.array([float(x)]), age=np.array([float(age)]), horizon=horizon
        )
        assert got[0] == pytest.approx(truth, rel=1e-6)


# -- properties -------------------------------------------------------------------------------

params_strategy = st.tuples(
    st.floats(0.01, 50),  # r
    st.floats(0.1, 500),  # alpha
    st.floats(0.01, 50),  # a
    st.floats(0.01, 100),  # b
)
customer_strategy = st.tuples(
    st.integers(0, 2000),  # x
    st.floats(0, 1),  # t_x as a share of T
    st.floats(0, 3650),  # T
).map(lambda c: (float(c[0]), c[1] * c[2] if c[0] > 0 else 0.0, c[2]))


def one(customer: tuple[float, float, float]) -> dict[str, np.ndarray]:
    x, t_x, age = customer
    return {"x": np.array([x]), "t_x": np.array([t_x]), "age": np.array([age])}


@settings(max_examples=300, deadline=None, database=None)
@given(params=params_strategy, customer=customer_strategy, horizon=st.floats(0.5, 730))
def test_probabilities_are_probabilities_and_forecasts_grow_with_the_horizon(
    params: tuple[float, ...], customer: tuple[float, float, float], horizon: float
) -> None:
    c = one(customer)
    alive = _btyd.bgnbd_alive(params, **c)[0]
    assert 0 <= alive <= 1
    if customer[0] == 0:
        assert alive == 1  # BG/NBD only lets customers leave right after a repeat purchase
    shorter, longer = horizon, 2 * horizon
    none_short = _btyd.bgnbd_no_purchase(params, **c, horizon=shorter)[0]
    none_long = _btyd.bgnbd_no_purchase(params, **c, horizon=longer)[0]
    assert 1 - alive - 1e-12 <= none_long <= none_short <= 1
    buys_short = _btyd.bgnbd_expected_purchases(params, **c, horizon=shorter)[0]
    buys_long = _btyd.bgnbd_expected_purchases(params, **c, horizon=longer)[0]
    assert np.isfinite(buys_long)
    assert 0 <= buys_short <= buys_long * (1 + 1e-6) + 1e-12
    # no more than a customer certainly alive, never leaving, at the posterior mean rate
    r, alpha, _, _ = params
    assert buys_long <= alive * (r + customer[0]) * longer / (alpha + customer[2]) * (1 + 1e-6)
    # at least one purchase is expected whenever one is probable
    assert buys_long >= (1 - none_long) * (1 - 1e-6) - 1e-12


@settings(max_examples=200, deadline=None, database=None)
@given(params=params_strategy, x=st.integers(1, 500), silence=st.floats(1, 1000), age=st.floats(1, 2000))
def test_a_longer_silence_makes_a_customer_less_likely_alive(
    params: tuple[float, ...], x: int, silence: float, age: float
) -> None:
    t_x = np.array([age, age])  # last purchase at T, or `silence` longer ago in an older customer
    ages = np.array([age, age + silence])
    alive = _btyd.bgnbd_alive(params, x=np.full(2, float(x)), t_x=t_x, age=ages)
    assert alive[1] <= alive[0]


def test_the_log_likelihood_gradient_is_the_log_likelihood_s(sample: PurchaseSummary) -> None:
    x, t_x, age = bgnbd_columns(sample).T
    weight = np.ones(len(x))
    theta = np.log([0.4, 3.0, 1.2, 1.7])
    _, gradient = _btyd.bgnbd_log_likelihood(theta, x, t_x, age, weight)
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6
        up = _btyd.bgnbd_log_likelihood(theta + step, x, t_x, age, weight)[0]
        down = _btyd.bgnbd_log_likelihood(theta - step, x, t_x, age, weight)[0]
        assert gradient[j] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-4)
    spenders = (x > 0) & (sample.monetary_value > 0)
    theta = np.log([3.0, 2.0, 20.0])
    _, gradient = _btyd.gamma_gamma_log_likelihood(theta, x[spenders], sample.monetary_value[spenders])
    for j in range(3):
        step = np.zeros(3)
        step[j] = 1e-6
        up = _btyd.gamma_gamma_log_likelihood(theta + step, x[spenders], sample.monetary_value[spenders])[0]
        down = _btyd.gamma_gamma_log_likelihood(theta - step, x[spenders], sample.monetary_value[spenders])[0]
        assert gradient[j] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-4)


# -- summaries --------------------------------------------------------------------------------


def test_summaries_count_purchase_days_after_the_first_up_to_the_cutoff() -> None:
    ids = np.array(["ann", "ann", "ann", "ann", "bob", "cy", "ann"])
    days = np.array(
        ["2024-01-01", "2024-01-01", "2024-01-11", "2024-01-21", "2024-01-05", "2024-02-01", "2024-02-02"]
    )
    values = np.array([10.0, 5.0, 20.0, 40.0, 7.0, 99.0, 1000.0])
    summary = summarize_purchases(ids, days, values, cutoff="2024-01-31")
    assert summary.customer_id.tolist() == ["ann", "bob"]  # cy's first purchase is after the cut-off
    assert summary.frequency.tolist() == [2, 0]  # two same-day purchases are one; the first is no repeat
    assert summary.recency.tolist() == [20, 0]
    assert summary.age.tolist() == [30, 26]
    assert summary.monetary_value.tolist() == [30, 0]  # mean of the repeats only; 2 Feb not yet known


def test_a_first_purchase_on_the_cutoff_day_is_age_zero_and_empty_input_is_empty() -> None:
    summary = summarize_purchases(
        np.array([1]), np.array(["2024-01-31"]), np.array([5.0]), cutoff="2024-01-31"
    )
    assert (summary.frequency[0], summary.recency[0], summary.age[0]) == (0, 0, 0)
    empty = summarize_purchases(
        np.array([], dtype=int), np.array([], dtype="datetime64[D]"), [], cutoff="2024-01-31"
    )
    assert len(empty) == 0
    assert empty.matrix().shape == (0, 4)


def test_holdout_counts_distinct_purchase_days_in_the_window() -> None:
    ids = np.array([1, 1, 1, 2, 3])
    days = np.array(["2024-02-01", "2024-02-01", "2024-03-15", "2024-01-31", "2024-02-10"])
    counts = count_purchase_days(
        ids, days, customers=np.array([1, 2, 4]), after="2024-01-31", until="2024-02-29"
    )
    assert counts.tolist() == [1, 0, 0]
    nothing = count_purchase_days(ids, days, customers=np.array([1]), after="2025-01-01", until="2025-02-01")
    assert nothing.tolist() == [0]


def test_summaries_refuse_missing_dates_and_values() -> None:
    with pytest.raises(ValueError, match="date and a finite value"):
        summarize_purchases(np.array([1]), np.array(["NaT"]), np.array([1.0]), cutoff="2024-01-01")
    with pytest.raises(ValueError, match="same length"):
        summarize_purchases(np.array([1, 2]), np.array(["2024-01-01"]), np.array([1.0]), cutoff="2024-01-01")


# -- degenerate data --------------------------------------------------------------------------


def test_only_one_time_buyers_is_refused_with_the_reason() -> None:
    history = np.column_stack([np.zeros(50), np.zeros(50), np.linspace(1, 300, 50)])
    with pytest.raises(ValueError, match="repeat purchases"):
        BetaGeometricNBD().fit(history)
    with pytest.raises(ValueError, match="at least two customers with a repeat purchase"):
        GammaGammaSpend().fit(np.column_stack([np.r_[1.0, np.zeros(49)], np.r_[20.0, np.zeros(49)]]))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1, 50, 40]], "recency must lie between 0 and age"),
        ([[0, 5, 40]], "no repeat purchase has recency 0"),
        ([[-1, 0, 40]], "whole number"),
        ([[1.5, 3, 40]], "whole number"),
        ([[1, np.nan, 40]], "finite"),
        ([[1, 3]], "columns frequency, recency, age"),
    ],
)
def test_malformed_summaries_are_refused_with_what_is_wrong(rows: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BetaGeometricNBD().fit(np.array(rows, dtype=float))


def test_degenerate_bases_still_give_finite_forecasts() -> None:
    """Fits that run to a limit of the model (nobody leaves, everyone alike) warn and still forecast."""
    rng = np.random.default_rng(3)
    age = rng.uniform(10, 365, 3000)
    x, t_x, _ = _btyd.simulate_bgnbd((0.5, 30.0, 0.01, 1000.0), age=age, horizon=90, rng=rng)
    bases = {
        "nobody leaves": np.column_stack([x, t_x, age]),
        "one repeat buyer": np.column_stack(
            [np.r_[1, np.zeros(99)], np.r_[5, np.zeros(99)], np.full(100, 100.0)]
        ),
        "identical customers": np.tile([[2, 50, 100.0]], (100, 1)),
        "daily buyers": np.full((100, 3), 99.0),
        "three customers": np.array([[1, 5, 10], [0, 0, 20], [3, 15, 30.0]]),
    }
    for name, history in bases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = BetaGeometricNBD().fit(history)
        for forecast in (
            model.expected_purchases(history, horizon=90),
            model.probability_no_purchase(history, horizon=90),
            model.probability_alive(history),
        ):
            assert np.isfinite(forecast).all(), name
            assert (forecast >= 0).all(), name
    daily = BetaGeometricNBD()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        daily.fit(bases["daily buyers"])
    assert daily.expected_purchases(np.array([[99, 99, 99.0]]), horizon=90)[0] == pytest.approx(90, rel=0.01)


def test_heavy_buyers_over_long_histories_do_not_overflow(sample: PurchaseSummary) -> None:
    model = BetaGeometricNBD().fit(bgnbd_columns(sample))
    # ten years, in weeks: buyers of ~10 and ~38 a week, one of them silent for the last week
    heavy = np.array([[5000, 521, 521], [20000, 521, 521], [20000, 520, 521], [3, 1, 5200], [0, 0, 5200]])
    with np.errstate(all="raise"):
        expected = model.expected_purchases(heavy, horizon=52)
        none = model.probability_no_purchase(heavy, horizon=52)
        alive = model.probability_alive(heavy)
    for forecast in (expected, none, alive):
        assert np.isfinite(forecast).all()
    # still buying at their own pace: close to the rate's posterior mean times the horizon
    ceiling = (model.r_ + heavy[:2, 0]) * 52 / (model.alpha_ + heavy[:2, 2])
    assert (expected[:2] <= ceiling).all()
    assert (expected[:2] > 0.9 * ceiling).all()
    # 38 purchases a week, then a silent week: gone
    assert alive[2] < 1e-6


def test_fitting_25000_customers_takes_well_under_ten_seconds() -> None:
    from ml.bench_clv import time_simulated_fit

    seconds, model = time_simulated_fit(25_000)
    assert seconds < 10
    assert model.r_ == pytest.approx(0.25, rel=0.15)


# -- the whole model -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifetime_value(master: Transactions) -> tuple[CustomerLifetimeValue, np.ndarray]:
    summary = summarize_purchases(master.customer_id, master.day, master.value, cutoff=CDNOW_CUTOFF)
    return CustomerLifetimeValue(horizon=90).fit(summary.matrix()), summary.matrix()


def test_value_is_purchases_times_order_value_and_discounting_only_lowers_it(
    lifetime_value: tuple[CustomerLifetimeValue, np.ndarray],
) -> None:
    model, customers = lifetime_value
    forecast = model.forecast(customers)
    np.testing.assert_allclose(forecast.value, forecast.purchases * forecast.order_value)
    np.testing.assert_allclose(model.churn_probability(customers), forecast.churn)
    values = []
    for rate in (0.05, 0.2, 1.0):
        discounted = (
            clone(model).set_params(annual_discount_rate=rate).fit(customers).expected_value(customers)
        )
        values.append(discounted)
    assert (values[0] <= forecast.value).all()
    assert (values[1] <= values[0]).all()
    assert (values[2] <= values[1]).all()
    # a horizon within one 30-day step is discounted once, at its end
    short = CustomerLifetimeValue(horizon=30, annual_discount_rate=0.2).fit(customers)
    flat = CustomerLifetimeValue(horizon=30).fit(customers)
    np.testing.assert_allclose(
        short.expected_value(customers), flat.expected_value(customers) * 1.2 ** (-30 / 365.25)
    )


def test_the_model_round_trips_through_skops_with_the_service_s_allow_list(
    lifetime_value: tuple[CustomerLifetimeValue, np.ndarray],
) -> None:
    model, customers = lifetime_value
    data = sio.dumps(model)
    assert set(sio.get_untrusted_types(data=data)) <= persistence.TRUSTED_TYPES
    loaded = sio.loads(data, trusted=sorted(persistence.TRUSTED_TYPES))
    before, after = model.forecast(customers), loaded.forecast(customers)
    for field in ("alive", "churn", "purchases", "order_value", "value"):
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field))
    assert loaded.get_params() == model.get_params()
