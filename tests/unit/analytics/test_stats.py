"""The analytics statistics against values worked out by hand (and published tables)."""

import math

import pytest
from scipy import stats as scipy_stats

from feedback_svc.analytics import stats


def test_nps_and_its_interval_by_hand() -> None:
    # 5 promoters, 3 passives, 2 detractors: NPS = 100 * (0.5 - 0.2) = 30
    # var = ((0.5 + 0.2) - 0.3^2) / 10 = 0.061; half width = 1.96 * 100 * sqrt(0.061) = 48.41
    result = stats.nps({10: 5, 8: 3, 3: 2})
    assert result.n == 10
    assert result.value == pytest.approx(30.0)
    assert result.low == pytest.approx(30 - 48.4075, abs=1e-3)
    assert result.high == pytest.approx(30 + 48.4075, abs=1e-3)
    assert result.small_sample


def test_nps_boundaries_count_nine_as_promoter_and_six_as_detractor() -> None:
    result = stats.nps({9: 30, 7: 10, 6: 20})
    assert result.value == pytest.approx(100 * (30 - 20) / 60)
    assert not result.small_sample
    # all promoters: no spread, and the interval is clipped to the scale
    unanimous = stats.nps({10: 40})
    assert (unanimous.value, unanimous.low, unanimous.high) == (100.0, 100.0, 100.0)


def test_csat_uses_the_wilson_interval() -> None:
    # 8 of 10 answered 4 or 5; Wilson 95% for 8/10 is 0.4902 .. 0.9433
    result = stats.csat({5: 6, 4: 2, 2: 1, 1: 1})
    assert result.value == pytest.approx(80.0)
    assert result.low == pytest.approx(49.02, abs=0.01)
    assert result.high == pytest.approx(94.33, abs=0.01)


def test_ces_mean_with_a_t_interval() -> None:
    # 3, 4, 5, 4: mean 4, sd sqrt(2/3), t(0.975, 3) = 3.18245, half = 3.18245 * 0.40825 = 1.29923
    result = stats.ces({3: 1, 4: 2, 5: 1})
    assert result.value == pytest.approx(4.0)
    assert result.low == pytest.approx(2.70077, abs=1e-4)
    assert result.high == pytest.approx(5.29923, abs=1e-4)
    single = stats.ces({6: 1})
    assert (single.value, single.low, single.high) == (6.0, None, None)


def test_no_answers_gives_no_number() -> None:
    for kind in ("nps", "csat", "ces"):
        empty = stats.estimate(kind, {})
        assert (empty.value, empty.n, empty.small_sample) == (None, 0, True)


def test_small_sample_flag_switches_at_thirty() -> None:
    assert stats.csat({5: 29}).small_sample
    assert not stats.csat({5: 30}).small_sample


def test_difference_and_risk_ratio_by_hand() -> None:
    # 8 of 20 exposed, 4 of 40 not: difference 30 points; Wilson 8/20 = .2188-.6134, 4/40 = .0396-.2303
    # Newcombe: 30 - 100*sqrt(.1812^2 + .1303^2) = 7.68; 30 + 100*sqrt(.2134^2 + .0604^2) = 52.18
    # risk ratio 4, log se sqrt(1/8 - 1/20 + 1/4 - 1/40) = sqrt(.3): 4 * exp(-/+1.96 * .5477) = 1.367 .. 11.70
    result = stats.compare(8, 20, 4, 40)
    assert result is not None
    assert result.difference.value == pytest.approx(30.0)
    assert result.difference.low == pytest.approx(7.68, abs=0.02)
    assert result.difference.high == pytest.approx(52.18, abs=0.02)
    assert result.risk_ratio == pytest.approx(4.0)
    assert result.risk_ratio_low == pytest.approx(4 / math.exp(1.959964 * math.sqrt(0.3)), abs=1e-4)
    assert result.risk_ratio_low == pytest.approx(1.3672, abs=1e-3)
    assert result.risk_ratio_high == pytest.approx(11.7026, abs=1e-3)


def test_comparison_without_events_keeps_the_difference_but_no_ratio() -> None:
    result = stats.compare(0, 10, 3, 30)
    assert result is not None
    assert result.risk_ratio is None
    assert result.difference.value == pytest.approx(-10.0)
    assert result.difference.low is not None
    assert result.difference.high is not None
    assert result.difference.low < -10 < result.difference.high
    assert stats.compare(1, 0, 3, 30) is None


