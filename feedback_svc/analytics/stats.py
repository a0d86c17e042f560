"""The numbers managers read, with 95% intervals: pure functions, no database, no HTTP.

Intervals and their approximations:
- NPS: the share of promoters minus the share of detractors is a difference of two
  multinomial proportions, whose variance is ((p + d) - (p - d)^2) / n; the interval is
  the normal approximation NPS +/- 1.96 * 100 * sqrt(var), clipped to [-100, 100].
- CSAT (share of 4-5 answers): the Wilson score interval, sound near 0% and 100%.
- CES (mean effort, 1-7) and other means: Student's t interval on the sample mean.
- Means of score changes (before and after recovery): Student's t interval; the difference of two
  such means (treated vs control) a Welch interval.
- Medians (hours to first contact): the distribution-free interval between two order
  statistics, whose ranks come from Binomial(n, 1/2); none below six values.
- Differences of two shares (drivers): Newcombe's hybrid score interval built from the
  two Wilson intervals (method 10 of Newcombe 1998), defined even with zero counts.
- Risk ratios: the log (Katz) interval; none when a group has no events.
Below SMALL_SAMPLE answers the normal approximations are rough, so results say so.
"""

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence

import msgspec
from scipy import stats

Z95 = 1.959963984540054
SMALL_SAMPLE = 30


class Estimate(msgspec.Struct, frozen=True, kw_only=True):
    value: float | None
    low: float | None
    high: float | None
    n: int
    small_sample: bool


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    """Share of an outcome with and without an exposure, their difference and ratio."""

    exposed_events: int
    exposed_n: int
    unexposed_events: int
    unexposed_n: int
    difference: Estimate
    risk_ratio: float | None
    risk_ratio_low: float | None
    risk_ratio_high: float | None


def _empty() -> Estimate:
    return Estimate(value=None, low=None, high=None, n=0, small_sample=True)