def test_response_rate_is_a_wilson_share() -> None:
    rate = stats.proportion(8, 10)
    assert rate.value == pytest.approx(80.0)
    assert rate.low == pytest.approx(49.02, abs=0.01)


def test_median_interval_between_order_statistics_from_the_binomial() -> None:
    # n = 10: P(B(10, 1/2) <= 1) = 11/1024 < 2.5% <= P(B <= 2), so the 2nd and 9th values (97.9%)
    ten = stats.median([9.0, 1.0, 8.0, 2.0, 7.0, 3.0, 6.0, 4.0, 5.0, 10.0])
    assert (ten.value, ten.low, ten.high, ten.n) == (5.5, 2.0, 9.0, 10)
    # n = 6: P(B <= 0) = 1/64, so the smallest and largest (96.9%); a skewed wait stays the median's
    six = stats.median([1, 2, 3, 4, 5, 100], small=10)
    assert (six.value, six.low, six.high, six.small_sample) == (3.5, 1.0, 100.0, True)
    # n = 5: even the extremes cover only 1 - 2/32 = 93.75%, so no interval
    five = stats.median([1, 2, 3, 4, 5])
    assert (five.value, five.low, five.high) == (3.0, None, None)
    assert stats.median([]).value is None


def test_mean_with_a_t_interval_clipped_to_its_scale() -> None:
    # 60, 25, 50: mean 45, sd sqrt(325), t(0.975, 2) = 4.302653, half = 4.302653 * sqrt(325 / 3) = 44.7834
    result = stats.mean([60.0, 25.0, 50.0], low=-100, high=100, small=10)
    assert result.value == pytest.approx(45.0)
    assert result.low == pytest.approx(0.2166, abs=1e-4)
    assert result.high == pytest.approx(89.7834, abs=1e-4)
    assert result.small_sample
    clipped = stats.mean([90.0, 100.0], low=-100, high=100)
    assert clipped.high == 100.0
    single = stats.mean([7.0])
    assert (single.value, single.low, single.high) == (7.0, None, None)


def test_a_smaller_small_sample_threshold_where_a_report_asks_for_one() -> None:
    assert stats.proportion(5, 9, small=10).small_sample
    assert not stats.proportion(5, 10, small=10).small_sample
    compared = stats.compare(5, 10, 5, 12, small=10)
    assert compared is not None
    assert not compared.difference.small_sample


def test_a_mean_change_has_a_t_interval_and_none_from_one_value() -> None:
    changes = [5, 3, 4, 6, 2]
    mean, variance = sum(changes) / 5, 2.5  # sample variance of 2..6
    result = stats.mean_interval(mean, variance, 5)
    reference = scipy_stats.ttest_1samp(changes, 0).confidence_interval()
    assert (result.low, result.high) == pytest.approx((reference.low, reference.high))
    assert result.small_sample
    assert stats.mean_interval(4.0, None, 1).low is None
    assert stats.mean_interval(None, None, 0).value is None


def test_a_difference_of_means_matches_welchs_test() -> None:
    treated, control = [5, 3, 4, 6, 2, 7], [1, 2, 0, 1]

    def summary(values: list[int]) -> tuple[float, float, int]:
        mean = sum(values) / len(values)
        return mean, sum((v - mean) ** 2 for v in values) / (len(values) - 1), len(values)

    result = stats.difference_of_means(summary(treated), summary(control))
    assert result is not None
    reference = scipy_stats.ttest_ind(treated, control, equal_var=False).confidence_interval()
    assert result.value == pytest.approx(4.5 - 1.0)
    assert (result.low, result.high) == pytest.approx((reference.low, reference.high))
    assert (result.n, result.small_sample) == (10, True)
    assert stats.difference_of_means(summary(treated), (1.0, 0.0, 1)) is None
    # no spread on either side: the difference is known exactly
    assert stats.difference_of_means((2.0, 0.0, 3), (1.0, 0.0, 3)) == stats.Estimate(
        value=1.0, low=1.0, high=1.0, n=6, small_sample=True
    )