def wilson(events: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion, as shares (0..1)."""
    if n <= 0:
        raise ValueError("a proportion needs at least one observation")
    p = events / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def nps(counts: Mapping[int, int]) -> Estimate:
    """NPS (-100..100) from {score: count} of 0-10 answers."""
    n = sum(counts.values())
    if n == 0:
        return _empty()
    promoters = sum(count for score, count in counts.items() if score >= 9)
    detractors = sum(count for score, count in counts.items() if score <= 6)
    p, d = promoters / n, detractors / n
    variance = max(0.0, (p + d) - (p - d) ** 2) / n
    half = Z95 * 100 * math.sqrt(variance)
    value = 100 * (p - d)
    return Estimate(
        value=value,
        low=max(-100.0, value - half),
        high=min(100.0, value + half),
        n=n,
        small_sample=n < SMALL_SAMPLE,
    )


def csat(counts: Mapping[int, int]) -> Estimate:
    """CSAT (% of 4-5 answers on 1-5) with its Wilson interval, in percent."""
    n = sum(counts.values())
    if n == 0:
        return _empty()
    satisfied = sum(count for score, count in counts.items() if score >= 4)
    low, high = wilson(satisfied, n)
    return Estimate(
        value=100 * satisfied / n, low=100 * low, high=100 * high, n=n, small_sample=n < SMALL_SAMPLE
    )


def ces(counts: Mapping[int, int]) -> Estimate:
    """Mean effort (1 easy .. 7 very difficult) with a t interval; none from a single answer."""
    n = sum(counts.values())
    if n == 0:
        return _empty()
    mean = sum(score * count for score, count in counts.items()) / n
    variance = (
        sum(count * (score - mean) ** 2 for score, count in counts.items()) / (n - 1) if n > 1 else None
    )
    estimate = mean_interval(mean, variance, n)
    if estimate.low is None or estimate.high is None:
        return estimate
    return msgspec.structs.replace(estimate, low=max(1.0, estimate.low), high=min(7.0, estimate.high))


def mean_interval(mean: float | None, variance: float | None, n: int) -> Estimate:
    """A mean with its Student t interval, from summary statistics; none from a single value."""
    if n == 0 or mean is None:
        return _empty()
    if n == 1 or variance is None:
        return Estimate(value=mean, low=None, high=None, n=n, small_sample=True)
    half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(max(variance, 0.0) / n)
    return Estimate(value=mean, low=mean - half, high=mean + half, n=n, small_sample=n < SMALL_SAMPLE)


def difference_of_means(first: tuple[float, float, int], second: tuple[float, float, int]) -> Estimate | None:
    """Mean of `first` minus mean of `second`, each (mean, sample variance, n), with a Welch t interval.

    None unless both have at least two values (no variance otherwise). `n` is both counts together;
    the sample is small when either has fewer than SMALL_SAMPLE.
    """
    (mean_a, var_a, n_a), (mean_b, var_b, n_b) = first, second
    if n_a < 2 or n_b < 2:
        return None
    share_a, share_b = max(var_a, 0.0) / n_a, max(var_b, 0.0) / n_b
    difference = mean_a - mean_b
    se = math.sqrt(share_a + share_b)
    if se == 0:
        low = high = difference
    else:
        # Welch-Satterthwaite degrees of freedom
        df = se**4 / (share_a**2 / (n_a - 1) + share_b**2 / (n_b - 1))
        half = float(stats.t.ppf(0.975, df)) * se
        low, high = difference - half, difference + half
    return Estimate(
        value=difference, low=low, high=high, n=n_a + n_b, small_sample=min(n_a, n_b) < SMALL_SAMPLE
    )


def _t_half_width(variance: float, n: int) -> float:
    return float(stats.t.ppf(0.975, n - 1)) * math.sqrt(variance / n)


def mean(
    values: Sequence[float], *, low: float = -math.inf, high: float = math.inf, small: int = SMALL_SAMPLE
) -> Estimate:
    """The mean with a t interval clipped to [low, high]; no interval from a single value."""
    n = len(values)
    if n == 0:
        return _empty()
    centre = statistics.fmean(values)
    if n == 1:
        return Estimate(value=centre, low=None, high=None, n=1, small_sample=True)
    half = _t_half_width(statistics.variance(values, centre), n)
    return Estimate(
        value=centre, low=max(low, centre - half), high=min(high, centre + half), n=n, small_sample=n < small
    )


def median(values: Sequence[float], *, small: int = SMALL_SAMPLE) -> Estimate:
    """The median with its distribution-free 95% interval [x_(k), x_(n+1-k)].

    k is the largest rank with P(Binomial(n, 1/2) < k) <= 2.5%, so the interval covers the
    true median at least 95% of the time whatever the distribution (skewed waits included).
    Below six values no such pair of order statistics exists: the interval is None.
    """
    n = len(values)
    if n == 0:
        return _empty()
    ordered = sorted(values)
    k = int(stats.binom.ppf(0.025, n, 0.5))  # smallest k with P(B <= k) >= 2.5%: P(B <= k - 1) < 2.5%
    low = high = None
    if k >= 1:
        low, high = float(ordered[k - 1]), float(ordered[n - k])
    return Estimate(value=float(statistics.median(ordered)), low=low, high=high, n=n, small_sample=n < small)


KIND_ESTIMATORS = {"nps": nps, "csat": csat, "ces": ces}


def estimate(kind: str, counts: Mapping[int, int]) -> Estimate:
    return KIND_ESTIMATORS[kind](counts)


def proportion(events: int, n: int, *, small: int = SMALL_SAMPLE) -> Estimate:
    """A share in percent with its Wilson interval (response rates)."""
    if n == 0:
        return _empty()
    low, high = wilson(events, n)
    return Estimate(value=100 * events / n, low=100 * low, high=100 * high, n=n, small_sample=n < small)


def compare(
    exposed_events: int, exposed_n: int, unexposed_events: int, unexposed_n: int, *, small: int = SMALL_SAMPLE
) -> Comparison | None:
    """Difference in outcome share (percentage points, Newcombe) and risk ratio (Katz), exposed vs not."""
    if exposed_n == 0 or unexposed_n == 0:
        return None
    p1, p2 = exposed_events / exposed_n, unexposed_events / unexposed_n
    l1, u1 = wilson(exposed_events, exposed_n)
    l2, u2 = wilson(unexposed_events, unexposed_n)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    ratio = ratio_low = ratio_high = None
    if exposed_events > 0 and unexposed_events > 0:
        ratio = p1 / p2
        se = math.sqrt(1 / exposed_events - 1 / exposed_n + 1 / unexposed_events - 1 / unexposed_n)
        ratio_low, ratio_high = ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se)
    n = exposed_n + unexposed_n
    return Comparison(
        exposed_events=exposed_events,
        exposed_n=exposed_n,
        unexposed_events=unexposed_events,
        unexposed_n=unexposed_n,
        difference=Estimate(
            value=100 * difference,
            low=100 * low,
            high=100 * high,
            n=n,
            small_sample=min(exposed_n, unexposed_n) < small,
        ),
        risk_ratio=ratio,
        risk_ratio_low=ratio_low,
        risk_ratio_high=ratio_high,
    )


def merge_counts(parts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for part in parts:
        for score, count in part.items():
            merged[score] = merged.get(score, 0) + count
    return merged
